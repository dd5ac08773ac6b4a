//! The networked commands run as a user runs them: `send`, `batch`,
//! `emulator` and `demo`, against the real emulator over loopback.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use mpns_hyper::emulator::{Behaviour, Emulator, EmulatorConfig, TlsConfig};
use mpns_hyper::pki::TestPki;
use serde_json::Value;

/// The variables the tool reads, removed so that no test depends on the
/// environment it runs in.
const AMBIENT: [&str; 7] = [
    "RUST_LOG",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn mpns(args: &[&str]) -> (i32, String, String) {
    mpns_with_env(args, &[])
}

/// `mpns` with `env` set (and nothing of the caller's [`AMBIENT`] variables).
fn mpns_with_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpns"));
    for name in AMBIENT {
        command.env_remove(name);
    }
    let out = command
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mpns-cli-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn send_prints_the_decoded_answer() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emulator.set_behaviour("busy", Behaviour::QueueFull(1));
    let channel = emulator.channel_url("A");
    let (code, stdout, stderr) = mpns(&[
        "send",
        "--channel",
        &channel,
        "--message-id",
        "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f",
        "toast",
        "--text1",
        "Hi",
        "--text2",
        "there",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["outcome"], "accepted");
    assert_eq!(v["device_status"], "connected");
    assert_eq!(v["message_id"], "3f5c1d0e-8a2b-4c6d-9e7f-0a1b2c3d4e5f");
    let recorded = emulator.accepted();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].channel_id, "A");

    // Not accepted: the JSON is printed, and the exit code says so.
    let (code, stdout, stderr) = mpns(&[
        "send",
        "--channel",
        &emulator.channel_url("busy"),
        "tile",
        "--count",
        "3",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not accepted (retry)"), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            v["outcome"].as_str(),
            v["reason"].as_str(),
            v["scope"].as_str()
        ),
        (Some("retry"), Some("queue_full"), Some("message"))
    );

    // A refusal never reaches the network.
    let (code, stdout, stderr) = mpns(&["send", "--channel", &channel, "tile", "--count", "100"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("Count"), "{stderr}");
    assert_eq!(emulator.stats().requests, 2);

    // Nobody listening: a transport error on stderr, exit 1.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, stdout, stderr) = mpns(&[
        "send",
        "--channel",
        &format!("http://127.0.0.1:{port}/x"),
        "toast",
        "--text1",
        "a",
    ]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("Refused"), "{stderr}");
}

#[test]
fn send_over_mutual_tls_with_certificate_files() {
    let pki = TestPki::generate().unwrap();
    let emulator = Emulator::spawn(EmulatorConfig {
        tls: Some(TlsConfig::from_test_pki(&pki)),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let dir = temp_dir("tls");
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("client.pem"),
        dir.join("client.key"),
    );
    std::fs::write(&ca, &pki.ca_cert_pem).unwrap();
    std::fs::write(&cert, &pki.client_cert_pem).unwrap();
    std::fs::write(&key, &pki.client_key_pem).unwrap();
    let channel = emulator.secure_channel_url("S").unwrap();
    let path = |p: &PathBuf| p.to_str().unwrap().to_string();
    let (code, stdout, stderr) = mpns(&[
        "send",
        "--ca",
        &path(&ca),
        "--cert",
        &path(&cert),
        "--key",
        &path(&key),
        "--channel",
        &channel,
        "--callback-uri",
        "https://me.example/cb",
        "raw",
        "--body",
        "<x/>",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["outcome"],
        "accepted"
    );
    assert_eq!(
        emulator.accepted()[0].callback_uri.as_deref(),
        Some("https://me.example/cb")
    );
    // Without the client certificate, MPNS answers 403.
    let (code, stdout, _) = mpns(&[
        "send",
        "--ca",
        &path(&ca),
        "--channel",
        &channel,
        "toast",
        "--text1",
        "a",
    ]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (v["status"].as_u64(), v["reason"].as_str()),
        (Some(403), Some("forbidden"))
    );
    // Without --ca the emulator's certificate is not trusted: a TLS
    // failure, over either transport, not "Other".
    for transport in ["direct", "hyper"] {
        let (code, stdout, stderr) = mpns(&[
            "send",
            "--transport",
            transport,
            "--channel",
            &channel,
            "toast",
            "--text1",
            "a",
        ]);
        assert_eq!((code, stdout.as_str()), (1, ""), "{transport}");
        assert!(
            stderr.contains("no response (Tls)") && stderr.contains("UnknownIssuer"),
            "{transport}: {stderr}"
        );
    }
    // A key file that is not a key: refused input.
    let (code, _, stderr) = mpns(&[
        "send",
        "--cert",
        &path(&cert),
        "--key",
        &path(&ca),
        "--channel",
        &channel,
        "toast",
        "--text1",
        "a",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("private key") && !stderr.contains("BEGIN"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn batch_counts_outcomes_and_fails_when_anything_failed() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emulator.set_behaviour("gone", Behaviour::Expired);
    let dir = temp_dir("batch");
    let good = dir.join("good.jsonl");
    let lines: Vec<String> = (0..30)
        .map(|i| {
            format!(
                r#"{{"channel": "{}", "notification": {{"toast": {{"text1": "n{i} \"quoted\" \u00e9"}}}}, "options": {{"delivery": "450"}}}}"#,
                emulator.channel_url(&format!("c{}", i % 4))
            )
        })
        .chain(std::iter::once(format!(
            r#"{{"channel": "{}", "notification": {{"tile": {{"template": {{"flip": {{"count": 3, "title": {{"action": "clear"}}}}}}}}}}}}"#,
            emulator.channel_url("c0")
        )))
        .chain(std::iter::once(format!(
            r#"{{"channel": "{}", "notification": {{"raw": {{"body": "<v>1</v>", "voip": false}}}}}}"#,
            emulator.channel_url("c1")
        )))
        .collect();
    std::fs::write(&good, lines.join("\n")).unwrap();
    let (code, stdout, stderr) = mpns(&["batch", good.to_str().unwrap(), "-c", "8"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "accepted  32");
    let recorded = emulator.accepted();
    assert_eq!(recorded.len(), 32);
    // Escaped JSON text arrives exactly once escaped in XML.
    let bodies: Vec<String> = recorded
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("<wp:Text1>n0 &quot;quoted&quot; é</wp:Text1>")),
        "{bodies:?}"
    );
    assert!(recorded.iter().all(
        |r| r.notification_class % 10 != 0 && r.notification_class > 10
            || r.kind != mpns_proto::RequestKind::Toast
    ));

    let bad = dir.join("bad.jsonl");
    std::fs::write(
        &bad,
        format!(
            "{}\n{}\nnot json\n{}\n",
            format_args!(r#"{{"channel": "{}", "notification": {{"toast": {{"text1": "ok"}}}}}}"#, emulator.channel_url("c9")),
            format_args!(r#"{{"channel": "{}", "notification": {{"toast": {{"text1": "bye"}}}}}}"#, emulator.channel_url("gone")),
            format_args!(r#"{{"channel": "{}", "notification": {{"tile": {{"template": {{"standard": {{"count": 100}}}}}}}}}}"#, emulator.channel_url("c9")),
        ),
    )
    .unwrap();
    let report = dir.join("report.jsonl");
    let (code, stdout, stderr) = mpns(&[
        "batch",
        bad.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let counts: Vec<(String, String)> = stdout
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap().to_string(), w.next().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("accepted".into(), "1".into()),
            ("channel_expired".into(), "1".into()),
            ("invalid".into(), "2".into())
        ]
    );
    assert!(
        stderr.contains("line 3:") && stderr.contains("line 4:") && stderr.contains("Count"),
        "{stderr}"
    );
    // The report: one JSON line per input line, saying which failed and why.
    let mut report: Vec<Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    report.sort_by_key(|r| r["line"].as_u64());
    let lines: Vec<u64> = report.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 2, 3, 4], "{report:?}");
    assert_eq!(report[0]["outcome"], "accepted");
    assert_eq!(report[0]["channel"], emulator.channel_url("c9"));
    assert_eq!(report[0]["attempts"], 1);
    assert!(report[0]["ticket"].is_u64());
    assert_eq!(report[1]["outcome"], "channel_expired");
    assert_eq!(report[1]["channel"], emulator.channel_url("gone"));
    assert_eq!(report[2]["outcome"], "invalid");
    assert_eq!(report[2]["channel"], Value::Null);
    assert!(report[2]["error"].as_str().unwrap().contains("expected"));
    assert_eq!(report[3]["outcome"], "invalid");
    assert_eq!(report[3]["channel"], emulator.channel_url("c9"));
    assert!(
        report[3]["error"].as_str().unwrap().contains("Count"),
        "{report:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A file streamed through a memory budget far smaller than it, with lines
/// that are too long, blank or not UTF-8: every line is counted once, and
/// the refused ones are named by number.
#[test]
fn batch_streams_a_large_file_through_a_small_memory_budget() {
    let emulator = Emulator::spawn(EmulatorConfig {
        record_limit: 0,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let dir = temp_dir("batch-stream");
    let file = dir.join("many.jsonl");
    let mut bytes = Vec::new();
    let n = 5_000;
    for i in 0..n {
        bytes.extend_from_slice(
            format!(
                "{{\"channel\": \"{}\", \"notification\": {{\"toast\": {{\"text1\": \"n{i}\"}}}}}}\n",
                emulator.channel_url(&format!("d{i}"))
            )
            .as_bytes(),
        );
        if i == 10 {
            bytes.extend_from_slice(b"\n   \n"); // blank lines are skipped, not counted
        }
        if i == 20 {
            bytes.extend_from_slice(&vec![b'x'; 2 << 20]); // longer than MAX_LINE
            bytes.push(b'\n');
        }
        if i == 30 {
            bytes.extend_from_slice(b"{\"channel\": \"\xff\xfe\"}\n");
        }
    }
    std::fs::write(&file, bytes).unwrap();
    let (code, stdout, stderr) =
        mpns(&["batch", file.to_str().unwrap(), "-c", "16", "--memory", "1"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(
        stdout.split_whitespace().collect::<Vec<_>>(),
        ["accepted", "5000", "invalid", "2"],
        "{stderr}"
    );
    assert!(
        stderr.contains("line 24: longer than 1048576 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("line 35: not UTF-8"), "{stderr}");
    assert_eq!(emulator.stats().accepted, n as u64);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn emulator_command_serves_until_stopped() {
    let dir = temp_dir("emu");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpns"))
        .env_remove("RUST_LOG")
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--https-listen",
            "127.0.0.1:0",
            "--behaviour",
            "X=expired",
            "--workers",
            "1",
            "--tls-dir",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    let http = printed[0].strip_prefix("http  ").unwrap().to_string();
    assert!(http.starts_with("http://127.0.0.1:"), "{printed:?}");
    let https = printed[1].strip_prefix("https ").unwrap().to_string();
    assert!(
        printed
            .iter()
            .any(|l| l.contains("X") && l.contains("expired")),
        "{printed:?}"
    );
    // The client files it wrote work with `mpns send`.
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (code, stdout, stderr) = mpns(&[
        "send",
        "--ca",
        &file("ca.pem"),
        "--cert",
        &file("client.pem"),
        "--key",
        &file("client.key"),
        "--channel",
        &format!("{https}/unthrottledthirdparty/01.00/S"),
        "toast",
        "--text1",
        "a",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["outcome"],
        "accepted"
    );
    let (code, stdout, _) = mpns(&[
        "send",
        "--channel",
        &format!("{http}/throttledthirdparty/01.00/X"),
        "toast",
        "--text1",
        "a",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["outcome"],
        "expired"
    );
    // A refusal of the emulator's own checks (not a channel path).
    let (code, stdout, _) = mpns(&[
        "send",
        "--channel",
        &format!("{http}/elsewhere/0123456789abcdefTAIL"),
        "toast",
        "--text1",
        "a",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["status"],
        404
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // Each refusal was logged at info on stderr (the default level of
    // `mpns emulator`), with its reason and the channel redacted.
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let behaviour = stderr
        .lines()
        .find(|l| l.contains("emulator: not accepted"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        behaviour.contains("INFO") && behaviour.contains("subscription=\"Expired\""),
        "{behaviour}"
    );
    let refused = stderr
        .lines()
        .find(|l| l.contains("emulator: refused"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        refused.contains("status=404")
            && refused.contains("not a channel path")
            && refused.contains("/…TAIL")
            && !refused.contains("0123456789abcdef"),
        "{refused}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn demo_shows_every_state() {
    let (code, stdout, stderr) = mpns(&["demo"]);
    assert_eq!(code, 0, "{stderr}");
    for want in [
        "accepted (connected)",
        "channel expired",
        "suppressed",
        "gave up: device inactive",
        "mTLS",
        "callback registration",
        "TLS handshakes",
    ] {
        assert!(stdout.contains(want), "{want} missing from\n{stdout}");
    }
    let rows = stdout
        .lines()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .count();
    assert_eq!(rows, 17, "{stdout}");
}

/// `batch --state`: killed with SIGKILL twice mid-run and started again with
/// the same file and directory, the batch finishes with every line counted
/// once, every channel accepted at least once and at most `-c` requests sent
/// again per kill; a fourth run has nothing left to send, and another file
/// is refused.
#[test]
fn batch_with_state_survives_sigkill() {
    let emulator = Emulator::spawn(EmulatorConfig {
        record_limit: 100_000,
        ..EmulatorConfig::default()
    })
    .unwrap();
    // Slow answers keep requests on the wire when the process dies.
    emulator.set_behaviour_prefix("s-", Behaviour::Slow(std::time::Duration::from_millis(15)));
    let dir = temp_dir("batch-state");
    let state = dir.join("state");
    let _ = std::fs::remove_dir_all(&state);
    let file = dir.join("lines.jsonl");
    let n = 2_400;
    let mut text = String::new();
    for i in 0..n {
        text += &format!(
            "{{\"channel\": \"{}\", \"notification\": {{\"toast\": {{\"text1\": \"n{i}\"}}}}}}\n",
            emulator.channel_url(&format!("s-{i}"))
        );
    }
    std::fs::write(&file, text).unwrap();
    let args = [
        "batch",
        file.to_str().unwrap(),
        "-c",
        "8",
        "--state",
        state.to_str().unwrap(),
    ];
    for kill_after in [600, 1_500] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mpns"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        while emulator.stats().accepted < kill_after {
            assert!(child.try_wait().unwrap().is_none(), "the batch ended early");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let report = dir.join("report.jsonl");
    let mut with_report = args.to_vec();
    with_report.extend(["--report", report.to_str().unwrap()]);
    let (code, stdout, stderr) = mpns(&with_report);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The report of the resumed run names every line once, with its channel:
    // finished in the earlier runs, resumed, or sent now.
    let mut reported = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(&report).unwrap().lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let number = r["line"].as_u64().unwrap();
        assert_eq!(r["outcome"], "accepted", "{r}");
        assert_eq!(
            r["channel"],
            emulator.channel_url(&format!("s-{}", number - 1)),
            "{r}"
        );
        assert!(reported.insert(number, r).is_none(), "line {number} twice");
    }
    assert_eq!(reported.len(), n);
    assert!(reported.values().any(|r| r["earlier_run"] == true));
    assert!(reported.values().any(|r| r["earlier_run"].is_null()));
    assert_eq!(
        stdout.split_whitespace().collect::<Vec<_>>(),
        ["accepted", &n.to_string()],
        "every line once, across the three runs: {stderr}"
    );
    assert!(stderr.contains("resuming from"), "{stderr}");
    let mut per_channel = std::collections::HashMap::new();
    for r in emulator.accepted() {
        *per_channel.entry(r.channel_id).or_insert(0) += 1;
    }
    assert_eq!(per_channel.len(), n, "every channel got its notification");
    let resent: usize = per_channel.values().map(|&k| k - 1).sum();
    assert!(resent <= 2 * 8, "{resent} sent again over two kills");

    // Finished: a fourth run sends nothing and reports the same.
    let before = emulator.stats().requests;
    let (code, stdout, _) = mpns(&args);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.split_whitespace().collect::<Vec<_>>(),
        ["accepted", &n.to_string()]
    );
    assert_eq!(emulator.stats().requests, before);

    // The directory belongs to its file.
    let other = dir.join("other.jsonl");
    std::fs::write(&other, "{}\n").unwrap();
    let (code, _, stderr) = mpns(&[
        "batch",
        other.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--state"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts `mpns emulator` on free ports with `extra` arguments; returns the
/// process and the lines it printed up to its "Ctrl-C" line.
fn start_emulator(extra: &[&str]) -> (std::process::Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpns"))
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .args(["--https-listen", "127.0.0.1:0", "--workers", "1"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut printed = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.starts_with("Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    (child, printed)
}

/// The folder of the `--key` file an emulator printed.
fn key_dir(printed: &[String]) -> PathBuf {
    let key = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("--key "))
        .unwrap_or_else(|| panic!("{printed:?}"));
    PathBuf::from(key).parent().unwrap().to_path_buf()
}

#[test]
#[cfg(unix)]
fn the_default_tls_folder_is_private_fresh_and_removed_at_the_end() {
    use std::os::unix::fs::PermissionsExt;
    let (mut a, printed_a) = start_emulator(&[]);
    let (mut b, printed_b) = start_emulator(&[]);
    let (dir_a, dir_b) = (key_dir(&printed_a), key_dir(&printed_b));
    assert_ne!(dir_a, dir_b, "two emulators never share a folder");
    for dir in [&dir_a, &dir_b] {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        let key = std::fs::metadata(dir.join("client.key")).unwrap();
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    // Ctrl-C: the emulator stops and takes its private folder with it.
    for child in [&mut a, &mut b] {
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(child.wait().unwrap().success());
    }
    assert!(!dir_a.exists() && !dir_b.exists());
}

#[test]
#[cfg(unix)]
fn a_link_planted_in_the_tls_folder_never_receives_the_key() {
    let dir = temp_dir("planted");
    let victim = dir.join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    let _ = std::fs::remove_file(dir.join("client.key"));
    std::os::unix::fs::symlink(&victim, dir.join("client.key")).unwrap();
    let (mut child, printed) = start_emulator(&["--tls-dir", dir.to_str().unwrap()]);
    assert_eq!(key_dir(&printed), dir);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    let key = std::fs::symlink_metadata(dir.join("client.key")).unwrap();
    assert!(key.file_type().is_file(), "the link was replaced by a file");
    assert!(
        std::fs::read_to_string(dir.join("client.key"))
            .unwrap()
            .contains("PRIVATE KEY")
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn send_without_a_channel_is_a_usage_error() {
    let (code, stdout, stderr) = mpns(&["send", "toast", "--text1", "a"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("--channel is required"), "{stderr}");
    // `encode` sends nothing and keeps its default.
    let (code, stdout, _) = mpns(&["encode", "toast", "--text1", "a"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("/throttledthirdparty/01.00/demo"),
        "{stdout}"
    );
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, stdout, stderr) = mpns(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(
            stdout.contains("batch") && stdout.contains("transport"),
            "{shell}"
        );
    }
    let (code, _, _) = mpns(&["completions", "cmd.exe"]);
    assert_eq!(code, 2);
}

/// `batch --json`: one object whose fields are pinned; logs on stderr by
/// level: a warning for the expired channel by default, none with `-q`,
/// each attempt with `-vv`, and channels only redacted.
#[test]
fn batch_json_summary_and_log_levels() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    emulator.set_behaviour("gone-0123456789abcdef", Behaviour::Expired);
    let dir = temp_dir("batch-json");
    let file = dir.join("b.jsonl");
    let line = |id: &str| {
        format!(
            r#"{{"channel": "{}", "notification": {{"toast": {{"text1": "x"}}}}}}"#,
            emulator.channel_url(id)
        )
    };
    std::fs::write(
        &file,
        [line("ok-0123456789abcdef"), line("gone-0123456789abcdef")].join("\n"),
    )
    .unwrap();
    let file = file.to_str().unwrap();

    let (code, stdout, stderr) = mpns(&["batch", "--json", file]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, ["total", "not_accepted", "outcomes"]);
    assert_eq!(names, mpns_hyper::cli::batch::SUMMARY_FIELDS);
    assert_eq!(
        v,
        serde_json::json!({
            "total": 2,
            "not_accepted": 1,
            "outcomes": {"accepted": 1, "channel_expired": 1},
        })
    );
    let warn = stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains("channel expired"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(!warn.contains("DEBUG"), "{warn}");
    assert!(!stderr.contains("0123456789abcdef"), "{stderr}");

    let (code, _, stderr) = mpns(&["-q", "batch", "--json", file]);
    assert_eq!(code, 1);
    assert!(!stderr.contains("WARN"), "{stderr}");

    let (code, _, stderr) = mpns(&["batch", "-vv", "--json", file]);
    assert_eq!(code, 1);
    let sending: Vec<&str> = stderr.lines().filter(|l| l.contains("sending")).collect();
    assert_eq!(sending.len(), 2, "{stderr}");
    // Each attempt is in its notification's span: ticket, host, kind, redacted channel.
    assert!(
        sending.iter().all(|l| l.contains("DEBUG")
            && l.contains("notification{ticket=")
            && l.contains("host=127.0.0.1")
            && l.contains("kind=toast")
            && l.contains("/…cdef")),
        "{sending:?}"
    );
    assert!(
        stderr.lines().any(|l| l.contains("INFO")
            && l.contains("not accepted")
            && l.contains("outcome=\"channel_expired\"")),
        "{stderr}"
    );
    assert!(!stderr.contains("0123456789abcdef"), "{stderr}");

    // RUST_LOG replaces -v/-q.
    let (_, _, stderr) = mpns_with_env(&["-q", "batch", file], &[("RUST_LOG", "mpns_hyper=debug")]);
    assert!(stderr.contains("sending"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A `CONNECT` proxy on a thread (tests/proxy.rs has the async one); returns
/// its URI and the authorities it was asked for.
fn thread_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8(head).unwrap();
                let authority = head.split(' ').nth(1).unwrap().to_string();
                log.lock().unwrap().push(authority.clone());
                let upstream = std::net::TcpStream::connect(&authority).unwrap();
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (mut client, mut upstream) = (client, upstream);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut u2, &mut c2);
                    let _ = c2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut client, &mut upstream);
                let _ = upstream.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (uri, seen)
}

/// `send` through a proxy from `--proxy` and from `HTTP_PROXY`, `NO_PROXY`
/// honoured, and an unusable proxy setting refused as input.
#[test]
fn send_through_a_proxy_from_the_flag_or_the_environment() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).unwrap();
    let channel = emulator.channel_url("proxied");
    let authority = channel.split('/').nth(2).unwrap().to_string();
    let (proxy, seen) = thread_proxy();
    let send = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["send", "--channel", &channel];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["toast", "--text1", "p"]);
        mpns_with_env(&args, env)
    };
    for transport in ["direct", "hyper"] {
        let (code, stdout, stderr) = send(&["--transport", transport, "--proxy", &proxy], &[]);
        assert_eq!(code, 0, "{transport}: {stderr}");
        assert_eq!(
            serde_json::from_str::<Value>(&stdout).unwrap()["outcome"],
            "accepted"
        );
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [authority.clone(), authority.clone()]
    );

    let (code, _, stderr) = send(&[], &[("HTTP_PROXY", &proxy)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(seen.lock().unwrap().len(), 3);
    // https channels use HTTPS_PROXY, not HTTP_PROXY: this one goes direct.
    let (code, _, _) = send(&[], &[("HTTPS_PROXY", &proxy)]);
    assert_eq!(code, 0);
    assert_eq!(seen.lock().unwrap().len(), 3);
    // NO_PROXY wins over both the variable and the flag.
    let (code, _, _) = send(
        &["--proxy", &proxy],
        &[("HTTP_PROXY", &proxy), ("NO_PROXY", "127.0.0.1")],
    );
    assert_eq!(code, 0);
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(emulator.accepted().len(), 5);
    // `--proxy` replaces the variables, even one that would be refused.
    let (code, _, stderr) = send(
        &["--proxy", &proxy],
        &[("HTTP_PROXY", "socks5://elsewhere:1080")],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(seen.lock().unwrap().len(), 4);
    assert_eq!(emulator.accepted().len(), 6);

    let (code, stdout, stderr) = send(&["--proxy", "https://proxy:443"], &[]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.contains("--proxy: TLS to the proxy is not supported"),
        "{stderr}"
    );
    let (code, _, stderr) = send(&[], &[("HTTP_PROXY", "http://p:notaport")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("HTTP_PROXY"), "{stderr}");
}
