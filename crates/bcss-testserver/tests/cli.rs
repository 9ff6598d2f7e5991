//! The `bcss-testserver` binary's command line (clap): help, errors that name the flag, a real
//! slide written by `write-svs`, and `--picture tissue` served over HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bcss-testserver"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_and_unknown_flags() {
    let out = server().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("--latency-ms <MS>") && help.contains("write-svs") && help.contains("gdc"), "{help}");
    assert!(
        help.contains("--picture <PICTURE>") && help.contains("benchmarks") && help.contains("[default: pattern]"),
        "{help}"
    );
    let out = server().args(["gdc", "--help"]).output().unwrap();
    assert!(text(&out.stdout).contains("--cut-short-after <N>"), "{}", text(&out.stdout));

    let out = server().arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unexpected argument '--bogus'"), "{}", text(&out.stderr));
    let out = server().args(["--roi", "20x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value '20x' for '--roi <WxH>'"), "{}", text(&out.stderr));
    // gdc without its directory.
    let out = server().arg("gdc").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--dir <DIR>"), "{}", text(&out.stderr));
}

#[test]
fn faults_list_and_write_svs() {
    let out = server().args(["--faults", "list"]).output().unwrap();
    assert!(out.status.success());
    let list = text(&out.stdout);
    for (name, _) in bcss_testserver::faults::SCENARIOS {
        assert!(list.contains(name), "{name} missing from {list}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.svs");
    let out = server()
        .arg("write-svs")
        .arg(&path)
        .args(["600x400", "--tile", "256", "--levels", "1,4", "--tissue", "0,0,100,100"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(text(&out.stdout).trim(), format!("{} {size}", path.display()));
    let slide = openslide_rs::OpenSlide::new(&path).unwrap();
    assert_eq!(slide.level_count(), 2);
    let d = slide.level_dimensions(1).unwrap();
    assert_eq!((d.w, d.h), (150, 100));
    assert_eq!(slide.property_value("openslide.level[0].tile-width").unwrap(), "256");
}

/// A GET on a fresh connection: status line and body (read by its Content-Length: the server
/// keeps a handle on every connection, so it does not close one on `Connection: close`).
fn get(url: &str) -> (String, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = TcpStream::connect(host).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut len = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        match line.trim_end().split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("content-length") => len = v.trim().parse().unwrap(),
            Some(_) => {}
            None => break,
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (status, body)
}

#[test]
fn picture_tissue_serves_tissue() {
    let mut child = server()
        .args(["--picture", "tissue", "--slides", "1", "--roi", "300x200", "--public"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut value = |key: &str| loop {
        let line = lines.next().expect("the server prints its settings").unwrap();
        if let Some(v) = line.strip_prefix(key) {
            break v.to_string();
        }
    };
    let (api, folder) = (value("BCSS_API_URL="), value("BCSS_FOLDER_ID="));
    let (status, body) = get(&format!("{api}/item?folderId={folder}"));
    assert!(status.contains(" 200 "), "{status}");
    let items: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let slide = items.as_array().unwrap().iter().find(|i| i.get("largeImage").is_some()).expect("a slide item");
    let id = slide["_id"].as_str().unwrap().to_string();
    // The synthetic slide's ROI starts at (1000, 2000); a region there, as JPEG (the default).
    let (status, body) = get(&format!("{api}/item/{id}/tiles/region?left=1000&top=2000&right=1300&bottom=2200"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(status.contains(" 200 "), "{status}");
    let img = bcss::codec::jpeg::decode_rgb(&body).unwrap();
    assert_eq!((img.width, img.height), (300, 200));
    let off_by = |colour: fn(u64, u64) -> [u8; 3]| {
        let mut sum = 0u64;
        for (k, px) in img.data.chunks(3).enumerate() {
            let want = colour(1000 + (k % 300) as u64, 2000 + (k / 300) as u64);
            sum += px.iter().zip(want).map(|(&a, b)| u64::from(a.abs_diff(b))).sum::<u64>();
        }
        sum as f64 / img.data.len() as f64
    };
    let (tissue, pattern) = (off_by(bcss_testserver::tissue::tissue), off_by(bcss_testserver::image::colour));
    assert!(tissue < 4.0 && pattern > 40.0, "mean error against tissue {tissue}, against the pattern {pattern}");
}
