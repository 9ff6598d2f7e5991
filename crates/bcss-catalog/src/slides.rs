//! The slide table (`slide_magnifications.csv`): which DSA item holds each slide.

/// One whole-slide image on the DSA.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Slide {
    /// 12-character short name, e.g. `TCGA-A1-A0SK`.
    pub short_name: String,
    /// Full item (file) name, e.g. `TCGA-A1-A0SK-01Z-00-DX1.A44D70FA-....svs`.
    pub name: String,
    /// Girder item id.
    pub item_id: String,
    /// Scan magnification, when known.
    pub magnification: Option<f64>,
}

/// Slides by short name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlideTable {
    slides: Vec<Slide>,
}

const BUILTIN: &str = include_str!("data/slide_magnifications.csv");

impl SlideTable {
    /// The 151 slides of the public DSA folder, compiled in.
    pub fn builtin() -> SlideTable {
        let mut reader = csv::Reader::from_reader(BUILTIN.as_bytes());
        let slides = reader
            .records()
            .map(|r| {
                let r = r.expect("built-in slide table is valid CSV");
                Slide {
                    short_name: r[0].to_string(),
                    name: r[1].to_string(),
                    item_id: r[2].to_string(),
                    magnification: r[3].parse().ok(),
                }
            })
            .collect();
        SlideTable { slides }
    }

    /// Builds a table from a folder listing. When two items share a short name the later one wins,
    /// as in the original downloader (listing order is by lower-case name).
    pub fn from_slides(items: impl IntoIterator<Item = Slide>) -> SlideTable {
        let mut slides: Vec<Slide> = Vec::new();
        for s in items {
            if let Some(old) = slides.iter_mut().find(|o| o.short_name == s.short_name) {
                *old = s;
            } else {
                slides.push(s);
            }
        }
        SlideTable { slides }
    }

    /// The slide with this short name.
    pub fn get(&self, short_name: &str) -> Option<&Slide> {
        self.slides.iter().find(|s| s.short_name == short_name)
    }

    /// All slides.
    pub fn slides(&self) -> &[Slide] {
        &self.slides
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_slides() {
        let t = SlideTable::builtin();
        assert_eq!(t.slides().len(), 151);
        let s = t.get("TCGA-A1-A0SK").unwrap();
        assert_eq!(s.item_id, "5bbdeed1e629140048d01bcb");
        assert_eq!(s.magnification, Some(40.0));
        assert_eq!(t.slides().iter().filter(|s| s.magnification == Some(20.0)).count(), 14);
        let rois = crate::RoiTable::builtin();
        for r in rois.rois() {
            assert!(t.get(r.short_name()).is_some(), "no slide for {}", r.id);
        }
    }

    #[test]
    fn later_items_win_on_short_name_collision() {
        let mk = |name: &str, id: &str| Slide {
            short_name: "TCGA-AA-AAAA".into(),
            name: name.into(),
            item_id: id.into(),
            magnification: None,
        };
        let t = SlideTable::from_slides([mk("a", "1"), mk("b", "2")]);
        assert_eq!(t.slides().len(), 1);
        assert_eq!(t.get("TCGA-AA-AAAA").unwrap().item_id, "2");
    }
}
