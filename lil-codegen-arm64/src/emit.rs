//! The AArch64 emitter's machinery: values and their locations, memory
//! operands (legalized: every offset that does not encode goes through a
//! scratch register, so dynasm's run-time range checks never fire), moves,
//! the prologue and epilogue, helper calls. `inst.rs` has one function per
//! LIL instruction, in the same order as the x86-64 emitter.
//!
//! Scratch registers: x16 and x17 form addresses and hold call targets
//! (x17 also materializes offsets inside one access), x15 and x14 hold
//! values; d31 and d30 are the float scratch. None holds anything across
//! LIL instructions.

use crate::abi::DESC;
use dynasmrt::aarch64::Aarch64Relocation;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};
use lil_check::Context;
use lil_codegen::asm::BranchField;
use lil_codegen::drive::{EmitState, EmitTables, IsaEmitter};
use lil_codegen::plan::Loc;
use lil_codegen::unwind::{FrameState, UnwindInfo};
use lil_codegen::{
    ArgLoc, CheckedStub, CodegenError, CompileOptions, FramePlan, HostEnv, Reg, RegClass,
};
use lil_syntax::{InstKind, Operand, OperandKind, Type, Var};

pub(crate) type Asm = lil_codegen::asm::Assembler<Aarch64Relocation>;
pub(crate) type R<T> = lil_codegen::drive::EmitResult<T>;

/// `b label`, by hand (the offset field left zero and patched by the
/// assembler, [`BranchField`]): `dynasm!` would record a generic
/// relocation, several times the cost of the encoding.
#[inline]
pub(crate) fn b(ops: &mut Asm, label: DynamicLabel) {
    ops.push_u32(0x1400_0000);
    ops.branch_to(label, BranchField::Imm26);
}

/// `b.cond label` for condition number `cond` (`eq` 0, `ne` 1, `hs` 2,
/// `lo` 3, `hi` 8, `ls` 9, `ge` 10, `lt` 11, `gt` 12, `le` 13), as [`b`].
#[inline]
pub(crate) fn b_cond(ops: &mut Asm, cond: u8, label: DynamicLabel) {
    ops.push_u32(0x5400_0000 | cond as u32);
    ops.branch_to(label, BranchField::Imm19);
}

/// `cbz` (or `cbnz` if `nonzero`) of `r`, 64-bit if `wide`, to `label`,
/// as [`b`].
#[inline]
pub(crate) fn cbz(ops: &mut Asm, nonzero: bool, wide: bool, r: u8, label: DynamicLabel) {
    let inst = 0x3400_0000 | (wide as u32) << 31 | (nonzero as u32) << 24 | (r as u32 & 31);
    ops.push_u32(inst);
    ops.branch_to(label, BranchField::Imm19);
}

/// Add to `list` the argument registers the prologue keeps in frame
/// slots: an arbitrary stub's, and each register input with a home slot
/// (saved after the frame's own registers, put back by a tail call).
/// Pushed one by one: collecting the chained iterators into the inline
/// list cost several times as much.
pub(crate) fn push_input_saves(plan: &FramePlan, list: &mut Accesses) {
    for &(r, slot) in &plan.arbitrary_saves {
        list.push((r, slot as i64));
    }
    for (arrival, home) in plan.inputs.iter().zip(&plan.input_homes) {
        if let (ArgLoc::Reg(r), Some(slot)) = (arrival, home) {
            list.push((*r, *slot as i64));
        }
    }
}

/// Registers to store or load at frame offsets ([`Emitter::accesses`]),
/// inline: a prologue saves a handful.
pub(crate) type Accesses = smallvec::SmallVec<[(Reg, i64); 16]>;

/// Address scratch registers.
pub(crate) const X16: u8 = 16;
pub(crate) const X17: u8 = 17;
/// The stack pointer as a base register.
pub(crate) const SP: u8 = 31;
/// The frame pointer.
pub(crate) const FP: u8 = 29;
/// The zero register as a source.
pub(crate) const XZR: u8 = 31;

/// An AArch64 memory operand before legalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AMem {
    /// `[base, #off]` (base 31 is sp)
    Imm { base: u8, off: i64 },
    /// `[base, index, lsl #shift]`
    Reg { base: u8, index: u8, shift: u8 },
}

/// An operand form one load/store instruction can encode.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Form {
    /// Unsigned scaled offset.
    Scaled { base: u8, off: u32 },
    /// Signed 9-bit unscaled offset (`ldur`/`stur`).
    Unscaled { base: u8, off: i32 },
    /// Register offset.
    Reg { base: u8, index: u8 },
    /// Register offset scaled by the access size.
    RegShift { base: u8, index: u8 },
}

/// A load or store of one register, by kind: `access!(e, form, KIND, reg)`.
macro_rules! access {
    ($ops:expr, $form:expr, $ins:ident, $uins:ident, $R:ident($r:expr), $shift:tt) => {{
        let ops = $ops;
        match $form {
            Form::Scaled { base, off } => dynasm!(ops ; .arch aarch64 ; $ins $R($r), [XSP(base), off]),
            Form::Unscaled { base, off } => dynasm!(ops ; .arch aarch64 ; $uins $R($r), [XSP(base), off]),
            Form::Reg { base, index } => dynasm!(ops ; .arch aarch64 ; $ins $R($r), [XSP(base), X(index)]),
            Form::RegShift { base, index } => dynasm!(ops ; .arch aarch64 ; $ins $R($r), [XSP(base), X(index), LSL $shift]),
        }
    }};
}

/// Loads and stores the emitter uses, with their access sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acc {
    LdrX,
    LdrW,
    Ldrh,
    Ldrb,
    Ldrsw,
    Ldrsh,
    Ldrsb,
    LdrD,
    LdrS,
    StrX,
    StrW,
    Strh,
    Strb,
    StrD,
    StrS,
}

impl Acc {
    pub(crate) fn size(self) -> u32 {
        match self {
            Acc::LdrX | Acc::StrX | Acc::LdrD | Acc::StrD => 8,
            Acc::LdrW | Acc::Ldrsw | Acc::StrW | Acc::LdrS | Acc::StrS => 4,
            Acc::Ldrh | Acc::Ldrsh | Acc::Strh => 2,
            Acc::Ldrb | Acc::Ldrsb | Acc::Strb => 1,
        }
    }

    /// The instruction word of the unsigned-scaled-offset form with every
    /// operand field zero (`ldr x0, [x0]`...). The unscaled form (`ldur`)
    /// is the same word with bit 24 clear.
    fn opcode(self) -> u32 {
        match self {
            Acc::LdrX => 0xF940_0000,
            Acc::LdrW => 0xB940_0000,
            Acc::Ldrh => 0x7940_0000,
            Acc::Ldrb => 0x3940_0000,
            Acc::Ldrsw => 0xB980_0000,
            Acc::Ldrsh => 0x7980_0000,
            Acc::Ldrsb => 0x3980_0000,
            Acc::LdrD => 0xFD40_0000,
            Acc::LdrS => 0xBD40_0000,
            Acc::StrX => 0xF900_0000,
            Acc::StrW => 0xB900_0000,
            Acc::Strh => 0x7900_0000,
            Acc::Strb => 0x3900_0000,
            Acc::StrD => 0xFD00_0000,
            Acc::StrS => 0xBD00_0000,
        }
    }
}

/// `kind`'s instruction word for an immediate-offset form, encoded by hand
/// (`None` for the register-offset forms, left to `dynasm!`).
///
/// Why: with run-time operands `dynasm!` range-checks and shifts every
/// field through a generic path, several times the cost of the three
/// shifts and ors an instruction word needs, and most of a stub's loads
/// and stores are frame slots and fields at an immediate offset. The words
/// are `dynasm!`'s own: `acc_words_match_dynasm` compares them for every
/// kind, register and offset class. `form` guarantees the offsets fit.
#[inline]
fn acc_word(kind: Acc, r: u8, f: Form) -> Option<u32> {
    let rt = u32::from(r) & 31;
    match f {
        Form::Scaled { base, off } => {
            let imm12 = off / kind.size();
            Some(kind.opcode() | imm12 << 10 | (u32::from(base) & 31) << 5 | rt)
        }
        Form::Unscaled { base, off } => {
            let imm9 = off as u32 & 0x1ff;
            Some(kind.opcode() & !(1 << 24) | imm9 << 12 | (u32::from(base) & 31) << 5 | rt)
        }
        Form::Reg { .. } | Form::RegShift { .. } => None,
    }
}

/// The word of `ldp`/`stp` (`load`) of two 8-byte registers of `class` at
/// `[base, #off]`, signed offset form (`off` a multiple of 8 in -512..=504),
/// encoded by hand for the reason given at [`acc_word`].
#[inline]
fn pair_word(load: bool, class: RegClass, a: u8, b: u8, base: u8, off: i32) -> u32 {
    let opcode: u32 = match class {
        RegClass::General => 0xA900_0000,
        RegClass::Float => 0x6D00_0000,
    };
    let imm7 = (off / 8) as u32 & 0x7f;
    opcode
        | u32::from(load) << 22
        | imm7 << 15
        | (u32::from(b) & 31) << 10
        | (u32::from(base) & 31) << 5
        | (u32::from(a) & 31)
}

/// Opcodes (64-bit, every field zero) of the move-wide instructions.
const MOVN: u32 = 0x9280_0000;
const MOVZ: u32 = 0xD280_0000;
const MOVK: u32 = 0xF280_0000;

/// The word of `movz`/`movn`/`movk` `x<r>, #imm16, lsl #(16 * hw)`,
/// encoded by hand for the reason given at [`acc_word`] (constants are
/// materialized for every address and call target);
/// `move_wide_words_match_dynasm` compares it with `dynasm!`.
#[inline]
fn move_wide(opcode: u32, r: u8, hw: u32, imm16: u32) -> u32 {
    opcode | (hw & 3) << 21 | (imm16 & 0xffff) << 5 | u32::from(r) & 31
}

/// Bit 16k of each halfword k of a 64-bit value: the sets
/// [`zero_halfwords`] returns.
const HALFWORDS: u64 = 0x0001_0001_0001_0001;

/// The halfwords of `x` that are zero, as bit 16k for halfword k.
#[inline]
fn zero_halfwords(x: u64) -> u64 {
    const LOW: u64 = 0x7FFF_7FFF_7FFF_7FFF;
    // The top bit of each halfword of `nonzero` is set when the halfword
    // is not zero: its own top bit, or the carry out of its low 15 bits.
    let nonzero = ((x & LOW) + LOW) | x;
    (!nonzero & !LOW) >> 15
}

/// How many halfwords a [`zero_halfwords`] set holds (the sum of its
/// four bits gathered in the top halfword: no population count).
#[inline]
fn halfword_count(set: u64) -> u32 {
    (set.wrapping_mul(HALFWORDS) >> 48) as u32
}

/// A general-purpose value: in a register, in memory, an immediate, or the
/// address `sp + offset` (an `alloc` address, recomputed where it is read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    Reg(u8),
    Mem(AMem),
    Imm(i64),
    Addr(i64),
}

pub(crate) fn imm_bits(v: i128) -> i64 {
    v as u64 as i64
}

pub(crate) struct Emitter<'a> {
    pub(crate) ops: Asm,
    pub(crate) st: EmitState<'a>,
    /// Value scratch registers.
    pub(crate) v0: u8,
    pub(crate) v1: u8,
    pub(crate) f0: u8,
    pub(crate) f1: u8,
    /// An extension left to the addition that follows it: (the addition,
    /// the extended variable, the register extended, the extension).
    pub(crate) ext_fold: Option<(usize, Var, u8, lil_syntax::UnaryOp)>,
}

/// The plan's scratch registers in the roles the emitter gives them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scratch {
    v0: u8,
    v1: u8,
    f0: u8,
    f1: u8,
}

impl Scratch {
    /// The roles of the plan's scratch registers. The plan nearly always
    /// gives the target's own pool in its order (x16, x17, x15, x14; no
    /// register borrowed), and that is recognised with one comparison;
    /// any other pool is searched ([`Scratch::search`]).
    #[inline]
    pub(crate) fn of(plan: &FramePlan) -> R<Scratch> {
        let (pool, fp_pool) = (Scratch::POOL, Scratch::FP_POOL);
        if plan.scratch_gp[..] == pool && plan.scratch_fp[..] == fp_pool {
            return Ok(Scratch {
                v0: pool[2].num,
                v1: pool[3].num,
                f0: fp_pool[0].num,
                f1: fp_pool[1].num,
            });
        }
        Scratch::search(plan)
    }

    /// The target's scratch pools (`abi::DESC.scratch_gp`, `scratch_fp`)
    /// in their order, as the plan lists them when it borrows nothing.
    const POOL: [Reg; 4] = [Reg::gp(X16), Reg::gp(X17), Reg::gp(15), Reg::gp(14)];
    const FP_POOL: [Reg; 2] = [Reg::fp(31), Reg::fp(30)];

    /// [`Scratch::of`] for a pool other than the target's own: x16 and
    /// x17 must be in it (addresses, call targets), and the first two
    /// others are the value scratch registers.
    #[cold]
    #[inline(never)]
    fn search(plan: &FramePlan) -> R<Scratch> {
        let scratch = &plan.scratch_gp;
        let has = |n: u8| scratch.iter().any(|r| r.num == n);
        let mut others = scratch
            .iter()
            .map(|r| r.num)
            .filter(|&r| r != X16 && r != X17);
        let (Some(v0), Some(v1)) = (others.next(), others.next()) else {
            return Err(CodegenError::OutOfRegisters {
                what: "AArch64 scratch registers (x14-x17 must stay free)",
            }
            .into());
        };
        if scratch.len() < 4 || !has(X16) || !has(X17) {
            return Err(CodegenError::OutOfRegisters {
                what: "AArch64 scratch registers (x14-x17 must stay free)",
            }
            .into());
        }
        let fp = |k: usize| {
            plan.scratch_fp
                .get(k)
                .map(|r| r.num)
                .ok_or(CodegenError::Internal("fp scratch"))
        };
        Ok(Scratch {
            v0,
            v1,
            f0: fp(0)?,
            f1: fp(1)?,
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
            v0: scratch.v0,
            v1: scratch.v1,
            f0: scratch.f0,
            f1: scratch.f1,
            ext_fold: None,
        }
    }

    pub(crate) fn ctx(&self) -> R<Context<'a>> {
        self.st.ctx()
    }

    /// Run `f` as if at instruction `i` (for the second instruction of a
    /// fused pair: its context and alloc addresses).
    pub(crate) fn at_inst<T>(&mut self, i: usize, f: impl FnOnce(&mut Self) -> T) -> T {
        let here = std::mem::replace(&mut self.st.i, i);
        let out = f(self);
        self.st.i = here;
        out
    }

    // ---------------------------------------------------------- locations

    /// The memory operand of a frame or incoming-argument location.
    pub(crate) fn loc_mem(&self, loc: Loc) -> R<AMem> {
        match loc {
            Loc::Frame(off) => Ok(AMem::Imm {
                base: SP,
                off: off as i64,
            }),
            Loc::Incoming(off) => {
                // CFA: sp + frame_size when framed, sp itself when not (no return address on the stack).
                let cfa = if self.st.framed {
                    self.st.plan.frame_size as i64
                } else {
                    0
                };
                Ok(AMem::Imm {
                    base: SP,
                    off: cfa + off as i64,
                })
            }
            Loc::Reg(_) => Err(CodegenError::Internal("register location used as memory").into()),
        }
    }

    /// The type of a variable where it is read.
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
    #[inline]
    pub(crate) fn var_loc(&self, var: Var, class: RegClass) -> R<Loc> {
        self.st.var_loc(&DESC, var, class)
    }

    /// A general-purpose variable as a value where the current instruction
    /// reads it.
    pub(crate) fn var_val(&self, var: Var) -> R<Val> {
        if let Var::Local(k) = var
            && let Some(off) = self.st.alloc_address(k)
        {
            return Ok(Val::Addr(off as i64));
        }
        match self.var_loc(var, RegClass::General)? {
            Loc::Reg(r) => Ok(Val::Reg(r.num)),
            loc => Ok(Val::Mem(self.loc_mem(loc)?)),
        }
    }

    pub(crate) fn operand_val(&self, o: &Operand) -> R<Val> {
        match o.kind {
            OperandKind::Imm(v) => Ok(Val::Imm(imm_bits(v))),
            OperandKind::Var(v) => self.var_val(v),
        }
    }

    // ------------------------------------------------------- immediates

    /// `r = v` by movz/movn + movk, skipping zero (or all-ones) halfwords.
    pub(crate) fn mov_imm(&mut self, r: u8, v: i64) {
        let u = v as u64;
        let hw = |k: u32| ((u >> (16 * k)) & 0xffff) as u32;
        if u == 0 {
            // mov x, xzr (orr x, xzr, xzr)
            self.ops.push_u32(0xAA1F_03E0 | u32::from(r) & 31);
            return;
        }
        // The halfwords as bit sets (bit 16k for halfword k), not counted
        // one by one.
        let zeros = zero_halfwords(u);
        let ones = zero_halfwords(!u);
        let inverted = halfword_count(ones) > halfword_count(zeros);
        let skipped = if inverted { ones } else { zeros };
        if self.st.options.patchable_constants && 4 - halfword_count(skipped) >= 2 {
            // A fixed form a template can patch with any value.
            self.ops.push_u32(move_wide(MOVZ, r, 0, hw(0)));
            for k in 1..4 {
                self.ops.push_u32(move_wide(MOVK, r, k, hw(k)));
            }
            return;
        }
        let mut kept = HALFWORDS & !skipped;
        if kept == 0 {
            // All halfwords were the skipped value: v is -1.
            self.ops.push_u32(move_wide(MOVN, r, 0, 0));
            return;
        }
        let k = kept.trailing_zeros() / 16;
        self.ops.push_u32(if inverted {
            move_wide(MOVN, r, k, !hw(k) & 0xffff)
        } else {
            move_wide(MOVZ, r, k, hw(k))
        });
        kept &= kept - 1;
        while kept != 0 {
            let k = kept.trailing_zeros() / 16;
            self.ops.push_u32(move_wide(MOVK, r, k, hw(k)));
            kept &= kept - 1;
        }
    }

    /// `d = n + v` for any 64-bit `v`; `n` may be sp (31). When `v` needs
    /// materializing and `d == n`, `tmp` holds it.
    pub(crate) fn add_imm(&mut self, d: u8, n: u8, v: i64, tmp: u8) {
        let ops = &mut self.ops;
        if v == 0 {
            if d != n {
                dynasm!(ops ; .arch aarch64 ; add XSP(d), XSP(n), 0);
            }
        } else if (1..=4095).contains(&v) {
            dynasm!(ops ; .arch aarch64 ; add XSP(d), XSP(n), v as u32);
        } else if (-4095..0).contains(&v) {
            dynasm!(ops ; .arch aarch64 ; sub XSP(d), XSP(n), (-v) as u32);
        } else if (1..1 << 24).contains(&v) {
            let (hi, lo) = ((v >> 12) as u32, (v & 0xfff) as u32);
            dynasm!(ops ; .arch aarch64 ; add XSP(d), XSP(n), hi, lsl 12);
            if lo != 0 {
                dynasm!(ops ; .arch aarch64 ; add XSP(d), XSP(d), lo);
            }
        } else if (-(1 << 24) + 1..0).contains(&v) {
            let w = -v;
            let (hi, lo) = ((w >> 12) as u32, (w & 0xfff) as u32);
            dynasm!(ops ; .arch aarch64 ; sub XSP(d), XSP(n), hi, lsl 12);
            if lo != 0 {
                dynasm!(ops ; .arch aarch64 ; sub XSP(d), XSP(d), lo);
            }
        } else {
            // n is never sp here: frame offsets stay below 16 MiB.
            let t = if d == n { tmp } else { d };
            self.mov_imm(t, v);
            let ops = &mut self.ops;
            dynasm!(ops ; .arch aarch64 ; add X(d), X(n), X(t));
        }
    }

    /// Legalize a memory operand for an access of `size` bytes (may use x17).
    pub(crate) fn form(&mut self, m: AMem, size: u32) -> Form {
        match m {
            AMem::Imm { base, off } => {
                let s = size as i64;
                if off >= 0 && off % s == 0 && off / s <= 4095 {
                    Form::Scaled {
                        base,
                        off: off as u32,
                    }
                } else if (-256..=255).contains(&off) {
                    Form::Unscaled {
                        base,
                        off: off as i32,
                    }
                } else {
                    self.mov_imm(X17, off);
                    Form::Reg { base, index: X17 }
                }
            }
            AMem::Reg {
                base,
                index,
                shift: 0,
            } => Form::Reg { base, index },
            AMem::Reg { base, index, .. } => Form::RegShift { base, index },
        }
    }

    /// One load or store through a memory operand.
    ///
    /// Inlined: most of a stub's code is these, and the call cost as much
    /// as the hand-encoded word; the register-offset forms go to
    /// [`Emitter::acc_dynasm`] out of line.
    #[inline]
    pub(crate) fn acc(&mut self, kind: Acc, r: u8, m: AMem) {
        let f = self.form(m, kind.size());
        match acc_word(kind, r, f) {
            Some(word) => self.ops.push_u32(word),
            None => self.acc_dynasm(kind, r, f),
        }
    }

    /// [`Emitter::acc`] in a form `dynasm!` encodes.
    #[inline(never)]
    fn acc_dynasm(&mut self, kind: Acc, r: u8, f: Form) {
        let ops = &mut self.ops;
        match kind {
            Acc::LdrX => access!(ops, f, ldr, ldur, X(r), 3),
            Acc::LdrW => access!(ops, f, ldr, ldur, W(r), 2),
            Acc::Ldrh => access!(ops, f, ldrh, ldurh, W(r), 1),
            Acc::Ldrb => access!(ops, f, ldrb, ldurb, W(r), 0),
            Acc::Ldrsw => access!(ops, f, ldrsw, ldursw, X(r), 2),
            Acc::Ldrsh => access!(ops, f, ldrsh, ldursh, X(r), 1),
            Acc::Ldrsb => access!(ops, f, ldrsb, ldursb, X(r), 0),
            Acc::LdrD => access!(ops, f, ldr, ldur, D(r), 3),
            Acc::LdrS => access!(ops, f, ldr, ldur, S(r), 2),
            Acc::StrX => access!(ops, f, str, stur, X(r), 3),
            Acc::StrW => access!(ops, f, str, stur, W(r), 2),
            Acc::Strh => access!(ops, f, strh, sturh, W(r), 1),
            Acc::Strb => access!(ops, f, strb, sturb, W(r), 0),
            Acc::StrD => access!(ops, f, str, stur, D(r), 3),
            Acc::StrS => access!(ops, f, str, stur, S(r), 2),
        }
    }

    /// Whether `[base, #off]` and `[base, #off + 8]` can be one `ldp`/`stp`
    /// of 8-byte registers (a scaled signed 7-bit offset).
    pub(crate) fn pairable(off: i64) -> bool {
        off % 8 == 0 && (-512..=504).contains(&off)
    }

    /// One `ldp` (`load`) or `stp` of two 8-byte registers of one class at
    /// `[base, #off]` and `[base, #off + 8]` (`pairable(off)` must hold).
    #[inline]
    pub(crate) fn pair(&mut self, load: bool, class: RegClass, a: u8, b: u8, base: u8, off: i64) {
        self.ops
            .push_u32(pair_word(load, class, a, b, base, off as i32));
    }

    /// Store (or `load`) 8-byte registers at `[base, #off]`, two at a time
    /// where two of one class have neighbouring slots: the prologue's and
    /// epilogue's saves, the M2N frame's fields, argument saves. A general
    /// register 31 stored is xzr.
    pub(crate) fn accesses(&mut self, load: bool, base: u8, list: &mut [(Reg, i64)]) {
        // Lists usually come in slot order already: skip the sort then.
        if !list.is_sorted_by_key(|&(_, off)| off) {
            list.sort_by_key(|&(_, off)| off);
        }
        self.accesses_in_order(load, base, list);
    }

    /// [`Emitter::accesses`] of a list built in slot order (an M2N
    /// frame's fields and registers): not checked again.
    pub(crate) fn accesses_in_order(&mut self, load: bool, base: u8, list: &[(Reg, i64)]) {
        debug_assert!(list.is_sorted_by_key(|&(_, off)| off));
        // By slice patterns, not indices: no bounds checks in the loop.
        let mut rest = list;
        while let [(r, off), after @ ..] = rest {
            let (r, off) = (*r, *off);
            if let [(r2, off2), after_pair @ ..] = after
                && r2.class == r.class
                && *off2 == off + 8
                && Self::pairable(off)
                && !(load && r.num == r2.num)
            {
                self.pair(load, r.class, r.num, r2.num, base, off);
                rest = after_pair;
                continue;
            }
            let kind = match (load, r.class) {
                (false, RegClass::General) => Acc::StrX,
                (false, RegClass::Float) => Acc::StrD,
                (true, RegClass::General) => Acc::LdrX,
                (true, RegClass::Float) => Acc::LdrD,
            };
            self.acc(kind, r.num, AMem::Imm { base, off });
            rest = after;
        }
    }

    // -------------------------------------------------------------- moves

    /// `r = v` (64 bits).
    pub(crate) fn load(&mut self, r: u8, v: Val) {
        match v {
            Val::Reg(s) if s == r => {}
            Val::Reg(s) => {
                let ops = &mut self.ops;
                dynasm!(ops ; .arch aarch64 ; mov X(r), X(s));
            }
            Val::Mem(m) => self.acc(Acc::LdrX, r, m),
            Val::Imm(x) => self.mov_imm(r, x),
            Val::Addr(off) => self.add_imm(r, SP, off, X17),
        }
    }

    pub(crate) fn in_reg(&mut self, v: Val, scratch: u8) -> u8 {
        match v {
            Val::Reg(r) => r,
            Val::Imm(0) => XZR,
            other => {
                self.load(scratch, other);
                scratch
            }
        }
    }

    /// `[m] = v` for a 64-bit slot; may clobber `scratch` (and x17).
    pub(crate) fn store64(&mut self, m: AMem, v: Val, scratch: u8) {
        let r = self.in_reg(v, scratch);
        self.acc(Acc::StrX, r, m);
    }

    /// Write the general-purpose value in register `r` to a location.
    pub(crate) fn put(&mut self, loc: Loc, r: u8) -> R<()> {
        match loc {
            // Computed in its destination already (the common case): no call.
            Loc::Reg(d) if d.num == r => {}
            Loc::Reg(d) => self.load(d.num, Val::Reg(r)),
            loc => {
                let m = self.loc_mem(loc)?;
                self.acc(Acc::StrX, r, m);
            }
        }
        Ok(())
    }

    /// Copy a value of type `ty` between two locations (parallel moves).
    /// May clobber `v1` and `f0`.
    pub(crate) fn copy(&mut self, dst: Loc, src: Loc, ty: Type) -> R<()> {
        if dst == src {
            return Ok(());
        }
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
                let v1 = self.v1;
                self.store64(m, v, v1);
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
                self.acc(Acc::LdrD, d.num, m);
                d.num
            }
            (loc, _) => {
                let m = self.loc_mem(loc)?;
                let f0 = self.f0;
                self.acc(Acc::LdrD, f0, m);
                f0
            }
        };
        match dst {
            Loc::Reg(d) => {
                if d.num != f {
                    let ops = &mut self.ops;
                    dynasm!(ops ; .arch aarch64 ; fmov D(d.num), D(f));
                }
            }
            loc => {
                let m = self.loc_mem(loc)?;
                self.acc(Acc::StrD, f, m);
            }
        }
        Ok(())
    }

    // -------------------------------------------------- prologue/epilogue

    pub(crate) fn prologue(&mut self) -> R<()> {
        let body = self.st.plan.frame_size as i64 - 16;
        {
            let ops = &mut self.ops;
            dynasm!(ops ; .arch aarch64 ; stp x29, x30, [sp, -16]!);
            let pushed = ops.offset().0;
            dynasm!(ops ; .arch aarch64 ; mov x29, sp);
            let framed = ops.offset().0;
            self.st.note_frame_record(pushed, framed);
        }
        const PAGE: i64 = lil_codegen::plan::STACK_PROBE_INTERVAL as i64;
        if body >= PAGE {
            // Stack probes (see `STACK_PROBE_INTERVAL`): step sp down a page
            // at a time, storing to each page; x17 counts. The CFA stays
            // x29 + 16 throughout.
            let pages = (body / PAGE) as u32;
            let ops = &mut self.ops;
            dynasm!(ops
                ; .arch aarch64
                ; movz x17, pages
                ; probe:
                ; sub sp, sp, 1, lsl 12
                ; str xzr, [sp]
                ; subs x17, x17, 1
                ; b.ne <probe
            );
            self.add_imm(SP, FP, -body, X17);
        } else {
            self.add_imm(SP, SP, -body, X17);
        }
        let plan = self.st.plan;
        let mut saves = Accesses::new();
        for &(r, slot) in &plan.saved {
            saves.push((r, slot as i64));
        }
        push_input_saves(plan, &mut saves);
        self.accesses(false, SP, &mut saves);
        let at = self.ops.offset().0;
        self.st.note_unwind(at, FrameState::Saved);
        self.st.framed = true;
        Ok(())
    }

    /// Tear the frame down (if set up), keeping the registers in `keep`.
    pub(crate) fn epilogue(&mut self, keep: &[Reg]) {
        if !self.st.framed {
            return;
        }
        // (Most stubs save no callee-saved register: no list to build.)
        if !self.st.plan.saved.is_empty() {
            let mut restores: Accesses = (self.st.plan.saved.iter())
                .filter(|(r, _)| !keep.contains(r))
                .map(|&(r, slot)| (r, slot as i64))
                .collect();
            self.accesses(true, SP, &mut restores);
        }
        let ops = &mut self.ops;
        dynasm!(ops ; .arch aarch64 ; mov sp, x29 ; ldp x29, x30, [sp], 16);
        let at = ops.offset().0;
        self.st.note_unwind(at, FrameState::Entry);
    }

    // ------------------------------------------------------ helper calls

    /// Call a host function of the stub's own, keeping every caller-saved
    /// register that holds a variable (see the x86-64 emitter).
    pub(crate) fn helper_call(
        &mut self,
        function: u64,
        set_args: impl FnOnce(&mut Self) -> R<()>,
        after: impl FnOnce(&mut Self) -> R<()>,
    ) -> R<()> {
        let mut saves: Accesses = Accesses::new();
        if !self.st.plan.helper_saves.is_empty() {
            saves.extend((self.st.plan.helper_saves.iter()).map(|&(r, slot)| (r, slot as i64)));
            self.accesses(false, SP, &mut saves);
        }
        set_args(self)?;
        self.mov_imm(X16, function as i64);
        {
            let ops = &mut self.ops;
            dynasm!(ops ; .arch aarch64 ; blr x16);
        }
        after(self)?;
        if !saves.is_empty() {
            self.accesses(true, SP, &mut saves);
        }
        Ok(())
    }

    /// The thread pointer into register `dst` (may clobber x16, x17).
    /// A TLS slot, two instructions, is read inline: a call would cost as
    /// much.
    #[inline]
    pub(crate) fn thread_pointer(&mut self, dst: u8) -> R<()> {
        match self.st.env.thread_pointer {
            lil_codegen::ThreadPointer::TlsSlot { offset } => {
                self.tls_slot_load(dst, offset);
                Ok(())
            }
            _ => self.thread_pointer_elsewhere(dst),
        }
    }

    /// `dst = [tpidr_el0 + offset]`.
    #[inline]
    fn tls_slot_load(&mut self, dst: u8, offset: i32) {
        {
            let ops = &mut self.ops;
            // mrs x16, tpidr_el0 (S3_3_C13_C0_2)
            dynasm!(ops ; .arch aarch64 ; mrs x16, 0x5e82);
        }
        self.acc(
            Acc::LdrX,
            dst,
            AMem::Imm {
                base: X16,
                off: offset as i64,
            },
        );
    }

    /// [`Emitter::thread_pointer`] from a register or a call.
    #[inline(never)]
    fn thread_pointer_elsewhere(&mut self, dst: u8) -> R<()> {
        match self.st.env.thread_pointer {
            lil_codegen::ThreadPointer::TlsSlot { offset } => self.tls_slot_load(dst, offset),
            lil_codegen::ThreadPointer::Register(n) => self.load(dst, Val::Reg(n)),
            lil_codegen::ThreadPointer::Call { function } => {
                self.helper_call(
                    function,
                    |_| Ok(()),
                    |e| {
                        e.load(X16, Val::Reg(0));
                        Ok(())
                    },
                )?;
                self.load(dst, Val::Reg(X16));
            }
        }
        Ok(())
    }
}

impl<'a> IsaEmitter<'a> for Emitter<'a> {
    type Relocation = Aarch64Relocation;
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
        b(&mut self.ops, label);
    }
    fn prologue(&mut self) -> R<()> {
        Emitter::prologue(self)
    }
    fn instruction(&mut self, kind: &InstKind) -> R<()> {
        Emitter::instruction(self, kind)
    }
    fn data(&mut self, bytes: &[u8]) {
        self.ops.extend(bytes.iter().copied());
        // Keep what follows (nothing today) instruction-aligned.
        while !self.ops.offset().0.is_multiple_of(4) {
            self.ops.push(0);
        }
    }
}

#[cfg(test)]
mod branch_tests {
    use super::*;

    #[test]
    fn branches_match_dynasm() {
        let mut want = Asm::with_capacity(0);
        let mut got = Asm::with_capacity(0);
        let (bw, fw) = (want.new_dynamic_label(), want.new_dynamic_label());
        let (bg, fg) = (got.new_dynamic_label(), got.new_dynamic_label());
        let o = &mut want;
        dynasm!(o ; .arch aarch64 ; =>bw ; nop
            ; b.eq =>bw ; b.ne =>fw ; b.hs =>bw ; b.lo =>fw ; b.hi =>bw ; b.ls =>fw
            ; b.ge =>bw ; b.lt =>fw ; b.gt =>bw ; b.le =>fw
            ; cbz x3, =>bw ; cbz w30, =>fw ; cbnz x0, =>fw ; cbnz w17, =>bw
            ; b =>bw ; b =>fw ; nop ; =>fw);
        let o = &mut got;
        dynasm!(o ; .arch aarch64 ; =>bg ; nop);
        for (k, cond) in [0u8, 1, 2, 3, 8, 9, 10, 11, 12, 13].into_iter().enumerate() {
            b_cond(o, cond, if k % 2 == 0 { bg } else { fg });
        }
        cbz(o, false, true, 3, bg);
        cbz(o, false, false, 30, fg);
        cbz(o, true, true, 0, fg);
        cbz(o, true, false, 17, bg);
        b(o, bg);
        b(o, fg);
        dynasm!(o ; .arch aarch64 ; nop ; =>fg);
        assert_eq!(got.finalize().ok(), want.finalize().ok());
        // Out of range (b.cond reaches ±1 MiB) and unbound targets fail as in dynasm.
        for far in [false, true] {
            let mut want = Asm::with_capacity(0);
            let mut got = Asm::with_capacity(0);
            let (w, g) = (want.new_dynamic_label(), got.new_dynamic_label());
            let o = &mut want;
            dynasm!(o ; .arch aarch64 ; b.eq =>w);
            b_cond(&mut got, 0, g);
            if far {
                for ops in [&mut want, &mut got] {
                    ops.extend(std::iter::repeat_n(0u8, 1 << 21));
                }
                let o = &mut want;
                dynasm!(o ; .arch aarch64 ; =>w);
                let o = &mut got;
                dynasm!(o ; .arch aarch64 ; =>g);
            }
            assert_eq!(
                format!("{:?}", got.finalize()),
                format!("{:?}", want.finalize())
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pools `Scratch::of` recognises are the target's, and give the
    /// roles the search gives.
    #[test]
    fn scratch_pools_are_the_targets() {
        let nums = |regs: &[Reg]| regs.iter().map(|r| r.num).collect::<Vec<_>>();
        assert_eq!(nums(&Scratch::POOL), DESC.scratch_gp);
        assert_eq!(nums(&Scratch::FP_POOL), DESC.scratch_fp);
        let mut plan = FramePlan::empty(&DESC);
        plan.scratch_gp.extend(Scratch::POOL);
        plan.scratch_fp = Scratch::FP_POOL;
        let (fast, searched) = (Scratch::of(&plan).ok(), Scratch::search(&plan).ok());
        let roles = |s: Option<Scratch>| s.map(|s| (s.v0, s.v1, s.f0, s.f1));
        assert_eq!(roles(fast), roles(searched));
        assert_eq!(roles(fast), Some((15, 14, 31, 30)));
    }

    const KINDS: [Acc; 15] = [
        Acc::LdrX,
        Acc::LdrW,
        Acc::Ldrh,
        Acc::Ldrb,
        Acc::Ldrsw,
        Acc::Ldrsh,
        Acc::Ldrsb,
        Acc::LdrD,
        Acc::LdrS,
        Acc::StrX,
        Acc::StrW,
        Acc::Strh,
        Acc::Strb,
        Acc::StrD,
        Acc::StrS,
    ];

    fn dynasm_acc(kind: Acc, r: u8, f: Form) -> Vec<u8> {
        let mut ops = Asm::with_capacity(0);
        let o = &mut ops;
        match kind {
            Acc::LdrX => access!(o, f, ldr, ldur, X(r), 3),
            Acc::LdrW => access!(o, f, ldr, ldur, W(r), 2),
            Acc::Ldrh => access!(o, f, ldrh, ldurh, W(r), 1),
            Acc::Ldrb => access!(o, f, ldrb, ldurb, W(r), 0),
            Acc::Ldrsw => access!(o, f, ldrsw, ldursw, X(r), 2),
            Acc::Ldrsh => access!(o, f, ldrsh, ldursh, X(r), 1),
            Acc::Ldrsb => access!(o, f, ldrsb, ldursb, X(r), 0),
            Acc::LdrD => access!(o, f, ldr, ldur, D(r), 3),
            Acc::LdrS => access!(o, f, ldr, ldur, S(r), 2),
            Acc::StrX => access!(o, f, str, stur, X(r), 3),
            Acc::StrW => access!(o, f, str, stur, W(r), 2),
            Acc::Strh => access!(o, f, strh, sturh, W(r), 1),
            Acc::Strb => access!(o, f, strb, sturb, W(r), 0),
            Acc::StrD => access!(o, f, str, stur, D(r), 3),
            Acc::StrS => access!(o, f, str, stur, S(r), 2),
        }
        ops.finalize().unwrap_or_default()
    }

    /// `acc_word` and `pair_word` give `dynasm!`'s words for every kind,
    /// register (31 is sp as a base, zr as data) and offset class.
    #[test]
    fn acc_words_match_dynasm() {
        for kind in KINDS {
            let s = kind.size();
            for r in 0..32u8 {
                for base in 0..32u8 {
                    let scaled = [0, s, 8 * s, 4095 * s];
                    let unscaled = [-256, -1, 0, 1, 255];
                    let forms = scaled
                        .iter()
                        .map(|&off| Form::Scaled { base, off })
                        .chain(unscaled.iter().map(|&off| Form::Unscaled { base, off }));
                    for f in forms {
                        let word = acc_word(kind, r, f).map(u32::to_le_bytes);
                        assert_eq!(
                            word.map(|w| w.to_vec()),
                            Some(dynasm_acc(kind, r, f)),
                            "{kind:?} r{r} {f:?}"
                        );
                    }
                }
            }
        }
        let f = Form::Reg { base: 1, index: 2 };
        assert_eq!(acc_word(Acc::LdrX, 0, f), None);
    }

    /// The halfword sets `mov_imm` counts with, against a count of the
    /// halfwords one by one.
    #[test]
    fn halfword_sets_count_halfwords() {
        let values = [
            0u64,
            1,
            0xffff,
            0x1_0000,
            0x8000,
            0x8000_0000_8000_0000,
            0xffff_0000_ffff_0000,
            0x0000_ffff_0000_ffff,
            0x1234_0000_0000_5678,
            0x7fff_8000_0001_fffe,
            u64::MAX,
            u64::MAX - 1,
            0xffff_ffff_0000_0000,
            0x0001_0001_0001_0001,
        ];
        for x in values.into_iter().chain((0..64).map(|k| 1u64 << k)) {
            for x in [x, !x, x.rotate_left(16), x ^ 0x5555_0000_aaaa_0000] {
                let mut want = 0;
                for k in 0..4 {
                    if (x >> (16 * k)) & 0xffff == 0 {
                        want |= 1 << (16 * k);
                    }
                }
                assert_eq!(zero_halfwords(x), want, "{x:#x}");
                assert_eq!(halfword_count(want), want.count_ones(), "{x:#x}");
            }
        }
    }

    #[test]
    fn move_wide_words_match_dynasm() {
        for r in [0u8, 1, 15, 16, 30, 31] {
            for imm in [0u32, 1, 0x1234, 0xffff] {
                for hw in 0..4u32 {
                    let mut ops = Asm::with_capacity(0);
                    let o = &mut ops;
                    let mut want = Vec::new();
                    for op in [MOVZ, MOVN, MOVK] {
                        match (op, hw) {
                            (MOVZ, 0) => dynasm!(o ; .arch aarch64 ; movz X(r), imm),
                            (MOVZ, 1) => dynasm!(o ; .arch aarch64 ; movz X(r), imm, lsl 16),
                            (MOVZ, 2) => dynasm!(o ; .arch aarch64 ; movz X(r), imm, lsl 32),
                            (MOVZ, _) => dynasm!(o ; .arch aarch64 ; movz X(r), imm, lsl 48),
                            (MOVN, 0) => dynasm!(o ; .arch aarch64 ; movn X(r), imm),
                            (MOVN, 1) => dynasm!(o ; .arch aarch64 ; movn X(r), imm, lsl 16),
                            (MOVN, 2) => dynasm!(o ; .arch aarch64 ; movn X(r), imm, lsl 32),
                            (MOVN, _) => dynasm!(o ; .arch aarch64 ; movn X(r), imm, lsl 48),
                            (_, 0) => dynasm!(o ; .arch aarch64 ; movk X(r), imm),
                            (_, 1) => dynasm!(o ; .arch aarch64 ; movk X(r), imm, lsl 16),
                            (_, 2) => dynasm!(o ; .arch aarch64 ; movk X(r), imm, lsl 32),
                            (_, _) => dynasm!(o ; .arch aarch64 ; movk X(r), imm, lsl 48),
                        }
                        want.extend(move_wide(op, r, hw, imm).to_le_bytes());
                    }
                    assert_eq!(ops.finalize().unwrap_or_default(), want, "x{r} {imm} {hw}");
                }
            }
            let mut ops = Asm::with_capacity(0);
            let o = &mut ops;
            dynasm!(o ; .arch aarch64 ; mov X(r), xzr);
            let want = (0xAA1F_03E0 | u32::from(r) & 31).to_le_bytes();
            assert_eq!(ops.finalize().unwrap_or_default(), want, "mov x{r}, xzr");
        }
    }

    #[test]
    fn pair_words_match_dynasm() {
        for class in [RegClass::General, RegClass::Float] {
            for load in [false, true] {
                for (a, b) in [(0u8, 1u8), (19, 20), (29, 30), (31, 7), (5, 31)] {
                    for base in [0u8, 17, 29, 31] {
                        for off in [-512, -8, 0, 8, 16, 504] {
                            let mut ops = Asm::with_capacity(0);
                            let o = &mut ops;
                            match (load, class) {
                                (false, RegClass::General) => {
                                    dynasm!(o ; .arch aarch64 ; stp X(a), X(b), [XSP(base), off])
                                }
                                (false, RegClass::Float) => {
                                    dynasm!(o ; .arch aarch64 ; stp D(a), D(b), [XSP(base), off])
                                }
                                (true, RegClass::General) => {
                                    dynasm!(o ; .arch aarch64 ; ldp X(a), X(b), [XSP(base), off])
                                }
                                (true, RegClass::Float) => {
                                    dynasm!(o ; .arch aarch64 ; ldp D(a), D(b), [XSP(base), off])
                                }
                            }
                            let want = ops.finalize().unwrap_or_default();
                            let got = pair_word(load, class, a, b, base, off).to_le_bytes();
                            assert_eq!(got.to_vec(), want, "{load} {class:?} {a} {b} {base} {off}");
                        }
                    }
                }
            }
        }
    }
}
