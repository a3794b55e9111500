//! The LIL-handler VM against the Rust `match` interpreter of the same
//! bytecode, in the same process, natively on x86-64.
//!
//! ```text
//! cargo bench -p lil-bytecode-vm                      # 5 timed runs of each
//! LIL_VM_BENCH_RUNS=11 cargo bench -p lil-bytecode-vm
//! ```
//!
//! For each workload it first checks that both interpreters give the same
//! result and output, then alternates timed runs of the two and reports
//! medians. It also prints the dispatch sequence of both targets.

use std::time::{Duration, Instant};

use lil_bytecode_vm::{Opcode, Program, Stubs, programs, reference};
use lil_codegen::Target;

const CAPACITY: usize = 1 << 16;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("LIL_VM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5);

    for target in [Target::X64, Target::Arm64] {
        match Stubs::generate(target) {
            Ok(stubs) => {
                let nop = stubs.handler(Opcode::Nop).instructions();
                let text: Vec<&str> = nop.iter().map(|i| i.text.as_str()).collect();
                println!(
                    "dispatch on {target:?}: {} instructions: {}",
                    nop.len(),
                    text.join("; ")
                );
            }
            Err(e) => println!("{target:?}: {e}"),
        }
    }
    run(runs);
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn run(runs: usize) {
    use lil_bytecode_vm::LilVm;
    use lil_machine::native::NativeMachine;

    let machine = match NativeMachine::new() {
        Ok(m) => m,
        Err(e) => panic!("no native machine: {e}"),
    };
    let mut vm = match LilVm::new(machine, CAPACITY) {
        Ok(vm) => vm,
        Err(e) => panic!("cannot build the VM: {e}"),
    };
    let workloads: [(&str, Program); 2] = [
        ("fib(30)", programs::fib(30)),
        ("count(10^8)", programs::count(100_000_000)),
    ];
    println!("{runs} timed runs each, medians; reference = Rust match loop (release)");
    println!(
        "{:<12} {:>12} {:>12} {:>8}   {:>12} {:>12}",
        "workload", "reference", "LIL VM", "speedup", "ref min", "LIL min"
    );
    let mut all_ok = true;
    for (name, program) in &workloads {
        let expected = reference::run(program, CAPACITY);
        let loaded = vm.load(program).unwrap_or_else(|e| panic!("{e}"));
        let got = vm.run(&loaded).map_err(|e| e.trap());
        if got.as_ref().map_err(|t| t.as_ref()) != expected.as_ref().map_err(Some) {
            println!("{name}: MISMATCH: reference {expected:?}, LIL VM {got:?}");
            all_ok = false;
            continue;
        }
        let (mut reference_times, mut lil_times) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            let r = reference::run(program, CAPACITY);
            reference_times.push(t.elapsed());
            std::hint::black_box(r.ok());
            let t = Instant::now();
            let r = vm.run(&loaded);
            lil_times.push(t.elapsed());
            std::hint::black_box(r.ok());
        }
        let (rmin, lmin) = (
            *reference_times.iter().min().unwrap_or(&Duration::ZERO),
            *lil_times.iter().min().unwrap_or(&Duration::ZERO),
        );
        let (r, l) = (median(reference_times), median(lil_times));
        let speedup = r.as_secs_f64() / l.as_secs_f64();
        println!(
            "{name:<12} {:>12?} {:>12?} {speedup:>7.2}x   {rmin:>12?} {lmin:>12?}   (outputs agree: {:?})",
            r,
            l,
            expected.map(|o| o.output),
        );
    }
    if !all_ok {
        std::process::exit(1);
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn run(_runs: usize) {
    println!("the native benchmark needs an x86-64 Linux host");
}
