//! Settings: flags, environment and TOML file merged into one validated value.
//!
//! Precedence is flags > environment (`BCSS_API_KEY`, `BCSS_API_URL`, `BCSS_FOLDER_ID`,
//! `BCSS_OUT`, `BCSS_PASSWORD`, `BCSS_GDC_URL`) > `--config` file > defaults, resolved in [`resolve_download`].
//! The file uses the flag names as keys (`api-url` or `api_url`) and unknown keys are refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use bcss::catalog::RoiTable;
use bcss::codec::png::Compression;
use bcss::command::download::{
    DownloadPlan, Encoding, GdcSettings, MaskSource, Parts, Source, DEFAULT_API_URL, DEFAULT_FOLDER_ID, DEFAULT_GDC_URL,
};
use bcss::source::girder::{Credentials, Secret};
use bcss::source::http::HttpConfig;
use bcss::transform::{Mode, Resolution};
use serde::Deserialize;

use crate::cli::DownloadArgs;

/// The `--config` file of `download` (and the commands that share its options).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    #[serde(alias = "api_url")]
    api_url: Option<String>,
    #[serde(alias = "api_key")]
    api_key: Option<String>,
    login: Option<String>,
    #[serde(alias = "folder_id")]
    folder_id: Option<String>,
    #[serde(alias = "roi_bounds")]
    roi_bounds: Option<PathBuf>,
    out: Option<PathBuf>,
    mpp: Option<f64>,
    mag: Option<f64>,
    base: Option<bool>,
    pipeline: Option<Vec<String>>,
    slides: Option<Vec<String>>,
    jobs: Option<usize>,
    compat: Option<bool>,
    encoding: Option<String>,
    retries: Option<u32>,
    timeout: Option<f64>,
    #[serde(alias = "ca_cert")]
    ca_cert: Option<PathBuf>,
    #[serde(alias = "png_compression")]
    png_compression: Option<String>,
    #[serde(alias = "no_icc")]
    no_icc: Option<bool>,
    #[serde(alias = "mask_source")]
    mask_source: Option<String>,
    source: Option<String>,
    #[serde(alias = "gdc_url")]
    gdc_url: Option<String>,
    #[serde(alias = "gdc_token_file")]
    gdc_token_file: Option<PathBuf>,
    #[serde(alias = "gdc_manifest")]
    gdc_manifest: Option<PathBuf>,
    #[serde(alias = "gdc_cache")]
    gdc_cache: Option<PathBuf>,
    #[serde(alias = "wait_lock")]
    wait_lock: Option<bool>,
}

/// Reads a TOML config file. An error never shows the value of a secret key (`api-key`, a
/// password, a token): TOML's messages quote the value they refuse (`invalid type: integer
/// `12345678``), so the value of every secret key of the file is hidden in them.
pub fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read config file `{}`", path.display()))?;
    toml::from_str(&text)
        .map_err(|e| {
            anyhow::anyhow!("config file `{}` is invalid: {}", path.display(), hide_secret_values(&text, e.message()))
        })
        .with_context(|| format!("in `{}`", path.display()))
}

/// True for a key whose value is a secret: `api-key` (any spelling), `key`, `token`,
/// `*-token`, `*-key`, and anything with `password`, `passwd` or `secret` in it.
fn is_secret_key(key: &str) -> bool {
    let k = key.trim().trim_matches(['"', '\'']).to_ascii_lowercase().replace('_', "-");
    ["password", "passwd", "secret"].iter().any(|w| k.contains(w))
        || matches!(k.as_str(), "apikey" | "key" | "token")
        || k.ends_with("-key")
        || k.ends_with("-token")
}

/// `message` with the value of every `secret-key = value` line of `text` replaced by
/// `[redacted]` (as written, and without its quotes).
fn hide_secret_values(text: &str, message: &str) -> String {
    let mut out = message.to_string();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        if !is_secret_key(key) {
            continue;
        }
        let raw = value.split(" #").next().unwrap_or(value).trim();
        for v in [raw, raw.trim_matches(['"', '\''])] {
            if !v.is_empty() {
                out = out.replace(v, "[redacted]");
            }
        }
    }
    out
}

/// Validates a resolution value.
pub fn check_resolution(mpp: Option<f64>, mag: Option<f64>, base: bool) -> anyhow::Result<Resolution> {
    let set = usize::from(mpp.is_some()) + usize::from(mag.is_some()) + usize::from(base);
    if set > 1 {
        bail!("choose one resolution: `--mpp`, `--mag` and `--base` are mutually exclusive");
    }
    if let Some(v) = mpp {
        if !v.is_finite() || v <= 0.0 || v > 100.0 {
            bail!("`--mpp {v}` is not a usable resolution: give microns per pixel above 0 and at most 100 (BCSS slides are about 0.25)");
        }
        return Ok(Resolution::Mpp(v));
    }
    if let Some(v) = mag {
        if !v.is_finite() || v <= 0.0 || v > 400.0 {
            bail!("`--mag {v}` is not a usable magnification: give a value above 0 and at most 400 (BCSS slides are 20x or 40x)");
        }
        return Ok(Resolution::Mag(v));
    }
    Ok(if base { Resolution::Base } else { Resolution::Mpp(0.25) })
}

/// Validates a pipeline list: the ROI parts, and whether whole slides (`wsis`) are wanted.
pub fn check_pipeline(items: &[String]) -> anyhow::Result<(Parts, bool)> {
    let mut parts = Parts { images: false, masks: false, annotations: false };
    let mut wsis = false;
    for item in items {
        match item.trim() {
            "images" => parts.images = true,
            "masks" => parts.masks = true,
            "annotations" => parts.annotations = true,
            "wsis" => wsis = true,
            other => bail!("unknown pipeline part `{other}`: use any of images, masks, annotations, wsis"),
        }
    }
    if !(parts.images || parts.masks || parts.annotations || wsis) {
        bail!("`--pipeline` is empty: use any of images, masks, annotations, wsis");
    }
    Ok((parts, wsis))
}

/// Reads the ROI table and applies `--slides`.
pub fn select_rois(roi_bounds: Option<&Path>, slides: Option<&[String]>) -> anyhow::Result<RoiTable> {
    let table = match roi_bounds {
        Some(p) => RoiTable::from_path(p)?,
        None => RoiTable::builtin(),
    };
    let Some(names) = slides else { return Ok(table) };
    let names: Vec<String> = names.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        bail!("`--slides` is empty");
    }
    let (selected, unknown) = table.select(&names);
    if !unknown.is_empty() {
        // Name what the table holds: with a custom --roi-bounds the built-in names are no help.
        let ids: Vec<&str> = table.rois().iter().map(|r| r.id.as_str()).collect();
        let shown: Vec<String> = ids.iter().take(5).map(|id| format!("`{id}`")).collect();
        let more = if ids.len() > 5 { format!(" and {} more", ids.len() - 5) } else { String::new() };
        let which = match roi_bounds {
            Some(p) => format!("`{}`", p.display()),
            None => "the built-in ROI table".to_string(),
        };
        bail!(
            "unknown slide{} {}: not in {which}, which holds {} ROI(s): {}{more} (give ROI ids or their first 12 characters)",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
            ids.len(),
            shown.join(", ")
        );
    }
    Ok(selected)
}

/// Validates `--jobs` (every command that has it: download, extract and the analysis commands).
pub fn check_jobs(jobs: usize) -> anyhow::Result<usize> {
    if jobs == 0 || jobs > 64 {
        bail!("`--jobs {jobs}` must be between 1 and 64");
    }
    Ok(jobs)
}

/// Validates `--png-compression`.
fn check_png(level: Option<&str>) -> anyhow::Result<Compression> {
    Ok(match level {
        None | Some("balanced") => Compression::Balanced,
        Some("fast") => Compression::Fast,
        Some("high") => Compression::High,
        Some(other) => bail!("unknown PNG compression `{other}`: use fast, balanced or high"),
    })
}

/// Validates `--retries` and `--timeout` into HTTP settings (`BCSS_RETRY_BASE_MS` sets the first
/// backoff delay, for tests).
fn http_config(retries: u32, timeout: f64, ca_cert: Option<PathBuf>, env: Env<'_>) -> anyhow::Result<HttpConfig> {
    if retries > 100 {
        bail!("`--retries {retries}` is too many (at most 100)");
    }
    if !timeout.is_finite() || timeout <= 0.0 || timeout > 86_400.0 {
        bail!("`--timeout {timeout}` must be a number of seconds above 0 and at most 86400 (one day)");
    }
    if let Some(p) = &ca_cert {
        if !p.is_file() {
            bail!("`--ca-cert {}` is not a readable file", p.display());
        }
    }
    let backoff_ms = env("BCSS_RETRY_BASE_MS").and_then(|v| v.parse().ok()).unwrap_or(500);
    Ok(HttpConfig {
        timeout: Duration::from_secs_f64(timeout),
        retries,
        backoff_base: Duration::from_millis(backoff_ms),
        ca_cert,
    })
}

/// Validates `--out` (default `./BCSS`, or `BCSS_OUT`): absent or a directory.
fn check_out(out: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let out = out.unwrap_or_else(|| PathBuf::from("BCSS"));
    if out.exists() && !out.is_dir() {
        bail!("`--out {}` exists and is not a directory", out.display());
    }
    Ok(out)
}

/// Validates the GDC URL (default: the public API) and reads the token file.
pub fn gdc_settings(url: Option<String>, token_file: Option<PathBuf>) -> anyhow::Result<(String, Option<Secret>)> {
    let url = url.unwrap_or_else(|| DEFAULT_GDC_URL.to_string());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("`--gdc-url {url}` is not an http(s) URL");
    }
    let token = match token_file {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read `--gdc-token-file {}`", path.display()))?;
            let token = text.trim();
            if token.is_empty() {
                bail!("`--gdc-token-file {}` is empty", path.display());
            }
            Some(Secret::new(token))
        }
        None => None,
    };
    Ok((url, token))
}

/// `--retries`, `--timeout` and `--ca-cert` of a command without a config file.
pub fn net_config(net: &crate::cli::NetArgs, env: Env<'_>) -> anyhow::Result<HttpConfig> {
    http_config(net.retries.unwrap_or(5), net.timeout.unwrap_or(120.0), net.ca_cert.clone(), env)
}

/// Where secrets and defaults come from besides flags; a function so tests can supply it.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The real environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Merges flags, environment and file into a validated download plan. `ask_password` is called
/// only for `--login` without `BCSS_PASSWORD`.
pub fn resolve_download(
    args: &DownloadArgs,
    env: Env<'_>,
    ask_password: &dyn Fn(&str) -> anyhow::Result<String>,
) -> anyhow::Result<DownloadPlan> {
    let file = match &args.config {
        Some(p) => read_file(p)?,
        None => FileConfig::default(),
    };
    let api_url = args
        .api_url
        .clone()
        .or_else(|| env("BCSS_API_URL"))
        .or(file.api_url)
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
        bail!("`--api-url {api_url}` is not an http(s) URL");
    }
    let folder_flag = args.folder_id.clone().or_else(|| env("BCSS_FOLDER_ID")).or(file.folder_id);
    // The built-in slide table holds the public DSA's item ids: it stands in for the public
    // folder's listing only. Another server's ids differ, so there a listing that fails is the
    // error (a 401 means a key is needed), not 151 "Invalid item id" failures after it.
    let fallback_to_builtin =
        folder_flag.is_none() && api_url.trim_end_matches('/') == DEFAULT_API_URL.trim_end_matches('/');
    let folder_id = Some(folder_flag.unwrap_or_else(|| DEFAULT_FOLDER_ID.to_string()));

    // Each credential ranked by where it came from (flag 3 > environment 2 > file 1): the higher
    // one wins, and a key and a login from the same level are an error.
    let key = args
        .api_key
        .clone()
        .map(|k| (3, k))
        .or_else(|| env("BCSS_API_KEY").map(|k| (2, k)))
        .or(file.api_key.map(|k| (1, k)));
    let login = args.login.clone().map(|u| (3, u)).or(file.login.map(|u| (1, u)));
    let use_login = |user: String| -> anyhow::Result<Credentials> {
        let password = match env("BCSS_PASSWORD") {
            Some(p) => p,
            None => ask_password(&user)?,
        };
        Ok(Credentials::Login { user, password: Secret::new(password) })
    };
    let credentials = match (key, login) {
        (Some((kr, _)), Some((lr, _))) if kr == lr => {
            bail!(
                "give either an API key or a login, not both ({})",
                if kr == 3 { "both flags were given" } else { "the config file has both" }
            )
        }
        (Some((kr, key)), Some((lr, _))) if kr > lr => Credentials::ApiKey(Secret::new(key.trim())),
        (_, Some((_, user))) => use_login(user)?,
        (Some((_, key)), None) => Credentials::ApiKey(Secret::new(key.trim())),
        (None, None) => Credentials::Anonymous,
    };

    let flag_resolution = args.build.mpp.is_some() || args.build.mag.is_some() || args.build.base;
    let resolution = if flag_resolution {
        check_resolution(args.build.mpp, args.build.mag, args.build.base)?
    } else {
        check_resolution(file.mpp, file.mag, file.base.unwrap_or(false))?
    };
    let pipeline =
        args.build.pipeline.clone().or(file.pipeline).unwrap_or_else(|| vec!["images".into(), "masks".into()]);
    let (parts, wsis) = check_pipeline(&pipeline)?;
    let roi_bounds = args.build.roi_bounds.clone().or(file.roi_bounds);
    let slides = args.build.slides.clone().or(file.slides);
    let rois = select_rois(roi_bounds.as_deref(), slides.as_deref())?;
    let jobs = check_jobs(args.jobs.or(file.jobs).unwrap_or(4))?;
    let encoding = match args.encoding.clone().or(file.encoding).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("jpeg") | Some("jpg") => Encoding::Jpeg,
        Some("png") => Encoding::Png,
        Some(other) => bail!("unknown encoding `{other}`: use jpeg or png"),
    };
    let http = http_config(
        args.net.retries.or(file.retries).unwrap_or(5),
        args.net.timeout.or(file.timeout).unwrap_or(120.0),
        args.net.ca_cert.clone().or(file.ca_cert),
        env,
    )?;
    let png = check_png(args.build.png_compression.clone().or(file.png_compression).as_deref())?;
    let mask_source = match args.mask_source.clone().or(file.mask_source).as_deref().map(str::trim) {
        None | Some("links") => MaskSource::Links,
        Some("annotations") => MaskSource::Annotations,
        Some(other) => bail!("unknown mask source `{other}`: use links or annotations"),
    };
    let out = check_out(args.build.out.clone().or_else(|| env("BCSS_OUT").map(PathBuf::from)).or(file.out))?;
    let source = match args.source.clone().or(file.source).as_deref().map(str::trim) {
        None | Some("dsa") => Source::Dsa,
        Some("gdc") => Source::Gdc,
        Some(other) => bail!("unknown source `{other}`: use dsa or gdc"),
    };
    let compat = args.compat || file.compat.unwrap_or(false);
    if source == Source::Gdc {
        if parts.annotations || mask_source == MaskSource::Annotations {
            bail!("annotations come from a DSA only: with `--source gdc` use `--mask-source links` and leave `annotations` out of `--pipeline`");
        }
        if compat {
            bail!("`--compat` reproduces the original's DSA requests; it has no meaning with `--source gdc`");
        }
    }
    let (gdc_url, gdc_token) = gdc_settings(
        args.gdc.gdc_url.clone().or_else(|| env("BCSS_GDC_URL")).or(file.gdc_url),
        args.gdc.gdc_token_file.clone().or(file.gdc_token_file),
    )?;
    let gdc_manifest = args.gdc.gdc_manifest.clone().or(file.gdc_manifest);
    if let Some(p) = &gdc_manifest {
        if !p.is_file() {
            bail!("`--gdc-manifest {}` is not a readable file", p.display());
        }
    }
    Ok(DownloadPlan {
        api_url,
        credentials,
        folder_id,
        fallback_to_builtin,
        rois,
        out,
        resolution,
        mode: if compat { Mode::Compat } else { Mode::Exact },
        parts,
        encoding,
        jobs,
        http,
        png,
        icc: !(args.no_icc || file.no_icc.unwrap_or(false)),
        mask_source,
        source,
        wsis,
        gdc: GdcSettings {
            url: gdc_url,
            token: gdc_token,
            manifest: gdc_manifest,
            cache: args.gdc.gdc_cache.clone().or(file.gdc_cache),
        },
        wait_lock: args.build.wait_lock || file.wait_lock.unwrap_or(false),
    })
}

/// Validates `bcss extract` flags into an extraction plan (no config file: every option is a flag).
#[cfg(feature = "openslide")]
pub fn resolve_extract(
    args: &crate::cli::ExtractArgs,
    env: Env<'_>,
) -> anyhow::Result<bcss::command::extract::ExtractPlan> {
    use bcss::command::extract::{ExtractPlan, MaskSource};
    if !args.slides_dir.is_dir() {
        bail!("`--slides-dir {}` is not a directory", args.slides_dir.display());
    }
    let resolution = check_resolution(args.build.mpp, args.build.mag, args.build.base)?;
    let pipeline = args.build.pipeline.clone().unwrap_or_else(|| vec!["images".into(), "masks".into()]);
    if pipeline.iter().any(|p| p.trim() == "annotations") {
        bail!("`bcss extract` writes images and masks only; annotation files come from a DSA (`bcss download --pipeline annotations`)");
    }
    if pipeline.iter().any(|p| p.trim() == "wsis") {
        bail!("`bcss extract` reads whole slides you hold; to download them use `bcss download --pipeline wsis`");
    }
    let (parts, _) = check_pipeline(&pipeline)?;
    let rois = select_rois(args.build.roi_bounds.as_deref(), args.build.slides.as_deref())?;
    let jobs = check_jobs(args.jobs.unwrap_or(2))?;
    let dir_ok = |flag: &str, p: &Path| -> anyhow::Result<()> {
        if !p.is_dir() {
            bail!("`{flag} {}` is not a directory", p.display());
        }
        Ok(())
    };
    let mask_source = match (args.mask_source.as_deref(), &args.masks_dir, &args.annotations_dir) {
        (Some("links"), None, None) | (None, None, None) => MaskSource::Links,
        (Some("dir") | None, Some(d), None) => {
            dir_ok("--masks-dir", d)?;
            MaskSource::Dir(d.clone())
        }
        (Some("annotations") | None, None, Some(d)) => {
            dir_ok("--annotations-dir", d)?;
            MaskSource::Annotations(d.clone())
        }
        (Some("dir"), None, _) => bail!("`--mask-source dir` needs `--masks-dir DIR`"),
        (Some("annotations"), _, None) => bail!("`--mask-source annotations` needs `--annotations-dir DIR`"),
        (Some(other), _, _) if !["links", "dir", "annotations"].contains(&other) => bail!("unknown mask source `{other}`: use links, dir or annotations"),
        _ => bail!("`--masks-dir` and `--annotations-dir` belong to `--mask-source dir` and `annotations`; give the one that matches"),
    };
    if parts.masks && mask_source == MaskSource::Links && rois.rois().iter().all(|r| r.mask_link.is_none()) {
        bail!("the ROI table has no mask links; give `--masks-dir` or `--annotations-dir`, or `--pipeline images`");
    }
    let http =
        http_config(args.net.retries.unwrap_or(5), args.net.timeout.unwrap_or(120.0), args.net.ca_cert.clone(), env)?;
    let png = check_png(args.build.png_compression.as_deref())?;
    let out = check_out(args.build.out.clone().or_else(|| env("BCSS_OUT").map(PathBuf::from)))?;
    Ok(ExtractPlan {
        slides_dir: args.slides_dir.clone(),
        rois,
        out,
        resolution,
        parts,
        mask_source,
        jobs,
        http,
        png,
        wait_lock: args.build.wait_lock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::BuildArgs;

    fn no_env(_: &str) -> Option<String> {
        None
    }
    fn no_password(_: &str) -> anyhow::Result<String> {
        bail!("no terminal")
    }

    #[test]
    fn defaults() {
        let plan = resolve_download(&DownloadArgs::default(), &no_env, &no_password).unwrap();
        assert_eq!(plan.api_url, DEFAULT_API_URL);
        assert_eq!(plan.folder_id.as_deref(), Some(DEFAULT_FOLDER_ID));
        assert!(plan.fallback_to_builtin);
        assert_eq!(plan.resolution, Resolution::Mpp(0.25));
        assert_eq!(plan.parts, Parts { images: true, masks: true, annotations: false });
        assert_eq!(plan.rois.rois().len(), 151);
        assert_eq!(plan.jobs, 4);
        assert_eq!(plan.out, PathBuf::from("BCSS"));
        assert!(matches!(plan.credentials, Credentials::Anonymous));
        assert_eq!(plan.mask_source, MaskSource::Links);
    }

    #[test]
    fn mask_source_from_flag_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bcss.toml");
        std::fs::write(&cfg, "mask-source = \"annotations\"\n").unwrap();
        let args = DownloadArgs { config: Some(cfg.clone()), ..Default::default() };
        assert_eq!(resolve_download(&args, &no_env, &no_password).unwrap().mask_source, MaskSource::Annotations);
        let args = DownloadArgs { config: Some(cfg), mask_source: Some("links".into()), ..Default::default() };
        assert_eq!(resolve_download(&args, &no_env, &no_password).unwrap().mask_source, MaskSource::Links);
        let args = DownloadArgs { mask_source: Some("figshare".into()), ..Default::default() };
        let err = format!("{:#}", resolve_download(&args, &no_env, &no_password).unwrap_err());
        assert!(err.contains("unknown mask source `figshare`"), "{err}");
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bcss.toml");
        std::fs::write(
            &cfg,
            "api-url = \"http://file/api/v1\"\napi_key = \"FILEKEY\"\nmag = 20\njobs = 2\nout = \"from-file\"\n",
        )
        .unwrap();
        let env = |k: &str| (k == "BCSS_API_URL").then(|| "http://env/api/v1".to_string());
        let args = DownloadArgs { config: Some(cfg.clone()), jobs: Some(3), ..Default::default() };
        let plan = resolve_download(&args, &env, &no_password).unwrap();
        assert_eq!(plan.api_url, "http://env/api/v1");
        assert_eq!(plan.jobs, 3);
        assert_eq!(plan.resolution, Resolution::Mag(20.0));
        assert_eq!(plan.out, PathBuf::from("from-file"));
        assert!(matches!(&plan.credentials, Credentials::ApiKey(k) if k.expose() == "FILEKEY"));
        let args = DownloadArgs {
            config: Some(cfg),
            api_url: Some("http://flag/api/v1".into()),
            build: BuildArgs { mpp: Some(0.5), ..Default::default() },
            ..Default::default()
        };
        let plan = resolve_download(&args, &env, &no_password).unwrap();
        assert_eq!(plan.api_url, "http://flag/api/v1");
        assert_eq!(plan.resolution, Resolution::Mpp(0.5), "a resolution flag replaces the file's");
    }

    #[test]
    fn a_flag_or_env_key_beats_a_login_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bcss.toml");
        std::fs::write(&cfg, "login = \"alice\"\n").unwrap();
        let args = DownloadArgs { config: Some(cfg.clone()), api_key: Some("FLAGKEY".into()), ..Default::default() };
        let plan = resolve_download(&args, &no_env, &no_password).unwrap();
        assert!(matches!(&plan.credentials, Credentials::ApiKey(k) if k.expose() == "FLAGKEY"));
        let env = |k: &str| (k == "BCSS_API_KEY").then(|| "ENVKEY".to_string());
        let args = DownloadArgs { config: Some(cfg.clone()), ..Default::default() };
        let plan = resolve_download(&args, &env, &no_password).unwrap();
        assert!(matches!(&plan.credentials, Credentials::ApiKey(k) if k.expose() == "ENVKEY"));
        // A --login flag beats a key from the environment.
        let env = |k: &str| match k {
            "BCSS_API_KEY" => Some("ENVKEY".to_string()),
            "BCSS_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let args = DownloadArgs { login: Some("bob".into()), ..Default::default() };
        let plan = resolve_download(&args, &env, &no_password).unwrap();
        assert!(matches!(&plan.credentials, Credentials::Login { user, .. } if user == "bob"));
        std::fs::write(&cfg, "login = \"alice\"\napi-key = \"K\"\n").unwrap();
        let args = DownloadArgs { config: Some(cfg), ..Default::default() };
        let err = resolve_download(&args, &no_env, &no_password).unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
    }

    #[test]
    fn config_errors_never_show_a_secret_value() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        for (line, secret) in [
            ("api-key = 12345678\n", "12345678"),
            ("api_key = [\"s3cr3t-k3y\"]\n", "s3cr3t-k3y"),
            ("api-key = 'abc' 'def'\n", "abc"),
        ] {
            std::fs::write(&cfg, line).unwrap();
            let err = format!("{:#}", read_file(&cfg).unwrap_err());
            assert!(!err.contains(secret), "{err}");
            assert!(err.contains("is invalid"), "{err}");
        }
        // Other values are still quoted: they help and hide nothing.
        std::fs::write(&cfg, "jobs = \"many\"\n").unwrap();
        let err = format!("{:#}", read_file(&cfg).unwrap_err());
        assert!(err.contains("many"), "{err}");
        assert!(is_secret_key("password") && is_secret_key("gdc-token") && !is_secret_key("gdc-token-file"));
    }

    #[test]
    fn a_timeout_above_a_day_names_the_limit() {
        let env = |_: &str| None;
        let err = http_config(5, 100_000.0, None, &env).unwrap_err().to_string();
        assert!(err.contains("at most 86400"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        let cases: Vec<(DownloadArgs, &str)> = vec![
            (
                DownloadArgs { build: BuildArgs { mpp: Some(0.0), ..Default::default() }, ..Default::default() },
                "`--mpp 0` is not a usable resolution",
            ),
            (
                DownloadArgs { build: BuildArgs { mpp: Some(-1.0), ..Default::default() }, ..Default::default() },
                "`--mpp -1`",
            ),
            (
                DownloadArgs { build: BuildArgs { mpp: Some(f64::NAN), ..Default::default() }, ..Default::default() },
                "`--mpp NaN`",
            ),
            (
                DownloadArgs { build: BuildArgs { mpp: Some(1000.0), ..Default::default() }, ..Default::default() },
                "`--mpp 1000`",
            ),
            (
                DownloadArgs {
                    build: BuildArgs { slides: Some(vec!["TCGA-ZZ-0000".into()]), ..Default::default() },
                    ..Default::default()
                },
                "unknown slide `TCGA-ZZ-0000`",
            ),
            (
                DownloadArgs {
                    build: BuildArgs { pipeline: Some(vec!["pictures".into()]), ..Default::default() },
                    ..Default::default()
                },
                "unknown pipeline part `pictures`",
            ),
            (DownloadArgs { encoding: Some("gif".into()), ..Default::default() }, "unknown encoding `gif`"),
            (DownloadArgs { jobs: Some(0), ..Default::default() }, "`--jobs 0`"),
        ];
        for (args, want) in cases {
            let err = format!("{:#}", resolve_download(&args, &no_env, &no_password).unwrap_err());
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }

    #[test]
    fn file_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bcss.toml");
        std::fs::write(&cfg, "colour = \"blue\"\n").unwrap();
        let args = DownloadArgs { config: Some(cfg.clone()), ..Default::default() };
        let err = format!("{:#}", resolve_download(&args, &no_env, &no_password).unwrap_err());
        assert!(err.contains("unknown field `colour`"), "{err}");
        std::fs::write(&cfg, "mpp = = 1\n").unwrap();
        let err = format!("{:#}", resolve_download(&args, &no_env, &no_password).unwrap_err());
        assert!(err.contains("is invalid"), "{err}");
        std::fs::write(&cfg, "mpp = 0.5\nmag = 20\n").unwrap();
        let err = format!("{:#}", resolve_download(&args, &no_env, &no_password).unwrap_err());
        assert!(err.contains("mutually exclusive"), "{err}");
    }
}
