//! Machines that run LIL stubs, so one test can run on every target.
//!
//! A [`Machine`] owns an address space (memory the stub and the host share),
//! a set of host functions (Rust closures the stub can call by address), and
//! the means to call generated code with arguments and read its result. The
//! native x86-64 machine ([`native::NativeMachine`]) runs code on this CPU;
//! `lil-emu` runs AArch64 code under an emulator; `lil-eval` interprets the
//! stub itself. Tests are written once against the trait.
//!
//! Values cross the boundary as [`Value`]s: the raw bits of a LIL type.
//! Narrow general-purpose values (`g1`/`g2`/`g4`) are compared by their low
//! bits only: the bits above their width are unspecified in registers.

#![warn(missing_docs)]

use lil_syntax::Type;

pub mod abi;
pub mod native;

/// A value of a LIL type, as raw bits. Floats are their IEEE bit patterns
/// (`f4` in the low 32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Value {
    /// The value's type.
    pub ty: Type,
    /// Its bits; only the low `ty.bits()` are meaningful.
    pub bits: u64,
}

impl Value {
    /// A general-purpose value of type `ty`.
    pub fn int(ty: Type, bits: u64) -> Value {
        Value { ty, bits }.normalized()
    }
    /// A `pint`.
    pub fn pint(bits: u64) -> Value {
        Value::int(Type::Pint, bits)
    }
    /// An `f8`.
    pub fn f8(v: f64) -> Value {
        Value {
            ty: Type::F8,
            bits: v.to_bits(),
        }
    }
    /// An `f4`.
    pub fn f4(v: f32) -> Value {
        Value {
            ty: Type::F4,
            bits: v.to_bits() as u64,
        }
    }
    /// The same value with the bits above its width cleared.
    pub fn normalized(self) -> Value {
        let bits = match self.ty.bits() {
            64 => self.bits,
            n => self.bits & ((1u64 << n) - 1),
        };
        Value { ty: self.ty, bits }
    }
    /// The value sign-extended from its width to 64 bits, as an `i64`.
    pub fn as_i64(self) -> i64 {
        let n = self.ty.bits();
        if n == 64 {
            self.bits as i64
        } else {
            ((self.bits << (64 - n)) as i64) >> (64 - n)
        }
    }
    /// The value as an `f64` (for `f8`) or widened from `f32` (for `f4`).
    pub fn as_f64(self) -> f64 {
        match self.ty {
            Type::F4 => f32::from_bits(self.bits as u32) as f64,
            _ => f64::from_bits(self.bits),
        }
    }
}

/// The signature of a host function: parameter types and result type, in the
/// target's C calling convention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSig {
    /// Parameter types.
    pub params: Vec<Type>,
    /// Result type; `None` is void.
    pub ret: Option<Type>,
}

impl HostSig {
    /// A signature from parameter and result types.
    pub fn new(params: &[Type], ret: Option<Type>) -> HostSig {
        HostSig {
            params: params.to_vec(),
            ret,
        }
    }
}

/// What a host function sees when generated code calls it.
pub trait HostCall {
    /// The `i`-th argument, typed by the host function's signature
    /// (narrow values normalized to their width).
    fn arg(&self, i: usize) -> Value;
    /// Read machine memory.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError>;
    /// Write machine memory.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError>;
    /// Read a little-endian u64.
    fn read_u64(&mut self, addr: u64) -> Result<u64, MachineError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    /// Write a little-endian u64.
    fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), MachineError> {
        self.write(addr, &v.to_le_bytes())
    }
}

/// A Rust function generated code can call. It returns the result value
/// (ignored for a void signature), or `None` to make the call not return:
/// the machine then ends the current [`Machine::call`] with
/// [`MachineError::Unwound`] (how tests model a thrown exception).
pub type HostFn = Box<dyn FnMut(&mut dyn HostCall) -> Option<Value>>;

/// Errors of a machine.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// An access outside the machine's mapped memory.
    #[error("memory access at {addr:#x} ({len} bytes) is outside the machine's memory")]
    BadAccess {
        /// Address.
        addr: u64,
        /// Length.
        len: usize,
    },
    /// The machine's data memory is exhausted.
    #[error("out of machine memory")]
    OutOfMemory,
    /// A host function ended the call without returning.
    #[error("a host function did not return (value {0:#x})")]
    Unwound(u64),
    /// The emulator or CPU reported an error (bad instruction, fault, ...).
    #[error("execution failed: {0}")]
    Execution(String),
    /// Installing code failed.
    #[error("cannot install code: {0}")]
    Install(String),
}

/// The instruction set a machine executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// x86-64 (System V).
    X64,
    /// AArch64 (AAPCS64).
    Arm64,
    /// Not machine code: the reference interpreter.
    Eval,
}

/// How generated code on this machine gets the thread pointer (`ts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadPointerAccess {
    /// Load from `fs:offset` (x86-64) or `[tpidr_el0 + offset]` (AArch64).
    TlsSlot {
        /// Offset of the slot from the TLS base.
        offset: i32,
    },
    /// Call a host function that returns it.
    Call {
        /// Its address.
        function: u64,
    },
}

/// A place to run generated code.
pub trait Machine {
    /// The instruction set.
    fn isa(&self) -> Isa;
    /// Allocate zeroed memory shared by stubs and host, `align` a power of two.
    fn alloc(&mut self, size: usize, align: usize) -> Result<u64, MachineError>;
    /// Read memory.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError>;
    /// Write memory.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError>;
    /// Make a host function callable; returns its address.
    fn host_fn(&mut self, sig: HostSig, f: HostFn) -> Result<u64, MachineError>;
    /// Install position-independent machine code for this ISA; returns the
    /// address of its first byte.
    fn install(&mut self, code: &[u8]) -> Result<u64, MachineError>;
    /// Call code at `addr` with the target's C convention.
    fn call(
        &mut self,
        addr: u64,
        sig: &HostSig,
        args: &[Value],
    ) -> Result<Option<Value>, MachineError>;
    /// Make `ts` evaluate to `thread` for subsequent calls.
    fn set_thread_pointer(&mut self, thread: u64) -> Result<(), MachineError>;
    /// How generated code reads the thread pointer on this machine.
    fn thread_pointer_access(&self) -> ThreadPointerAccess;

    /// Read a little-endian u64.
    fn read_u64(&mut self, addr: u64) -> Result<u64, MachineError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    /// Write a little-endian u64.
    fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), MachineError> {
        self.write(addr, &v.to_le_bytes())
    }
}
