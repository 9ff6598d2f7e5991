//! BCSS without the DSA: the real `bcss` binary against the GDC stand-in
//! (`bcss_testserver::gdc`) serving real SVS files (`bcss_testserver::svs`: JPEG and JPEG 2000
//! tiles, several tile sizes, classic TIFF and BigTIFF, and one slide of realistic geometry).
//!
//! The three roads must give one dataset: ROIs read from the GDC by byte ranges are compared
//! pixel for pixel with `bcss extract` on the complete files, at `--mpp 0.25`, `--mag 20` and
//! `--base`, and the bytes the stand-in served are counted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bcss::model::Rect;
use bcss_testserver::gdc::{md5_file, uuid_for, GdcConfig, GdcFaults, GdcFile, GdcServer, TokenEcho};
use bcss_testserver::svs::{write_hostile_svs, write_svs, Content, Hostile, SvsSpec, TileCodec};

use crate::harness::Running;
use crate::util::{bcss, files_under, run, Dir};

/// One test slide: its BCSS name (from the built-in table, so the GDC is searched by it), the
/// file, and the ROIs cut from it (id, xmin, ymin, xmax, ymax).
struct Slide {
    name: &'static str,
    path: PathBuf,
}

struct Fixture {
    _dir: tempfile::TempDir,
    slides: Vec<Slide>,
    /// Every slide file, for `bcss extract --slides-dir`.
    slides_dir: PathBuf,
    /// A roiBounds.csv of every ROI, masks linked as local PNGs.
    csv: PathBuf,
}

const NAMES: [&str; 5] = [
    "TCGA-A1-A0SK-01Z-00-DX1.A44D70FA-4D96-43F4-9DD7-A61535786297.svs",
    "TCGA-A1-A0SP-01Z-00-DX1.20D689C6-EFA5-4694-BE76-24475A89ACC0.svs",
    "TCGA-A2-A04P-01Z-00-DX1.5B481E02-D269-4732-8FDD-6494E6EE2B71.svs",
    "TCGA-A2-A04Q-01Z-00-DX1.DF7ED6B6-7701-486D-9007-F26B6F0682C4.svs",
    "TCGA-A2-A04T-01Z-00-DX1.71444266-BD56-4183-9603-C7AC20C9DA1E.svs",
];

/// The realistic slide: 40 000 x 30 000 base pixels, blank but for the ROI's neighbourhood.
const BIG: usize = 4;
const BIG_ROI: Rect = Rect { left: 20_013, top: 14_007, right: 23_013, bottom: 16_507 };

fn rect(left: u64, top: u64, right: u64, bottom: u64) -> Rect {
    Rect { left, top, right, bottom }
}

fn write_gray(path: &Path, w: u32, h: u32, data: &[u8]) {
    let mut enc = png::Encoder::new(std::fs::File::create(path).unwrap(), w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.write_header().unwrap().write_image_data(data).unwrap();
}

/// The slides, written once per test binary.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let slides_dir = dir.path().join("slides");
        std::fs::create_dir(&slides_dir).unwrap();
        let specs: Vec<(SvsSpec, Vec<Rect>)> = vec![
            // Aperio's usual shape: 256-px JPEG tiles, levels 1, 4, 16.
            (SvsSpec::new(6000, 5000), vec![rect(1000, 1200, 1800, 1800), rect(3333, 2111, 4100, 2700)]),
            // 240-px tiles, two levels, odd size.
            (SvsSpec { tile: 240, levels: vec![1, 4], ..SvsSpec::new(5003, 4001) }, vec![rect(1501, 999, 2250, 1600)]),
            // 512-px tiles in a BigTIFF.
            (SvsSpec { tile: 512, bigtiff: true, ..SvsSpec::new(7000, 5000) }, vec![rect(2100, 1700, 2900, 2300)]),
            // JPEG 2000 tiles (Aperio 33005).
            (
                SvsSpec { codec: TileCodec::Jpeg2000, levels: vec![1, 4], ..SvsSpec::new(3000, 2500) },
                vec![rect(700, 600, 1400, 1100)],
            ),
            // Realistic geometry: a 40 000 x 30 000 level 0, mostly blank.
            (
                SvsSpec {
                    levels: vec![1, 4, 16, 32],
                    content: Content::MostlyBlank {
                        textured: vec![
                            rect(BIG_ROI.left - 600, BIG_ROI.top - 600, BIG_ROI.right + 600, BIG_ROI.bottom + 600),
                            // More tissue elsewhere, as on a real slide.
                            rect(3000, 3000, 9000, 9000),
                            rect(30_000, 20_000, 36_000, 26_000),
                        ],
                    },
                    ..SvsSpec::new(40_000, 30_000)
                },
                vec![BIG_ROI],
            ),
        ];
        let mut csv = String::from(",xmin,ymin,xmax,ymax,mask_link\r\n");
        let mut slides = Vec::new();
        for (i, (spec, rois)) in specs.into_iter().enumerate() {
            let path = slides_dir.join(NAMES[i]);
            write_svs(&path, &spec).unwrap();
            for (k, r) in rois.iter().enumerate() {
                let id = format!("{}-DX{}", &NAMES[i][..12], k + 1);
                let (w, h) = (r.width() as u32, r.height() as u32);
                let data: Vec<u8> = (0..w * h).map(|p| ((p % w) / 37 % 22) as u8).collect();
                let mask = dir.path().join(format!("{id}.png"));
                write_gray(&mask, w, h, &data);
                csv += &format!("{id},{},{},{},{},{}\r\n", r.left, r.top, r.right, r.bottom, mask.display());
            }
            slides.push(Slide { name: NAMES[i], path });
        }
        let csv_path = dir.path().join("roiBounds.csv");
        std::fs::write(&csv_path, csv).unwrap();
        Fixture { _dir: dir, slides, slides_dir, csv: csv_path }
    })
}

fn server(slides: &[&Slide], faults: GdcFaults, token: Option<&str>) -> GdcServer {
    GdcServer::start(GdcConfig {
        files: slides.iter().map(|s| GdcFile::from_path(&s.path)).collect(),
        token: token.map(str::to_string),
        faults,
    })
}

fn gdc_download(server: &GdcServer, out: &Path, extra: &[&str]) -> std::process::Command {
    let f = fixture();
    let mut cmd = bcss();
    cmd.args(["--no-progress", "download", "--source", "gdc", "--gdc-url", &server.url(), "--roi-bounds"])
        .arg(&f.csv)
        .arg("--out")
        .arg(out)
        .args(["--jobs", "2"])
        .args(extra);
    cmd
}

/// Decoded PNGs of a dataset, by relative path: (width, height, pixels).
fn pixels(root: &Path) -> BTreeMap<String, (u32, u32, Vec<u8>)> {
    files_under(root)
        .into_iter()
        .filter(|f| (f.starts_with("images/") || f.starts_with("masks/")) && f.ends_with(".png"))
        .map(|f| {
            let mut reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(root.join(&f)).unwrap()))
                .read_info()
                .unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            buf.truncate(info.buffer_size());
            (f, (info.width, info.height, buf))
        })
        .collect()
}

fn slides_arg(slides: &[&Slide]) -> String {
    slides.iter().map(|s| &s.name[..12]).collect::<Vec<_>>().join(",")
}

#[test]
fn gdc_rois_are_the_pixels_of_extract_on_the_complete_files() {
    let f = fixture();
    let small: Vec<&Slide> = f.slides.iter().take(4).collect();
    let s = server(&small, GdcFaults::default(), None);
    let d = Dir::new();
    let only = slides_arg(&small);
    for (flag, value) in [("--mpp", Some("0.25")), ("--mag", Some("20")), ("--base", None)] {
        let mut res: Vec<&str> = vec![flag];
        res.extend(value);
        let tag = flag.trim_start_matches('-');
        let (gdc_out, local_out) = (d.join(&format!("gdc-{tag}")), d.join(&format!("local-{tag}")));
        s.reset_counters();
        let mut args = vec!["--slides", &only, "--json"];
        args.extend(&res);
        let r = run(&mut gdc_download(&s, &gdc_out, &args));
        assert_eq!(r.code, 0, "{flag}: {}", r.stderr);
        let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(summary["done"].as_array().unwrap().len(), 5, "{flag}: {summary}");
        let total_size: u64 = small.iter().map(|s| std::fs::metadata(&s.path).unwrap().len()).sum();
        assert_eq!(summary["slide_bytes"].as_u64(), Some(total_size), "{flag}: slide sizes reported");

        let r = run(bcss()
            .args(["--no-progress", "extract", "--slides-dir"])
            .arg(&f.slides_dir)
            .arg("--roi-bounds")
            .arg(&f.csv)
            .arg("--out")
            .arg(&local_out)
            .args(["--slides", &only])
            .args(&res));
        assert_eq!(r.code, 0, "{flag}: extract: {}", r.stderr);

        let (a, b) = (pixels(&gdc_out), pixels(&local_out));
        assert_eq!(a.len(), 10, "{flag}: five images and five masks: {:?}", a.keys());
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{flag}: same files");
        for (name, got) in &a {
            assert!(got == &b[name], "{flag}: {name} differs from extract on the complete file");
        }
        // The manifest says where the pixels came from.
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(gdc_out.join("manifest.json")).unwrap()).unwrap();
        assert!(m["source"].as_str().unwrap().starts_with("gdc:http://127.0.0.1:"), "{}", m["source"]);
        for (roi, e) in m["rois"].as_object().unwrap() {
            assert_eq!(e["encoding"], "gdc", "{roi}");
        }
    }
    // Only parts of each file were fetched, over all three resolutions.
    let all = s.bytes_served();
    assert!(all > 0);
    for slide in &small {
        let id = bcss_testserver::gdc::uuid_for(slide.name);
        let served = s.bytes_served_for(&id);
        let size = std::fs::metadata(&slide.path).unwrap().len();
        assert!(served < size, "{}: served {served} of {size} bytes", slide.name);
    }
}

#[test]
fn a_rerun_or_another_resolution_fetches_nothing_twice() {
    let f = fixture();
    let one = [&f.slides[0]];
    let s = server(&one, GdcFaults::default(), None);
    let d = Dir::new();
    let only = slides_arg(&one);
    let first = d.join("mag10");
    let r = run(&mut gdc_download(&s, &first, &["--slides", &only, "--mag", "10"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(s.bytes_served() > 0);
    // A rerun of a complete dataset fetches nothing.
    s.reset_counters();
    let r = run(&mut gdc_download(&s, &first, &["--slides", &only, "--mag", "10"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.bytes_served(), 0);
    // Another resolution (another root) sharing the cache: mag 5 reads the same level as mag 10
    // (downsample 4, resampled), so every byte is in the cache already.
    s.reset_counters();
    let second = d.join("mag5");
    let cache = first.join(".cache/gdc");
    let r = run(gdc_download(&s, &second, &["--slides", &only, "--mag", "5", "--gdc-cache"]).arg(&cache));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.bytes_served(), 0, "the shared cache had every tile: {:?}", s.ranges_served());
    assert_eq!(files_under(&second.join("images")).len(), 2);
    assert!(!second.join(".cache").exists(), "the given cache is used, not a new one");
}

#[test]
fn a_bcss_sized_roi_of_a_big_slide_costs_about_its_tiles() {
    let f = fixture();
    let big = &f.slides[BIG];
    let s = server(&[big], GdcFaults::default(), None);
    let d = Dir::new();
    let out = d.join("BCSS");
    let r = run(&mut gdc_download(&s, &out, &["--slides", &big.name[..12], "--mpp", "0.25", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let served = s.bytes_served();

    // What the ROI needs, computed from the complete file: its level-0 tiles, plus the
    // directories and the smallest level (and the probe tiles, a few KB).
    let bytes = std::fs::read(&big.path).unwrap();
    let mut read_at = |off: u64, len: u64| -> Result<Vec<u8>, std::io::Error> {
        Ok(bytes[off as usize..(off + len).min(bytes.len() as u64) as usize].to_vec())
    };
    let layout = bcss_tiff::parse(bytes.len() as u64, &mut read_at).unwrap();
    let level0 = layout.tiled_levels()[0];
    let roi_tiles = bcss_tiff::tiles_for(&layout, level0, BIG_ROI).unwrap();
    let sum = |r: &[std::ops::Range<u64>]| bcss_tiff::merge(r.to_vec()).iter().map(|r| r.end - r.start).sum::<u64>();
    let need = sum(&roi_tiles) + sum(&bcss_tiff::open_ranges(&layout));
    assert!(
        served <= 2 * need,
        "served {served} bytes; the ROI's tiles, directories and smallest level are {need} (file {})",
        bytes.len()
    );
    assert!(served < bytes.len() as u64 / 2, "served {served} of a {} byte file", bytes.len());
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["bytes"].as_u64().map(|b| b >= served), Some(true), "{summary}");
}

#[test]
fn whole_slides_resume_after_kill_and_match_their_md5() {
    let f = fixture();
    let slide = &f.slides[2];
    let size = std::fs::metadata(&slide.path).unwrap().len();
    // Slow enough that the first run is caught mid-file.
    let s = server(&[slide], GdcFaults { bytes_per_sec: Some(size / 8), ..Default::default() }, None);
    let d = Dir::new();
    let out = d.join("BCSS");
    let part = out.join("wsis").join(format!("{}.part", slide.name));
    let mut first = Running::spawn(
        gdc_download(&s, &out, &["--slides", &slide.name[..12], "--pipeline", "wsis"]),
        d.join("first.stderr"),
    );
    let caught = first.until(|| std::fs::metadata(&part).is_ok_and(|m| m.len() >= 64 * 1024), || {});
    assert!(caught, "the download finished before it could be killed: {}", first.stderr());
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept < size, "killed mid-file: {kept} of {size}");
    assert!(!out.join("wsis").join(slide.name).exists(), "no file under its final name before it is complete");

    s.set_faults(GdcFaults::default());
    s.reset_counters();
    let r = run(&mut gdc_download(&s, &out, &["--slides", &slide.name[..12], "--pipeline", "wsis", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // What this run received, as it reports it (the server's byte counter may still be counting
    // the killed run's connection until it notices the client is gone, so it is not used here).
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["bytes"].as_u64(), Some(size - kept), "resumed from byte {kept} of {size}: {summary}");
    assert_eq!(summary["done"].as_array().unwrap().len(), 1, "{summary}");
    let ranges = s.ranges_served();
    let resumed: Vec<_> = ranges.iter().filter(|r| r.1 != 0).collect();
    assert_eq!(resumed.len(), 1, "one request for the rest of the file: {ranges:?}");
    assert_eq!((resumed[0].1, resumed[0].2), (kept, size), "{ranges:?}");
    let wsi = out.join("wsis").join(slide.name);
    assert_eq!(md5_file(&wsi).unwrap(), md5_file(&slide.path).unwrap());
    assert!(!part.exists());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["slides"][slide.name]["bytes"].as_u64(), Some(size));
    assert_eq!(m["slides"][slide.name]["md5"].as_str().unwrap(), md5_file(&slide.path).unwrap());

    // A third run finds it complete; then the files work with `extract`.
    s.reset_counters();
    let r = run(&mut gdc_download(&s, &out, &["--slides", &slide.name[..12], "--pipeline", "wsis", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.bytes_served(), 0);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["skipped"].as_array().unwrap().len(), 1, "{summary}");
    // Killed between the rename and the manifest: the file is complete but unrecorded. It is
    // checked by MD5 and recorded, not downloaded again.
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("slides");
    std::fs::write(out.join("manifest.json"), serde_json::to_string_pretty(&m).unwrap()).unwrap();
    s.reset_counters();
    let r = run(&mut gdc_download(&s, &out, &["--slides", &slide.name[..12], "--pipeline", "wsis"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.bytes_served(), 0, "an unrecorded complete file is not fetched again");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["slides"][slide.name]["bytes"].as_u64(), Some(size));
    let r = run(bcss()
        .args(["--no-progress", "extract", "--slides-dir"])
        .arg(out.join("wsis"))
        .arg("--roi-bounds")
        .arg(&f.csv)
        .arg("--out")
        .arg(&out)
        .args(["--slides", &slide.name[..12]]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(files_under(&out.join("images")).len(), 1);
}

#[test]
fn whole_slides_and_rois_in_one_run_cut_the_rois_from_the_whole_slides() {
    let f = fixture();
    let slide = &f.slides[1];
    let s = server(&[slide], GdcFaults::default(), None);
    let d = Dir::new();
    let out = d.join("BCSS");
    let r = run(&mut gdc_download(&s, &out, &["--slides", &slide.name[..12], "--pipeline", "wsis,images,masks"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let size = std::fs::metadata(&slide.path).unwrap().len();
    assert_eq!(s.bytes_served(), size, "the slide once, nothing fetched again for the ROI");
    assert!(!out.join(".cache").exists(), "no range cache when the whole slide is there");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let roi = &m["rois"][format!("{}-DX1", &slide.name[..12])];
    assert_eq!(roi["encoding"], "local", "{roi}");
    assert_eq!(files_under(&out.join("images")).len(), 1);
}

#[test]
fn a_wrong_md5_keeps_no_file() {
    let f = fixture();
    let slide = &f.slides[3];
    let s = server(&[slide], GdcFaults { wrong_md5: true, ..Default::default() }, None);
    let d = Dir::new();
    let out = d.join("BCSS");
    let r = run(&mut gdc_download(&s, &out, &["--slides", &slide.name[..12], "--pipeline", "wsis"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("does not match the GDC's record"), "{}", r.stderr);
    let left: Vec<String> = files_under(&out.join("wsis"));
    assert!(left.is_empty(), "nothing kept, not even the part file: {left:?}");
}

#[test]
fn a_manifest_that_cannot_be_written_names_the_file_and_its_cause_once() {
    let f = fixture();
    let known: Vec<&Slide> = f.slides.iter().take(1).collect();
    let s = server(&known, GdcFaults::default(), None);
    let d = Dir::new();
    let path = d.join("no-such-folder/gdc_manifest.txt");
    let r = run(bcss()
        .args(["slides", "manifest", "--gdc-url", &s.url(), "--slides", &slides_arg(&known), "--out"])
        .arg(&path));
    assert_eq!(r.code, 4, "{}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter_map(|l| l.strip_prefix("error: ")).collect();
    // The cause is `tempfile`'s error, which names the temporary file it could not create.
    let [line] = errors.as_slice() else { panic!("{}", r.stderr) };
    let (said, temporary) =
        line.split_once(" at path ").unwrap_or_else(|| panic!("the temporary file is named: {line}"));
    assert_eq!(said, format!("cannot write `{}`: No such file or directory (os error 2)", path.display()));
    assert!(temporary.starts_with(&format!("\"{}", d.join("no-such-folder/.gdc_manifest.txt.").display())), "{line}");
}

#[test]
fn the_manifest_lists_every_known_slide_and_names_the_unknown() {
    let f = fixture();
    let known: Vec<&Slide> = f.slides.iter().take(3).collect();
    let s = server(&known, GdcFaults::default(), None);
    let d = Dir::new();
    let path = d.join("gdc_manifest.txt");
    // TCGA-A2-A0CM is a BCSS slide the stand-in does not hold.
    let wanted = format!("{},TCGA-A2-A0CM", slides_arg(&known));
    let r = run(bcss().args(["slides", "manifest", "--gdc-url", &s.url(), "--slides", &wanted, "--out"]).arg(&path));
    assert_eq!(r.code, 1, "an unknown slide is an error: {}", r.stderr);
    assert!(
        r.stderr.contains("missing: TCGA-A2-A0CM: the GDC has no file named `TCGA-A2-A0CM-01Z-00-DX1.AC4901DE"),
        "{}",
        r.stderr
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id\tfilename\tmd5\tsize\tstate"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3);
    for (row, slide) in rows.iter().zip(&known) {
        assert_eq!(row.len(), 5, "{row:?}");
        assert_eq!(row[0], bcss_testserver::gdc::uuid_for(slide.name));
        assert_eq!(row[1], slide.name);
        assert_eq!(row[2], md5_file(&slide.path).unwrap());
        assert_eq!(row[3].parse::<u64>().unwrap(), std::fs::metadata(&slide.path).unwrap().len());
        assert_eq!(row[4], "released");
    }
    assert!(text.ends_with('\n') && !text.contains('\r'));

    // The manifest then stands in for the search: a download with it asks `/files` nothing.
    s.reset_counters();
    let out = d.join("BCSS");
    let r = run(gdc_download(&s, &out, &["--slides", &slides_arg(&known[..1]), "--gdc-manifest"]).arg(&path));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(s.requests().iter().all(|q| !q.path.starts_with("/files")), "{:?}", s.requests());
}

#[test]
fn a_server_that_ignores_ranges_fails_the_roi_clearly() {
    let f = fixture();
    let one = [&f.slides[1]];
    let s = server(&one, GdcFaults { ignore_range: true, ..Default::default() }, None);
    let d = Dir::new();
    let out = d.join("BCSS");
    let r = run(&mut gdc_download(&s, &out, &["--slides", &slides_arg(&one)]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("ignored the byte range"), "{}", r.stderr);
    // The same server ignores ranges on a rerun too: no "rerun" hint (issue 22).
    assert!(!r.stderr.contains("rerun the same command"), "{}", r.stderr);
    assert!(r.stderr.contains("will not change on a rerun alone"), "{}", r.stderr);
    assert!(files_under(&out.join("images")).is_empty());
}

#[test]
fn the_gdc_token_travels_in_its_header_and_nowhere_else() {
    let f = fixture();
    let one = [&f.slides[1]];
    let token = "gdc-token-SECRET-0123456789";
    let s = server(&one, GdcFaults::default(), Some(token));
    let d = Dir::new();
    let out = d.join("BCSS");
    let without = run(&mut gdc_download(&s, &out, &["--slides", &slides_arg(&one)]));
    assert_eq!(without.code, 1, "{}", without.stderr);
    assert!(without.stderr.contains("HTTP 403"), "{}", without.stderr);
    let token_file = d.write("token.txt", &format!("{token}\n"));
    s.reset_counters();
    let r = run(gdc_download(&s, &out, &["--slides", &slides_arg(&one), "--json"])
        .arg("--gdc-token-file")
        .arg(&token_file));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let data: Vec<_> = s.requests().into_iter().filter(|q| q.path.starts_with("/data/")).collect();
    assert!(!data.is_empty() && data.iter().all(|q| q.header("X-Auth-Token") == Some(token)));
    for text in [&r.stdout, &r.stderr, &without.stderr] {
        assert!(!text.contains(token), "the token leaked: {text}");
    }
    for rel in files_under(&out) {
        if rel.starts_with(".cache/") {
            continue;
        }
        let bytes = std::fs::read(out.join(&rel)).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(token), "the token is in {rel}");
    }
}

/// The text of every file under `root` (logs, manifest, records), for leak checks.
fn texts_under(root: &Path) -> Vec<(String, String)> {
    files_under(root)
        .into_iter()
        .filter(|rel| !rel.ends_with(".svs"))
        .map(|rel| {
            let text = String::from_utf8_lossy(&std::fs::read(root.join(&rel)).unwrap()).into_owned();
            (rel, text)
        })
        .collect()
}

#[test]
fn planted_links_in_the_gdc_cache_are_refused_and_their_targets_untouched() {
    let f = fixture();
    let slide = &f.slides[1];
    let s = server(&[slide], GdcFaults::default(), None);
    let d = Dir::new();
    let outside = d.write("outside.txt", "precious");
    let out = d.join("BCSS");
    let cache = out.join(".cache/gdc");
    std::fs::create_dir_all(&cache).unwrap();
    let id = uuid_for(slide.name);
    for ext in ["svs", "lock"] {
        let link = cache.join(format!("{id}.{ext}"));
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let r = run(&mut gdc_download(&s, &out, &["--slides", &slide.name[..12]]));
        assert_eq!(r.code, 1, "{ext}: {}", r.stderr);
        assert!(r.stderr.contains("symbolic link"), "{ext}: {}", r.stderr);
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious", "{ext}: the target was changed");
        assert!(files_under(&out.join("images")).is_empty());
        std::fs::remove_file(&link).unwrap();
    }
    // The record is replaced (renamed over), never written through.
    std::os::unix::fs::symlink(&outside, cache.join(format!("{id}.ranges"))).unwrap();
    let r = run(&mut gdc_download(&s, &out, &["--slides", &slide.name[..12]]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
    assert_eq!(files_under(&out.join("images")).len(), 1);
}

#[test]
fn a_planted_part_file_or_wsis_link_is_refused_and_its_target_untouched() {
    let f = fixture();
    let slide = &f.slides[3];
    let s = server(&[slide], GdcFaults::default(), None);
    let d = Dir::new();
    let outside = d.write("outside.txt", "precious");
    let out = d.join("BCSS");
    std::fs::create_dir_all(out.join("wsis")).unwrap();
    let part = out.join("wsis").join(format!("{}.part", slide.name));
    std::os::unix::fs::symlink(&outside, &part).unwrap();
    let r = run(&mut gdc_download(&s, &out, &["--slides", &slide.name[..12], "--pipeline", "wsis"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(out.join("wsis").join(slide.name)).is_err(), "nothing under the final name");
    assert_eq!(s.bytes_served(), 0, "refused before anything was fetched");

    // `wsis/` itself a link to a folder elsewhere: refused, nothing written there.
    let elsewhere = d.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out2 = d.join("BCSS2");
    std::fs::create_dir(&out2).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out2.join("wsis")).unwrap();
    let r = run(&mut gdc_download(&s, &out2, &["--slides", &slide.name[..12], "--pipeline", "wsis"]));
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert!(files_under(&elsewhere).is_empty(), "{:?}", files_under(&elsewhere));
}

#[test]
fn hostile_slides_fail_their_rois_without_fetching_or_allocating_what_they_claim() {
    let f = fixture();
    let name = f.slides[0].name;
    let d = Dir::new();
    for (kind, said) in [
        (Hostile::HugePrivateTag, "tag 65000: 34359738360 bytes of values".to_string()),
        (Hostile::ByteOffsets, format!("over the limit of {} bytes per slide", bcss_tiff::MAX_METADATA)),
        (
            Hostile::HugeTile,
            format!("tile 0 claims 4294967295 bytes, over the limit of {} bytes", bcss_tiff::max_tile_bytes(256, 256)),
        ),
    ] {
        let dir = d.join(&format!("{kind:?}"));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join(name);
        write_hostile_svs(&path, &SvsSpec::new(6000, 5000), kind).unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size > 1 << 28, "{kind:?}: the file is as long as its claim ({size} bytes)");
        let s = GdcServer::start(GdcConfig {
            files: vec![GdcFile { md5: Some("0".repeat(32)), ..GdcFile::from_path(&path) }],
            token: None,
            faults: GdcFaults::default(),
        });
        let out = dir.join("BCSS");
        // Under an address-space limit far below what the claims would cost (a 256 MiB array
        // widened to 2 GiB, a 4 GiB tile, a 32 GiB tag): a ROI failure, not an abort.
        let mut cmd = std::process::Command::new("prlimit");
        let inner = gdc_download(&s, &out, &["--slides", &name[..12], "--json"]);
        cmd.arg("--as=800000000").arg("--").arg(inner.get_program()).args(inner.get_args());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.env("MALLOC_ARENA_MAX", "2");
        let r = run(&mut cmd);
        assert_eq!(r.code, 1, "{kind:?}: {}", r.stderr);
        assert!(r.stderr.contains(&said), "{kind:?}: expected `{said}` in {}", r.stderr);
        let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(summary["failed"].as_array().unwrap().len(), 2, "{kind:?}: both ROIs of the slide: {summary}");
        // A rerun meets the same slide: the failures are lasting, so no "rerun" is offered.
        assert_eq!(summary["lasting"].as_array().unwrap().len(), 2, "{kind:?}: {summary}");
        assert!(s.bytes_served() < 1 << 20, "{kind:?}: served {} bytes", s.bytes_served());
    }
}

#[test]
fn the_gdc_token_echoed_by_the_server_is_shown_nowhere() {
    let f = fixture();
    let one = [&f.slides[1]];
    let token = "gdc-token-ECHOED-0123456789";
    let d = Dir::new();
    let token_file = d.write("token.txt", &format!("{token}\n"));
    for echo in [TokenEcho::ContentRange, TokenEcho::FileSize, TokenEcho::Md5, TokenEcho::HitName, TokenEcho::Message] {
        let s = server(&one, GdcFaults { echo_token: Some(echo), ..Default::default() }, Some(token));
        let out = d.join(&format!("{echo:?}"));
        let r = run(gdc_download(&s, &out, &["--slides", &slides_arg(&one), "--json"])
            .arg("--gdc-token-file")
            .arg(&token_file));
        let texts = texts_under(&out);
        for (what, text) in
            [("stdout", &r.stdout), ("stderr", &r.stderr)].into_iter().chain(texts.iter().map(|(p, t)| (p.as_str(), t)))
        {
            assert!(!text.contains(token), "{echo:?}: the token is in {what}: {text}");
        }
        // The echo reached bcss, which showed it redacted (or, for a hit not asked for, ignored it).
        let all: String = texts.iter().map(|(_, t)| t.as_str()).chain([r.stderr.as_str()]).collect();
        match echo {
            TokenEcho::HitName => {
                assert_eq!(r.code, 0, "{echo:?}: {}", r.stderr);
                assert!(all.contains("not asked for"), "{echo:?}: {all}");
            }
            _ => {
                assert_ne!(r.code, 0, "{echo:?}: {}", r.stderr);
                assert!(all.contains("[redacted]"), "{echo:?}: {all}");
            }
        }
    }
}

#[test]
fn a_files_page_of_far_more_hits_than_asked_is_refused() {
    let f = fixture();
    let one = [&f.slides[1]];
    let d = Dir::new();
    // 250 000 hits (over 50 MB): over the body limit. 1000 hits (200 KB): over the page size.
    for (extra, said) in
        [(250_000u64, "more than the 8388608 accepted"), (1000, "1001 hits in one page, over the 100 asked for")]
    {
        let s = server(&one, GdcFaults { extra_hits: extra, ..Default::default() }, None);
        let out = d.join(&format!("x{extra}"));
        let r = run(&mut gdc_download(&s, &out, &["--slides", &slides_arg(&one)]));
        assert_ne!(r.code, 0, "{extra}: {}", r.stderr);
        assert!(r.stderr.contains(said), "{extra}: expected `{said}` in {}", r.stderr);
        assert_eq!(s.requests().iter().filter(|q| q.path == "/files").count(), 1, "refused, not retried");
    }
}

#[test]
fn a_manifest_that_gives_one_slide_another_slides_file_is_refused() {
    let f = fixture();
    let (a, b) = (&f.slides[0], &f.slides[1]);
    let s = server(&[a, b], GdcFaults::default(), None);
    let d = Dir::new();
    let head = "id\tfilename\tmd5\tsize\tstate\n";
    let row = |file: &Slide, name: &str| {
        format!(
            "{}\t{name}\t{}\t{}\treleased\n",
            uuid_for(file.name),
            md5_file(&file.path).unwrap(),
            std::fs::metadata(&file.path).unwrap().len()
        )
    };
    // One file listed under both slides' names.
    let both = d.write("both.txt", &format!("{head}{}{}", row(a, a.name), row(a, b.name)));
    let r = run(gdc_download(&s, &d.join("one"), &["--slides", &slides_arg(&[a, b]), "--gdc-manifest"]).arg(&both));
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("line 3: file id") && r.stderr.contains("one file cannot be two slides"), "{}", r.stderr);
    assert_eq!(s.bytes_served(), 0);
    // Slide B's name on slide A's file: its Aperio Filename says it is A.
    let wrong = d.write("wrong.txt", &format!("{head}{}", row(a, b.name)));
    let out = d.join("two");
    let r = run(gdc_download(&s, &out, &["--slides", &slides_arg(&[b]), "--gdc-manifest"]).arg(&wrong));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let said = format!("is slide `{}` (its Aperio `Filename`), not `{}`", &a.name[..23], &b.name[..12]);
    assert!(r.stderr.contains(&said), "expected `{said}` in {}", r.stderr);
    assert!(files_under(&out.join("images")).is_empty());
}
