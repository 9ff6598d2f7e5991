//! Faults: named, documented ways for the stand-in to misbehave, switchable at run time.
//!
//! A [`Faults`] value is a list of [`Rule`]s. Each rule names a [`Route`], a [`When`] (always,
//! the first n matching requests, chosen request numbers, or a per-request probability drawn
//! from a seeded generator, so a run is reproducible) and a [`Fault`]. For every request the
//! first rule whose route matches and whose `When` fires decides the fault; every rule counts
//! the requests of its route whether or not it fires.
//!
//! The scenarios of [`Faults::named`] are the documented presets used by tests, the benchmark
//! and the binary's `--faults NAME` option.

use std::time::Duration;

/// The routes a rule can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Every request.
    Any,
    /// `GET system/version`.
    Version,
    /// `POST api_key/token` and `GET user/authentication`.
    Token,
    /// `GET item?folderId=`.
    Listing,
    /// `GET item/{id}/tiles`.
    Tiles,
    /// `GET item/{id}/tiles/region`.
    Region,
    /// `GET annotation/item/{id}`.
    Annotations,
    /// `GET /masks/{roi}` (the redirecting link).
    MaskLink,
    /// `GET /files/{roi}.png` (the mask file).
    MaskFile,
}

impl Route {
    fn matches(self, route: Route) -> bool {
        self == Route::Any || self == route
    }

    fn parse(s: &str) -> Option<Route> {
        Some(match s {
            "any" => Route::Any,
            "version" => Route::Version,
            "token" => Route::Token,
            "listing" => Route::Listing,
            "tiles" => Route::Tiles,
            "region" => Route::Region,
            "annotations" => Route::Annotations,
            "masklink" => Route::MaskLink,
            "maskfile" => Route::MaskFile,
            _ => return None,
        })
    }
}

/// When a rule fires, counting the requests of its route from 0.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// Every request.
    Always,
    /// The first `n` requests, then never.
    First(usize),
    /// These request numbers (0-based).
    Requests(Vec<usize>),
    /// Each request independently with this probability (seeded, see [`Faults::seed`]).
    Probability(f64),
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Wait this long before answering (on top of the configured latency).
    Latency(Duration),
    /// Answer this status with a Girder-shaped JSON error body (408, 500, 502, 503, 504 ...).
    Status(u16),
    /// 429 with `Retry-After: <secs>`.
    RateLimited(u64),
    /// Send the head with the full `Content-Length` and half of the body, then close.
    ResetMidBody,
    /// Send the head and half of the body, wait this long, then send the rest: a transfer caught
    /// in the middle ([`crate::TestServer::bodies_half_sent`] tells when the first half is out).
    StallMidBody(Duration),
    /// Cut the body in half and announce the cut length: the transfer is complete, the image is not.
    TruncatedBody,
    /// Overwrite the middle of the body with junk (headers of the image stay readable).
    CorruptBody,
    /// 200 with a body that is not valid JSON.
    WrongJson,
    /// 200 with an empty body.
    EmptyBody,
    /// The right body with `Content-Type: text/html`.
    WrongContentType,
    /// 200 `text/html` page (a captive portal or proxy page) instead of the answer.
    HtmlPage,
    /// Region: a valid image one pixel narrower than the geometry says.
    RegionWrongSize,
    /// Mask file: one pixel set to 99, a code outside 0..=21.
    MaskUnknownCode,
    /// Mask file: one column narrower than the ROI.
    MaskWrongSize,
    /// Send the head (full `Content-Length`), then the body one byte at a time, this long
    /// between bytes: each read of the client gets a byte in time, the whole body takes ages.
    Trickle(Duration),
    /// Listing: always a full page (`limit` items, 500 when `limit=0`) of made-up slide items,
    /// whatever the offset, with `Girder-Total-Count: 10^18`.
    EndlessListing,
    /// Send the right answer with `Transfer-Encoding: chunked`, then keep sending zero bytes
    /// until this many bytes in all are out (generated as they go, never held).
    UnboundedChunked(u64),
    /// Token route: 401 `{"message": "Invalid API key: <the key sent>"}` (for a login, the user
    /// and password sent): a server that echoes the secret it refused.
    SecretEcho,
    /// Mask file: a tiny, valid-looking PNG whose header claims 60000 x 2147483647 pixels.
    BombPng,
    /// `302 Found` to this location (a `file://` URL, another host) instead of the answer.
    Redirect(String),
    /// Every token issued so far expires now (as if its time ran out), then the request is
    /// answered as usual (so a request with one of those tokens is anonymous).
    ExpireTokens,
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Which requests.
    pub route: Route,
    /// When it fires.
    pub when: When,
    /// What happens.
    pub fault: Fault,
}

/// The faults in force.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Rules, first match wins.
    pub rules: Vec<Rule>,
    /// Seed of the generator behind [`When::Probability`].
    pub seed: u64,
}

/// The scenario names [`Faults::named`] knows, with what each does.
pub const SCENARIOS: &[(&str, &str)] = &[
    ("none", "no faults"),
    ("server-errors-then-ok", "region, tiles and mask file each answer 500, 502, 503 then succeed"),
    ("rate-limited", "the first two region requests answer 429 with Retry-After: 0"),
    ("timeouts", "the first region request answers 408, the second 504"),
    ("reset-mid-body", "the first region and mask-file responses are cut off mid-body (connection closed)"),
    ("truncated-image", "the first region response is an image cut in half with an honest Content-Length"),
    ("corrupt-image", "the first region response has junk in the middle"),
    ("wrong-json", "every tiles metadata answer is invalid JSON"),
    ("empty-region", "every region answer is 200 with an empty body"),
    ("wrong-size-region", "every region answer is an image one pixel too narrow"),
    ("wrong-content-type", "every region answer is labelled text/html (the bytes are right)"),
    ("html-page", "every listing answer is a 200 HTML page"),
    ("bad-mask-code", "every mask holds a pixel of value 99"),
    ("bad-mask-size", "every mask is one column too narrow"),
    ("slow", "every request waits 200 ms more"),
    ("trickle", "every region body arrives at 1 byte per 100 ms (with an honest Content-Length)"),
    ("endless-listing", "every listing answer is a full page with Girder-Total-Count: 10^18"),
    ("unbounded-chunked", "every region answer is a chunked body of 1 GiB (the image, then zeros)"),
    ("secret-echo", "the token route answers 401 `Invalid API key: <the key sent>`"),
    ("bomb-png", "every mask file is a tiny PNG whose header claims 60000 x 2147483647 pixels"),
    ("tokens-expire", "the tokens issued so far expire at the 2nd tiles and the 2nd annotation request"),
    ("chaos", "10% of region, tiles and mask requests fail with 503 or a cut body (seed 1)"),
];

impl Faults {
    /// No faults.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Adds a rule.
    pub fn on(mut self, route: Route, when: When, fault: Fault) -> Faults {
        self.rules.push(Rule { route, when, fault });
        self
    }

    /// Sets the seed of [`When::Probability`].
    pub fn seed(mut self, seed: u64) -> Faults {
        self.seed = seed;
        self
    }

    /// A documented scenario by name (see [`SCENARIOS`]).
    pub fn named(name: &str) -> Option<Faults> {
        use Fault::*;
        use Route::*;
        let f = Faults::none();
        Some(match name {
            "none" => f,
            "server-errors-then-ok" => {
                let mut f = f;
                for route in [Region, Tiles, MaskFile] {
                    f = f
                        .on(route, When::Requests(vec![0]), Status(500))
                        .on(route, When::Requests(vec![1]), Status(502))
                        .on(route, When::Requests(vec![2]), Status(503));
                }
                f
            }
            "rate-limited" => f.on(Region, When::First(2), RateLimited(0)),
            "timeouts" => {
                f.on(Region, When::Requests(vec![0]), Status(408)).on(Region, When::Requests(vec![1]), Status(504))
            }
            "reset-mid-body" => f.on(Region, When::First(1), ResetMidBody).on(MaskFile, When::First(1), ResetMidBody),
            "truncated-image" => f.on(Region, When::First(1), TruncatedBody),
            "corrupt-image" => f.on(Region, When::First(1), CorruptBody),
            "wrong-json" => f.on(Tiles, When::Always, WrongJson),
            "empty-region" => f.on(Region, When::Always, EmptyBody),
            "wrong-size-region" => f.on(Region, When::Always, RegionWrongSize),
            "wrong-content-type" => f.on(Region, When::Always, WrongContentType),
            "html-page" => f.on(Listing, When::Always, HtmlPage),
            "bad-mask-code" => f.on(MaskFile, When::Always, MaskUnknownCode),
            "bad-mask-size" => f.on(MaskFile, When::Always, MaskWrongSize),
            "slow" => f.on(Any, When::Always, Latency(Duration::from_millis(200))),
            "trickle" => f.on(Region, When::Always, Trickle(Duration::from_millis(100))),
            "endless-listing" => f.on(Listing, When::Always, EndlessListing),
            "unbounded-chunked" => f.on(Region, When::Always, UnboundedChunked(1 << 30)),
            "secret-echo" => f.on(Token, When::Always, SecretEcho),
            "bomb-png" => f.on(MaskFile, When::Always, BombPng),
            "tokens-expire" => f.on(Tiles, When::Requests(vec![1]), ExpireTokens).on(
                Annotations,
                When::Requests(vec![1]),
                ExpireTokens,
            ),
            "chaos" => {
                let mut f = f.seed(1);
                for route in [Region, Tiles, MaskFile] {
                    f = f.on(route, When::Probability(0.05), Status(503)).on(
                        route,
                        When::Probability(0.05),
                        ResetMidBody,
                    );
                }
                f
            }
            _ => return None,
        })
    }

    /// Parses `NAME` (a scenario) or `ROUTE:FAULT[:WHEN]` rules separated by `,`, e.g.
    /// `region:503:first=2,maskfile:reset`. FAULT is a status number, `429`, `latency=MS`, `stall=MS`,
    /// `trickle=MS`, `chunked=BYTES`, `reset`, `truncate`, `corrupt`, `wrongjson`, `empty`,
    /// `contenttype`, `html`, `wrongsize`, `maskcode`, `masksize`, `endless`, `echo`, `bomb`,
    /// `expire`; WHEN is `always` (default), `first=N`, `p=0.1`.
    pub fn parse(spec: &str) -> Result<Faults, String> {
        if let Some(f) = Faults::named(spec) {
            return Ok(f);
        }
        let mut f = Faults::none().seed(1);
        for rule in spec.split(',').filter(|s| !s.is_empty()) {
            let mut parts = rule.split(':');
            let route = parts.next().and_then(Route::parse).ok_or_else(|| format!("unknown route in `{rule}`"))?;
            let fault_text = parts.next().ok_or_else(|| format!("no fault in `{rule}`"))?;
            let fault = match fault_text {
                "429" => Fault::RateLimited(0),
                "reset" => Fault::ResetMidBody,
                "truncate" => Fault::TruncatedBody,
                "corrupt" => Fault::CorruptBody,
                "wrongjson" => Fault::WrongJson,
                "empty" => Fault::EmptyBody,
                "contenttype" => Fault::WrongContentType,
                "html" => Fault::HtmlPage,
                "wrongsize" => Fault::RegionWrongSize,
                "maskcode" => Fault::MaskUnknownCode,
                "masksize" => Fault::MaskWrongSize,
                "endless" => Fault::EndlessListing,
                "echo" => Fault::SecretEcho,
                "bomb" => Fault::BombPng,
                "expire" => Fault::ExpireTokens,
                t if t.starts_with("trickle=") => Fault::Trickle(Duration::from_millis(
                    t[8..].parse().map_err(|_| format!("bad trickle in `{rule}`"))?,
                )),
                t if t.starts_with("chunked=") => {
                    Fault::UnboundedChunked(t[8..].parse().map_err(|_| format!("bad chunked size in `{rule}`"))?)
                }
                t if t.starts_with("stall=") => Fault::StallMidBody(Duration::from_millis(
                    t[6..].parse().map_err(|_| format!("bad stall in `{rule}`"))?,
                )),
                t if t.starts_with("latency=") => Fault::Latency(Duration::from_millis(
                    t[8..].parse().map_err(|_| format!("bad latency in `{rule}`"))?,
                )),
                t => Fault::Status(t.parse().map_err(|_| format!("unknown fault `{t}`"))?),
            };
            let when = match parts.next() {
                None | Some("always") => When::Always,
                Some(w) if w.starts_with("first=") => {
                    When::First(w[6..].parse().map_err(|_| format!("bad count in `{rule}`"))?)
                }
                Some(w) if w.starts_with("p=") => {
                    When::Probability(w[2..].parse().map_err(|_| format!("bad probability in `{rule}`"))?)
                }
                Some(w) => return Err(format!("unknown WHEN `{w}`")),
            };
            f = f.on(route, when, fault);
        }
        Ok(f)
    }
}

/// The faults with their counters and generator, as the server uses them.
#[derive(Debug)]
pub(crate) struct ActiveFaults {
    faults: Faults,
    counts: Vec<usize>,
    rng: fastrand::Rng,
}

impl ActiveFaults {
    pub(crate) fn new(faults: Faults) -> ActiveFaults {
        let counts = vec![0; faults.rules.len()];
        let rng = fastrand::Rng::with_seed(faults.seed);
        ActiveFaults { faults, counts, rng }
    }

    /// The faults that apply to this request of `route`: the first firing rule's fault, plus
    /// every firing latency (latencies add up and do not stop the search).
    pub(crate) fn pick(&mut self, route: Route) -> (Option<Fault>, Duration) {
        let mut chosen = None;
        let mut latency = Duration::ZERO;
        for (i, rule) in self.faults.rules.iter().enumerate() {
            if !rule.route.matches(route) {
                continue;
            }
            let n = self.counts[i];
            self.counts[i] += 1;
            let fires = match &rule.when {
                When::Always => true,
                When::First(k) => n < *k,
                When::Requests(list) => list.contains(&n),
                When::Probability(p) => self.rng.f64() < *p,
            };
            if !fires {
                continue;
            }
            match &rule.fault {
                Fault::Latency(d) => latency += *d,
                other if chosen.is_none() => chosen = Some(other.clone()),
                _ => {}
            }
        }
        (chosen, latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_exists_and_parses() {
        for (name, _) in SCENARIOS {
            assert!(Faults::named(name).is_some(), "{name}");
            assert!(Faults::parse(name).is_ok());
        }
        let f = Faults::parse("region:503:first=2,maskfile:reset,any:latency=5:p=0.5,region:stall=100").unwrap();
        assert_eq!(f.rules.len(), 4);
        let g =
            Faults::parse("region:trickle=5,region:chunked=100,listing:endless,token:echo,maskfile:bomb,tiles:expire")
                .unwrap();
        assert_eq!(g.rules[0].fault, Fault::Trickle(Duration::from_millis(5)));
        assert_eq!(g.rules[1].fault, Fault::UnboundedChunked(100));
        assert_eq!(g.rules[5].fault, Fault::ExpireTokens);
        assert_eq!(f.rules[3].fault, Fault::StallMidBody(Duration::from_millis(100)));
        assert_eq!(f.rules[0], Rule { route: Route::Region, when: When::First(2), fault: Fault::Status(503) });
        assert!(Faults::parse("nowhere:503").is_err());
    }

    #[test]
    fn scripted_sequence() {
        let mut a = ActiveFaults::new(Faults::named("server-errors-then-ok").unwrap());
        let seq: Vec<Option<Fault>> = (0..4).map(|_| a.pick(Route::Region).0).collect();
        assert_eq!(seq, vec![Some(Fault::Status(500)), Some(Fault::Status(502)), Some(Fault::Status(503)), None]);
        assert_eq!(a.pick(Route::Listing).0, None);
    }

    #[test]
    fn probability_is_seeded() {
        let run = || {
            let mut a =
                ActiveFaults::new(Faults::none().seed(42).on(Route::Any, When::Probability(0.3), Fault::EmptyBody));
            (0..100).map(|_| a.pick(Route::Region).0.is_some()).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let hits = first.iter().filter(|h| **h).count();
        assert!((15..=45).contains(&hits), "{hits}");
    }
}
