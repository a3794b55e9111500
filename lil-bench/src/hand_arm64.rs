//! The AArch64 peers written by hand with `dynasm!`: what an expert writes
//! for each stub under AAPCS64, with the same `ts` access
//! (`mrs tpidr_el0` + load), the same M2N frame layout
//! ([`lil_codegen::M2nFrame`]: x19–x28 in `saved_gp`, d8–d15 in `saved_fp`
//! for `m2n_save_all`) and the same standard places (`sp0` = x9).
//!
//! Forced by LIL's semantics, and so here too: the `g4` size of Figure 1 is
//! zero-extended (AAPCS64 leaves the upper half of a 32-bit argument
//! unspecified: here it is the `uxtw` of the `add`); the `arbitrary` compile-me
//! stub saves x0–x7 and d0–d7, whatever the signature. Expert idioms used:
//! `ldp`/`stp` for adjacent words, `cbz`/`cbnz` for comparisons with zero,
//! extended-register operands, the frame record read with one `ldp`.
//!
//! Invariant: position independent (absolute addresses are `movz`/`movk`
//! immediates, branches are relative); scratch registers are x13–x17, so
//! the standard places (x9–x12) and the arguments survive until used.

// `dynasm!` converts register numbers with `.into()` even when they are u8.
#![allow(clippy::useless_conversion)]

use dynasmrt::aarch64::Aarch64Relocation;
use dynasmrt::{DynasmApi, DynasmError, DynasmLabelApi, VecAssembler, dynasm};
use lil_codegen::m2n::offsets as m2n;

use crate::stubs::{Params, StubKind};

type Asm = VecAssembler<Aarch64Relocation>;

/// The hand-written AArch64 code of `stub`.
pub fn emit(stub: StubKind, p: &Params) -> Result<Vec<u8>, DynasmError> {
    match stub {
        StubKind::Fig1Alloc => fig1_alloc(p),
        StubKind::InstanceOf => instanceof(p),
        StubKind::JniPow => jni_pow(p),
        StubKind::CompileMe => compile_me_generic(p),
        StubKind::MonitorEnter => monitor_enter(p),
    }
}

/// Size of the M2N frame, rounded to keep `sp` 16-byte aligned.
const M2N_SIZE: u32 = (m2n::SIZE + 15) & !15;

/// `reg = value` in the fewest `movz`/`movk` (zero halfwords skipped).
fn mov_imm(ops: &mut Asm, reg: u8, value: u64) {
    let mut first = true;
    for shift in 0..4u32 {
        let half = ((value >> (16 * shift)) & 0xffff) as u32;
        if half == 0 && !(first && shift == 3) {
            continue;
        }
        match (first, shift) {
            (true, 0) => dynasm!(ops ; .arch aarch64 ; movz X(reg), half),
            (true, 1) => dynasm!(ops ; .arch aarch64 ; movz X(reg), half, lsl 16),
            (true, 2) => dynasm!(ops ; .arch aarch64 ; movz X(reg), half, lsl 32),
            (true, _) => dynasm!(ops ; .arch aarch64 ; movz X(reg), half, lsl 48),
            (false, 0) => dynasm!(ops ; .arch aarch64 ; movk X(reg), half),
            (false, 1) => dynasm!(ops ; .arch aarch64 ; movk X(reg), half, lsl 16),
            (false, 2) => dynasm!(ops ; .arch aarch64 ; movk X(reg), half, lsl 32),
            (false, _) => dynasm!(ops ; .arch aarch64 ; movk X(reg), half, lsl 48),
        }
        first = false;
    }
}

/// `ldr xt, [xn, #offset]`, scaled or unscaled as the offset allows, else
/// through x17.
fn ldr(ops: &mut Asm, rt: u8, rn: u8, offset: i32) {
    if offset >= 0 && offset % 8 == 0 && offset / 8 <= 4095 {
        dynasm!(ops ; .arch aarch64 ; ldr X(rt), [X(rn), offset as u32]);
    } else if (-256..=255).contains(&offset) {
        dynasm!(ops ; .arch aarch64 ; ldur X(rt), [X(rn), offset]);
    } else {
        mov_imm(ops, 17, offset as i64 as u64);
        dynasm!(ops ; .arch aarch64 ; ldr X(rt), [X(rn), x17]);
    }
}

/// `ts` into `rt` (clobbers x16).
fn thread_pointer(ops: &mut Asm, p: &Params, rt: u8) {
    // mrs x16, tpidr_el0
    dynasm!(ops ; .arch aarch64 ; mrs x16, 0x5e82);
    ldr(ops, rt, 16, p.tls_offset);
}

/// `call address` (clobbers x16).
fn call(ops: &mut Asm, address: u64) {
    mov_imm(ops, 16, address);
    dynasm!(ops ; .arch aarch64 ; blr x16);
}

/// Frame record, then `size` bytes (a multiple of 16) below it.
fn prologue(ops: &mut Asm, size: u32) {
    dynasm!(ops ; .arch aarch64
        ; stp x29, x30, [sp, -16]!
        ; mov x29, sp
        ; sub sp, sp, size
    );
}

fn epilogue(ops: &mut Asm) {
    dynasm!(ops ; .arch aarch64 ; mov sp, x29 ; ldp x29, x30, [sp], 16);
}

/// Fill the M2N frame at `[sp]` and link it as the thread's newest frame.
/// Clobbers x13–x16. `handles_later`: the caller stores `local_handles`.
fn push_m2n(ops: &mut Asm, p: &Params, method: u64, frame_type: u64, handles_later: bool) {
    let method_reg = if method == 0 {
        31 // xzr
    } else {
        mov_imm(ops, 13, method);
        13
    };
    let type_reg = if frame_type == 0 {
        31
    } else {
        mov_imm(ops, 14, frame_type);
        14
    };
    if handles_later {
        // method and frame_type are adjacent.
        dynasm!(ops ; .arch aarch64 ; stp X(method_reg), X(type_reg), [sp, m2n::METHOD]);
    } else {
        // local_handles = 0 and method are adjacent.
        dynasm!(ops ; .arch aarch64
            ; stp xzr, X(method_reg), [sp, m2n::LOCAL_HANDLES]
            ; str X(type_reg), [sp, m2n::FRAME_TYPE as u32]
        );
    }
    let (tls, list) = (p.tls_offset, p.layout.thread.m2n_list);
    dynasm!(ops ; .arch aarch64
        // The frame record holds the caller's fp and the return address.
        ; ldp x13, x14, [x29]
        ; add x15, x29, 16
        ; str x14, [sp, m2n::RETURN_ADDRESS as u32]
        ; stp x15, x13, [sp, m2n::CALLER_SP]
        // The caller's callee-saved registers, still untouched.
        ; stp x19, x20, [sp, m2n::SAVED_GP]
        ; stp x21, x22, [sp, m2n::SAVED_GP + 16]
        ; stp x23, x24, [sp, m2n::SAVED_GP + 32]
        ; stp x25, x26, [sp, m2n::SAVED_GP + 48]
        ; stp x27, x28, [sp, m2n::SAVED_GP + 64]
        ; mrs x16, 0x5e82
    );
    ldr(ops, 13, 16, tls);
    dynasm!(ops ; .arch aarch64
        // frame.prev = *head; frame.link = head; *head = frame.
        ; add x13, x13, list as u32
        ; ldr x14, [x13]
        ; stp x14, x13, [sp, m2n::PREV]
        ; mov x15, sp
        ; str x15, [x13]
    );
}

/// Unlink the M2N frame at `[sp]`. Clobbers x13, x14.
fn pop_m2n(ops: &mut Asm) {
    dynasm!(ops ; .arch aarch64
        ; ldp x13, x14, [sp, m2n::PREV]
        ; str x13, [x14]
    );
}

/// `m2n_save_all`: d8–d15 into the frame at `[sp]`.
fn m2n_save_all(ops: &mut Asm) {
    dynasm!(ops ; .arch aarch64
        ; stp d8, d9, [sp, m2n::SAVED_FP]
        ; stp d10, d11, [sp, m2n::SAVED_FP + 16]
        ; stp d12, d13, [sp, m2n::SAVED_FP + 32]
        ; stp d14, d15, [sp, m2n::SAVED_FP + 48]
    );
}

/// Figure 1. Fast path: 10 instructions (frontier and limit adjacent).
fn fig1_alloc(p: &Params) -> Result<Vec<u8>, DynasmError> {
    let t = &p.layout.thread;
    let (frontier, limit) = (t.tlab_frontier, t.tlab_limit);
    let vtable = p.layout.object.vtable as u32;
    let mut ops = Asm::new(0);
    let slow = ops.new_dynamic_label();
    thread_pointer(&mut ops, p, 9);
    if limit == frontier + 8 {
        dynasm!(ops ; .arch aarch64 ; ldp x10, x11, [x9, frontier]);
    } else {
        ldr(&mut ops, 10, 9, frontier);
        ldr(&mut ops, 11, 9, limit);
    }
    dynasm!(ops ; .arch aarch64
        // The size is a g4: its upper half is unspecified in AAPCS64, so it
        // is zero-extended (LIL's `zx4`), here by the add itself.
        ; add x12, x10, w0, uxtw
        ; cmp x12, x11
        ; b.hi =>slow
        ; str x1, [x10, vtable]
        ; str x12, [x9, frontier as u32]
        ; mov x0, x10
        ; ret
        ; =>slow
    );
    prologue(&mut ops, M2N_SIZE);
    push_m2n(&mut ops, p, 0, 0, false);
    // x0 and x1 still hold size and vtable: `in2out platform` is free.
    call(&mut ops, p.layout.helpers.gc_alloc);
    pop_m2n(&mut ops);
    epilogue(&mut ops);
    dynasm!(ops ; .arch aarch64 ; ret);
    ops.finalize()
}

/// Per-class `instanceof`. Fast path (an instance): 7 instructions plus the
/// class constant's `movz`/`movk`.
fn instanceof(p: &Params) -> Result<Vec<u8>, DynasmError> {
    let vtable = p.layout.object.vtable;
    let slot = p.instanceof_slot();
    let mut ops = Asm::new(0);
    let no = ops.new_dynamic_label();
    dynasm!(ops ; .arch aarch64 ; cbz x0, =>no);
    ldr(&mut ops, 13, 0, vtable);
    ldr(&mut ops, 13, 13, slot);
    mov_imm(&mut ops, 14, p.class.class);
    dynasm!(ops ; .arch aarch64
        ; cmp x13, x14
        ; b.ne =>no
        ; mov w0, 1
        ; ret
        ; =>no
        ; mov w0, wzr
        ; ret
    );
    ops.finalize()
}

/// Thin-lock monitor enter. Fast path (unlocked, the store-exclusive
/// succeeding): 9 instructions.
fn monitor_enter(p: &Params) -> Result<Vec<u8>, DynasmError> {
    let lock_id = p.layout.thread.lock_id;
    let word = p.layout.object.lock_word;
    let limit = p.layout.lock.recursion_limit - 1;
    let mut ops = Asm::new(0);
    let (retry, held, slow) = (
        ops.new_dynamic_label(),
        ops.new_dynamic_label(),
        ops.new_dynamic_label(),
    );
    thread_pointer(&mut ops, p, 13);
    ldr(&mut ops, 13, 13, lock_id);
    dynasm!(ops ; .arch aarch64
        ; add x14, x0, word as u32
        ; =>retry
        ; ldaxr x15, [x14]
        ; cbnz x15, =>held
        ; stlxr w17, x13, [x14]
        ; cbnz w17, =>retry
        ; ret
        ; =>held
        // x15 holds the lock word found.
        ; eor x16, x15, x13
        ; cmp x16, limit
        ; b.hs =>slow
        ; add x15, x15, 1
        ; str x15, [x0, word as u32]
        ; ret
        ; =>slow
    );
    prologue(&mut ops, M2N_SIZE);
    push_m2n(&mut ops, p, 0, 0, false);
    // x0 still holds the object: the helper's argument.
    call(&mut ops, p.layout.helpers.monitor_enter_slow);
    pop_m2n(&mut ops);
    epilogue(&mut ops);
    dynasm!(ops ; .arch aarch64 ; ret);
    ops.finalize()
}

/// Figure 3: the JNI wrapper of `Math.pow`.
fn jni_pow(p: &Params) -> Result<Vec<u8>, DynasmError> {
    const HANDLES: u32 = M2N_SIZE;
    const INPUTS: u32 = HANDLES + 16;
    const RESULT: u32 = INPUTS + 16;
    const FRAME: u32 = (RESULT + 8 + 15) & !15;
    let pending = p.layout.thread.pending_exception;
    let h = &p.layout.helpers;
    let mut ops = Asm::new(0);
    let exception = ops.new_dynamic_label();
    prologue(&mut ops, FRAME);
    // The inputs live across calls: keep them in the frame.
    dynasm!(ops ; .arch aarch64 ; stp d0, d1, [sp, (INPUTS) as i32]);
    push_m2n(&mut ops, p, p.jni_method, 0, true);
    // The handle block {Math's class object, 0}, recorded in the frame.
    mov_imm(&mut ops, 13, p.class_handle);
    dynasm!(ops ; .arch aarch64
        ; ldr x13, [x13]
        ; stp x13, xzr, [sp, (HANDLES) as i32]
        ; add x13, sp, HANDLES
        ; str x13, [sp, m2n::LOCAL_HANDLES as u32]
    );
    call(&mut ops, h.gc_enable);
    mov_imm(&mut ops, 0, p.jni_env);
    dynasm!(ops ; .arch aarch64
        ; add x1, sp, HANDLES
        ; ldp d0, d1, [sp, (INPUTS) as i32]
    );
    call(&mut ops, p.native_pow);
    dynasm!(ops ; .arch aarch64 ; str d0, [sp, RESULT]);
    call(&mut ops, h.gc_disable);
    thread_pointer(&mut ops, p, 13);
    ldr(&mut ops, 13, 13, pending);
    dynasm!(ops ; .arch aarch64
        ; cbnz x13, =>exception
        ; ldr d0, [sp, RESULT]
    );
    pop_m2n(&mut ops);
    epilogue(&mut ops);
    dynasm!(ops ; .arch aarch64 ; ret ; =>exception);
    m2n_save_all(&mut ops);
    call(&mut ops, h.rethrow);
    ops.finalize()
}

/// §3.2.1: the generic compile-me stub. `sp0` (x9) holds the method; the
/// arguments of the method must reach its code intact.
fn compile_me_generic(p: &Params) -> Result<Vec<u8>, DynasmError> {
    const ARGS: u32 = M2N_SIZE;
    const FRAME: u32 = (ARGS + 16 * 8 + 15) & !15;
    let compilation = lil_codegen::m2n::frame_type::COMPILATION;
    let mut ops = Asm::new(0);
    prologue(&mut ops, FRAME);
    // `arbitrary`: the signature is unknown, so every argument register is
    // saved across the call (x8 is not an argument in LIL's conventions, as
    // in the LIL backend).
    dynasm!(ops ; .arch aarch64
        ; stp x0, x1, [sp, (ARGS) as i32]
        ; stp x2, x3, [sp, (ARGS + 16) as i32]
        ; stp x4, x5, [sp, (ARGS + 32) as i32]
        ; stp x6, x7, [sp, (ARGS + 48) as i32]
        ; stp d0, d1, [sp, (ARGS + 64) as i32]
        ; stp d2, d3, [sp, (ARGS + 80) as i32]
        ; stp d4, d5, [sp, (ARGS + 96) as i32]
        ; stp d6, d7, [sp, (ARGS + 112) as i32]
    );
    push_m2n(&mut ops, p, 0, compilation, false);
    m2n_save_all(&mut ops);
    dynasm!(ops ; .arch aarch64 ; mov x0, x9);
    call(&mut ops, p.layout.helpers.jit_compile);
    // The code, in a register no argument uses.
    dynasm!(ops ; .arch aarch64 ; mov x17, x0);
    pop_m2n(&mut ops);
    dynasm!(ops ; .arch aarch64
        ; ldp x0, x1, [sp, (ARGS) as i32]
        ; ldp x2, x3, [sp, (ARGS + 16) as i32]
        ; ldp x4, x5, [sp, (ARGS + 32) as i32]
        ; ldp x6, x7, [sp, (ARGS + 48) as i32]
        ; ldp d0, d1, [sp, (ARGS + 64) as i32]
        ; ldp d2, d3, [sp, (ARGS + 80) as i32]
        ; ldp d4, d5, [sp, (ARGS + 96) as i32]
        ; ldp d6, d7, [sp, (ARGS + 112) as i32]
    );
    epilogue(&mut ops);
    dynasm!(ops ; .arch aarch64 ; br x17);
    ops.finalize()
}
