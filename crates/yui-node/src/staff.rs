//! The node's side of the staff workspace: accounts, sessions, the audit
//! log and the notifier, opened from the home folder and the config.

use std::sync::Arc;

use yui_staff::{Accounts, AuditLog, Notifier, Sessions};

use crate::config::Config;
use crate::home::{Home, HomeError};

/// Everything staff work needs besides the replica.
#[derive(Debug)]
pub struct StaffDesk {
    /// Accounts (`HOME/staff/users.json`).
    pub accounts: Arc<Accounts>,
    /// Signed-in sessions (memory only).
    pub sessions: Sessions,
    /// The audit log (`HOME/staff/audit.jsonl`).
    pub audit: AuditLog,
    /// Delivers notices; none when nothing is configured to receive them.
    pub notifier: Option<Arc<Notifier>>,
}

/// Why the staff side could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StaffError {
    /// The home folder.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The notifier's settings.
    #[error(transparent)]
    Notify(#[from] yui_staff::notify::NotifyError),
}

impl StaffDesk {
    /// Opens the staff side of `home`.
    pub fn open(home: &Home, config: &Config) -> Result<Self, StaffError> {
        let dir = home.staff_dir();
        let accounts = Arc::new(Accounts::open(&dir));
        let key = home.webhook_key(config.notify.webhook_key_file.as_deref())?;
        let notifier = Notifier::new(config.notify.clone(), key)?;
        Ok(Self {
            accounts,
            sessions: Sessions::default(),
            audit: AuditLog::open(&dir),
            notifier: Some(Arc::new(notifier)),
        })
    }
}

/// Sign-in attempts are counted per client address in this window.
const SIGN_IN_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// The workspace as this node runs it: accounts and sessions from
/// [`StaffDesk`], publishing through [`crate::publish::publish`], every
/// action in the audit log.
pub struct NodeWorkspace {
    state: crate::admin::AdminState,
    attempts:
        std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, Vec<std::time::Instant>>>,
}

impl NodeWorkspace {
    /// The workspace of the node `state` belongs to.
    pub fn new(state: crate::admin::AdminState) -> Self {
        Self {
            state,
            attempts: Default::default(),
        }
    }

    fn desk(&self) -> &StaffDesk {
        &self.state.staff
    }

    fn log(&self, r: yui_staff::audit::Record) {
        if let Err(e) = self.desk().audit.append(&r) {
            tracing::error!(error = %e, "audit log not written");
        }
    }

    fn record(
        user: &str,
        action: &str,
        addr: Option<std::net::IpAddr>,
    ) -> yui_staff::audit::Record {
        yui_staff::audit::Record {
            at: yui_sync::now_ms(),
            user: user.to_owned(),
            action: action.to_owned(),
            kind: String::new(),
            object_id: String::new(),
            entry: String::new(),
            addr,
            detail: String::new(),
        }
    }

    /// Whether `addr` may try to sign in now (counts the attempt).
    fn admit(&self, addr: Option<std::net::IpAddr>) -> bool {
        let per_minute = self.state.config.staff.sign_in_per_minute as usize;
        let ip = addr.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        let now = std::time::Instant::now();
        let mut m = self.attempts.lock().expect("attempts lock");
        if m.len() > 10_000 {
            m.retain(|_, v| v.iter().any(|t| now.duration_since(*t) < SIGN_IN_WINDOW));
        }
        let list = m.entry(ip).or_default();
        list.retain(|t| now.duration_since(*t) < SIGN_IN_WINDOW);
        if list.len() >= per_minute {
            return false;
        }
        list.push(now);
        true
    }
}

fn staff_of(u: &yui_staff::User, csrf: String) -> yui_web::staff::Staff {
    yui_web::staff::Staff {
        name: u.name.clone(),
        display: u.display.clone(),
        role: u.role.name().to_owned(),
        csrf,
        may: yui_core::Kind::ALL
            .into_iter()
            .filter(|k| u.role.may_publish(*k))
            .collect(),
    }
}

/// The field an error message of the node names (`aid.lines.quantity: …`).
fn field_of(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("invalid entry: ").unwrap_or(msg);
    let head = rest.split([':', ' ']).next()?;
    (head.contains('.') || head.contains('_')).then(|| head.to_owned())
}

impl yui_web::staff::Workspace for NodeWorkspace {
    fn sign_in(
        &self,
        name: &str,
        password: &str,
        addr: Option<std::net::IpAddr>,
    ) -> yui_web::staff::SignIn {
        use yui_web::staff::SignIn;
        if !self.admit(addr) {
            let mut r = Self::record(name, "sign_in_limited", addr);
            r.detail = "too many attempts from this address".into();
            self.log(r);
            return SignIn::Limited;
        }
        match self.desk().accounts.sign_in(name, password) {
            Ok(u) => {
                let (token, s) = self.desk().sessions.start(&u.name, u.password_set_at, addr);
                self.log(Self::record(&u.name, "sign_in", addr));
                SignIn::Ok(token, staff_of(&u, s.csrf))
            }
            Err(yui_staff::accounts::SignInError::Locked { minutes }) => {
                let mut r = Self::record(name, "sign_in_failed", addr);
                r.detail = format!("locked for {minutes} more minutes");
                self.log(r);
                SignIn::Locked(minutes)
            }
            Err(_) => {
                self.log(Self::record(name, "sign_in_failed", addr));
                SignIn::Wrong
            }
        }
    }

    fn staff(&self, token: &str) -> Option<yui_web::staff::Staff> {
        let s = self.desk().sessions.get(token)?;
        let u = self.desk().accounts.get(&s.user).ok().flatten();
        match u {
            Some(u) if !u.disabled && u.password_set_at == s.password_set_at => {
                Some(staff_of(&u, s.csrf))
            }
            _ => {
                // Disabled, removed, or its password changed: the session ends.
                self.desk().sessions.end(token);
                None
            }
        }
    }

    fn sign_out(&self, token: &str, addr: Option<std::net::IpAddr>) {
        if let Some(s) = self.desk().sessions.get(token) {
            self.log(Self::record(&s.user, "sign_out", addr));
        }
        self.desk().sessions.end(token);
    }

    fn publish<'a>(
        &'a self,
        staff: &'a yui_web::staff::Staff,
        addr: Option<std::net::IpAddr>,
        object_id: Option<String>,
        body: yui_core::Body,
        readers: yui_core::audience::Readers,
    ) -> yui_web::staff::Pending<'a, Result<yui_web::staff::Published, yui_web::staff::Refusal>>
    {
        Box::pin(async move {
            use yui_web::staff::{Published, Refusal};
            let me = self.state.replica.id();
            // A retraction is allowed to whoever may publish the kind it
            // withdraws.
            let kind = match (&body, &object_id) {
                (yui_core::Body::Retraction(_), Some(o)) => self
                    .state
                    .read
                    .object(&me, o)
                    .ok()
                    .flatten()
                    .map(|e| e.body.kind())
                    .unwrap_or(yui_core::Kind::Retraction),
                _ => body.kind(),
            };
            let mut rec = Self::record(&staff.name, "publish", addr);
            rec.kind = body.kind().name().to_owned();
            if !staff.may(kind) {
                rec.action = "refused".into();
                rec.detail = format!("role {} may not publish {}", staff.role, kind.name());
                self.log(rec);
                return Err(Refusal {
                    field: None,
                    message: format!("the role {} may not publish {}", staff.role, kind.name()),
                    misfit: None,
                });
            }
            let updating = object_id.as_ref().is_some_and(|o| {
                self.state
                    .replica
                    .store()
                    .object(&me, o)
                    .ok()
                    .flatten()
                    .is_some()
            });
            match crate::publish::publish_for(&self.state, object_id, body, None, &readers).await {
                Ok(stored) => {
                    rec.action = match (&stored.entry.body, updating) {
                        (yui_core::Body::Retraction(_), _) => "retract",
                        (_, true) => "update",
                        _ => "publish",
                    }
                    .into();
                    rec.object_id = stored.entry.object_id.clone();
                    rec.entry = stored.id.to_hex();
                    self.log(rec);
                    Ok(Published {
                        id: stored.id.to_hex(),
                        object_id: stored.entry.object_id,
                    })
                }
                Err(crate::admin::AppError {
                    message, misfit, ..
                }) => {
                    rec.action = "refused".into();
                    rec.detail = message.clone();
                    self.log(rec);
                    Err(Refusal {
                        field: field_of(&message),
                        message,
                        misfit,
                    })
                }
            }
        })
    }

    fn notify_choice(&self, staff: &yui_web::staff::Staff) -> yui_web::staff::NotifyChoice {
        let Some(u) = self.desk().accounts.get(&staff.name).ok().flatten() else {
            return Default::default();
        };
        let s = u.subscriptions.first().cloned().unwrap_or_default();
        yui_web::staff::NotifyChoice {
            email: u.email,
            topics: s.topics.iter().map(|t| t.name().to_owned()).collect(),
            min_alert_level: s.min_alert_level,
            policy_areas: s.policy_areas,
            exercises: s.exercises,
        }
    }

    fn set_notify_choice(
        &self,
        staff: &yui_web::staff::Staff,
        addr: Option<std::net::IpAddr>,
        choice: yui_web::staff::NotifyChoice,
    ) -> Result<(), String> {
        let topics: Vec<yui_staff::Topic> = choice
            .topics
            .iter()
            .map(|t| t.parse())
            .collect::<Result<_, String>>()?;
        let subs = if topics.is_empty() {
            Vec::new()
        } else {
            let s = yui_staff::Subscription {
                name: staff.name.clone(),
                topics,
                min_alert_level: choice.min_alert_level,
                policy_areas: choice.policy_areas,
                exercises: choice.exercises,
                ..Default::default()
            };
            s.check()?;
            vec![s]
        };
        self.desk()
            .accounts
            .set_subscriptions(&staff.name, Some(&choice.email), subs)
            .map_err(|e| e.to_string())?;
        let mut r = Self::record(&staff.name, "settings", addr);
        r.detail = "notifications".into();
        self.log(r);
        Ok(())
    }

    fn audit(&self, n: usize) -> Vec<yui_web::staff::AuditLine> {
        self.desk()
            .audit
            .tail(n)
            .unwrap_or_default()
            .into_iter()
            .map(|r| yui_web::staff::AuditLine {
                at: r.at,
                user: r.user,
                action: r.action,
                what: [r.kind, r.object_id]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
                entry: r.entry,
                addr: r.addr.map(|a| a.to_string()).unwrap_or_default(),
                detail: r.detail,
            })
            .collect()
    }
}
