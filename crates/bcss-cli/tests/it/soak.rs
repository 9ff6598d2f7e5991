//! Soak (run by `.ci/run`, ignored otherwise): 50 seeded fault mixes, each with a `kill -9` at a
//! seeded point of the first run, then reruns until complete. After each: no temporary file,
//! `verify` passes, and the dataset is byte for byte the fault-free one.
//!
//! `cargo test --test it soak -- --ignored --nocapture`

use bcss_testserver::Config;

use super::faults::{fault_mix, rerun_until_complete};
use crate::harness::*;
use crate::util::*;

#[test]
#[ignore = "soak: about two minutes; run by .ci/run"]
fn soak_fifty_fault_mixes_with_kills_give_the_fault_free_dataset() {
    let config = synthetic(6, 300, 200);
    let args = ["--pipeline", "images,masks,annotations", "--jobs", "3", "--encoding", "png"];
    let want = reference(config.clone(), &args);
    let mut rng = fastrand::Rng::with_seed(20261128);
    for seed in 0..50u64 {
        let s = Stand::with(Config { faults: fault_mix(seed, 0.06), ..config.clone() });
        // Kill the first run after a seeded number of region requests (1..=6).
        let kill_after = rng.usize(1..=6);
        let mut first = Running::spawn(
            {
                let mut c = s.download();
                c.args(args);
                c
            },
            s.dir.join("first.stderr"),
        );
        let reached = first.until(|| s.region_requests().len() >= kill_after, || {});
        if reached {
            first.child.kill().unwrap();
        }
        let status = first.child.wait().unwrap();
        eprintln!("seed {seed}: killed after {kill_after} region requests: {reached} ({status:?})");
        rerun_until_complete(&s, &args, 10);
        assert_no_parts(&s.out(), &format!("seed {seed}"));
        assert_verifies(&s.out());
        assert_same_dataset(&want, &s);
    }
}
