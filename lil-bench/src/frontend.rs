//! Front-end workloads: generated stubs of a given size for the checker's
//! linearity, measured with the same machinery as everything else.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use lil_syntax::Stub;

use crate::measure::Runner;

/// LIL text of a straight-line-and-diamonds stub with at least `n`
/// statements: arithmetic, a load, and a conditional jump to a label every
/// six statements, so the checker's dataflow has joins to merge.
pub fn sized_stub_text(n: usize) -> String {
    let mut text = String::with_capacity(n * 24 + 128);
    text.push_str("entry 0:platform:pint,pint:pint;\nlocals 4;\nl0 = i0;\nl1 = i1;\n");
    let mut k = 0;
    while 4 + 6 * k < n {
        let _ = write!(
            text,
            "l2 = l0 + l1;\nl3 = l2 ^ l0;\njc l3 = 0, L{k};\nld l1, [l0+8:pint];\nl0 = l3 + 1;\n:L{k};\n"
        );
        k += 1;
    }
    text.push_str("r = l0;\nret;\n");
    text
}

/// The stub of [`sized_stub_text`], parsed.
pub fn sized_stub(n: usize) -> Result<Stub, String> {
    lil_syntax::parse(&sized_stub_text(n)).map_err(|e| format!("{e:?}"))
}

/// A runner that checks fresh copies of `stub`: the timed part is exactly
/// the `check_owned` calls. The copies are made before it (`check_owned`
/// consumes its input) and the checked stubs are dropped after it: freeing
/// a batch of stubs at once made glibc trim the heap, and the next batch
/// paid page faults for it, which is neither checking nor what a VM that
/// checks one stub at a time sees.
pub fn check_runner<'a>(stub: Stub) -> Runner<'a> {
    Box::new(move |n| {
        let inputs: Vec<Stub> = (0..n).map(|_| stub.clone()).collect();
        let mut results = Vec::with_capacity(n);
        let start = Instant::now();
        for s in inputs {
            results.push(lil_check::check_owned(s));
        }
        let elapsed = start.elapsed();
        black_box(results.iter().all(Result::is_ok));
        drop(results);
        elapsed
    })
}

/// Minor page faults of this thread so far (0 if unknown).
pub fn minor_faults() -> u64 {
    // SAFETY: getrusage writes the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_THREAD, &mut usage) == 0 {
            usage.ru_minflt as u64
        } else {
            0
        }
    }
}

/// Minor page faults one `check_owned` of `stub` takes (the median of a few).
pub fn faults_per_check(stub: &Stub) -> u64 {
    let mut counts: Vec<u64> = (0..5)
        .map(|_| {
            let copy = stub.clone();
            let before = minor_faults();
            black_box(lil_check::check_owned(copy).is_ok());
            minor_faults() - before
        })
        .collect();
    counts.sort_unstable();
    counts[counts.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_stubs_check_and_have_their_size() {
        for n in [10, 1000] {
            let stub = sized_stub(n).unwrap();
            assert!(
                stub.body.len() >= n && stub.body.len() < n + 8,
                "{}",
                stub.body.len()
            );
            let checked = lil_check::check_owned(stub).unwrap();
            assert!(checked.warnings().is_empty());
        }
    }
}
