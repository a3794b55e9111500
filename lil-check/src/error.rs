//! Every rule the checker enforces, as a typed error with a stable code.
//!
//! Codes `E02xx` are errors, `W02xx` warnings. `docs/LANGUAGE.md` lists each
//! with an example; the table-driven tests check one accepted and one
//! rejected stub per code.

use lil_syntax::{Diagnostic, Span, Type};

/// A value's type as the checker sees it, for messages.
pub(crate) fn ty_name(t: Option<Type>) -> String {
    match t {
        Some(t) => t.to_string(),
        None => "undefined".to_owned(),
    }
}

/// One validity error (or warning) in a stub.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// `:L;` appears twice.
    #[error("label `{name}` is declared more than once")]
    DuplicateLabel {
        /// Label name.
        name: String,
        /// The second declaration.
        span: Span,
        /// The first declaration.
        first: Span,
    },
    /// A jump to a label that is never declared.
    #[error("label `{name}` is not declared")]
    UndeclaredLabel {
        /// Label name.
        name: String,
        /// The use.
        span: Span,
    },
    /// The last instruction can fall through.
    #[error("control can fall off the end of the stub")]
    FallsOffEnd {
        /// The last instruction (or the entry when the body is empty).
        span: Span,
    },
    /// `iK` with K beyond the entry signature.
    #[error("input i{index} does not exist: the stub has {arity} parameter(s)")]
    NoSuchInput {
        /// K.
        index: u32,
        /// Number of parameters.
        arity: usize,
        /// The use.
        span: Span,
    },
    /// An `arbitrary` stub touches its inputs.
    #[error("an `arbitrary` stub cannot read or write its inputs (i{index})")]
    InputInArbitrary {
        /// K.
        index: u32,
        /// The use.
        span: Span,
    },
    /// `ret` in a stub that cannot return.
    #[error("a stub entered with `{what}` cannot `ret`")]
    RetNotAllowed {
        /// `arbitrary` or `handler`.
        what: &'static str,
        /// The `ret`.
        span: Span,
    },
    /// `ret` where `r` does not hold the return type.
    #[error("`ret` needs r to be {expected}, but here r is {found}")]
    RetValue {
        /// The stub's return type.
        expected: String,
        /// What r is.
        found: String,
        /// The `ret`.
        span: Span,
    },
    /// `ret` with an M2N frame still pushed.
    #[error("`ret` while an M2N frame is pushed; `pop_m2n` first")]
    RetWithM2n {
        /// The `ret`.
        span: Span,
    },
    /// `call` with no `out`/`in2out` before it.
    #[error("`{kind}` needs an output area: set one up with `out` or `in2out` first")]
    CallWithoutOut {
        /// `call` or `call.noret`.
        kind: &'static str,
        /// The call.
        span: Span,
    },
    /// Writing or reading `oK` with no output area.
    #[error(
        "o{index} used with no output area (outputs exist between `out`/`in2out` and the call)"
    )]
    NoOutputArea {
        /// K.
        index: u32,
        /// The use.
        span: Span,
    },
    /// `oK` beyond the arity of the output signature.
    #[error("output o{index} does not exist: the call takes {arity} argument(s)")]
    NoSuchOutput {
        /// K.
        index: u32,
        /// Arity.
        arity: usize,
        /// The use.
        span: Span,
    },
    /// A call whose arguments are not all set on every path.
    #[error("o{index} is not set on every path to this call")]
    OutputNotSet {
        /// K.
        index: u32,
        /// The call.
        span: Span,
    },
    /// Reading an output that was not written.
    #[error("o{index} is read before it is set")]
    OutputReadBeforeSet {
        /// K.
        index: u32,
        /// The read.
        span: Span,
    },
    /// `in2out` in an `arbitrary` stub.
    #[error("`in2out` needs the stub's parameter types, which an `arbitrary` stub does not have")]
    In2OutInArbitrary {
        /// The `in2out`.
        span: Span,
    },
    /// `alloc` between `out` and the call.
    #[error("`alloc` between `out` and the call it sets up")]
    AllocInOutArea {
        /// The `alloc`.
        span: Span,
    },
    /// `push_m2n` after `alloc`.
    #[error("`push_m2n` after `alloc`: allocate after pushing the M2N frame")]
    AllocBeforePushM2n {
        /// The `push_m2n`.
        span: Span,
    },
    /// `push_m2n` with a frame already pushed.
    #[error("`push_m2n` while an M2N frame is already pushed")]
    PushM2nTwice {
        /// The `push_m2n`.
        span: Span,
    },
    /// `pop_m2n` or `m2n_save_all` without a frame.
    #[error("`{what}` without an M2N frame")]
    NoM2nFrame {
        /// The instruction name.
        what: &'static str,
        /// Where.
        span: Span,
    },
    /// `handles=` without `push_m2n ..., handles`.
    #[error("`handles =` needs a frame pushed with `push_m2n ..., handles`")]
    HandlesWithoutHandlesFrame {
        /// Where.
        span: Span,
    },
    /// `tailcall` with an M2N frame pushed.
    #[error("`tailcall` while an M2N frame is pushed; `pop_m2n` first")]
    TailcallWithM2n {
        /// The `tailcall`.
        span: Span,
    },
    /// A standard place that does not exist or holds no value here.
    #[error("sp{index} {reason}")]
    StdPlaceUnavailable {
        /// K.
        index: u32,
        /// Why.
        reason: String,
        /// The use.
        span: Span,
    },
    /// A local that does not exist or holds no value here.
    #[error("l{index} {reason}")]
    LocalUnavailable {
        /// K.
        index: u32,
        /// Why.
        reason: String,
        /// The use.
        span: Span,
    },
    /// Reading `r` where it holds no value.
    #[error(
        "r is read here but holds no value (it is set by a call with a result or by an assignment)"
    )]
    RetUndefined {
        /// The use.
        span: Span,
    },
    /// Operand types that must agree and do not.
    #[error("type mismatch in {what}: {left} and {right}")]
    TypeMismatch {
        /// What is being checked.
        what: &'static str,
        /// One type.
        left: String,
        /// The other.
        right: String,
        /// Where.
        span: Span,
    },
    /// `:T` between types of different width or class.
    #[error("cannot cast {from} to {to}: casts only relabel values of the same width and class")]
    BadCast {
        /// Type of the value.
        from: Type,
        /// Cast type.
        to: Type,
        /// The operand.
        span: Span,
    },
    /// An address base or index that is not a pointer-sized integer.
    #[error("an address {part} must be g8, pint or ref, but {var} is {ty}")]
    BadAddressPart {
        /// `base` or `index`.
        part: &'static str,
        /// The variable.
        var: String,
        /// Its type.
        ty: String,
        /// Where.
        span: Span,
    },
    /// An immediate that does not fit its type.
    #[error("immediate {value} does not fit in {ty}")]
    ImmediateTooWide {
        /// The value.
        value: i128,
        /// The type it is used at.
        ty: Type,
        /// Where.
        span: Span,
    },
    /// A floating-point value where a general-purpose one is required, or mixed classes.
    #[error("{what} needs general-purpose values, but this is {ty}")]
    FloatNotAllowed {
        /// The operation.
        what: &'static str,
        /// The float type.
        ty: Type,
        /// Where.
        span: Span,
    },
    /// A scale other than 1, 2, 4, 8.
    #[error("scale {scale} is not 1, 2, 4 or 8")]
    BadScale {
        /// The scale.
        scale: u32,
        /// The address.
        span: Span,
    },
    /// Paths meeting at a label disagree on something that must agree.
    #[error("paths meeting here disagree on {what}")]
    JoinMismatch {
        /// Which part of the frame.
        what: &'static str,
        /// The join (label) or instruction where paths meet.
        span: Span,
        /// One path: where it comes from and what it has.
        first: (Span, String),
        /// The other path.
        second: (Span, String),
    },
    /// `std_places N` beyond the portable limit.
    #[error("{count} standard places requested; the portable limit is {max}")]
    TooManyStdPlaces {
        /// Requested.
        count: u32,
        /// The limit.
        max: u32,
        /// Where.
        span: Span,
    },
    /// A handler entry with parameters or a result, or `out handler`.
    #[error("{what}")]
    BadHandlerSignature {
        /// Explanation.
        what: &'static str,
        /// Where.
        span: Span,
    },
    /// A handler tail-calls with fewer standard places than it received.
    #[error(
        "a handler must pass on the {expected} standard place(s) it received; here {found} hold values"
    )]
    HandlerStdPlaces {
        /// Received.
        expected: u32,
        /// Defined here.
        found: u32,
        /// The `tailcall`.
        span: Span,
    },
    /// `tailcall` passing pinned places the stub did not receive.
    #[error(
        "this `tailcall` passes {count} standard places, but a stub that received {received} may pass at most {max}"
    )]
    PinnedPlacesNotReceived {
        /// Passed.
        count: u32,
        /// Received at entry.
        received: u32,
        /// Allowed.
        max: u32,
        /// The `tailcall`.
        span: Span,
    },
    /// `acquire` on a store, `release` on a load, any ordering on `inc`/`cas`/`alloc`.
    #[error("{what}")]
    BadOrdering {
        /// Explanation.
        what: &'static str,
        /// The address.
        span: Span,
    },
    /// `, sx`/`, zx` on a load that is not narrow, or `sxN`/`zxN` of a narrower value.
    #[error("{what}")]
    BadExtension {
        /// Explanation.
        what: String,
        /// Where.
        span: Span,
    },
    /// `push_m2n`/`pop_m2n` between `out` and the call.
    #[error("`{what}` between `out` and the call it sets up")]
    M2nInOutArea {
        /// The instruction.
        what: &'static str,
        /// Where.
        span: Span,
    },
    /// Too much stack requested by `alloc`.
    #[error("`alloc` brings the stub's allocation to {total} bytes; the limit is {max}")]
    AllocTooLarge {
        /// Total.
        total: u64,
        /// Limit.
        max: u64,
        /// Where.
        span: Span,
    },
    /// A floating-point immediate.
    #[error("immediates are integers; a {ty} constant must be loaded from memory")]
    FloatImmediate {
        /// The float type.
        ty: Type,
        /// Where.
        span: Span,
    },
    /// An immediate shift count outside `0..=63`.
    #[error("shift count {count} is outside 0..=63")]
    ShiftCount {
        /// The count.
        count: i128,
        /// Where.
        span: Span,
    },
    /// A call target that is not a `pint`.
    #[error("a call target must be a pint, but this is {ty}")]
    BadCallTarget {
        /// Its type.
        ty: String,
        /// Where.
        span: Span,
    },
    /// A count or variable index beyond [`lil_syntax::MAX_INDEX`]. The
    /// parser never produces one (E0006); an AST built in code can.
    #[error("{what} {value} is beyond the limit of {max}")]
    BeyondLimit {
        /// What is too large.
        what: &'static str,
        /// Its value.
        value: u32,
        /// The limit.
        max: u32,
        /// Where.
        span: Span,
    },
    /// An instruction no path reaches.
    #[error("unreachable instruction")]
    Unreachable {
        /// The first unreachable instruction of a run.
        span: Span,
    },
    /// A local that is written but never read.
    #[error("l{index} is written but never read")]
    UnusedLocal {
        /// K.
        index: u32,
        /// The first write.
        span: Span,
    },
}

impl CheckError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        use CheckError::*;
        match self {
            DuplicateLabel { .. } => "E0201",
            UndeclaredLabel { .. } => "E0202",
            FallsOffEnd { .. } => "E0203",
            NoSuchInput { .. } => "E0204",
            InputInArbitrary { .. } => "E0205",
            RetNotAllowed { .. } => "E0206",
            RetValue { .. } => "E0207",
            RetWithM2n { .. } => "E0208",
            CallWithoutOut { .. } => "E0209",
            NoOutputArea { .. } => "E0210",
            NoSuchOutput { .. } => "E0211",
            OutputNotSet { .. } => "E0212",
            OutputReadBeforeSet { .. } => "E0213",
            In2OutInArbitrary { .. } => "E0214",
            AllocInOutArea { .. } => "E0215",
            AllocBeforePushM2n { .. } => "E0216",
            PushM2nTwice { .. } => "E0217",
            NoM2nFrame { .. } => "E0218",
            HandlesWithoutHandlesFrame { .. } => "E0219",
            TailcallWithM2n { .. } => "E0220",
            StdPlaceUnavailable { .. } => "E0221",
            LocalUnavailable { .. } => "E0222",
            RetUndefined { .. } => "E0223",
            TypeMismatch { .. } => "E0224",
            BadCast { .. } => "E0225",
            BadAddressPart { .. } => "E0226",
            ImmediateTooWide { .. } => "E0227",
            FloatNotAllowed { .. } => "E0228",
            BadScale { .. } => "E0229",
            JoinMismatch { .. } => "E0230",
            TooManyStdPlaces { .. } => "E0231",
            BadHandlerSignature { .. } => "E0232",
            HandlerStdPlaces { .. } => "E0233",
            PinnedPlacesNotReceived { .. } => "E0234",
            BadOrdering { .. } => "E0235",
            BadExtension { .. } => "E0236",
            M2nInOutArea { .. } => "E0237",
            AllocTooLarge { .. } => "E0238",
            FloatImmediate { .. } => "E0239",
            ShiftCount { .. } => "E0240",
            BadCallTarget { .. } => "E0241",
            BeyondLimit { .. } => "E0242",
            Unreachable { .. } => "W0201",
            UnusedLocal { .. } => "W0202",
        }
    }

    /// Whether this is only a warning.
    pub fn is_warning(&self) -> bool {
        self.code().starts_with('W')
    }

    /// The primary span.
    pub fn span(&self) -> Span {
        use CheckError::*;
        match self {
            DuplicateLabel { span, .. }
            | UndeclaredLabel { span, .. }
            | FallsOffEnd { span }
            | NoSuchInput { span, .. }
            | InputInArbitrary { span, .. }
            | RetNotAllowed { span, .. }
            | RetValue { span, .. }
            | RetWithM2n { span }
            | CallWithoutOut { span, .. }
            | NoOutputArea { span, .. }
            | NoSuchOutput { span, .. }
            | OutputNotSet { span, .. }
            | OutputReadBeforeSet { span, .. }
            | In2OutInArbitrary { span }
            | AllocInOutArea { span }
            | AllocBeforePushM2n { span }
            | PushM2nTwice { span }
            | NoM2nFrame { span, .. }
            | HandlesWithoutHandlesFrame { span }
            | TailcallWithM2n { span }
            | StdPlaceUnavailable { span, .. }
            | LocalUnavailable { span, .. }
            | RetUndefined { span }
            | TypeMismatch { span, .. }
            | BadCast { span, .. }
            | BadAddressPart { span, .. }
            | ImmediateTooWide { span, .. }
            | FloatNotAllowed { span, .. }
            | BadScale { span, .. }
            | JoinMismatch { span, .. }
            | TooManyStdPlaces { span, .. }
            | BadHandlerSignature { span, .. }
            | HandlerStdPlaces { span, .. }
            | PinnedPlacesNotReceived { span, .. }
            | BadOrdering { span, .. }
            | BadExtension { span, .. }
            | M2nInOutArea { span, .. }
            | AllocTooLarge { span, .. }
            | FloatImmediate { span, .. }
            | ShiftCount { span, .. }
            | BadCallTarget { span, .. }
            | BeyondLimit { span, .. }
            | Unreachable { span }
            | UnusedLocal { span, .. } => *span,
        }
    }

    /// As a renderable diagnostic, with notes where they help.
    pub fn to_diagnostic(&self) -> Diagnostic {
        use CheckError::*;
        let d = if self.is_warning() {
            Diagnostic::warning(self.code(), self.to_string(), self.span())
        } else {
            Diagnostic::error(self.code(), self.to_string(), self.span())
        };
        match self {
            DuplicateLabel { first, .. } => d.with_secondary(*first, "first declared here"),
            JoinMismatch { first, second, .. } => d
                .with_label("paths meet here")
                .with_secondary(first.0, first.1.clone())
                .with_secondary(second.0, second.1.clone()),
            FallsOffEnd { .. } => {
                d.with_note("a stub must end every path with `ret`, `j`, `tailcall` or `call.noret`")
            }
            BadCast { .. } => d.with_note("g8, pint and ref relabel each other; g1, g2, g4, f4 and f8 only themselves"),
            TypeMismatch { .. } => d.with_note(
                "both sides need the same type: relabel among g8, pint and ref with a cast \
                 (`l0:g8`), widen a narrow integer with sx1/sx2/sx4 or zx1/zx2/zx4 (giving a \
                 pint); an immediate without a cast takes the other side's type",
            ),
            StdPlaceUnavailable { .. } => d.with_note(
                "standard places are destroyed by calls and `pop_m2n`; copy one into a local to keep it across a call",
            ),
            PinnedPlacesNotReceived { .. } => d.with_note(
                "sp2 and sp3 live in callee-saved registers on x86-64; a stub may hand them on by `tailcall` \
                 only if it received them, and may pass them to a `call` (see LANGUAGE.md, standard places)",
            ),
            Unreachable { .. } => d.with_label("no path reaches this"),
            _ => d,
        }
    }
}

/// The errors and warnings of one stub.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// Errors and warnings, in source order.
    pub items: Vec<CheckError>,
}

/// Whether some of `items` is an error, not a warning.
pub(crate) fn any_error(items: &[CheckError]) -> bool {
    items.iter().any(|e| !e.is_warning())
}

impl Diagnostics {
    /// Errors only.
    pub fn errors(&self) -> impl Iterator<Item = &CheckError> {
        self.items.iter().filter(|e| !e.is_warning())
    }

    /// Warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &CheckError> {
        self.items.iter().filter(|e| e.is_warning())
    }

    /// Whether there is at least one error.
    #[inline]
    pub fn has_errors(&self) -> bool {
        any_error(&self.items)
    }

    /// The codes, in order (handy in tests).
    pub fn codes(&self) -> Vec<&'static str> {
        self.items.iter().map(CheckError::code).collect()
    }

    /// As renderable diagnostics.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.items.iter().map(CheckError::to_diagnostic).collect()
    }

    /// Render all with carets under `source`.
    pub fn render(&self, name: &str, source: &str) -> String {
        lil_syntax::diagnostic::render_all(&self.diagnostics(), name, source)
    }
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "[{}] {} at {:?}", e.code(), e, e.span())?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
