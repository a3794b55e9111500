//! One function per LIL instruction kind, x86-64.
//!
//! Semantics are those of `docs/LANGUAGE.md`: general-purpose values of
//! type g1/g2/g4 are kept in 64-bit registers whose upper bits are
//! unspecified, so operations that depend on them (comparisons, right
//! shifts, stores, extensions) use the value's width explicitly.

use crate::abi::{DESC, regs::*};
use crate::emit::{
    Alu, Emitter, Mem, R, Rm64, Val, alu_imm, alu_rr, call_r, cmp_imm32, cmp_rr, fits_i32,
    imm_bits, jcc, jmp, mov32_rr, rm64, rm64_run, test_rr, with_mem,
};
use dynasmrt::{DynasmApi, DynasmLabelApi, dynasm};
use lil_codegen::drive;
use lil_codegen::m2n::offsets as m2n;
use lil_codegen::moves::{Move, sequentialize};
use lil_codegen::plan::Loc;
use lil_codegen::{ArgLoc, CallingConvention, CodegenError, Reg, RegClass};
use lil_syntax::*;
use smallvec::SmallVec;

/// x86 condition for a predicate, as its condition-code number (the low
/// nibble of `jcc`'s opcode).
#[derive(Clone, Copy)]
#[repr(u8)]
enum Cc {
    E = 0x4,
    Ne = 0x5,
    L = 0xC,
    Le = 0xE,
    G = 0xF,
    Ge = 0xD,
    B = 0x2,
    Be = 0x6,
    A = 0x7,
    Ae = 0x3,
}

fn cc(p: Predicate) -> Cc {
    match p {
        Predicate::Eq => Cc::E,
        Predicate::Ne => Cc::Ne,
        Predicate::Lt => Cc::L,
        Predicate::Le => Cc::Le,
        Predicate::Gt => Cc::G,
        Predicate::Ge => Cc::Ge,
        Predicate::Ult => Cc::B,
        Predicate::Ule => Cc::Be,
        Predicate::Ugt => Cc::A,
        Predicate::Uge => Cc::Ae,
    }
}

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
    /// no instruction pays for the stack frame of the largest one. Inlined
    /// into the driver's loop: the jump table is the whole dispatch.
    #[inline]
    pub(crate) fn instruction(&mut self, kind: &InstKind) -> R<()> {
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
            InstKind::M2nSaveAll => Ok(()),
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

    /// The register to compute a general-purpose result in: the
    /// destination's own register, or `s0`.
    fn result_reg(&self, dst: Loc) -> u8 {
        match dst {
            Loc::Reg(r) => r.num,
            _ => self.s0,
        }
    }

    #[inline(never)]
    fn label_decl(&mut self, l: LabelRef) -> R<()> {
        let label = drive::label(self, l.id);
        let ops = &mut self.ops;
        dynasm!(ops ; .arch x64 ; =>label);
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
        let at = self.st.plan.alloc_offset + self.ctx()?.alloc_bytes() as i32;
        let loc = self.var_loc(dst.var, RegClass::General)?;
        let r = self.result_reg(loc);
        self.lea(
            r,
            Mem::Base {
                base: RSP,
                disp: at,
            },
        );
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
            return self.copy_float(to, from, ty);
        }
        let to = self.var_loc(dst.var, RegClass::General)?;
        let v = self.operand_val(src)?;
        // Narrow outgoing arguments are zero-extended to 32 bits, as C callees expect.
        if matches!(dst.var, Var::Output(_)) && matches!(ty, Type::G1 | Type::G2) {
            let s0 = self.s0;
            let r = self.in_reg(v, s0);
            let d = self.result_reg(to);
            let ops = &mut self.ops;
            if ty == Type::G1 {
                dynasm!(ops ; .arch x64 ; movzx Rd(d), Rb(r));
            } else {
                dynasm!(ops ; .arch x64 ; movzx Rd(d), Rw(r));
            }
            return self.put(to, d);
        }
        match to {
            Loc::Reg(d) => self.load(d.num, v),
            loc => {
                let m = self.loc_mem(loc)?;
                let s0 = self.s0;
                self.store64(m, v, s0);
            }
        }
        Ok(())
    }

    /// Copy a float of type `ty` between locations.
    fn copy_float(&mut self, to: Loc, from: Loc, ty: Type) -> R<()> {
        self.copy(to, from, ty)
    }

    #[inline(never)]
    fn unary(&mut self, dst: Place, op: UnaryOp, src: &Operand) -> R<()> {
        let to = self.var_loc(dst.var, RegClass::General)?;
        let v = self.operand_val(src)?;
        let r = self.result_reg(to);
        match op {
            // Narrowing keeps the register: the low bits already are the value.
            UnaryOp::Tr1 | UnaryOp::Tr2 | UnaryOp::Tr4 => self.load(r, v),
            UnaryOp::Neg | UnaryOp::Not => {
                self.load(r, v);
                let ops = &mut self.ops;
                if op == UnaryOp::Neg {
                    dynasm!(ops ; .arch x64 ; neg Rq(r));
                } else {
                    dynasm!(ops ; .arch x64 ; not Rq(r));
                }
            }
            _ => {
                let s = self.in_reg(v, r);
                let ops = &mut self.ops;
                match op {
                    UnaryOp::Sx1 => dynasm!(ops ; .arch x64 ; movsx Rq(r), Rb(s)),
                    UnaryOp::Sx2 => dynasm!(ops ; .arch x64 ; movsx Rq(r), Rw(s)),
                    UnaryOp::Sx4 => dynasm!(ops ; .arch x64 ; movsxd Rq(r), Rd(s)),
                    UnaryOp::Zx1 => dynasm!(ops ; .arch x64 ; movzx Rd(r), Rb(s)),
                    UnaryOp::Zx2 => dynasm!(ops ; .arch x64 ; movzx Rd(r), Rw(s)),
                    _ => mov32_rr(ops, r, s),
                }
            }
        }
        self.put(to, r)
    }

    /// `r op= v` for the commutative-or-not ALU operations.
    fn alu(&mut self, op: BinaryOp, r: u8, v: Val) {
        let s1 = self.s1;
        let v = match v {
            Val::Imm(x) if !fits_i32(x) => {
                self.load(s1, Val::Imm(x));
                Val::Reg(s1)
            }
            Val::Addr(_) => {
                self.load(s1, v);
                Val::Reg(s1)
            }
            other => other,
        };
        let alu = match op {
            BinaryOp::Add => Alu::Add,
            BinaryOp::Sub => Alu::Sub,
            BinaryOp::And => Alu::And,
            BinaryOp::Or => Alu::Or,
            BinaryOp::Xor => Alu::Xor,
            BinaryOp::Mul => {
                match v {
                    Val::Reg(s) => dynasm!((&mut self.ops) ; .arch x64 ; imul Rq(r), Rq(s)),
                    Val::Mem(m) => with_mem!(&mut self.ops, m, [imul Rq(r),], []),
                    Val::Imm(x) if i8::try_from(x).is_ok() => {
                        dynasm!((&mut self.ops) ; .arch x64 ; imul Rq(r), Rq(r), BYTE x as i8)
                    }
                    Val::Imm(x) => {
                        dynasm!((&mut self.ops) ; .arch x64 ; imul Rq(r), Rq(r), DWORD x as i32)
                    }
                    Val::Addr(_) => {}
                }
                return;
            }
            BinaryOp::Shl | BinaryOp::Sar | BinaryOp::Shr => return,
        };
        match v {
            Val::Reg(s) => alu_rr(&mut self.ops, alu, r, s),
            Val::Mem(m) => rm64(&mut self.ops, alu.rm64(), r, m),
            Val::Imm(x) => alu_imm(&mut self.ops, alu, r, x as i32),
            Val::Addr(_) => {}
        }
    }

    #[inline(never)]
    fn binary(&mut self, dst: Place, op: BinaryOp, lhs: &Operand, rhs: &Operand) -> R<()> {
        // Only a shift reads the operation's width: the other operations
        // compute all 64 bits.
        if op.is_shift() {
            let ty = self.op_type()?;
            return self.shift(dst, op, lhs, rhs, ty);
        }
        let to = self.var_loc(dst.var, RegClass::General)?;
        let (mut a, mut b) = (self.operand_val(lhs)?, self.operand_val(rhs)?);
        let commutative = !matches!(op, BinaryOp::Sub);
        let mut r = self.result_reg(to);
        // dst = reg ± imm32 into another register (or an alloc address ±
        // imm32): one lea.
        let base = match a {
            Val::Reg(x) if x != r => Some((x, 0)),
            Val::Addr(off) => Some((RSP, off as i64)),
            _ => None,
        };
        if let (BinaryOp::Add | BinaryOp::Sub, Some((x, at)), Val::Imm(y)) = (op, base, b)
            && let Some(d) = if op == BinaryOp::Add {
                Some(y)
            } else {
                y.checked_neg()
            }
            && let Ok(d) = i32::try_from(d + at)
        {
            self.lea(r, Mem::Base { base: x, disp: d });
            return self.put(to, r);
        }
        if b == Val::Reg(r) {
            if commutative {
                std::mem::swap(&mut a, &mut b);
            } else {
                r = self.s0;
            }
        }
        self.load(r, a);
        self.alu(op, r, b);
        self.put(to, r)
    }

    fn shift(&mut self, dst: Place, op: BinaryOp, lhs: &Operand, rhs: &Operand, ty: Type) -> R<()> {
        let to = self.var_loc(dst.var, RegClass::General)?;
        let v = self.operand_val(lhs)?;
        let count = self.operand_val(rhs)?;
        let wide = ty.bits() == 64;
        // Work in a scratch register that is not rcx; the other one is spare.
        // A shift by an immediate works in the destination's own register.
        let (w, spare) = match (count, to) {
            (Val::Imm(_), Loc::Reg(d)) => (d.num, self.s1),
            _ if self.s0 != RCX => (self.s0, self.s1),
            _ => (self.s1, self.s0),
        };
        self.load(w, v);
        // Right shifts of g1/g2 need the value at its width first.
        {
            let ops = &mut self.ops;
            match (op, ty) {
                (BinaryOp::Sar, Type::G1) => dynasm!(ops ; .arch x64 ; movsx Rd(w), Rb(w)),
                (BinaryOp::Sar, Type::G2) => dynasm!(ops ; .arch x64 ; movsx Rd(w), Rw(w)),
                (BinaryOp::Shr, Type::G1) => dynasm!(ops ; .arch x64 ; movzx Rd(w), Rb(w)),
                (BinaryOp::Shr, Type::G2) => dynasm!(ops ; .arch x64 ; movzx Rd(w), Rw(w)),
                _ => {}
            }
        }
        macro_rules! sh {
            ($mn:ident, $count:tt) => {{
                let ops = &mut self.ops;
                if wide {
                    dynasm!(ops ; .arch x64 ; $mn Rq(w), $count);
                } else {
                    dynasm!(ops ; .arch x64 ; $mn Rd(w), $count);
                }
            }};
        }
        match count {
            Val::Imm(c) => {
                let c = (c & if wide { 63 } else { 31 }) as i8;
                match op {
                    BinaryOp::Shl => sh!(shl, c),
                    BinaryOp::Sar => sh!(sar, c),
                    _ => sh!(shr, c),
                }
            }
            count => {
                let rcx_live = count != Val::Reg(RCX) && spare != RCX;
                if rcx_live {
                    let ops = &mut self.ops;
                    dynasm!(ops ; .arch x64 ; mov Rq(spare), rcx);
                }
                self.load(RCX, count);
                match op {
                    BinaryOp::Shl => sh!(shl, cl),
                    BinaryOp::Sar => sh!(sar, cl),
                    _ => sh!(shr, cl),
                }
                if rcx_live {
                    let ops = &mut self.ops;
                    dynasm!(ops ; .arch x64 ; mov rcx, Rq(spare));
                }
            }
        }
        self.put(to, w)
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
        let s0 = self.s0;
        self.store64(
            Mem::Base {
                base: RSP,
                disp: f + m2n::LOCAL_HANDLES,
            },
            v,
            s0,
        );
        Ok(())
    }

    fn m2n_offset(&self) -> R<i32> {
        self.st
            .plan
            .m2n_offset
            .ok_or_else(|| CodegenError::Internal("M2N instruction without an M2N frame").into())
    }

    /// The memory operand for a LIL address. Uses `s0` (and `s1` unless
    /// `keep_s1` is set, in which case the result uses `s0` at most).
    ///
    /// The common form, `[base + disp]` with the base in a register other
    /// than `s1`, needs no code and is answered here; the others go to
    /// [`Emitter::addr_code`] (out of line: its rare cases, which emit
    /// code, would give this answer a large frame).
    fn addr(&mut self, a: &Address, keep_s1: bool) -> R<Mem> {
        if a.index.is_none()
            && let Some(p) = a.base
            && let Val::Reg(base) = self.var_val(p.var)?
            && base != self.s1
            && let Ok(disp) = i32::try_from(imm_bits(a.offset))
        {
            return Ok(Mem::Base { base, disp });
        }
        self.addr_code(a, keep_s1)
    }

    /// [`Emitter::addr`] of any address.
    #[inline(never)]
    fn addr_code(&mut self, a: &Address, keep_s1: bool) -> R<Mem> {
        let (s0, s1) = (self.s0, self.s1);
        // An alloc address as the base is the stack pointer plus a displacement.
        let (base, frame_disp) = match a.base {
            Some(p) => match self.var_val(p.var)? {
                Val::Addr(off) => (Some(RSP), off as i64),
                v => (Some(self.in_reg(v, s0)), 0),
            },
            None => (None, 0),
        };
        let index = match a.index {
            Some((p, scale)) => Some((self.in_reg(self.var_val(p.var)?, s1), scale as u8)),
            None => None,
        };
        let disp = imm_bits(a.offset).wrapping_add(frame_disp);
        let mut mem = match (base, index, i32::try_from(disp)) {
            (Some(b), None, Ok(d)) => Mem::Base { base: b, disp: d },
            (Some(b), Some((i, s)), Ok(d)) => Mem::Index {
                base: b,
                index: i,
                scale: s,
                disp: d,
            },
            (None, Some((i, s)), Ok(d)) => Mem::NoBase {
                index: i,
                scale: s,
                disp: d,
            },
            (None, None, Ok(d)) => Mem::Abs { disp: d },
            (b, i, Err(_)) => {
                // A displacement beyond 32 bits: compute the address in s0.
                let sum = match (b, i) {
                    (Some(b), Some((i, s))) => Some(Mem::Index {
                        base: b,
                        index: i,
                        scale: s,
                        disp: 0,
                    }),
                    (Some(b), None) => Some(Mem::Base { base: b, disp: 0 }),
                    (None, Some((i, s))) => Some(Mem::NoBase {
                        index: i,
                        scale: s,
                        disp: 0,
                    }),
                    (None, None) => None,
                };
                match sum {
                    Some(m) => {
                        self.lea(s0, m);
                        self.load(s1, Val::Imm(disp));
                        let ops = &mut self.ops;
                        dynasm!(ops ; .arch x64 ; add Rq(s0), Rq(s1));
                    }
                    None => self.load(s0, Val::Imm(disp)),
                }
                Mem::Base { base: s0, disp: 0 }
            }
        };
        let uses_s1 = match mem {
            Mem::Base { base, .. } => base == s1,
            Mem::Index { base, index, .. } => base == s1 || index == s1,
            Mem::NoBase { index, .. } => index == s1,
            Mem::Abs { .. } => false,
        };
        if keep_s1 && uses_s1 {
            self.lea(s0, mem);
            mem = Mem::Base { base: s0, disp: 0 };
        }
        Ok(mem)
    }

    /// The memory operand of `a` if forming it needs no code (every part
    /// in a register or an alloc address, the displacement within 32 bits).
    #[inline]
    fn plain_addr(&self, a: &Address) -> R<Option<Mem>> {
        // The common form first, as in `addr`.
        if a.index.is_none()
            && let Some(p) = a.base
            && let Val::Reg(base) = self.var_val(p.var)?
            && let Ok(disp) = i32::try_from(imm_bits(a.offset))
        {
            return Ok(Some(Mem::Base { base, disp }));
        }
        self.plain_addr_code(a)
    }

    /// [`Emitter::plain_addr`] of any address.
    #[inline(never)]
    fn plain_addr_code(&self, a: &Address) -> R<Option<Mem>> {
        let (base, frame_disp) = match a.base {
            Some(p) => match self.var_val(p.var)? {
                Val::Reg(r) => (Some(r), 0),
                Val::Addr(off) => (Some(RSP), off as i64),
                _ => return Ok(None),
            },
            None => (None, 0),
        };
        let index = match a.index {
            Some((p, scale)) => match self.var_val(p.var)? {
                Val::Reg(r) => Some((r, scale as u8)),
                _ => return Ok(None),
            },
            None => None,
        };
        let Ok(disp) = i32::try_from(imm_bits(a.offset).wrapping_add(frame_disp)) else {
            return Ok(None);
        };
        Ok(Some(match (base, index) {
            (Some(base), None) => Mem::Base { base, disp },
            (Some(base), Some((index, scale))) => Mem::Index {
                base,
                index,
                scale,
                disp,
            },
            (None, Some((index, scale))) => Mem::NoBase { index, scale, disp },
            (None, None) => Mem::Abs { disp },
        }))
    }

    /// Whether the load into `dst` at the current instruction can be left
    /// to a comparison a few instructions on, which then reads memory
    /// (`cmp r, [m]`): the loaded local is read by that `jc` only, nothing
    /// in between writes memory, the address's variables or the local, and
    /// the comparison is at the load's width.
    fn foldable_load(
        &self,
        dst: Place,
        a: &Address,
        ext: Option<Extension>,
    ) -> R<Option<(usize, Mem)>> {
        let Var::Local(k) = dst.var else {
            return Ok(None);
        };
        if a.ty.is_float() || ext.is_some() || a.ordering == Ordering::Acquire {
            return Ok(None);
        }
        // The variables an address reads.
        let parts_of = |a: &Address| [a.base.map(|p| p.var), a.index.map(|(p, _)| p.var)];
        let parts = parts_of(a);
        let it = OperandKind::Var(dst.var);
        let body = &self.st.stub.stub().body;
        let mut j = self.st.i;
        for _ in 0..8 {
            let Some(next) = self.st.next_in_line(j) else {
                return Ok(None);
            };
            j = next;
            let kind = &body[j].kind;
            if let InstKind::JumpIf { cond, .. } = kind {
                // The local on one side only; on the other, no memory.
                let other = match (cond.lhs.kind == it, cond.rhs.kind == it) {
                    (true, false) => &cond.rhs,
                    (false, true) => &cond.lhs,
                    _ => return Ok(None),
                };
                let fits = !matches!(self.operand_val(other)?, Val::Mem(_))
                    && self
                        .st
                        .stub
                        .op_type(j)
                        .is_some_and(|t| t.bits() == a.ty.bits())
                    && !self.st.plan.liveness.local_after(j, k);
                // The address last: most loads find no comparison to
                // fold into.
                return Ok(if fits {
                    self.plain_addr(a)?.map(|m| (j, m))
                } else {
                    None
                });
            }
            // What the instruction writes and whether it reads the local,
            // told by its kind: only the kinds that neither touch memory
            // nor call can be stepped over (each writes a variable).
            let (w, reads_dst) = match kind {
                InstKind::Move { dst: d, src } | InstKind::Unary { dst: d, src, .. } => {
                    (d.var, src.kind == it)
                }
                InstKind::Binary {
                    dst: d, lhs, rhs, ..
                } => (d.var, lhs.kind == it || rhs.kind == it),
                InstKind::Ld { dst: d, addr, .. } if addr.ordering != Ordering::Acquire => {
                    (d.var, parts_of(addr).contains(&Some(dst.var)))
                }
                InstKind::Ts { dst: d }
                    if !matches!(
                        self.st.env.thread_pointer,
                        lil_codegen::ThreadPointer::Call { .. }
                    ) =>
                {
                    (d.var, false)
                }
                _ => return Ok(None),
            };
            if reads_dst || w == dst.var || parts.contains(&Some(w)) {
                return Ok(None);
            }
        }
        Ok(None)
    }

    #[inline(never)]
    fn ld(&mut self, dst: Place, a: &Address, ext: Option<Extension>) -> R<()> {
        let ty = a.ty;
        if self.folded.is_none()
            && let Some((j, m)) = self.foldable_load(dst, a, ext)?
        {
            self.folded = Some((j, dst.var, m));
            return Ok(());
        }
        let m = self.addr(a, false)?;
        if ty.is_float() {
            let to = self.var_loc(dst.var, RegClass::Float)?;
            let f = match to {
                Loc::Reg(r) => r.num,
                _ => self.f0,
            };
            if ty == Type::F4 {
                with_mem!(&mut self.ops, m, [movss Rx(f),], []);
            } else {
                with_mem!(&mut self.ops, m, [movsd Rx(f),], []);
            }
            if !matches!(to, Loc::Reg(_)) {
                let mm = self.loc_mem(to)?;
                with_mem!(&mut self.ops, mm, [movsd], [, Rx(f)]);
            }
            return Ok(());
        }
        let to = self.var_loc(dst.var, RegClass::General)?;
        let r = self.result_reg(to);
        let sign = ext == Some(Extension::Sign);
        match (ty.size(), sign) {
            (1, true) => with_mem!(&mut self.ops, m, [movsx Rq(r), BYTE], []),
            (1, false) => with_mem!(&mut self.ops, m, [movzx Rd(r), BYTE], []),
            (2, true) => with_mem!(&mut self.ops, m, [movsx Rq(r), WORD], []),
            (2, false) => with_mem!(&mut self.ops, m, [movzx Rd(r), WORD], []),
            (4, true) => with_mem!(&mut self.ops, m, [movsxd Rq(r), DWORD], []),
            (4, false) => with_mem!(&mut self.ops, m, [mov Rd(r), DWORD], []),
            _ => rm64(&mut self.ops, Rm64::MovLoad, r, m),
        }
        self.put(to, r)
    }

    #[inline(never)]
    fn st(&mut self, a: &Address, src: &Operand) -> R<()> {
        let ty = a.ty;
        let m = self.addr(a, true)?;
        if ty.is_float() {
            let OperandKind::Var(v) = src.kind else {
                return Err(CodegenError::Internal("float immediate").into());
            };
            let f = match self.var_loc(v, RegClass::Float)? {
                Loc::Reg(r) => r.num,
                loc => {
                    let mm = self.loc_mem(loc)?;
                    let f0 = self.f0;
                    with_mem!(&mut self.ops, mm, [movsd Rx(f0),], []);
                    f0
                }
            };
            if ty == Type::F4 {
                with_mem!(&mut self.ops, m, [movss], [, Rx(f)]);
            } else {
                with_mem!(&mut self.ops, m, [movsd], [, Rx(f)]);
            }
            return Ok(());
        }
        let v = self.operand_val(src)?;
        let s1 = self.s1;
        match (ty.size(), v) {
            (1, Val::Imm(x)) => with_mem!(&mut self.ops, m, [mov BYTE], [, x as i8]),
            (2, Val::Imm(x)) => with_mem!(&mut self.ops, m, [mov WORD], [, x as i16]),
            (4, Val::Imm(x)) => with_mem!(&mut self.ops, m, [mov DWORD], [, x as i32]),
            // A register, the common source, is stored inline: the call
            // would cost as much as the store.
            (8, Val::Reg(r)) => rm64(&mut self.ops, Rm64::MovStore, r, m),
            (8, v) => self.store64(m, v, s1),
            (size, v) => {
                let r = self.in_reg(v, s1);
                match size {
                    1 => with_mem!(&mut self.ops, m, [mov BYTE], [, Rb(r)]),
                    2 => with_mem!(&mut self.ops, m, [mov WORD], [, Rw(r)]),
                    _ => with_mem!(&mut self.ops, m, [mov DWORD], [, Rd(r)]),
                }
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn inc(&mut self, a: &Address) -> R<()> {
        let m = self.addr(a, false)?;
        match a.ty.size() {
            1 => with_mem!(&mut self.ops, m, [inc BYTE], []),
            2 => with_mem!(&mut self.ops, m, [inc WORD], []),
            4 => with_mem!(&mut self.ops, m, [inc DWORD], []),
            _ => with_mem!(&mut self.ops, m, [inc QWORD], []),
        }
        Ok(())
    }

    fn cas(
        &mut self,
        a: &Address,
        compare: &Operand,
        source: &Operand,
        on_fail: LabelRef,
    ) -> R<()> {
        let (s0, s1) = (self.s0, self.s1);
        let mut m = self.addr(a, true)?;
        let uses_rax = match m {
            Mem::Base { base, .. } => base == RAX,
            Mem::Index { base, index, .. } => base == RAX || index == RAX,
            Mem::NoBase { index, .. } => index == RAX,
            Mem::Abs { .. } => false,
        };
        if uses_rax {
            with_mem!(&mut self.ops, m, [lea Rq(s0),], []);
            m = Mem::Base { base: s0, disp: 0 };
        }
        let src = match self.operand_val(source)? {
            Val::Reg(r) if r != RAX => r,
            v => {
                self.load(s1, v);
                s1
            }
        };
        // rax holds only `r`: park it in the red zone if it is live.
        let rax_live = self.ctx()?.ret().is_some_and(|t| !t.is_float());
        if rax_live {
            let ops = &mut self.ops;
            dynasm!(ops ; .arch x64 ; mov [rsp - 8], rax);
        }
        let cmp = self.operand_val(compare)?;
        self.load(RAX, cmp);
        match a.ty.size() {
            1 => with_mem!(&mut self.ops, m, [lock cmpxchg BYTE], [, Rb(src)]),
            2 => with_mem!(&mut self.ops, m, [lock cmpxchg WORD], [, Rw(src)]),
            4 => with_mem!(&mut self.ops, m, [lock cmpxchg DWORD], [, Rd(src)]),
            _ => with_mem!(&mut self.ops, m, [lock cmpxchg QWORD], [, Rq(src)]),
        }
        if rax_live {
            let ops = &mut self.ops;
            dynasm!(ops ; .arch x64 ; mov rax, [rsp - 8]);
        }
        let target = drive::jump_label(self, on_fail.id);
        jcc(&mut self.ops, Cc::Ne as u8, target);
        Ok(())
    }

    #[inline(never)]
    fn jump(&mut self, l: LabelRef) -> R<()> {
        let target = drive::jump_label(self, l.id);
        jmp(&mut self.ops, target);
        Ok(())
    }

    #[inline(never)]
    fn jump_if(&mut self, cond: &Condition, target: LabelRef) -> R<()> {
        let ty = self.op_type()?;
        let bits = ty.bits();
        // A load left to this comparison reads memory here, in place of
        // its local (on one side only: `foldable_load` sees to it), whose
        // location is then never looked up.
        let i = self.st.i;
        let load = self.folded.take_if(|&mut (j, ..)| j == i);
        let folded = |o: &Operand| match load {
            Some((_, v, m)) if o.kind == OperandKind::Var(v) => Some(Val::Mem(m)),
            _ => None,
        };
        let mut a = match folded(&cond.lhs) {
            Some(m) => m,
            None => self.operand_val(&cond.lhs)?,
        };
        let mut b = match folded(&cond.rhs) {
            Some(m) => m,
            None => self.operand_val(&cond.rhs)?,
        };
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
        let (s0, s1) = (self.s0, self.s1);
        if let (Val::Mem(_), Val::Mem(_)) | (Val::Addr(_), _) = (a, b) {
            a = Val::Reg(self.in_reg(a, s0));
        }
        if let Val::Addr(_) = b {
            b = Val::Reg(self.in_reg(b, s1));
        }
        if let Val::Imm(x) = b
            && bits == 64
            && !fits_i32(x)
        {
            b = Val::Reg(self.in_reg(b, s1));
        }
        // `test x, x` sets the flags every predicate reads exactly as `cmp x, 0`.
        macro_rules! cmp_forms {
            // `$w`: a 64-bit comparison, whose `[base + disp]` forms `rm64` encodes.
            ($R:ident, $size:ident, $imm:ty, $w:expr) => {{
                match (a, b) {
                    (Val::Reg(x), Val::Reg(y)) => {
                        if $w {
                            cmp_rr(&mut self.ops, x, y)
                        } else {
                            dynasm!((&mut self.ops) ; .arch x64 ; cmp $R(x), $R(y))
                        }
                    }
                    (Val::Reg(x), Val::Mem(m)) => {
                        if $w {
                            rm64(&mut self.ops, Rm64::CmpLoad, x, m)
                        } else {
                            with_mem!(&mut self.ops, m, [cmp $R(x),], [])
                        }
                    }
                    (Val::Mem(m), Val::Reg(y)) => {
                        if $w {
                            rm64(&mut self.ops, Rm64::CmpStore, y, m)
                        } else {
                            with_mem!(&mut self.ops, m, [cmp $size], [, $R(y)])
                        }
                    }
                    (Val::Reg(x), Val::Imm(0)) => {
                        if $w {
                            test_rr(&mut self.ops, x)
                        } else {
                            dynasm!((&mut self.ops) ; .arch x64 ; test $R(x), $R(x))
                        }
                    }
                    (Val::Reg(x), Val::Imm(i)) => {
                        if $w {
                            cmp_imm32(&mut self.ops, x, i as i32)
                        } else {
                            dynasm!((&mut self.ops) ; .arch x64 ; cmp $R(x), i as $imm)
                        }
                    }
                    (Val::Mem(m), Val::Imm(i)) => with_mem!(&mut self.ops, m, [cmp $size], [, i as $imm]),
                    _ => return Err(CodegenError::Internal("comparison operands").into()),
                }
            }};
        }
        match bits {
            8 => cmp_forms!(Rb, BYTE, i8, false),
            16 => cmp_forms!(Rw, WORD, i16, false),
            32 => cmp_forms!(Rd, DWORD, i32, false),
            _ => cmp_forms!(Rq, QWORD, i32, true),
        }
        let l = drive::jump_label(self, target.id);
        jcc(&mut self.ops, cc(p) as u8, l);
        Ok(())
    }

    /// Run the moves of a parallel assignment.
    pub(crate) fn parallel(&mut self, moves: &mut [Move]) -> R<()> {
        let (s0, f1) = (
            self.s0,
            self.st.plan.scratch_fp.get(1).map_or(self.f0, |r| r.num),
        );
        sequentialize(
            moves,
            |class| match class {
                RegClass::General => Reg::gp(s0),
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
        let s0 = self.s0;
        match v {
            Val::Reg(r) => call_r(&mut self.ops, r),
            Val::Mem(m) => with_mem!(&mut self.ops, m, [call QWORD], []),
            Val::Imm(_) | Val::Addr(_) => {
                self.load(s0, v);
                call_r(&mut self.ops, s0);
            }
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
        let plan = self.st.plan;
        for &(r, slot) in &plan.arbitrary_saves {
            self.restore_reg(r, slot);
        }
        for (arrival, home) in plan.inputs.iter().zip(&plan.input_homes) {
            if let (ArgLoc::Reg(r), Some(slot)) = (arrival, home) {
                self.restore_reg(*r, *slot);
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn tailcall(&mut self, target: &Operand) -> R<()> {
        let v = self.operand_val(target)?;
        if !self.st.framed {
            // Nothing to restore: jump straight through the value.
            match v {
                Val::Reg(r) => dynasm!((&mut self.ops) ; .arch x64 ; jmp Rq(r)),
                Val::Mem(m) => with_mem!(&mut self.ops, m, [jmp QWORD], []),
                Val::Imm(_) | Val::Addr(_) => {
                    self.load(RAX, v);
                    dynasm!((&mut self.ops) ; .arch x64 ; jmp rax);
                }
            }
            return Ok(());
        }
        // A target in a register the restores below leave alone is jumped to
        // directly; otherwise it goes through rax (neither an argument
        // register nor a standard place).
        let survives = |e: &Self, r: u8| {
            let reg = Reg::gp(r);
            let restored_callee = e.st.plan.saved.iter().any(|(s, _)| *s == reg);
            let restored_arg = e.st.plan.arbitrary_saves.iter().any(|(s, _)| *s == reg)
                || e.st
                    .plan
                    .inputs
                    .iter()
                    .zip(&e.st.plan.input_homes)
                    .any(|(a, h)| h.is_some() && *a == ArgLoc::Reg(reg));
            !restored_callee && !restored_arg
        };
        let target = match v {
            Val::Reg(r) if survives(self, r) => r,
            v => {
                self.load(RAX, v);
                RAX
            }
        };
        self.restore_arguments()?;
        let nstd = self.ctx()?.num_std_places();
        let keep: SmallVec<[Reg; 4]> = (0..nstd).filter_map(|k| DESC.std_place(k)).collect();
        self.epilogue(&keep);
        let ops = &mut self.ops;
        dynasm!(ops ; .arch x64 ; jmp Rq(target));
        Ok(())
    }

    #[inline(never)]
    fn ret(&mut self) -> R<()> {
        if let Some(t) = self.op_type_opt() {
            let to = Loc::Reg(self.st.entry_cc.ret_reg(t));
            let from = Loc::Reg(match RegClass::of(t) {
                RegClass::General => self.st.plan.ret_gp,
                RegClass::Float => self.st.plan.ret_fp,
            });
            self.copy(to, from, t)?;
        }
        self.epilogue(&[]);
        let ops = &mut self.ops;
        dynasm!(ops ; .arch x64 ; ret);
        Ok(())
    }

    fn op_type_opt(&self) -> Option<Type> {
        self.st.stub.op_type(self.st.i)
    }

    #[inline(never)]
    fn push_m2n(&mut self, method: Option<&Operand>, frame_type: Option<&Operand>) -> R<()> {
        let f = self.m2n_offset()?;
        let (s0, s1) = (self.s0, self.s1);
        let fm = |off: i32| Mem::Base {
            base: RSP,
            disp: f + off,
        };
        // Everything but the link first: the operands may live in scratch-free registers only.
        let method_v = match method {
            Some(o) => self.operand_val(o)?,
            None => Val::Imm(0),
        };
        self.store64(fm(m2n::METHOD), method_v, s1);
        let ft = match frame_type {
            Some(o) => self.operand_val(o)?,
            None => Val::Imm(0),
        };
        self.store64(fm(m2n::FRAME_TYPE), ft, s1);
        // Nothing can look at the frame before a `handles =` that follows.
        if !lil_codegen::plan::handles_set_before_use(self.st.stub, self.st.env, self.st.i) {
            self.store64(fm(m2n::LOCAL_HANDLES), Val::Imm(0), s1);
        }
        // Return address, the caller's stack pointer (the CFA) and frame pointer.
        let rbp = |disp| Mem::Base { base: RBP, disp };
        rm64_run(
            &mut self.ops,
            [
                (Rm64::MovLoad, s1, rbp(8)),
                (Rm64::MovStore, s1, fm(m2n::RETURN_ADDRESS)),
                (Rm64::Lea, s1, rbp(16)),
                (Rm64::MovStore, s1, fm(m2n::CALLER_SP)),
                (Rm64::MovLoad, s1, rbp(0)),
                (Rm64::MovStore, s1, fm(m2n::CALLER_FP)),
            ],
        );
        // The caller's callee-saved registers: the prologue saved the ones
        // this stub uses straight into their slots here (or elsewhere, to
        // copy from); the others are still in the register. (The list as
        // a slice taken once: the stores below could change it, as far as
        // the compiler knows.)
        let saved: &[(Reg, i32)] = &self.st.plan.saved;
        for (idx, &n) in DESC.m2n_saved_gp.iter().enumerate() {
            let at = fm(m2n::SAVED_GP + 8 * idx as i32);
            match saved.iter().find(|(r, _)| *r == Reg::gp(n)) {
                Some(&(_, slot)) if slot == at.disp() => {}
                Some(&(_, slot)) => {
                    self.ld64(
                        s1,
                        Mem::Base {
                            base: RSP,
                            disp: slot,
                        },
                    );
                    self.st64(at, s1);
                }
                None => self.st64(at, n),
            }
        }
        // Link: frame.prev = *head; frame.link = head; *head = frame.
        self.thread_pointer(s0)?;
        let list = self.st.env.m2n_list_offset;
        if list != 0 {
            self.lea(
                s0,
                Mem::Base {
                    base: s0,
                    disp: list,
                },
            );
        }
        let head = Mem::Base { base: s0, disp: 0 };
        let load_prev = (Rm64::MovLoad, s1, head);
        let store_prev = (Rm64::MovStore, s1, fm(m2n::PREV));
        let store_link = (Rm64::MovStore, s0, fm(m2n::LINK));
        if f == 0 {
            let store_head = (Rm64::MovStore, RSP, head);
            rm64_run(
                &mut self.ops,
                [load_prev, store_prev, store_link, store_head],
            );
        } else {
            let frame = (Rm64::Lea, s1, fm(0));
            let store_head = (Rm64::MovStore, s1, head);
            rm64_run(
                &mut self.ops,
                [load_prev, store_prev, store_link, frame, store_head],
            );
        }
        Ok(())
    }

    #[inline(never)]
    fn pop_m2n(&mut self) -> R<()> {
        let f = self.m2n_offset()?;
        let handles = self.ctx()?.m2n() == lil_check::M2nState::PushedWithHandles;
        let hooks = self.st.env.m2n_hooks;
        // Chained options, not an array of them: no array built to walk.
        let calls =
            (hooks.free_handles.filter(|_| handles).into_iter()).chain(hooks.pending_exception);
        let fm = |off: i32| Mem::Base {
            base: RSP,
            disp: f + off,
        };
        for function in calls {
            self.helper_call(
                function,
                |e| {
                    e.lea(RDI, fm(0));
                    Ok(())
                },
                |_| Ok(()),
            )?;
        }
        let (s0, s1) = (self.s0, self.s1);
        rm64_run(
            &mut self.ops,
            [
                (Rm64::MovLoad, s0, fm(m2n::LINK)),
                (Rm64::MovLoad, s1, fm(m2n::PREV)),
                (Rm64::MovStore, s1, Mem::Base { base: s0, disp: 0 }),
            ],
        );
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
                    let loc = self.var_loc(v, RegClass::Float)?;
                    Some(Err(loc))
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
        let len = text.as_ref().map_or(0, |t| t.len() as i32);
        if let (Some(l), Some(t)) = (label, text) {
            self.st.add_data(l, t);
        }
        self.helper_call(
            function,
            |e| {
                match value {
                    Some(Ok(v)) => e.load(RDX, v),
                    Some(Err(loc)) => match loc {
                        Loc::Reg(r) => dynasm!((&mut e.ops) ; .arch x64 ; movq rdx, Rx(r.num)),
                        loc => {
                            let m = e.loc_mem(loc)?;
                            with_mem!(&mut e.ops, m, [mov rdx,], []);
                        }
                    },
                    None => e.load(RDX, Val::Imm(0)),
                }
                let ops = &mut e.ops;
                dynasm!(ops ; .arch x64 ; mov esi, len);
                match label {
                    Some(l) => dynasm!(ops ; .arch x64 ; lea rdi, [=>l]),
                    None => dynasm!(ops ; .arch x64 ; mov rdi, QWORD addr),
                }
                Ok(())
            },
            |_| Ok(()),
        )
    }
}
