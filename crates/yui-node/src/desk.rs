//! The desk: what arrives for this municipality from others.
//!
//! A task that reads every new entry of other authors once, in log order:
//! - a request addressed to this municipality gets a signed receipt at
//!   once (an acknowledgement of kind `received`), so the requester sees
//!   that it reached this node before anyone here has read it;
//! - it becomes a [`Notice`] when it is something staff asked to be told
//!   (a partner's alert level rising, a request to us, a step in one of
//!   our threads, a reply to one of our objects, a new call for partners),
//!   delivered by [`Notifier`].
//!
//! It decides once the search index holds everything stored so far, as the
//! read model's follower indexes it (a partnership that came with the
//! update it qualifies counts; the desk does not index on its own, which
//! during a backfill cost every node a commit per update), waiting at most
//! [`INDEX_WAIT`].
//!
//! It reads every head once at start (and again if it missed events), then
//! only the authors whose head a replica event says moved. Where it got to
//! is kept per author in `HOME/staff/desk.json`, written after each round,
//! so a restart neither repeats nor skips. At its first
//! start it begins at the current heads: history is not announced. A gap
//! of more than [`MAX_GAP`] entries (a first sync) is skipped for
//! notices, which would all be old news; receipts are still sent for
//! requests of the last [`RECEIPT_AGE_MS`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use yui_core::content::{AckKind, Acknowledgement, AidStep};
use yui_core::{Body, NodeId};
use yui_read::aid::{root_of, Directory, Who, PARTNERSHIP_KINDS};
use yui_staff::{Accounts, Notice, Notifier, Topic};
use yui_sync::{now_ms, ReplicaEvent, StoredEntry};

use crate::admin::AdminState;

/// Entries of one author behind the desk beyond which notices are skipped.
pub const MAX_GAP: u64 = 1_000;
/// Entries older than this are not announced (a late-arriving backlog).
pub const MAX_AGE_MS: i64 = 48 * 3_600_000;
/// Requests older than this get no receipt (a first sync of old threads).
pub const RECEIPT_AGE_MS: i64 = 14 * 24 * 3_600_000;
/// How long the desk waits for the search index to hold what arrived
/// before it decides without it (it then indexes what it needs itself).
pub const INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The desk's task.
pub struct Desk {
    state: AdminState,
    notifier: Option<Arc<Notifier>>,
    accounts: Arc<Accounts>,
    path: PathBuf,
}

fn load(path: &std::path::Path) -> Option<HashMap<NodeId, u64>> {
    let text = std::fs::read_to_string(path).ok()?;
    let m: HashMap<String, u64> = serde_json::from_str(&text).ok()?;
    Some(
        m.into_iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
            .collect(),
    )
}

fn save(path: &std::path::Path, m: &HashMap<NodeId, u64>) {
    let out: HashMap<String, u64> = m.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let text = serde_json::to_string(&out).unwrap_or_default();
    if let Err(e) = crate::node::write_atomically(path, &text) {
        tracing::warn!(error = %e, path = %path.display(), "desk position not saved");
    }
}

impl Desk {
    /// The desk of a node.
    pub fn new(
        state: AdminState,
        notifier: Option<Arc<Notifier>>,
        accounts: Arc<Accounts>,
    ) -> Self {
        let path = state.home.staff_dir().join("desk.json");
        Self {
            state,
            notifier,
            accounts,
            path,
        }
    }

    /// Runs until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        let me = self.state.replica.id();
        let mut events = self.state.replica.subscribe();
        let store = self.state.replica.store().clone();
        let mut seen = match load(&self.path) {
            Some(m) => m,
            None => {
                let heads = store.heads().unwrap_or_default();
                let m: HashMap<NodeId, u64> = heads.into_iter().map(|(a, h)| (a, h.seq)).collect();
                if let Some(dir) = self.path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                save(&self.path, &m);
                m
            }
        };
        // Every head once at start (and after missing events); then only
        // the authors whose head an event says moved.
        let mut pending: Vec<(NodeId, u64)> = store
            .heads()
            .unwrap_or_default()
            .into_iter()
            .map(|(a, h)| (a, h.seq))
            .collect();
        loop {
            // Decided with an index that holds everything stored so far
            // (a partnership that came with the update it qualifies), as
            // the follower indexes it: not indexing here as well, which
            // during a backfill set every node an update reached
            // committing an index of its own on the CPU the update still
            // needed to reach the others (`yui bench propagation
            // --processes`).
            let news = pending
                .iter()
                .any(|(a, h)| *a != me && *h > seen.get(a).copied().unwrap_or(0));
            let indexed = news
                && tokio::select! {
                    () = cancel.cancelled() => return,
                    i = self.state.read.wait_indexed(INDEX_WAIT) => i,
                };
            if news && !indexed {
                tracing::debug!("desk: the index did not catch up in time; deciding with an index caught up here");
            }
            let mut moved = false;
            for (author, head) in std::mem::take(&mut pending) {
                let from = seen.get(&author).copied().unwrap_or(0);
                if author == me || head <= from {
                    continue;
                }
                let announce = head - from <= MAX_GAP;
                let mut seq = from + 1;
                while seq <= head {
                    let last = (seq + 199).min(head);
                    let batch: Vec<StoredEntry> = (seq..=last)
                        .filter_map(|s| self.state.replica.read(&author, s).ok().flatten())
                        .collect();
                    self.handle(batch, announce, indexed).await;
                    seq = last + 1;
                }
                seen.insert(author, head);
                moved = true;
            }
            if moved {
                save(&self.path, &seen);
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                ev = events.recv() => match ev {
                    Ok(ReplicaEvent::Head { author, seq, .. }) => pending.push((author, seq)),
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        pending = store
                            .heads()
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(a, h)| (a, h.seq))
                            .collect();
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
            // Take every event already queued before working.
            while let Ok(ev) = events.try_recv() {
                if let ReplicaEvent::Head { author, seq, .. } = ev {
                    pending.push((author, seq));
                }
            }
        }
    }

    /// Plans and acts on `batch`; `indexed`: the index holds it (the
    /// plan asks the index as it stands).
    async fn handle(&self, batch: Vec<StoredEntry>, announce: bool, indexed: bool) {
        let read = self.state.read.clone();
        let me = self.state.replica.id();
        let public = self
            .state
            .config
            .http
            .public_url
            .trim_end_matches('/')
            .to_owned();
        // What to do is decided off the async workers (index queries), at
        // background priority: when the index did not catch up in time, a
        // query first indexes what arrived since (up to 10,000 entries),
        // which at normal priority would take the CPU from the live path.
        // A panicking plan is logged by the runtime and planned as nothing.
        let plan = tokio::spawn(yui_sync::background::run(move || {
            let who = if indexed {
                Directory::as_indexed(&read)
            } else {
                Directory::new(&read)
            };
            let who = match who {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "desk: directory unavailable");
                    return Vec::new();
                }
            };
            let now = now_ms();
            batch
                .iter()
                .filter_map(|e| decide(&read, &who, &me, &public, e, now))
                .collect::<Vec<_>>()
        }))
        .await
        .unwrap_or_default();
        for (receipt, notice) in plan {
            if let Some(id) = receipt {
                let body = Body::Acknowledgement(Acknowledgement {
                    entry_id: id,
                    note: Default::default(),
                    kind: AckKind::Received,
                });
                let exists = self
                    .state
                    .replica
                    .store()
                    .object(&me, &format!("received-{id}"))
                    .ok()
                    .flatten()
                    .is_some();
                if !exists {
                    if let Err(e) = crate::publish::publish(&self.state, None, body, None).await {
                        tracing::warn!(error = %e.message, "desk: receipt of a request not published");
                    }
                }
            }
            if let (true, Some(n), Some(notifier)) = (announce, notice, &self.notifier) {
                let accounts: Vec<(String, Vec<yui_staff::Subscription>)> = self
                    .accounts
                    .list()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|u| !u.disabled && !u.subscriptions.is_empty())
                    .map(|u| (u.email, u.subscriptions))
                    .collect();
                let started = notifier.send(n, &accounts);
                tracing::debug!(started, "desk: notice sent");
            }
        }
    }
}

/// A receipt to send and a notice to deliver, for one entry.
type Plan = (Option<yui_core::EntryId>, Option<Notice>);

fn decide(
    read: &yui_read::ReadModel,
    who: &Directory<'_>,
    me: &NodeId,
    public: &str,
    e: &StoredEntry,
    now: i64,
) -> Option<Plan> {
    let author = e.entry.author;
    let name = who.name(&author).unwrap_or_else(|| author.short());
    let fresh = now - e.entry.created_at <= MAX_AGE_MS;
    let link = |path: String| format!("{public}{path}");
    let base = |topic: Topic, subject: String, text: String, url: String| Notice {
        topic,
        subject,
        text,
        url,
        author: author.to_string(),
        author_name: name.clone(),
        object_id: e.entry.object_id.clone(),
        entry: e.id.to_hex(),
        exercise: false,
        alert_level: None,
        policy_area: None,
    };
    let drill = |exercise: bool| if exercise { "【訓練】" } else { "" };
    match &e.entry.body {
        Body::Aid(a) => {
            let root = root_of(&author, &e.entry.object_id, a);
            let url = link(format!("/aid/{}/{}", root.author, root.object_id));
            let summary = a
                .lines
                .iter()
                .map(|l| {
                    format!(
                        "{} {}{}",
                        l.what.get("ja").unwrap_or_default(),
                        l.quantity,
                        l.unit
                    )
                })
                .collect::<Vec<_>>()
                .join("、");
            if a.step == AidStep::Request {
                // The read model gives this node its configured code.
                let by_code = who.code(me).is_some_and(|c| a.to.contains(&c));
                let addressed = by_code || (a.to_partners && who.mutual_aid(&author, me));
                if !addressed {
                    return None;
                }
                let mut n = base(
                    Topic::AidRequest,
                    format!("{}【支援要請】{name}から: {summary}", drill(a.exercise)),
                    format!(
                        "{name}から支援の要請が届きました。\n{summary}\n届け先: {}\nAid request from {name}: {}",
                        a.deliver_to.get("ja").unwrap_or("-"),
                        summary
                    ),
                    url,
                );
                n.exercise = a.exercise;
                let recent = now - e.entry.created_at <= RECEIPT_AGE_MS;
                return Some((recent.then_some(e.id), fresh.then_some(n)));
            }
            let about_us = root.author == *me || a.offer.as_ref().is_some_and(|o| o.author == *me);
            if !about_us || !fresh {
                return None;
            }
            let step = match a.step {
                AidStep::Offer => "申し出 (offer)",
                AidStep::Decline => "辞退 (decline)",
                AidStep::Accept => "受諾 (accepted)",
                AidStep::Commit => "確約 (commit)",
                AidStep::Dispatch => "発送 (dispatched)",
                AidStep::Arrive => "到着 (arrived)",
                AidStep::Release => "解除 (released)",
                AidStep::Cancel => "取消 (cancelled)",
                AidStep::Request => "要請",
            };
            let mut n = base(
                Topic::AidUpdate,
                format!("{}【支援】{name}: {step} {summary}", drill(a.exercise)),
                format!(
                    "{name}: {step}\n{summary}\n{}",
                    a.note.get("ja").unwrap_or_default()
                ),
                url,
            );
            n.exercise = a.exercise;
            Some((None, Some(n)))
        }
        Body::Readiness(r) if fresh && r.alert_level > 0 => {
            let partner = PARTNERSHIP_KINDS
                .iter()
                .any(|k| who.partners(me, &author, k));
            if !partner {
                return None;
            }
            // Only a rise (or a first status) is news; the same level
            // published again is not.
            let before = read
                .replica()
                .history(&author, &e.entry.object_id)
                .ok()?
                .into_iter()
                .filter(|v| v.entry.seq < e.entry.seq)
                .filter_map(|v| match v.entry.body {
                    Body::Readiness(p) => Some(p.alert_level),
                    _ => None,
                })
                .next_back()
                .unwrap_or(0);
            if r.alert_level <= before {
                return None;
            }
            let mut n = base(
                Topic::Alert,
                format!(
                    "{}【警戒レベル{}】{name}: {}",
                    drill(r.exercise),
                    r.alert_level,
                    r.headline.get("ja").unwrap_or_default()
                ),
                format!(
                    "{name}の警戒レベルが{}から{}になりました。\n{}\nAlert level of {name}: {} → {}",
                    before,
                    r.alert_level,
                    r.description.get("ja").unwrap_or_default(),
                    before,
                    r.alert_level
                ),
                link(format!("/board#{author}")),
            );
            n.exercise = r.exercise;
            n.alert_level = Some(r.alert_level);
            Some((None, Some(n)))
        }
        Body::Reply(r) if fresh => {
            let to_us =
                r.about.author == *me || r.in_reply_to.as_ref().is_some_and(|x| x.author == *me);
            if !to_us {
                return None;
            }
            let mut n = base(
                Topic::Reply,
                format!("{}【返信】{name}: {}", drill(r.exercise), r.about.object_id),
                r.text.get("ja").unwrap_or_default().to_owned(),
                link(format!(
                    "/entries/{}/{}#replies",
                    r.about.author, r.about.object_id
                )),
            );
            n.exercise = r.exercise;
            Some((None, Some(n)))
        }
        Body::CallForPartners(c) if fresh => {
            let first = read
                .replica()
                .history(&author, &e.entry.object_id)
                .ok()?
                .first()
                .is_none_or(|v| v.entry.seq == e.entry.seq);
            if !first {
                return None;
            }
            let area = serde_json::to_value(c.policy_area)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            let mut n = base(
                Topic::Call,
                format!(
                    "【連携募集】{name}: {}",
                    c.title.get("ja").unwrap_or_default()
                ),
                c.description.get("ja").unwrap_or_default().to_owned(),
                link(format!("/entries/{author}/{}", e.entry.object_id)),
            );
            n.policy_area = area;
            n.exercise = c.exercise;
            Some((None, Some(n)))
        }
        _ => None,
    }
}
