//! The x86-64 peers written by hand with `dynasm!`: what an expert writes for
//! each stub, for the same ABI (System V; `managed` is the C ABI in LIL-rs),
//! the same `ts` access (`fs:[offset]`), the same M2N frame layout
//! ([`lil_codegen::M2nFrame`]) and the same standard places (`sp0` = r10).
//! These are the floor the LIL backends are measured against.
//!
//! Where LIL's semantics force an instruction, the hand-written code has it
//! too, with a comment saying why (a `g4` argument's upper half is
//! unspecified in the ABI, so it is zero-extended; an `arbitrary` stub does
//! not know its arguments, so it saves all argument registers). Where an
//! expert has a better idiom than a literal translation of the LIL (a compare
//! with a memory operand, a frame written in place), the hand-written code
//! uses it: that is the point of a floor.
//!
//! Invariant: the code is position independent (absolute addresses are
//! `mov r64, imm64` immediates, branches are relative), so it can be copied
//! anywhere, like a LIL `CompiledStub`.

// `dynasm!` converts register numbers with `.into()` even when they are u8.
#![allow(clippy::useless_conversion)]

use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynasmApi, DynasmError, DynasmLabelApi, VecAssembler, dynasm};
use lil_codegen::m2n::offsets as m2n;

use crate::stubs::{Params, StubKind};

type Asm = VecAssembler<X64Relocation>;

/// The hand-written x86-64 code of `stub`.
pub fn emit(stub: StubKind, p: &Params) -> Result<Vec<u8>, DynasmError> {
    match stub {
        StubKind::Fig1Alloc => fig1_alloc(p),
        StubKind::InstanceOf => instanceof(p),
        StubKind::JniPow => jni_pow(p),
        StubKind::CompileMe => compile_me_generic(p),
        StubKind::MonitorEnter => monitor_enter(p),
    }
}

/// Size of the M2N frame, rounded to keep `rsp` 16-byte aligned.
const M2N_SIZE: i32 = (m2n::SIZE as i32 + 15) & !15;

/// `push rbp; mov rbp, rsp; sub rsp, size`: after it `rsp` is 16-byte
/// aligned (`size` is a multiple of 16).
fn prologue(ops: &mut Asm, size: i32) {
    debug_assert!(size % 16 == 0);
    dynasm!(ops ; .arch x64 ; push rbp ; mov rbp, rsp ; sub rsp, size);
}

/// Fill the M2N frame at `[rsp]` and link it as the thread's newest frame.
/// Clobbers rax and rcx only. `handles_later`: the caller stores
/// `local_handles` itself (with the handle block), so it is not zeroed here.
fn push_m2n(ops: &mut Asm, p: &Params, method: u64, frame_type: i32, handles_later: bool) {
    let tls = p.tls_offset;
    let list = p.layout.thread.m2n_list;
    match i32::try_from(method) {
        Ok(m) => dynasm!(ops ; .arch x64 ; mov QWORD [rsp + m2n::METHOD], m),
        Err(_) => dynasm!(ops ; .arch x64
            ; mov rax, QWORD method as i64
            ; mov [rsp + m2n::METHOD], rax),
    }
    dynasm!(ops ; .arch x64 ; mov QWORD [rsp + m2n::FRAME_TYPE], frame_type);
    if !handles_later {
        dynasm!(ops ; .arch x64 ; mov QWORD [rsp + m2n::LOCAL_HANDLES], 0);
    }
    dynasm!(ops ; .arch x64
        // Where the stub returns to, the caller's stack and frame pointers.
        ; mov rax, [rbp + 8]
        ; mov [rsp + m2n::RETURN_ADDRESS], rax
        ; lea rax, [rbp + 16]
        ; mov [rsp + m2n::CALLER_SP], rax
        ; mov rax, [rbp]
        ; mov [rsp + m2n::CALLER_FP], rax
        // The caller's callee-saved registers, still untouched.
        ; mov [rsp + m2n::SAVED_GP], rbx
        ; mov [rsp + m2n::SAVED_GP + 8], r12
        ; mov [rsp + m2n::SAVED_GP + 16], r13
        ; mov [rsp + m2n::SAVED_GP + 24], r14
        ; mov [rsp + m2n::SAVED_GP + 32], r15
        // frame.prev = *head; frame.link = head; *head = frame.
        ; fs mov rcx, [tls]
        ; lea rcx, [rcx + list]
        ; mov rax, [rcx]
        ; mov [rsp + m2n::PREV], rax
        ; mov [rsp + m2n::LINK], rcx
        ; mov [rcx], rsp
    );
}

/// Unlink the M2N frame at `[rsp]`. Clobbers rcx and rdx (not rax: it may
/// hold a result).
fn pop_m2n(ops: &mut Asm) {
    dynasm!(ops ; .arch x64
        ; mov rcx, [rsp + m2n::LINK]
        ; mov rdx, [rsp + m2n::PREV]
        ; mov [rcx], rdx
    );
}

/// Figure 1. Fast path: 9 instructions.
fn fig1_alloc(p: &Params) -> Result<Vec<u8>, DynasmError> {
    let t = &p.layout.thread;
    let (tls, frontier, limit) = (p.tls_offset, t.tlab_frontier, t.tlab_limit);
    let vtable = p.layout.object.vtable;
    let mut ops = Asm::new(0);
    let slow = ops.new_dynamic_label();
    dynasm!(ops ; .arch x64
        ; fs mov rcx, [tls]
        ; mov rax, [rcx + frontier]
        // The size is a g4: its upper half is unspecified in the ABI, so it
        // is zero-extended (LIL's `zx4`).
        ; mov r8d, edi
        ; add r8, rax
        // The limit is used once: compare with it in memory.
        ; cmp r8, [rcx + limit]
        ; ja =>slow
        ; mov [rax + vtable], rsi
        ; mov [rcx + frontier], r8
        ; ret
        ; =>slow
    );
    prologue(&mut ops, M2N_SIZE);
    push_m2n(&mut ops, p, 0, 0, false);
    // rdi and rsi still hold size and vtable: `in2out platform` is free.
    dynasm!(ops ; .arch x64
        ; mov rax, QWORD p.layout.helpers.gc_alloc as i64
        ; call rax
    );
    pop_m2n(&mut ops);
    dynasm!(ops ; .arch x64 ; leave ; ret);
    ops.finalize()
}

/// Per-class `instanceof`. Fast path (an instance): 8 instructions.
fn instanceof(p: &Params) -> Result<Vec<u8>, DynasmError> {
    let vtable = p.layout.object.vtable;
    let slot = p.instanceof_slot();
    let class = p.class.class;
    let mut ops = Asm::new(0);
    let no = ops.new_dynamic_label();
    dynasm!(ops ; .arch x64
        ; test rdi, rdi
        ; jz =>no
        ; mov rax, [rdi + vtable]
    );
    match i32::try_from(class as i64) {
        // A class pointer that fits a sign-extended imm32 is compared directly.
        Ok(c) => dynasm!(ops ; .arch x64 ; cmp QWORD [rax + slot], c),
        Err(_) => dynasm!(ops ; .arch x64
            ; mov rcx, QWORD class as i64
            ; cmp [rax + slot], rcx),
    }
    dynasm!(ops ; .arch x64
        ; jne =>no
        ; mov eax, 1
        ; ret
        ; =>no
        ; xor eax, eax
        ; ret
    );
    ops.finalize()
}

/// Thin-lock monitor enter. Fast path (unlocked): 6 instructions.
fn monitor_enter(p: &Params) -> Result<Vec<u8>, DynasmError> {
    let tls = p.tls_offset;
    let lock_id = p.layout.thread.lock_id;
    let word = p.layout.object.lock_word;
    let limit = p.layout.lock.recursion_limit as i32 - 1;
    let mut ops = Asm::new(0);
    let (held, slow) = (ops.new_dynamic_label(), ops.new_dynamic_label());
    dynasm!(ops ; .arch x64
        ; fs mov rcx, [tls]
        ; mov rcx, [rcx + lock_id]
        ; xor eax, eax
        ; lock cmpxchg [rdi + word], rcx
        ; jne =>held
        ; ret
        ; =>held
        // rax holds the lock word cmpxchg found.
        ; mov rdx, rax
        ; xor rdx, rcx
        ; cmp rdx, limit
        ; jae =>slow
        ; add rax, 1
        ; mov [rdi + word], rax
        ; ret
        ; =>slow
    );
    prologue(&mut ops, M2N_SIZE);
    push_m2n(&mut ops, p, 0, 0, false);
    // rdi still holds the object: the helper's argument.
    dynasm!(ops ; .arch x64
        ; mov rax, QWORD p.layout.helpers.monitor_enter_slow as i64
        ; call rax
    );
    pop_m2n(&mut ops);
    dynasm!(ops ; .arch x64 ; leave ; ret);
    ops.finalize()
}

/// Figure 3: the JNI wrapper of `Math.pow`.
fn jni_pow(p: &Params) -> Result<Vec<u8>, DynasmError> {
    // Frame: M2N frame at 0, the handle block, the two inputs, the result.
    const HANDLES: i32 = M2N_SIZE;
    const I0: i32 = HANDLES + 16;
    const I1: i32 = I0 + 8;
    const RESULT: i32 = I1 + 8;
    const FRAME: i32 = (RESULT + 8 + 15) & !15;
    let tls = p.tls_offset;
    let pending = p.layout.thread.pending_exception;
    let h = &p.layout.helpers;
    let mut ops = Asm::new(0);
    let exception = ops.new_dynamic_label();
    prologue(&mut ops, FRAME);
    // The inputs live across calls: keep them in the frame.
    dynasm!(ops ; .arch x64
        ; movsd QWORD [rsp + I0], xmm0
        ; movsd QWORD [rsp + I1], xmm1
    );
    push_m2n(&mut ops, p, p.jni_method, 0, true);
    dynasm!(ops ; .arch x64
        // The handle block {Math's class object, 0}, recorded in the frame.
        ; mov rax, QWORD p.class_handle as i64
        ; mov rax, [rax]
        ; mov [rsp + HANDLES], rax
        ; mov QWORD [rsp + HANDLES + 8], 0
        ; lea rax, [rsp + HANDLES]
        ; mov [rsp + m2n::LOCAL_HANDLES], rax
        ; mov rax, QWORD h.gc_enable as i64
        ; call rax
        ; mov rdi, QWORD p.jni_env as i64
        ; lea rsi, [rsp + HANDLES]
        ; movsd xmm0, QWORD [rsp + I0]
        ; movsd xmm1, QWORD [rsp + I1]
        ; mov rax, QWORD p.native_pow as i64
        ; call rax
        ; movsd QWORD [rsp + RESULT], xmm0
        ; mov rax, QWORD h.gc_disable as i64
        ; call rax
        // A pending exception? (compared in memory: the value is used once)
        ; fs mov rcx, [tls]
        ; cmp QWORD [rcx + pending], 0
        ; jne =>exception
        ; movsd xmm0, QWORD [rsp + RESULT]
    );
    pop_m2n(&mut ops);
    dynasm!(ops ; .arch x64
        ; leave
        ; ret
        ; =>exception
        // m2n_save_all records nothing more on x86-64.
        ; mov rax, QWORD h.rethrow as i64
        ; call rax
    );
    ops.finalize()
}

/// §3.2.1: the generic compile-me stub. `sp0` (r10) holds the method; the
/// arguments of the method, whatever they are, must reach its code intact.
fn compile_me_generic(p: &Params) -> Result<Vec<u8>, DynasmError> {
    const ARGS: i32 = M2N_SIZE;
    const FRAME: i32 = (ARGS + 14 * 8 + 15) & !15;
    let compilation = lil_codegen::m2n::frame_type::COMPILATION as i32;
    let mut ops = Asm::new(0);
    prologue(&mut ops, FRAME);
    // `arbitrary`: the signature is unknown, so every argument register is
    // saved across the call (the stack arguments stay where they are).
    dynasm!(ops ; .arch x64
        ; mov [rsp + ARGS], rdi
        ; mov [rsp + ARGS + 8], rsi
        ; mov [rsp + ARGS + 16], rdx
        ; mov [rsp + ARGS + 24], rcx
        ; mov [rsp + ARGS + 32], r8
        ; mov [rsp + ARGS + 40], r9
        ; movsd QWORD [rsp + ARGS + 48], xmm0
        ; movsd QWORD [rsp + ARGS + 56], xmm1
        ; movsd QWORD [rsp + ARGS + 64], xmm2
        ; movsd QWORD [rsp + ARGS + 72], xmm3
        ; movsd QWORD [rsp + ARGS + 80], xmm4
        ; movsd QWORD [rsp + ARGS + 88], xmm5
        ; movsd QWORD [rsp + ARGS + 96], xmm6
        ; movsd QWORD [rsp + ARGS + 104], xmm7
    );
    push_m2n(&mut ops, p, 0, compilation, false);
    // m2n_save_all records nothing more on x86-64.
    dynasm!(ops ; .arch x64
        ; mov rdi, r10
        ; mov rax, QWORD p.layout.helpers.jit_compile as i64
        ; call rax
        // The code, in a register no argument uses.
        ; mov r11, rax
    );
    pop_m2n(&mut ops);
    dynasm!(ops ; .arch x64
        ; mov rdi, [rsp + ARGS]
        ; mov rsi, [rsp + ARGS + 8]
        ; mov rdx, [rsp + ARGS + 16]
        ; mov rcx, [rsp + ARGS + 24]
        ; mov r8, [rsp + ARGS + 32]
        ; mov r9, [rsp + ARGS + 40]
        ; movsd xmm0, QWORD [rsp + ARGS + 48]
        ; movsd xmm1, QWORD [rsp + ARGS + 56]
        ; movsd xmm2, QWORD [rsp + ARGS + 64]
        ; movsd xmm3, QWORD [rsp + ARGS + 72]
        ; movsd xmm4, QWORD [rsp + ARGS + 80]
        ; movsd xmm5, QWORD [rsp + ARGS + 88]
        ; movsd xmm6, QWORD [rsp + ARGS + 96]
        ; movsd xmm7, QWORD [rsp + ARGS + 104]
        ; leave
        ; jmp r11
    );
    ops.finalize()
}
