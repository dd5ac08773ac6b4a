//! Puts memory.x where cortex-m-rt's link.x finds it, and turns the core's
//! vector files (`mpns-proto/tests/vectors/*.jsonl`, the only copies) into
//! Rust tables for the vectors firmware.

use std::fmt::Write as _;
use std::{env, fs, path::PathBuf};

const VECTORS: &str = "../../mpns-proto/tests/vectors";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");

    let mut code = String::new();
    code.push_str(
        "/// The request vectors of `requests.jsonl`.\nstatic REQUESTS: &[RequestVector] = &[\n",
    );
    for v in lines("requests.jsonl") {
        let args = v["args"].as_array().expect("args");
        let channel = args
            .iter()
            .position(|a| a == "--channel")
            .and_then(|i| args.get(i + 1))
            .and_then(|a| a.as_str())
            .expect("--channel");
        let expected = match &v["expected"] {
            e if e == "refuse" => "None".to_string(),
            e => {
                let mut headers = String::new();
                for (name, value) in e["headers"].as_object().expect("headers") {
                    write!(
                        headers,
                        "({name:?}, {:?}), ",
                        value.as_str().expect("value")
                    )
                    .unwrap();
                }
                format!(
                    "Some(Expected {{ target: {:?}, headers: &[{headers}], body: {:?} }})",
                    e["target"].as_str().expect("target"),
                    e["body"].as_str().expect("body"),
                )
            }
        };
        writeln!(
            code,
            "    RequestVector {{ case: {:?}, channel: {channel:?}, expected: {expected} }},",
            v["case"].as_str().expect("case"),
        )
        .unwrap();
    }
    code.push_str("];\n\n/// The response vectors of `responses.jsonl`.\nstatic RESPONSES: &[ResponseVector] = &[\n");
    for v in lines("responses.jsonl") {
        writeln!(
            code,
            "    ResponseVector {{ case: {:?}, response: {:?}, outcome: {:?} }},",
            v["case"].as_str().expect("case"),
            v["response"].as_str().expect("response"),
            v["outcome"].as_str().expect("outcome"),
        )
        .unwrap();
    }
    code.push_str("];\n");
    fs::write(out.join("vectors.rs"), code).expect("write vectors.rs");
}

fn lines(file: &str) -> Vec<serde_json::Value> {
    let path = format!("{VECTORS}/{file}");
    println!("cargo:rerun-if-changed={path}");
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}
