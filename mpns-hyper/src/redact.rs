//! Channel URIs as logs show them.
//!
//! A channel URI works as a credential: whoever has it can push to the
//! device. Logs show its scheme, host and port, and only the last
//! [`TAIL`] characters of its token (the path's last segment), enough to
//! tell channels apart, and none of it when the token is shorter than
//! [`MIN_SHOWN`].

/// Characters of the path kept at its end.
pub const TAIL: usize = 4;

/// A token shorter than this is shown as `…` alone.
pub const MIN_SHOWN: usize = 16;

/// `uri` for a log line: `https://db3.notify.live.net/…Q9xY`.
///
/// Works on any text, a URI that does not parse included; user
/// information (`user:pass@`) is dropped.
pub fn channel(uri: &str) -> String {
    let (scheme, rest) = match uri.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        // Not a URI: all of it is treated as a path, so only a token's tail shows.
        None => ("", uri),
    };
    // User information ends at the last `@` before any query, even one with a `/` in it.
    let rest = match rest
        .split(['?', '#'])
        .next()
        .and_then(|head| head.rfind('@'))
    {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    let end = if scheme.is_empty() {
        0
    } else {
        rest.find(['/', '?', '#']).unwrap_or(rest.len())
    };
    let (host, path) = rest.split_at(end);
    // The token is the last segment of the path; a query is never shown.
    let token = path.split(['?', '#']).next().unwrap_or("");
    let token = token.rsplit('/').next().unwrap_or("");
    let chars = token.chars().count();
    let tail: String = if chars >= MIN_SHOWN {
        token.chars().skip(chars - TAIL).collect()
    } else {
        String::new()
    };
    let mut out = String::with_capacity(scheme.len() + host.len() + tail.len() + 8);
    if !scheme.is_empty() {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(host);
    if !path.is_empty() {
        out.push_str("/…");
        out.push_str(&tail);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::channel;

    #[test]
    fn keeps_the_host_and_the_tokens_last_characters() {
        assert_eq!(
            channel("https://db3.notify.live.net/unthrottledthirdparty/01.00/AQG2MdvoLlZFT7Q9xY"),
            "https://db3.notify.live.net/…Q9xY"
        );
        assert_eq!(
            channel("http://127.0.0.1:47001/throttledthirdparty/01.00/A"),
            "http://127.0.0.1:47001/…"
        );
    }

    #[test]
    fn short_paths_user_information_and_non_uris_leak_nothing() {
        assert_eq!(channel("http://h/abc"), "http://h/…");
        assert_eq!(
            channel("http://user:secret@h/0123456789abcdefXYZ1"),
            "http://h/…XYZ1"
        );
        assert_eq!(channel("not a uri/with-a-long-secret-path"), "/…path");
        assert_eq!(channel("AQG2MdvoLlZFT7Q9xYsecret"), "/…cret");
        assert_eq!(channel("h"), "/…");
        assert_eq!(
            channel("http://user:pa/ss@h/0123456789abcdefXYZ1"),
            "http://h/…XYZ1"
        );
        assert_eq!(
            channel("http://h/0123456789abcdefXYZ1?x=a@b"),
            "http://h/…XYZ1"
        );
        assert_eq!(channel("http://h/ééééééééééééééééé"), "http://h/…éééé");
    }
}
