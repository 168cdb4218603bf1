//! The CLI's client for the local admin API (reqwest on rustls with the
//! ring provider).
//!
//! On loopback it speaks plain HTTP. Off loopback the admin API speaks TLS
//! with the node's own certificate; the client accepts that one
//! certificate only (its digest, read from the home's `tls/cert.pem`), so
//! the handshake fails before the token is sent to anything else.
//! Connecting gives up after 10 seconds and a silent answer after 30
//! minutes (a backup or a large export streams for a while, but never
//! stalls that long).

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::ApiError;
use crate::home::Home;

/// How long connecting to the admin API may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the admin API may stay silent while answering.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Talks to the node running on a home folder.
#[derive(Debug, Clone)]
pub struct AdminClient {
    addr: String,
    base: String,
    token: String,
    http: reqwest::Client,
}

fn is_loopback(addr: &str) -> bool {
    addr.parse::<std::net::SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or_else(|_| addr.starts_with("localhost:"))
}

impl AdminClient {
    /// The client for `home`: the address the running node wrote, else the
    /// configured one; the token from `admin.token`.
    pub fn for_home(home: &Home) -> anyhow::Result<Self> {
        let addr = match std::fs::read_to_string(home.admin_addr_path()) {
            Ok(a) => a.trim().to_owned(),
            Err(_) => home.load_config()?.admin.listen,
        };
        let token = home.load_token()?;
        let builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("yui-cli/", env!("CARGO_PKG_VERSION")));
        let (base, http) = if is_loopback(&addr) {
            (format!("http://{addr}"), builder.build()?)
        } else {
            let pem = std::fs::read(home.cert_path()).with_context(|| {
                format!(
                    "the admin API at {addr} speaks TLS: {} is needed to check its certificate",
                    home.cert_path().display()
                )
            })?;
            let der = rustls_pemfile::certs(&mut pem.as_slice())
                .next()
                .context("no certificate in the home's tls/cert.pem")??;
            let tls = yui_net::tls::admin_client_config(yui_net::tls::cert_digest(&der))?;
            (
                format!("https://{addr}"),
                builder.use_preconfigured_tls(tls).build()?,
            )
        };
        Ok(Self {
            addr,
            base,
            token,
            http,
        })
    }

    /// `POST path` with raw bytes; returns raw bytes (bundles).
    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> anyhow::Result<Bytes> {
        self.request(Method::POST, path, body).await
    }

    async fn request(&self, method: Method, path: &str, body: Vec<u8>) -> anyhow::Result<Bytes> {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("admin API request failed")?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            bail!("{msg}");
        }
        Ok(bytes)
    }

    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        let mut cause = String::new();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = src {
            cause = s.to_string();
            src = s.source();
        }
        if cause.contains("not this node's certificate") {
            anyhow::anyhow!(
                "the admin API at {} did not show this node's certificate (tls/cert.pem): refusing to send the token",
                self.addr
            )
        } else if e.is_connect() {
            anyhow::anyhow!(
                "cannot reach the node's admin API at {}: is `yui run` running for this home? ({cause})",
                self.addr
            )
        } else if e.is_timeout() {
            anyhow::anyhow!("the admin API at {} did not answer in time", self.addr)
        } else {
            anyhow::anyhow!("admin API request failed: {e} ({cause})")
        }
    }

    /// `GET path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let b = self.request(Method::GET, path, Vec::new()).await?;
        serde_json::from_slice(&b).context("unexpected answer from the admin API")
    }

    /// `GET path` as text (exports).
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let b = self.request(Method::GET, path, Vec::new()).await?;
        Ok(String::from_utf8(b.to_vec())?)
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let b = self
            .request(Method::POST, path, serde_json::to_vec(body)?)
            .await?;
        serde_json::from_slice(&b).context("unexpected answer from the admin API")
    }
}
