//! The datasets' native halves and in-memory evaluation: `DatasetCore` (whole ROIs),
//! `TileCore` (the tiles of `bcss tile`, read lazily), `CropStream` (seeded random crops of one
//! worker) and `evaluate_*`. The Python classes in `python/bcss/_datasets.py` hold the
//! constructor arguments (so they pickle), pick the worker share, and wrap these.
//!
//! Every decode runs with the GIL released; arrays are numpy arrays over the decoded `Vec`s
//! (`PyArray::from_vec` + reshape: no copy). Errors are `bcss.InputError` with the library's
//! message and its causes, as the CLI prints them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bcss::catalog::classmap::ClassMap;
use bcss::catalog::split::{Part, Scheme, Split, SplitSpec};
use bcss::command::eval::{self, EvalReport, Problem, ProblemKind};
use bcss::dataset::pairs::{find_masks, RoiKey};
use bcss::dataset::tiles::{tile_index, TileReader, TileRef};
use bcss::dataset::training::{CropConfig, MaskValues, RandomCrops, TrainingSet};
use bcss::model::{GrayImage, Image};
use bcss::report::Silent;
use bcss::transform::remap_in_place;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::input_error;

/// The error and its causes as one line, as the CLI prints them ([`bcss::report::error_chain`]).
fn err<E: std::error::Error + 'static>(py: Python<'_>) -> impl FnOnce(E) -> PyErr + '_ {
    move |e| input_error(py, bcss::report::error_chain(&e))
}

/// A split as the datasets take it: `scheme` is `official`, `official-val` or a split file;
/// `split` is a part (`train`, `val`, `test`), a split file (all its ROIs), or nothing.
enum Parts {
    Scheme(Scheme),
    File(Split),
}

fn resolve_split(py: Python<'_>, split: Option<&str>, scheme: &str) -> PyResult<(Parts, Option<Part>)> {
    let (scheme, part) = match split {
        None => (scheme, None),
        Some(s) => match Part::parse(s) {
            Some(p) => (scheme, Some(p)),
            None if Path::new(s).is_file() => (s, None),
            None => {
                return Err(input_error(py, format!("split `{s}` is neither train, val, test nor a split file")));
            }
        },
    };
    let spec = SplitSpec::parse(scheme);
    let parts = match &spec {
        SplitSpec::Scheme(sch) => Parts::Scheme(*sch),
        SplitSpec::File(path) if path.is_file() => Parts::File(Split::from_path(path).map_err(err(py))?),
        SplitSpec::File(_) => {
            return Err(input_error(
                py,
                format!("scheme `{scheme}` is neither official, official-val nor a split file"),
            ));
        }
    };
    if part.is_some_and(|p| !spec.can_have(p)) {
        return Err(input_error(
            py,
            "the official scheme has no val part; use scheme=\"official-val\" or a split file".into(),
        ));
    }
    Ok((parts, part))
}

fn class_map(py: Python<'_>, spec: &str) -> PyResult<ClassMap> {
    ClassMap::resolve(spec).map_err(err(py))
}

fn mask_values(ignore_index: Option<u8>) -> MaskValues {
    ignore_index.map_or(MaskValues::Classes, MaskValues::Ignore)
}

/// Opens a dataset root with a class map and a split; returns it with the ROIs of the part.
fn open(
    py: Python<'_>,
    root: &Path,
    map: &str,
    split: Option<&str>,
    scheme: &str,
) -> PyResult<(TrainingSet, Vec<usize>)> {
    let map = class_map(py, map)?;
    let (parts, part) = resolve_split(py, split, scheme)?;
    let set = py
        .detach(|| match &parts {
            Parts::Scheme(s) => TrainingSet::open_scheme(root, map, *s),
            Parts::File(f) => TrainingSet::open(root, map, Some(f)),
        })
        .map_err(err(py))?;
    let rois = (0..set.rois().len()).filter(|&i| part.is_none_or(|p| set.rois()[i].part == p)).collect();
    Ok((set, rois))
}

/// An image as a numpy array of its bytes (moved, not copied): `(height, width)` for a mask,
/// `(height, width, C)` for a picture.
fn array<'py, const C: usize>(py: Python<'py>, image: Image<C>) -> PyResult<Bound<'py, PyAny>> {
    let flat = PyArray1::from_vec(py, image.data);
    Ok(match C {
        1 => flat.reshape([image.height, image.width])?.into_any(),
        _ => flat.reshape([image.height, image.width, C])?.into_any(),
    })
}

/// The ROIs of a set as dicts: roi, slide, site, patient, part, xmin, ymin, width, height,
/// image, mask.
fn roi_dicts<'py>(py: Python<'py>, set: &TrainingSet, rois: &[usize]) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let sizes = py
        .detach(|| rois.iter().map(|&i| set.size_of(&set.rois()[i])).collect::<Result<Vec<_>, _>>())
        .map_err(err(py))?;
    rois.iter()
        .zip(sizes)
        .map(|(&i, (w, h))| {
            let r = &set.rois()[i];
            let d = PyDict::new(py);
            let key = bcss::dataset::parse_roi_file_name(
                &r.mask.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            )
            .map(|p| p.key());
            d.set_item("roi", &r.id)?;
            d.set_item("slide", &r.id)?;
            d.set_item("site", bcss::catalog::tissue_source_site(&r.id))?;
            d.set_item("patient", bcss::catalog::patient(&r.id))?;
            d.set_item("part", r.part.as_str())?;
            d.set_item("xmin", key.as_ref().map(|k| k.1))?;
            d.set_item("ymin", key.as_ref().map(|k| k.2))?;
            d.set_item("width", w)?;
            d.set_item("height", h)?;
            d.set_item("image", &r.image)?;
            d.set_item("mask", &r.mask)?;
            Ok(d)
        })
        .collect()
}

/// The classes: `{"map", "names", "colors", "values", "ignore"}` in the mask convention.
fn classes_dict<'py>(py: Python<'py>, map: &ClassMap, values: MaskValues) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let shift = u8::from(matches!(values, MaskValues::Ignore(_)));
    d.set_item("map", map.name())?;
    d.set_item("names", map.classes().iter().map(|c| c.name.clone()).collect::<Vec<_>>())?;
    d.set_item("colors", map.classes().iter().map(|c| c.color.map(u16::from).to_vec()).collect::<Vec<_>>())?;
    d.set_item("values", map.classes().iter().map(|c| u16::from(c.value - shift)).collect::<Vec<_>>())?;
    d.set_item("ignore", values.ignore_value())?;
    Ok(d)
}

/// Whole ROIs: `(image HxWx3, mask HxW)`.
#[pyclass(module = "bcss._bcss", frozen)]
struct DatasetCore {
    set: TrainingSet,
    rois: Vec<usize>,
    values: MaskValues,
}

#[pymethods]
impl DatasetCore {
    #[new]
    #[pyo3(signature = (root, class_map, split, scheme, ignore_index))]
    fn new(
        py: Python<'_>,
        root: PathBuf,
        class_map: &str,
        split: Option<&str>,
        scheme: &str,
        ignore_index: Option<u8>,
    ) -> PyResult<Self> {
        let (set, rois) = open(py, &root, class_map, split, scheme)?;
        Ok(DatasetCore { set, rois, values: mask_values(ignore_index) })
    }

    fn __len__(&self) -> usize {
        self.rois.len()
    }

    fn get<'py>(&self, py: Python<'py>, i: usize) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let roi = self.rois.get(i).ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("ROI index out of range"))?;
        let sample = py
            .detach(|| {
                let mut s = self.set.load(&self.set.rois()[*roi])?;
                self.values.apply(&mut s.mask.data);
                Ok::<_, bcss::dataset::training::TrainingError>(s)
            })
            .map_err(err(py))?;
        Ok((array(py, sample.image)?, array(py, sample.mask)?))
    }

    fn rois<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        roi_dicts(py, &self.set, &self.rois)
    }

    fn classes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        classes_dict(py, self.set.class_map(), self.values)
    }
}

/// The tiles of `bcss tile`, read lazily.
#[pyclass(module = "bcss._bcss", frozen)]
struct TileCore {
    set: TrainingSet,
    rois: Vec<usize>,
    values: MaskValues,
    size: usize,
    tiles: Vec<TileRef>,
    reader: Mutex<TileReader>,
}

#[pymethods]
impl TileCore {
    /// `tiles`, when given (a pickled dataset), is the list `tiles()` returned: the masks are not
    /// scanned again.
    #[new]
    #[pyo3(signature = (root, class_map, split, scheme, ignore_index, size, stride, min_labelled, tiles=None))]
    #[expect(clippy::too_many_arguments, reason = "the Python constructor's keyword arguments")]
    fn new(
        py: Python<'_>,
        root: PathBuf,
        class_map: &str,
        split: Option<&str>,
        scheme: &str,
        ignore_index: Option<u8>,
        size: usize,
        stride: usize,
        min_labelled: f64,
        tiles: Option<Vec<(usize, usize, usize, f64)>>,
    ) -> PyResult<Self> {
        let (set, rois) = open(py, &root, class_map, split, scheme)?;
        if !(0.0..=1.0).contains(&min_labelled) {
            return Err(input_error(py, format!("min_labelled {min_labelled} is not between 0 and 1")));
        }
        let tiles = match tiles {
            Some(t) => {
                t.into_iter().map(|(roi, x, y, labelled_fraction)| TileRef { roi, x, y, labelled_fraction }).collect()
            }
            None => py.detach(|| tile_index(&set, &rois, size, stride, min_labelled)).map_err(err(py))?,
        };
        Ok(TileCore {
            set,
            rois,
            values: mask_values(ignore_index),
            size,
            tiles,
            reader: Mutex::new(TileReader::new()),
        })
    }

    fn __len__(&self) -> usize {
        self.tiles.len()
    }

    fn get<'py>(&self, py: Python<'py>, i: usize) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let t = *self.tiles.get(i).ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("tile index out of range"))?;
        let (image, mask) = py
            .detach(|| {
                let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
                reader.read(&self.set, t.roi, t.x, t.y, self.size, self.values)
            })
            .map_err(err(py))?;
        Ok((array(py, image)?, array(py, mask)?))
    }

    /// `(roi index, x, y, labelled fraction)` of every tile.
    fn tiles(&self) -> Vec<(usize, usize, usize, f64)> {
        self.tiles.iter().map(|t| (t.roi, t.x, t.y, t.labelled_fraction)).collect()
    }

    /// ROI id of every ROI index.
    fn roi_ids(&self) -> Vec<String> {
        self.set.rois().iter().map(|r| r.id.clone()).collect()
    }

    fn rois<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        roi_dicts(py, &self.set, &self.rois)
    }

    fn classes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        classes_dict(py, self.set.class_map(), self.values)
    }
}

/// One worker's seeded random crops for one epoch: `(image, mask, weight)`.
#[pyclass(module = "bcss._bcss", frozen)]
struct CropStream {
    crops: Mutex<RandomCrops<'static>>,
    values: MaskValues,
    left: Mutex<usize>,
}

#[pymethods]
impl CropStream {
    /// Worker `worker` of `workers` gets the part's ROIs whose index is `worker` modulo
    /// `workers`, with a seed derived from `(seed, epoch, worker)`; an epoch is `per_roi` crops
    /// per ROI of the share.
    #[new]
    #[pyo3(signature = (root, class_map, split, scheme, ignore_index, size, per_roi, seed, class_weights, worker, workers, epoch))]
    #[expect(clippy::too_many_arguments, reason = "the Python constructor's keyword arguments")]
    fn new(
        py: Python<'_>,
        root: PathBuf,
        class_map: &str,
        split: &str,
        scheme: &str,
        ignore_index: Option<u8>,
        size: usize,
        per_roi: usize,
        seed: u64,
        class_weights: Option<Vec<f32>>,
        worker: usize,
        workers: usize,
        epoch: u64,
    ) -> PyResult<Self> {
        let map = self::class_map(py, class_map)?;
        let (parts, part) = resolve_split(py, Some(split), scheme)?;
        let part = part.ok_or_else(|| input_error(py, "random crops need a part: train, val or test".into()))?;
        if workers == 0 || worker >= workers {
            return Err(input_error(py, format!("worker {worker} of {workers} does not exist")));
        }
        let set = py
            .detach(|| match &parts {
                Parts::Scheme(s) => TrainingSet::open_scheme(&root, map, *s),
                Parts::File(f) => TrainingSet::open(&root, map, Some(f)),
            })
            .map_err(err(py))?;
        let seed = seed.wrapping_add(epoch.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut crops = set.into_crops(part, CropConfig::new(size).per_roi(per_roi).seed(seed)).map_err(err(py))?;
        if let Some(w) = &class_weights {
            // Python gives classes 1..=K in order; the library indexes by class value (0 unused).
            let mut by_value = vec![0.0];
            by_value.extend(w);
            crops = crops.with_class_weights(&by_value);
        }
        let crops = crops.for_worker(worker, workers);
        let left = per_roi * crops.roi_indices().len();
        Ok(CropStream { crops: Mutex::new(crops), values: mask_values(ignore_index), left: Mutex::new(left) })
    }

    fn __len__(&self) -> usize {
        *self.left.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[expect(clippy::type_complexity, reason = "a Python tuple")]
    fn __next__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, String, usize, usize)>> {
        {
            let mut left = self.left.lock().unwrap_or_else(|p| p.into_inner());
            if *left == 0 {
                return Ok(None);
            }
            *left -= 1;
        }
        let crop = py
            .detach(|| {
                let mut crops = self.crops.lock().unwrap_or_else(|p| p.into_inner());
                let mut c = crops.next().expect("random crops never end")?;
                self.values.apply(&mut c.mask.data);
                Ok::<_, bcss::dataset::training::TrainingError>(c)
            })
            .map_err(err(py))?;
        let s = crop.mask.width;
        Ok(Some((
            array(py, crop.image)?,
            array(py, crop.mask)?,
            PyArray1::from_vec(py, crop.weight).reshape([s, s])?.into_any(),
            crop.roi,
            crop.x,
            crop.y,
        )))
    }
}

/// The JSON of `bcss eval --json`.
fn report_json(report: &EvalReport) -> String {
    serde_json::to_string(report).expect("the report serialises")
}

/// `bcss eval` on two folders of masks (`DIR/masks/` or `DIR`), limited to one part of a
/// split when `split` is a part. Returns the report as JSON.
#[pyfunction]
#[pyo3(signature = (pred, truth, class_map, split, scheme))]
fn evaluate_files(
    py: Python<'_>,
    pred: PathBuf,
    truth: PathBuf,
    class_map: &str,
    split: Option<&str>,
    scheme: &str,
) -> PyResult<String> {
    let map = self::class_map(py, class_map)?;
    let (parts, part) = resolve_split(py, split, scheme)?;
    let mut truth = find_masks(&truth).map_err(err(py))?;
    let mut pred = find_masks(&pred).map_err(err(py))?;
    if let Some(part) = part {
        // The rule of `bcss eval --part` (predictions of other parts left out).
        in_part(py, &parts, part, truth.keys())?;
        let part_of = |id: &str| match &parts {
            Parts::Scheme(s) => Some(s.part_of(id)),
            Parts::File(f) => f.part_of(id),
        };
        eval::select_parts(&mut truth, &mut pred, part_of, &[part]);
    }
    let report = py.detach(|| eval::evaluate(&map, &truth, &pred, &Silent));
    Ok(report_json(&report))
}

/// The ROI ids among `keys` that the split puts in `part`; a split file must place them all.
fn in_part<'a>(
    py: Python<'_>,
    parts: &Parts,
    part: Part,
    keys: impl Iterator<Item = &'a RoiKey>,
) -> PyResult<std::collections::BTreeSet<String>> {
    let ids: Vec<&str> = keys.map(|k| k.0.as_str()).collect();
    let split = match parts {
        Parts::Scheme(s) => Split::from_scheme(*s, ids.iter().copied()),
        Parts::File(f) => {
            f.check_leakage().map_err(err(py))?;
            f.clone()
        }
    };
    let assigned = split.parts_for(ids.iter().copied()).map_err(err(py))?;
    Ok(ids.iter().zip(assigned).filter(|(_, p)| *p == part).map(|(id, _)| id.to_string()).collect())
}

/// A 2-D uint8 array's pixels and `(width, height)`.
fn pixels<'a>(a: &'a PyReadonlyArrayDyn<'_, u8>) -> PyResult<(&'a [u8], usize, usize)> {
    let shape = a.shape();
    if shape.len() != 2 {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "a mask must be a 2-D array (H x W), not of shape {shape:?}"
        )));
    }
    Ok((a.as_slice()?, shape[1], shape[0]))
}

/// Converts a mask of the caller's convention into class values (a copy when it changes).
fn to_classes(values: MaskValues, data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match values {
        MaskValues::Classes => std::borrow::Cow::Borrowed(data),
        _ => {
            let mut v = data.to_vec();
            values.to_classes(&mut v);
            std::borrow::Cow::Owned(v)
        }
    }
}

/// Evaluates `(name, truth, prediction)` arrays (C-contiguous uint8, H x W) in the convention
/// of `ignore_index`. Returns the report as JSON.
#[pyfunction]
#[pyo3(signature = (items, class_map, ignore_index))]
fn evaluate_arrays(
    py: Python<'_>,
    items: Vec<(String, PyReadonlyArrayDyn<'_, u8>, PyReadonlyArrayDyn<'_, u8>)>,
    class_map: &str,
    ignore_index: Option<u8>,
) -> PyResult<String> {
    let map = self::class_map(py, class_map)?;
    let values = mask_values(ignore_index);
    let views = items
        .iter()
        .map(|(name, t, p)| {
            let (t, w, h) = pixels(t)?;
            let (p, pw, ph) = pixels(p)?;
            Ok((name.as_str(), t, w, h, p, pw, ph))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let report = py.detach(|| {
        let results = views
            .iter()
            .map(|&(name, t, w, h, p, pw, ph)| {
                if (pw, ph) != (w, h) {
                    return Err(Problem::new(
                        name,
                        ProblemKind::Size,
                        format!("prediction {pw}x{ph} does not match the ground truth {w}x{h}"),
                    ));
                }
                eval::evaluate_pair(&map, name, &to_classes(values, t), &to_classes(values, p), w, h)
            })
            .collect();
        eval::report(&map, results, Vec::new())
    });
    Ok(report_json(&report))
}

/// Evaluates predictions by ROI id against the masks of a dataset root (read and remapped as
/// `bcss eval` reads them), limited to one part when `split` is a part. A ROI of the dataset
/// (or of the part) without a prediction, and a prediction without a ROI, are problems.
#[pyfunction]
#[pyo3(signature = (preds, truth, class_map, split, scheme, ignore_index))]
fn evaluate_predictions(
    py: Python<'_>,
    preds: Vec<(String, PyReadonlyArrayDyn<'_, u8>)>,
    truth: PathBuf,
    class_map: &str,
    split: Option<&str>,
    scheme: &str,
    ignore_index: Option<u8>,
) -> PyResult<String> {
    let map = self::class_map(py, class_map)?;
    let values = mask_values(ignore_index);
    let (parts, part) = resolve_split(py, split, scheme)?;
    let mut masks = find_masks(&truth).map_err(err(py))?;
    if let Some(part) = part {
        let keep = in_part(py, &parts, part, masks.keys())?;
        masks.retain(|k, _| keep.contains(&k.0));
    }
    let views = preds
        .iter()
        .map(|(roi, p)| Ok((roi.as_str(), pixels(p)?)))
        .collect::<PyResult<std::collections::BTreeMap<&str, (&[u8], usize, usize)>>>()?;
    let report = py.detach(|| {
        let mut problems = Vec::new();
        for roi in views.keys() {
            if !masks.keys().any(|k| k.0 == *roi) {
                problems.push(Problem::new(*roi, ProblemKind::NoTruth, "no ground-truth mask for this prediction"));
            }
        }
        let results = masks
            .iter()
            .filter_map(|(key, path)| {
                let Some(&(p, pw, ph)) = views.get(key.0.as_str()) else {
                    problems.push(Problem::new(
                        path.clone(),
                        ProblemKind::NoPrediction,
                        "no prediction for this ground-truth mask",
                    ));
                    return None;
                };
                Some(truth_classes(&map, path).and_then(|t| {
                    let (w, h) = (t.width, t.height);
                    if (pw, ph) != (w, h) {
                        return Err(Problem::new(
                            key.0.as_str(),
                            ProblemKind::Size,
                            format!("prediction {pw}x{ph} does not match the ground truth {w}x{h}"),
                        ));
                    }
                    eval::evaluate_pair(&map, &key.0, &t.data, &to_classes(values, p), w, h)
                }))
            })
            .collect();
        eval::report(&map, results, problems)
    });
    Ok(report_json(&report))
}

/// A truth mask read and remapped through the map: its classes.
fn truth_classes(map: &ClassMap, path: &Path) -> Result<GrayImage, Problem> {
    let problem = |message: String| Problem::new(path, ProblemKind::Unreadable, message);
    let bytes = bcss::files::read(path, bcss::files::IMAGE_FILE_LIMIT).map_err(|e| problem(e.to_string()))?;
    let mut mask = bcss::codec::png::decode_gray(&bytes).map_err(|e| problem(bcss::report::error_chain(&e)))?;
    remap_in_place(&mut mask.data, map.lut()).map_err(|b| {
        let w = mask.width.max(1);
        problem(format!("value {} at (x {}, y {}) is not a BCSS code (0..=21)", b.value, b.index % w, b.index / w))
    })?;
    Ok(mask)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DatasetCore>()?;
    m.add_class::<TileCore>()?;
    m.add_class::<CropStream>()?;
    m.add_function(wrap_pyfunction!(evaluate_files, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_predictions, m)?)?;
    Ok(())
}
