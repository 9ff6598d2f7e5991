//! The report's HTML: one page, everything inline. Every text that came from outside (paths,
//! ROI ids, class names) goes through [`escape`]; the numbers the page shows are also embedded
//! as JSON (`<script id="bcss-data">`, through [`script_json`]) so tests and scripts can read
//! them back from the file.

use std::fmt::Write as _;
use std::path::Path;

use super::{PartScores, Report, ReportError, RoiEntry};
use crate::dataset::pairs::LayoutKind;
use crate::dataset::scores::Metrics;
use crate::render::distribution::{chart, Measure};
use crate::render::html::{data_uri, escape, script_json};

/// The dataset's paper, cited in the header.
pub const CITATION: &str = "Amgad M, Elfandy H, Hussein H, et al. Structured crowdsourcing enables convolutional \
     segmentation of histology images. Bioinformatics. 2019;35(18):3461-3467. doi:10.1093/bioinformatics/btz083";

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// A relative URL from the page to `target` (percent-encoded, as an `href` wants it), or `None`
/// when one of the two paths cannot be made absolute.
///
/// It always starts with `./` or `../`: a file beside the page named `javascript:alert(1);_xmin..png`
/// would otherwise be the URL `javascript:alert(1);_xmin..png`, which a browser runs as script
/// (a `:` before the first `/` makes a scheme); `./javascript:...` is a path (issue 22).
pub fn relative_href(page: &Path, target: &Path) -> Option<String> {
    let page = url::Url::from_file_path(std::path::absolute(page).ok()?).ok()?;
    let target = url::Url::from_file_path(std::path::absolute(target).ok()?).ok()?;
    let href = page.make_relative(&target)?;
    Some(if href.starts_with("../") || href.starts_with("./") { href } else { format!("./{href}") })
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), pct)
}

fn megapixels(px: u64) -> String {
    format!("{:.2} MP", px as f64 / 1e6)
}

fn megabytes(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// The three classes with the most pixels, with their share of the ROI's labelled pixels.
fn dominant(report: &Report, e: &RoiEntry) -> String {
    let labelled = e.stats.pixels() - e.stats.counts[0];
    let mut classes: Vec<(u64, &str)> = report
        .plan
        .map
        .classes()
        .iter()
        .map(|c| (e.stats.counts[c.value as usize], c.name.as_str()))
        .filter(|(n, _)| *n > 0)
        .collect();
    classes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    classes
        .iter()
        .take(3)
        .map(|(n, name)| format!("{} {:.0}%", escape(name), 100.0 * *n as f64 / labelled.max(1) as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

fn layout_name(kind: LayoutKind) -> &'static str {
    match kind {
        LayoutKind::Bcss => "bcss (images/ + masks/)",
        LayoutKind::Drive => "Google Drive copy (rgbs_colorNormalized/ + masks/)",
        LayoutKind::MasksOnly => "masks/ only",
    }
}

fn header(h: &mut String, r: &Report) {
    let rois = r.rois.len();
    let pixels: u64 = r.rois.iter().map(|e| e.stats.pixels()).sum();
    let bytes: u64 = r.rois.iter().map(|e| e.bytes).sum();
    let v = &r.verify;
    let verify = match &v.error {
        Some(e) => format!("could not run: {}", escape(e)),
        None => {
            let against = if v.with_manifest { "against manifest.json" } else { "by file name, no manifest" };
            let absent = if v.absent > 0 { format!(", {} expected ROIs absent", v.absent) } else { String::new() };
            let state = if v.problems == 0 { "ok".to_string() } else { format!("{} problem(s)", v.problems) };
            format!(
                "<span class=\"{}\">{state}</span> ({} ROIs checked {against}{absent}; sizes and codes checked, \
                 hashes not: run <code>bcss verify</code> for those)",
                if v.problems == 0 { "good" } else { "bad" },
                v.rois_checked
            )
        }
    };
    let resolution = if r.resolutions.is_empty() { "unknown".to_string() } else { escape(&r.resolutions.join(", ")) };
    let _ = write!(
        h,
        "<header><h1>BCSS dataset report</h1><dl class=\"facts\">\
         <dt>dataset</dt><dd><code>{root}</code></dd>\
         <dt>layout</dt><dd>{layout}</dd>\
         <dt>resolution</dt><dd>{resolution}</dd>\
         <dt>ROIs</dt><dd id=\"roi-count\">{rois}</dd>\
         <dt>pixels</dt><dd>{pixels} ({px} px)</dd>\
         <dt>bytes</dt><dd>{bytes_mb} (images and masks)</dd>\
         <dt>class map</dt><dd>{map} ({k} classes)</dd>\
         <dt>split</dt><dd>{split}</dd>\
         <dt>verify</dt><dd>{verify}</dd>\
         <dt>bcss</dt><dd>{version}</dd></dl>",
        root = escape(&r.plan.root.display().to_string()),
        layout = layout_name(r.plan.layout),
        pixels = megapixels(pixels),
        px = pixels,
        bytes_mb = megabytes(bytes),
        map = escape(r.plan.map.name()),
        k = r.plan.map.num_classes(),
        split = escape(&r.plan.split.to_string()),
        version = env!("CARGO_PKG_VERSION"),
    );
    if !v.first.is_empty() {
        h.push_str("<details><summary>verify problems</summary><ul>");
        for p in &v.first {
            let _ = write!(h, "<li>{}</li>", escape(p));
        }
        h.push_str("</ul></details>");
    }
    let _ = write!(h, "<p class=\"cite\">Dataset: {}</p></header>", escape(CITATION));
}

fn svg_body(svg: &str) -> &str {
    // plotters writes an XML declaration before <svg>; inline SVG starts at the element.
    svg.find("<svg").map_or(svg, |i| &svg[i..])
}

fn distribution(h: &mut String, r: &Report) -> Result<(), ReportError> {
    h.push_str(
        "<section id=\"distribution\"><h2>Class distribution</h2>\
         <div class=\"buttons\" data-group=\"chart\" role=\"group\" aria-label=\"chart\">\
         <button type=\"button\" value=\"share\" aria-pressed=\"true\">share of labelled pixels</button>\
         <button type=\"button\" value=\"pixels\" aria-pressed=\"false\">pixels</button>\
         <button type=\"button\" value=\"log\" aria-pressed=\"false\">pixels, log scale</button></div>",
    );
    for (name, measure, log) in
        [("share", Measure::Share, false), ("pixels", Measure::Pixels, false), ("log", Measure::Pixels, true)]
    {
        let svg = chart(&r.stats, &r.plan.map, measure, log)
            .svg()
            .map_err(|source| ReportError::Chart { chart: name, source })?;
        let _ = write!(h, "<figure class=\"chart {name}\">{}</figure>", svg_body(&svg));
    }
    h.push_str(
        "<table class=\"parts\"><thead><tr><th>part</th><th>ROIs</th><th>pixels</th><th>labelled</th>\
         <th>don't care</th></tr></thead><tbody>",
    );
    for p in &r.stats.parts {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&p.part),
            p.rois,
            megapixels(p.pixels),
            megapixels(p.labelled),
            pct(p.dont_care_fraction)
        );
    }
    h.push_str("</tbody></table></section>");
    Ok(())
}

fn roi_table(h: &mut String, r: &Report) {
    h.push_str(
        "<section id=\"rois\"><h2>ROIs</h2><p class=\"hint\">Click a column's header to sort by it.</p>\
         <table class=\"sortable\" id=\"roi-table\"><thead><tr>\
         <th data-type=\"text\">ROI</th><th data-type=\"text\">slide</th><th data-type=\"text\">site</th>\
         <th data-type=\"text\">part</th><th data-type=\"num\">width</th><th data-type=\"num\">height</th>\
         <th data-type=\"num\">pixels</th><th data-type=\"num\">don't care</th><th data-type=\"text\">dominant classes</th>\
         </tr></thead><tbody>",
    );
    for e in &r.rois {
        let id = &e.input.files.roi_id;
        let slide = id.get(..12).unwrap_or(id);
        let site = crate::catalog::tissue_source_site(id).unwrap_or("");
        let dc = e.stats.dont_care_fraction();
        let _ = write!(
            h,
            "<tr><td data-v=\"{id}\"><a href=\"#g-{id}\">{id}</a></td><td data-v=\"{slide}\">{slide}</td>\
             <td data-v=\"{site}\">{site}</td><td data-v=\"{part}\">{part}</td><td data-v=\"{w}\">{w}</td>\
             <td data-v=\"{hh}\">{hh}</td><td data-v=\"{px}\">{mp}</td><td data-v=\"{dc}\">{dcp}</td><td data-v=\"{dom}\">{dom}</td></tr>",
            id = escape(id),
            slide = escape(slide),
            site = escape(site),
            part = e.input.part.as_str(),
            w = e.stats.width,
            hh = e.stats.height,
            px = e.stats.pixels(),
            mp = megapixels(e.stats.pixels()),
            dcp = pct(dc),
            dom = dominant(r, e),
        );
    }
    h.push_str("</tbody></table></section>");
}

fn img(h: &mut String, class: &str, mime: &str, bytes: &[u8], w: usize, hh: usize, alt: &str) {
    let _ = write!(
        h,
        "<img class=\"{class}\" width=\"{w}\" height=\"{hh}\" alt=\"{}\" src=\"{}\">",
        escape(alt),
        data_uri(mime, bytes)
    );
}

fn gallery(h: &mut String, r: &Report) {
    h.push_str(
        "<section id=\"gallery\"><h2>Gallery</h2>\
         <div class=\"buttons\" data-group=\"overlay\" role=\"group\" aria-label=\"mask overlay\">\
         <button type=\"button\" value=\"outline\" aria-pressed=\"false\">outline</button>\
         <button type=\"button\" value=\"fill\" aria-pressed=\"true\">fill</button>\
         <button type=\"button\" value=\"off\" aria-pressed=\"false\">off</button></div>",
    );
    legend(h, r);
    h.push_str("<div class=\"grid\">");
    for e in &r.rois {
        let f = &e.input.files;
        let t = &e.thumbs;
        let _ = write!(h, "<figure class=\"thumb\" id=\"g-{}\"><div class=\"frame\">", escape(&f.roi_id));
        match &t.views {
            Some([plain, fill, outline]) => {
                img(h, "view off", "image/jpeg", plain, t.width, t.height, &f.roi_id);
                img(h, "view fill", "image/jpeg", fill, t.width, t.height, &format!("{} with its mask", f.roi_id));
                img(
                    h,
                    "view outline",
                    "image/jpeg",
                    outline,
                    t.width,
                    t.height,
                    &format!("{} with its mask outlined", f.roi_id),
                );
            }
            None => img(h, "mask", "image/png", &t.truth, t.width, t.height, &format!("{} mask", f.roi_id)),
        }
        let full =
            r.plan.overlays.as_ref().map(|d| crate::command::input::overlay_file(d, &f.roi_id)).filter(|p| p.is_file());
        let (target, what) = match (&full, &f.image) {
            (Some(o), _) => (o.as_path(), "overlay"),
            (None, Some(i)) => (i.as_path(), "image"),
            (None, None) => (f.mask.as_path(), "mask"),
        };
        let link = relative_href(&r.plan.out, target)
            .map(|href| format!(" · <a href=\"{}\">full-size {what}</a>", escape(&href)))
            .unwrap_or_default();
        let _ = write!(
            h,
            "</div><figcaption><b>{}</b><br>{} · {}×{} · don't care {}{link}</figcaption></figure>",
            escape(&f.roi_id),
            e.input.part.as_str(),
            e.stats.width,
            e.stats.height,
            pct(e.stats.dont_care_fraction()),
        );
    }
    h.push_str("</div></section>");
}

fn legend(h: &mut String, r: &Report) {
    h.push_str("<ul class=\"legend\">");
    for c in r.plan.map.classes() {
        let [cr, cg, cb] = c.color;
        let _ = write!(
            h,
            "<li><span class=\"sw\" style=\"background:rgb({cr},{cg},{cb})\"></span>{}</li>",
            escape(&c.name)
        );
    }
    h.push_str("</ul>");
}

fn metric_cells(h: &mut String, m: &Metrics, c: usize) {
    let pc = &m.per_class[c];
    let _ = write!(h, "<td>{}</td><td>{}</td>", opt_pct(pc.dice), opt_pct(pc.iou));
}

fn scores(h: &mut String, r: &Report, parts: &[PartScores]) {
    h.push_str("<section id=\"scores\"><h2>Predictions</h2>");
    if let Some((dir, _)) = &r.plan.pred {
        let _ = write!(h, "<p>Predictions in <code>{}</code>, scored as <code>bcss eval</code> scores them (pooled over the part's pixels; don't care excluded).</p>", escape(&dir.display().to_string()));
    }
    h.push_str("<table class=\"scores\" id=\"class-scores\"><thead><tr><th rowspan=\"2\">class</th>");
    for p in parts {
        let _ = write!(h, "<th colspan=\"2\">{} ({} images)</th>", escape(&p.part), p.images);
    }
    h.push_str("</tr><tr>");
    for _ in parts {
        h.push_str("<th>Dice</th><th>IoU</th>");
    }
    h.push_str("</tr></thead><tbody>");
    for (c, class) in r.plan.map.classes().iter().enumerate() {
        let _ = write!(h, "<tr><td>{}</td>", escape(&class.name));
        for p in parts {
            metric_cells(h, &p.pooled, c);
        }
        h.push_str("</tr>");
    }
    h.push_str("<tr class=\"mean\"><td>mean</td>");
    for p in parts {
        let _ = write!(h, "<td>{}</td><td>{}</td>", opt_pct(p.pooled.mean_dice), opt_pct(p.pooled.mean_iou));
    }
    h.push_str("</tr><tr class=\"mean\"><td>pixel accuracy</td>");
    for p in parts {
        let _ = write!(h, "<td colspan=\"2\">{}</td>", opt_pct(p.pooled.pixel_accuracy));
    }
    h.push_str("</tr></tbody></table>");
    h.push_str(
        "<h3>Per ROI, worst first</h3><table class=\"sortable\" id=\"roi-scores\"><thead><tr>\
         <th data-type=\"text\">ROI</th><th data-type=\"text\">part</th><th data-type=\"num\">mean Dice</th>\
         <th data-type=\"num\">mean IoU</th><th data-type=\"num\">pixel accuracy</th><th>prediction | truth</th>\
         </tr></thead><tbody>",
    );
    let num = |v: Option<f64>| v.map_or_else(|| "-1".to_string(), |v| format!("{v:.6}"));
    for s in &r.roi_scores {
        let e = &r.rois[s.index];
        let t = &e.thumbs;
        let id = &e.input.files.roi_id;
        let _ = write!(
            h,
            "<tr><td data-v=\"{i}\"><a href=\"#g-{i}\">{i}</a></td><td data-v=\"{p}\">{p}</td><td data-v=\"{d}\">{dp}</td>\
             <td data-v=\"{u}\">{up}</td><td data-v=\"{a}\">{ap}</td><td class=\"pair\">",
            i = escape(id),
            p = e.input.part.as_str(),
            d = num(s.result.mean_dice),
            dp = opt_pct(s.result.mean_dice),
            u = num(s.result.mean_iou),
            up = opt_pct(s.result.mean_iou),
            a = num(s.result.pixel_accuracy),
            ap = opt_pct(s.result.pixel_accuracy),
        );
        img(h, "pred", "image/png", &s.picture, t.width, t.height, &format!("{id} prediction"));
        img(h, "truth", "image/png", &t.truth, t.width, t.height, &format!("{id} truth"));
        h.push_str("</td></tr>");
    }
    h.push_str("</tbody></table>");
    if !r.problems.is_empty() {
        let _ = write!(h, "<h3>Not scored ({})</h3><ul class=\"problems\">", r.problems.len());
        for p in &r.problems {
            let _ =
                write!(h, "<li><code>{}</code>: {}</li>", escape(&p.file.display().to_string()), escape(&p.message));
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
}

/// The page.
pub fn render(r: &Report) -> Result<String, ReportError> {
    let mut h = String::with_capacity(1 << 20);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>BCSS report: {}</title><style>{STYLE}</style></head>\
         <body data-overlay=\"fill\" data-chart=\"share\">",
        escape(&r.plan.root.display().to_string())
    );
    header(&mut h, r);
    h.push_str(
        "<nav><a href=\"#distribution\">distribution</a> <a href=\"#rois\">ROIs</a> <a href=\"#gallery\">gallery</a>",
    );
    if r.scores.is_some() {
        h.push_str(" <a href=\"#scores\">predictions</a>");
    }
    h.push_str("</nav><main>");
    distribution(&mut h, r)?;
    roi_table(&mut h, r);
    gallery(&mut h, r);
    if let Some(parts) = &r.scores {
        scores(&mut h, r, parts);
    }
    let data = serde_json::json!({
        "class_map": r.stats.class_map,
        "parts": r.stats.parts,
        "scores": r.scores,
        "rois": r.rois.iter().map(|e| serde_json::json!({
            "roi": e.input.files.roi_id,
            "part": e.input.part.as_str(),
            "pixels": e.stats.pixels(),
            "dont_care": e.stats.counts[0],
            "thumb": [e.thumbs.width, e.thumbs.height],
        })).collect::<Vec<_>>(),
    });
    let _ = writeln!(
        h,
        "</main><footer>Made by <code>bcss report</code> {}.</footer>\
         <script type=\"application/json\" id=\"bcss-data\">{}</script><script>{SCRIPT}</script></body></html>",
        env!("CARGO_PKG_VERSION"),
        script_json(&data)
    );
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::relative_href;
    use std::path::Path;

    #[test]
    fn hrefs_are_paths_never_schemes() {
        let page = Path::new("/data/BCSS/report.html");
        // Beside the page: `./`, so a colon in the name is never read as a scheme.
        let js = relative_href(page, Path::new("/data/BCSS/javascript:alert(1);_xmin1_ymin1_MPP-0.2500.png")).unwrap();
        assert_eq!(js, "./javascript:alert(1);_xmin1_ymin1_MPP-0.2500.png");
        assert_eq!(relative_href(page, Path::new("/data/BCSS/images/a b.png")).unwrap(), "./images/a%20b.png");
        assert_eq!(relative_href(page, Path::new("/data/other/x.png")).unwrap(), "../other/x.png");
        // `?` and `#` in a name stay part of the path.
        assert_eq!(relative_href(page, Path::new("/data/BCSS/a?b#c.png")).unwrap(), "./a%3Fb%23c.png");
    }
}
