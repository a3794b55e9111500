//! `NativeMachine` tests with hand-written x86-64 code (dynasm), the same
//! cases `lil-emu/tests/emu.rs` runs on the AArch64 emulator.

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::cell::Cell;
use std::rc::Rc;

use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynasmApi, DynasmLabelApi, VecAssembler, dynasm};
use lil_machine::native::NativeMachine;
use lil_machine::{HostSig, Machine, MachineError, ThreadPointerAccess, Value};
use lil_syntax::Type;

type Asm = VecAssembler<X64Relocation>;

fn assemble(build: impl FnOnce(&mut Asm)) -> Vec<u8> {
    let mut ops = Asm::new(0);
    build(&mut ops);
    ops.finalize().expect("test code assembles")
}

fn g8(v: u64) -> Value {
    Value::int(Type::G8, v)
}

/// `g8 f(g8 x8)`: the sum of its eight arguments (two on the stack).
fn add8_code() -> Vec<u8> {
    assemble(|ops| {
        dynasm!(ops
            ; .arch x64
            ; mov rax, rdi
            ; add rax, rsi
            ; add rax, rdx
            ; add rax, rcx
            ; add rax, r8
            ; add rax, r9
            ; add rax, [rsp + 8]
            ; add rax, [rsp + 16]
            ; ret
        )
    })
}

#[test]
fn eight_integer_arguments_two_on_the_stack() {
    let mut m = NativeMachine::new().unwrap();
    let f = m.install(&add8_code()).unwrap();
    let sig = HostSig::new(&[Type::G8; 8], Some(Type::G8));
    let args: Vec<Value> = (1..=8u64).map(|i| g8(i << (i * 4))).collect();
    let expected = (1..=8u64)
        .map(|i| i << (i * 4))
        .fold(0u64, u64::wrapping_add);
    assert_eq!(m.call(f, &sig, &args).unwrap(), Some(g8(expected)));
    // Calls are repeatable and independent.
    let small: Vec<Value> = (1..=8).map(g8).collect();
    assert_eq!(m.call(f, &sig, &small).unwrap(), Some(g8(36)));
}

#[test]
fn stack_is_sixteen_byte_aligned_at_the_call_with_odd_stack_arguments() {
    let mut m = NativeMachine::new().unwrap();
    // rsp + 8 at entry is the caller's rsp at the call: return its
    // misalignment * 1000 + the last argument (in r9 or the last stack slot).
    let misalignment = |ops: &mut Asm| dynasm!(ops ; .arch x64 ; lea rax, [rsp + 8] ; and eax, 15 ; imul eax, eax, 1000);
    let in_register = m.install(&assemble(|ops| {
        misalignment(ops);
        dynasm!(ops ; .arch x64 ; add rax, r9 ; ret)
    }));
    let in_register = in_register.unwrap();
    for n in 6..10usize {
        let last_slot = 8 * (n as i32 - 6);
        let f = if n == 6 {
            in_register
        } else {
            m.install(&assemble(|ops| {
                misalignment(ops);
                dynasm!(ops ; .arch x64 ; add rax, [rsp + last_slot] ; ret)
            }))
            .unwrap()
        };
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
    let mut m = NativeMachine::new().unwrap();
    // f4 f(f4 a, f4 b) = a + b
    let addss = m
        .install(&assemble(
            |ops| dynasm!(ops ; .arch x64 ; addss xmm0, xmm1 ; ret),
        ))
        .unwrap();
    let sig = HostSig::new(&[Type::F4, Type::F4], Some(Type::F4));
    assert_eq!(
        m.call(addss, &sig, &[Value::f4(1.5), Value::f4(2.25)])
            .unwrap(),
        Some(Value::f4(3.75))
    );
    // g4 f() returns rax with garbage above bit 31: the value is its low 32 bits.
    let narrow = m
        .install(&assemble(
            |ops| dynasm!(ops ; .arch x64 ; mov rax, QWORD 0x7777_8888_1234_5678 ; ret),
        ))
        .unwrap();
    let sig = HostSig::new(&[], Some(Type::G4));
    let r = m.call(narrow, &sig, &[]).unwrap().unwrap();
    assert_eq!(r, Value::int(Type::G4, 0x1234_5678));
    assert_eq!(r.bits, 0x1234_5678);
}

/// The 20 parameters of the mixed test: 8 g8, 8 f8, then g4, f8, pint, f4
/// (on x86-64 the last two g8 and these four go on the stack).
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

/// Checks every argument; returns the f8 sum of the float arguments plus
/// the (signed) g4 one.
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
    let mut m = NativeMachine::new().unwrap();
    let seen = Rc::new(Cell::new(0));
    let sig = HostSig::new(&mixed_params(), Some(Type::F8));
    let host = m.host_fn(sig.clone(), mixed_host(seen.clone())).unwrap();
    // Forward all 20 arguments: the registers are already in place, the six
    // stack slots are pushed again (48 bytes keep the alignment).
    let f = m
        .install(&assemble(|ops| {
            dynasm!(ops ; .arch x64 ; push rbp ; mov rbp, rsp);
            for slot in (0..6).rev() {
                dynasm!(ops ; .arch x64 ; push QWORD [rbp + 16 + 8 * slot]);
            }
            dynasm!(ops
                ; .arch x64
                ; mov rax, QWORD host as i64
                ; call rax
                ; mov rsp, rbp
                ; pop rbp
                ; ret
            );
        }))
        .unwrap();
    let r = m.call(f, &sig, &mixed_args()).unwrap().unwrap();
    let expected = (0..8).map(|i| 0.5 + f64::from(i)).sum::<f64>() - 7.25 + 3.5 - 2.0;
    assert_eq!(r, Value::f8(expected));
    assert_eq!(seen.get(), 1);
    // The host function is also callable directly, as ordinary code.
    assert_eq!(
        m.call(host, &sig, &mixed_args()).unwrap(),
        Some(Value::f8(expected))
    );
    assert_eq!(seen.get(), 2);
}

#[test]
fn host_function_assertion_failure_is_an_execution_error() {
    let mut m = NativeMachine::new().unwrap();
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
    // The machine is still usable afterwards.
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
    let mut m = NativeMachine::new().unwrap();
    let p = m.alloc(64, 16).unwrap();
    assert_eq!(p % 16, 0);
    assert_eq!(m.read_u64(p + 8).unwrap(), 0, "alloc is zeroed");
    m.write_u64(p, 40).unwrap();
    // g8 f(pint p, g8 v): [p+8] = [p] + v; [p+16] (g4) = v; return [p+8]
    let f = m
        .install(&assemble(|ops| {
            dynasm!(ops
                ; .arch x64
                ; mov rax, [rdi]
                ; add rax, rsi
                ; mov [rdi + 8], rax
                ; mov [rdi + 16], esi
                ; mov rax, [rdi + 8]
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
    // Accesses outside the machine's allocations are refused.
    let outside = Box::new(0u64);
    let addr = &*outside as *const u64 as u64;
    assert!(matches!(
        m.read_u64(addr),
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
    // Many and large allocations stay disjoint and aligned.
    let big = m.alloc(3 << 20, 4096).unwrap();
    assert_eq!(big % 4096, 0);
    m.write_u64(big + (3 << 20) - 8, 7).unwrap();
    assert_eq!(m.read_u64(big + (3 << 20) - 8).unwrap(), 7);
    assert_eq!(m.read_u64(p).unwrap(), 40);
}

#[test]
fn thread_pointer_from_the_tls_slot() {
    let mut m = NativeMachine::new().unwrap();
    let ThreadPointerAccess::TlsSlot { offset } = m.thread_pointer_access() else {
        panic!("a Rust test binary on x86-64 Linux has its TLS cell in static TLS");
    };
    // mov rax, fs:[offset] (absolute disp32, no base register)
    let f = m
        .install(&assemble(
            |ops| dynasm!(ops ; .arch x64 ; fs mov rax, QWORD [offset] ; ret),
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
    // A second machine on the same thread keeps its own thread pointer.
    let mut other = NativeMachine::new().unwrap();
    other.set_thread_pointer(7).unwrap();
    let g = other
        .install(&assemble(
            |ops| dynasm!(ops ; .arch x64 ; fs mov rax, QWORD [offset] ; ret),
        ))
        .unwrap();
    assert_eq!(other.call(g, &sig, &[]).unwrap(), Some(Value::pint(7)));
    assert_eq!(m.call(f, &sig, &[]).unwrap(), Some(Value::pint(42)));
}

#[test]
fn thread_pointer_from_a_host_call() {
    let mut m = NativeMachine::with_thread_pointer_call().unwrap();
    let ThreadPointerAccess::Call { function } = m.thread_pointer_access() else {
        panic!("with_thread_pointer_call must give ThreadPointerAccess::Call");
    };
    let f = m
        .install(&assemble(|ops| {
            dynasm!(ops
                ; .arch x64
                ; sub rsp, 8
                ; mov rax, QWORD function as i64
                ; call rax
                ; add rsp, 8
                ; ret
            )
        }))
        .unwrap();
    let sig = HostSig::new(&[], Some(Type::Pint));
    m.set_thread_pointer(0xfeed_f00d).unwrap();
    assert_eq!(
        m.call(f, &sig, &[]).unwrap(),
        Some(Value::pint(0xfeed_f00d))
    );
    m.set_thread_pointer(99).unwrap();
    assert_eq!(m.call(f, &sig, &[]).unwrap(), Some(Value::pint(99)));
}

/// `g8 f(pint p)`: sets callee-saved registers, calls `host`, then stores 1
/// to `[p]` and returns 7.
fn call_then_store(host: u64) -> Vec<u8> {
    assemble(|ops| {
        dynasm!(ops
            ; .arch x64
            ; push rbx
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            ; mov rbx, rdi
            ; mov r12, 0x1212
            ; mov r13, 0x1313
            ; mov r14, 0x1414
            ; mov r15, 0x1515
            ; mov rax, QWORD host as i64
            ; call rax
            ; mov QWORD [rbx], 1
            ; mov eax, 7
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbx
            ; ret
        )
    })
}

#[test]
fn host_function_returning_none_unwinds_the_call() {
    let mut m = NativeMachine::new().unwrap();
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
    // Callee-saved registers and the Rust stack survived: a normal call works.
    throw.set(false);
    assert_eq!(m.call(f, &sig, &[Value::pint(p)]).unwrap(), Some(g8(7)));
    assert_eq!(m.read_u64(p).unwrap(), 1);
}

#[test]
fn panicking_host_function_unwinds_as_an_execution_error() {
    let mut m = NativeMachine::new().unwrap();
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
    let mut m = NativeMachine::new().unwrap();
    let p = m.alloc(32, 8).unwrap();
    m.write_u64(p, 5).unwrap();
    // void h(pint p, g8 v): [p+8] = [p] * v, and checks that it cannot touch
    // memory outside the machine.
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
    // g8 f(pint p, g8 v): h(p, v); return [p+8]
    let f = m
        .install(&assemble(|ops| {
            dynasm!(ops
                ; .arch x64
                ; push rbx
                ; mov rbx, rdi
                ; mov rax, QWORD host as i64
                ; call rax
                ; mov rax, [rbx + 8]
                ; pop rbx
                ; ret
            )
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
fn calls_are_checked_before_entering_code() {
    let mut m = NativeMachine::new().unwrap();
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
    let not_code = m.alloc(16, 16).unwrap();
    assert!(matches!(
        m.call(not_code, &sig, &[g8(0); 8]),
        Err(MachineError::Execution(_))
    ));
}

#[test]
fn many_host_calls_cost() {
    let mut m = NativeMachine::new().unwrap();
    let host = m
        .host_fn(
            HostSig::new(&[Type::G8, Type::G8], Some(Type::G8)),
            Box::new(|call| {
                Some(g8(call
                    .arg(0)
                    .bits
                    .wrapping_mul(3)
                    .wrapping_add(call.arg(1).bits)))
            }),
        )
        .unwrap();
    // g8 f(g8 n): loop n times x = h(x, 1); return x
    let f = m
        .install(&assemble(|ops| {
            dynasm!(ops
                ; .arch x64
                ; push rbx
                ; push r12
                ; sub rsp, 8
                ; mov rbx, rdi
                ; xor r12d, r12d
                ; test rbx, rbx
                ; jz >done
                ; top:
                ; mov rdi, r12
                ; mov esi, 1
                ; mov rax, QWORD host as i64
                ; call rax
                ; mov r12, rax
                ; dec rbx
                ; jnz <top
                ; done:
                ; mov rax, r12
                ; add rsp, 8
                ; pop r12
                ; pop rbx
                ; ret
            )
        }))
        .unwrap();
    let sig = HostSig::new(&[Type::G8], Some(Type::G8));
    let n = 200_000u64;
    let start = std::time::Instant::now();
    let r = m.call(f, &sig, &[g8(n)]).unwrap().unwrap();
    let elapsed = start.elapsed();
    let expected = (0..n).fold(0u64, |x, _| x.wrapping_mul(3).wrapping_add(1));
    assert_eq!(r.bits, expected);
    let empty = m
        .install(&assemble(
            |ops| dynasm!(ops ; .arch x64 ; mov rax, rdi ; ret),
        ))
        .unwrap();
    let start_calls = std::time::Instant::now();
    for i in 0..20_000u64 {
        assert_eq!(m.call(empty, &sig, &[g8(i)]).unwrap(), Some(g8(i)));
    }
    println!(
        "native host call: {:.1} ns; native Machine::call: {:.1} ns",
        elapsed.as_nanos() as f64 / n as f64,
        start_calls.elapsed().as_nanos() as f64 / 20_000.0
    );
}

/// A host function called with the stack misaligned (System V wants a
/// multiple of 16 at the `call`) fails the call with an error saying so:
/// every host call a stub makes in any test checks the stub's alignment.
#[test]
fn host_call_with_a_misaligned_stack_is_an_error() {
    let mut m = NativeMachine::new().unwrap();
    let host = m
        .host_fn(HostSig::new(&[], Some(Type::G8)), Box::new(|_| Some(g8(1))))
        .unwrap();
    let code = |misalign: bool| {
        assemble(|ops| {
            // On entry rsp is 8 mod 16: `sub 8` aligns it, `sub 16` does not.
            let adjust = if misalign { 16 } else { 8 };
            dynasm!(ops
                ; .arch x64
                ; sub rsp, adjust
                ; mov rax, QWORD host as i64
                ; call rax
                ; add rsp, adjust
                ; ret
            );
        })
    };
    let sig = HostSig::new(&[], Some(Type::G8));
    let good = m.install(&code(false)).unwrap();
    assert_eq!(m.call(good, &sig, &[]).unwrap(), Some(g8(1)));
    let bad = m.install(&code(true)).unwrap();
    let err = m.call(bad, &sig, &[]).unwrap_err();
    assert!(
        matches!(&err, MachineError::Execution(msg) if msg.contains("misaligned")),
        "{err:?}"
    );
}
