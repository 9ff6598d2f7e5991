//! `bcss report` as the real binary: its numbers against `bcss stats --json` and
//! `bcss eval --json` on the same dataset, names escaped, thumbnails bounded, the size of a
//! 151-ROI report, and the page opened in a real headless Chromium (clicked, sorted, toggled,
//! screenshotted).

use std::path::{Path, PathBuf};

use bcss::catalog::classmap::ClassMap;
use bcss::catalog::RoiTable;
use serde_json::Value;

use crate::analysis::{json, write_png};
use crate::browser::Browser;
use crate::util::{bcss, run, Dir};

/// ROIs of the official split: A1 and BH are train sites, OL and E2 test sites.
const ROIS: [(&str, usize, usize); 5] = [
    ("TCGA-A1-A0SK-DX1", 320, 240),
    ("TCGA-OL-A5RW-DX1", 200, 300),
    ("TCGA-E2-A14V-DX1", 600, 180),
    ("TCGA-BH-A0BG-DX1", 260, 260),
    ("TCGA-A2-A04P-DX1", 90, 70),
];

fn hash(mut v: u64) -> u64 {
    v ^= v >> 33;
    v = v.wrapping_mul(0xff51afd7ed558ccd);
    v ^ (v >> 29)
}

/// A mask of BCSS codes: a border of 0 (outside the ROI) whose width depends on `seed`, and
/// blocks of tissue codes (tumour, stroma, lymphocytes, necrosis, plasma cells, exclude, fat).
fn mask(seed: u64, w: usize, h: usize) -> Vec<u8> {
    const CODES: [u8; 8] = [1, 2, 2, 3, 4, 10, 7, 9];
    let border = 2 + (hash(seed) % 12) as usize;
    let cell = 24 + (seed as usize % 3) * 16;
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if x < border || y < border || x + border >= w || y + border >= h {
                return 0;
            }
            CODES[(hash(seed ^ ((x / cell) as u64) << 20 ^ (y / cell) as u64) % 8) as usize]
        })
        .collect()
}

/// The image of a mask: a colour per code plus a texture, so JPEG has something to encode.
fn image(mask: &[u8], w: usize) -> Vec<u8> {
    mask.iter()
        .enumerate()
        .flat_map(|(i, &c)| {
            let (x, y) = (i % w, i / w);
            let t = (hash((x * 31 + y * 17) as u64) % 40) as u8;
            [200 - c * 7 + t, 120 + c * 5 + t / 2, 180 - c * 3 + t]
        })
        .collect()
}

/// A prediction in main5 classes: the truth, but a vertical band called the next class and
/// don't care predicted as `other`.
fn prediction(mask: &[u8], w: usize, seed: u64) -> Vec<u8> {
    let map = ClassMap::preset("main5").unwrap();
    let band = (seed as usize * 37) % w.max(1);
    mask.iter()
        .enumerate()
        .map(|(i, &code)| {
            let c = map.lut()[code as usize];
            let x = i % w;
            if c == 0 {
                5
            } else if x >= band && x < band + w / 5 {
                c % 5 + 1
            } else {
                c
            }
        })
        .collect()
}

/// A dataset in the `bcss download` layout and, when `pred`, predictions for every ROI.
fn dataset(d: &Dir, rois: &[(&str, usize, usize)], pred: bool) -> (PathBuf, PathBuf) {
    let (root, preds) = (d.join("ds"), d.join("pred"));
    for (i, &(id, w, h)) in rois.iter().enumerate() {
        let name = format!("{id}_xmin{}_ymin{}_MPP-0.2500.png", 100 * i, 50 * i);
        let m = mask(i as u64 + 1, w, h);
        write_png(&root.join("masks").join(&name), w, h, 1, &m);
        write_png(&root.join("images").join(&name), w, h, 3, &image(&m, w));
        if pred {
            write_png(&preds.join(&name), w, h, 1, &prediction(&m, w, i as u64 + 3));
        }
    }
    (root, preds)
}

/// The JSON the page embeds (`<script id="bcss-data">`), parsed back.
fn page_data(html: &str) -> Value {
    let start = html.find("id=\"bcss-data\">").expect("the page embeds its numbers") + "id=\"bcss-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// Every `data:` image of the page, decoded: (mime, width, height).
fn page_images(html: &str) -> Vec<(String, usize, usize)> {
    use base64::Engine;
    html.split("src=\"data:")
        .skip(1)
        .map(|rest| {
            let (mime, rest) = rest.split_once(";base64,").unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(&rest[..rest.find('"').unwrap()]).unwrap();
            let img = match mime {
                "image/jpeg" => bcss::codec::jpeg::decode_rgb(&bytes).unwrap(),
                "image/png" => bcss::codec::png::decode_rgb(&bytes).unwrap(),
                other => panic!("unexpected image type {other}"),
            };
            (mime.to_string(), img.width, img.height)
        })
        .collect()
}

fn report(args: &[&str], root: &Path, out: &Path) -> Value {
    let r = run(bcss().args(["--json", "report"]).arg(root).args(args).arg("--out").arg(out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    json(&r.stdout)
}

fn pooled_of(scores: &Value, part: &str) -> Value {
    scores.as_array().unwrap().iter().find(|p| p["part"] == part).unwrap_or_else(|| panic!("no part {part}")).clone()
}

#[test]
fn report_numbers_are_those_of_stats_and_eval() {
    let d = Dir::new();
    let (root, preds) = dataset(&d, &ROIS, true);
    let out = d.join("r/report.html");
    let rv = report(&["--pred", preds.to_str().unwrap()], &root, &out);
    assert_eq!(rv["rois"], 5);

    let s = run(bcss().args(["--json", "stats"]).arg(&root).arg("--out").arg(d.join("stats")));
    assert_eq!(s.code, 0, "{}", s.stderr);
    let stats = json(&s.stdout);
    // The same per-part numbers, exactly: pixels per class, fractions, weights.
    assert_eq!(rv["parts"], stats["parts"]);
    assert_eq!(rv["parts"].as_array().unwrap().len(), 3, "train, test, all");

    // Pooled Dice/IoU over all ROIs, and over each part, as eval gives them.
    for part in [None, Some("train"), Some("test")] {
        let mut cmd = bcss();
        cmd.args(["--json", "eval", "--pred"]).arg(&preds).arg("--truth").arg(&root);
        if let Some(p) = part {
            cmd.args(["--split", "official", "--part", p]);
        }
        let e = run(&mut cmd);
        assert_eq!(e.code, 0, "{}", e.stderr);
        let e = json(&e.stdout);
        let mine = pooled_of(&rv["scores"], part.unwrap_or("all"));
        assert_eq!(mine["pooled"], e["pooled"], "part {part:?}");
        assert_eq!(mine["images"], e["images"]);
        assert_eq!(mine["labelled_pixels"], e["labelled_pixels"]);
        assert!(mine["pooled"]["mean_dice"].as_f64().unwrap() < 1.0, "the predictions have errors");
    }

    // The page carries the same numbers it was summarised with, and shows them.
    let html = std::fs::read_to_string(&out).unwrap();
    let data = page_data(&html);
    assert_eq!(data["parts"], stats["parts"]);
    assert_eq!(data["scores"], rv["scores"]);
    let all = pooled_of(&rv["scores"], "all");
    let tumour_dice = all["pooled"]["per_class"][0]["dice"].as_f64().unwrap();
    assert!(html.contains(&format!("<td>{:.1}%</td>", tumour_dice * 100.0)), "the tumour Dice is in the table");
    // Self-contained: no external resource (the SVG's `xmlns` URI names a namespace, loads nothing).
    for needle in ["src=\"http", "href=\"http", "url(", "@import", "<link", "src=\"file:", "<iframe"] {
        assert!(!html.contains(needle), "the page holds {needle}");
    }
    assert_eq!(rv["bytes"].as_u64().unwrap(), std::fs::metadata(&out).unwrap().len());
}

#[test]
fn names_are_escaped_thumbnails_bounded_and_links_relative() {
    let d = Dir::new();
    // A ROI id with markup in it (file names may hold anything but `/`), a long ROI.
    let rois = [("TCGA-A1-<i>x\"&'-DX1", 1000, 420), ("TCGA-OL-A5RW-DX1", 40, 30)];
    let (root, _) = dataset(&d, &rois, false);
    let map = d.write(
        "map.toml",
        "name = \"odd<map>\"\ndont_care = [7, 15]\n[[class]]\nname = \"<b>tumour & co</b>\"\ncodes = [1, 19, 20]\n\
         [[class]]\nname = \"rest\"\ncodes = [2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 21]\n",
    );
    let out = d.join("out/report.html");
    report(&["--class-map", map.to_str().unwrap()], &root, &out);
    let html = std::fs::read_to_string(&out).unwrap();
    for raw in ["<i>x", "<b>tumour", "odd<map>"] {
        assert!(!html.contains(raw), "`{raw}` reached the page unescaped");
    }
    assert!(html.contains("TCGA-A1-&lt;i&gt;x&quot;&amp;&#39;-DX1"), "the ROI id, escaped");
    assert!(html.contains("&lt;b&gt;tumour &amp; co&lt;/b&gt;"), "the class name, escaped");

    // Every picture decodes and fits in 256 pixels; the 1000 x 420 ROI is shrunk by 4.
    let images = page_images(&html);
    assert_eq!(images.len(), 2 * 3, "plain, fill and outline views per ROI");
    assert!(images.iter().all(|&(_, w, h)| w.max(h) <= 256 && w > 0 && h > 0), "{images:?}");
    assert!(images.contains(&("image/jpeg".to_string(), 250, 105)), "{images:?}");
    assert!(images.contains(&("image/jpeg".to_string(), 40, 30)), "a small ROI is not enlarged: {images:?}");

    // The full-size link is relative and leads to the ROI's image on disk.
    let href_start = html.find("href=\"../ds/images/").expect("a relative link to the image") + "href=\"".len();
    let href = &html[href_start..href_start + html[href_start..].find('"').unwrap()];
    let href = href.replace("&amp;", "&").replace("&#39;", "'").replace("&quot;", "\"");
    let base = url::Url::from_file_path(std::path::absolute(&out).unwrap()).unwrap();
    let target = base.join(&href).unwrap().to_file_path().unwrap();
    assert!(target.is_file(), "{href} -> {}", target.display());
    assert!(target.to_str().unwrap().contains("<i>x\"&'"), "{}", target.display());

    // A thumbnail size over the bound is refused before anything is written.
    let r = run(bcss().arg("report").arg(&root).args(["--thumb", "300", "--out"]).arg(d.join("no/r.html")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`--thumb 300` must be between 1 and 256"), "{}", r.stderr);
    assert!(!d.join("no").exists());
}

#[test]
fn a_missing_prediction_is_listed_and_exits_1() {
    let d = Dir::new();
    let (root, preds) = dataset(&d, &ROIS[..2], true);
    std::fs::remove_file(preds.join("TCGA-OL-A5RW-DX1_xmin100_ymin50_MPP-0.2500.png")).unwrap();
    let out = d.join("report.html");
    let r = run(bcss().arg("report").arg(&root).arg("--pred").arg(&preds).arg("--out").arg(&out));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("TCGA-OL-A5RW-DX1_xmin100_ymin50_MPP-0.2500.png`: no prediction"), "{}", r.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("Not scored (1)"));
}

/// The 151 ROIs of the catalogue at their own aspect ratios, the long side 400 pixels (so every
/// thumbnail is the full 256; their size, not the ROI's, sets the page's): under 30 MB.
#[test]
fn a_report_of_151_rois_stays_under_30_mb() {
    let d = Dir::new();
    let table = RoiTable::builtin();
    let rois: Vec<(String, usize, usize)> = table
        .rois()
        .iter()
        .map(|r| {
            let (w, h) = (r.width() as f64, r.height() as f64);
            let s = 400.0 / w.max(h);
            (r.id.clone(), ((w * s).round() as usize).max(1), ((h * s).round() as usize).max(1))
        })
        .collect();
    let refs: Vec<(&str, usize, usize)> = rois.iter().map(|(id, w, h)| (id.as_str(), *w, *h)).collect();
    let (root, _) = dataset(&d, &refs, false);
    let out = d.join("report.html");
    let v = report(&[], &root, &out);
    assert_eq!(v["rois"], 151);
    let bytes = std::fs::metadata(&out).unwrap().len();
    assert!(bytes < 30_000_000, "{bytes} bytes");
}

/// The page in Debian's headless Chromium: no console error or exception, every image decoded,
/// the overlay buttons switch what the thumbnails show, a click on a header sorts the table,
/// the chart buttons switch charts; and a screenshot (kept as `BCSS_REPORT_SCREENSHOT` when set,
/// which is how docs/report.png is made).
#[test]
fn the_page_works_in_a_real_browser() {
    let d = Dir::new();
    let (root, preds) = dataset(&d, &ROIS, true);
    let out = d.join("report.html");
    report(&["--pred", preds.to_str().unwrap()], &root, &out);

    let mut b = Browser::start(1280, 1000);
    b.open(&out);
    // Every image decodes (decode() rejects one that cannot), and is complete with a size.
    let decoded = b.eval(
        "Promise.all(Array.from(document.images).map(i => i.decode().then(() => [i.complete, i.naturalWidth, \
         i.naturalHeight], () => [false, 0, 0])))",
    );
    let decoded = decoded.as_array().unwrap();
    assert_eq!(decoded.len(), 5 * 3 + 5 * 2, "3 views per ROI, prediction and truth per ROI");
    for img in decoded {
        assert_eq!(img[0], true, "{img}");
        let (w, h) = (img[1].as_u64().unwrap(), img[2].as_u64().unwrap());
        assert!(w > 0 && h > 0 && w.max(h) <= 256, "{img}");
    }

    // The overlay buttons: the first thumbnail shows the fill view, then outline, then off.
    let shown = "(() => Array.from(document.querySelectorAll('#gallery figure.thumb')[0].querySelectorAll('img.view'))\
                 .filter(i => getComputedStyle(i).display !== 'none' && i.getBoundingClientRect().width > 0)\
                 .map(i => i.className))()";
    assert_eq!(b.eval(shown), serde_json::json!(["view fill"]));
    b.click("[data-group=overlay] button[value=outline]");
    assert_eq!(b.eval(shown), serde_json::json!(["view outline"]));
    b.click("[data-group=overlay] button[value=off]");
    assert_eq!(b.eval(shown), serde_json::json!(["view off"]));
    let pressed = b.eval("document.querySelector('[data-group=overlay] [aria-pressed=true]').value");
    assert_eq!(pressed, "off");
    b.click("[data-group=overlay] button[value=fill]");

    // Sorting: by don't care (a number), ascending then descending; the ROI order changes.
    let column = |b: &mut Browser, i: usize| -> Vec<String> {
        let v = b.eval(&format!(
            "Array.from(document.querySelectorAll('#roi-table tbody tr')).map(r => r.cells[{i}].dataset.v)"
        ));
        v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
    };
    let before = column(&mut b, 0);
    b.click("#roi-table th:nth-child(8)");
    let asc: Vec<f64> = column(&mut b, 7).iter().map(|s| s.parse().unwrap()).collect();
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "{asc:?}");
    let after = column(&mut b, 0);
    assert_ne!(before, after, "sorting by don't care reorders these ROIs");
    b.click("#roi-table th:nth-child(8)");
    let desc: Vec<f64> = column(&mut b, 7).iter().map(|s| s.parse().unwrap()).collect();
    assert!(desc.windows(2).all(|w| w[0] >= w[1]), "{desc:?}");
    b.click("#roi-table th:nth-child(1)");
    let mut sorted = before.clone();
    sorted.sort();
    assert_eq!(column(&mut b, 0), sorted);

    // The chart buttons show one chart at a time.
    let charts = "Array.from(document.querySelectorAll('figure.chart')).filter(f => getComputedStyle(f).display !== \
                  'none').map(f => f.className)";
    assert_eq!(b.eval(charts), serde_json::json!(["chart share"]));
    b.click("[data-group=chart] button[value=log]");
    assert_eq!(b.eval(charts), serde_json::json!(["chart log"]));
    b.click("[data-group=chart] button[value=share]");

    // The per-ROI scores are worst first.
    let dice: Vec<f64> = b
        .eval(
            "Array.from(document.querySelectorAll('#roi-scores tbody tr')).map(r => parseFloat(r.cells[2].dataset.v))",
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(dice.len(), 5);
    assert!(dice.windows(2).all(|w| w[0] <= w[1]), "{dice:?}");

    b.eval("window.scrollTo(0, 0)");
    let png = b.screenshot();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let shot = bcss::codec::png::decode_rgb(&png).unwrap();
    assert_eq!((shot.width, shot.height), (1280, 1000));
    assert!(shot.data.chunks_exact(3).any(|p| p != [250, 250, 250]), "the screenshot shows something");
    std::fs::write(d.join("report.png"), &png).unwrap();
    if let Some(keep) = std::env::var_os("BCSS_REPORT_SCREENSHOT") {
        std::fs::write(keep, &png).unwrap();
    }
    let errors = b.errors();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_bad_mask_is_one_sentence_naming_the_file_and_nothing_is_written() {
    let d = Dir::new();
    let (root, _) = dataset(&d, &ROIS[..2], false);
    let bad = root.join("masks/TCGA-OL-A5RW-DX1_xmin100_ymin50_MPP-0.2500.png");
    let mut m = mask(2, 200, 300);
    m[5 * 200 + 7] = 99;
    write_png(&bad, 200, 300, 1, &m);
    let out = d.join("r/report.html");
    let r = run(bcss().arg("report").arg(&root).arg("--out").arg(&out));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("TCGA-OL-A5RW-DX1_xmin100_ymin50_MPP-0.2500.png`: value 99 at (x 7, y 5) is not a BCSS code"),
        "{}",
        r.stderr
    );
    crate::util::assert_clean_error(&r.stderr);
    assert!(!out.exists());
}
