//! What can go wrong while interpreting a stub.

use lil_machine::MachineError;
use lil_syntax::Var;

/// An error of the interpreter. A valid stub run with valid arguments and
/// host functions never produces [`EvalError::Internal`]; every other
/// variant is something the stub or its host did that LANGUAGE.md leaves
/// undefined (an access outside mapped memory, a call to an address that
/// holds no code, a callee whose signature does not match) or a limit of
/// the interpreter.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A memory access outside the machine's mapped memory (or a write to a
    /// stub's read-only text).
    #[error("memory access at {addr:#x} ({len} bytes) is outside the machine's memory")]
    BadAccess {
        /// First byte.
        addr: u64,
        /// Length in bytes.
        len: usize,
    },
    /// A call, tail call or hook to an address that is neither an installed
    /// stub nor a host function.
    #[error("{addr:#x} is neither an installed stub nor a host function")]
    NotCallable {
        /// The address called.
        addr: u64,
    },
    /// A host function ended the call without returning (returned `None`).
    #[error("the host function at {0:#x} did not return")]
    Unwound(u64),
    /// The callee of a `call.noret` returned.
    #[error("the callee of `call.noret` at {0:#x} returned")]
    NoReturnReturned(u64),
    /// Caller and callee disagree about arguments or results.
    #[error("signature mismatch: {0}")]
    Signature(String),
    /// A host function failed (panicked, or was re-entered).
    #[error("host function at {addr:#x}: {message}")]
    Host {
        /// Its address.
        addr: u64,
        /// What happened.
        message: String,
    },
    /// The guest stack is exhausted (too deeply nested calls or `alloc`s).
    #[error("guest stack overflow")]
    StackOverflow,
    /// Hooks (`ts` by call, `print`, `pop_m2n`) that are stubs nest too deeply.
    #[error("helper calls nested more than {0} deep")]
    TooDeep(usize),
    /// The instruction budget set by [`EvalMachine::set_fuel`](crate::EvalMachine::set_fuel) ran out.
    #[error("out of fuel after {0} instructions")]
    OutOfFuel(u64),
    /// A variable the checker promised holds a value holds none: a bug in
    /// the checker or the interpreter, or a stub entered with fewer
    /// standard places than its `entry` declares.
    #[error("{0} holds no value")]
    Undefined(Var),
    /// A fact the checker promised does not hold (a bug; please report).
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// An error at one instruction of a stub.
    #[error("stub at {stub:#x}, instruction {index} `{text}`: {error}")]
    At {
        /// The stub's address.
        stub: u64,
        /// The instruction's index in the body.
        index: usize,
        /// The instruction, printed.
        text: String,
        /// What went wrong.
        error: Box<EvalError>,
    },
}

impl EvalError {
    /// The error without the instruction it happened at.
    pub fn innermost(&self) -> &EvalError {
        match self {
            EvalError::At { error, .. } => error.innermost(),
            other => other,
        }
    }
}

impl From<MachineError> for EvalError {
    fn from(e: MachineError) -> EvalError {
        match e {
            MachineError::BadAccess { addr, len } => EvalError::BadAccess { addr, len },
            MachineError::Unwound(addr) => EvalError::Unwound(addr),
            other => EvalError::Host {
                addr: 0,
                message: other.to_string(),
            },
        }
    }
}

impl From<EvalError> for MachineError {
    /// `Unwound` stays `Unwound` (tests model exceptions with it); every
    /// other error becomes [`MachineError::Execution`] with the instruction
    /// it happened at.
    fn from(e: EvalError) -> MachineError {
        match e.innermost() {
            EvalError::Unwound(addr) => MachineError::Unwound(*addr),
            _ => MachineError::Execution(e.to_string()),
        }
    }
}
