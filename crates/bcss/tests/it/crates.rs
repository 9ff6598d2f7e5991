//! The workspace's crates depend on each other only as ARCHITECTURE.md's table of crates says:
//! read from each crate's `Cargo.toml` (`[dependencies]` and `[build-dependencies]`; tests may
//! use more through `[dev-dependencies]`).

use std::collections::BTreeSet;
use std::path::Path;

/// Each crate of the workspace and the workspace crates it may depend on.
const RULES: &[(&str, &[&str])] = &[
    ("bcss-model", &[]),
    ("bcss-codec", &["bcss-model"]),
    ("bcss", &["bcss-model", "bcss-codec"]),
    // The stand-in servers build slides and masks with the codecs, never with the library they
    // test (a bug there must not hide one here).
    ("bcss-testserver", &["bcss-model", "bcss-codec"]),
    ("bcss-cli", &["bcss"]),
    ("bcss-py", &["bcss", "bcss-cli"]),
];

fn workspace_deps(manifest: &toml::Table, names: &BTreeSet<&str>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for section in ["dependencies", "build-dependencies"] {
        if let Some(deps) = manifest.get(section).and_then(|d| d.as_table()) {
            found.extend(deps.keys().filter(|k| names.contains(k.as_str())).cloned());
        }
    }
    found
}

#[test]
fn crates_depend_on_each_other_only_as_the_rules_say() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let names: BTreeSet<&str> = RULES.iter().map(|(n, _)| *n).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&crates)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let ruled: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
    assert_eq!(on_disk, ruled, "every crate has a rule here and in ARCHITECTURE.md");
    for (name, allowed) in RULES {
        let text = std::fs::read_to_string(crates.join(name).join("Cargo.toml")).unwrap();
        let manifest: toml::Table = text.parse().unwrap();
        let got = workspace_deps(&manifest, &names);
        let allowed: BTreeSet<String> = allowed.iter().map(|s| s.to_string()).collect();
        let extra: Vec<_> = got.difference(&allowed).collect();
        assert!(extra.is_empty(), "{name} depends on {extra:?}, which its rule does not allow");
    }
}
