//! Snapshots of every `--help`: the user-facing text is reviewed like code (`.snap` diffs).
//! Update after an intended change with `INSTA_UPDATE=always cargo test --test it help`, then
//! read the diff.

use crate::util::{bcss, run};

#[test]
fn help_texts() {
    let mut commands = vec![
        "",
        "download",
        "verify",
        "rois",
        "masks",
        "classes",
        "split",
        "stats",
        "tile",
        "overlay",
        "normalize",
        "eval",
        "report",
    ];
    if cfg!(feature = "openslide") {
        commands.extend(["extract", "slides", "slides manifest"]);
    }
    for cmd in commands {
        let mut c = bcss();
        c.args(cmd.split_whitespace());
        let r = run(c.arg("--help"));
        assert_eq!(r.code, 0, "{cmd} --help: {}", r.stderr);
        let name = if cmd.is_empty() { "bcss".to_string() } else { format!("bcss_{}", cmd.replace(' ', "_")) };
        insta::assert_snapshot!(name, r.stdout);
    }
}

#[test]
fn download_offers_only_its_own_mask_sources() {
    // One mask-source set in the library; `download` takes two of its three, and says which.
    let r = run(bcss().args(["download", "--mask-source", "dir", "--out", "/nonexistent/x"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("invalid value 'dir'") && r.stderr.contains("[possible values: links, annotations]"),
        "{}",
        r.stderr
    );
}
