//! The emission driver both emitters share: it walks the checked stub,
//! decides where the frame gets set up (from the [`FramePlan`]), binds
//! labels, routes jumps that need a frame through edge stubs, records the
//! source map, and appends embedded data. An emitter only supplies the
//! ISA-specific pieces through [`IsaEmitter`].
//!
//! Invariant: before each instruction the emitter's `framed` state equals
//! `plan.framed_before(i)` (or the block's framed-on-entry state at a
//! label), so instruction code can address frame slots exactly when the
//! frame exists.

use crate::asm::Assembler;
use crate::plan::{FramePlan, Loc};
use crate::unwind::{FrameState, UnwindInfo};
use crate::{
    ArgLoc, CallingConvention, CodegenError, CompileOptions, HostEnv, RegClass, SourceMapEntry,
    TargetDesc,
};
use dynasmrt::relocations::Relocation;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi};
use lil_check::{CheckedStub, Context};
use lil_syntax::{CallKind, InstKind, LabelId, Type, Var};
use smallvec::SmallVec;

/// A [`CodegenError`] as the emitters pass it around: boxed, so that the
/// results of the per-operand helpers (a location, a value, `()`) are a
/// word or two returned in registers, not written through memory beside
/// a 32-byte error. Only an error, which valid stubs never produce, pays
/// for the box.
#[derive(Debug)]
pub struct EmitError(Box<CodegenError>);

/// What the emitters' helpers return.
pub type EmitResult<T> = Result<T, EmitError>;

impl From<CodegenError> for EmitError {
    #[cold]
    #[inline(never)]
    fn from(e: CodegenError) -> EmitError {
        EmitError(Box::new(e))
    }
}

impl From<EmitError> for CodegenError {
    #[cold]
    fn from(e: EmitError) -> CodegenError {
        *e.0
    }
}

/// The ISA-independent state of one emission.
pub struct EmitState<'a> {
    /// The stub being compiled.
    pub stub: &'a CheckedStub,
    /// Its frame plan (borrowed: the plan is large, and a reference lets
    /// emitters walk its lists while emitting).
    pub plan: &'a FramePlan,
    /// The host environment.
    pub env: &'a HostEnv,
    /// The entry's calling convention in `env`.
    pub entry_cc: &'a CallingConvention,
    /// How to generate code.
    pub options: CompileOptions,
    /// Whether the frame is set up at the current point.
    pub framed: bool,
    /// Index of the instruction being emitted.
    pub i: usize,
    /// Where the frame state changes (emitters note their prologue and
    /// epilogue steps; the driver notes the state at each instruction):
    /// the output's own, written in place. Written through
    /// [`EmitState::note_unwind`] only.
    pub unwind: &'a mut UnwindInfo,
    /// Whether `unwind` ends in [`FrameState::Saved`] (`Some(true)`) or
    /// [`FrameState::Entry`] (`Some(false)`), the two states code between
    /// instructions is in: the driver's note at each instruction mostly
    /// repeats the state in force, and this answers it with one compare.
    unwind_at_rest: Option<bool>,
    /// The per-stub tables, kept from one compile to the next.
    tables: &'a mut EmitTables,
    /// The instruction emitted with the one before it
    /// ([`EmitState::absorb_next`]), or `usize::MAX`: one index, not a
    /// set, as an instruction only ever absorbs its successor (a set was
    /// built, sized and dropped with every compile).
    absorbed: usize,
    /// The plan's tables that [`EmitState::var_loc`] reads for every
    /// operand, as slices taken once: reading a small vector asks each
    /// time whether its data is inline or on the heap.
    locals_gp: &'a [Option<Loc>],
    locals_fp: &'a [Option<Loc>],
    inputs: &'a [ArgLoc],
    input_homes: &'a [Option<i32>],
}

/// The driver's per-stub tables, kept in a [`crate::CompileScratch`]
/// between compiles: sized again for each stub ([`run`] does it) rather
/// than built and dropped with every emitter. What they hold never
/// changes an answer.
#[derive(Debug, Default)]
pub struct EmitTables {
    /// Per LIL label, its dynasm label (all created before emission).
    labels: SmallVec<[DynamicLabel; 8]>,
    /// Jumps that set the frame up on their edge: (the stub's label, the
    /// target's).
    edge_stubs: SmallVec<[(DynamicLabel, DynamicLabel); 4]>,
    /// `print` texts to append after the code.
    strings: Vec<(DynamicLabel, Vec<u8>)>,
}

/// What an emitter provides to the driver.
pub trait IsaEmitter<'a> {
    /// The target's relocation kinds.
    type Relocation: Relocation;
    /// The shared state.
    fn state(&mut self) -> &mut EmitState<'a>;
    /// The assembler the code is written into.
    fn asm(&mut self) -> &mut Assembler<Self::Relocation>;
    /// [`IsaEmitter::state`] and [`IsaEmitter::asm`] at once, for a step
    /// that writes both.
    fn state_and_asm(&mut self) -> (&mut EmitState<'a>, &mut Assembler<Self::Relocation>);
    /// Unconditional jump.
    fn jump_to(&mut self, label: DynamicLabel);
    /// Set up the frame (and set `state().framed`).
    fn prologue(&mut self) -> EmitResult<()>;
    /// Emit one instruction.
    fn instruction(&mut self, kind: &InstKind) -> EmitResult<()>;
    /// Append raw bytes (data after the code).
    fn data(&mut self, bytes: &[u8]);
}

impl<'a> EmitState<'a> {
    /// State for emitting `stub` with `plan`, noting the frame states in
    /// `unwind` (the output's, still holding an earlier compile's, whose
    /// allocations are reused; emptied by [`run`]: borrowed rather than
    /// moved in and back out, a dozen words copied twice per compile)
    /// and keeping its per-stub tables in `tables` (whatever an earlier
    /// compile left there; emptied by [`run`]).
    ///
    /// Only stores, no call: the emitter that holds the state is built
    /// with its assembler, and a call that may fail (allocate) after the
    /// assembler is made would keep the assembler aside, to be dropped on
    /// failure, and then copy its 400 bytes into place. What needs
    /// allocating is sized by [`run`], in place.
    #[inline]
    pub fn new(
        stub: &'a CheckedStub,
        desc: &'a TargetDesc,
        plan: &'a FramePlan,
        env: &'a HostEnv,
        options: CompileOptions,
        unwind: &'a mut UnwindInfo,
        tables: &'a mut EmitTables,
    ) -> EmitState<'a> {
        EmitState {
            stub,
            plan,
            env,
            entry_cc: env.convention(desc, stub.stub().entry.signature.cc()),
            options,
            framed: false,
            i: 0,
            unwind,
            unwind_at_rest: Some(false),
            tables,
            absorbed: usize::MAX,
            locals_gp: &plan.locals_gp,
            locals_fp: &plan.locals_fp,
            inputs: &plan.inputs,
            input_homes: &plan.input_homes,
        }
    }

    /// Creates the dynasm labels of the stub's labels in `asm` (the
    /// checker numbered them from 0), empties the other tables, and
    /// empties the unwind information (room for the few rows a frame
    /// notes).
    fn size_for_stub<R: Relocation>(&mut self, asm: &mut Assembler<R>) {
        let s = self.stub.stub();
        let t = &mut *self.tables;
        asm.new_dynamic_labels(s.labels.len(), &mut t.labels);
        t.edge_stubs.clear();
        t.strings.clear();
        // Each prologue and epilogue notes a few frame states.
        let rows = if self.plan.has_frame() { 16 } else { 0 };
        crate::clear_with_room(&mut self.unwind.rows, rows);
        self.unwind.saved.clear();
        self.unwind_at_rest = Some(false);
    }

    /// Where local `k` of class `class` lives: [`FramePlan::local`], read
    /// straight from the plan's table (the emitters ask for every operand;
    /// the plan's method builds the error, so a miss goes to it).
    #[inline]
    pub fn local(&self, k: u32, class: RegClass) -> EmitResult<Loc> {
        let table = match class {
            RegClass::General => self.locals_gp,
            RegClass::Float => self.locals_fp,
        };
        match table.get(k as usize) {
            Some(Some(loc)) => Ok(*loc),
            _ => Err(self.local_error(k, class)),
        }
    }

    /// The plan's error for local `k` (out of line, as every error here:
    /// building a [`CodegenError`] takes stack space, which would give
    /// [`EmitState::var_loc`] a frame).
    #[cold]
    #[inline(never)]
    fn local_error(&self, k: u32, class: RegClass) -> EmitError {
        let error = self.plan.local(k, class).err();
        error
            .unwrap_or(CodegenError::Internal("a local was given no location"))
            .into()
    }

    /// The plan's error for input `k` (out of line, as
    /// [`EmitState::local_error`]).
    #[cold]
    #[inline(never)]
    fn input_error(&self, k: u32) -> EmitError {
        let error = self.plan.input(k, self.framed).err();
        error
            .unwrap_or(CodegenError::Internal("no such input"))
            .into()
    }

    /// An internal error (out of line, as [`EmitState::local_error`]).
    #[cold]
    #[inline(never)]
    fn internal(what: &'static str) -> EmitError {
        CodegenError::Internal(what).into()
    }

    /// Where input `k` is at the current point: [`FramePlan::input`],
    /// read straight from the plan's tables for the reason given at
    /// [`EmitState::local`] (a call into the planner's crate cannot be
    /// inlined into an emitter's); a miss goes to the plan's method for
    /// its error.
    #[inline]
    pub fn input(&self, k: u32) -> EmitResult<Loc> {
        let Some(arrival) = self.inputs.get(k as usize) else {
            return Err(self.input_error(k));
        };
        if self.framed
            && let Some(Some(home)) = self.input_homes.get(k as usize)
        {
            return Ok(Loc::Frame(*home));
        }
        Ok(match arrival {
            ArgLoc::Reg(r) => Loc::Reg(*r),
            ArgLoc::Stack(off) => Loc::Incoming(*off as i32),
        })
    }

    /// Whether every input is where convention `cc` passes the parameter
    /// of its position (`params`, the stub's own) at the current point:
    /// then an `in2out` to `cc` moves nothing, as between conventions that
    /// agree while the inputs are still in their registers.
    pub fn inputs_in_place(&self, cc: &CallingConvention, params: &[Type]) -> bool {
        if std::ptr::eq(cc, self.entry_cc) {
            // The inputs arrived where `cc` passes them: in place unless
            // on the stack (where the caller left them, not the outgoing
            // area) or read from their homes.
            let homes = self.input_homes.iter();
            return self.inputs.iter().zip(homes).all(|(arrival, home)| {
                matches!(arrival, ArgLoc::Reg(_)) && !(self.framed && home.is_some())
            });
        }
        cc.arg_locs(params).enumerate().all(|(k, out)| {
            let dst = match out {
                ArgLoc::Reg(r) => Loc::Reg(r),
                ArgLoc::Stack(off) => Loc::Frame(off as i32),
            };
            self.input(k as u32).is_ok_and(|src| src == dst)
        })
    }

    /// [`FramePlan::alloc_address`] of local `k` at the current
    /// instruction. (Always asked: in a stub without `alloc` it is a
    /// search of an empty list, cheaper than a walk over the body to find
    /// that there is no `alloc`.)
    #[inline]
    pub fn alloc_address(&self, k: u32) -> Option<i32> {
        self.plan.alloc_address(self.i, k)
    }

    /// Whether the block the current instruction (a `j`, `jc` or `cas`)
    /// jumps to is framed on entry: what a jump there must set up first.
    /// The checker's control-flow graph names that block (a branch's
    /// first successor), so no label needs to be found.
    fn jump_target_framed_in(&self) -> bool {
        let block = self.stub.block_of(self.i) as usize;
        let target = self.stub.blocks().get(block).and_then(|b| b.succs[0]);
        target.is_some_and(|t| self.plan.block_framed_in(t as usize))
    }

    /// The instruction that runs right after instruction `i` with nothing
    /// placed between them (same basic block, no label, no prologue), so
    /// the two can be emitted as one (a pair of loads, an extension folded
    /// into an addition, a load folded into a comparison).
    #[inline]
    pub fn next_in_line(&self, i: usize) -> Option<usize> {
        let j = i + 1;
        let body = &self.stub.stub().body;
        let joins = matches!(body.get(j)?.kind, InstKind::Label(_));
        let prologue_between = self.plan.requires_frame(j) && !self.plan.framed_before(j);
        (self.stub.is_reachable(j)
            && !joins
            && !prologue_between
            && self.stub.block_of(j) == self.stub.block_of(i))
        .then_some(j)
    }

    /// Note that the next instruction's code has been emitted with the
    /// current one's (the two being [`EmitState::next_in_line`]): when
    /// its turn comes it emits nothing.
    pub fn absorb_next(&mut self) {
        self.absorbed = self.i + 1;
    }

    /// Whether instruction `i` was emitted with the one before it.
    #[inline]
    pub fn is_absorbed(&self, i: usize) -> bool {
        self.absorbed == i
    }

    /// Where a variable of class `class` lives at the current instruction,
    /// on the target `desc` describes: the one answer both emitters give.
    #[inline]
    pub fn var_loc(&self, desc: &TargetDesc, var: Var, class: RegClass) -> EmitResult<Loc> {
        match var {
            Var::Input(k) => self.input(k),
            Var::Local(k) => self.local(k, class),
            Var::StdPlace(k) => match desc.std_place(k) {
                Some(r) => Ok(Loc::Reg(r)),
                None => Err(Self::internal("no such standard place")),
            },
            Var::Ret => Ok(Loc::Reg(match class {
                RegClass::General => self.plan.ret_gp,
                RegClass::Float => self.plan.ret_fp,
            })),
            Var::Output(k) => self.output_loc(desc, k),
        }
    }

    /// [`EmitState::var_loc`], never inlined: for an emitter that answers
    /// its common variables inline and asks here for the others (the
    /// whole match, inlined into that answer, would make it too large to
    /// inline into the emitter's callers).
    #[inline(never)]
    pub fn var_loc_outlined(
        &self,
        desc: &TargetDesc,
        var: Var,
        class: RegClass,
    ) -> EmitResult<Loc> {
        self.var_loc(desc, var, class)
    }

    /// Where output `k` of the current `out` signature goes (out of line:
    /// asking the convention would make every `var_loc` call pay for a
    /// large frame).
    #[inline(never)]
    fn output_loc(&self, desc: &TargetDesc, k: u32) -> EmitResult<Loc> {
        let ctx = self.ctx()?;
        let sig = ctx
            .out()
            .ok_or(CodegenError::Internal("output without out"))?;
        let cc = self.env.convention(desc, sig.cc);
        match cc.locate_one(&sig.params, k as usize) {
            Some(ArgLoc::Reg(r)) => Ok(Loc::Reg(r)),
            Some(ArgLoc::Stack(off)) => Ok(Loc::Frame(off as i32)),
            None => Err(CodegenError::Internal("no such output").into()),
        }
    }

    /// The context before the current instruction. (Inlined: a caller
    /// reads one or two of its fields, and the context, returned, would
    /// be copied whole.)
    #[inline]
    pub fn ctx(&self) -> EmitResult<Context<'a>> {
        match self.stub.context(self.i) {
            Some(ctx) => Ok(ctx),
            None => Err(Self::internal("no context for a reachable instruction")),
        }
    }

    /// Note that the code from `offset` on is in frame state `state`.
    #[inline]
    pub fn note_unwind(&mut self, offset: usize, state: FrameState) {
        self.unwind.note(offset as u32, state);
        self.unwind_at_rest = match state {
            FrameState::Entry => Some(false),
            FrameState::Saved => Some(true),
            FrameState::RecordPushed | FrameState::Framed => None,
        };
    }

    /// Note a prologue's frame record pushed (the code from `pushed` on)
    /// and its frame pointer set (from `framed` on), as two
    /// [`EmitState::note_unwind`]s would.
    #[inline]
    pub fn note_frame_record(&mut self, pushed: usize, framed: usize) {
        self.unwind.note_frame_record(pushed as u32, framed as u32);
        self.unwind_at_rest = None;
    }

    /// Note the state of the code from `offset` on, an instruction's
    /// start: [`FrameState::Saved`] if the frame is set up, else
    /// [`FrameState::Entry`]; nothing when that is the state in force
    /// (which [`EmitState::note_unwind`] would also leave unchanged).
    #[inline]
    fn note_instruction_start(&mut self, offset: usize) {
        let framed = self.framed;
        if self.unwind_at_rest != Some(framed) {
            let state = if framed {
                FrameState::Saved
            } else {
                FrameState::Entry
            };
            self.note_unwind(offset, state);
        }
    }

    /// Remember bytes to append after the code at `label`.
    pub fn add_data(&mut self, label: DynamicLabel, bytes: Vec<u8>) {
        self.tables.strings.push((label, bytes));
    }
}

/// Bytes to reserve for the code of `stub` under `plan`: a generous
/// estimate, so that the assembler's buffer is allocated once instead of
/// growing (a `realloc` and a copy, several hundred host instructions)
/// as code is emitted. Both ISAs average well under 16 bytes per LIL
/// instruction; what does not scale with the instruction count is
/// budgeted apart: each register the frame saves is stored by the
/// prologue and loaded back by every epilogue (a compile-me stub saves
/// them all), and an M2N frame is some twenty stores.
#[inline]
pub fn code_capacity(stub: &CheckedStub, plan: &FramePlan) -> usize {
    let saves = plan.saved.len() + plan.arbitrary_saves.len() + plan.inputs.len();
    let m2n = if stub.summary().pushes_m2n { 256 } else { 0 };
    64 + 16 * stub.stub().body.len() + 32 * saves + m2n
}

/// The label of a LIL label.
#[inline]
pub fn label<'a, E: IsaEmitter<'a> + ?Sized>(e: &mut E, id: LabelId) -> DynamicLabel {
    match e.state().tables.labels.get(id.index()) {
        Some(l) => *l,
        None => unknown_label(e),
    }
}

/// [`label`] of a label the stub does not have (a checked stub has none):
/// a fresh label, never bound, so a jump to it fails to assemble.
#[cold]
#[inline(never)]
fn unknown_label<'a, E: IsaEmitter<'a> + ?Sized>(e: &mut E) -> DynamicLabel {
    e.asm().new_dynamic_label()
}

/// The label the current instruction's jump to `id` must use from the
/// current state: the target itself, or an edge stub that sets the frame
/// up first when the target expects a frame this path has not set up.
pub fn jump_label<'a, E: IsaEmitter<'a> + ?Sized>(e: &mut E, id: LabelId) -> DynamicLabel {
    let target = label(e, id);
    let st = e.state();
    if !st.framed && st.jump_target_framed_in() {
        let stub_label = e.asm().new_dynamic_label();
        e.state().tables.edge_stubs.push((stub_label, target));
        stub_label
    } else {
        target
    }
}

/// Whether control can fall through into instruction `i` from `i - 1`.
fn falls_into(stub: &CheckedStub, i: usize) -> bool {
    if i == 0 {
        return true;
    }
    if !stub.is_reachable(i - 1) {
        return false;
    }
    !matches!(
        stub.stub().body[i - 1].kind,
        InstKind::Jump(_)
            | InstKind::Ret
            | InstKind::Call {
                kind: CallKind::Tail | CallKind::NoReturn,
                ..
            }
    )
}

/// What every backend's [`crate::Backend::compile_into_with`] does around
/// its emitter: plan `stub` in place in `scratch` (the plan is about a
/// kilobyte, which returning it would copy), ask the backend for its
/// scratch registers (`regs`), build its emitter (`emitter`, given the
/// plan, the tables, those registers, the code buffer taken from `out`
/// and `out`'s unwind information to write in place), and [`run`] it.
/// On error `out` is emptied, as [`crate::Backend::compile_into`]
/// documents.
#[inline(always)]
pub fn compile<'a, E: IsaEmitter<'a>, Regs>(
    stub: &CheckedStub,
    desc: &TargetDesc,
    env: &HostEnv,
    out: &'a mut crate::CompiledStub,
    scratch: &'a mut crate::CompileScratch,
    regs: impl FnOnce(&FramePlan) -> Result<Regs, CodegenError>,
    emitter: impl FnOnce(&'a FramePlan, &'a mut EmitTables, Regs, Vec<u8>, &'a mut UnwindInfo) -> E,
) -> Result<(), CodegenError> {
    let (plan, tables) = scratch.plan_and_tables();
    let regs = match plan.plan(stub, desc, env).and_then(|()| regs(plan)) {
        Ok(regs) => regs,
        Err(err) => {
            out.clear();
            return Err(err);
        }
    };
    let crate::CompiledStub {
        code,
        source_map,
        data_start,
        unwind,
        ..
    } = out;
    let buffer = std::mem::take(code);
    let mut e = emitter(plan, tables, regs, buffer, unwind);
    run(&mut e, code, source_map, data_start)
}

/// Emit the whole stub into the parts of a [`crate::CompiledStub`] the emitter
/// does not hold (it writes the unwind information in place, and its
/// assembler's buffer, taken from `code`, goes back there): the code,
/// source map, data offset and unwind information, or, on error, all of
/// them emptied as [`crate::Backend::compile_into`] documents.
pub fn run<'a, E: IsaEmitter<'a>>(
    e: &mut E,
    code: &mut Vec<u8>,
    source_map: &mut Vec<SourceMapEntry>,
    data_start: &mut u32,
) -> Result<(), CodegenError> {
    let result = match emit(e, source_map) {
        Ok(start) => {
            *data_start = start;
            e.asm()
                .finalize_into(code)
                .map_err(|err| CodegenError::Assembler(format!("{err:?}")))
        }
        Err(err) => {
            *code = e.asm().take_buffer();
            Err(err)
        }
    };
    let st = e.state();
    match result {
        Ok(()) => {
            // Slots as offsets from the CFA, the frame base being
            // `frame_size` below it.
            let frame_size = st.plan.frame_size as i32;
            let saved = st.plan.saved.iter();
            st.unwind
                .saved
                .extend(saved.map(|&(r, slot)| (r, slot - frame_size)));
            Ok(())
        }
        Err(err) => {
            // As `CompiledStub::clear`.
            code.clear();
            source_map.clear();
            *data_start = 0;
            st.unwind.rows.clear();
            st.unwind.saved.clear();
            Err(err)
        }
    }
}

/// The walk [`run`] makes: every instruction's code into the assembler
/// and its bytes into `map`, then the edge stubs and the data; returns
/// the offset where data starts.
fn emit<'a, E: IsaEmitter<'a>>(
    e: &mut E,
    map: &mut Vec<SourceMapEntry>,
) -> Result<u32, CodegenError> {
    let stub = e.state().stub;
    let body = &stub.stub().body;
    let (st, asm) = e.state_and_asm();
    st.size_for_stub(asm);
    crate::clear_with_room(map, body.len());
    for (i, inst) in body.iter().enumerate() {
        e.state().i = i;
        if !stub.is_reachable(i) {
            continue;
        }
        let kind = &inst.kind;
        if let InstKind::Label(_) = kind {
            // Fall-through into a block that is framed on entry, from
            // unframed code: set the frame up on this edge only.
            let st = e.state();
            let framed_in = st.plan.block_framed_in(stub.block_of(i) as usize);
            if framed_in && !st.framed && falls_into(stub, i) {
                e.prologue()?;
            }
            e.state().framed = framed_in;
        } else {
            let st = e.state();
            st.framed = st.plan.framed_before(i);
            // Whether the instruction needs the frame is asked only
            // where there is none yet.
            if !st.framed && st.plan.requires_frame(i) {
                e.prologue()?;
            }
        }
        let start = e.asm().offset().0 as u32;
        e.state().note_instruction_start(start as usize);
        e.instruction(kind)?;
        let end = e.asm().offset().0 as u32;
        if end > start {
            map.push(SourceMapEntry {
                instruction: i as u32,
                code: start..end,
            });
        }
    }
    // By index: the stubs' prologues add no edge stub, and the table
    // stays for the next compile.
    let mut k = 0;
    while let Some(&(stub_label, target)) = e.state().tables.edge_stubs.get(k) {
        k += 1;
        e.asm().dynamic_label(stub_label);
        let at = e.asm().offset().0;
        e.state().note_unwind(at, FrameState::Entry);
        e.state().framed = false;
        e.prologue()?;
        e.jump_to(target);
    }
    let data_start = e.asm().offset().0 as u32;
    e.state()
        .note_unwind(data_start as usize, FrameState::Entry);
    // Taken out while the emitter writes them, then put back (emptied
    // by the next compile); most stubs print nothing.
    if !e.state().tables.strings.is_empty() {
        let strings = std::mem::take(&mut e.state().tables.strings);
        for (label, bytes) in &strings {
            e.asm().dynamic_label(*label);
            e.data(bytes);
        }
        e.state().tables.strings = strings;
    }
    Ok(data_start)
}
