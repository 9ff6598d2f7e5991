//! `bcss download` against a server that stalls, floods or echoes secrets: every request has a
//! deadline and a size limit, a listing has an end, a redirect away from HTTP is refused, and no
//! secret comes back out, whatever the server says.

use std::time::{Duration, Instant};

use bcss_testserver::{Config, Fault, Faults, Route, SlideSpec, When};

use crate::util::*;

/// One slide with a ROI of 40 x 30 base pixels: its region is a PNG of a few KB.
fn tiny() -> Stand {
    Stand::with(Config {
        slides: vec![SlideSpec::new("TCGA-SY-0001-01Z-00-DX1.SYNTH0001.svs", 4000, 3000, 0.25, 40.0).roi(
            "TCGA-SY-0001-DX1",
            100,
            200,
            140,
            230,
        )],
        api_key: Some(KEY.into()),
        ..Default::default()
    })
}

#[test]
fn a_trickled_region_fails_at_its_deadline() {
    // One byte per 100 ms: every read gets a byte well within `--timeout 1`, so only the
    // request's deadline (1 s + a few KB at 64 KiB/s) can end it; the whole body would take
    // minutes.
    let s = tiny();
    s.server.set_faults(Faults::named("trickle").unwrap());
    let started = Instant::now();
    let r = run(s.download().args(["--encoding", "png", "--pipeline", "images", "--timeout", "1", "--retries", "0"]));
    let elapsed = started.elapsed();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("TCGA-SY-0001-DX1") && r.stderr.contains("deadline"), "{}", r.stderr);
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_eq!(s.region_requests().len(), 1);
    assert_clean_error(&r.stderr);
}

/// The highest `VmHWM` (peak resident memory, KiB) seen while the child runs, and its output.
fn run_measuring_peak(cmd: &mut std::process::Command) -> (Run, u64) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("bcss starts");
    let status_file = format!("/proc/{}/status", child.id());
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let r = Run { code: status.code().unwrap_or(-1), stdout: out.join().unwrap(), stderr: err.join().unwrap() };
    (r, peak)
}

#[test]
fn an_unbounded_chunked_region_fails_on_its_size_in_little_memory() {
    // A region of 600 x 400 may be 4.5 B/px + 1 MiB = 2.1 MB; the server sends 1 GiB, chunked.
    let s = Stand::new();
    s.server.set_faults(Faults::named("unbounded-chunked").unwrap());
    let started = Instant::now();
    let (r, peak_kib) = run_measuring_peak(s.download().args(["--slides", "TCGA-SY-0001", "--pipeline", "images"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("TCGA-SY-0001-DX1") && r.stderr.contains("longer than the"), "{}", r.stderr);
    assert!(peak_kib > 0, "VmHWM was read");
    assert!(peak_kib < 200 * 1024, "peak memory {peak_kib} KiB");
    assert_eq!(s.region_requests().len(), 1, "a body over the limit is not retried");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert_clean_error(&r.stderr);
}

#[test]
fn an_endless_listing_is_a_clear_error() {
    let s = Stand::new();
    s.server.set_faults(Faults::named("endless-listing").unwrap());
    let started = Instant::now();
    let r = run(&mut s.download());
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("folder listing") && r.stderr.contains("1000000000000000000 items"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_clean_error(&r.stderr);

    // Without a total, full pages forever stop at 100 000 items.
    s.server.set_faults(Faults::none().on(Route::Listing, When::Always, Fault::EndlessListing));
    let r = run(&mut s.download());
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("folder listing"), "{}", r.stderr);
}

#[test]
fn a_server_that_echoes_the_key_never_gets_it_printed() {
    let s = Stand::new();
    s.server.set_faults(Faults::named("secret-echo").unwrap());
    let mut cmd = s.download();
    cmd.env("BCSS_LOG", "trace");
    let r = run(&mut cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("Invalid API key: [redacted]"), "{}", r.stderr);
    assert_no_secrets(&s.out(), &s.server, &[&r.stdout, &r.stderr]);

    // A login: neither the password nor the Basic header's value comes back.
    let password = "pa55-w0rd-echoed-by-the-server";
    let s =
        Stand::with(Config { slides: slides(), login: Some(("ana".into(), password.into())), ..Default::default() });
    s.server.set_faults(Faults::named("secret-echo").unwrap());
    let mut cmd = s.download();
    cmd.env_remove("BCSS_API_KEY").env("BCSS_PASSWORD", password).env("BCSS_LOG", "trace").args(["--login", "ana"]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(!r.stderr.contains(password) && !r.stdout.contains(password), "{}", r.stderr);
    assert_no_secrets(&s.out(), &s.server, &[&r.stdout, &r.stderr]);
}

#[test]
fn a_secret_in_the_config_file_is_not_echoed_by_its_error() {
    let s = Stand::new();
    let cfg = s.dir.write("bcss.toml", "api-key = 12345678\n");
    let mut cmd = bcss();
    cmd.args(["--no-progress", "download", "--config"]).arg(&cfg);
    let r = run(&mut cmd);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bcss.toml") && r.stderr.contains("invalid"), "{}", r.stderr);
    assert!(!r.stderr.contains("12345678"), "{}", r.stderr);
    assert!(s.server.requests().is_empty());
}

#[test]
fn a_timeout_above_a_day_names_the_limit() {
    let s = Stand::new();
    let r = run(s.download().args(["--timeout", "100000"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("at most 86400"), "{}", r.stderr);
}

#[test]
fn a_mask_link_redirecting_to_a_file_url_is_refused_once() {
    let s = Stand::new();
    s.server.set_faults(Faults::none().on(Route::MaskLink, When::Always, Fault::Redirect("file:///etc/passwd".into())));
    let r = run(s.download().args(["--slides", "TCGA-SY-0002", "--pipeline", "masks"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("non-HTTP URL `file:///etc/passwd`"), "{}", r.stderr);
    assert!(!r.stderr.contains("invalid format"), "{}", r.stderr);
    let links = s.requests_where(|q| q.path.starts_with("/masks/")).len();
    assert_eq!(links, 1, "not retried");
    assert_clean_error(&r.stderr);
}

#[test]
fn a_png_bomb_behind_a_mask_link_fails_that_roi_only() {
    let s = Stand::new();
    s.server.set_faults(Faults::named("bomb-png").unwrap());
    let (r, peak_kib) = run_measuring_peak(s.download().args(["--slides", "TCGA-SY-0002", "--pipeline", "masks"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    // The header's size is checked before anything is decoded.
    assert!(
        r.stderr.contains("TCGA-SY-0002-DX1") && r.stderr.contains("60000x2147483647 but the ROI is 510x307"),
        "{}",
        r.stderr
    );
    assert!(peak_kib < 200 * 1024, "peak memory {peak_kib} KiB");
    assert!(!s.mask_path("TCGA-SY-0002-DX1", "MPP-0.2500").exists());
    assert_clean_error(&r.stderr);
}
