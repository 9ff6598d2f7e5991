//! Argument handling that needs no server: help, and bad input refused before any request.

use crate::util::{bcss, run, Dir};

#[test]
fn help_lists_every_download_option() {
    let r = run(bcss().args(["download", "--help"]));
    assert_eq!(r.code, 0);
    for flag in [
        "--api-url",
        "--api-key",
        "--login",
        "--folder-id",
        "--roi-bounds",
        "--out",
        "--mpp",
        "--mag",
        "--base",
        "--pipeline",
        "--slides",
        "--jobs",
        "--compat",
        "--encoding",
        "--retries",
        "--timeout",
        "--ca-cert",
        "--config",
    ] {
        assert!(r.stdout.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn mpp_and_mag_together_are_refused() {
    let r = run(bcss().args(["download", "--mpp", "0.5", "--mag", "20"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--mpp") && r.stderr.contains("--mag"), "{}", r.stderr);
}

#[test]
fn output_path_that_is_a_file_is_refused() {
    let d = Dir::new();
    let f = d.write("file", "x");
    let r = run(bcss().args(["download", "--api-url", "http://127.0.0.1:9/api/v1", "--out"]).arg(&f));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is not a directory"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "x");
}
