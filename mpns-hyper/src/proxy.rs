//! HTTP proxies for both transports.
//!
//! Every proxied connection is a `CONNECT` tunnel, for http:// channels as
//! for https:// ones: the proxy sees only the channel's host and port, the
//! request bytes are the same as without a proxy, and kept-alive tunnels
//! are pooled like direct connections. (Absolute-form forwarding of http://
//! requests is not used: it would need a second way of writing requests
//! and of pooling, for no gain with proxies that allow `CONNECT` to port 80.)
//!
//! The proxy itself is reached over plain TCP (`http://` proxy URIs, with
//! optional `user:password@` sent as `Proxy-Authorization: Basic`); TLS to
//! the proxy is not supported. [`ProxyConfig::from_env`] reads the
//! conventional `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` variables;
//! [`ProxyConfig::from_vars`] does the same from given values.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A proxy to tunnel through: host, port, and optional basic credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    host: String,
    port: u16,
    /// `Basic …` value of `Proxy-Authorization`, if the URI had user information.
    authorization: Option<String>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}", self.host, self.port)
    }
}

/// Why a proxy setting is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyError {
    /// Where it came from (`HTTPS_PROXY`, `--proxy`, ...).
    pub setting: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.reason)
    }
}

impl std::error::Error for ProxyError {}

impl Proxy {
    /// Parses `http://[user:password@]host[:port][/]`, or the same without
    /// `http://`; the port defaults to 80 (as curl does). `setting` names
    /// the source in errors.
    pub fn parse(uri: &str, setting: &str) -> Result<Proxy, ProxyError> {
        let error = |reason| ProxyError {
            setting: setting.to_owned(),
            reason,
        };
        let rest = match uri.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(error(
                    "TLS to the proxy is not supported: use an http:// proxy",
                ));
            }
            Some(_) => return Err(error("only http:// proxies are supported")),
            None => uri,
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(error("a proxy URI has no path"));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            // `[::1]` alone has a colon inside its brackets.
            Some((h, p)) if !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| error("the port is not a number"))?,
            ),
            _ => (hostport, 80),
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(error("no host"));
        }
        let authorization = match userinfo {
            // Percent-escapes (`%40` for `@`) are decoded, as curl does.
            Some(u) => Some(format!(
                "Basic {}",
                base64(
                    &percent_decode(u)
                        .ok_or_else(|| error("a bad %-escape in the user or password"))?
                )
            )),
            None => None,
        };
        Ok(Proxy {
            host: host.to_owned(),
            port,
            authorization,
        })
    }

    /// Host and port to connect to (IPv6 without brackets).
    pub fn address(&self) -> (&str, u16) {
        let host = self
            .host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host);
        (host, self.port)
    }
}

/// Which proxy each channel goes through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// For https:// (authenticated) channels.
    pub https: Option<Proxy>,
    /// For http:// channels.
    pub http: Option<Proxy>,
    /// Hosts reached directly: `NO_PROXY` entries (see [`ProxyConfig::bypasses`]).
    pub no_proxy: Vec<String>,
}

impl ProxyConfig {
    /// One proxy for every channel.
    pub fn all(proxy: Proxy) -> ProxyConfig {
        ProxyConfig {
            https: Some(proxy.clone()),
            http: Some(proxy),
            no_proxy: Vec::new(),
        }
    }

    /// From the process environment: see [`ProxyConfig::from_vars`].
    pub fn from_env() -> Result<ProxyConfig, ProxyError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// From variables looked up by `var`: `https_proxy` or `HTTPS_PROXY`
    /// for https:// channels, `http_proxy` or `HTTP_PROXY` for http:// ones
    /// (the lower-case name first, as curl does), and `no_proxy` or
    /// `NO_PROXY`, a comma-separated list of hosts and domains to reach
    /// directly. Empty values count as unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<ProxyConfig, ProxyError> {
        let get = |lower: &str, upper: &str| {
            [lower, upper].into_iter().find_map(|name| {
                var(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (name.to_owned(), v))
            })
        };
        let proxy = |lower, upper| {
            get(lower, upper)
                .map(|(name, v)| Proxy::parse(v.trim(), &name))
                .transpose()
        };
        Ok(ProxyConfig {
            https: proxy("https_proxy", "HTTPS_PROXY")?,
            http: proxy("http_proxy", "HTTP_PROXY")?,
            no_proxy: get("no_proxy", "NO_PROXY")
                .map(|(_, v)| parse_no_proxy(&v))
                .unwrap_or_default(),
        })
    }

    /// Whether `host` is reached directly: a `NO_PROXY` entry is `*` (every
    /// host), or a host name or IP address that matches `host` exactly or
    /// as a parent domain (`example.com` and `.example.com` both match
    /// `example.com` and `a.example.com`); a `:port` suffix and case are
    /// ignored.
    pub fn bypasses(&self, host: &str) -> bool {
        let host = unbracket(host).trim_end_matches('.').to_ascii_lowercase();
        self.no_proxy.iter().any(|entry| {
            entry == "*"
                || host == *entry
                || (host.len() > entry.len()
                    && host.ends_with(entry.as_str())
                    && host.as_bytes()[host.len() - entry.len() - 1] == b'.')
        })
    }

    /// The proxy for a channel on `host`, `tls` for https://, if any.
    pub fn for_target(&self, tls: bool, host: &str) -> Option<&Proxy> {
        let proxy = if tls { &self.https } else { &self.http };
        proxy.as_ref().filter(|_| !self.bypasses(host))
    }
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `NO_PROXY` entries, normalised: lower case, no leading `*.` or `.`, no port.
fn parse_no_proxy(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            if e == "*" {
                return e.to_owned();
            }
            let e = e.trim_start_matches("*.").trim_start_matches('.');
            // `[::1]:80`, `host:80` (but a bare IPv6 address keeps its colons).
            let e = match e.strip_prefix('[') {
                Some(rest) => rest.split(']').next().unwrap_or(rest),
                None if e.matches(':').count() == 1 => e.split(':').next().unwrap_or(e),
                None => e,
            };
            e.trim_end_matches('.').to_ascii_lowercase()
        })
        .collect()
}

/// Why a proxy did not open a tunnel.
#[derive(Debug)]
pub struct TunnelRefused {
    /// The proxy's status line (up to 200 characters).
    pub status_line: String,
}

impl fmt::Display for TunnelRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the proxy refused the tunnel: {}", self.status_line)
    }
}

impl std::error::Error for TunnelRefused {}

/// A tunnel that could not be opened, and why (its `source`).
#[derive(Debug)]
pub struct ProxyFailure {
    /// The proxy, `http://host:port`.
    pub proxy: String,
    /// The tunnel's destination, `host:port`.
    pub authority: String,
    source: BoxError,
}

impl ProxyFailure {
    /// A tunnel to `authority` through `proxy` that failed for `source`.
    pub(crate) fn new(proxy: &Proxy, authority: &str, source: impl Into<BoxError>) -> Self {
        ProxyFailure {
            proxy: proxy.to_string(),
            authority: authority.to_owned(),
            source: source.into(),
        }
    }
}

impl fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tunnel to {} through {}", self.authority, self.proxy)
    }
}

impl std::error::Error for ProxyFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Longest proxy answer head read.
const MAX_HEAD: usize = 8 * 1024;

/// Asks the proxy on `stream` for a tunnel to `authority` (`host:port`,
/// IPv6 in brackets) and reads its answer; the stream is then the tunnel.
pub(crate) async fn tunnel(
    stream: &mut TcpStream,
    proxy: &Proxy,
    authority: &str,
) -> io::Result<()> {
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = &proxy.authorization {
        head.push_str("Proxy-Authorization: ");
        head.push_str(auth);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut buf = Vec::with_capacity(512);
    // Byte by byte up to the blank line: what follows belongs to the tunnel.
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if buf.len() >= MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the proxy's answer head is too long",
            ));
        }
        if stream.read(&mut byte).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the proxy closed the connection before answering CONNECT",
            ));
        }
        buf.push(byte[0]);
    }
    let line = buf.split(|b| *b == b'\r').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let status = line.split(' ').nth(1).unwrap_or("");
    if line.starts_with("HTTP/1.") && status.len() == 3 && status.starts_with('2') {
        Ok(())
    } else {
        Err(io::Error::other(TunnelRefused {
            status_line: line.chars().take(200).collect(),
        }))
    }
}

/// Connects to `proxy` and opens a tunnel to `authority`.
pub(crate) async fn connect(proxy: &Proxy, authority: &str) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(proxy.address()).await?;
    let _ = stream.set_nodelay(true);
    tunnel(&mut stream, proxy, authority).await?;
    Ok(stream)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The hyper client's connector: hyper-util's `HttpConnector`, or a
/// `CONNECT` tunnel through the proxy for the destination (hyper-rustls
/// then runs TLS over it for https).
#[derive(Clone, Debug)]
pub struct ProxyConnector {
    http: HttpConnector,
    proxy: Arc<ProxyConfig>,
}

impl ProxyConnector {
    /// `http` for direct connections and to reach the proxies of `proxy`.
    pub fn new(http: HttpConnector, proxy: ProxyConfig) -> Self {
        ProxyConnector {
            http,
            proxy: Arc::new(proxy),
        }
    }
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let tls = dst.scheme_str() == Some("https");
        let host = dst.host().unwrap_or("");
        let Some(proxy) = self.proxy.for_target(tls, host).cloned() else {
            let connecting = self.http.call(dst);
            return Box::pin(async move { connecting.await.map_err(Into::into) });
        };
        let port = dst.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let authority = format!("{host}:{port}");
        let (proxy_host, proxy_port) = proxy.address();
        let proxy_uri = if proxy_host.contains(':') {
            format!("http://[{proxy_host}]:{proxy_port}")
        } else {
            format!("http://{proxy_host}:{proxy_port}")
        };
        let connecting = Uri::try_from(proxy_uri).map(|uri| self.http.call(uri));
        Box::pin(async move {
            let failed = |source: BoxError| -> BoxError {
                Box::new(ProxyFailure::new(&proxy, &authority, source))
            };
            let mut stream = connecting
                .map_err(|e| failed(e.into()))?
                .await
                .map_err(|e| failed(e.into()))?
                .into_inner();
            tunnel(&mut stream, &proxy, &authority)
                .await
                .map_err(|e| failed(e.into()))?;
            Ok(TokioIo::new(stream))
        })
    }
}

/// Standard base64 with padding (RFC 4648), for `Proxy-Authorization`.
/// `text` with each `%XX` replaced by its byte; `None` for a `%` not
/// followed by two hex digits.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let digits = bytes.get(i + 1..i + 3)?;
            if !digits.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(digits).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn base64_of_rfc_4648_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }

    #[test]
    fn proxy_uris() {
        let p = Proxy::parse("http://proxy.corp:3128/", "X").unwrap();
        assert_eq!(
            (p.address(), p.authorization.as_deref()),
            (("proxy.corp", 3128), None)
        );
        let p = Proxy::parse("user:pass@10.0.0.1", "X").unwrap();
        assert_eq!(p.address(), ("10.0.0.1", 80));
        assert_eq!(p.authorization.as_deref(), Some("Basic dXNlcjpwYXNz"));
        assert!(!format!("{p:?}").contains("dXNlcjpwYXNz"));
        assert_eq!(
            Proxy::parse("http://[::1]:8080", "X").unwrap().address(),
            ("::1", 8080)
        );
        assert_eq!(Proxy::parse("[::1]", "X").unwrap().address(), ("::1", 80));
        // Percent-escapes in the user information are decoded.
        let p = Proxy::parse("http://svc%40corp:p%40ss@proxy:3128", "X").unwrap();
        assert_eq!(
            p.authorization.as_deref(),
            Some(format!("Basic {}", base64(b"svc@corp:p@ss")).as_str())
        );
        for bad in ["u:%zz@p", "u:%+1@p", "u:%4@p"] {
            assert!(Proxy::parse(bad, "X").is_err(), "{bad}");
        }
        for bad in [
            "https://p:1",
            "socks5://p:1",
            "http://p:x",
            "http://:1",
            "http://p:1/path",
        ] {
            assert!(Proxy::parse(bad, "X").is_err(), "{bad}");
        }
    }

    #[test]
    fn environment_variables_as_given() {
        let none = ProxyConfig::from_vars(vars(&[])).unwrap();
        assert_eq!(none, ProxyConfig::default());
        let c = ProxyConfig::from_vars(vars(&[
            ("HTTPS_PROXY", "http://secure:1"),
            ("http_proxy", "http://lower:2"),
            ("HTTP_PROXY", "http://upper:3"),
            (
                "NO_PROXY",
                " .internal.example, LOCALHOST:8080 ,*.corp,,10.1.2.3,[::1]:443",
            ),
        ]))
        .unwrap();
        assert_eq!(c.https.as_ref().unwrap().address(), ("secure", 1));
        assert_eq!(c.http.as_ref().unwrap().address(), ("lower", 2));
        assert_eq!(
            c.no_proxy,
            ["internal.example", "localhost", "corp", "10.1.2.3", "::1"]
        );
        let via = |tls, host| c.for_target(tls, host).map(|p| p.address().0.to_owned());
        assert_eq!(via(true, "db3.notify.live.net").as_deref(), Some("secure"));
        assert_eq!(via(false, "db3.notify.live.net").as_deref(), Some("lower"));
        for direct in [
            "internal.example",
            "a.b.internal.example",
            "LocalHost",
            "x.corp",
            "10.1.2.3",
            "[::1]",
        ] {
            assert_eq!(via(true, direct), None, "{direct}");
        }
        for proxied in ["notinternal.example", "corp.com", "10.1.2.30", "::2"] {
            assert!(via(true, proxied).is_some(), "{proxied}");
        }
        let all =
            ProxyConfig::from_vars(vars(&[("https_proxy", "p:1"), ("no_proxy", "*")])).unwrap();
        assert_eq!(all.for_target(true, "anything"), None);
        // Empty counts as unset; a bad value names its variable.
        let empty =
            ProxyConfig::from_vars(vars(&[("https_proxy", " "), ("HTTPS_PROXY", "p:9")])).unwrap();
        assert_eq!(empty.https.unwrap().address(), ("p", 9));
        let bad = ProxyConfig::from_vars(vars(&[("HTTP_PROXY", "https://p:1")])).unwrap_err();
        assert_eq!(bad.setting, "HTTP_PROXY");
    }
}
