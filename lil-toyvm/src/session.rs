//! [`Session`]: a [`Host`] made of a machine and a backend for its
//! instruction set.

use lil_check::CheckedStub;
use lil_codegen::{Backend, HostEnv, ThreadPointer};
use lil_machine::{Machine, ThreadPointerAccess};

use crate::{Host, VmError};

/// A machine, the backend generating code for it, and the host
/// environment code is generated in.
pub struct Session {
    machine: Box<dyn Machine>,
    backend: &'static dyn Backend,
    env: HostEnv,
}

impl Session {
    /// A session running `backend`'s code on `machine` (whose instruction
    /// set must be the backend's target). `ts` is read the way the machine
    /// provides it.
    pub fn new(machine: Box<dyn Machine>, backend: &'static dyn Backend) -> Session {
        let thread_pointer = match machine.thread_pointer_access() {
            ThreadPointerAccess::TlsSlot { offset } => ThreadPointer::TlsSlot { offset },
            ThreadPointerAccess::Call { function } => ThreadPointer::Call { function },
        };
        Session {
            machine,
            backend,
            env: HostEnv::new(thread_pointer, 0),
        }
    }

    /// The host environment.
    pub fn env(&self) -> &HostEnv {
        &self.env
    }

    /// The backend.
    pub fn backend(&self) -> &'static dyn Backend {
        self.backend
    }
}

impl Host for Session {
    fn machine(&mut self) -> &mut dyn Machine {
        &mut *self.machine
    }

    fn env_mut(&mut self) -> &mut HostEnv {
        &mut self.env
    }

    fn compile(&mut self, stub: &CheckedStub) -> Result<u64, VmError> {
        let code = self
            .backend
            .compile(stub, &self.env)
            .map_err(|e| VmError::Compile(format!("{e} ({})", e.code())))?;
        Ok(self.machine.install(&code.code)?)
    }

    fn set_thread(&mut self, thread: u64) -> Result<(), VmError> {
        Ok(self.machine.set_thread_pointer(thread)?)
    }
}
