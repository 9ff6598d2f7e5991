//! Annotation elements as plain Rust types: what a slide's annotations say, whatever the file
//! they came from. [`crate::parse_annotations`] reads Girder's JSON into these.

use std::collections::BTreeMap;

/// One annotation element.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Index of the annotation document in the array (`annidx`).
    pub annidx: usize,
    /// Index of the element in its document (`elementidx`).
    pub elementidx: usize,
    /// The element's id, when it has one.
    pub id: Option<String>,
    /// The annotation group (`mostly_tumor`, `roi`), which picks the mask value; `None` is never
    /// drawn.
    pub group: Option<String>,
    /// Geometry.
    pub shape: Shape,
}

/// The geometry of an element, in base slide pixels.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Shape {
    /// A polygon (`polyline`, closed or not), vertices `[x, y]`.
    Polyline {
        /// Vertices in order.
        points: Vec<[f64; 2]>,
    },
    /// A rectangle, possibly rotated about its centre.
    Rectangle {
        /// Centre `[x, y]`.
        center: [f64; 2],
        /// Width before rotation.
        width: f64,
        /// Height before rotation.
        height: f64,
        /// Rotation in radians (counter-clockwise in slide coordinates).
        rotation: f64,
    },
    /// Any other element type, which is not rasterised.
    Other {
        /// The element's type name.
        kind: String,
    },
}

impl Shape {
    /// The element type by its annotation-schema name (`polyline`, `rectangle`, ...).
    pub fn kind(&self) -> &str {
        match self {
            Shape::Polyline { .. } => "polyline",
            Shape::Rectangle { .. } => "rectangle",
            Shape::Other { kind } => kind,
        }
    }
}

/// The elements of a slide's annotations, in document order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    /// Every element of every document.
    pub elements: Vec<Element>,
}

impl Annotations {
    /// How many elements of each type cannot be rasterised (`point`, `ellipse`, ...), by type.
    pub fn unsupported(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for e in &self.elements {
            if let Shape::Other { kind } = &e.shape {
                *counts.entry(kind.clone()).or_insert(0) += 1;
            }
        }
        counts
    }
}
