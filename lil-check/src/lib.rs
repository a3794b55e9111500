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
use flow::{Checker, Facts, NO_OUT, Snapshot};
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
    check_owned(stub.clone())
}

/// The first count or variable index of `stub` beyond
/// [`lil_syntax::MAX_INDEX`], as an error. Such a stub can only come from an
/// AST built in code; checking it further would size per-instruction
/// contexts by the bad count.
fn beyond_limits(stub: &Stub) -> Option<CheckError> {
    use lil_syntax::{InstKind, MAX_INDEX, Operand, OperandKind, Place, Var};
    let var = |v: Var, span: Span| match v {
        Var::Input(k) | Var::Local(k) | Var::Output(k) | Var::StdPlace(k) if k > MAX_INDEX => {
            Some(CheckError::BeyondLimit {
                what: "a variable index",
                value: k,
                max: MAX_INDEX,
                span,
            })
        }
        _ => None,
    };
    let place = |p: &Place| var(p.var, p.span);
    let operand = |o: &Operand| match o.kind {
        OperandKind::Var(v) => var(v, o.span),
        OperandKind::Imm(_) => None,
    };
    let address = |a: &lil_syntax::Address| {
        a.base
            .as_ref()
            .and_then(place)
            .or_else(|| a.index.as_ref().and_then(|(p, _)| place(p)))
    };
    let count = |what: &'static str, n: u32, span: Span| {
        (n > MAX_INDEX).then_some(CheckError::BeyondLimit {
            what,
            value: n,
            max: MAX_INDEX,
            span,
        })
    };
    if let Some(e) = count(
        "the standard-place count",
        stub.entry.std_places,
        stub.entry.span,
    ) {
        return Some(e);
    }
    stub.body.iter().find_map(|i| match &i.kind {
        InstKind::Locals(n) => count("the local count", *n, i.span),
        InstKind::StdPlaces(n) => count("the standard-place count", *n, i.span),
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
    })
}

/// Check a stub, taking ownership (no copy).
pub fn check_owned(stub: Stub) -> Result<CheckedStub, Diagnostics> {
    if let Some(e) = beyond_limits(&stub) {
        return Err(Diagnostics { items: vec![e] });
    }
    let (facts, mut items) = {
        let mut c = Checker::new(&stub);
        c.build_cfg();
        c.run();
        (c.facts, c.errors)
    };
    let local_use = local_use(&stub, &facts);
    // Warnings: locals written but never read.
    for (k, first) in facts.local_first_write.iter().enumerate() {
        if let Some(span) = first
            && !facts.local_read.contains(k as u32)
        {
            items.push(CheckError::UnusedLocal {
                index: k as u32,
                span: *span,
            });
        }
    }
    items.sort_by_key(|e| (e.span().start, e.is_warning()));
    let diagnostics = Diagnostics { items };
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let summary = summarize(&stub, &facts, local_use);
    Ok(CheckedStub {
        stub,
        facts,
        summary,
        warnings: diagnostics.items,
    })
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
    /// The stub.
    pub fn stub(&self) -> &Stub {
        &self.stub
    }

    /// The stub, giving up the analysis.
    pub fn into_stub(self) -> Stub {
        self.stub
    }

    /// What the prepass needs.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Warnings (unreachable code, locals never read).
    pub fn warnings(&self) -> &[CheckError] {
        &self.warnings
    }

    /// Whether any path reaches instruction `i` of the body.
    pub fn is_reachable(&self, i: usize) -> bool {
        self.facts.reachable.get(i).copied().unwrap_or(false)
    }

    /// The context before instruction `i`, or `None` if it is unreachable.
    pub fn context(&self, i: usize) -> Option<Context<'_>> {
        if !self.is_reachable(i) {
            return None;
        }
        self.facts.snapshots.get(i).map(|snap| Context {
            snap: *snap,
            arena: &self.facts.arena,
            sigs: &self.facts.sigs,
        })
    }

    /// The type instruction `i` operates at: the value moved, the result of
    /// an operation, the type compared, loaded, stored, `inc`ed or `cas`ed,
    /// the type returned, the operand printed. `None` where it has none.
    pub fn op_type(&self, i: usize) -> Option<Type> {
        self.facts.op_types.get(i).and_then(|t| t.get())
    }

    /// The basic blocks, as ranges of instruction indices, in program order.
    pub fn basic_blocks(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.facts
            .blocks
            .iter()
            .map(|b| b.start as usize..b.end as usize)
    }

    /// The basic blocks with their successors (the control-flow graph).
    pub fn blocks(&self) -> &[Block] {
        &self.facts.blocks
    }

    /// The basic block instruction `i` belongs to.
    pub fn block_of(&self, i: usize) -> u32 {
        self.facts.block_of_inst.get(i).copied().unwrap_or(0)
    }

    /// The span of instruction `i`.
    pub fn span(&self, i: usize) -> Span {
        self.stub.body.get(i).map_or(Span::DUMMY, |inst| inst.span)
    }
}

/// The frame context before one instruction.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    snap: Snapshot,
    arena: &'a [Ty],
    sigs: &'a [Signature],
}

impl<'a> Context<'a> {
    /// Number of standard places.
    pub fn num_std_places(&self) -> u32 {
        self.snap.std_len
    }

    /// Type of `spK`, `None` if it does not exist or holds no value.
    pub fn std_place(&self, k: u32) -> Option<Type> {
        if k >= self.snap.std_len {
            return None;
        }
        self.arena.get((self.snap.std_start + k) as usize)?.get()
    }

    /// Number of locals.
    pub fn num_locals(&self) -> u32 {
        self.snap.locals_len
    }

    /// Type of `lK`, `None` if it does not exist or holds no value.
    pub fn local(&self, k: u32) -> Option<Type> {
        if k >= self.snap.locals_len {
            return None;
        }
        self.arena.get((self.snap.locals_start + k) as usize)?.get()
    }

    /// The output area's signature, between `out`/`in2out` and the call.
    pub fn out(&self) -> Option<&'a Signature> {
        if self.snap.out == NO_OUT {
            return None;
        }
        self.sigs.get(self.snap.out as usize)
    }

    /// The M2N state.
    pub fn m2n(&self) -> M2nState {
        self.snap.m2n
    }

    /// Type of `r`, `None` when it holds no value.
    pub fn ret(&self) -> Option<Type> {
        self.snap.ret.get()
    }

    /// Bytes allocated by `alloc` so far.
    pub fn alloc_bytes(&self) -> u32 {
        self.snap.alloc
    }
}

fn local_use(stub: &Stub, facts: &Facts) -> Vec<LocalUse> {
    let mut uses = vec![LocalUse::default(); facts.max_locals as usize];
    for (i, snap) in facts.snapshots.iter().enumerate() {
        if !facts.reachable.get(i).copied().unwrap_or(false) {
            continue;
        }
        for k in 0..snap.locals_len {
            if let Some(t) = facts
                .arena
                .get((snap.locals_start + k) as usize)
                .and_then(|t| t.get())
            {
                let u = &mut uses[k as usize];
                if t.is_float() {
                    u.float = true;
                } else {
                    u.general = true;
                }
            }
        }
    }
    for (call, live) in
        liveness::live_across_calls(stub, &facts.blocks, &facts.reachable, facts.max_locals)
    {
        let Some(snap) = facts.snapshots.get(call as usize) else {
            continue;
        };
        for k in live.iter() {
            if k >= snap.locals_len {
                continue;
            }
            if let Some(t) = facts
                .arena
                .get((snap.locals_start + k) as usize)
                .and_then(|t| t.get())
            {
                let u = &mut uses[k as usize];
                if t.is_float() {
                    u.float_across_call = true;
                } else {
                    u.general_across_call = true;
                }
            }
        }
    }
    uses
}

fn summarize(stub: &Stub, facts: &Facts, locals: Vec<LocalUse>) -> Summary {
    use lil_syntax::{CallKind, InstKind};
    let mut s = Summary {
        max_locals: facts.max_locals,
        locals,
        entry_std_places: stub.entry.std_places,
        max_std_places: facts.max_std,
        std_places_written: facts.std_written,
        alloc_bytes: facts.max_alloc,
        calls: false,
        returning_calls: false,
        tail_calls: false,
        returns: false,
        pushes_m2n: false,
        m2n_handles: false,
        uses_ts: false,
        prints: false,
        reads_inputs: facts.reads_inputs,
        input_reads_after: facts.input_reads_after,
        writes_inputs: facts.writes_inputs,
        ret_general: false,
        ret_float: false,
        call_signatures: facts.sigs.clone(),
    };
    for (i, inst) in stub.body.iter().enumerate() {
        if !facts.reachable.get(i).copied().unwrap_or(false) {
            continue;
        }
        match &inst.kind {
            InstKind::Call { kind, .. } => match kind {
                CallKind::Call => {
                    s.calls = true;
                    s.returning_calls = true;
                }
                CallKind::NoReturn => s.calls = true,
                CallKind::Tail => s.tail_calls = true,
            },
            InstKind::Ret => s.returns = true,
            InstKind::PushM2n { handles, .. } => {
                s.pushes_m2n = true;
                s.m2n_handles |= *handles;
            }
            InstKind::Ts { .. } => s.uses_ts = true,
            InstKind::Print { .. } => s.prints = true,
            _ => {}
        }
        if let Some(t) = facts.snapshots.get(i).and_then(|snap| snap.ret.get()) {
            if t.is_float() {
                s.ret_float = true;
            } else {
                s.ret_general = true;
            }
        }
    }
    // `r` written by the last instruction before a terminal is visible in the
    // snapshot of that terminal; calls define r too.
    for sig in &facts.sigs {
        match sig.ret {
            Some(t) if t.is_float() => s.ret_float = true,
            Some(_) => s.ret_general = true,
            None => {}
        }
    }
    s
}
