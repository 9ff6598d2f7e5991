//! The workspace's crates depend on each other only as ARCHITECTURE.md's table of crates says:
//! read from each crate's `Cargo.toml` (`[dependencies]` and `[build-dependencies]`; tests may
//! use more through `[dev-dependencies]`).

use std::collections::BTreeSet;
use std::path::Path;

/// Each crate of the workspace and the workspace crates it may depend on.
const RULES: &[(&str, &[&str])] = &[
    ("bcss-model", &[]),
    ("bcss-codec", &["bcss-model"]),
    ("bcss-http", &[]),
    ("bcss-files", &[]),
    ("bcss-catalog", &["bcss-model", "bcss-files"]),
    ("bcss-tiff", &["bcss-model"]),
    ("bcss-transform", &["bcss-model"]),
    ("bcss-dataset", &["bcss-model", "bcss-codec", "bcss-files", "bcss-catalog", "bcss-transform"]),
    (
        "bcss",
        &[
            "bcss-model",
            "bcss-codec",
            "bcss-http",
            "bcss-files",
            "bcss-catalog",
            "bcss-tiff",
            "bcss-transform",
            "bcss-dataset",
        ],
    ),
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

/// The modules of a crate (one per `.rs` file: `a/b.rs` and `a/b/mod.rs` are `a::b`, `lib.rs`
/// and `main.rs` the root), with the text of each outside comments and its `#[cfg(test)] mod
/// tests`.
fn modules(src: &Path) -> std::collections::BTreeMap<Vec<String>, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut name: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            if matches!(name.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                name.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
            let code: String = text
                .lines()
                .map(|l| if l.trim_start().starts_with("//") { "" } else { l.split(" // ").next().unwrap_or("") })
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(name, code);
        }
    }
    out
}

/// The sibling modules a module uses (`crate::..` and `super::..` paths, resolved to the
/// longest module they name; a module's own ancestors and descendants are not counted).
fn uses(module: &[String], code: &str, all: &std::collections::BTreeMap<Vec<String>, String>) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let starts = (bytes[i..].starts_with(b"crate::") || bytes[i..].starts_with(b"super::"))
            && (i == 0 || !ident(bytes[i - 1]));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && (ident(bytes[j]) || bytes[j] == b':') {
            j += 1;
        }
        let parts: Vec<&str> = code[i..j].split("::").filter(|p| !p.is_empty()).collect();
        i = j;
        let mut base: Vec<String> = if parts[0] == "crate" { Vec::new() } else { module.to_vec() };
        let mut rest = &parts[..];
        if parts[0] == "crate" {
            rest = &parts[1..];
        }
        while rest.first() == Some(&"super") {
            base.pop();
            rest = &rest[1..];
        }
        let mut target = base.clone();
        let mut best = base;
        for p in rest {
            target.push((*p).to_string());
            if all.contains_key(&target) {
                best = target.clone();
            }
        }
        let related = best.starts_with(module) || module.starts_with(&best);
        if !related && all.contains_key(&best) {
            found.insert(best);
        }
    }
    found
}

/// The cycles of a graph: its strongly connected components of more than one node.
fn cycles(edges: &std::collections::BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    // Kosaraju: finish order on the graph, then components on the reversed graph.
    fn finish(
        v: &Vec<String>,
        g: &std::collections::BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        seen: &mut BTreeSet<Vec<String>>,
        order: &mut Vec<Vec<String>>,
    ) {
        if !seen.insert(v.clone()) {
            return;
        }
        for w in g.get(v).into_iter().flatten() {
            finish(w, g, seen, order);
        }
        order.push(v.clone());
    }
    let mut reversed: std::collections::BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = Default::default();
    for (v, ws) in edges {
        for w in ws {
            reversed.entry(w.clone()).or_default().insert(v.clone());
        }
    }
    let (mut seen, mut order) = (BTreeSet::new(), Vec::new());
    for v in edges.keys() {
        finish(v, edges, &mut seen, &mut order);
    }
    let mut assigned = BTreeSet::new();
    let mut out = Vec::new();
    for v in order.iter().rev() {
        let mut comp = Vec::new();
        finish(v, &reversed, &mut assigned, &mut comp);
        if comp.len() > 1 {
            let mut names: Vec<String> = comp.iter().map(|m| m.join("::")).collect();
            names.sort();
            out.push(names);
        }
    }
    out
}

#[test]
fn no_modules_import_each_other() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for (name, _) in RULES {
        let all = modules(&crates.join(name).join("src"));
        let edges = all.iter().map(|(m, code)| (m.clone(), uses(m, code, &all))).collect();
        found.extend(cycles(&edges).into_iter().map(|c| format!("{name}: {}", c.join(" <-> "))));
    }
    assert!(found.is_empty(), "modules that import each other (directly or round a circle): {found:#?}");
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    // The check above can fail: two modules naming each other form a cycle, a chain does not.
    let all: std::collections::BTreeMap<Vec<String>, String> = [
        (vec!["a".to_string()], "use crate::b::X;".to_string()),
        (vec!["b".to_string()], "fn f() { super::c::g() }".to_string()),
        (vec!["c".to_string()], "use crate::a;".to_string()),
        (vec!["d".to_string()], "use crate::a::Y;".to_string()),
    ]
    .into_iter()
    .collect();
    let edges = all.iter().map(|(m, code)| (m.clone(), uses(m, code, &all))).collect();
    assert_eq!(cycles(&edges), vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]]);
}
