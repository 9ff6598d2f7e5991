//! Annotation documents of a slide (`GET annotation/item/{id}`), read from Girder's JSON into the
//! plain types of `crate::shape`.
//!
//! ## Elements
//!
//! [`parse`] reads the JSON array the server returns (one document per annotation, each with
//! `annotation.elements`) and keeps, for every element, its position (`annidx`, `elementidx`),
//! its `id`, its group and its geometry:
//!
//! - the group is `group` when the key is present (even if `null`), else `label.value`, else
//!   none: HistomicsTK's `get_bboxes_from_slide_annotations` rule. An element without a group is
//!   never drawn, but still counts when the area around a ROI is measured;
//! - `polyline` elements keep their points (`[x, y, z]`, z dropped) as given, fractional
//!   coordinates included, and are always treated as closed polygons (`closed` is ignored, as in
//!   HistomicsTK);
//! - `rectangle` elements keep `center`, `width`, `height` and `rotation` (radians,
//!   counter-clockwise; a missing `rotation` is 0 here, where HistomicsTK raises `KeyError`);
//! - every other type (`point`, `ellipse`, `circle`, `arrow`, ...) is kept as
//!   [`Shape::Other`] so callers can count what was skipped.
//!
//! A single document (`GET annotation/{id}`) or a bare `{"elements": [...]}` object is accepted
//! too. Coordinates are base-resolution slide pixels.
//!
//! ```
//! use bcss_model::Shape;
//! use bcss_model::parse_annotations as parse;
//!
//! let json = br#"[{"annotation": {"name": "a", "elements": [
//!     {"type": "rectangle", "group": "roi", "center": [10, 10, 0], "width": 8, "height": 6, "rotation": 0},
//!     {"type": "polyline", "label": {"value": "mostly_tumor"}, "points": [[8, 8, 0], [12, 8, 0], [10, 12.5, 0]]},
//!     {"type": "point", "center": [3, 3, 0]}
//! ]}}]"#;
//! let parsed = parse(json).unwrap();
//! assert_eq!(parsed.elements.len(), 3);
//! assert_eq!(parsed.elements[1].group.as_deref(), Some("mostly_tumor"));
//! assert!(matches!(parsed.elements[2].shape, Shape::Other { .. }));
//! ```
//!
//! Invariant: pure parsing of bytes already in memory. Girder's field names (`annotation`,
//! `elements`, `label.value`, ...) are read here and nowhere else.

use serde_json::Value;

use crate::{Annotations, Element, Shape};

/// Why annotation JSON could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnnotationError {
    /// The bytes are not JSON.
    #[error("not valid JSON")]
    Json(#[source] serde_json::Error),
    /// The JSON does not have the shape of an annotation response.
    #[error("annotation JSON has an unexpected shape: {0}")]
    Shape(String),
    /// One element is malformed.
    #[error("annotation {annidx} element {elementidx}{}: {reason}", id.as_deref().map(|i| format!(" (`{i}`)")).unwrap_or_default())]
    Element {
        /// Document index.
        annidx: usize,
        /// Element index.
        elementidx: usize,
        /// Element id.
        id: Option<String>,
        /// What is wrong.
        reason: String,
    },
}

/// Parses the body of `GET annotation/item/{id}` (an array of documents), one document, or a
/// bare `{"elements": [...]}` object.
pub fn parse(bytes: &[u8]) -> Result<Annotations, AnnotationError> {
    let value: Value = serde_json::from_slice(bytes).map_err(AnnotationError::Json)?;
    let docs: Vec<&Value> = match &value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![&value],
        _ => return Err(AnnotationError::Shape("expected an array of annotation documents".into())),
    };
    let mut elements = Vec::new();
    for (annidx, doc) in docs.into_iter().enumerate() {
        let body = doc.get("annotation").unwrap_or(doc);
        let list = match body.get("elements") {
            Some(Value::Array(list)) => list,
            Some(_) => return Err(AnnotationError::Shape(format!("document {annidx}: `elements` is not an array"))),
            None if doc.get("annotation").is_some() => &Vec::new(),
            None => {
                return Err(AnnotationError::Shape(format!(
                    "document {annidx} has neither `annotation` nor `elements`"
                )))
            }
        };
        for (elementidx, el) in list.iter().enumerate() {
            elements.push(parse_element(annidx, elementidx, el)?);
        }
    }
    Ok(Annotations { elements })
}

fn parse_element(annidx: usize, elementidx: usize, el: &Value) -> Result<Element, AnnotationError> {
    let id = el.get("id").and_then(Value::as_str).map(str::to_string);
    let fail = |reason: String| AnnotationError::Element { annidx, elementidx, id: id.clone(), reason };
    let Some(obj) = el.as_object() else { return Err(fail("not a JSON object".into())) };
    let kind = obj.get("type").and_then(Value::as_str).ok_or_else(|| fail("no `type`".into()))?;
    let group = match obj.get("group") {
        Some(g) => group_text(g),
        None => obj.get("label").and_then(|l| l.get("value")).and_then(group_text),
    };
    let number = |key: &str| -> Result<Option<f64>, AnnotationError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                v.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| fail(format!("`{key}` is not a number")))
            }
        }
    };
    let xy = |v: &Value, what: &str| -> Result<[f64; 2], AnnotationError> {
        let arr = v.as_array().ok_or_else(|| fail(format!("{what} is not an array")))?;
        if arr.len() < 2 {
            return Err(fail(format!("{what} has {} coordinate(s), expected [x, y, z]", arr.len())));
        }
        let x = arr[0].as_f64().filter(|x| x.is_finite()).ok_or_else(|| fail(format!("{what} has a non-numeric x")))?;
        let y = arr[1].as_f64().filter(|y| y.is_finite()).ok_or_else(|| fail(format!("{what} has a non-numeric y")))?;
        Ok([x, y])
    };
    let shape = match kind {
        "polyline" => {
            let pts = obj
                .get("points")
                .and_then(Value::as_array)
                .ok_or_else(|| fail("polyline without `points` array".into()))?;
            let points =
                pts.iter().enumerate().map(|(i, p)| xy(p, &format!("point {i}"))).collect::<Result<Vec<_>, _>>()?;
            if points.is_empty() {
                return Err(fail("polyline with no points".into()));
            }
            Shape::Polyline { points }
        }
        "rectangle" => {
            let center = xy(obj.get("center").ok_or_else(|| fail("rectangle without `center`".into()))?, "`center`")?;
            let width = number("width")?.ok_or_else(|| fail("rectangle without `width`".into()))?;
            let height = number("height")?.ok_or_else(|| fail("rectangle without `height`".into()))?;
            let rotation = number("rotation")?.unwrap_or(0.0);
            Shape::Rectangle { center, width, height, rotation }
        }
        other => Shape::Other { kind: other.to_string() },
    };
    Ok(Element { annidx, elementidx, id, group, shape })
}

/// pandas stores any JSON scalar as the group; a string is the only sensible one, numbers are
/// kept as their text so they can still match a table row.
fn group_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_comes_from_group_then_label() {
        let json = br#"[{"annotation": {"elements": [
            {"type": "polyline", "group": "a", "label": {"value": "b"}, "points": [[0,0,0],[1,0,0],[1,1,0]]},
            {"type": "polyline", "label": {"value": "b"}, "points": [[0,0,0],[1,0,0],[1,1,0]]},
            {"type": "polyline", "group": null, "label": {"value": "b"}, "points": [[0,0,0],[1,0,0],[1,1,0]]},
            {"type": "rectangle", "center": [5.5, 6, 0], "width": 3, "height": 4},
            {"type": "ellipse", "center": [5, 6, 0], "width": 3, "height": 4, "rotation": 0}
        ]}}, {"annotation": {"elements": [{"type": "point", "center": [1, 2, 0], "id": "x"}]}}]"#;
        let a = parse(json).unwrap();
        let groups: Vec<_> = a.elements.iter().map(|e| e.group.as_deref()).collect();
        assert_eq!(groups, vec![Some("a"), Some("b"), None, None, None, None]);
        assert_eq!(
            a.elements[3].shape,
            Shape::Rectangle { center: [5.5, 6.0], width: 3.0, height: 4.0, rotation: 0.0 }
        );
        assert_eq!((a.elements[5].annidx, a.elements[5].elementidx, a.elements[5].id.as_deref()), (1, 0, Some("x")));
        let unsupported = a.unsupported();
        assert_eq!(unsupported.get("ellipse"), Some(&1));
        assert_eq!(unsupported.get("point"), Some(&1));
    }

    #[test]
    fn bad_json_and_elements_are_reported() {
        let err = parse(b"[{").unwrap_err();
        assert!(matches!(err, AnnotationError::Json(_)));
        // serde's message is the cause, said once, not folded into this level's.
        assert_eq!(err.to_string(), "not valid JSON");
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("EOF while parsing an object at line 1 column 2"));
        assert!(matches!(parse(b"42"), Err(AnnotationError::Shape(_))));
        let err = parse(br#"[{"annotation": {"elements": [{"type": "polyline", "id": "e1", "points": [[1]]}]}}]"#)
            .unwrap_err();
        assert_eq!(err.to_string(), "annotation 0 element 0 (`e1`): point 0 has 1 coordinate(s), expected [x, y, z]");
        let err =
            parse(br#"[{"annotation": {"elements": [{"type": "rectangle", "center": [1, 2, 0], "height": 3}]}}]"#)
                .unwrap_err();
        assert!(err.to_string().contains("rectangle without `width`"), "{err}");
    }
}
