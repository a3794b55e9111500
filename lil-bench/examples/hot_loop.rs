//! Run one measured loop of the harness for a while, for `perf record`.
//!
//! ```text
//! cargo run --release -p lil-bench --example hot_loop -- fig1_alloc lil-text/generate 5
//! cargo run --release -p lil-bench --example hot_loop -- check 100000 5
//! perf record -g target/release/examples/hot_loop fig1_alloc lil/check 10
//! ```
//!
//! The first argument is a stub (`fig1_alloc`, `instanceof`, `fig3_jni_pow`,
//! `compile_me_generic`, `monitor_enter`) and the second a `system/metric`
//! of `lil bench --json` (`lil-text/parse`, `lil/check`, `lil/emit`,
//! `dynasm-hand/generate`, …); or `check N` checks a generated stub of N
//! instructions. The last argument is the number of seconds (default 3).

use std::time::{Duration, Instant};

use lil_bench::harness::{aarch64_params, generation_runners};
use lil_bench::measure::Runner;
use lil_bench::runtime::NativeWorld;
use lil_bench::stubs::{Params, StubKind};
use lil_codegen::CodeCache;

fn spin(mut runner: Runner<'_>, batch: usize, seconds: f64) {
    let start = Instant::now();
    let (mut iterations, mut busy) = (0usize, Duration::ZERO);
    while start.elapsed().as_secs_f64() < seconds {
        busy += runner(batch);
        iterations += batch;
    }
    println!(
        "{iterations} iterations, {:.1} ns each",
        busy.as_nanos() as f64 / iterations as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = |i: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    if args.first().map(String::as_str) == Some("check") {
        let n = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
        let stub = lil_bench::frontend::sized_stub(n).unwrap_or_else(|e| panic!("{e}"));
        spin(lil_bench::frontend::check_runner(stub), 1, seconds(2));
        return;
    }
    let (Some(stub), Some(which)) = (args.first(), args.get(1)) else {
        eprintln!("usage: hot_loop STUB SYSTEM/METRIC [SECONDS] | hot_loop check N [SECONDS]");
        std::process::exit(2);
    };
    let Some(stub) = StubKind::ALL.into_iter().find(|s| s.name() == stub) else {
        eprintln!("no stub called {stub}");
        std::process::exit(2);
    };
    let world = NativeWorld::new();
    let p = world
        .as_ref()
        .map_or_else(Params::example, |w| w.params.clone());
    let p_a64 = aarch64_params(&p);
    let cache = CodeCache::with_default_capacity().unwrap_or_else(|e| panic!("{e}"));
    let runners = generation_runners(stub, &p, &p_a64, &cache).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = runners.iter().map(|(s, m, _)| format!("{s}/{m}")).collect();
    let Some((_, _, runner)) = runners
        .into_iter()
        .find(|(s, m, _)| format!("{s}/{m}") == *which)
    else {
        eprintln!("no {which}; one of: {}", names.join(", "));
        std::process::exit(2);
    };
    spin(runner, 64, seconds(2));
}
