//! The yardstick of the hyper client's throughput targets
//! (`benches/README.md`): a bare hyper-util legacy pooled client sending
//! `mpns bench`'s toast, measured by `mpns bench`'s own harness.
//!
//! `bare_hyper --url CHANNEL_URI [-n N] [-c C] [--warmup W] [--ca PEM]
//! [--cert PEM --key PEM]` prints the JSON of `mpns bench --json`.
//!
//! The request (URI, headers, body) is built once, by the same code as
//! `mpns bench`, so the bytes on the wire are the same; each send then only
//! clones it, posts it through the pool, reads the whole response and checks
//! for 200. No encoding, no classification: that is the difference measured.
//! Client defaults except `TCP_NODELAY`, as a latency-minded user sets it.

use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use mpns_hyper::cli::bench::{Load, measure};
use mpns_proto::{ChannelUri, Notification, Options, Request, Toast};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The flags of `mpns bench` that apply to a URL.
#[derive(Debug, Parser)]
struct Args {
    /// Channel URI to send to
    #[arg(long, value_name = "URI")]
    url: String,
    /// Requests to send (after the warm-up)
    #[arg(short = 'n', default_value_t = 20_000)]
    count: usize,
    /// Requests in flight at once
    #[arg(short = 'c', default_value_t = 64)]
    concurrency: usize,
    /// Requests sent before measuring
    #[arg(long, default_value_t = 1000)]
    warmup: usize,
    /// JSON is the only output; accepted for `mpns bench`'s command line
    #[arg(long)]
    json: bool,
    /// Client certificate chain (PEM)
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM) of --cert
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// CA certificate (PEM) to trust
    #[arg(long, value_name = "PEM")]
    ca: Vec<PathBuf>,
}

/// The prepared request, cloned for each send.
#[derive(Clone)]
struct Prepared {
    uri: hyper::Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// One task's sends through the shared pool.
struct Bare<C> {
    client: Client<C, Full<Bytes>>,
    request: Prepared,
}

impl<C: Connect + Clone + Send + Sync + 'static> Load for Bare<C> {
    async fn send(&mut self) -> bool {
        let mut request = hyper::Request::new(Full::new(self.request.body.clone()));
        *request.method_mut() = hyper::Method::POST;
        *request.uri_mut() = self.request.uri.clone();
        *request.headers_mut() = self.request.headers.clone();
        let Ok(response) = self.client.request(request).await else {
            return false;
        };
        let ok = response.status() == hyper::StatusCode::OK;
        ok && response.into_body().collect().await.is_ok()
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bare_hyper: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the benchmark, prints its JSON, returns the failed count.
fn run(args: &Args) -> Result<usize, String> {
    let request = prepare(&args.url)?;
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let builder = Client::builder(TokioExecutor::new());
    let result = if request.uri.scheme_str() == Some("https") {
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(args)?)
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        let client = builder.build(https);
        measure(args.warmup, args.count, args.concurrency, || Bare {
            client: client.clone(),
            request: request.clone(),
        })
    } else {
        let client = builder.build(http);
        measure(args.warmup, args.count, args.concurrency, || Bare {
            client: client.clone(),
            request: request.clone(),
        })
    }
    .map_err(|e| format!("runtime: {e}"))?;
    let json = serde_json::to_string(&result).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(result.failed)
}

/// `mpns bench`'s toast to `url`, as `mpns bench` turns it into a hyper request.
fn prepare(url: &str) -> Result<Prepared, String> {
    let toast = Notification::Toast(Toast {
        text1: Some("Benchmark"),
        text2: Some("Normal text"),
        param: Some("/Page2.xaml?NavigatedFrom=Toast"),
        sound: None,
    });
    let channel = ChannelUri::parse(url).map_err(|e| format!("--url: {e}"))?;
    let request = Request::notification(channel, &toast, &Options::default())
        .map_err(|e| format!("toast: {e}"))?;
    let (parts, body) = request
        .to_http::<Bytes>()
        .map_err(|e| format!("--url: {e}"))?
        .into_parts();
    Ok(Prepared {
        uri: parts.uri,
        headers: parts.headers,
        body,
    })
}

/// rustls with the ring provider: the given CAs as roots, the client certificate if any.
fn tls_config(args: &Args) -> Result<rustls::ClientConfig, String> {
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut roots = rustls::RootCertStore::empty();
    for ca in &args.ca {
        for cert in CertificateDer::pem_slice_iter(&read(ca)?) {
            roots
                .add(cert.map_err(|e| format!("--ca: {e}"))?)
                .map_err(|e| format!("--ca: {e}"))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(&read(cert)?)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("--cert: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(&read(key)?)
                .map_err(|_| "--key: no usable PEM private key".to_string())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}
