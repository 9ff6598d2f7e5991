//! The one retry loop ([`RetryPolicy::run`]): backoff with jitter, `Retry-After`, credentials
//! renewed, and a fresh count after progress, as policies of one loop that every request and
//! every hand-read body (a ranged read, a resumed download) goes through.

use std::time::{Duration, Instant};

use crate::error::{Failure, HttpError};

/// The statuses worth trying again: 408, 429, 500, 502, 503, 504. The one definition of a
/// transient status in bcss.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The most renewals of credentials one run of [`RetryPolicy::run`] accepts, whatever the
/// [`Auth`](crate::Auth) allows: a safety cap (Girder's own bound is lower).
const MAX_RENEWED: u32 = 100;

/// How a request is tried again: how many retries, how long to wait, and how often a caller
/// that makes progress (a download that resumes where it broke) may start a fresh count.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    retries: u32,
    backoff_base: Duration,
    fresh_starts: u32,
}

impl RetryPolicy {
    /// `retries` retries after the first try, the first waiting about `backoff_base`.
    pub fn new(retries: u32, backoff_base: Duration) -> RetryPolicy {
        RetryPolicy { retries, backoff_base, fresh_starts: 0 }
    }

    /// Allows `n` fresh counts: after an attempt that called [`Attempt::progressed`], the
    /// retries start again from zero, at most `n` times in all.
    pub fn fresh_starts(mut self, n: u32) -> RetryPolicy {
        self.fresh_starts = n;
        self
    }

    /// The retries allowed.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The delay before retry number `attempt + 1`: `Retry-After` when the server sent one
    /// (at most 300 s), else `backoff_base * 2^attempt` capped at 60 s, with jitter (50-100%).
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(Duration::from_secs(300));
        }
        let base = self.backoff_base.as_secs_f64() * 2f64.powi(attempt.min(16) as i32);
        let capped = base.min(60.0);
        Duration::from_secs_f64(capped * (0.5 + fastrand::f64() * 0.5))
    }

    /// Runs `attempt` until it returns `Ok`, [`Retry::Stop`], or a [`Retry::Failed`] that is not
    /// transient or comes after the last retry allowed; sleeps the backoff between tries.
    /// [`Retry::Renewed`] tries again at once without counting a retry: the caller bounds how
    /// often it renews. `url` (shown, secrets hidden) names the request in logs and the error.
    pub fn run<T, E>(
        &self,
        url: &str,
        mut attempt: impl FnMut(&mut Attempt) -> Result<T, Retry<E>>,
    ) -> Result<T, RetryError<E>> {
        let mut state = Attempt { retries: 0, fresh_starts: 0, progressed: false, start: Instant::now() };
        let mut renewed = 0;
        loop {
            state.progressed = false;
            let (failure, retry_after) = match attempt(&mut state) {
                Ok(v) => return Ok(v),
                Err(Retry::Stop(e)) => return Err(RetryError::Stop(e)),
                Err(Retry::Renewed) if renewed < MAX_RENEWED => {
                    renewed += 1;
                    continue;
                }
                Err(Retry::Renewed) => {
                    let why = format!("still refused after renewing the credentials {renewed} times");
                    return Err(RetryError::Http(state.error(url, Failure::Status(401, Some(why)))));
                }
                Err(Retry::Failed(failure, retry_after)) => (failure, retry_after),
            };
            if state.progressed && state.fresh_starts < self.fresh_starts {
                state.fresh_starts += 1;
                state.retries = 0;
            }
            if !failure.is_transient() || state.retries >= self.retries {
                return Err(RetryError::Http(state.error(url, failure)));
            }
            let delay = self.backoff(state.retries, retry_after);
            tracing::warn!(%url, %failure, attempt = state.retries + 1, delay_ms = delay.as_millis() as u64, "retrying");
            std::thread::sleep(delay);
            state.retries += 1;
        }
    }
}

/// What an attempt of [`RetryPolicy::run`] knows of the ones before it.
#[derive(Debug)]
pub struct Attempt {
    retries: u32,
    fresh_starts: u32,
    progressed: bool,
    start: Instant,
}

impl Attempt {
    /// Retries made so far (since the last fresh start).
    pub fn retries(&self) -> u32 {
        self.retries
    }
    /// Says this attempt kept something (bytes written to disk): if it fails, the retries start
    /// a fresh count, as far as the policy's [`RetryPolicy::fresh_starts`] allow.
    pub fn progressed(&mut self) {
        self.progressed = true;
    }
    fn error(&self, url: &str, failure: Failure) -> HttpError {
        HttpError { url: url.to_string(), failure, retries: self.retries, elapsed: self.start.elapsed() }
    }
}

/// How an attempt of [`RetryPolicy::run`] ended, when it did not succeed.
#[derive(Debug)]
pub enum Retry<E> {
    /// The request failed: tried again when the failure is transient and retries remain,
    /// after the server's `Retry-After` when it sent one.
    Failed(Failure, Option<Duration>),
    /// The credentials were renewed: try again at once.
    Renewed,
    /// Not a failure of the request (a reply the caller refuses, a local file): ends the loop.
    Stop(E),
}

impl<E> From<Failure> for Retry<E> {
    fn from(f: Failure) -> Retry<E> {
        Retry::Failed(f, None)
    }
}

/// Why [`RetryPolicy::run`] gave up.
#[derive(Debug)]
pub enum RetryError<E> {
    /// The request kept failing, or failed in a way not worth retrying.
    Http(HttpError),
    /// The attempt stopped the loop.
    Stop(E),
}

impl<E> RetryError<E> {
    /// Both kinds as one error type.
    pub fn into_error(self, http: impl FnOnce(HttpError) -> E) -> E {
        match self {
            RetryError::Http(h) => http(h),
            RetryError::Stop(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{TransportError, TransportKind};

    fn cut() -> Failure {
        Failure::transport(TransportError::new(TransportKind::BodyCut { got: 1, expected: 2 }, "http://h/x", None))
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let p = RetryPolicy::new(5, Duration::from_millis(100));
        let d0 = p.backoff(0, None);
        assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100), "{d0:?}");
        let d3 = p.backoff(3, None);
        assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800), "{d3:?}");
        assert!(p.backoff(30, None) <= Duration::from_secs(60));
        assert_eq!(p.backoff(0, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert_eq!(p.backoff(0, Some(Duration::from_secs(7000))), Duration::from_secs(300));
    }

    #[test]
    fn transient_failures_are_retried_until_the_count_runs_out() {
        let p = RetryPolicy::new(2, Duration::ZERO);
        let mut tries = 0;
        let r: Result<(), RetryError<()>> = p.run("http://h/x", |_| {
            tries += 1;
            Err(cut().into())
        });
        let RetryError::Http(h) = r.unwrap_err() else { panic!("not an HTTP error") };
        assert_eq!((tries, h.retries, h.url.as_str()), (3, 2, "http://h/x"));
    }

    #[test]
    fn failures_not_worth_retrying_and_stops_end_at_once() {
        let p = RetryPolicy::new(5, Duration::ZERO);
        let mut tries = 0;
        let r: Result<(), RetryError<()>> = p.run("u", |_| {
            tries += 1;
            Err(Failure::TooLarge { limit: 1, claimed: None }.into())
        });
        assert!(matches!(r, Err(RetryError::Http(HttpError { retries: 0, .. }))));
        assert_eq!(tries, 1);
        let r: Result<(), RetryError<&str>> = p.run("u", |_| Err(Retry::Stop("no")));
        assert!(matches!(r, Err(RetryError::Stop("no"))));
    }

    #[test]
    fn renewals_do_not_count_and_progress_starts_a_fresh_count_within_the_policy() {
        let p = RetryPolicy::new(1, Duration::ZERO);
        let mut tries = 0;
        let r: Result<u32, RetryError<()>> = p.run("u", |_| {
            tries += 1;
            if tries < 4 {
                Err(Retry::Renewed)
            } else {
                Ok(tries)
            }
        });
        assert_eq!(r.unwrap(), 4);
        // Every attempt makes progress and fails: 2 fresh starts allowed, 1 retry each.
        let p = RetryPolicy::new(1, Duration::ZERO).fresh_starts(2);
        let mut tries = 0;
        let r: Result<(), RetryError<()>> = p.run("u", |a| {
            tries += 1;
            a.progressed();
            Err(cut().into())
        });
        assert!(r.is_err());
        // Try 1 fails (fresh start 1, retry 1), try 2 fails (fresh start 2, retry 1), try 3
        // fails with no fresh start left and the retry spent.
        assert_eq!(tries, 3);
        assert!(is_transient_status(503) && is_transient_status(429) && !is_transient_status(501));
    }
}
