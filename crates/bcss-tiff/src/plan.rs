//! Which bytes of a TIFF a read needs, planned from its [`Layout`] before anything is fetched:
//! what opening the slide with OpenSlide reads ([`open_ranges`]: [`metadata_ranges`],
//! [`probe_ranges`], [`smallest_level_ranges`]), the tiles of a rectangle of one level
//! ([`tiles_for`]), the most either may fetch whatever byte counts the file claims
//! ([`read_budget`], [`open_budget`]), and ranges merged into requests ([`coalesce`]).
//!
//! Invariant: pure functions of a layout; no I/O.

use std::ops::Range;

use bcss_model::Rect;

use crate::layout::{merge, Layout, LOUD_COMPRESSIONS};

/// Missing ranges closer than this are fetched in one request (the gap included).
pub const MAX_GAP: u64 = 64 << 10;
/// The largest single request.
pub const MAX_REQUEST: u64 = 16 << 20;
/// Why a read cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// No such IFD.
    #[error("the slide has no image directory {ifd} (it has {count})")]
    NoSuchIfd {
        /// The index asked for.
        ifd: usize,
        /// How many there are.
        count: usize,
    },
    /// The IFD is stored in strips, not tiles.
    #[error("image directory {ifd} is not tiled; download the whole slide to read it")]
    NotTiled {
        /// The IFD.
        ifd: usize,
    },
    /// The level's compression would decode a missing tile silently.
    #[error("image directory {ifd} uses compression {compression}, where a tile that was not fetched would read as silent zeros instead of failing; download the whole slide instead")]
    Compression {
        /// The IFD.
        ifd: usize,
        /// The `Compression` tag.
        compression: u16,
    },
}

/// The non-pixel bytes: header, IFDs and out-of-line tag values.
pub fn metadata_ranges(layout: &Layout) -> Vec<Range<u64>> {
    layout.metadata.clone()
}

/// Tile (0,0) of every tiled IFD.
pub fn probe_ranges(layout: &Layout) -> Vec<Range<u64>> {
    merge(layout.ifds.iter().filter(|i| i.tile.is_some()).filter_map(|i| i.chunk(0)).collect())
}

/// Every tile of the smallest tiled level.
pub fn smallest_level_ranges(layout: &Layout) -> Vec<Range<u64>> {
    let Some(&smallest) = layout.tiled_levels().last() else { return Vec::new() };
    let ifd = &layout.ifds[smallest];
    merge((0..ifd.offsets.len()).filter_map(|i| ifd.chunk(i)).collect())
}

/// What opening the slide with OpenSlide needs: metadata, probe tiles, the smallest level.
pub fn open_ranges(layout: &Layout) -> Vec<Range<u64>> {
    let mut all = metadata_ranges(layout);
    all.extend(probe_ranges(layout));
    all.extend(smallest_level_ranges(layout));
    merge(all)
}

/// The byte ranges of the tiles of IFD `ifd` that intersect `rect` (in that level's pixels,
/// clipped to the level), skipping zero-length tiles. Refuses stripped levels and levels whose
/// compression is not in `LOUD_COMPRESSIONS`. A caller converting base coordinates to a level
/// with an inexact downsample should widen `rect` by a pixel for rounding.
pub fn tiles_for(layout: &Layout, ifd: usize, rect: Rect) -> Result<Vec<Range<u64>>, PlanError> {
    let d = layout.ifds.get(ifd).ok_or(PlanError::NoSuchIfd { ifd, count: layout.ifds.len() })?;
    let Some((tw, th)) = d.tile else { return Err(PlanError::NotTiled { ifd }) };
    if !LOUD_COMPRESSIONS.contains(&d.compression) {
        return Err(PlanError::Compression { ifd, compression: d.compression });
    }
    let (right, bottom) = (rect.right.min(d.width), rect.bottom.min(d.height));
    if rect.left >= right || rect.top >= bottom {
        return Ok(Vec::new());
    }
    let across = d.tiles_across();
    let mut out = Vec::new();
    for ty in rect.top / th..bottom.div_ceil(th) {
        for tx in rect.left / tw..right.div_ceil(tw) {
            out.extend(d.chunk((ty * across + tx) as usize));
        }
    }
    Ok(merge(out))
}

/// The most a read of the tiles of IFD `ifd` that intersect `rect` may fetch: per tile,
/// [`max_tile_bytes`](crate::max_tile_bytes) (2 bytes per 8-bit RGB sample of the tile
/// plus 64 KiB) and a merged gap of up to `MAX_GAP`. Twice the raw pixels of the tile-aligned
/// plan, so a ROI's fetch is bounded by what its read plan says, whatever byte counts the file
/// claims. 0 when nothing is read (no such IFD, not tiled, empty rectangle).
pub fn read_budget(layout: &Layout, ifd: usize, rect: Rect) -> u64 {
    let Some(d) = layout.ifds.get(ifd) else { return 0 };
    let Some((tw, th)) = d.tile else { return 0 };
    let (right, bottom) = (rect.right.min(d.width), rect.bottom.min(d.height));
    if rect.left >= right || rect.top >= bottom {
        return 0;
    }
    let n = (right.div_ceil(tw) - rect.left / tw).saturating_mul(bottom.div_ceil(th) - rect.top / th);
    n.saturating_mul(crate::max_tile_bytes(tw, th).saturating_add(MAX_GAP))
}

/// The most opening a copy may fetch: [`MAX_METADATA`](crate::MAX_METADATA) of
/// directories and tag values, and tile (0, 0) of each tiled level within its
/// [`read_budget`].
pub fn open_budget(layout: &Layout) -> u64 {
    let probes = (0..layout.ifds.len()).map(|i| read_budget(layout, i, Rect { left: 0, top: 0, right: 1, bottom: 1 }));
    probes.fold(crate::MAX_METADATA.saturating_add(MAX_GAP), u64::saturating_add)
}

/// Merges ranges whose gap is below `max_gap` into requests of at most `max_len` bytes (a
/// longer range is split).
pub fn coalesce(ranges: &[Range<u64>], max_gap: u64, max_len: u64) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in merge(ranges.to_vec()) {
        let mut r = r;
        if let Some(last) = out.last_mut() {
            if r.start - last.end < max_gap && r.start < last.start + max_len {
                let end = r.end.min(last.start + max_len);
                if end > last.end {
                    last.end = end;
                }
                r.start = r.start.max(end);
            }
        }
        while r.start < r.end {
            let end = r.end.min(r.start + max_len);
            out.push(r.start..end);
            r.start = end;
        }
    }
    out
}

#[cfg(test)]
#[expect(clippy::single_range_in_vec_init, reason = "lists of byte ranges, not ranges of numbers")]
mod tests {
    use super::*;
    use crate::layout::tests::{build_tiff, read_vec};
    use crate::parse;

    #[test]
    fn coalescing_merges_near_gaps_and_caps_requests() {
        assert_eq!(coalesce(&[0..10, 20..30], 64, 1000), [0..30]);
        assert_eq!(coalesce(&[0..10, 100..130], 64, 1000), [0..10, 100..130]);
        assert_eq!(coalesce(&[0..2500], 64, 1000), [0..1000, 1000..2000, 2000..2500]);
        assert_eq!(coalesce(&[0..900, 950..1200], 64, 1000), [0..1000, 1000..1200]);
    }

    #[test]
    fn plans_tiles_of_a_rectangle_and_refuses_quiet_compressions() {
        let data = build_tiff(false, true, 600, 300, 7);
        let layout = parse(data.len() as u64, &mut read_vec(&data)).unwrap();
        let l0 = &layout.ifds[0];
        // Columns 1-2 of row 0: tiles 1 and 2, adjacent on disk, merged.
        let r = tiles_for(&layout, 0, Rect { left: 300, top: 0, right: 700, bottom: 10 }).unwrap();
        assert_eq!(r, [l0.chunk(1).unwrap().start..l0.chunk(2).unwrap().end]);
        assert_eq!(tiles_for(&layout, 0, Rect { left: 0, top: 0, right: 600, bottom: 300 }).unwrap().len(), 1);
        assert!(tiles_for(&layout, 0, Rect { left: 700, top: 0, right: 800, bottom: 10 }).unwrap().is_empty());
        assert_eq!(
            tiles_for(&layout, 1, Rect { left: 0, top: 0, right: 1, bottom: 1 }),
            Err(PlanError::NotTiled { ifd: 1 })
        );
        assert!(matches!(
            tiles_for(&layout, 5, Rect { left: 0, top: 0, right: 1, bottom: 1 }),
            Err(PlanError::NoSuchIfd { .. })
        ));
        assert_eq!(probe_ranges(&layout), [l0.chunk(0).unwrap()]);
        assert_eq!(smallest_level_ranges(&layout), [l0.chunk(0).unwrap().start..l0.chunk(5).unwrap().end]);
        for quiet in [1u16, 5, 8, 32946] {
            let data = build_tiff(true, true, 600, 300, quiet);
            let layout = parse(data.len() as u64, &mut read_vec(&data)).unwrap();
            let err = tiles_for(&layout, 0, Rect { left: 0, top: 0, right: 1, bottom: 1 }).unwrap_err();
            assert_eq!(err, PlanError::Compression { ifd: 0, compression: quiet });
            assert!(err.to_string().contains("download the whole slide"));
        }
    }

    #[test]
    fn read_budgets_follow_the_tiles_of_the_plan() {
        let data = build_tiff(false, true, 600, 300, 7);
        let layout = parse(data.len() as u64, &mut read_vec(&data)).unwrap();
        let per_tile = crate::max_tile_bytes(256, 256) + MAX_GAP;
        assert_eq!(read_budget(&layout, 0, Rect { left: 300, top: 0, right: 700, bottom: 10 }), 2 * per_tile);
        assert_eq!(read_budget(&layout, 0, Rect { left: 0, top: 0, right: 600, bottom: 300 }), 6 * per_tile);
        assert_eq!(read_budget(&layout, 0, Rect { left: 700, top: 0, right: 800, bottom: 10 }), 0);
        assert_eq!(read_budget(&layout, 1, Rect { left: 0, top: 0, right: 5, bottom: 5 }), 0, "stripped");
        assert_eq!(open_budget(&layout), crate::MAX_METADATA + MAX_GAP + per_tile);
    }
}
