//! AArch64 as data: registers, their roles, and the AAPCS64 convention.
//!
//! | role | registers |
//! |---|---|
//! | arguments | x0–x7 / v0–v7, then the stack |
//! | `r` | x0 / d0 (the result registers) unless an input or output needs the register while `r` is live, then x8 / d16 (moved from/to x0/d0 at calls and `ret`) |
//! | `sp0`–`sp3` | x9, x10, x11, x12 (caller-saved) |
//! | locals | free caller-saved registers, then x19–x28, then frame slots |
//! | scratch | x16, x17 (addresses, call targets), x15, x14 (values); d31, d30 |
//! | never touched | x18 (platform register), x29 (frame pointer), x30 (link), sp |
//!
//! An `arbitrary` stub passes on x0–x7, v0–v7 and the stack arguments, not
//! x8: in AAPCS64 x8 carries the address of a result returned in memory,
//! which only functions returning aggregates read, and LIL signatures
//! return scalars only (a call the stub makes clobbers x8 like any
//! temporary register). A host whose managed code returns aggregates
//! through x8 must not reach such code through an `arbitrary` stub.

use lil_codegen::{CallingConvention, Target, TargetDesc};
use std::borrow::Cow;

/// AAPCS64: what `platform`, `jni`, `stdcall`, and by default `managed`
/// and `rth` mean on AArch64.
pub const AAPCS64: CallingConvention = CallingConvention {
    name: Cow::Borrowed("AAPCS64"),
    gp_args: Cow::Borrowed(&[0, 1, 2, 3, 4, 5, 6, 7]),
    fp_args: Cow::Borrowed(&[0, 1, 2, 3, 4, 5, 6, 7]),
    gp_ret: 0,
    fp_ret: 0,
    stack_slot: 8,
    stack_align: 16,
    callee_saved_gp: Cow::Borrowed(&[19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]),
    callee_saved_fp: Cow::Borrowed(&[8, 9, 10, 11, 12, 13, 14, 15]),
};

/// The AArch64 target description.
pub static DESC: TargetDesc = TargetDesc {
    target: Target::Arm64,
    c_abi: AAPCS64,
    std_places: [9, 10, 11, 12],
    ret_gp: 8,
    ret_fp: 16,
    scratch_gp: &[16, 17, 15, 14],
    scratch_count: 4,
    scratch_fp: &[31, 30],
    frame_pointer: 29,
    reserved_gp: &[18, 29, 30, 31],
    locals_caller_saved_gp: &[13, 7, 6, 5, 4, 3, 2, 1, 0],
    locals_callee_saved_gp: &[19, 20, 21, 22, 23, 24, 25, 26, 27, 28],
    locals_caller_saved_fp: &[
        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 7, 6, 5, 4, 3, 2, 1,
    ],
    locals_callee_saved_fp: &[8, 9, 10, 11, 12, 13, 14, 15],
    m2n_saved_gp: &[19, 20, 21, 22, 23, 24, 25, 26, 27, 28],
    m2n_saved_fp: &[8, 9, 10, 11, 12, 13, 14, 15],
    callee_saved_std_places: 0,
};
