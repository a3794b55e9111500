//! The x86-64 emitter's machinery: values and their locations, memory
//! operands, moves, the prologue and epilogue, helper calls, and the driver
//! that walks the stub. `inst.rs` has one function per LIL instruction.
//!
//! Invariant: scratch registers (`s0`, `s1`) hold nothing across LIL
//! instructions; within one instruction each helper documents which
//! scratch registers it may clobber.

use crate::abi::{DESC, regs::*};
use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};
use lil_check::{CheckedStub, Context};
use lil_codegen::asm::BranchField;
use lil_codegen::drive::{EmitState, EmitTables, IsaEmitter};
use lil_codegen::plan::Loc;
use lil_codegen::unwind::{FrameState, UnwindInfo};
use lil_codegen::{ArgLoc, CodegenError, CompileOptions, FramePlan, HostEnv, Reg, RegClass};
use lil_syntax::{InstKind, Operand, OperandKind, Type, Var};

pub(crate) type Asm = lil_codegen::asm::Assembler<X64Relocation>;
pub(crate) type R<T> = lil_codegen::drive::EmitResult<T>;

/// An x86-64 memory operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mem {
    /// `[base + disp]`
    Base { base: u8, disp: i32 },
    /// `[base + index*scale + disp]`
    Index {
        base: u8,
        index: u8,
        scale: u8,
        disp: i32,
    },
    /// `[index*scale + disp]`
    NoBase { index: u8, scale: u8, disp: i32 },
    /// `[disp]` (absolute, sign-extended 32-bit)
    Abs { disp: i32 },
}

/// `dynasm!` with a memory operand spliced between `pre` and `post` tokens:
/// `with_mem!(ops, m, [mov Rq(r),], [])` is `mov Rq(r), [m]`. A
/// displacement that fits in a byte is encoded as one (dynasm cannot choose
/// the size of a run-time displacement by itself).
macro_rules! with_mem {
    ($ops:expr, $mem:expr, [$($pre:tt)*], [$($post:tt)*]) => {{
        let ops = $ops;
        let m: Mem = $mem;
        let small = i8::try_from(m.disp()).is_ok();
        match (m, small) {
            (Mem::Base { base, disp }, true) => dynasm!(ops ; .arch x64 ; $($pre)* [BYTE Rq(base) + disp as i8] $($post)*),
            (Mem::Base { base, disp }, false) => dynasm!(ops ; .arch x64 ; $($pre)* [Rq(base) + disp] $($post)*),
            (Mem::Index { base, index, scale: 1, disp }, true) => dynasm!(ops ; .arch x64 ; $($pre)* [BYTE Rq(base) + Rq(index) * 1 + disp as i8] $($post)*),
            (Mem::Index { base, index, scale: 2, disp }, true) => dynasm!(ops ; .arch x64 ; $($pre)* [BYTE Rq(base) + Rq(index) * 2 + disp as i8] $($post)*),
            (Mem::Index { base, index, scale: 4, disp }, true) => dynasm!(ops ; .arch x64 ; $($pre)* [BYTE Rq(base) + Rq(index) * 4 + disp as i8] $($post)*),
            (Mem::Index { base, index, disp, .. }, true) => dynasm!(ops ; .arch x64 ; $($pre)* [BYTE Rq(base) + Rq(index) * 8 + disp as i8] $($post)*),
            (Mem::Index { base, index, scale: 1, disp }, false) => dynasm!(ops ; .arch x64 ; $($pre)* [Rq(base) + Rq(index) * 1 + disp] $($post)*),
            (Mem::Index { base, index, scale: 2, disp }, false) => dynasm!(ops ; .arch x64 ; $($pre)* [Rq(base) + Rq(index) * 2 + disp] $($post)*),
            (Mem::Index { base, index, scale: 4, disp }, false) => dynasm!(ops ; .arch x64 ; $($pre)* [Rq(base) + Rq(index) * 4 + disp] $($post)*),
            (Mem::Index { base, index, disp, .. }, false) => dynasm!(ops ; .arch x64 ; $($pre)* [Rq(base) + Rq(index) * 8 + disp] $($post)*),
            (Mem::NoBase { index, scale: 1, disp }, _) => dynasm!(ops ; .arch x64 ; $($pre)* [Rq(index) * 1 + disp] $($post)*),
            (Mem::NoBase { index, scale: 2, disp }, _) => dynasm!(ops ; .arch x64 ; $($pre)* [Rq(index) * 2 + disp] $($post)*),
            (Mem::NoBase { index, scale: 4, disp }, _) => dynasm!(ops ; .arch x64 ; $($pre)* [Rq(index) * 4 + disp] $($post)*),
            (Mem::NoBase { index, disp, .. }, _) => dynasm!(ops ; .arch x64 ; $($pre)* [Rq(index) * 8 + disp] $($post)*),
            (Mem::Abs { disp }, _) => dynasm!(ops ; .arch x64 ; $($pre)* [disp] $($post)*),
        }
    }};
}
pub(crate) use with_mem;

/// The `REX.W opcode /r` instructions with a memory operand that
/// [`rm64`] emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rm64 {
    /// `mov r64, [m]`
    MovLoad,
    /// `mov [m], r64`
    MovStore,
    /// `lea r64, [m]`
    Lea,
    /// `add r64, [m]`
    Add,
    /// `sub r64, [m]`
    Sub,
    /// `and r64, [m]`
    And,
    /// `or r64, [m]`
    Or,
    /// `xor r64, [m]`
    Xor,
    /// `cmp r64, [m]`
    CmpLoad,
    /// `cmp [m], r64`
    CmpStore,
}

impl Rm64 {
    fn opcode(self) -> u8 {
        match self {
            Rm64::MovLoad => 0x8B,
            Rm64::MovStore => 0x89,
            Rm64::Lea => 0x8D,
            Rm64::Add => 0x03,
            Rm64::Sub => 0x2B,
            Rm64::And => 0x23,
            Rm64::Or => 0x0B,
            Rm64::Xor => 0x33,
            Rm64::CmpLoad => 0x3B,
            Rm64::CmpStore => 0x39,
        }
    }
}

/// `inst` with register `reg` and memory operand `m`.
///
/// Why by hand: with run-time registers, `dynasm!` assembles the REX,
/// ModRM and SIB bytes of a memory operand through a generic path of some
/// 80 host instructions (and gives every function using it a heavy
/// prologue), while most of a stub's accesses are one form, `[base +
/// disp]` (frame slots, fields). That form is encoded here with the bytes
/// `dynasm!` would write (a disp8 when it fits, else a disp32, even when
/// zero, and always a SIB byte); the rarer forms go to `dynasm!` out of
/// line. `rm64_matches_dynasm` compares the two for every instruction,
/// register, base and displacement class.
#[inline]
pub(crate) fn rm64(ops: &mut Asm, inst: Rm64, reg: u8, m: Mem) {
    let Mem::Base { base, disp } = m else {
        return rm64_dynasm(ops, inst, reg, m);
    };
    let rex = 0x48 | (reg & 8) >> 1 | (base & 8) >> 3;
    // rm = 100: the base is in a SIB byte (no index: 100), which dynasm
    // uses for every run-time base, rsp/r12 or not.
    let modrm = (reg & 7) << 3 | 0b100;
    let sib = 0b00_100_000 | (base & 7);
    let opcode = inst.opcode();
    // From a slice (a fixed-size copy), not an array (a byte loop).
    match i8::try_from(disp) {
        Ok(d) => ops.extend(&[rex, opcode, 0x40 | modrm, sib, d as u8]),
        Err(_) => {
            let [a, b, c, d] = disp.to_le_bytes();
            ops.extend(&[rex, opcode, 0x80 | modrm, sib, a, b, c, d]);
        }
    }
}

/// [`rm64`]'s bytes for `[base + disp]` with a byte displacement.
#[inline]
fn rm64_disp8(inst: Rm64, reg: u8, base: u8, disp: i8) -> [u8; 5] {
    let rex = 0x48 | (reg & 8) >> 1 | (base & 8) >> 3;
    // mod = 01 (disp8), rm = 100: the base is in a SIB byte (no index:
    // 100), which dynasm uses for every run-time base, rsp/r12 or not.
    let modrm = 0x40 | (reg & 7) << 3 | 0b100;
    let sib = 0b00_100_000 | (base & 7);
    [rex, inst.opcode(), modrm, sib, disp as u8]
}

/// A fixed run of [`rm64`] instructions (an M2N frame's fields), as
/// [`rm64`] would write them one by one.
///
/// Why: each [`rm64`] checks the buffer's room and updates its length;
/// when every displacement fits a byte (an M2N frame near the stack
/// pointer: always, in practice), the run's bytes are built here and
/// written with one check and one copy. Otherwise it goes one by one.
#[inline]
pub(crate) fn rm64_run<const N: usize>(ops: &mut Asm, run: [(Rm64, u8, Mem); N]) {
    let fits = |m: Mem| matches!(m, Mem::Base { disp, .. } if i8::try_from(disp).is_ok());
    if run.iter().all(|&(_, _, m)| fits(m)) {
        let bytes = run.map(|(inst, reg, m)| match m {
            Mem::Base { base, disp } => rm64_disp8(inst, reg, base, disp as i8),
            _ => unreachable!("checked above"),
        });
        ops.extend(bytes.as_flattened());
    } else {
        for (inst, reg, m) in run {
            rm64_cold(ops, inst, reg, m);
        }
    }
}

/// [`rm64`] out of line, for [`rm64_run`] with a displacement that
/// needs 32 bits.
#[cold]
#[inline(never)]
fn rm64_cold(ops: &mut Asm, inst: Rm64, reg: u8, m: Mem) {
    rm64(ops, inst, reg, m);
}

/// `mov QWORD [m], imm` (sign-extended), `[base + disp]` by hand as in
/// [`rm64`]: `REX.W C7 /0` and the immediate after the displacement.
#[inline]
pub(crate) fn mov_mem_imm32(ops: &mut Asm, m: Mem, imm: i32) {
    let Mem::Base { base, disp } = m else {
        return mov_mem_imm32_dynasm(ops, m, imm);
    };
    let rex = 0x48 | (base & 8) >> 3;
    let sib = 0b00_100_000 | (base & 7);
    let [i0, i1, i2, i3] = imm.to_le_bytes();
    match i8::try_from(disp) {
        Ok(d) => ops.extend(&[rex, 0xC7, 0x44, sib, d as u8, i0, i1, i2, i3]),
        Err(_) => {
            let [a, b, c, d] = disp.to_le_bytes();
            ops.extend(&[rex, 0xC7, 0x84, sib, a, b, c, d, i0, i1, i2, i3]);
        }
    }
}

/// `mov r64, fs:[disp32]` (the thread pointer from a TLS slot), by hand
/// for the reason given at [`rm64`], with the bytes `dynasm!` writes:
/// `64 REX.W 8B /r` with an absolute SIB address (`fs_load_matches_dynasm`).
#[inline]
pub(crate) fn fs_load(ops: &mut Asm, r: u8, disp: i32) {
    let [a, b, c, d] = disp.to_le_bytes();
    ops.extend(&[
        0x64,
        0x48 | (r & 8) >> 1,
        0x8B,
        (r & 7) << 3 | 0b100,
        0x25,
        a,
        b,
        c,
        d,
    ]);
}

/// `jmp rel32` to `label`, by hand as dynasm encodes it (always the
/// 32-bit form for a dynamic label), the field patched by the assembler
/// ([`lil_codegen::asm::BranchField`]).
#[inline]
pub(crate) fn jmp(ops: &mut Asm, label: DynamicLabel) {
    ops.extend(&[0xE9, 0, 0, 0, 0]);
    ops.branch_to(label, BranchField::Rel32);
}

/// `jcc rel32` to `label` for condition code `cc` (the low nibble of the
/// `0F 8x` opcode), as [`jmp`].
#[inline]
pub(crate) fn jcc(ops: &mut Asm, cc: u8, label: DynamicLabel) {
    ops.extend(&[0x0F, 0x80 | cc, 0, 0, 0, 0]);
    ops.branch_to(label, BranchField::Rel32);
}

/// The two-operand ALU instructions [`alu_rr`] and [`alu_imm`] encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alu {
    Add,
    Or,
    And,
    Sub,
    Xor,
}

impl Alu {
    /// The `/digit` of the immediate forms (`81 /n`, `83 /n`); the
    /// register form's opcode is `8 * n + 1`.
    fn digit(self) -> u8 {
        match self {
            Alu::Add => 0,
            Alu::Or => 1,
            Alu::And => 4,
            Alu::Sub => 5,
            Alu::Xor => 6,
        }
    }

    /// The same operation with a memory operand.
    pub(crate) fn rm64(self) -> Rm64 {
        match self {
            Alu::Add => Rm64::Add,
            Alu::Or => Rm64::Or,
            Alu::And => Rm64::And,
            Alu::Sub => Rm64::Sub,
            Alu::Xor => Rm64::Xor,
        }
    }
}

/// `op r64, s64`, by hand for the reason given at [`rm64`], with the bytes
/// `dynasm!` writes: `REX.W (8n+1) /r` (`alu_matches_dynasm`).
#[inline]
pub(crate) fn alu_rr(ops: &mut Asm, op: Alu, r: u8, s: u8) {
    let rex = 0x48 | (s & 8) >> 1 | (r & 8) >> 3;
    ops.extend(&[rex, 8 * op.digit() + 1, 0xC0 | (s & 7) << 3 | (r & 7)]);
}

/// `op r64, imm` (sign-extended): `REX.W 83 /n ib` when it fits a byte,
/// else `REX.W 81 /n id`, as [`alu_rr`].
#[inline]
pub(crate) fn alu_imm(ops: &mut Asm, op: Alu, r: u8, x: i32) {
    let rex = 0x48 | (r & 8) >> 3;
    let modrm = 0xC0 | op.digit() << 3 | (r & 7);
    match i8::try_from(x) {
        Ok(b) => ops.extend(&[rex, 0x83, modrm, b as u8]),
        Err(_) => {
            let [i0, i1, i2, i3] = x.to_le_bytes();
            ops.extend(&[rex, 0x81, modrm, i0, i1, i2, i3]);
        }
    }
}

/// `cmp r64, s64`: `REX.W 3B /r`, the form `dynasm!` writes
/// (`alu_matches_dynasm`).
#[inline]
pub(crate) fn cmp_rr(ops: &mut Asm, r: u8, s: u8) {
    let rex = 0x48 | (r & 8) >> 1 | (s & 8) >> 3;
    ops.extend(&[rex, 0x3B, 0xC0 | (r & 7) << 3 | (s & 7)]);
}

/// `cmp r64, imm32`, as `dynasm!` writes it for a run-time immediate:
/// always `REX.W 81 /7 id` (`alu_matches_dynasm`).
#[inline]
pub(crate) fn cmp_imm32(ops: &mut Asm, r: u8, x: i32) {
    let [i0, i1, i2, i3] = x.to_le_bytes();
    ops.extend(&[0x48 | (r & 8) >> 3, 0x81, 0xF8 | (r & 7), i0, i1, i2, i3]);
}

/// `test r64, r64`: `REX.W 85 /r` (`alu_matches_dynasm`).
#[inline]
pub(crate) fn test_rr(ops: &mut Asm, r: u8) {
    let b = (r & 8) >> 3;
    ops.extend(&[0x48 | b << 2 | b, 0x85, 0xC0 | (r & 7) << 3 | (r & 7)]);
}

/// `mov r64, s64`, by hand for the reason given at [`rm64`], with the
/// bytes `dynasm!` writes: `REX.W 89 /r` (`moves_match_dynasm`).
#[inline]
pub(crate) fn mov_rr(ops: &mut Asm, r: u8, s: u8) {
    mov_rr_rex(ops, 0x48, r, s);
}

/// `mov r32, s32` (zero-extends: `zx4`, `tr4`): `REX 89 /r`, the REX
/// prefix always there, as `dynasm!` writes it (`moves_match_dynasm`).
#[inline]
pub(crate) fn mov32_rr(ops: &mut Asm, r: u8, s: u8) {
    mov_rr_rex(ops, 0x40, r, s);
}

/// `89 /r` register to register, after the REX prefix `rex` (`0x48` for
/// 64 bits, `0x40` for 32) with the registers' high bits added.
#[inline(always)]
fn mov_rr_rex(ops: &mut Asm, rex: u8, r: u8, s: u8) {
    ops.extend(&[
        rex | (s & 8) >> 1 | (r & 8) >> 3,
        0x89,
        0xC0 | (s & 7) << 3 | (r & 7),
    ]);
}

/// `call r64`: `REX FF /2`, as `dynasm!` writes it (`moves_match_dynasm`).
#[inline]
pub(crate) fn call_r(ops: &mut Asm, r: u8) {
    ops.extend(&[0x40 | (r & 8) >> 3, 0xFF, 0xD0 | (r & 7)]);
}

/// `r = imm` in the shortest form, by hand as [`mov_rr`]: `xor r32, r32`
/// for 0, `mov r32, imm32` for what zero-extends, `mov r64, simm32` for
/// what sign-extends, else `mov r64, imm64`.
#[inline]
pub(crate) fn mov_imm(ops: &mut Asm, r: u8, x: i64) {
    let b = (r & 8) >> 3;
    let low = r & 7;
    // (dynasm gives a run-time register a REX prefix even where none is
    // needed.)
    if x == 0 {
        ops.extend(&[0x40 | b << 2 | b, 0x31, 0xC0 | low << 3 | low]);
    } else if let Ok(u) = u32::try_from(x) {
        let [i0, i1, i2, i3] = u.to_le_bytes();
        ops.extend(&[0x40 | b, 0xB8 | low, i0, i1, i2, i3]);
    } else if let Ok(v) = i32::try_from(x) {
        let [i0, i1, i2, i3] = v.to_le_bytes();
        ops.extend(&[0x48 | b, 0xC7, 0xC0 | low, i0, i1, i2, i3]);
    } else {
        let [i0, i1, i2, i3, i4, i5, i6, i7] = x.to_le_bytes();
        ops.extend(&[0x48 | b, 0xB8 | low, i0, i1, i2, i3, i4, i5, i6, i7]);
    }
}

/// `movsd xmm, [m]` (`load`) or `movsd [m], xmm`, `[base + disp]` by hand
/// as in [`rm64`]: `F2 REX 0F 10/11 /r` (`movsd_matches_dynasm`); the
/// other forms through `dynasm!`.
#[inline]
pub(crate) fn movsd_mem(ops: &mut Asm, load: bool, x: u8, m: Mem) {
    let Mem::Base { base, disp } = m else {
        return movsd_mem_dynasm(ops, load, x, m);
    };
    let rex = 0x40 | (x & 8) >> 1 | (base & 8) >> 3;
    let opcode = if load { 0x10 } else { 0x11 };
    let modrm = (x & 7) << 3 | 0b100;
    let sib = 0b00_100_000 | (base & 7);
    match i8::try_from(disp) {
        Ok(d) => ops.extend(&[0xF2, rex, 0x0F, opcode, 0x40 | modrm, sib, d as u8]),
        Err(_) => {
            let [a, b, c, d] = disp.to_le_bytes();
            ops.extend(&[0xF2, rex, 0x0F, opcode, 0x80 | modrm, sib, a, b, c, d]);
        }
    }
}

/// [`movsd_mem`] through `dynasm!`, for the indexed and absolute forms
/// (and the reference the hand encoding is tested against).
#[cold]
#[inline(never)]
pub(crate) fn movsd_mem_dynasm(ops: &mut Asm, load: bool, x: u8, m: Mem) {
    if load {
        with_mem!(ops, m, [movsd Rx(x),], []);
    } else {
        with_mem!(ops, m, [movsd], [, Rx(x)]);
    }
}

#[cold]
#[inline(never)]
pub(crate) fn mov_mem_imm32_dynasm(ops: &mut Asm, m: Mem, imm: i32) {
    with_mem!(ops, m, [mov QWORD], [, imm]);
}

/// [`rm64`] through `dynasm!`, for the indexed and absolute forms (and the
/// reference the hand encoding is tested against).
#[cold]
#[inline(never)]
pub(crate) fn rm64_dynasm(ops: &mut Asm, inst: Rm64, r: u8, m: Mem) {
    match inst {
        Rm64::MovLoad => with_mem!(ops, m, [mov Rq(r),], []),
        Rm64::MovStore => with_mem!(ops, m, [mov QWORD], [, Rq(r)]),
        Rm64::Lea => with_mem!(ops, m, [lea Rq(r),], []),
        Rm64::Add => with_mem!(ops, m, [add Rq(r),], []),
        Rm64::Sub => with_mem!(ops, m, [sub Rq(r),], []),
        Rm64::And => with_mem!(ops, m, [and Rq(r),], []),
        Rm64::Or => with_mem!(ops, m, [or Rq(r),], []),
        Rm64::Xor => with_mem!(ops, m, [xor Rq(r),], []),
        Rm64::CmpLoad => with_mem!(ops, m, [cmp Rq(r),], []),
        Rm64::CmpStore => with_mem!(ops, m, [cmp QWORD], [, Rq(r)]),
    }
}

impl Mem {
    /// The displacement.
    pub(crate) fn disp(self) -> i32 {
        match self {
            Mem::Base { disp, .. }
            | Mem::Index { disp, .. }
            | Mem::NoBase { disp, .. }
            | Mem::Abs { disp } => disp,
        }
    }
}

/// A general-purpose value: in a register, in memory, an immediate, or the
/// address `rsp + offset` (an `alloc` address, recomputed where it is read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    Reg(u8),
    Mem(Mem),
    Imm(i64),
    Addr(i32),
}

/// Whether an immediate fits the sign-extended 32-bit field of most instructions.
pub(crate) fn fits_i32(v: i64) -> bool {
    i32::try_from(v).is_ok()
}

/// The 64-bit bit pattern of an immediate (LIL immediates are -2^63 ..= 2^64-1).
pub(crate) fn imm_bits(v: i128) -> i64 {
    v as u64 as i64
}

pub(crate) struct Emitter<'a> {
    pub(crate) ops: Asm,
    pub(crate) st: EmitState<'a>,
    pub(crate) s0: u8,
    pub(crate) s1: u8,
    pub(crate) f0: u8,
    /// A load left to a later comparison: (the `jc`, the variable loaded,
    /// the memory operand it reads instead).
    pub(crate) folded: Option<(usize, Var, Mem)>,
}

/// The plan's scratch registers in the roles the emitter gives them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scratch {
    s0: u8,
    s1: u8,
    f0: u8,
}

impl Scratch {
    #[inline]
    pub(crate) fn of(plan: &FramePlan) -> R<Scratch> {
        let gp = |k: usize| {
            plan.scratch_gp
                .get(k)
                .map(|r| r.num)
                .ok_or(CodegenError::Internal("no scratch"))
        };
        let f0 = plan
            .scratch_fp
            .first()
            .map(|r| r.num)
            .ok_or(CodegenError::Internal("no fp scratch"))?;
        Ok(Scratch {
            s0: gp(0)?,
            s1: gp(1)?,
            f0,
        })
    }
}

impl<'a> Emitter<'a> {
    // Infallible (the registers were checked by `Scratch::of`) and inlined
    // into `compile_with`, so the emitter, assembler included, is built in
    // place rather than copied out of a `Result`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts the emitter is built from in place: a struct of them, or the \
                  emission state built by the caller, costs a copy (measured)"
    )]
    #[inline]
    pub(crate) fn new(
        stub: &'a CheckedStub,
        env: &'a HostEnv,
        plan: &'a FramePlan,
        tables: &'a mut EmitTables,
        scratch: Scratch,
        options: CompileOptions,
        code: Vec<u8>,
        unwind: &'a mut UnwindInfo,
    ) -> Emitter<'a> {
        Emitter {
            ops: Asm::reusing(code, lil_codegen::drive::code_capacity(stub, plan)),
            st: EmitState::new(stub, &DESC, plan, env, options, unwind, tables),
            s0: scratch.s0,
            s1: scratch.s1,
            f0: scratch.f0,
            folded: None,
        }
    }

    pub(crate) fn ctx(&self) -> R<Context<'a>> {
        self.st.ctx()
    }

    // ---------------------------------------------------------- locations

    fn frame_mem(&self, off: i32) -> Mem {
        Mem::Base {
            base: RSP,
            disp: off,
        }
    }

    /// The memory operand of a frame or incoming-argument location.
    pub(crate) fn loc_mem(&self, loc: Loc) -> R<Mem> {
        match loc {
            Loc::Frame(off) => Ok(self.frame_mem(off)),
            Loc::Incoming(off) => {
                // CFA: rsp + frame_size when framed, rsp + 8 (past the return address) when not.
                let cfa = if self.st.framed {
                    self.st.plan.frame_size as i32
                } else {
                    8
                };
                Ok(self.frame_mem(cfa + off))
            }
            Loc::Reg(_) => Err(CodegenError::Internal("register location used as memory").into()),
        }
    }

    /// The type of a variable where it is read, from the context.
    pub(crate) fn var_type(&self, var: Var) -> R<Type> {
        let ctx = self.ctx()?;
        let t = match var {
            Var::Input(k) => self
                .st
                .stub
                .stub()
                .entry
                .signature
                .typed()
                .and_then(|s| s.params.get(k as usize).copied()),
            Var::Output(k) => ctx.out().and_then(|s| s.params.get(k as usize).copied()),
            Var::Local(k) => ctx.local(k),
            Var::StdPlace(k) => ctx.std_place(k),
            Var::Ret => ctx.ret(),
        };
        t.ok_or_else(|| CodegenError::Internal("variable read with no type").into())
    }

    /// Where a variable of class `class` lives at the current instruction.
    /// A general-purpose local or `r`, most operands, is read from the
    /// plan inline (the call and its result written through memory cost
    /// more than the read).
    #[inline]
    pub(crate) fn var_loc(&self, var: Var, class: RegClass) -> R<Loc> {
        match (var, class) {
            (Var::Local(k), RegClass::General) => self.st.local(k, class),
            (Var::Ret, RegClass::General) => Ok(Loc::Reg(self.st.plan.ret_gp)),
            _ => self.st.var_loc_outlined(&DESC, var, class),
        }
    }

    /// A general-purpose variable as a value where the current instruction
    /// reads it.
    pub(crate) fn var_val(&self, var: Var) -> R<Val> {
        if let Var::Local(k) = var
            && let Some(off) = self.st.alloc_address(k)
        {
            return Ok(Val::Addr(off));
        }
        match self.var_loc(var, RegClass::General)? {
            Loc::Reg(r) => Ok(Val::Reg(r.num)),
            loc => Ok(Val::Mem(self.loc_mem(loc)?)),
        }
    }

    /// A general-purpose operand as a value.
    pub(crate) fn operand_val(&self, o: &Operand) -> R<Val> {
        match o.kind {
            OperandKind::Imm(v) => Ok(Val::Imm(imm_bits(v))),
            OperandKind::Var(v) => self.var_val(v),
        }
    }

    // -------------------------------------------------------------- moves

    /// `r = v` (64 bits; for an immediate, the shortest encoding). The
    /// no-op, `v` already in `r` (a result computed in its destination
    /// register), is decided inline: it costs no call.
    #[inline]
    pub(crate) fn load(&mut self, r: u8, v: Val) {
        if v != Val::Reg(r) {
            self.load_code(r, v);
        }
    }

    /// [`Emitter::load`]'s code (out of line: its `dynasm!` forms give it
    /// a large frame).
    #[inline(never)]
    fn load_code(&mut self, r: u8, v: Val) {
        let ops = &mut self.ops;
        match v {
            Val::Reg(s) => mov_rr(ops, r, s),
            Val::Mem(m) => rm64(ops, Rm64::MovLoad, r, m),
            Val::Imm(x) => mov_imm(ops, r, x),
            Val::Addr(off) => self.lea(
                r,
                Mem::Base {
                    base: RSP,
                    disp: off,
                },
            ),
        }
    }

    /// `r = [m]` (64 bits). Inlined, as `st64` and `lea`: these are most
    /// of an M2N frame's code, and the call cost as much as the encoding.
    #[inline]
    pub(crate) fn ld64(&mut self, r: u8, m: Mem) {
        rm64(&mut self.ops, Rm64::MovLoad, r, m);
    }

    /// `[m] = r` (64 bits).
    #[inline]
    pub(crate) fn st64(&mut self, m: Mem, r: u8) {
        rm64(&mut self.ops, Rm64::MovStore, r, m);
    }

    /// `r = &m`.
    #[inline]
    pub(crate) fn lea(&mut self, r: u8, m: Mem) {
        rm64(&mut self.ops, Rm64::Lea, r, m);
    }

    /// The value in a register: its own, or loaded into `scratch`.
    pub(crate) fn in_reg(&mut self, v: Val, scratch: u8) -> u8 {
        match v {
            Val::Reg(r) => r,
            other => {
                self.load(scratch, other);
                scratch
            }
        }
    }

    /// `[m] = v` for a 64-bit slot; may clobber `scratch`. An immediate
    /// (an M2N frame's method and frame type, most often 0) is stored
    /// inline: the call would cost as much as the store.
    #[inline]
    pub(crate) fn store64(&mut self, m: Mem, v: Val, scratch: u8) {
        match v {
            Val::Imm(x) if fits_i32(x) => mov_mem_imm32(&mut self.ops, m, x as i32),
            _ => self.store64_reg(m, v, scratch),
        }
    }

    /// [`Emitter::store64`] of a value that goes through a register.
    #[inline(never)]
    fn store64_reg(&mut self, m: Mem, v: Val, scratch: u8) {
        let r = self.in_reg(v, scratch);
        rm64(&mut self.ops, Rm64::MovStore, r, m);
    }

    /// Write the general-purpose value in register `r` to a location.
    /// A result computed in its destination register (the common case)
    /// is decided inline: it costs no call.
    #[inline]
    pub(crate) fn put(&mut self, loc: Loc, r: u8) -> R<()> {
        match loc {
            Loc::Reg(d) if d.num == r => Ok(()),
            loc => self.put_code(loc, r),
        }
    }

    /// [`Emitter::put`]'s code.
    #[inline(never)]
    fn put_code(&mut self, loc: Loc, r: u8) -> R<()> {
        match loc {
            Loc::Reg(d) => self.load(d.num, Val::Reg(r)),
            loc => {
                let m = self.loc_mem(loc)?;
                rm64(&mut self.ops, Rm64::MovStore, r, m);
            }
        }
        Ok(())
    }

    /// Copy a value of type `ty` between two locations (used by parallel
    /// moves). May clobber `s1` and `f0`.
    /// The no-op, a value already where it goes (a result returned in
    /// its register, an argument passed on in place), is decided
    /// inline: it costs no call.
    #[inline]
    pub(crate) fn copy(&mut self, dst: Loc, src: Loc, ty: Type) -> R<()> {
        if dst == src {
            return Ok(());
        }
        self.copy_code(dst, src, ty)
    }

    /// [`Emitter::copy`]'s code.
    #[inline(never)]
    fn copy_code(&mut self, dst: Loc, src: Loc, ty: Type) -> R<()> {
        if ty.is_float() {
            return self.copy_fp(dst, src);
        }
        let v = match src {
            Loc::Reg(r) => Val::Reg(r.num),
            loc => Val::Mem(self.loc_mem(loc)?),
        };
        match dst {
            Loc::Reg(d) => self.load(d.num, v),
            loc => {
                let m = self.loc_mem(loc)?;
                let s1 = self.s1;
                self.store64(m, v, s1);
            }
        }
        Ok(())
    }

    /// [`Emitter::copy`] of a float (out of line: rare, and its `dynasm!`
    /// forms would give every copy a large frame).
    #[inline(never)]
    fn copy_fp(&mut self, dst: Loc, src: Loc) -> R<()> {
        let f = match (src, dst) {
            (Loc::Reg(r), _) => r.num,
            // Straight into a destination register, not through f0.
            (loc, Loc::Reg(d)) => {
                let m = self.loc_mem(loc)?;
                movsd_mem(&mut self.ops, true, d.num, m);
                d.num
            }
            (loc, _) => {
                let m = self.loc_mem(loc)?;
                let f0 = self.f0;
                movsd_mem(&mut self.ops, true, f0, m);
                f0
            }
        };
        match dst {
            Loc::Reg(d) => {
                let ops = &mut self.ops;
                if d.num != f {
                    dynasm!(ops ; .arch x64 ; movaps Rx(d.num), Rx(f));
                }
            }
            loc => {
                let m = self.loc_mem(loc)?;
                movsd_mem(&mut self.ops, false, f, m);
            }
        }
        Ok(())
    }

    // -------------------------------------------------- prologue/epilogue

    pub(crate) fn prologue(&mut self) -> R<()> {
        let body = self.st.plan.frame_size as i32 - 16;
        // `push rbp ; mov rbp, rsp` in one piece (`prologue_matches_dynasm`).
        let start = self.ops.offset().0;
        self.ops.extend(&[0x55, 0x48, 0x89, 0xE5]);
        self.st.note_frame_record(start + 1, start + 4);
        let ops = &mut self.ops;
        const PAGE: i32 = lil_codegen::plan::STACK_PROBE_INTERVAL as i32;
        if body >= PAGE {
            // Stack probes: a frame of a page or more touches every page
            // from the top down, so it cannot step over the guard page
            // below the stack. rax is borrowed (saved just below the frame
            // record, where the frame begins, and restored); the CFA stays
            // rbp + 16 throughout.
            let pages = body / PAGE;
            dynasm!(ops
                ; .arch x64
                ; push rax
                ; mov eax, pages
                ; probe:
                ; sub rsp, PAGE
                ; test DWORD [rsp], esp
                ; dec eax
                ; jnz <probe
                ; mov rax, [rbp - 8]
                ; lea rsp, [rbp - body]
            );
        } else if let Ok(small) = i8::try_from(body) {
            if small > 0 {
                // sub rsp, BYTE small
                ops.extend(&[0x48, 0x83, 0xEC, small as u8]);
            }
        } else {
            // sub rsp, DWORD body
            let [a, b, c, d] = body.to_le_bytes();
            ops.extend(&[0x48, 0x81, 0xEC, a, b, c, d]);
        }
        let plan = self.st.plan;
        for &(r, slot) in plan.saved.iter().chain(&plan.arbitrary_saves) {
            self.save_reg(r, slot);
        }
        for (arrival, home) in plan.inputs.iter().zip(&plan.input_homes) {
            if let (ArgLoc::Reg(r), Some(slot)) = (arrival, home) {
                self.save_reg(*r, *slot);
            }
        }
        let at = self.ops.offset().0;
        self.st.note_unwind(at, FrameState::Saved);
        self.st.framed = true;
        Ok(())
    }

    /// Store `r` in frame slot `slot` (inlined as [`Emitter::st64`]; a
    /// float register's `movsd` is out of line).
    #[inline]
    pub(crate) fn save_reg(&mut self, r: Reg, slot: i32) {
        let m = self.frame_mem(slot);
        match r.class {
            RegClass::General => rm64(&mut self.ops, Rm64::MovStore, r.num, m),
            RegClass::Float => self.movsd(false, r.num, m),
        }
    }

    /// Load `r` from frame slot `slot` (as [`Emitter::save_reg`]).
    #[inline]
    pub(crate) fn restore_reg(&mut self, r: Reg, slot: i32) {
        let m = self.frame_mem(slot);
        match r.class {
            RegClass::General => rm64(&mut self.ops, Rm64::MovLoad, r.num, m),
            RegClass::Float => self.movsd(true, r.num, m),
        }
    }

    /// `movsd xmm, [m]` (`load`) or `movsd [m], xmm`.
    #[inline(never)]
    fn movsd(&mut self, load: bool, x: u8, m: Mem) {
        movsd_mem(&mut self.ops, load, x, m);
    }

    /// Tear the frame down (if set up), keeping the registers in `keep`.
    /// Whether there is a frame is decided inline: a `ret` from
    /// unframed code costs no call.
    #[inline]
    pub(crate) fn epilogue(&mut self, keep: &[Reg]) {
        if self.st.framed {
            self.epilogue_code(keep);
        }
    }

    /// [`Emitter::epilogue`]'s code, the frame set up.
    #[inline(never)]
    fn epilogue_code(&mut self, keep: &[Reg]) {
        for &(r, slot) in &self.st.plan.saved {
            if !keep.contains(&r) {
                self.restore_reg(r, slot);
            }
        }
        let ops = &mut self.ops;
        dynasm!(ops ; .arch x64 ; leave);
        let at = ops.offset().0;
        self.st.note_unwind(at, FrameState::Entry);
    }

    // ------------------------------------------------------ helper calls

    /// Call a host function of the stub's own (not a LIL `call`), keeping
    /// every caller-saved register that holds a variable. `set_args` loads
    /// the arguments (registers are saved by then); the result is left in
    /// rax / xmm0 and `after` runs before the saved registers come back
    /// (it must not clobber them). The frame is set up.
    pub(crate) fn helper_call(
        &mut self,
        function: u64,
        set_args: impl FnOnce(&mut Self) -> R<()>,
        after: impl FnOnce(&mut Self) -> R<()>,
    ) -> R<()> {
        let saves = &self.st.plan.helper_saves;
        for (r, slot) in saves {
            self.save_reg(*r, *slot);
        }
        set_args(self)?;
        let ops = &mut self.ops;
        dynasm!(ops ; .arch x64 ; mov rax, QWORD function as i64 ; call rax);
        after(self)?;
        for (r, slot) in saves {
            self.restore_reg(*r, *slot);
        }
        Ok(())
    }

    /// The thread pointer into register `dst` (clobbers `s0` if `dst` is not it).
    /// A TLS slot, one load, is read inline: a call would cost as much.
    #[inline]
    pub(crate) fn thread_pointer(&mut self, dst: u8) -> R<()> {
        match self.st.env.thread_pointer {
            lil_codegen::ThreadPointer::TlsSlot { offset } => {
                fs_load(&mut self.ops, dst, offset);
                Ok(())
            }
            _ => self.thread_pointer_elsewhere(dst),
        }
    }

    /// [`Emitter::thread_pointer`] from a register or a call.
    #[inline(never)]
    fn thread_pointer_elsewhere(&mut self, dst: u8) -> R<()> {
        match self.st.env.thread_pointer {
            lil_codegen::ThreadPointer::TlsSlot { offset } => fs_load(&mut self.ops, dst, offset),
            lil_codegen::ThreadPointer::Register(n) => self.load(dst, Val::Reg(n)),
            lil_codegen::ThreadPointer::Call { function } => {
                let s0 = self.s0;
                self.helper_call(
                    function,
                    |_| Ok(()),
                    |e| {
                        e.load(s0, Val::Reg(RAX));
                        Ok(())
                    },
                )?;
                self.load(dst, Val::Reg(s0));
            }
        }
        Ok(())
    }
}

impl<'a> IsaEmitter<'a> for Emitter<'a> {
    type Relocation = X64Relocation;
    fn state(&mut self) -> &mut EmitState<'a> {
        &mut self.st
    }
    fn asm(&mut self) -> &mut Asm {
        &mut self.ops
    }
    fn state_and_asm(&mut self) -> (&mut EmitState<'a>, &mut Asm) {
        (&mut self.st, &mut self.ops)
    }
    fn jump_to(&mut self, label: DynamicLabel) {
        jmp(&mut self.ops, label);
    }
    fn prologue(&mut self) -> R<()> {
        Emitter::prologue(self)
    }
    #[inline]
    fn instruction(&mut self, kind: &InstKind) -> R<()> {
        Emitter::instruction(self, kind)
    }
    fn data(&mut self, bytes: &[u8]) {
        self.ops.extend(bytes.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_match_dynasm() {
        let mut want = Asm::with_capacity(0);
        let mut got = Asm::with_capacity(0);
        let (back_w, fwd_w) = (want.new_dynamic_label(), want.new_dynamic_label());
        let (back_g, fwd_g) = (got.new_dynamic_label(), got.new_dynamic_label());
        let o = &mut want;
        dynasm!(o ; .arch x64 ; =>back_w ; nop
            ; jo =>back_w ; jno =>fwd_w ; jb =>back_w ; jae =>fwd_w
            ; je =>back_w ; jne =>fwd_w ; jbe =>back_w ; ja =>fwd_w
            ; js =>back_w ; jns =>fwd_w ; jp =>back_w ; jnp =>fwd_w
            ; jl =>back_w ; jge =>fwd_w ; jle =>back_w ; jg =>fwd_w
            ; jmp =>back_w ; jmp =>fwd_w ; nop ; =>fwd_w);
        let o = &mut got;
        dynasm!(o ; .arch x64 ; =>back_g ; nop);
        for cc in 0..16u8 {
            jcc(o, cc, if cc % 2 == 0 { back_g } else { fwd_g });
        }
        jmp(o, back_g);
        jmp(o, fwd_g);
        dynasm!(o ; .arch x64 ; nop ; =>fwd_g);
        assert_eq!(got.finalize().ok(), want.finalize().ok());
        // An unbound target fails as in dynasm.
        let mut want = Asm::with_capacity(0);
        let mut got = Asm::with_capacity(0);
        let (w, g) = (want.new_dynamic_label(), got.new_dynamic_label());
        let o = &mut want;
        dynasm!(o ; .arch x64 ; jmp =>w);
        jmp(&mut got, g);
        assert_eq!(
            format!("{:?}", got.finalize()),
            format!("{:?}", want.finalize())
        );
    }

    /// `ours` writes the bytes `dynasm` writes; `what` names the
    /// instruction in a failure.
    #[track_caller]
    fn assert_same_bytes(
        what: std::fmt::Arguments<'_>,
        dynasm: impl FnOnce(&mut Asm),
        ours: impl FnOnce(&mut Asm),
    ) {
        let (mut want, mut got) = (Asm::with_capacity(0), Asm::with_capacity(0));
        dynasm(&mut want);
        ours(&mut got);
        assert_eq!(got.finalize().ok(), want.finalize().ok(), "{what}");
    }

    /// `mov_rr` and `mov_imm` write the bytes of the `dynasm!` forms
    /// they replace, for every register and immediate class.
    #[test]
    fn moves_match_dynasm() {
        let imms: [i64; 10] = [
            0,
            1,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            -1,
            i32::MIN as i64,
            0x1_0000_0000,
            i64::MIN,
            0x1234_5678_9abc_def0,
        ];
        for r in 0..16u8 {
            for s in 0..16u8 {
                assert_same_bytes(
                    format_args!("mov r{r}, r{s}"),
                    |o| dynasm!(o ; .arch x64 ; mov Rq(r), Rq(s)),
                    |a| mov_rr(a, r, s),
                );
                assert_same_bytes(
                    format_args!("mov e{r}, e{s}"),
                    |o| dynasm!(o ; .arch x64 ; mov Rd(r), Rd(s)),
                    |a| mov32_rr(a, r, s),
                );
            }
            assert_same_bytes(
                format_args!("call r{r}"),
                |o| dynasm!(o ; .arch x64 ; call Rq(r)),
                |a| call_r(a, r),
            );
            for x in imms {
                let mut want = Asm::with_capacity(0);
                let o = &mut want;
                if x == 0 {
                    dynasm!(o ; .arch x64 ; xor Rd(r), Rd(r));
                } else if (0..=u32::MAX as i64).contains(&x) {
                    dynasm!(o ; .arch x64 ; mov Rd(r), x as u32 as i32);
                } else if fits_i32(x) {
                    dynasm!(o ; .arch x64 ; mov Rq(r), DWORD x as i32);
                } else {
                    dynasm!(o ; .arch x64 ; mov Rq(r), QWORD x);
                }
                let mut got = Asm::with_capacity(0);
                mov_imm(&mut got, r, x);
                assert_eq!(got.finalize().ok(), want.finalize().ok(), "r{r} = {x:#x}");
            }
        }
    }

    /// `alu_rr` and `alu_imm` write the bytes of the `dynasm!` forms they
    /// replace.
    #[test]
    fn alu_matches_dynasm() {
        macro_rules! check {
            ($op:expr, $mn:ident) => {
                for r in 0..16u8 {
                    for s in 0..16u8 {
                        assert_same_bytes(
                            format_args!("{:?} r{r}, r{s}", $op),
                            |o| dynasm!(o ; .arch x64 ; $mn Rq(r), Rq(s)),
                            |a| alu_rr(a, $op, r, s),
                        );
                    }
                    for x in [0, 1, -1, 127, -128, 128, -129, i32::MAX, i32::MIN] {
                        let mut want = Asm::with_capacity(0);
                        let o = &mut want;
                        if let Ok(b) = i8::try_from(x) {
                            dynasm!(o ; .arch x64 ; $mn Rq(r), BYTE b);
                        } else {
                            dynasm!(o ; .arch x64 ; $mn Rq(r), DWORD x);
                        }
                        let mut got = Asm::with_capacity(0);
                        alu_imm(&mut got, $op, r, x);
                        assert_eq!(got.finalize().ok(), want.finalize().ok(), "{:?} r{r}, {x}", $op);
                    }
                }
            };
        }
        check!(Alu::Add, add);
        check!(Alu::Or, or);
        check!(Alu::And, and);
        check!(Alu::Sub, sub);
        check!(Alu::Xor, xor);
        for r in 0..16u8 {
            for s in 0..16u8 {
                assert_same_bytes(
                    format_args!("cmp r{r}, r{s}"),
                    |o| dynasm!(o ; .arch x64 ; cmp Rq(r), Rq(s)),
                    |a| cmp_rr(a, r, s),
                );
            }
            for x in [0, 1, -1, 127, -128, 128, i32::MAX, i32::MIN] {
                assert_same_bytes(
                    format_args!("cmp r{r}, {x}"),
                    |o| dynasm!(o ; .arch x64 ; cmp Rq(r), x),
                    |a| cmp_imm32(a, r, x),
                );
            }
            assert_same_bytes(
                format_args!("test r{r}"),
                |o| dynasm!(o ; .arch x64 ; test Rq(r), Rq(r)),
                |a| test_rr(a, r),
            );
        }
    }

    /// `movsd_mem` writes the bytes `dynasm!` writes, for every register,
    /// base and displacement class.
    #[test]
    fn movsd_matches_dynasm() {
        for x in 0..16u8 {
            for base in 0..16u8 {
                for disp in [0, 8, -8, 127, -128, 128, -129, i32::MAX, i32::MIN] {
                    for load in [true, false] {
                        let m = Mem::Base { base, disp };
                        let mut want = Asm::with_capacity(0);
                        movsd_mem_dynasm(&mut want, load, x, m);
                        let mut got = Asm::with_capacity(0);
                        movsd_mem(&mut got, load, x, m);
                        assert_eq!(
                            got.finalize().ok(),
                            want.finalize().ok(),
                            "xmm{x} base {base} disp {disp} load {load}"
                        );
                    }
                }
            }
        }
    }

    /// The prologue's hand-written pieces are `dynasm!`'s bytes.
    #[test]
    fn prologue_matches_dynasm() {
        let mut want = Asm::with_capacity(0);
        let o = &mut want;
        dynasm!(o ; .arch x64 ; push rbp ; mov rbp, rsp ; sub rsp, BYTE 0x70 ; sub rsp, DWORD 0x1230);
        let mut got = Asm::with_capacity(0);
        got.extend(&[0x55, 0x48, 0x89, 0xE5, 0x48, 0x83, 0xEC, 0x70]);
        got.extend(&[0x48, 0x81, 0xEC, 0x30, 0x12, 0, 0]);
        assert_eq!(got.finalize().ok(), want.finalize().ok());
    }

    #[test]
    fn fs_load_matches_dynasm() {
        for r in 0..16u8 {
            for offset in [0, 8, 0x28, -8, 0x1234_5678, i32::MIN] {
                assert_same_bytes(
                    format_args!("r{r} {offset}"),
                    |o| dynasm!(o ; .arch x64 ; fs mov Rq(r), [offset]),
                    |a| fs_load(a, r, offset),
                );
            }
        }
    }

    /// Every `Rm64` form.
    const RM64_KINDS: [Rm64; 10] = [
        Rm64::MovLoad,
        Rm64::MovStore,
        Rm64::Lea,
        Rm64::Add,
        Rm64::Sub,
        Rm64::And,
        Rm64::Or,
        Rm64::Xor,
        Rm64::CmpLoad,
        Rm64::CmpStore,
    ];

    /// `rm64_run` writes what `rm64` writes one by one, for every
    /// register, base, instruction and displacement class, byte
    /// displacements or not (then one by one itself).
    #[test]
    fn rm64_run_matches_rm64() {
        let kinds = RM64_KINDS;
        let disps = [0, 1, -1, 56, 127, -128, 128, -129, i32::MAX, i32::MIN];
        for reg in 0..16u8 {
            for base in 0..16u8 {
                for (k, inst) in kinds.into_iter().enumerate() {
                    for disp in disps {
                        let other = disps[k % disps.len()];
                        let run = [
                            (inst, reg, Mem::Base { base, disp }),
                            (
                                Rm64::MovStore,
                                base,
                                Mem::Base {
                                    base: reg,
                                    disp: other,
                                },
                            ),
                            (
                                kinds[(k + 3) % kinds.len()],
                                reg,
                                Mem::Base { base, disp: 8 },
                            ),
                        ];
                        let mut want = Asm::with_capacity(0);
                        for (inst, reg, m) in run {
                            rm64(&mut want, inst, reg, m);
                        }
                        let mut got = Asm::with_capacity(0);
                        rm64_run(&mut got, run);
                        assert_eq!(
                            got.finalize().ok(),
                            want.finalize().ok(),
                            "{inst:?} reg {reg} base {base} disp {disp} {other}"
                        );
                    }
                }
            }
        }
        // A form that is not `[base + disp]` goes one by one too.
        let run = [
            (Rm64::MovLoad, RAX, Mem::Abs { disp: 16 }),
            (Rm64::MovStore, RCX, Mem::Base { base: RSP, disp: 8 }),
        ];
        let mut want = Asm::with_capacity(0);
        for (inst, reg, m) in run {
            rm64(&mut want, inst, reg, m);
        }
        let mut got = Asm::with_capacity(0);
        rm64_run(&mut got, run);
        assert_eq!(got.finalize().ok(), want.finalize().ok());
    }

    /// `rm64` writes the bytes `dynasm!` writes for the same instruction,
    /// for every register, every base (rsp/r12 need a SIB byte, rbp/r13 a
    /// displacement even when it is zero) and displacements at the
    /// boundaries of the disp8 and disp32 forms.
    #[test]
    fn rm64_matches_dynasm() {
        let disps = [
            0,
            1,
            -1,
            8,
            127,
            -128,
            128,
            -129,
            0x1234,
            -0x5678,
            i32::MAX,
            i32::MIN,
        ];
        for reg in 0..16u8 {
            for base in 0..16u8 {
                for disp in disps {
                    let m = Mem::Base { base, disp };
                    let mut want = Asm::with_capacity(0);
                    {
                        let ops = &mut want;
                        with_mem!(&mut *ops, m, [mov Rq(reg),], []);
                        with_mem!(&mut *ops, m, [mov QWORD], [, Rq(reg)]);
                        with_mem!(&mut *ops, m, [lea Rq(reg),], []);
                        with_mem!(&mut *ops, m, [add Rq(reg),], []);
                        with_mem!(&mut *ops, m, [sub Rq(reg),], []);
                        with_mem!(&mut *ops, m, [and Rq(reg),], []);
                        with_mem!(&mut *ops, m, [or Rq(reg),], []);
                        with_mem!(&mut *ops, m, [xor Rq(reg),], []);
                        with_mem!(&mut *ops, m, [cmp Rq(reg),], []);
                        with_mem!(&mut *ops, m, [cmp QWORD], [, Rq(reg)]);
                        with_mem!(&mut *ops, m, [mov Rq(reg), QWORD], []);
                    }
                    let mut got = Asm::with_capacity(0);
                    // Every form, in the order of `want` above, then a load again.
                    for inst in RM64_KINDS.into_iter().chain([Rm64::MovLoad]) {
                        rm64(&mut got, inst, reg, m);
                    }
                    assert_eq!(
                        got.finalize().ok(),
                        want.finalize().ok(),
                        "reg {reg} base {base} disp {disp}"
                    );
                }
            }
        }
        for base in 0..16u8 {
            for disp in [0, -1, 127, -128, 128, i32::MIN] {
                for imm in [0, 1, -1, 0x7fff_ffff, i32::MIN] {
                    let m = Mem::Base { base, disp };
                    let mut got = Asm::with_capacity(0);
                    mov_mem_imm32(&mut got, m, imm);
                    let mut want = Asm::with_capacity(0);
                    mov_mem_imm32_dynasm(&mut want, m, imm);
                    assert_eq!(
                        got.finalize().ok(),
                        want.finalize().ok(),
                        "{base} {disp} {imm}"
                    );
                }
            }
        }
        // The other forms go through dynasm.
        for m in [
            Mem::Index {
                base: 0,
                index: 1,
                scale: 8,
                disp: 0,
            },
            Mem::NoBase {
                index: 9,
                scale: 2,
                disp: -300,
            },
            Mem::Abs { disp: 16 },
        ] {
            let mut got = Asm::with_capacity(0);
            rm64(&mut got, Rm64::MovLoad, 2, m);
            let mut want = Asm::with_capacity(0);
            with_mem!(&mut want, m, [mov Rq(2),], []);
            assert_eq!(got.finalize().ok(), want.finalize().ok());
        }
    }
}
