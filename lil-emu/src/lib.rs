//! An AArch64 [`Machine`] for tests and tools: generated AArch64 code runs
//! under the Unicorn emulator (QEMU-derived, GPL-2.0: never link this crate
//! into shipped binaries).
//!
//! The guest address space is fixed (see the `*_BASE` constants): a code
//! region (R+X) that [`Machine::install`] bump-allocates, a data region (R+W)
//! that [`Machine::alloc`] bump-allocates, a stack, a TLS block that
//! `TPIDR_EL0` points at, and a *host page* of 4-byte `ret` slots. A host
//! function is one slot: a code hook restricted to the host page runs the
//! Rust closure when the guest reaches the slot, writes `x0`/`d0`, and the
//! slot's `ret` then returns to the guest. [`Machine::call`] enters code with
//! `x30` = [`EXIT`], the first word of the host page, and
//! `emu_start(entry, EXIT)`.
//!
//! Invariants a reader must not break:
//! - No Rust panic crosses the emulator's C frames: hooks run host closures
//!   under `catch_unwind`, and a panic or a `None` result becomes a pending
//!   error plus `emu_stop`, which `call` reports.
//! - Code rewritten at an address that ran before must be dropped from the
//!   translation cache (`ctl_remove_cache`); hooks added after translation
//!   need `ctl_flush_tb`.
//!
//! ```
//! use lil_emu::Arm64Emulator;
//! use lil_machine::{HostSig, Machine, Value};
//! use lil_syntax::Type;
//! let mut m = Arm64Emulator::new()?;
//! // add x0, x0, x1; ret
//! let f = m.install(&[0x00, 0x00, 0x01, 0x8b, 0xc0, 0x03, 0x5f, 0xd6])?;
//! let sig = HostSig::new(&[Type::G8, Type::G8], Some(Type::G8));
//! let r = m.call(f, &sig, &[Value::int(Type::G8, 40), Value::int(Type::G8, 2)])?;
//! assert_eq!(r, Some(Value::int(Type::G8, 42)));
//! # Ok::<(), lil_machine::MachineError>(())
//! ```

#![warn(missing_docs)]

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use lil_machine::abi::{self, AAPCS64, ArgAssignment, ArgLocation};
use lil_machine::{
    HostCall, HostFn, HostSig, Isa, Machine, MachineError, ThreadPointerAccess, Value,
};
use unicorn_engine::{Arch, Arm64CpuModel, Mode, Prot, RegisterARM64, UcHookId, Unicorn, uc_error};

/// Start of the code region (read + execute).
pub const CODE_BASE: u64 = 0x1000_0000;
/// Size of the code region.
pub const CODE_SIZE: u64 = 16 << 20;
/// Start of the data region (read + write) that `alloc` hands out.
pub const DATA_BASE: u64 = 0x2000_0000;
/// Size of the data region.
pub const DATA_SIZE: u64 = 64 << 20;
/// Lowest address of the stack.
pub const STACK_BASE: u64 = 0x3000_0000;
/// Size of the stack.
pub const STACK_SIZE: u64 = 1 << 20;
/// Initial stack pointer of a call (16-byte aligned).
pub const STACK_TOP: u64 = STACK_BASE + STACK_SIZE;
/// The TLS block; `TPIDR_EL0` holds this address and `[TLS_BASE]` the thread pointer.
pub const TLS_BASE: u64 = 0x3800_0000;
/// Size of the TLS block.
pub const TLS_SIZE: u64 = 0x1000;
/// Start of the host page (read + execute): [`EXIT`], then host function
/// slot `k` at `HOST_BASE + 4 + 4k`. Nothing is mapped just below it.
pub const HOST_BASE: u64 = 0x4000_0000;
/// Size of the host page.
pub const HOST_SIZE: u64 = 0x4000;
/// The return address of [`Machine::call`]: the first word of the host page.
///
/// It must be the first byte of a mapping: after every `emu_start` Unicorn
/// invalidates the translated code covering `EXIT - 1`, and when that byte is
/// mapped code this costs a retranslation per call (measured: 6 µs instead of
/// 0.3 µs per call).
pub const EXIT: u64 = HOST_BASE;

// EXIT starts a mapping and nothing is mapped right below it (see EXIT).
const _: () =
    assert!(EXIT == HOST_BASE && TLS_BASE + TLS_SIZE < HOST_BASE && STACK_TOP.is_multiple_of(16));

/// Number of host function slots (the first word is [`EXIT`]).
const HOST_SLOTS: usize = (HOST_SIZE / 4) as usize - 1;
/// `ret`.
const RET: [u8; 4] = [0xc0, 0x03, 0x5f, 0xd6];
/// Alignment of installed code.
const CODE_ALIGN: u64 = 16;

const X: [RegisterARM64; 8] = [
    RegisterARM64::X0,
    RegisterARM64::X1,
    RegisterARM64::X2,
    RegisterARM64::X3,
    RegisterARM64::X4,
    RegisterARM64::X5,
    RegisterARM64::X6,
    RegisterARM64::X7,
];

/// The low 64 bits of v0-v7 (an `f4` is the low 32 bits of these).
const D: [RegisterARM64; 8] = [
    RegisterARM64::D0,
    RegisterARM64::D1,
    RegisterARM64::D2,
    RegisterARM64::D3,
    RegisterARM64::D4,
    RegisterARM64::D5,
    RegisterARM64::D6,
    RegisterARM64::D7,
];

/// The CPU model the emulator implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Arm64Cpu {
    /// Cortex-A53 (ARMv8.0).
    CortexA53,
    /// Cortex-A57 (ARMv8.0).
    CortexA57,
    /// Cortex-A72 (ARMv8.0, no LSE atomics): the default.
    #[default]
    CortexA72,
    /// QEMU's `max` CPU: every feature the emulator knows, including ARMv8.1
    /// LSE atomics (`cas`, `casal`, `ldadd`, ...).
    Max,
}

impl Arm64Cpu {
    /// Whether the model has ARMv8.1 LSE atomics.
    pub fn has_lse(self) -> bool {
        self == Arm64Cpu::Max
    }

    fn model(self) -> Arm64CpuModel {
        match self {
            Arm64Cpu::CortexA53 => Arm64CpuModel::A53,
            Arm64Cpu::CortexA57 => Arm64CpuModel::A57,
            Arm64Cpu::CortexA72 => Arm64CpuModel::A72,
            Arm64Cpu::Max => Arm64CpuModel::MAX,
        }
    }
}

/// Options of an [`Arm64Emulator`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Arm64EmulatorBuilder {
    cpu: Arm64Cpu,
}

impl Arm64EmulatorBuilder {
    /// Emulate `cpu`.
    pub fn cpu(mut self, cpu: Arm64Cpu) -> Self {
        self.cpu = cpu;
        self
    }

    /// With `true`, a CPU with ARMv8.1 LSE atomics ([`Arm64Cpu::Max`]); with
    /// `false`, back to the default Cortex-A72 if the chosen CPU has them.
    pub fn with_lse(mut self, lse: bool) -> Self {
        if lse {
            self.cpu = Arm64Cpu::Max;
        } else if self.cpu.has_lse() {
            self.cpu = Arm64Cpu::CortexA72;
        }
        self
    }

    /// Create the emulator and map its address space.
    pub fn build(self) -> Result<Arm64Emulator, MachineError> {
        Arm64Emulator::create(self.cpu)
    }
}

/// What a host function slot knows besides its closure.
struct HostInfo {
    sig: HostSig,
    assignment: ArgAssignment,
}

/// A registered host function.
struct HostEntry {
    info: Rc<HostInfo>,
    /// `None` while the closure runs.
    f: Option<HostFn>,
}

/// State shared between the emulator and its hooks.
struct HostState {
    hosts: Vec<HostEntry>,
    /// Why the current call stopped early.
    pending: Option<MachineError>,
}

/// A [`Machine`] running AArch64 (AAPCS64) code under Unicorn.
///
/// Holds an `Rc` internally, so it is `!Send`. Nested calls (a host closure
/// calling back into the guest) are not supported: [`HostCall`] offers no way
/// to do it.
pub struct Arm64Emulator {
    uc: Unicorn<'static, ()>,
    state: Rc<RefCell<HostState>>,
    /// End of the allocated part of the data region (shared with hooks, which
    /// check host-function memory accesses against it).
    data_end: Rc<Cell<u64>>,
    code_next: u64,
    cpu: Arm64Cpu,
    counting: bool,
    count: Rc<Cell<u64>>,
    count_hook: Option<UcHookId>,
}

/// An emulator error as a [`MachineError::Execution`].
fn emu_error(what: &str) -> impl Fn(uc_error) -> MachineError + '_ {
    move |e| MachineError::Execution(format!("{what}: {e:?}"))
}

impl Arm64Emulator {
    /// An emulated Cortex-A72.
    pub fn new() -> Result<Arm64Emulator, MachineError> {
        Arm64Emulator::builder().build()
    }

    /// Options: CPU model, LSE atomics.
    pub fn builder() -> Arm64EmulatorBuilder {
        Arm64EmulatorBuilder::default()
    }

    fn create(cpu: Arm64Cpu) -> Result<Arm64Emulator, MachineError> {
        let mut uc = Unicorn::new(Arch::ARM64, Mode::ARM)
            .map_err(emu_error("cannot create the emulator"))?;
        uc.ctl_set_cpu_model(cpu.model() as i32)
            .map_err(emu_error("cannot select the CPU model"))?;
        let regions = [
            (CODE_BASE, CODE_SIZE, Prot::READ | Prot::EXEC),
            (DATA_BASE, DATA_SIZE, Prot::READ | Prot::WRITE),
            (STACK_BASE, STACK_SIZE, Prot::READ | Prot::WRITE),
            (TLS_BASE, TLS_SIZE, Prot::READ | Prot::WRITE),
            (HOST_BASE, HOST_SIZE, Prot::READ | Prot::EXEC),
        ];
        for (base, size, prot) in regions {
            uc.mem_map(base, size, prot)
                .map_err(emu_error("cannot map guest memory"))?;
        }
        uc.mem_write(HOST_BASE, &RET.repeat(HOST_SIZE as usize / 4))
            .map_err(emu_error("cannot fill the host page"))?;
        uc.reg_write(RegisterARM64::TPIDR_EL0, TLS_BASE)
            .map_err(emu_error("cannot set TPIDR_EL0"))?;

        let state = Rc::new(RefCell::new(HostState {
            hosts: Vec::new(),
            pending: None,
        }));
        let data_end = Rc::new(Cell::new(DATA_BASE));
        let (hook_state, hook_data_end) = (state.clone(), data_end.clone());
        uc.add_code_hook(HOST_BASE, HOST_BASE + HOST_SIZE - 1, move |uc, addr, _| {
            if addr == EXIT {
                return;
            }
            if let Err(error) = run_host(uc, &hook_state, hook_data_end.get(), addr) {
                hook_state.borrow_mut().pending = Some(error);
                // If even stopping fails, the call runs on; the pending error
                // is still reported when it ends.
                let _ = uc.emu_stop();
            }
        })
        .map_err(emu_error("cannot hook the host page"))?;

        Ok(Arm64Emulator {
            uc,
            state,
            data_end,
            code_next: CODE_BASE,
            cpu,
            counting: false,
            count: Rc::new(Cell::new(0)),
            count_hook: None,
        })
    }

    /// The emulated CPU model.
    pub fn cpu(&self) -> Arm64Cpu {
        self.cpu
    }

    /// The address the next [`Machine::install`] will return (for assemblers
    /// that resolve absolute targets against their base address).
    pub fn next_install_address(&self) -> u64 {
        self.code_next
    }

    /// Count the guest instructions executed in the code region (not the
    /// host page) by each following [`Machine::call`]. Counting slows
    /// emulation down; it takes effect at the next call.
    pub fn set_count_instructions(&mut self, on: bool) {
        self.counting = on;
    }

    /// Instructions executed in the code region by the last call (0 when
    /// counting was off).
    pub fn last_instruction_count(&self) -> u64 {
        self.count.get()
    }

    /// Add or remove the counting hook to match `self.counting`.
    fn sync_count_hook(&mut self) -> Result<(), MachineError> {
        match (self.counting, self.count_hook) {
            (true, None) => {
                let count = self.count.clone();
                let hook = self
                    .uc
                    .add_code_hook(CODE_BASE, CODE_BASE + CODE_SIZE - 1, move |_, _, _| {
                        count.set(count.get() + 1)
                    })
                    .map_err(emu_error("cannot add the counting hook"))?;
                self.count_hook = Some(hook);
            }
            (false, Some(hook)) => {
                self.uc
                    .remove_hook(hook)
                    .map_err(emu_error("cannot remove the counting hook"))?;
                self.count_hook = None;
            }
            _ => return Ok(()),
        }
        // Blocks translated before the change do not call (or still call) the hook.
        self.uc
            .ctl_flush_tb()
            .map_err(emu_error("cannot flush translated code"))
    }

    fn check_data(&self, addr: u64, len: usize) -> Result<(), MachineError> {
        check_data(self.data_end.get(), addr, len)
    }
}

/// Accept `len` bytes at `addr` only inside the allocated data region or
/// the guest stack (where stubs keep M2N frames and `alloc` blocks, which
/// host functions such as stack walkers read).
fn check_data(data_end: u64, addr: u64, len: usize) -> Result<(), MachineError> {
    match addr.checked_add(len as u64) {
        Some(end) if addr >= DATA_BASE && end <= data_end => Ok(()),
        Some(end) if addr >= STACK_BASE && end <= STACK_TOP => Ok(()),
        _ => Err(MachineError::BadAccess { addr, len }),
    }
}

impl Machine for Arm64Emulator {
    fn isa(&self) -> Isa {
        Isa::Arm64
    }

    fn alloc(&mut self, size: usize, align: usize) -> Result<u64, MachineError> {
        if !align.is_power_of_two() {
            return Err(MachineError::Execution(format!(
                "alignment {align} is not a power of two"
            )));
        }
        let start = self
            .data_end
            .get()
            .checked_next_multiple_of(align as u64)
            .ok_or(MachineError::OutOfMemory)?;
        let end = start
            .checked_add(size as u64)
            .ok_or(MachineError::OutOfMemory)?;
        if end > DATA_BASE + DATA_SIZE {
            return Err(MachineError::OutOfMemory);
        }
        self.data_end.set(end);
        Ok(start)
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        self.check_data(addr, buf.len())?;
        self.uc
            .mem_read(addr, buf)
            .map_err(|_| MachineError::BadAccess {
                addr,
                len: buf.len(),
            })
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        self.check_data(addr, data.len())?;
        self.uc
            .mem_write(addr, data)
            .map_err(|_| MachineError::BadAccess {
                addr,
                len: data.len(),
            })
    }

    fn host_fn(&mut self, sig: HostSig, f: HostFn) -> Result<u64, MachineError> {
        let mut state = self.state.borrow_mut();
        let slot = state.hosts.len();
        if slot >= HOST_SLOTS {
            return Err(MachineError::Install(format!(
                "all {HOST_SLOTS} host function slots are used"
            )));
        }
        let addr = HOST_BASE + 4 + 4 * slot as u64;
        let assignment = abi::assign_args(AAPCS64, &sig.params);
        state.hosts.push(HostEntry {
            info: Rc::new(HostInfo { sig, assignment }),
            f: Some(f),
        });
        Ok(addr)
    }

    fn install(&mut self, code: &[u8]) -> Result<u64, MachineError> {
        let start = self.code_next;
        let end = start
            .checked_add(code.len() as u64)
            .filter(|end| *end <= CODE_BASE + CODE_SIZE)
            .ok_or_else(|| MachineError::Install("the code region is full".to_string()))?;
        let install = |e: uc_error| MachineError::Install(format!("{e:?}"));
        self.uc.mem_write(start, code).map_err(install)?;
        self.uc.ctl_remove_cache(start, end).map_err(install)?;
        self.code_next = end.next_multiple_of(CODE_ALIGN);
        Ok(start)
    }

    fn call(
        &mut self,
        addr: u64,
        sig: &HostSig,
        args: &[Value],
    ) -> Result<Option<Value>, MachineError> {
        abi::check_args(sig, args)?;
        self.sync_count_hook()?;
        let assignment = abi::assign_args(AAPCS64, &sig.params);
        let sp = STACK_TOP - assignment.stack_bytes(AAPCS64);
        let setup = emu_error("cannot set up the call");
        for (location, arg) in assignment.locations.iter().zip(args) {
            match *location {
                ArgLocation::Gpr(n) => self
                    .uc
                    .reg_write(X[usize::from(n)], arg.bits)
                    .map_err(&setup)?,
                ArgLocation::Fpr(n) => self
                    .uc
                    .reg_write(D[usize::from(n)], arg.bits)
                    .map_err(&setup)?,
                ArgLocation::Stack(n) => self
                    .uc
                    .mem_write(sp + 8 * u64::from(n), &arg.bits.to_le_bytes())
                    .map_err(&setup)?,
            }
        }
        self.uc.reg_write(RegisterARM64::SP, sp).map_err(&setup)?;
        self.uc
            .reg_write(RegisterARM64::X30, EXIT)
            .map_err(&setup)?;
        self.count.set(0);
        self.state.borrow_mut().pending = None;

        let run = self.uc.emu_start(addr, EXIT, 0, 0);
        if let Some(error) = self.state.borrow_mut().pending.take() {
            return Err(error);
        }
        if let Err(e) = run {
            let pc = self.uc.pc_read().unwrap_or(0);
            return Err(MachineError::Execution(format!("{e:?} at pc {pc:#x}")));
        }
        let pc = self.uc.pc_read().map_err(emu_error("cannot read pc"))?;
        if pc != EXIT {
            return Err(MachineError::Execution(format!(
                "emulation stopped at pc {pc:#x} before returning"
            )));
        }
        match sig.ret {
            None => Ok(None),
            Some(ty) => {
                let reg = if ty.is_float() { D[0] } else { X[0] };
                let raw = self
                    .uc
                    .reg_read(reg)
                    .map_err(emu_error("cannot read the result"))?;
                Ok(Some(abi::value_from_raw(ty, raw)))
            }
        }
    }

    fn set_thread_pointer(&mut self, thread: u64) -> Result<(), MachineError> {
        self.uc
            .mem_write(TLS_BASE, &thread.to_le_bytes())
            .map_err(emu_error("cannot write the TLS block"))
    }

    fn thread_pointer_access(&self) -> ThreadPointerAccess {
        ThreadPointerAccess::TlsSlot { offset: 0 }
    }
}

/// Service a call of the host slot at `addr`: run its closure on the guest's
/// arguments and write the result to `x0`/`d0`. The slot's `ret` returns.
fn run_host(
    uc: &mut Unicorn<'_, ()>,
    state: &RefCell<HostState>,
    data_end: u64,
    addr: u64,
) -> Result<(), MachineError> {
    // Slot k is at HOST_BASE + 4 + 4k; EXIT (slot "-1") never gets here.
    let slot = (addr.wrapping_sub(HOST_BASE) / 4).wrapping_sub(1) as usize;
    // AAPCS64 keeps sp 16-byte aligned at all times (hardware may check it
    // on every access through sp): every host call of every test checks it.
    let sp = uc
        .reg_read(RegisterARM64::SP)
        .map_err(emu_error("cannot read sp"))?;
    if !sp.is_multiple_of(16) {
        return Err(MachineError::Execution(format!(
            "host function at {addr:#x} called with sp = {sp:#x}, not a multiple of 16"
        )));
    }
    let (info, mut f) = {
        let mut state = state.borrow_mut();
        let entry = state
            .hosts
            .get_mut(slot)
            .ok_or_else(|| MachineError::Execution(format!("no host function at {addr:#x}")))?;
        let f = entry.f.take().ok_or_else(|| {
            MachineError::Execution(format!("host function at {addr:#x} re-entered"))
        })?;
        (entry.info.clone(), f)
    };
    let mut view = EmuHostCall {
        uc,
        info: &info,
        sp,
        data_end,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&mut view)));
    if let Some(entry) = state.borrow_mut().hosts.get_mut(slot) {
        entry.f = Some(f);
    }
    match result {
        Ok(Some(value)) => {
            if let Some(ty) = info.sig.ret {
                let reg = if ty.is_float() { D[0] } else { X[0] };
                uc.reg_write(reg, abi::value_from_raw(ty, value.bits).bits)
                    .map_err(emu_error("cannot write the result"))?;
            }
            Ok(())
        }
        Ok(None) => Err(MachineError::Unwound(addr)),
        Err(payload) => Err(MachineError::Execution(format!(
            "host function at {addr:#x} panicked: {}",
            abi::panic_message(&*payload)
        ))),
    }
}

/// The view a host closure gets of its call: arguments are read lazily from
/// the guest's registers and stack.
struct EmuHostCall<'a, 'u> {
    uc: &'a mut Unicorn<'u, ()>,
    info: &'a HostInfo,
    sp: u64,
    data_end: u64,
}

impl HostCall for EmuHostCall<'_, '_> {
    /// Panics (caught by the machine, which ends the call with
    /// [`MachineError::Execution`]) if `i` is not a parameter index or the
    /// guest state cannot be read.
    fn arg(&self, i: usize) -> Value {
        let (Some(ty), Some(location)) = (
            self.info.sig.params.get(i),
            self.info.assignment.locations.get(i),
        ) else {
            panic!(
                "host function argument {i} requested, it has {} parameters",
                self.info.sig.params.len()
            );
        };
        let raw = match *location {
            ArgLocation::Gpr(n) => self.uc.reg_read(X[usize::from(n)]),
            ArgLocation::Fpr(n) => self.uc.reg_read(D[usize::from(n)]),
            ArgLocation::Stack(n) => {
                let mut bytes = [0u8; 8];
                self.uc
                    .mem_read(self.sp + 8 * u64::from(n), &mut bytes)
                    .map(|()| u64::from_le_bytes(bytes))
            }
        };
        match raw {
            Ok(raw) => abi::value_from_raw(*ty, raw),
            Err(e) => panic!("cannot read host function argument {i}: {e:?}"),
        }
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        check_data(self.data_end, addr, buf.len())?;
        self.uc
            .mem_read(addr, buf)
            .map_err(|_| MachineError::BadAccess {
                addr,
                len: buf.len(),
            })
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        check_data(self.data_end, addr, data.len())?;
        self.uc
            .mem_write(addr, data)
            .map_err(|_| MachineError::BadAccess {
                addr,
                len: data.len(),
            })
    }
}
