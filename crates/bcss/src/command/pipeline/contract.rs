//! The contracts between the pipeline (`run`) and its sources: where region pixels come from
//! ([`Pixels`], one [`SlideHandle`] per ROI) and where base masks come from ([`BaseMasks`]),
//! rows handed over through a [`RowSink`].

use super::errors::RoiError;
use crate::catalog::Roi;
use crate::model::SlideGeometry;
use crate::transform::{Mode, RegionPlan, Resolution};

/// Where [`SlideHandle::read_rows`] puts rows: whole rows, top to bottom.
pub type RowSink<'s> = dyn FnMut(&[u8]) -> Result<(), RoiError> + 's;

/// A source of region pixels for the pipeline.
pub trait Pixels: Sync {
    /// What `manifest.json` records as the dataset's source (no secrets).
    fn source_name(&self) -> String;
    /// Where slides were found, for the summary (`listing`, `built-in`, `local`, `gdc`).
    fn slides_from(&self) -> String;
    /// The manifest's `encoding` of each ROI (`JPEG`, `PNG`, `local`, `gdc`).
    fn encoding(&self) -> crate::dataset::manifest::RegionEncoding;
    /// The resolution parameters sent to a server, for the manifest (`None` when nothing is sent).
    fn request_params(&self) -> Option<String> {
        None
    }
    /// Total size of the slide files read from (sources that read slides by ranges).
    fn slide_bytes(&self) -> Option<u64> {
        None
    }
    /// A string that changes whenever anything that shapes this ROI's files changes.
    fn fingerprint(&self, resolution: Resolution, mode: Mode, masks: &dyn BaseMasks, roi: &Roi) -> String;
    /// The ROI's slide. Opening is cheap where it can be: metadata is read on first use.
    fn open(&self, roi: &Roi) -> Result<Box<dyn SlideHandle + '_>, RoiError>;
    /// The rayon pool this source's pixel work and the PNG writers run on (a command's thread
    /// budget); `None`: rayon's global pool.
    fn cpu_pool(&self) -> Option<std::sync::Arc<rayon::ThreadPool>> {
        None
    }
    /// How often a region whose body broke while it streamed ([`RegionError::Body`](super::RegionError::Body)) is
    /// fetched again: the HTTP client's retries, for sources that stream.
    fn transport_retries(&self) -> u32 {
        0
    }
}

/// One ROI's slide, opened by a [`Pixels`] source and used by one worker.
pub trait SlideHandle {
    /// The slide's file or item name (`TCGA-A1-A0SK-01Z-00-DX1.<UUID>.svs`).
    fn name(&self) -> String;
    /// The server's item id, when there is one.
    fn item_id(&self) -> Option<String> {
        None
    }
    /// The slide's geometry as large_image reports it.
    fn geometry(&self, on_bytes: &dyn Fn(u64)) -> Result<SlideGeometry, RoiError>;
    /// The region of `plan` handed to `sink` top to bottom, in whole RGB rows of
    /// `plan.out_width * 3` bytes (several at a time), exactly `plan.out_height` of them: what the
    /// pipeline writes from. Sources decode as they go, so none holds a region.
    fn read_rows(&self, plan: &RegionPlan, on_bytes: &dyn Fn(u64), sink: &mut RowSink) -> Result<(), RoiError>;
    /// The slide's annotation documents (`GET annotation/item/{id}`), from a DSA only.
    fn annotations(&self, _on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>, RoiError> {
        Err(RoiError::Unsupported("annotations come from a DSA only; this source has none"))
    }
}

/// A source of base-resolution masks for the pipeline.
pub trait BaseMasks: Sync {
    /// The kind of source, as the manifest records it.
    fn kind(&self) -> crate::dataset::manifest::MaskSource;
    /// Where this ROI's mask comes from, for the fingerprint (a link, a directory).
    #[cfg_attr(
        not(feature = "openslide"),
        expect(dead_code, reason = "used by extract and the GDC road, which need OpenSlide")
    )]
    fn origin(&self, roi: &Roi) -> String;
    /// The ROI's mask at base resolution, checked (exactly the ROI's size, known codes only),
    /// handed to `sink` top to bottom in whole rows (`roi.width()` bytes each), a band at a
    /// time: what the pipeline writes from, so no source holds a whole mask. Checks may end it
    /// part-way (the pipeline then writes nothing).
    fn base_mask_rows(
        &self,
        roi: &Roi,
        slide: &dyn SlideHandle,
        on_bytes: &dyn Fn(u64),
        sink: &mut RowSink,
    ) -> Result<(), RoiError>;
    /// Whether a mask whose content is bad is fetched again (remote masks: a body may arrive
    /// damaged).
    fn refetch_bad_content(&self) -> bool {
        false
    }
}
