//! TLS 1.3 with rustls (ring provider only) and ECDSA P-256 keys.
//!
//! TLS here gives confidentiality and a session to bind the handshake to; it
//! does not say who the peer is. The client accepts any certificate (CA-issued
//! or self-signed) and checks only that the server holds its key; identity is
//! proved by the signed handshake over [`channel_binding`], which differs on
//! the two sides of any TLS-terminating middlebox.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};

/// Label of the RFC 5705 exporter that binds the handshake to the session.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-yui-handshake-v1";

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

/// Server configuration from PEM files: TLS 1.3 only, ALPN `h2` and `http/1.1`.
pub fn server_config(cert_pem: &Path, key_pem: &Path) -> Result<Arc<ServerConfig>, TlsError> {
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
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    // h2 for gRPC; http/1.1 for browsers, feed readers and calendar clients.
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Client configuration: TLS 1.3 only, ALPN `h2`, any server certificate
/// (identity comes from the handshake).
pub fn client_config() -> Arc<ClientConfig> {
    let provider = provider();
    let mut cfg = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("ring supports TLS 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(cfg)
}

/// Secret bytes both ends of one TLS session share and no middlebox can make
/// equal on its two sides.
pub fn channel_binding<D>(conn: &rustls::ConnectionCommon<D>) -> Result<[u8; 32], rustls::Error> {
    let mut out = [0u8; 32];
    conn.export_keying_material(&mut out, EXPORTER_LABEL, None)?;
    Ok(out)
}

/// Accepts any certificate but still checks the TLS handshake signature, so
/// the server must hold the key of the certificate it sent.
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
