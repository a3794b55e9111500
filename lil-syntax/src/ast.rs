//! The LIL abstract syntax tree.
//!
//! One [`Stub`] is one entry declaration followed by a body of declarations
//! and instructions, exactly as written. Every node carries a [`Span`]. The
//! AST is plain data with public fields: the parser, the `lil_parse!` macro
//! and stub generators all build it directly. It is *syntactically* complete
//! but not validated; only `lil-check` turns it into a `CheckedStub`, the
//! only thing a backend accepts.
//!
//! Immediates are stored as `i128` so that every literal LIL accepts, from
//! `-9223372036854775808` to `0xffffffffffffffff`, is represented exactly;
//! whether a value fits the type it is used at is a checker rule.

use crate::span::Span;
use std::fmt;

/// Largest index a variable (`l65535`) may have; also the largest count
/// `locals`, `std_places` and `entry` accept.
pub const MAX_INDEX: u32 = 65_535;

/// A LIL value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Type {
    /// 8-bit general-purpose value.
    G1,
    /// 16-bit general-purpose value.
    G2,
    /// 32-bit general-purpose value.
    G4,
    /// 64-bit general-purpose value.
    G8,
    /// 32-bit IEEE floating-point value.
    F4,
    /// 64-bit IEEE floating-point value.
    F8,
    /// Reference to a heap object (pointer-sized).
    Ref,
    /// Pointer-sized integer, used for pointers that are not object references.
    Pint,
}

impl Type {
    /// Every type, in declaration order.
    pub const ALL: [Type; 8] = [
        Type::G1,
        Type::G2,
        Type::G4,
        Type::G8,
        Type::F4,
        Type::F8,
        Type::Ref,
        Type::Pint,
    ];

    /// Size in bytes on the 64-bit targets LIL-rs supports.
    pub const fn size(self) -> u32 {
        match self {
            Type::G1 => 1,
            Type::G2 => 2,
            Type::G4 | Type::F4 => 4,
            Type::G8 | Type::F8 | Type::Ref | Type::Pint => 8,
        }
    }

    /// Width in bits.
    pub const fn bits(self) -> u32 {
        self.size() * 8
    }

    /// `f4` or `f8`.
    pub const fn is_float(self) -> bool {
        matches!(self, Type::F4 | Type::F8)
    }

    /// Any type that lives in a general-purpose register (everything but `f4`/`f8`).
    pub const fn is_general(self) -> bool {
        !self.is_float()
    }

    /// `g8`, `ref` or `pint`: usable as an address base or index.
    pub const fn is_pointer_sized_integer(self) -> bool {
        matches!(self, Type::G8 | Type::Ref | Type::Pint)
    }

    /// The LIL keyword for the type.
    pub const fn keyword(self) -> &'static str {
        match self {
            Type::G1 => "g1",
            Type::G2 => "g2",
            Type::G4 => "g4",
            Type::G8 => "g8",
            Type::F4 => "f4",
            Type::F8 => "f8",
            Type::Ref => "ref",
            Type::Pint => "pint",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A calling convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum CallConv {
    /// The C ABI of the target (System V x86-64, AAPCS64).
    Platform,
    /// The convention of JIT-compiled code; the C ABI unless the host describes its own.
    Managed,
    /// The convention of runtime helpers; the C ABI unless the host describes its own.
    Rth,
    /// The convention of JNI native methods: the C ABI.
    Jni,
    /// Windows `stdcall`; the C ABI on 64-bit targets.
    StdCall,
    /// An interpreter handler: entered by `tailcall` with its state in standard
    /// places, no arguments, never returns (LIL-rs extension).
    Handler,
}

impl CallConv {
    /// Every calling convention.
    pub const ALL: [CallConv; 6] = [
        CallConv::Platform,
        CallConv::Managed,
        CallConv::Rth,
        CallConv::Jni,
        CallConv::StdCall,
        CallConv::Handler,
    ];

    /// The LIL keyword for the convention.
    pub const fn keyword(self) -> &'static str {
        match self {
            CallConv::Platform => "platform",
            CallConv::Managed => "managed",
            CallConv::Rth => "rth",
            CallConv::Jni => "jni",
            CallConv::StdCall => "stdcall",
            CallConv::Handler => "handler",
        }
    }
}

impl fmt::Display for CallConv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A signature: calling convention, parameter types and return type
/// (`None` is `void`). Written `cc:T1,T2:RT`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Signature {
    /// The calling convention.
    pub cc: CallConv,
    /// Parameter types, in order.
    pub params: Vec<Type>,
    /// Return type; `None` is `void`.
    pub ret: Option<Type>,
    /// From the convention keyword to the return type.
    pub span: Span,
}

/// What follows the calling convention in an `entry` declaration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum EntrySignature {
    /// `entry N:cc:T1,T2:RT;`
    Typed(Signature),
    /// `entry N:cc:arbitrary;`: any arguments, which the stub may not read and
    /// must pass on intact; the stub may not return.
    Arbitrary {
        /// The calling convention the stub is entered with.
        cc: CallConv,
        /// From the convention keyword to `arbitrary`.
        span: Span,
    },
}

impl EntrySignature {
    /// The calling convention of the entry.
    pub fn cc(&self) -> CallConv {
        match self {
            EntrySignature::Typed(sig) => sig.cc,
            EntrySignature::Arbitrary { cc, .. } => *cc,
        }
    }

    /// The typed signature, or `None` for `arbitrary`.
    pub fn typed(&self) -> Option<&Signature> {
        match self {
            EntrySignature::Typed(sig) => Some(sig),
            EntrySignature::Arbitrary { .. } => None,
        }
    }
}

/// The `entry` declaration that starts every stub.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Entry {
    /// Number of standard places live on entry.
    pub std_places: u32,
    /// The stub's own signature.
    pub signature: EntrySignature,
    /// The whole declaration including `;`.
    pub span: Span,
}

/// A LIL variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Var {
    /// `iK`: the K-th input (argument of the stub).
    Input(u32),
    /// `lK`: the K-th local.
    Local(u32),
    /// `oK`: the K-th output (argument of the call being set up).
    Output(u32),
    /// `spK`: the K-th standard place.
    StdPlace(u32),
    /// `r`: the return variable.
    Ret,
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::Input(k) => write!(f, "i{k}"),
            Var::Local(k) => write!(f, "l{k}"),
            Var::Output(k) => write!(f, "o{k}"),
            Var::StdPlace(k) => write!(f, "sp{k}"),
            Var::Ret => f.write_str("r"),
        }
    }
}

/// A variable where it is written to (or used as an address part), with its span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Place {
    /// The variable.
    pub var: Var,
    /// The variable's text.
    pub span: Span,
}

/// The value part of an operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum OperandKind {
    /// A variable.
    Var(Var),
    /// An integer immediate, exactly as written (range checked by the checker).
    Imm(i128),
}

/// An operand: a variable or immediate with an optional cast `:T`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Operand {
    /// The variable or immediate.
    pub kind: OperandKind,
    /// The cast, if one was written.
    pub cast: Option<Type>,
    /// From the operand's first character to the end of its cast.
    pub span: Span,
}

impl Operand {
    /// An immediate operand without a cast (for building stubs in code).
    pub const fn imm(value: i128) -> Operand {
        Operand {
            kind: OperandKind::Imm(value),
            cast: None,
            span: Span::DUMMY,
        }
    }

    /// A variable operand without a cast (for building stubs in code).
    pub const fn var(var: Var) -> Operand {
        Operand {
            kind: OperandKind::Var(var),
            cast: None,
            span: Span::DUMMY,
        }
    }

    /// The same operand with a cast.
    pub const fn cast(mut self, ty: Type) -> Operand {
        self.cast = Some(ty);
        self
    }
}

/// Memory-ordering annotation of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Ordering {
    /// A plain access.
    #[default]
    Plain,
    /// `, acquire`: no later access may be performed before this load.
    Acquire,
    /// `, release`: no earlier access may be performed after this store.
    Release,
}

/// A memory address `[base + index*scale + offset : T, ordering]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Address {
    /// Base variable, if any.
    pub base: Option<Place>,
    /// Index variable and its scale, if any.
    pub index: Option<(Place, u32)>,
    /// Byte offset; the whole address when there is no base and no index.
    pub offset: i128,
    /// Type of the memory location accessed.
    pub ty: Type,
    /// Memory ordering.
    pub ordering: Ordering,
    /// From `[` to `]`.
    pub span: Span,
}

/// Extension applied by `ld` to a narrow value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Extension {
    /// `, sx`: sign-extend to 64 bits; the result is a `pint`.
    Sign,
    /// `, zx`: zero-extend to 64 bits; the result is a `pint`.
    Zero,
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum UnaryOp {
    /// `neg`: two's-complement negation.
    Neg,
    /// `not`: bitwise complement.
    Not,
    /// `sx1`: sign-extend the low byte to a `pint`.
    Sx1,
    /// `sx2`: sign-extend the low 2 bytes to a `pint`.
    Sx2,
    /// `sx4`: sign-extend the low 4 bytes to a `pint`.
    Sx4,
    /// `zx1`: zero-extend the low byte to a `pint`.
    Zx1,
    /// `zx2`: zero-extend the low 2 bytes to a `pint`.
    Zx2,
    /// `zx4`: zero-extend the low 4 bytes to a `pint`.
    Zx4,
    /// `tr1`: the low byte, as a `g1` (narrowing; no code).
    Tr1,
    /// `tr2`: the low 2 bytes, as a `g2` (narrowing; no code).
    Tr2,
    /// `tr4`: the low 4 bytes, as a `g4` (narrowing; no code).
    Tr4,
}

impl UnaryOp {
    /// Every unary operator.
    pub const ALL: [UnaryOp; 11] = [
        UnaryOp::Neg,
        UnaryOp::Not,
        UnaryOp::Sx1,
        UnaryOp::Sx2,
        UnaryOp::Sx4,
        UnaryOp::Zx1,
        UnaryOp::Zx2,
        UnaryOp::Zx4,
        UnaryOp::Tr1,
        UnaryOp::Tr2,
        UnaryOp::Tr4,
    ];

    /// The LIL keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Not => "not",
            UnaryOp::Sx1 => "sx1",
            UnaryOp::Sx2 => "sx2",
            UnaryOp::Sx4 => "sx4",
            UnaryOp::Zx1 => "zx1",
            UnaryOp::Zx2 => "zx2",
            UnaryOp::Zx4 => "zx4",
            UnaryOp::Tr1 => "tr1",
            UnaryOp::Tr2 => "tr2",
            UnaryOp::Tr4 => "tr4",
        }
    }

    /// For the extensions: the number of low bytes kept and whether the
    /// extension is signed.
    pub const fn extension(self) -> Option<(u32, bool)> {
        match self {
            UnaryOp::Sx1 => Some((1, true)),
            UnaryOp::Sx2 => Some((2, true)),
            UnaryOp::Sx4 => Some((4, true)),
            UnaryOp::Zx1 => Some((1, false)),
            UnaryOp::Zx2 => Some((2, false)),
            UnaryOp::Zx4 => Some((4, false)),
            _ => None,
        }
    }

    /// For the truncations: the type of the result.
    pub const fn truncation(self) -> Option<Type> {
        match self {
            UnaryOp::Tr1 => Some(Type::G1),
            UnaryOp::Tr2 => Some(Type::G2),
            UnaryOp::Tr4 => Some(Type::G4),
            _ => None,
        }
    }
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*` (low half of the product; the same for signed and unsigned)
    Mul,
    /// `&`
    And,
    /// `|`
    Or,
    /// `^`
    Xor,
    /// `<<`
    Shl,
    /// `>>`: arithmetic (sign-filling) right shift.
    Sar,
    /// `>>u`: logical (zero-filling) right shift.
    Shr,
}

impl BinaryOp {
    /// Every binary operator.
    pub const ALL: [BinaryOp; 9] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::And,
        BinaryOp::Or,
        BinaryOp::Xor,
        BinaryOp::Shl,
        BinaryOp::Sar,
        BinaryOp::Shr,
    ];

    /// The LIL symbol.
    pub const fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::And => "&",
            BinaryOp::Or => "|",
            BinaryOp::Xor => "^",
            BinaryOp::Shl => "<<",
            BinaryOp::Sar => ">>",
            BinaryOp::Shr => ">>u",
        }
    }

    /// Shifts take their count from the right operand, which need not have the
    /// type of the left one.
    pub const fn is_shift(self) -> bool {
        matches!(self, BinaryOp::Shl | BinaryOp::Sar | BinaryOp::Shr)
    }
}

/// A comparison predicate of `jc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Predicate {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<` (signed)
    Lt,
    /// `<=` (signed)
    Le,
    /// `>` (signed)
    Gt,
    /// `>=` (signed)
    Ge,
    /// `<u`
    Ult,
    /// `<=u`
    Ule,
    /// `>u`
    Ugt,
    /// `>=u`
    Uge,
}

impl Predicate {
    /// Every predicate.
    pub const ALL: [Predicate; 10] = [
        Predicate::Eq,
        Predicate::Ne,
        Predicate::Lt,
        Predicate::Le,
        Predicate::Gt,
        Predicate::Ge,
        Predicate::Ult,
        Predicate::Ule,
        Predicate::Ugt,
        Predicate::Uge,
    ];

    /// The LIL symbol.
    pub const fn symbol(self) -> &'static str {
        match self {
            Predicate::Eq => "=",
            Predicate::Ne => "!=",
            Predicate::Lt => "<",
            Predicate::Le => "<=",
            Predicate::Gt => ">",
            Predicate::Ge => ">=",
            Predicate::Ult => "<u",
            Predicate::Ule => "<=u",
            Predicate::Ugt => ">u",
            Predicate::Uge => ">=u",
        }
    }

    /// The predicate that holds for `b ? a` exactly when `self` holds for `a ? b`.
    pub const fn swapped(self) -> Predicate {
        match self {
            Predicate::Eq => Predicate::Eq,
            Predicate::Ne => Predicate::Ne,
            Predicate::Lt => Predicate::Gt,
            Predicate::Le => Predicate::Ge,
            Predicate::Gt => Predicate::Lt,
            Predicate::Ge => Predicate::Le,
            Predicate::Ult => Predicate::Ugt,
            Predicate::Ule => Predicate::Uge,
            Predicate::Ugt => Predicate::Ult,
            Predicate::Uge => Predicate::Ule,
        }
    }

    /// The predicate that holds exactly when `self` does not.
    pub const fn negated(self) -> Predicate {
        match self {
            Predicate::Eq => Predicate::Ne,
            Predicate::Ne => Predicate::Eq,
            Predicate::Lt => Predicate::Ge,
            Predicate::Le => Predicate::Gt,
            Predicate::Gt => Predicate::Le,
            Predicate::Ge => Predicate::Lt,
            Predicate::Ult => Predicate::Uge,
            Predicate::Ule => Predicate::Ugt,
            Predicate::Ugt => Predicate::Ule,
            Predicate::Uge => Predicate::Ult,
        }
    }

    /// Whether the predicate compares as signed integers (`=`/`!=` are neither).
    pub const fn is_signed(self) -> bool {
        matches!(
            self,
            Predicate::Lt | Predicate::Le | Predicate::Gt | Predicate::Ge
        )
    }

    /// Whether the predicate compares as unsigned integers.
    pub const fn is_unsigned(self) -> bool {
        matches!(
            self,
            Predicate::Ult | Predicate::Ule | Predicate::Ugt | Predicate::Uge
        )
    }
}

/// The condition of a `jc`: `lhs pred rhs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Condition {
    /// Left operand.
    pub lhs: Operand,
    /// The comparison.
    pub predicate: Predicate,
    /// Right operand.
    pub rhs: Operand,
    /// From `lhs` to `rhs`.
    pub span: Span,
}

/// Index of a label name in [`Stub::labels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct LabelId(pub u32);

impl LabelId {
    /// The id as an index into [`Stub::labels`].
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A use or declaration of a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct LabelRef {
    /// The label.
    pub id: LabelId,
    /// The label's name as written (or the directive that generated it).
    pub span: Span,
}

/// The kind of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum CallKind {
    /// `call`: an ordinary call; control continues after it.
    Call,
    /// `call.noret`: the callee never returns; nothing is generated after the call.
    NoReturn,
    /// `tailcall`: jump to the target with the stub's own inputs and standard places.
    Tail,
}

impl CallKind {
    /// The LIL keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            CallKind::Call => "call",
            CallKind::NoReturn => "call.noret",
            CallKind::Tail => "tailcall",
        }
    }
}

/// The message of a `print` instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PrintMessage {
    /// `print 'text'`: the text is copied into the generated code.
    Text(Box<str>),
    /// `print N`: the address of a NUL-terminated string owned by the host.
    Address(i128),
}

/// One declaration or instruction of a stub's body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Instruction {
    /// What the instruction does.
    pub kind: InstKind,
    /// The whole instruction including its `;`.
    pub span: Span,
}

/// Declarations and instructions (paper §3.2, Tables 1–3, plus the DRLVM forms).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum InstKind {
    /// `:name;`: declares a label.
    Label(LabelRef),
    /// `locals N;`: from here on there are N locals, all undefined.
    Locals(u32),
    /// `std_places N;`: from here on there are N standard places, all undefined.
    StdPlaces(u32),
    /// `alloc v, N;`: `v` gets the address of N bytes in the stub's frame.
    Alloc {
        /// Receives the address.
        dst: Place,
        /// Bytes requested.
        size: u32,
    },
    /// `v = o;`
    Move {
        /// Destination.
        dst: Place,
        /// Source.
        src: Operand,
    },
    /// `v = uop o;`
    Unary {
        /// Destination.
        dst: Place,
        /// The operator.
        op: UnaryOp,
        /// The operand.
        src: Operand,
    },
    /// `v = o1 op o2;`
    Binary {
        /// Destination.
        dst: Place,
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Operand,
        /// Right operand.
        rhs: Operand,
    },
    /// `v = ts;`: the thread pointer.
    Ts {
        /// Destination.
        dst: Place,
    },
    /// `handles = o;`: set the M2N frame's local object handles.
    Handles(Operand),
    /// `ld v, addr[, sx|zx];`
    Ld {
        /// Destination.
        dst: Place,
        /// Where to load from.
        addr: Address,
        /// Extension of a narrow value, if any.
        ext: Option<Extension>,
    },
    /// `st addr, o;`
    St {
        /// Where to store to.
        addr: Address,
        /// The value stored.
        src: Operand,
    },
    /// `inc addr;`: add one to the memory location (not atomic).
    Inc {
        /// The location.
        addr: Address,
    },
    /// `cas addr = cmp, src, label;`: atomically replace the memory value by
    /// `src` if it equals `cmp`; otherwise jump to `label`.
    Cas {
        /// The location.
        addr: Address,
        /// The expected value.
        compare: Operand,
        /// The value stored on success.
        source: Operand,
        /// Where control goes when the comparison fails.
        on_fail: LabelRef,
    },
    /// `j label;`
    Jump(LabelRef),
    /// `jc cond, label;`
    JumpIf {
        /// The condition.
        cond: Condition,
        /// Where control goes when the condition holds.
        target: LabelRef,
    },
    /// `out cc:T1,..:RT;`: set up an output area for a call.
    Out(Signature),
    /// `in2out cc:RT;`: set up an output area with the stub's own parameter
    /// types and copy the inputs into it.
    In2Out {
        /// Convention of the callee.
        cc: CallConv,
        /// Return type of the callee; `None` is `void`.
        ret: Option<Type>,
        /// From the convention to the return type.
        sig_span: Span,
    },
    /// `call o;`, `call.noret o;`, `tailcall o;`
    Call {
        /// Which kind of call.
        kind: CallKind,
        /// The address called.
        target: Operand,
    },
    /// `ret;`
    Ret,
    /// `push_m2n;`, `push_m2n M[, handles];` (paper) or `push_m2n M, FT[, handles];` (DRLVM).
    PushM2n {
        /// The method the frame belongs to (0 for none); `None` when omitted.
        method: Option<Operand>,
        /// The frame type bits; `None` when omitted (0).
        frame_type: Option<Operand>,
        /// Whether the frame owns local object handles.
        handles: bool,
    },
    /// `m2n_save_all;`
    M2nSaveAll,
    /// `pop_m2n;`
    PopM2n,
    /// `print 'text'[, o];` or `print N[, o];`
    Print {
        /// The message.
        message: PrintMessage,
        /// A value printed after the message.
        operand: Option<Operand>,
    },
}

/// A parsed LIL stub: an entry declaration and a body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Stub {
    /// The `entry` declaration.
    pub entry: Entry,
    /// Declarations and instructions in order.
    pub body: Vec<Instruction>,
    /// Label names, indexed by [`LabelId`], in order of first appearance.
    pub labels: Vec<Box<str>>,
}

impl Stub {
    /// The name of a label.
    pub fn label_name(&self, id: LabelId) -> &str {
        self.labels.get(id.index()).map_or("?", |s| s)
    }

    /// The id of the label called `name`, if the stub mentions it.
    pub fn label_id(&self, name: &str) -> Option<LabelId> {
        self.labels
            .iter()
            .position(|n| &**n == name)
            .map(|p| LabelId(p as u32))
    }
}
