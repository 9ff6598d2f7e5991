//! A small Chrome DevTools Protocol client: Debian's headless Chromium started on a free port,
//! driven over its websocket (tungstenite, blocking), one page target in flat session mode.
//!
//! Every wait is for a message from the browser (a command's reply, an event), each read bounded
//! by a socket timeout, and the whole session by a deadline: a browser that stops answering fails
//! the test instead of hanging it. No sleeps. The browser process is killed when the client is
//! dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The browser binary: `BCSS_CHROMIUM`, or Debian's `/usr/bin/chromium` (installed by
/// `scripts/setup-system.sh`).
pub fn chromium_path() -> PathBuf {
    std::env::var_os("BCSS_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// A headless browser with one page attached.
pub struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    deadline: Instant,
    /// Every event received, in order (`method`, `params`).
    pub events: Vec<(String, Value)>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium (as root it needs `--no-sandbox`) with a viewport of `width x height`.
    pub fn start(width: u32, height: u32) -> Browser {
        let exe = chromium_path();
        assert!(
            exe.is_file(),
            "`{}` not found: the report's browser test needs Chromium; run scripts/setup-system.sh (it installs \
             Debian's chromium) or set BCSS_CHROMIUM",
            exe.display()
        );
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", exe.display()));
        // Chromium prints `DevTools listening on ws://...` on stderr; a thread reads it so a
        // browser that never prints it ends the wait at the timeout.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("ws://") {
                    let _ = tx.send(line[i..].trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("Chromium did not print its DevTools address within 60 s");
            }
        };
        let (socket, _) = tungstenite::connect(url.as_str()).expect("connect to the DevTools websocket");
        if let MaybeTlsStream::Plain(s) = socket.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        let mut b = Browser {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            deadline: Instant::now() + Duration::from_secs(180),
            events: Vec::new(),
            _profile: profile,
        };
        let target = b.call_browser("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().expect("a target id").to_string();
        let attached = b.call_browser("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }));
        b.session = attached["sessionId"].as_str().expect("a session id").to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            b.call(domain, json!({}));
        }
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        b
    }

    fn read(&mut self) -> Value {
        assert!(Instant::now() < self.deadline, "the browser session ran past its 180 s deadline");
        loop {
            match self.socket.read().expect("a message from the browser (30 s read timeout)") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).expect("CDP messages are JSON"),
                Message::Close(_) => panic!("the browser closed the DevTools connection"),
                _ => continue,
            }
        }
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.socket.send(Message::Text(msg.to_string().into())).expect("send to the browser");
        loop {
            let v = self.read();
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method} failed: {e}");
                }
                return v["result"].clone();
            }
            if let Some(m) = v["method"].as_str() {
                self.events.push((m.to_string(), v["params"].clone()));
            }
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// A command on the page's session; its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let s = self.session.clone();
        self.send(method, params, Some(&s))
    }

    /// Waits for an event of the page (one already received counts), returning its params.
    pub fn wait_event(&mut self, method: &str) -> Value {
        if let Some(i) = self.events.iter().position(|(m, _)| m == method) {
            return self.events.remove(i).1;
        }
        loop {
            let v = self.read();
            if let Some(m) = v["method"].as_str() {
                if m == method {
                    return v["params"].clone();
                }
                self.events.push((m.to_string(), v["params"].clone()));
            }
        }
    }

    /// Loads `path` and waits for its load event.
    pub fn open(&mut self, path: &Path) {
        let url = format!("file://{}", std::path::absolute(path).unwrap().display());
        let nav = self.call("Page.navigate", json!({ "url": url }));
        assert!(nav.get("errorText").is_none(), "navigation failed: {nav}");
        self.wait_event("Page.loadEventFired");
    }

    /// The value of a JavaScript expression (promises awaited); a thrown exception fails.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }));
        if let Some(e) = r.get("exceptionDetails") {
            panic!("`{expression}` threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// A real mouse click (pressed, released) at the middle of the element `selector` finds,
    /// scrolled into view first.
    pub fn click(&mut self, selector: &str) {
        let rect = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            sel = json!(selector)
        ));
        let (x, y) = (rect[0].as_f64().unwrap_or_else(|| panic!("no element `{selector}`")), rect[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// A PNG of the viewport.
    pub fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("screenshot data")).unwrap()
    }

    /// Console errors, uncaught exceptions and error log entries seen so far.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|(m, p)| match m.as_str() {
                "Runtime.exceptionThrown" => Some(format!("exception: {}", p["exceptionDetails"])),
                "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
                    Some(format!("console.{}: {}", p["type"], p["args"]))
                }
                "Log.entryAdded" if p["entry"]["level"] == "error" => Some(format!("log: {}", p["entry"])),
                _ => None,
            })
            .collect()
    }
}
