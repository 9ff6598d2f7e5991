//! Compatibility with a REAL DSA (Girder 3 + large_image + annotations, `compat/real-dsa`).
//!
//! Ignored by a plain `cargo test` (no server there); `.ci/run` starts the server with
//! `compat/real-dsa/start.sh`, exports its facts (`DSA_API_URL`, `DSA_API_KEY`, ...) and runs
//! `cargo test --test it compat -- --ignored`. The server holds two synthetic slides:
//! `TCGA-SY-NTH1` (20000 x 15000, 0.25 um/px, 40x) and `TCGA-SY-NTH2` (6000 x 4000, 0.5 um/px,
//! 20x). Expected sizes below were computed by hand from spec section 2.3, not by bcss.

use std::path::{Path, PathBuf};

use bcss::codec::png;
use bcss::model::GrayImage;
use bcss::transform::resize_nearest;

use crate::util::{bcss, files_under, run, Dir};

struct Dsa {
    url: String,
    key: String,
    folder: String,
    empty_folder: String,
    login: String,
    password: String,
}

fn dsa() -> Dsa {
    let get = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: start the real DSA with `eval \"$(compat/real-dsa/start.sh --env)\"` (see .ci/run)")
        })
    };
    Dsa {
        url: get("DSA_API_URL"),
        key: get("DSA_API_KEY"),
        folder: get("DSA_FOLDER_ID"),
        empty_folder: get("DSA_EMPTY_FOLDER_ID"),
        login: get("DSA_ADMIN_LOGIN"),
        password: get("DSA_ADMIN_PASSWORD"),
    }
}

const ROI1: (&str, u64, u64, usize, usize) = ("TCGA-SY-NTH1-DX1", 4000, 3000, 8000, 6000);
const ROI2: (&str, u64, u64, usize, usize) = ("TCGA-SY-NTH2-DX1", 2000, 1250, 2000, 1500);

/// The ground-truth mask the test serves for a ROI: a known function of base coordinates.
fn source_mask(w: usize, h: usize, x0: u64, y0: u64) -> GrayImage {
    let mut data = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            data.push((((x as u64 + x0) / 37 + (y as u64 + y0) / 53) % 22) as u8);
        }
    }
    GrayImage { width: w, height: h, data }
}

/// Writes masks and a roiBounds.csv whose mask links are local files; returns the CSV.
fn setup(dir: &Dir) -> PathBuf {
    let mut csv = String::from(",xmin,ymin,xmax,ymax,mask_link\r\n");
    for (id, x, y, w, h) in [ROI1, ROI2] {
        let path = dir.join(&format!("{id}.png"));
        png::write_gray(std::fs::File::create(&path).unwrap(), &source_mask(w, h, x, y), png::Compression::Fast)
            .unwrap();
        csv.push_str(&format!("{id},{x},{y},{},{},{}\r\n", x + w as u64, y + h as u64, path.display()));
    }
    dir.write("rois.csv", &csv)
}

fn dims(path: &Path) -> (usize, usize) {
    png::dimensions(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn mask(path: &Path) -> GrayImage {
    png::decode_gray(&std::fs::read(path).unwrap()).unwrap()
}

fn download(d: &Dsa, csv: &Path, out: &Path, extra: &[&str]) -> crate::util::Run {
    let r = run(bcss()
        .args(["download", "--api-url", &d.url, "--folder-id", &d.folder, "--jobs", "2"])
        .arg("--roi-bounds")
        .arg(csv)
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("BCSS_API_KEY", &d.key));
    assert_eq!(r.code, 0, "bcss download {extra:?} failed:\n{}", r.stderr);
    r
}

#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn compat_resolutions_sizes_names_and_masks() {
    let d = dsa();
    let dir = Dir::new();
    let csv = setup(&dir);
    // (flags, suffix, ROI1 size, ROI2 size): 0.25 um exact is native on slide 1 and a 2x
    // enlargement on the 0.5 um slide 2; --compat asks for 0.0003 mm (scale 2^0.263 = 1.19997
    // on slide 1, 2^-0.737 on slide 2); magnification 20 halves slide 1 and is native on slide 2.
    type Case<'a> = (&'a [&'a str], &'a str, (usize, usize), (usize, usize));
    let cases: [Case; 6] = [
        (&["--mpp", "0.25"], "MPP-0.2500", (8000, 6000), (4000, 3000)),
        (&["--mpp", "0.25", "--compat"], "MPP-0.2500", (6666, 5000), (3333, 2500)),
        (&["--mag", "20"], "MAG-20.00", (4000, 3000), (2000, 1500)),
        (&["--mag", "20", "--compat"], "MAG-20.00", (4000, 3000), (2000, 1500)),
        (&["--base"], "MAG-0", (8000, 6000), (2000, 1500)),
        (&["--base", "--compat"], "MAG-0", (8000, 6000), (2000, 1500)),
    ];
    for (i, (flags, suffix, s1, s2)) in cases.iter().enumerate() {
        let out = dir.join(&format!("ds{i}"));
        download(&d, &csv, &out, flags);
        for ((id, x, y, w, h), size) in [(ROI1, s1), (ROI2, s2)] {
            let name = format!("{id}_xmin{x}_ymin{y}_{suffix}.png");
            assert_eq!(dims(&out.join("images").join(&name)), *size, "{flags:?} {name}");
            let got = mask(&out.join("masks").join(&name));
            let src = source_mask(w, h, x, y);
            let want = resize_nearest(&src, size.0, size.1);
            assert_eq!((got.width, got.height), *size, "{flags:?} mask {name}");
            assert!(got == want, "{flags:?}: mask {name} is not the nearest resize of the served mask");
        }
        let v = run(bcss().arg("verify").arg(&out));
        assert_eq!(v.code, 0, "verify after {flags:?}: {}{}", v.stdout, v.stderr);
    }
}

#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn compat_masks_only_and_annotations_with_login() {
    let d = dsa();
    let dir = Dir::new();
    let csv = setup(&dir);
    // --compat without images: the original kept masks at base resolution, named MAG-0.
    let out = dir.join("compat-masks");
    download(&d, &csv, &out, &["--compat", "--pipeline", "masks"]);
    let (id, x, y, w, h) = ROI2;
    let got = mask(&out.join(format!("masks/{id}_xmin{x}_ymin{y}_MAG-0.png")));
    assert!(got.data == source_mask(w, h, x, y).data);
    assert!(files_under(&out.join("images")).is_empty());
    // Exact mode without images: masks at the size the image would have (2x on slide 2).
    let out = dir.join("exact-masks");
    download(&d, &csv, &out, &["--pipeline", "masks"]);
    assert_eq!(dims(&out.join(format!("masks/{id}_xmin{x}_ymin{y}_MPP-0.2500.png"))), (4000, 3000));

    // Annotations through a password login (no key).
    let out = dir.join("ann");
    let r = run(bcss()
        .args([
            "download",
            "--api-url",
            &d.url,
            "--folder-id",
            &d.folder,
            "--pipeline",
            "annotations",
            "--login",
            &d.login,
        ])
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&out)
        .env("BCSS_PASSWORD", &d.password));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ann = files_under(&out.join("annotations"));
    assert_eq!(ann, vec!["TCGA-SY-NTH1-01Z-00-DX1.SYNTHETIC-0001.json", "TCGA-SY-NTH2-01Z-00-DX1.SYNTHETIC-0002.json"]);
    let docs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("annotations").join(&ann[0])).unwrap()).unwrap();
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 2, "slide 1 has two annotation documents");
    assert!(docs.iter().all(|doc| doc["annotation"]["elements"].as_array().is_some_and(|e| !e.is_empty())));
    // Nothing written anywhere holds the password or the key.
    for f in files_under(dir.path()) {
        let bytes = std::fs::read(dir.path().join(&f)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&d.password) && !text.contains(&d.key), "secret leaked into {f}");
    }
    assert!(!r.stdout.contains(&d.password) && !r.stderr.contains(&d.password));
}

#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn compat_png_and_jpeg_regions_agree() {
    let d = dsa();
    let dir = Dir::new();
    let csv = setup(&dir);
    let jpeg = dir.join("jpeg");
    let pngd = dir.join("png");
    download(&d, &csv, &jpeg, &["--mag", "20", "--slides", "TCGA-SY-NTH2", "--pipeline", "images"]);
    download(
        &d,
        &csv,
        &pngd,
        &["--mag", "20", "--slides", "TCGA-SY-NTH2", "--pipeline", "images", "--encoding", "png"],
    );
    let name = "images/TCGA-SY-NTH2-DX1_xmin2000_ymin1250_MAG-20.00.png";
    let a = png::decode_rgb(&std::fs::read(jpeg.join(name)).unwrap()).unwrap();
    let b = png::decode_rgb(&std::fs::read(pngd.join(name)).unwrap()).unwrap();
    assert_eq!((a.width, a.height), (b.width, b.height));
    let diffs: Vec<u8> = a.data.iter().zip(&b.data).map(|(x, y)| x.abs_diff(*y)).collect();
    let mean = diffs.iter().map(|&v| f64::from(v)).sum::<f64>() / diffs.len() as f64;
    assert!(mean < 3.0, "JPEG q95 and PNG regions differ on average by {mean}");
    assert!(diffs.iter().any(|&v| v > 0), "JPEG output must be lossy: the two encodings cannot be identical");
    // large_image accepts style={"icc":false}; the synthetic slides carry no ICC profile, so the
    // pixels are the same as with the server's default.
    let no_icc = dir.join("no-icc");
    download(
        &d,
        &csv,
        &no_icc,
        &["--mag", "20", "--slides", "TCGA-SY-NTH2", "--pipeline", "images", "--encoding", "png", "--no-icc"],
    );
    let c = png::decode_rgb(&std::fs::read(no_icc.join(name)).unwrap()).unwrap();
    assert!(c == b, "--no-icc changed pixels of a slide without an ICC profile");
}

#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn compat_server_errors_are_one_sentence() {
    let d = dsa();
    let dir = Dir::new();
    let csv = setup(&dir);
    let cases: [(&[&str], &str); 3] = [
        (&["--api-key", "not-a-key", "--folder-id", &d.folder], "Invalid API key."),
        (&["--api-key", &d.key, "--folder-id", &d.empty_folder], "holds no slide"),
        (&["--api-key", &d.key, "--folder-id", "0123456789abcdef01234567"], "No such folder"),
    ];
    for (flags, want) in cases {
        let r = run(bcss()
            .args(["download", "--api-url", &d.url])
            .args(flags)
            .arg("--roi-bounds")
            .arg(&csv)
            .arg("--out")
            .arg(dir.join("x")));
        assert_eq!(r.code, 3, "{flags:?}: {}", r.stderr);
        let first = r
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no error line: {}", r.stderr));
        assert!(first.contains(want), "{flags:?}: {first}");
        assert!(!r.stderr.contains("panicked") && !r.stderr.contains("backtrace"));
    }
    // Without a key the private folder cannot be listed: Girder answers 401 access.
    let r = run(bcss()
        .args(["download", "--api-url", &d.url, "--folder-id", &d.folder])
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(dir.join("y")));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("Read access denied"), "{}", r.stderr);
}
