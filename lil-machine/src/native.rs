//! The native machine: x86-64 System V code run on this CPU (Linux only).
//!
//! Generated code is entered through an *entry trampoline* (generated once
//! per machine with dynasm) that loads the argument registers and stack
//! arguments from a `CallBlock`, calls the target, and stores `rax`/`xmm0`
//! back. Host functions are small per-function *thunks* that spill the
//! argument registers into a `HostBlock` on the stack and call one Rust
//! function, `dispatch`, with the host function's id.
//!
//! Invariants a reader must not break:
//! - No Rust panic ever crosses generated code: host closures run under
//!   `catch_unwind` inside `dispatch`, and `dispatch` itself cannot panic.
//! - Unwinding (a host closure returning `None`, or panicking) never skips a
//!   Rust frame: `dispatch` *returns* to its thunk (having dropped everything
//!   it owns) with the innermost `CallBlock`, and the thunk jumps to the entry
//!   trampoline's unwind path, which restores `rbp`/`rsp` and the callee-saved
//!   registers saved by its prologue. Only generated frames are discarded, in
//!   the manner of `longjmp`.
//! - Code memory is never writable and executable at once (memmap2: write a
//!   RW map, then `make_exec`).

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::cell::Cell;
use std::mem::offset_of;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use dynasmrt::x64::{Rq, Rx, X64Relocation};
use dynasmrt::{DynasmApi, DynasmLabelApi, VecAssembler, dynasm};
use memmap2::{Mmap, MmapMut};

use crate::abi::{self, ArgAssignment, ArgLocation, SYSV_X64};
use crate::{HostCall, HostFn, HostSig, Isa, Machine, MachineError, ThreadPointerAccess, Value};

/// Size of a data arena; larger allocations get an arena of their own.
const ARENA_SIZE: usize = 1 << 20;

/// The System V integer argument registers, in order.
const ARG_GPRS: [Rq; 6] = [Rq::RDI, Rq::RSI, Rq::RDX, Rq::RCX, Rq::R8, Rq::R9];

/// The System V floating-point argument registers, in order.
const ARG_XMMS: [Rx; 8] = [
    Rx::XMM0,
    Rx::XMM1,
    Rx::XMM2,
    Rx::XMM3,
    Rx::XMM4,
    Rx::XMM5,
    Rx::XMM6,
    Rx::XMM7,
];

thread_local! {
    /// The thread pointer (`ts`) generated code sees on this thread. A plain
    /// `const`-initialised cell, so it lives in the static TLS block at a
    /// fixed offset from the `fs` base.
    static THREAD_POINTER: Cell<u64> = const { Cell::new(0) };
}

/// What the entry trampoline reads and writes; lives on `call`'s stack.
#[repr(C)]
struct CallBlock {
    gpr: [u64; 6],
    xmm: [u64; 8],
    stack_args: *const u64,
    /// Number of 8-byte stack slots, even so the call stays 16-byte aligned.
    stack_slots: u64,
    target: u64,
    /// Address of the trampoline's unwind path; thunks jump there.
    unwind: u64,
    /// The trampoline's `rbp`, from which its unwind path restores everything.
    saved_rbp: u64,
    rax: u64,
    xmm0: u64,
}

/// What a host thunk spills; lives on the thunk's stack.
#[repr(C)]
struct HostBlock {
    gpr: [u64; 6],
    xmm: [u64; 8],
    /// Address of the first stack argument (the caller's `rsp` at the call).
    stack_args: *const u64,
    rax: u64,
    xmm0: u64,
    _pad: u64,
}

const _: () = assert!(size_of::<HostBlock>().is_multiple_of(16));

/// One block of zeroed, page-aligned data memory; bump-allocated.
struct Arena {
    _map: MmapMut,
    base: *mut u8,
    size: usize,
    used: usize,
}

/// The machine's data memory: every address `read`/`write` accept.
struct Memory {
    arenas: Vec<Arena>,
}

impl Memory {
    fn alloc(&mut self, size: usize, align: usize) -> Result<u64, MachineError> {
        if !align.is_power_of_two() {
            return Err(MachineError::Execution(format!(
                "alignment {align} is not a power of two"
            )));
        }
        if let Some(arena) = self.arenas.last_mut() {
            let start = (arena.base as usize + arena.used).next_multiple_of(align);
            let offset = start - arena.base as usize;
            if let Some(end) = offset.checked_add(size).filter(|end| *end <= arena.size) {
                arena.used = end;
                return Ok(start as u64);
            }
        }
        let padded = size.checked_add(align).ok_or(MachineError::OutOfMemory)?;
        let arena_size = padded.max(ARENA_SIZE).next_multiple_of(4096);
        let mut map = MmapMut::map_anon(arena_size).map_err(|_| MachineError::OutOfMemory)?;
        let base = map.as_mut_ptr();
        let start = (base as usize).next_multiple_of(align);
        let used = start - base as usize + size;
        self.arenas.push(Arena {
            _map: map,
            base,
            size: arena_size,
            used,
        });
        Ok(start as u64)
    }

    /// The host pointer for `len` bytes at `addr`, if they are all allocated.
    fn check(&self, addr: u64, len: usize) -> Result<*mut u8, MachineError> {
        let bad = MachineError::BadAccess { addr, len };
        let end = addr.checked_add(len as u64).ok_or(bad)?;
        self.arenas
            .iter()
            .find(|a| {
                let base = a.base as u64;
                addr >= base && end <= base + a.used as u64
            })
            .map(|_| addr as *mut u8)
            .ok_or(MachineError::BadAccess { addr, len })
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        let src = self.check(addr, buf.len())?;
        // SAFETY: `check` proved the range lies in an arena this machine owns;
        // no Rust reference to arena bytes exists (they are only touched
        // through raw pointers), so a raw copy cannot alias one.
        unsafe { ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        let dst = self.check(addr, data.len())?;
        // SAFETY: as in `read`.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Ok(())
    }
}

/// A registered host function.
struct HostEntry {
    sig: HostSig,
    assignment: ArgAssignment,
    /// `None` while the closure runs (a re-entrant call is an error).
    f: Option<HostFn>,
    addr: u64,
}

/// State `dispatch` reaches through the raw pointer baked into every thunk.
struct Shared {
    memory: Memory,
    hosts: Vec<HostEntry>,
    /// The innermost active `call`'s block, or null outside calls.
    current: *mut CallBlock,
    /// Why the current call unwound.
    pending: Option<MachineError>,
}

/// The generated entry trampoline.
struct Trampoline {
    _code: Mmap,
    /// Returns 0 when the target returned, 1 when a host function unwound.
    entry: unsafe extern "sysv64" fn(*mut CallBlock) -> u64,
    unwind: u64,
}

/// A [`Machine`] running x86-64 System V code natively.
///
/// Memory from [`Machine::alloc`] is real process memory (the returned
/// address is a host pointer generated code may use directly); `read` and
/// `write` accept only addresses inside those allocations. Host functions are
/// real code addresses following System V. The machine is `!Send`: the
/// thread pointer lives in this thread's TLS.
///
/// ```
/// use lil_machine::{Machine, HostSig, Value, native::NativeMachine};
/// use lil_syntax::Type;
/// let mut m = NativeMachine::new()?;
/// // lea rax, [rdi + rsi]; ret
/// let f = m.install(&[0x48, 0x8d, 0x04, 0x37, 0xc3])?;
/// let sig = HostSig::new(&[Type::G8, Type::G8], Some(Type::G8));
/// let r = m.call(f, &sig, &[Value::int(Type::G8, 40), Value::int(Type::G8, 2)])?;
/// assert_eq!(r, Some(Value::int(Type::G8, 42)));
/// # Ok::<(), lil_machine::MachineError>(())
/// ```
pub struct NativeMachine {
    /// Owned (from `Box::into_raw`), freed in `Drop`. Kept raw because thunks
    /// reach it while `call` holds `&mut self`.
    shared: *mut Shared,
    trampoline: Trampoline,
    /// Installed code and host thunks; `call` only enters these ranges.
    code: Vec<Mmap>,
    thread: u64,
    thread_pointer: ThreadPointerAccess,
}

impl NativeMachine {
    /// A machine whose thread pointer is a TLS slot at `fs:offset` when this
    /// thread's static TLS allows it, otherwise a host function call.
    pub fn new() -> Result<NativeMachine, MachineError> {
        let mut m = NativeMachine::bare()?;
        m.thread_pointer = match tls_slot_offset() {
            Some(offset) => ThreadPointerAccess::TlsSlot { offset },
            None => m.thread_pointer_function()?,
        };
        Ok(m)
    }

    /// A machine whose thread pointer is always read by calling a host
    /// function (`ThreadPointerAccess::Call`), as on hosts without a usable
    /// TLS slot.
    pub fn with_thread_pointer_call() -> Result<NativeMachine, MachineError> {
        let mut m = NativeMachine::bare()?;
        m.thread_pointer = m.thread_pointer_function()?;
        Ok(m)
    }

    fn bare() -> Result<NativeMachine, MachineError> {
        let (code, unwind_offset) = trampoline_code()?;
        let map = map_code(&code)?;
        let base = map.as_ptr() as u64;
        // SAFETY: the mapping holds the trampoline just generated, whose
        // entry point is its first byte and follows this signature.
        let entry = unsafe {
            std::mem::transmute::<*const u8, unsafe extern "sysv64" fn(*mut CallBlock) -> u64>(
                map.as_ptr(),
            )
        };
        let shared = Box::into_raw(Box::new(Shared {
            memory: Memory { arenas: Vec::new() },
            hosts: Vec::new(),
            current: ptr::null_mut(),
            pending: None,
        }));
        Ok(NativeMachine {
            shared,
            trampoline: Trampoline {
                _code: map,
                entry,
                unwind: base + unwind_offset as u64,
            },
            code: Vec::new(),
            thread: 0,
            thread_pointer: ThreadPointerAccess::TlsSlot { offset: 0 },
        })
    }

    fn thread_pointer_function(&mut self) -> Result<ThreadPointerAccess, MachineError> {
        let sig = HostSig::new(&[], Some(lil_syntax::Type::Pint));
        let function = self.host_fn(
            sig,
            Box::new(|_| Some(Value::pint(THREAD_POINTER.with(Cell::get)))),
        )?;
        Ok(ThreadPointerAccess::Call { function })
    }

    fn shared(&mut self) -> &mut Shared {
        // SAFETY: `shared` is valid until `Drop`; `&mut self` excludes a
        // running `call`, the only other user.
        unsafe { &mut *self.shared }
    }

    fn is_code(&self, addr: u64) -> bool {
        self.code.iter().any(|m| {
            let base = m.as_ptr() as u64;
            addr >= base && addr < base + m.len() as u64
        })
    }
}

impl Drop for NativeMachine {
    fn drop(&mut self) {
        // SAFETY: allocated by `Box::into_raw` in `bare`, freed only here.
        drop(unsafe { Box::from_raw(self.shared) });
    }
}

impl Machine for NativeMachine {
    fn isa(&self) -> Isa {
        Isa::X64
    }

    fn alloc(&mut self, size: usize, align: usize) -> Result<u64, MachineError> {
        self.shared().memory.alloc(size, align)
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        self.shared().memory.read(addr, buf)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        self.shared().memory.write(addr, data)
    }

    fn host_fn(&mut self, sig: HostSig, f: HostFn) -> Result<u64, MachineError> {
        let id = self.shared().hosts.len() as u64;
        let code = thunk_code(self.shared, id)?;
        let map = map_code(&code)?;
        let addr = map.as_ptr() as u64;
        self.code.push(map);
        let assignment = abi::assign_args(SYSV_X64, &sig.params);
        self.shared().hosts.push(HostEntry {
            sig,
            assignment,
            f: Some(f),
            addr,
        });
        Ok(addr)
    }

    fn install(&mut self, code: &[u8]) -> Result<u64, MachineError> {
        let map = map_code(code)?;
        let addr = map.as_ptr() as u64;
        self.code.push(map);
        Ok(addr)
    }

    fn call(
        &mut self,
        addr: u64,
        sig: &HostSig,
        args: &[Value],
    ) -> Result<Option<Value>, MachineError> {
        abi::check_args(sig, args)?;
        if !self.is_code(addr) {
            return Err(MachineError::Execution(format!(
                "{addr:#x} is not in code installed in this machine"
            )));
        }
        let assignment = abi::assign_args(SYSV_X64, &sig.params);
        let mut stack = vec![0u64; (assignment.stack_bytes(SYSV_X64) / 8) as usize];
        let mut block = CallBlock {
            gpr: [0; 6],
            xmm: [0; 8],
            stack_args: ptr::null(),
            stack_slots: stack.len() as u64,
            target: addr,
            unwind: self.trampoline.unwind,
            saved_rbp: 0,
            rax: 0,
            xmm0: 0,
        };
        for (location, arg) in assignment.locations.iter().zip(args) {
            match *location {
                ArgLocation::Gpr(n) => block.gpr[usize::from(n)] = arg.bits,
                ArgLocation::Fpr(n) => block.xmm[usize::from(n)] = arg.bits,
                ArgLocation::Stack(n) => stack[n as usize] = arg.bits,
            }
        }
        block.stack_args = stack.as_ptr();
        THREAD_POINTER.with(|c| c.set(self.thread));

        let block_ptr: *mut CallBlock = &mut block;
        let shared = self.shared;
        // SAFETY: `shared` is live; no reference to it is held across the
        // call (thunks create their own through the same raw pointer).
        let previous = unsafe { std::mem::replace(&mut (*shared).current, block_ptr) };
        // SAFETY: the trampoline follows its documented contract; `addr` is
        // code this machine installed, which the caller vouches is valid
        // System V code for `sig`.
        let unwound = unsafe { (self.trampoline.entry)(block_ptr) };
        // SAFETY: as above; the call is over.
        let pending = unsafe {
            (*shared).current = previous;
            (*shared).pending.take()
        };
        drop(stack);
        if unwound != 0 {
            return Err(pending.unwrap_or(MachineError::Unwound(0)));
        }
        if let Some(error) = pending {
            return Err(error);
        }
        Ok(sig
            .ret
            .map(|ty| abi::value_from_raw(ty, if ty.is_float() { block.xmm0 } else { block.rax })))
    }

    fn set_thread_pointer(&mut self, thread: u64) -> Result<(), MachineError> {
        self.thread = thread;
        THREAD_POINTER.with(|c| c.set(thread));
        Ok(())
    }

    fn thread_pointer_access(&self) -> ThreadPointerAccess {
        self.thread_pointer
    }
}

/// The view a host closure gets of its call.
struct NativeHostCall<'a> {
    block: &'a HostBlock,
    sig: &'a HostSig,
    assignment: &'a ArgAssignment,
    memory: &'a Memory,
}

impl HostCall for NativeHostCall<'_> {
    /// Panics (caught by the machine, which ends the call with
    /// [`MachineError::Execution`]) if `i` is not a parameter index.
    fn arg(&self, i: usize) -> Value {
        let (Some(ty), Some(location)) = (self.sig.params.get(i), self.assignment.locations.get(i))
        else {
            panic!(
                "host function argument {i} requested, it has {} parameters",
                self.sig.params.len()
            );
        };
        let raw = match *location {
            ArgLocation::Gpr(n) => self.block.gpr[usize::from(n)],
            ArgLocation::Fpr(n) => self.block.xmm[usize::from(n)],
            // SAFETY: the caller followed System V for this signature, so
            // slot `n` above its stack pointer holds the argument.
            ArgLocation::Stack(n) => unsafe {
                self.block.stack_args.add(n as usize).read_unaligned()
            },
        };
        abi::value_from_raw(*ty, raw)
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        self.memory.read(addr, buf)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        self.memory.write(addr, data)
    }
}

/// The one Rust function every host thunk calls. Returns null to return to
/// the generated caller normally, or the `CallBlock` whose trampoline the
/// thunk must unwind to.
extern "sysv64" fn dispatch(shared: *mut Shared, id: u64, block: *mut HostBlock) -> *mut CallBlock {
    // SAFETY: thunks pass the pointer of the machine that owns them (alive
    // while its code can run) and a pointer to their own spill block. No
    // other reference to `Shared` is live while generated code runs.
    let (shared, block) = unsafe { (&mut *shared, &mut *block) };
    match run_host(shared, id, block) {
        Ok(()) => ptr::null_mut(),
        Err(error) => {
            shared.pending = Some(error);
            // Outside a `call` there is nothing to unwind to: return 0 and
            // leave the error for the next `call` to report.
            shared.current
        }
    }
}

fn run_host(shared: &mut Shared, id: u64, block: &mut HostBlock) -> Result<(), MachineError> {
    // The thunk returns these even for void functions and failed calls.
    (block.rax, block.xmm0) = (0, 0);
    let Shared { memory, hosts, .. } = shared;
    let entry = usize::try_from(id)
        .ok()
        .and_then(|i| hosts.get_mut(i))
        .ok_or_else(|| MachineError::Execution(format!("no host function {id}")))?;
    // `stack_args` is the caller's stack pointer before its `call`, which
    // System V requires to be a multiple of 16: every host call of every
    // test checks the stub's stack alignment.
    let caller_sp = block.stack_args as u64;
    if !caller_sp.is_multiple_of(16) {
        return Err(MachineError::Execution(format!(
            "host function at {:#x} called with the stack misaligned: the caller's \
             stack pointer was {caller_sp:#x}, not a multiple of 16",
            entry.addr
        )));
    }
    let mut f = entry.f.take().ok_or_else(|| {
        MachineError::Execution(format!("host function at {:#x} re-entered", entry.addr))
    })?;
    let mut view = NativeHostCall {
        block,
        sig: &entry.sig,
        assignment: &entry.assignment,
        memory,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&mut view)));
    entry.f = Some(f);
    match result {
        Ok(Some(value)) => {
            match entry.sig.ret {
                Some(ty) if ty.is_float() => block.xmm0 = abi::value_from_raw(ty, value.bits).bits,
                Some(ty) => block.rax = abi::value_from_raw(ty, value.bits).bits,
                None => {}
            }
            Ok(())
        }
        Ok(None) => Err(MachineError::Unwound(entry.addr)),
        Err(payload) => Err(MachineError::Execution(format!(
            "host function at {:#x} panicked: {}",
            entry.addr,
            abi::panic_message(&*payload)
        ))),
    }
}

/// The offset of `THREAD_POINTER` from the `fs` base, if it fits an `i32`
/// and reading `fs:[offset]` really yields the cell.
fn tls_slot_offset() -> Option<i32> {
    const PROBE: u64 = 0x5a5a_1234_8765_a5a5;
    let cell = THREAD_POINTER.with(|c| c.as_ptr() as u64);
    let fs_base: u64;
    // SAFETY: on x86-64 Linux `fs:0` holds the TCB's self pointer, i.e. the
    // fs base; reading it has no side effects.
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) fs_base, options(nostack, readonly, preserves_flags))
    };
    let offset = i32::try_from(cell.wrapping_sub(fs_base) as i64).ok()?;
    let saved = THREAD_POINTER.with(|c| c.replace(PROBE));
    let seen: u64;
    // SAFETY: `offset` is the distance from the fs base to a live cell of
    // this thread, so the load reads that cell.
    unsafe {
        core::arch::asm!(
            "mov {seen}, qword ptr fs:[{offset}]",
            offset = in(reg) i64::from(offset),
            seen = out(reg) seen,
            options(nostack, readonly, preserves_flags),
        )
    };
    THREAD_POINTER.with(|c| c.set(saved));
    (seen == PROBE).then_some(offset)
}

/// Copy position-independent code into a fresh executable mapping.
fn map_code(code: &[u8]) -> Result<Mmap, MachineError> {
    let install = |e: std::io::Error| MachineError::Install(e.to_string());
    let mut map = MmapMut::map_anon(code.len().max(1)).map_err(install)?;
    map[..code.len()].copy_from_slice(code);
    map.make_exec().map_err(install)
}

fn disp(offset: usize) -> i32 {
    // Block offsets are small compile-time layouts.
    offset as i32
}

/// The entry trampoline `extern "sysv64" fn(*mut CallBlock) -> u64` and the
/// offset of its unwind path (entered by `jmp` with `rdi` = the block).
fn trampoline_code() -> Result<(Vec<u8>, usize), MachineError> {
    let mut ops = VecAssembler::<X64Relocation>::new(0);
    let (copy, copied, leave) = (
        ops.new_dynamic_label(),
        ops.new_dynamic_label(),
        ops.new_dynamic_label(),
    );
    let gpr = disp(offset_of!(CallBlock, gpr));
    let xmm = disp(offset_of!(CallBlock, xmm));
    dynasm!(ops
        ; .arch x64
        ; push rbp
        ; mov rbp, rsp
        ; push rbx
        ; push r12
        ; push r13
        ; push r14
        ; push r15
        ; sub rsp, 8 // 16-byte aligned from here on
        ; mov rbx, rdi
        ; mov [rbx + disp(offset_of!(CallBlock, saved_rbp))], rbp
        ; mov rcx, [rbx + disp(offset_of!(CallBlock, stack_slots))]
        ; lea rax, [rcx * 8]
        ; sub rsp, rax
        ; mov rsi, [rbx + disp(offset_of!(CallBlock, stack_args))]
        ; xor edx, edx
        ; =>copy
        ; cmp rdx, rcx
        ; jae =>copied
        ; mov rax, [rsi + rdx * 8]
        ; mov [rsp + rdx * 8], rax
        ; inc rdx
        ; jmp =>copy
        ; =>copied
    );
    for (i, reg) in (0i32..).zip(ARG_XMMS) {
        dynasm!(ops ; .arch x64 ; movsd Rx(reg), QWORD [rbx + xmm + 8 * i]);
    }
    for (i, reg) in (0i32..).zip(ARG_GPRS) {
        dynasm!(ops ; .arch x64 ; mov Rq(reg), [rbx + gpr + 8 * i]);
    }
    dynasm!(ops
        ; .arch x64
        ; mov eax, 8 // upper bound of vector registers used, for variadic callees
        ; call QWORD [rbx + disp(offset_of!(CallBlock, target))]
        ; mov [rbx + disp(offset_of!(CallBlock, rax))], rax
        ; movsd QWORD [rbx + disp(offset_of!(CallBlock, xmm0))], xmm0
        ; xor eax, eax
        ; =>leave
        ; lea rsp, [rbp - 40]
        ; pop r15
        ; pop r14
        ; pop r13
        ; pop r12
        ; pop rbx
        ; pop rbp
        ; ret
    );
    let unwind = ops.offset().0;
    dynasm!(ops
        ; .arch x64
        ; mov rbp, [rdi + disp(offset_of!(CallBlock, saved_rbp))]
        ; cld
        ; mov eax, 1
        ; jmp =>leave
    );
    let code = ops
        .finalize()
        .map_err(|e| MachineError::Install(e.to_string()))?;
    Ok((code, unwind))
}

/// The thunk of host function `id`: spill, call `dispatch`, return or unwind.
fn thunk_code(shared: *mut Shared, id: u64) -> Result<Vec<u8>, MachineError> {
    type Dispatch = extern "sysv64" fn(*mut Shared, u64, *mut HostBlock) -> *mut CallBlock;
    let mut ops = VecAssembler::<X64Relocation>::new(0);
    let unwind = ops.new_dynamic_label();
    let gpr = disp(offset_of!(HostBlock, gpr));
    let xmm = disp(offset_of!(HostBlock, xmm));
    dynasm!(ops
        ; .arch x64
        ; push rbp
        ; mov rbp, rsp
        ; and rsp, -16
        ; sub rsp, size_of::<HostBlock>() as i32
    );
    for (i, reg) in (0i32..).zip(ARG_GPRS) {
        dynasm!(ops ; .arch x64 ; mov [rsp + gpr + 8 * i], Rq(reg));
    }
    for (i, reg) in (0i32..).zip(ARG_XMMS) {
        dynasm!(ops ; .arch x64 ; movsd QWORD [rsp + xmm + 8 * i], Rx(reg));
    }
    dynasm!(ops
        ; .arch x64
        ; lea rax, [rbp + 16]
        ; mov [rsp + disp(offset_of!(HostBlock, stack_args))], rax
        ; mov rdi, QWORD shared as i64
        ; mov rsi, QWORD id as i64
        ; mov rdx, rsp
        ; mov rax, QWORD dispatch as Dispatch as usize as i64
        ; call rax
        ; test rax, rax
        ; jnz =>unwind
        ; mov rax, [rsp + disp(offset_of!(HostBlock, rax))]
        ; movsd xmm0, QWORD [rsp + disp(offset_of!(HostBlock, xmm0))]
        ; mov rsp, rbp
        ; pop rbp
        ; ret
        ; =>unwind
        ; mov rdi, rax
        ; jmp QWORD [rdi + disp(offset_of!(CallBlock, unwind))]
    );
    ops.finalize()
        .map_err(|e| MachineError::Install(e.to_string()))
}
