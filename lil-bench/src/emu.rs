//! AArch64 fast paths under the emulator: the same world as
//! [`crate::runtime::NativeWorld`] built in the guest's memory, with the
//! helpers as host functions, so the LIL code and the hand-written code can
//! be run and their executed instructions counted exactly
//! ([`Arm64Emulator::set_count_instructions`]: every guest instruction in
//! the code region).
//!
//! Invariant: a count covers only the stub (and, for `compile_me_generic`,
//! a trampoline of known length that sets `sp0`, which is subtracted); the
//! helpers run in the host page and are not counted.

// `dynasm!` converts register numbers with `.into()` even when they are u8.
#![allow(clippy::useless_conversion)]

use dynasmrt::aarch64::Aarch64Relocation;
use dynasmrt::{DynasmApi, VecAssembler, dynasm};
use lil_emu::Arm64Emulator;
use lil_machine::{HostCall, HostSig, Machine, MachineError, ThreadPointerAccess, Value};
use std::cell::RefCell;
use std::rc::Rc;

use lil_stubs::{ClassInfo, VmLayout};
use lil_syntax::Type;

use crate::native::METHOD;
use crate::runtime::{LOCK_ID, OBJECT_SIZE, TLAB_BYTES};
use crate::stubs::{Params, StubKind};

/// The guest world and its emulator.
pub struct EmuWorld {
    emu: Arm64Emulator,
    /// What the stubs are generated with (guest addresses).
    pub params: Params,
    thread: u64,
    tlab: u64,
    object: u64,
    lockable: u64,
    compiled: u64,
    frames: Rc<RefCell<Option<Frame>>>,
}

/// An M2N frame as words (`lil_codegen::M2nFrame`).
pub type Frame = [u64; 26];

/// The newest M2N frame of the thread whose list head is at `head`.
fn read_frame(c: &mut dyn HostCall, head: u64) -> Option<Frame> {
    let frame = c.read_u64(head).ok().filter(|&f| f != 0)?;
    let mut words = [0u64; 26];
    for (i, w) in words.iter_mut().enumerate() {
        *w = c.read_u64(frame + 8 * i as u64).ok()?;
    }
    Some(words)
}

fn err(e: MachineError) -> String {
    e.to_string()
}

impl EmuWorld {
    /// An emulated Cortex-A72 (no LSE atomics) with the world in its memory.
    pub fn new() -> Result<EmuWorld, String> {
        let mut emu = Arm64Emulator::new().map_err(err)?;
        let mut layout = VmLayout::example();
        let tls_offset = match emu.thread_pointer_access() {
            ThreadPointerAccess::TlsSlot { offset } => offset,
            ThreadPointerAccess::Call { .. } => return Err("the emulator has no TLS slot".into()),
        };
        let mut alloc = |bytes: usize| emu.alloc(bytes, 16);
        let thread = alloc(64).map_err(err)?;
        let tlab = alloc(TLAB_BYTES).map_err(err)?;
        let class = alloc(64).map_err(err)?;
        let vtable = alloc(128).map_err(err)?;
        let object = alloc(32).map_err(err)?;
        let lockable = alloc(32).map_err(err)?;
        let class_object = alloc(32).map_err(err)?;
        let class_handle = alloc(8).map_err(err)?;
        let jni_env = alloc(32).map_err(err)?;
        let method = alloc(32).map_err(err)?;

        let frames: Rc<RefCell<Option<Frame>>> = Rc::default();
        let head = thread + layout.thread.m2n_list as u64;
        // The helpers that run under an M2N frame record it.
        let recording = |value: Option<Value>| -> lil_machine::HostFn {
            let frames = frames.clone();
            Box::new(move |c: &mut dyn HostCall| {
                *frames.borrow_mut() = read_frame(c, head);
                value
            })
        };
        let mut host = |params: &[Type], ret: Option<Type>, f: lil_machine::HostFn| {
            emu.host_fn(HostSig::new(params, ret), f)
        };
        let compiled = host(
            &[Type::G8, Type::G8],
            Some(Type::G8),
            Box::new(|c: &mut dyn HostCall| {
                let (a, b) = (c.arg(0).bits, c.arg(1).bits);
                Some(Value::int(Type::G8, a.wrapping_mul(3).wrapping_add(b)))
            }),
        )
        .map_err(err)?;
        let h = &mut layout.helpers;
        h.gc_alloc = host(
            &[Type::G4, Type::Pint],
            Some(Type::Ref),
            recording(Some(Value::int(Type::Ref, 0))),
        )
        .map_err(err)?;
        h.gc_enable = host(&[], None, Box::new(|_| Some(Value::pint(0)))).map_err(err)?;
        h.gc_disable = host(&[], None, Box::new(|_| Some(Value::pint(0)))).map_err(err)?;
        h.rethrow = host(&[], None, Box::new(|_| None)).map_err(err)?;
        h.jit_compile = host(
            &[Type::Pint],
            Some(Type::Pint),
            recording(Some(Value::pint(compiled))),
        )
        .map_err(err)?;
        h.monitor_enter_slow =
            host(&[Type::Ref], None, recording(Some(Value::pint(0)))).map_err(err)?;
        let native_frames = frames.clone();
        let native_pow = host(
            &[Type::Pint, Type::Pint, Type::F8, Type::F8],
            Some(Type::F8),
            Box::new(move |c: &mut dyn HostCall| {
                *native_frames.borrow_mut() = read_frame(c, head);
                Some(Value::f8(c.arg(2).as_f64() * c.arg(3).as_f64()))
            }),
        )
        .map_err(err)?;

        let depth = 3;
        let table = i64::from(layout.vtable.superclasses);
        let words = [
            (vtable + layout.vtable.class as u64, class),
            (vtable.wrapping_add_signed(table), 0x1111_0000),
            (vtable.wrapping_add_signed(table + 8), 0x2222_0000),
            (vtable.wrapping_add_signed(table + 8 * (depth - 1)), class),
            (object + layout.object.vtable as u64, vtable),
            (class_object, 0xc1a5_5000),
            (class_handle, class_object),
            (thread + layout.thread.lock_id as u64, LOCK_ID),
        ];
        for (addr, value) in words {
            emu.write_u64(addr, value).map_err(err)?;
        }
        emu.set_thread_pointer(thread).map_err(err)?;
        let params = Params {
            layout,
            tls_offset,
            class: ClassInfo {
                class,
                depth: depth as u32,
                is_interface: false,
                vtable,
                instance_size: 32,
            },
            native_pow,
            jni_method: method,
            jni_env,
            class_handle,
        };
        Ok(EmuWorld {
            emu,
            params,
            thread,
            tlab,
            object,
            lockable,
            compiled,
            frames,
        })
    }

    /// Install AArch64 code in the guest; returns its address.
    pub fn install(&mut self, code: &[u8]) -> Result<u64, String> {
        self.emu.install(code).map_err(err)
    }

    /// Run `stub`'s fast path at `addr` once and return the number of
    /// instructions the stub executed. Checks the result and effects.
    pub fn count(&mut self, stub: StubKind, addr: u64) -> Result<u64, String> {
        self.run(stub, addr, false).map(|(n, _)| n)
    }

    /// Run `stub` at `addr` once, on its fast path or (`slow`) on the slow
    /// path of Figure 1 (a full allocation buffer) or monitor enter (a lock
    /// another thread holds); returns the instructions executed and the M2N
    /// frame the helper saw, if any. The fast path's result and effects are
    /// checked.
    pub fn run(
        &mut self,
        stub: StubKind,
        addr: u64,
        slow: bool,
    ) -> Result<(u64, Option<Frame>), String> {
        let t = self.params.layout.thread;
        let word = self.params.layout.object.lock_word as u64;
        let limit = self.tlab + TLAB_BYTES as u64;
        let frontier = if slow { limit } else { self.tlab };
        self.emu
            .write_u64(self.thread + t.tlab_frontier as u64, frontier)
            .map_err(err)?;
        self.emu
            .write_u64(self.thread + t.tlab_limit as u64, limit)
            .map_err(err)?;
        let lock = if slow { 0x9900 } else { 0 };
        self.emu
            .write_u64(self.lockable + word, lock)
            .map_err(err)?;
        *self.frames.borrow_mut() = None;
        let (entry, sig, args, trampoline) = match stub {
            StubKind::Fig1Alloc => (
                addr,
                HostSig::new(&[Type::G4, Type::Pint], Some(Type::Ref)),
                vec![
                    Value::int(Type::G4, u64::from(OBJECT_SIZE)),
                    Value::pint(self.params.class.vtable),
                ],
                0,
            ),
            StubKind::InstanceOf => (
                addr,
                HostSig::new(&[Type::Ref], Some(Type::G4)),
                vec![Value::int(Type::Ref, self.object)],
                0,
            ),
            StubKind::JniPow => (
                addr,
                HostSig::new(&[Type::F8, Type::F8], Some(Type::F8)),
                vec![Value::f8(3.0), Value::f8(4.0)],
                0,
            ),
            StubKind::CompileMe => {
                let (code, insns) = trampoline_code(addr);
                let entry = self.install(&code)?;
                (
                    entry,
                    HostSig::new(&[Type::G8, Type::G8], Some(Type::G8)),
                    vec![Value::int(Type::G8, 14), Value::int(Type::G8, 7)],
                    insns,
                )
            }
            StubKind::MonitorEnter => (
                addr,
                HostSig::new(&[Type::Ref], None),
                vec![Value::int(Type::Ref, self.lockable)],
                0,
            ),
        };
        self.emu.set_count_instructions(true);
        let result = self.emu.call(entry, &sig, &args).map_err(err);
        self.emu.set_count_instructions(false);
        let result = result?;
        let executed = self.emu.last_instruction_count();
        let frame = self.frames.borrow_mut().take();
        let fail = |what: String| Err(format!("{} on the emulator: {what}", stub.name()));
        let list = self
            .emu
            .read_u64(self.thread + t.m2n_list as u64)
            .map_err(err)?;
        if list != 0 {
            return fail(format!("M2N list head {list:#x} after the call"));
        }
        if slow {
            return Ok((executed - trampoline, frame));
        }
        let bits = result.map(|v| v.bits);
        match stub {
            StubKind::Fig1Alloc => {
                let frontier = self
                    .emu
                    .read_u64(self.thread + t.tlab_frontier as u64)
                    .map_err(err)?;
                if bits != Some(self.tlab) || frontier != self.tlab + u64::from(OBJECT_SIZE) {
                    return fail(format!("result {bits:x?}, frontier {frontier:#x}"));
                }
            }
            StubKind::InstanceOf if bits.map(|b| b as u32) != Some(1) => {
                return fail(format!("result {bits:?}"));
            }
            StubKind::JniPow if result.map(|v| v.as_f64()) != Some(12.0) => {
                return fail(format!("result {result:?}"));
            }
            StubKind::CompileMe if bits != Some(14 * 3 + 7) => {
                return fail(format!(
                    "result {bits:?} (compiled method at {:#x})",
                    self.compiled
                ));
            }
            StubKind::MonitorEnter => {
                let lock = self.emu.read_u64(self.lockable + word).map_err(err)?;
                if lock != LOCK_ID {
                    return fail(format!("lock word {lock:#x}"));
                }
            }
            _ => {}
        }
        Ok((executed - trampoline, frame))
    }
}

/// `x9 = METHOD; br addr`: enters a compile-me stub with `sp0` set. Returns
/// the code and its instruction count.
fn trampoline_code(addr: u64) -> (Vec<u8>, u64) {
    let mut ops = VecAssembler::<Aarch64Relocation>::new(0);
    for (reg, value) in [(9u8, METHOD), (16, addr)] {
        for shift in 0..4u32 {
            let half = ((value >> (16 * shift)) & 0xffff) as u32;
            match shift {
                0 => dynasm!(ops ; .arch aarch64 ; movz X(reg), half),
                1 => dynasm!(ops ; .arch aarch64 ; movk X(reg), half, lsl 16),
                2 => dynasm!(ops ; .arch aarch64 ; movk X(reg), half, lsl 32),
                _ => dynasm!(ops ; .arch aarch64 ; movk X(reg), half, lsl 48),
            }
        }
    }
    dynasm!(ops ; .arch aarch64 ; br x16);
    let code = ops.finalize().unwrap_or_default();
    let insns = code.len() as u64 / 4;
    (code, insns)
}
