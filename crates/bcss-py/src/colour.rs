//! Reinhard colour normalisation on numpy arrays: `reinhard` and `lab_mean_std` over the
//! library's `transform::reinhard` (HistomicsTK 1.4.0's arithmetic, bit for bit), and the BCSS
//! standard as `BCSS_TARGET_MU`/`BCSS_TARGET_SIGMA`.
//!
//! The Python half (`python/bcss/_colour.py`) takes any array-like, checks dtype and shape
//! naming the argument, and hands over C-contiguous `uint8` arrays (the mask as `uint8` 0/1);
//! the checks here are the backstop for a direct call of `bcss._bcss`. Statistics are checked
//! by [`LabStats::new`], whose errors are reworded with the Python argument names. The image
//! is copied into an [`RgbImage`] and normalised with the GIL released; the output array owns
//! the library's `Vec` (no copy).

use bcss::model::{GrayImage, RgbImage};
use bcss::transform;
use bcss::transform::reinhard::{LabStats, ReinhardError, BCSS_TARGET_MU, BCSS_TARGET_SIGMA};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::input_error;

/// An RGB image argument: its bytes, width and height.
fn rgb<'a>(py: Python<'_>, name: &str, a: &'a PyReadonlyArray3<'_, u8>) -> PyResult<(&'a [u8], usize, usize)> {
    let shape = a.shape();
    if shape[2] != 3 {
        return Err(input_error(py, format!("{name} must have shape (H, W, 3), not {shape:?}")));
    }
    let data = a.as_slice().map_err(|_| input_error(py, format!("{name} must be C-contiguous")))?;
    Ok((data, shape[1], shape[0]))
}

/// A `mask_out` argument (nonzero = left out): its bytes, which must cover `width` x `height`.
fn mask<'a>(
    py: Python<'_>,
    m: Option<&'a PyReadonlyArray2<'_, u8>>,
    image: &str,
    width: usize,
    height: usize,
) -> PyResult<Option<&'a [u8]>> {
    let Some(m) = m else { return Ok(None) };
    let shape = m.shape();
    if shape != [height, width] {
        return Err(input_error(
            py,
            format!("mask_out has shape {shape:?} but {image} is {height} x {width}: it must be ({height}, {width})"),
        ));
    }
    m.as_slice().map(Some).map_err(|_| input_error(py, "mask_out must be C-contiguous".into()))
}

/// The library's error in the words of the Python arguments (`what` is the argument prefix
/// given to [`LabStats::new`]: `target` or `src`).
fn message(e: &ReinhardError, image: &str) -> String {
    match e {
        ReinhardError::Mu { what, channel, value } => {
            format!("{what}_mu[{channel}] is {value}: a mean must be a finite number")
        }
        ReinhardError::Sigma { what, channel, value } => {
            format!("{what}_sigma[{channel}] is {value}: a standard deviation must be a positive finite number")
        }
        ReinhardError::AllMasked => {
            format!("mask_out is True at every pixel of {image}: no pixel is left to take statistics of")
        }
        other => other.to_string(),
    }
}

/// `LabStats::new` with the error named after the Python arguments `{what}_mu`, `{what}_sigma`.
fn stats(py: Python<'_>, what: &'static str, mu: [f64; 3], sigma: [f64; 3]) -> PyResult<LabStats> {
    LabStats::new(what, mu, sigma).map_err(|e| input_error(py, message(&e, what)))
}

/// Refuses an image without pixels where statistics are to be taken of it.
fn has_pixels(py: Python<'_>, name: &str, width: usize, height: usize) -> PyResult<()> {
    if width == 0 || height == 0 {
        return Err(input_error(py, format!("{name} has no pixels ({height} x {width})")));
    }
    Ok(())
}

/// The image and mask as the library's types (copies, made without the GIL).
fn images(data: &[u8], mask: Option<&[u8]>, width: usize, height: usize) -> (RgbImage, Option<GrayImage>) {
    let image = RgbImage { width, height, data: data.to_vec() };
    let mask = mask.map(|m| GrayImage { width, height, data: m.to_vec() });
    (image, mask)
}

/// HistomicsTK's `reinhard(im_src, target_mu, target_sigma, src_mu, src_sigma, mask_out)` on a
/// C-contiguous `uint8` H x W x 3 array; `mask_out` a `uint8` H x W array, nonzero = left out
/// of the statistics and copied through. `src_mu` and `src_sigma` together or not at all.
#[pyfunction]
#[pyo3(signature = (im_src, target_mu, target_sigma, src_mu, src_sigma, mask_out))]
fn reinhard<'py>(
    py: Python<'py>,
    im_src: PyReadonlyArray3<'py, u8>,
    target_mu: [f64; 3],
    target_sigma: [f64; 3],
    src_mu: Option<[f64; 3]>,
    src_sigma: Option<[f64; 3]>,
    mask_out: Option<PyReadonlyArray2<'py, u8>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (data, width, height) = rgb(py, "im_src", &im_src)?;
    let mask = mask(py, mask_out.as_ref(), "im_src", width, height)?;
    let target = stats(py, "target", target_mu, target_sigma)?;
    let source = match (src_mu, src_sigma) {
        (Some(mu), Some(sigma)) => Some(stats(py, "src", mu, sigma)?),
        (None, None) => None,
        _ => return Err(input_error(py, "src_mu and src_sigma must be given together, or neither".into())),
    };
    if source.is_none() {
        has_pixels(py, "im_src", width, height)?;
    }
    let out = py
        .detach(|| {
            let (image, mask) = images(data, mask, width, height);
            transform::reinhard::reinhard(&image, target, source, mask.as_ref())
        })
        .map_err(|e| input_error(py, message(&e, "im_src")))?;
    Ok(PyArray1::from_vec(py, out.data).reshape([height, width, 3])?.into_any())
}

/// HistomicsTK's `lab_mean_std(im_input, mask_out)`: the means and population standard
/// deviations of the image in Ruderman's lab space, over the pixels not masked out.
#[pyfunction]
#[pyo3(signature = (im_input, mask_out))]
fn lab_mean_std(
    py: Python<'_>,
    im_input: PyReadonlyArray3<'_, u8>,
    mask_out: Option<PyReadonlyArray2<'_, u8>>,
) -> PyResult<([f64; 3], [f64; 3])> {
    let (data, width, height) = rgb(py, "im_input", &im_input)?;
    let mask = mask(py, mask_out.as_ref(), "im_input", width, height)?;
    has_pixels(py, "im_input", width, height)?;
    let stats = py
        .detach(|| {
            let (image, mask) = images(data, mask, width, height);
            transform::reinhard::lab_mean_std(&image, mask.as_ref())
        })
        .map_err(|e| input_error(py, message(&e, "im_input")))?;
    Ok((stats.mu(), stats.sigma()))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let [a, b, c] = BCSS_TARGET_MU;
    m.add("BCSS_TARGET_MU", (a, b, c))?;
    let [a, b, c] = BCSS_TARGET_SIGMA;
    m.add("BCSS_TARGET_SIGMA", (a, b, c))?;
    m.add_function(wrap_pyfunction!(reinhard, m)?)?;
    m.add_function(wrap_pyfunction!(lab_mean_std, m)?)?;
    Ok(())
}
