//! The three roads on the real DSA's slide files: `download --source gdc` (the GDC stand-in
//! serving the very `.svs` files the real DSA of `compat/real-dsa` serves), `download --encoding
//! png` from that DSA, and `extract` on the files must give identical images and masks.
//!
//! Needs the real DSA (run by `.ci/run`); see `compat_extract` for the environment.

use bcss_testserver::gdc::{GdcConfig, GdcFile, GdcServer};

use super::compat_extract::{decode_rgb, env, setup, ROIS};
use crate::util::{bcss, run, Dir};

fn three_roads(resolution: &[&str], suffix: &str) {
    let slides_dir = std::path::PathBuf::from(env("REAL_DSA_SLIDES"));
    let mut files: Vec<GdcFile> = std::fs::read_dir(&slides_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "svs"))
        .map(|p| GdcFile::from_path(&p))
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(files.len() >= 2, "the real DSA's slides: {files:?}");
    let sizes: Vec<(String, u64)> =
        files.iter().map(|f| (f.id.clone(), std::fs::metadata(&f.path).unwrap().len())).collect();
    let gdc = GdcServer::start(GdcConfig { files, ..Default::default() });
    let d = Dir::new();
    let csv = setup(&d);
    // Synthetic slide names are not in the built-in table: the manifest maps short names.
    let manifest = d.write("gdc_manifest.txt", &gdc.manifest());
    let (via_gdc, via_dsa, local) = (d.join("gdc"), d.join("dsa"), d.join("local"));
    let r = run(bcss()
        .args(["download", "--source", "gdc", "--no-progress", "--jobs", "1", "--gdc-url", &gdc.url()])
        .args(resolution)
        .arg("--gdc-manifest")
        .arg(&manifest)
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&via_gdc));
    assert_eq!(r.code, 0, "gdc: {}", r.stderr);
    let r = run(bcss()
        .args(["download", "--encoding", "png", "--no-progress", "--jobs", "1"])
        .args(resolution)
        .args([
            "--api-url",
            &env("DSA_API_URL"),
            "--api-key",
            &env("DSA_API_KEY"),
            "--folder-id",
            &env("DSA_FOLDER_ID"),
        ])
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&via_dsa));
    assert_eq!(r.code, 0, "dsa: {}", r.stderr);
    let r = run(bcss()
        .args(["extract", "--no-progress"])
        .args(resolution)
        .arg("--slides-dir")
        .arg(&slides_dir)
        .arg("--roi-bounds")
        .arg(&csv)
        .arg("--out")
        .arg(&local));
    assert_eq!(r.code, 0, "extract: {}", r.stderr);
    for (id, [x0, y0, _, _]) in ROIS {
        let name = format!("{id}_xmin{x0}_ymin{y0}_{suffix}.png");
        for part in ["images", "masks"] {
            let g = decode_rgb(&via_gdc.join(part).join(&name));
            let ds = decode_rgb(&via_dsa.join(part).join(&name));
            let l = decode_rgb(&local.join(part).join(&name));
            assert_eq!((g.0, g.1), (l.0, l.1), "{part}/{name}: sizes");
            assert!(g == l, "{part}/{name}: GDC road differs from extract");
            assert!(g == ds, "{part}/{name}: GDC road differs from the real DSA's PNG region");
        }
    }
    for (id, size) in sizes {
        let served = gdc.bytes_served_for(&id);
        assert!(served < size, "{id}: served {served} of {size} bytes");
        eprintln!("{resolution:?}: slide {id}: {served} of {size} bytes fetched");
    }
}

#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn gdc_dsa_and_extract_agree_at_mpp_025() {
    three_roads(&["--mpp", "0.25"], "MPP-0.2500");
}

#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn gdc_dsa_and_extract_agree_at_mag_20() {
    three_roads(&["--mag", "20"], "MAG-20.00");
}

#[test]
#[ignore = "needs the real DSA; run by .ci/run"]
fn gdc_dsa_and_extract_agree_at_base() {
    three_roads(&["--base"], "MAG-0");
}
