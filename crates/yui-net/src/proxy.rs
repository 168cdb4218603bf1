//! Outbound connections through an HTTP CONNECT proxy, as municipal networks
//! often allow nothing else: `HTTPS_PROXY` (or `https_proxy`), optionally
//! with `user:password@`, and `NO_PROXY` (comma-separated hosts, domain
//! suffixes, or `*`).
//!
//! The proxy only carries bytes: TLS runs end to end inside the tunnel and
//! the signed handshake proves the peer, so a proxy can neither read nor
//! impersonate.

use std::sync::OnceLock;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

static CONFIGURED: OnceLock<ProxyConfig> = OnceLock::new();

/// Where and how to reach the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// `host:port` of the proxy.
    pub addr: String,
    /// `user:password` for Basic authentication.
    pub credentials: Option<String>,
    /// Hosts reached directly.
    pub no_proxy: Vec<String>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // On bytes, never on a str slice: a multi-byte character after '%'
        // is not an escape (and slicing into it would panic).
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ProxyConfig {
    /// Parses a proxy URL (`http://user:pass@host:port` or `host:port`).
    pub fn parse(url: &str, no_proxy: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("HTTP://"))
            .unwrap_or(url)
            .trim_end_matches('/');
        if url.starts_with("https://") {
            return Err(format!(
                "{url}: only http:// proxies (CONNECT over plain HTTP) are supported"
            ));
        }
        let (credentials, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => {
                let (u, p) = c.split_once(':').unwrap_or((c, ""));
                (
                    Some(format!("{}:{}", percent_decode(u), percent_decode(p))),
                    h,
                )
            }
            None => (None, rest),
        };
        let addr = if hostport
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            hostport.to_owned()
        } else {
            format!("{hostport}:80")
        };
        if addr.starts_with(':') {
            return Err(format!("{url}: no proxy host"));
        }
        let no_proxy = no_proxy
            .split(',')
            .map(|s| s.trim().trim_start_matches('.').to_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        Ok(Self {
            addr,
            credentials,
            no_proxy,
        })
    }

    /// Uses `proxy` for every outbound connection of this process instead
    /// of the environment (`[federation] proxy` in config.toml). The first
    /// call wins; returns whether this one did.
    pub fn configure(proxy: ProxyConfig) -> bool {
        CONFIGURED.set(proxy).is_ok()
    }

    /// The configured proxy ([`ProxyConfig::configure`]), else the one from
    /// the environment, read once per process.
    pub fn from_env() -> Option<&'static ProxyConfig> {
        if let Some(c) = CONFIGURED.get() {
            return Some(c);
        }
        static CFG: OnceLock<Option<ProxyConfig>> = OnceLock::new();
        CFG.get_or_init(|| {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let url = var("HTTPS_PROXY").or_else(|| var("https_proxy"))?;
            let no = var("NO_PROXY")
                .or_else(|| var("no_proxy"))
                .unwrap_or_default();
            match ProxyConfig::parse(&url, &no) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!("HTTPS_PROXY ignored: {e}");
                    None
                }
            }
        })
        .as_ref()
    }

    /// Whether connections to `host` go through the proxy.
    pub fn applies_to(&self, host: &str) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_lowercase();
        !self
            .no_proxy
            .iter()
            .any(|n| n == "*" || host == *n || host.ends_with(&format!(".{n}")))
    }
}

/// Opens a tunnel to `target` (`host:port`) through `proxy`.
pub async fn connect(proxy: &ProxyConfig, target: &str) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(&proxy.addr).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot reach proxy {}: {e}", proxy.addr))
    })?;
    let mut req = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: yui/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(c) = &proxy.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(c);
        req.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    // Read the response head byte by byte so nothing of the tunnel is eaten.
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 {
            return Err(std::io::Error::other("proxy sent an over-long response"));
        }
        if s.read(&mut byte).await? == 0 {
            return Err(std::io::Error::other(
                "proxy closed the connection during CONNECT",
            ));
        }
        head.push(byte[0]);
    }
    let status_line = String::from_utf8_lossy(&head);
    let status_line = status_line.lines().next().unwrap_or_default();
    let code = status_line.split_whitespace().nth(1).unwrap_or_default();
    match code {
        "200" => Ok(s),
        "407" => Err(std::io::Error::other(format!(
            "proxy {} requires credentials (407); give them as HTTPS_PROXY=http://user:password@host:port",
            proxy.addr
        ))),
        _ => Err(std::io::Error::other(format!("proxy refused CONNECT {target}: {status_line}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_with_multibyte_characters_after_percent_do_not_panic() {
        let p = ProxyConfig::parse("http://職員%あ:合%言葉%E3%81%82@proxy.lg.jp:8080", "").unwrap();
        assert_eq!(p.credentials.as_deref(), Some("職員%あ:合%言葉あ"));
        let p = ProxyConfig::parse("http://a%:b%4@proxy:1", "").unwrap();
        assert_eq!(p.credentials.as_deref(), Some("a%:b%4"));
    }

    #[test]
    fn parses_urls_and_no_proxy() {
        let p = ProxyConfig::parse(
            "http://u%40lg:p%3Ass@proxy.pref.lg.jp:8080/",
            "localhost, .internal.lg.jp",
        )
        .unwrap();
        assert_eq!(p.addr, "proxy.pref.lg.jp:8080");
        assert_eq!(p.credentials.as_deref(), Some("u@lg:p:ss"));
        assert!(p.applies_to("relay.example.jp"));
        assert!(!p.applies_to("localhost"));
        assert!(!p.applies_to("node.internal.lg.jp"));
        assert!(!p.applies_to("internal.lg.jp"));
        let p = ProxyConfig::parse("10.0.0.1:3128", "*").unwrap();
        assert_eq!(
            (p.addr.as_str(), p.credentials.as_deref()),
            ("10.0.0.1:3128", None)
        );
        assert!(!p.applies_to("anything"));
        assert!(ProxyConfig::parse("https://proxy:443", "").is_err());
        assert_eq!(
            ProxyConfig::parse("http://proxy", "").unwrap().addr,
            "proxy:80"
        );
    }
}
