//! `Arm64Emulator` tests with hand-written AArch64 code (dynasm), the same
//! cases `lil-machine/tests/native.rs` runs natively on x86-64, plus
//! instruction counting and LSE atomics.

use std::cell::Cell;
use std::rc::Rc;

use dynasmrt::aarch64::{Aarch64Relocation, RX};
use dynasmrt::{DynasmApi, DynasmLabelApi, VecAssembler, dynasm};
use lil_emu::{Arm64Cpu, Arm64Emulator, CODE_BASE, EXIT};
use lil_machine::{HostSig, Machine, MachineError, ThreadPointerAccess, Value};
use lil_syntax::Type;

type Asm = VecAssembler<Aarch64Relocation>;

/// `mrs` operand of `TPIDR_EL0` (op0=3, op1=3, CRn=13, CRm=0, op2=2).
const TPIDR_EL0: u32 = 0x5e82;

fn assemble(build: impl FnOnce(&mut Asm)) -> Vec<u8> {
    let mut ops = Asm::new(0);
    build(&mut ops);
    ops.finalize().expect("test code assembles")
}

/// movz/movk `reg` = `v`.
fn mov_imm64(ops: &mut Asm, reg: RX, v: u64) {
    dynasm!(ops
        ; .arch aarch64
        ; movz X(reg), (v & 0xffff) as u32
        ; movk X(reg), ((v >> 16) & 0xffff) as u32, lsl 16
        ; movk X(reg), ((v >> 32) & 0xffff) as u32, lsl 32
        ; movk X(reg), ((v >> 48) & 0xffff) as u32, lsl 48
    );
}

/// `blr` to a host function through x16.
fn call_host(ops: &mut Asm, host: u64) {
    mov_imm64(ops, RX::X16, host);
    dynasm!(ops ; .arch aarch64 ; blr x16);
}

fn g8(v: u64) -> Value {
    Value::int(Type::G8, v)
}

fn add8_code() -> Vec<u8> {
    assemble(|ops| {
        dynasm!(ops
            ; .arch aarch64
            ; add x0, x0, x1
            ; add x0, x0, x2
            ; add x0, x0, x3
            ; add x0, x0, x4
            ; add x0, x0, x5
            ; add x0, x0, x6
            ; add x0, x0, x7
            ; ret
        )
    })
}

#[test]
fn eight_integer_arguments() {
    let mut m = Arm64Emulator::new().unwrap();
    let f = m.install(&add8_code()).unwrap();
    let sig = HostSig::new(&[Type::G8; 8], Some(Type::G8));
    let args: Vec<Value> = (1..=8u64).map(|i| g8(i << (i * 4))).collect();
    let expected = (1..=8u64)
        .map(|i| i << (i * 4))
        .fold(0u64, u64::wrapping_add);
    assert_eq!(m.call(f, &sig, &args).unwrap(), Some(g8(expected)));
    let small: Vec<Value> = (1..=8).map(g8).collect();
    assert_eq!(m.call(f, &sig, &small).unwrap(), Some(g8(36)));
}

#[test]
fn integer_arguments_beyond_eight_go_on_an_aligned_stack() {
    let mut m = Arm64Emulator::new().unwrap();
    for n in 8..12usize {
        // (sp & 15) * 1000 + the last argument (x7 or the last stack slot).
        let last_slot = 8 * (n as u32).saturating_sub(9);
        let f = m
            .install(&assemble(|ops| {
                dynasm!(ops ; .arch aarch64 ; mov x9, sp ; and x9, x9, 15 ; movz x10, 1000 ; mul x9, x9, x10);
                if n == 8 {
                    dynasm!(ops ; .arch aarch64 ; add x0, x9, x7 ; ret);
                } else {
                    dynasm!(ops ; .arch aarch64 ; ldr x11, [sp, last_slot] ; add x0, x9, x11 ; ret);
                }
            }))
            .unwrap();
        let sig = HostSig::new(&vec![Type::G8; n], Some(Type::G8));
        let args: Vec<Value> = (0..n as u64).map(|i| g8(100 + i)).collect();
        assert_eq!(
            m.call(f, &sig, &args).unwrap(),
            Some(g8(100 + n as u64 - 1)),
            "{n} arguments"
        );
    }
}

#[test]
fn narrow_and_float_values_cross_the_boundary() {
    let mut m = Arm64Emulator::new().unwrap();
    let fadd = m
        .install(&assemble(
            |ops| dynasm!(ops ; .arch aarch64 ; fadd s0, s0, s1 ; ret),
        ))
        .unwrap();
    let sig = HostSig::new(&[Type::F4, Type::F4], Some(Type::F4));
    assert_eq!(
        m.call(fadd, &sig, &[Value::f4(1.5), Value::f4(2.25)])
            .unwrap(),
        Some(Value::f4(3.75))
    );
    let narrow = m
        .install(&assemble(|ops| {
            mov_imm64(ops, RX::X0, 0x7777_8888_1234_5678);
            dynasm!(ops ; .arch aarch64 ; ret);
        }))
        .unwrap();
    let r = m
        .call(narrow, &HostSig::new(&[], Some(Type::G4)), &[])
        .unwrap()
        .unwrap();
    assert_eq!(r, Value::int(Type::G4, 0x1234_5678));
}

/// 8 g8, 8 f8, then g4, f8, pint, f4: on AArch64 the last four go on the stack.
fn mixed_params() -> Vec<Type> {
    let mut p = vec![Type::G8; 8];
    p.extend([Type::F8; 8]);
    p.extend([Type::G4, Type::F8, Type::Pint, Type::F4]);
    p
}

fn mixed_args() -> Vec<Value> {
    let mut a: Vec<Value> = (0..8u64)
        .map(|i| g8(0x1111_0000_0000_0000 * (i + 1) + i))
        .collect();
    a.extend((0..8).map(|i| Value::f8(0.5 + f64::from(i))));
    a.extend([
        Value::int(Type::G4, 0xffff_fffe),
        Value::f8(-7.25),
        Value::pint(0xdead_beef_0000),
        Value::f4(3.5),
    ]);
    a
}

fn mixed_host(seen: Rc<Cell<u32>>) -> lil_machine::HostFn {
    Box::new(move |call| {
        let expected = mixed_args();
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(call.arg(i), *e, "argument {i}");
        }
        seen.set(seen.get() + 1);
        let sum: f64 = expected
            .iter()
            .filter(|v| v.ty.is_float())
            .map(|v| v.as_f64())
            .sum();
        Some(Value::f8(sum + call.arg(16).as_i64() as f64))
    })
}

#[test]
fn mixed_arguments_through_a_host_call() {
    let mut m = Arm64Emulator::new().unwrap();
    let seen = Rc::new(Cell::new(0));
    let sig = HostSig::new(&mixed_params(), Some(Type::F8));
    let host = m.host_fn(sig.clone(), mixed_host(seen.clone())).unwrap();
    // Forward all 20 arguments: registers stay, the four stack slots are copied.
    let f = m
        .install(&assemble(|ops| {
            dynasm!(ops
                ; .arch aarch64
                ; stp x29, x30, [sp, -16]!
                ; mov x29, sp
                ; sub sp, sp, 32
            );
            for slot in 0..4u32 {
                dynasm!(ops ; .arch aarch64 ; ldr x9, [x29, 16 + 8 * slot] ; str x9, [sp, 8 * slot]);
            }
            call_host(ops, host);
            dynasm!(ops
                ; .arch aarch64
                ; mov sp, x29
                ; ldp x29, x30, [sp], 16
                ; ret
            );
        }))
        .unwrap();
    let r = m.call(f, &sig, &mixed_args()).unwrap().unwrap();
    let expected = (0..8).map(|i| 0.5 + f64::from(i)).sum::<f64>() - 7.25 + 3.5 - 2.0;
    assert_eq!(r, Value::f8(expected));
    assert_eq!(seen.get(), 1);
    assert_eq!(
        m.call(host, &sig, &mixed_args()).unwrap(),
        Some(Value::f8(expected))
    );
    assert_eq!(seen.get(), 2);
}

#[test]
fn host_function_assertion_failure_is_an_execution_error() {
    let mut m = Arm64Emulator::new().unwrap();
    let sig = HostSig::new(&mixed_params(), Some(Type::F8));
    let host = m
        .host_fn(
            sig.clone(),
            Box::new(|call| {
                assert_eq!(
                    call.arg(0),
                    Value::int(Type::G8, 0),
                    "deliberately wrong expectation"
                );
                Some(Value::f8(0.0))
            }),
        )
        .unwrap();
    let err = m.call(host, &sig, &mixed_args()).unwrap_err();
    assert!(
        matches!(&err, MachineError::Execution(msg) if msg.contains("deliberately wrong expectation")),
        "{err:?}"
    );
    let f = m.install(&add8_code()).unwrap();
    let args: Vec<Value> = (1..=8).map(g8).collect();
    assert_eq!(
        m.call(f, &HostSig::new(&[Type::G8; 8], Some(Type::G8)), &args)
            .unwrap(),
        Some(g8(36))
    );
}

#[test]
fn loads_and_stores_to_machine_memory() {
    let mut m = Arm64Emulator::new().unwrap();
    let p = m.alloc(64, 16).unwrap();
    assert_eq!(p % 16, 0);
    assert_eq!(m.read_u64(p + 8).unwrap(), 0, "alloc is zeroed");
    m.write_u64(p, 40).unwrap();
    let f = m
        .install(&assemble(|ops| {
            dynasm!(ops
                ; .arch aarch64
                ; ldr x2, [x0]
                ; add x2, x2, x1
                ; str x2, [x0, 8]
                ; str w1, [x0, 16]
                ; ldr x0, [x0, 8]
                ; ret
            )
        }))
        .unwrap();
    let sig = HostSig::new(&[Type::Pint, Type::G8], Some(Type::G8));
    assert_eq!(
        m.call(f, &sig, &[Value::pint(p), g8(0x1_0000_0002)])
            .unwrap(),
        Some(g8(0x1_0000_002a))
    );
    assert_eq!(m.read_u64(p + 8).unwrap(), 0x1_0000_002a);
    let mut four = [0u8; 8];
    m.read(p + 16, &mut four).unwrap();
    assert_eq!(four, [2, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        m.read_u64(CODE_BASE),
        Err(MachineError::BadAccess { .. })
    ));
    assert!(matches!(
        m.write_u64(p + 60, 1),
        Err(MachineError::BadAccess { .. })
    ));
    assert!(matches!(
        m.read_u64(u64::MAX - 3),
        Err(MachineError::BadAccess { .. })
    ));
    let big = m.alloc(3 << 20, 4096).unwrap();
    assert_eq!(big % 4096, 0);
    m.write_u64(big + (3 << 20) - 8, 7).unwrap();
    assert_eq!(m.read_u64(big + (3 << 20) - 8).unwrap(), 7);
    assert!(matches!(
        m.alloc(1 << 30, 8),
        Err(MachineError::OutOfMemory)
    ));
}

#[test]
fn thread_pointer_from_tpidr_el0() {
    let mut m = Arm64Emulator::new().unwrap();
    assert_eq!(
        m.thread_pointer_access(),
        ThreadPointerAccess::TlsSlot { offset: 0 }
    );
    let f = m
        .install(&assemble(
            |ops| dynasm!(ops ; .arch aarch64 ; mrs x16, TPIDR_EL0 ; ldr x0, [x16] ; ret),
        ))
        .unwrap();
    let sig = HostSig::new(&[], Some(Type::Pint));
    m.set_thread_pointer(0x1234_5678_9abc_def0).unwrap();
    assert_eq!(
        m.call(f, &sig, &[]).unwrap(),
        Some(Value::pint(0x1234_5678_9abc_def0))
    );
    m.set_thread_pointer(42).unwrap();
    assert_eq!(m.call(f, &sig, &[]).unwrap(), Some(Value::pint(42)));
}

/// `g8 f(pint p)`: sets callee-saved registers, calls `host`, then stores 1
/// to `[p]` and returns 7.
fn call_then_store(host: u64) -> Vec<u8> {
    assemble(|ops| {
        dynasm!(ops
            ; .arch aarch64
            ; stp x29, x30, [sp, -32]!
            ; mov x29, sp
            ; str x19, [sp, 16]
            ; mov x19, x0
        );
        call_host(ops, host);
        dynasm!(ops
            ; .arch aarch64
            ; movz x9, 1
            ; str x9, [x19]
            ; movz x0, 7
            ; ldr x19, [sp, 16]
            ; ldp x29, x30, [sp], 32
            ; ret
        );
    })
}

#[test]
fn host_function_returning_none_unwinds_the_call() {
    let mut m = Arm64Emulator::new().unwrap();
    let throw = Rc::new(Cell::new(true));
    let t = throw.clone();
    let host = m
        .host_fn(
            HostSig::new(&[Type::Pint], None),
            Box::new(move |_| if t.get() { None } else { Some(g8(0)) }),
        )
        .unwrap();
    let f = m.install(&call_then_store(host)).unwrap();
    let p = m.alloc(8, 8).unwrap();
    let sig = HostSig::new(&[Type::Pint], Some(Type::G8));
    for _ in 0..3 {
        let err = m.call(f, &sig, &[Value::pint(p)]).unwrap_err();
        assert!(
            matches!(err, MachineError::Unwound(a) if a == host),
            "{err:?}"
        );
        assert_eq!(
            m.read_u64(p).unwrap(),
            0,
            "the code after the host call did not run"
        );
    }
    throw.set(false);
    assert_eq!(m.call(f, &sig, &[Value::pint(p)]).unwrap(), Some(g8(7)));
    assert_eq!(m.read_u64(p).unwrap(), 1);
}

#[test]
fn panicking_host_function_unwinds_as_an_execution_error() {
    let mut m = Arm64Emulator::new().unwrap();
    let host = m
        .host_fn(
            HostSig::new(&[Type::Pint], None),
            Box::new(|_| panic!("host exploded")),
        )
        .unwrap();
    let f = m.install(&call_then_store(host)).unwrap();
    let p = m.alloc(8, 8).unwrap();
    let err = m
        .call(
            f,
            &HostSig::new(&[Type::Pint], Some(Type::G8)),
            &[Value::pint(p)],
        )
        .unwrap_err();
    assert!(
        matches!(&err, MachineError::Execution(msg) if msg.contains("host exploded")),
        "{err:?}"
    );
    assert_eq!(m.read_u64(p).unwrap(), 0);
}

#[test]
fn host_function_writes_machine_memory() {
    let mut m = Arm64Emulator::new().unwrap();
    let p = m.alloc(32, 8).unwrap();
    m.write_u64(p, 5).unwrap();
    let host = m
        .host_fn(
            HostSig::new(&[Type::Pint, Type::G8], None),
            Box::new(|call| {
                let p = call.arg(0).bits;
                let v = call.read_u64(p).ok()? * call.arg(1).bits;
                call.write_u64(p + 8, v).ok()?;
                assert!(matches!(
                    call.write_u64(8, 1),
                    Err(MachineError::BadAccess { addr: 8, len: 8 })
                ));
                Some(Value::int(Type::G8, 0))
            }),
        )
        .unwrap();
    let f = m
        .install(&assemble(|ops| {
            dynasm!(ops
                ; .arch aarch64
                ; stp x29, x30, [sp, -32]!
                ; mov x29, sp
                ; str x19, [sp, 16]
                ; mov x19, x0
            );
            call_host(ops, host);
            dynasm!(ops
                ; .arch aarch64
                ; ldr x0, [x19, 8]
                ; ldr x19, [sp, 16]
                ; ldp x29, x30, [sp], 32
                ; ret
            );
        }))
        .unwrap();
    let sig = HostSig::new(&[Type::Pint, Type::G8], Some(Type::G8));
    assert_eq!(
        m.call(f, &sig, &[Value::pint(p), g8(9)]).unwrap(),
        Some(g8(45))
    );
    assert_eq!(m.read_u64(p + 8).unwrap(), 45);
}

#[test]
fn faults_are_execution_errors_with_the_pc() {
    let mut m = Arm64Emulator::new().unwrap();
    // ldr x0, [x0] from an unmapped address
    let f = m
        .install(&assemble(
            |ops| dynasm!(ops ; .arch aarch64 ; nop ; ldr x0, [x0] ; ret),
        ))
        .unwrap();
    let err = m
        .call(
            f,
            &HostSig::new(&[Type::Pint], Some(Type::G8)),
            &[Value::pint(0x10)],
        )
        .unwrap_err();
    let pc = format!("pc {:#x}", f + 4);
    assert!(
        matches!(&err, MachineError::Execution(msg) if msg.contains(&pc)),
        "{err:?}"
    );
    // Still usable.
    let g = m.install(&add8_code()).unwrap();
    let args: Vec<Value> = (1..=8).map(g8).collect();
    assert_eq!(
        m.call(g, &HostSig::new(&[Type::G8; 8], Some(Type::G8)), &args)
            .unwrap(),
        Some(g8(36))
    );
}

#[test]
fn calls_are_checked_before_entering_code() {
    let mut m = Arm64Emulator::new().unwrap();
    let f = m.install(&add8_code()).unwrap();
    let sig = HostSig::new(&[Type::G8; 8], Some(Type::G8));
    assert!(matches!(
        m.call(f, &sig, &[g8(1)]),
        Err(MachineError::Execution(_))
    ));
    let wrong: Vec<Value> = (0..8).map(|_| Value::f8(1.0)).collect();
    assert!(matches!(
        m.call(f, &sig, &wrong),
        Err(MachineError::Execution(_))
    ));
}

/// `g8 f(g8 n)`, n >= 1: counts to n; executes 3n + 3 instructions.
fn count_loop() -> Vec<u8> {
    assemble(|ops| {
        dynasm!(ops
            ; .arch aarch64
            ; movz x1, 0
            ; top:
            ; add x1, x1, 1
            ; cmp x1, x0
            ; b.lo <top
            ; mov x0, x1
            ; ret
        )
    })
}

#[test]
fn counts_instructions_in_the_code_region_only() {
    let mut m = Arm64Emulator::new().unwrap();
    let f = m.install(&count_loop()).unwrap();
    let sig = HostSig::new(&[Type::G8], Some(Type::G8));
    assert_eq!(m.call(f, &sig, &[g8(1000)]).unwrap(), Some(g8(1000)));
    assert_eq!(m.last_instruction_count(), 0, "counting is off by default");
    m.set_count_instructions(true);
    for n in [1u64, 1000, 12345] {
        assert_eq!(m.call(f, &sig, &[g8(n)]).unwrap(), Some(g8(n)));
        assert_eq!(m.last_instruction_count(), 3 * n + 3);
    }
    // A host call: the slot's `ret` is not counted.
    let host = m
        .host_fn(HostSig::new(&[], None), Box::new(|_| Some(g8(0))))
        .unwrap();
    let g = m
        .install(&assemble(|ops| {
            dynasm!(ops ; .arch aarch64 ; stp x29, x30, [sp, -16]! ; mov x29, sp);
            call_host(ops, host); // 4 movz/movk + blr
            dynasm!(ops ; .arch aarch64 ; ldp x29, x30, [sp], 16 ; ret);
        }))
        .unwrap();
    m.call(g, &HostSig::new(&[], None), &[]).unwrap();
    assert_eq!(m.last_instruction_count(), 2 + 5 + 2);
    m.set_count_instructions(false);
    assert_eq!(m.call(f, &sig, &[g8(10)]).unwrap(), Some(g8(10)));
    assert_eq!(m.last_instruction_count(), 0);
}

/// `g8 f(pint p, g8 expected, g8 new)`: casal; returns the old value.
fn casal_code() -> Vec<u8> {
    assemble(|ops| dynasm!(ops ; .arch aarch64 ; casal x1, x2, [x0] ; mov x0, x1 ; ret))
}

#[test]
fn lse_casal_runs_on_a_cpu_with_lse() {
    let mut m = Arm64Emulator::builder().with_lse(true).build().unwrap();
    assert_eq!(m.cpu(), Arm64Cpu::Max);
    let f = m.install(&casal_code()).unwrap();
    let p = m.alloc(8, 8).unwrap();
    m.write_u64(p, 5).unwrap();
    let sig = HostSig::new(&[Type::Pint, Type::G8, Type::G8], Some(Type::G8));
    assert_eq!(
        m.call(f, &sig, &[Value::pint(p), g8(5), g8(9)]).unwrap(),
        Some(g8(5))
    );
    assert_eq!(m.read_u64(p).unwrap(), 9, "compare succeeded: stored");
    assert_eq!(
        m.call(f, &sig, &[Value::pint(p), g8(5), g8(11)]).unwrap(),
        Some(g8(9))
    );
    assert_eq!(m.read_u64(p).unwrap(), 9, "compare failed: unchanged");
}

#[test]
fn lse_casal_is_undefined_on_cortex_a72() {
    let mut m = Arm64Emulator::new().unwrap();
    assert_eq!(m.cpu(), Arm64Cpu::CortexA72);
    let f = m.install(&casal_code()).unwrap();
    let p = m.alloc(8, 8).unwrap();
    let sig = HostSig::new(&[Type::Pint, Type::G8, Type::G8], Some(Type::G8));
    assert!(matches!(
        m.call(f, &sig, &[Value::pint(p), g8(0), g8(9)]),
        Err(MachineError::Execution(_))
    ));
    assert_eq!(m.read_u64(p).unwrap(), 0);
}

#[test]
fn reinstalled_code_at_a_new_address_runs() {
    let mut m = Arm64Emulator::new().unwrap();
    let sig = HostSig::new(&[], Some(Type::G8));
    for v in 0..5u32 {
        let before = m.next_install_address();
        let f = m
            .install(&assemble(
                |ops| dynasm!(ops ; .arch aarch64 ; movz x0, v ; ret),
            ))
            .unwrap();
        assert_eq!(f, before);
        assert_eq!(m.call(f, &sig, &[]).unwrap(), Some(g8(u64::from(v))));
    }
    assert!(m.next_install_address() > CODE_BASE && EXIT > CODE_BASE);
}

#[test]
fn emulated_call_cost() {
    let mut m = Arm64Emulator::new().unwrap();
    let host = m
        .host_fn(
            HostSig::new(&[Type::G8], Some(Type::G8)),
            Box::new(|call| Some(g8(call.arg(0).bits.wrapping_mul(3)))),
        )
        .unwrap();
    let f = m
        .install(&assemble(|ops| {
            dynasm!(ops ; .arch aarch64 ; stp x29, x30, [sp, -16]! ; mov x29, sp);
            call_host(ops, host);
            dynasm!(ops ; .arch aarch64 ; add x0, x0, 1 ; ldp x29, x30, [sp], 16 ; ret);
        }))
        .unwrap();
    let plain = m
        .install(&assemble(
            |ops| dynasm!(ops ; .arch aarch64 ; add x0, x0, 1 ; ret),
        ))
        .unwrap();
    let sig = HostSig::new(&[Type::G8], Some(Type::G8));
    let n = 20_000u64;
    let start = std::time::Instant::now();
    for i in 0..n {
        assert_eq!(m.call(f, &sig, &[g8(i)]).unwrap(), Some(g8(3 * i + 1)));
    }
    let with_host = start.elapsed();
    let start = std::time::Instant::now();
    for i in 0..n {
        assert_eq!(m.call(plain, &sig, &[g8(i)]).unwrap(), Some(g8(i + 1)));
    }
    println!(
        "emulated call with one host call: {:.2} us; without: {:.2} us",
        with_host.as_secs_f64() * 1e6 / n as f64,
        start.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

/// A host function called with sp not a multiple of 16 fails the call
/// with an error saying so: every host call a stub makes in any test
/// checks the stub's alignment.
#[test]
fn host_call_with_a_misaligned_stack_is_an_error() {
    let mut m = Arm64Emulator::new().unwrap();
    let host = m
        .host_fn(HostSig::new(&[], Some(Type::G8)), Box::new(|_| Some(g8(1))))
        .unwrap();
    let code = |adjust: u32| {
        assemble(|ops| {
            dynasm!(ops
                ; .arch aarch64
                ; stp x29, x30, [sp, #-16]!
                ; sub sp, sp, adjust
            );
            call_host(ops, host);
            dynasm!(ops
                ; .arch aarch64
                ; add sp, sp, adjust
                ; ldp x29, x30, [sp], #16
                ; ret
            );
        })
    };
    let sig = HostSig::new(&[], Some(Type::G8));
    let good = m.install(&code(16)).unwrap();
    assert_eq!(m.call(good, &sig, &[]).unwrap(), Some(g8(1)));
    let bad = m.install(&code(8)).unwrap();
    let err = m.call(bad, &sig, &[]).unwrap_err();
    assert!(
        matches!(&err, MachineError::Execution(msg) if msg.contains("not a multiple of 16")),
        "{err:?}"
    );
}
