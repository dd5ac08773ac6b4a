//! Certificates made at run time with rcgen, for the emulator, the demo and tests.
//!
//! Nothing here is ever written to disk by this module: callers get PEM text in
//! memory. [`TestPki::generate`] makes one CA, a server certificate for
//! `127.0.0.1` and `localhost`, and a client certificate (`clientAuth`), both
//! signed by that CA. [`other_ca_client`] makes a client certificate from an
//! unrelated CA, which a server trusting [`TestPki::ca_cert_pem`] must refuse.
//!
//! ```
//! let pki = mpns_hyper::pki::TestPki::generate()?;
//! assert!(pki.ca_cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! // Debug never shows private keys.
//! assert!(!format!("{pki:?}").contains("PRIVATE KEY"));
//! # Ok::<(), rcgen::Error>(())
//! ```

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A CA with one server and one client certificate, as PEM text.
#[derive(Clone)]
pub struct TestPki {
    /// The CA certificate: the server trusts it for client certificates, the client for the server's.
    pub ca_cert_pem: String,
    /// Server certificate for `127.0.0.1` (IP SAN) and `localhost`, signed by the CA.
    pub server_cert_pem: String,
    /// The server certificate's private key (PKCS#8).
    pub server_key_pem: String,
    /// Client certificate (`clientAuth`), signed by the CA.
    pub client_cert_pem: String,
    /// The client certificate's private key (PKCS#8).
    pub client_key_pem: String,
}

/// A client certificate and key from a CA unrelated to any [`TestPki`].
#[derive(Clone)]
pub struct ClientIdentity {
    /// The CA that signed [`ClientIdentity::cert_pem`].
    pub ca_cert_pem: String,
    /// Client certificate (`clientAuth`).
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

const REDACTED: &str = "<redacted>";

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("server_cert_pem", &self.server_cert_pem)
            .field("server_key_pem", &REDACTED)
            .field("client_cert_pem", &self.client_cert_pem)
            .field("client_key_pem", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &REDACTED)
            .finish()
    }
}

/// A CA certificate (PEM) and the issuer that signs with its key.
fn new_ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>), rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "mpns test PKI");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

/// A leaf certificate signed by `issuer`: (certificate PEM, key PEM).
fn new_leaf(
    issuer: &Issuer<'static, KeyPair>,
    common_name: &str,
    names: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, String), rcgen::Error> {
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl TestPki {
    /// Makes a fresh CA, server and client certificate (ECDSA P-256, ring).
    pub fn generate() -> Result<TestPki, rcgen::Error> {
        let (ca_cert_pem, issuer) = new_ca("mpns test CA")?;
        let (server_cert_pem, server_key_pem) = new_leaf(
            &issuer,
            "127.0.0.1",
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_cert_pem, client_key_pem) = new_leaf(
            &issuer,
            "mpns test client",
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        Ok(TestPki {
            ca_cert_pem,
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        })
    }

    /// A client certificate from another, unrelated CA (see [`other_ca_client`]).
    pub fn other_ca_client(&self) -> Result<ClientIdentity, rcgen::Error> {
        other_ca_client()
    }
}

/// A client certificate signed by a CA of its own: a server that trusts a
/// [`TestPki`] CA must fail the handshake with it.
pub fn other_ca_client() -> Result<ClientIdentity, rcgen::Error> {
    let (ca_cert_pem, issuer) = new_ca("mpns other CA")?;
    let (cert_pem, key_pem) = new_leaf(
        &issuer,
        "mpns stranger",
        Vec::new(),
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    Ok(ClientIdentity {
        ca_cert_pem,
        cert_pem,
        key_pem,
    })
}
