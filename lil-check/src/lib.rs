//! The LIL validity checker: `Stub` → [`CheckedStub`].
//!
//! The paper's checker (§3.2) is what makes LIL safer than hand-written
//! assembly. This one is a dataflow analysis over a real control-flow
//! graph: it computes, to a fixpoint, the frame context before every
//! instruction (standard places, locals and their types, the output area,
//! the M2N state, the type of `r`, the bytes allocated), merges contexts at
//! joins as DRLVM did, and checks every rule (listed with codes in
//! `docs/LANGUAGE.md`). It reports every error it finds, not just the first.
//!
//! A [`CheckedStub`] can only be made here. It carries the stub, the context
//! before each instruction, the type each instruction operates at, and a
//! [`Summary`] of what a backend's prepass needs, so backends never
//! re-derive what the checker knew.
//!
//! ```
//! let checked = lil_check::assert_valid(
//!     "entry 0:managed:g4,pint:ref;
//!      locals 3;
//!      l0 = ts;
//!      ld r, [l0+16:ref];
//!      ld l1, [l0+24:pint];
//!      l2 = zx4 i0;
//!      l2 = r:pint + l2;
//!      jc l2 >u l1, slowpath;
//!      st [r+0:pint], i1;
//!      st [l0+16:pint], l2;
//!      ret;
//!      :slowpath;
//!      push_m2n 0;
//!      in2out platform:ref;
//!      call 0x1000;
//!      pop_m2n;
//!      ret;",
//! );
//! assert_eq!(checked.summary().max_locals, 3);
//! assert!(checked.summary().pushes_m2n);
//!
//! // Errors come with codes and spans.
//! let stub = lil_syntax::parse("entry 0:platform::g4; r = 5; l0 = r; ret;").unwrap();
//! // l0 does not exist: no `locals` declaration.
//! let errors = lil_check::check(&stub).unwrap_err();
//! assert_eq!(errors.codes(), ["E0222"]);
//! ```

#![warn(missing_docs)]

mod error;
mod flow;
mod liveness;
mod state;

pub use error::{CheckError, Diagnostics};
pub use state::{Clobbers, M2nState};

pub use flow::Block;
use flow::{Buffers, Facts, Flow, InstFacts};
use lil_syntax::{Signature, Span, Stub, Type};
use state::Ty;

/// How many standard places a stub may have: the same on every target.
pub const MAX_STD_PLACES: u32 = 4;

/// How many standard places any stub may pass by `tailcall` (`sp0`, `sp1`);
/// `sp2` and `sp3` only a stub that received them.
pub const PASSABLE_SCRATCH_PLACES: u32 = 2;

/// The most bytes `alloc` may reserve in one frame.
pub const MAX_ALLOC_BYTES: u32 = 1 << 20;

/// Check a stub; on success the result owns a copy of it.
pub fn check(stub: &Stub) -> Result<CheckedStub, Diagnostics> {
    let mut flow = Flow::new(stub, None);
    analyze(&mut flow)?;
    let Flow {
        facts,
        summary,
        errors,
        ..
    } = flow;
    Ok(CheckedStub::new(stub.clone(), facts, summary, errors))
}

/// Check a stub, taking ownership (no copy). The same check as
/// [`Checker::check`], in new memory that the result keeps.
pub fn check_owned(stub: Stub) -> Result<CheckedStub, Diagnostics> {
    let mut flow = Flow::new(&stub, None);
    analyze(&mut flow)?;
    let Flow {
        facts,
        summary,
        errors,
        ..
    } = flow;
    Ok(CheckedStub::new(stub, facts, summary, errors))
}

/// Buffers for checking many stubs one after another: what a check
/// fills (the facts behind [`CheckedStub`]'s answers, the [`Summary`]'s
/// vectors) and its working memory. A VM that generates stubs checks
/// them all with one `Checker` and gives each checked stub back with
/// [`Checker::recycle`] once its code is emitted; checking then
/// allocates only while the buffers grow. The answers are the same as
/// [`check_owned`]'s, whatever the buffers held before.
///
/// ```
/// let mut checker = lil_check::Checker::new();
/// let mut stub = lil_syntax::parse("entry 0:platform:pint:pint; r = i0; ret;").unwrap();
/// for _ in 0..3 {
///     let checked = checker.check(stub).unwrap();
///     assert_eq!(checked.summary().max_locals, 0);
///     // ... emit code from `checked` ...
///     stub = checker.recycle(checked);
/// }
/// ```
#[derive(Debug, Default)]
pub struct Checker {
    buffers: Buffers,
}

impl Checker {
    /// A checker with no buffers yet: the first checks allocate them.
    pub fn new() -> Checker {
        Checker::default()
    }

    /// Same answer as `check_owned(stub)`, reusing this checker's buffers.
    pub fn check(&mut self, stub: Stub) -> Result<CheckedStub, Diagnostics> {
        let mut flow = Flow::new(&stub, Some(&mut self.buffers));
        analyze(&mut flow)?;
        let Flow {
            facts,
            summary,
            errors,
            ..
        } = flow;
        Ok(CheckedStub::new(stub, facts, summary, errors))
    }

    /// Take back the buffers of a stub checked earlier (by any checker)
    /// for the next `check`, and hand back its `Stub` (whose own buffers
    /// the caller may parse into again).
    pub fn recycle(&mut self, mut checked: CheckedStub) -> Stub {
        self.keep_buffers(&mut checked);
        checked.stub
    }

    /// [`Checker::recycle`] of the stub in `slot`, if there is one, which
    /// is left empty. Where the caller keeps its checked stub in an
    /// `Option` (as `lil::Compiler` does), the buffers are taken back
    /// where the checked stub lies, and it is not first moved (some 300
    /// bytes) into a by-value argument.
    ///
    /// ```
    /// let mut checker = lil_check::Checker::new();
    /// let stub = lil_syntax::parse("entry 0:platform:pint:pint; r = i0; ret;").unwrap();
    /// let mut slot = Some(checker.check(stub.clone()).unwrap());
    /// let again = checker.recycle_from(&mut slot).unwrap();
    /// assert!(slot.is_none() && again == stub);
    /// assert!(checker.recycle_from(&mut slot).is_none());
    /// ```
    #[inline]
    pub fn recycle_from(&mut self, slot: &mut Option<CheckedStub>) -> Option<Stub> {
        self.keep_buffers(slot.as_mut()?);
        slot.take().map(CheckedStub::into_stub)
    }

    /// Takes back the buffers `checked` holds, where they are larger than
    /// this checker's.
    #[inline(always)]
    fn keep_buffers(&mut self, checked: &mut CheckedStub) {
        let summary = &mut checked.summary;
        self.buffers.keep(
            &mut checked.facts,
            &mut summary.locals,
            &mut summary.call_signatures,
        );
    }
}

/// Checks `c`'s stub: on success `c` holds what the checker learned
/// (its facts and summary) and the warnings (its `errors`); on failure
/// its buffers, if it has some, take back what the check filled.
// Inlined into its callers, which then move the results from the `Flow`
// straight into the `CheckedStub` (facts, summary and warnings are some
// 200 bytes: a result returned from here would be copied once more).
#[inline(always)]
fn analyze(c: &mut Flow<'_>) -> Result<(), Diagnostics> {
    // Most stubs are valid and jump only forward: one pass checks them.
    // Anything else takes the general path, from scratch. (A loop is
    // found at its backward jump: the work before it is lost, which costs
    // less than a pass to look for loops first would cost every stub.)
    if c.check_forward().is_err() {
        c.restart();
        if let Err(e) = c.build_cfg() {
            c.give_back();
            return Err(Diagnostics { items: vec![e] });
        }
        c.run();
    }
    let stub = c.stub;
    // (`ret_seen` has the signatures' return types too: `r` written by a
    // call that is the last instruction before a terminal is visible in
    // no context.)
    c.summary.ret_float |= c.ret_seen & Ty::FLOAT_SET != 0;
    c.summary.ret_general |= c.ret_seen & Ty::GENERAL_SET != 0;
    // Warnings: locals written but never read, at their first write
    // (mostly none: one test of the sets first).
    if c.local_written.has_any_not_in(&c.local_read) {
        for k in 0..c.summary.max_locals {
            if c.local_written.contains(k)
                && !c.local_read.contains(k)
                && let Some(span) = first_write(stub, &c.facts, k)
            {
                c.errors.push(CheckError::UnusedLocal { index: k, span });
            }
        }
    }
    // Mostly there is nothing to sort or to look through: one test.
    if !c.errors.is_empty() {
        c.errors.sort_by_key(|e| (e.span().start, e.is_warning()));
        if error::any_error(&c.errors) {
            let items = std::mem::take(&mut c.errors);
            c.give_back();
            return Err(Diagnostics { items });
        }
    }
    c.trim_signatures();
    // Without a call at which a local holds a value, no local is live
    // across a call. With every edge forward, a local live after a call
    // is read by a later instruction: none is when no local is read
    // after the first such call.
    if let Some(first_call) = c.first_call
        && !(c.acyclic && c.last_local_read <= first_call)
    {
        let mut new_sets = Vec::new();
        let live_sets = match c.buffers.as_deref_mut() {
            Some(buffers) => &mut buffers.spare.live_sets,
            None => &mut new_sets,
        };
        uses_across_calls(
            stub,
            &c.facts,
            c.acyclic,
            first_call,
            &mut c.summary.locals,
            live_sets,
        );
    }
    Ok(())
}

/// Parse and check `text`, panicking with the rendered diagnostics if it is
/// not a valid stub. Meant for VM authors' unit tests.
#[track_caller]
pub fn assert_valid(text: &str) -> CheckedStub {
    let stub = match lil_syntax::parse(text) {
        Ok(s) => s,
        Err(e) => panic!("stub does not parse:\n{}", e.render("stub", text)),
    };
    match check_owned(stub) {
        Ok(c) => c,
        Err(d) => panic!("stub is not valid:\n{}", d.render("stub", text)),
    }
}

/// Parse and check `text`, panicking unless the checker rejects it with
/// exactly the error codes `codes` (in source order). For unit tests.
#[track_caller]
pub fn assert_invalid(text: &str, codes: &[&str]) -> Diagnostics {
    let stub = match lil_syntax::parse(text) {
        Ok(s) => s,
        Err(e) => panic!("stub does not parse:\n{}", e.render("stub", text)),
    };
    match check_owned(stub) {
        Ok(_) => panic!("stub was accepted, expected {codes:?}:\n{text}"),
        Err(d) => {
            let got: Vec<&str> = d.errors().map(CheckError::code).collect();
            assert_eq!(got, codes, "\n{}", d.render("stub", text));
            d
        }
    }
}

/// How a local index is used across the stub.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalUse {
    /// Holds a general-purpose value somewhere.
    pub general: bool,
    /// Holds a floating-point value somewhere.
    pub float: bool,
    /// Holds a general-purpose value that is live across a `call`.
    pub general_across_call: bool,
    /// Holds a floating-point value that is live across a `call`.
    pub float_across_call: bool,
}

/// What a backend's prepass needs to know, computed once by the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Largest number of locals at any point.
    pub max_locals: u32,
    /// Per local index, how it is used.
    pub locals: Vec<LocalUse>,
    /// Standard places received at entry.
    pub entry_std_places: u32,
    /// Largest number of standard places at any point.
    pub max_std_places: u32,
    /// Bit k set: the stub writes `spK`.
    pub std_places_written: u32,
    /// Largest number of bytes allocated by `alloc` at any point.
    pub alloc_bytes: u32,
    /// Makes a `call` or `call.noret`.
    pub calls: bool,
    /// Makes a `call` that returns.
    pub returning_calls: bool,
    /// Makes a `tailcall`.
    pub tail_calls: bool,
    /// Has a `ret`.
    pub returns: bool,
    /// Pushes an M2N frame.
    pub pushes_m2n: bool,
    /// Pushes an M2N frame with handles.
    pub m2n_handles: bool,
    /// Reads the thread pointer (`ts`).
    pub uses_ts: bool,
    /// Has `print`.
    pub prints: bool,
    /// Reads an input (or copies them with `in2out`).
    pub reads_inputs: bool,
    /// What may have clobbered argument registers before some input read.
    pub input_reads_after: Clobbers,
    /// Assigns to an input.
    pub writes_inputs: bool,
    /// `r` holds a general-purpose value somewhere.
    pub ret_general: bool,
    /// `r` holds a floating-point value somewhere.
    pub ret_float: bool,
    /// Every output signature set up by `out`/`in2out`, without duplicates.
    pub call_signatures: Vec<Signature>,
}

/// A stub that passed the checker, with everything it learned.
#[derive(Clone, Debug)]
pub struct CheckedStub {
    stub: Stub,
    facts: Facts,
    summary: Summary,
    warnings: Vec<CheckError>,
}

impl CheckedStub {
    // Out of line: the caller's `Ok` then has it built in place, not
    // built on the stack and copied (it is some 300 bytes).
    #[inline(never)]
    fn new(stub: Stub, facts: Facts, summary: Summary, warnings: Vec<CheckError>) -> CheckedStub {
        CheckedStub {
            stub,
            facts,
            summary,
            warnings,
        }
    }

    /// The stub.
    #[inline]
    pub fn stub(&self) -> &Stub {
        &self.stub
    }

    /// The stub, giving up the analysis.
    #[inline]
    pub fn into_stub(self) -> Stub {
        self.stub
    }

    /// What the prepass needs.
    #[inline]
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Warnings (unreachable code, locals never read).
    pub fn warnings(&self) -> &[CheckError] {
        &self.warnings
    }

    /// Whether any path reaches instruction `i` of the body.
    #[inline]
    pub fn is_reachable(&self, i: usize) -> bool {
        self.facts.insts.get(i).is_some_and(|f| f.reachable)
    }

    /// The context before instruction `i`, or `None` if it is unreachable.
    #[inline]
    pub fn context(&self, i: usize) -> Option<Context<'_>> {
        let facts = self.facts.insts.get(i).filter(|f| f.reachable)?;
        Some(Context {
            facts: *facts,
            arena: &self.facts.arena,
            sigs: &self.summary.call_signatures,
        })
    }

    /// The type instruction `i` operates at: the value moved, the result of
    /// an operation, the type compared, loaded, stored, `inc`ed or `cas`ed,
    /// the type returned, the operand printed. `None` where it has none.
    #[inline]
    pub fn op_type(&self, i: usize) -> Option<Type> {
        self.facts.insts.get(i).and_then(|f| f.op_type.get())
    }

    /// The basic blocks, as ranges of instruction indices, in program order.
    pub fn basic_blocks(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.facts
            .blocks
            .iter()
            .map(|b| b.start as usize..b.end as usize)
    }

    /// The basic blocks with their successors (the control-flow graph).
    #[inline]
    pub fn blocks(&self) -> &[Block] {
        &self.facts.blocks
    }

    /// The basic block instruction `i` belongs to.
    #[inline]
    pub fn block_of(&self, i: usize) -> u32 {
        self.facts.insts.get(i).map_or(0, |f| f.block)
    }

    /// The span of instruction `i`.
    #[inline]
    pub fn span(&self, i: usize) -> Span {
        self.stub.body.get(i).map_or(Span::DUMMY, |inst| inst.span)
    }
}

/// The frame context before one instruction.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    facts: InstFacts,
    arena: &'a [Ty],
    sigs: &'a [Signature],
}

impl<'a> Context<'a> {
    /// Number of standard places.
    #[inline]
    pub fn num_std_places(&self) -> u32 {
        self.facts.frame.std.len() as u32
    }

    /// Type of `spK`, `None` if it does not exist or holds no value.
    #[inline]
    pub fn std_place(&self, k: u32) -> Option<Type> {
        if k >= self.num_std_places() {
            return None;
        }
        self.facts.frame.std.get(k as usize)?.get()
    }

    /// Number of locals.
    #[inline]
    pub fn num_locals(&self) -> u32 {
        self.facts.frame.locals_len.into()
    }

    /// Type of `lK`, `None` if it does not exist or holds no value.
    #[inline]
    pub fn local(&self, k: u32) -> Option<Type> {
        self.facts.local(self.arena, k).get()
    }

    /// The output area's signature, between `out`/`in2out` and the call.
    #[inline]
    pub fn out(&self) -> Option<&'a Signature> {
        self.sigs.get(self.facts.frame.out()? as usize)
    }

    /// The M2N state.
    #[inline]
    pub fn m2n(&self) -> M2nState {
        self.facts.frame.m2n
    }

    /// Type of `r`, `None` when it holds no value.
    #[inline]
    pub fn ret(&self) -> Option<Type> {
        self.facts.frame.ret.get()
    }

    /// Bytes allocated by `alloc` so far.
    #[inline]
    pub fn alloc_bytes(&self) -> u32 {
        self.facts.frame.alloc
    }
}

/// The destination of the first write to `lK` where it exists, in program
/// order (the order of the checking pass).
fn first_write(stub: &Stub, facts: &Facts, k: u32) -> Option<Span> {
    use lil_syntax::{InstKind, Var};
    stub.body.iter().zip(&facts.insts).find_map(|(inst, f)| {
        let dst = match &inst.kind {
            InstKind::Alloc { dst, .. }
            | InstKind::Move { dst, .. }
            | InstKind::Unary { dst, .. }
            | InstKind::Binary { dst, .. }
            | InstKind::Ts { dst }
            | InstKind::Ld { dst, .. } => dst,
            _ => return None,
        };
        (f.reachable && dst.var == Var::Local(k) && k < u32::from(f.frame.locals_len))
            .then_some(dst.span)
    })
}

/// Which locals hold a value of each class across a `call`.
fn uses_across_calls(
    stub: &Stub,
    facts: &Facts,
    acyclic: bool,
    first_call: u32,
    uses: &mut [LocalUse],
    live_sets: &mut Vec<u64>,
) {
    let max_locals = uses.len() as u32;
    let (blocks, insts) = (&facts.blocks, &facts.insts);
    let cfg = liveness::Cfg {
        blocks,
        insts,
        acyclic,
    };
    liveness::live_across_calls(
        stub,
        cfg,
        max_locals,
        first_call,
        live_sets,
        |call, live| {
            let Some(f) = facts.insts.get(call as usize) else {
                return;
            };
            for k in live.iter() {
                if let (Some(t), Some(u)) =
                    (f.local(&facts.arena, k).get(), uses.get_mut(k as usize))
                {
                    if t.is_float() {
                        u.float_across_call = true;
                    } else {
                        u.general_across_call = true;
                    }
                }
            }
        },
    );
}
