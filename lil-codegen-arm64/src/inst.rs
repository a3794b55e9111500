//! One function per LIL instruction kind, AArch64 (same order and names as
//! the x86-64 emitter).
//!
//! Narrow values (g1/g2/g4) live in 64-bit registers with unspecified upper
//! bits; comparisons, right shifts and stores use the value's width.
//! Memory ordering: `ld …,acquire` is `ldar*` (an `ldar` followed by
//! `sxt*` for `,sx`), `st …,release` is `stlr*`, `cas` is an
//! `ldaxr`/`stlxr` loop (sequentially consistent) or `casal` when the host
//! says the CPU has LSE.

use crate::abi::DESC;
use crate::emit::{
    AMem, Acc, Accesses, Emitter, R, SP, Val, X16, X17, XZR, b, b_cond, cbz, imm_bits,
    push_input_saves,
};
use dynasmrt::{DynasmApi, DynasmLabelApi, dynasm};
use lil_codegen::drive;
use lil_codegen::m2n::offsets as m2n;
use lil_codegen::moves::{Move, sequentialize};
use lil_codegen::plan::Loc;
use lil_codegen::{ArgLoc, CallingConvention, CodegenError, Reg, RegClass};
use lil_syntax::*;
use smallvec::SmallVec;

/// Evaluate a predicate on two immediates at a width (constant folding).
pub(crate) fn fold(p: Predicate, a: i64, b: i64, bits: u32) -> bool {
    let (ua, ub) = if bits == 64 {
        (a as u64, b as u64)
    } else {
        let m = (1u64 << bits) - 1;
        (a as u64 & m, b as u64 & m)
    };
    let sext = |u: u64| -> i64 {
        if bits == 64 {
            u as i64
        } else {
            ((u << (64 - bits)) as i64) >> (64 - bits)
        }
    };
    let (sa, sb) = (sext(ua), sext(ub));
    match p {
        Predicate::Eq => ua == ub,
        Predicate::Ne => ua != ub,
        Predicate::Lt => sa < sb,
        Predicate::Le => sa <= sb,
        Predicate::Gt => sa > sb,
        Predicate::Ge => sa >= sb,
        Predicate::Ult => ua < ub,
        Predicate::Ule => ua <= ub,
        Predicate::Ugt => ua > ub,
        Predicate::Uge => ua >= ub,
    }
}

impl Emitter<'_> {
    /// One LIL instruction. A dispatcher only: each kind's function stays
    /// out of line (`#[inline(never)]`), so the call here is a jump and
    /// no instruction pays for the stack frame of the largest one.
    pub(crate) fn instruction(&mut self, kind: &InstKind) -> R<()> {
        if self.st.is_absorbed(self.st.i) {
            return Ok(());
        }
        match kind {
            InstKind::Label(l) => self.label_decl(*l),
            InstKind::Locals(_) | InstKind::StdPlaces(_) | InstKind::Out(_) => Ok(()),
            InstKind::Alloc { dst, .. } => self.alloc(*dst),
            InstKind::Move { dst, src } => self.mov(*dst, src),
            InstKind::Unary { dst, op, src } => self.unary(*dst, *op, src),
            InstKind::Binary { dst, op, lhs, rhs } => self.binary(*dst, *op, lhs, rhs),
            InstKind::Ts { dst } => self.ts(*dst),
            InstKind::Handles(o) => self.handles(o),
            InstKind::Ld { dst, addr, ext } => self.ld(*dst, addr, *ext),
            InstKind::St { addr, src } => self.st(addr, src),
            InstKind::Inc { addr } => self.inc(addr),
            InstKind::Cas {
                addr,
                compare,
                source,
                on_fail,
            } => self.cas(addr, compare, source, *on_fail),
            InstKind::Jump(l) => self.jump(*l),
            InstKind::JumpIf { cond, target } => self.jump_if(cond, *target),
            InstKind::In2Out { cc, .. } => self.in2out(*cc),
            InstKind::Call { kind, target } => match kind {
                CallKind::Call => self.call(target, true),
                CallKind::NoReturn => self.call(target, false),
                CallKind::Tail => self.tailcall(target),
            },
            InstKind::Ret => self.ret(),
            InstKind::PushM2n {
                method, frame_type, ..
            } => self.push_m2n(method.as_ref(), frame_type.as_ref()),
            InstKind::M2nSaveAll => self.m2n_save_all(),
            InstKind::PopM2n => self.pop_m2n(),
            InstKind::Print { message, operand } => self.print(message, operand.as_ref()),
        }
    }

    fn op_type(&self) -> R<Type> {
        self.st
            .stub
            .op_type(self.st.i)
            .ok_or_else(|| CodegenError::Internal("instruction without a type").into())
    }

    fn result_reg(&self, dst: Loc) -> u8 {
        match dst {
            Loc::Reg(r) => r.num,
            _ => self.v0,
        }
    }

    #[inline(never)]
    fn label_decl(&mut self, l: LabelRef) -> R<()> {
        let label = drive::label(self, l.id);
        let ops = &mut self.ops;
        dynasm!(ops ; .arch aarch64 ; =>label);
        Ok(())
    }

    #[inline(never)]
    fn alloc(&mut self, dst: Place) -> R<()> {
        // Every read recomputes the address: nothing to keep.
        if let Var::Local(_) = dst.var
            && !self.st.plan.liveness.var_after(self.st.i, dst.var)
        {
            return Ok(());
        }
        let at = self.st.plan.alloc_offset as i64 + self.ctx()?.alloc_bytes() as i64;
        let loc = self.var_loc(dst.var, RegClass::General)?;
        let r = self.result_reg(loc);
        self.add_imm(r, SP, at, X17);
        self.put(loc, r)
    }

    #[inline(never)]
    fn mov(&mut self, dst: Place, src: &Operand) -> R<()> {
        let ty = self.op_type()?;
        if ty.is_float() {
            let OperandKind::Var(v) = src.kind else {
                return Err(CodegenError::Internal("float immediate").into());
            };
            let from = self.var_loc(v, RegClass::Float)?;
            let to = self.var_loc(dst.var, RegClass::Float)?;
            return self.copy(to, from, ty);
        }
        let to = self.var_loc(dst.var, RegClass::General)?;
        let v = self.operand_val(src)?;
        if matches!(dst.var, Var::Output(_)) && matches!(ty, Type::G1 | Type::G2) {
            let v0 = self.v0;
            let r = self.in_reg(v, v0);
            let d = self.result_reg(to);
            let ops = &mut self.ops;
            if ty == Type::G1 {
                dynasm!(ops ; .arch aarch64 ; uxtb W(d), W(r));
            } else {
                dynasm!(ops ; .arch aarch64 ; uxth W(d), W(r));
            }
            return self.put(to, d);
        }
        match to {
            Loc::Reg(d) => self.load(d.num, v),
            loc => {
                let m = self.loc_mem(loc)?;
                let v0 = self.v0;
                self.store64(m, v, v0);
            }
        }
        Ok(())
    }

    /// Whether the extension into `dst` at the current instruction can be
    /// left to the addition or subtraction right after it, which then
    /// extends its operand itself (`add x, x, w, uxtw`): the extended value
    /// is read there only.
    fn foldable_extension(&self, dst: Place, op: UnaryOp, v: Val) -> Option<usize> {
        let (Val::Reg(_), Some(_)) = (v, op.extension()) else {
            return None;
        };
        let j = self.st.next_in_line(self.st.i)?;
        let InstKind::Binary {
            op: bop, lhs, rhs, ..
        } = &self.st.stub.stub().body[j].kind
        else {
            return None;
        };
        let it = OperandKind::Var(dst.var);
        let placed = match bop {
            BinaryOp::Add => (lhs.kind == it) != (rhs.kind == it),
            BinaryOp::Sub => rhs.kind == it && lhs.kind != it,
            _ => false,
        };
        let kind = &self.st.stub.stub().body[j].kind;
        let dead = lil_codegen::plan::written(kind) == Some(dst.var)
            || !self.st.plan.liveness.var_after(j, dst.var);
        let wide = self.st.stub.op_type(j).is_some_and(|t| t.bits() == 64);
        (placed && dead && wide && matches!(dst.var, Var::Local(_))).then_some(j)
    }

    #[inline(never)]
    fn unary(&mut self, dst: Place, op: UnaryOp, src: &Operand) -> R<()> {
        let v = self.operand_val(src)?;
        if let (Some(j), Val::Reg(s)) = (self.foldable_extension(dst, op, v), v) {
            self.ext_fold = Some((j, dst.var, s, op));
            return Ok(());
        }
        let to = self.var_loc(dst.var, RegClass::General)?;
        let r = self.result_reg(to);
        let s = self.in_reg(v, r);
        let ops = &mut self.ops;
        match op {
            UnaryOp::Neg => dynasm!(ops ; .arch aarch64 ; neg X(r), X(s)),
            UnaryOp::Not => dynasm!(ops ; .arch aarch64 ; mvn X(r), X(s)),
            UnaryOp::Sx1 => dynasm!(ops ; .arch aarch64 ; sxtb X(r), W(s)),
            UnaryOp::Sx2 => dynasm!(ops ; .arch aarch64 ; sxth X(r), W(s)),
            UnaryOp::Sx4 => dynasm!(ops ; .arch aarch64 ; sxtw X(r), W(s)),
            UnaryOp::Zx1 => dynasm!(ops ; .arch aarch64 ; uxtb W(r), W(s)),
            UnaryOp::Zx2 => dynasm!(ops ; .arch aarch64 ; uxth W(r), W(s)),
            UnaryOp::Zx4 => dynasm!(ops ; .arch aarch64 ; mov W(r), W(s)),
            // Narrowing keeps the register: the low bits already are the value.
            UnaryOp::Tr1 | UnaryOp::Tr2 | UnaryOp::Tr4 => {
                if r != s {
                    dynasm!(ops ; .arch aarch64 ; mov X(r), X(s));
                }
            }
        }
        self.put(to, r)
    }

    #[inline(never)]
    fn binary(&mut self, dst: Place, op: BinaryOp, lhs: &Operand, rhs: &Operand) -> R<()> {
        let ty = self.op_type()?;
        if op.is_shift() {
            return self.shift(dst, op, lhs, rhs, ty);
        }
        let to = self.var_loc(dst.var, RegClass::General)?;
        let (v0, v1) = (self.v0, self.v1);
        let r = self.result_reg(to);
        if let Some((j, v, s, ext)) = self.ext_fold
            && j == self.st.i
        {
            self.ext_fold = None;
            let other = if lhs.kind == OperandKind::Var(v) {
                rhs
            } else {
                lhs
            };
            let a = self.operand_val(other)?;
            let a = self.in_reg_nz(a, v0);
            self.extended(op == BinaryOp::Sub, r, a, s, ext);
            return self.put(to, r);
        }
        let a = self.operand_val(lhs)?;
        let b = self.operand_val(rhs)?;
        let a = self.in_reg_nz(a, v0);
        // add/sub with a 12-bit immediate; everything else in registers.
        if let (BinaryOp::Add | BinaryOp::Sub, Val::Imm(x)) = (op, b)
            && (-4095..=4095).contains(&x)
        {
            let x = if op == BinaryOp::Sub { -x } else { x };
            let ops = &mut self.ops;
            if x >= 0 {
                dynasm!(ops ; .arch aarch64 ; add XSP(r), XSP(a), x as u32);
            } else {
                dynasm!(ops ; .arch aarch64 ; sub XSP(r), XSP(a), (-x) as u32);
            }
            return self.put(to, r);
        }
        // and/orr/eor with a constant that is a bitmask immediate (a
        // rotated run of ones repeated: 0xff, !7, 0x00ff00ff…): no scratch
        // register. Not for patchable constants, whose code must not depend
        // on their value.
        if let (BinaryOp::And | BinaryOp::Or | BinaryOp::Xor, Val::Imm(x)) = (op, b)
            && !self.st.options.patchable_constants
            && dynasmrt::aarch64::encode_logical_immediate_64bit(x as u64).is_some()
        {
            let m = x as u64;
            let ops = &mut self.ops;
            match op {
                BinaryOp::And => dynasm!(ops ; .arch aarch64 ; and XSP(r), X(a), m),
                BinaryOp::Or => dynasm!(ops ; .arch aarch64 ; orr XSP(r), X(a), m),
                _ => dynasm!(ops ; .arch aarch64 ; eor XSP(r), X(a), m),
            }
            return self.put(to, r);
        }
        let b = self.in_reg(b, v1);
        let ops = &mut self.ops;
        match op {
            BinaryOp::Add => dynasm!(ops ; .arch aarch64 ; add X(r), X(a), X(b)),
            BinaryOp::Sub => dynasm!(ops ; .arch aarch64 ; sub X(r), X(a), X(b)),
            BinaryOp::Mul => dynasm!(ops ; .arch aarch64 ; mul X(r), X(a), X(b)),
            BinaryOp::And => dynasm!(ops ; .arch aarch64 ; and X(r), X(a), X(b)),
            BinaryOp::Or => dynasm!(ops ; .arch aarch64 ; orr X(r), X(a), X(b)),
            BinaryOp::Xor => dynasm!(ops ; .arch aarch64 ; eor X(r), X(a), X(b)),
            BinaryOp::Shl | BinaryOp::Sar | BinaryOp::Shr => {}
        }
        self.put(to, r)
    }

    /// `r = a ± ext(s)` with the extended-register form of add/sub.
    fn extended(&mut self, sub: bool, r: u8, a: u8, s: u8, ext: UnaryOp) {
        let ops = &mut self.ops;
        macro_rules! form {
            ($mn:ident) => {
                match ext {
                    UnaryOp::Sx1 => dynasm!(ops ; .arch aarch64 ; $mn XSP(r), XSP(a), W(s), sxtb),
                    UnaryOp::Sx2 => dynasm!(ops ; .arch aarch64 ; $mn XSP(r), XSP(a), W(s), sxth),
                    UnaryOp::Sx4 => dynasm!(ops ; .arch aarch64 ; $mn XSP(r), XSP(a), W(s), sxtw),
                    UnaryOp::Zx1 => dynasm!(ops ; .arch aarch64 ; $mn XSP(r), XSP(a), W(s), uxtb),
                    UnaryOp::Zx2 => dynasm!(ops ; .arch aarch64 ; $mn XSP(r), XSP(a), W(s), uxth),
                    _ => dynasm!(ops ; .arch aarch64 ; $mn XSP(r), XSP(a), W(s), uxtw),
                }
            };
        }
        if sub {
            form!(sub);
        } else {
            form!(add);
        }
    }

    fn shift(&mut self, dst: Place, op: BinaryOp, lhs: &Operand, rhs: &Operand, ty: Type) -> R<()> {
        let to = self.var_loc(dst.var, RegClass::General)?;
        let (v0, v1) = (self.v0, self.v1);
        let r = self.result_reg(to);
        let wide = ty.bits() == 64;
        let v = self.operand_val(lhs)?;
        let count = self.operand_val(rhs)?;
        let count = match count {
            Val::Imm(c) => Val::Imm(c & if wide { 63 } else { 31 }),
            other => Val::Reg(self.in_reg(other, v1)),
        };
        let a = self.in_reg(v, v0);
        let ops = &mut self.ops;
        // Right shifts of g1/g2 need the value at its width first.
        let a = match (op, ty) {
            (BinaryOp::Sar, Type::G1) => {
                dynasm!(ops ; .arch aarch64 ; sxtb W(v0), W(a));
                v0
            }
            (BinaryOp::Sar, Type::G2) => {
                dynasm!(ops ; .arch aarch64 ; sxth W(v0), W(a));
                v0
            }
            (BinaryOp::Shr, Type::G1) => {
                dynasm!(ops ; .arch aarch64 ; uxtb W(v0), W(a));
                v0
            }
            (BinaryOp::Shr, Type::G2) => {
                dynasm!(ops ; .arch aarch64 ; uxth W(v0), W(a));
                v0
            }
            _ => a,
        };
        match (count, wide) {
            (Val::Imm(c), true) => {
                let c = c as u32;
                match op {
                    BinaryOp::Shl => dynasm!(ops ; .arch aarch64 ; lsl X(r), X(a), c),
                    BinaryOp::Sar => dynasm!(ops ; .arch aarch64 ; asr X(r), X(a), c),
                    _ => dynasm!(ops ; .arch aarch64 ; lsr X(r), X(a), c),
                }
            }
            (Val::Imm(c), false) => {
                let c = c as u32;
                match op {
                    BinaryOp::Shl => dynasm!(ops ; .arch aarch64 ; lsl W(r), W(a), c),
                    BinaryOp::Sar => dynasm!(ops ; .arch aarch64 ; asr W(r), W(a), c),
                    _ => dynasm!(ops ; .arch aarch64 ; lsr W(r), W(a), c),
                }
            }
            (Val::Reg(c), true) => match op {
                BinaryOp::Shl => dynasm!(ops ; .arch aarch64 ; lsl X(r), X(a), X(c)),
                BinaryOp::Sar => dynasm!(ops ; .arch aarch64 ; asr X(r), X(a), X(c)),
                _ => dynasm!(ops ; .arch aarch64 ; lsr X(r), X(a), X(c)),
            },
            (Val::Reg(c), false) => match op {
                BinaryOp::Shl => dynasm!(ops ; .arch aarch64 ; lsl W(r), W(a), W(c)),
                BinaryOp::Sar => dynasm!(ops ; .arch aarch64 ; asr W(r), W(a), W(c)),
                _ => dynasm!(ops ; .arch aarch64 ; lsr W(r), W(a), W(c)),
            },
            (Val::Mem(_) | Val::Addr(_), _) => {
                return Err(CodegenError::Internal("shift count in memory").into());
            }
        }
        self.put(to, r)
    }

    #[inline(never)]
    fn ts(&mut self, dst: Place) -> R<()> {
        let to = self.var_loc(dst.var, RegClass::General)?;
        let r = self.result_reg(to);
        self.thread_pointer(r)?;
        self.put(to, r)
    }

    #[inline(never)]
    fn handles(&mut self, o: &Operand) -> R<()> {
        let f = self.m2n_offset()?;
        let v = self.operand_val(o)?;
        let v0 = self.v0;
        self.store64(
            AMem::Imm {
                base: SP,
                off: (f + m2n::LOCAL_HANDLES) as i64,
            },
            v,
            v0,
        );
        Ok(())
    }

    fn m2n_offset(&self) -> R<i32> {
        self.st
            .plan
            .m2n_offset
            .ok_or_else(|| CodegenError::Internal("M2N instruction without an M2N frame").into())
    }

    /// The memory operand for a LIL address accessed with `size` bytes.
    /// Uses x16 and x17; the result's base is never x17.
    fn addr(&mut self, a: &Address, size: u32) -> R<AMem> {
        // An alloc address as the base is the stack pointer plus an offset.
        let (base, frame_off) = match a.base {
            Some(p) => match self.var_val(p.var)? {
                Val::Addr(off) => (Some(SP), off),
                v => (Some(self.in_reg_nz(v, X16)), 0),
            },
            None => (None, 0),
        };
        let index = match a.index {
            Some((p, scale)) => {
                let v = self.var_val(p.var)?;
                Some((self.in_reg_nz(v, X17), scale))
            }
            None => None,
        };
        let off = imm_bits(a.offset).wrapping_add(frame_off);
        Ok(match (base, index) {
            (None, None) => {
                self.mov_imm(X16, off);
                AMem::Imm { base: X16, off: 0 }
            }
            (Some(b), None) => AMem::Imm { base: b, off },
            (b, Some((i, scale))) => {
                // With an index the base is a general register (register
                // 31 would read as xzr in the `add` below): sp goes to x16.
                let b = match b {
                    Some(b) if off == 0 && b != SP => b,
                    Some(b) => {
                        // x16 = b + off; the index may be in x17, so materialize through x15 or x14.
                        let tmp = self.v1;
                        self.add_imm(X16, b, off, tmp);
                        X16
                    }
                    None => {
                        self.mov_imm(X16, off);
                        X16
                    }
                };
                let shift = scale.trailing_zeros() as u8;
                if scale == 1 || scale == size {
                    AMem::Reg {
                        base: b,
                        index: i,
                        shift,
                    }
                } else {
                    let ops = &mut self.ops;
                    match shift {
                        1 => dynasm!(ops ; .arch aarch64 ; add x16, X(b), X(i), lsl 1),
                        2 => dynasm!(ops ; .arch aarch64 ; add x16, X(b), X(i), lsl 2),
                        _ => dynasm!(ops ; .arch aarch64 ; add x16, X(b), X(i), lsl 3),
                    }
                    AMem::Imm { base: X16, off: 0 }
                }
            }
        })
    }

    /// Like `in_reg`, but never the zero register (address parts).
    fn in_reg_nz(&mut self, v: Val, scratch: u8) -> u8 {
        match v {
            Val::Reg(r) => r,
            other => {
                self.load(scratch, other);
                scratch
            }
        }
    }

    /// A memory operand as a single base register (for exclusive and
    /// acquire/release accesses): x16 unless already plain.
    fn addr_in_reg(&mut self, m: AMem) -> u8 {
        match m {
            AMem::Imm { base, off: 0 } if base != SP => base,
            AMem::Imm { base, off } => {
                let t = self.v1;
                self.add_imm(X16, base, off, t);
                X16
            }
            AMem::Reg { base, index, shift } => {
                let ops = &mut self.ops;
                match shift {
                    0 => dynasm!(ops ; .arch aarch64 ; add x16, X(base), X(index)),
                    1 => dynasm!(ops ; .arch aarch64 ; add x16, X(base), X(index), lsl 1),
                    2 => dynasm!(ops ; .arch aarch64 ; add x16, X(base), X(index), lsl 2),
                    _ => dynasm!(ops ; .arch aarch64 ; add x16, X(base), X(index), lsl 3),
                }
                X16
            }
        }
    }

    /// `[base, #offset]` for an 8-byte plain access of `a` at instruction
    /// `i` when forming it needs no code (a base in a register or an alloc
    /// address, no index).
    fn plain_addr(&mut self, a: &Address, i: usize) -> R<Option<(u8, i64)>> {
        if a.ty.size() != 8 || a.ordering != Ordering::Plain || a.index.is_some() {
            return Ok(None);
        }
        let Some(base) = a.base else {
            return Ok(None);
        };
        let off = imm_bits(a.offset);
        Ok(match self.at_inst(i, |e| e.var_val(base.var))? {
            Val::Reg(r) => Some((r, off)),
            Val::Addr(frame) => Some((SP, off.wrapping_add(frame))),
            _ => None,
        })
    }

    /// The next instruction, if it accesses the neighbouring 8 bytes from
    /// the same base as this one: `(it, the lower offset, this one is the
    /// lower)`.
    fn neighbour(&mut self, a: &Address, next: usize, a2: &Address) -> R<Option<(u8, i64, bool)>> {
        if a.ty.is_float() != a2.ty.is_float() || a.base.map(|p| p.var) != a2.base.map(|p| p.var) {
            return Ok(None);
        }
        let (Some((b1, o1)), Some((b2, o2))) =
            (self.plain_addr(a, self.st.i)?, self.plain_addr(a2, next)?)
        else {
            return Ok(None);
        };
        let lo = o1.min(o2);
        let ok = b1 == b2 && o1.abs_diff(o2) == 8 && Emitter::pairable(lo);
        Ok(ok.then_some((b1, lo, o1 < o2)))
    }

    /// Two loads of neighbouring 8-byte locations from one base as one
    /// `ldp`, when the first does not overwrite the base.
    fn load_pair(&mut self, dst: Place, a: &Address, ext: Option<Extension>) -> R<bool> {
        // The next instruction's kind first: it is the cheaper test, and
        // most loads are not followed by another.
        let j = self.st.i + 1;
        // The stub outlives the emitter: no need to clone the instruction.
        let stub = self.st.stub;
        let Some(InstKind::Ld {
            dst: dst2,
            addr: a2,
            ext: None,
        }) = stub.stub().body.get(j).map(|inst| &inst.kind)
        else {
            return Ok(false);
        };
        if ext.is_some() || self.st.next_in_line(self.st.i).is_none() {
            return Ok(false);
        }
        let Some((base, lo, first_low)) = self.neighbour(a, j, a2)? else {
            return Ok(false);
        };
        let class = RegClass::of(a.ty);
        let r1 = self.var_loc(dst.var, class)?;
        let r2 = self.at_inst(j, |e| e.var_loc(dst2.var, class))?;
        let (Loc::Reg(r1), Loc::Reg(r2)) = (r1, r2) else {
            return Ok(false);
        };
        if r1 == r2 || (class == RegClass::General && r1.num == base) {
            return Ok(false);
        }
        let (x, y) = if first_low { (r1, r2) } else { (r2, r1) };
        self.pair(true, class, x.num, y.num, base, lo);
        self.st.absorb_next();
        Ok(true)
    }

    /// Two stores to neighbouring 8-byte locations from one base as one `stp`.
    fn store_pair(&mut self, a: &Address, src: &Operand) -> R<bool> {
        // The next instruction's kind first, as in `load_pair`.
        let j = self.st.i + 1;
        let stub = self.st.stub;
        let Some(InstKind::St {
            addr: a2,
            src: src2,
        }) = stub.stub().body.get(j).map(|inst| &inst.kind)
        else {
            return Ok(false);
        };
        if self.st.next_in_line(self.st.i).is_none() {
            return Ok(false);
        }
        let Some((base, lo, first_low)) = self.neighbour(a, j, a2)? else {
            return Ok(false);
        };
        let class = RegClass::of(a.ty);
        let (v0, v1, f0, f1) = (self.v0, self.v1, self.f0, self.f1);
        let r1 = self.value_reg(src, class, v0, f0)?;
        let r2 = self.at_inst(j, |e| e.value_reg(src2, class, v1, f1))?;
        let (x, y) = if first_low { (r1, r2) } else { (r2, r1) };
        self.pair(false, class, x, y, base, lo);
        self.st.absorb_next();
        Ok(true)
    }

    /// A value to store, in a register of `class` (loaded into `scratch` or
    /// `fscratch` if need be; xzr for a general zero).
    fn value_reg(&mut self, o: &Operand, class: RegClass, scratch: u8, fscratch: u8) -> R<u8> {
        if class == RegClass::General {
            let v = self.operand_val(o)?;
            return Ok(self.in_reg(v, scratch));
        }
        let OperandKind::Var(v) = o.kind else {
            return Err(CodegenError::Internal("float immediate").into());
        };
        Ok(match self.var_loc(v, RegClass::Float)? {
            Loc::Reg(r) => r.num,
            loc => {
                let m = self.loc_mem(loc)?;
                self.acc(Acc::LdrD, fscratch, m);
                fscratch
            }
        })
    }

    #[inline(never)]
    fn ld(&mut self, dst: Place, a: &Address, ext: Option<Extension>) -> R<()> {
        if self.load_pair(dst, a, ext)? {
            return Ok(());
        }
        let ty = a.ty;
        let m = self.addr(a, ty.size())?;
        let acquire = a.ordering == Ordering::Acquire;
        if ty.is_float() {
            let to = self.var_loc(dst.var, RegClass::Float)?;
            let f = match to {
                Loc::Reg(r) => r.num,
                _ => self.f0,
            };
            if acquire {
                let b = self.addr_in_reg(m);
                let ops = &mut self.ops;
                if ty == Type::F4 {
                    dynasm!(ops ; .arch aarch64 ; ldar w17, [X(b)] ; fmov S(f), w17);
                } else {
                    dynasm!(ops ; .arch aarch64 ; ldar x17, [X(b)] ; fmov D(f), x17);
                }
            } else {
                self.acc(if ty == Type::F4 { Acc::LdrS } else { Acc::LdrD }, f, m);
            }
            if !matches!(to, Loc::Reg(_)) {
                let mm = self.loc_mem(to)?;
                self.acc(Acc::StrD, f, mm);
            }
            return Ok(());
        }
        let to = self.var_loc(dst.var, RegClass::General)?;
        let r = self.result_reg(to);
        let sign = ext == Some(Extension::Sign);
        if acquire {
            let b = self.addr_in_reg(m);
            let ops = &mut self.ops;
            match ty.size() {
                1 => dynasm!(ops ; .arch aarch64 ; ldarb W(r), [X(b)]),
                2 => dynasm!(ops ; .arch aarch64 ; ldarh W(r), [X(b)]),
                4 => dynasm!(ops ; .arch aarch64 ; ldar W(r), [X(b)]),
                _ => dynasm!(ops ; .arch aarch64 ; ldar X(r), [X(b)]),
            }
            if sign {
                match ty.size() {
                    1 => dynasm!(ops ; .arch aarch64 ; sxtb X(r), W(r)),
                    2 => dynasm!(ops ; .arch aarch64 ; sxth X(r), W(r)),
                    4 => dynasm!(ops ; .arch aarch64 ; sxtw X(r), W(r)),
                    _ => {}
                }
            }
        } else {
            let kind = match (ty.size(), sign) {
                (1, true) => Acc::Ldrsb,
                (1, false) => Acc::Ldrb,
                (2, true) => Acc::Ldrsh,
                (2, false) => Acc::Ldrh,
                (4, true) => Acc::Ldrsw,
                (4, false) => Acc::LdrW,
                _ => Acc::LdrX,
            };
            self.acc(kind, r, m);
        }
        self.put(to, r)
    }

    #[inline(never)]
    fn st(&mut self, a: &Address, src: &Operand) -> R<()> {
        if self.store_pair(a, src)? {
            return Ok(());
        }
        let ty = a.ty;
        let m = self.addr(a, ty.size())?;
        let release = a.ordering == Ordering::Release;
        if ty.is_float() {
            let OperandKind::Var(v) = src.kind else {
                return Err(CodegenError::Internal("float immediate").into());
            };
            let f = match self.var_loc(v, RegClass::Float)? {
                Loc::Reg(r) => r.num,
                loc => {
                    let mm = self.loc_mem(loc)?;
                    let f0 = self.f0;
                    self.acc(Acc::LdrD, f0, mm);
                    f0
                }
            };
            if release {
                let b = self.addr_in_reg(m);
                let ops = &mut self.ops;
                if ty == Type::F4 {
                    dynasm!(ops ; .arch aarch64 ; fmov w17, S(f) ; stlr w17, [X(b)]);
                } else {
                    dynasm!(ops ; .arch aarch64 ; fmov x17, D(f) ; stlr x17, [X(b)]);
                }
            } else {
                self.acc(if ty == Type::F4 { Acc::StrS } else { Acc::StrD }, f, m);
            }
            return Ok(());
        }
        let v = self.operand_val(src)?;
        let v0 = self.v0;
        let r = self.in_reg(v, v0);
        if release {
            let b = self.addr_in_reg(m);
            let ops = &mut self.ops;
            match ty.size() {
                1 => dynasm!(ops ; .arch aarch64 ; stlrb W(r), [X(b)]),
                2 => dynasm!(ops ; .arch aarch64 ; stlrh W(r), [X(b)]),
                4 => dynasm!(ops ; .arch aarch64 ; stlr W(r), [X(b)]),
                _ => dynasm!(ops ; .arch aarch64 ; stlr X(r), [X(b)]),
            }
        } else {
            let kind = match ty.size() {
                1 => Acc::Strb,
                2 => Acc::Strh,
                4 => Acc::StrW,
                _ => Acc::StrX,
            };
            self.acc(kind, r, m);
        }
        Ok(())
    }

    #[inline(never)]
    fn inc(&mut self, a: &Address) -> R<()> {
        let size = a.ty.size();
        let m = self.addr(a, size)?;
        // Use one base register so the load and the store legalize the same way.
        let b = self.addr_in_reg(m);
        let m = AMem::Imm { base: b, off: 0 };
        let v0 = self.v0;
        let (ld, st) = match size {
            1 => (Acc::Ldrb, Acc::Strb),
            2 => (Acc::Ldrh, Acc::Strh),
            4 => (Acc::LdrW, Acc::StrW),
            _ => (Acc::LdrX, Acc::StrX),
        };
        self.acc(ld, v0, m);
        {
            let ops = &mut self.ops;
            dynasm!(ops ; .arch aarch64 ; add XSP(v0), XSP(v0), 1);
        }
        self.acc(st, v0, m);
        Ok(())
    }

    #[inline(never)]
    fn cas(
        &mut self,
        a: &Address,
        compare: &Operand,
        source: &Operand,
        on_fail: LabelRef,
    ) -> R<()> {
        let size = a.ty.size();
        let m = self.addr(a, size)?;
        let b = self.addr_in_reg(m);
        let (v0, v1) = (self.v0, self.v1);
        // The comparand at the access width (exclusive loads zero-extend);
        // zero is tested with cbnz instead.
        let e = self.operand_val(compare)?;
        let zero = e == Val::Imm(0);
        if !zero {
            self.load(v0, e);
            let ops = &mut self.ops;
            match size {
                1 => dynasm!(ops ; .arch aarch64 ; uxtb W(v0), W(v0)),
                2 => dynasm!(ops ; .arch aarch64 ; uxth W(v0), W(v0)),
                _ => {}
            }
        }
        let n = self.operand_val(source)?;
        let n = self.in_reg(n, v1);
        let fail = drive::jump_label(self, on_fail.id);
        let wide = size == 8;
        let ops = &mut self.ops;
        // What the location held is in x17/w17: compare it with the comparand.
        let check = |ops: &mut crate::emit::Asm| match (zero, wide) {
            (true, true) => dynasm!(ops ; .arch aarch64 ; cbnz x17, =>fail),
            (true, false) => dynasm!(ops ; .arch aarch64 ; cbnz w17, =>fail),
            (false, true) => dynasm!(ops ; .arch aarch64 ; cmp x17, X(v0) ; b.ne =>fail),
            (false, false) => dynasm!(ops ; .arch aarch64 ; cmp w17, W(v0) ; b.ne =>fail),
        };
        if self.st.env.lse_atomics {
            let e = if zero { XZR } else { v0 };
            dynasm!(ops ; .arch aarch64 ; mov x17, X(e));
            match size {
                1 => dynasm!(ops ; .arch aarch64 ; casalb w17, W(n), [X(b)]),
                2 => dynasm!(ops ; .arch aarch64 ; casalh w17, W(n), [X(b)]),
                4 => dynasm!(ops ; .arch aarch64 ; casal w17, W(n), [X(b)]),
                _ => dynasm!(ops ; .arch aarch64 ; casal x17, X(n), [X(b)]),
            }
            check(ops);
        } else {
            let retry = ops.new_dynamic_label();
            dynasm!(ops ; .arch aarch64 ; =>retry);
            match size {
                1 => dynasm!(ops ; .arch aarch64 ; ldaxrb w17, [X(b)]),
                2 => dynasm!(ops ; .arch aarch64 ; ldaxrh w17, [X(b)]),
                4 => dynasm!(ops ; .arch aarch64 ; ldaxr w17, [X(b)]),
                _ => dynasm!(ops ; .arch aarch64 ; ldaxr x17, [X(b)]),
            }
            check(ops);
            match size {
                1 => dynasm!(ops ; .arch aarch64 ; stlxrb w17, W(n), [X(b)]),
                2 => dynasm!(ops ; .arch aarch64 ; stlxrh w17, W(n), [X(b)]),
                4 => dynasm!(ops ; .arch aarch64 ; stlxr w17, W(n), [X(b)]),
                _ => dynasm!(ops ; .arch aarch64 ; stlxr w17, X(n), [X(b)]),
            }
            dynasm!(ops ; .arch aarch64 ; cbnz w17, =>retry);
        }
        Ok(())
    }

    #[inline(never)]
    fn jump(&mut self, l: LabelRef) -> R<()> {
        let target = drive::jump_label(self, l.id);
        b(&mut self.ops, target);
        Ok(())
    }

    #[inline(never)]
    fn jump_if(&mut self, cond: &Condition, target: LabelRef) -> R<()> {
        let ty = self.op_type()?;
        let bits = ty.bits();
        let mut a = self.operand_val(&cond.lhs)?;
        let mut b = self.operand_val(&cond.rhs)?;
        let mut p = cond.predicate;
        if let (Val::Imm(x), Val::Imm(y)) = (a, b) {
            if fold(p, x, y, bits) {
                return self.jump(target);
            }
            return Ok(());
        }
        if let Val::Imm(_) = a {
            std::mem::swap(&mut a, &mut b);
            p = p.swapped();
        }
        let (v0, v1) = (self.v0, self.v1);
        let x = self.in_reg(a, v0);
        let signed = p.is_signed();
        // g1/g2: compare the extended values in 32 bits.
        let (x, b) = if bits < 32 {
            let ops = &mut self.ops;
            match (bits, signed) {
                (8, true) => dynasm!(ops ; .arch aarch64 ; sxtb W(v0), W(x)),
                (8, false) => dynasm!(ops ; .arch aarch64 ; uxtb W(v0), W(x)),
                (_, true) => dynasm!(ops ; .arch aarch64 ; sxth W(v0), W(x)),
                (_, false) => dynasm!(ops ; .arch aarch64 ; uxth W(v0), W(x)),
            }
            let b = match b {
                Val::Imm(i) => {
                    let m = (1i64 << bits) - 1;
                    let u = i & m;
                    let e = if signed {
                        (u << (64 - bits)) >> (64 - bits)
                    } else {
                        u
                    };
                    Val::Imm(e)
                }
                other => {
                    let y = self.in_reg(other, v1);
                    let ops = &mut self.ops;
                    match (bits, signed) {
                        (8, true) => dynasm!(ops ; .arch aarch64 ; sxtb W(v1), W(y)),
                        (8, false) => dynasm!(ops ; .arch aarch64 ; uxtb W(v1), W(y)),
                        (_, true) => dynasm!(ops ; .arch aarch64 ; sxth W(v1), W(y)),
                        (_, false) => dynasm!(ops ; .arch aarch64 ; uxth W(v1), W(y)),
                    }
                    Val::Reg(v1)
                }
            };
            (v0, b)
        } else {
            (x, b)
        };
        let wide = bits == 64;
        // Equality with zero: one compare-and-branch.
        if b == Val::Imm(0) && matches!(p, Predicate::Eq | Predicate::Ne) {
            let l = drive::jump_label(self, target.id);
            cbz(&mut self.ops, p != Predicate::Eq, wide, x, l);
            return Ok(());
        }
        match b {
            Val::Imm(i)
                if (0..=4095).contains(&i)
                    || (!wide && (0..=4095).contains(&(i as i32 as i64))) =>
            {
                let i = if wide { i } else { i as i32 as i64 } as u32;
                let ops = &mut self.ops;
                if wide {
                    dynasm!(ops ; .arch aarch64 ; cmp XSP(x), i);
                } else {
                    dynasm!(ops ; .arch aarch64 ; cmp WSP(x), i);
                }
            }
            Val::Imm(i) if (-4095..0).contains(&(if wide { i } else { i as i32 as i64 })) => {
                let n = (-(if wide { i } else { i as i32 as i64 })) as u32;
                let ops = &mut self.ops;
                if wide {
                    dynasm!(ops ; .arch aarch64 ; cmn XSP(x), n);
                } else {
                    dynasm!(ops ; .arch aarch64 ; cmn WSP(x), n);
                }
            }
            other => {
                let y = self.in_reg(other, v1);
                let ops = &mut self.ops;
                if wide {
                    dynasm!(ops ; .arch aarch64 ; cmp X(x), X(y));
                } else {
                    dynasm!(ops ; .arch aarch64 ; cmp W(x), W(y));
                }
            }
        }
        let l = drive::jump_label(self, target.id);
        let cond = match p {
            Predicate::Eq => 0,
            Predicate::Ne => 1,
            Predicate::Uge => 2,
            Predicate::Ult => 3,
            Predicate::Ugt => 8,
            Predicate::Ule => 9,
            Predicate::Ge => 10,
            Predicate::Lt => 11,
            Predicate::Gt => 12,
            Predicate::Le => 13,
        };
        b_cond(&mut self.ops, cond, l);
        Ok(())
    }

    /// Run the moves of a parallel assignment.
    pub(crate) fn parallel(&mut self, moves: &mut [Move]) -> R<()> {
        let (v0, f1) = (self.v0, self.f1);
        sequentialize(
            moves,
            |class| match class {
                RegClass::General => Reg::gp(v0),
                RegClass::Float => Reg::fp(f1),
            },
            |m| self.copy(m.dst, m.src, m.ty),
        )
    }

    #[inline(never)]
    fn in2out(&mut self, callee_cc: CallConv) -> R<()> {
        let Some(sig) = self.st.stub.stub().entry.signature.typed() else {
            return Err(CodegenError::Internal("in2out in an arbitrary stub").into());
        };
        let cc = self.st.env.convention(&DESC, callee_cc);
        if self.st.inputs_in_place(cc, &sig.params) {
            return Ok(());
        }
        self.in2out_moves(sig, cc)
    }

    /// The copies of an `in2out` that moves something, out of line: the
    /// list and the resolver's frame cost more than the check above.
    #[inline(never)]
    fn in2out_moves(&mut self, sig: &Signature, cc: &CallingConvention) -> R<()> {
        let mut moves: SmallVec<[Move; 8]> = SmallVec::new();
        for (k, (ty, out)) in sig.params.iter().zip(cc.arg_locs(&sig.params)).enumerate() {
            let src = self.st.input(k as u32)?;
            let dst = match out {
                ArgLoc::Reg(r) => Loc::Reg(r),
                ArgLoc::Stack(off) => Loc::Frame(off as i32),
            };
            moves.push(Move { dst, src, ty: *ty });
        }
        self.parallel(&mut moves)
    }

    #[inline(never)]
    fn call(&mut self, target: &Operand, returns: bool) -> R<()> {
        let sig = self
            .ctx()?
            .out()
            .ok_or(CodegenError::Internal("call without out"))?;
        let v = self.operand_val(target)?;
        let t = self.in_reg_nz(v, X16);
        {
            let ops = &mut self.ops;
            dynasm!(ops ; .arch aarch64 ; blr X(t));
        }
        if returns && let Some(t) = sig.ret {
            let cc = self.st.env.convention(&DESC, sig.cc);
            let from = Loc::Reg(cc.ret_reg(t));
            let to = Loc::Reg(match RegClass::of(t) {
                RegClass::General => self.st.plan.ret_gp,
                RegClass::Float => self.st.plan.ret_fp,
            });
            self.copy(to, from, t)?;
        }
        Ok(())
    }

    /// Put the stub's inputs back in their argument registers before leaving.
    fn restore_arguments(&mut self) -> R<()> {
        if !self.st.framed {
            return Ok(());
        }
        let mut restores = Accesses::new();
        push_input_saves(self.st.plan, &mut restores);
        self.accesses(true, SP, &mut restores);
        Ok(())
    }

    #[inline(never)]
    fn tailcall(&mut self, target: &Operand) -> R<()> {
        let v = self.operand_val(target)?;
        if !self.st.framed
            && let Val::Reg(r) = v
        {
            // Nothing to restore: branch straight through the register.
            let ops = &mut self.ops;
            dynasm!(ops ; .arch aarch64 ; br X(r));
            return Ok(());
        }
        // A target in a register the restores and the epilogue below leave
        // alone is branched to directly; otherwise it goes through x16
        // (neither an argument register nor a standard place).
        let plan = self.st.plan;
        let survives = |r: u8| {
            let reg = Reg::gp(r);
            let restored = plan.saved.iter().any(|(s, _)| *s == reg)
                || plan.arbitrary_saves.iter().any(|(s, _)| *s == reg)
                || (plan.inputs.iter().zip(&plan.input_homes))
                    .any(|(a, h)| h.is_some() && *a == ArgLoc::Reg(reg));
            !restored && !DESC.reserved_gp.contains(&r)
        };
        let target = match v {
            Val::Reg(r) if survives(r) => r,
            v => {
                self.load(X16, v);
                X16
            }
        };
        self.restore_arguments()?;
        let nstd = self.ctx()?.num_std_places();
        let keep: SmallVec<[Reg; 4]> = (0..nstd).filter_map(|k| DESC.std_place(k)).collect();
        self.epilogue(&keep);
        let ops = &mut self.ops;
        dynasm!(ops ; .arch aarch64 ; br X(target));
        Ok(())
    }

    #[inline(never)]
    fn ret(&mut self) -> R<()> {
        if let Some(t) = self.st.stub.op_type(self.st.i) {
            let to = Loc::Reg(self.st.entry_cc.ret_reg(t));
            let from = Loc::Reg(match RegClass::of(t) {
                RegClass::General => self.st.plan.ret_gp,
                RegClass::Float => self.st.plan.ret_fp,
            });
            self.copy(to, from, t)?;
        }
        self.epilogue(&[]);
        let ops = &mut self.ops;
        dynasm!(ops ; .arch aarch64 ; ret);
        Ok(())
    }

    #[inline(never)]
    fn push_m2n(&mut self, method: Option<&Operand>, frame_type: Option<&Operand>) -> R<()> {
        let f = self.m2n_offset()? as i64;
        let (v0, v1) = (self.v0, self.v1);
        // Neighbouring fields are stored in pairs.
        let method_v = match method {
            Some(o) => self.operand_val(o)?,
            None => Val::Imm(0),
        };
        let m = self.in_reg(method_v, v0);
        let ft = match frame_type {
            Some(o) => self.operand_val(o)?,
            None => Val::Imm(0),
        };
        let t = self.in_reg(ft, v1);
        // An array in slot order (stored as it is), not a list: the
        // fields are known, only the first is left out when nothing can
        // look at the frame before a `handles =` that follows.
        let fields = [
            (Reg::gp(XZR), f + m2n::LOCAL_HANDLES as i64),
            (Reg::gp(m), f + m2n::METHOD as i64),
            (Reg::gp(t), f + m2n::FRAME_TYPE as i64),
        ];
        let handles_set =
            lil_codegen::plan::handles_set_before_use(self.st.stub, self.st.env, self.st.i);
        let first = usize::from(handles_set);
        self.accesses_in_order(false, SP, &fields[first..]);
        // The caller's frame pointer and return address (the frame record,
        // always one `ldp`: no list to sort and pair), and its stack
        // pointer (the CFA).
        self.pair(true, RegClass::General, v0, v1, 29, 0);
        self.add_imm(X16, 29, 16, X17);
        self.accesses_in_order(
            false,
            SP,
            &[
                (Reg::gp(v1), f + m2n::RETURN_ADDRESS as i64),
                (Reg::gp(X16), f + m2n::CALLER_SP as i64),
                (Reg::gp(v0), f + m2n::CALLER_FP as i64),
            ],
        );
        // The caller's callee-saved registers: the prologue saved the ones
        // this stub uses straight into their slots here (or elsewhere, to
        // copy from); the others are still in the register.
        self.store_m2n_saved(DESC.m2n_saved_gp, m2n::SAVED_GP, Reg::gp)?;
        // Link: frame.prev = *head; frame.link = head; *head = frame.
        self.thread_pointer(v0)?;
        let list = self.st.env.m2n_list_offset as i64;
        self.add_imm(v0, v0, list, v1);
        let head = AMem::Imm { base: v0, off: 0 };
        self.acc(Acc::LdrX, v1, head);
        self.accesses_in_order(
            false,
            SP,
            &[
                (Reg::gp(v1), f + m2n::PREV as i64),
                (Reg::gp(v0), f + m2n::LINK as i64),
            ],
        );
        self.add_imm(v1, SP, f, X17);
        self.acc(Acc::StrX, v1, head);
        Ok(())
    }

    /// Store into the M2N slots (from `first`) the callee-saved registers
    /// `regs` that still hold the caller's value, in pairs where they
    /// neighbour; those the prologue saved elsewhere are copied here on
    /// the way. (Stored here rather than returned as a list: the list is
    /// large, and both callers store it at once.)
    fn store_m2n_saved(&mut self, regs: &[u8], first: i32, reg: fn(u8) -> Reg) -> R<()> {
        let f = self.m2n_offset()?;
        // An array as long as the longer list (the general registers'),
        // not a vector: a push would ask each time whether it is full.
        let mut direct = [(Reg::gp(XZR), 0); lil_codegen::m2n::M2N_SAVED_GP];
        let mut count = 0;
        // The list as a slice taken once: the stores below could change
        // it, as far as the compiler knows.
        let saved: &[(Reg, i32)] = &self.st.plan.saved;
        for (idx, &n) in regs.iter().enumerate() {
            let at = f + first + 8 * idx as i32;
            match saved.iter().find(|(r, _)| *r == reg(n)) {
                Some(&(_, slot)) if slot == at => {}
                Some(&(_, slot)) => {
                    let v0 = self.v0;
                    let slot = AMem::Imm {
                        base: SP,
                        off: slot as i64,
                    };
                    self.acc(Acc::LdrX, v0, slot);
                    let to = AMem::Imm {
                        base: SP,
                        off: at as i64,
                    };
                    self.acc(Acc::StrX, v0, to);
                }
                None => {
                    let Some(entry) = direct.get_mut(count) else {
                        return Err(CodegenError::Internal("more M2N registers than slots").into());
                    };
                    *entry = (reg(n), at as i64);
                    count += 1;
                }
            }
        }
        self.accesses_in_order(false, SP, &direct[..count]);
        Ok(())
    }

    /// Record the caller's callee-saved floating-point registers (d8–d15).
    #[inline(never)]
    fn m2n_save_all(&mut self) -> R<()> {
        self.store_m2n_saved(DESC.m2n_saved_fp, m2n::SAVED_FP, Reg::fp)
    }

    #[inline(never)]
    fn pop_m2n(&mut self) -> R<()> {
        let f = self.m2n_offset()? as i64;
        let handles = self.ctx()?.m2n() == lil_check::M2nState::PushedWithHandles;
        let hooks = self.st.env.m2n_hooks;
        // Chained options, not an array of them: no array built to walk.
        let calls =
            (hooks.free_handles.filter(|_| handles).into_iter()).chain(hooks.pending_exception);
        for function in calls {
            self.helper_call(
                function,
                |e| {
                    e.add_imm(0, SP, f, X17);
                    Ok(())
                },
                |_| Ok(()),
            )?;
        }
        // *frame.link = frame.prev.
        let (v0, v1) = (self.v0, self.v1);
        self.accesses_in_order(
            true,
            SP,
            &[
                (Reg::gp(v1), f + m2n::PREV as i64),
                (Reg::gp(v0), f + m2n::LINK as i64),
            ],
        );
        self.acc(Acc::StrX, v1, AMem::Imm { base: v0, off: 0 });
        Ok(())
    }

    #[inline(never)]
    fn print(&mut self, message: &PrintMessage, operand: Option<&Operand>) -> R<()> {
        let Some(function) = self.st.env.print else {
            return Ok(());
        };
        let value = match operand {
            Some(o) => match o.kind {
                OperandKind::Var(v) if self.var_type(v)?.is_float() => {
                    Some(Err(self.var_loc(v, RegClass::Float)?))
                }
                _ => Some(Ok(self.operand_val(o)?)),
            },
            None => None,
        };
        let (text, addr) = match message {
            PrintMessage::Text(t) => (Some(t.as_bytes().to_vec()), 0i64),
            PrintMessage::Address(a) => (None, imm_bits(*a)),
        };
        let label = text.as_ref().map(|_| self.ops.new_dynamic_label());
        let len = text.as_ref().map_or(0, |t| t.len() as i64);
        if let (Some(l), Some(t)) = (label, text) {
            self.st.add_data(l, t);
        }
        self.helper_call(
            function,
            |e| {
                match value {
                    Some(Ok(v)) => e.load(2, v),
                    Some(Err(loc)) => match loc {
                        Loc::Reg(r) => {
                            let ops = &mut e.ops;
                            dynasm!(ops ; .arch aarch64 ; fmov x2, D(r.num));
                        }
                        loc => {
                            let m = e.loc_mem(loc)?;
                            e.acc(Acc::LdrX, 2, m);
                        }
                    },
                    None => e.load(2, Val::Imm(0)),
                }
                e.mov_imm(1, len);
                match label {
                    Some(l) => {
                        let ops = &mut e.ops;
                        dynasm!(ops ; .arch aarch64 ; adr x0, =>l);
                    }
                    None => e.mov_imm(0, addr),
                }
                Ok(())
            },
            |_| Ok(()),
        )
    }
}
