//! HTML text made safe: every piece of text that came from outside (file names, slide and ROI
//! ids, class names of a custom map, paths) goes through [`escape`] before it is written into a
//! page, and data embedded in a `<script>` through [`script_json`].
//!
//! Hand-written rather than a templating crate: the report is one page built once, and these two
//! rules are all it needs (a template engine would add a dependency and a second language for
//! the same few loops).

use base64::Engine;

/// `text` with `&`, `<`, `>`, `"` and `'` replaced by their character references, safe in element
/// content and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `data:` URI of `bytes` (base64), for an `<img src>` that needs no file beside the page.
pub fn data_uri(mime: &str, bytes: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("data:{mime};base64,{b64}")
}

/// `value` as JSON that can sit inside `<script type="application/json">`: `<`, `>` and `&` are
/// written as `\u003c`, `\u003e` and `\u0026` (the same string to a JSON parser), so no text in
/// it can close the script element.
pub fn script_json(value: &serde_json::Value) -> String {
    let text = serde_json::to_string(value).expect("a JSON value serialises");
    text.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_text() {
        let name = r#"<img src=x onerror="alert('1')">&amp;"#;
        let e = escape(name);
        assert_eq!(e, "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;amp;");
        assert!(!e.contains('<') && !e.contains('"') && !e.contains('\''));
        assert_eq!(escape("TCGA-A1-A0SK-DX1 é"), "TCGA-A1-A0SK-DX1 é");
    }

    #[test]
    fn script_json_cannot_close_its_script_and_parses_back() {
        let v = serde_json::json!({"roi": "</script><script>alert(1)</script>", "n": 3});
        let text = script_json(&v);
        assert!(!text.contains('<') && !text.contains('>'));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
    }

    #[test]
    fn data_uris_are_base64() {
        assert_eq!(data_uri("image/png", b"abc"), "data:image/png;base64,YWJj");
    }
}
