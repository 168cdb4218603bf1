//! The node's side of the pages ([`yui_web`]): the operator page's view of
//! this node's live state, and the pages' own budget per client address.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use yui_net::LinkState;
use yui_sync::now_ms;

use crate::admin::AdminState;

/// The operator page's source: this node's admin state.
pub struct NodeOperator(pub AdminState);

impl yui_web::Operator for NodeOperator {
    fn authorized(&self, token: &str) -> bool {
        crate::admin::token_matches(token, &self.0.token)
    }

    fn report(&self) -> yui_web::OperatorReport {
        let s = &self.0;
        let store = s.replica.store();
        let names = s.read.names().unwrap_or_default();
        let now = now_ms();
        let mut r = yui_web::OperatorReport::default();
        let c = s.replica.counters().snapshot();
        r.facts = vec![
            ("node".into(), s.replica.id().to_string()),
            ("name".into(), s.config.name.clone()),
            ("role".into(), format!("{:?}", s.config.role).to_lowercase()),
            ("version".into(), env!("CARGO_PKG_VERSION").into()),
            (
                "entries".into(),
                store
                    .entry_count()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|e| e.to_string()),
            ),
            ("indexed".into(), s.read.index().indexed().to_string()),
            ("peers connected".into(), s.table.connected().to_string()),
            ("publishing held".into(), s.replica.is_held().to_string()),
        ];
        r.peers = s
            .table
            .snapshot()
            .into_iter()
            .map(|p| {
                let state = match p.state {
                    LinkState::Connected => "connected",
                    LinkState::Connecting => "connecting",
                    LinkState::Backoff => "down",
                };
                [
                    p.addr,
                    p.node_id
                        .map(|id| names.get(&id).cloned().unwrap_or_else(|| id.short()))
                        .unwrap_or_default(),
                    state.into(),
                    p.missing.to_string(),
                    p.last_seen_ms
                        .map(|t| format!("{} s ago", (now - t).max(0) / 1000))
                        .unwrap_or_else(|| "never".into()),
                ]
            })
            .collect();
        r.forks = store
            .forks()
            .unwrap_or_default()
            .into_iter()
            .map(|f| [f.author.to_string(), f.seq.to_string()])
            .collect();
        r.refusals = [
            ("untrusted author", c.refused_untrusted),
            ("bad signature", c.refused_signature),
            ("invalid entry", c.refused_invalid),
            ("broken chain", c.refused_chain),
            ("forked log", c.refused_forked),
            ("over the rate limit", c.refused_rate),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| [k.to_owned(), n.to_string()])
        .collect();
        r.tasks = std::iter::once([
            "index".to_owned(),
            format!(
                "{} of {} entries",
                s.read.index().indexed(),
                store.entry_count().unwrap_or(0)
            ),
        ])
        .chain(s.progress.views().into_iter().map(|v| {
            [
                v.what,
                match v.total {
                    Some(t) => format!("{} of {t}", v.done),
                    None => v.done.to_string(),
                },
            ]
        }))
        .collect();
        r
    }
}

/// Page requests per second one client address may make.
const PER_SECOND: u32 = 20;
/// Burst per client address (a page and its stylesheet, a few tabs).
const BURST: u32 = 60;

/// The pages' budget per client address: larger than the exports' (a page
/// costs a few milliseconds), still bounded.
pub struct PageBudget(DefaultKeyedRateLimiter<IpAddr>);

impl PageBudget {
    /// `per_second` with a burst of `burst` (0: the defaults).
    pub fn new(per_second: u32, burst: u32) -> Arc<Self> {
        let rate =
            NonZeroU32::new(per_second).unwrap_or(NonZeroU32::new(PER_SECOND).expect("non-zero"));
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::new(BURST).expect("non-zero"));
        Arc::new(Self(RateLimiter::keyed(
            Quota::per_second(rate).allow_burst(burst),
        )))
    }
}

/// Middleware: 429 with `Retry-After` past the budget (the public routes'
/// own check, with the pages' budget).
pub async fn limit(State(b): State<Arc<PageBudget>>, mut req: Request, next: Next) -> Response {
    let client = crate::public::client(&req);
    if let Some(r) = crate::public::over_budget(&b.0, client) {
        return r;
    }
    // The workspace's sign-in limit and audit log need the address.
    if let Some(ip) = client {
        req.extensions_mut().insert(yui_web::staff::ClientAddr(ip));
    }
    next.run(req).await
}
