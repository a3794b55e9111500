//! The LIL VM: the generated stubs installed in a [`Machine`], the dispatch
//! table and context, the VM stack, and running programs.
//!
//! Works on any machine with a LIL backend: natively on x86-64
//! (`lil_machine::native::NativeMachine`) and on AArch64 under the
//! emulator (`lil_emu::Arm64Emulator`, in tests and tools only). All stubs
//! are installed as one block, packed 16-byte aligned, so the handlers of a
//! hot loop share a few cache lines.
//!
//! Invariant: the VM context (see [`context`]) is rewritten before every
//! run, and a run's result is believed only if its status says `halt`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use lil_codegen::Target;
use lil_machine::{HostSig, Isa, Machine, MachineError, Value};
use lil_syntax::Type;

use crate::VmError;
use crate::asm::Program;
use crate::handlers::{StubKind, Stubs, context, index_of};
use crate::reference::{Outcome, Trap, needs};

/// Entries in the dispatch table: one per byte value.
pub const TABLE_ENTRIES: usize = 256;

/// Numbers VMs, so a [`Loaded`] program only runs on the VM it was loaded in.
static NEXT_VM: AtomicU64 = AtomicU64::new(0);

/// A program's code in one VM's machine memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    vm: u64,
    code: u64,
    len: usize,
    reserve: u32,
    needs: usize,
}

impl Loaded {
    /// Address of its first instruction in the machine.
    pub fn code_address(&self) -> u64 {
        self.code
    }

    /// Bytes of code.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the program has no code (never: a program ends in a jump,
    /// `ret` or `halt`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The VM: generated handlers installed in a machine, ready to run programs.
pub struct LilVm<M: Machine> {
    id: u64,
    machine: M,
    stubs: Stubs,
    addrs: Vec<u64>,
    table: u64,
    stack_low: u64,
    capacity: usize,
    output: Rc<RefCell<Vec<i64>>>,
}

impl<M: Machine> LilVm<M> {
    /// Generate the stubs for `machine`'s instruction set, install them, and
    /// set up a dispatch table and a VM stack of `capacity` 8-byte slots.
    pub fn new(mut machine: M, capacity: usize) -> Result<LilVm<M>, VmError> {
        let target = match machine.isa() {
            Isa::X64 => Target::X64,
            Isa::Arm64 => Target::Arm64,
            other => return Err(VmError::UnsupportedMachine(other)),
        };
        let stubs = Stubs::generate(target)?;

        let (block, offsets) = pack(&stubs);
        let base = machine.install(&block)?;
        let addrs: Vec<u64> = offsets.iter().map(|&o| base + o as u64).collect();

        let output = Rc::new(RefCell::new(Vec::new()));
        let sink = output.clone();
        let print = machine.host_fn(
            HostSig::new(&[Type::G8], None),
            Box::new(move |call| {
                sink.borrow_mut().push(call.arg(0).bits as i64);
                Some(Value::pint(0))
            }),
        )?;

        let context_at = machine.alloc(context::SIZE + 8 * TABLE_ENTRIES, 64)?;
        let table = context_at + context::SIZE as u64;
        let mut words = vec![addrs[index_of(StubKind::Illegal)]; TABLE_ENTRIES];
        for op in crate::Opcode::ALL {
            words[op as usize] = addrs[index_of(StubKind::Handler(op))];
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        machine.write(table, &bytes)?;
        machine.write_u64(at(table, context::EXIT), addrs[index_of(StubKind::Exit)])?;
        machine.write_u64(at(table, context::PRINT), print)?;

        let bytes = capacity
            .max(1)
            .checked_mul(8)
            .ok_or(MachineError::OutOfMemory)?;
        let stack_low = machine.alloc(bytes, 16)?;
        Ok(LilVm {
            id: NEXT_VM.fetch_add(1, Ordering::Relaxed),
            machine,
            stubs,
            addrs,
            table,
            stack_low,
            capacity,
            output,
        })
    }

    /// Copy `program` into machine memory.
    pub fn load(&mut self, program: &Program) -> Result<Loaded, VmError> {
        let code = program.code();
        let addr = self.machine.alloc(code.len().max(1), 16)?;
        self.machine.write(addr, code)?;
        Ok(Loaded {
            vm: self.id,
            code: addr,
            len: code.len(),
            reserve: program.reserve(),
            needs: needs(program),
        })
    }

    /// Run a loaded program from its first instruction.
    pub fn run(&mut self, program: &Loaded) -> Result<Outcome, VmError> {
        if program.vm != self.id {
            return Err(VmError::ForeignProgram);
        }
        if program.needs > self.capacity {
            return Err(Trap::StackTooSmall {
                needs: program.needs,
                capacity: self.capacity,
            }
            .into());
        }
        let limit = self.stack_low + 8 * u64::from(program.reserve);
        self.machine
            .write_u64(at(self.table, context::STACK_LIMIT), limit)?;
        self.machine
            .write_u64(at(self.table, context::STATUS), context::STATUS_HALTED)?;
        self.output.borrow_mut().clear();
        let stack_top = self.stack_low + 8 * self.capacity as u64;
        let sig = HostSig::new(&[Type::Pint; 4], Some(Type::G8));
        let result = self.machine.call(
            self.address(StubKind::Entry),
            &sig,
            &[
                Value::pint(self.table),
                Value::pint(program.code),
                Value::pint(stack_top),
                Value::pint(0),
            ],
        )?;
        let output = std::mem::take(&mut *self.output.borrow_mut());
        match self.machine.read_u64(at(self.table, context::STATUS))? {
            context::STATUS_HALTED => Ok(Outcome {
                result: result.map_or(0, |v| v.bits as i64),
                output,
            }),
            context::STATUS_STACK_OVERFLOW => Err(Trap::StackOverflow.into()),
            context::STATUS_ILLEGAL_OPCODE => Err(Trap::IllegalOpcode.into()),
            other => Err(VmError::BadStatus(other)),
        }
    }

    /// Load and run `program`.
    pub fn execute(&mut self, program: &Program) -> Result<Outcome, VmError> {
        let loaded = self.load(program)?;
        self.run(&loaded)
    }

    /// The generated stubs.
    pub fn stubs(&self) -> &Stubs {
        &self.stubs
    }

    /// Where the stub of `kind` is installed.
    pub fn address(&self, kind: StubKind) -> u64 {
        self.addrs[index_of(kind)]
    }

    /// The dispatch table's address (`sp0`).
    pub fn table(&self) -> u64 {
        self.table
    }

    /// The VM stack's capacity in slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The machine (for example to count emulated instructions). Writing
    /// into memory the VM uses (code, table, stack) can make it jump
    /// anywhere: the VM trusts its memory.
    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }
}

/// The address of a context word.
fn at(table: u64, offset: i32) -> u64 {
    table.wrapping_add_signed(offset.into())
}

/// All stubs in one block, each 16-byte aligned; the padding traps
/// (`int3` on x86-64, `udf #0` on AArch64). Returns the block and each
/// stub's offset in it.
fn pack(stubs: &Stubs) -> (Vec<u8>, Vec<usize>) {
    let fill = match stubs.target() {
        Target::X64 => 0xcc,
        Target::Arm64 => 0x00,
    };
    let mut block = Vec::new();
    let mut offsets = Vec::new();
    for stub in stubs.all() {
        block.resize(block.len().next_multiple_of(16), fill);
        offsets.push(block.len());
        block.extend_from_slice(&stub.code.code);
    }
    (block, offsets)
}
