//! The client's configuration errors keep their cause as `source`, for both
//! transports.

use std::error::Error;

use mpns_hyper::client::{ClientConfig, ClientError, Identity};
use mpns_hyper::pki::TestPki;
use mpns_hyper::transport::{AnyClient, TransportKind};

#[test]
fn a_missing_file_keeps_its_io_error() {
    let missing = std::path::Path::new("no-such-dir-for-mpns-tests/client.pem");
    let err = Identity::from_pem_files(missing, missing).unwrap_err();
    assert!(matches!(err, ClientError::Io { .. }), "{err:?}");
    let io = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    // Display names the file; the cause is the source, not repeated.
    assert!(err.to_string().contains("client.pem"), "{err}");
    assert!(!err.to_string().contains(&io.to_string()), "{err}");
}

#[test]
fn a_key_that_does_not_match_keeps_rustls_error() {
    let pki = TestPki::generate().unwrap();
    // The server's key with the client's certificate.
    let identity = Identity::from_pem(
        pki.client_cert_pem.as_bytes(),
        pki.server_key_pem.as_bytes(),
    )
    .unwrap();
    for kind in [TransportKind::Direct, TransportKind::Hyper] {
        let err = AnyClient::new(
            kind,
            ClientConfig {
                identity: Some(identity.clone()),
                ..ClientConfig::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, ClientError::Tls { .. }), "{err:?}");
        assert!(
            err.source().is_some_and(|s| s.is::<rustls::Error>()),
            "{err:?}"
        );
    }
}
