//! Where region pixels come from: the [`Pixels`] interface and its sources.

use std::cell::OnceCell;
use std::io::{BufRead, Read};

use super::contract::{BaseMasks, Pixels, RowSink, SlideHandle};
use super::errors::{RegionError, RoiError};
use crate::catalog::{Roi, Slide, SlideTable};
use crate::codec;
use crate::dataset::manifest::RegionEncoding;
use crate::model::SlideGeometry;
use crate::source::girder::{self, Girder};
use crate::source::http::{Failure, HttpError};
use crate::transform::{Mode, RegionPlan, Resolution};

/// Rows per band when a region body is decoded as it is written.
const BAND_ROWS: usize = 16;

/// Region encoding asked of a DSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Encoding {
    /// JPEG quality 95, 4:4:4 (the server's default and the original's).
    #[default]
    #[serde(alias = "jpg")]
    #[cfg_attr(feature = "clap", value(alias = "jpg"))]
    Jpeg,
    /// Lossless PNG.
    Png,
}

impl Encoding {
    /// The value of the `encoding` query parameter (case-sensitive on the server).
    pub fn as_param(self) -> &'static str {
        match self {
            Encoding::Jpeg => "JPEG",
            Encoding::Png => "PNG",
        }
    }
}

/// Pixels from a DSA's `item/{id}/tiles/region` endpoint.
pub struct DsaPixels<'a> {
    /// The connected client.
    pub girder: &'a Girder,
    /// Slides of the folder (or the built-in table).
    pub slides: SlideTable,
    /// `listing` or `built-in`.
    pub slides_from: &'static str,
    /// Whether the built-in table (the public server's item ids) may stand in for a slide
    /// missing from `slides`: only when the public folder is the one being read.
    pub fallback_to_builtin: bool,
    /// Region encoding.
    pub encoding: Encoding,
    /// Ask large_image to apply the slide's ICC profile (its default).
    pub icc: bool,
    /// The resolution asked for (the same as the pipeline's).
    pub resolution: Resolution,
    /// Exact or compat requests (the same as the pipeline's).
    pub mode: Mode,
}

impl DsaPixels<'_> {
    /// The scale (and style) parameters of every region request.
    fn query(&self) -> Vec<(&'static str, String)> {
        let (mut query, _) = self.resolution.request(self.mode);
        if !self.icc {
            query.push(("style", r#"{"icc":false}"#.to_string()));
        }
        query
    }
}

impl Pixels for DsaPixels<'_> {
    fn source_name(&self) -> String {
        crate::source::http::redact_url(self.girder.base())
    }

    fn slides_from(&self) -> String {
        self.slides_from.to_string()
    }

    fn encoding(&self) -> RegionEncoding {
        match self.encoding {
            Encoding::Jpeg => RegionEncoding::Jpeg,
            Encoding::Png => RegionEncoding::Png,
        }
    }

    fn request_params(&self) -> Option<String> {
        let q = self.query();
        (!q.is_empty()).then(|| q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
    }

    fn fingerprint(&self, resolution: Resolution, mode: Mode, masks: &dyn BaseMasks, roi: &Roi) -> String {
        // Unchanged since the first release, so existing datasets resume.
        format!(
            "v1|{}|{}|{}|{}|{},{},{},{}|{}{}",
            mode.as_str(),
            resolution.describe(),
            self.encoding.as_param(),
            masks.kind().as_str(),
            roi.xmin,
            roi.ymin,
            roi.xmax,
            roi.ymax,
            roi.mask_link.as_deref().unwrap_or(""),
            if self.icc { "" } else { "|no-icc" }
        )
    }

    fn transport_retries(&self) -> u32 {
        self.girder.http().config().get_retries()
    }

    fn open(&self, roi: &Roi) -> Result<Box<dyn SlideHandle + '_>, RoiError> {
        let fallback = self.fallback_to_builtin;
        let slide = self
            .slides
            .get(roi.short_name())
            .cloned()
            .or_else(|| fallback.then(|| SlideTable::builtin().get(roi.short_name()).cloned()).flatten())
            .ok_or_else(|| {
                RoiError::NoSlide(format!(
                    "slide `{}` is not in the folder listing{}",
                    roi.short_name(),
                    if fallback {
                        " nor in the built-in slide table"
                    } else {
                        " (a slide table of the public server would not apply to this one)"
                    }
                ))
            })?;
        Ok(Box::new(DsaSlide { pixels: self, slide, roi_id: roi.id.clone(), annotations: OnceCell::new() }))
    }
}

/// The server's image must be the size the plan asks for.
fn server_size(plan: &RegionPlan, w: usize, h: usize) -> Result<(), RoiError> {
    if (w as u64, h as u64) != (plan.out_width, plan.out_height) {
        return Err(RoiError::BadRegion(RegionError::ServerSize {
            got_w: w as u64,
            got_h: h as u64,
            want_w: plan.out_width,
            want_h: plan.out_height,
        }));
    }
    Ok(())
}

/// A reader that reports what it reads to the run's byte count.
struct Counted<'a, R> {
    inner: R,
    got: &'a std::cell::Cell<u64>,
    on_bytes: &'a dyn Fn(u64),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.got.set(self.got.get() + n as u64);
        (self.on_bytes)(n as u64);
        Ok(n)
    }
}

/// JPEG rows from `data` (a body as it arrives, or a whole one) into `sink`, a band at a time;
/// the size is checked from the header first.
fn jpeg_rows(
    data: impl Read,
    plan: &RegionPlan,
    sink: &mut RowSink,
    broken: &dyn Fn(std::io::Error) -> RoiError,
) -> Result<(), RoiError> {
    let bad = |e: codec::CodecError| match e {
        codec::CodecError::Read(e) => broken(e),
        codec::CodecError::WrongSize { width, height, .. } => RoiError::BadRegion(RegionError::ServerSize {
            got_w: width as u64,
            got_h: height as u64,
            want_w: plan.out_width,
            want_h: plan.out_height,
        }),
        e => RoiError::BadRegion(RegionError::Decode(e)),
    };
    // The planned size is checked from the header, before libjpeg allocates anything for the
    // image (a hostile header could otherwise claim up to MAX_PIXELS).
    let limit = codec::SizeLimit::Exactly { width: plan.out_width, height: plan.out_height };
    let mut rows = codec::jpeg::RowDecoder::new(data, limit).map_err(bad)?;
    let w = rows.width();
    let mut band = vec![0u8; w * 3 * BAND_ROWS];
    loop {
        let n = rows.read_rows(&mut band).map_err(bad)?;
        if n == 0 {
            break;
        }
        sink(&band[..n * w * 3])?;
    }
    rows.finish().map_err(bad)
}

/// PNG rows from a whole body into `sink` (the size was checked from its header).
fn png_rows(body: &[u8], plan: &RegionPlan, sink: &mut RowSink) -> Result<(), RoiError> {
    let bad = |e: codec::CodecError| RoiError::BadRegion(RegionError::Decode(e));
    let (w, h) = (plan.out_width as usize, plan.out_height as usize);
    let mut band = vec![0u8; w * 3 * BAND_ROWS];
    let mut rows = codec::rows::RowReader::rgb(std::io::Cursor::new(body)).map_err(bad)?;
    let mut done = 0;
    while done < h {
        let n = BAND_ROWS.min(h - done);
        for row in band[..n * w * 3].chunks_exact_mut(w * 3) {
            rows.read_row(row).map_err(bad)?;
        }
        sink(&band[..n * w * 3])?;
        done += n;
    }
    rows.finish().map_err(bad)
}

struct DsaSlide<'a> {
    pixels: &'a DsaPixels<'a>,
    slide: Slide,
    roi_id: String,
    /// The annotation body, fetched at most once per ROI (masks and annotations both use it).
    annotations: OnceCell<Vec<u8>>,
}

impl SlideHandle for DsaSlide<'_> {
    fn name(&self) -> String {
        self.slide.name.clone()
    }

    fn item_id(&self) -> Option<String> {
        Some(self.slide.item_id.clone())
    }

    fn geometry(&self, _on_bytes: &dyn Fn(u64)) -> Result<SlideGeometry, RoiError> {
        Ok(self.pixels.girder.tiles(&self.slide.item_id)?)
    }

    /// A JPEG body is decoded while it arrives (libjpeg's scanline API: the same pixels as
    /// [`codec::decode_rgb`]), a band of rows at a time into the sink, so neither the region
    /// nor its body is ever held. A PNG body (`--encoding PNG`) is read whole first, since its
    /// decoder needs to seek, and decoded a band at a time ([`codec::rows::RowReader`]). A body
    /// that breaks half-way fails with [`RegionError::Body`], for the pipeline to fetch the
    /// region again (the rows already written went to a temporary file).
    fn read_rows(&self, plan: &RegionPlan, on_bytes: &dyn Fn(u64), sink: &mut RowSink) -> Result<(), RoiError> {
        let p = self.pixels;
        let started = std::time::Instant::now();
        let query = p.query();
        let max_body = girder::region_body_limit(plan.out_width, plan.out_height);
        let (head, body, url) =
            p.girder.region(&self.slide.item_id, plan.region, &query, p.encoding.as_param(), max_body)?;
        let got = std::cell::Cell::new(0);
        let broken = |e: std::io::Error| {
            RoiError::BadRegion(RegionError::Body {
                source: HttpError {
                    url: url.clone(),
                    failure: Failure::from_read(&e, got.get()),
                    retries: 0,
                    elapsed: started.elapsed(),
                },
                fetches: 1,
            })
        };
        let mut body = std::io::BufReader::with_capacity(64 * 1024, Counted { inner: body, got: &got, on_bytes });
        let first = body.fill_buf().map_err(broken)?;
        if first.is_empty() {
            return Err(RoiError::BadRegion(RegionError::Empty { status: head.status }));
        }
        if codec::sniff(first) == Some(codec::Format::Jpeg) {
            jpeg_rows(&mut body, plan, sink, &broken)?;
            // Read to the end, so a body cut after the image's end marker or longer than its
            // limit is still an error.
            std::io::copy(&mut body, &mut std::io::sink()).map_err(broken)?;
            tracing::debug!(roi = %self.roi_id, bytes = got.get(), "region streamed");
            return Ok(());
        }
        let mut whole = Vec::new();
        body.read_to_end(&mut whole).map_err(broken)?;
        let (w, h) = codec::dimensions(&whole).map_err(|e| RoiError::BadRegion(RegionError::Decode(e)))?;
        server_size(plan, w, h)?;
        tracing::debug!(roi = %self.roi_id, bytes = whole.len(), "region received");
        match codec::sniff(&whole) {
            Some(codec::Format::Jpeg) => jpeg_rows(&whole[..], plan, sink, &broken),
            _ => png_rows(&whole, plan, sink),
        }
    }

    fn annotations(&self, on_bytes: &dyn Fn(u64)) -> Result<Vec<u8>, RoiError> {
        if let Some(body) = self.annotations.get() {
            return Ok(body.clone());
        }
        let body = self.pixels.girder.annotations(&self.slide.item_id, on_bytes)?;
        Ok(self.annotations.get_or_init(|| body).clone())
    }
}

/// Pixels from slide files on the local disk, read with OpenSlide as a DSA reads them.
#[cfg(feature = "openslide")]
pub struct LocalPixels {
    /// The slide files.
    pub slides: crate::source::local::SlideDir,
    /// Full slide names of the catalogue, to prefer an exact file name over a prefix match.
    pub names: SlideTable,
    /// Where reading, resampling and encoding run (`extract --jobs N`: N threads); `None`:
    /// rayon's global pool.
    pub pool: Option<std::sync::Arc<rayon::ThreadPool>>,
}

#[cfg(feature = "openslide")]
impl Pixels for LocalPixels {
    fn source_name(&self) -> String {
        format!("local:{}", self.slides.dir().display())
    }

    fn slides_from(&self) -> String {
        "local".to_string()
    }

    fn encoding(&self) -> RegionEncoding {
        RegionEncoding::Local
    }

    fn fingerprint(&self, resolution: Resolution, _mode: Mode, masks: &dyn BaseMasks, roi: &Roi) -> String {
        // Unchanged since the first release, so existing datasets resume.
        slide_file_fingerprint("local", resolution, masks, roi)
    }

    fn open(&self, roi: &Roi) -> Result<Box<dyn SlideHandle + '_>, RoiError> {
        let full_name = self.names.get(roi.short_name()).map(|s| s.name.as_str());
        let path = self.slides.find(roi.short_name(), full_name)?;
        Ok(Box::new(LocalHandle { path, slide: OnceCell::new(), pool: self.pool.clone() }))
    }

    fn cpu_pool(&self) -> Option<std::sync::Arc<rayon::ThreadPool>> {
        self.pool.clone()
    }
}

/// The fingerprint of a ROI read from a slide file (`road`: `local` or `gdc`): the resolution,
/// where the mask comes from, and the bounds. Both roads read through OpenSlide.
#[cfg(feature = "openslide")]
pub(crate) fn slide_file_fingerprint(road: &str, resolution: Resolution, masks: &dyn BaseMasks, roi: &Roi) -> String {
    format!(
        "v1|{road}|{}|{}|{},{},{},{}|{}",
        resolution.describe(),
        masks.kind().as_str(),
        roi.xmin,
        roi.ymin,
        roi.xmax,
        roi.ymax,
        masks.origin(roi)
    )
}

/// A slide file, opened with OpenSlide on first use.
#[cfg(feature = "openslide")]
pub(crate) struct LocalHandle {
    pub(crate) path: std::path::PathBuf,
    pub(crate) slide: OnceCell<crate::source::local::LocalSlide>,
    pub(crate) pool: Option<std::sync::Arc<rayon::ThreadPool>>,
}

#[cfg(feature = "openslide")]
impl LocalHandle {
    pub(crate) fn slide(&self) -> Result<&crate::source::local::LocalSlide, RoiError> {
        if let Some(s) = self.slide.get() {
            return Ok(s);
        }
        let opened = crate::source::local::LocalSlide::open(&self.path)?;
        Ok(self.slide.get_or_init(|| opened))
    }
}

#[cfg(feature = "openslide")]
impl SlideHandle for LocalHandle {
    fn name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    fn geometry(&self, _on_bytes: &dyn Fn(u64)) -> Result<SlideGeometry, RoiError> {
        Ok(self.slide()?.geometry().clone())
    }

    /// Output rows as the resampler makes them from a few tile strips at a time: the region is
    /// never held (see [`LocalSlide::read_rows`](crate::source::local::LocalSlide::read_rows)).
    fn read_rows(&self, plan: &RegionPlan, _on_bytes: &dyn Fn(u64), sink: &mut RowSink) -> Result<(), RoiError> {
        let slide = self.slide()?;
        let pool = self.pool.as_deref();
        slide.read_rows(plan.region, plan.read_level, plan.out_width, plan.out_height, pool, sink)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::model::{Rect, RgbImage};
    use crate::source::girder::Credentials;
    use crate::source::http::{Failure, Http, HttpConfig, TransportKind};

    /// How a [`serve`]d region body is sent after its first half.
    #[derive(Clone, Copy)]
    enum Rest {
        /// The rest once the client has handed rows to its sink (or after 20 s).
        AfterRows,
        /// Nothing: the connection is closed.
        Cut,
    }

    /// A Girder of two routes on 127.0.0.1: `system/version`, and a region whose `body` is sent
    /// in two halves. Returns the API URL and whether the second half waited for rows.
    fn serve(body: Vec<u8>, rest: Rest, rows_seen: Arc<AtomicBool>) -> (String, Arc<AtomicBool>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let waited_for_rows = Arc::new(AtomicBool::new(false));
        let waited = waited_for_rows.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                        break;
                    }
                }
                if line.contains("system/version") {
                    let json = br#"{"apiVersion": "3.1.22"}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n",
                        json.len()
                    );
                    stream.write_all(head.as_bytes()).unwrap();
                    stream.write_all(json).unwrap();
                    continue;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: image/jpeg\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                let half = body.len() / 2;
                stream.write_all(&body[..half]).unwrap();
                stream.flush().unwrap();
                match rest {
                    Rest::Cut => drop(stream),
                    Rest::AfterRows => {
                        let until = Instant::now() + Duration::from_secs(20);
                        while !rows_seen.load(Ordering::SeqCst) && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        waited.store(rows_seen.load(Ordering::SeqCst), Ordering::SeqCst);
                        let _ = stream.write_all(&body[half..]);
                    }
                }
            }
        });
        (format!("http://127.0.0.1:{port}/api/v1"), waited_for_rows)
    }

    /// Reads the region of `body` through `DsaSlide::read_rows`; the rows, and what the server saw.
    fn read_region(body: &[u8], width: u64, height: u64, rest: Rest) -> (Result<Vec<u8>, RoiError>, bool) {
        let rows_seen = Arc::new(AtomicBool::new(false));
        let (url, waited) = serve(body.to_vec(), rest, rows_seen.clone());
        let http = Http::new(HttpConfig::default().retries(0)).unwrap();
        let girder = Girder::connect(http, &url, Credentials::Anonymous).unwrap();
        let pixels = DsaPixels {
            girder: &girder,
            slides: SlideTable::default(),
            slides_from: "listing",
            fallback_to_builtin: false,
            encoding: Encoding::Jpeg,
            icc: true,
            resolution: Resolution::Base,
            mode: Mode::Exact,
        };
        let slide = Slide {
            short_name: "TCGA-SY-0001".into(),
            name: "TCGA-SY-0001.svs".into(),
            item_id: "abc".into(),
            magnification: None,
        };
        let handle = DsaSlide { pixels: &pixels, slide, roi_id: "roi".into(), annotations: OnceCell::new() };
        let rect = Rect { left: 0, top: 0, right: width, bottom: height };
        let plan = RegionPlan {
            region: rect,
            scale: 1.0,
            out_width: width,
            out_height: height,
            read_level: 0,
            level_region: rect,
        };
        let mut rows = Vec::new();
        let result = handle
            .read_rows(&plan, &|_| {}, &mut |band: &[u8]| {
                rows.extend_from_slice(band);
                rows_seen.store(true, Ordering::SeqCst);
                Ok(())
            })
            .map(|()| rows);
        (result, waited.load(Ordering::SeqCst))
    }

    fn tissue_like(width: usize, height: usize) -> RgbImage {
        let data = (0..width * height * 3).map(|i| ((i * 7919) % 251) as u8 ^ ((i / (width * 3)) as u8)).collect();
        RgbImage { width, height, data }
    }

    #[test]
    fn a_jpeg_region_is_decoded_while_its_body_arrives() {
        let image = tissue_like(400, 300);
        let body = codec::jpeg::encode_rgb(&image, 95).unwrap();
        let (rows, waited) = read_region(&body, 400, 300, Rest::AfterRows);
        assert!(waited, "rows reached the sink only after the whole body was sent");
        assert!(rows.unwrap() == codec::decode_rgb(&body).unwrap().data, "streamed rows are not the decoder's pixels");
    }

    #[test]
    fn a_body_cut_while_it_is_decoded_is_a_transient_body_error() {
        let body = codec::jpeg::encode_rgb(&tissue_like(400, 300), 95).unwrap();
        let (rows, _) = read_region(&body, 400, 300, Rest::Cut);
        match rows {
            Err(RoiError::BadRegion(RegionError::Body { source: e, fetches: 1 })) => {
                assert!(e.failure.is_transient(), "{e}");
                match &e.failure {
                    Failure::Transport(t) => {
                        // ureq sees the closed connection itself, or the body ends short.
                        let cut = matches!(t.kind, TransportKind::BodyRead { bytes } if bytes < body.len() as u64)
                            || matches!(t.kind, TransportKind::BodyCut { expected, .. } if expected == body.len() as u64);
                        assert!(cut, "{t}");
                    }
                    other => panic!("{other}"),
                }
                assert!(e.url.contains("/item/abc/tiles/region"), "{}", e.url);
            }
            other => panic!("a cut body gave {:?}", other.map(|r| r.len())),
        }
    }
}
