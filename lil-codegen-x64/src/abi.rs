//! x86-64 as data: registers, their roles, and the System V convention.
//!
//! | role | registers |
//! |---|---|
//! | arguments | rdi rsi rdx rcx r8 r9 / xmm0–xmm7, then the stack |
//! | `r` | rax (general); xmm0 (float) unless an input or output needs xmm0 while `r` is live, then xmm8 (moved to/from xmm0 at calls and `ret`) |
//! | `sp0`–`sp3` | r10, r11, r14, r15 (r14/r15 are callee-saved: see `LANGUAGE.md`) |
//! | locals | free caller-saved registers, then rbx r12 r13 (r14 r15), then frame slots |
//! | frame pointer | rbp (set up with the frame; never allocated) |
//! | scratch | two free caller-saved registers picked per stub, xmm15/xmm14 |
//!
//! rax holds only `r`, so `cas` (whose `cmpxchg` needs rax) can park it in
//! the red zone when `r` is live. An `arbitrary` stub that calls may also
//! take argument registers no call uses for scratch values and locals
//! (`FramePlan::borrowed`): its prologue saves them and `tailcall` restores
//! them. It passes on rdi–r9, xmm0–xmm7 and the stack arguments, not al
//! (the vector-register count of variadic calls): LIL signatures are never
//! variadic.

use lil_codegen::{CallingConvention, Target, TargetDesc};
use std::borrow::Cow;

/// Register numbers in the x86-64 encoding.
#[allow(missing_docs)]
pub mod regs {
    pub const RAX: u8 = 0;
    pub const RCX: u8 = 1;
    pub const RDX: u8 = 2;
    pub const RBX: u8 = 3;
    pub const RSP: u8 = 4;
    pub const RBP: u8 = 5;
    pub const RSI: u8 = 6;
    pub const RDI: u8 = 7;
    pub const R8: u8 = 8;
    pub const R9: u8 = 9;
    pub const R10: u8 = 10;
    pub const R11: u8 = 11;
    pub const R12: u8 = 12;
    pub const R13: u8 = 13;
    pub const R14: u8 = 14;
    pub const R15: u8 = 15;
}

use regs::*;

/// System V AMD64: what `platform`, `jni`, `stdcall`, and by default
/// `managed` and `rth` mean on x86-64.
pub const SYSTEM_V: CallingConvention = CallingConvention {
    name: Cow::Borrowed("System V AMD64"),
    gp_args: Cow::Borrowed(&[RDI, RSI, RDX, RCX, R8, R9]),
    fp_args: Cow::Borrowed(&[0, 1, 2, 3, 4, 5, 6, 7]),
    gp_ret: RAX,
    fp_ret: 0,
    stack_slot: 8,
    stack_align: 16,
    callee_saved_gp: Cow::Borrowed(&[RBX, RBP, R12, R13, R14, R15]),
    callee_saved_fp: Cow::Borrowed(&[]),
};

/// The x86-64 target description.
pub static DESC: TargetDesc = TargetDesc {
    target: Target::X64,
    c_abi: SYSTEM_V,
    std_places: [R10, R11, R14, R15],
    ret_gp: RAX,
    ret_fp: 8,
    scratch_gp: &[R11, R10, R9, R8, RCX, RDX, RSI, RDI],
    scratch_count: 2,
    scratch_fp: &[15, 14],
    frame_pointer: RBP,
    reserved_gp: &[RSP, RBP],
    locals_caller_saved_gp: &[RCX, RDX, R8, R9, R10, R11, RSI, RDI],
    locals_callee_saved_gp: &[RBX, R12, R13, R14, R15],
    locals_caller_saved_fp: &[9, 10, 11, 12, 13, 7, 6, 5, 4, 3, 2, 1],
    locals_callee_saved_fp: &[],
    m2n_saved_gp: &[RBX, R12, R13, R14, R15],
    m2n_saved_fp: &[],
    callee_saved_std_places: 2,
};
