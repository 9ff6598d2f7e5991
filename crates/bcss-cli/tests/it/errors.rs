//! Errors say each of their causes once: the CLI's one `error:` line and every `failed:` line
//! are the chain of the error joined by `: `, no level repeating another; a failed ROI's step,
//! id and HTTP status are typed fields of the `--json` summary (`failures`), not text to parse.

use bcss_testserver::{Fault, Faults, Route, When};

use crate::util::*;

/// The lines of `stderr` that start with `prefix`, without it.
fn lines_after<'a>(stderr: &'a str, prefix: &str) -> Vec<&'a str> {
    stderr.lines().filter_map(|l| l.strip_prefix(prefix)).collect()
}

/// No `: `-separated level of `line` says the same thing as another (a cause printed twice is
/// the bug this guards against), and no level is empty.
fn assert_each_level_once(line: &str) {
    let levels: Vec<&str> = line.split(": ").collect();
    for (i, a) in levels.iter().enumerate() {
        assert!(!a.trim().is_empty(), "an empty level in {line:?}");
        for b in &levels[i + 1..] {
            assert!(a != b, "`{a}` is said twice in {line:?}");
        }
    }
}

/// `line` with the elapsed time of an HTTP error (`in 0.1s`, `in 12.3ms`) replaced by `in <t>`.
fn without_elapsed(line: &str) -> String {
    let Some(at) = line.find(" retries in ") else { return line.to_string() };
    let start = at + " retries in ".len();
    let end = line[start..].find(')').map_or(line.len(), |e| start + e);
    format!("{}<t>{}", &line[..start], &line[end..])
}

#[test]
fn a_region_refused_with_404_is_one_typed_failure_said_once() {
    let s = Stand::new();
    // --jobs 1 takes the ROIs in table order: region request 1 is the second ROI's. A 404 is
    // not retried.
    s.server.set_faults(Faults::none().on(Route::Region, When::Requests(vec![1]), Fault::Status(404)));
    let r = run(s.download().args(["--encoding", "png", "--jobs", "1", "--json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_clean_error(&r.stderr);
    let reason = "region: the server answered HTTP 404: Injected fault: HTTP 404";
    assert_eq!(lines_after(&r.stderr, "failed: "), [format!("TCGA-SY-0002-DX1: {reason}")]);
    assert_each_level_once(reason);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        summary["failures"],
        serde_json::json!([{"id": "TCGA-SY-0002-DX1", "step": "region", "status": 404, "reason": reason}])
    );
    // The pairs scripts already read are still there, with the same reason.
    assert_eq!(summary["failed"], serde_json::json!([["TCGA-SY-0002-DX1", reason]]));
    assert_eq!(summary["lasting"], serde_json::json!(["TCGA-SY-0002-DX1"]), "a 404 does not change on a rerun");
}

#[test]
fn a_region_that_kept_failing_names_status_url_and_retries_once() {
    let s = Stand::new();
    let item = s.server.item_id("TCGA-SY-0002").unwrap();
    s.server.set_faults(Faults::none().on(Route::Region, When::Requests(vec![1, 2, 3]), Fault::Status(500)));
    let r = run(s.download().args(["--encoding", "png", "--jobs", "1", "--retries", "2", "--json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let failed = lines_after(&r.stderr, "failed: ");
    assert_eq!(failed.len(), 1, "{}", r.stderr);
    let line = without_elapsed(failed[0]);
    // Only the URL and the retries follow the server's message: the last level of the chain
    // is the HTTP error, said once.
    assert_eq!(
        line,
        format!(
            "TCGA-SY-0002-DX1: region: the server kept failing: HTTP 500: Injected fault: HTTP 500 \
             ({}/item/{item}/tiles/region?left=301&top=499&right=811&bottom=806&mm_x=0.00025000&mm_y=0.00025000\
             &encoding=PNG; 2 retries in <t>)",
            s.server.api_url()
        )
    );
    assert!(!line.contains(KEY), "{line}");
    assert_each_level_once(&line);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let f = &summary["failures"][0];
    assert_eq!(
        (&f["id"], &f["step"], &f["status"]),
        (&serde_json::json!("TCGA-SY-0002-DX1"), &serde_json::json!("region"), &serde_json::json!(500))
    );
    assert_eq!(
        f["reason"].as_str().map(without_elapsed),
        Some(line.trim_start_matches("TCGA-SY-0002-DX1: ").to_string())
    );
    assert_eq!(summary["lasting"], serde_json::json!([]), "a 500 may pass on a rerun");
}

#[test]
fn a_folder_that_cannot_be_listed_is_one_line_of_three_levels() {
    let s = Stand::new();
    s.server.set_faults(Faults::none().on(Route::Listing, When::Always, Fault::Status(404)));
    let r = run(&mut s.download());
    assert_eq!(r.code, 3, "{}", r.stderr);
    let folder = s.server.folder_id();
    assert_eq!(
        lines_after(&r.stderr, "error: "),
        [format!(
            "cannot list folder `{folder}`: folder listing: the server answered HTTP 404: Injected fault: HTTP 404"
        )]
    );
    assert!(r.stderr.contains("\nhint: "), "the hint stays: {}", r.stderr);
}

#[test]
fn an_unreachable_server_is_said_once_with_its_redacted_url() {
    let s = Stand::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let r = run(s.download_from(&api, "f00").args(["--retries", "0"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    let errors = lines_after(&r.stderr, "error: ");
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    let line = without_elapsed(errors[0]);
    assert_eq!(
        line,
        format!(
            "server check: cannot reach the server: io: Connection refused (os error 111) \
             ({api}/system/version; 0 retries in <t>)"
        )
    );
    assert_each_level_once(&line);
    assert!(r.stderr.contains("\nhint: the DSA is down or failing"), "{}", r.stderr);
}

#[test]
fn an_unreadable_manifest_names_the_file_and_the_parser_once() {
    let s = Stand::new();
    std::fs::create_dir_all(s.out()).unwrap();
    std::fs::write(s.out().join("manifest.json"), "not json").unwrap();
    let r = run(&mut s.download());
    assert_eq!(r.code, 2, "{}", r.stderr);
    let errors = lines_after(&r.stderr, "error: ");
    assert_eq!(
        errors,
        [format!(
            "manifest `{}` is not valid (move it away to start a fresh one): expected ident at line 1 column 2",
            s.out().join("manifest.json").display()
        )]
    );
    assert_each_level_once(errors[0]);
}

#[test]
fn a_mask_link_refused_with_404_is_a_failure_of_the_mask_step() {
    let s = Stand::new();
    s.server.set_faults(Faults::none().on(Route::MaskLink, When::Requests(vec![1]), Fault::Status(404)));
    let r = run(s.download().args(["--encoding", "png", "--jobs", "1", "--json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let failures = summary["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{summary}");
    let f = &failures[0];
    assert_eq!((&f["step"], &f["status"]), (&serde_json::json!("mask"), &serde_json::json!(404)), "{f}");
    let reason = f["reason"].as_str().unwrap();
    let base = s.server.api_url().trim_end_matches("/api/v1").to_string();
    assert_eq!(reason, format!("mask: mask link {base}/masks/TCGA-SY-0002-DX1: HTTP 404"));
    assert_each_level_once(reason);
    let failed = lines_after(&r.stderr, "failed: ");
    assert_eq!(failed, [format!("{}: {reason}", f["id"].as_str().unwrap())]);
}

#[test]
fn a_log_folder_that_cannot_be_made_is_one_line_with_its_cause() {
    let s = Stand::new();
    // A file where the log folder goes: the folder cannot be made, before anything is fetched.
    std::fs::create_dir_all(s.out()).unwrap();
    std::fs::write(s.out().join("logs"), "").unwrap();
    let r = run(&mut s.download());
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_clean_error(&r.stderr);
    let errors = lines_after(&r.stderr, "error: ");
    assert_eq!(
        errors,
        [format!("cannot create log directory `{}`: it exists and is not a directory", s.out().join("logs").display())]
    );
    assert_each_level_once(errors[0]);
}

#[test]
fn masks_failures_carry_their_step() {
    let dir = Dir::new();
    let folder = dir.join("annotations");
    std::fs::create_dir_all(&folder).unwrap();
    // Slide BROKEN: its file is not JSON. Slide SLIDE-1: ROI 0 would be a mask over 2^31 pixels,
    // ROI 1 is drawn.
    std::fs::write(folder.join("BROKEN.json"), "[{\"annotation\": ").unwrap();
    std::fs::write(
        folder.join("SLIDE-1.json"),
        r#"[{"annotation": {"name": "t", "elements": [
        {"type": "rectangle", "id": "wide", "group": "roi", "center": [5000000, 500, 0], "width": 10000000, "height": 1000, "rotation": 0},
        {"type": "rectangle", "id": "ok", "group": "roi", "center": [50, 5000, 0], "width": 100, "height": 100, "rotation": 0}
    ]}}]"#,
    )
    .unwrap();
    let r = run(bcss().args(["masks", "--json", "--annotations"]).arg(&folder).arg("--out").arg(dir.join("out")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let done: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let broken = format!(
        "failed to parse annotation file `{}`: not valid JSON: EOF while parsing a value at line 1 column 16",
        folder.join("BROKEN.json").display()
    );
    let wide = "ROI element 0 would make a mask of 10000000x1000 pixels, over the limit of 2147483648 pixels; \
                check its coordinates and the scale factor";
    let want = serde_json::json!([
        {"id": "BROKEN", "step": "annotations", "status": null, "reason": broken},
        {"id": "SLIDE-1 ROI 0", "step": "mask", "status": null, "reason": wide},
    ]);
    assert_eq!(done["failures"], want, "{done}");
    assert_each_level_once(&broken);
    // The slide's own summary has its ROI's failure too (the JSON of a one-file run).
    let slide = done["slides"].as_array().unwrap().iter().find(|s| s["slide_name"] == "SLIDE-1").unwrap();
    assert_eq!(slide["failures"], serde_json::json!([want[1]]));
    assert_eq!(slide["failed"][0]["reason"], want[1]["reason"], "`failed` says the same");
}

#[test]
fn eval_failures_say_whether_the_truth_or_the_prediction_failed() {
    let d = Dir::new();
    let mask = |name: &str, w: u32, h: u32| {
        let path = d.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut enc = png::Encoder::new(std::fs::File::create(&path).unwrap(), w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.write_header().unwrap().write_image_data(&vec![1; (w * h) as usize]).unwrap();
        path
    };
    // A: the prediction has another size. B: the truth is not a PNG. C: no prediction.
    // D: scored.
    mask("truth/A_xmin0_ymin0_MPP-0.2500.png", 4, 4);
    mask("pred/A_xmin0_ymin0_MPP-0.2500.png", 4, 3);
    let b_truth = d.write("truth/B_xmin0_ymin0_MPP-0.2500.png", "not a png");
    mask("pred/B_xmin0_ymin0_MPP-0.2500.png", 4, 4);
    mask("truth/C_xmin0_ymin0_MPP-0.2500.png", 4, 4);
    mask("truth/D_xmin0_ymin0_MPP-0.2500.png", 4, 4);
    mask("pred/D_xmin0_ymin0_MPP-0.2500.png", 4, 4);
    let r = run(bcss().args(["--json", "eval", "--pred"]).arg(d.join("pred")).arg("--truth").arg(d.join("truth")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let failures = report["failures"].as_array().unwrap();
    let steps: Vec<(&str, &str)> =
        failures.iter().map(|f| (f["id"].as_str().unwrap(), f["step"].as_str().unwrap())).collect();
    assert_eq!(steps, [("A", "prediction"), ("B", "input"), ("C", "prediction")], "{report}");
    // Each failure's reason is its problem's message.
    for f in failures {
        let problem = report["problems"].as_array().unwrap().iter().find(|p| p["message"] == f["reason"]);
        assert!(problem.is_some(), "{f} is a problem: {report}");
    }
    assert_eq!(failures[0]["reason"], "size 4x3 does not match the ground truth 4x4");
    assert_eq!(failures[2]["reason"], "no prediction for this ground-truth mask");
    // The decoder's reason is the cause of "invalid PNG", said after it.
    assert_eq!(failures[1]["reason"], "invalid PNG: Invalid PNG signature.");
    let b = report["problems"].as_array().unwrap().iter().find(|p| p["file"] == b_truth.to_str().unwrap()).unwrap();
    assert_eq!(b["kind"], "unreadable");
}

#[test]
fn an_input_file_that_does_not_decode_is_named_once_with_its_cause() {
    let d = Dir::new();
    std::fs::create_dir_all(d.join("data/masks")).unwrap();
    let mask = d.write("data/masks/TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png", "not a png");
    let r = run(bcss().arg("stats").arg(d.join("data")).arg("--out").arg(d.join("stats")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let errors = lines_after(&r.stderr, "error: ");
    assert_eq!(errors, [format!("`{}`: invalid PNG: Invalid PNG signature.", mask.display())]);
    assert_each_level_once(errors[0]);
}

#[test]
fn a_password_that_cannot_be_asked_for_is_one_line_with_its_cause() {
    let d = Dir::new();
    // `setsid`: no controlling terminal (as under a scheduler), so the prompt cannot open
    // /dev/tty. Nothing is fetched: the password is asked for before connecting.
    let r = run(std::process::Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_bcss"))
        .args(["download", "--login", "bob", "--api-url", "http://127.0.0.1:1/api/v1", "--out"])
        .arg(d.join("out"))
        .env_remove("BCSS_PASSWORD")
        .env_remove("BCSS_API_KEY")
        .stdin(std::process::Stdio::null()));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_clean_error(&r.stderr);
    let errors = lines_after(&r.stderr, "error: ");
    assert_eq!(
        errors,
        ["cannot read the password for `--login` from the terminal (BCSS_PASSWORD gives it without one): \
          No such device or address (os error 6)"]
    );
}

/// Exit codes come from one place: a library error's `Blame` (an exhaustive match in the
/// library) through `exit::failure`. No match arm in the CLI picks an exit code for "any other"
/// error, where a new kind of failure would land unexamined.
#[test]
fn no_catch_all_arm_chooses_an_exit_code() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut found = Vec::new();
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, line) in text.lines().enumerate() {
                    let arm = line.trim_start();
                    let catch_all =
                        ["_ =>", "e =>", "other =>", "Err(e) =>", "Err(_) =>"].iter().any(|p| arm.starts_with(p));
                    if catch_all && arm.contains("Failure::") {
                        found.push(format!("{}:{}: {arm}", path.display(), i + 1));
                    }
                }
            }
        }
    }
    assert!(files > 10, "read the CLI's sources");
    assert!(found.is_empty(), "catch-all arms choosing an exit code:\n{}", found.join("\n"));
}
