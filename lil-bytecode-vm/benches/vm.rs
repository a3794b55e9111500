//! The LIL-handler VM against the Rust `match` interpreter of the same
//! bytecode, in the same process, natively on x86-64.
//!
//! ```text
//! cargo bench -p lil-bytecode-vm                      # 5 timed runs of each
//! LIL_VM_BENCH_RUNS=11 cargo bench -p lil-bytecode-vm
//! ```
//!
//! For each workload it first checks that the interpreters give the same
//! result and output, then alternates timed runs and reports medians. The
//! baseline is [`reference::run`], the plain safe-Rust match loop. For
//! context it also times `tuned`, a match loop written the way the LIL VM
//! works (raw pointers, no bounds checks, top of stack in a local), to show
//! how much of the difference is the dispatch rather than safe Rust. It
//! also prints the dispatch sequence of both targets.

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
        "{:<12} {:>12} {:>12} {:>8}   {:>12} {:>12}   {:>12} {:>8}",
        "workload", "reference", "LIL VM", "speedup", "ref min", "LIL min", "tuned", "vs tuned"
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
        if tuned::run(program) != expected.clone().map_err(|_| ()) {
            println!("{name}: MISMATCH: the tuned loop disagrees");
            all_ok = false;
            continue;
        }
        let (mut reference_times, mut lil_times, mut tuned_times) =
            (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            let r = tuned::run(program);
            tuned_times.push(t.elapsed());
            std::hint::black_box(r.ok());
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
        let (r, l, t) = (
            median(reference_times),
            median(lil_times),
            median(tuned_times),
        );
        let speedup = r.as_secs_f64() / l.as_secs_f64();
        let vs_tuned = t.as_secs_f64() / l.as_secs_f64();
        println!(
            "{name:<12} {r:>12.2?} {l:>12.2?} {speedup:>7.2}x   {rmin:>12.2?} {lmin:>12.2?}   {t:>12.2?} {vs_tuned:>7.2}x   (output {:?})",
            expected.map(|o| o.output),
        );
    }
    if !all_ok {
        std::process::exit(1);
    }
}

/// A match loop shaped like the LIL VM: raw instruction and stack
/// pointers, the top of stack in a local, no bounds checks. Only for
/// verified programs (which is all a `Program` can be).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod tuned {
    use super::CAPACITY;
    use lil_bytecode_vm::{Outcome, Program, reference::Trap};

    pub fn run(program: &Program) -> Result<Outcome, ()> {
        let mut stack = vec![0i64; CAPACITY];
        let code = program.code();
        let mut output = Vec::new();
        // SAFETY: a `Program` is verified by the assembler: every branch,
        // slot and return address stays inside the code and the frame, and
        // the stack limit check below keeps `sp` inside `stack`.
        let result = unsafe {
            go(
                code.as_ptr(),
                &mut stack,
                program.reserve() as usize,
                &mut output,
            )
        };
        result
            .map(|result| Outcome { result, output })
            .map_err(|_: Trap| ())
    }

    unsafe fn go(
        mut ip: *const u8,
        stack: &mut [i64],
        reserve: usize,
        output: &mut Vec<i64>,
    ) -> Result<i64, Trap> {
        unsafe {
            let limit = stack.as_mut_ptr().add(reserve);
            let mut sp = stack.as_mut_ptr().add(stack.len());
            let mut tos: i64 = 0;
            macro_rules! push {
                ($v:expr) => {{
                    let v = $v;
                    sp = sp.sub(1);
                    *sp = tos;
                    tos = v;
                }};
            }
            macro_rules! pop {
                () => {{
                    let v = tos;
                    tos = *sp;
                    sp = sp.add(1);
                    v
                }};
            }
            macro_rules! i32_at {
                ($p:expr) => {
                    i64::from(($p as *const i32).read_unaligned())
                };
            }
            loop {
                let op = *ip;
                ip = ip.add(1);
                match op {
                    0 => return Ok(tos),
                    1 => {}
                    2 => {
                        push!(i32_at!(ip));
                        ip = ip.add(4);
                    }
                    3 => {
                        let _ = pop!();
                    }
                    4 => push!(tos),
                    5 => {
                        let b = pop!();
                        tos = tos.wrapping_add(b);
                    }
                    6 => {
                        let b = pop!();
                        tos = tos.wrapping_sub(b);
                    }
                    7 => {
                        let b = pop!();
                        tos = tos.wrapping_mul(b);
                    }
                    8 => {
                        let b = pop!();
                        tos = i64::from(tos < b);
                    }
                    9 => ip = ip.offset(i32_at!(ip) as isize),
                    10 => {
                        if pop!() == 0 {
                            ip = ip.offset(i32_at!(ip) as isize)
                        } else {
                            ip = ip.add(4)
                        }
                    }
                    11 => {
                        let v = *sp.add(usize::from(*ip));
                        push!(v);
                        ip = ip.add(1);
                    }
                    12 => {
                        *sp.add(usize::from(*ip)) = tos;
                        tos = *sp;
                        sp = sp.add(1);
                        ip = ip.add(1);
                    }
                    13 => {
                        let target = ip.offset(i32_at!(ip) as isize);
                        push!(ip.add(4) as i64);
                        if sp < limit {
                            return Err(Trap::StackOverflow);
                        }
                        ip = target;
                    }
                    14 => {
                        let ra = *sp.add(usize::from(*ip));
                        let drop = usize::from((ip.add(1) as *const u16).read_unaligned());
                        sp = sp.add(drop / 8);
                        ip = ra as *const u8;
                    }
                    15 => {
                        let v = pop!();
                        output.push(v);
                    }
                    _ => return Err(Trap::IllegalOpcode),
                }
            }
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn run(_runs: usize) {
    println!("the native benchmark needs an x86-64 Linux host");
}
