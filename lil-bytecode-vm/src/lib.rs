//! A demo stack-bytecode VM whose every opcode handler is a LIL `handler`
//! stub generated at run time.
//!
//! The VM keeps its state in the four standard places, which are pinned
//! registers on both targets: `sp0` the dispatch table, `sp1` the
//! instruction pointer, `sp2` the VM stack pointer, `sp3` the cached top of
//! stack. A handler does its work, then dispatches in four instructions
//! (load opcode, advance, load handler, indirect jump), with no prologue, no
//! epilogue and no stack traffic. See `README.md` in this crate for the
//! design, the handler LIL and the generated code.
//!
//! - [`bytecode`]: opcodes and their encoding;
//! - [`asm`]: the [`Assembler`] that builds and verifies a [`Program`];
//! - [`reference`](mod@reference): a plain Rust `match` interpreter of the same bytecode
//!   (the test oracle and the benchmark baseline);
//! - [`handlers`]: the LIL of every stub, generated and compiled per target;
//! - [`vm`]: [`LilVm`], the stubs installed in a machine, running programs;
//! - [`disasm`]: disassembly and the checks the tests make on it;
//! - [`programs`]: sample programs (the benchmarks and the test suite).
//!
//! ```
//! use lil_bytecode_vm::{Assembler, LilVm, reference};
//!
//! let mut a = Assembler::new();
//! a.push(6).push(7).mul().dup().print().halt();
//! let program = a.finish()?;
//! let expected = reference::run(&program, 1024)?;
//! assert_eq!(expected.output, vec![42]);
//!
//! # #[cfg(all(target_arch = "x86_64", target_os = "linux"))] {
//! let machine = lil_machine::native::NativeMachine::new()?;
//! let mut vm = LilVm::new(machine, 1024)?;
//! assert_eq!(vm.execute(&program)?, expected);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod asm;
pub mod bytecode;
pub mod disasm;
pub mod handlers;
pub mod programs;
pub mod reference;
pub mod vm;

pub use asm::{AsmError, AsmErrors, Assembler, Func, Label, Program};
pub use bytecode::Opcode;
pub use handlers::{GeneratedStub, StubKind, Stubs};
pub use reference::{Outcome, Trap};
pub use vm::{LilVm, Loaded};

use lil_codegen::{CodegenError, Target};
use lil_machine::{Isa, MachineError};

/// Why the LIL VM could not be built or could not run a program.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A stub's LIL does not parse (a bug in [`handlers`]).
    #[error("the LIL of the {stub:?} stub does not parse:\n{rendered}")]
    Syntax {
        /// Which stub.
        stub: StubKind,
        /// The rendered diagnostics.
        rendered: String,
    },
    /// The checker rejects a stub (a bug in [`handlers`]).
    #[error("the checker rejects the {stub:?} stub:\n{rendered}")]
    Check {
        /// Which stub.
        stub: StubKind,
        /// The rendered diagnostics.
        rendered: String,
    },
    /// A backend cannot compile a stub.
    #[error("the {target:?} backend cannot compile the {stub:?} stub: {error} ({})", error.code())]
    Codegen {
        /// Which stub.
        stub: StubKind,
        /// The target.
        target: Target,
        /// The backend's error.
        error: CodegenError,
    },
    /// The machine failed (memory, installation, execution).
    #[error("machine: {0}")]
    Machine(#[from] MachineError),
    /// The machine's instruction set has no LIL backend.
    #[error("no LIL backend generates code for a {0:?} machine")]
    UnsupportedMachine(Isa),
    /// The program stopped with a trap.
    #[error("{0}")]
    Trap(#[from] Trap),
    /// [`LilVm::run`] was given a program loaded into another VM.
    #[error("the program was loaded into another VM")]
    ForeignProgram,
    /// A run ended with a status no stub writes (a bug).
    #[error("the VM stopped with unknown status {0}")]
    BadStatus(u64),
}

impl VmError {
    /// The trap, if the program (rather than the VM) failed.
    pub fn trap(&self) -> Option<Trap> {
        match self {
            VmError::Trap(t) => Some(*t),
            _ => None,
        }
    }
}
