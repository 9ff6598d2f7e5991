//! `bcss download` against the stand-in DSA: file names, sizes, every pixel, masks, manifest,
//! requests sent, resuming, and the error messages of a broken setup.

use bcss::transform::resize_nearest;
use bcss_testserver::{Config, Fault, Faults, Route, SlideSpec, When};

use crate::util::*;

const ROIS: [&str; 3] = ["TCGA-SY-0001-DX1", "TCGA-SY-0002-DX1", "TCGA-SY-0003-DX1"];

/// Checks one ROI's image and mask against the server's functions at the expected size.
fn check_roi(stand: &Stand, roi: &str, suffix: &str, size: (u64, u64), exact_pixels: bool) {
    let spec = stand.roi(roi);
    let (w, h) = size;
    let img = read_rgb(&stand.image_path(roi, suffix));
    assert_eq!((img.width as u64, img.height as u64), (w, h), "{roi} image size");
    let want = expected_rgb(&spec, w, h);
    if exact_pixels {
        assert!(img.data == want, "{roi}: the PNG pixels differ from the server's pixel function");
    } else {
        // JPEG q95 4:4:4 of a picture with sharp 256-px wraps: small mean error, bounded peaks.
        let (mean, max) = diff(&img.data, &want);
        assert!(mean < 2.0 && max < 80, "{roi}: JPEG differs too much (mean {mean:.2}, max {max})");
    }
    let mask = read_gray(&stand.mask_path(roi, suffix));
    assert_eq!((mask.width as u64, mask.height as u64), (w, h), "{roi} mask size");
    let served = served_mask(&spec);
    let want = resize_nearest(&served, w as usize, h as usize);
    assert!(mask == want, "{roi}: mask is not the nearest resize of the served mask");
}

#[test]
fn exact_mpp_png_every_pixel_names_annotations_and_manifest() {
    let s = Stand::new();
    let r = run(s.download().args(["--mpp", "0.25", "--encoding", "png", "--pipeline", "images,masks,annotations"]));
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut want_files = vec!["manifest.json".to_string()];
    for roi in ROIS {
        let spec = s.roi(roi);
        want_files.push(format!("images/{roi}_xmin{}_ymin{}_MPP-0.2500.png", spec.xmin, spec.ymin));
        want_files.push(format!("masks/{roi}_xmin{}_ymin{}_MPP-0.2500.png", spec.xmin, spec.ymin));
    }
    for slide in s.server.slides() {
        want_files.push(format!("annotations/{}", slide.name.replace(".svs", ".json")));
    }
    want_files.sort();
    let got: Vec<String> = files_under(&s.out()).into_iter().filter(|f| !f.starts_with("logs/")).collect();
    assert_eq!(got, want_files);

    // 40x 0.25 um slides at 0.25 um: base size; the 20x 0.5 um slide: twice the size.
    assert_eq!(expected_size(&s, ROIS[0], mm(0.00025)), (600, 400));
    assert_eq!(expected_size(&s, ROIS[2], mm(0.00025)), (600, 400));
    for roi in ROIS {
        check_roi(&s, roi, "MPP-0.2500", expected_size(&s, roi, mm(0.00025)), true);
    }

    // Exact mode sends the true mm per pixel with 8 decimals, and PNG.
    let regions = s.region_requests();
    assert_eq!(regions.len(), 3);
    for q in &regions {
        assert_eq!(
            (q.param("mm_x"), q.param("mm_y"), q.param("encoding")),
            (Some("0.00025000"), Some("0.00025000"), Some("PNG"))
        );
        assert!(q.header("Girder-Token").is_some(), "the token goes in the Girder-Token header");
        assert!(q.param("token").is_none(), "never in the query");
    }
    // Masks come from the links, without DSA credentials.
    let masks = s.mask_requests();
    assert_eq!(masks.len(), 3);
    assert!(masks.iter().all(|m| m.header("Girder-Token").is_none()));

    // Annotations: the server's JSON, unchanged in content.
    for slide in s.server.slides() {
        let path = s.out().join("annotations").join(slide.name.replace(".svs", ".json"));
        let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(saved, s.server.annotations(&slide.name).unwrap());
        let groups: Vec<&str> = saved[0]["annotation"]["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["group"].as_str().unwrap())
            .collect();
        assert!(groups.contains(&"roi"));
    }

    // The manifest: one entry per ROI, sizes and hashes of the files on disk, no secret.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.out().join("manifest.json")).unwrap()).unwrap();
    for roi in ROIS {
        let e = &manifest["rois"][roi];
        let (w, h) = expected_size(&s, roi, mm(0.00025));
        assert_eq!((e["width"].as_u64(), e["height"].as_u64()), (Some(w), Some(h)), "{roi}");
        assert_eq!(e["item_id"].as_str(), s.server.item_id(&roi[..12]).as_deref());
        assert_eq!(e["mode"], "exact");
        let files = e["files"].as_object().unwrap();
        assert_eq!(files.len(), 3, "{roi}: image, mask, annotations");
        for (role, f) in files {
            let path = s.out().join(f["path"].as_str().unwrap());
            assert_eq!(f["bytes"].as_u64(), Some(std::fs::metadata(&path).unwrap().len()), "{roi} {role}");
            assert_eq!(f["sha256"].as_str().unwrap(), sha256_hex(&path), "{roi} {role}");
        }
    }
    assert_no_secrets(&s.out(), &s.server, &[&r.stdout, &r.stderr]);
}

#[test]
fn compat_mpp_sends_the_rounded_mm_and_gets_the_quantised_size() {
    let s = Stand::new();
    let r = run(s.download().args(["--mpp", "0.25", "--compat", "--jobs", "2"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // %.4f of 0.00025 is 0.0003: 0.3 um/px asked, files still labelled MPP-0.2500.
    for q in s.region_requests() {
        assert_eq!((q.param("mm_x"), q.param("mm_y")), (Some("0.0003"), Some("0.0003")));
        assert_eq!(q.param("encoding"), Some("JPEG"));
    }
    // Hand-checked with Python: scale 2^0.263 = 1.19997 (40x) and 2^-0.737 = 0.59999 (20x).
    assert_eq!(expected_size(&s, ROIS[0], mm(0.0003)), (500, 333));
    assert_eq!(expected_size(&s, ROIS[1], mm(0.0003)), (425, 255));
    assert_eq!(expected_size(&s, ROIS[2], mm(0.0003)), (500, 333));
    for roi in ROIS {
        check_roi(&s, roi, "MPP-0.2500", expected_size(&s, roi, mm(0.0003)), false);
    }
}

#[test]
fn no_icc_asks_the_server_to_skip_colour_profiles_and_redoes_icc_files() {
    let s = Stand::new();
    let r = run(s.download().args(["--pipeline", "images"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(s.region_requests().iter().all(|q| q.param("style").is_none()), "no style by default");
    let n = s.region_requests().len();
    // The files were made with the server's default colour handling: --no-icc must fetch again.
    let r = run(s.download().args(["--pipeline", "images", "--no-icc"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let new: Vec<_> = s.region_requests().into_iter().skip(n).collect();
    assert_eq!(new.len(), ROIS.len(), "every ROI fetched again without ICC");
    assert!(new.iter().all(|q| q.param("style") == Some(r#"{"icc":false}"#)));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.out().join("manifest.json")).unwrap()).unwrap();
    let params = manifest["rois"][ROIS[0]]["request_params"].as_str().unwrap();
    assert!(params.ends_with(r#"&style={"icc":false}"#), "{params}");
}

#[test]
fn mag_20_names_sizes_and_request() {
    let s = Stand::new();
    let r = run(s.download().args(["--mag", "20", "--encoding", "png"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(expected_size(&s, ROIS[0], mag(20.0)), (300, 200));
    assert_eq!(expected_size(&s, ROIS[1], mag(20.0)), (255, 153));
    assert_eq!(expected_size(&s, ROIS[2], mag(20.0)), (300, 200), "a 20x slide at 20x is base size");
    for roi in ROIS {
        check_roi(&s, roi, "MAG-20.00", expected_size(&s, roi, mag(20.0)), true);
    }
    for q in s.region_requests() {
        assert_eq!(q.param("magnification").map(|v| v.parse::<f64>().unwrap()), Some(20.0));
        assert!(q.param("mm_x").is_none());
    }
}

#[test]
fn base_resolution_is_named_mag_0_and_sends_no_scale() {
    let s = Stand::new();
    let r = run(s.download().args(["--base", "--encoding", "png"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for roi in ROIS {
        let spec = s.roi(roi);
        check_roi(&s, roi, "MAG-0", (spec.rect().width(), spec.rect().height()), true);
    }
    for q in s.region_requests() {
        assert!(q.param("mm_x").is_none() && q.param("magnification").is_none(), "{:?}", q.query);
        let roi = ROIS.iter().find(|r| q.path.contains(&s.server.item_id(&r[..12]).unwrap())).unwrap();
        let spec = s.roi(roi);
        assert_eq!(q.param("left"), Some(spec.xmin.to_string().as_str()));
        assert_eq!(q.param("bottom"), Some(spec.ymax.to_string().as_str()));
    }
}

#[test]
fn compat_without_images_writes_unresized_base_masks() {
    let s = Stand::new();
    let r = run(s.download().args(["--mpp", "0.25", "--compat", "--pipeline", "masks"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for roi in ROIS {
        let spec = s.roi(roi);
        let mask = read_gray(&s.mask_path(roi, "MAG-0"));
        assert_eq!((mask.width as u64, mask.height as u64), (spec.rect().width(), spec.rect().height()));
        assert!(mask == served_mask(&spec), "{roi}: the mask must be the served one, unresized");
    }
    assert!(s.region_requests().is_empty(), "no region request without images");
    assert!(!s.out().join("images").read_dir().map(|mut d| d.next().is_some()).unwrap_or(false));
}

#[test]
fn mask_resize_hand_checked_small_case() {
    // A 5 x 3 ROI at (35, 52) of a 40x slide, at 20x: 2 x 1 pixels. The nearest rule samples
    // columns 1 and 3, row 1: base (36, 53) and (38, 53), labels (0 + 3) and (1 + 3).
    let slide = SlideSpec::new("TCGA-SY-0009-01Z-00-DX1.TINY.svs", 1000, 1000, 0.25, 40.0).roi(
        "TCGA-SY-0009-DX1",
        35,
        52,
        40,
        55,
    );
    let s = Stand::with(Config { slides: vec![slide], api_key: Some(KEY.into()), ..Default::default() });
    let r = run(s.download().args(["--mag", "20", "--encoding", "png"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mask = read_gray(&s.mask_path("TCGA-SY-0009-DX1", "MAG-20.00"));
    assert_eq!((mask.width, mask.height, mask.data.clone()), (2, 1, vec![3, 4]));
    let img = read_rgb(&s.image_path("TCGA-SY-0009-DX1", "MAG-20.00"));
    assert_eq!(img.data, vec![36, 53, 0, 38, 53, 0]);
}

#[test]
fn rerun_skips_everything_and_json_summary_says_so() {
    let s = Stand::new();
    let r = run(s.download().args(["--json", "--encoding", "png"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first: serde_json::Value = serde_json::from_str(&r.stdout).expect("--json prints JSON on stdout");
    assert_eq!(first["done"].as_array().unwrap().len(), 3);
    assert_eq!(first["failed"].as_array().unwrap().len(), 0);
    let before = s.server.requests().len();
    let regions = s.region_requests().len();
    let masks = s.mask_requests().len();

    let r = run(s.download().args(["--json", "--encoding", "png"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(second["done"].as_array().unwrap().len(), 0);
    assert_eq!(second["skipped"].as_array().unwrap().len(), 3);
    assert_eq!(second["failed"].as_array().unwrap().len(), 0);
    assert_eq!(s.region_requests().len(), regions, "a rerun downloads no region");
    assert_eq!(s.mask_requests().len(), masks, "a rerun downloads no mask");
    let tiles = s.server.requests()[before..].iter().filter(|q| q.path.ends_with("/tiles")).count();
    assert_eq!(tiles, 0, "a rerun does not even ask for metadata");
}

#[test]
fn deleting_or_corrupting_one_file_redoes_only_that_roi() {
    let s = Stand::new();
    assert_eq!(run(s.download().args(["--encoding", "png"])).code, 0);
    let image_a = s.image_path(ROIS[0], "MPP-0.2500");
    let mask_b = s.mask_path(ROIS[1], "MPP-0.2500");
    let (orig_a, orig_b) = (std::fs::read(&image_a).unwrap(), std::fs::read(&mask_b).unwrap());
    std::fs::remove_file(&image_a).unwrap();
    let mut bytes = orig_b.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF;
    std::fs::write(&mask_b, bytes).unwrap();
    s.server.clear_requests();

    let r = run(s.download().args(["--json", "--encoding", "png"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let mut done: Vec<&str> = summary["done"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    done.sort();
    assert_eq!(done, vec![ROIS[0], ROIS[1]]);
    assert_eq!(summary["skipped"], serde_json::json!([ROIS[2]]));
    let regions = s.region_requests();
    assert_eq!(regions.len(), 1, "only the deleted image is fetched again");
    assert!(regions[0].path.contains(&s.server.item_id(&ROIS[0][..12]).unwrap()));
    let masks = s.mask_requests();
    assert_eq!(masks.len(), 1, "only the corrupted mask is fetched again");
    assert!(masks[0].path.contains(ROIS[1]));
    assert_eq!(read_rgb(&image_a), bcss::codec::png::decode_rgb(&orig_a).unwrap());
    assert_eq!(std::fs::read(&mask_b).unwrap(), orig_b, "the same bytes as the first time");
}

#[test]
fn slides_restricts_the_run() {
    let s = Stand::new();
    let r = run(s.download().args(["--slides", "TCGA-SY-0002"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files: Vec<String> =
        files_under(&s.out()).into_iter().filter(|f| f.starts_with("images/") || f.starts_with("masks/")).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.contains("TCGA-SY-0002-DX1")), "{files:?}");
    let item = s.server.item_id("TCGA-SY-0002").unwrap();
    let touched: Vec<String> = s.requests_where(|q| q.path.contains("/item/")).into_iter().map(|q| q.path).collect();
    assert!(touched.iter().all(|p| p.contains(&item)), "{touched:?}");
}

#[test]
fn unknown_slide_is_bad_input() {
    let s = Stand::new();
    let r = run(s.download().args(["--slides", "TCGA-SY-0002,TCGA-ZZ-9999"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("TCGA-ZZ-9999"), "{}", r.stderr);
    assert_clean_error(&r.stderr);
    assert!(s.server.requests().is_empty(), "refused before any request");
}

/// Runs a download that must fail to start: exit 3, one sentence containing `needle`.
fn assert_server_failure(mut cmd: std::process::Command, needle: &str) -> Run {
    let r = run(&mut cmd);
    assert_eq!(r.code, 3, "stderr: {}", r.stderr);
    assert_eq!(r.stderr.matches(needle).count(), 1, "expected `{needle}` once in: {}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {}", r.stderr);
    assert_clean_error(&r.stderr);
    assert!(!r.stderr.contains(KEY), "the key is printed: {}", r.stderr);
    r
}

#[test]
fn wrong_api_key_is_named() {
    let s = Stand::new();
    let mut cmd = s.download();
    cmd.env("BCSS_API_KEY", "not-the-key");
    assert_server_failure(cmd, "Invalid API key");
}

#[test]
fn unreachable_url_is_named() {
    let s = Stand::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = s.download_from(&format!("http://127.0.0.1:{port}/api/v1"), &s.server.folder_id());
    cmd.args(["--retries", "1"]);
    assert_server_failure(cmd, "cannot reach the server");
}

#[test]
fn non_girder_url_is_named() {
    let s = Stand::new();
    assert_server_failure(s.download_from(&s.server.url(), &s.server.folder_id()), "not a Girder API");
    // A page that answers 200 with HTML (a proxy or portal) is no better.
    s.server.set_faults(Faults::none().on(Route::Version, When::Always, Fault::HtmlPage));
    assert_server_failure(s.download(), "not a Girder API");
}

#[test]
fn nonexistent_folder_is_named() {
    let s = Stand::new();
    assert_server_failure(
        s.download_from(&s.server.api_url(), "5bbdeba3e629140048d0beef"),
        "No such folder: 5bbdeba3e629140048d0beef",
    );
    assert_server_failure(s.download_from(&s.server.api_url(), "not-an-id"), "Invalid ObjectId");
}

#[test]
fn empty_folder_is_named() {
    let s = Stand::new();
    assert_server_failure(s.download_from(&s.server.api_url(), &s.server.empty_folder_id()), "holds no slide");
}

#[test]
fn listing_an_html_page_is_a_server_error() {
    let s = Stand::new();
    s.server.set_faults(Faults::named("html-page").unwrap());
    assert_server_failure(s.download(), "the body is not the JSON expected");
}

#[test]
fn server_errors_then_success_are_retried() {
    let s = Stand::new();
    s.server.set_faults(Faults::named("server-errors-then-ok").unwrap());
    let r = run(s.download().args(["--encoding", "png", "--jobs", "1"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for roi in ROIS {
        check_roi(&s, roi, "MPP-0.2500", expected_size(&s, roi, mm(0.00025)), true);
    }
    assert_eq!(s.region_requests().len(), 3 + 3, "three failures, then one success per ROI");
}

#[test]
fn rate_limits_timeouts_and_cut_bodies_are_retried() {
    for scenario in
        ["rate-limited", "timeouts", "reset-mid-body", "truncated-image", "corrupt-image", "wrong-content-type"]
    {
        let s = Stand::new();
        s.server.set_faults(Faults::named(scenario).unwrap());
        let r = run(s.download().args(["--encoding", "png", "--jobs", "1"]));
        assert_eq!(r.code, 0, "{scenario}: {}", r.stderr);
        for roi in ROIS {
            check_roi(&s, roi, "MPP-0.2500", expected_size(&s, roi, mm(0.00025)), true);
        }
        let regions = s.region_requests().len();
        let extra = if scenario == "wrong-content-type" {
            0
        } else if scenario == "timeouts" || scenario == "rate-limited" {
            2
        } else {
            1
        };
        assert_eq!(regions, 3 + extra, "{scenario}");
    }
}

#[test]
fn corrupt_jpeg_is_fetched_again() {
    let s = Stand::new();
    s.server.set_faults(Faults::named("corrupt-image").unwrap());
    let r = run(s.download().args(["--jobs", "1"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.region_requests().len(), 4);
    for roi in ROIS {
        check_roi(&s, roi, "MPP-0.2500", expected_size(&s, roi, mm(0.00025)), false);
    }
}

/// A JPEG region is decoded while its body arrives: a body cut half-way fails the write of
/// rows already made, which leaves no file, and the region is fetched again. The file written
/// then is byte for byte the one of a run without the cut. With `--retries 0` the cut is the
/// ROI's failure, typed and said once.
#[test]
fn a_jpeg_body_cut_while_it_streams_is_fetched_again_and_leaves_no_file() {
    let clean = Stand::new();
    let r = run(clean.download().args(["--jobs", "1"]));
    assert_eq!(r.code, 0, "{}", r.stderr);

    let s = Stand::new();
    s.server.set_faults(Faults::named("reset-mid-body").unwrap());
    let r = run(s.download().args(["--jobs", "1"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.region_requests().len(), 3 + 1, "the cut region is fetched once more");
    for roi in ROIS {
        let (a, b) = (
            std::fs::read(clean.image_path(roi, "MPP-0.2500")).unwrap(),
            std::fs::read(s.image_path(roi, "MPP-0.2500")).unwrap(),
        );
        assert!(a == b, "{roi}: the refetched image differs from a clean run's");
    }
    let mut files = files_under(&s.out());
    files.retain(|f| f.contains(".part") || f.contains(".tmp"));
    assert!(files.is_empty(), "temporary files left: {files:?}");

    // Cut twice, one retry allowed: the ROI fails, and its reason counts the region's fetches.
    let s = Stand::new();
    s.server.set_faults(Faults::none().on(Route::Region, When::First(2), Fault::ResetMidBody));
    let r = run(s.download().args(["--jobs", "1", "--retries", "1", "--json", "--slides", "TCGA-SY-0001"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_clean_error(&r.stderr);
    assert!(!s.image_path(ROIS[0], "MPP-0.2500").exists(), "a cut region was written");
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let f = &summary["failures"][0];
    assert_eq!((f["id"].as_str(), f["step"].as_str()), (Some(ROIS[0]), Some("region")), "{f}");
    let reason = f["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "region: the body broke off while it was decoded (the region was fetched 2 times): body cut off"
        ),
        "{reason}"
    );
    assert_eq!(reason.matches("cut off").count(), 1, "{reason}");
    assert!(reason.contains("/tiles/region?") && reason.contains("; 0 retries in "), "{reason}");
    assert!(!reason.contains(KEY), "{reason}");
    assert_eq!(s.region_requests().len(), 2, "one fetch and one retry");
}

/// A ROI whose region is bad fails alone: exit 1, the reason printed, no file under the final name.
fn assert_region_refused(scenario: &str, reason: &str) {
    let s = Stand::new();
    s.server.set_faults(Faults::named(scenario).unwrap());
    let r = run(s.download().args(["--slides", "TCGA-SY-0001"]));
    assert_eq!(r.code, 1, "{scenario}: {}", r.stderr);
    assert!(r.stderr.contains("TCGA-SY-0001-DX1") && r.stderr.contains(reason), "{scenario}: {}", r.stderr);
    assert_clean_error(&r.stderr);
    assert!(!s.image_path(ROIS[0], "MPP-0.2500").exists(), "{scenario}: a bad region was written");
    let leftovers: Vec<String> = files_under(&s.out()).into_iter().filter(|f| f.starts_with("images/")).collect();
    assert!(leftovers.is_empty(), "{scenario}: {leftovers:?}");
}

#[test]
fn empty_region_fails_that_roi() {
    assert_region_refused("empty-region", "empty body");
}

#[test]
fn wrong_size_region_fails_that_roi() {
    assert_region_refused("wrong-size-region", "599x400");
}

#[test]
fn bad_masks_fail_that_roi() {
    let s = Stand::new();
    s.server.set_faults(Faults::named("bad-mask-code").unwrap());
    let r = run(s.download().args(["--slides", "TCGA-SY-0002", "--pipeline", "masks"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("99"), "{}", r.stderr);
    assert!(!s.mask_path(ROIS[1], "MPP-0.2500").exists());

    let s = Stand::new();
    s.server.set_faults(Faults::named("bad-mask-size").unwrap());
    let r = run(s.download().args(["--slides", "TCGA-SY-0002", "--pipeline", "masks"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("509x307 but the ROI is 510x307"), "{}", r.stderr);
}

#[test]
fn wrong_json_from_the_tiles_route_fails_the_rois() {
    let s = Stand::new();
    s.server.set_faults(Faults::named("wrong-json").unwrap());
    let r = run(s.download().args(["--json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 3);
    assert!(failed[0][1].as_str().unwrap().contains("tiles metadata"), "{failed:?}");
}

/// Tokens expire by time (as Girder's do), here at two chosen moments while three workers run:
/// whichever worker meets the 401 first renews, the others retry with the new token, and no
/// ordering fails a ROI (run it in a loop to check: it once failed 1 run in 20).
#[test]
fn expiring_tokens_are_renewed() {
    let s = Stand::new();
    s.server.set_faults(Faults::named("tokens-expire").unwrap());
    let r = run(s.download().args(["--encoding", "png", "--jobs", "3", "--pipeline", "images,masks,annotations"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for roi in ROIS {
        check_roi(&s, roi, "MPP-0.2500", expected_size(&s, roi, mm(0.00025)), true);
    }
    let expired = s.server.fired_faults().iter().filter(|f| f.fault == Fault::ExpireTokens).count();
    assert_eq!(expired, 2, "the tokens expired twice");
    let token_requests = s.requests_where(|q| q.path.ends_with("/api_key/token")).len();
    assert!(token_requests >= 2, "the token was renewed ({token_requests} token requests)");
    assert_no_secrets(&s.out(), &s.server, &[&r.stdout, &r.stderr]);
}

#[test]
fn public_folder_works_anonymously() {
    let s = Stand::with(Config { slides: slides(), api_key: None, folder_public: true, ..Default::default() });
    let mut cmd = s.download();
    cmd.env_remove("BCSS_API_KEY");
    let r = run(cmd.args(["--encoding", "png"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(s.requests_where(|q| q.path.ends_with("/api_key/token")).is_empty());
    check_roi(&s, ROIS[0], "MPP-0.2500", (600, 400), true);
}

#[test]
fn private_folder_without_a_key_names_the_access_problem() {
    let s = Stand::new();
    let mut cmd = s.download();
    cmd.env_remove("BCSS_API_KEY");
    assert_server_failure(cmd, "Read access denied");
}

#[test]
fn a_stalled_response_times_out_and_is_retried() {
    let s = Stand::new();
    s.server.set_faults(Faults::none().on(
        Route::Region,
        When::First(1),
        Fault::Latency(std::time::Duration::from_millis(8000)),
    ));
    // A timeout far above what an answered request takes even on a loaded machine (a tight one
    // timed out answered requests too when the tests ran beside another build), and far below
    // the stall.
    let r = run(s.download().args(["--slides", "TCGA-SY-0001", "--encoding", "png", "--timeout", "2"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.region_requests().len(), 2, "one timed out, one answered");
    check_roi(&s, ROIS[0], "MPP-0.2500", (600, 400), true);
}

#[test]
fn a_roi_beyond_the_slide_edge_fails_alone() {
    // The server would clip the region (not pad it), so the image would not match the mask.
    let slides = vec![
        SlideSpec::new("TCGA-SY-0001-01Z-00-DX1.SYNTH0001.svs", 8000, 6000, 0.25, 40.0).roi(
            "TCGA-SY-0001-DX1",
            1234,
            2345,
            1834,
            2745,
        ),
        SlideSpec::new("TCGA-SY-0004-01Z-00-DX1.EDGE.svs", 1000, 1000, 0.25, 40.0).roi(
            "TCGA-SY-0004-DX1",
            900,
            900,
            1100,
            1000,
        ),
    ];
    let s = Stand::with(Config { slides, api_key: Some(KEY.into()), ..Default::default() });
    let r = run(s.download().args(["--json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["done"], serde_json::json!(["TCGA-SY-0001-DX1"]));
    let reason = summary["failed"][0][1].as_str().unwrap();
    assert!(reason.contains("extends beyond the slide"), "{reason}");
    assert_eq!(s.region_requests().len(), 1, "no request for the clipped ROI");
}

#[test]
fn a_roi_whose_slide_is_not_on_the_server_fails_alone() {
    let s = Stand::new();
    let mut csv = std::fs::read_to_string(&s.csv).unwrap();
    csv.push_str(&format!("TCGA-SY-0777-DX1,10,10,20,20,{}\r\n", s.server.mask_url("TCGA-SY-0777-DX1")));
    std::fs::write(&s.csv, csv).unwrap();
    let r = run(s.download().args(["--json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["done"].as_array().unwrap().len(), 3);
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed[0][0], "TCGA-SY-0777-DX1");
    assert!(failed[0][1].as_str().unwrap().contains("TCGA-SY-0777"), "{failed:?}");
}

#[test]
fn two_rois_of_one_slide_share_its_annotation_file() {
    let slide = SlideSpec::new("TCGA-SY-0005-01Z-00-DX1.TWO.svs", 5000, 5000, 0.25, 40.0)
        .roi("TCGA-SY-0005-DX1", 100, 100, 400, 300)
        .roi("TCGA-SY-0005-DX2", 1000, 1000, 1200, 1250);
    let s = Stand::with(Config { slides: vec![slide], api_key: Some(KEY.into()), ..Default::default() });
    let r = run(s.download().args(["--encoding", "png", "--pipeline", "images,masks,annotations"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_roi(&s, "TCGA-SY-0005-DX1", "MPP-0.2500", (300, 200), true);
    check_roi(&s, "TCGA-SY-0005-DX2", "MPP-0.2500", (200, 250), true);
    let path = s.out().join("annotations/TCGA-SY-0005-01Z-00-DX1.TWO.json");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(saved.as_array().unwrap().len(), 2);
    let r = run(s.download().args(["--encoding", "png", "--pipeline", "images,masks,annotations", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["skipped"].as_array().unwrap().len(), 2, "{}", r.stdout);
}

#[test]
fn another_resolution_in_the_same_root_is_refused_and_nothing_changes() {
    let s = Stand::new();
    let r = run(s.download().args(["--jobs", "2"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = crate::util::files_under(&s.out());
    let manifest = std::fs::read(s.out().join("manifest.json")).unwrap();
    let regions = s.region_requests().len();
    let r = run(s.download().args(["--mag", "20"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("this run would write") && r.stderr.contains("MAG-20.00.png"), "{}", r.stderr);
    assert_eq!(s.region_requests().len(), regions, "nothing downloaded");
    let after: Vec<String> =
        crate::util::files_under(&s.out()).into_iter().filter(|f| !f.starts_with("logs/")).collect();
    let before: Vec<String> = before.into_iter().filter(|f| !f.starts_with("logs/")).collect();
    assert_eq!(after, before);
    assert_eq!(std::fs::read(s.out().join("manifest.json")).unwrap(), manifest);
}

#[test]
fn compat_masks_only_then_with_images_is_refused_not_mismatched() {
    let s = Stand::new();
    let r = run(s.download().args(["--compat", "--pipeline", "masks"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(s.download().args(["--compat", "--pipeline", "images,masks"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("_MAG-0.png") && r.stderr.contains("_MPP-0.2500.png"), "{}", r.stderr);
    assert!(crate::util::files_under(&s.out().join("images")).is_empty());
}

#[test]
fn a_slide_missing_from_a_custom_folder_never_borrows_a_public_item_id() {
    let s = Stand::new();
    // A ROI of the published dataset whose slide this server does not hold.
    let csv = s.dir.write(
        "with-public.csv",
        &format!(
            "{}TCGA-A1-A0SK-DX1,45749,25055,49789,27991,{}\r\n",
            s.server.roi_bounds_csv(),
            s.server.mask_url(ROIS[0])
        ),
    );
    let r = run(&mut s.download_with(&s.server.api_url(), &s.server.folder_id(), &csv));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("failed: TCGA-A1-A0SK-DX1: slide `TCGA-A1-A0SK` is not in the folder listing"),
        "{}",
        r.stderr
    );
    // The built-in table's item id for that slide (on the public server) was never asked for.
    assert!(s.requests_where(|q| q.path.contains("5bbdeed1e629140048d01bcb")).is_empty());
    for roi in ROIS {
        assert!(s.image_path(roi, "MPP-0.2500").exists(), "{roi} still downloaded");
    }
}

/// Images and masks are written as they are decoded (JPEG scanlines, PNG rows, mask bands): the
/// files equal, byte for byte, what the one-shot writer makes of the whole decoded region at the
/// same settings. The 1500 x 1000 ROIs (4.5 MB of RGB, five deflate pieces; the 20x slide's
/// twice that) join pieces; the JPEG the stand-in sends is re-made here (`encode_rgb` at q95, as
/// it does) and decoded whole.
#[test]
fn streamed_files_equal_the_one_shot_writers_byte_for_byte() {
    use bcss::codec::png::{write_gray, write_rgb, Compression};
    use bcss::codec::RgbImage;
    let s = Stand::with(crate::harness::synthetic(5, 1500, 1000));
    for (encoding, level, compression) in
        [("jpeg", "balanced", Compression::Balanced), ("png", "fast", Compression::Fast)]
    {
        let _ = std::fs::remove_dir_all(s.out());
        let r = run(s.download().args(["--mpp", "0.25", "--encoding", encoding, "--png-compression", level]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        for roi in crate::harness::roi_ids(&s) {
            let spec = s.roi(&roi);
            let (w, h) = expected_size(&s, &roi, mm(0.00025));
            let rendered = RgbImage { width: w as usize, height: h as usize, data: expected_rgb(&spec, w, h) };
            let decoded = if encoding == "jpeg" {
                bcss::codec::decode_rgb(&bcss::codec::jpeg::encode_rgb(&rendered, 95).unwrap()).unwrap()
            } else {
                rendered
            };
            let mut one_shot = Vec::new();
            write_rgb(&mut one_shot, &decoded, compression).unwrap();
            let streamed = std::fs::read(s.image_path(&roi, "MPP-0.2500")).unwrap();
            assert!(streamed == one_shot, "{roi} ({encoding}): the streamed image differs from the one-shot file");

            let mask = resize_nearest(&served_mask(&spec), w as usize, h as usize);
            let mut one_shot = Vec::new();
            write_gray(&mut one_shot, &mask, Compression::Balanced).unwrap();
            let streamed = std::fs::read(s.mask_path(&roi, "MPP-0.2500")).unwrap();
            assert!(streamed == one_shot, "{roi}: the streamed mask differs from the one-shot file");
        }
    }
}
