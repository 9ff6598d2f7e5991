//! Settings: flags, environment and TOML file merged into one validated value.
//!
//! Precedence is flags > environment (`BCSS_API_KEY`, `BCSS_API_URL`, `BCSS_FOLDER_ID`,
//! `BCSS_OUT`, `BCSS_PASSWORD`, `BCSS_GDC_URL`) > `--config` file > defaults, resolved in
//! [`resolve_download`] and [`resolve_extract`]. The file uses the flag names as keys (`api-url`
//! or `api_url`) and unknown keys are refused; `download` and `extract` read the same file, each
//! the keys it has (the server keys are `download`'s, `slides-dir`, `masks-dir` and
//! `annotations-dir` are `extract`'s).
//!
//! Every setting is validated by one function, whatever it came from, and its errors show the
//! value as the user gave it ([`Sourced::shown`]): `--mpp 0`, `BCSS_OUT=x (environment)` or
//! `mpp = 0 in bcss.toml`. Enumerated settings (PNG compression, encoding, source, mask source)
//! are the library's own enums, parsed by clap from flags and by serde from the file, so a bad
//! value is refused by the parser that read it, naming the flag or the file, line and key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use bcss::catalog::RoiTable;
use bcss::codec::png::Compression;
use bcss::command::download::{
    DownloadPlan, Encoding, GdcSettings, MaskSource, Parts, PipelinePart, Source, DEFAULT_API_URL, DEFAULT_FOLDER_ID,
    DEFAULT_GDC_URL,
};
use bcss::source::http::{HttpConfig, Secret};
use bcss::source::Credentials;
use bcss::transform::{Mode, Resolution};
use serde::Deserialize;

use crate::cli::DownloadArgs;

/// The `--config` file of `download` and `extract`.
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
    pipeline: Option<Vec<PipelinePart>>,
    slides: Option<Vec<String>>,
    jobs: Option<usize>,
    compat: Option<bool>,
    encoding: Option<Encoding>,
    retries: Option<u32>,
    timeout: Option<f64>,
    #[serde(alias = "ca_cert")]
    ca_cert: Option<PathBuf>,
    #[serde(alias = "png_compression")]
    png_compression: Option<Compression>,
    #[serde(alias = "no_icc")]
    no_icc: Option<bool>,
    #[serde(alias = "mask_source")]
    mask_source: Option<MaskSource>,
    source: Option<Source>,
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
    #[serde(alias = "slides_dir")]
    slides_dir: Option<PathBuf>,
    #[serde(alias = "masks_dir")]
    masks_dir: Option<PathBuf>,
    #[serde(alias = "annotations_dir")]
    annotations_dir: Option<PathBuf>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// A flag on the command line.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// A key of the `--config` file.
    File(&'a Path),
}

/// A setting's value, its key (the long flag's name) and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<'a, T> {
    /// The value.
    pub value: T,
    /// The long flag's name, which is also the file's key.
    pub key: &'static str,
    /// Where it came from.
    pub origin: Origin<'a>,
}

/// How a value is written on a command line and in TOML.
pub trait Literal {
    /// As after a flag: `0.5`, `BCSS`, `images,masks`.
    fn as_flag(&self) -> String;
    /// As a TOML value: `0.5`, `"BCSS"`, `["images", "masks"]`.
    fn as_toml(&self) -> String {
        self.as_flag()
    }
}

macro_rules! plain_literal {
    ($($t:ty),*) => {$(impl Literal for $t {
        fn as_flag(&self) -> String {
            self.to_string()
        }
    })*};
}
plain_literal!(f64, usize, u32, bool);

impl Literal for String {
    fn as_flag(&self) -> String {
        self.clone()
    }
    fn as_toml(&self) -> String {
        format!("{self:?}")
    }
}

impl Literal for PathBuf {
    fn as_flag(&self) -> String {
        self.display().to_string()
    }
    fn as_toml(&self) -> String {
        format!("{:?}", self.display().to_string())
    }
}

impl Literal for Vec<String> {
    fn as_flag(&self) -> String {
        self.join(",")
    }
    fn as_toml(&self) -> String {
        format!("[{}]", self.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))
    }
}

impl Literal for Vec<PipelinePart> {
    fn as_flag(&self) -> String {
        self.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
    }
    fn as_toml(&self) -> String {
        format!("[{}]", self.iter().map(|p| format!("{:?}", p.as_str())).collect::<Vec<_>>().join(", "))
    }
}

impl<'a, T: Literal> Sourced<'a, T> {
    /// A value given as the flag `--key`.
    pub fn flag(key: &'static str, value: T) -> Self {
        Sourced { value, key, origin: Origin::Flag }
    }

    /// The setting as the user gave it: `` `--mpp 0` ``, `` `BCSS_OUT=x` (environment) `` or
    /// `` `mpp = 0` in `bcss.toml` ``. A flag that takes no value (`--base`) is shown alone.
    pub fn shown(&self) -> String {
        match self.origin {
            Origin::Flag if self.value.as_flag() == "true" => format!("`--{}`", self.key),
            Origin::Flag => format!("`--{} {}`", self.key, self.value.as_flag()),
            Origin::Env(var) => format!("`{var}={}` (environment)", self.value.as_flag()),
            Origin::File(path) => format!("`{} = {}` in `{}`", self.key, self.value.as_toml(), path.display()),
        }
    }
}

/// The flag's value, else the environment's, else the file's: the first given, with where it
/// came from. `env` is the variable's name and value.
pub fn pick<'a, T>(
    key: &'static str,
    flag: Option<T>,
    env: Option<(&'static str, Option<T>)>,
    file: (Option<T>, Option<&'a Path>),
) -> Option<Sourced<'a, T>> {
    if let Some(value) = flag {
        return Some(Sourced { value, key, origin: Origin::Flag });
    }
    if let Some((var, Some(value))) = env {
        return Some(Sourced { value, key, origin: Origin::Env(var) });
    }
    match file {
        (Some(value), Some(path)) => Some(Sourced { value, key, origin: Origin::File(path) }),
        _ => None,
    }
}

/// A switch flag as [`pick`] takes it: given (`Some(true)`) or left out (`None`, so the file's
/// value counts).
fn flag(on: bool) -> Option<bool> {
    on.then_some(true)
}

/// A switch's value after [`pick`]: off when no source gave it.
fn switch(v: Option<Sourced<'_, bool>>) -> bool {
    v.is_some_and(|s| s.value)
}

/// A setting's value after [`pick`], its origin no longer needed.
fn value<T>(v: Option<Sourced<'_, T>>) -> Option<T> {
    v.map(|s| s.value)
}

/// The largest `--config` file read (README, "Bounds").
pub const CONFIG_FILE_LIMIT: u64 = 1 << 20;
/// The largest `--gdc-token-file` read (a GDC token is about 1 KB).
pub const TOKEN_FILE_LIMIT: u64 = 64 << 10;

/// Reads a TOML config file. An error never shows the value of a secret key (`api-key`, a
/// password, a token): TOML's messages quote the value they refuse (`invalid type: integer
/// `12345678``), so the value of every secret key of the file is hidden in them.
pub fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    // Checked before parsing: the TOML parser holds several times a file's size (a 100 MB file
    // once took 7.5 GB), and a settings file of over 1 MiB is not a settings file.
    let text = bcss::files::read_to_string(path, CONFIG_FILE_LIMIT)
        .with_context(|| format!("cannot read config file `{}`", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|span| text[..span.start].matches('\n').count() + 1);
        anyhow::anyhow!(
            "config file `{}` is invalid{}: {}",
            path.display(),
            at.map(|line| format!(" at line {line}")).unwrap_or_default(),
            hide_secret_values(&text, e.message())
        )
    })
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

/// Validates the resolution: at most one of `mpp`, `mag`, `base`, in range. [default: 0.25 um/px]
pub fn check_resolution(
    mpp: Option<Sourced<f64>>,
    mag: Option<Sourced<f64>>,
    base: Option<Sourced<bool>>,
) -> anyhow::Result<Resolution> {
    let base = base.filter(|b| b.value);
    let given: Vec<String> =
        [mpp.as_ref().map(Sourced::shown), mag.as_ref().map(Sourced::shown), base.as_ref().map(Sourced::shown)]
            .into_iter()
            .flatten()
            .collect();
    if given.len() > 1 {
        bail!("choose one resolution: {} are mutually exclusive", given.join(" and "));
    }
    if let Some(v) = mpp {
        return Ok(Resolution::Mpp(check_mpp(&v)?));
    }
    if let Some(v) = mag {
        return Ok(Resolution::Mag(check_mag(&v)?));
    }
    Ok(if base.is_some() { Resolution::Base } else { Resolution::Mpp(0.25) })
}

/// Microns per pixel, from 0.01 to 100: the one rule for every `--mpp` (and `masks
/// --native-mpp`). The lower bound keeps to numbers that mean something: no scanner goes below
/// 0.1 um per pixel, and `mpp = 5e-324` (subnormal) once underflowed to 0 mm per pixel, which
/// asked for base-resolution pixels and named them `MPP-0.0000` (issue 22).
pub fn check_mpp(v: &Sourced<f64>) -> anyhow::Result<f64> {
    if !v.value.is_finite() || v.value < 0.01 || v.value > 100.0 {
        bail!(
            "{} is not a usable resolution: give microns per pixel from 0.01 to 100 (BCSS slides are about 0.25)",
            v.shown()
        );
    }
    Ok(v.value)
}

/// An objective magnification, from 0.01 to 400: the one rule for every `--mag` (and `masks
/// --native-mag`).
pub fn check_mag(v: &Sourced<f64>) -> anyhow::Result<f64> {
    if !v.value.is_finite() || v.value < 0.01 || v.value > 400.0 {
        bail!(
            "{} is not a usable magnification: give a value from 0.01 to 400 (BCSS slides are 20x or 40x)",
            v.shown()
        );
    }
    Ok(v.value)
}

/// Validates a pipeline list (its words are checked by the parser that read it: clap for the
/// flag, serde for the file): the ROI parts, and whether whole slides (`wsis`) are wanted.
pub fn check_pipeline(items: &Sourced<Vec<PipelinePart>>) -> anyhow::Result<(Parts, bool)> {
    if items.value.is_empty() {
        bail!("{} is empty: use any of images, masks, annotations, wsis", items.shown());
    }
    Ok(Parts::from_pipeline(&items.value))
}

/// `--slides` as given on the command line.
pub fn slides_flag(slides: &Option<Vec<String>>) -> Option<Sourced<'static, Vec<String>>> {
    slides.clone().map(|v| Sourced::flag("slides", v))
}

/// Reads the ROI table and applies `--slides`.
pub fn select_rois(roi_bounds: Option<&Path>, slides: Option<&Sourced<Vec<String>>>) -> anyhow::Result<RoiTable> {
    let table = match roi_bounds {
        Some(p) => RoiTable::from_path(p)?,
        None => RoiTable::builtin(),
    };
    let Some(given) = slides else { return Ok(table) };
    let names: Vec<String> = given.value.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        bail!("{} is empty", given.shown());
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
        let from = match given.origin {
            Origin::Flag => String::new(),
            _ => format!(" (from {})", given.shown()),
        };
        bail!(
            "unknown slide{} {}{from}: not in {which}, which holds {} ROI(s): {}{more} (give ROI ids or their first 12 characters)",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
            ids.len(),
            shown.join(", ")
        );
    }
    Ok(selected)
}

/// Validates `--jobs` (every command that has it: download, extract and the analysis commands).
pub fn check_jobs(jobs: &Sourced<usize>) -> anyhow::Result<usize> {
    if jobs.value == 0 || jobs.value > 64 {
        bail!("{} must be between 1 and 64", jobs.shown());
    }
    Ok(jobs.value)
}

/// Validates `--retries` and `--timeout` into HTTP settings (`BCSS_RETRY_BASE_MS` sets the first
/// backoff delay, for tests).
fn http_config(
    retries: Option<Sourced<u32>>,
    timeout: Option<Sourced<f64>>,
    ca_cert: Option<Sourced<PathBuf>>,
    env: Env<'_>,
) -> anyhow::Result<HttpConfig> {
    if let Some(r) = retries.as_ref().filter(|r| r.value > 100) {
        bail!("{} is too many (at most 100)", r.shown());
    }
    if let Some(t) = timeout.as_ref().filter(|t| !t.value.is_finite() || t.value <= 0.0 || t.value > 86_400.0) {
        bail!("{} must be a number of seconds above 0 and at most 86400 (one day)", t.shown());
    }
    if let Some(p) = ca_cert.as_ref().filter(|p| !p.value.is_file()) {
        bail!("{} is not a readable file", p.shown());
    }
    let backoff_ms = match env("BCSS_RETRY_BASE_MS") {
        None => 500,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(ms) if ms <= 60_000 => ms,
            _ => bail!("`BCSS_RETRY_BASE_MS={v}` (environment) must be whole milliseconds from 0 to 60000"),
        },
    };
    Ok(HttpConfig::default()
        .timeout(Duration::from_secs_f64(timeout.map_or(120.0, |t| t.value)))
        .retries(retries.map_or(5, |r| r.value))
        .backoff_base(Duration::from_millis(backoff_ms))
        .ca_cert(ca_cert.map(|p| p.value)))
}

/// Validates `--out` (default `./BCSS`): absent or a directory.
fn check_out(out: Option<Sourced<PathBuf>>) -> anyhow::Result<PathBuf> {
    let Some(out) = out else { return Ok(PathBuf::from("BCSS")) };
    if out.value.exists() && !out.value.is_dir() {
        bail!("{} exists and is not a directory", out.shown());
    }
    Ok(out.value)
}

/// Validates an http(s) URL setting.
fn check_url(url: &Sourced<String>) -> anyhow::Result<()> {
    if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
        bail!("{} is not an http(s) URL", url.shown());
    }
    Ok(())
}

/// Validates a setting naming a file that must exist.
fn check_file(path: &Sourced<PathBuf>) -> anyhow::Result<()> {
    if !path.value.is_file() {
        bail!("{} is not a readable file", path.shown());
    }
    Ok(())
}

/// Validates a setting naming a directory that must exist.
fn check_dir(path: &Sourced<PathBuf>) -> anyhow::Result<()> {
    if !path.value.is_dir() {
        bail!("{} is not a directory", path.shown());
    }
    Ok(())
}

/// Validates the GDC URL (default: the public API) and reads the token file.
pub fn gdc_settings(
    url: Option<Sourced<String>>,
    token_file: Option<Sourced<PathBuf>>,
) -> anyhow::Result<(String, Option<Secret>)> {
    let url = match url {
        Some(u) => {
            check_url(&u)?;
            u.value
        }
        None => DEFAULT_GDC_URL.to_string(),
    };
    let token = match token_file {
        Some(path) => {
            let text = bcss::files::read_to_string(&path.value, TOKEN_FILE_LIMIT)
                .with_context(|| format!("cannot read {}", path.shown()))?;
            let token = text.trim();
            if token.is_empty() {
                bail!("{} is empty", path.shown());
            }
            Some(Secret::new(token))
        }
        None => None,
    };
    Ok((url, token))
}

/// `--retries`, `--timeout` and `--ca-cert` of a command without a config file.
pub fn net_config(net: &crate::cli::NetArgs, env: Env<'_>) -> anyhow::Result<HttpConfig> {
    http_config(
        net.retries.map(|v| Sourced::flag("retries", v)),
        net.timeout.map(|v| Sourced::flag("timeout", v)),
        net.ca_cert.clone().map(|v| Sourced::flag("ca-cert", v)),
        env,
    )
}

/// Where secrets and defaults come from besides flags; a function so tests can supply it.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The real environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The `--config` file, read, and its path (for [`Origin::File`]).
fn config_file(path: Option<&PathBuf>) -> anyhow::Result<(FileConfig, Option<&Path>)> {
    match path {
        Some(p) => Ok((read_file(p)?, Some(p.as_path()))),
        None => Ok((FileConfig::default(), None)),
    }
}

/// The settings `download` and `extract` share, from flags, environment and file.
struct Shared {
    rois: RoiTable,
    out: PathBuf,
    resolution: Resolution,
    parts: Parts,
    wsis: bool,
    jobs: usize,
    http: HttpConfig,
    png: Compression,
    wait_lock: bool,
}

fn resolve_shared(
    build: &crate::cli::BuildArgs,
    jobs: Option<usize>,
    default_jobs: usize,
    net: &crate::cli::NetArgs,
    file: &mut FileConfig,
    path: Option<&Path>,
    env: Env<'_>,
) -> anyhow::Result<Shared> {
    let flag_resolution = build.mpp.is_some() || build.mag.is_some() || build.base;
    let resolution = if flag_resolution {
        check_resolution(
            build.mpp.map(|v| Sourced::flag("mpp", v)),
            build.mag.map(|v| Sourced::flag("mag", v)),
            build.base.then(|| Sourced::flag("base", true)),
        )?
    } else {
        check_resolution(
            pick("mpp", None, None, (file.mpp, path)),
            pick("mag", None, None, (file.mag, path)),
            pick("base", None, None, (file.base, path)),
        )?
    };
    let pipeline = pick("pipeline", build.pipeline.clone(), None, (file.pipeline.take(), path))
        .unwrap_or_else(|| Sourced::flag("pipeline", vec![PipelinePart::Images, PipelinePart::Masks]));
    let (parts, wsis) = check_pipeline(&pipeline)?;
    let roi_bounds = value(pick("roi-bounds", build.roi_bounds.clone(), None, (file.roi_bounds.take(), path)));
    let slides = pick("slides", build.slides.clone(), None, (file.slides.take(), path));
    let rois = select_rois(roi_bounds.as_deref(), slides.as_ref())?;
    let jobs = check_jobs(&pick("jobs", jobs, None, (file.jobs, path)).unwrap_or(Sourced::flag("jobs", default_jobs)))?;
    let http = http_config(
        pick("retries", net.retries, None, (file.retries, path)),
        pick("timeout", net.timeout, None, (file.timeout, path)),
        pick("ca-cert", net.ca_cert.clone(), None, (file.ca_cert.take(), path)),
        env,
    )?;
    let out = check_out(pick(
        "out",
        build.out.clone(),
        Some(("BCSS_OUT", env("BCSS_OUT").map(PathBuf::from))),
        (file.out.take(), path),
    ))?;
    Ok(Shared {
        rois,
        out,
        resolution,
        parts,
        wsis,
        jobs,
        http,
        png: value(pick("png-compression", build.png_compression, None, (file.png_compression, path)))
            .unwrap_or_default(),
        wait_lock: switch(pick("wait-lock", flag(build.wait_lock), None, (file.wait_lock, path))),
    })
}

/// Merges flags, environment and file into a validated download plan. `ask_password` is called
/// only for `--login` without `BCSS_PASSWORD`.
pub fn resolve_download(
    args: &DownloadArgs,
    env: Env<'_>,
    ask_password: &dyn Fn(&str) -> anyhow::Result<String>,
) -> anyhow::Result<DownloadPlan> {
    let (mut file, path) = config_file(args.config.as_ref())?;
    let api_url =
        pick("api-url", args.api_url.clone(), Some(("BCSS_API_URL", env("BCSS_API_URL"))), (file.api_url.take(), path));
    if let Some(u) = &api_url {
        check_url(u)?;
    }
    let api_url = api_url.map_or_else(|| DEFAULT_API_URL.to_string(), |u| u.value);
    let folder_flag = value(pick(
        "folder-id",
        args.folder_id.clone(),
        Some(("BCSS_FOLDER_ID", env("BCSS_FOLDER_ID"))),
        (file.folder_id.take(), path),
    ));
    // The built-in slide table holds the public DSA's item ids: it stands in for the public
    // folder's listing only. Another server's ids differ, so there a listing that fails is the
    // error (a 401 means a key is needed), not 151 "Invalid item id" failures after it.
    let fallback_to_builtin =
        folder_flag.is_none() && api_url.trim_end_matches('/') == DEFAULT_API_URL.trim_end_matches('/');
    let folder_id = Some(folder_flag.unwrap_or_else(|| DEFAULT_FOLDER_ID.to_string()));

    // Each credential ranked by where it came from (flag 3 > environment 2 > file 1): the higher
    // one wins, and a key and a login from the same level are an error.
    let rank = |s: Sourced<'_, String>| {
        let level = match s.origin {
            Origin::Flag => 3,
            Origin::Env(_) => 2,
            Origin::File(_) => 1,
        };
        (level, s.value)
    };
    let key =
        pick("api-key", args.api_key.clone(), Some(("BCSS_API_KEY", env("BCSS_API_KEY"))), (file.api_key.take(), path))
            .map(rank);
    let login = pick("login", args.login.clone(), None, (file.login.take(), path)).map(rank);
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

    let shared = resolve_shared(&args.build, args.jobs, 4, &args.net, &mut file, path, env)?;
    let encoding = value(pick("encoding", args.encoding, None, (file.encoding, path))).unwrap_or_default();
    let mask_source = match (args.mask_source, file.mask_source) {
        (Some(m), _) => m,
        (None, None | Some(MaskSource::Links)) => MaskSource::Links,
        (None, Some(MaskSource::Annotations)) => MaskSource::Annotations,
        (None, Some(MaskSource::Dir)) => bail!(
            "`mask-source = \"dir\"` in `{}` is for `bcss extract`: `download` takes masks from links or annotations",
            path.map(|p| p.display().to_string()).unwrap_or_default()
        ),
    };
    let source = value(pick("source", args.source, None, (file.source, path))).unwrap_or_default();
    let compat = switch(pick("compat", flag(args.compat), None, (file.compat, path)));
    if source == Source::Gdc {
        if shared.parts.annotations || mask_source == MaskSource::Annotations {
            bail!("annotations come from a DSA only: with `--source gdc` use `--mask-source links` and leave `annotations` out of `--pipeline`");
        }
        if compat {
            bail!("`--compat` reproduces the original's DSA requests; it has no meaning with `--source gdc`");
        }
    }
    let (gdc_url, gdc_token) = gdc_settings(
        pick(
            "gdc-url",
            args.gdc.gdc_url.clone(),
            Some(("BCSS_GDC_URL", env("BCSS_GDC_URL"))),
            (file.gdc_url.take(), path),
        ),
        pick("gdc-token-file", args.gdc.gdc_token_file.clone(), None, (file.gdc_token_file.take(), path)),
    )?;
    let gdc_manifest = pick("gdc-manifest", args.gdc.gdc_manifest.clone(), None, (file.gdc_manifest.take(), path));
    if let Some(p) = &gdc_manifest {
        check_file(p)?;
    }
    Ok(DownloadPlan::new(shared.rois, shared.out)
        .api_url(api_url)
        .credentials(credentials)
        .folder_id(folder_id)
        .fallback_to_builtin(fallback_to_builtin)
        .resolution(shared.resolution)
        .mode(if compat { Mode::Compat } else { Mode::Exact })
        .parts(shared.parts)
        .encoding(encoding)
        .jobs(shared.jobs)
        .http(shared.http)
        .png(shared.png)
        .icc(!switch(pick("no-icc", flag(args.no_icc), None, (file.no_icc, path))))
        .mask_source(mask_source)
        .source(source)
        .wsis(shared.wsis)
        .gdc(
            GdcSettings::default()
                .url(gdc_url)
                .token(gdc_token)
                .manifest(gdc_manifest.map(|m| m.value))
                .cache(value(pick("gdc-cache", args.gdc.gdc_cache.clone(), None, (file.gdc_cache.take(), path)))),
        )
        .wait_lock(shared.wait_lock))
}

/// Merges `bcss extract`'s flags, environment and `--config` file into an extraction plan.
#[cfg(feature = "openslide")]
pub fn resolve_extract(
    args: &crate::cli::ExtractArgs,
    env: Env<'_>,
) -> anyhow::Result<bcss::command::extract::ExtractPlan> {
    use bcss::command::extract::{ExtractPlan, MaskInput};
    let (mut file, path) = config_file(args.config.as_ref())?;
    let slides_dir =
        pick("slides-dir", args.slides_dir.clone(), None, (file.slides_dir.take(), path)).ok_or_else(|| {
            anyhow::anyhow!(
                "give the folder of the slide files: `--slides-dir DIR` (or `slides-dir` in the config file)"
            )
        })?;
    check_dir(&slides_dir)?;
    let shared = resolve_shared(&args.build, args.jobs, 2, &args.net, &mut file, path, env)?;
    if shared.parts.annotations {
        bail!("`bcss extract` writes images and masks only; annotation files come from a DSA (`bcss download --pipeline annotations`)");
    }
    if shared.wsis {
        bail!("`bcss extract` reads whole slides you hold; to download them use `bcss download --pipeline wsis`");
    }
    let kind = pick("mask-source", args.mask_source, None, (file.mask_source, path));
    let masks_dir = pick("masks-dir", args.masks_dir.clone(), None, (file.masks_dir.take(), path));
    let annotations_dir =
        pick("annotations-dir", args.annotations_dir.clone(), None, (file.annotations_dir.take(), path));
    let kind_value = kind.as_ref().map(|k| k.value);
    let mask_source = match (kind_value, masks_dir, annotations_dir) {
        (Some(MaskSource::Links) | None, None, None) => MaskInput::Links,
        (Some(MaskSource::Dir) | None, Some(d), None) => {
            check_dir(&d)?;
            MaskInput::Dir(d.value)
        }
        (Some(MaskSource::Annotations) | None, None, Some(d)) => {
            check_dir(&d)?;
            MaskInput::Annotations(d.value)
        }
        (Some(MaskSource::Dir), None, _) => bail!("`--mask-source dir` needs `--masks-dir DIR`"),
        (Some(MaskSource::Annotations), _, None) => bail!("`--mask-source annotations` needs `--annotations-dir DIR`"),
        _ => bail!("`--masks-dir` and `--annotations-dir` belong to `--mask-source dir` and `annotations`; give the one that matches"),
    };
    if shared.parts.masks && mask_source == MaskInput::Links && shared.rois.rois().iter().all(|r| r.mask_link.is_none())
    {
        bail!("the ROI table has no mask links; give `--masks-dir` or `--annotations-dir`, or `--pipeline images`");
    }
    Ok(ExtractPlan::new(slides_dir.value, shared.rois, shared.out)
        .resolution(shared.resolution)
        .parts(shared.parts)
        .mask_source(mask_source)
        .jobs(shared.jobs)
        .http(shared.http)
        .png(shared.png)
        .wait_lock(shared.wait_lock))
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
        assert_eq!(plan.get_api_url(), DEFAULT_API_URL);
        assert_eq!(plan.get_folder_id(), Some(DEFAULT_FOLDER_ID));
        assert!(plan.get_fallback_to_builtin());
        assert_eq!(plan.get_resolution(), Resolution::Mpp(0.25));
        assert_eq!(plan.get_parts(), Parts { images: true, masks: true, annotations: false });
        assert_eq!(plan.get_rois().rois().len(), 151);
        assert_eq!(plan.get_jobs(), 4);
        assert_eq!(plan.get_out(), Path::new("BCSS"));
        assert!(matches!(plan.get_credentials(), Credentials::Anonymous));
        assert_eq!(plan.get_mask_source(), MaskSource::Links);
    }

    #[test]
    fn every_setting_takes_the_flag_over_the_file() {
        // The settings that once skipped `pick`: from the file alone, and a flag over the file.
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bcss.toml");
        std::fs::write(&cfg, "source = \"gdc\"\ncompat = false\nfolder-id = \"fromfile\"\nmpp = 0.5\n").unwrap();
        let from_file = DownloadArgs { config: Some(cfg.clone()), ..Default::default() };
        let plan = resolve_download(&from_file, &no_env, &no_password).unwrap();
        assert_eq!((plan.get_source(), plan.get_folder_id()), (Source::Gdc, Some("fromfile")));
        assert_eq!(plan.get_resolution(), Resolution::Mpp(0.5));
        let flags = DownloadArgs {
            config: Some(cfg.clone()),
            source: Some(Source::Dsa),
            folder_id: Some("fromflag".into()),
            compat: true,
            ..Default::default()
        };
        let plan = resolve_download(&flags, &no_env, &no_password).unwrap();
        assert_eq!((plan.get_source(), plan.get_folder_id()), (Source::Dsa, Some("fromflag")));
        assert_eq!(plan.get_mode(), Mode::Compat);
        // The environment sits between them.
        let env = |k: &str| (k == "BCSS_FOLDER_ID").then(|| "fromenv".to_string());
        let plan = resolve_download(&from_file, &env, &no_password).unwrap();
        assert_eq!(plan.get_folder_id(), Some("fromenv"));
        // An API key from the file loses to a login flag, ranked by where each came from.
        std::fs::write(&cfg, "api-key = \"filekey\"\n").unwrap();
        let login = DownloadArgs { config: Some(cfg.clone()), login: Some("me".into()), ..Default::default() };
        let password = |_: &str| Ok("pw".to_string());
        let plan = resolve_download(&login, &no_env, &password).unwrap();
        assert!(matches!(plan.get_credentials(), Credentials::Login { user, .. } if user == "me"));
        let plan =
            resolve_download(&DownloadArgs { config: Some(cfg), ..Default::default() }, &no_env, &no_password).unwrap();
        assert!(matches!(plan.get_credentials(), Credentials::ApiKey(k) if k.expose() == "filekey"));
    }

    #[test]
    fn mask_source_from_flag_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bcss.toml");
        std::fs::write(&cfg, "mask-source = \"annotations\"\n").unwrap();
        let args = DownloadArgs { config: Some(cfg.clone()), ..Default::default() };
        assert_eq!(resolve_download(&args, &no_env, &no_password).unwrap().get_mask_source(), MaskSource::Annotations);
        let args =
            DownloadArgs { config: Some(cfg.clone()), mask_source: Some(MaskSource::Links), ..Default::default() };
        assert_eq!(resolve_download(&args, &no_env, &no_password).unwrap().get_mask_source(), MaskSource::Links);
        std::fs::write(&cfg, "jobs = 2\nmask-source = \"figshare\"\n").unwrap();
        let args = DownloadArgs { config: Some(cfg.clone()), ..Default::default() };
        let err = resolve_download(&args, &no_env, &no_password).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "config file `{}` is invalid at line 2: unknown variant `figshare`, expected one of `links`, `annotations`, `dir`",
                cfg.display()
            )
        );
        std::fs::write(&cfg, "mask-source = \"dir\"\n").unwrap();
        let err = resolve_download(&args, &no_env, &no_password).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "`mask-source = \"dir\"` in `{}` is for `bcss extract`: `download` takes masks from links or annotations",
                cfg.display()
            )
        );
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
        assert_eq!(plan.get_api_url(), "http://env/api/v1");
        assert_eq!(plan.get_jobs(), 3);
        assert_eq!(plan.get_resolution(), Resolution::Mag(20.0));
        assert_eq!(plan.get_out(), Path::new("from-file"));
        assert!(matches!(plan.get_credentials(), Credentials::ApiKey(k) if k.expose() == "FILEKEY"));
        let args = DownloadArgs {
            config: Some(cfg),
            api_url: Some("http://flag/api/v1".into()),
            build: BuildArgs { mpp: Some(0.5), ..Default::default() },
            ..Default::default()
        };
        let plan = resolve_download(&args, &env, &no_password).unwrap();
        assert_eq!(plan.get_api_url(), "http://flag/api/v1");
        assert_eq!(plan.get_resolution(), Resolution::Mpp(0.5), "a resolution flag replaces the file's");
    }

    #[test]
    fn a_backoff_from_the_environment_is_checked_and_named() {
        let net = crate::cli::NetArgs::default();
        for bad in ["abc", "-5", "60001"] {
            let env = |k: &str| (k == "BCSS_RETRY_BASE_MS").then(|| bad.to_string());
            let err = net_config(&net, &env).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("`BCSS_RETRY_BASE_MS={bad}` (environment) must be whole milliseconds from 0 to 60000")
            );
        }
        let env = |k: &str| (k == "BCSS_RETRY_BASE_MS").then(|| "5".to_string());
        assert!(net_config(&net, &env).is_ok());
    }

    #[test]
    fn a_flag_or_env_key_beats_a_login_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bcss.toml");
        std::fs::write(&cfg, "login = \"alice\"\n").unwrap();
        let args = DownloadArgs { config: Some(cfg.clone()), api_key: Some("FLAGKEY".into()), ..Default::default() };
        let plan = resolve_download(&args, &no_env, &no_password).unwrap();
        assert!(matches!(plan.get_credentials(), Credentials::ApiKey(k) if k.expose() == "FLAGKEY"));
        let env = |k: &str| (k == "BCSS_API_KEY").then(|| "ENVKEY".to_string());
        let args = DownloadArgs { config: Some(cfg.clone()), ..Default::default() };
        let plan = resolve_download(&args, &env, &no_password).unwrap();
        assert!(matches!(plan.get_credentials(), Credentials::ApiKey(k) if k.expose() == "ENVKEY"));
        // A --login flag beats a key from the environment.
        let env = |k: &str| match k {
            "BCSS_API_KEY" => Some("ENVKEY".to_string()),
            "BCSS_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let args = DownloadArgs { login: Some("bob".into()), ..Default::default() };
        let plan = resolve_download(&args, &env, &no_password).unwrap();
        assert!(matches!(plan.get_credentials(), Credentials::Login { user, .. } if user == "bob"));
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
        let err = http_config(None, Some(Sourced::flag("timeout", 100_000.0)), None, &env).unwrap_err().to_string();
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
                DownloadArgs { build: BuildArgs { mpp: Some(5e-324), ..Default::default() }, ..Default::default() },
                "is not a usable resolution: give microns per pixel from 0.01",
            ),
            (
                DownloadArgs { build: BuildArgs { mag: Some(5e-324), ..Default::default() }, ..Default::default() },
                "is not a usable magnification",
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
                    build: BuildArgs { pipeline: Some(vec![]), ..Default::default() },
                    ..Default::default()
                },
                "`--pipeline ` is empty",
            ),
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

    /// A bad value's message shows it as the user gave it: the flag, the environment variable,
    /// or the file's key and the file.
    #[test]
    fn errors_name_where_the_value_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bcss.toml");
        let c = cfg.display().to_string();
        let not_a_dir = dir.path().join("a-file");
        std::fs::write(&not_a_dir, "x").unwrap();
        let out_line = format!("out = {:?}\n", not_a_dir.display().to_string());
        let file_cases: Vec<(&str, String)> = vec![
            ("mpp = 0\n", format!("`mpp = 0` in `{c}` is not a usable resolution")),
            ("mag = 1000\n", format!("`mag = 1000` in `{c}` is not a usable magnification")),
            ("mpp = 0.5\nbase = true\n", format!("choose one resolution: `mpp = 0.5` in `{c}` and `base = true` in `{c}` are mutually exclusive")),
            ("jobs = 0\n", format!("`jobs = 0` in `{c}` must be between 1 and 64")),
            ("retries = 500\n", format!("`retries = 500` in `{c}` is too many (at most 100)")),
            ("timeout = -1.0\n", format!("`timeout = -1` in `{c}` must be a number of seconds above 0")),
            ("pipeline = [\"pictures\"]\n", format!("config file `{c}` is invalid at line 1: unknown variant `pictures`, expected one of `images`, `masks`, `annotations`, `wsis`")),
            ("pipeline = []\n", format!("`pipeline = []` in `{c}` is empty")),
            ("api-url = \"ftp://x\"\n", format!("`api-url = \"ftp://x\"` in `{c}` is not an http(s) URL")),
            ("gdc-url = \"gdc.example\"\n", format!("`gdc-url = \"gdc.example\"` in `{c}` is not an http(s) URL")),
            ("slides = [\"TCGA-ZZ-0000\"]\n", format!("unknown slide `TCGA-ZZ-0000` (from `slides = [\"TCGA-ZZ-0000\"]` in `{c}`)")),
            ("encoding = \"gif\"\n", format!("config file `{c}` is invalid at line 1: unknown variant `gif`, expected one of `jpeg`, `jpg`, `png`")),
            ("png-compression = \"max\"\n", format!("config file `{c}` is invalid at line 1: unknown variant `max`, expected one of `fast`, `balanced`, `high`")),
            (&out_line, format!("`{}` in `{c}` exists and is not a directory", out_line.trim_end())),
        ];
        for (text, want) in file_cases {
            std::fs::write(&cfg, text).unwrap();
            let args = DownloadArgs { config: Some(cfg.clone()), ..Default::default() };
            let err = resolve_download(&args, &no_env, &no_password).unwrap_err().to_string();
            assert!(err.starts_with(&want), "{text:?}: {err}\nwanted: {want}");
        }
        // The environment, named as a variable; the flag, as a flag.
        let env = |k: &str| (k == "BCSS_OUT").then(|| not_a_dir.display().to_string());
        let err = resolve_download(&DownloadArgs::default(), &env, &no_password).unwrap_err().to_string();
        assert_eq!(err, format!("`BCSS_OUT={}` (environment) exists and is not a directory", not_a_dir.display()));
        let env = |k: &str| (k == "BCSS_API_URL").then(|| "localhost:8080".to_string());
        let err = resolve_download(&DownloadArgs::default(), &env, &no_password).unwrap_err().to_string();
        assert_eq!(err, "`BCSS_API_URL=localhost:8080` (environment) is not an http(s) URL");
        let args = DownloadArgs {
            build: BuildArgs { base: true, mag: Some(20.0), ..Default::default() },
            ..Default::default()
        };
        let err = resolve_download(&args, &no_env, &no_password).unwrap_err().to_string();
        assert_eq!(err, "choose one resolution: `--mag 20` and `--base` are mutually exclusive");
    }

    /// `extract` reads the same file: its own keys and the shared ones; a flag beats the file.
    #[cfg(feature = "openslide")]
    #[test]
    fn extract_reads_the_config_file() {
        use bcss::command::extract::MaskInput as ExtractMasks;
        let dir = tempfile::tempdir().unwrap();
        let slides = dir.path().join("wsis");
        let masks = dir.path().join("masks");
        std::fs::create_dir_all(&slides).unwrap();
        std::fs::create_dir_all(&masks).unwrap();
        let cfg = dir.path().join("bcss.toml");
        std::fs::write(
            &cfg,
            format!(
                "slides-dir = {:?}\nmasks-dir = {:?}\nmag = 20\njobs = 3\npng-compression = \"high\"\nout = \"from-file\"\napi-url = \"http://dsa/api/v1\"\n",
                slides.display().to_string(),
                masks.display().to_string()
            ),
        )
        .unwrap();
        let args = crate::cli::ExtractArgs { config: Some(cfg.clone()), ..Default::default() };
        let plan = resolve_extract(&args, &no_env).unwrap();
        assert_eq!(plan.get_slides_dir(), slides);
        assert_eq!(plan.get_mask_source(), &ExtractMasks::Dir(masks.clone()));
        assert_eq!(
            (plan.get_resolution(), plan.get_jobs(), plan.get_png()),
            (Resolution::Mag(20.0), 3, Compression::High)
        );
        assert_eq!(plan.get_out(), Path::new("from-file"));
        let args = crate::cli::ExtractArgs {
            config: Some(cfg.clone()),
            jobs: Some(1),
            build: BuildArgs { base: true, ..Default::default() },
            ..Default::default()
        };
        let plan = resolve_extract(&args, &no_env).unwrap();
        assert_eq!((plan.get_resolution(), plan.get_jobs()), (Resolution::Base, 1));
        std::fs::write(&cfg, "mask-source = \"dir\"\n").unwrap();
        let args =
            crate::cli::ExtractArgs { config: Some(cfg.clone()), slides_dir: Some(slides), ..Default::default() };
        let err = resolve_extract(&args, &no_env).unwrap_err().to_string();
        assert_eq!(err, "`--mask-source dir` needs `--masks-dir DIR`");
        std::fs::write(&cfg, "jobs = 2\n").unwrap();
        let args = crate::cli::ExtractArgs { config: Some(cfg), ..Default::default() };
        let err = resolve_extract(&args, &no_env).unwrap_err().to_string();
        assert!(err.starts_with("give the folder of the slide files: `--slides-dir DIR`"), "{err}");
    }
}
