//! Bad input: each case gets a clear message and a non-zero exit, before anything is written.
//! (Cases that need a server answer live with the server tests.)

use std::path::{Path, PathBuf};

use crate::util::{bcss, png_claiming, run, Dir};

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
        (vec!["--pipeline", "images,pictures"], 2, "invalid value 'pictures' for '--pipeline <LIST>'"),
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
        (vec!["--source", "ftp"], 2, "invalid value 'ftp' for '--source <SOURCE>'"),
        (vec!["--source", "gdc", "--mask-source", "annotations"], 2, "annotations come from a DSA only"),
        (vec!["--source", "gdc", "--compat"], 2, "no meaning with `--source gdc`"),
        (vec!["--encoding", "tiff"], 2, "invalid value 'tiff' for '--encoding <ENCODING>'"),
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

fn write_png(path: &Path, w: u32, h: u32, colour: png::ColorType, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut enc = png::Encoder::new(std::fs::File::create(path).unwrap(), w, h);
    enc.set_color(colour);
    enc.write_header().unwrap().write_image_data(data).unwrap();
}

const NAME: &str = "TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png";

/// A dataset of one 40x30 ROI (stroma everywhere) for the analysis commands.
fn small_dataset(d: &Dir) -> PathBuf {
    let ds = d.join("ds");
    write_png(&ds.join("masks").join(NAME), 40, 30, png::ColorType::Grayscale, &[2; 1200]);
    write_png(&ds.join("images").join(NAME), 40, 30, png::ColorType::Rgb, &[90; 3600]);
    ds
}

/// Numeric flags that size an allocation: exit 2 with the flag named, no panic, no output
/// folder (these crashed with a capacity overflow or a failed allocation, some after writing).
#[test]
fn absurd_sizes_exit_2_and_write_nothing() {
    let d = Dir::new();
    let ds = small_dataset(&d);
    let ds = ds.to_str().unwrap();
    let out = d.join("out");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["tile", ds, "--size", "4000000000"], "tile size 4000000000 is over the largest supported, 8192 pixels"),
        (vec!["tile", ds, "--size", "0"], "tile size must be at least 1"),
        (vec!["tile", ds, "--stride", "4000000000"], "stride 4000000000 must be between 1 and the tile size 512"),
        (vec!["tile", ds, "--jobs", "4000000000"], "`--jobs 4000000000` must be between 1 and 64"),
        (vec!["overlay", ds, "--thumb", "4000000000"], "`--thumb 4000000000` must be between 1 and 1024"),
        (vec!["overlay", ds, "--downsample", "4000000000"], "`--downsample 4000000000` must be between 1 and 4096"),
        (vec!["overlay", ds, "--downsample", "0"], "`--downsample 0` must be between 1 and 4096"),
        (vec!["overlay", ds, "--jobs", "0"], "`--jobs 0` must be between 1 and 64"),
        (vec!["stats", ds, "--jobs", "4000000000"], "`--jobs 4000000000` must be between 1 and 64"),
    ];
    for (args, want) in cases {
        let r = run(bcss().args(&args).arg("--out").arg(&out));
        assert_eq!(r.code, 2, "{args:?}: exit {} with {}", r.code, r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: stderr lacks {want:?}:\n{}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
        assert!(!out.exists(), "{args:?}: a refused flag creates no output");
    }
    let r = run(bcss().args(["eval", "--pred", ds, "--truth", ds, "--jobs", "4000000000"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`--jobs 4000000000` must be between 1 and 64"), "{}", r.stderr);
}

/// A mask whose header claims 60000 x 2147483647 pixels: every reader refuses it from the header
/// and names the file (verify reports a problem, exit 1; the analysis commands stop with exit 2
/// or report it, exit 1); nothing aborts.
#[test]
fn a_mask_bomb_in_a_dataset_is_named_not_decoded() {
    let d = Dir::new();
    let ds = small_dataset(&d);
    std::fs::write(ds.join("masks").join(NAME), png_claiming(60000, 2_147_483_647)).unwrap();
    let csv = d.write("rois.csv", ",xmin,ymin,xmax,ymax,mask_link\r\nTCGA-A1-A0SK-DX1,0,0,40,30,x\r\n");
    let r = run(bcss().arg("verify").arg(&ds).arg("--roi-bounds").arg(&csv));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let line = r.stdout.lines().find(|l| l.contains(NAME)).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.contains("60000x2147483647 pixels, over the limit of 2147483648 pixels"), "{line}");
    let (ds, out) = (ds.to_str().unwrap(), d.join("o"));
    let out = out.to_str().unwrap();
    for (args, code) in [
        (vec!["stats", ds, "--out", out], 2),
        (vec!["tile", ds, "--out", out], 2),
        (vec!["overlay", ds, "--out", out], 2),
        (vec!["eval", "--pred", ds, "--truth", ds], 1),
    ] {
        let r = run(bcss().args(&args));
        assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked") && !r.stderr.contains("memory allocation"), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(NAME) && r.stderr.contains("over the limit of 2147483648 pixels"),
            "{args:?}: {}",
            r.stderr
        );
    }
}
