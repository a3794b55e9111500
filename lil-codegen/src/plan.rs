//! Frame planning, shared by both emitters: where every variable lives, the
//! layout of the stack frame, and where the frame is set up.
//!
//! The plan is computed once per stub from the `CheckedStub`'s summary and
//! the target's [`TargetDesc`]; emitters only look locations up.
//!
//! Two invariants emitters rely on:
//! - **Shrink-wrapping.** The frame is set up lazily, just before the first
//!   instruction that needs it on each path ([`FramePlan::framed_before`]),
//!   so a fast path without calls runs with no prologue at all. Code before
//!   the prologue never writes an argument register that holds an input, so
//!   the prologue can still save the inputs it homes.
//! - **One layout.** Once set up, the frame has a fixed layout and the stack
//!   pointer does not move until the epilogue: every slot is addressed from
//!   the stack pointer ("frame base", FB). The frame record (saved frame
//!   pointer, return address) is the top 16 bytes on both ISAs, so the
//!   caller's frame address (CFA) is FB + `frame_size`.

use crate::CodegenError;
use crate::HostEnv;
use crate::host::ThreadPointer;
use crate::m2n;
use crate::target::{ArgLoc, CallingConvention, Reg, RegClass, TargetDesc};
use lil_check::{CheckedStub, Clobbers};
use lil_syntax::{CallKind, EntrySignature, InstKind, Operand, OperandKind, Span, Type, Var};

/// Where a value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// In a register.
    Reg(Reg),
    /// In the frame, at this byte offset from the frame base (the stack
    /// pointer after the prologue).
    Frame(i32),
    /// In the caller's frame (a stack argument), at this byte offset from
    /// the CFA (the stack pointer before the call pushed anything).
    Incoming(i32),
}

/// Everything an emitter needs to know about where things are.
#[derive(Clone, Debug)]
pub struct FramePlan {
    /// The entry's calling convention.
    pub entry_cc: CallingConvention,
    /// Where each input arrives (register or incoming stack slot).
    pub inputs: Vec<ArgLoc>,
    /// Register inputs also have a home slot in the frame (used once the
    /// frame is set up), because something may clobber argument registers
    /// before an input is read.
    pub input_homes: Vec<Option<i32>>,
    /// `arbitrary` stubs that call save every argument register here and
    /// restore them before `tailcall`.
    pub arbitrary_saves: Vec<(Reg, i32)>,
    /// Location of each local index holding a general-purpose value.
    pub locals_gp: Vec<Option<Loc>>,
    /// Location of each local index holding a floating-point value.
    pub locals_fp: Vec<Option<Loc>>,
    /// Scratch registers: free inside any one instruction.
    pub scratch_gp: Vec<Reg>,
    /// Floating-point scratch registers.
    pub scratch_fp: Vec<Reg>,
    /// Callee-saved registers the prologue saves, and their slots.
    pub saved: Vec<(Reg, i32)>,
    /// Caller-saved registers holding variables, and the slots where they are
    /// kept while the stub calls a helper of its own (a `ts` function, the
    /// `print` function, `pop_m2n` hooks).
    pub helper_saves: Vec<(Reg, i32)>,
    /// Bytes from the frame base to the CFA (a multiple of 16); 0 when the
    /// stub never sets up a frame.
    pub frame_size: u32,
    /// Offset of the `alloc` area.
    pub alloc_offset: i32,
    /// Offset of the M2N frame, if the stub pushes one.
    pub m2n_offset: Option<i32>,
    /// Bytes of outgoing stack arguments (at the frame base).
    pub out_area: u32,
    /// Per instruction: whether the frame is set up when it starts.
    pub framed_before: Vec<bool>,
    /// Per instruction: whether it needs the frame.
    pub requires_frame: Vec<bool>,
    /// Per basic block (in `CheckedStub::basic_blocks` order): framed on entry.
    pub block_framed_in: Vec<bool>,
    /// Per basic block: framed on exit.
    pub block_framed_out: Vec<bool>,
    /// For each instruction, its basic block.
    pub block_of: Vec<u32>,
    /// The register holding the thread pointer, if the host pins one.
    pub ts_register: Option<Reg>,
    /// Standard places this stub must save and restore (callee-saved
    /// registers it writes without having received them).
    pub std_places_saved: Vec<u32>,
}

fn push_unique(v: &mut Vec<Reg>, r: Reg) {
    if !v.contains(&r) {
        v.push(r);
    }
}

fn align_up(x: u32, a: u32) -> u32 {
    x.div_ceil(a) * a
}

impl FramePlan {
    /// Plan the frame of `stub` for `desc`'s target in `env`.
    pub fn new(
        stub: &CheckedStub,
        desc: &TargetDesc,
        env: &HostEnv,
    ) -> Result<FramePlan, CodegenError> {
        let summary = stub.summary();
        let entry = &stub.stub().entry;
        let entry_cc = env.convention(desc, entry.signature.cc()).clone();
        let is_gp_callee_saved = |n: u8| {
            entry_cc.callee_saved_gp.contains(&n) || desc.c_abi.callee_saved_gp.contains(&n)
        };

        // ---- Registers with a fixed role in this stub.
        let mut occupied: Vec<Reg> = Vec::new();
        let (inputs, _) = match &entry.signature {
            EntrySignature::Typed(sig) => entry_cc.locate(&sig.params),
            EntrySignature::Arbitrary { .. } => (Vec::new(), 0),
        };
        for loc in &inputs {
            if let ArgLoc::Reg(r) = loc {
                push_unique(&mut occupied, *r);
            }
        }
        let arbitrary = entry.signature.typed().is_none();
        if arbitrary {
            for &n in entry_cc.gp_args.iter() {
                push_unique(&mut occupied, Reg::gp(n));
            }
            for &n in entry_cc.fp_args.iter() {
                push_unique(&mut occupied, Reg::fp(n));
            }
        }
        let mut out_area = 0u32;
        for sig in &summary.call_signatures {
            let cc = env.convention(desc, sig.cc);
            for loc in cc.arg_locs(&sig.params) {
                match loc {
                    ArgLoc::Reg(r) => push_unique(&mut occupied, r),
                    ArgLoc::Stack(off) => out_area = out_area.max(off + cc.stack_slot),
                }
            }
        }
        let nstd = summary.max_std_places.max(summary.entry_std_places);
        for k in 0..nstd {
            if let Some(r) = desc.std_place(k) {
                push_unique(&mut occupied, r);
            }
        }
        if summary.ret_general {
            push_unique(&mut occupied, Reg::gp(desc.ret_gp));
        }
        if summary.ret_float {
            push_unique(&mut occupied, Reg::fp(desc.ret_fp));
        }
        let ts_register = match env.thread_pointer {
            ThreadPointer::Register(n) => {
                let r = Reg::gp(n);
                let clash = occupied.contains(&r)
                    || desc.reserved_gp.contains(&n)
                    || desc.std_places.contains(&n)
                    || n == desc.ret_gp
                    || desc.c_abi.gp_args.contains(&n);
                if clash {
                    return Err(CodegenError::BadHostRegister {
                        what: "the thread-pointer register",
                        reg: n,
                    });
                }
                push_unique(&mut occupied, r);
                Some(r)
            }
            _ => None,
        };

        // ---- Scratch registers.
        let mut saved: Vec<Reg> = Vec::new();
        let take_free = |pool: &[u8], class: RegClass, occupied: &mut Vec<Reg>| -> Option<Reg> {
            let r = pool
                .iter()
                .map(|&n| Reg { class, num: n })
                .find(|r| !occupied.contains(r))?;
            occupied.push(r);
            Some(r)
        };
        let mut scratch_gp = Vec::new();
        for _ in 0..desc.scratch_count {
            let r = take_free(desc.scratch_gp, RegClass::General, &mut occupied)
                .or_else(|| {
                    take_free(
                        desc.locals_callee_saved_gp,
                        RegClass::General,
                        &mut occupied,
                    )
                })
                .ok_or(CodegenError::OutOfRegisters {
                    what: "scratch registers",
                })?;
            if is_gp_callee_saved(r.num) {
                saved.push(r);
            }
            scratch_gp.push(r);
        }
        let mut scratch_fp = Vec::new();
        for _ in 0..2 {
            let r = take_free(desc.scratch_fp, RegClass::Float, &mut occupied).ok_or(
                CodegenError::OutOfRegisters {
                    what: "floating-point scratch registers",
                },
            )?;
            scratch_fp.push(r);
        }

        // ---- Locals.
        let mut locals_gp = vec![None; summary.max_locals as usize];
        let mut locals_fp = vec![None; summary.max_locals as usize];
        let mut spilled: Vec<(RegClass, usize)> = Vec::new();
        for (k, usage) in summary.locals.iter().enumerate() {
            for (class, used, crosses) in [
                (RegClass::General, usage.general, usage.general_across_call),
                (RegClass::Float, usage.float, usage.float_across_call),
            ] {
                if !used {
                    continue;
                }
                let (caller, callee) = match class {
                    RegClass::General => (desc.locals_caller_saved_gp, desc.locals_callee_saved_gp),
                    RegClass::Float => (desc.locals_caller_saved_fp, desc.locals_callee_saved_fp),
                };
                let reg = if crosses {
                    take_free(callee, class, &mut occupied)
                } else {
                    take_free(caller, class, &mut occupied)
                        .or_else(|| take_free(callee, class, &mut occupied))
                };
                let slot = match reg {
                    Some(r) => {
                        let callee_saved = match class {
                            RegClass::General => is_gp_callee_saved(r.num),
                            RegClass::Float => desc.c_abi.callee_saved_fp.contains(&r.num),
                        };
                        if callee_saved {
                            saved.push(r);
                        }
                        Some(Loc::Reg(r))
                    }
                    None => {
                        spilled.push((class, k));
                        None
                    }
                };
                match class {
                    RegClass::General => locals_gp[k] = slot,
                    RegClass::Float => locals_fp[k] = slot,
                }
            }
        }

        // ---- Standard places in callee-saved registers written without being received.
        let mut std_places_saved = Vec::new();
        for k in 0..4u32 {
            if summary.std_places_written & (1 << k) != 0
                && k >= summary.entry_std_places
                && let Some(r) = desc.std_place(k)
                && is_gp_callee_saved(r.num)
            {
                saved.push(r);
                std_places_saved.push(k);
            }
        }

        // ---- Which events clobber argument registers on this target.
        let mut clobbers = Clobbers::CALL | Clobbers::OUTPUT;
        if env.print.is_some() {
            clobbers |= Clobbers::PRINT;
        }
        if matches!(env.thread_pointer, ThreadPointer::Call { .. }) {
            clobbers |= Clobbers::TS | Clobbers::PUSH_M2N;
        }
        if env.m2n_hooks.free_handles.is_some() || env.m2n_hooks.pending_exception.is_some() {
            clobbers |= Clobbers::POP_M2N;
        }
        let homes = summary.reads_inputs && summary.input_reads_after.intersects(clobbers);

        // ---- Helper saves: caller-saved registers holding variables.
        let helper_call = matches!(env.thread_pointer, ThreadPointer::Call { .. })
            && (summary.uses_ts || summary.pushes_m2n)
            || (env.print.is_some() && summary.prints)
            || (summary.pushes_m2n && clobbers.contains(Clobbers::POP_M2N));
        let mut helper_regs: Vec<Reg> = Vec::new();
        if helper_call {
            for r in &occupied {
                let caller_saved = match r.class {
                    RegClass::General => !is_gp_callee_saved(r.num) && !scratch_gp.contains(r),
                    RegClass::Float => {
                        !desc.c_abi.callee_saved_fp.contains(&r.num) && !scratch_fp.contains(r)
                    }
                };
                let pinned = Some(*r) == ts_register;
                if caller_saved && !pinned {
                    helper_regs.push(*r);
                }
            }
        }

        // ---- Frame layout, from the frame base up.
        let mut off = align_up(out_area, 16);
        let out_area = off;
        let helper_saves: Vec<(Reg, i32)> = helper_regs
            .iter()
            .map(|r| {
                let at = off as i32;
                off += 8;
                (*r, at)
            })
            .collect();
        for (class, k) in &spilled {
            let at = Loc::Frame(off as i32);
            off += 8;
            match class {
                RegClass::General => locals_gp[*k] = Some(at),
                RegClass::Float => locals_fp[*k] = Some(at),
            }
        }
        let mut input_homes = vec![None; inputs.len()];
        if homes {
            for (k, loc) in inputs.iter().enumerate() {
                if let ArgLoc::Reg(_) = loc {
                    input_homes[k] = Some(off as i32);
                    off += 8;
                }
            }
        }
        let mut arbitrary_saves = Vec::new();
        if arbitrary && summary.returning_calls {
            for &n in entry_cc.gp_args.iter() {
                arbitrary_saves.push((Reg::gp(n), off as i32));
                off += 8;
            }
            for &n in entry_cc.fp_args.iter() {
                arbitrary_saves.push((Reg::fp(n), off as i32));
                off += 8;
            }
        }
        saved.dedup();
        let saved: Vec<(Reg, i32)> = saved
            .into_iter()
            .map(|r| {
                let at = off as i32;
                off += 8;
                (r, at)
            })
            .collect();
        off = align_up(off, 16);
        let alloc_offset = off as i32;
        off += align_up(summary.alloc_bytes, 16);
        let m2n_offset = if summary.pushes_m2n {
            let at = off as i32;
            off += m2n::offsets::SIZE;
            Some(at)
        } else {
            None
        };
        off = align_up(off, 16) + 16; // frame record: saved frame pointer, return address
        let frame_size = off;

        // ---- Shrink-wrapping: which instructions need the frame.
        let body = &stub.stub().body;
        let spilled_or_saved = |loc: Option<Loc>| match loc {
            Some(Loc::Frame(_)) | Some(Loc::Incoming(_)) => true,
            Some(Loc::Reg(r)) => saved.iter().any(|(s, _)| *s == r),
            None => false,
        };
        let local_needs = |v: Var| -> bool {
            match v {
                Var::Local(k) => {
                    spilled_or_saved(locals_gp.get(k as usize).copied().flatten())
                        || spilled_or_saved(locals_fp.get(k as usize).copied().flatten())
                }
                Var::StdPlace(k) => std_places_saved.contains(&k),
                _ => false,
            }
        };
        let operand_needs = |o: &Operand| matches!(o.kind, OperandKind::Var(v) if local_needs(v));
        let mut requires_frame = vec![false; body.len()];
        for (i, inst) in body.iter().enumerate() {
            let needs = match &inst.kind {
                InstKind::Call { kind, target } => match kind {
                    CallKind::Call | CallKind::NoReturn => true,
                    CallKind::Tail => operand_needs(target),
                },
                InstKind::Out(_)
                | InstKind::In2Out { .. }
                | InstKind::Alloc { .. }
                | InstKind::PushM2n { .. }
                | InstKind::PopM2n
                | InstKind::M2nSaveAll
                | InstKind::Handles(_) => true,
                InstKind::Ts { dst } => {
                    matches!(env.thread_pointer, ThreadPointer::Call { .. }) || local_needs(dst.var)
                }
                InstKind::Print { .. } if env.print.is_some() => true,
                kind => {
                    let mut any = false;
                    visit_vars(kind, |v| any |= local_needs(v));
                    any
                }
            };
            requires_frame[i] = needs;
        }
        // Scratch registers that are callee-saved need the frame wherever used:
        // with no caller-saved scratch left, frame the whole stub.
        let frame_everything = scratch_gp.iter().any(|r| is_gp_callee_saved(r.num));
        if frame_everything {
            requires_frame.iter_mut().for_each(|r| *r = true);
        }

        // Forward may-analysis over blocks: framed once any path set it up.
        let blocks = stub.blocks();
        let block_of: Vec<u32> = (0..body.len()).map(|i| stub.block_of(i)).collect();
        let mut framed_in = vec![false; blocks.len()];
        let mut framed_out = vec![false; blocks.len()];
        let mut changed = true;
        while changed {
            changed = false;
            for (b, block) in blocks.iter().enumerate() {
                let out = framed_in[b]
                    || requires_frame[block.start as usize..block.end as usize]
                        .iter()
                        .any(|&r| r);
                if out != framed_out[b] {
                    framed_out[b] = out;
                    changed = true;
                }
                if out {
                    for s in block.succs.into_iter().flatten() {
                        if !framed_in[s as usize] {
                            framed_in[s as usize] = true;
                            changed = true;
                        }
                    }
                }
            }
        }
        let mut framed_before = vec![false; body.len()];
        for (b, block) in blocks.iter().enumerate() {
            let mut f = framed_in[b];
            for i in block.start as usize..block.end as usize {
                framed_before[i] = f;
                f |= requires_frame[i];
            }
        }
        let needs_frame = framed_out.iter().any(|&f| f);

        Ok(FramePlan {
            entry_cc,
            inputs,
            input_homes,
            arbitrary_saves,
            locals_gp,
            locals_fp,
            scratch_gp,
            scratch_fp,
            saved,
            helper_saves,
            frame_size: if needs_frame { frame_size } else { 0 },
            alloc_offset,
            m2n_offset,
            out_area,
            framed_before,
            requires_frame,
            block_framed_in: framed_in,
            block_framed_out: framed_out,
            block_of,
            ts_register,
            std_places_saved,
        })
    }

    /// Where local `k` of class `class` lives.
    pub fn local(&self, k: u32, class: RegClass) -> Result<Loc, CodegenError> {
        let v = match class {
            RegClass::General => &self.locals_gp,
            RegClass::Float => &self.locals_fp,
        };
        v.get(k as usize)
            .copied()
            .flatten()
            .ok_or(CodegenError::Internal("a local was given no location"))
    }

    /// Where input `k` is, with the frame set up or not.
    pub fn input(&self, k: u32, framed: bool) -> Result<Loc, CodegenError> {
        let arrival = self
            .inputs
            .get(k as usize)
            .ok_or(CodegenError::Internal("no such input"))?;
        if framed && let Some(Some(home)) = self.input_homes.get(k as usize) {
            return Ok(Loc::Frame(*home));
        }
        Ok(match arrival {
            ArgLoc::Reg(r) => Loc::Reg(*r),
            ArgLoc::Stack(off) => Loc::Incoming(*off as i32),
        })
    }

    /// Whether the plan sets up a frame anywhere.
    pub fn has_frame(&self) -> bool {
        self.frame_size != 0
    }
}

/// Call `f` on every variable an instruction reads or writes.
pub fn visit_vars(kind: &InstKind, mut f: impl FnMut(Var)) {
    let op = |o: &Operand, f: &mut dyn FnMut(Var)| {
        if let OperandKind::Var(v) = o.kind {
            f(v);
        }
    };
    let addr = |a: &lil_syntax::Address, f: &mut dyn FnMut(Var)| {
        if let Some(b) = a.base {
            f(b.var);
        }
        if let Some((i, _)) = a.index {
            f(i.var);
        }
    };
    match kind {
        InstKind::Alloc { dst, .. } | InstKind::Ts { dst } => f(dst.var),
        InstKind::Move { dst, src } | InstKind::Unary { dst, src, .. } => {
            f(dst.var);
            op(src, &mut f);
        }
        InstKind::Binary { dst, lhs, rhs, .. } => {
            f(dst.var);
            op(lhs, &mut f);
            op(rhs, &mut f);
        }
        InstKind::Handles(o) => op(o, &mut f),
        InstKind::Ld { dst, addr: a, .. } => {
            f(dst.var);
            addr(a, &mut f);
        }
        InstKind::St { addr: a, src } => {
            addr(a, &mut f);
            op(src, &mut f);
        }
        InstKind::Inc { addr: a } => addr(a, &mut f),
        InstKind::Cas {
            addr: a,
            compare,
            source,
            ..
        } => {
            addr(a, &mut f);
            op(compare, &mut f);
            op(source, &mut f);
        }
        InstKind::JumpIf { cond, .. } => {
            op(&cond.lhs, &mut f);
            op(&cond.rhs, &mut f);
        }
        InstKind::Call { target, .. } => op(target, &mut f),
        InstKind::PushM2n {
            method, frame_type, ..
        } => {
            for o in [method, frame_type].into_iter().flatten() {
                op(o, &mut f);
            }
        }
        InstKind::Print {
            operand: Some(o), ..
        } => op(o, &mut f),
        _ => {}
    }
}

/// The class of a value of type `ty`, for locations.
pub fn class_of(ty: Type) -> RegClass {
    RegClass::of(ty)
}

/// A span for errors about the whole stub.
pub fn stub_span(stub: &CheckedStub) -> Span {
    stub.stub().entry.span
}
