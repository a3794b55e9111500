//! Run the benchmarks' programs on the LIL VM on both targets and compare
//! with the reference interpreter:
//!
//! ```text
//! cargo run --release -p lil-bytecode-vm --example demo             # outputs
//! cargo run --release -p lil-bytecode-vm --example demo -- listing  # + every stub's LIL and code
//! ```
//!
//! x86-64 runs natively (fib(30), a 10^8 loop); AArch64 runs under the
//! emulator (fib(15), a 10^5 loop), which also counts the instructions.

use std::error::Error;
use std::time::Instant;

use lil_bytecode_vm::{LilVm, Program, disasm, programs, reference};
use lil_emu::Arm64Emulator;
use lil_machine::Machine;

const CAPACITY: usize = 1 << 16;

fn compare<M: Machine>(
    vm: &mut LilVm<M>,
    target: &str,
    name: &str,
    program: &Program,
) -> Result<(), Box<dyn Error>> {
    let t = Instant::now();
    let expected = reference::run(program, CAPACITY)?;
    let reference_time = t.elapsed();
    let t = Instant::now();
    let got = vm.execute(program)?;
    let lil_time = t.elapsed();
    println!(
        "{target:6} {name:14} output {:?} result {}  (reference {reference_time:.2?}, LIL VM {lil_time:.2?})  {}",
        got.output,
        got.result,
        if got == expected {
            "same as reference"
        } else {
            "DIFFERENT"
        }
    );
    if got != expected {
        return Err(format!("{target} {name}: {got:?} != {expected:?}").into());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let listing = std::env::args().any(|a| a == "listing");

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let mut vm = LilVm::new(lil_machine::native::NativeMachine::new()?, CAPACITY)?;
        compare(&mut vm, "x86-64", "fib(30)", &programs::fib(30))?;
        compare(
            &mut vm,
            "x86-64",
            "count(10^8)",
            &programs::count(100_000_000),
        )?;
        if listing {
            for stub in vm.stubs().all() {
                print!("{}", disasm::listing(vm.stubs().target(), stub));
            }
        }
    }

    let mut vm = LilVm::new(Arm64Emulator::new()?, CAPACITY)?;
    vm.machine_mut().set_count_instructions(true);
    for (name, program) in [
        ("fib(15)", programs::fib(15)),
        ("count(10^5)", programs::count(100_000)),
    ] {
        compare(&mut vm, "arm64", name, &program)?;
        println!(
            "       {:14} {} AArch64 instructions executed",
            "",
            vm.machine_mut().last_instruction_count()
        );
    }
    if listing {
        for stub in vm.stubs().all() {
            print!("{}", disasm::listing(vm.stubs().target(), stub));
        }
    }
    Ok(())
}
