//! The LIL reference interpreter.
//!
//! [`EvalMachine`] runs a [`CheckedStub`](lil_check::CheckedStub) exactly
//! as `docs/LANGUAGE.md` defines every instruction, on a byte-addressed
//! little-endian memory, with host functions called directly as Rust
//! closures, a thread pointer and an M2N list in guest memory. It
//! implements [`lil_machine::Machine`], so the execution suite runs every
//! test on it beside native x86-64 and emulated AArch64, and the
//! differential tests compare the backends against it.
//!
//! What the interpreter is, in one paragraph: every variable holds a
//! [`Value`](lil_machine::Value) masked to its type's width; every
//! operation takes the type the checker assigned it
//! ([`CheckedStub::op_type`](lil_check::CheckedStub::op_type)) and computes
//! with the pure functions of [`ops`]; memory accesses must fall inside a
//! mapped region; a call to a stub pushes an activation whose frame (frame
//! record, M2N frame, `alloc` area) lies on a guest stack, so M2N frames
//! have the [`lil_codegen::M2nFrame`] layout and the stack walker works on
//! them. Where the backends' behaviour depends on registers (the caller's
//! callee-saved registers in `saved_gp`, `m2n_save_all`'s `saved_fp`) the
//! interpreter records zeros. A call made at instruction `i` of a stub
//! installed at `a` records the return address `a + 4*(i+1)`, a unique
//! address inside the stub's range ([`InstalledStub`]).
//!
//! ```
//! use lil_eval::EvalMachine;
//! use lil_machine::{HostSig, Machine, Value};
//! use lil_syntax::Type::{G4, G8};
//!
//! let mut m = EvalMachine::new();
//! // A host function the stub calls: doubles its argument.
//! let double = m.host_fn(
//!     HostSig::new(&[G8], Some(G8)),
//!     Box::new(|c| Some(Value::int(G8, c.arg(0).bits.wrapping_mul(2)))),
//! )?;
//! let text = format!(
//!     "entry 0:platform:g4:g8; locals 1; l0 = sx4 i0; \
//!      out platform:g8:g8; o0 = l0:g8; call {double:#x}; ret;"
//! );
//! let stub = lil_check::assert_valid(&text);
//! let f = m.install_stub(stub, &lil_codegen::HostEnv::default())?.addr;
//! let r = m.call(f, &HostSig::new(&[G4], Some(G8)), &[Value::int(G4, 0xffff_fffd)])?;
//! assert_eq!(r, Some(Value::int(G8, (-6i64) as u64)));
//! # Ok::<(), lil_machine::MachineError>(())
//! ```

#![warn(missing_docs)]

mod error;
mod interp;
mod machine;
mod memory;
pub mod ops;

pub use error::EvalError;
pub use machine::{
    CODE_BASE, DATA_BASE, DATA_SIZE, EXIT, EvalMachine, HOST_BASE, InstalledStub, STACK_BASE,
    STACK_SIZE, STACK_TOP,
};
