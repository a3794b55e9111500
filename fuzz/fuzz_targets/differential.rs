//! Generated valid stubs (the differential property's generator, driven by
//! fuzzer bytes) run in the reference interpreter and natively on x86-64
//! must agree on result, memory, M2N list and host calls.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use lil_fuzz::Bytes;
use lil_tests::differential::{Case, compare};
use lil_tests::exec::Target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let case = Case::generate(&mut Bytes(&mut u));
    if let Err(report) = compare(&case, &[Target::Eval, Target::X64]) {
        panic!("{report}");
    }
});
