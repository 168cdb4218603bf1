//! TLS 1.3 with rustls (ring provider only) and ECDSA P-256 keys.
//!
//! TLS here gives confidentiality and the keys the handshake binds to; it
//! does not say who the peer is. Both sides accept any certificate (CA-issued
//! or self-signed) and check only that the other holds its key: the dialer
//! presents a client certificate (an ephemeral P-256 one per process) and the
//! listener asks for one without requiring it, so browsers and feed readers
//! still reach the HTTP routes. Identity is proved by the signed handshake
//! over the [`Binding`] of both certificates, which differs on the two sides
//! of any TLS-terminating middlebox.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};
use sha2::{Digest, Sha256};

/// What the two node keys sign in the handshake to tie it to this TLS
/// connection: SHA-256 of the dialer's and of the listener's end-entity
/// certificate (as RFC 5929 `tls-server-end-point` does for one side). A
/// middlebox that terminates TLS presents its own certificate on at least
/// one side, so a proof made through it never verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// SHA-256 of the dialer's (client) certificate.
    pub dialer: [u8; 32],
    /// SHA-256 of the listener's (server) certificate.
    pub listener: [u8; 32],
}

impl Binding {
    /// The 64 bytes that go into a handshake transcript.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[..32].copy_from_slice(&self.dialer);
        b[32..].copy_from_slice(&self.listener);
        b
    }
}

/// SHA-256 of a DER certificate.
pub fn cert_digest(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// The listener's TLS configuration and its certificate's digest (the
/// listener half of every [`Binding`]).
#[derive(Clone)]
pub struct ServerTls {
    /// rustls configuration.
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the end-entity certificate served.
    pub cert_digest: [u8; 32],
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert_digest", &hex_prefix(&self.cert_digest))
            .finish()
    }
}

fn hex_prefix(b: &[u8]) -> String {
    b.iter().take(8).map(|x| format!("{x:02x}")).collect()
}

/// A TLS problem, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Reading or writing key material failed.
    #[error("{path}: {error}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        error: std::io::Error,
    },
    /// The PEM files do not hold a usable certificate and key.
    #[error("TLS certificate or key is unusable: {0} (regenerate with `yui init` or supply a P-256 certificate and key in PEM)")]
    Material(String),
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Config(#[from] rustls::Error),
}

/// The one crypto provider yui uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A fresh self-signed ECDSA P-256 certificate and key, as PEM.
pub fn generate_self_signed(name: &str) -> Result<(String, String), TlsError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| TlsError::Material(e.to_string()))?;
    let mut params = rcgen::CertificateParams::new(vec!["yui-node".to_owned()])
        .map_err(|e| TlsError::Material(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("yui node {name}"));
    let cert = params
        .self_signed(&key)
        .map_err(|e| TlsError::Material(e.to_string()))?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Io {
        path: path.display().to_string(),
        error,
    })
}

/// Server configuration from PEM files: TLS 1.3 only, ALPN `h2` and
/// `http/1.1`, client certificates asked for but optional.
pub fn server_config(cert_pem: &Path, key_pem: &Path) -> Result<ServerTls, TlsError> {
    let certs = CertificateDer::pem_slice_iter(&read(cert_pem)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Material(format!("{}: {e}", cert_pem.display())))?;
    if certs.is_empty() {
        return Err(TlsError::Material(format!(
            "{} holds no certificate",
            cert_pem.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(key_pem)?)
        .map_err(|e| TlsError::Material(format!("{}: {e}", key_pem.display())))?;
    let cert_digest = cert_digest(&certs[0]);
    let provider = provider();
    let mut cfg = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(AnyCertificate(provider)))
        .with_single_cert(certs, key)?;
    // h2 for gRPC; http/1.1 for browsers, feed readers and calendar clients.
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(cfg),
        cert_digest,
    })
}

/// Client configuration: TLS 1.3 only, ALPN `h2`, any server certificate
/// (identity comes from the handshake), and a client certificate: a fresh
/// self-signed P-256 one made once per process. Its key never needs to be
/// stored: the node key signs its digest (returned beside the
/// configuration) in every handshake.
pub fn client_config() -> Result<(Arc<ClientConfig>, [u8; 32]), TlsError> {
    let provider = provider();
    let (cert, key) = generate_self_signed("dialer")?;
    let cert = CertificateDer::from_pem_slice(cert.as_bytes())
        .map_err(|e| TlsError::Material(e.to_string()))?;
    let digest = cert_digest(&cert);
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| TlsError::Material(e.to_string()))?;
    let mut cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_client_auth_cert(vec![cert], key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok((Arc::new(cfg), digest))
}

/// Client configuration for the admin API of a node whose admin listener is
/// remote (TLS): TLS 1.3, ALPN `http/1.1`, and only the certificate whose
/// digest is `pin` (the node's own, from its home): the handshake fails on
/// any other, so the token is never sent to it.
pub fn admin_client_config(pin: [u8; 32]) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let mut cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            pin,
            any: AnyCertificate(provider),
        }))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Accepts exactly one certificate, by digest (and checks the handshake
/// signature like [`AnyCertificate`]).
#[derive(Debug)]
struct Pinned {
    pin: [u8; 32],
    any: AnyCertificate,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if cert_digest(end_entity) == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not this node's certificate (tls/cert.pem)".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        ServerCertVerifier::verify_tls12_signature(&self.any, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        ServerCertVerifier::verify_tls13_signature(&self.any, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        ServerCertVerifier::supported_verify_schemes(&self.any)
    }
}

/// The digest of the end-entity certificate the other side presented, if any.
pub fn peer_cert_digest<D>(conn: &rustls::ConnectionCommon<D>) -> Option<[u8; 32]> {
    conn.peer_certificates()
        .and_then(|c| c.first())
        .map(|c| cert_digest(c))
}

/// Accepts any certificate but still checks the TLS handshake signature, so
/// the other side must hold the key of the certificate it sent.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for AnyCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    /// Optional: HTTP clients (browsers, curl, calendar apps) have none; the
    /// Sync handshake refuses a dialer without one.
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        ServerCertVerifier::verify_tls12_signature(self, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        ServerCertVerifier::verify_tls13_signature(self, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        ServerCertVerifier::supported_verify_schemes(self)
    }
}
