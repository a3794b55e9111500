//! Runtime constants: the paper's printf-like directives, as typed values.
//!
//! `%Ni` stands for an integer (an immediate, an offset, a count, or a
//! variable index as in `o%1i`); `%Nm` and `%Nj` stand for the managed and
//! JNI signatures of a method, produced from a host-provided
//! [`MethodDescriptor`]. `N` is the position of the [`Arg`] in the argument
//! slice. A directive that names a missing argument or one of the wrong
//! kind, and an argument no directive uses, are errors naming the directive.
//!
//! The label directives `%g` (generate a new label), `%p` (the current one),
//! `%n` (the next one) and `%o` (the one after) take no argument; their
//! counter lives in the [`crate::StubBuilder`], so it carries across appended
//! fragments as DRLVM's `lil_parse_onto_end` did.

use crate::ast::Type;
use crate::error::SyntaxErrorKind;
use crate::span::Span;

/// The Java-level kind of a method parameter or result, from which the
/// managed and JNI signatures are derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// `boolean`
    Boolean,
    /// `byte`
    Byte,
    /// `char`
    Char,
    /// `short`
    Short,
    /// `int`
    Int,
    /// `long`
    Long,
    /// `float`
    Float,
    /// `double`
    Double,
    /// An object or array reference.
    Reference,
    /// A raw pointer-sized value (DRLVM's intptr, managed and unmanaged pointers).
    Pointer,
    /// `void` (results only).
    Void,
}

impl ValueKind {
    /// The managed (JIT-code) type of the kind; `None` for `void`.
    pub fn managed_type(self) -> Option<Type> {
        Some(match self {
            ValueKind::Boolean | ValueKind::Byte => Type::G1,
            ValueKind::Char | ValueKind::Short => Type::G2,
            ValueKind::Int => Type::G4,
            ValueKind::Long => Type::G8,
            ValueKind::Float => Type::F4,
            ValueKind::Double => Type::F8,
            ValueKind::Reference => Type::Ref,
            ValueKind::Pointer => Type::Pint,
            ValueKind::Void => return None,
        })
    }

    /// The JNI type of the kind: like the managed type, but references are
    /// passed as handles (`pint`).
    pub fn jni_type(self) -> Option<Type> {
        match self {
            ValueKind::Reference => Some(Type::Pint),
            other => other.managed_type(),
        }
    }
}

/// What the host knows about a method, enough to build its signatures.
pub trait MethodDescriptor {
    /// Whether the method is static (no `this`).
    fn is_static(&self) -> bool;
    /// Parameter kinds, not counting `this`.
    fn params(&self) -> Vec<ValueKind>;
    /// Result kind.
    fn result(&self) -> ValueKind;

    /// The managed signature: `this` (a `ref`) for instance methods, then the
    /// parameters; as DRLVM's `%m`.
    fn managed_signature(&self) -> (Vec<Type>, Option<Type>) {
        let mut params = Vec::new();
        if !self.is_static() {
            params.push(Type::Ref);
        }
        params.extend(
            self.params()
                .into_iter()
                .filter_map(ValueKind::managed_type),
        );
        (params, self.result().managed_type())
    }

    /// The JNI signature: the `JNIEnv*` (`pint`), then the class handle for a
    /// static method or `this` as a handle, then the parameters with
    /// references as handles; as DRLVM's `%j`.
    fn jni_signature(&self) -> (Vec<Type>, Option<Type>) {
        let mut params = vec![Type::Pint, Type::Pint];
        params.extend(self.params().into_iter().filter_map(ValueKind::jni_type));
        (params, self.result().jni_type())
    }
}

/// A plain method description, for hosts that have nothing better.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MethodSig {
    /// Static method?
    pub is_static: bool,
    /// Parameters, not counting `this`.
    pub params: Vec<ValueKind>,
    /// Result.
    pub result: ValueKind,
}

impl MethodDescriptor for MethodSig {
    fn is_static(&self) -> bool {
        self.is_static
    }
    fn params(&self) -> Vec<ValueKind> {
        self.params.clone()
    }
    fn result(&self) -> ValueKind {
        self.result
    }
}

/// One runtime constant passed to a parse.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    /// For `%Ni`.
    Int(i128),
    /// For `%Nm` and `%Nj`.
    Method(&'a dyn MethodDescriptor),
}

impl<'a> Arg<'a> {
    /// An integer argument from any integer type.
    pub fn int(value: impl Into<i128>) -> Arg<'a> {
        Arg::Int(value.into())
    }

    /// An integer argument holding an address.
    pub fn ptr<T: ?Sized>(ptr: *const T) -> Arg<'a> {
        Arg::Int(ptr.cast::<u8>() as usize as i128)
    }

    /// A method argument.
    pub fn method(method: &'a dyn MethodDescriptor) -> Arg<'a> {
        Arg::Method(method)
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Arg::Int(_) => "an integer",
            Arg::Method(_) => "a method",
        }
    }
}

impl std::fmt::Debug for Arg<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Int(v) => write!(f, "Int({v})"),
            Arg::Method(_) => f.write_str("Method(..)"),
        }
    }
}

/// How the parser will use an integer that a directive stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntUse {
    /// An immediate operand, offset or address: `-2^63 ..= 2^64-1`.
    Immediate,
    /// A variable index: `0 ..= MAX_INDEX`.
    Index,
    /// `entry N`, `locals N`, `std_places N`: `0 ..= MAX_INDEX`.
    Count,
    /// An `alloc` size or an index scale: `0 ..= u32::MAX`.
    Size,
}

impl IntUse {
    /// Human name, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            IntUse::Immediate => "an immediate",
            IntUse::Index => "a variable index",
            IntUse::Count => "a count",
            IntUse::Size => "a size",
        }
    }

    /// Whether `value` is acceptable for this use.
    #[inline]
    pub fn accepts(self, value: i128) -> bool {
        match self {
            IntUse::Immediate => (-(1i128 << 63)..(1i128 << 64)).contains(&value),
            IntUse::Index | IntUse::Count => (0..=crate::ast::MAX_INDEX as i128).contains(&value),
            IntUse::Size => (0..=u32::MAX as i128).contains(&value),
        }
    }
}

/// Which signature a `%Nm`/`%Nj` directive asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureKind {
    /// `%Nm`
    Managed,
    /// `%Nj`
    Jni,
}

/// The source of directive values during one parse. The text API uses
/// [`ArgList`]; the `lil_parse!` macro supplies its own to record holes.
pub trait DirectiveArgs {
    /// The value of `%Ni` (`directive` is its text, for messages).
    fn int(
        &mut self,
        index: usize,
        directive: &str,
        usage: IntUse,
    ) -> Result<i128, SyntaxErrorKind>;
    /// The signature of `%Nm` / `%Nj`.
    fn signature(
        &mut self,
        index: usize,
        directive: &str,
        kind: SignatureKind,
    ) -> Result<(Vec<Type>, Option<Type>), SyntaxErrorKind>;
    /// The value of a `{name}` / `{}` hole at `span`.
    fn hole(&mut self, name: &str, span: Span, usage: IntUse) -> Result<i128, SyntaxErrorKind> {
        let _ = (name, span, usage);
        Err(SyntaxErrorKind::HoleNotAllowed)
    }
    /// Called once the whole text is parsed: report arguments never used.
    fn finish(&mut self) -> Result<(), SyntaxErrorKind> {
        Ok(())
    }
}

/// Directive values from a slice of [`Arg`]s.
pub struct ArgList<'a, 'b> {
    args: &'b [Arg<'a>],
    /// Which of the first 64 arguments a directive used, one bit each: a
    /// parse with few arguments (all of them, in practice) allocates nothing
    /// to track them.
    used: u64,
    /// Which of the arguments after the first 64 were used: empty until
    /// one of them is (so a parse with few arguments neither allocates
    /// nor sizes it).
    used_beyond: Vec<bool>,
}

impl<'a, 'b> ArgList<'a, 'b> {
    /// Values for one parse.
    pub fn new(args: &'b [Arg<'a>]) -> ArgList<'a, 'b> {
        ArgList {
            args,
            used: 0,
            used_beyond: Vec::new(),
        }
    }

    fn is_used(&self, index: usize) -> bool {
        match index.checked_sub(64) {
            None => self.used & (1 << index) != 0,
            Some(beyond) => self.used_beyond.get(beyond).is_some_and(|&used| used),
        }
    }

    /// [`DirectiveArgs::int`] beyond the first 64 arguments, and its errors.
    #[cold]
    #[inline(never)]
    fn int_slow(
        &mut self,
        index: usize,
        directive: &str,
        usage: IntUse,
    ) -> Result<i128, SyntaxErrorKind> {
        match self.get(index, directive)? {
            Arg::Int(v) if usage.accepts(v) => Ok(v),
            Arg::Int(v) => Err(SyntaxErrorKind::ArgumentOutOfRange {
                directive: directive.to_owned(),
                what: usage.describe(),
                value: v,
            }),
            other => Err(SyntaxErrorKind::WrongArgumentKind {
                directive: directive.to_owned(),
                index,
                expected: "an integer",
                found: other.kind_name(),
            }),
        }
    }

    fn get(&mut self, index: usize, directive: &str) -> Result<Arg<'a>, SyntaxErrorKind> {
        match self.args.get(index) {
            Some(arg) => {
                match index.checked_sub(64) {
                    None => self.used |= 1 << index,
                    Some(beyond) => {
                        if self.used_beyond.is_empty() {
                            self.used_beyond = vec![false; self.args.len() - 64];
                        }
                        self.used_beyond[beyond] = true;
                    }
                }
                Ok(*arg)
            }
            None => Err(SyntaxErrorKind::MissingArgument {
                directive: directive.to_owned(),
                index,
                given: self.args.len(),
            }),
        }
    }
}

impl DirectiveArgs for ArgList<'_, '_> {
    /// Always inlined: the parser asks for every `%Ni`, and with a plain
    /// `#[inline]` LLVM left it a call.
    #[inline(always)]
    fn int(
        &mut self,
        index: usize,
        directive: &str,
        usage: IntUse,
    ) -> Result<i128, SyntaxErrorKind> {
        // The common case first, with the error cases out of line.
        if index < 64
            && let Some(&Arg::Int(v)) = self.args.get(index)
            && usage.accepts(v)
        {
            self.used |= 1 << index;
            return Ok(v);
        }
        self.int_slow(index, directive, usage)
    }

    fn signature(
        &mut self,
        index: usize,
        directive: &str,
        kind: SignatureKind,
    ) -> Result<(Vec<Type>, Option<Type>), SyntaxErrorKind> {
        match self.get(index, directive)? {
            Arg::Method(m) => Ok(match kind {
                SignatureKind::Managed => m.managed_signature(),
                SignatureKind::Jni => m.jni_signature(),
            }),
            other => Err(SyntaxErrorKind::WrongArgumentKind {
                directive: directive.to_owned(),
                index,
                expected: "a method",
                found: other.kind_name(),
            }),
        }
    }

    fn finish(&mut self) -> Result<(), SyntaxErrorKind> {
        // Every argument used, in one test for the usual few.
        if self.args.len() < 64 && self.used == (1 << self.args.len()) - 1 {
            return Ok(());
        }
        match (0..self.args.len()).find(|&i| !self.is_used(i)) {
            Some(index) => Err(SyntaxErrorKind::UnusedArgument { index }),
            None => Ok(()),
        }
    }
}
