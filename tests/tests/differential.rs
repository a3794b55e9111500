//! Differential tests: random valid stubs (`lil_tests::differential`) run
//! in the reference interpreter, natively on x86-64 and under the AArch64
//! emulator must agree on the result, the buffer and thread memory, the M2N
//! list and every host call.
//!
//! The ordinary run executes `DEFAULT_CASES` cases; set `PROPTEST_CASES`
//! for a long run (`PROPTEST_CASES=100000 cargo test --release -p lil-tests
//! --test differential`). Shrunk counterexamples become named tests in
//! `tests/tests/regressions.rs`.

use std::collections::BTreeMap;

use lil_syntax::InstKind;
use lil_tests::differential::{
    Case, S_ARB, S_HANDLER, S_NARROW, S_STD, Words, compare, fill, placeholder_names, word_stream,
};
use lil_tests::exec::Target;
use proptest::prelude::*;

/// Cases of the differential property in an ordinary `cargo test`.
const DEFAULT_CASES: u32 = 2000;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn checked(text: &str) -> lil_check::CheckedStub {
    let stub = match lil_syntax::parse(text) {
        Ok(s) => s,
        Err(e) => panic!("generated stub does not parse:\n{}", e.render("gen", text)),
    };
    match lil_check::check_owned(stub) {
        Ok(c) => c,
        Err(d) => {
            let errors: Vec<String> = d.errors().map(|e| e.to_string()).collect();
            panic!(
                "generated stub is not valid: {errors:?}\n{}\n{}",
                d.render("gen", text),
                text
            )
        }
    }
}

/// Every generated stub (main and tail) is valid, and over 2000 cases the
/// generator produces every feature the differential test is meant to
/// cover.
#[test]
fn generated_stubs_are_valid_and_cover_the_language() {
    let names = placeholder_names();
    let mut census: BTreeMap<&str, u32> = BTreeMap::new();
    let n = 2000;
    for seed in 0..n {
        let words = word_stream(seed, 700);
        let case = Case::generate(&mut Words::new(&words));
        let main = fill(&case.main, &names);
        let c = checked(&main);
        checked(&fill(&case.tail, &names));
        let mut seen: Vec<&str> = Vec::new();
        for (i, inst) in c.stub().body.iter().enumerate() {
            let ty = c.op_type(i);
            let narrow = ty.is_some_and(|t| t.is_general() && t.size() < 8);
            let kind = match &inst.kind {
                InstKind::Binary { op, .. } if op.is_shift() => "shift",
                InstKind::Binary { .. } if narrow => "arithmetic g1/g2/g4",
                InstKind::Binary { .. } => "arithmetic 64-bit",
                InstKind::Unary { op, .. } if op.extension().is_some() => "sx/zx",
                InstKind::Unary { op, .. } if op.truncation().is_some() => "tr1/tr2/tr4",
                InstKind::Unary { .. } => "neg/not",
                InstKind::Ld { ext: Some(_), .. } => "ld, sx|zx",
                InstKind::Ld { addr, .. } if addr.index.is_some() => "ld indexed",
                InstKind::Ld { addr, .. } if addr.ty.is_float() => "ld float",
                InstKind::Ld { addr, .. } if addr.ordering == lil_syntax::Ordering::Acquire => {
                    "ld acquire"
                }
                InstKind::Ld { .. } => "ld",
                InstKind::St { addr, .. } if addr.ordering == lil_syntax::Ordering::Release => {
                    "st release"
                }
                InstKind::St { addr, .. } if addr.ty.is_float() => "st float",
                InstKind::St { .. } => "st",
                InstKind::Inc { .. } => "inc",
                InstKind::Cas { .. } => "cas",
                InstKind::JumpIf { .. } => "jc",
                InstKind::Jump(_) => "j",
                InstKind::Alloc { .. } => "alloc",
                InstKind::Ts { .. } => "ts",
                InstKind::Out(sig) if sig.params.iter().any(|t| t.is_float()) => "out with floats",
                InstKind::Out(sig) if sig.params.len() > 8 => "out past the registers",
                InstKind::In2Out { .. } => "in2out",
                InstKind::Call {
                    kind: lil_syntax::CallKind::Tail,
                    ..
                } => "tailcall",
                InstKind::Call {
                    kind: lil_syntax::CallKind::NoReturn,
                    ..
                } => "call.noret",
                InstKind::Call { target, .. } if target.cast.is_none() => match target.kind {
                    lil_syntax::OperandKind::Var(_) => "call through a register",
                    _ => "call",
                },
                InstKind::StdPlaces(_) => "std_places",
                InstKind::PushM2n { handles: true, .. } => "push_m2n handles",
                InstKind::PushM2n { .. } => "push_m2n",
                InstKind::Handles(_) => "handles =",
                InstKind::M2nSaveAll => "m2n_save_all",
                InstKind::PopM2n => "pop_m2n",
                InstKind::Print { .. } => "print",
                InstKind::Ret => "ret",
                InstKind::Move { .. } => "move",
                _ => continue,
            };
            if !seen.contains(&kind) {
                seen.push(kind);
            }
        }
        if case.params.len() > 9 {
            seen.push("stub inputs past the registers");
        }
        if case.ts_by_call {
            seen.push("ts by call");
        }
        if case.main.contains("@s_tail@") {
            seen.push("tailcall to a stub");
        }
        if case.main.contains("@s_arb@") {
            seen.push("tailcall to an arbitrary stub");
        }
        if case.main.contains("@s_handler@") {
            seen.push("tailcall to a handler");
        }
        if c.summary().max_locals > 24 {
            seen.push("more than 24 locals");
        }
        if case.main.contains("tailcall @h_tail@") || case.main.contains("l6 = @h_tail@") {
            seen.push("tailcall to a host function");
        }
        if case.main.contains(":L") {
            seen.push("branches");
        }
        if case.main.contains("+ 1;\nj L") || case.main.contains("- 1;\nj L") {
            seen.push("loop");
        }
        for kind in seen {
            *census.entry(kind).or_default() += 1;
        }
    }
    eprintln!("feature: cases using it (of {n})");
    for (k, v) in &census {
        eprintln!("  {k:32} {v}");
    }
    let missing: Vec<&str> = [
        "shift",
        "arithmetic g1/g2/g4",
        "arithmetic 64-bit",
        "sx/zx",
        "tr1/tr2/tr4",
        "neg/not",
        "ld, sx|zx",
        "ld indexed",
        "ld float",
        "ld acquire",
        "st release",
        "st float",
        "inc",
        "cas",
        "jc",
        "alloc",
        "ts",
        "out with floats",
        "out past the registers",
        "in2out",
        "tailcall",
        "call.noret",
        "call",
        "call through a register",
        "std_places",
        "push_m2n",
        "push_m2n handles",
        "handles =",
        "m2n_save_all",
        "pop_m2n",
        "print",
        "ret",
        "stub inputs past the registers",
        "ts by call",
        "tailcall to a stub",
        "tailcall to an arbitrary stub",
        "tailcall to a handler",
        "more than 24 locals",
        "tailcall to a host function",
        "branches",
        "loop",
    ]
    .into_iter()
    .filter(|k| census.get(k).copied().unwrap_or(0) < n as u32 / 100)
    .collect();
    assert!(
        missing.is_empty(),
        "features in fewer than 1% of cases: {missing:?}"
    );
}

#[test]
fn helper_stubs_are_valid() {
    let names = placeholder_names();
    for text in [S_STD, S_NARROW, S_ARB, S_HANDLER] {
        checked(&fill(text, &names));
    }
}

/// On a long run (`PROPTEST_CASES` above the default), a line on stderr
/// every 5% of the cases, with the rate, so that a run of an hour shows it
/// is alive. Written to the stderr handle, not through `eprintln!`, which
/// the test harness captures. Shrinking runs count too, so the last line
/// may pass 100%.
fn progress() {
    use std::io::Write;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;
    static DONE: AtomicU32 = AtomicU32::new(0);
    static START: OnceLock<Instant> = OnceLock::new();
    let total = cases();
    let start = *START.get_or_init(Instant::now);
    let done = DONE.fetch_add(1, Ordering::Relaxed) + 1;
    let step = (total / 20).max(1);
    if total > DEFAULT_CASES && done.is_multiple_of(step) {
        let secs = start.elapsed().as_secs_f64();
        let line = format!(
            "differential: {done}/{total} cases ({}%), {:.0} s, {:.0} cases/s\n",
            u64::from(done) * 100 / u64::from(total),
            secs,
            f64::from(done) / secs.max(1e-9),
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // Counterexamples are kept as named tests in regressions.rs.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The interpreter, native x86-64 and emulated AArch64 agree.
    #[test]
    fn interpreter_x64_and_arm64_agree(words in prop::collection::vec(any::<u32>(), 0..700)) {
        progress();
        let case = Case::generate(&mut Words::new(&words));
        if let Err(report) = compare(&case, &[Target::Eval, Target::X64, Target::Arm64]) {
            return Err(TestCaseError::fail(report));
        }
    }
}
