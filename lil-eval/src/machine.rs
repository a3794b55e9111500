//! [`EvalMachine`]: the reference interpreter as a [`Machine`].
//!
//! The machine owns a guest address space ([`Memory`]), the stubs installed
//! with [`EvalMachine::install_stub`] (each at a fake code address), host
//! functions (Rust closures at fake addresses, called directly with typed
//! [`Value`]s) and a thread pointer. [`Machine::call`] interprets a stub,
//! or calls a host function; a stub's calls and tail calls to other stubs
//! are interpreted on an explicit activation stack, so nesting depth is
//! bounded by the guest stack, not by Rust's.
//!
//! The address space (all constants public):
//!
//! | range | what |
//! |---|---|
//! | [`CODE_BASE`]… | one read-only range per installed stub: 4 bytes per instruction (return addresses point into it), then its `print` texts |
//! | [`STACK_BASE`]..[`STACK_TOP`] | the guest stack: frame records, M2N frames, `alloc` areas |
//! | [`EXIT`], [`HOST_BASE`]… | the return address of [`Machine::call`], then one 16-byte slot per host function (not readable) |
//! | [`DATA_BASE`]… | [`Machine::alloc`], with a 16-byte unmapped gap after every allocation |

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use lil_check::CheckedStub;
use lil_codegen::HostEnv;
use lil_machine::abi::{check_args, panic_message};
use lil_machine::{
    HostCall, HostFn, HostSig, Isa, Machine, MachineError, ThreadPointerAccess, Value,
};
use lil_syntax::{InstKind, PrintMessage, Type};

use crate::error::EvalError;
use crate::interp::{
    Activation, CallRequest, FRAME_RECORD, Flow, INSTRUCTION_BYTES, Link, Loaded, convert_result,
    rebind,
};
use crate::memory::Memory;

/// Start of the installed stubs' address ranges.
pub const CODE_BASE: u64 = 0x1000_0000;
/// Lowest address of the guest stack.
pub const STACK_BASE: u64 = 0x6000_0000;
/// Size of the guest stack.
pub const STACK_SIZE: u64 = 8 << 20;
/// The stack pointer of [`Machine::call`]'s caller: the first activation's
/// `caller_sp` (16-byte aligned).
pub const STACK_TOP: u64 = STACK_BASE + STACK_SIZE;
/// The return address of [`Machine::call`]: what an M2N frame pushed by the
/// outermost stub records as `return_address`.
pub const EXIT: u64 = 0x7000_0000;
/// Host function `k` is at `HOST_BASE + 16 * k`.
pub const HOST_BASE: u64 = EXIT + 16;
/// Start of the memory [`Machine::alloc`] hands out.
pub const DATA_BASE: u64 = 0x1_0000_0000;
/// How much memory [`Machine::alloc`] may hand out in total.
pub const DATA_SIZE: u64 = 1 << 34;
/// Unmapped bytes after each allocation and each stub's range, so an
/// access that runs past one fails instead of touching the next.
const GAP: u64 = 16;
/// How deeply hooks (`ts` by call, `print`, `pop_m2n` hooks) that are
/// themselves stubs may nest.
const MAX_HELPER_DEPTH: usize = 64;

/// A registered host function.
struct Host {
    sig: HostSig,
    /// `None` while it runs (a re-entrant call is an error).
    f: Option<HostFn>,
}

/// Where [`EvalMachine::install_stub`] put a stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstalledStub {
    /// The stub's address: call it, or `call`/`tailcall` it from other stubs.
    pub addr: u64,
    /// Bytes of its address range: 4 per instruction plus one (the return
    /// address of a call at instruction `i` is `addr + 4 * (i + 1)`), then
    /// its `print` texts.
    pub len: u64,
}

impl InstalledStub {
    /// Whether `addr` lies in the stub's range.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.addr && addr - self.addr < self.len
    }
}

/// The reference interpreter, as a [`Machine`].
///
/// Its address space: one read-only range per installed stub from
/// [`CODE_BASE`] (4 bytes per instruction, into which the return addresses
/// of its calls point, then its `print` texts); the guest stack
/// [`STACK_BASE`]..[`STACK_TOP`] (frame records, M2N frames, `alloc` areas);
/// [`EXIT`], the return address of [`Machine::call`], then one unreadable
/// 16-byte slot per host function from [`HOST_BASE`]; and the memory
/// [`Machine::alloc`] hands out from [`DATA_BASE`], with an unmapped gap
/// after every allocation.
///
/// ```
/// use lil_eval::EvalMachine;
/// use lil_machine::{HostSig, Machine, Value};
/// use lil_syntax::Type::G1;
/// let mut m = EvalMachine::new();
/// let stub = lil_check::assert_valid("entry 0:platform:g1,g1:g1; r = i0 + i1; ret;");
/// let f = m.install_stub(stub, &lil_codegen::HostEnv::default())?.addr;
/// let sig = HostSig::new(&[G1, G1], Some(G1));
/// let r = m.call(f, &sig, &[Value::int(G1, 0xff), Value::int(G1, 2)])?;
/// assert_eq!(r, Some(Value::int(G1, 1)), "g1 arithmetic wraps at 8 bits");
/// # Ok::<(), lil_machine::MachineError>(())
/// ```
pub struct EvalMachine {
    memory: Memory,
    next_data: u64,
    next_code: u64,
    stubs: BTreeMap<u64, Rc<Loaded>>,
    hosts: Vec<Host>,
    thread: u64,
    fuel: Option<u64>,
    executed: u64,
    helper_depth: usize,
}

impl Default for EvalMachine {
    fn default() -> EvalMachine {
        EvalMachine::new()
    }
}

/// What a call resolves to.
enum Callee {
    Stub(Rc<Loaded>),
    Host(usize),
}

impl EvalMachine {
    /// A machine with an empty data area, a zeroed 8 MiB stack, no stubs,
    /// no host functions, thread pointer 0 and no instruction budget.
    pub fn new() -> EvalMachine {
        let mut memory = Memory::default();
        memory.map(STACK_BASE, STACK_SIZE as usize, true);
        EvalMachine {
            memory,
            next_data: DATA_BASE,
            next_code: CODE_BASE,
            stubs: BTreeMap::new(),
            hosts: Vec::new(),
            thread: 0,
            fuel: None,
            executed: 0,
            helper_depth: 0,
        }
    }

    /// Install a checked stub, to run in `env` (how `ts` is read, the M2N
    /// list offset, the `pop_m2n` hooks, the `print` hook; the conventions
    /// do not matter to the interpreter, which passes values, not
    /// registers). Returns its address.
    pub fn install_stub(
        &mut self,
        stub: CheckedStub,
        env: &HostEnv,
    ) -> Result<InstalledStub, MachineError> {
        let body = &stub.stub().body;
        let addr = self.next_code;
        let mut len = INSTRUCTION_BYTES * (body.len() as u64 + 1);
        let mut texts = vec![0; body.len()];
        let mut labels = vec![None; stub.stub().labels.len()];
        let mut alloc_area = 0u64;
        let mut text_bytes = Vec::new();
        for (i, inst) in body.iter().enumerate() {
            match &inst.kind {
                InstKind::Print {
                    message: PrintMessage::Text(t),
                    ..
                } => {
                    texts[i] = addr + len;
                    len += t.len() as u64;
                    text_bytes.push((texts[i], t.as_bytes().to_vec()));
                }
                InstKind::Label(l) => {
                    if let Some(slot) = labels.get_mut(l.id.index()) {
                        *slot = Some(i);
                    }
                }
                InstKind::Alloc { size, .. } => {
                    if let Some(ctx) = stub.context(i) {
                        let end = u64::from(ctx.alloc_bytes()) + u64::from(*size).div_ceil(8) * 8;
                        alloc_area = alloc_area.max(end);
                    }
                }
                _ => {}
            }
        }
        if addr + len + GAP >= STACK_BASE {
            return Err(MachineError::Install(
                "the interpreter's code range is full".into(),
            ));
        }
        self.memory.map(addr, len as usize, false);
        for (at, bytes) in text_bytes {
            self.memory.initialize(at, &bytes)?;
        }
        self.next_code = (addr + len).next_multiple_of(16) + GAP;
        self.stubs.insert(
            addr,
            Rc::new(Loaded {
                checked: stub,
                env: env.clone(),
                addr,
                labels,
                texts,
                alloc_area,
            }),
        );
        Ok(InstalledStub { addr, len })
    }

    /// Stop any [`Machine::call`] after `steps` instructions (counted over
    /// the whole call, nested stubs included) with an error; `None` (the
    /// default) runs without limit.
    pub fn set_fuel(&mut self, steps: Option<u64>) {
        self.fuel = steps;
    }

    /// Instructions the last [`Machine::call`] executed.
    pub fn executed(&self) -> u64 {
        self.executed
    }

    /// Call `addr` (a stub or a host function) like [`Machine::call`], but
    /// return the interpreter's own error, with the instruction it
    /// happened at.
    pub fn call_eval(
        &mut self,
        addr: u64,
        sig: &HostSig,
        args: &[Value],
    ) -> Result<Option<Value>, EvalError> {
        check_args(sig, args).map_err(|e| EvalError::Signature(e.to_string()))?;
        self.executed = 0;
        let result = self.run(CallRequest {
            target: addr,
            args: args.to_vec(),
            std: Vec::new(),
            link: Link {
                sp: STACK_TOP,
                return_address: EXIT,
                caller_fp: 0,
            },
        })?;
        convert_result(result, sig.ret)
    }

    // ------------------------------------------------ for the interpreter

    pub(crate) fn memory_mut(&mut self) -> &mut Memory {
        &mut self.memory
    }

    pub(crate) fn thread(&self) -> u64 {
        self.thread
    }

    pub(crate) fn stack_base(&self) -> u64 {
        STACK_BASE
    }

    /// Call a hook (`ts` by call, `print`, a `pop_m2n` hook) from inside an
    /// instruction, and return its result as `ret`.
    pub(crate) fn helper(
        &mut self,
        function: u64,
        args: Vec<Value>,
        ret: Option<Type>,
        link: Link,
    ) -> Result<Option<Value>, EvalError> {
        if self.helper_depth >= MAX_HELPER_DEPTH {
            return Err(EvalError::TooDeep(MAX_HELPER_DEPTH));
        }
        self.helper_depth += 1;
        let result = self.run(CallRequest {
            target: function,
            args,
            std: Vec::new(),
            link,
        });
        self.helper_depth -= 1;
        convert_result(result?, ret)
    }

    fn resolve(&self, addr: u64) -> Result<Callee, EvalError> {
        if let Some(stub) = self.stubs.get(&addr) {
            return Ok(Callee::Stub(Rc::clone(stub)));
        }
        let slot = addr
            .checked_sub(HOST_BASE)
            .filter(|d| d.is_multiple_of(16))
            .map(|d| (d / 16) as usize)
            .filter(|&k| k < self.hosts.len());
        slot.map(Callee::Host)
            .ok_or(EvalError::NotCallable { addr })
    }

    /// Run a call to completion: the callee's result, typed by the
    /// callee's own signature (the caller converts it).
    fn run(&mut self, first: CallRequest) -> Result<Option<Value>, EvalError> {
        let mut stack: Vec<Activation> = Vec::new();
        let mut pending = Some(first);
        loop {
            if let Some(call) = pending.take() {
                let result = match self.resolve(call.target) {
                    Ok(Callee::Stub(stub)) => match Activation::enter(self, stub, call) {
                        Ok(a) => {
                            stack.push(a);
                            continue;
                        }
                        Err(e) => Err(e),
                    },
                    Ok(Callee::Host(k)) => self.call_host(k, &call.args),
                    Err(e) => Err(e),
                };
                // A host function returned (or entering failed): give the
                // result to the activation that made the call.
                match (result, stack.last_mut()) {
                    (Ok(v), None) => return Ok(v),
                    (Ok(v), Some(caller)) => {
                        if let Err(e) = caller.resume(v) {
                            return Err(at(caller, e));
                        }
                    }
                    (Err(e), None) => return Err(e),
                    (Err(e), Some(caller)) => return Err(at(caller, e)),
                }
                continue;
            }
            let Some(top) = stack.last_mut() else {
                return Err(EvalError::Internal("nothing to run"));
            };
            self.executed += 1;
            if let Some(fuel) = self.fuel
                && self.executed > fuel
            {
                return Err(at(top, EvalError::OutOfFuel(fuel)));
            }
            match top.step(self) {
                Err(e) => return Err(at(top, e)),
                Ok(Flow::Next) => {}
                Ok(Flow::Call(call)) => pending = Some(call),
                Ok(Flow::Tail(call)) => {
                    stack.pop();
                    pending = Some(call);
                }
                Ok(Flow::Return(v)) => {
                    stack.pop();
                    match stack.last_mut() {
                        None => return Ok(v),
                        Some(caller) => {
                            if let Err(e) = caller.resume(v) {
                                return Err(at(caller, e));
                            }
                        }
                    }
                }
            }
        }
    }

    fn call_host(&mut self, k: usize, args: &[Value]) -> Result<Option<Value>, EvalError> {
        let addr = HOST_BASE + 16 * k as u64;
        let host = self
            .hosts
            .get_mut(k)
            .ok_or(EvalError::NotCallable { addr })?;
        let args = rebind(args, &host.sig.params)?;
        let ret = host.sig.ret;
        let mut f = host.f.take().ok_or_else(|| EvalError::Host {
            addr,
            message: "re-entered".into(),
        })?;
        let mut view = EvalHostCall {
            args: &args,
            memory: &mut self.memory,
        };
        let result = catch_unwind(AssertUnwindSafe(|| f(&mut view)));
        if let Some(host) = self.hosts.get_mut(k) {
            host.f = Some(f);
        }
        match result {
            Ok(Some(v)) => Ok(ret.map(|ty| Value { ty, bits: v.bits }.normalized())),
            Ok(None) => Err(EvalError::Unwound(addr)),
            Err(payload) => Err(EvalError::Host {
                addr,
                message: format!("panicked: {}", panic_message(&*payload)),
            }),
        }
    }
}

/// `e`, located at the instruction `a` is running.
fn at(a: &Activation, e: EvalError) -> EvalError {
    let body = &a.checked().stub().body;
    let text = body.get(a.pc()).map_or_else(String::new, |inst| {
        a.checked()
            .stub()
            .display_instruction(&inst.kind)
            .to_string()
    });
    EvalError::At {
        stub: a.stub_addr(),
        index: a.pc(),
        text,
        error: Box::new(e),
    }
}

/// What a host function sees: its arguments, typed by its signature, and
/// the whole guest memory (stack included, so M2N walks work).
struct EvalHostCall<'a> {
    args: &'a [Value],
    memory: &'a mut Memory,
}

impl HostCall for EvalHostCall<'_> {
    /// Panics (caught by the machine, which ends the call with an error) if
    /// `i` is not a parameter index, as the other machines do.
    fn arg(&self, i: usize) -> Value {
        match self.args.get(i) {
            Some(v) => *v,
            None => panic!(
                "host function argument {i} requested, it has {} parameters",
                self.args.len()
            ),
        }
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        self.memory.read(addr, buf)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        self.memory.write(addr, data)
    }
}

impl Machine for EvalMachine {
    fn isa(&self) -> Isa {
        Isa::Eval
    }

    fn alloc(&mut self, size: usize, align: usize) -> Result<u64, MachineError> {
        if !align.is_power_of_two() {
            return Err(MachineError::Execution(format!(
                "alignment {align} is not a power of two"
            )));
        }
        let start = self.next_data.next_multiple_of(align as u64);
        let end = start
            .checked_add(size as u64)
            .filter(|&end| end <= DATA_BASE + DATA_SIZE)
            .ok_or(MachineError::OutOfMemory)?;
        self.memory.map(start, size, true);
        self.next_data = end + GAP;
        Ok(start)
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        self.memory.read(addr, buf)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        self.memory.write(addr, data)
    }

    fn host_fn(&mut self, sig: HostSig, f: HostFn) -> Result<u64, MachineError> {
        let k = self.hosts.len() as u64;
        let addr = HOST_BASE + 16 * k;
        if addr >= DATA_BASE {
            return Err(MachineError::OutOfMemory);
        }
        self.hosts.push(Host { sig, f: Some(f) });
        Ok(addr)
    }

    /// The interpreter runs no machine code: install stubs with
    /// [`EvalMachine::install_stub`].
    fn install(&mut self, _code: &[u8]) -> Result<u64, MachineError> {
        Err(MachineError::Install(
            "the reference interpreter runs no machine code: install a CheckedStub with \
             EvalMachine::install_stub"
                .into(),
        ))
    }

    fn call(
        &mut self,
        addr: u64,
        sig: &HostSig,
        args: &[Value],
    ) -> Result<Option<Value>, MachineError> {
        Ok(self.call_eval(addr, sig, args)?)
    }

    fn set_thread_pointer(&mut self, thread: u64) -> Result<(), MachineError> {
        self.thread = thread;
        Ok(())
    }

    /// Informational only: `ts` reads the value of
    /// [`Machine::set_thread_pointer`] (or calls the stub's
    /// `ThreadPointer::Call` function), whatever slot the host describes.
    fn thread_pointer_access(&self) -> ThreadPointerAccess {
        ThreadPointerAccess::TlsSlot { offset: 0 }
    }
}

// The frame record is what the backends put just below the caller's stack
// pointer; the interpreter's layout follows the same order.
const _: () = assert!(FRAME_RECORD == 16 && STACK_TOP.is_multiple_of(16) && EXIT < HOST_BASE);
