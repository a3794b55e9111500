//! `ts` from a pinned register (`ThreadPointer::Register`), run on both
//! machines: the host keeps its thread structure in a callee-saved register
//! (x86-64 `r12`, AArch64 `x28`) that stubs read and never allocate.
//!
//! No machine calls code with a register pinned, so each test installs a
//! small trampoline that saves the register, loads the thread into it, calls
//! the stub and restores it. The machine's own TLS thread pointer is set to
//! a decoy block: a stub that read TLS instead would see the decoy's values.

use lil_codegen::ThreadPointer;
use lil_machine::{HostSig, Value};
use lil_syntax::Type::{G8, Pint};
use lil_tests::exec::{Expect, Runner, Target};

/// The trampoline for `target`: `pinned` = `thread`, then call `stub` with
/// the arguments untouched, restore `pinned` and return the stub's result.
fn trampoline(target: Target, thread: u64, stub: u64) -> Vec<u8> {
    match target {
        Target::X64 => {
            let mut code = vec![0x41, 0x54]; // push r12 (rsp 16-aligned again)
            code.extend([0x49, 0xBC]); // movabs r12, thread
            code.extend(thread.to_le_bytes());
            code.extend([0x48, 0xB8]); // movabs rax, stub
            code.extend(stub.to_le_bytes());
            code.extend([0xFF, 0xD0]); // call rax
            code.extend([0x41, 0x5C]); // pop r12
            code.push(0xC3); // ret
            code
        }
        Target::Arm64 => {
            let words: [u32; 6] = [
                0xA9BF_7BFC, // stp x28, x30, [sp, #-16]!
                0x5800_00BC, // ldr x28, thread (at 24)
                0x5800_00D0, // ldr x16, stub (at 32)
                0xD63F_0200, // blr x16
                0xA8C1_7BFC, // ldp x28, x30, [sp], #16
                0xD65F_03C0, // ret
            ];
            let mut code: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            code.extend(thread.to_le_bytes());
            code.extend(stub.to_le_bytes());
            code
        }
        Target::Eval => unreachable!("the interpreter runs no machine code"),
    }
}

/// The register each target pins: callee-saved, so host functions keep it.
fn pinned(target: Target) -> u8 {
    match target {
        Target::X64 => 12,
        _ => 28,
    }
}

fn pinned_ts(target: Target) {
    let mut r = Runner::new(target).or_fail("runner");
    let block = r.alloc(64, 16).or_fail("thread block");
    r.write_u64(block, 1000).or_fail("write");
    r.write_u64(block + 8, 7).or_fail("write");
    let decoy = r.alloc(64, 16).or_fail("decoy");
    r.write_u64(decoy, 0xDEC0).or_fail("write");
    r.write_u64(decoy + 8, 0xDEC1).or_fail("write");
    r.set_thread(decoy).or_fail("decoy thread");
    r.env_mut().thread_pointer = ThreadPointer::Register(pinned(target));
    // Doubles its argument; clobbers what a C function may.
    let double = r
        .host_fn(&[G8], Some(G8), |c| Some(Value::int(G8, c.arg(0).bits * 2)))
        .or_fail("host function");
    // Ten locals live across a call: more than the callee-saved registers
    // on x86-64, so the allocator runs out and must still leave the pinned
    // one alone. `ts` is read before and after the call.
    let mut text = String::from("entry 0:platform:g8:g8;\nlocals 12;\nl10 = ts;\n");
    for k in 0..10 {
        text.push_str(&format!("l{k} = i0 + {};\n", k + 1));
    }
    text.push_str(&format!(
        "ld l11, [l10+0:g8];\nout platform:g8:g8;\no0 = l11;\ncall {double:#x};\nl11 = r;\n\
         l10 = ts;\nld l10, [l10+8:g8];\nl11 = l11 + l10;\n"
    ));
    for k in 0..10 {
        text.push_str(&format!("l11 = l11 + l{k};\n"));
    }
    text.push_str("r = l11;\nret;\n");
    let stub = r.compile(text.as_str()).or_fail(&text);
    let code = trampoline(target, block, stub);
    let entry = r.install(&code).or_fail("trampoline");
    let sig = HostSig::new(&[G8], Some(G8));
    for i0 in [0u64, 5, 1 << 40] {
        let got = r.call(entry, &sig, &[Value::int(G8, i0)]).or_fail("call");
        // 2 * 1000 + 7 + sum(i0 + 1 ..= i0 + 10)
        let want = 2007u64.wrapping_add(10 * i0 + 55);
        assert_eq!(got, Some(Value::int(G8, want)), "i0 = {i0}\n{text}");
    }
    // A fast path without calls: Figure 1's shape, reading `ts` once.
    let text = "entry 0:platform:pint:g8; locals 1; l0 = ts; ld r, [l0+8:g8]; r = r + i0:g8; ret;";
    let stub = r.compile(text).or_fail(text);
    let entry = r
        .install(&trampoline(target, block, stub))
        .or_fail("trampoline");
    let got = r
        .call(entry, &HostSig::new(&[Pint], Some(G8)), &[Value::pint(3)])
        .or_fail("call");
    assert_eq!(got, Some(Value::int(G8, 10)), "{text}");
}

#[test]
fn x64() {
    pinned_ts(Target::X64);
}

#[cfg(feature = "emulator")]
#[test]
fn arm64() {
    pinned_ts(Target::Arm64);
}
