//! `mpns encode`, run as a process: the request vectors, then the CLI's
//! own behaviour (global flags, templates, refusals, files, callbacks).
//!
//! Output is checked with httparse, an HTTP parser independent of mpns-proto,
//! or against exact bytes.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// The request vectors, kept once for the workspace in mpns-proto
/// (`tests/vectors` links there; their format: `tests/vectors/README.md`).
const VECTORS: &str = include_str!("vectors/requests.jsonl");

/// Header names as Microsoft spells them (`docs/protocol.md`, "Headers").
const MICROSOFT_SPELLING: [&str; 7] = [
    "Host",
    "Content-Type",
    "Content-Length",
    "X-WindowsPhone-Target",
    "X-NotificationClass",
    "X-MessageID",
    "X-CallbackURI",
];

const LIVE: &str = "http://db3.notify.live.net/throttledthirdparty/01.00/AAGvdLTQ";
const XML_ROOT: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><wp:Notification xmlns:wp=\"WPNotification\">";
const XML_ROOT_V2: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><wp:Notification xmlns:wp=\"WPNotification\" Version=\"2.0\">";

fn mpns(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpns"))
        .args(args)
        .output()
        .expect("run the mpns binary")
}

fn encode(args: &[&str]) -> Output {
    let mut all = vec!["encode"];
    all.extend_from_slice(args);
    mpns(&all)
}

/// Runs `mpns encode args`, asserts success and a silent stderr, returns stdout.
fn encoded(args: &[&str]) -> Vec<u8> {
    let out = encode(args);
    assert!(
        out.status.success(),
        "mpns encode {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `mpns encode args`, asserts a refusal (non-zero exit, empty stdout,
/// non-empty stderr), returns stderr and the exit code.
fn refused(args: &[&str]) -> (String, Option<i32>) {
    let out = encode(args);
    assert!(
        !out.status.success(),
        "mpns encode {args:?} should be refused, wrote {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "stdout of a refusal: {:?}",
        out.stdout
    );
    let stderr = String::from_utf8(out.stderr).expect("UTF-8 stderr");
    assert!(!stderr.trim().is_empty(), "a refusal must say why");
    (stderr, out.status.code())
}

/// Asserts a typed refusal from the encoder (exit 2, one `error: ` line) and returns the line.
fn refusal(args: &[&str]) -> String {
    let (stderr, code) = refused(args);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

/// An HTTP/1.1 request as parsed by httparse.
#[derive(Debug)]
struct Parsed {
    method: String,
    path: String,
    version: u8,
    /// Names exactly as on the wire.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Parsed {
    /// The value of header `name`, looked up case-insensitively; asserts it appears at most once.
    fn header(&self, name: &str) -> Option<&str> {
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let first = found.next().map(|(_, v)| v.as_str());
        assert!(found.next().is_none(), "{name} appears twice");
        first
    }
}

fn parse(bytes: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    let status = req.parse(bytes).expect("a valid HTTP/1.1 request");
    let httparse::Status::Complete(head_len) = status else {
        panic!(
            "incomplete request head: {:?}",
            String::from_utf8_lossy(bytes)
        );
    };
    let parsed = Parsed {
        method: req.method.expect("method").to_owned(),
        path: req.path.expect("path").to_owned(),
        version: req.version.expect("version"),
        headers: req
            .headers
            .iter()
            .map(|h| {
                let value = std::str::from_utf8(h.value).expect("ASCII header value");
                (h.name.to_owned(), value.to_owned())
            })
            .collect(),
        body: bytes[head_len..].to_vec(),
    };
    assert_eq!(parsed.method, "POST");
    assert_eq!(parsed.version, 1, "HTTP/1.1");
    for (name, _) in &parsed.headers {
        assert!(
            MICROSOFT_SPELLING.contains(&name.as_str()),
            "header {name:?} is not in Microsoft's spelling"
        );
    }
    let length = parsed.header("Content-Length").expect("Content-Length");
    assert_eq!(length, parsed.body.len().to_string(), "Content-Length");
    assert!(parsed.header("Host").is_some(), "Host");
    parsed
}

/// `mpns encode args`, parsed.
fn request(args: &[&str]) -> Parsed {
    parse(&encoded(args))
}

fn body_text(p: &Parsed) -> &str {
    std::str::from_utf8(&p.body).expect("UTF-8 body")
}

fn str_array(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|a| a.as_str().expect("string"))
        .collect()
}

/// A unique path under the system temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, contents: &[u8]) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "mpns-cli-encode-{tag}-{}-{nanos}.bin",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("write temp file");
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn shared_request_vectors() {
    let mut cases = 0;
    for line in VECTORS.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("a JSON case");
        let name = case["case"].as_str().expect("case name");
        let args = str_array(&case["args"]);
        let expected = &case["expected"];
        cases += 1;

        if expected.as_str() == Some("refuse") {
            refused(&args);
            continue;
        }
        let out = encode(&args);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p = parse(&out.stdout);
        assert_eq!(
            p.path,
            expected["target"].as_str().unwrap(),
            "{name}: target"
        );
        let headers = expected["headers"].as_object().expect("headers");
        for (key, value) in headers {
            assert_eq!(
                p.header(key),
                Some(value.as_str().unwrap()),
                "{name}: header {key}"
            );
        }
        if !headers.contains_key("x-windowsphone-target") {
            assert_eq!(p.header("X-WindowsPhone-Target"), None, "{name}");
        }
        assert_eq!(
            p.body,
            expected["body"].as_str().unwrap().as_bytes(),
            "{name}: body"
        );
    }
    assert_eq!(cases, 10, "every vector ran");
}

#[test]
fn exact_bytes_of_a_toast() {
    let bytes = encoded(&[
        "--channel",
        "http://127.0.0.1:47001/throttledthirdparty/01.00/ABC",
        "--message-id",
        "3F5C1D0E-8A2B-4C6D-9E7F-0A1B2C3D4E5F",
        "toast",
        "--text1",
        "Bold Text",
    ]);
    let body =
        format!("{XML_ROOT}<wp:Toast><wp:Text1>Bold Text</wp:Text1></wp:Toast></wp:Notification>");
    let expected = format!(
        "POST /throttledthirdparty/01.00/ABC HTTP/1.1\r\n\
         Host: 127.0.0.1:47001\r\n\
         Content-Type: text/xml\r\n\
         X-WindowsPhone-Target: toast\r\n\
         X-NotificationClass: 2\r\n\
         X-MessageID: 3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(String::from_utf8(bytes).unwrap(), expected);
}

#[test]
fn global_flags_work_before_and_after_the_kind() {
    let before = encoded(&[
        "--channel",
        LIVE,
        "--delivery",
        "450",
        "--target-os",
        "7.8",
        "tile",
        "--title",
        "t",
    ]);
    let after = encoded(&[
        "tile",
        "--title",
        "t",
        "--channel",
        LIVE,
        "--delivery",
        "450",
        "--target-os",
        "7.8",
    ]);
    assert_eq!(before, after);
    let p = parse(&before);
    assert_eq!(p.header("Host"), Some("db3.notify.live.net"));
    assert_eq!(p.header("X-NotificationClass"), Some("11"));
    assert_eq!(p.header("X-WindowsPhone-Target"), Some("token"));
}

#[test]
fn default_channel_is_the_emulator_demo_channel() {
    let p = request(&["toast", "--text1", "hi"]);
    assert_eq!(p.path, "/throttledthirdparty/01.00/demo");
    assert_eq!(p.header("Host"), Some("127.0.0.1:47001"));
    assert_eq!(p.header("X-NotificationClass"), Some("2"));

    let help = mpns(&["encode", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("defaults to the local emulator's demo channel")
            && help.contains("http://127.0.0.1:47001/throttledthirdparty/01.00/demo"),
        "{help}"
    );
}

#[test]
fn silent_toast_on_the_default_os() {
    let p = request(&["toast", "--text1", "quiet", "--silent"]);
    assert_eq!(
        body_text(&p),
        format!(
            "{XML_ROOT}<wp:Toast><wp:Text1>quiet</wp:Text1><wp:Sound Silent=\"true\"></wp:Sound></wp:Toast></wp:Notification>"
        )
    );
}

#[test]
fn toast_sound_file_and_its_os_gate() {
    let p = request(&["toast", "--text2", "ding", "--sound", "/Sounds/ding.wav"]);
    assert_eq!(
        body_text(&p),
        format!(
            "{XML_ROOT}<wp:Toast><wp:Text2>ding</wp:Text2><wp:Sound>/Sounds/ding.wav</wp:Sound></wp:Toast></wp:Notification>"
        )
    );
    let err = refusal(&["--target-os", "8.0", "toast", "--text1", "a", "--silent"]);
    assert_eq!(
        err,
        "error: Sound: not supported by Windows Phone 8.0 (needs 8.0gdr3 or later)\n"
    );
    // --sound and --silent exclude each other (a clap usage error).
    let (_, code) = refused(&["toast", "--text1", "a", "--sound", "x.wav", "--silent"]);
    assert_eq!(code, Some(2));
}

#[test]
fn param_on_windows_phone_7_0_is_refused_naming_param() {
    let err = refusal(&[
        "--target-os",
        "7.0",
        "toast",
        "--text1",
        "a",
        "--param",
        "/P.xaml",
    ]);
    assert_eq!(
        err,
        "error: Param: not supported by Windows Phone 7.0 (needs 7.1 or later)\n"
    );
    // Without --param the same OS is fine.
    request(&["--target-os", "7.0", "toast", "--text1", "a"]);
}

#[test]
fn empty_toast_is_refused() {
    let err = refusal(&["toast"]);
    assert!(err.contains("Text1 or Text2"), "{err}");
}

#[test]
fn escaping_happens_exactly_once() {
    let p = request(&["toast", "--text1", "McDonald's & <Co> \"x\""]);
    let body = body_text(&p);
    let escaped = "McDonald&apos;s &amp; &lt;Co&gt; &quot;x&quot;";
    assert_eq!(body.matches(escaped).count(), 1, "{body}");
    assert_eq!(
        body,
        format!("{XML_ROOT}<wp:Toast><wp:Text1>{escaped}</wp:Text1></wp:Toast></wp:Notification>")
    );
    assert!(!body.contains("&amp;apos;") && !body.contains("&amp;amp;"));
}

#[test]
fn iconic_tile_background_color() {
    let p = request(&[
        "tile",
        "--template",
        "iconic",
        "--title",
        "Iconic",
        "--background-color",
        "#FF00FF00",
    ]);
    assert_eq!(
        body_text(&p),
        format!(
            "{XML_ROOT_V2}<wp:Tile Template=\"IconicTile\"><wp:Title>Iconic</wp:Title><wp:BackgroundColor>#FF00FF00</wp:BackgroundColor></wp:Tile></wp:Notification>"
        )
    );
    let err = refusal(&["tile", "--template", "iconic", "--background-color", "red"]);
    assert_eq!(
        err,
        "error: BackgroundColor: not a color of the form #AARRGGBB\n"
    );
}

#[test]
fn cycle_tile_images_in_order() {
    // Given out of order on the command line; sent in Microsoft's order.
    let p = request(&[
        "tile",
        "--template",
        "cycle",
        "--cycle-image3",
        "/3.png",
        "--title",
        "Cycle",
        "--cycle-image1",
        "/1.png",
        "--small-background-image",
        "/s.png",
        "--cycle-image2",
        "/2.png",
    ]);
    assert_eq!(
        body_text(&p),
        format!(
            "{XML_ROOT_V2}<wp:Tile Template=\"CycleTile\"><wp:SmallBackgroundImage>/s.png</wp:SmallBackgroundImage><wp:CycleImage1>/1.png</wp:CycleImage1><wp:CycleImage2>/2.png</wp:CycleImage2><wp:CycleImage3>/3.png</wp:CycleImage3><wp:Title>Cycle</wp:Title></wp:Tile></wp:Notification>"
        )
    );
}

#[test]
fn clear_a_field() {
    let p = request(&[
        "tile",
        "--template",
        "iconic",
        "--id",
        "/Secondary.xaml?a=1&b=2",
        "--wide-content1",
        "w1",
        "--clear",
        "wide-content2",
        "--clear",
        "count",
    ]);
    assert_eq!(
        body_text(&p),
        format!(
            "{XML_ROOT_V2}<wp:Tile Id=\"/Secondary.xaml?a=1&amp;b=2\" Template=\"IconicTile\"><wp:WideContent1>w1</wp:WideContent1><wp:WideContent2 Action=\"Clear\"></wp:WideContent2><wp:Count Action=\"Clear\"></wp:Count></wp:Tile></wp:Notification>"
        )
    );
    // Action="Clear" arrived with 7.1.
    let err = refusal(&["--target-os", "7.0", "tile", "--clear", "title"]);
    assert_eq!(
        err,
        "error: Title: not supported by Windows Phone 7.0 (needs 7.1 or later)\n"
    );
}

#[test]
fn element_not_in_the_template_is_refused() {
    let err = refusal(&["tile", "--template", "flip", "--icon-image", "/i.png"]);
    assert!(
        err.starts_with("error: --icon-image: the flip tile has no IconImage element"),
        "{err}"
    );

    let err = refusal(&["tile", "--template", "flip", "--clear", "icon-image"]);
    assert!(
        err.starts_with("error: --clear icon-image: the flip tile has no IconImage element"),
        "{err}"
    );

    let err = refusal(&["tile", "--wide-content1", "w"]);
    assert!(
        err.contains("WideContent1") && err.contains("standard"),
        "{err}"
    );

    let err = refusal(&["tile", "--template", "iconic", "--cycle-image1", "/1.png"]);
    assert!(
        err.contains("CycleImage1") && err.contains("iconic"),
        "{err}"
    );
}

#[test]
fn setting_and_clearing_one_field_is_refused() {
    let err = refusal(&["tile", "--title", "t", "--clear", "title"]);
    assert_eq!(
        err,
        "error: Title: both --title and --clear title given; an element is either set or cleared\n"
    );
    let err = refusal(&["tile", "--count", "3", "--clear", "count"]);
    assert!(err.starts_with("error: Count: both --count"), "{err}");
}

#[test]
fn count_range() {
    let p = request(&["tile", "--count", "99"]);
    assert_eq!(
        body_text(&p),
        format!("{XML_ROOT}<wp:Tile><wp:Count>99</wp:Count></wp:Tile></wp:Notification>")
    );
    let err = refusal(&["tile", "--count", "100"]);
    assert_eq!(
        err,
        "error: Count: 100 is out of range (a count is 0 to 99)\n"
    );
    // Above 255 it is not a u8: clap's own usage error.
    let (err, code) = refused(&["tile", "--count", "256"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--count"), "{err}");
}

#[test]
fn templates_need_windows_phone_7_8() {
    let err = refusal(&[
        "--target-os",
        "7.1",
        "tile",
        "--template",
        "flip",
        "--title",
        "t",
    ]);
    assert_eq!(
        err,
        "error: Template: not supported by Windows Phone 7.1 (needs 7.8 or later)\n"
    );
}

#[test]
fn raw_body_from_a_file() {
    let bytes: Vec<u8> = (0..=255u8).rev().collect();
    let file = TempFile::new("raw", &bytes);
    let p = request(&["--delivery", "900", "raw", "--body-file", file.path()]);
    assert_eq!(p.body, bytes);
    assert_eq!(p.header("Content-Length"), Some("256"));
    assert_eq!(p.header("X-NotificationClass"), Some("23"));
    assert_eq!(p.header("X-WindowsPhone-Target"), None);
    assert_eq!(p.header("Content-Type"), Some("text/xml"));
}

#[test]
fn raw_body_file_errors() {
    let missing = std::env::temp_dir().join(format!(
        "mpns-cli-encode-missing-{}.bin",
        std::process::id()
    ));
    let (err, code) = refused(&["raw", "--body-file", missing.to_str().unwrap()]);
    assert_eq!(code, Some(1), "an I/O failure: {err}");
    assert!(err.contains("mpns-cli-encode-missing"), "{err}");

    // Exactly one of --body and --body-file.
    refused(&["raw"]);
    refused(&["raw", "--body", "a", "--body-file", "/dev/null"]);
}

#[test]
fn raw_voip_needs_windows_phone_8() {
    let err = refusal(&["--target-os", "7.8", "raw", "--voip", "--body", "x"]);
    assert_eq!(
        err,
        "error: VoIP: not supported by Windows Phone 7.8 (needs 8.0 or later)\n"
    );
}

#[test]
fn callback_registration_over_https() {
    let body = "<Inactive/>";
    let bytes = encoded(&[
        "--channel",
        "https://sn1.notify.live.net/unthrottledthirdparty/01.00/X",
        "--callback-uri",
        "https://example.com/mpns/cb?id=7",
        "callback",
        "--body",
        body,
    ]);
    let expected = format!(
        "POST /unthrottledthirdparty/01.00/X/callback HTTP/1.1\r\n\
         Host: sn1.notify.live.net\r\n\
         Content-Type: text/xml\r\n\
         X-CallbackURI: https://example.com/mpns/cb?id=7\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), expected);
    let p = parse(&bytes);
    assert_eq!(p.path, "/unthrottledthirdparty/01.00/X/callback");
    assert_eq!(
        p.header("X-CallbackURI"),
        Some("https://example.com/mpns/cb?id=7")
    );
    assert_eq!(p.header("X-NotificationClass"), None);
    assert_eq!(p.header("X-WindowsPhone-Target"), None);

    // The callback URI after the kind, the body from a file.
    let file = TempFile::new("callback", body.as_bytes());
    let again = encoded(&[
        "callback",
        "--body-file",
        file.path(),
        "--channel",
        "https://sn1.notify.live.net/unthrottledthirdparty/01.00/X",
        "--callback-uri",
        "https://example.com/mpns/cb?id=7",
    ]);
    assert_eq!(again, bytes);
}

#[test]
fn callback_refusals() {
    let https = "https://sn1.notify.live.net/unthrottledthirdparty/01.00/X";
    let err = refusal(&[
        "--channel",
        LIVE,
        "--callback-uri",
        "https://example.com/cb",
        "callback",
        "--body",
        "b",
    ]);
    assert_eq!(
        err,
        "error: X-CallbackURI: only authenticated (https) channels take a callback; this channel is http\n"
    );

    let err = refusal(&["--channel", https, "callback", "--body", "b"]);
    assert!(err.contains("--callback-uri"), "{err}");

    let err = refusal(&[
        "--channel",
        https,
        "--callback-uri",
        "ftp://example.com/cb",
        "callback",
        "--body",
        "b",
    ]);
    assert!(
        err.starts_with("error: X-CallbackURI: invalid URI"),
        "{err}"
    );

    // Options a registration does not carry are refused, not ignored.
    let err = refusal(&[
        "--channel",
        https,
        "--callback-uri",
        "https://example.com/cb",
        "--message-id",
        "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f",
        "callback",
        "--body",
        "b",
    ]);
    assert!(err.contains("--message-id"), "{err}");

    // Over 1024 bytes.
    let big = "b".repeat(1025);
    let err = refusal(&[
        "--channel",
        https,
        "--callback-uri",
        "https://example.com/cb",
        "callback",
        "--body",
        &big,
    ]);
    assert_eq!(err, "error: the body is 1025 bytes; the limit is 1024\n");
}

#[test]
fn callback_uri_on_a_notification() {
    let p = request(&[
        "--channel",
        "https://sn1.notify.live.net/unthrottledthirdparty/01.00/X",
        "--callback-uri",
        "https://example.com/cb",
        "toast",
        "--text1",
        "a",
    ]);
    assert_eq!(p.path, "/unthrottledthirdparty/01.00/X");
    assert_eq!(p.header("X-CallbackURI"), Some("https://example.com/cb"));
    let err = refusal(&[
        "--channel",
        LIVE,
        "--callback-uri",
        "https://example.com/cb",
        "toast",
        "--text1",
        "a",
    ]);
    assert!(err.contains("X-CallbackURI"), "{err}");
}

#[test]
fn wns_channel_is_refused() {
    let err = refusal(&[
        "--channel",
        "https://db5.notify.windows.com/?token=AwYAAAB",
        "toast",
        "--text1",
        "a",
    ]);
    assert!(err.starts_with("error: --channel: "), "{err}");
    assert!(err.contains("WNS"), "{err}");
}

#[test]
fn channel_with_a_carriage_return_is_refused() {
    let err = refusal(&[
        "--channel",
        "http://db3.notify.live.net/throttledthirdparty/01.00/A\r\nX-Evil: 1",
        "toast",
        "--text1",
        "a",
    ]);
    assert!(
        err.starts_with("error: --channel: byte 0x0d at offset"),
        "{err}"
    );
}

#[test]
fn other_bad_channels_are_refused() {
    for channel in [
        "ftp://a.b/c",
        "http:///c",
        "/relative",
        "",
        "http://a.b/c#frag",
    ] {
        let err = refusal(&["--channel", channel, "toast", "--text1", "a"]);
        assert!(err.starts_with("error: --channel: "), "{channel:?}: {err}");
    }
}

#[test]
fn bad_message_id_is_refused() {
    let (err, code) = refused(&["--message-id", "not-a-uuid", "toast", "--text1", "a"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--message-id"), "{err}");
    assert!(
        err.contains("a message id is a UUID of 36 characters"),
        "{err}"
    );

    let (err, _) = refused(&[
        "--message-id",
        "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5g",
        "toast",
        "--text1",
        "a",
    ]);
    assert!(err.contains("offset 35"), "{err}");
}

#[test]
fn forbidden_xml_character_is_refused_naming_the_field() {
    let err = refusal(&["toast", "--text1", "ok", "--text2", "bell\u{7}"]);
    assert_eq!(
        err,
        "error: Text2: character U+0007 at byte 4 is not allowed in XML 1.0\n"
    );
}

#[test]
fn usage_errors_exit_2_with_nothing_on_stdout() {
    refused(&[]);
    refused(&["toast", "--no-such-flag"]);
    refused(&["--delivery", "60", "toast", "--text1", "a"]);
    refused(&["--target-os", "10", "toast", "--text1", "a"]);
    refused(&["tile", "--template", "wide"]);
    refused(&["tile", "--clear", "nothing"]);
    for args in [&["bogus"][..], &["encode", "tile", "--title"][..]] {
        let out = mpns(args);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn raw_voip_needs_immediate_delivery() {
    let err = refusal(&["raw", "--voip", "--delivery", "900", "--body", "x"]);
    assert!(err.starts_with("error: VoIP: "), "{err}");
    assert!(err.contains("immediate"), "{err}");
    for delivery in [&[][..], &["--delivery", "immediate"][..]] {
        let mut args = vec!["raw", "--voip", "--body", "x"];
        args.extend_from_slice(delivery);
        assert_eq!(request(&args).header("X-NotificationClass"), Some("4"));
    }
}

#[test]
fn empty_tile_id_is_refused_naming_id() {
    let err = refusal(&["tile", "--id", ""]);
    assert!(err.starts_with("error: Id: "), "{err}");
    let err = refusal(&["tile", "--template", "flip", "--id", "", "--title", "t"]);
    assert!(err.starts_with("error: Id: "), "{err}");
}

#[test]
fn tile_help_lists_every_element_flag() {
    let out = mpns(&["encode", "tile", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let flags = [
        "--background-image <URI>",
        "--count <N>",
        "--title <TEXT>",
        "--back-background-image <URI>",
        "--back-title <TEXT>",
        "--back-content <TEXT>",
        "--small-background-image <URI>",
        "--wide-background-image <URI>",
        "--wide-back-background-image <URI>",
        "--wide-back-content <TEXT>",
        "--small-icon-image <URI>",
        "--icon-image <URI>",
        "--wide-content1 <TEXT>",
        "--wide-content2 <TEXT>",
        "--wide-content3 <TEXT>",
        "--background-color <#AARRGGBB>",
        "--cycle-image1 <URI>",
        "--cycle-image2 <URI>",
        "--cycle-image3 <URI>",
        "--cycle-image4 <URI>",
        "--cycle-image5 <URI>",
        "--cycle-image6 <URI>",
        "--cycle-image7 <URI>",
        "--cycle-image8 <URI>",
        "--cycle-image9 <URI>",
    ];
    let mut last = 0;
    for flag in flags {
        let at = help
            .find(flag)
            .unwrap_or_else(|| panic!("{flag} missing: {help}"));
        assert!(at > last, "{flag} out of order");
        last = at;
    }
    assert!(help.contains("BackTitle (standard, flip)"), "{help}");
    assert!(help.contains("Title (every template)"), "{help}");
}
