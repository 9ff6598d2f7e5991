"""Reinhard colour normalisation with HistomicsTK 1.4.0's signature, numpy in and out.

:func:`reinhard` and :func:`lab_mean_std` take the arguments of
``histomicstk.preprocessing.color_normalization.reinhard`` and
``histomicstk.preprocessing.color_conversion.lab_mean_std`` and give the same results: the
arithmetic is the Rust library's ``transform::reinhard``, which reproduces HistomicsTK's
(Ruderman's lab space, numpy's pairwise sums, clip then truncate). This module checks the
arguments, naming the one at fault in an :class:`~bcss.InputError`, and hands C-contiguous
arrays to the native module, which works with the GIL released.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from bcss import _bcss
from bcss._errors import InputError

Triple = Tuple[float, float, float]
Stats = Union[Sequence[float], np.ndarray]

#: The BCSS standard's lab means (l, alpha, beta): the Ruderman lab statistics of ROI
#: TCGA-A2-A3XS-DX1, which the authors' Drive copy (``rgbs_colorNormalized``) was normalised
#: to, and the target of HistomicsTK's own normalisation tests.
BCSS_TARGET_MU: Triple = _bcss.BCSS_TARGET_MU
#: The BCSS standard's lab standard deviations (see :data:`BCSS_TARGET_MU`).
BCSS_TARGET_SIGMA: Triple = _bcss.BCSS_TARGET_SIGMA


def _rgb(a: Any, name: str) -> np.ndarray:
    """An RGB image argument as a C-contiguous uint8 H x W x 3 array (a copy only if needed)."""
    a = np.asarray(a)
    if a.ndim != 3 or a.shape[2] != 3:
        hint = ""
        if a.ndim == 3 and a.shape[2] == 4:
            hint = " (RGBA: drop the alpha channel with `im[..., :3]`)"
        elif a.ndim == 2:
            hint = " (a grey image: Reinhard normalisation needs RGB)"
        raise InputError(f"{name} must be an RGB image of shape (H, W, 3), not of shape {a.shape}{hint}")
    if a.dtype != np.uint8:
        raise InputError(f"{name} must be of dtype uint8 (RGB values 0..255), not {a.dtype}")
    return np.ascontiguousarray(a)


def _mask(m: Any, shape: Tuple[int, ...], image: str) -> np.ndarray:
    """``mask_out`` as a C-contiguous uint8 0/1 array of the image's H x W."""
    m = np.asarray(m)
    if m.shape != shape[:2]:
        raise InputError(f"mask_out must have {image}'s height and width {shape[:2]}, not shape {m.shape}")
    if m.dtype != np.bool_:
        # Integers 0/1 are read as booleans; anything else is ambiguous (HistomicsTK indexes
        # with the mask, which for integers is not a mask at all).
        if not np.issubdtype(m.dtype, np.integer):
            raise InputError(f"mask_out must be a boolean array (True = left out), not {m.dtype}")
        if m.size and (m.min() < 0 or m.max() > 1):
            raise InputError(
                f"mask_out must be a boolean array (True = left out), not {m.dtype} with values "
                f"{m.min()}..{m.max()}: pass `mask_out=(mask != 0)`"
            )
        m = m.astype(np.bool_)
    return np.ascontiguousarray(m).view(np.uint8)


def _triple(v: Any, name: str) -> Triple:
    """Three numbers (l, alpha, beta); their values are checked by the library."""
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be 3 numbers (l, alpha, beta), not {v!r}") from None
    if a.shape != (3,):
        raise InputError(f"{name} must be 3 numbers (l, alpha, beta), not an array of shape {a.shape}")
    return (float(a[0]), float(a[1]), float(a[2]))


def reinhard(
    im_src: Any,
    target_mu: Stats = BCSS_TARGET_MU,
    target_sigma: Stats = BCSS_TARGET_SIGMA,
    src_mu: Optional[Stats] = None,
    src_sigma: Optional[Stats] = None,
    mask_out: Optional[Any] = None,
) -> np.ndarray:
    """Perform Reinhard color normalization, as HistomicsTK 1.4.0's
    ``histomicstk.preprocessing.color_normalization.reinhard``.

    Transform the color characteristics of an image to a desired standard. The standard is
    defined by the mean and standard deviations of the target image in LAB color space defined
    by Ruderman. The input image is converted to Ruderman's LAB space, the LAB channels are each
    centered and scaled to zero-mean unit variance, and then rescaled and shifted to match the
    target image statistics. If the LAB statistics for the input image are provided (``src_mu``
    and ``src_sigma``) then these will be used for normalization, otherwise they will be derived
    from the input image ``im_src`` (:func:`lab_mean_std`). Values are clipped to 0..255 and
    truncated to uint8, as HistomicsTK's ``astype(np.uint8)``.

    The output is bit-identical to HistomicsTK 1.4.0's on its fixtures (every pixel of 13
    reference cases, with and without ``mask_out`` and given source statistics). One departure:
    where a channel's computed standard deviation is 0 (an image of one colour), HistomicsTK
    divides 0 by 0; here that channel takes the target mean.

    Parameters
    ----------
    im_src : array_like
        An RGB image: uint8, shape (H, W, 3); any array-like (a torch tensor on the CPU, a
        non-contiguous view) is read through ``numpy.asarray``.
    target_mu : array_like
        A 3-element array containing the means of the target image channels in LAB color space.
        Default: the BCSS standard, :data:`BCSS_TARGET_MU` (HistomicsTK has no default).
    target_sigma : array_like
        A 3-element array containing the standard deviations of the target image channels in
        LAB color space. Default: :data:`BCSS_TARGET_SIGMA`.
    src_mu : array_like, optional
        A 3-element array containing the means of the source image channels in LAB color space.
        Used with ``src_sigma`` for uniform normalization of tiles from a slide.
    src_sigma : array_like, optional
        A 3-element array containing the standard deviations of the source image channels in
        LAB color space. ``src_mu`` and ``src_sigma`` are given together or not at all.
    mask_out : array_like, optional
        If not None, an (H, W) boolean array: True marks pixels left out of the statistics
        (blood, marker, white space, ...); they keep their input values in the output.

    Returns
    -------
    im_normalized : numpy.ndarray
        Color normalized RGB image, uint8, shape (H, W, 3).

    Raises
    ------
    bcss.InputError
        A bad argument, named in the message: not uint8 or not (H, W, 3), a ``mask_out`` of
        another height and width or not boolean, a target or source of other than 3 numbers, a
        standard deviation that is not positive and finite, every pixel masked out.
    """
    im = _rgb(im_src, "im_src")
    if (src_mu is None) != (src_sigma is None):
        given = "src_mu" if src_sigma is None else "src_sigma"
        raise InputError(f"src_mu and src_sigma must be given together, or neither (only {given} was given)")
    return _bcss.reinhard(
        im,
        _triple(target_mu, "target_mu"),
        _triple(target_sigma, "target_sigma"),
        None if src_mu is None else _triple(src_mu, "src_mu"),
        None if src_sigma is None else _triple(src_sigma, "src_sigma"),
        None if mask_out is None else _mask(mask_out, im.shape, "im_src"),
    )


def lab_mean_std(im_input: Any, mask_out: Optional[Any] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Compute the mean and standard deviation of the intensities of each channel of the given
    RGB image in LAB color space, as HistomicsTK 1.4.0's
    ``histomicstk.preprocessing.color_conversion.lab_mean_std``.

    The outputs of this function are for Reinhard normalization (:func:`reinhard`'s
    ``src_mu``/``src_sigma``, or a ``target_mu``/``target_sigma`` taken from a reference image).
    HistomicsTK's numbers to the last bits: numpy's pairwise summation is reproduced and the
    standard deviation is the population one (``ddof=0``); numpy's own ``log`` may round a lab
    value differently (relative differences of a few 1e-15 measured), never enough to change a
    pixel of :func:`reinhard`'s output on HistomicsTK's fixtures.

    Parameters
    ----------
    im_input : array_like
        An RGB image: uint8, shape (H, W, 3).
    mask_out : array_like, optional
        If not None, an (H, W) boolean array: True marks pixels left out of the statistics.

    Returns
    -------
    mean_lab : numpy.ndarray
        A 3-element float64 array containing the mean of each channel of the input RGB in LAB
        color space.
    std_lab : numpy.ndarray
        A 3-element float64 array containing the standard deviation of each channel of the
        input RGB in LAB color space.

    Raises
    ------
    bcss.InputError
        A bad argument, named in the message (as for :func:`reinhard`), an image without pixels,
        or every pixel masked out.
    """
    im = _rgb(im_input, "im_input")
    mask = None if mask_out is None else _mask(mask_out, im.shape, "im_input")
    mu, sigma = _bcss.lab_mean_std(im, mask)
    return np.array(mu, dtype=np.float64), np.array(sigma, dtype=np.float64)
