//! `bcss-testserver`: run the stand-in DSA for manual poking and benchmarks.
//!
//! ```text
//! bcss-testserver [--port N] [--slides N] [--roi WxH] [--latency-ms MS] [--bandwidth BYTES_PER_S]
//!                 [--api-key KEY] [--faults NAME|RULES] [--roi-csv PATH] [--public]
//! ```
//! Prints `BCSS_API_URL=...`, `BCSS_FOLDER_ID=...` and `ROI_CSV=...` lines on stdout (shell
//! `KEY=VALUE`), then serves until killed. `--faults list` prints the named scenarios.

use std::time::Duration;

use bcss_testserver::{faults, Config, Faults, TestServer};

fn main() {
    if let Err(e) = run() {
        eprintln!("bcss-testserver: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut port = 0u16;
    let mut n = 3usize;
    let (mut roi_w, mut roi_h) = (2000u64, 1500u64);
    let mut latency = Duration::ZERO;
    let mut bandwidth = None;
    let mut api_key = "bcss-test-key".to_string();
    let mut faults = Faults::none();
    let mut csv_path = None;
    let mut public = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--slides" => n = value()?.parse().map_err(|e| format!("--slides: {e}"))?,
            "--roi" => {
                let v = value()?;
                let (w, h) = v.split_once('x').ok_or("--roi takes WxH")?;
                roi_w = w.parse().map_err(|e| format!("--roi: {e}"))?;
                roi_h = h.parse().map_err(|e| format!("--roi: {e}"))?;
            }
            "--latency-ms" => {
                latency = Duration::from_millis(value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?)
            }
            "--bandwidth" => bandwidth = Some(value()?.parse().map_err(|e| format!("--bandwidth: {e}"))?),
            "--api-key" => api_key = value()?,
            "--faults" => {
                let v = value()?;
                if v == "list" {
                    for (name, what) in faults::SCENARIOS {
                        println!("{name:24} {what}");
                    }
                    return Ok(());
                }
                faults = Faults::parse(&v)?;
            }
            "--roi-csv" => csv_path = Some(value()?),
            "--public" => public = true,
            "--help" | "-h" => {
                println!("usage: bcss-testserver [--port N] [--slides N] [--roi WxH] [--latency-ms MS] [--bandwidth BYTES_PER_S] [--api-key KEY] [--faults NAME|RULES|list] [--roi-csv PATH] [--public]");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    let mut config = Config::synthetic(n, roi_w, roi_h);
    config.api_key = Some(api_key);
    config.latency = latency;
    config.bandwidth = bandwidth;
    config.faults = faults;
    config.folder_public = public;
    let server = TestServer::start_on(config, port).map_err(|e| format!("cannot bind 127.0.0.1:{port}: {e}"))?;
    if let Some(p) = &csv_path {
        std::fs::write(p, server.roi_bounds_csv()).map_err(|e| format!("cannot write {p}: {e}"))?;
    }
    println!("BCSS_API_URL={}", server.api_url());
    println!("BCSS_FOLDER_ID={}", server.folder_id());
    println!("BCSS_EMPTY_FOLDER_ID={}", server.empty_folder_id());
    if let Some(p) = &csv_path {
        println!("ROI_CSV={p}");
    }
    use std::io::Write;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    loop {
        std::thread::park();
    }
}
