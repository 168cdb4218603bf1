//! The CLI's client for the local admin API.

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::api::ApiError;
use crate::home::Home;

/// Talks to the node running on a home folder.
#[derive(Debug, Clone)]
pub struct AdminClient {
    addr: String,
    token: String,
    /// Off loopback the admin API speaks TLS with the node's certificate:
    /// its digest, pinned (read from the home's `tls/cert.pem`).
    pinned: Option<[u8; 32]>,
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
        let pinned = if is_loopback(&addr) {
            None
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
            Some(yui_net::tls::cert_digest(&der))
        };
        Ok(Self {
            addr,
            token,
            pinned,
        })
    }

    /// `POST path` with raw bytes; returns raw bytes (bundles).
    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> anyhow::Result<Bytes> {
        self.request(Method::POST, path, body).await
    }

    async fn request(&self, method: Method, path: &str, body: Vec<u8>) -> anyhow::Result<Bytes> {
        let stream = TcpStream::connect(&self.addr).await.with_context(|| {
            format!(
                "cannot reach the node's admin API at {}: is `yui run` running for this home?",
                self.addr
            )
        })?;
        let mut sender = match self.pinned {
            None => {
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                sender
            }
            Some(pin) => {
                let connector =
                    tokio_rustls::TlsConnector::from(yui_net::tls::admin_client_config()?);
                let name = rustls::pki_types::ServerName::try_from("yui-node")?;
                let tls = connector
                    .connect(name, stream)
                    .await
                    .with_context(|| format!("TLS to the admin API at {} failed", self.addr))?;
                // Pinned before the token is sent.
                if yui_net::tls::peer_cert_digest(tls.get_ref().1) != Some(pin) {
                    bail!(
                        "the admin API at {} did not show this node's certificate (tls/cert.pem): refusing to send the token",
                        self.addr
                    );
                }
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
                tokio::spawn(conn);
                sender
            }
        };
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, "localhost")
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let resp = sender
            .send_request(req)
            .await
            .context("admin API request failed")?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let msg = serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            bail!("{msg}");
        }
        Ok(bytes)
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
