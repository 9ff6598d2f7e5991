//! The class distribution of a dataset: pixels per class, per ROI and per part of the split,
//! and the charts that show it. The numbers of `bcss stats` and of `bcss report` (one
//! implementation, so the two always agree).
//!
//! Per ROI, the mask's codes are counted and the class map folds the counts into
//! `[don't care, class 1, ..., class K]` ([`RoiStats`]). Per part (`train`, `val`, `test`, and
//! `all`) the counts are summed and give:
//!
//! - `fraction` of a class: its pixels over the **labelled** pixels of the part (don't care is
//!   never in a denominator); the don't-care fraction is over all pixels;
//! - `present_in`: how many ROIs of the part have at least one pixel of the class;
//! - `weight_inverse = 1 - fraction`, the weighting of the authors' training code;
//! - `weight_median_frequency` (Eigen & Fergus 2015): `freq(c)` = pixels of c / labelled pixels
//!   of the ROIs where c is present, and `weight(c) = median(freq) / freq(c)`, the median taken
//!   over the classes present in the part. A class absent from the part gets 0.
//!
//! Worked example (from the tests): two ROIs with labelled pixels `A: 6 tumour, 2 stroma` and
//! `B: 4 tumour`: fractions 10/12 and 2/12; inverse weights 1/6 and 5/6; freq(tumour) = 10/12,
//! freq(stroma) = 2/8 (stroma is only in A); median = (10/12 + 2/8) / 2 = 13/24; weights 0.65
//! and 2.1666...
//!
//! Pure: no I/O; counting a mask file is the commands' (`command::input`), drawing the charts
//! is `render::distribution`'s.

use bcss_catalog::classmap::ClassMap;
use bcss_catalog::split::Part;

/// Counts of one ROI.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RoiStats {
    /// ROI id.
    pub roi: String,
    /// Part of the split.
    pub part: Part,
    /// Mask width.
    pub width: usize,
    /// Mask height.
    pub height: usize,
    /// `[don't care, class 1, ..., class K]` pixel counts.
    pub counts: Vec<u64>,
}

impl RoiStats {
    /// All pixels.
    pub fn pixels(&self) -> u64 {
        self.counts.iter().sum()
    }
    /// Don't-care pixels over all pixels.
    pub fn dont_care_fraction(&self) -> f64 {
        ratio(self.counts[0], self.pixels())
    }
}

/// One class within one part.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassStats {
    /// Class value 1..=K.
    pub value: u8,
    /// Class name.
    pub name: String,
    /// Pixels.
    pub pixels: u64,
    /// Pixels over the labelled pixels of the part.
    pub fraction: f64,
    /// ROIs of the part with at least one pixel of it.
    pub present_in: usize,
    /// `1 - fraction`.
    pub weight_inverse: f64,
    /// Median-frequency balancing weight (0 when absent).
    pub weight_median_frequency: f64,
}

/// One part of the split (or `all`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartStats {
    /// `train`, `val`, `test` or `all`.
    pub part: String,
    /// ROIs.
    pub rois: usize,
    /// All pixels.
    pub pixels: u64,
    /// Pixels of a class.
    pub labelled: u64,
    /// Don't-care pixels.
    pub dont_care: u64,
    /// Don't-care over all pixels.
    pub dont_care_fraction: f64,
    /// Per class, by value.
    pub classes: Vec<ClassStats>,
}

/// The result of `bcss stats`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Name of the class map.
    pub class_map: String,
    /// Class names by value 1..=K.
    pub class_names: Vec<String>,
    /// Per ROI, sorted by id.
    pub rois: Vec<RoiStats>,
    /// Per part (train, val, test, in that order, those that have ROIs), then `all`.
    pub parts: Vec<PartStats>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Per-part statistics from per-ROI counts (see the module docs for every formula).
pub fn aggregate(map: &ClassMap, mut rois: Vec<RoiStats>) -> Stats {
    rois.sort_by(|a, b| a.roi.cmp(&b.roi));
    let mut parts = Vec::new();
    for part in [Some(Part::Train), Some(Part::Val), Some(Part::Test), None] {
        let members: Vec<&RoiStats> = rois.iter().filter(|r| part.is_none_or(|p| r.part == p)).collect();
        if members.is_empty() && part.is_some() {
            continue;
        }
        parts.push(part_stats(map, part.map_or("all", Part::as_str), &members));
    }
    Stats {
        class_map: map.name().to_string(),
        class_names: map.classes().iter().map(|c| c.name.clone()).collect(),
        rois,
        parts,
    }
}

fn part_stats(map: &ClassMap, name: &str, members: &[&RoiStats]) -> PartStats {
    let k = map.num_classes();
    let mut counts = vec![0u64; k + 1];
    for r in members {
        for (t, c) in counts.iter_mut().zip(&r.counts) {
            *t += c;
        }
    }
    let pixels: u64 = counts.iter().sum();
    let labelled = pixels - counts[0];
    // freq(c): pixels of c over the labelled pixels of the ROIs where c is present.
    let freq: Vec<f64> = (1..=k)
        .map(|c| {
            let denom: u64 = members.iter().filter(|r| r.counts[c] > 0).map(|r| r.pixels() - r.counts[0]).sum();
            ratio(counts[c], denom)
        })
        .collect();
    let mut present: Vec<f64> = freq.iter().copied().filter(|&f| f > 0.0).collect();
    present.sort_by(f64::total_cmp);
    let median = match present.len() {
        0 => 0.0,
        n if n % 2 == 1 => present[n / 2],
        n => (present[n / 2 - 1] + present[n / 2]) / 2.0,
    };
    let classes = map
        .classes()
        .iter()
        .map(|cl| {
            let c = cl.value as usize;
            let fraction = ratio(counts[c], labelled);
            ClassStats {
                value: cl.value,
                name: cl.name.clone(),
                pixels: counts[c],
                fraction,
                present_in: members.iter().filter(|r| r.counts[c] > 0).count(),
                weight_inverse: 1.0 - fraction,
                weight_median_frequency: if freq[c - 1] > 0.0 { median / freq[c - 1] } else { 0.0 },
            }
        })
        .collect();
    PartStats {
        part: name.to_string(),
        rois: members.len(),
        pixels,
        labelled,
        dont_care: counts[0],
        dont_care_fraction: ratio(counts[0], pixels),
        classes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roi(name: &str, part: Part, counts: Vec<u64>) -> RoiStats {
        RoiStats { roi: name.into(), part, width: 1, height: counts.iter().sum::<u64>() as usize, counts }
    }

    fn map2() -> ClassMap {
        let text = "dont_care = [7, 15]\n[[class]]\nname = \"tumour\"\ncodes = [1, 19, 20]\n[[class]]\nname = \"rest\"\ncodes = [2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 21]\n";
        ClassMap::from_toml_str(text, "two", "two").unwrap()
    }

    #[test]
    fn weights_by_hand() {
        // A: 2 don't care, 6 tumour, 2 rest; B: 4 tumour. Both train.
        let s = aggregate(&map2(), vec![roi("B", Part::Train, vec![0, 4, 0]), roi("A", Part::Train, vec![2, 6, 2])]);
        assert_eq!(s.rois[0].roi, "A");
        assert_eq!(s.parts.len(), 2); // train, all
        let p = &s.parts[0];
        assert_eq!((p.part.as_str(), p.rois, p.pixels, p.labelled, p.dont_care), ("train", 2, 14, 12, 2));
        assert!((p.dont_care_fraction - 2.0 / 14.0).abs() < 1e-12);
        let (t, r) = (&p.classes[0], &p.classes[1]);
        assert!((t.fraction - 10.0 / 12.0).abs() < 1e-12 && (r.fraction - 2.0 / 12.0).abs() < 1e-12);
        assert!((t.weight_inverse - 1.0 / 6.0).abs() < 1e-12 && (r.weight_inverse - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!((t.present_in, r.present_in), (2, 1));
        // freq(t) = 10/12, freq(r) = 2/8; median = 13/24.
        assert!((t.weight_median_frequency - (13.0 / 24.0) / (10.0 / 12.0)).abs() < 1e-12);
        assert!((r.weight_median_frequency - (13.0 / 24.0) / 0.25).abs() < 1e-12);
        assert_eq!(s.parts[1], PartStats { part: "all".into(), ..p.clone() });
    }

    #[test]
    fn absent_classes_weigh_zero_and_parts_are_separate() {
        let s = aggregate(&map2(), vec![roi("A", Part::Test, vec![1, 3, 0]), roi("B", Part::Train, vec![0, 1, 1])]);
        let names: Vec<&str> = s.parts.iter().map(|p| p.part.as_str()).collect();
        assert_eq!(names, ["train", "test", "all"]);
        let test = &s.parts[1];
        assert_eq!(test.classes[1].weight_median_frequency, 0.0);
        assert_eq!(test.classes[0].weight_median_frequency, 1.0);
        assert_eq!(test.classes[1].weight_inverse, 1.0);
    }
}
