//! The tiles of `bcss tile`, read lazily from the ROI PNGs instead of written to disk.
//!
//! [`tile_index`] lists the tiles `bcss tile` would write: the same grid
//! (`TileGrid`: every `stride` pixels, last row and column moved back to the edge) and the same
//! rule for dropping a tile (`tile_counts` + `labelled_fraction` below `min_labelled`; padding
//! of a ROI smaller than a tile is don't care). It decodes every mask once, in parallel.
//!
//! [`TileReader`] cuts one tile at a time. It keeps the ROI it read last open, with a band of
//! `size` rows decoded: tiles read in index order (ROI, then y, then x) decode every row of a ROI
//! once, and memory stays at about `size x width x 4` bytes. A tile above the band, or of
//! another ROI, reopens the file and decodes from the top down to the tile (a PNG cannot be
//! entered in the middle), so shuffled access costs about half a ROI's decoding per tile.

use std::fs::File;
use std::io::BufReader;

use rayon::prelude::*;

use super::training::{MaskValues, TrainingError, TrainingSet};
use bcss_codec::png::decode_gray;
use bcss_codec::rows::RowReader;
use bcss_model::{GrayImage, RgbImage};
use bcss_transform::remap::{remap_in_place, remap_into};
use bcss_transform::tile::{labelled_fraction, tile_counts, TileGrid};

/// One tile kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileRef {
    /// Index of its ROI in [`TrainingSet::rois`].
    pub roi: usize,
    /// Left edge in the ROI image.
    pub x: usize,
    /// Top edge in the ROI image.
    pub y: usize,
    /// Labelled pixels over `size x size`.
    pub labelled_fraction: f64,
}

/// The tiles of the ROIs `rois` (indices into [`TrainingSet::rois`]) that `bcss tile` keeps with
/// the same `size`, `stride` and `min_labelled`, in its order (ROI as given, then y, then x).
pub fn tile_index(
    set: &TrainingSet,
    rois: &[usize],
    size: usize,
    stride: usize,
    min_labelled: f64,
) -> Result<Vec<TileRef>, TrainingError> {
    TileGrid::new(1, 1, size, stride)?;
    let k = set.class_map().num_classes();
    let per_roi: Vec<Result<Vec<TileRef>, TrainingError>> = rois
        .par_iter()
        .map(|&i| {
            let roi = &set.rois()[i];
            let bytes = bcss_files::read(&roi.mask, bcss_files::IMAGE_FILE_LIMIT)
                .map_err(|source| TrainingError::Io { path: roi.mask.clone(), source })?;
            let mut mask =
                decode_gray(&bytes).map_err(|source| TrainingError::Codec { path: roi.mask.clone(), source })?;
            remap_in_place(&mut mask.data, set.class_map().lut()).map_err(|b| TrainingError::BadCode {
                path: roi.mask.clone(),
                value: b.value,
                index: b.index,
            })?;
            let (w, h) = (mask.width, mask.height);
            let grid = TileGrid::new(w, h, size, stride)?;
            Ok(grid
                .iter()
                .filter_map(|(x, y)| {
                    let rows = (y + size).min(h) - y;
                    let fraction = labelled_fraction(&tile_counts(&mask.data[y * w..], w, x, rows, size, k), size);
                    (fraction >= min_labelled).then_some(TileRef { roi: i, x, y, labelled_fraction: fraction })
                })
                .collect())
        })
        .collect();
    let mut out = Vec::new();
    for r in per_roi {
        out.extend(r?);
    }
    Ok(out)
}

type Rows = RowReader<BufReader<File>>;

/// The ROI a [`TileReader`] has open: rows `[top, top + filled)` decoded.
struct OpenRoi {
    roi: usize,
    width: usize,
    height: usize,
    image_rows: Rows,
    mask_rows: Rows,
    top: usize,
    filled: usize,
    image: Vec<u8>,
    mask: Vec<u8>,
    /// One raw mask row, before the class map.
    mask_row: Vec<u8>,
}

/// Cuts tiles from ROI files, keeping the last ROI open (see the module docs).
#[derive(Default)]
pub struct TileReader {
    open: Option<OpenRoi>,
}

impl TileReader {
    /// A reader with nothing open.
    pub fn new() -> TileReader {
        TileReader::default()
    }

    /// The `size x size` tile at `(x, y)` of ROI `roi` (an index into [`TrainingSet::rois`]):
    /// the image (black past the ROI's edge) and the mask remapped through the set's class map
    /// (don't care past the edge), in the convention `values`.
    pub fn read(
        &mut self,
        set: &TrainingSet,
        roi: usize,
        x: usize,
        y: usize,
        size: usize,
        values: MaskValues,
    ) -> Result<(RgbImage, GrayImage), TrainingError> {
        let reopen = match &self.open {
            Some(o) => o.roi != roi || y < o.top || o.image.len() < size.min(o.height) * o.width * 3,
            None => true,
        };
        if reopen {
            self.open = None;
            self.open = Some(OpenRoi::open(set, roi, size)?);
        }
        let o = self.open.as_mut().expect("opened above");
        if let Err(e) = o.advance(set, y, size) {
            self.open = None;
            return Err(e);
        }
        let (w, h) = (o.width, o.height);
        let tw = (x + size).min(w).saturating_sub(x);
        let th = (y + size).min(h).saturating_sub(y);
        // Built by appending rows (each byte written once) rather than zeroed and then copied
        // over: the padding past the ROI's edge is the only part that needs zeros.
        let mut image = Vec::with_capacity(size * size * 3);
        let mut mask = Vec::with_capacity(size * size);
        for row in 0..th {
            let src = (y - o.top + row) * w + x;
            mask.extend_from_slice(&o.mask[src..src + tw]);
            mask.resize((row + 1) * size, 0);
            image.extend_from_slice(&o.image[src * 3..(src + tw) * 3]);
            image.resize((row + 1) * size * 3, 0);
        }
        mask.resize(size * size, 0);
        image.resize(size * size * 3, 0);
        values.apply(&mut mask);
        Ok((RgbImage { width: size, height: size, data: image }, GrayImage { width: size, height: size, data: mask }))
    }
}

impl OpenRoi {
    fn open(set: &TrainingSet, roi: usize, size: usize) -> Result<OpenRoi, TrainingError> {
        let r = &set.rois()[roi];
        let open = |path: &std::path::Path, rgb: bool| -> Result<Rows, TrainingError> {
            let file =
                bcss_files::open_read(path).map_err(|source| TrainingError::Io { path: path.to_path_buf(), source })?;
            let reader = BufReader::with_capacity(1 << 16, file);
            let rows = if rgb { RowReader::rgb(reader) } else { RowReader::gray(reader) };
            rows.map_err(|source| TrainingError::Codec { path: path.to_path_buf(), source })
        };
        let mask_rows = open(&r.mask, false)?;
        let image_rows = open(&r.image, true)?;
        let (w, h) = (mask_rows.width(), mask_rows.height());
        if (image_rows.width(), image_rows.height()) != (w, h) {
            return Err(TrainingError::Size {
                image: r.image.clone(),
                iw: image_rows.width(),
                ih: image_rows.height(),
                mw: w,
                mh: h,
            });
        }
        let band = size.min(h);
        Ok(OpenRoi {
            roi,
            width: w,
            height: h,
            image_rows,
            mask_rows,
            top: 0,
            filled: 0,
            image: vec![0; band * w * 3],
            mask: vec![0; band * w],
            mask_row: vec![0; w],
        })
    }

    /// Moves the band down so it starts at `y` and holds the rows of a tile there.
    fn advance(&mut self, set: &TrainingSet, y: usize, size: usize) -> Result<(), TrainingError> {
        let w = self.width;
        if y > self.top {
            let drop = (y - self.top).min(self.filled);
            self.mask.copy_within(drop * w..self.filled * w, 0);
            self.image.copy_within(drop * w * 3..self.filled * w * 3, 0);
            self.top += drop;
            self.filled -= drop;
            // Rows above the tile that were never decoded: decode and discard.
            while self.top < y {
                self.read_row(set, 0)?;
                self.top += 1;
            }
        }
        let bottom = (y + size).min(self.height);
        while self.top + self.filled < bottom {
            self.read_row(set, self.filled)?;
            self.filled += 1;
        }
        Ok(())
    }

    /// Decodes the next row of both files into band row `slot`, the mask remapped.
    fn read_row(&mut self, set: &TrainingSet, slot: usize) -> Result<(), TrainingError> {
        let w = self.width;
        let r = &set.rois()[self.roi];
        let y = self.top + slot;
        // Decoded into a row of its own and remapped on the way into the band: one pass of the
        // lookup table (checking in place would be two).
        self.mask_rows
            .read_row(&mut self.mask_row)
            .map_err(|source| TrainingError::Codec { path: r.mask.clone(), source })?;
        remap_into(&self.mask_row, &mut self.mask[slot * w..(slot + 1) * w], set.class_map().lut())
            .map_err(|b| TrainingError::BadCode { path: r.mask.clone(), value: b.value, index: y * w + b.index })?;
        self.image_rows
            .read_row(&mut self.image[slot * w * 3..(slot + 1) * w * 3])
            .map_err(|source| TrainingError::Codec { path: r.image.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcss_catalog::classmap::ClassMap;
    use bcss_codec::png::{write_raw, Compression};

    /// One 25 x 18 ROI (raw codes: class = (x + y) % 3, don't care in the last 5 columns).
    fn dataset() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for dir in ["images", "masks"] {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
        }
        let (w, h) = (25, 18);
        let mask: Vec<u8> =
            (0..h).flat_map(|y| (0..w).map(move |x| if x >= 20 { 0 } else { ((x + y) % 3) as u8 + 1 })).collect();
        let img: Vec<u8> = (0..h).flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, 7])).collect();
        let name = "TCGA-A1-A0SK-DX1_xmin0_ymin0_MPP-0.2500.png";
        let mut b = Vec::new();
        write_raw(&mut b, w, h, 1, &mask, Compression::Fast).unwrap();
        std::fs::write(d.path().join("masks").join(name), b).unwrap();
        let mut b = Vec::new();
        write_raw(&mut b, w, h, 3, &img, Compression::Fast).unwrap();
        std::fs::write(d.path().join("images").join(name), b).unwrap();
        d
    }

    #[test]
    fn index_and_tiles_in_any_order_match_the_loaded_roi() {
        let d = dataset();
        let set = TrainingSet::open(d.path(), ClassMap::preset("raw").unwrap(), None).unwrap();
        let all = tile_index(&set, &[0], 8, 8, 0.0).unwrap();
        let origins: Vec<(usize, usize)> = all.iter().map(|t| (t.x, t.y)).collect();
        let want: Vec<(usize, usize)> =
            [0, 8, 10].iter().flat_map(|&y| [0, 8, 16, 17].iter().map(move |&x| (x, y))).collect();
        assert_eq!(origins, want);
        // Tile (17, y) has 3 labelled columns of 8: dropped at 0.5.
        let kept = tile_index(&set, &[0], 8, 8, 0.5).unwrap();
        assert!(kept.iter().all(|t| t.x != 17) && kept.len() == 9, "{kept:?}");
        let full = set.load(&set.rois()[0]).unwrap();
        let mut reader = TileReader::new();
        // In order, then backwards (reopens), then a tile hanging over no edge.
        let mut order = all.clone();
        order.extend(all.iter().rev().copied());
        for t in order {
            let (img, mask) = reader.read(&set, 0, t.x, t.y, 8, MaskValues::Ignore(255)).unwrap();
            for (r, c) in [(0, 0), (7, 7), (3, 5)] {
                let v = full.mask.data[(t.y + r) * 25 + t.x + c];
                assert_eq!(mask.data[r * 8 + c], if v == 0 { 255 } else { v - 1 });
                assert_eq!(img.data[(r * 8 + c) * 3], (t.x + c) as u8);
                assert_eq!(img.data[(r * 8 + c) * 3 + 1], (t.y + r) as u8);
            }
        }
        // A tile larger than the ROI is padded.
        let (img, mask) = reader.read(&set, 0, 0, 0, 32, MaskValues::Classes).unwrap();
        assert_eq!((mask.data[31 * 32 + 31], img.data.len()), (0, 32 * 32 * 3));
    }
}
