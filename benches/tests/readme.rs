//! The README's "Bring your own HTTP" snippet is the ureq example's code
//! (`mpns-hyper/examples/ureq.rs`, which `mpns-hyper/tests/byo_http.rs` runs
//! against the emulator), so that the README cannot drift from code that works.

#[test]
fn the_readme_shows_the_ureq_example_as_it_is() {
    let readme = include_str!("../../README.md");
    let example = include_str!("../../mpns-hyper/examples/ureq.rs");
    let start = example
        .find("/// Sends one toast")
        .expect("send_toast in the example");
    let end = example.find("fn main()").expect("main in the example");
    // The example's items are `pub(crate)` so that the test can call them.
    let code = example[start..end]
        .trim_end()
        .replace("pub(crate) fn", "fn");
    assert!(
        readme.contains(&code),
        "README.md's ureq snippet differs from mpns-hyper/examples/ureq.rs:\n{code}"
    );
}
