//! The `bcss-testserver` binary's command line (clap): help, errors that name the flag, and a
//! real slide written by `write-svs`.

use std::process::Command;

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
