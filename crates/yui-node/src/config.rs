//! The node's one typed configuration: `config.toml` in the home folder,
//! overridden by `YUI_*` environment variables. Defaults run a development
//! node.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use yui_core::validate::validate_municipality_code;
use yui_core::NodeId;

/// Whole-node configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Name of the municipality or body running the node.
    pub name: String,
    /// Local government code (6 digits) or foreign code (`KR-busan`).
    pub code: Option<String>,
    /// `municipality` or `relay`.
    pub role: Role,
    /// How far trust flows from the roots through endorsements: 0 = only
    /// the keys trusted here; 1 = also keys a root endorses; 2 = one more step.
    pub endorsement_depth: u32,
    /// Node-to-node settings.
    pub federation: Federation,
    /// Local admin API.
    pub admin: Admin,
    /// HTTP surfaces on the federation port.
    pub http: Http,
    /// Entry limits.
    pub limits: Limits,
    /// Logging.
    pub log: Log,
    /// Peers dialled at start (in addition to `yui peer add`).
    pub peers: Vec<PeerEntry>,
    /// Authors trusted at start (in addition to `yui trust add`).
    pub trust: Vec<TrustEntry>,
    /// Staff workspace: sign-in, sessions.
    pub staff: Staff,
    /// Notifications: SMTP, webhooks, the node's own subscriptions.
    pub notify: yui_staff::NotifySettings,
    /// Restricted audiences and who reads contacts.
    pub privacy: Privacy,
}

/// `[privacy]`: audiences this node seals for, and who reads contacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Privacy {
    /// Who reads the contact (person in charge, direct telephone, e-mail)
    /// of events, cases, calls and readiness unless the author chooses:
    /// `public`, or one of the audiences.
    pub contact_audience: String,
    /// Audiences (`[[privacy.audiences]]`); empty: `partners` (every
    /// partner both sides stated) and `staff` (this node's staff only).
    pub audiences: Vec<AudienceConfig>,
}

impl Default for Privacy {
    fn default() -> Self {
        Self {
            contact_audience: "partners".into(),
            audiences: Vec::new(),
        }
    }
}

impl Privacy {
    /// The audiences in force: those configured, or the built-in two.
    pub fn audiences(&self) -> Vec<AudienceConfig> {
        if !self.audiences.is_empty() {
            return self.audiences.clone();
        }
        use yui_core::content::PartnershipKind as P;
        vec![
            AudienceConfig {
                name: "partners".into(),
                partner_kinds: vec![P::SisterCity, P::Friendship, P::MutualAid, P::Network],
                ..AudienceConfig::default()
            },
            AudienceConfig {
                name: "staff".into(),
                own_staff: true,
                ..AudienceConfig::default()
            },
        ]
    }
}

/// One audience: who may read what this node seals for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudienceConfig {
    /// 1-64 bytes of a-z, 0-9 and `-`.
    pub name: String,
    /// Named municipalities (local government codes).
    pub codes: Vec<String>,
    /// Partners of these kinds (`sister_city`, `friendship`,
    /// `mutual_aid`, `network`), when both sides stated the partnership.
    pub partner_kinds: Vec<yui_core::content::PartnershipKind>,
    /// Members these relays endorse (node ids).
    pub endorsed_by: Vec<NodeId>,
    /// Only this node's own staff.
    pub own_staff: bool,
}

impl AudienceConfig {
    /// The members as an audience entry states them.
    pub fn members(&self) -> yui_core::audience::AudienceMembers {
        yui_core::audience::AudienceMembers {
            codes: self.codes.clone(),
            partner_kinds: self.partner_kinds.clone(),
            endorsed_by: self.endorsed_by.clone(),
            own_staff: self.own_staff,
        }
    }
}

/// `[staff]`: the workspace where staff sign in and publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Staff {
    /// Serve the workspace (`/staff/`) on the pages' ports.
    pub enabled: bool,
    /// Sign-in attempts per minute one client address may make.
    pub sign_in_per_minute: u32,
}

impl Default for Staff {
    fn default() -> Self {
        Self {
            enabled: true,
            sign_in_per_minute: 10,
        }
    }
}

/// What the node does for the network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A city, town or ward.
    #[default]
    Municipality,
    /// A regional body that stores and forwards for members.
    Relay,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "municipality" => Ok(Role::Municipality),
            "relay" => Ok(Role::Relay),
            _ => Err(format!("role must be municipality or relay, not {s:?}")),
        }
    }
}

/// `[federation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Federation {
    /// TLS port for peers.
    pub listen: String,
    /// Seconds between pings on a quiet link.
    pub heartbeat_secs: u64,
    /// Seconds of silence after which a link is dropped and redialled.
    pub idle_timeout_secs: u64,
    /// Seconds allowed for TLS plus the signed handshake.
    pub handshake_timeout_secs: u64,
    /// Open peer connections at once.
    pub max_connections: usize,
    /// First reconnect delay, milliseconds.
    pub backoff_initial_ms: u64,
    /// Longest reconnect delay, seconds.
    pub backoff_max_secs: u64,
    /// On SIGTERM: seconds allowed to end sessions and finish storing what
    /// arrived before the store is flushed and the node exits.
    pub drain_timeout_secs: u64,
    /// HTTP CONNECT proxy for outbound links (`http://user:pass@host:port`);
    /// empty: `HTTPS_PROXY` from the environment, if set.
    pub proxy: String,
    /// Hosts dialled directly, bypassing `proxy` (comma-separated names,
    /// domain suffixes, IP addresses, CIDR ranges, or `*`).
    pub no_proxy: String,
    /// Serve HTTP/1.1 sync (`/h1/v1/…`) on the federation port, for members
    /// whose only way out is an HTTP/1.1-only or TLS-terminating proxy.
    pub http1_serve: bool,
    /// Peers reached over HTTP/1.1 sync instead of a Sync stream (see
    /// SECURITY.md for what that gives up).
    pub http1_peers: Vec<crate::http1::Http1Peer>,
}

impl Default for Federation {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:7100".into(),
            heartbeat_secs: 15,
            idle_timeout_secs: 60,
            handshake_timeout_secs: 10,
            max_connections: 1024,
            backoff_initial_ms: 500,
            backoff_max_secs: 180,
            drain_timeout_secs: 10,
            proxy: String::new(),
            no_proxy: String::new(),
            http1_serve: false,
            http1_peers: Vec::new(),
        }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    /// Loopback address of the admin API.
    pub listen: String,
    /// Allow a non-loopback admin address (the token still applies).
    pub allow_remote: bool,
}

impl Default for Admin {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7101".into(),
            allow_remote: false,
        }
    }
}

/// `[http]`: what the federation TLS port serves to people, without a
/// token. Restricted content never appears on these routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http {
    /// Serve the exports (iCalendar, CAP, Atom, JSON) under /export/.
    pub public_exports: bool,
    /// Serve the pages (calendar, board, cases, calls, network) and their
    /// JSON API under /api/.
    pub pages: bool,
    /// The address people reach this node at (`https://yui.city.example.jp`):
    /// calendar subscriptions and each event's link in iCalendar use it.
    /// Empty: the request's `Host`, over https.
    pub public_url: String,
    /// Also serve the pages and exports over plain HTTP here (for a
    /// reverse proxy on the same host that terminates TLS), e.g.
    /// `127.0.0.1:8080`. Empty: none. Off loopback it needs
    /// `plain_allow_remote`.
    pub plain_listen: String,
    /// Let `plain_listen` be off loopback (traffic in clear).
    pub plain_allow_remote: bool,
    /// Page requests per second one client address may make (0: 20).
    pub page_rate: u32,
    /// Page requests one client address may make at once (0: 60).
    pub page_burst: u32,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            public_exports: true,
            pages: true,
            public_url: String::new(),
            plain_listen: String::new(),
            plain_allow_remote: false,
            page_rate: 0,
            page_burst: 0,
        }
    }
}

/// `[limits]`: what one peer may ask of this node. Going past one gets the
/// peer a gRPC status naming the limit and counts in
/// `yui_limit_exceeded_total`; other peers are not slowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest encoded entry, bytes. A protocol constant (every node must
    /// agree, or one node's valid entry stalls another's log): only the
    /// protocol's value is accepted here; the key stays so older config
    /// files still load.
    pub max_entry_bytes: usize,
    /// How far in the future an entry's time may be, seconds. A protocol
    /// constant, as `max_entry_bytes`.
    pub max_clock_skew_secs: u64,
    /// Largest gRPC message a peer may send, bytes.
    pub max_message_bytes: usize,
    /// Most entries in one batch from a peer.
    pub max_batch_entries: usize,
    /// Sync streams one peer (node id) may hold open to this node at once.
    pub max_streams_per_peer: usize,
    /// Connections one IP address may hold open at once.
    pub max_connections_per_address: usize,
    /// New entries (created in the last hour) accepted per author per minute;
    /// 0 = no limit. Backfill of older entries is not limited.
    pub entries_per_author_per_minute: u32,
    /// Messages queued for one peer before sending waits for it to read.
    pub pending_messages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let d = yui_core::Limits::default();
        let s = yui_net::SessionConfig::default();
        let l = yui_net::ServerLimits::default();
        Self {
            max_entry_bytes: d.max_entry_bytes,
            max_clock_skew_secs: (d.max_clock_skew_ms / 1000) as u64,
            max_message_bytes: s.max_message_bytes,
            max_batch_entries: s.max_inbound_entries,
            max_streams_per_peer: s.max_streams_per_peer,
            max_connections_per_address: l.max_connections_per_address,
            entries_per_author_per_minute: d.entries_per_author_per_minute,
            pending_messages: s.pending_messages,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter: `info`, `yui_net=debug,info`, ...
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// `[[peers]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    /// `host:port`.
    pub addr: String,
    /// Expected node id.
    pub node_id: Option<NodeId>,
}

/// `[[trust]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustEntry {
    /// Trusted author.
    pub node_id: NodeId,
    /// Name for people.
    #[serde(default)]
    pub name: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: "yui development node".into(),
            code: None,
            role: Role::Municipality,
            endorsement_depth: 1,
            federation: Federation::default(),
            admin: Admin::default(),
            http: Http::default(),
            limits: Limits::default(),
            log: Log::default(),
            peers: Vec::new(),
            trust: Vec::new(),
            staff: Staff::default(),
            notify: yui_staff::NotifySettings::default(),
            privacy: Privacy::default(),
        }
    }
}

/// Every problem found in a configuration, each with its key path.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    /// Reads `path`, applies `YUI_*` overrides, and checks the result;
    /// reports every problem (file, overrides, values) at once.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(vec![format!("{}: cannot read: {e}", path.display())]))?;
        let mut cfg: Config = toml::from_str(&text)
            .map_err(|e| ConfigError(vec![format!("{}: {}", path.display(), e.message())]))?;
        let mut problems = match cfg.apply_env(|k| std::env::var(k).ok()) {
            Ok(()) => Vec::new(),
            Err(e) => e.0,
        };
        if let Err(e) = cfg.check() {
            problems.extend(e.0);
        }
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Every key that an environment variable can override, as
    /// (`section.key`, `YUI_SECTION_KEY`): each scalar key of the file
    /// (`limits.max_message_bytes` → `YUI_LIMITS_MAX_MESSAGE_BYTES`,
    /// `name` → `YUI_NAME`). Lists (`peers`, `trust`) stay in the file.
    pub fn env_keys() -> Vec<(String, String)> {
        let mut out = vec![("code".to_owned(), "YUI_CODE".to_owned())];
        let defaults = toml::Value::try_from(Config::default()).expect("config serialises");
        fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
            let toml::Value::Table(t) = v else { return };
            for (k, v) in t {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    toml::Value::Table(_) => walk(&path, v, out),
                    toml::Value::Array(_) => {}
                    _ => {
                        let env = format!("YUI_{}", path.replace('.', "_").to_uppercase());
                        out.push((path, env));
                    }
                }
            }
        }
        walk("", &defaults, &mut out);
        out
    }

    /// Applies `YUI_*` overrides from `env` (see [`Config::env_keys`]). A value
    /// that does not parse as the key's type is a problem named by its
    /// variable; the key then keeps its file value.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut doc = toml::Value::try_from(&*self).expect("config serialises");
        let defaults = toml::Value::try_from(Config::default()).expect("config serialises");
        let mut changed = false;
        for (path, var) in Self::env_keys() {
            let Some(raw) = env(&var) else { continue };
            let parts: Vec<&str> = path.split('.').collect();
            let kind = parts
                .iter()
                .try_fold(&defaults, |v, p| v.get(p))
                .cloned()
                .unwrap_or(toml::Value::String(String::new()));
            let value = match kind {
                toml::Value::Integer(_) => match raw.trim().parse::<i64>() {
                    Ok(n) if n >= 0 => toml::Value::Integer(n),
                    _ => {
                        problems.push(format!("{var} ({path}): {raw:?} is not a whole number"));
                        continue;
                    }
                },
                toml::Value::Boolean(_) => match raw.trim() {
                    "true" | "1" | "yes" => toml::Value::Boolean(true),
                    "false" | "0" | "no" => toml::Value::Boolean(false),
                    _ => {
                        problems.push(format!("{var} ({path}): {raw:?} is not true or false"));
                        continue;
                    }
                },
                _ => toml::Value::String(raw),
            };
            let (last, sections) = parts.split_last().expect("non-empty path");
            let mut table = &mut doc;
            for s in sections {
                table = table
                    .as_table_mut()
                    .expect("table")
                    .entry(s.to_string())
                    .or_insert_with(|| toml::Value::Table(Default::default()));
            }
            table
                .as_table_mut()
                .expect("table")
                .insert(last.to_string(), value);
            changed = true;
        }
        if changed {
            match doc.try_into::<Config>() {
                Ok(c) => *self = c,
                Err(e) => problems.push(format!("YUI_* overrides: {e}")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Checks every value; reports all problems at once.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut p = Vec::new();
        if self.name.trim().is_empty() {
            p.push("name: must not be empty".to_owned());
        }
        if let Some(code) = &self.code {
            if let Err(e) = validate_municipality_code(code) {
                p.push(format!("code: {e}"));
            }
        }
        let audiences = self.privacy.audiences();
        for (i, a) in audiences.iter().enumerate() {
            if !yui_core::audience::valid_audience_name(&a.name) {
                p.push(format!(
                    "privacy.audiences[{i}].name: {:?} must be 1-64 bytes of a-z, 0-9 and -",
                    a.name
                ));
            }
            if audiences[..i].iter().any(|b| b.name == a.name) {
                p.push(format!(
                    "privacy.audiences[{i}].name: {:?} is defined twice",
                    a.name
                ));
            }
            for c in &a.codes {
                if let Err(e) = validate_municipality_code(c) {
                    p.push(format!("privacy.audiences[{i}].codes: {e}"));
                }
            }
            if a.own_staff
                && (!a.codes.is_empty() || !a.partner_kinds.is_empty() || !a.endorsed_by.is_empty())
            {
                p.push(format!(
                    "privacy.audiences[{i}]: own_staff names this node alone; drop codes, partner_kinds and endorsed_by"
                ));
            }
        }
        let ca = &self.privacy.contact_audience;
        if ca != "public" && !audiences.iter().any(|a| &a.name == ca) {
            let names: Vec<&str> = audiences.iter().map(|a| a.name.as_str()).collect();
            p.push(format!(
                "privacy.contact_audience: {ca:?} is neither \"public\" nor an audience ({})",
                names.join(", ")
            ));
        }
        if let Err(e) = self.federation.listen.parse::<SocketAddr>() {
            p.push(format!(
                "federation.listen: {:?} is not HOST:PORT ({e})",
                self.federation.listen
            ));
        }
        match self.admin.listen.parse::<SocketAddr>() {
            Err(e) => p.push(format!("admin.listen: {:?} is not HOST:PORT ({e})", self.admin.listen)),
            Ok(a) if !a.ip().is_loopback() && !self.admin.allow_remote => p.push(format!(
                "admin.listen: {a} is not a loopback address; set admin.allow_remote = true to expose the admin API"
            )),
            Ok(_) => {}
        }
        p.extend(self.notify.check());
        if self.staff.sign_in_per_minute == 0 {
            p.push("staff.sign_in_per_minute: at least 1".into());
        }
        let h = &self.http;
        if !h.plain_listen.is_empty() {
            match h.plain_listen.parse::<SocketAddr>() {
                Err(e) => p.push(format!(
                    "http.plain_listen: {:?} is not HOST:PORT ({e})",
                    h.plain_listen
                )),
                Ok(a) if !a.ip().is_loopback() && !h.plain_allow_remote => p.push(format!(
                    "http.plain_listen: {a} is not a loopback address; plain HTTP is for a reverse proxy on this host (set http.plain_allow_remote = true to serve it in clear)"
                )),
                Ok(_) => {}
            }
        }
        let web = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if !h.public_url.is_empty() && !web(&h.public_url) {
            p.push(format!(
                "http.public_url: {:?} must start with https:// (the address people reach this node at)",
                h.public_url
            ));
        }
        if self.endorsement_depth > 8 {
            p.push("endorsement_depth: at most 8".into());
        }
        if self.federation.heartbeat_secs == 0 {
            p.push("federation.heartbeat_secs: must be at least 1".into());
        }
        if self.federation.idle_timeout_secs <= self.federation.heartbeat_secs {
            p.push("federation.idle_timeout_secs: must be longer than heartbeat_secs".into());
        }
        if self.federation.max_connections == 0 {
            p.push("federation.max_connections: must be at least 1".into());
        }
        if let Err(e) = self.proxy() {
            p.push(format!("federation.proxy: {e}"));
        }
        if !(1..=300).contains(&self.federation.drain_timeout_secs) {
            p.push("federation.drain_timeout_secs: must be between 1 and 300".into());
        }
        if self.federation.backoff_max_secs == 0 || self.federation.backoff_initial_ms == 0 {
            p.push("federation.backoff_*: must be positive".into());
        }
        let l = &self.limits;
        let protocol = yui_core::Limits::default();
        if l.max_entry_bytes != protocol.max_entry_bytes {
            p.push(format!(
                "limits.max_entry_bytes: a protocol constant ({}): every node must apply the same, so it cannot be changed here: set it back to that value or remove the key",
                protocol.max_entry_bytes
            ));
        }
        if l.max_clock_skew_secs as i64 * 1000 != protocol.max_clock_skew_ms {
            p.push(format!(
                "limits.max_clock_skew_secs: a protocol constant ({}): every node must apply the same, so it cannot be changed here: set it back to that value or remove the key",
                protocol.max_clock_skew_ms / 1000
            ));
        }
        // A batch of up to batch_bytes plus one entry must fit a message.
        let min_message = yui_net::SessionConfig::default().batch_bytes + l.max_entry_bytes + 4096;
        if l.max_message_bytes < min_message || l.max_message_bytes > yui_net::MAX_MESSAGE_BYTES {
            p.push(format!(
                "limits.max_message_bytes: must be between {min_message} (a full batch) and {}",
                yui_net::MAX_MESSAGE_BYTES
            ));
        }
        if l.max_batch_entries < yui_net::SessionConfig::default().batch_entries {
            p.push(format!(
                "limits.max_batch_entries: must be at least {} (what peers send in one batch)",
                yui_net::SessionConfig::default().batch_entries
            ));
        }
        if l.max_streams_per_peer == 0 {
            p.push("limits.max_streams_per_peer: must be at least 1".into());
        }
        if l.max_connections_per_address == 0 {
            p.push("limits.max_connections_per_address: must be at least 1".into());
        }
        if l.pending_messages == 0 || l.pending_messages > 4096 {
            p.push("limits.pending_messages: must be between 1 and 4096".into());
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            p.push(format!(
                "log.format: {:?} is not text or json",
                self.log.format
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            p.push(format!("log.level: {e}"));
        }
        for (i, peer) in self.peers.iter().enumerate() {
            if !peer.addr.contains(':') {
                p.push(format!("peers[{i}].addr: {:?} is not HOST:PORT", peer.addr));
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(p))
        }
    }

    /// The proxy from `[federation] proxy`, if set.
    pub fn proxy(&self) -> Result<Option<yui_net::proxy::ProxyConfig>, String> {
        let f = &self.federation;
        if f.proxy.is_empty() {
            return Ok(None);
        }
        yui_net::proxy::ProxyConfig::parse(&f.proxy, &f.no_proxy).map(Some)
    }

    /// Core entry limits from `[limits]`.
    pub fn core_limits(&self) -> yui_core::Limits {
        // Validity rules are the protocol's; only local policy comes from
        // the config.
        yui_core::Limits {
            entries_per_author_per_minute: self.limits.entries_per_author_per_minute,
            ..yui_core::Limits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let c = Config::default();
        c.check().unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), c);
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let c: Config = toml::from_str(
            r#"
            name = ""
            code = "131131"
            [federation]
            listen = "nowhere"
            heartbeat_secs = 0
            [admin]
            listen = "0.0.0.0:7101"
            [log]
            format = "xml"
            "#,
        )
        .unwrap();
        let e = c.check().unwrap_err().0;
        for key in [
            "name:",
            "code:",
            "federation.listen:",
            "admin.listen:",
            "heartbeat_secs",
            "log.format:",
        ] {
            assert!(
                e.iter().any(|m| m.contains(key)),
                "no problem reported for {key}: {e:?}"
            );
        }
    }

    /// deploy/yui.example.toml documents every key with its default.
    #[test]
    fn example_config_matches_the_code() {
        let text = include_str!("../../../deploy/yui.example.toml");
        let mut c: Config = toml::from_str(text).unwrap();
        c.check().unwrap();
        assert_eq!(c.code.as_deref(), Some("131156"));
        c.name = Config::default().name;
        c.code = None;
        assert_eq!(
            c,
            Config::default(),
            "example values differ from the defaults"
        );
        let defaults = toml::to_string(&Config::default()).unwrap();
        for line in defaults.lines().filter(|l| l.contains(" = ")) {
            let key = line.split(" = ").next().unwrap();
            assert!(
                text.contains(&format!("{key} = ")),
                "example lacks key {key}"
            );
        }
    }

    /// deploy/examples/*.toml are valid and say what their comments say.
    #[test]
    fn example_deployments_are_valid() {
        let proxy: Config = toml::from_str(include_str!(
            "../../../deploy/examples/municipality-behind-proxy.toml"
        ))
        .unwrap();
        proxy.check().unwrap();
        assert_eq!(proxy.role, Role::Municipality);
        let p = proxy.proxy().unwrap().expect("a proxy");
        assert_eq!(p.addr, "proxy.pref.shizuoka.example.lg.jp:8080");
        assert_eq!(p.credentials.as_deref(), Some("yui-node:change@me"));
        assert!(!p.applies_to("town.minamiizu.example.lg.jp"));
        assert!(p.applies_to("yui-relay.pref.shizuoka.example.lg.jp"));
        assert!(proxy
            .federation
            .listen
            .parse::<SocketAddr>()
            .unwrap()
            .ip()
            .is_loopback());
        assert_eq!(proxy.peers.len(), 1);
        assert_eq!(proxy.trust[0].node_id, proxy.peers[0].node_id.unwrap());

        let relay: Config =
            toml::from_str(include_str!("../../../deploy/examples/relay.toml")).unwrap();
        relay.check().unwrap();
        assert_eq!(relay.role, Role::Relay);
        assert!(relay.http.public_exports);
        assert!(relay.federation.max_connections >= 1000);
        assert!(relay.endorsement_depth >= 2);
    }

    #[test]
    fn a_bad_proxy_is_named() {
        let mut c = Config::default();
        c.federation.proxy = "https://proxy.example:8080".into();
        let e = c.check().unwrap_err().0;
        assert!(
            e.iter().any(|m| m.starts_with("federation.proxy:")),
            "{e:?}"
        );
    }

    /// Validity rules are the protocol's: a config cannot change them (one
    /// node refusing what others hold would stall their logs).
    #[test]
    fn validity_limits_cannot_be_changed_locally() {
        let mut c = Config::default();
        c.check().unwrap();
        c.limits.max_entry_bytes = 32 * 1024;
        c.limits.max_clock_skew_secs = 30;
        let e = c.check().unwrap_err().0;
        assert!(
            e.iter()
                .any(|m| m.starts_with("limits.max_entry_bytes: a protocol constant")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("limits.max_clock_skew_secs: a protocol constant")),
            "{e:?}"
        );
        assert_eq!(
            Config::default().core_limits().max_entry_bytes,
            yui_core::Limits::default().max_entry_bytes
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<Config>("nmae = \"typo\"").unwrap_err();
        assert!(e.to_string().contains("nmae"));
    }

    #[test]
    fn env_overrides_reach_every_scalar_key() {
        let keys = Config::env_keys();
        for var in [
            "YUI_NAME",
            "YUI_CODE",
            "YUI_ROLE",
            "YUI_FEDERATION_LISTEN",
            "YUI_ADMIN_LISTEN",
            "YUI_ADMIN_ALLOW_REMOTE",
            "YUI_LIMITS_MAX_MESSAGE_BYTES",
            "YUI_LOG_FORMAT",
            "YUI_HTTP_PUBLIC_EXPORTS",
        ] {
            assert!(keys.iter().any(|(_, v)| v == var), "{var} missing");
        }
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "YUI_ADMIN_LISTEN" => Some("127.0.0.1:9999".to_owned()),
            "YUI_LIMITS_MAX_MESSAGE_BYTES" => Some("9000000".to_owned()),
            "YUI_ADMIN_ALLOW_REMOTE" => Some("true".to_owned()),
            "YUI_ROLE" => Some("relay".to_owned()),
            "YUI_CODE" => Some("131016".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.admin.listen, "127.0.0.1:9999");
        assert_eq!(c.limits.max_message_bytes, 9_000_000);
        assert!(c.admin.allow_remote);
        assert_eq!(c.role, Role::Relay);
        assert_eq!(c.code.as_deref(), Some("131016"));
    }

    #[test]
    fn bad_env_overrides_are_named_and_change_nothing() {
        let mut c = Config::default();
        let e = c
            .apply_env(|k| match k {
                "YUI_LIMITS_MAX_MESSAGE_BYTES" => Some("lots".to_owned()),
                "YUI_ADMIN_ALLOW_REMOTE" => Some("maybe".to_owned()),
                _ => None,
            })
            .unwrap_err()
            .0;
        assert!(
            e.iter()
                .any(|m| m.starts_with("YUI_LIMITS_MAX_MESSAGE_BYTES (limits.max_message_bytes)")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.starts_with("YUI_ADMIN_ALLOW_REMOTE")),
            "{e:?}"
        );
        assert_eq!(c, Config::default());
        let e = c
            .apply_env(|k| (k == "YUI_ROLE").then(|| "emperor".to_owned()))
            .unwrap_err()
            .0;
        assert!(e[0].contains("emperor"), "{e:?}");
        assert_eq!(c, Config::default());
    }
}
