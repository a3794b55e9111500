//! The dataflow: a control-flow graph of basic blocks, block-entry states
//! computed to a fixpoint, then one checking pass that records the context
//! before every instruction and reports every rule violated.
//!
//! Invariant: the fixpoint pass and the checking pass run the same transfer
//! function ([`Flow::step`]); only the second reports, so every error is
//! reported exactly once, and only the second fills the [`Summary`].
//!
//! The body is read in as few passes as possible: a large stub's
//! instructions do not fit in the cache, so each pass costs a trip through
//! memory. The common case, a valid stub whose jumps all go forward, takes
//! one ([`Flow::check_forward`]: CFG, states and checks together); the
//! general path (every error, unreachable code, loops) one to build the
//! CFG, one to check it, plus the fixpoint for loops. The one-pass check
//! gives up on anything but the common case, so the general path is the
//! only one that reports, and both leave the same facts.

use crate::error::{CheckError, ty_name};
use crate::state::{
    Bits, Clobbers, Conflict, Frame, M2nState, NO_OUT, PACKED_LOCALS, State, StdTys, Ty,
};
use crate::{LocalUse, MAX_ALLOC_BYTES, MAX_STD_PLACES, PASSABLE_SCRATCH_PLACES, Summary};
use lil_syntax::*;
use std::mem::ManuallyDrop;

/// A basic block: a maximal straight-line run of instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Index of the first instruction.
    pub start: u32,
    /// Index one past the last instruction.
    pub end: u32,
    /// The blocks control can go to next (a jump target, then the fall-through).
    pub succs: [Option<u32>; 2],
}

/// Everything known about one instruction, in one record so that a stub's
/// facts are one array: its block, the type it operates at, and the
/// context before it. The types of a small frame's locals are packed into
/// the record; a larger frame's live in an arena, shared by consecutive
/// instructions whose locals have the same types.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InstFacts {
    pub(crate) block: u32,
    /// Where the locals' types start in the arena, with more than
    /// [`PACKED_LOCALS`] of them.
    pub(crate) locals_start: u32,
    /// The context (with the types of at most [`PACKED_LOCALS`] locals).
    pub(crate) frame: Frame,
    pub(crate) op_type: Ty,
    pub(crate) reachable: bool,
}

impl InstFacts {
    /// An instruction of block `block` that no path reaches (yet).
    fn unreached(block: u32) -> InstFacts {
        InstFacts {
            block,
            locals_start: 0,
            frame: Frame::UNREACHED,
            op_type: Ty::UNDEF,
            reachable: false,
        }
    }

    /// The type of `lK` in this context (undefined if there is no `lK`);
    /// `arena` holds the locals of large frames.
    pub(crate) fn local(&self, arena: &[Ty], k: u32) -> Ty {
        let len = u32::from(self.frame.locals_len);
        if k >= len {
            Ty::UNDEF
        } else if len as usize <= PACKED_LOCALS {
            self.frame.locals[k as usize]
        } else {
            arena
                .get(self.locals_start as usize + k as usize)
                .copied()
                .unwrap_or(Ty::UNDEF)
        }
    }
}

/// What the last write of the checking pass added to the summary, to
/// take back if the instruction after it is a join that forgets the
/// value written.
///
/// The summary notes what the contexts show (the types of locals and of
/// `r`, the most standard places) where an instruction makes it, not by
/// reading every context back: a context shows no type that no write
/// made (a join only keeps a type or forgets it, unless there is an
/// error), and the next context shows what a write made (no instruction
/// that writes a variable ends a block, and a valid body does not end
/// after one), unless the next instruction is a label whose join
/// forgets it. That is the one case this undoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Noted {
    Nothing,
    /// Instruction `at` wrote `ty` to `lK`, whose use was `before`.
    Local {
        at: u32,
        k: u32,
        ty: Ty,
        before: LocalUse,
    },
    /// Instruction `at` wrote `ty` to `r`; the types seen were `before`.
    Ret {
        at: u32,
        ty: Ty,
        before: u32,
    },
    /// Instruction `at` made `n` standard places; the most was `before`.
    StdPlaces {
        at: u32,
        n: u32,
        before: u32,
    },
}

/// What a join knows: the state the edges so far bring, and the
/// instruction whose edge first brought one (`u32::MAX` for the entry).
#[derive(Clone)]
struct Join {
    state: Option<State>,
    origin: u32,
}

/// Block-entry states and what the merges found.
struct Joins {
    joins: Vec<Join>,
    /// (block, conflict, first origin, second origin), once per block and kind.
    conflicts: Vec<(u32, Conflict, u32, u32)>,
    scratch: Vec<Conflict>,
}

impl Joins {
    /// Merge the state at the end of `block` into its successors; returns
    /// the successors whose entry state changed.
    fn propagate(&mut self, block: &Block, st: &State) -> impl Iterator<Item = u32> + use<> {
        let from = block.end - 1;
        let mut changed_succs = [None, None];
        for (slot, succ) in block.succs.into_iter().enumerate() {
            let Some(succ) = succ else { continue };
            let join = &mut self.joins[succ as usize];
            let changed = match &mut join.state {
                None => {
                    join.state = Some(st.clone());
                    join.origin = from;
                    true
                }
                Some(existing) => {
                    self.scratch.clear();
                    let changed = existing.merge(st, &mut self.scratch);
                    for c in self.scratch.drain(..) {
                        if !self
                            .conflicts
                            .iter()
                            .any(|(bb, cc, _, _)| *bb == succ && *cc == c)
                        {
                            self.conflicts.push((succ, c, join.origin, from));
                        }
                    }
                    changed
                }
            };
            if changed {
                changed_succs[slot] = Some(succ);
            }
        }
        changed_succs.into_iter().flatten()
    }
}

/// What the checker learned about the body, for the [`crate::CheckedStub`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    pub(crate) blocks: Vec<Block>,
    /// One record per instruction.
    pub(crate) insts: Vec<InstFacts>,
    /// The types of the locals of every context.
    pub(crate) arena: Vec<Ty>,
}

/// The memory one check fills: what its [`crate::CheckedStub`] keeps
/// (the facts, the summary's vectors) and working memory it does not. A
/// [`crate::Checker`] holds it between checks, and gets the first part
/// back from a checked stub it recycles, so that checking one stub after
/// another allocates only while the buffers grow. Every check clears what
/// it takes (`Flow::new`) or overwrites it (the signatures): no answer
/// depends on what a buffer held.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pub(crate) facts: Facts,
    /// For [`Summary::locals`].
    pub(crate) locals: Vec<LocalUse>,
    /// For [`Summary::call_signatures`]; the signatures an earlier check
    /// left in it are overwritten by the next check's (their parameter
    /// lists keep their memory).
    pub(crate) signatures: Vec<Signature>,
    pub(crate) spare: Spare,
}

/// Working memory a check does not hand over with its result.
#[derive(Debug, Default)]
pub(crate) struct Spare {
    /// Signatures left over from checks that interned more than the
    /// last, reused by the next ones interned beyond what
    /// [`Buffers::signatures`] holds.
    signatures: Vec<Signature>,
    /// Where each label is, for the one-pass check of a stub with more
    /// labels than fit on the stack.
    labels: Vec<LabelAt>,
    /// Where each label is declared, for the general path's CFG.
    label_pos: Vec<Option<u32>>,
    /// Liveness sets of a stub too large for the ones on the stack.
    pub(crate) live_sets: Vec<u64>,
}

impl Buffers {
    /// Takes back what a checked stub kept, where it is larger than what
    /// is here (a buffer is only ever reused, never shrunk), by swaps:
    /// the stub's vectors are left with what is not kept, to be dropped
    /// with it (moving them in and out again would copy them).
    pub(crate) fn keep(
        &mut self,
        facts: &mut Facts,
        locals: &mut Vec<LocalUse>,
        sigs: &mut Vec<Signature>,
    ) {
        keep_larger(&mut self.facts.blocks, &mut facts.blocks);
        keep_larger(&mut self.facts.insts, &mut facts.insts);
        keep_larger(&mut self.facts.arena, &mut facts.arena);
        keep_larger(&mut self.locals, locals);
        keep_larger(&mut self.signatures, sigs);
    }
}

/// Empties `v` for `n` elements. A buffer too small is replaced at once by
/// one of the exact size, not grown through the generic (amortizing,
/// out-of-line) path: a new checker's first check, and `check_owned`'s
/// every check, allocate so.
#[inline(always)]
fn clear_for<T>(v: &mut Vec<T>, n: usize) {
    v.clear();
    if v.capacity() < n {
        *v = Vec::with_capacity(n);
    }
}

/// Swaps `theirs` in if it is the larger buffer.
fn keep_larger<T>(mine: &mut Vec<T>, theirs: &mut Vec<T>) {
    if theirs.capacity() > mine.capacity() {
        std::mem::swap(mine, theirs);
    }
}

/// The one-pass check met something only the general path handles.
#[derive(Debug)]
pub(crate) struct GiveUp;

/// What the one-pass check knows of a label.
#[derive(Clone, Copy, Debug)]
enum LabelAt {
    /// Neither declared nor jumped to yet.
    Unseen,
    /// Jumped to from above: the state the jumps bring waits in `slot`;
    /// `jumps` is the last block that jumps here, the head of the chain
    /// of such blocks linked through their first successor (an
    /// assembler's fixup chain), patched when the label is declared.
    Waiting { slot: u32, jumps: u32 },
    /// Declared (a jump to it now goes backward: for the general path).
    Declared,
}

/// The states waiting at labels ahead of the one-pass check, in slots
/// reused stack-wise (forward jumps mostly nest or follow each other, so
/// few slots are ever live), the first few inline.
#[derive(Default)]
struct Waiting {
    /// Dropped by [`Waiting`]'s `Drop`, which looks only at the slots in use.
    inline: ManuallyDrop<[Option<State>; 4]>,
    /// Dropped by [`Waiting`]'s `Drop`, only if it has memory.
    more: ManuallyDrop<Vec<Option<State>>>,
    /// Slots in use: the last one is occupied; the others are empty.
    len: usize,
}

impl Drop for Waiting {
    /// Mostly no slot is in use (every label was reached) and none was
    /// ever beyond the inline ones: then there is nothing to drop, and
    /// the test that says so is all a check pays.
    #[inline]
    fn drop(&mut self) {
        if self.len > 0 || self.more.capacity() > 0 {
            self.free();
        }
    }
}

impl Waiting {
    /// Drops the states in the slots in use, and the slots beyond the
    /// inline ones.
    #[cold]
    fn free(&mut self) {
        for s in self.inline.iter_mut().take(self.len) {
            *s = None;
        }
        drop(std::mem::take(&mut *self.more));
    }

    fn get_mut(&mut self, slot: u32) -> Option<&mut State> {
        self.slot(slot as usize)?.as_mut()
    }

    fn slot(&mut self, slot: usize) -> Option<&mut Option<State>> {
        match slot.checked_sub(self.inline.len()) {
            None => self.inline.get_mut(slot),
            Some(k) => self.more.get_mut(k),
        }
    }

    // Inlined: the state is then built in its slot, not on the stack
    // and copied there.
    #[inline(always)]
    fn put(&mut self, st: State) -> u32 {
        let slot = self.len;
        if slot >= self.inline.len() {
            self.more.push(None);
        }
        if let Some(s) = self.slot(slot) {
            *s = Some(st);
        }
        self.len += 1;
        slot as u32
    }

    /// Moves the state waiting in `slot` into `st`, by a swap: the
    /// stale state `st` held is dropped with the slot (a state is some
    /// 48 bytes; moving one out and in again copies it more).
    fn take_into(&mut self, slot: u32, st: &mut State) -> Option<()> {
        std::mem::swap(st, self.get_mut(slot)?);
        self.discard(slot);
        Some(())
    }

    /// Empties a slot whose state was merged where it lies.
    #[inline]
    fn discard(&mut self, slot: u32) {
        // Mostly the one state waiting: labels ahead are mostly reached
        // one after another, not nested.
        if slot == 0 && self.len == 1 {
            self.inline[0] = None;
            self.len = 0;
        } else {
            self.discard_nested(slot);
        }
    }

    /// [`Waiting::discard`] of a slot other than the only one in use.
    #[cold]
    fn discard_nested(&mut self, slot: u32) {
        if let Some(s) = self.slot(slot as usize) {
            *s = None;
        }
        self.trim();
    }

    /// Frees the empty slots at the top.
    fn trim(&mut self) {
        while self.len > 0 && self.slot(self.len - 1).is_some_and(|s| s.is_none()) {
            self.len -= 1;
            if self.len >= self.inline.len() {
                self.more.pop();
            }
        }
    }
}

/// The dataflow over one stub: its states, what it found, and the
/// buffers it fills (taken from a [`Buffers`], given back by
/// [`Flow::give_back`] or handed over to a [`crate::CheckedStub`]).
pub(crate) struct Flow<'s> {
    pub(crate) stub: &'s Stub,
    params: Option<&'s [Type]>,
    ret_type: Option<Type>,
    pub(crate) errors: Vec<CheckError>,
    pub(crate) facts: Facts,
    /// Filled by the checking pass; `locals` holds only what the contexts
    /// show (the uses across calls come from liveness, after the check).
    pub(crate) summary: Summary,
    pub(crate) local_read: Bits,
    /// Locals written where they exist (warning W0202 for those never read).
    pub(crate) local_written: Bits,
    /// The arena slice of the last context recorded (start, length).
    last_locals: Option<(u32, u32)>,
    /// The locals may have changed since the arena's last context (a
    /// write, `locals`, a join): only then is its slice not shared.
    locals_dirty: bool,
    /// What the last write of the checking pass noted in the summary.
    noted: Noted,
    /// The first reachable `call` that returns at which some local may
    /// hold a value: no local is live across a call before it (a local
    /// live across a call holds a value there), and with none, no local
    /// is live across any call.
    pub(crate) first_call: Option<u32>,
    /// Every edge of the CFG goes forward (known once it is built; false
    /// until then, which only makes the liveness iterate).
    pub(crate) acyclic: bool,
    /// The types `r` has in some context or some signature returns, one
    /// bit per [`Ty`] value (a set, not a `match` per write; the summary
    /// is made from it at the end). Bits of other values (undefined, an
    /// error) mean nothing.
    pub(crate) ret_seen: u32,
    /// The instruction being checked.
    at: u32,
    /// The last instruction (in program order) that reads a local, 0 if
    /// none does. In an acyclic CFG no local is live across a call after
    /// it: the liveness can be skipped.
    pub(crate) last_local_read: u32,
    /// How many signatures this check interned: the first ones of
    /// `summary.call_signatures`; those beyond are an earlier check's,
    /// overwritten by the next ones interned.
    interned: usize,
    /// Where the facts and the summary's vectors came from; the working
    /// memory. `None` for a one-off check (`check_owned`): it starts from
    /// empty vectors and keeps nothing, so it makes no `Buffers` to drop.
    pub(crate) buffers: Option<&'s mut Buffers>,
}

fn is_terminal(kind: &InstKind) -> bool {
    matches!(
        kind,
        InstKind::Ret
            | InstKind::Jump(_)
            | InstKind::Call {
                kind: CallKind::Tail | CallKind::NoReturn,
                ..
            }
    )
}

fn ends_block(kind: &InstKind) -> bool {
    is_terminal(kind) || matches!(kind, InstKind::JumpIf { .. } | InstKind::Cas { .. })
}

/// The label an instruction that ends a block jumps to.
fn jump_target(kind: &InstKind) -> Option<LabelRef> {
    match kind {
        InstKind::Jump(l)
        | InstKind::JumpIf { target: l, .. }
        | InstKind::Cas { on_fail: l, .. } => Some(*l),
        _ => None,
    }
}

/// The successors of a block that ends with `last`, given the block its
/// jump goes to and the next block in program order.
fn successors(last: &InstKind, target: Option<u32>, next: Option<u32>) -> [Option<u32>; 2] {
    match last {
        InstKind::Jump(_) => [target, None],
        InstKind::JumpIf { .. } | InstKind::Cas { .. } => [target, next],
        k if is_terminal(k) => [None, None],
        _ => [next, None],
    }
}

/// What the one-pass check does with an instruction besides running its
/// transfer function: the transfer function says, from the `match` on the
/// kind it makes anyway (each `match` on a kind decodes its tag anew).
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// Does not end a block.
    Straight,
    /// `jc`, `cas`: ends the block; the state goes both ways.
    Branch(LabelRef),
    /// `j`: ends the block and hands its state over.
    Jump(LabelRef),
    /// `ret`, `tailcall`, `call.noret`: ends the block, goes nowhere.
    Exit,
    /// A count or signature beyond [`MAX_INDEX`]: for the general path.
    TooLong,
}

/// The first count or variable index of an instruction beyond
/// [`MAX_INDEX`], as an error. Such a stub can only come from an AST built
/// in code; checking it further would size per-instruction contexts by
/// the bad count.
fn beyond_limit(inst: &Instruction) -> Option<CheckError> {
    // Small values until an error is certain: this runs on every instruction.
    let var = |v: Var, span: Span| match v {
        Var::Input(k) | Var::Local(k) | Var::Output(k) | Var::StdPlace(k) if k > MAX_INDEX => {
            Some((k, span))
        }
        _ => None,
    };
    let place = |p: &Place| var(p.var, p.span);
    let operand = |o: &Operand| match o.kind {
        OperandKind::Var(v) => var(v, o.span),
        OperandKind::Imm(_) => None,
    };
    let address = |a: &Address| {
        a.base
            .as_ref()
            .and_then(place)
            .or_else(|| a.index.as_ref().and_then(|(p, _)| place(p)))
    };
    let (value, span) = match &inst.kind {
        InstKind::Locals(n) => return count_beyond_limit("the local count", *n, inst.span),
        InstKind::StdPlaces(n) => {
            return count_beyond_limit("the standard-place count", *n, inst.span);
        }
        InstKind::Alloc { dst, .. } | InstKind::Ts { dst } => place(dst),
        InstKind::Move { dst, src } | InstKind::Unary { dst, src, .. } => {
            place(dst).or_else(|| operand(src))
        }
        InstKind::Binary { dst, lhs, rhs, .. } => {
            place(dst).or_else(|| operand(lhs)).or_else(|| operand(rhs))
        }
        InstKind::Handles(o) => operand(o),
        InstKind::Ld { dst, addr, .. } => place(dst).or_else(|| address(addr)),
        InstKind::St { addr, src } => address(addr).or_else(|| operand(src)),
        InstKind::Inc { addr } => address(addr),
        InstKind::Cas {
            addr,
            compare,
            source,
            ..
        } => address(addr)
            .or_else(|| operand(compare))
            .or_else(|| operand(source)),
        InstKind::JumpIf { cond, .. } => operand(&cond.lhs).or_else(|| operand(&cond.rhs)),
        InstKind::Call { target, .. } => operand(target),
        InstKind::PushM2n {
            method, frame_type, ..
        } => method
            .as_ref()
            .and_then(operand)
            .or_else(|| frame_type.as_ref().and_then(operand)),
        InstKind::Print { operand: o, .. } => o.as_ref().and_then(operand),
        _ => None,
    }?;
    Some(CheckError::BeyondLimit {
        what: "a variable index",
        value,
        max: MAX_INDEX,
        span,
    })
}

fn count_beyond_limit(what: &'static str, n: u32, span: Span) -> Option<CheckError> {
    (n > MAX_INDEX).then_some(CheckError::BeyondLimit {
        what,
        value: n,
        max: MAX_INDEX,
        span,
    })
}

/// Whether an immediate fits a general-purpose type of the given width.
/// Inlined: most immediates are small, and one that fits `g1` fits every
/// type, with no 128-bit shifts.
#[inline]
pub(crate) fn fits(value: i128, ty: Type) -> bool {
    (-128..=255).contains(&value) || fits_wide(value, ty)
}

fn fits_wide(value: i128, ty: Type) -> bool {
    let bits = ty.bits();
    let min = -(1i128 << (bits - 1));
    let max = (1i128 << bits) - 1;
    (min..=max).contains(&value)
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Makes room for `n` locals' uses. The first time in a new buffer
/// allocates the exact size directly rather than through the generic
/// growth path; a reused buffer gets its few new entries four at a time,
/// one 16-byte copy each, and is cut back to `n` (a `resize` would call
/// `memset` for a few bytes, a `push` per entry test the capacity each).
#[inline(never)]
fn grow_uses(uses: &mut Vec<LocalUse>, n: usize) {
    if uses.capacity() == 0 {
        *uses = vec![LocalUse::default(); n];
    } else {
        while uses.len() < n {
            uses.extend_from_slice(&[LocalUse::default(); 4]);
        }
        uses.truncate(n);
    }
}

/// Notes the type a context shows for a local.
fn note_use(u: &mut LocalUse, t: Ty) {
    match t.get() {
        Some(t) if t.is_float() => u.float = true,
        Some(_) => u.general = true,
        None => {}
    }
}

fn cast_ok(from: Type, to: Type) -> bool {
    from == to || (from.is_pointer_sized_integer() && to.is_pointer_sized_integer())
}

impl<'s> Flow<'s> {
    // Inlined: the checker is then built where it lives, not copied there.
    #[inline(always)]
    pub(crate) fn new(stub: &'s Stub, mut buffers: Option<&'s mut Buffers>) -> Flow<'s> {
        let (params, ret_type) = match &stub.entry.signature {
            EntrySignature::Typed(sig) => (Some(sig.params.as_slice()), sig.ret),
            EntrySignature::Arbitrary { .. } => (None, None),
        };
        // Rarely more than one block per three instructions.
        let (blocks, insts) = (stub.body.len() / 3 + 2, stub.body.len());
        // The buffers are cleared where they lie, before they are moved
        // (clearing them after would copy them once more).
        let (facts, locals, signatures) = match buffers.as_deref_mut() {
            Some(b) => {
                clear_for(&mut b.facts.blocks, blocks);
                clear_for(&mut b.facts.insts, insts);
                // Only frames of more than `PACKED_LOCALS` locals use it.
                b.facts.arena.clear();
                b.locals.clear();
                (
                    std::mem::take(&mut b.facts),
                    std::mem::take(&mut b.locals),
                    std::mem::take(&mut b.signatures),
                )
            }
            None => {
                let facts = Facts {
                    blocks: Vec::with_capacity(blocks),
                    insts: Vec::with_capacity(insts),
                    arena: Vec::new(),
                };
                (facts, Vec::new(), Vec::new())
            }
        };
        Flow {
            stub,
            params,
            ret_type,
            errors: Vec::new(),
            facts,
            summary: Summary {
                max_locals: 0,
                locals,
                entry_std_places: stub.entry.std_places,
                max_std_places: stub.entry.std_places,
                std_places_written: 0,
                alloc_bytes: 0,
                calls: false,
                returning_calls: false,
                tail_calls: false,
                returns: false,
                pushes_m2n: false,
                m2n_handles: false,
                uses_ts: false,
                prints: false,
                reads_inputs: false,
                input_reads_after: Clobbers::empty(),
                writes_inputs: false,
                ret_general: false,
                ret_float: false,
                call_signatures: signatures,
            },
            local_read: Bits::default(),
            local_written: Bits::default(),
            last_locals: None,
            locals_dirty: true,
            noted: Noted::Nothing,
            first_call: None,
            acyclic: false,
            ret_seen: 0,
            at: 0,
            last_local_read: 0,
            interned: 0,
            buffers,
        }
    }

    /// Gives the buffers back, with what this check filled, for another
    /// check; the check is over.
    #[cold]
    pub(crate) fn give_back(&mut self) -> Option<&'s mut Buffers> {
        let buffers = self.buffers.take()?;
        buffers.facts = std::mem::take(&mut self.facts);
        buffers.locals = std::mem::take(&mut self.summary.locals);
        buffers.signatures = std::mem::take(&mut self.summary.call_signatures);
        Some(buffers)
    }

    /// Starts the check over (for the general path), in the same buffers.
    #[cold]
    #[inline(never)]
    pub(crate) fn restart(&mut self) {
        let buffers = self.give_back();
        *self = Flow::new(self.stub, buffers);
    }

    /// A working vector from the spare buffers (empty for a one-off check).
    fn take_spare<T>(&mut self, which: fn(&mut Spare) -> &mut Vec<T>) -> Vec<T> {
        match self.buffers.as_deref_mut() {
            Some(b) => std::mem::take(which(&mut b.spare)),
            None => Vec::new(),
        }
    }

    /// Puts a working vector back for the next check (drops it for a
    /// one-off check).
    fn put_spare<T>(&mut self, which: fn(&mut Spare) -> &mut Vec<T>, v: Vec<T>) {
        if let Some(b) = self.buffers.as_deref_mut() {
            *which(&mut b.spare) = v;
        }
    }

    /// Reports the error `make` builds, if this pass reports. The error
    /// is built only then, in a cold function of its own: the code that
    /// formats messages stays out of the transfer function, whose hot
    /// paths are then short and contiguous.
    #[inline(always)]
    fn err(&mut self, report: bool, make: impl FnOnce() -> CheckError) {
        if report {
            self.push_err(make);
        }
    }

    /// One copy per call site of [`Flow::err`], placed with the cold code.
    #[cold]
    #[inline(never)]
    fn push_err(&mut self, make: impl FnOnce() -> CheckError) {
        self.errors.push(make());
    }

    fn label_name(&self, l: LabelRef) -> String {
        self.stub.label_name(l.id).to_owned()
    }

    // ------------------------------------------------------------------ CFG

    /// The basic blocks and their successors, label declarations, and the
    /// counts and indices the checker can handle, in one pass over the body.
    /// A count or index beyond [`MAX_INDEX`] is the only error reported
    /// then (the first one, in body order).
    pub(crate) fn build_cfg(&mut self) -> Result<(), CheckError> {
        let stub = self.stub;
        let body = &stub.body;
        if let Some(e) = count_beyond_limit(
            "the standard-place count",
            stub.entry.std_places,
            stub.entry.span,
        ) {
            return Err(e);
        }
        let mut label_pos = self.take_spare(|s| &mut s.label_pos);
        label_pos.clear();
        label_pos.resize(stub.labels.len(), None);
        let mut blocks = std::mem::take(&mut self.facts.blocks);
        let mut start = 0;
        for (i, inst) in body.iter().enumerate() {
            let i = i as u32;
            if let Some(e) = beyond_limit(inst) {
                self.facts.blocks = blocks;
                self.put_spare(|s| &mut s.label_pos, label_pos);
                return Err(e);
            }
            if let InstKind::Label(l) = inst.kind {
                match label_pos.get(l.id.index()).copied().flatten() {
                    Some(first) => {
                        let first_span = body[first as usize].span;
                        let name = self.label_name(l);
                        self.errors.push(CheckError::DuplicateLabel {
                            name,
                            span: inst.span,
                            first: first_span,
                        });
                    }
                    None => {
                        if let Some(slot) = label_pos.get_mut(l.id.index()) {
                            *slot = Some(i);
                        }
                    }
                }
                if i > start {
                    blocks.push(Block {
                        start,
                        end: i,
                        succs: [None, None],
                    });
                    start = i;
                }
            }
            self.facts
                .insts
                .push(InstFacts::unreached(blocks.len() as u32));
            if ends_block(&inst.kind) {
                blocks.push(Block {
                    start,
                    end: i + 1,
                    succs: [None, None],
                });
                start = i + 1;
            }
        }
        let n = body.len() as u32;
        if start < n {
            blocks.push(Block {
                start,
                end: n,
                succs: [None, None],
            });
        }
        // Successors, and jumps to undeclared labels (only the last
        // instruction of a block can jump).
        let nblocks = blocks.len() as u32;
        for (b, block) in blocks.iter_mut().enumerate() {
            let last = &body[(block.end - 1) as usize];
            let next = Some(b as u32 + 1).filter(|&next| next < nblocks);
            let target = jump_target(&last.kind).and_then(|l| {
                let at = label_pos.get(l.id.index()).copied().flatten();
                if at.is_none() {
                    let name = stub.label_name(l.id).to_owned();
                    self.errors
                        .push(CheckError::UndeclaredLabel { name, span: l.span });
                }
                at.map(|i| self.facts.insts[i as usize].block)
            });
            block.succs = successors(&last.kind, target, next);
        }
        match body.last() {
            Some(last) if is_terminal(&last.kind) => {}
            Some(last) => self
                .errors
                .push(CheckError::FallsOffEnd { span: last.span }),
            None => self.errors.push(CheckError::FallsOffEnd {
                span: stub.entry.span,
            }),
        }
        self.facts.blocks = blocks;
        self.put_spare(|s| &mut s.label_pos, label_pos);
        Ok(())
    }

    // -------------------------------------------------------------- one pass

    /// Check a stub in one pass over its body, building the CFG on the way:
    /// the common case, a valid stub whose jumps all go forward. Program
    /// order then visits every predecessor of a block before the block, so
    /// each block-entry state is final when the pass reaches it, and only
    /// the states waiting at labels ahead are kept.
    ///
    /// Gives up, leaving the checker to be discarded, on anything else:
    /// any error (the general path reports it in its place, with every
    /// other), unreachable code, a backward jump. So the facts and summary
    /// it leaves are the ones the general path computes.
    pub(crate) fn check_forward(&mut self) -> Result<(), GiveUp> {
        // Where each label is: a small stub's fit on the stack.
        let mut inline = [LabelAt::Unseen; 8];
        match inline.get_mut(..self.stub.labels.len()) {
            Some(labels) => self.check_forward_with(labels),
            None => self.check_forward_many_labels(),
        }
    }

    /// [`Flow::check_forward`] of a stub with more labels than fit on the
    /// stack: they are in a spare buffer.
    #[cold]
    #[inline(never)]
    fn check_forward_many_labels(&mut self) -> Result<(), GiveUp> {
        // Taken out: the pass borrows `self` throughout.
        let mut labels = self.take_spare(|s| &mut s.labels);
        labels.clear();
        labels.resize(self.stub.labels.len(), LabelAt::Unseen);
        let result = self.check_forward_with(&mut labels);
        self.put_spare(|s| &mut s.labels, labels);
        result
    }

    /// [`Flow::check_forward`], with `labels` (all [`LabelAt::Unseen`])
    /// for where the stub's labels are.
    #[inline(never)]
    fn check_forward_with(&mut self, labels: &mut [LabelAt]) -> Result<(), GiveUp> {
        let stub = self.stub;
        let body = &stub.body;
        // Counts and indices beyond `MAX_INDEX`: the entry's place count
        // here, `locals N` and `std_places N` below; an index beyond it
        // names a variable that cannot exist (a stub with so many locals or
        // standard places was refused; signatures that long are refused
        // here), and reading or writing it is an error.
        let too_long = |params: &[Type]| params.len() > MAX_INDEX as usize;
        if stub.entry.std_places > MAX_STD_PLACES || self.params.is_some_and(too_long) {
            return Err(GiveUp);
        }
        self.check_entry();
        let mut waiting = Waiting::default();
        let mut conflicts = Vec::new();
        // The state before the current instruction, while `reached`;
        // stale after a terminal or a jump (`reached` false) until a label
        // that a jump reaches. Only a label can follow those: anything
        // else is unreachable code, on which the pass gives up at once,
        // so no other instruction tests whether it is reached.
        let mut st = State::entry(stub.entry.std_places);
        let mut reached = true;
        let mut block_start = 0;
        debug_assert!(self.facts.insts.is_empty());
        for inst in body {
            // Its index is the count of records, one per instruction
            // before it: no counter of its own to keep across the transfer.
            let i = self.facts.insts.len();
            let at = i as u32;
            if let InstKind::Label(l) = inst.kind {
                if at > block_start {
                    // Falls through into the label's block.
                    let next = self.facts.blocks.len() as u32 + 1;
                    self.facts.blocks.push(Block {
                        start: block_start,
                        end: at,
                        succs: [Some(next), None],
                    });
                    block_start = at;
                }
                let label = labels.get_mut(l.id.index()).ok_or(GiveUp)?;
                match std::mem::replace(label, LabelAt::Declared) {
                    LabelAt::Declared => return Err(GiveUp),
                    LabelAt::Unseen if !reached => return Err(GiveUp),
                    LabelAt::Unseen => {}
                    // The general path merges the fall-through into
                    // what the jumps brought; this merges the other
                    // way, in place. The same: without conflicts
                    // (which give up) a merge is symmetric.
                    LabelAt::Waiting { slot, jumps } => {
                        self.patch_jumps(jumps, self.facts.blocks.len() as u32)?;
                        // The state no longer follows the last context:
                        // a large frame's locals are not that context's.
                        // A merge only keeps a type or forgets it: the
                        // summary has what the label's context shows,
                        // unless the merge forgot what the fall-through
                        // wrote last (see `Noted`).
                        self.last_locals = None;
                        // The states arriving are merged where they wait,
                        // or moved once: a state is some 48 bytes.
                        if reached {
                            let arriving = waiting.get_mut(slot).ok_or(GiveUp)?;
                            st.merge(arriving, &mut conflicts);
                            if !conflicts.is_empty() {
                                return Err(GiveUp);
                            }
                            waiting.discard(slot);
                            self.join_after(&st, at);
                        } else {
                            waiting.take_into(slot, &mut st).ok_or(GiveUp)?;
                            reached = true;
                        }
                    }
                }
            }
            // The block is the one the transfer leaves (it adds none):
            // known there, it is not kept across the transfer.
            let mut facts = self.context_facts(&st, 0);
            let (op_type, shape) = self.transfer(&mut st, i, inst, true);
            facts.block = self.facts.blocks.len() as u32;
            facts.op_type = op_type;
            self.facts.insts.push(facts);
            // The index of the next instruction (likewise).
            let next = self.facts.insts.len();
            // An unconditional jump hands its state over; the others
            // keep theirs for the fall-through.
            let (l, hands_over) = match shape {
                Shape::Straight => continue,
                Shape::TooLong => return Err(GiveUp),
                Shape::Exit => (None, true),
                Shape::Jump(l) => (Some(l), true),
                Shape::Branch(l) => (Some(l), false),
            };
            if hands_over {
                reached = false;
                if body
                    .get(next)
                    .is_some_and(|next| !matches!(next.kind, InstKind::Label(_)))
                {
                    return Err(GiveUp);
                }
            }
            // The block's successors: the jump's target (a block ahead, not
            // known yet: the block joins the label's fixup chain), then the
            // fall-through (a block follows: the pass gives up on a body
            // that falls off its end).
            let this = self.facts.blocks.len() as u32;
            let mut succs = [None, None];
            if let Some(l) = l {
                let label = labels.get_mut(l.id.index()).ok_or(GiveUp)?;
                match *label {
                    LabelAt::Declared => return Err(GiveUp),
                    LabelAt::Unseen => {
                        // A jump leaves `st` stale: a placeholder is left.
                        let slot = if hands_over {
                            waiting.put(std::mem::replace(&mut st, State::entry(0)))
                        } else {
                            waiting.put(st.clone())
                        };
                        *label = LabelAt::Waiting { slot, jumps: this };
                    }
                    // A merge reads the state: no copy.
                    LabelAt::Waiting { slot, jumps } => {
                        let joined = waiting.get_mut(slot).ok_or(GiveUp)?;
                        joined.merge(&st, &mut conflicts);
                        if !conflicts.is_empty() {
                            return Err(GiveUp);
                        }
                        succs[0] = Some(jumps);
                        *label = LabelAt::Waiting { slot, jumps: this };
                    }
                }
                if !hands_over {
                    succs[1] = Some(this + 1);
                }
            }
            self.facts.blocks.push(Block {
                start: block_start,
                end: next as u32,
                succs,
            });
            block_start = next as u32;
        }
        // Falls off the end (or the body is empty); a label still waiting
        // was never declared.
        if reached
            || !self.errors.is_empty()
            || labels.iter().any(|l| matches!(l, LabelAt::Waiting { .. }))
        {
            return Err(GiveUp);
        }
        self.acyclic = true;
        Ok(())
    }

    /// Points the blocks of a label's fixup chain, from `head` on, at the
    /// label's block `target`.
    fn patch_jumps(&mut self, head: u32, target: u32) -> Result<(), GiveUp> {
        let mut next = Some(head);
        while let Some(b) = next {
            let block = self.facts.blocks.get_mut(b as usize).ok_or(GiveUp)?;
            next = block.succs[0];
            block.succs[0] = Some(target);
        }
        Ok(())
    }

    // ------------------------------------------------------------- dataflow

    /// Compute block-entry states to a fixpoint, then run the checking pass.
    pub(crate) fn run(&mut self) {
        if self.stub.entry.std_places > MAX_STD_PLACES {
            self.errors.push(CheckError::TooManyStdPlaces {
                count: self.stub.entry.std_places,
                max: MAX_STD_PLACES,
                span: self.stub.entry.span,
            });
        }
        self.check_entry();
        let nblocks = self.facts.blocks.len();
        if nblocks == 0 {
            return;
        }
        let mut flow = Joins {
            joins: (0..nblocks)
                .map(|_| Join {
                    state: None,
                    origin: u32::MAX,
                })
                .collect(),
            conflicts: Vec::new(),
            scratch: Vec::new(),
        };
        flow.joins[0].state = Some(State::entry(self.stub.entry.std_places.min(MAX_STD_PLACES)));
        // With only forward edges, program order visits every predecessor
        // of a block before the block: one pass both computes the states
        // and checks. Otherwise iterate to a fixpoint first.
        let acyclic = self
            .facts
            .blocks
            .iter()
            .enumerate()
            .all(|(b, blk)| blk.succs.iter().flatten().all(|&s| s as usize > b));
        self.acyclic = acyclic;
        if !acyclic {
            self.fixpoint(&mut flow);
        }
        let mut unreachable_run = false;
        for b in 0..nblocks {
            let block = self.facts.blocks[b];
            match flow.joins[b].state.clone() {
                Some(mut st) => {
                    unreachable_run = false;
                    self.general_block_start(&st, block.start);
                    for i in block.start as usize..block.end as usize {
                        let mut facts = self.context_facts(&st, b as u32);
                        facts.op_type = self.step(&mut st, i, true);
                        self.facts.insts[i] = facts;
                    }
                    if acyclic {
                        let _successors_changed = flow.propagate(&block, &st);
                    }
                }
                None => {
                    let unreached = &self.stub.body[block.start as usize..block.end as usize];
                    if !unreachable_run
                        && let Some(inst) = unreached
                            .iter()
                            .find(|inst| !matches!(inst.kind, InstKind::Label(_)))
                    {
                        unreachable_run = true;
                        self.errors
                            .push(CheckError::Unreachable { span: inst.span });
                    }
                }
            }
        }
        // Join conflicts, reported once each with both paths.
        for (b, c, first, second) in std::mem::take(&mut flow.conflicts) {
            self.report_conflict(&flow.joins, b, c, first, second);
        }
    }

    /// Block-entry states to a fixpoint (without reporting).
    fn fixpoint(&mut self, flow: &mut Joins) {
        let nblocks = self.facts.blocks.len();
        let mut worklist: Vec<u32> = vec![0];
        let mut queued = vec![false; nblocks];
        queued[0] = true;
        // Process in program order as far as possible: pop the smallest index.
        while let Some(pos) = worklist
            .iter()
            .enumerate()
            .min_by_key(|(_, b)| **b)
            .map(|(p, _)| p)
        {
            let b = worklist.swap_remove(pos);
            queued[b as usize] = false;
            let Some(mut st) = flow.joins[b as usize].state.clone() else {
                continue;
            };
            let block = self.facts.blocks[b as usize];
            for i in block.start..block.end {
                self.step(&mut st, i as usize, false);
            }
            for succ in flow.propagate(&block, &st) {
                if !queued[succ as usize] {
                    queued[succ as usize] = true;
                    worklist.push(succ);
                }
            }
        }
    }

    fn report_conflict(&mut self, joins: &[Join], b: u32, c: Conflict, first: u32, second: u32) {
        let block = &self.facts.blocks[b as usize];
        let join_span = self.stub.body[block.start as usize].span;
        let path = |i: u32| -> (Span, &'static str) {
            // The entry edge has no instruction (its origin is `u32::MAX`).
            let Some(inst) = self.stub.body.get(i as usize) else {
                return (self.stub.entry.span, "on entry to the stub");
            };
            let how = match inst.kind {
                InstKind::Jump(_) => "on the path from this `j`",
                InstKind::JumpIf { .. } => "on the path from this `jc`",
                InstKind::Cas { .. } => "on the path from this `cas`",
                _ => "on the fall-through from here",
            };
            (inst.span, how)
        };
        // Recompute the state each path brings, to describe it.
        let state_after = |this: &mut Self, i: u32| -> Option<State> {
            let Some(blk) = this.facts.insts.get(i as usize).map(|f| f.block) else {
                // The entry edge brings the entry state.
                return Some(State::entry(this.stub.entry.std_places.min(MAX_STD_PLACES)));
            };
            let blk = blk as usize;
            let mut st = joins.get(blk)?.state.clone()?;
            let start = this.facts.blocks[blk].start;
            for k in start..=i {
                this.step(&mut st, k as usize, false);
            }
            Some(st)
        };
        let (Some(a), Some(bst)) = (state_after(self, first), state_after(self, second)) else {
            return;
        };
        let (what, da, db): (&'static str, String, String) = match c {
            Conflict::M2n => (
                "the M2N frame",
                a.frame.m2n.describe().into(),
                bst.frame.m2n.describe().into(),
            ),
            Conflict::LocalCount => (
                "the number of locals",
                plural(a.locals_len(), "local"),
                plural(bst.locals_len(), "local"),
            ),
            Conflict::LocalType(k) => (
                "the type of a local",
                format!("l{k} is {}", ty_name(a.local(k).and_then(Ty::get))),
                format!("l{k} is {}", ty_name(bst.local(k).and_then(Ty::get))),
            ),
            Conflict::Out => (
                "the output area",
                self.describe_out(a.frame.out()),
                self.describe_out(bst.frame.out()),
            ),
            Conflict::Alloc => (
                "the bytes allocated",
                format!("{} bytes allocated", a.frame.alloc),
                format!("{} bytes allocated", bst.frame.alloc),
            ),
        };
        let (sa, ha) = path(first);
        let (sb, hb) = path(second);
        self.errors.push(CheckError::JoinMismatch {
            what,
            span: join_span,
            first: (sa, format!("{da} {ha}")),
            second: (sb, format!("{db} {hb}")),
        });
    }

    fn describe_out(&self, out: Option<u32>) -> String {
        match out.and_then(|o| self.summary.call_signatures.get(o as usize)) {
            Some(sig) => format!("output area `{sig}`"),
            None => "no output area".to_owned(),
        }
    }

    /// The context before a reachable instruction of block `block`, in
    /// state `st`. What it shows is in the summary already (see
    /// [`Noted`]).
    // Once per instruction, from two call sites: inlined, it costs no call.
    #[inline(always)]
    fn context_facts(&mut self, st: &State, block: u32) -> InstFacts {
        let locals_start = if st.locals_len() <= PACKED_LOCALS {
            0
        } else {
            self.arena_locals(st)
        };
        InstFacts {
            block,
            locals_start,
            frame: st.frame,
            op_type: Ty::UNDEF,
            reachable: true,
        }
    }

    /// Where the types of a large frame's locals start in the arena.
    #[cold]
    fn arena_locals(&mut self, st: &State) -> u32 {
        let len = st.locals_len() as u32;
        let dirty = std::mem::take(&mut self.locals_dirty);
        // Consecutive contexts mostly have the same locals: share their types.
        match self.last_locals {
            Some((start, _)) if !dirty => start,
            Some((start, last_len))
                if last_len == len
                    && self
                        .facts
                        .arena
                        .get(start as usize..(start + len) as usize)
                        .is_some_and(|last| last.iter().eq(st.locals_iter())) =>
            {
                start
            }
            _ => {
                let start = self.facts.arena.len() as u32;
                self.facts.arena.extend(st.locals_iter());
                self.last_locals = Some((start, len));
                start
            }
        }
    }

    /// Notes that the checking pass wrote `t` to `lK` (which exists).
    #[inline(always)]
    fn note_local(&mut self, k: u32, t: Ty) {
        if let Some(u) = self.summary.locals.get_mut(k as usize) {
            self.noted = Noted::Local {
                at: self.at,
                k,
                ty: t,
                before: *u,
            };
            note_use(u, t);
        }
    }

    /// Notes that the checking pass wrote `t` to `r`.
    #[inline(always)]
    fn note_ret(&mut self, t: Ty) {
        self.noted = Noted::Ret {
            at: self.at,
            ty: t,
            before: self.ret_seen,
        };
        self.see_ret(t);
    }

    /// Adds `t` to the types `r` is seen with.
    #[inline(always)]
    fn see_ret(&mut self, t: Ty) {
        // Shifts wrap: `Ty::ERROR` (255) lands on bit 31, like any value
        // beyond the types.
        self.ret_seen |= 1u32.wrapping_shl(u32::from(t.0));
    }

    /// At a join right after a write of the checking pass (`at` is the
    /// join's first instruction, `st` its state): if the join forgot the
    /// value written, takes back what the write noted, and notes what
    /// the join's context shows instead (see [`Noted`]).
    #[cold]
    #[inline(never)]
    fn join_after(&mut self, st: &State, at: u32) {
        match std::mem::replace(&mut self.noted, Noted::Nothing) {
            Noted::Local {
                at: w,
                k,
                ty,
                before,
            } if w + 1 == at => {
                if let (Some(u), Some(t)) = (self.summary.locals.get_mut(k as usize), st.local(k))
                    && t != ty
                {
                    *u = before;
                    note_use(u, t);
                }
            }
            Noted::Ret { at: w, ty, before } if w + 1 == at && st.frame.ret != ty => {
                self.ret_seen = before;
                self.see_ret(st.frame.ret);
            }
            Noted::StdPlaces { at: w, n, before } if w + 1 == at => {
                let shown = st.frame.std.len() as u32;
                if shown != n {
                    self.summary.max_std_places = before.max(shown);
                }
            }
            _ => {}
        }
    }

    /// At the start of a block of the general path: [`Flow::join_after`],
    /// then what its context shows (its locals may have been set by a
    /// `locals` later in program order, in a loop).
    fn general_block_start(&mut self, st: &State, at: u32) {
        self.join_after(st, at);
        let uses = &mut self.summary.locals;
        let locals_len = st.locals_len();
        if uses.len() < locals_len {
            grow_uses(uses, locals_len);
        }
        for (u, t) in uses.iter_mut().zip(st.locals_iter()) {
            note_use(u, *t);
        }
        let s = &mut self.summary;
        s.max_locals = s.max_locals.max(locals_len as u32);
        s.max_std_places = s.max_std_places.max(st.frame.std.len() as u32);
        s.alloc_bytes = s.alloc_bytes.max(st.frame.alloc);
        self.see_ret(st.frame.ret);
        self.locals_dirty = true;
    }

    fn check_entry(&mut self) {
        let entry = &self.stub.entry;
        if entry.signature.cc() == CallConv::Handler {
            let ok = matches!(&entry.signature, EntrySignature::Typed(sig) if sig.params.is_empty() && sig.ret.is_none());
            if !ok {
                self.errors.push(CheckError::BadHandlerSignature {
                    what: "a `handler` stub takes no parameters and returns nothing: write `entry N:handler::void;`",
                    span: entry.span,
                });
            }
        }
    }

    /// The index of a signature in the table, added if new (copying the
    /// parameters only then: the fixpoint steps an instruction many times).
    fn intern_sig(&mut self, cc: CallConv, params: &[Type], ret: Option<Type>) -> u32 {
        let n = self.interned;
        let sigs = &mut self.summary.call_signatures;
        if let Some(p) = sigs
            .iter()
            .take(n)
            .position(|s| s.cc == cc && s.ret == ret && s.params == params)
        {
            return p as u32;
        }
        self.interned = n + 1;
        // A call defines `r` with the signature's return type: noted
        // here, once per signature, for the summary.
        self.see_ret(Ty::from_opt(ret));
        // Mostly an earlier check's signature is there to overwrite.
        if let Some(sig) = self.summary.call_signatures.get_mut(n) {
            sig.cc = cc;
            sig.params.clear();
            sig.params.extend_from_slice(params);
            sig.ret = ret;
            sig.span = Span::DUMMY;
        } else {
            self.push_sig(cc, params, ret);
        }
        n as u32
    }

    /// Adds a signature beyond those an earlier check left: a spare one
    /// if there is one.
    #[cold]
    #[inline(never)]
    fn push_sig(&mut self, cc: CallConv, params: &[Type], ret: Option<Type>) {
        let spare = self
            .buffers
            .as_deref_mut()
            .and_then(|b| b.spare.signatures.pop());
        let sig = match spare {
            Some(mut sig) => {
                sig.cc = cc;
                sig.params.clear();
                sig.params.extend_from_slice(params);
                sig.ret = ret;
                sig.span = Span::DUMMY;
                sig
            }
            None => Signature {
                cc,
                params: params.to_vec(),
                ret,
                span: Span::DUMMY,
            },
        };
        let sigs = &mut self.summary.call_signatures;
        if sigs.capacity() == 0 {
            // Most stubs make one or two: allocate directly rather than
            // through the generic growth path of a first `push`.
            *sigs = Vec::with_capacity(2);
        }
        sigs.push(sig);
    }

    /// Leaves in the summary only this check's signatures: those an
    /// earlier check left beyond them go to the spare ones.
    #[inline]
    pub(crate) fn trim_signatures(&mut self) {
        if self.summary.call_signatures.len() > self.interned {
            self.spare_signatures();
        }
    }

    #[cold]
    #[inline(never)]
    fn spare_signatures(&mut self) {
        let stale = self.summary.call_signatures.drain(self.interned..);
        if let Some(b) = self.buffers.as_deref_mut() {
            b.spare.signatures.extend(stale);
        }
    }

    fn out_sig(&self, st: &State) -> Option<&Signature> {
        st.frame
            .out()
            .and_then(|o| self.summary.call_signatures.get(o as usize))
    }

    // -------------------------------------------------------- variables

    /// The type of a variable read. Reads of defined locals and of `r`,
    /// the most common, take the inlined first half.
    #[inline(always)]
    fn read_var(&mut self, st: &mut State, var: Var, span: Span, report: bool) -> Option<Type> {
        match var {
            Var::Local(k) => {
                if let Some(t) = st.local(k).and_then(Ty::get) {
                    if report {
                        self.local_read.insert(k);
                        self.last_local_read = self.at;
                    }
                    return Some(t);
                }
            }
            Var::Ret => {
                if let Some(t) = st.frame.ret.get() {
                    return Some(t);
                }
            }
            _ => {}
        }
        self.read_var_rest(st, var, span, report)
    }

    /// The valid reads of inputs return here, in a small function;
    /// everything else goes to the general code, which decides and
    /// reports every error.
    #[inline(never)]
    fn read_var_rest(
        &mut self,
        st: &mut State,
        var: Var,
        span: Span,
        report: bool,
    ) -> Option<Type> {
        if let Var::Input(k) = var
            && let Some(&t) = self.params.and_then(|p| p.get(k as usize))
        {
            self.note_input_read(st, report);
            return Some(t);
        }
        self.read_var_general(st, var, span, report)
    }

    /// An input is read (or all are, by `in2out` or `tailcall`) after what
    /// has clobbered the argument registers so far.
    #[inline(always)]
    fn note_input_read(&mut self, st: &State, report: bool) {
        if report {
            self.summary.input_reads_after |= st.clobbered;
            self.summary.reads_inputs = true;
        }
    }

    #[cold]
    #[inline(never)]
    fn read_var_general(
        &mut self,
        st: &mut State,
        var: Var,
        span: Span,
        report: bool,
    ) -> Option<Type> {
        match var {
            Var::Input(k) => {
                let Some(params) = self.params else {
                    self.err(report, move || CheckError::InputInArbitrary {
                        index: k,
                        span,
                    });
                    return None;
                };
                self.note_input_read(st, report);
                match params.get(k as usize) {
                    Some(t) => Some(*t),
                    None => {
                        let arity = params.len();
                        self.err(report, move || CheckError::NoSuchInput {
                            index: k,
                            arity,
                            span,
                        });
                        None
                    }
                }
            }
            Var::Output(k) => {
                let Some(sig) = self.out_sig(st) else {
                    self.err(report, move || CheckError::NoOutputArea { index: k, span });
                    return None;
                };
                let Some(t) = sig.params.get(k as usize).copied() else {
                    let arity = sig.params.len();
                    self.err(report, move || CheckError::NoSuchOutput {
                        index: k,
                        arity,
                        span,
                    });
                    return None;
                };
                if !st.output_set(k) {
                    self.err(report, move || CheckError::OutputReadBeforeSet {
                        index: k,
                        span,
                    });
                }
                Some(t)
            }
            Var::Local(k) => {
                if report {
                    self.local_read.insert(k);
                    self.last_local_read = self.at;
                }
                match st.local(k) {
                    None => {
                        let count = st.locals_len();
                        self.err(report, move || CheckError::LocalUnavailable {
                            index: k,
                            reason: format!("does not exist here: {count} local(s) are declared"),
                            span,
                        });
                        None
                    }
                    Some(t) if t.is_error() => None,
                    Some(t) => match t.get() {
                        Some(t) => Some(t),
                        None => {
                            self.err(report, move || CheckError::LocalUnavailable {
                                index: k,
                                reason: "holds no value here".to_owned(),
                                span,
                            });
                            None
                        }
                    },
                }
            }
            Var::StdPlace(k) => match st.frame.std.get(k as usize) {
                None => {
                    let count = st.frame.std.len();
                    self.err(report, move || CheckError::StdPlaceUnavailable {
                        index: k,
                        reason: format!("does not exist here: {count} standard place(s) live"),
                        span,
                    });
                    None
                }
                Some(t) if t.is_error() => None,
                Some(t) => match t.get() {
                    Some(t) => Some(t),
                    None => {
                        self.err(report, move || CheckError::StdPlaceUnavailable {
                            index: k,
                            reason: "holds no value here".to_owned(),
                            span,
                        });
                        None
                    }
                },
            },
            Var::Ret if st.frame.ret.is_error() => None,
            Var::Ret => match st.frame.ret.get() {
                Some(t) => Some(t),
                None => {
                    self.err(report, move || CheckError::RetUndefined { span });
                    None
                }
            },
        }
    }

    /// The type a write to `var` requires, if it is a typed destination.
    /// (For `r`, the stub's return type: what an untyped immediate moved
    /// into `r` most likely means.)
    fn declared_type(&self, st: &State, var: Var) -> Option<Type> {
        match var {
            Var::Input(k) => self.params.and_then(|p| p.get(k as usize).copied()),
            Var::Output(k) => self
                .out_sig(st)
                .and_then(|s| s.params.get(k as usize).copied()),
            Var::Ret => self.ret_type,
            _ => None,
        }
    }

    /// Writes `ty` to a variable; writes to existing locals and to `r`,
    /// the most common, take the inlined first half.
    #[inline(always)]
    fn write_var(&mut self, st: &mut State, place: &Place, ty: Option<Type>, report: bool) {
        match place.var {
            Var::Local(k) => {
                if let Some(slot) = st.local_mut(k) {
                    let t = Ty::checked(ty);
                    *slot = t;
                    self.locals_dirty = true;
                    if report {
                        self.local_written.insert(k);
                        self.note_local(k, t);
                    }
                    return;
                }
            }
            Var::Ret => {
                self.write_ret(st, ty, report);
                return;
            }
            _ => {}
        }
        self.write_var_rest(st, place, ty, report);
    }

    /// The valid writes to outputs (after `out`, the most common writes
    /// but to locals and `r`) return here, in a small function;
    /// everything else goes to the general code, which decides and
    /// reports every error.
    #[inline(never)]
    fn write_var_rest(&mut self, st: &mut State, place: &Place, ty: Option<Type>, report: bool) {
        if let Var::Output(k) = place.var
            && let Some(p) = self
                .out_sig(st)
                .and_then(|sig| sig.params.get(k as usize).copied())
            && ty.is_none_or(|t| t == p)
        {
            st.clobbered |= Clobbers::OUTPUT;
            st.set_output(k);
            return;
        }
        self.write_var_general(st, place, ty, report);
    }

    /// Every other write, valid or not: inputs, standard places, locals
    /// that do not exist, outputs without an area or of another type.
    #[inline(never)]
    fn write_var_general(&mut self, st: &mut State, place: &Place, ty: Option<Type>, report: bool) {
        match place.var {
            Var::Input(k) => {
                let Some(params) = self.params else {
                    self.err(report, move || CheckError::InputInArbitrary {
                        index: k,
                        span: place.span,
                    });
                    return;
                };
                if report {
                    self.summary.writes_inputs = true;
                }
                match params.get(k as usize) {
                    None => {
                        let arity = params.len();
                        self.err(report, move || CheckError::NoSuchInput {
                            index: k,
                            arity,
                            span: place.span,
                        });
                    }
                    Some(p) => {
                        if let Some(t) = ty
                            && t != *p
                        {
                            self.err(report, move || CheckError::TypeMismatch {
                                what: "an assignment to an input",
                                left: p.to_string(),
                                right: t.to_string(),
                                span: place.span,
                            });
                        }
                    }
                }
            }
            Var::Output(k) => {
                st.clobbered |= Clobbers::OUTPUT;
                let Some(sig) = self.out_sig(st) else {
                    self.err(report, move || CheckError::NoOutputArea {
                        index: k,
                        span: place.span,
                    });
                    return;
                };
                match sig.params.get(k as usize).copied() {
                    None => {
                        let arity = sig.params.len();
                        self.err(report, move || CheckError::NoSuchOutput {
                            index: k,
                            arity,
                            span: place.span,
                        });
                    }
                    Some(p) => {
                        if let Some(t) = ty
                            && t != p
                        {
                            self.err(report, move || CheckError::TypeMismatch {
                                what: "an assignment to an output",
                                left: p.to_string(),
                                right: t.to_string(),
                                span: place.span,
                            });
                        }
                        st.set_output(k);
                    }
                }
            }
            Var::Local(k) => {
                if report && (k as usize) < st.locals_len() {
                    self.local_written.insert(k);
                }
                match st.local_mut(k) {
                    Some(slot) => {
                        let t = Ty::checked(ty);
                        *slot = t;
                        self.locals_dirty = true;
                        if report {
                            self.note_local(k, t);
                        }
                    }
                    None => {
                        let count = st.locals_len();
                        self.err(report, move || CheckError::LocalUnavailable {
                            index: k,
                            reason: format!("does not exist here: {count} local(s) are declared"),
                            span: place.span,
                        });
                    }
                }
            }
            Var::StdPlace(k) => {
                if let Some(t) = ty
                    && t.is_float()
                {
                    self.err(report, move || CheckError::FloatNotAllowed {
                        what: "a standard place",
                        ty: t,
                        span: place.span,
                    });
                }
                if report && k < 32 {
                    self.summary.std_places_written |= 1 << k;
                }
                match st.frame.std.get_mut(k as usize) {
                    Some(slot) => *slot = Ty::checked(ty),
                    None => {
                        let count = st.frame.std.len();
                        self.err(report, move || CheckError::StdPlaceUnavailable {
                            index: k,
                            reason: format!("does not exist here: {count} standard place(s) live"),
                            span: place.span,
                        });
                    }
                }
            }
            Var::Ret => self.write_ret(st, ty, report),
        }
    }

    /// Writes `ty` to `r`.
    #[inline(always)]
    fn write_ret(&mut self, st: &mut State, ty: Option<Type>, report: bool) {
        let t = Ty::checked(ty);
        st.frame.ret = t;
        if report {
            self.note_ret(t);
        }
    }

    // --------------------------------------------------------- operands

    fn is_untyped_imm(o: &Operand) -> bool {
        matches!(o.kind, OperandKind::Imm(_)) && o.cast.is_none()
    }

    /// The type of an operand. An immediate without a cast takes `expected`
    /// (or `pint`). Reports invalid reads, bad casts and immediates that do
    /// not fit.
    #[inline(always)]
    fn operand(
        &mut self,
        st: &mut State,
        o: &Operand,
        expected: Option<Type>,
        report: bool,
    ) -> Option<Type> {
        // A variable without a cast, the most common, is just a read; an
        // immediate without a cast that fits needs no more checks.
        match (o.kind, o.cast) {
            (OperandKind::Var(v), None) => return self.read_var(st, v, o.span, report),
            (OperandKind::Imm(v), None) => {
                let t = expected.unwrap_or(Type::Pint);
                if !t.is_float() && fits(v, t) {
                    return Some(t);
                }
            }
            _ => {}
        }
        self.operand_rest(st, o, expected, report)
    }

    #[inline(never)]
    fn operand_rest(
        &mut self,
        st: &mut State,
        o: &Operand,
        expected: Option<Type>,
        report: bool,
    ) -> Option<Type> {
        match o.kind {
            OperandKind::Var(v) => {
                let t = self.read_var(st, v, o.span, report)?;
                match o.cast {
                    None => Some(t),
                    Some(c) if cast_ok(t, c) => Some(c),
                    Some(c) => {
                        self.err(report, move || CheckError::BadCast {
                            from: t,
                            to: c,
                            span: o.span,
                        });
                        None
                    }
                }
            }
            OperandKind::Imm(v) => {
                let t = o.cast.or(expected).unwrap_or(Type::Pint);
                if t.is_float() {
                    self.err(report, move || CheckError::FloatImmediate {
                        ty: t,
                        span: o.span,
                    });
                    return None;
                }
                if !fits(v, t) {
                    self.err(report, move || CheckError::ImmediateTooWide {
                        value: v,
                        ty: t,
                        span: o.span,
                    });
                }
                Some(t)
            }
        }
    }

    /// Types of two operands that must agree (an untyped immediate follows the other).
    #[inline(always)]
    fn operand_pair(
        &mut self,
        st: &mut State,
        a: &Operand,
        b: &Operand,
        what: &'static str,
        span: Span,
        report: bool,
    ) -> Option<Type> {
        let (ta, tb) = match (Self::is_untyped_imm(a), Self::is_untyped_imm(b)) {
            (true, false) => {
                let tb = self.operand(st, b, None, report);
                (self.operand(st, a, tb, report), tb)
            }
            _ => {
                let ta = self.operand(st, a, None, report);
                (ta, self.operand(st, b, ta, report))
            }
        };
        let (ta, tb) = (ta?, tb?);
        if ta != tb {
            self.err(report, move || CheckError::TypeMismatch {
                what,
                left: ta.to_string(),
                right: tb.to_string(),
                span,
            });
            return None;
        }
        Some(ta)
    }

    #[inline]
    fn general(
        &mut self,
        t: Option<Type>,
        what: &'static str,
        span: Span,
        report: bool,
    ) -> Option<Type> {
        match t {
            Some(t) if t.is_float() => {
                self.err(report, move || CheckError::FloatNotAllowed {
                    what,
                    ty: t,
                    span,
                });
                None
            }
            other => other,
        }
    }

    #[inline(always)]
    fn address(&mut self, st: &mut State, a: &Address, report: bool) {
        if let Some(p) = &a.base {
            self.address_part(st, "base", p, report);
        }
        if let Some((p, scale)) = &a.index {
            let scale = *scale;
            self.address_part(st, "index", p, report);
            if !matches!(scale, 1 | 2 | 4 | 8) {
                self.err(report, move || CheckError::BadScale {
                    scale,
                    span: a.span,
                });
            }
        }
        if !fits(a.offset, Type::G8) {
            self.err(report, move || CheckError::ImmediateTooWide {
                value: a.offset,
                ty: Type::G8,
                span: a.span,
            });
        }
    }

    #[inline(always)]
    fn address_part(&mut self, st: &mut State, part: &'static str, p: &Place, report: bool) {
        if let Some(t) = self.read_var(st, p.var, p.span, report)
            && !t.is_pointer_sized_integer()
        {
            self.err(report, move || CheckError::BadAddressPart {
                part,
                var: p.var.to_string(),
                ty: t.to_string(),
                span: p.span,
            });
        }
    }

    // Inlined: its one caller is the transfer function, and the call
    // and its prologue cost more than its body on the common path.
    #[inline(always)]
    fn call_target(&mut self, st: &mut State, o: &Operand, report: bool) {
        if let Some(t) = self.operand(st, o, Some(Type::Pint), report)
            && t != Type::Pint
        {
            self.err(report, move || CheckError::BadCallTarget {
                ty: t.to_string(),
                span: o.span,
            });
        }
    }

    // ------------------------------------------------------ instructions

    /// The transfer function, with the checks of each instruction. Returns
    /// the type the instruction operates at ([`crate::CheckedStub::op_type`]).
    #[inline(never)]
    pub(crate) fn step(&mut self, st: &mut State, i: usize, report: bool) -> Ty {
        let stub = self.stub;
        self.transfer(st, i, &stub.body[i], report).0
    }

    /// [`Flow::step`], inlined into the one-pass check's loop (which
    /// runs it once per instruction, so a call there is a cost per
    /// instruction); the other callers share one out-of-line copy.
    #[inline(always)]
    fn transfer(
        &mut self,
        st: &mut State,
        i: usize,
        inst: &Instruction,
        report: bool,
    ) -> (Ty, Shape) {
        self.at = i as u32;
        let mut op_type = Ty::UNDEF;
        let mut shape = Shape::Straight;
        match &inst.kind {
            InstKind::Label(_) => {}
            InstKind::Locals(n) => {
                if *n > MAX_INDEX {
                    shape = Shape::TooLong;
                }
                st.set_locals(*n);
                self.locals_dirty = true;
                if report {
                    let n = st.locals_len();
                    let uses = &mut self.summary.locals;
                    if uses.len() < n {
                        grow_uses(uses, n);
                    }
                    self.summary.max_locals = self.summary.max_locals.max(n as u32);
                }
            }
            InstKind::StdPlaces(n) => {
                if *n > MAX_INDEX {
                    shape = Shape::TooLong;
                }
                if *n > MAX_STD_PLACES {
                    self.err(report, move || CheckError::TooManyStdPlaces {
                        count: *n,
                        max: MAX_STD_PLACES,
                        span: inst.span,
                    });
                }
                let n = (*n).min(MAX_STD_PLACES);
                st.frame.std = StdTys::filled(Ty::UNDEF, n);
                if report {
                    let before = self.summary.max_std_places;
                    self.noted = Noted::StdPlaces {
                        at: self.at,
                        n,
                        before,
                    };
                    self.summary.max_std_places = before.max(n);
                }
            }
            InstKind::Alloc { dst, size } => {
                if st.frame.out().is_some() {
                    self.err(report, move || CheckError::AllocInOutArea {
                        span: inst.span,
                    });
                }
                let total = st.frame.alloc as u64 + (*size as u64).div_ceil(8) * 8;
                if total > MAX_ALLOC_BYTES as u64 {
                    self.err(report, move || CheckError::AllocTooLarge {
                        total,
                        max: MAX_ALLOC_BYTES as u64,
                        span: inst.span,
                    });
                }
                st.frame.alloc = total.min(MAX_ALLOC_BYTES as u64) as u32;
                if report {
                    // (A join that disagrees on it is an error: nothing
                    // to take back, unlike a write.)
                    self.summary.alloc_bytes = self.summary.alloc_bytes.max(st.frame.alloc);
                }
                self.write_var(st, dst, Some(Type::Pint), report);
                op_type = Ty::of(Type::Pint);
            }
            InstKind::Move { dst, src } => {
                let expected = self.declared_type(st, dst.var);
                let t = self.operand(st, src, expected, report);
                op_type = Ty::from_opt(t);
                self.write_var(st, dst, t, report);
            }
            InstKind::Unary { dst, op, src } => {
                let t = self.operand(st, src, None, report);
                let t = self.general(t, "a unary operation", src.span, report);
                let result = match (op.truncation(), t) {
                    (Some(narrow), Some(t)) if t.size() < narrow.size() => {
                        self.err(report, move || CheckError::BadExtension {
                            what: format!(
                                "`{}` keeps the low {} bytes, but {} is only {} byte(s)",
                                op.keyword(),
                                narrow.size(),
                                t,
                                t.size()
                            ),
                            span: src.span,
                        });
                        Some(narrow)
                    }
                    (Some(narrow), _) => Some(narrow),
                    (None, t) => t,
                };
                let result = match (op.extension(), result) {
                    (Some((n, _)), Some(t)) => {
                        if t.size() < n {
                            self.err(report, move || CheckError::BadExtension {
                                what: format!(
                                    "`{}` extends the low {n} bytes, but {} is only {} byte(s)",
                                    op.keyword(),
                                    t,
                                    t.size()
                                ),
                                span: src.span,
                            });
                        }
                        Some(Type::Pint)
                    }
                    (Some(_), None) => Some(Type::Pint),
                    (None, t) => t,
                };
                op_type = Ty::from_opt(result);
                self.write_var(st, dst, result, report);
            }
            InstKind::Binary { dst, op, lhs, rhs } => {
                let t = if op.is_shift() {
                    let t = self.operand(st, lhs, self.declared_type(st, dst.var), report);
                    let t = self.general(t, "a shift", lhs.span, report);
                    let c = self.operand(st, rhs, None, report);
                    self.general(c, "a shift count", rhs.span, report);
                    if let OperandKind::Imm(v) = rhs.kind
                        && !(0..=63).contains(&v)
                    {
                        self.err(report, move || CheckError::ShiftCount {
                            count: v,
                            span: rhs.span,
                        });
                    }
                    t
                } else {
                    let t = if Self::is_untyped_imm(lhs) && Self::is_untyped_imm(rhs) {
                        let d = self.declared_type(st, dst.var);
                        let a = self.operand(st, lhs, d, report);
                        self.operand(st, rhs, a, report);
                        a
                    } else {
                        self.operand_pair(st, lhs, rhs, "a binary operation", inst.span, report)
                    };
                    self.general(t, "arithmetic", inst.span, report)
                };
                op_type = Ty::from_opt(t);
                self.write_var(st, dst, t, report);
            }
            InstKind::Ts { dst } => {
                self.summary.uses_ts |= report;
                st.clobbered |= Clobbers::TS;
                op_type = Ty::of(Type::Pint);
                self.write_var(st, dst, Some(Type::Pint), report);
            }
            InstKind::Handles(o) => {
                if st.frame.m2n != M2nState::PushedWithHandles {
                    self.err(report, move || CheckError::HandlesWithoutHandlesFrame {
                        span: inst.span,
                    });
                }
                if let Some(t) = self.operand(st, o, Some(Type::Pint), report)
                    && t != Type::Pint
                {
                    self.err(report, move || CheckError::TypeMismatch {
                        what: "`handles =`",
                        left: "pint".into(),
                        right: t.to_string(),
                        span: o.span,
                    });
                }
            }
            InstKind::Ld { dst, addr, ext } => {
                self.address(st, addr, report);
                if addr.ordering == Ordering::Release {
                    self.err(report, move || CheckError::BadOrdering {
                        what: "`release` orders stores; a load can be `acquire`",
                        span: addr.span,
                    });
                }
                let t = match ext {
                    Some(_) => {
                        if !matches!(addr.ty, Type::G1 | Type::G2 | Type::G4) {
                            self.err(report, move || CheckError::BadExtension {
                                what: format!(
                                    "`sx`/`zx` extend g1, g2 or g4 loads; {} is not narrow",
                                    addr.ty
                                ),
                                span: addr.span,
                            });
                        }
                        Type::Pint
                    }
                    None => addr.ty,
                };
                op_type = Ty::of(addr.ty);
                if let Some(d) = self
                    .declared_type(st, dst.var)
                    .filter(|_| dst.var != Var::Ret)
                    && d != t
                {
                    self.err(report, move || CheckError::TypeMismatch {
                        what: "a load",
                        left: d.to_string(),
                        right: t.to_string(),
                        span: inst.span,
                    });
                }
                self.write_var(st, dst, Some(t), report);
            }
            InstKind::St { addr, src } => {
                self.address(st, addr, report);
                if addr.ordering == Ordering::Acquire {
                    self.err(report, move || CheckError::BadOrdering {
                        what: "`acquire` orders loads; a store can be `release`",
                        span: addr.span,
                    });
                }
                if let Some(t) = self.operand(st, src, Some(addr.ty), report)
                    && t != addr.ty
                {
                    self.err(report, move || CheckError::TypeMismatch {
                        what: "a store",
                        left: addr.ty.to_string(),
                        right: t.to_string(),
                        span: inst.span,
                    });
                }
                op_type = Ty::of(addr.ty);
            }
            InstKind::Inc { addr } => {
                self.address(st, addr, report);
                if addr.ordering != Ordering::Plain {
                    self.err(report, move || CheckError::BadOrdering {
                        what: "`inc` is a plain read-modify-write; it takes no ordering",
                        span: addr.span,
                    });
                }
                self.general(Some(addr.ty), "`inc`", addr.span, report);
                op_type = Ty::of(addr.ty);
            }
            InstKind::Cas {
                addr,
                compare,
                source,
                on_fail,
            } => {
                shape = Shape::Branch(*on_fail);
                self.address(st, addr, report);
                if addr.ordering != Ordering::Plain {
                    self.err(report, move || CheckError::BadOrdering {
                        what: "`cas` is always sequentially consistent; it takes no ordering",
                        span: addr.span,
                    });
                }
                self.general(Some(addr.ty), "`cas`", addr.span, report);
                for (o, what) in [
                    (compare, "the `cas` comparand"),
                    (source, "the `cas` source"),
                ] {
                    if let Some(t) = self.operand(st, o, Some(addr.ty), report)
                        && t != addr.ty
                    {
                        self.err(report, move || CheckError::TypeMismatch {
                            what,
                            left: addr.ty.to_string(),
                            right: t.to_string(),
                            span: o.span,
                        });
                    }
                }
                op_type = Ty::of(addr.ty);
            }
            InstKind::Jump(l) => shape = Shape::Jump(*l),
            InstKind::JumpIf { cond, target } => {
                shape = Shape::Branch(*target);
                let t =
                    self.operand_pair(st, &cond.lhs, &cond.rhs, "a comparison", cond.span, report);
                let t = self.general(t, "a comparison", cond.span, report);
                op_type = Ty::from_opt(t);
            }
            InstKind::Out(sig) => {
                if sig.params.len() > MAX_INDEX as usize {
                    shape = Shape::TooLong;
                }
                if sig.cc == CallConv::Handler {
                    self.err(report, move || CheckError::BadHandlerSignature {
                        what: "a handler is entered by `tailcall`, not called: `out handler` is not allowed",
                        span: sig.span,
                    });
                }
                st.frame.out = self.intern_sig(sig.cc, &sig.params, sig.ret);
                st.clear_outputs();
                // `out` writes no register; output writes and `in2out` do.
            }
            InstKind::In2Out { cc, ret, sig_span } => {
                if *cc == CallConv::Handler {
                    self.err(report, move || CheckError::BadHandlerSignature {
                        what: "a handler is entered by `tailcall`, not called: `in2out handler` is not allowed",
                        span: *sig_span,
                    });
                }
                match self.params {
                    None => {
                        self.err(report, move || CheckError::In2OutInArbitrary {
                            span: inst.span,
                        });
                        // An output area with no arguments, so the call that follows
                        // does not report a second error.
                        st.frame.out = self.intern_sig(*cc, &[], *ret);
                        st.clear_outputs();
                    }
                    Some(params) => {
                        self.note_input_read(st, report);
                        let n = params.len() as u32;
                        st.frame.out = self.intern_sig(*cc, params, *ret);
                        st.set_outputs(n);
                    }
                }
                st.clobbered |= Clobbers::OUTPUT;
            }
            InstKind::Call { kind, target } => {
                self.call_target(st, target, report);
                if report {
                    let s = &mut self.summary;
                    match kind {
                        CallKind::Call => {
                            s.calls = true;
                            s.returning_calls = true;
                            if self.first_call.is_none() && st.may_hold_locals() {
                                self.first_call = Some(i as u32);
                            }
                        }
                        CallKind::NoReturn => s.calls = true,
                        CallKind::Tail => s.tail_calls = true,
                    }
                }
                match kind {
                    CallKind::Call | CallKind::NoReturn => {
                        match self
                            .out_sig(st)
                            .map(|sig| (sig.params.len() as u32, sig.ret))
                        {
                            None => self.err(report, move || CheckError::CallWithoutOut {
                                kind: kind.keyword(),
                                span: inst.span,
                            }),
                            Some((arity, ret)) => {
                                // Mostly every output is set: one test, not one per output.
                                if !st.outputs_set_below(arity) {
                                    for k in 0..arity {
                                        if !st.output_set(k) {
                                            self.err(report, move || CheckError::OutputNotSet {
                                                index: k,
                                                span: inst.span,
                                            });
                                        }
                                    }
                                }
                                st.frame.ret = Ty::from_opt(ret);
                            }
                        }
                        st.frame.std.clear();
                        st.frame.out = NO_OUT;
                        st.clear_outputs();
                        st.clobbered |= Clobbers::CALL;
                    }
                    CallKind::Tail => self.check_tailcall(st, inst.span, report),
                }
                if *kind != CallKind::Call {
                    shape = Shape::Exit;
                }
            }
            InstKind::Ret => {
                shape = Shape::Exit;
                self.summary.returns |= report;
                match &self.stub.entry.signature {
                    EntrySignature::Arbitrary { .. } => {
                        self.err(report, move || CheckError::RetNotAllowed {
                            what: "arbitrary",
                            span: inst.span,
                        });
                    }
                    EntrySignature::Typed(sig) if sig.cc == CallConv::Handler => {
                        self.err(report, move || CheckError::RetNotAllowed {
                            what: "handler",
                            span: inst.span,
                        });
                    }
                    EntrySignature::Typed(_) => {
                        if let Some(rt) = self.ret_type
                            && !st.frame.ret.is_error()
                            && st.frame.ret.get() != Some(rt)
                        {
                            let found = st.frame.ret.get();
                            self.err(report, move || CheckError::RetValue {
                                expected: rt.to_string(),
                                found: ty_name(found),
                                span: inst.span,
                            });
                        }
                    }
                }
                if st.frame.m2n != M2nState::None {
                    self.err(report, move || CheckError::RetWithM2n { span: inst.span });
                }
                op_type = Ty::from_opt(self.ret_type);
            }
            InstKind::PushM2n {
                method,
                frame_type,
                handles,
            } => {
                if report {
                    self.summary.pushes_m2n = true;
                    self.summary.m2n_handles |= *handles;
                }
                if st.frame.m2n != M2nState::None {
                    self.err(report, move || CheckError::PushM2nTwice { span: inst.span });
                }
                if st.frame.alloc != 0 {
                    self.err(report, move || CheckError::AllocBeforePushM2n {
                        span: inst.span,
                    });
                }
                if st.frame.out().is_some() {
                    self.err(report, move || CheckError::M2nInOutArea {
                        what: "push_m2n",
                        span: inst.span,
                    });
                }
                for o in [method, frame_type].into_iter().flatten() {
                    let t = self.operand(st, o, Some(Type::Pint), report);
                    if let Some(t) = t
                        && !t.is_pointer_sized_integer()
                    {
                        self.err(report, move || CheckError::TypeMismatch {
                            what: "`push_m2n`",
                            left: "pint".into(),
                            right: t.to_string(),
                            span: o.span,
                        });
                    }
                }
                st.frame.m2n = if *handles {
                    M2nState::PushedWithHandles
                } else {
                    M2nState::Pushed
                };
                // `push_m2n` in an output area is an error reported above; keeping
                // the area avoids a second error at the call.
                if st.frame.out().is_none() {
                    st.frame.out = NO_OUT;
                }
                st.frame.ret = Ty::UNDEF;
                st.clobbered |= Clobbers::PUSH_M2N;
            }
            InstKind::M2nSaveAll => {
                if st.frame.m2n == M2nState::None {
                    self.err(report, move || CheckError::NoM2nFrame {
                        what: "m2n_save_all",
                        span: inst.span,
                    });
                }
            }
            InstKind::PopM2n => {
                if st.frame.m2n == M2nState::None {
                    self.err(report, move || CheckError::NoM2nFrame {
                        what: "pop_m2n",
                        span: inst.span,
                    });
                }
                if st.frame.out().is_some() {
                    self.err(report, move || CheckError::M2nInOutArea {
                        what: "pop_m2n",
                        span: inst.span,
                    });
                }
                st.frame.m2n = M2nState::None;
                st.frame.alloc = 0;
                st.frame.std.clear();
                st.frame.out = NO_OUT;
                st.clobbered |= Clobbers::POP_M2N;
            }
            InstKind::Print { operand, .. } => {
                self.summary.prints |= report;
                if let Some(o) = operand {
                    let t = self.operand(st, o, None, report);
                    op_type = Ty::from_opt(t);
                }
                st.clobbered |= Clobbers::PRINT;
            }
        }
        (op_type, shape)
    }

    fn check_tailcall(&mut self, st: &mut State, span: Span, report: bool) {
        // A typed stub's tailcall passes on its inputs: it reads them all.
        if self.params.is_some_and(|p| !p.is_empty()) {
            self.note_input_read(st, report);
        }
        if st.frame.m2n != M2nState::None {
            self.err(report, move || CheckError::TailcallWithM2n { span });
        }
        let received = self.stub.entry.std_places.min(MAX_STD_PLACES);
        let passed = st.frame.std.len() as u32;
        let max = received.max(PASSABLE_SCRATCH_PLACES);
        if passed > max {
            self.err(report, move || CheckError::PinnedPlacesNotReceived {
                count: passed,
                received,
                max,
                span,
            });
        }
        if self.stub.entry.signature.cc() == CallConv::Handler {
            let defined = st
                .frame
                .std
                .iter()
                .take_while(|t| t.get().is_some() || t.is_error())
                .count() as u32;
            if defined < received {
                self.err(report, move || CheckError::HandlerStdPlaces {
                    expected: received,
                    found: defined,
                    span,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass check's blocks and successors (fixup chains, the
    /// fall-through) are the general path's CFG.
    #[test]
    fn one_pass_blocks_are_the_cfg() {
        let texts = [
            // Two branches and a jump to one label, a fall-through into it.
            "entry 0:managed:ref:g4; locals 1; jc i0 = 0, no; ld l0, [i0+8:pint];
             jc l0 != 5, no; r = 1; j no; :no; r = 0; ret;",
            // Nested and consecutive forward jumps, a `cas`.
            "entry 0:platform:pint,pint:pint; locals 1; jc i0 = 0, a; jc i1 = 0, b;
             cas [i0+0:pint] = i1, 0, b; :b; l0 = 1; j c; :a; l0 = 2; :c; r = l0; ret;",
            // Figure 1.
            "entry 0:managed:g4,pint:ref; locals 3; l0 = ts; ld r, [l0+16:ref];
             ld l1, [l0+24:pint]; l2 = zx4 i0; l2 = r:pint + l2; jc l2 >u l1, slow;
             st [r+0:pint], i1; st [l0+16:pint], l2; ret;
             :slow; push_m2n 0; in2out platform:ref; call 0x1000; pop_m2n; ret;",
        ];
        for text in texts {
            let stub = lil_syntax::parse(text).expect("parses");
            let (one_pass, general) = one_pass_and_general(&stub, text);
            assert_eq!(one_pass.facts.blocks, general.facts.blocks, "{text}");
        }
    }

    /// `stub` checked by the one-pass check (which must accept it), and
    /// by the general path as far as its CFG.
    fn one_pass_and_general<'s>(stub: &'s Stub, text: &str) -> (Flow<'s>, Flow<'s>) {
        let mut one_pass = Flow::new(stub, None);
        assert!(one_pass.check_forward().is_ok(), "one pass: {text}");
        let mut general = Flow::new(stub, None);
        general.build_cfg().expect("builds");
        (one_pass, general)
    }

    /// At a label the one-pass check neither rescans the locals for the
    /// summary nor shares the last context's arena slice: the contexts
    /// and the summary are still the general path's, for large frames
    /// (arena) and small, with and without a fall-through into the label.
    #[test]
    fn one_pass_contexts_at_labels_are_the_general_paths() {
        let texts = [
            // Ten locals: the arena; a local written just before the join.
            "entry 0:platform:pint,f8:pint; locals 10; l0 = i0; l9 = i1;
             jc l0 = 0, a; l1 = l0; l8 = 1; :a; l2 = l0; jc l2 = 1, b;
             l3 = l2; r = l3; ret; :b; r = l0; ret;",
            // Small frames: jumps only, and a fall-through merge.
            "entry 0:platform:pint,f8:pint; locals 3; l0 = i0; jc l0 = 0, a;
             l1 = i1; l2 = l0; r = l2; ret; :a; l1 = i1; jc l0 = 1, b; l2 = 5;
             :b; r = l0; ret;",
        ];
        for text in texts {
            let stub = lil_syntax::parse(text).expect("parses");
            let (one_pass, mut general) = one_pass_and_general(&stub, text);
            general.run();
            assert!(general.errors.is_empty(), "{text}");
            assert_eq!(one_pass.summary, general.summary, "{text}");
            let (a, b) = (&one_pass.facts, &general.facts);
            for (i, (x, y)) in a.insts.iter().zip(&b.insts).enumerate() {
                assert_eq!(x.reachable, y.reachable, "{i}: {text}");
                assert_eq!(x.op_type, y.op_type, "{i}: {text}");
                let locals = u32::from(x.frame.locals_len);
                assert_eq!(locals, u32::from(y.frame.locals_len), "{i}: {text}");
                for k in 0..locals {
                    assert_eq!(
                        x.local(&a.arena, k),
                        y.local(&b.arena, k),
                        "{i} l{k}: {text}"
                    );
                }
                assert_eq!(
                    (
                        x.frame.out,
                        x.frame.alloc,
                        x.frame.std,
                        x.frame.m2n,
                        x.frame.ret
                    ),
                    (
                        y.frame.out,
                        y.frame.alloc,
                        y.frame.std,
                        y.frame.m2n,
                        y.frame.ret
                    ),
                    "{i}: {text}"
                );
            }
        }
    }
}
