//! The library's public surface, as a checked-in list (`tests/public-api.txt`), so that a change
//! to it shows up in review as a diff of that file.
//!
//! The list is read from the source with `syn`: every item declared `pub` along a path of `pub`
//! modules from `lib.rs` (functions, types, traits, constants, re-exports), the `pub` fields of
//! public structs, the variants of public enums, and the `pub` methods and associated constants
//! of inherent `impl` blocks, each with its module path and, for enums and structs, whether it is
//! `#[non_exhaustive]`. Test modules (`#[cfg(test)]`) are skipped. (`cargo public-api` would
//! read rustdoc's JSON, which needs a nightly toolchain; this machine has stable only.)
//!
//! After a deliberate change: `BCSS_UPDATE_PUBLIC_API=1 cargo test -p bcss --test it public_api`.

use std::path::{Path, PathBuf};

use syn::{Attribute, ImplItem, Item, Visibility};

fn is_pub(v: &Visibility) -> bool {
    matches!(v, Visibility::Public(_))
}

fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg") && tokens(&a.meta).contains("test"))
}

fn non_exhaustive(attrs: &[Attribute]) -> &'static str {
    if attrs.iter().any(|a| a.path().is_ident("non_exhaustive")) {
        " #[non_exhaustive]"
    } else {
        ""
    }
}

fn tokens(t: &impl quote::ToTokens) -> String {
    quote::ToTokens::to_token_stream(t).to_string()
}

/// Lists the public items of `items` (module `path`, whose child modules live in `dir`).
fn walk(items: &[Item], path: &str, dir: &Path, out: &mut Vec<String>) {
    for item in items {
        match item {
            Item::Mod(m) if is_pub(&m.vis) && !is_test_only(&m.attrs) => {
                let name = m.ident.to_string();
                let sub = format!("{path}::{name}");
                out.push(format!("mod {sub}"));
                match &m.content {
                    Some((_, inner)) => walk(inner, &sub, &dir.join(&name), out),
                    None => {
                        let (file, child_dir) = if dir.join(format!("{name}.rs")).exists() {
                            (dir.join(format!("{name}.rs")), dir.join(&name))
                        } else {
                            (dir.join(&name).join("mod.rs"), dir.join(&name))
                        };
                        walk(&parse(&file).items, &sub, &child_dir, out);
                    }
                }
            }
            Item::Fn(f) if is_pub(&f.vis) => out.push(format!("fn {path}::{}", tokens(&f.sig))),
            Item::Const(c) if is_pub(&c.vis) => out.push(format!("const {path}::{}: {}", c.ident, tokens(&c.ty))),
            Item::Static(s) if is_pub(&s.vis) => out.push(format!("static {path}::{}: {}", s.ident, tokens(&s.ty))),
            Item::Type(t) if is_pub(&t.vis) => out.push(format!("type {path}::{} = {}", t.ident, tokens(&t.ty))),
            Item::Trait(t) if is_pub(&t.vis) => out.push(format!("trait {path}::{}", t.ident)),
            Item::Use(u) if is_pub(&u.vis) => out.push(format!("use {path}::{{{}}}", tokens(&u.tree))),
            Item::Struct(s) if is_pub(&s.vis) => {
                let name = format!("{path}::{}", s.ident);
                out.push(format!("struct {name}{}{}", tokens(&s.generics), non_exhaustive(&s.attrs)));
                for (i, f) in s.fields.iter().enumerate() {
                    if is_pub(&f.vis) {
                        let field = f.ident.as_ref().map_or_else(|| i.to_string(), ToString::to_string);
                        out.push(format!("field {name}.{field}: {}", tokens(&f.ty)));
                    }
                }
            }
            Item::Enum(e) if is_pub(&e.vis) => {
                let name = format!("{path}::{}", e.ident);
                out.push(format!("enum {name}{}{}", tokens(&e.generics), non_exhaustive(&e.attrs)));
                for v in &e.variants {
                    out.push(format!("variant {name}::{}{}", v.ident, tokens(&v.fields)));
                }
            }
            Item::Impl(i) if i.trait_.is_none() && !is_test_only(&i.attrs) => {
                let ty = tokens(&i.self_ty);
                for member in &i.items {
                    match member {
                        ImplItem::Fn(f) if is_pub(&f.vis) => {
                            out.push(format!("method {path}::{ty}::{}", tokens(&f.sig)))
                        }
                        ImplItem::Const(c) if is_pub(&c.vis) => out.push(format!("const {path}::{ty}::{}", c.ident)),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

fn parse(file: &Path) -> syn::File {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[test]
fn the_public_api_is_the_checked_in_list() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut items = Vec::new();
    walk(&parse(&src.join("lib.rs")).items, "bcss", &src, &mut items);
    items.sort();
    let now = items.join("\n") + "\n";
    let list = root.join("tests/public-api.txt");
    if std::env::var_os("BCSS_UPDATE_PUBLIC_API").is_some() {
        std::fs::write(&list, &now).unwrap();
        return;
    }
    let before = std::fs::read_to_string(&list).unwrap_or_default();
    if before != now {
        let old: std::collections::BTreeSet<&str> = before.lines().collect();
        let new: std::collections::BTreeSet<&str> = now.lines().collect();
        let gone: Vec<_> = old.difference(&new).collect();
        let added: Vec<_> = new.difference(&old).collect();
        panic!(
            "the public API changed; if on purpose, run with BCSS_UPDATE_PUBLIC_API=1 and commit \
             tests/public-api.txt\nremoved: {gone:#?}\nadded: {added:#?}"
        );
    }
    // The walk found the surface, not an empty or partial one.
    assert!(items.iter().any(|i| i.starts_with("struct bcss::codec::encoder::PngWriter")), "{items:?}");
    assert!(items.len() > 200, "{} items", items.len());
}
