//! Bad input: each case gets a clear message and a non-zero exit, before anything is written.
//! (Cases that need a server answer live with the server tests.)

use crate::util::{bcss, run, Dir};

fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}/api/v1")
}

#[test]
fn bad_input_table() {
    let d = Dir::new();
    let csv = |name: &str, body: &str| d.write(name, body).display().to_string();
    let missing_col = csv("missing.csv", ",xmin,ymin,xmax\r\nTCGA-AA-AAAA-DX1,1,2,3\r\n");
    let non_numeric = csv("nonnum.csv", ",xmin,ymin,xmax,ymax,mask_link\r\nTCGA-AA-AAAA-DX1,1,b,30,40,x\r\n");
    let inverted = csv("inverted.csv", ",xmin,ymin,xmax,ymax,mask_link\r\nTCGA-AA-AAAA-DX1,50,2,30,40,x\r\n");
    let duplicate = csv(
        "dup.csv",
        ",xmin,ymin,xmax,ymax,mask_link\r\nTCGA-AA-AAAA-DX1,1,2,30,40,x\r\nTCGA-AA-AAAA-DX1,1,2,30,40,x\r\n",
    );
    let bad_toml = csv("bad.toml", "mpp = = 0.25\n");
    let unknown_key = csv("unknown.toml", "mpp = 0.25\nspeed = \"fast\"\n");
    let out = d.join("out").display().to_string();
    let url = closed_port_url();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["--mpp", "0.25", "--mag", "20"], 2, "cannot be used with"),
        (vec!["--mpp", "0"], 2, "`--mpp 0` is not a usable resolution"),
        (vec!["--mpp=-1"], 2, "`--mpp -1` is not a usable resolution"),
        (vec!["--mpp", "NaN"], 2, "`--mpp NaN` is not a usable resolution"),
        (vec!["--mpp", "1000"], 2, "`--mpp 1000` is not a usable resolution"),
        (vec!["--mag", "0"], 2, "`--mag 0` is not a usable magnification"),
        (vec!["--slides", "TCGA-ZZ-9999"], 2, "unknown slide `TCGA-ZZ-9999`"),
        (vec!["--roi-bounds", &missing_col], 2, "has no `ymax` column"),
        (vec!["--roi-bounds", &non_numeric], 2, "line 2: ymin of `TCGA-AA-AAAA-DX1` is not a number: `b`"),
        (vec!["--roi-bounds", &inverted], 2, "xmax (30) must be greater than xmin (50)"),
        (vec!["--roi-bounds", &duplicate], 2, "line 3: duplicate ROI `TCGA-AA-AAAA-DX1`"),
        (
            vec!["--roi-bounds", "/nonexistent/roiBounds.csv"],
            2,
            "failed to read ROI table `/nonexistent/roiBounds.csv`",
        ),
        (vec!["--config", &bad_toml], 2, "is invalid"),
        (vec!["--config", &unknown_key], 2, "unknown field `speed`"),
        (vec!["--source", "ftp"], 2, "unknown source `ftp`"),
        (vec!["--source", "gdc", "--mask-source", "annotations"], 2, "annotations come from a DSA only"),
        (vec!["--source", "gdc", "--compat"], 2, "no meaning with `--source gdc`"),
        (vec!["--encoding", "tiff"], 2, "unknown encoding `tiff`"),
        (vec!["--jobs", "0"], 2, "`--jobs 0` must be between 1 and 64"),
        (vec!["--api-url", "ftp://example.org/api/v1"], 2, "is not an http(s) URL"),
        (vec!["--api-url", &url, "--retries", "1"], 3, "cannot reach the server"),
    ];
    for (args, code, want) in cases {
        let r = run(bcss().arg("download").args(&args).args(["--out", &out]));
        assert_eq!(r.code, code, "{args:?}: exit {} with {}", r.code, r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: stderr lacks {want:?}:\n{}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
        assert!(!d.join("out/images").exists(), "{args:?}: refused input must write nothing");
    }
}

/// A read-only output directory (for root, immutable): a clear error, and the files already
/// there are untouched.
#[test]
fn read_only_output_directory() {
    let d = Dir::new();
    let out = d.join("ro");
    std::fs::create_dir_all(out.join("images")).unwrap();
    std::fs::write(out.join("images/keep.png"), b"earlier").unwrap();
    let is_root =
        std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    let lock = |on: bool| {
        if is_root {
            let flag = if on { "+i" } else { "-i" };
            for p in [out.join("images"), out.clone()] {
                assert!(
                    std::process::Command::new("chattr").arg(flag).arg(&p).status().unwrap().success(),
                    "chattr {flag}"
                );
            }
        } else {
            use std::os::unix::fs::PermissionsExt;
            let mode = if on { 0o555 } else { 0o755 };
            for p in [out.join("images"), out.clone()] {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    };
    lock(true);
    let r = run(bcss().args(["download", "--api-url", &closed_port_url()]).arg("--out").arg(&out));
    lock(false);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot create log directory") || r.stderr.contains("cannot use output directory"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(out.join("images/keep.png")).unwrap(), b"earlier");
}
