//! The worker pool shared by `download` and `extract`.
//!
//! `jobs` scoped threads take ROIs in table order from a shared counter, one at a time, so at most
//! `jobs` ROIs hold buffers at once. Each ROI's outcome goes to the reporter as it ends; the
//! summary lists ROIs in table order whatever order they finished in. When the reporter says
//! the run is cancelled, workers take no further ROI: the summary lists only what was run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::catalog::Roi;
use crate::report::{error_chain, Outcome, Reporter, Step, UnitFailure};

/// ROI ids by outcome, each list in table order.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    pub done: Vec<String>,
    pub skipped: Vec<String>,
    pub failed: Vec<UnitFailure>,
    /// The ids of `failed` whose failure a rerun alone cannot fix ([`UnitError::rerun_may_fix`]).
    pub lasting: Vec<String>,
}

/// The failure of one unit of work: an error (its causes reachable through `source()`), the
/// step and HTTP status it carries, and whether running the same command again may fix it (a
/// network error, a server error, a full disk may; a missing slide file, an item id the server
/// does not know, a mask with bad codes will not). The CLI offers "rerun" only for the first
/// kind.
pub(crate) trait UnitError: std::error::Error + Sized + 'static {
    /// True when a rerun of the same command may succeed.
    fn rerun_may_fix(&self) -> bool;
    /// The step that failed.
    fn step(&self) -> Option<Step>;
    /// The HTTP status a server answered, when the failure was one.
    fn http_status(&self) -> Option<u16>;
    /// The failure of unit `id` as the summary keeps it.
    fn unit_failure(&self, id: &str) -> UnitFailure {
        UnitFailure { id: id.to_string(), step: self.step(), status: self.http_status(), reason: error_chain(self) }
    }
}

impl Outcomes {
    /// The failures as `(id, reason)` pairs (the `failed` of a summary).
    pub fn failed_pairs(&self) -> Vec<(String, String)> {
        self.failed.iter().map(|f| (f.id.clone(), f.reason.clone())).collect()
    }
}

/// Runs `work` on every ROI with `jobs` threads. `work` returns `Ok(true)` when it wrote
/// something, `Ok(false)` when the ROI was already complete.
pub(crate) fn for_each_roi<E: UnitError>(
    rois: &[Roi],
    jobs: usize,
    reporter: &dyn Reporter,
    work: impl Fn(&Roi) -> Result<bool, E> + Sync,
) -> Outcomes {
    for_each(rois, |r| r.id.as_str(), "ROI", jobs, reporter, work)
}

/// [`for_each_roi`] for any unit of work with an id (slide files, ...).
pub(crate) fn for_each<T: Sync, E: UnitError>(
    rois: &[T],
    id: impl Fn(&T) -> &str + Sync,
    what: &str,
    jobs: usize,
    reporter: &dyn Reporter,
    work: impl Fn(&T) -> Result<bool, E> + Sync,
) -> Outcomes {
    reporter.on_plan(rois.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome, bool)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(rois.len().max(1)) {
            s.spawn(|| loop {
                if reporter.cancelled() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(roi) = rois.get(i) else { break };
                reporter.on_start(id(roi));
                let (outcome, lasting) = match work(roi) {
                    Ok(true) => (Outcome::Done, false),
                    Ok(false) => (Outcome::Skipped, false),
                    Err(e) => {
                        let failure = e.unit_failure(id(roi));
                        tracing::error!(unit = %id(roi), error = %failure.reason, "{what} failed");
                        (Outcome::Failed(failure), !e.rerun_may_fix())
                    }
                };
                reporter.on_done(id(roi), &outcome);
                results.lock().expect("results lock").push((i, outcome, lasting));
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    results.sort_by_key(|(i, ..)| *i);
    let mut out = Outcomes::default();
    for (i, outcome, lasting) in results {
        let id = id(&rois[i]).to_string();
        if lasting {
            out.lasting.push(id.clone());
        }
        match outcome {
            Outcome::Done => out.done.push(id),
            Outcome::Skipped => out.skipped.push(id),
            Outcome::Failed(f) => out.failed.push(f),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Event, Recorder};

    /// A test failure: one that says "lasting" is not fixed by a rerun; it fails its region
    /// with HTTP 404.
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct TestError(String);

    impl UnitError for TestError {
        fn rerun_may_fix(&self) -> bool {
            !self.0.contains("lasting")
        }
        fn step(&self) -> Option<Step> {
            Some(Step::Region)
        }
        fn http_status(&self) -> Option<u16> {
            Some(404)
        }
    }

    #[test]
    fn outcomes_come_back_in_table_order() {
        let rois: Vec<Roi> = (0..20)
            .map(|i| Roi { id: format!("R{i:02}"), xmin: 0, ymin: 0, xmax: 1, ymax: 1, mask_link: None })
            .collect();
        let rec = Recorder::default();
        let out = for_each_roi(&rois, 4, &rec, |roi| {
            let n: u32 = roi.id[1..].parse().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(u64::from(20 - n)));
            match n % 3 {
                0 => Ok(true),
                1 => Ok(false),
                _ if n == 5 => Err(TestError(format!("lasting {n}"))),
                _ => Err(TestError(format!("bad {n}"))),
            }
        });
        assert_eq!(out.done, ["R00", "R03", "R06", "R09", "R12", "R15", "R18"]);
        assert_eq!(out.skipped.len(), 7);
        assert_eq!(
            out.failed[0],
            UnitFailure {
                id: "R02".to_string(),
                step: Some(Step::Region),
                status: Some(404),
                reason: "bad 2".to_string()
            }
        );
        assert_eq!(out.lasting, ["R05"]);
        let events = rec.events();
        assert_eq!(events[0], Event::Plan(20));
        assert_eq!(events.iter().filter(|e| matches!(e, Event::Done(..))).count(), 20);
    }

    /// Cancels once `after` units have ended.
    struct CancelAfter(usize, std::sync::atomic::AtomicUsize);

    impl Reporter for CancelAfter {
        fn on_done(&self, _unit: &str, _outcome: &Outcome) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
        fn cancelled(&self) -> bool {
            self.1.load(Ordering::SeqCst) >= self.0
        }
    }

    #[test]
    fn cancelled_runs_take_no_further_unit() {
        let rois: Vec<Roi> = (0..20)
            .map(|i| Roi { id: format!("R{i:02}"), xmin: 0, ymin: 0, xmax: 1, ymax: 1, mask_link: None })
            .collect();
        let cancel = CancelAfter(3, Default::default());
        let out = for_each_roi(&rois, 1, &cancel, |_| Ok::<_, TestError>(true));
        assert_eq!(out.done, ["R00", "R01", "R02"]);
    }
}
