//! The one execution suite's harness: a stub test is written once and runs
//! natively on x86-64, under the AArch64 emulator, and in the reference
//! interpreter (`lil-eval`).
//!
//! A [`Runner`] pairs a [`Machine`] for one [`Target`] with the matching
//! backend (or, for [`Target::Eval`], the interpreter, which installs the
//! checked stub itself) and a [`HostEnv`] whose `ts` is what that machine
//! provides. It
//! owns a zeroed *thread structure* (see [`thread_layout`]) whose address is
//! `ts`, with the M2N list head at [`thread_layout::M2N_LIST`]. Tests take a
//! `&mut Runner` and are expanded for every target by [`exec_test!`].
//!
//! Invariants a test author must not break:
//! - Nothing is skipped: a target whose backend cannot compile a stub fails
//!   the test with the backend's error (`exec_test!` never ignores).
//! - Everything a test asserts is observable on every machine: results of
//!   [`Runner::call`], memory written by the stub or seen by host functions.
//!   An assertion about machine code (its bytes, registers, return
//!   addresses inside code) is skipped for [`Target::Eval`] with a comment
//!   saying why, never the whole test. The interpreter's stubs have
//!   [`Installed::code`] `None`; each occupies a fake address range
//!   ([`Installed::len`] bytes) into which the return addresses of its
//!   calls point.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use lil_check::CheckedStub;
use lil_codegen::m2n::{M2nFrame, M2nWalker, MemoryRead};
use lil_codegen::{Backend, CodegenError, CompiledStub, HostEnv, ThreadPointer};
#[cfg(feature = "emulator")]
use lil_emu::Arm64Emulator;
use lil_eval::EvalMachine;
use lil_machine::{
    HostCall, HostSig, Machine, MachineError, ThreadPointerAccess, Value, native::NativeMachine,
};
use lil_syntax::Type;

/// Byte offsets in the thread structure every [`Runner`] allocates. Tests
/// may use the fields for their own purposes; only `M2N_LIST` is given to
/// the backend.
pub mod thread_layout {
    /// A thread id (for monitors).
    pub const THREAD_ID: i32 = 0;
    /// The head of the thread's M2N list ([`lil_codegen::HostEnv::m2n_list_offset`]).
    pub const M2N_LIST: i32 = 8;
    /// Allocation frontier (Figure 1's `fpo`).
    pub const FRONTIER: i32 = 16;
    /// Allocation limit (Figure 1's `lpo`).
    pub const LIMIT: i32 = 24;
    /// The current exception object (Figure 3's `ceo_offset`).
    pub const EXCEPTION: i32 = 32;
    /// Start of a free area tests may use (for example a GC's private data).
    pub const FREE: i32 = 64;
    /// Size of the structure.
    pub const SIZE: usize = 512;
}

/// Where a test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Native x86-64 (`NativeMachine`, `X64Backend`).
    X64,
    /// AArch64 under Unicorn (`Arm64Emulator`, `Arm64Backend`).
    Arm64,
    /// The reference interpreter (`EvalMachine`): no machine code.
    Eval,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 3] = [Target::X64, Target::Arm64, Target::Eval];

    /// The backend generating code for this target; `None` for the
    /// interpreter, which runs the checked stub itself.
    pub fn backend(self) -> Option<&'static dyn Backend> {
        match self {
            Target::X64 => Some(&lil_codegen_x64::X64Backend),
            Target::Arm64 => Some(&lil_codegen_arm64::Arm64Backend),
            Target::Eval => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::X64 => "x64",
            Target::Arm64 => "arm64",
            Target::Eval => "eval",
        })
    }
}

/// Why a stub could not be compiled or run.
#[derive(Debug)]
pub enum ExecError {
    /// The text does not parse (rendered diagnostics).
    Syntax(String),
    /// The checker rejects the stub (rendered diagnostics).
    Check(String),
    /// The backend failed.
    Codegen {
        /// The target.
        target: Target,
        /// The backend's error.
        error: CodegenError,
    },
    /// The machine failed (install, call, memory).
    Machine(MachineError),
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Syntax(s) => write!(f, "stub does not parse:\n{s}"),
            ExecError::Check(s) => write!(f, "stub is not valid:\n{s}"),
            ExecError::Codegen { target, error } => {
                write!(f, "{target} backend failed: {error} ({})", error.code())
            }
            ExecError::Machine(e) => write!(f, "machine: {e}"),
        }
    }
}

impl std::error::Error for ExecError {}

impl From<MachineError> for ExecError {
    fn from(e: MachineError) -> ExecError {
        ExecError::Machine(e)
    }
}

/// Something [`Runner::compile`] accepts: LIL text or an already checked stub.
pub trait StubSource {
    /// The checked stub.
    fn checked(self) -> Result<CheckedStub, ExecError>;
}

impl StubSource for &str {
    fn checked(self) -> Result<CheckedStub, ExecError> {
        let stub =
            lil_syntax::parse(self).map_err(|e| ExecError::Syntax(e.render("stub", self)))?;
        lil_check::check_owned(stub).map_err(|d| ExecError::Check(d.render("stub", self)))
    }
}

impl StubSource for &String {
    fn checked(self) -> Result<CheckedStub, ExecError> {
        self.as_str().checked()
    }
}

impl StubSource for String {
    fn checked(self) -> Result<CheckedStub, ExecError> {
        self.as_str().checked()
    }
}

impl StubSource for CheckedStub {
    fn checked(self) -> Result<CheckedStub, ExecError> {
        Ok(self)
    }
}

impl StubSource for &CheckedStub {
    fn checked(self) -> Result<CheckedStub, ExecError> {
        Ok(self.clone())
    }
}

/// A stub compiled and installed in a runner's machine.
#[derive(Clone, Debug)]
pub struct Installed {
    /// Address of its first instruction.
    pub addr: u64,
    /// Its code (as the backend produced it); `None` on [`Target::Eval`],
    /// which interprets the stub.
    pub code: Option<CompiledStub>,
    /// Bytes of its address range: its code's length, or on
    /// [`Target::Eval`] the interpreter's range for it (4 bytes per
    /// instruction, into which its calls' return addresses point, then its
    /// `print` texts).
    pub len: u64,
    /// Its entry signature as a host signature (`None` for `arbitrary` entries).
    pub sig: Option<HostSig>,
}

impl Installed {
    /// Whether `addr` lies inside this stub's code (its range, on
    /// [`Target::Eval`]).
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.addr && addr - self.addr < self.len
    }
}

/// The machine a runner drives: one that runs code, or the interpreter,
/// which installs checked stubs instead of code.
enum Engine {
    Code(Box<dyn Machine>),
    Eval(Box<EvalMachine>),
}

/// One machine, its backend and host environment, and a thread structure.
pub struct Runner {
    target: Target,
    engine: Engine,
    env: HostEnv,
    thread: u64,
    /// The value a `ThreadPointer::Call` host function returns.
    ts_value: Rc<Cell<u64>>,
    installed: Vec<(u64, u64)>,
}

impl Runner {
    /// A runner for `target` whose `ts` is the machine's own thread pointer
    /// access (a TLS slot on both machines when available).
    pub fn new(target: Target) -> Result<Runner, ExecError> {
        let machine: Box<dyn Machine> = match target {
            Target::X64 => Box::new(NativeMachine::new()?),
            #[cfg(feature = "emulator")]
            Target::Arm64 => Box::new(Arm64Emulator::new()?),
            #[cfg(not(feature = "emulator"))]
            Target::Arm64 => {
                return Err(ExecError::Machine(MachineError::Execution(
                    "lil-tests was built without the `emulator` feature".into(),
                )));
            }
            Target::Eval => return Runner::with_eval(EvalMachine::new()),
        };
        Runner::with_machine(target, machine)
    }

    /// A runner over the reference interpreter.
    pub fn with_eval(machine: EvalMachine) -> Result<Runner, ExecError> {
        Runner::build(Target::Eval, Engine::Eval(Box::new(machine)))
    }

    /// A runner whose `ts` calls a host function returning the thread
    /// structure ([`ThreadPointer::Call`]), on either machine.
    pub fn with_ts_call(target: Target) -> Result<Runner, ExecError> {
        let mut r = Runner::new(target)?;
        let value = r.ts_value.clone();
        let function = r.host_fn(&[], Some(Type::Pint), move |_| {
            Some(Value::pint(value.get()))
        })?;
        r.env.thread_pointer = ThreadPointer::Call { function };
        Ok(r)
    }

    /// A runner over a machine built elsewhere (for example
    /// `NativeMachine::with_thread_pointer_call()` or an emulator with LSE).
    /// The interpreter is not such a machine: use [`Runner::with_eval`].
    pub fn with_machine(target: Target, machine: Box<dyn Machine>) -> Result<Runner, ExecError> {
        if target == Target::Eval {
            return Err(ExecError::Machine(MachineError::Execution(
                "the interpreter installs checked stubs, not code: use Runner::with_eval".into(),
            )));
        }
        Runner::build(target, Engine::Code(machine))
    }

    fn build(target: Target, mut engine: Engine) -> Result<Runner, ExecError> {
        let machine: &mut dyn Machine = match &mut engine {
            Engine::Code(m) => &mut **m,
            Engine::Eval(m) => &mut **m,
        };
        let thread_pointer = match machine.thread_pointer_access() {
            ThreadPointerAccess::TlsSlot { offset } => ThreadPointer::TlsSlot { offset },
            ThreadPointerAccess::Call { function } => ThreadPointer::Call { function },
        };
        let thread = machine.alloc(thread_layout::SIZE, 64)?;
        machine.set_thread_pointer(thread)?;
        Ok(Runner {
            target,
            engine,
            env: HostEnv::new(thread_pointer, thread_layout::M2N_LIST),
            thread,
            ts_value: Rc::new(Cell::new(thread)),
            installed: Vec::new(),
        })
    }

    /// The target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The machine.
    pub fn machine(&mut self) -> &mut dyn Machine {
        match &mut self.engine {
            Engine::Code(m) => &mut **m,
            Engine::Eval(m) => &mut **m,
        }
    }

    /// The host environment stubs are compiled in.
    pub fn env(&self) -> &HostEnv {
        &self.env
    }

    /// The host environment, to set M2N hooks, `print` and conventions
    /// before compiling.
    pub fn env_mut(&mut self) -> &mut HostEnv {
        &mut self.env
    }

    /// The thread structure `ts` points to.
    pub fn thread(&self) -> u64 {
        self.thread
    }

    /// Address of a field of the thread structure.
    pub fn thread_field(&self, offset: i32) -> u64 {
        self.thread.wrapping_add(offset as i64 as u64)
    }

    /// Make `ts` point to another thread structure.
    pub fn set_thread(&mut self, thread: u64) -> Result<(), ExecError> {
        self.machine().set_thread_pointer(thread)?;
        self.ts_value.set(thread);
        self.thread = thread;
        Ok(())
    }

    /// The address a stub called by [`Runner::call`] returns to, where the
    /// machine knows it: the emulator's and the interpreter's `EXIT`. The
    /// native machine's entry trampoline is private (`None`).
    pub fn entry_return_address(&self) -> Option<u64> {
        match self.target {
            Target::X64 => None,
            #[cfg(feature = "emulator")]
            Target::Arm64 => Some(lil_emu::EXIT),
            #[cfg(not(feature = "emulator"))]
            Target::Arm64 => None,
            Target::Eval => Some(lil_eval::EXIT),
        }
    }

    /// The stack pointer a stub called by [`Runner::call`] with no stack
    /// arguments sees its caller restore, where the machine knows it.
    pub fn entry_stack_top(&self) -> Option<u64> {
        match self.target {
            Target::X64 => None,
            #[cfg(feature = "emulator")]
            Target::Arm64 => Some(lil_emu::STACK_TOP),
            #[cfg(not(feature = "emulator"))]
            Target::Arm64 => None,
            Target::Eval => Some(lil_eval::STACK_TOP),
        }
    }

    /// Whether `addr` lies in code installed by [`Runner::compile`] or
    /// [`Runner::install`].
    pub fn is_installed_code(&self, addr: u64) -> bool {
        self.installed
            .iter()
            .any(|&(a, n)| addr >= a && addr < a + n)
    }

    // ------------------------------------------------------------ code

    /// Check (if text), compile for this runner's target in its host
    /// environment, and install a stub; returns its address.
    pub fn compile(&mut self, stub: impl StubSource) -> Result<u64, ExecError> {
        Ok(self.compile_full(stub)?.addr)
    }

    /// Like [`Runner::compile`], keeping the code and signature.
    pub fn compile_full(&mut self, stub: impl StubSource) -> Result<Installed, ExecError> {
        let checked = stub.checked()?;
        let sig = checked
            .stub()
            .entry
            .signature
            .typed()
            .map(|s| HostSig::new(&s.params, s.ret));
        let backend = match (&mut self.engine, self.target.backend()) {
            (Engine::Eval(m), _) => {
                let at = m.install_stub(checked, &self.env)?;
                self.installed.push((at.addr, at.len));
                return Ok(Installed {
                    addr: at.addr,
                    code: None,
                    len: at.len,
                    sig,
                });
            }
            (Engine::Code(_), Some(backend)) => backend,
            (Engine::Code(_), None) => {
                return Err(ExecError::Machine(MachineError::Execution(format!(
                    "no backend for {}",
                    self.target
                ))));
            }
        };
        let code = backend
            .compile(&checked, &self.env)
            .map_err(|error| ExecError::Codegen {
                target: self.target,
                error,
            })?;
        let addr = self.install(&code.code)?;
        let len = code.code.len() as u64;
        Ok(Installed {
            addr,
            code: Some(code),
            len,
            sig,
        })
    }

    /// Install raw machine code for this target.
    pub fn install(&mut self, code: &[u8]) -> Result<u64, ExecError> {
        let addr = self.machine().install(code)?;
        self.installed.push((addr, code.len() as u64));
        Ok(addr)
    }

    /// Call code at `addr` with the target's C convention.
    pub fn call(
        &mut self,
        addr: u64,
        sig: &HostSig,
        args: &[Value],
    ) -> Result<Option<Value>, MachineError> {
        self.machine().call(addr, sig, args)
    }

    /// Compile a typed stub and call it once with `args`, using its entry
    /// signature; returns `r` (`None` for `void`).
    pub fn run(
        &mut self,
        stub: impl StubSource,
        args: &[Value],
    ) -> Result<Option<Value>, ExecError> {
        let installed = self.compile_full(stub)?;
        let sig = installed.sig.ok_or_else(|| {
            ExecError::Machine(MachineError::Execution(
                "an `arbitrary` stub has no signature to call it with".into(),
            ))
        })?;
        Ok(self.call(installed.addr, &sig, args)?)
    }

    /// Make a Rust closure callable by generated code; returns its address.
    pub fn host_fn(
        &mut self,
        params: &[Type],
        ret: Option<Type>,
        f: impl FnMut(&mut dyn HostCall) -> Option<Value> + 'static,
    ) -> Result<u64, ExecError> {
        Ok(self
            .machine()
            .host_fn(HostSig::new(params, ret), Box::new(f))?)
    }

    // ---------------------------------------------------------- memory

    /// Allocate zeroed machine memory.
    pub fn alloc(&mut self, size: usize, align: usize) -> Result<u64, MachineError> {
        self.machine().alloc(size, align)
    }

    /// Read `len` bytes.
    pub fn read_bytes(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, MachineError> {
        let mut buf = vec![0; len];
        self.machine().read(addr, &mut buf)?;
        Ok(buf)
    }

    /// Write bytes.
    pub fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        self.machine().write(addr, data)
    }

    /// Read a little-endian unsigned value of `size` bytes (1, 2, 4 or 8).
    pub fn read_uint(&mut self, addr: u64, size: usize) -> Result<u64, MachineError> {
        let mut b = [0u8; 8];
        self.machine().read(addr, &mut b[..size])?;
        Ok(u64::from_le_bytes(b))
    }

    /// Write the low `size` bytes (1, 2, 4 or 8) of `v`, little-endian.
    pub fn write_uint(&mut self, addr: u64, size: usize, v: u64) -> Result<(), MachineError> {
        self.machine().write(addr, &v.to_le_bytes()[..size])
    }

    /// Read a u64.
    pub fn read_u64(&mut self, addr: u64) -> Result<u64, MachineError> {
        self.machine().read_u64(addr)
    }

    /// Write a u64.
    pub fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), MachineError> {
        self.machine().write_u64(addr, v)
    }

    /// Read a u32.
    pub fn read_u32(&mut self, addr: u64) -> Result<u32, MachineError> {
        Ok(self.read_uint(addr, 4)? as u32)
    }

    /// Write a u32.
    pub fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), MachineError> {
        self.write_uint(addr, 4, v.into())
    }

    /// Allocate memory holding `words` (8-byte aligned).
    pub fn alloc_words(&mut self, words: &[u64]) -> Result<u64, MachineError> {
        let at = self.alloc(8 * words.len().max(1), 16)?;
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.write_bytes(at, &bytes)?;
        Ok(at)
    }

    /// The thread's M2N frames, most recent first, read from machine memory
    /// (outside calls the list is normally empty).
    pub fn m2n_frames(&mut self) -> Vec<(u64, M2nFrame)> {
        let (thread, offset) = (self.thread, self.env.m2n_list_offset);
        M2nWalker::new(MachineMemory(self.machine()), thread, offset).collect()
    }
}

/// [`MemoryRead`] over a machine's memory (as seen from outside a call).
pub struct MachineMemory<'a>(pub &'a mut dyn Machine);

impl MemoryRead for MachineMemory<'_> {
    fn read_u64(&mut self, addr: u64) -> Option<u64> {
        self.0.read_u64(addr).ok()
    }
}

/// [`MemoryRead`] over what a host function sees ([`HostCall::read`]).
///
/// M2N frames live on the stack, which neither machine's `HostCall::read`
/// accepts today (both check addresses against their data allocations). On
/// the native machine the stack is this process's own, so `native_stack`
/// lets reads that `HostCall` refuses fall back to this thread's stack
/// mapping (bounds from `/proc/self/maps`); the emulator has no such
/// fallback. The first refused read is kept in `failure`, so a test can say
/// why a walk stopped.
pub struct HostMemory<'a> {
    call: &'a mut dyn HostCall,
    native_stack: Option<(u64, u64)>,
    /// The first read that failed, and why.
    pub failure: Option<String>,
}

impl<'a> HostMemory<'a> {
    /// Reads through `call` only.
    pub fn new(call: &'a mut dyn HostCall) -> HostMemory<'a> {
        HostMemory {
            call,
            native_stack: None,
            failure: None,
        }
    }

    /// Reads through `call`, and for `Target::X64` also from this thread's
    /// stack mapping (where the native machine's M2N frames are).
    pub fn for_target(call: &'a mut dyn HostCall, target: Target) -> HostMemory<'a> {
        let native_stack = match target {
            Target::X64 => native_stack_bounds(),
            // The emulator's and the interpreter's stacks are machine memory.
            Target::Arm64 | Target::Eval => None,
        };
        HostMemory {
            call,
            native_stack,
            failure: None,
        }
    }
}

impl HostMemory<'_> {
    /// Read a u64, or say why it cannot be read.
    pub fn read(&mut self, addr: u64) -> Result<u64, String> {
        let mut this = self;
        MemoryRead::read_u64(&mut this, addr)
            .ok_or_else(|| this.failure.clone().unwrap_or_default())
    }
}

impl MemoryRead for &mut HostMemory<'_> {
    fn read_u64(&mut self, addr: u64) -> Option<u64> {
        match self.call.read_u64(addr) {
            Ok(v) => Some(v),
            Err(e) => {
                if let Some((start, end)) = self.native_stack
                    && addr.is_multiple_of(8)
                    && addr >= start
                    && addr.checked_add(8).is_some_and(|e| e <= end)
                {
                    // SAFETY: the address is 8-byte aligned and inside this
                    // thread's stack mapping, which is readable.
                    return Some(unsafe { (addr as *const u64).read_volatile() });
                }
                if self.failure.is_none() {
                    self.failure = Some(format!("read of {addr:#x} failed: {e}"));
                }
                None
            }
        }
    }
}

/// Walk the M2N list of the thread at `thread` from inside a host function.
/// Returns the frames, most recent first, and the first failed read if any.
pub fn walk_from_host(
    call: &mut dyn HostCall,
    target: Target,
    thread: u64,
) -> (Vec<(u64, M2nFrame)>, Option<String>) {
    let mut memory = HostMemory::for_target(call, target);
    let frames = M2nWalker::new(&mut memory, thread, thread_layout::M2N_LIST).collect();
    (frames, memory.failure)
}

/// The bounds of this thread's stack mapping: the mapping holding a local
/// of this function. The local is mutable and passed through `black_box`:
/// an immutable `0u8` may be promoted to a constant in the binary by the
/// optimiser, and then this found the binary's mapping instead.
#[inline(never)]
pub fn native_stack_bounds() -> Option<(u64, u64)> {
    let mut marker = [0u8; 1];
    let at = std::hint::black_box(&mut marker).as_ptr() as u64;
    mapping_of(at).map(|m| (m.start, m.end))
}

/// A line of `/proc/self/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// The permission string (`r-xp`, ...).
    pub perms: String,
    /// The path or pseudo-name, if any.
    pub name: String,
}

/// The mapping of this process that contains `addr`, if any.
pub fn mapping_of(addr: u64) -> Option<Mapping> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let range = fields.next()?;
        let perms = fields.next()?.to_string();
        let name = fields.nth(3).unwrap_or("").to_string();
        let (a, b) = range.split_once('-')?;
        let (start, end) = (
            u64::from_str_radix(a, 16).ok()?,
            u64::from_str_radix(b, 16).ok()?,
        );
        (addr >= start && addr < end).then_some(Mapping {
            start,
            end,
            perms,
            name,
        })
    })
}

/// Run `body` on a fresh runner for `target`, panicking with the error if
/// the runner cannot be built.
pub fn run_on(target: Target, body: impl FnOnce(&mut Runner)) {
    let mut runner = match Runner::new(target) {
        Ok(r) => r,
        Err(e) => panic!("cannot build the {target} runner: {e}"),
    };
    body(&mut runner);
}

/// Unwrap an execution result, panicking with the rendered error and the
/// target (so an arm64 failure says it is the backend that is missing).
pub trait Expect<T> {
    /// The value, or a panic naming `what`.
    fn or_fail(self, what: &str) -> T;
}

impl<T, E: fmt::Display> Expect<T> for Result<T, E> {
    #[track_caller]
    fn or_fail(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// A test written once and run on every target.
///
/// ```text
/// exec_test!(fn adds(r: &mut Runner) {
///     let v = r.run("entry 0:platform:g8,g8:g8; r = i0 + i1; ret;", &[..]).unwrap();
///     ...
/// });
/// ```
///
/// expands to a module `adds` with three `#[test]` functions, `adds::x64`,
/// `adds::arm64` and `adds::eval`, each running the body on a fresh
/// [`Runner`]. (A module rather than `adds_x64`/`adds_arm64` because
/// `macro_rules!` cannot build identifiers; filters like `cargo test x64`
/// and `cargo test adds` work the same.) Nothing is ignored: while a
/// backend cannot compile, its variant fails with the backend's error.
#[macro_export]
macro_rules! exec_test {
    ($(#[$meta:meta])* fn $name:ident($r:ident : &mut Runner) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($r: &mut $crate::exec::Runner) $body

            #[test]
            fn x64() {
                $crate::exec::run_on($crate::exec::Target::X64, body);
            }

            #[test]
            fn arm64() {
                $crate::exec::run_on($crate::exec::Target::Arm64, body);
            }

            #[test]
            fn eval() {
                $crate::exec::run_on($crate::exec::Target::Eval, body);
            }
        }
    };
}

/// Values for tests.
pub mod val {
    use lil_machine::Value;
    use lil_syntax::Type;

    /// A general-purpose value of type `ty` (normalized).
    pub fn g(ty: Type, bits: u64) -> Value {
        Value::int(ty, bits)
    }

    /// A narrow value whose bits above its width are `junk` (the caller
    /// leaves them unspecified; generated code must not depend on them).
    pub fn dirty(ty: Type, bits: u64, junk: u64) -> Value {
        let n = ty.bits();
        let bits = if n == 64 {
            bits
        } else {
            (bits & ((1u64 << n) - 1)) | (junk << n)
        };
        Value { ty, bits }
    }

    /// A `g8`.
    pub fn g8(bits: u64) -> Value {
        Value::int(Type::G8, bits)
    }

    /// A `g4`.
    pub fn g4(bits: u32) -> Value {
        Value::int(Type::G4, bits.into())
    }

    /// A `pint`.
    pub fn pint(bits: u64) -> Value {
        Value::pint(bits)
    }

    /// A `ref`.
    pub fn reference(bits: u64) -> Value {
        Value::int(Type::Ref, bits)
    }
}
