//! Every input the tool reads whole (stdin of `decode`, `--body-file`, PEM
//! files) is bounded: past 1 MiB it is refused with the limit named, and an
//! endless input (`/dev/zero`) ends in that refusal, not in memory growth.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const LIMIT: usize = 1 << 20;

/// Runs `mpns args` with `stdin` piped in; exit code and stderr.
fn mpns(args: &[&str], stdin: &[u8]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpns"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The tool may stop reading at its limit: a broken pipe is expected then.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mpns-cli-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

const LIMIT_NAMED: &str = "larger than the limit of 1048576 bytes";

#[test]
fn decode_refuses_stdin_past_the_limit() {
    let mut big = b"HTTP/1.1 200 OK\r\nX-NotificationStatus: Received\r\n\r\n".to_vec();
    big.resize(LIMIT + 1, b' ');
    let (code, stderr) = mpns(&["decode"], &big);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("reading stdin") && stderr.contains(LIMIT_NAMED),
        "{stderr}"
    );
    // At the limit exactly it is read (and this one is a complete response).
    big.truncate(LIMIT);
    let (code, stderr) = mpns(&["decode"], &big);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn encode_refuses_a_body_file_past_the_limit_and_dev_zero() {
    let big = file("body", &vec![b'x'; LIMIT + 1]);
    for path in [big.to_str().unwrap(), "/dev/zero"] {
        let (code, stderr) = mpns(&["encode", "raw", "--body-file", path], b"");
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains(path) && stderr.contains(LIMIT_NAMED),
            "{stderr}"
        );
    }
}

#[test]
fn send_refuses_pem_files_past_the_limit_and_a_ca_without_certificates() {
    let channel = "http://127.0.0.1:9/throttledthirdparty/01.00/X";
    let cert = file("cert.pem", b"-----BEGIN CERTIFICATE-----\n");
    for (flag, path) in [("--key", "/dev/zero"), ("--ca", "/dev/zero")] {
        let mut args = vec![
            "send",
            "--channel",
            channel,
            "toast",
            "--text1",
            "x",
            flag,
            path,
        ];
        if flag == "--key" {
            args.extend(["--cert", cert.to_str().unwrap()]);
        }
        let (code, stderr) = mpns(&args, b"");
        assert_ne!(code, 0, "{stderr}");
        assert!(
            stderr.contains("/dev/zero") && stderr.contains(LIMIT_NAMED),
            "{stderr}"
        );
    }
    // A CA file that holds no certificate trusts nothing more: refused, not ignored.
    let garbage = file("garbage.pem", b"this is not a certificate\n");
    let (code, stderr) = mpns(
        &[
            "send",
            "--channel",
            channel,
            "toast",
            "--text1",
            "x",
            "--ca",
            garbage.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no PEM certificate found"), "{stderr}");
}
