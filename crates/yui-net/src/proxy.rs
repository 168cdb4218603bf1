//! Outbound connections through an HTTP CONNECT proxy, as municipal networks
//! often allow nothing else: `HTTPS_PROXY` (or `https_proxy`), optionally
//! with `user:password@`, and `NO_PROXY` (comma-separated hosts, domain
//! suffixes, IP addresses and CIDR ranges such as `10.0.0.0/8`, or `*`).
//! hyper-util does the work: its proxy matcher decides which hosts go
//! through the proxy, its `Tunnel` connector speaks CONNECT.
//!
//! The proxy only carries bytes: TLS runs end to end inside the tunnel and
//! the signed handshake proves the peer, so a proxy can neither read nor
//! impersonate.

use std::sync::OnceLock;

use base64::Engine;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use tokio::net::TcpStream;
use tower::Service;

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

    /// Whether connections to `host` go through the proxy (hyper-util's
    /// `NO_PROXY` rules: hosts, domain suffixes, IPs, CIDR ranges, `*`).
    pub fn applies_to(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let Ok(uri) = format!("https://{host}/").parse::<http::Uri>() else {
            return true;
        };
        Matcher::builder()
            .https(format!("http://{}", self.addr))
            .no(self.no_proxy.join(","))
            .build()
            .intercept(&uri)
            .is_some()
    }
}

/// Opens a tunnel to `target` (`host:port`) through `proxy`.
pub async fn connect(proxy: &ProxyConfig, target: &str) -> std::io::Result<TcpStream> {
    let proxy_uri: http::Uri = format!("http://{}", proxy.addr)
        .parse()
        .map_err(|e| std::io::Error::other(format!("proxy address {}: {e}", proxy.addr)))?;
    let mut tunnel = Tunnel::new(proxy_uri, HttpConnector::new());
    if let Some(c) = &proxy.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(c);
        let value = http::HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|e| std::io::Error::other(format!("proxy credentials: {e}")))?;
        tunnel = tunnel.with_auth(value);
    }
    let dst: http::Uri = format!("https://{target}")
        .parse()
        .map_err(|e| std::io::Error::other(format!("{target}: {e}")))?;
    match tunnel.call(dst).await {
        Ok(io) => Ok(io.into_inner()),
        Err(e) => {
            let text = e.to_string();
            let msg = if text.contains("auth") {
                format!(
                    "proxy {} requires credentials (407); give them as HTTPS_PROXY=http://user:password@host:port",
                    proxy.addr
                )
            } else if text.contains("connect") && !text.contains("unsuccessful") {
                format!("cannot reach proxy {}: {text}", proxy.addr)
            } else {
                format!("proxy refused CONNECT {target}: {text}")
            };
            Err(std::io::Error::other(msg))
        }
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

    /// A proxy that answers every CONNECT with `status`.
    async fn answering(status: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn refusals_by_the_proxy_are_named() {
        let p =
            ProxyConfig::parse(&answering("407 Proxy Authentication Required").await, "").unwrap();
        let e = connect(&p, "relay.example.jp:7100")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("requires credentials"), "{e}");
        let p = ProxyConfig::parse(&answering("403 Forbidden").await, "").unwrap();
        let e = connect(&p, "relay.example.jp:7100")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("refused CONNECT relay.example.jp:7100"), "{e}");
        let p = ProxyConfig::parse("127.0.0.1:1", "").unwrap();
        let e = connect(&p, "relay.example.jp:7100")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot reach proxy 127.0.0.1:1"), "{e}");
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
        let p = ProxyConfig::parse("http://proxy:3128", "10.0.0.0/8, ::1").unwrap();
        assert!(!p.applies_to("10.20.30.40"), "a CIDR range goes direct");
        assert!(p.applies_to("192.168.1.1"));
        assert!(!p.applies_to("[::1]"));
        assert!(ProxyConfig::parse("https://proxy:443", "").is_err());
        assert_eq!(
            ProxyConfig::parse("http://proxy", "").unwrap().addr,
            "proxy:80"
        );
    }
}
