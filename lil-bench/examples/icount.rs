//! Run one phase of the pipeline N times with no other work, so that
//! `perf stat -e instructions:u` (or callgrind) can count instructions per
//! iteration: a measure that does not depend on the machine's load.
//!
//! ```text
//! scripts/icount fig1_alloc parse          # instructions per iteration
//! target/release/examples/icount fig1_alloc generate-x64 100000
//! ```
//!
//! Phases: `parse` (text with runtime constants → `Stub`), `parse-into`
//! (the same with `lil_syntax::parse_with_into`, into one warm `Stub`
//! reused across iterations), `template`
//! (`lil_parse!` → `Stub`), `check`, `clone` (the `Stub::clone` and drop
//! the `check` loop pays for its input: subtract it to get the checker's
//! own cost), `check-reuse` (a VM's steady state: one
//! `lil_check::Checker` checks the stub and takes back the checked stub's
//! buffers with `recycle` every iteration; the input is copied with
//! `clone_from` into the `Stub` the last iteration recycled, which
//! allocates only for the parts `clone_from` cannot reuse: label names,
//! signatures), `emit-x64`, `emit-arm64`, `emit-into-x64` /
//! `emit-into-arm64` (as `emit-*`, through `Backend::compile_into_with`
//! into one warm `CompiledStub` and one `CompileScratch` reused by every
//! iteration, as `lil::Compiler` does: no output allocations, and the
//! frame plan is planned into again rather than built),
//! `generate-x64` / `generate-arm64` (text → code installed in a cache,
//! freed after every 64, with fresh buffers at every stage),
//! `compile-x64` / `compile-arm64` (the same through one `lil::Compiler`
//! reused by every iteration, as a VM does), `hand-x64` (hand-written `dynasm!` → installed).
//! `STUB` may also be `sized:N`, the generated stub of N statements the
//! bench's linearity rows use (phases `parse`, `check` and `clone` only),
//! or `file:PATH`, a LIL text without `%Ni` directives (phases
//! `parse-into`, `check-reuse`, `emit-into-*` and `compile-*`, with the
//! example host's environment): an empty stub measures what every
//! compile pays whatever its body, and two stubs that differ by some
//! statements measure what those statements cost.
//! The inputs of each phase are prepared before the loop; instruction
//! counts are meaningful as the difference between two runs of different
//! N (`scripts/icount` does that).

use std::hint::black_box;
use std::time::Instant;

use lil::{Compiler, backend};
use lil_bench::harness::aarch64_params;
use lil_bench::stubs::{Params, StubKind};
use lil_check::CheckedStub;
use lil_codegen::{CodeCache, HostEnv, InstalledCode, Target};
use lil_syntax::Stub;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(stub), Some(phase)) = (args.first(), args.get(1)) else {
        eprintln!("usage: icount STUB PHASE [N]");
        std::process::exit(2);
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    if let Some(size) = stub.strip_prefix("sized:") {
        sized(size.parse().unwrap_or(1000), phase, n);
        return;
    }
    if let Some(path) = stub.strip_prefix("file:") {
        file(path, phase, n);
        return;
    }
    let Some(stub) = StubKind::ALL.into_iter().find(|s| s.name() == stub) else {
        eprintln!("no stub called {stub}");
        std::process::exit(2);
    };
    let p = Params::example();
    let p_a64 = aarch64_params(&p);
    let target_params = |t: Target| match t {
        Target::X64 => &p,
        Target::Arm64 => &p_a64,
    };
    let cache = CodeCache::with_default_capacity().unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    match phase.as_str() {
        "parse" => {
            let a = p.args(stub);
            for _ in 0..n {
                black_box(stub.parse(black_box(&a)).ok());
            }
        }
        "parse-into" => {
            let a = p.args(stub);
            let mut warm = stub.parse(&a).expect("parses");
            for _ in 0..n {
                black_box(lil_syntax::parse_with_into(stub.text(), black_box(&a), &mut warm).ok());
                black_box(&warm);
            }
        }
        "template" => {
            for _ in 0..n {
                black_box(stub.template(black_box(&p)).ok());
            }
        }
        "check" => {
            let s = stub.parse(&p.args(stub)).expect("parses");
            for _ in 0..n {
                black_box(lil_check::check_owned(black_box(s.clone())).ok());
            }
        }
        "clone" => {
            let s = stub.parse(&p.args(stub)).expect("parses");
            for _ in 0..n {
                drop(black_box(black_box(&s).clone()));
            }
        }
        "check-reuse" => check_reuse(&stub.parse(&p.args(stub)).expect("parses"), n),
        "emit-x64" | "emit-arm64" | "emit-into-x64" | "emit-into-arm64" => {
            let t = if phase.ends_with("x64") {
                Target::X64
            } else {
                Target::Arm64
            };
            let tp = target_params(t);
            let env = tp.env();
            let s = stub.parse(&tp.args(stub)).expect("parses");
            let c = lil_check::check_owned(s).expect("checks");
            if phase.starts_with("emit-into") {
                emit_into(&c, &env, t, n);
            } else {
                for _ in 0..n {
                    black_box(backend(t).compile(black_box(&c), &env).ok());
                }
            }
        }
        "generate-x64" | "generate-arm64" | "compile-x64" | "compile-arm64" => {
            let t = if phase.ends_with("x64") {
                Target::X64
            } else {
                Target::Arm64
            };
            let tp = target_params(t);
            let env = tp.env();
            let a = tp.args(stub);
            let mut compiler = Compiler::new(t);
            installing(&cache, n, || {
                if phase.starts_with("compile") {
                    compiler.install_text(&cache, stub.text(), &a, &env)
                } else {
                    let s = stub.parse(&a).expect("parses");
                    let c = lil_check::check_owned(s).expect("checks");
                    let code = backend(t).compile(&c, &env).expect("compiles");
                    cache.install(&code.code).map_err(lil::Error::from)
                }
            });
        }
        "hand-x64" => installing(&cache, n, || {
            let code = lil_bench::hand_x64::emit(stub, &p).expect("emits");
            cache.install(&code)
        }),
        other => {
            eprintln!("no phase {other}");
            std::process::exit(2);
        }
    }
    report(n, start);
}

/// The wall-clock time per iteration, on stderr (noisy: the instruction
/// count is the measure).
fn report(n: usize, start: Instant) {
    if n > 0 {
        eprintln!(
            "{n} iterations, {:.1} ns each (wall clock, noisy)",
            start.elapsed().as_nanos() as f64 / n as f64
        );
    }
}

/// `check-reuse`: one `Checker` checks `s` `n` times, taking back the
/// checked stub's buffers with `recycle` every iteration; the input is
/// copied with `clone_from` into the stub the last iteration recycled,
/// whose vectors keep their memory.
fn check_reuse(s: &Stub, n: usize) {
    let mut checker = lil_check::Checker::new();
    let mut input = s.clone();
    for _ in 0..n {
        input.entry.clone_from(&s.entry);
        input.body.clone_from(&s.body);
        input.labels.clone_from(&s.labels);
        let checked = checker.check(black_box(input)).expect("checks");
        input = checker.recycle(black_box(checked));
    }
}

/// `emit-into-*`: `c` compiled `n` times into one warm `CompiledStub` and
/// `CompileScratch`, as `lil::Compiler` does.
fn emit_into(c: &CheckedStub, env: &HostEnv, t: Target, n: usize) {
    let options = lil_codegen::CompileOptions::default();
    let mut out = lil_codegen::CompiledStub::new(t);
    let mut scratch = lil_codegen::CompileScratch::new();
    for _ in 0..n {
        let compiled =
            backend(t).compile_into_with(black_box(c), env, &options, &mut out, &mut scratch);
        black_box((compiled.ok(), &out));
    }
}

/// Runs `install` `n` times, freeing the installed code after every 64 so
/// that the cache never fills.
fn installing<E: std::fmt::Debug>(
    cache: &CodeCache,
    n: usize,
    mut install: impl FnMut() -> Result<InstalledCode, E>,
) {
    let mut handles = Vec::with_capacity(64);
    for i in 0..n {
        handles.push(install().expect("installs"));
        if i % 64 == 63 {
            for h in handles.drain(..) {
                let _ = cache.free(h);
            }
        }
    }
}

/// The `parse`, `check` or `clone` phase on the generated stub of `size` statements.
fn sized(size: usize, phase: &str, n: usize) {
    let text = lil_bench::frontend::sized_stub_text(size);
    match phase {
        "parse" => {
            for _ in 0..n {
                black_box(lil_syntax::parse(black_box(&text)).ok());
            }
        }
        "check" => {
            let s = lil_bench::frontend::sized_stub(size).unwrap_or_else(|e| panic!("{e}"));
            for _ in 0..n {
                black_box(lil_check::check_owned(black_box(s.clone())).ok());
            }
        }
        "clone" => {
            let s = lil_bench::frontend::sized_stub(size).unwrap_or_else(|e| panic!("{e}"));
            for _ in 0..n {
                drop(black_box(black_box(&s).clone()));
            }
        }
        other => {
            eprintln!("no phase {other} for a sized stub (parse, check, clone)");
            std::process::exit(2);
        }
    }
}

/// The phases a VM's steady state runs, on the LIL text in `path`.
fn file(path: &str, phase: &str, n: usize) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let parsed = lil_syntax::parse(&text).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    let p = Params::example();
    let p_a64 = aarch64_params(&p);
    let target = if phase.ends_with("arm64") {
        Target::Arm64
    } else {
        Target::X64
    };
    let env = match target {
        Target::X64 => p.env(),
        Target::Arm64 => p_a64.env(),
    };
    let cache = CodeCache::with_default_capacity().unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    match phase {
        "parse-into" => {
            let mut warm = parsed;
            for _ in 0..n {
                black_box(lil_syntax::parse_with_into(black_box(&text), &[], &mut warm).ok());
                black_box(&warm);
            }
        }
        "check-reuse" => check_reuse(&parsed, n),
        "emit-into-x64" | "emit-into-arm64" => {
            let c = lil_check::check_owned(parsed).expect("checks");
            emit_into(&c, &env, target, n);
        }
        "compile-x64" | "compile-arm64" => {
            let mut compiler = Compiler::new(target);
            installing(&cache, n, || {
                compiler.install_text(&cache, black_box(&text), &[], &env)
            });
        }
        other => {
            eprintln!(
                "no phase {other} for a file (parse-into, check-reuse, emit-into-*, compile-*)"
            );
            std::process::exit(2);
        }
    }
    report(n, start);
}
