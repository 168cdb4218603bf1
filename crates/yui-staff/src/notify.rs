//! Notifications: what staff asked to be told, by e-mail (SMTP with
//! STARTTLS, lettre) and by webhook (JSON, HMAC-SHA256 signed, for chat
//! tools), each delivery retried with exponential backoff.
//!
//! The node finds the [`Notice`]s (a partner's alert level, a request
//! addressed to this municipality, a step in one of its threads, a reply
//! to one of its objects, a new call in a policy area); this module
//! matches them against the node's and each account's subscriptions and
//! delivers. Deliveries wait in memory: a delivery still retrying when the
//! node stops is not sent (the entry itself is kept, and shows in the
//! workspace's inbox).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// A partner's alert level at or above the subscription's level.
    Alert,
    /// An aid request addressed to this municipality.
    AidRequest,
    /// A step in one of this municipality's aid threads (an offer to its
    /// request, the acceptance of its offer, a dispatch, an arrival).
    AidUpdate,
    /// A reply to one of this municipality's objects.
    Reply,
    /// A new call for partners (in the subscription's policy areas).
    Call,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 5] = [
        Topic::Alert,
        Topic::AidRequest,
        Topic::AidUpdate,
        Topic::Reply,
        Topic::Call,
    ];

    /// Its name in config and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Alert => "alert",
            Topic::AidRequest => "aid_request",
            Topic::AidUpdate => "aid_update",
            Topic::Reply => "reply",
            Topic::Call => "call",
        }
    }
}

impl std::str::FromStr for Topic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Topic::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!("unknown topic {s:?} (alert, aid_request, aid_update, reply, call)")
            })
    }
}

/// What one subscriber wants to be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Subscription {
    /// A name for the operator (`防災係`).
    pub name: String,
    /// Topics; every topic when empty.
    pub topics: Vec<Topic>,
    /// For `alert`: this level or above (警戒レベル).
    pub min_alert_level: u32,
    /// For `call`: these policy areas (`disaster_prevention`); all when
    /// empty.
    pub policy_areas: Vec<String>,
    /// Also drills (訓練). Off: exercises are never sent as real notices.
    pub exercises: bool,
    /// E-mail addresses (an account's own subscriptions go to its address).
    pub email: Vec<String>,
    /// Webhook URLs (https, or http on loopback).
    pub webhook: Vec<String>,
}

impl Default for Subscription {
    fn default() -> Self {
        Self {
            name: String::new(),
            topics: Vec::new(),
            min_alert_level: 3,
            policy_areas: Vec::new(),
            exercises: false,
            email: Vec::new(),
            webhook: Vec::new(),
        }
    }
}

impl Subscription {
    /// Whether `n` is for this subscriber.
    pub fn wants(&self, n: &Notice) -> bool {
        if n.exercise && !self.exercises {
            return false;
        }
        if !self.topics.is_empty() && !self.topics.contains(&n.topic) {
            return false;
        }
        match n.topic {
            Topic::Alert => n.alert_level.unwrap_or(0) >= self.min_alert_level,
            Topic::Call => {
                self.policy_areas.is_empty()
                    || n.policy_area
                        .as_ref()
                        .is_some_and(|a| self.policy_areas.contains(a))
            }
            _ => true,
        }
    }

    /// Checks the addresses.
    pub fn check(&self) -> Result<(), String> {
        for e in &self.email {
            if !e.contains('@') {
                return Err(format!("notify: e-mail {e:?} has no @"));
            }
        }
        for w in &self.webhook {
            check_webhook(w)?;
        }
        if self.min_alert_level > 5 {
            return Err(format!(
                "notify: min_alert_level {} is not 0-5",
                self.min_alert_level
            ));
        }
        Ok(())
    }
}

fn check_webhook(w: &str) -> Result<(), String> {
    let loopback_http = w
        .strip_prefix("http://")
        .map(|rest| {
            let host = rest.split(['/', '?']).next().unwrap_or_default();
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            matches!(host, "127.0.0.1" | "localhost" | "[::1]")
        })
        .unwrap_or(false);
    if w.starts_with("https://") || loopback_http {
        Ok(())
    } else {
        Err(format!(
            "notify: webhook {w:?} must be https:// (http:// only to this machine)"
        ))
    }
}

/// Something staff may want to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// What it is about.
    pub topic: Topic,
    /// One line (the e-mail's subject).
    pub subject: String,
    /// A few lines.
    pub text: String,
    /// The page to open.
    pub url: String,
    /// Who wrote the entry (node id).
    pub author: String,
    /// Its name, if known.
    pub author_name: String,
    /// The object.
    pub object_id: String,
    /// The entry (hex id).
    pub entry: String,
    /// A drill.
    pub exercise: bool,
    /// For alerts: the level.
    pub alert_level: Option<u32>,
    /// For calls: the policy area.
    pub policy_area: Option<String>,
}

/// How e-mail leaves the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// STARTTLS required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only to a relay on this machine.
    None,
}

/// The `[notify]` section of a node's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// SMTP server; no e-mail when empty.
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: u16,
    /// STARTTLS (default), TLS or none (loopback only).
    pub smtp_security: SmtpSecurity,
    /// SMTP user, if the server asks for one.
    pub smtp_user: String,
    /// File holding its password.
    pub smtp_password_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) to trust for the SMTP server (a
    /// municipality's own CA).
    pub smtp_ca_file: Option<PathBuf>,
    /// Sender address.
    pub from: String,
    /// File holding the webhook HMAC key; default `HOME/staff/webhook.key`
    /// (made at first start).
    pub webhook_key_file: Option<PathBuf>,
    /// Attempts per delivery.
    pub attempts: usize,
    /// Wait before the first retry, in milliseconds (doubling, at most
    /// five minutes).
    pub first_retry_ms: u64,
    /// The node's own subscriptions (a desk, a chat channel).
    pub subscription: Vec<Subscription>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_user: String::new(),
            smtp_password_file: None,
            smtp_ca_file: None,
            from: String::new(),
            webhook_key_file: None,
            attempts: 8,
            first_retry_ms: 1_000,
            subscription: Vec::new(),
        }
    }
}

impl NotifySettings {
    /// Problems a person must fix.
    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.subscription {
            if let Err(e) = s.check() {
                out.push(e);
            }
            if !s.email.is_empty() && self.smtp_host.is_empty() {
                out.push(format!(
                    "notify: subscription {:?} sends e-mail, but notify.smtp_host is empty",
                    s.name
                ));
            }
        }
        if !self.smtp_host.is_empty() && !self.from.contains('@') {
            out.push("notify.from: the sender address is required with smtp_host".into());
        }
        if self.smtp_security == SmtpSecurity::None
            && !self.smtp_host.is_empty()
            && !matches!(self.smtp_host.as_str(), "127.0.0.1" | "localhost" | "::1")
        {
            out.push(
                "notify.smtp_security = \"none\" is only for a relay on this machine; use starttls"
                    .into(),
            );
        }
        if self.attempts == 0 {
            out.push("notify.attempts: at least 1".into());
        }
        out
    }
}

/// Counts of deliveries, for metrics and tests.
#[derive(Debug, Default)]
pub struct Counters {
    /// Delivered.
    pub sent: AtomicU64,
    /// Failed after every attempt.
    pub failed: AtomicU64,
    /// Attempts that failed and were retried.
    pub retried: AtomicU64,
}

/// One delivery.
#[derive(Debug, Clone)]
enum Delivery {
    Email { to: String, notice: Arc<Notice> },
    Webhook { url: String, notice: Arc<Notice> },
}

/// Sends notices to whoever subscribed.
pub struct Notifier {
    settings: NotifySettings,
    key: Vec<u8>,
    http: reqwest::Client,
    mailer: Option<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>,
    /// Deliveries running at most at once.
    turns: Arc<tokio::sync::Semaphore>,
    /// Delivery counts.
    pub counters: Arc<Counters>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("smtp", &self.settings.smtp_host)
            .finish_non_exhaustive()
    }
}

/// Signs a webhook body: hex HMAC-SHA256 over `timestamp "." body`.
pub fn sign_webhook(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Why the notifier could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("notify: {0}")]
pub struct NotifyError(pub String);

fn tls_parameters(
    host: &str,
    ca_file: Option<&PathBuf>,
) -> Result<lettre::transport::smtp::client::TlsParameters, NotifyError> {
    use lettre::transport::smtp::client::{Certificate, TlsParameters};
    let mut b = TlsParameters::builder(host.to_owned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| NotifyError(format!("smtp_ca_file {}: {e}", path.display())))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| NotifyError(format!("smtp_ca_file {}: {e}", path.display())))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls()
        .map_err(|e| NotifyError(format!("SMTP TLS: {e}")))
}

impl Notifier {
    /// A notifier with `settings` and the webhook key.
    pub fn new(settings: NotifySettings, key: Vec<u8>) -> Result<Self, NotifyError> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::Tls;
        let mailer = if settings.smtp_host.is_empty() {
            None
        } else {
            let host = settings.smtp_host.clone();
            let tls = match settings.smtp_security {
                SmtpSecurity::Starttls => {
                    Tls::Required(tls_parameters(&host, settings.smtp_ca_file.as_ref())?)
                }
                SmtpSecurity::Tls => {
                    Tls::Wrapper(tls_parameters(&host, settings.smtp_ca_file.as_ref())?)
                }
                SmtpSecurity::None => Tls::None,
            };
            let mut b = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(
                host.as_str(),
            )
            .port(settings.smtp_port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
            if !settings.smtp_user.is_empty() {
                let password = match &settings.smtp_password_file {
                    Some(p) => std::fs::read_to_string(p)
                        .map_err(|e| {
                            NotifyError(format!("smtp_password_file {}: {e}", p.display()))
                        })?
                        .trim_end()
                        .to_owned(),
                    None => String::new(),
                };
                b = b.credentials(Credentials::new(settings.smtp_user.clone(), password));
            }
            Some(b.build())
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("yui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError(format!("HTTP client: {e}")))?;
        Ok(Self {
            settings,
            key,
            http,
            mailer,
            turns: Arc::new(tokio::sync::Semaphore::new(8)),
            counters: Arc::default(),
        })
    }

    /// The node's own subscriptions.
    pub fn subscriptions(&self) -> &[Subscription] {
        &self.settings.subscription
    }

    /// Sends `notice` to every subscription that wants it: the node's own
    /// and `accounts` (each with its e-mail address). Returns how many
    /// deliveries were started; each runs, and retries, on its own.
    pub fn send(&self, notice: Notice, accounts: &[(String, Vec<Subscription>)]) -> usize {
        let notice = Arc::new(notice);
        let mut deliveries: Vec<Delivery> = Vec::new();
        let mut push = |d: Delivery| {
            let dup = deliveries.iter().any(|x| match (x, &d) {
                (Delivery::Email { to: a, .. }, Delivery::Email { to: b, .. }) => a == b,
                (Delivery::Webhook { url: a, .. }, Delivery::Webhook { url: b, .. }) => a == b,
                _ => false,
            });
            if !dup {
                deliveries.push(d);
            }
        };
        for s in self
            .settings
            .subscription
            .iter()
            .filter(|s| s.wants(&notice))
        {
            for to in &s.email {
                push(Delivery::Email {
                    to: to.clone(),
                    notice: notice.clone(),
                });
            }
            for url in &s.webhook {
                push(Delivery::Webhook {
                    url: url.clone(),
                    notice: notice.clone(),
                });
            }
        }
        for (email, subs) in accounts {
            if subs.iter().any(|s| s.wants(&notice)) && !email.is_empty() {
                push(Delivery::Email {
                    to: email.clone(),
                    notice: notice.clone(),
                });
            }
            for s in subs.iter().filter(|s| s.wants(&notice)) {
                for url in &s.webhook {
                    push(Delivery::Webhook {
                        url: url.clone(),
                        notice: notice.clone(),
                    });
                }
            }
        }
        let n = deliveries.len();
        for d in deliveries {
            self.spawn(d);
        }
        n
    }

    fn spawn(&self, d: Delivery) {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(self.settings.first_retry_ms))
            .with_max_delay(Duration::from_secs(300))
            .with_max_times(self.settings.attempts.saturating_sub(1))
            .with_jitter();
        let http = self.http.clone();
        let key = self.key.clone();
        let mailer = self.mailer.clone();
        let from = self.settings.from.clone();
        let counters = self.counters.clone();
        let turns = self.turns.clone();
        tokio::spawn(async move {
            let attempt = || {
                let (http, key, mailer, from, d, turns) = (
                    http.clone(),
                    key.clone(),
                    mailer.clone(),
                    from.clone(),
                    d.clone(),
                    turns.clone(),
                );
                async move {
                    let _turn = turns.acquire().await.map_err(|e| e.to_string())?;
                    match d {
                        Delivery::Webhook { url, notice } => {
                            post_webhook(&http, &key, &url, &notice).await
                        }
                        Delivery::Email { to, notice } => match mailer {
                            Some(m) => send_email(&m, &from, &to, &notice).await,
                            None => Err("no SMTP server is configured".to_owned()),
                        },
                    }
                }
            };
            let what = match &d {
                Delivery::Webhook { url, .. } => format!("webhook {url}"),
                Delivery::Email { to, .. } => format!("e-mail to {to}"),
            };
            let r = attempt
                .retry(backoff)
                .notify(|e: &String, wait| {
                    counters.retried.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(delivery = %what, error = %e, retry_in = ?wait, "notification not delivered yet");
                })
                .await;
            match r {
                Ok(()) => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(delivery = %what, "notification delivered");
                }
                Err(e) => {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(delivery = %what, error = %e, "notification given up");
                }
            }
        });
    }
}

/// The webhook's JSON.
#[derive(Serialize)]
struct WebhookBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    delivery: &'a str,
    sent_at: i64,
    #[serde(flatten)]
    notice: &'a Notice,
}

async fn post_webhook(
    http: &reqwest::Client,
    key: &[u8],
    url: &str,
    notice: &Notice,
) -> Result<(), String> {
    let now = chrono::Utc::now();
    let delivery = format!("{}-{}", notice.entry, notice.topic.name());
    let body = serde_json::to_vec(&WebhookBody {
        kind: "yui.notice",
        delivery: &delivery,
        sent_at: now.timestamp_millis(),
        notice,
    })
    .map_err(|e| e.to_string())?;
    let ts = now.timestamp();
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-yui-delivery", &delivery)
        .header("x-yui-timestamp", ts.to_string())
        .header(
            "x-yui-signature",
            format!("sha256={}", sign_webhook(key, ts, &body)),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", r.status()))
    }
}

async fn send_email(
    mailer: &lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: &str,
    to: &str,
    notice: &Notice,
) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::AsyncTransport;
    let text = format!(
        "{}\n\n{}\n\n{}\n\n-- \nyui: {} ({})\n",
        notice.subject, notice.text, notice.url, notice.author_name, notice.author
    );
    let msg = lettre::Message::builder()
        .from(from.parse().map_err(|e| format!("from {from:?}: {e}"))?)
        .to(to.parse().map_err(|e| format!("to {to:?}: {e}"))?)
        .subject(&notice.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| e.to_string())?;
    mailer
        .send(msg)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(topic: Topic) -> Notice {
        Notice {
            topic,
            subject: "s".into(),
            text: String::new(),
            url: String::new(),
            author: String::new(),
            author_name: String::new(),
            object_id: String::new(),
            entry: "e".into(),
            exercise: false,
            alert_level: Some(4),
            policy_area: Some("tourism".into()),
        }
    }

    #[test]
    fn subscriptions_choose_and_drills_stay_out() {
        let s = Subscription {
            topics: vec![Topic::Alert, Topic::Call],
            min_alert_level: 4,
            policy_areas: vec!["disaster_prevention".into()],
            ..Default::default()
        };
        assert!(s.wants(&notice(Topic::Alert)));
        let mut low = notice(Topic::Alert);
        low.alert_level = Some(3);
        assert!(!s.wants(&low));
        assert!(!s.wants(&notice(Topic::Call)), "another policy area");
        assert!(!s.wants(&notice(Topic::Reply)));
        let mut drill = notice(Topic::Alert);
        drill.exercise = true;
        assert!(!s.wants(&drill));
        assert!(Subscription {
            exercises: true,
            ..s
        }
        .wants(&drill));
        assert!(check_webhook("https://chat.example.jp/hook").is_ok());
        assert!(check_webhook("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_webhook("http://chat.example.jp/hook").is_err());
    }

    #[test]
    fn webhook_signature_is_hmac_over_time_and_body() {
        // RFC 4231 test case 2 shape: key "Jefe".
        let sig = sign_webhook(b"Jefe", 1, b"x");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"1.x");
        assert_eq!(sig, hex::encode(mac.finalize().into_bytes()));
        assert_ne!(sig, sign_webhook(b"Jefe", 2, b"x"));
    }
}
