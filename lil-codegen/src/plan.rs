//! Frame planning, shared by both emitters: where every variable lives, the
//! layout of the stack frame, and where the frame is set up.
//!
//! The plan is computed once per stub from the `CheckedStub`'s summary and
//! the target's [`TargetDesc`]; emitters only look locations up. The body
//! is read once: the liveness walk also gathers what the rest of the
//! planner needs from the instructions (`BodyFacts`), decoding each
//! instruction's kind once (`operands`); the later steps work from those
//! facts and the summary, and only stubs with `alloc` or with variables in
//! the frame look at the instructions again.
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
use smallvec::SmallVec;
use std::borrow::Cow;

/// Frames of this many bytes or more are set up page by page, touching
/// each page from the top down (stack probes), so that a large `alloc`
/// cannot move the stack pointer past the guard page below the stack into
/// other memory. Both emitters probe at this interval.
pub const STACK_PROBE_INTERVAL: u32 = 4096;

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

/// Registers with their frame slots (saves and restores). A plain vector:
/// the plan is planned into for one stub after another, and each plan
/// empties its lists and keeps their storage, so a reused plan allocates
/// nothing once warm and each push is one capacity test (a small vector
/// asks where its data lives at every push, clear and read).
pub type RegSlots = Vec<(Reg, i32)>;

/// A set of registers: one bit per register number of each class (every
/// `u8`, so a host convention naming odd registers cannot overflow it).
/// `contains` is a bit test where the lists it replaces were scans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RegSet([[u64; 4]; 2]);

impl RegSet {
    fn word(&self, r: Reg) -> (usize, usize, u64) {
        (r.class as usize, r.num as usize / 64, 1 << (r.num % 64))
    }

    fn contains(&self, r: Reg) -> bool {
        let (c, w, bit) = self.word(r);
        self.0[c][w] & bit != 0
    }

    /// Adds the registers numbered `nums` of `class`.
    fn insert_all(&mut self, class: RegClass, nums: &[u8]) {
        let words = &mut self.0[class as usize];
        for &n in nums {
            words[n as usize / 64] |= 1 << (n % 64);
        }
    }

    /// Removes `r`; false if it was not there.
    fn remove(&mut self, r: Reg) -> bool {
        let (c, w, bit) = self.word(r);
        let was = self.0[c][w] & bit != 0;
        self.0[c][w] &= !bit;
        was
    }

    /// Adds `r`; false if it was already there.
    fn insert(&mut self, r: Reg) -> bool {
        let (c, w, bit) = self.word(r);
        let new = self.0[c][w] & bit == 0;
        self.0[c][w] |= bit;
        new
    }
}

/// Registers taken, as a set for membership tests and, when the stub calls
/// helpers of its own, in the order they were taken: that order decides the
/// helper-save slots, so it must be kept. Most stubs call no helper, and
/// then keeping the set is all (a bit per register, not a push).
struct Occupied<'o> {
    /// Whether `order` is kept.
    keep_order: bool,
    /// The plan's list, emptied ([`PlanLists::order`]).
    order: &'o mut Vec<Reg>,
    set: RegSet,
}

impl<'o> Occupied<'o> {
    fn new(keep_order: bool, order: &'o mut Vec<Reg>) -> Occupied<'o> {
        order.clear();
        Occupied {
            keep_order,
            order,
            set: RegSet::default(),
        }
    }

    fn contains(&self, r: Reg) -> bool {
        self.set.contains(r)
    }

    /// Takes `r`; false if it was already taken.
    fn push_unique(&mut self, r: Reg) -> bool {
        let new = self.set.insert(r);
        if new && self.keep_order {
            self.push_order(r);
        }
        new
    }

    /// Out of line: `push_unique` is inlined at every register the planner
    /// takes, and most stubs keep no order.
    #[inline(never)]
    fn push_order(&mut self, r: Reg) {
        self.order.push(r);
    }
}

/// A list of registers to take from, in order of preference. Registers
/// are only ever taken, never given back, so a register found taken stays
/// taken: each search resumes where the last one stopped, and taking from
/// a pool costs one pass over it for the whole plan.
struct Pool<'p> {
    regs: &'p [u8],
    class: RegClass,
    /// Every register before this index is taken.
    next: usize,
}

impl<'p> Pool<'p> {
    fn new(regs: &'p [u8], class: RegClass) -> Pool<'p> {
        Pool {
            regs,
            class,
            next: 0,
        }
    }

    /// Takes the first free register of the pool.
    fn take(&mut self, occupied: &mut Occupied) -> Option<Reg> {
        while let Some(&num) = self.regs.get(self.next) {
            self.next += 1;
            let r = Reg {
                class: self.class,
                num,
            };
            // One bit operation both tests and takes.
            if occupied.push_unique(r) {
                return Some(r);
            }
        }
        None
    }
}

/// The argument registers of an `arbitrary` stub that can be borrowed
/// (`free`), taken by class in argument order: a cursor over each class's
/// argument registers, like [`Pool`], so that finding the next costs no
/// list to build or shift.
struct Borrowable<'p> {
    args: [Pool<'p>; 2],
    free: RegSet,
}

impl<'p> Borrowable<'p> {
    fn new(cc: &'p CallingConvention) -> Borrowable<'p> {
        Borrowable {
            args: [
                Pool::new(&cc.gp_args, RegClass::General),
                Pool::new(&cc.fp_args, RegClass::Float),
            ],
            free: RegSet::default(),
        }
    }

    /// The argument registers, by class (general-purpose first).
    fn classes(&self) -> [(RegClass, &'p [u8]); 2] {
        self.args.each_ref().map(|pool| (pool.class, pool.regs))
    }

    /// Takes every argument register of `cc` into `occupied`; when the
    /// stub makes `returning_calls`, those not already taken can be
    /// borrowed. Out of line: only `arbitrary` stubs get here.
    #[inline(never)]
    fn take_all(
        cc: &'p CallingConvention,
        returning_calls: bool,
        occupied: &mut Occupied,
    ) -> Borrowable<'p> {
        let mut args = Borrowable::new(cc);
        for (class, nums) in args.classes() {
            for &num in nums {
                let r = Reg { class, num };
                if returning_calls && !occupied.contains(r) {
                    args.free.insert(r);
                }
                occupied.push_unique(r);
            }
        }
        args
    }

    /// Takes the first free argument register of `class`.
    fn take(&mut self, class: RegClass) -> Option<Reg> {
        let pool = &mut self.args[class as usize];
        while let Some(&num) = pool.regs.get(pool.next) {
            pool.next += 1;
            let r = Reg { class, num };
            if self.free.remove(r) {
                return Some(r);
            }
        }
        None
    }
}

/// One bit per instruction or block. The first 128 live in a plain
/// integer (no heap, and a test is a shift: the driver asks for every
/// instruction); only longer stubs use the vector.
#[derive(Clone, Debug, Default)]
pub struct BitSet {
    low: u128,
    /// Bits from 128 on.
    high: Vec<u64>,
}

impl BitSet {
    /// An empty set for `len` members. Inlined, with no call for the
    /// usual set of at most 128 (`vec!` of zero elements is still a call).
    #[inline]
    pub(crate) fn new(len: usize) -> BitSet {
        let high = if len <= 128 {
            Vec::new()
        } else {
            vec![0; (len - 128).div_ceil(64)]
        };
        BitSet { low: 0, high }
    }

    /// Empties the set and sizes it for `len` members, keeping its
    /// storage: a plan reused for the next stub replaces nothing. Inlined:
    /// the usual set of at most 128 is two stores and a test.
    #[inline]
    pub(crate) fn reset(&mut self, len: usize) {
        self.low = 0;
        // Most sets fit the integer and had no vector before either.
        if len > 128 || !self.high.is_empty() {
            self.high.clear();
            self.high.resize(len.saturating_sub(128).div_ceil(64), 0);
        }
    }

    /// Whether `i` is in the set (false past the end).
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        if i < 64 {
            // Most stubs: the low half, one 64-bit shift (cheaper than a
            // shift of the whole `u128` by a variable amount).
            self.low as u64 >> i & 1 == 1
        } else if i < 128 {
            (self.low >> 64) as u64 >> (i - 64) & 1 == 1
        } else {
            let i = i - 128;
            self.high
                .get(i / 64)
                .is_some_and(|w| w >> (i % 64) & 1 == 1)
        }
    }

    /// Adds `i`, which must be below the length the set was made for.
    pub(crate) fn insert(&mut self, i: usize) {
        if i < 64 {
            // Most stubs: a 64-bit shift, not one of the whole `u128`.
            self.low |= u128::from(1u64 << i);
        } else if i < 128 {
            self.low |= 1 << i;
        } else if let Some(w) = self.high.get_mut((i - 128) / 64) {
            *w |= 1 << ((i - 128) % 64);
        }
    }

    /// Adds `0..len`. Out of line: only stubs framed throughout get here.
    #[inline(never)]
    fn fill(&mut self, len: usize) {
        self.low = if len >= 128 { !0 } else { (1 << len) - 1 };
        for (k, w) in self.high.iter_mut().enumerate() {
            let bits = len.saturating_sub(128 + k * 64).min(64);
            *w = if bits == 64 { !0 } else { (1 << bits) - 1 };
        }
    }

    /// The first member in `lo..hi`.
    fn first_in(&self, lo: usize, hi: usize) -> Option<usize> {
        if hi <= 64 {
            // Most stubs: within the low word, no `u128` shift.
            let rest = (self.low as u64).checked_shr(lo as u32).unwrap_or(0);
            let first = lo + rest.trailing_zeros() as usize;
            return (first < hi).then_some(first);
        }
        self.first_in_far(lo, hi)
    }

    /// [`BitSet::first_in`] for a range that ends past the low word. Out
    /// of line, as is [`BitSet::insert_range_far`]: most stubs have fewer
    /// than 64 instructions, and the planner stays shorter without them.
    #[cold]
    #[inline(never)]
    fn first_in_far(&self, lo: usize, hi: usize) -> Option<usize> {
        if hi <= 128 {
            // Within the integer: one shift and a count of trailing zeros
            // (128 when none is left, which is past `hi`).
            let rest = if lo < 128 { self.low >> lo } else { 0 };
            let first = lo + rest.trailing_zeros() as usize;
            return (first < hi).then_some(first);
        }
        if lo < 128 {
            let x = self.low & mask128(lo, hi.min(128));
            if x != 0 {
                return Some(x.trailing_zeros() as usize);
            }
        }
        let (lo, hi) = (lo.max(128) - 128, hi.max(128) - 128);
        let mut w = lo / 64;
        while w * 64 < hi {
            let base = w * 64;
            let x =
                self.high.get(w)? & mask64(lo.saturating_sub(base).min(64), (hi - base).min(64));
            if x != 0 {
                return Some(128 + base + x.trailing_zeros() as usize);
            }
            w += 1;
        }
        None
    }

    /// Adds `lo..hi`, which must be below the length the set was made for.
    fn insert_range(&mut self, lo: usize, hi: usize) {
        if hi <= 64 {
            // Most stubs: within the low word.
            self.low |= mask64(lo, hi) as u128;
            return;
        }
        self.insert_range_far(lo, hi);
    }

    /// [`BitSet::insert_range`] for a range that ends past the low word.
    #[cold]
    #[inline(never)]
    fn insert_range_far(&mut self, lo: usize, hi: usize) {
        if lo < 128 {
            self.low |= mask128(lo, hi.min(128));
        }
        let (lo, hi) = (lo.max(128) - 128, hi.max(128) - 128);
        for (w, x) in self.high.iter_mut().enumerate().skip(lo / 64) {
            let base = w * 64;
            if base >= hi {
                break;
            }
            *x |= mask64(lo.saturating_sub(base).min(64), (hi - base).min(64));
        }
    }
}

/// Bits `lo..hi` of a word (`lo`, `hi` at most 64).
fn mask64(lo: usize, hi: usize) -> u64 {
    if lo >= hi {
        0
    } else {
        (!0u64 >> (64 - (hi - lo))) << lo
    }
}

/// Bits `lo..hi` of a `u128` (`lo`, `hi` at most 128).
fn mask128(lo: usize, hi: usize) -> u128 {
    if lo >= hi {
        0
    } else {
        (!0u128 >> (128 - (hi - lo))) << lo
    }
}

/// Everything an emitter needs to know about where things are.
///
/// It borrows nothing (the entry's calling convention is
/// [`HostEnv::convention`] of the stub's), so one plan can be kept and
/// planned into for one stub after another ([`crate::CompileScratch`]).
#[derive(Clone, Debug)]
pub struct FramePlan {
    /// Where each input arrives (register or incoming stack slot).
    pub inputs: Vec<ArgLoc>,
    /// Register inputs also have a home slot in the frame (used once the
    /// frame is set up), because something may clobber argument registers
    /// before an input is read.
    pub input_homes: Vec<Option<i32>>,
    /// `arbitrary` stubs that call save every argument register here and
    /// restore them before `tailcall`.
    pub arbitrary_saves: RegSlots,
    /// Location of each local index holding a general-purpose value.
    pub locals_gp: Vec<Option<Loc>>,
    /// Location of each local index holding a floating-point value.
    pub locals_fp: Vec<Option<Loc>>,
    /// Scratch registers: free inside any one instruction.
    pub scratch_gp: Vec<Reg>,
    /// Floating-point scratch registers: always two (a stub needs no more
    /// in any one instruction).
    pub scratch_fp: [Reg; 2],
    /// Callee-saved registers the prologue saves, and their slots (for a
    /// register the M2N frame records, its slot in the M2N frame).
    pub saved: RegSlots,
    /// Caller-saved registers holding variables, and the slots where they are
    /// kept while the stub calls a helper of its own (a `ts` function, the
    /// `print` function, `pop_m2n` hooks).
    pub helper_saves: RegSlots,
    /// Bytes from the frame base to the CFA (a multiple of 16); 0 when the
    /// stub never sets up a frame.
    pub frame_size: u32,
    /// Offset of the `alloc` area.
    pub alloc_offset: i32,
    /// Offset of the M2N frame, if the stub pushes one.
    pub m2n_offset: Option<i32>,
    /// Bytes of outgoing stack arguments (at the frame base).
    pub out_area: u32,
    /// Instructions before which the frame is set up.
    framed_before: BitSet,
    /// What the walk over the body found, with the instructions that
    /// need the frame (see [`FramePlan::requires_frame`]).
    facts: BodyFacts,
    /// Basic blocks (in `CheckedStub::blocks` order) framed on entry.
    block_framed_in: BitSet,
    /// The register holding the thread pointer, if the host pins one.
    pub ts_register: Option<Reg>,
    /// Standard places this stub must save and restore (callee-saved
    /// registers it writes without having received them): bit k for `spK`.
    pub std_places_saved: u32,
    /// Where `r` lives when it holds a general-purpose value: the entry
    /// convention's result register when nothing else needs that register
    /// while `r` is live (so neither calls nor `ret` move it), else the
    /// target's own `r` register.
    pub ret_gp: Reg,
    /// Where `r` lives when it holds a floating-point value (as `ret_gp`).
    pub ret_fp: Reg,
    /// Argument registers of an `arbitrary` stub given to scratch values or
    /// locals: the prologue saves them and only `tailcall` restores them,
    /// so in between they are free (the whole stub is then framed).
    pub borrowed: Vec<Reg>,
    /// What may still be read after each instruction.
    pub liveness: Liveness,
    /// Reads of locals holding a known `alloc` address:
    /// `(instruction, local, offset in the alloc area)`, sorted.
    alloc_reads: Vec<(u32, u32, u32)>,
    /// Not part of the plan: the last plan's callee-saved set, for the next.
    callee_saved: CalleeSaved,
    /// Not part of the plan: lists only the planning itself uses, kept for
    /// their storage.
    lists: PlanLists,
}

/// Lists the planner fills and reads while it plans, kept with the plan
/// so that planning the next stub reuses their storage (none allocates
/// once the plan is warm).
#[derive(Clone, Debug, Default)]
struct PlanLists {
    /// Callee-saved registers the prologue saves, in the order taken.
    saved: Vec<Reg>,
    /// Locals given no register, by class and index: they get frame slots.
    spilled: Vec<(RegClass, usize)>,
    /// The registers taken, in order, when kept ([`Occupied`]).
    order: Vec<Reg>,
}

/// The registers a stub's callee preserves, as a set: those of its entry
/// convention and of the C ABI (general-purpose), and the C ABI's
/// floating-point ones. A plan keeps the set for the next stub, which
/// nearly always has the same conventions, instead of rebuilding it
/// register by register; only lists borrowed for `'static` are matched,
/// by address and length, which then name their contents for good.
#[derive(Clone, Debug, Default)]
struct CalleeSaved {
    /// Address and length of the three lists the set was built from, when
    /// all are `'static`.
    lists: Option<[(usize, usize); 3]>,
    set: RegSet,
}

impl CalleeSaved {
    /// The set for a stub entered by `entry` on a target whose C ABI is
    /// `c_abi`.
    fn get(&mut self, entry: &CallingConvention, c_abi: &CallingConvention) -> &RegSet {
        let lists = [
            &entry.callee_saved_gp,
            &c_abi.callee_saved_gp,
            &c_abi.callee_saved_fp,
        ];
        let mut key = [(0, 0); 3];
        let mut fixed = true;
        for (k, list) in key.iter_mut().zip(lists) {
            match list {
                Cow::Borrowed(l) => *k = (l.as_ptr() as usize, l.len()),
                Cow::Owned(_) => fixed = false,
            }
        }
        let lists = fixed.then_some(key);
        if lists.is_none() || lists != self.lists {
            self.rebuild(entry, c_abi, lists);
        }
        &self.set
    }

    /// Builds the set anew, for lists `lists`. Out of line: a plan reused
    /// for stubs of the same conventions builds it once.
    #[inline(never)]
    fn rebuild(
        &mut self,
        entry: &CallingConvention,
        c_abi: &CallingConvention,
        lists: Option<[(usize, usize); 3]>,
    ) {
        let mut set = RegSet::default();
        set.insert_all(RegClass::General, &entry.callee_saved_gp);
        if !std::ptr::eq(entry, c_abi) {
            set.insert_all(RegClass::General, &c_abi.callee_saved_gp);
        }
        set.insert_all(RegClass::Float, &c_abi.callee_saved_fp);
        *self = CalleeSaved { lists, set };
    }
}

/// Makes `v` hold `n` times `None`, keeping its storage.
fn set_nones<T: Copy>(v: &mut Vec<Option<T>>, n: usize) {
    v.clear();
    v.resize(n, None);
}

fn align_up(x: u32, a: u32) -> u32 {
    x.div_ceil(a) * a
}

/// Whether every edge of the control-flow graph goes forward (to a later
/// block): then one pass in program order (or its reverse, for a backward
/// analysis) reaches the fixpoint, and the usual second pass that only
/// confirms it can be skipped. Stubs are mostly such fast-path/slow-path
/// diamonds.
fn is_acyclic(stub: &CheckedStub) -> bool {
    let mut forward = true;
    for (b, block) in stub.blocks().iter().enumerate() {
        for s in block.succs.into_iter().flatten() {
            forward &= s as usize > b;
        }
    }
    forward
}

impl FramePlan {
    /// Plan the frame of `stub` for `desc`'s target in `env`.
    pub fn new(
        stub: &CheckedStub,
        desc: &TargetDesc,
        env: &HostEnv,
    ) -> Result<FramePlan, CodegenError> {
        let mut plan = FramePlan::empty(desc);
        plan.plan(stub, desc, env)?;
        Ok(plan)
    }

    /// A plan of nothing, to [`FramePlan::plan`] a stub into.
    pub fn empty(desc: &TargetDesc) -> FramePlan {
        FramePlan {
            ret_gp: Reg::gp(desc.ret_gp),
            ret_fp: Reg::fp(desc.ret_fp),
            ..FramePlan::blank()
        }
    }

    /// A plan of nothing for no target in particular (`r` in register 0
    /// of each class), to [`FramePlan::plan`] a stub into: what
    /// [`crate::CompileScratch`] holds before its first compile.
    #[inline]
    pub(crate) fn blank() -> FramePlan {
        FramePlan {
            inputs: Vec::new(),
            input_homes: Vec::new(),
            arbitrary_saves: RegSlots::new(),
            locals_gp: Vec::new(),
            locals_fp: Vec::new(),
            scratch_gp: Vec::new(),
            scratch_fp: [Reg::fp(0); 2],
            saved: RegSlots::new(),
            helper_saves: RegSlots::new(),
            frame_size: 0,
            alloc_offset: 0,
            m2n_offset: None,
            out_area: 0,
            framed_before: BitSet::default(),
            facts: BodyFacts::default(),
            block_framed_in: BitSet::default(),
            ts_register: None,
            std_places_saved: 0,
            ret_gp: Reg::gp(0),
            ret_fp: Reg::fp(0),
            borrowed: Vec::new(),
            liveness: Liveness::default(),
            alloc_reads: Vec::new(),
            callee_saved: CalleeSaved::default(),
            lists: PlanLists::default(),
        }
    }

    /// [`FramePlan::new`] in place: plans `stub` into `self`, replacing
    /// whatever it held. A backend builds the plan where the emitter reads
    /// it, rather than moving the kilobyte a returned plan is into place.
    /// After an error `self` holds no meaningful plan.
    pub fn plan(
        &mut self,
        stub: &CheckedStub,
        desc: &TargetDesc,
        env: &HostEnv,
    ) -> Result<(), CodegenError> {
        // The fields, each filled where it is computed.
        let FramePlan {
            inputs,
            input_homes,
            arbitrary_saves,
            locals_gp,
            locals_fp,
            scratch_gp,
            scratch_fp,
            saved: saved_slots,
            helper_saves,
            frame_size: plan_frame_size,
            alloc_offset: plan_alloc_offset,
            m2n_offset: plan_m2n_offset,
            out_area: plan_out_area,
            framed_before,
            facts,
            block_framed_in,
            ts_register: plan_ts_register,
            std_places_saved: plan_std_places_saved,
            ret_gp: plan_ret_gp,
            ret_fp: plan_ret_fp,
            borrowed,
            liveness,
            alloc_reads,
            callee_saved,
            lists:
                PlanLists {
                    saved,
                    spilled,
                    order,
                },
        } = self;
        let summary = stub.summary();
        let body = &stub.stub().body;
        let entry = &stub.stub().entry;
        let entry_cc = env.convention(desc, entry.signature.cc());
        // Asked for every register taken: one bit test each, not two scans.
        let callee_saved = callee_saved.get(entry_cc, &desc.c_abi);
        let is_gp_callee_saved = |n: u8| callee_saved.contains(Reg::gp(n));

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
        // Whether the stub calls helpers of its own, which may clobber the
        // caller-saved registers holding variables.
        let helper_call = matches!(env.thread_pointer, ThreadPointer::Call { .. })
            && (summary.uses_ts || summary.pushes_m2n)
            || (env.print.is_some() && summary.prints)
            || (summary.pushes_m2n && clobbers.contains(Clobbers::POP_M2N));

        // ---- Registers with a fixed role in this stub.
        let mut occupied = Occupied::new(helper_call, order);
        inputs.clear();
        if let EntrySignature::Typed(sig) = &entry.signature {
            for loc in entry_cc.arg_locs(&sig.params) {
                if let ArgLoc::Reg(r) = loc {
                    occupied.push_unique(r);
                }
                inputs.push(loc);
            }
        }
        let arbitrary = entry.signature.typed().is_none();
        // The one walk over the instructions (liveness, gathering what the
        // rest needs). Reads of `alloc` addresses do not count, so those
        // are found first; the summary says whether there can be any
        // (`alloc v, 0` aside, which the walk finds).
        let needing_frame = Kind::needing_frame(env);
        facts.reset(body.len(), needing_frame);
        alloc_reads.clear();
        if summary.alloc_bytes > 0 {
            alloc_addresses(stub, is_acyclic(stub), alloc_reads);
        }
        liveness.compute(stub, alloc_reads, facts);
        if facts.any_alloc && summary.alloc_bytes == 0 {
            alloc_addresses(stub, facts.acyclic, alloc_reads);
            if !alloc_reads.is_empty() {
                facts.reset(body.len(), needing_frame);
                liveness.compute(stub, alloc_reads, facts);
            }
        }
        let mut out_area = 0u32;
        for sig in &summary.call_signatures {
            let cc = env.convention(desc, sig.cc);
            for loc in cc.arg_locs(&sig.params) {
                match loc {
                    ArgLoc::Reg(r) => {
                        occupied.push_unique(r);
                    }
                    ArgLoc::Stack(off) => out_area = out_area.max(off + cc.stack_slot),
                }
            }
        }
        let nstd = summary.max_std_places.max(summary.entry_std_places);
        for k in 0..nstd {
            if let Some(r) = desc.std_place(k) {
                occupied.push_unique(r);
            }
        }
        // `r` in the entry convention's result registers, where they fit
        // (both candidates are tested in one walk over the few
        // instructions that can rule them out).
        let gp_candidate = Reg::gp(entry_cc.gp_ret);
        let gp_candidate = (gp_candidate.num != desc.ret_gp
            && !desc.std_places.contains(&gp_candidate.num)
            && !desc.reserved_gp.contains(&gp_candidate.num))
        .then_some(gp_candidate);
        let fp_candidate = Reg::fp(entry_cc.fp_ret);
        let fp_candidate = (fp_candidate.num != desc.ret_fp).then_some(fp_candidate);
        let [gp_fits, fp_fits] = ret_fits(
            stub,
            env,
            desc,
            liveness,
            &facts.ret_writers,
            inputs,
            [gp_candidate, fp_candidate],
        );
        let ret_gp = match gp_candidate {
            Some(r) if gp_fits => r,
            _ => Reg::gp(desc.ret_gp),
        };
        let ret_fp = match fp_candidate {
            Some(r) if fp_fits => r,
            _ => Reg::fp(desc.ret_fp),
        };
        if summary.ret_general {
            occupied.push_unique(ret_gp);
        }
        if summary.ret_float {
            occupied.push_unique(ret_fp);
        }
        // An `arbitrary` stub's argument registers hold its caller's
        // arguments. When the stub calls, the prologue saves them and only
        // `tailcall` puts them back, so the ones no call, standard place or
        // `r` uses can be borrowed in between.
        let mut borrowable = arbitrary
            .then(|| Borrowable::take_all(entry_cc, summary.returning_calls, &mut occupied));
        let ts_register = match env.thread_pointer {
            ThreadPointer::Register(n) => {
                let r = Reg::gp(n);
                let clash = occupied.contains(r)
                    || desc.reserved_gp.contains(&n)
                    || desc.std_places.contains(&n)
                    || n == desc.ret_gp
                    || n == ret_gp.num
                    || desc.c_abi.gp_args.contains(&n);
                if clash {
                    return Err(CodegenError::BadHostRegister {
                        what: "the thread-pointer register",
                        reg: n,
                    });
                }
                occupied.push_unique(r);
                Some(r)
            }
            _ => None,
        };

        // ---- Scratch registers.
        saved.clear();
        let mut scratch_gp_pool = Pool::new(desc.scratch_gp, RegClass::General);
        let mut scratch_fp_pool = Pool::new(desc.scratch_fp, RegClass::Float);
        // Pools for locals, by class (`RegClass as usize`): caller-saved,
        // callee-saved.
        let mut locals_pools = [
            [
                Pool::new(desc.locals_caller_saved_gp, RegClass::General),
                Pool::new(desc.locals_callee_saved_gp, RegClass::General),
            ],
            [
                Pool::new(desc.locals_caller_saved_fp, RegClass::Float),
                Pool::new(desc.locals_callee_saved_fp, RegClass::Float),
            ],
        ];
        scratch_gp.clear();
        // Short of scratch registers: borrowed argument registers first
        // when they cost nothing (the stub is framed from its entry),
        // keeping the free ones for locals. Only an `arbitrary` stub has
        // any to borrow, so only its are counted.
        let short_and_framed =
            borrowable.is_some() && short_and_framed(desc, &occupied, body, &facts.requires_frame);
        borrowed.clear();
        let mut borrow = |class: RegClass, borrowed: &mut Vec<Reg>| -> Option<Reg> {
            let r = borrowable.as_mut()?.take(class)?;
            borrowed.push(r);
            Some(r)
        };
        // Some scratch register is callee-saved (so needs the frame
        // wherever used).
        let mut scratch_saved = false;
        for _ in 0..desc.scratch_count {
            let free = if short_and_framed {
                borrow(RegClass::General, borrowed)
            } else {
                None
            };
            let r = free
                .or_else(|| scratch_gp_pool.take(&mut occupied))
                .or_else(|| borrow(RegClass::General, borrowed))
                .or_else(|| locals_pools[RegClass::General as usize][1].take(&mut occupied))
                .ok_or(CodegenError::OutOfRegisters {
                    what: "scratch registers",
                })?;
            if is_gp_callee_saved(r.num) {
                saved.push(r);
                scratch_saved = true;
            }
            scratch_gp.push(r);
        }
        for r in scratch_fp.iter_mut() {
            *r = scratch_fp_pool
                .take(&mut occupied)
                .ok_or(CodegenError::OutOfRegisters {
                    what: "floating-point scratch registers",
                })?;
        }

        // ---- Locals.
        let nlocals = summary.max_locals as usize;
        set_nones(locals_gp, nlocals);
        set_nones(locals_fp, nlocals);
        spilled.clear();
        // Some local lives in a callee-saved register (which the prologue
        // saves, so using it needs the frame).
        let mut locals_saved = false;
        // Asked once: a stub without locals skips setting up the placing
        // closure (its captures).
        if !summary.locals.is_empty() {
            // Made once, not per local: the closure's captures are set up once.
            let mut place = |class: RegClass, k: usize, crosses: bool| {
                let [caller, callee] = &mut locals_pools[class as usize];
                let reg = if crosses {
                    callee.take(&mut occupied)
                } else {
                    caller
                        .take(&mut occupied)
                        .or_else(|| borrow(class, borrowed))
                        .or_else(|| callee.take(&mut occupied))
                };
                let slot = match reg {
                    Some(r) => {
                        if callee_saved.contains(r) {
                            saved.push(r);
                            locals_saved = true;
                        }
                        Some(Loc::Reg(r))
                    }
                    None => {
                        spilled.push((class, k));
                        None
                    }
                };
                let locals = match class {
                    RegClass::General => &mut *locals_gp,
                    RegClass::Float => &mut *locals_fp,
                };
                if let Some(l) = locals.get_mut(k) {
                    *l = slot;
                }
            };
            for (k, usage) in summary.locals.iter().enumerate() {
                // The checker's liveness by type, refined by ours: a local whose
                // reads after a call all recompute an `alloc` address need not
                // survive the call.
                let crosses = usage.general_across_call || usage.float_across_call;
                let live = crosses
                    && (k >= nlocals
                        || facts
                            .calls
                            .iter()
                            .any(|&i| liveness.local_after(i as usize, k as u32)));
                if usage.general {
                    place(RegClass::General, k, usage.general_across_call && live);
                }
                if usage.float {
                    place(RegClass::Float, k, usage.float_across_call && live);
                }
            }
        }

        // ---- Standard places in callee-saved registers written without being received.
        // Visited bit by bit, in order: most stubs write none.
        let mut std_places_saved = 0u32;
        let mut unreceived = summary.std_places_written
            & u32::MAX.checked_shl(summary.entry_std_places).unwrap_or(0);
        while unreceived != 0 {
            let k = unreceived.trailing_zeros();
            unreceived &= unreceived - 1;
            if let Some(r) = desc.std_place(k)
                && is_gp_callee_saved(r.num)
            {
                saved.push(r);
                std_places_saved |= 1 << k;
            }
        }

        let homes = summary.reads_inputs && summary.input_reads_after.intersects(clobbers);

        // ---- Frame layout, from the frame base up. The M2N frame comes
        // first, so that when no stack arguments go out its address is the
        // stack pointer itself.
        let mut off = align_up(out_area, 16);
        let out_area = off;
        let m2n_offset = if summary.pushes_m2n {
            let at = off as i32;
            off += m2n::offsets::SIZE;
            Some(at)
        } else {
            None
        };
        // Helper saves: caller-saved registers holding variables.
        helper_saves.clear();
        if helper_call {
            for &r in occupied.order.iter() {
                let caller_saved = match r.class {
                    RegClass::General => !callee_saved.contains(r) && !scratch_gp.contains(&r),
                    RegClass::Float => !callee_saved.contains(r) && !scratch_fp.contains(&r),
                };
                let pinned = Some(r) == ts_register;
                if caller_saved && !pinned {
                    helper_saves.push((r, off as i32));
                    off += 8;
                }
            }
        }
        for &(class, k) in spilled.iter() {
            let at = Some(Loc::Frame(off as i32));
            off += 8;
            let locals = match class {
                RegClass::General => &mut *locals_gp,
                RegClass::Float => &mut *locals_fp,
            };
            if let Some(l) = locals.get_mut(k) {
                *l = at;
            }
        }
        set_nones(input_homes, inputs.len());
        if homes {
            for (home, loc) in input_homes.iter_mut().zip(inputs.iter()) {
                if let ArgLoc::Reg(_) = loc {
                    *home = Some(off as i32);
                    off += 8;
                }
            }
        }
        arbitrary_saves.clear();
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
        // A callee-saved register the M2N frame records is saved straight
        // into its M2N slot: `push_m2n` then has nothing to copy, and the
        // slot holds the caller's value whichever comes first.
        let m2n_slot = |r: Reg| -> Option<i32> {
            let f = m2n_offset?;
            let (list, first) = match r.class {
                RegClass::General => (desc.m2n_saved_gp, m2n::offsets::SAVED_GP),
                RegClass::Float => (desc.m2n_saved_fp, m2n::offsets::SAVED_FP),
            };
            let idx = list.iter().position(|&n| n == r.num)?;
            Some(f + first + 8 * idx as i32)
        };
        let mut saved_set = RegSet::default();
        saved_slots.clear();
        for &r in saved.iter() {
            saved_set.insert(r);
            let at = m2n_slot(r).unwrap_or_else(|| {
                let at = off as i32;
                off += 8;
                at
            });
            saved_slots.push((r, at));
        }
        off = align_up(off, 16);
        let alloc_offset = off as i32;
        off += align_up(summary.alloc_bytes, 16);
        off = align_up(off, 16) + 16; // frame record: saved frame pointer, return address
        let frame_size = off;

        // ---- Shrink-wrapping: which instructions need the frame.
        // The walk found the instructions that need the frame by their
        // kind; with variables in the frame, those naming one need it too.
        let requires_frame = &mut facts.requires_frame;
        // Scratch registers that are callee-saved need the frame wherever used:
        // with no caller-saved scratch left, frame the whole stub.
        // So do borrowed argument registers (they are free only once saved).
        let frame_everything = scratch_saved || !borrowed.is_empty();
        // Whether any variable lives in the frame: a local in the frame or
        // in a saved register (every callee-saved register a local gets is
        // saved, and only those are), or a saved standard place.
        let any_frame_vars = !spilled.is_empty() || locals_saved || std_places_saved != 0;
        let frame_vars = if frame_everything {
            requires_frame.fill(body.len());
            None
        } else if any_frame_vars {
            Some(FrameVars::new(
                locals_gp,
                locals_fp,
                &saved_set,
                std_places_saved,
            ))
        } else {
            None
        };

        // Forward may-analysis over blocks: framed once any path set it up.
        // The same walk records which instructions run framed: in each
        // block, those after the first that needs the frame, or all of them
        // when the block is framed on entry.
        let blocks = stub.blocks();
        let framed_in = block_framed_in;
        framed_in.reset(blocks.len());
        framed_before.reset(body.len());
        // Some block sets the frame up (or runs framed).
        let mut needs_frame = false;
        // Only a block newly framed on entry can change another's state.
        let mut changed = true;
        while changed {
            changed = false;
            for (b, block) in blocks.iter().enumerate() {
                let (start, end) = (block.start as usize, block.end as usize);
                let from = if framed_in.contains(b) {
                    Some(start)
                } else {
                    let mut first = requires_frame.first_in(start, end);
                    // Only instructions before that one can be the first
                    // to need the frame for their variables: the rest run
                    // framed whatever they name, and are not looked at.
                    if let Some(vars) = &frame_vars
                        && let Some(i) = vars.first_naming(body, start, first.unwrap_or(end))
                    {
                        requires_frame.insert(i);
                        first = Some(i);
                    }
                    first.map(|i| i + 1)
                };
                let Some(from) = from else { continue };
                framed_before.insert_range(from, end);
                needs_frame = true;
                for s in block.succs.into_iter().flatten() {
                    if !framed_in.contains(s as usize) {
                        framed_in.insert(s as usize);
                        changed = true;
                    }
                }
            }
            // Edges all go forward: every block saw its final framed-on-entry
            // state before its own turn, so this one pass is the fixpoint.
            if facts.acyclic {
                break;
            }
        }

        *plan_frame_size = if needs_frame { frame_size } else { 0 };
        *plan_alloc_offset = alloc_offset;
        *plan_m2n_offset = m2n_offset;
        *plan_out_area = out_area;
        *plan_ts_register = ts_register;
        *plan_std_places_saved = std_places_saved;
        *plan_ret_gp = ret_gp;
        *plan_ret_fp = ret_fp;
        Ok(())
    }

    /// Whether the frame is set up when instruction `i` starts.
    #[inline]
    pub fn framed_before(&self, i: usize) -> bool {
        self.framed_before.contains(i)
    }

    /// Whether instruction `i` needs the frame, where it matters: where
    /// the frame is not set up before it ([`FramePlan::framed_before`]),
    /// which is where an emitter asks (to set the frame up right before
    /// it). Where the frame is already set up, an instruction that needs
    /// it only for its variables may be answered `false`: the planner
    /// looks at the variables only of instructions that may run unframed.
    #[inline]
    pub fn requires_frame(&self, i: usize) -> bool {
        self.facts.requires_frame.contains(i)
    }

    /// Whether basic block `b` (in `CheckedStub::blocks` order) is framed
    /// on entry.
    #[inline]
    pub fn block_framed_in(&self, b: usize) -> bool {
        self.block_framed_in.contains(b)
    }

    /// The frame offset of the `alloc` address local `k` holds where
    /// instruction `i` reads it, if known (see [`Liveness`]): the emitter
    /// must use it instead of the local's location.
    pub fn alloc_address(&self, i: usize, k: u32) -> Option<i32> {
        let at = self
            .alloc_reads
            .binary_search_by(|&(ri, rk, _)| (ri, rk).cmp(&(i as u32, k)))
            .ok()?;
        Some(self.alloc_offset + self.alloc_reads[at].2 as i32)
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

/// The variables that live in the frame (or in a register the prologue
/// saves), when some do: an instruction naming one needs the frame.
struct FrameVars {
    /// Locals by index.
    locals: BitSet,
    /// Standard places, bit k for `spK`.
    std_places: u32,
}

impl FrameVars {
    /// The locals that live in the frame or in a register of `saved`, and
    /// the saved standard places `std_places`. Out of line: only stubs
    /// with such variables get here.
    #[inline(never)]
    fn new(
        locals_gp: &[Option<Loc>],
        locals_fp: &[Option<Loc>],
        saved: &RegSet,
        std_places: u32,
    ) -> FrameVars {
        let in_frame = |loc: Option<Loc>| match loc {
            Some(Loc::Frame(_)) | Some(Loc::Incoming(_)) => true,
            Some(Loc::Reg(r)) => saved.contains(r),
            None => false,
        };
        let nlocals = locals_gp.len();
        let mut locals = BitSet::new(nlocals);
        for k in 0..nlocals {
            let gp = locals_gp.get(k).copied().flatten();
            let fp = locals_fp.get(k).copied().flatten();
            if in_frame(gp) || in_frame(fp) {
                locals.insert(k);
            }
        }
        FrameVars { locals, std_places }
    }

    /// The first of instructions `start..end` that names a variable in the
    /// frame. Out of line: only stubs with such variables get here, and
    /// only for the instructions before each block's first that needs the
    /// frame by its kind.
    #[inline(never)]
    fn first_naming(
        &self,
        body: &[lil_syntax::Instruction],
        start: usize,
        end: usize,
    ) -> Option<usize> {
        let insts = body.get(start..end).unwrap_or_default();
        (start..).zip(insts).find_map(|(i, inst)| {
            let mut any = false;
            visit_vars(&inst.kind, |v| {
                any |= match v {
                    Var::Local(k) => self.locals.contains(k as usize),
                    Var::StdPlace(k) => k < 32 && self.std_places & (1 << k) != 0,
                    _ => false,
                }
            });
            any.then_some(i)
        })
    }
}

/// Call `f` on every variable an instruction reads or writes.
pub fn visit_vars(kind: &InstKind, mut f: impl FnMut(Var)) {
    operands(kind, |v, _| f(v));
}

/// Call `f(v, written)` on every variable an instruction names: the one it
/// writes, if any, first, then those it reads (in its operands and
/// addresses; the inputs `tailcall` and `in2out` pass on and the `r` of
/// `ret` are not named); returns what the kind itself does ([`Kind`]).
///
/// The one description of an instruction for the planner: [`written`],
/// [`visit_vars`] and the planner's walk all go through it, and the walk
/// looks at each instruction's kind once.
#[inline(always)]
fn operands(kind: &InstKind, mut f: impl FnMut(Var, bool)) -> Kind {
    // Generic helpers, not closures over `dyn FnMut`: static calls inline.
    #[inline(always)]
    fn op(o: &Operand, f: &mut impl FnMut(Var, bool)) {
        if let OperandKind::Var(v) = o.kind {
            f(v, false);
        }
    }
    #[inline(always)]
    fn addr(a: &lil_syntax::Address, f: &mut impl FnMut(Var, bool)) {
        if let Some(b) = a.base {
            f(b.var, false);
        }
        if let Some((i, _)) = a.index {
            f(i.var, false);
        }
    }
    match kind {
        InstKind::Label(_) | InstKind::StdPlaces(_) => Kind::DECLARATION,
        InstKind::Locals(_) => Kind::DECLARATION | Kind::KILL_LOCALS,
        InstKind::Alloc { dst, .. } => {
            f(dst.var, true);
            Kind::FRAME | Kind::ALLOC
        }
        InstKind::Ts { dst } => {
            f(dst.var, true);
            Kind::TS
        }
        InstKind::Move { dst, src } | InstKind::Unary { dst, src, .. } => {
            f(dst.var, true);
            op(src, &mut f);
            Kind::NONE
        }
        InstKind::Binary { dst, lhs, rhs, .. } => {
            f(dst.var, true);
            op(lhs, &mut f);
            op(rhs, &mut f);
            Kind::NONE
        }
        InstKind::Handles(o) => {
            op(o, &mut f);
            Kind::FRAME
        }
        InstKind::Ld { dst, addr: a, .. } => {
            f(dst.var, true);
            addr(a, &mut f);
            Kind::NONE
        }
        InstKind::St { addr: a, src } => {
            addr(a, &mut f);
            op(src, &mut f);
            Kind::NONE
        }
        InstKind::Inc { addr: a } => {
            addr(a, &mut f);
            Kind::NONE
        }
        InstKind::Cas {
            addr: a,
            compare,
            source,
            ..
        } => {
            addr(a, &mut f);
            op(compare, &mut f);
            op(source, &mut f);
            Kind::NONE
        }
        InstKind::JumpIf { cond, .. } => {
            op(&cond.lhs, &mut f);
            op(&cond.rhs, &mut f);
            Kind::NONE
        }
        InstKind::Call { target, kind } => {
            op(target, &mut f);
            match kind {
                // A call leaves its own result (or nothing) in `r`.
                CallKind::Call => Kind::FRAME | Kind::CALL | Kind::KILL_RET,
                CallKind::NoReturn => Kind::FRAME,
                // `tailcall` passes the inputs on.
                CallKind::Tail => Kind::READ_INPUTS,
            }
        }
        InstKind::PushM2n {
            method, frame_type, ..
        } => {
            for o in [method, frame_type].into_iter().flatten() {
                op(o, &mut f);
            }
            // `push_m2n` leaves `r` undefined.
            Kind::FRAME | Kind::KILL_RET
        }
        InstKind::Print { operand, .. } => {
            if let Some(o) = operand {
                op(o, &mut f);
            }
            Kind::PRINT
        }
        // `in2out` copies the inputs.
        InstKind::In2Out { .. } => Kind::FRAME | Kind::IN2OUT | Kind::READ_INPUTS,
        InstKind::Out(_) | InstKind::PopM2n | InstKind::M2nSaveAll => Kind::FRAME,
        InstKind::Ret => Kind::READ_RET,
        InstKind::Jump(_) => Kind::NONE,
    }
}

/// What an instruction's kind says for the planner, whatever its operands
/// (from [`operands`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Kind(u16);

impl Kind {
    const NONE: Kind = Kind(0);
    /// Needs the frame whatever the host.
    const FRAME: Kind = Kind(1);
    /// `ts`: needs the frame when the host gets the thread pointer by a call.
    const TS: Kind = Kind(1 << 1);
    /// `print`: needs the frame when the host prints by a call.
    const PRINT: Kind = Kind(1 << 2);
    /// `:label`, `locals`, `std_places`.
    const DECLARATION: Kind = Kind(1 << 3);
    /// A call that returns.
    const CALL: Kind = Kind(1 << 4);
    const ALLOC: Kind = Kind(1 << 5);
    const IN2OUT: Kind = Kind(1 << 6);
    /// Every local is undefined after it.
    const KILL_LOCALS: Kind = Kind(1 << 7);
    /// `r` is undefined after it.
    const KILL_RET: Kind = Kind(1 << 8);
    /// Reads every input without naming them.
    const READ_INPUTS: Kind = Kind(1 << 9);
    /// Reads `r` without naming it.
    const READ_RET: Kind = Kind(1 << 10);

    fn has(self, other: Kind) -> bool {
        self.0 & other.0 != 0
    }

    /// The kinds of instruction that need the frame in `env` whatever the
    /// locations of their variables: `ts` and `print` when the host does
    /// them by a call.
    fn needing_frame(env: &HostEnv) -> Kind {
        let mut kinds = Kind::FRAME;
        if matches!(env.thread_pointer, ThreadPointer::Call { .. }) {
            kinds = kinds | Kind::TS;
        }
        if env.print.is_some() {
            kinds = kinds | Kind::PRINT;
        }
        kinds
    }
}

impl std::ops::BitOr for Kind {
    type Output = Kind;
    fn bitor(self, other: Kind) -> Kind {
        Kind(self.0 | other.0)
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

// ------------------------------------------------------------ liveness

/// Which of `r`, the inputs and the locals may still be read after each
/// instruction: backward liveness over the checker's control-flow graph.
///
/// Emitters use it to fuse instructions (a value read only by the next
/// instruction need not be kept), the planner to choose where `r` lives and
/// which locals must survive calls. Reads of a local that holds a known
/// `alloc` address ([`FramePlan::alloc_address`]) do not count: emitters
/// recompute the address there instead of reading the local.
#[derive(Clone, Debug, Default)]
pub struct Liveness {
    words: usize,
    inputs: u32,
    /// `words` words per instruction (`len` words): inline for small
    /// stubs (32 instructions with up to 63 variables), else on the heap.
    /// A plain array, not a small vector: it is zeroed by a few wide
    /// stores, and every access does not ask where the data lives.
    len: usize,
    inline: [u64; 32],
    heap: Vec<u64>,
}

impl Liveness {
    /// The rows, `words` words per instruction.
    #[inline]
    fn after(&self) -> &[u64] {
        match self.inline.get(..self.len) {
            Some(inline) => inline,
            None => &self.heap,
        }
    }

    fn bit(&self, i: usize, bit: u32) -> bool {
        // Out of range (an index past the stub's locals): live, the safe answer.
        self.after()
            .get(i * self.words + bit as usize / 64)
            .is_none_or(|w| w >> (bit % 64) & 1 == 1)
    }

    /// Whether `r` may be read after instruction `i`.
    #[inline]
    pub fn ret_after(&self, i: usize) -> bool {
        self.bit(i, 0)
    }

    /// Whether input `k` may be read after instruction `i`.
    #[inline]
    pub fn input_after(&self, i: usize, k: u32) -> bool {
        self.bit(i, 1 + k)
    }

    /// Whether local `k` may be read after instruction `i`.
    #[inline]
    pub fn local_after(&self, i: usize, k: u32) -> bool {
        self.bit(i, 1 + self.inputs + k)
    }

    /// Whether `v` may be read after instruction `i` (outputs and standard
    /// places are not tracked: always live).
    #[inline]
    pub fn var_after(&self, i: usize, v: Var) -> bool {
        match v {
            Var::Ret => self.ret_after(i),
            Var::Input(k) => self.input_after(i, k),
            Var::Local(k) => self.local_after(i, k),
            Var::Output(_) | Var::StdPlace(_) => true,
        }
    }

    /// Liveness after every instruction, by a backward walk over the body
    /// (repeated to a fixpoint when the control-flow graph has a loop,
    /// which the first pass finds out: `facts.acyclic`).
    /// The first pass visits every instruction once, and also gathers the
    /// rest of what the planner needs from the body into `facts`: no
    /// other analysis walks the instructions. `skip` lists the reads of
    /// locals holding a known `alloc` address, `(instruction, local, _)`
    /// sorted: they do not count.
    fn compute(&mut self, stub: &CheckedStub, skip: &[(u32, u32, u32)], facts: &mut BodyFacts) {
        let body = &stub.stub().body;
        let inputs = stub
            .stub()
            .entry
            .signature
            .typed()
            .map_or(0, |s| s.params.len() as u32);
        let locals = stub.summary().max_locals;
        let words = (1 + inputs as usize + locals as usize).div_ceil(64);
        self.words = words;
        self.inputs = inputs;
        // Every row is written by the first pass (the blocks cover the
        // body), so the rows need no clearing.
        self.len = body.len() * words;
        let after: &mut [u64] = match self.inline.get_mut(..self.len) {
            Some(inline) => inline,
            None => {
                self.heap.clear();
                self.heap.resize(self.len, 0);
                &mut self.heap
            }
        };
        let blocks = stub.blocks();
        // Each block's live-in set, on the stack for a small stub.
        let (mut live_in_inline, mut live_in_heap) = ([0u64; 16], Vec::new());
        let live_in: &mut [u64] = match live_in_inline.get_mut(..blocks.len() * words) {
            Some(inline) => inline,
            None => {
                live_in_heap.resize(blocks.len() * words, 0);
                &mut live_in_heap
            }
        };
        // Most stubs have fewer than 64 variables: one word per row. The
        // walk is inlined twice, once with `words` a constant 1, so that
        // case runs without loops over words or bounds checks (every slice
        // below is cut to `words`, so its length is known).
        #[inline(always)]
        // The arguments are the stub, its sizes and the tables the walk
        // fills, each borrowed on its own.
        #[allow(clippy::too_many_arguments)]
        fn solve(
            stub: &CheckedStub,
            words: usize,
            (inputs, locals): (u32, u32),
            skip: &[(u32, u32, u32)],
            facts: &mut BodyFacts,
            after: &mut [u64],
            live_in: &mut [u64],
            cur: &mut [u64],
        ) {
            let body = &stub.stub().body;
            let blocks = stub.blocks();
            let cur = &mut cur[..words];
            let skipped = |i: usize, k: u32| {
                !skip.is_empty()
                    && skip
                        .binary_search_by(|&(si, sk, _)| (si, sk).cmp(&(i as u32, k)))
                        .is_ok()
            };
            let bit = |v: Var| match v {
                Var::Ret => Some(0),
                Var::Input(k) if k < inputs => Some(1 + k),
                Var::Local(k) if k < locals => Some(1 + inputs + k),
                _ => None,
            };
            // Bits `lo..hi` of word `w`.
            let range = |w: usize, lo: u32, hi: u32| -> u64 {
                let base = w as u32 * 64;
                let (a, b) = (
                    lo.saturating_sub(base).min(64),
                    hi.saturating_sub(base).min(64),
                );
                if a >= b {
                    0
                } else {
                    (!0u64 >> (64 - (b - a))) << a
                }
            };
            let mut first_pass = true;
            loop {
                let mut changed = false;
                // By index: `enumerate().rev()` would recover each index
                // from the element's address (a division).
                for b in (0..blocks.len()).rev() {
                    let block = &blocks[b];
                    cur.fill(0);
                    for s in block.succs.into_iter().flatten() {
                        facts.acyclic &= s as usize > b;
                        let s = s as usize * words;
                        for (w, x) in cur.iter_mut().zip(&live_in[s..s + words]) {
                            *w |= x;
                        }
                    }
                    let (start, end) = (block.start as usize, block.end as usize);
                    let insts = body.get(start..end).unwrap_or_default();
                    let rows = after
                        .get_mut(start * words..end * words)
                        .unwrap_or_default()
                        .chunks_exact_mut(words);
                    for ((i, inst), row) in (start..end).zip(insts).zip(rows).rev() {
                        row.copy_from_slice(cur);
                        // One look at the instruction: its write clears a
                        // bit, then its reads set theirs (`operands` names
                        // the write first), and the kind says the rest.
                        let mut place_write = 0;
                        let mut reads_ret = false;
                        let kind = operands(&inst.kind, |v, written| {
                            if written {
                                place_write = BodyFacts::place_write(v);
                            }
                            let Some(b) = bit(v) else { return };
                            let (w, m) = (b as usize / 64, 1 << (b % 64));
                            if written {
                                cur[w] &= !m;
                            } else if !matches!(v, Var::Local(k) if skipped(i, k)) {
                                reads_ret |= v == Var::Ret;
                                cur[w] |= m;
                            }
                        });
                        let special =
                            Kind::KILL_LOCALS | Kind::KILL_RET | Kind::READ_INPUTS | Kind::READ_RET;
                        if kind.has(special) {
                            // These kinds write no variable. What they kill
                            // goes before what they read: `r` (bit 0) stays
                            // live when a call kills it but its target
                            // reads it (`locals` reads nothing).
                            if kind.has(Kind::KILL_RET) {
                                cur[0] = cur[0] & !1 | reads_ret as u64;
                            } else if kind.has(Kind::READ_RET) {
                                cur[0] |= 1;
                            } else {
                                // No bit past the locals' is ever set, so
                                // killing the locals keeps `r` and the
                                // inputs: one range either way.
                                let kill = kind.has(Kind::KILL_LOCALS);
                                for (w, x) in cur.iter_mut().enumerate() {
                                    let inputs_bits = range(w, 1, 1 + inputs);
                                    *x = if kill {
                                        *x & (inputs_bits | (w == 0) as u64)
                                    } else {
                                        *x | inputs_bits
                                    };
                                }
                            }
                        }
                        // Most instructions are not noted at all: that is
                        // asked first, the pass only of those that are.
                        if facts.notes(kind, place_write) && first_pass {
                            facts.note(stub, i, kind, place_write);
                        }
                    }
                    // Word by word, not a slice comparison (a call to
                    // `bcmp`, which would keep the set out of registers).
                    let at = b * words;
                    for (old, &new) in live_in[at..at + words].iter_mut().zip(cur.iter()) {
                        changed |= *old != new;
                        *old = new;
                    }
                }
                first_pass = false;
                // Edges all go forward (as the first pass found): each
                // block's successors were final before its turn in this
                // reverse pass, so it is the fixpoint.
                if facts.acyclic || !changed {
                    break;
                }
            }
        }
        let sizes = (inputs, locals);
        if words == 1 {
            // A set of its own, not a slice of either buffer: the compiler
            // then keeps it in a register.
            let mut one = [0u64; 1];
            solve(stub, 1, sizes, skip, facts, after, live_in, &mut one);
        } else {
            solve_wide(stub, words, sizes, skip, facts, after, live_in);
        }
        // Stubs with 64 variables or more: the same walk, out of line, so
        // that the one-word walk above stays short (and sets up its current
        // set only here, on the stack for up to 127 variables).
        #[cold]
        #[inline(never)]
        fn solve_wide(
            stub: &CheckedStub,
            words: usize,
            sizes: (u32, u32),
            skip: &[(u32, u32, u32)],
            facts: &mut BodyFacts,
            after: &mut [u64],
            live_in: &mut [u64],
        ) {
            let (mut cur_inline, mut cur_heap) = ([0u64; 2], Vec::new());
            let cur: &mut [u64] = match cur_inline.get_mut(..words) {
                Some(inline) => inline,
                None => {
                    cur_heap.resize(words, 0);
                    &mut cur_heap
                }
            };
            solve(stub, words, sizes, skip, facts, after, live_in, cur);
        }
    }
}

// ------------------------------------------------- the walk over the body

/// What the planner needs from the body besides liveness, gathered by the
/// liveness walk's first pass ([`Liveness::compute`]) so that no analysis
/// looks at the instructions again.
#[derive(Clone, Debug, Default)]
struct BodyFacts {
    /// Every edge of the control-flow graph goes forward ([`is_acyclic`]).
    acyclic: bool,
    /// [`Kind::needing_frame`] of the host.
    needing_frame: Kind,
    /// The kinds [`BodyFacts::note`] records something of (with those
    /// that write `r`, an input or an output): `needing_frame`, calls,
    /// `alloc` and `in2out`.
    noted: Kind,
    /// Instructions that need the frame whatever the locations of their
    /// variables ([`Kind::needing_frame`]); the planner then adds those
    /// that need it for their variables ([`FramePlan::requires_frame`]).
    requires_frame: BitSet,
    /// Reachable returning calls: the locals live after them must survive
    /// a call.
    calls: Vec<u32>,
    /// Reachable instructions that write `r`, an input or an output, or
    /// are `in2out`: the only ones that can keep `r` out of a convention's
    /// result register ([`ret_fits`]). In reverse program order; those
    /// that write `r` have [`WRITES_RET`] set, so that telling them apart
    /// needs no second look at the instruction.
    ret_writers: Vec<u32>,
    /// Some reachable `alloc`.
    any_alloc: bool,
}

impl BodyFacts {
    /// Empties the facts for a walk over `len` instructions on a host whose
    /// [`Kind::needing_frame`] is `needing_frame`, keeping their storage.
    fn reset(&mut self, len: usize, needing_frame: Kind) {
        self.acyclic = true;
        self.needing_frame = needing_frame;
        self.noted = needing_frame | Kind::CALL | Kind::ALLOC | Kind::IN2OUT;
        self.requires_frame.reset(len);
        self.calls.clear();
        self.ret_writers.clear();
        self.any_alloc = false;
    }

    /// Whether a write of `v` may keep `r` out of a convention's result
    /// register ([`BodyFacts::ret_writers`]), as a mark for that list: a
    /// write of `r` is [`WRITES_RET`], one of an input or an output 1,
    /// any other 0.
    #[inline(always)]
    fn place_write(v: Var) -> u32 {
        match v {
            Var::Ret => WRITES_RET,
            Var::Input(_) | Var::Output(_) => 1,
            Var::Local(_) | Var::StdPlace(_) => 0,
        }
    }

    /// Whether [`BodyFacts::note`] records anything of an instruction of
    /// kind `kind` whose write is `place_write` ([`BodyFacts::place_write`]).
    /// Most instructions need no frame by their kind, write neither `r`
    /// nor an input or output, and do not call or allocate.
    #[inline(always)]
    fn notes(&self, kind: Kind, place_write: u32) -> bool {
        place_write != 0 || kind.has(self.noted)
    }

    /// Notes instruction `i` of kind `kind` whose write is `place_write`
    /// ([`BodyFacts::place_write`]); asked only when [`BodyFacts::notes`]
    /// says there is something to note.
    #[inline(always)]
    fn note(&mut self, stub: &CheckedStub, i: usize, kind: Kind, place_write: u32) {
        if kind.has(self.needing_frame) {
            self.requires_frame.insert(i);
        }
        if stub.is_reachable(i) {
            if place_write != 0 || kind.has(Kind::IN2OUT) {
                self.ret_writers.push(i as u32 | place_write & WRITES_RET);
            }
            if kind.has(Kind::CALL) {
                self.calls.push(i as u32);
            }
            self.any_alloc |= kind.has(Kind::ALLOC);
        }
    }
}

/// The mark of an instruction that writes `r` in
/// [`BodyFacts::ret_writers`] (instruction indices are far below it).
const WRITES_RET: u32 = 1 << 31;

/// Whether the entry block runs framed from its start: its first
/// instruction that is not a declaration needs the frame by its kind
/// (`requires_frame`, [`BodyFacts::requires_frame`]). Code before the
/// first frame-needing instruction runs with the caller's arguments still
/// in their registers; when that instruction comes first, everything runs
/// framed anyway. Asked only by a stub short of scratch registers, so not
/// noted for every instruction by the liveness walk.
/// Whether a stub with argument registers to borrow is short of scratch
/// registers (`occupied` has taken some of `desc`'s) and framed from its
/// entry ([`framed_from_entry`]). Out of line: only `arbitrary` stubs ask.
#[inline(never)]
fn short_and_framed(
    desc: &TargetDesc,
    occupied: &Occupied,
    body: &[lil_syntax::Instruction],
    requires_frame: &BitSet,
) -> bool {
    desc.scratch_gp
        .iter()
        .filter(|&&n| !occupied.contains(Reg::gp(n)))
        .count()
        < desc.scratch_count
        && framed_from_entry(body, requires_frame)
}

fn framed_from_entry(body: &[lil_syntax::Instruction], requires_frame: &BitSet) -> bool {
    body.iter()
        .position(|inst| !operands(&inst.kind, |_, _| {}).has(Kind::DECLARATION))
        .is_some_and(|i| requires_frame.contains(i))
}

/// The variable an instruction writes, if any.
pub fn written(kind: &InstKind) -> Option<Var> {
    let mut dst = None;
    operands(kind, |v, written| {
        if written {
            dst = Some(v);
        }
    });
    dst
}

// ------------------------------------------------- alloc addresses

/// Where locals hold an `alloc` address: `(instruction, local, offset in
/// the alloc area)` for every read of a local that holds, on every path to
/// that read, the address `alloc` gave it (forward must-analysis; copies
/// between locals keep the fact). The address is a constant of the frame,
/// so an emitter recomputes it (`lea`/`add` from the stack pointer, or a
/// stack-pointer-relative address) rather than keeping it in a register,
/// which would need a callee-saved register across calls. Written into
/// `out`, emptied first.
fn alloc_addresses(stub: &CheckedStub, acyclic: bool, out: &mut Vec<(u32, u32, u32)>) {
    let body = &stub.stub().body;
    // State: (local, offset) pairs sorted by local; `None` = not reached
    // yet. Inline: a stub holds a few `alloc` addresses at a time.
    type State = SmallVec<[(u32, u32); 4]>;
    // Instruction `i` from state `st`, noting in `out` (when given) its
    // reads of locals holding a known address: one look at its operands
    // finds those reads (against the state before it) and its write.
    let step = |i: usize, kind: &InstKind, st: &mut State, out: &mut Option<&mut Vec<_>>| {
        // With no local holding an address, only `alloc` can change
        // anything (there is nothing to read, copy, forget or clear).
        if st.is_empty() && !matches!(kind, InstKind::Alloc { .. }) {
            return;
        }
        let known = |st: &State, k: u32| st.iter().find(|(l, _)| *l == k).map(|(_, o)| *o);
        // Only this instruction's entries can repeat.
        let first = out.as_ref().map_or(0, |out| out.len());
        let mut dst = None;
        operands(kind, |v, written| {
            if written {
                dst = Some(v);
            } else if let Some(out) = out.as_deref_mut()
                && let Var::Local(k) = v
                && let Some(off) = known(st, k)
                && !out[first..].contains(&(i as u32, k, off))
            {
                out.push((i as u32, k, off));
            }
        });
        let value = match kind {
            InstKind::Alloc { .. } => stub.context(i).map(|c| c.alloc_bytes()),
            InstKind::Move {
                src:
                    Operand {
                        kind: OperandKind::Var(Var::Local(k)),
                        ..
                    },
                ..
            } => known(st, *k),
            InstKind::Locals(_) => {
                st.clear();
                None
            }
            _ => None,
        };
        if let Some(Var::Local(d)) = dst {
            // The state is sorted by local, one entry each: `d`'s entry,
            // if any, is where `d` would go.
            let at = st.partition_point(|(l, _)| *l < d);
            match (st.get(at).is_some_and(|(l, _)| *l == d), value) {
                (true, Some(v)) => st[at] = (d, v),
                (true, None) => {
                    st.remove(at);
                }
                (false, Some(v)) => st.insert(at, (d, v)),
                (false, None) => {}
            }
        }
    };
    // Walks block `b` from state `st`.
    let walk = |b: &lil_check::Block, st: &mut State, mut out: Option<&mut Vec<_>>| {
        let start = b.start as usize;
        let insts = body.get(start..b.end as usize).unwrap_or_default();
        for (i, inst) in (start..).zip(insts) {
            step(i, &inst.kind, st, &mut out);
        }
    };
    let blocks = stub.blocks();
    // `smallvec!` would clone a `None` into each element one at a time.
    let mut state_in: SmallVec<[Option<State>; 8]> = if blocks.len() <= 8 {
        SmallVec::from_buf_and_len(Default::default(), blocks.len())
    } else {
        smallvec::smallvec![None; blocks.len()]
    };
    if let Some(entry) = state_in.first_mut() {
        *entry = Some(State::new());
    }
    // Room for the handful of reads a stub has: one allocation, not the
    // amortized-growth path.
    out.clear();
    out.reserve_exact(4);
    let mut changed = true;
    while changed {
        changed = false;
        for (b, block) in blocks.iter().enumerate() {
            // Edges all go forward: each block had all its predecessors
            // merged in before its turn, so this one pass is the fixpoint
            // and can note the reads as it goes (and no block's state is
            // needed after its turn).
            let state = if acyclic {
                state_in[b].take()
            } else {
                state_in[b].clone()
            };
            let Some(mut st) = state else { continue };
            walk(block, &mut st, acyclic.then_some(&mut *out));
            for s in block.succs.into_iter().flatten() {
                let s = s as usize;
                let merged = match &state_in[s] {
                    None => st.clone(),
                    Some(old) => old.iter().copied().filter(|p| st.contains(p)).collect(),
                };
                if state_in[s].as_ref() != Some(&merged) {
                    state_in[s] = Some(merged);
                    changed = true;
                }
            }
        }
        if acyclic {
            break;
        }
    }
    if !acyclic {
        for (b, block) in blocks.iter().enumerate() {
            if let Some(mut st) = state_in[b].clone() {
                walk(block, &mut st, Some(&mut *out));
            }
        }
    }
    out.sort_unstable();
}

/// Whether `r` can live in each candidate register (a convention's result
/// register, which is also an argument register; `None` is no candidate):
/// no input arriving in the register is still to be read when something
/// other than a call writes `r`, no input or output in the register is
/// written while `r` is still to be read, and in an `arbitrary` stub
/// (whose caller's arguments stay in their registers until saved) only
/// calls write `r`. Both candidates are tested in one walk over
/// `ret_writers`, the reachable instructions that write `r`, an input or
/// an output, or are `in2out` ([`BodyFacts::ret_writers`]); what an
/// instruction writes is located once for both.
fn ret_fits(
    stub: &CheckedStub,
    env: &HostEnv,
    desc: &TargetDesc,
    liveness: &Liveness,
    ret_writers: &[u32],
    inputs: &[ArgLoc],
    candidates: [Option<Reg>; 2],
) -> [bool; 2] {
    let mut fits = candidates.map(|c| c.is_some());
    let arbitrary = stub.stub().entry.signature.typed().is_none();
    // The input arriving in each candidate, if any (a register carries at
    // most one): found once, not per instruction.
    let held = candidates.map(|reg| {
        let reg = ArgLoc::Reg(reg?);
        inputs.iter().position(|&loc| loc == reg).map(|k| k as u32)
    });
    // Whether writes of `r` cannot disqualify a candidate: the stub is not
    // `arbitrary` and no input arrives in either. Most entry conventions
    // return in a register no input arrives in: then the many writes of
    // `r` are passed over at one test each.
    let ret_writes_harmless = !arbitrary && held == [None, None];
    // Most instructions write neither `r` nor an input or output and copy
    // nothing: they cannot disqualify a register, and the walk over the
    // body left them out. So did calls: a call overwrites every argument
    // register anyway (inputs read after one come from their homes).
    for &writer in ret_writers {
        if fits == [false, false] {
            break;
        }
        let i = (writer & !WRITES_RET) as usize;
        if writer & WRITES_RET != 0 {
            // A write of `r` must not destroy an input still to be read
            // (in an `arbitrary` stub, any caller's argument).
            if ret_writes_harmless {
                continue;
            }
            for ((fit, reg), held) in fits.iter_mut().zip(candidates).zip(held) {
                if reg.is_some() && (arbitrary || held.is_some_and(|k| liveness.input_after(i, k)))
                {
                    *fit = false;
                }
            }
            continue;
        }
        // A write of an argument register must not destroy `r`: asked
        // first, so that where `r` is dead (as before the call an
        // `in2out` sets up) the instruction is not looked at.
        if !liveness.ret_after(i) {
            continue;
        }
        let Some(inst) = stub.stub().body.get(i) else {
            break;
        };
        let written_regs = argument_writes(stub, env, desc, i, &inst.kind, held, candidates);
        for (fit, w) in fits.iter_mut().zip(written_regs) {
            *fit &= !w;
        }
    }
    fits
}

/// Which of `candidates` instruction `i` (of kind `kind`) writes when it
/// writes an input (`held` is the input arriving in each candidate), an
/// output or is `in2out`. Out of line: [`ret_fits`] asks only where `r`
/// is live across such an instruction, which most stubs never are.
#[inline(never)]
fn argument_writes(
    stub: &CheckedStub,
    env: &HostEnv,
    desc: &TargetDesc,
    i: usize,
    kind: &InstKind,
    held: [Option<u32>; 2],
    candidates: [Option<Reg>; 2],
) -> [bool; 2] {
    let writes = |reg: Option<Reg>, loc: Option<ArgLoc>| {
        reg.is_some_and(|reg| loc.is_none_or(|loc| loc == ArgLoc::Reg(reg)))
    };
    match written(kind) {
        Some(Var::Input(k)) => held.map(|held| held == Some(k)),
        Some(Var::Output(k)) => {
            // Where the output goes, if known (else any register).
            let loc = stub.context(i).and_then(|c| c.out()).and_then(|sig| {
                env.convention(desc, sig.cc)
                    .locate_one(&sig.params, k as usize)
            });
            candidates.map(|reg| writes(reg, loc))
        }
        _ => match kind {
            InstKind::In2Out { cc, .. } => in2out_writes(stub, env, desc, *cc, candidates),
            _ => [false; 2],
        },
    }
}

/// Which of `candidates` an `in2out` to convention `cc` writes.
fn in2out_writes(
    stub: &CheckedStub,
    env: &HostEnv,
    desc: &TargetDesc,
    cc: lil_syntax::CallConv,
    candidates: [Option<Reg>; 2],
) -> [bool; 2] {
    let params = stub
        .stub()
        .entry
        .signature
        .typed()
        .map_or(&[][..], |s| &s.params[..]);
    let mut writes = [false; 2];
    for loc in env.convention(desc, cc).arg_locs(params) {
        for (w, reg) in writes.iter_mut().zip(candidates) {
            *w |= reg.is_some_and(|reg| loc == ArgLoc::Reg(reg));
        }
    }
    writes
}

/// Whether the `push_m2n` at instruction `i` may leave `local_handles`
/// unwritten: a `handles =` follows on the straight-line path before
/// anything that could look at the frame (a call of any kind, a branch, a
/// join).
pub fn handles_set_before_use(stub: &CheckedStub, env: &HostEnv, i: usize) -> bool {
    for inst in stub.stub().body.iter().skip(i + 1) {
        match &inst.kind {
            InstKind::Handles(_) => return true,
            InstKind::Locals(_)
            | InstKind::Alloc { .. }
            | InstKind::Move { .. }
            | InstKind::Unary { .. }
            | InstKind::Binary { .. }
            | InstKind::Ld { .. }
            | InstKind::St { .. }
            | InstKind::Inc { .. } => {}
            InstKind::Ts { .. } if !matches!(env.thread_pointer, ThreadPointer::Call { .. }) => {}
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Liveness of a stub with more than 64 variables (the out-of-line
    /// walk over several words per row), a straight line copying an input
    /// from local to local: each value is live from its write to its read.
    #[test]
    fn liveness_past_one_word_follows_each_copy() {
        let text = "entry 0:managed:g4:g4;\nlocals 100;\nl70 = i0;\nl99 = l70;\nr = l99;\nret;\n";
        let stub = lil_syntax::parse(text).map(lil_check::check_owned);
        let Ok(Ok(stub)) = stub else {
            panic!("{text}: {stub:?}")
        };
        let mut liveness = Liveness::default();
        let mut facts = BodyFacts {
            acyclic: true,
            ..BodyFacts::default()
        };
        liveness.compute(&stub, &[], &mut facts);
        assert_eq!(liveness.words, 2);
        // After `locals`, `l70 = i0`, `l99 = l70`, `r = l99`, `ret`: which
        // of i0, l70, l99 and r are live.
        let want = [
            [true, false, false, false],
            [false, true, false, false],
            [false, false, true, false],
            [false, false, false, true],
            [false, false, false, false],
        ];
        for (i, want) in want.iter().enumerate() {
            let got = [
                liveness.input_after(i, 0),
                liveness.local_after(i, 70),
                liveness.local_after(i, 99),
                liveness.ret_after(i),
            ];
            assert_eq!(&got, want, "after instruction {i}");
        }
    }

    #[test]
    fn bit_sets_past_the_inline_word_behave_like_a_vec_of_bools() {
        for len in [0, 1, 63, 64, 127, 128, 129, 191, 192, 300] {
            let mut set = BitSet::new(len);
            let mut model = vec![false; len];
            for i in (0..len).filter(|i| i % 3 == 0 || i % 7 == 5) {
                set.insert(i);
                model[i] = true;
            }
            for i in 0..len + 70 {
                assert_eq!(set.contains(i), model.get(i) == Some(&true), "{len} {i}");
            }
            for lo in (0..len + 2).step_by(7) {
                for hi in (lo..len + 70).step_by(11) {
                    let first = (lo..hi.min(len)).find(|&i| model[i]);
                    assert_eq!(set.first_in(lo, hi), first, "{len} {lo}..{hi}");
                }
            }
            for (lo, hi) in [(0, len), (len / 3, len / 2), (len / 2, len), (1, 1)] {
                let (lo, hi) = (lo.min(len), hi.min(len));
                let mut ranged = set.clone();
                ranged.insert_range(lo, hi);
                for i in 0..len + 70 {
                    let want = model.get(i) == Some(&true) || (lo..hi).contains(&i);
                    assert_eq!(ranged.contains(i), want, "{len} {lo}..{hi} {i}");
                }
            }
            set.fill(len);
            for i in 0..len + 70 {
                assert_eq!(set.contains(i), i < len, "{len} {i}");
            }
        }
    }
}
