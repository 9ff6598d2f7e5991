//! The routes: Girder + large_image + annotations, as spec sections 1-3 and
//! `../shared/real-dsa/README.md` describe them, plus the mask links.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/system/version` | `{apiVersion, release, serverStartDate}` |
//! | `POST /api/v1/api_key/token?key=` | `{authToken:{token,expires,scope}, user:{_id}}`; wrong key 400 validation `Invalid API key.` |
//! | `GET /api/v1/user/authentication` | HTTP Basic; no header 401 rest, wrong 401 access `Login failed.` |
//! | `GET /api/v1/item?folderId=&limit=&offset=&sort=&sortdir=` | items + `Girder-Total-Count`; `limit=0` = all |
//! | `GET /api/v1/item/{id}` | the item document |
//! | `GET /api/v1/item/{id}/tiles` | tile metadata |
//! | `GET /api/v1/item/{id}/tiles/region` | JPEG or PNG, pixels from [`crate::image`] (test pattern or tissue, [`crate::Config::picture`]); empty 200 for an empty region |
//! | `GET /api/v1/annotation/item/{id}` | annotation documents, chunked |
//! | `GET /masks/{roi}` | `302` to `/files/{roi}.png` |
//! | `GET /files/{roi}.png` | the grey mask at ROI base size |
//!
//! Errors are Girder's: JSON `{"message","type"[,"field"]}`; a malformed id is 400 `validation`,
//! a missing item 400 `rest`, a private resource without a valid token 401 `access`, an unknown
//! API route 400 `No matching route ...`; paths outside the API get a 404 HTML page.

use serde_json::{json, Value};

use crate::faults::{Fault, Route};
use crate::http::{Request, Response};
use crate::image::{self, Native, RegionQuery};
use crate::{SlideSpec, State};

/// The user id every token belongs to.
pub const USER_ID: &str = "5bbdeba3e629140048d0aa01";
const CREATED: &str = "2018-10-09T01:02:03.456000+00:00";
const JPEG_LIMIT: u64 = 65_500;
/// Largest output the stand-in renders (pixels), to keep a wrong request from eating the machine.
const PIXEL_LIMIT: u64 = 400_000_000;

/// What the connection loop must do with an answer.
pub(crate) enum Reply {
    /// Send it.
    Send(Response),
    /// Send the head and half the body, then close the connection.
    ResetMidBody(Response),
    /// Send the head and half the body, wait, then send the rest.
    StallMidBody(Response, std::time::Duration),
    /// Send the head, then the body one byte at a time with this pause between bytes.
    Trickle(Response, std::time::Duration),
    /// Send the body chunked, then zeros until this many bytes in all are out.
    Unbounded(Response, u64),
}

fn error(status: u16, kind: &str, message: impl Into<String>) -> Response {
    let mut body = json!({"message": message.into(), "type": kind});
    if kind == "internal" {
        body["uid"] = json!("4b1c9a0e-0000-4000-8000-000000000000");
    }
    Response::json(status, &body)
}

fn invalid_id(id: &str) -> Response {
    Response::json(400, &json!({"field": "id", "message": format!("Invalid ObjectId: {id}"), "type": "validation"}))
}

fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn html(status: u16, title: &str) -> Response {
    let body = format!("<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head><body><h2>{status} {title}</h2><p>The path is not found.</p></body></html>\n");
    Response::new(status, "text/html;charset=utf-8", body.into_bytes())
}

/// Which route a request is, for faults and dispatch.
pub(crate) fn route_of(req: &Request) -> Option<Route> {
    let segs = segments(&req.path);
    let api = segs.len() >= 2 && segs[0] == "api" && segs[1] == "v1";
    if !api {
        return match segs.as_slice() {
            ["masks", _] => Some(Route::MaskLink),
            ["files", _] => Some(Route::MaskFile),
            _ => None,
        };
    }
    Some(match &segs[2..] {
        ["system", "version"] => Route::Version,
        ["api_key", "token"] | ["user", "authentication"] => Route::Token,
        ["item"] => Route::Listing,
        ["item", _, "tiles"] => Route::Tiles,
        ["item", _, "tiles", "region"] => Route::Region,
        ["annotation", "item", _] => Route::Annotations,
        _ => return None,
    })
}

fn segments(path: &str) -> Vec<&str> {
    // A double slash (`/api/v1//item`, what girder_client sends) is accepted, as on the real server.
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Answers one request, faults included.
pub(crate) fn serve(state: &State, req: &Request, host: &str) -> Reply {
    let route = route_of(req);
    let (fault, latency) = match route {
        Some(r) => state.pick_fault(r, &req.path),
        None => state.pick_fault(Route::Any, &req.path),
    };
    let delay = state.latency() + latency;
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    // Faults that replace the answer entirely: no work done.
    match &fault {
        Some(Fault::Status(code)) => {
            let kind = if *code >= 500 { "internal" } else { "rest" };
            return Reply::Send(
                error(*code, kind, format!("Injected fault: HTTP {code}")).with_header("Girder-Request-Uid", "fault"),
            );
        }
        Some(Fault::RateLimited(secs)) => {
            return Reply::Send(error(429, "rest", "Too many requests").with_header("Retry-After", secs.to_string()));
        }
        Some(Fault::SecretEcho) if route == Some(Route::Token) => {
            let sent = req.param("key").map(str::to_string).unwrap_or_else(|| {
                let basic = req.header("authorization").and_then(|v| v.strip_prefix("Basic ")).unwrap_or("");
                base64_decode(basic.trim()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
            });
            return Reply::Send(error(401, "access", format!("Invalid API key: {sent}")));
        }
        Some(Fault::Redirect(to)) => {
            return Reply::Send(
                Response::new(302, "text/html", b"This resource can be found elsewhere.".to_vec())
                    .with_header("Location", to.clone()),
            );
        }
        Some(Fault::ExpireTokens) => state.expire_tokens(),
        Some(Fault::HtmlPage) => {
            return Reply::Send(Response::new(
                200,
                "text/html",
                b"<html><body><h1>Welcome to the hotel network</h1><p>Please log in.</p></body></html>".to_vec(),
            ));
        }
        _ => {}
    }
    let mut resp = dispatch(state, req, host, fault.as_ref());
    if resp.status < 300 && req.path.starts_with("/api/") {
        resp.set_header("Girder-Request-Uid", "00000000-0000-4000-8000-000000000001");
    }
    match fault {
        Some(Fault::ResetMidBody) => return Reply::ResetMidBody(resp),
        Some(Fault::StallMidBody(pause)) => return Reply::StallMidBody(resp, pause),
        Some(Fault::Trickle(pause)) => return Reply::Trickle(resp, pause),
        Some(Fault::UnboundedChunked(total)) => return Reply::Unbounded(resp, total),
        Some(Fault::TruncatedBody) => {
            let n = resp.body.len() / 2;
            resp.body.truncate(n);
        }
        Some(Fault::CorruptBody) => {
            // An end-of-image marker repeated over the middle: JPEG decoders hit a marker inside
            // entropy-coded data, PNG decoders a CRC mismatch. Headers stay readable.
            let len = resp.body.len();
            let start = len / 2;
            for i in start..(start + 64).min(len) {
                resp.body[i] = if (i - start).is_multiple_of(2) { 0xFF } else { 0xD9 };
            }
        }
        Some(Fault::WrongJson) => {
            resp = Response::new(200, "application/json", br#"[{"_id": "5bbdeba3e629140048d0", "name": "#.to_vec());
        }
        Some(Fault::EmptyBody) => {
            resp.body.clear();
            resp.chunked = false;
        }
        Some(Fault::WrongContentType) => resp.set_header("Content-Type", "text/html"),
        _ => {}
    }
    Reply::Send(resp)
}

fn dispatch(state: &State, req: &Request, host: &str, fault: Option<&Fault>) -> Response {
    let segs = segments(&req.path);
    let get = req.method == "GET" || req.method == "HEAD";
    let post = req.method == "POST";
    if !(segs.len() >= 2 && segs[0] == "api" && segs[1] == "v1") {
        return match (segs.as_slice(), get) {
            (["masks", roi], true) => mask_link(state, roi, host),
            (["files", file], true) => mask_file(state, file, fault),
            _ => html(404, "Not Found"),
        };
    }
    let user = state.user_of(req);
    match (&segs[2..], get, post) {
        (["system", "version"], true, _) => Response::json(
            200,
            &json!({"apiVersion": "3.2.18", "release": "3.2.18", "serverStartDate": "2026-11-27T05:00:00.000000+00:00"}),
        ),
        (["api_key", "token"], _, true) => api_key_token(state, req),
        (["user", "authentication"], true, _) => login(state, req),
        (["item"], true, _) => listing(state, req, user, fault),
        (["item", id], true, _) => with_item(state, id, user, |i, s| Response::json(200, &item_doc(state, i, s))),
        (["item", id, "tiles"], true, _) => with_slide(state, id, user, |_, s| Response::json(200, &tiles_doc(s))),
        (["item", id, "tiles", "region"], true, _) => with_slide(state, id, user, |_, s| region(state, s, req, fault)),
        (["annotation", "item", id], true, _) => with_item(state, id, user, |i, s| {
            let mut r = Response::json(
                200,
                &match s {
                    Some(s) => annotations_doc(i, s),
                    None => json!([]),
                },
            );
            r.chunked = true;
            r
        }),
        _ => {
            let shown = req.path.strip_prefix("/api/v1").unwrap_or(&req.path);
            error(400, "rest", format!("No matching route for \"{} {}\"", req.method, shown))
        }
    }
}

fn api_key_token(state: &State, req: &Request) -> Response {
    let key = req.param("key").map(str::trim).unwrap_or("");
    match &state.config.api_key {
        Some(k) if !key.is_empty() && k == key => token_reply(state, None),
        _ => Response::json(400, &json!({"message": "Invalid API key.", "type": "validation"})),
    }
}

fn login(state: &State, req: &Request) -> Response {
    let Some(basic) = req
        .header("authorization")
        .or_else(|| req.header("girder-authorization"))
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return error(401, "rest", "Use HTTP Basic Authentication.");
    };
    let decoded = base64_decode(basic.trim()).and_then(|b| String::from_utf8(b).ok());
    let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return error(401, "rest", "Invalid HTTP Authorization header.");
    };
    match &state.config.login {
        Some((u, p)) if u == user && p == password => token_reply(state, Some("Login succeeded.")),
        _ => error(401, "access", "Login failed."),
    }
}

fn token_reply(state: &State, message: Option<&str>) -> Response {
    let token = state.new_token();
    let mut body = json!({
        "authToken": {"expires": "2027-05-26T05:00:00.000000+00:00", "scope": ["core.user_auth"], "token": token},
        "user": {"_id": USER_ID, "login": "bcss-test", "_modelType": "user"},
    });
    let mut resp = if let Some(m) = message {
        body["message"] = json!(m);
        Response::json(200, &body)
    } else {
        Response::json(200, &body)
    };
    if message.is_some() {
        resp = resp.with_header("Set-Cookie", format!("girderToken={token}; Path=/"));
    }
    resp
}

fn access_denied(kind: &str, id: &str) -> Response {
    error(401, "access", format!("Read access denied for {kind} {id} (user None)."))
}

fn listing(state: &State, req: &Request, user: bool, fault: Option<&Fault>) -> Response {
    let Some(folder) = req.param("folderId") else {
        return if req.param("text").is_some() {
            Response::json(200, &json!([]))
        } else {
            error(400, "rest", "Invalid search mode.")
        };
    };
    if !is_object_id(folder) {
        return invalid_id(folder);
    }
    let int = |name: &str, default: i64| -> Result<i64, Response> {
        match req.param(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| error(400, "rest", format!("Invalid value for {name}: \"{v}\"."))),
        }
    };
    let (limit, offset, sortdir) = match (int("limit", 50), int("offset", 0), int("sortdir", 1)) {
        (Ok(l), Ok(o), Ok(d)) => (l, o, d),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    if sortdir != 1 && sortdir != -1 {
        return error(400, "rest", "Invalid value for sortdir parameter.");
    }
    if matches!(fault, Some(Fault::EndlessListing)) {
        let n = if limit == 0 { 500 } else { limit.unsigned_abs() };
        let page: Vec<Value> = (0..n)
            .map(|i| {
                let k = offset.max(0) as u64 + i;
                let mut doc = item_doc(state, &format!("5bbdeba3e6291400{k:08x}"), state.config.slides.first());
                doc["name"] = json!(format!("TCGA-EN-{k:04}-01Z-00-DX1.ENDLESS.svs"));
                doc
            })
            .collect();
        return Response::json(200, &Value::Array(page)).with_header("Girder-Total-Count", "1000000000000000000");
    }
    let items: Vec<Value> = if folder == state.folder_id {
        if !(state.config.folder_public || user) {
            return access_denied("folder", folder);
        }
        let mut items: Vec<Value> =
            state.config.slides.iter().enumerate().map(|(i, s)| item_doc(state, &state.item_id(i), Some(s))).collect();
        items.push(item_doc(state, &state.text_item_id, None));
        items
    } else if folder == state.empty_folder_id {
        Vec::new()
    } else {
        return Response::json(
            400,
            &json!({"field": "id", "message": format!("No such folder: {folder}"), "type": "validation"}),
        );
    };
    let sort = req.param("sort").unwrap_or("lowerName");
    let mut items = items;
    items.sort_by(|a, b| {
        let ka = a.get(sort).map(Value::to_string).unwrap_or_default();
        let kb = b.get(sort).map(Value::to_string).unwrap_or_default();
        if sortdir == 1 {
            ka.cmp(&kb)
        } else {
            kb.cmp(&ka)
        }
    });
    let total = items.len();
    let offset = offset.max(0) as usize;
    // limit 0 is "no limit" (a MongoDB cursor), a negative limit returns |limit| (Mongo quirk).
    let limit = if limit == 0 { usize::MAX } else { limit.unsigned_abs() as usize };
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    Response::json(200, &Value::Array(page)).with_header("Girder-Total-Count", total.to_string())
}

/// Looks up an item (slide or the non-image item) and checks access.
fn with_item(state: &State, id: &str, user: bool, f: impl FnOnce(&str, Option<&SlideSpec>) -> Response) -> Response {
    if !is_object_id(id) {
        return invalid_id(id);
    }
    if id == state.text_item_id {
        if !(state.config.folder_public || user) {
            return access_denied("item", id);
        }
        return f(id, None);
    }
    match state.slide_by_id(id) {
        None => error(400, "rest", format!("Invalid item id ({id}).")),
        Some(s) if !(s.public || state.config.folder_public || user) => access_denied("item", id),
        Some(s) => f(id, Some(s)),
    }
}

/// Like [`with_item`], but the item must have a large image.
fn with_slide(state: &State, id: &str, user: bool, f: impl FnOnce(&str, &SlideSpec) -> Response) -> Response {
    with_item(state, id, user, |i, s| match s {
        Some(s) => f(i, s),
        None => error(400, "rest", "No large image file in this item."),
    })
}

fn item_doc(state: &State, id: &str, slide: Option<&SlideSpec>) -> Value {
    let name = slide.map(|s| s.name.clone()).unwrap_or_else(|| "README-not-a-slide.txt".to_string());
    let mut doc = json!({
        "_id": id,
        "_modelType": "item",
        "baseParentId": "5bbdeba3e629140048d0c011",
        "baseParentType": "collection",
        "created": CREATED,
        "creatorId": USER_ID,
        "description": "",
        "folderId": state.folder_id,
        "lowerName": name.to_lowercase(),
        "meta": {},
        "name": name,
        "size": slide.map(|s| s.size_x * s.size_y / 20).unwrap_or(1234),
        "updated": CREATED,
    });
    if slide.is_some() {
        doc["largeImage"] = json!({"fileId": format!("{}f", &id[..23]), "sourceName": "openslide"});
    }
    doc
}

pub(crate) fn native(s: &SlideSpec) -> Native {
    Native {
        size_x: s.size_x,
        size_y: s.size_y,
        levels: image::levels(s.size_x, s.size_y, s.tile, s.tile),
        magnification: s.magnification,
        mm_x: s.mm,
        mm_y: s.mm,
    }
}

fn tiles_doc(s: &SlideSpec) -> Value {
    let n = native(s);
    json!({
        "bandCount": 4,
        "dtype": "uint8",
        "levels": n.levels,
        "magnification": s.magnification,
        "mm_x": s.mm,
        "mm_y": s.mm,
        "sizeX": s.size_x,
        "sizeY": s.size_y,
        "tileHeight": s.tile,
        "tileWidth": s.tile,
    })
}

fn region(state: &State, s: &SlideSpec, req: &Request, fault: Option<&Fault>) -> Response {
    let mut q = RegionQuery::default();
    for (name, slot) in [
        ("left", &mut q.left),
        ("top", &mut q.top),
        ("right", &mut q.right),
        ("bottom", &mut q.bottom),
        ("regionWidth", &mut q.region_width),
        ("regionHeight", &mut q.region_height),
        ("width", &mut q.width),
        ("height", &mut q.height),
        ("magnification", &mut q.magnification),
        ("mm_x", &mut q.mm_x),
        ("mm_y", &mut q.mm_y),
    ] {
        if let Some(v) = req.param(name) {
            match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => *slot = Some(x),
                _ => return error(400, "rest", format!("\"{name}\" parameter is an incorrect type.")),
            }
        }
    }
    if let Some(units) = req.param("units") {
        if !matches!(units, "base_pixels" | "base" | "base_pixel" | "") {
            return error(400, "rest", format!("Value Error: the stand-in supports base_pixels only, not \"{units}\""));
        }
    }
    let encoding = req.param("encoding").unwrap_or("JPEG");
    let (png, mime) = match encoding {
        "JPEG" => (false, "image/jpeg"),
        "PNG" => (true, "image/png"),
        other => return error(400, "rest", format!("Value Error: Invalid encoding \"{other}\"")),
    };
    let a = image::answer(&native(s), &q);
    let cache = |r: Response| {
        r.with_header("Cache-Control", "public, max-age=3600").with_header("ETag", "\"0123456789abcdef\"")
    };
    if a.out_w == 0 || a.out_h == 0 {
        return cache(Response::new(200, mime, Vec::new()));
    }
    if a.out_w * a.out_h > PIXEL_LIMIT || (!png && a.out_w.max(a.out_h) > JPEG_LIMIT) {
        return error(500, "internal", "An unexpected error occurred on the server.");
    }
    let out_w = if matches!(fault, Some(Fault::RegionWrongSize)) { (a.out_w - 1).max(1) } else { a.out_w };
    let pixels = image::render_picture(state.config.picture, a.region, out_w, a.out_h, png);
    let body = if png {
        let mut out = Vec::new();
        bcss_codec::png::write_raw(
            &mut out,
            out_w as usize,
            a.out_h as usize,
            4,
            &pixels,
            bcss_codec::png::Compression::Fast,
        )
        .expect("PNG encodes to memory");
        out
    } else {
        let rgb = bcss_model::RgbImage { width: out_w as usize, height: a.out_h as usize, data: pixels };
        bcss_codec::jpeg::encode_rgb(&rgb, 95).expect("JPEG encodes")
    };
    cache(Response::new(200, mime, body))
}

/// The annotation documents of a slide: one per ROI, with the `roi` rectangle and three
/// polygons inside it (tumor, stroma, lymphocytic_infiltrate).
pub fn annotations_doc(item_id: &str, s: &SlideSpec) -> Value {
    let docs: Vec<Value> = s
        .rois
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let (w, h) = (r.xmax - r.xmin, r.ymax - r.ymin);
            let (cx, cy) = (r.xmin + w / 2, r.ymin + h / 2);
            let el = |n: usize| format!("{}{:04x}", &item_id[..20], k * 16 + n);
            let pt = |fx: u64, fy: u64| json!([r.xmin + w * fx / 100, r.ymin + h * fy / 100, 0]);
            let poly = |n: usize, group: &str, pts: Vec<Value>| {
                json!({"closed": true, "fillColor": "rgba(0,0,0,0)", "group": group, "id": el(n), "label": {"value": group}, "lineColor": "rgb(0,0,255)", "lineWidth": 2, "points": pts, "type": "polyline"})
            };
            let elements = vec![
                json!({"center": [cx, cy, 0], "fillColor": "rgba(0,0,0,0)", "group": "roi", "height": h, "id": el(1), "label": {"value": "roi"}, "lineColor": "rgb(0,0,0)", "lineWidth": 2, "rotation": 0, "type": "rectangle", "width": w}),
                poly(2, "mostly_tumor", vec![pt(10, 10), pt(45, 12), pt(40, 48), pt(12, 40)]),
                poly(3, "mostly_stroma", vec![pt(50, 50), pt(95, 55), pt(90, 95), pt(55, 90), pt(52, 70)]),
                poly(4, "mostly_lymphocytic_infiltrate", vec![pt(60, 10), pt(90, 10), pt(75, 40)]),
            ];
            json!({
                "_accessLevel": 0,
                "_detailsCount": 16,
                "_elementCount": elements.len(),
                "_elementQuery": {"count": elements.len(), "details": 16, "filter": {"annotationId": format!("{}{:04x}", &item_id[..20], 0xa000 + k)}, "limit": 0, "offset": 0, "returned": elements.len(), "sort": ["_id", 1]},
                "_id": format!("{}{:04x}", &item_id[..20], 0xa000 + k),
                "_modelType": "annotation",
                "_version": 1,
                "annotation": {"description": "synthetic", "elements": elements, "name": r.id},
                "created": CREATED,
                "creatorId": USER_ID,
                "groups": ["mostly_lymphocytic_infiltrate", "mostly_stroma", "mostly_tumor", "roi"],
                "itemId": item_id,
                "public": false,
                "updated": CREATED,
                "updatedId": USER_ID,
            })
        })
        .collect();
    Value::Array(docs)
}

fn mask_link(state: &State, roi: &str, host: &str) -> Response {
    if state.roi(roi).is_none() {
        return html(404, "Not Found");
    }
    let mut r = Response::new(302, "text/html", b"This resource can be found at the file link.".to_vec());
    r.set_header("Location", format!("http://{host}/files/{roi}.png"));
    r
}

fn mask_file(state: &State, file: &str, fault: Option<&Fault>) -> Response {
    let Some(roi) = file.strip_suffix(".png").and_then(|r| state.roi(r)) else { return html(404, "Not Found") };
    if matches!(fault, Some(Fault::BombPng)) {
        return Response::new(200, "image/png", bomb_png(60_000, 2_147_483_647));
    }
    let mut mask = image::render_mask(roi);
    match fault {
        Some(Fault::MaskUnknownCode) => {
            let mid = mask.data.len() / 2;
            mask.data[mid] = 99;
        }
        Some(Fault::MaskWrongSize) if mask.width > 1 => {
            let w = mask.width;
            mask.data = mask.data.chunks(w).flat_map(|row| row[..w - 1].to_vec()).collect();
            mask.width -= 1;
        }
        _ => {}
    }
    let mut out = Vec::new();
    bcss_codec::png::write_gray(&mut out, &mask, bcss_codec::png::Compression::Fast).expect("PNG encodes to memory");
    Response::new(200, "image/png", out).with_header("Content-Disposition", format!("attachment; filename=\"{file}\""))
}

/// A PNG of a few dozen bytes whose header claims `width` x `height` grey pixels: the signature,
/// an `IHDR` with those sizes, an `IDAT` of one compressed zero byte and `IEND`, CRCs right.
pub fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// CRC-32 (ISO 3309, as PNG uses it), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Standard base64 (with or without padding). `None` for invalid input.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose};
    use base64::Engine;
    const ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        general_purpose::PAD.with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    ANY_PADDING.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(base64_decode("YWRtaW46YWRtaW5wYXNzd29yZA==").unwrap(), b"admin:adminpassword");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert!(base64_decode("Z").is_none());
        assert!(base64_decode("Zm8*").is_none());
        assert_eq!(base64_decode("Zm8").unwrap(), b"fo");
    }

    #[test]
    fn crc_and_bomb_header() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        let png = bomb_png(60_000, 2_147_483_647);
        assert!(png.len() < 100);
        assert_eq!(&png[16..24], &[0, 0, 0xEA, 0x60, 0x7F, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn ids() {
        assert!(is_object_id(USER_ID));
        assert!(!is_object_id("nope"));
    }

    #[test]
    fn region_rect_helper() {
        let r: bcss_model::Rect = bcss_model::Rect { left: 1, top: 2, right: 4, bottom: 7 };
        assert_eq!((r.width(), r.height()), (3, 5));
    }
}
