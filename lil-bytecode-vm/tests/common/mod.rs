//! What the integration tests share: a VM for each target and the
//! comparison with the reference interpreter.

#![allow(dead_code)]

use lil_bytecode_vm::{LilVm, Outcome, Program, Trap, VmError, reference};
use lil_emu::Arm64Emulator;
use lil_machine::Machine;

/// Stack slots every VM in the tests gets.
pub const CAPACITY: usize = 1 << 12;

/// A VM running AArch64 code under the emulator.
pub fn arm64_vm() -> LilVm<Arm64Emulator> {
    let machine = Arm64Emulator::new().unwrap_or_else(|e| panic!("no emulator: {e}"));
    LilVm::new(machine, CAPACITY).unwrap_or_else(|e| panic!("arm64 VM: {e}"))
}

/// A VM running x86-64 code natively.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub fn x64_vm() -> LilVm<lil_machine::native::NativeMachine> {
    let machine = lil_machine::native::NativeMachine::new()
        .unwrap_or_else(|e| panic!("no native machine: {e}"));
    LilVm::new(machine, CAPACITY).unwrap_or_else(|e| panic!("x64 VM: {e}"))
}

/// Run `program` on `vm`; a trap is a result, any other failure panics.
pub fn run_vm<M: Machine>(vm: &mut LilVm<M>, program: &Program) -> Result<Outcome, Trap> {
    match vm.execute(program) {
        Ok(out) => Ok(out),
        Err(VmError::Trap(t)) => Err(t),
        Err(e) => panic!("the VM failed: {e}"),
    }
}

/// Assert the VM and the reference interpreter agree on `program`.
#[track_caller]
pub fn assert_agrees<M: Machine>(vm: &mut LilVm<M>, name: &str, program: &Program) {
    let expected = reference::run(program, vm.capacity());
    let got = run_vm(vm, program);
    assert_eq!(
        got,
        expected,
        "{name}: the LIL VM and the reference interpreter disagree\n{}",
        program.listing()
    );
}
