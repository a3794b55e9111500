//! Calling the peers natively on x86-64: the registers of one fast-path
//! call of each stub, a check of its effects, and the timing loop.
//!
//! Every peer of a stub is called the same way (the same arguments, the
//! same per-iteration reset of the world), so time per call and
//! instruction counts differ only by the code called.
//!
//! Invariant: a fast-path call leaves the world as it found it, or the
//! timing loop restores it (the allocation buffer is reset every 1024
//! calls, the lock released after each `monitor_enter`).

use std::hint::black_box;
use std::time::Instant;

use crate::count::CallRegs;
use crate::measure::Runner;
use crate::runtime::{
    GC_ENABLED, GC_TRANSITIONS, LAST_COMPILED, LOCK_ID, NATIVE_RAN_GC_ENABLED, NativeWorld,
    OBJECT_SIZE, compiled_method,
};
use crate::stubs::StubKind;

/// The method the compile-me stub is entered with (`sp0`).
pub const METHOD: u64 = 0x5eed_0000_1234;
/// Arguments of the compiled method behind the compile-me stub.
const COMPILED_ARGS: (u64, u64) = (14, 7);
/// Arguments of the JNI wrapper.
const POW_ARGS: (f64, f64) = (3.0, 4.0);

/// Registers for one fast-path call of `f`, a peer of `stub`.
pub fn regs(stub: StubKind, world: &NativeWorld, f: u64) -> CallRegs {
    let mut regs = CallRegs {
        target: f,
        ..CallRegs::default()
    };
    match stub {
        StubKind::Fig1Alloc => {
            regs.args[0] = u64::from(OBJECT_SIZE);
            regs.args[1] = world.params.class.vtable;
        }
        StubKind::InstanceOf => regs.args[0] = world.object_addr(),
        StubKind::JniPow => regs.fargs = [POW_ARGS.0, POW_ARGS.1],
        StubKind::CompileMe => {
            regs.sp0 = METHOD;
            regs.args[0] = COMPILED_ARGS.0;
            regs.args[1] = COMPILED_ARGS.1;
        }
        StubKind::MonitorEnter => regs.args[0] = world.lockable_addr(),
    }
    regs
}

/// Put the world in the state a fast-path call expects.
pub fn prepare(stub: StubKind, world: &NativeWorld) {
    world.enter();
    match stub {
        StubKind::Fig1Alloc => world.reset_tlab(),
        StubKind::MonitorEnter => world.unlock(),
        _ => {}
    }
}

/// Check the results of a fast-path call (`rax`, `xmm0`) and its effects.
pub fn check_effects(
    stub: StubKind,
    world: &NativeWorld,
    rax: u64,
    xmm0: f64,
) -> Result<(), String> {
    let l = &world.params.layout;
    let fail = |what: String| Err(format!("{}: {what}", stub.name()));
    if world.thread.get(l.thread.m2n_list) != 0 {
        return fail("the M2N list is not empty after the call".into());
    }
    match stub {
        StubKind::Fig1Alloc => {
            let start = world.tlab_range().start;
            let frontier = world.thread.get(l.thread.tlab_frontier);
            // SAFETY: `start` is the allocation buffer's first word.
            let header = unsafe { std::ptr::read_volatile(start as *const u64) };
            if rax != start || frontier != start + u64::from(OBJECT_SIZE) {
                return fail(format!(
                    "object {rax:#x}, frontier {frontier:#x}, buffer {start:#x}"
                ));
            }
            if header != world.params.class.vtable {
                return fail(format!("vtable word {header:#x}"));
            }
        }
        StubKind::InstanceOf => {
            if rax as u32 != 1 {
                return fail(format!("instanceof gave {}", rax as u32));
            }
        }
        StubKind::JniPow => {
            if xmm0 != POW_ARGS.0 * POW_ARGS.1 {
                return fail(format!("result {xmm0}"));
            }
        }
        StubKind::CompileMe => {
            let expected = compiled_method(COMPILED_ARGS.0, COMPILED_ARGS.1);
            let method = LAST_COMPILED.with(|c| c.get());
            if rax != expected || method != METHOD {
                return fail(format!("result {rax}, compiled method {method:#x}"));
            }
        }
        StubKind::MonitorEnter => {
            if world.lock_word() != LOCK_ID {
                return fail(format!("lock word {:#x}", world.lock_word()));
            }
        }
    }
    Ok(())
}

/// Call `f` once (not stepped) and check what it did; also checks that a
/// null object is not an instance, and that the JNI wrapper made both GC
/// transitions.
pub fn check(stub: StubKind, world: &NativeWorld, f: u64) -> Result<(), String> {
    prepare(stub, world);
    let r = regs(stub, world, f);
    let before = GC_TRANSITIONS.with(|c| c.get());
    NATIVE_RAN_GC_ENABLED.with(|c| c.set(false));
    // SAFETY: `f` is a peer of `stub` for this world.
    let (rax, xmm0) = unsafe { call(&r) };
    check_effects(stub, world, rax, xmm0)?;
    match stub {
        StubKind::JniPow
            if GC_TRANSITIONS.with(|c| c.get()) != before + 2
                || !NATIVE_RAN_GC_ENABLED.with(|c| c.get())
                || GC_ENABLED.with(|c| c.get()) =>
        {
            Err(format!(
                "{}: the native method must run between gc_enable and gc_disable",
                stub.name()
            ))
        }
        StubKind::InstanceOf => {
            let null = CallRegs { args: [0; 6], ..r };
            // SAFETY: as above, with a null object.
            let (rax, _) = unsafe { call(&null) };
            if rax as u32 != 0 {
                return Err(format!("{}: null is an instance", stub.name()));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Call with these registers, without stepping. Never inlined: every call
/// returns to the same address with the same stack pointer.
///
/// # Safety
///
/// `regs.target` must be code that can be called with these registers.
#[inline(never)]
pub unsafe fn call(regs: &CallRegs) -> (u64, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        let [a0, a1, a2, a3, a4, a5] = regs.args;
        let rax: u64;
        let xmm0: f64;
        // SAFETY: the caller vouches for the callee; the stack is aligned at
        // the call (asm blocks start with an ABI-aligned stack).
        unsafe {
            core::arch::asm!(
                "call {target}",
                target = in(reg) regs.target,
                inout("rdi") a0 => _,
                inout("rsi") a1 => _,
                inout("rdx") a2 => _,
                inout("rcx") a3 => _,
                inout("r8") a4 => _,
                inout("r9") a5 => _,
                inout("r10") regs.sp0 => _,
                inout("xmm0") regs.fargs[0] => xmm0,
                inout("xmm1") regs.fargs[1] => _,
                lateout("rax") rax,
                clobber_abi("C"),
            );
        }
        (rax, xmm0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = regs;
        (0, 0.0)
    }
}

/// `f(sp0 = r10, rdi = a, rsi = b) -> rax`: how a compile-me stub is entered.
///
/// # Safety
///
/// `f` must be a compile-me stub whose method takes two integers.
#[inline(always)]
unsafe fn call_with_sp0(f: u64, sp0: u64, a: u64, b: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let rax: u64;
        // SAFETY: as `call`.
        unsafe {
            core::arch::asm!(
                "call {f}",
                f = in(reg) f,
                in("r10") sp0,
                inout("rdi") a => _,
                inout("rsi") b => _,
                lateout("rax") rax,
                clobber_abi("C"),
            );
        }
        rax
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (f, sp0, a, b);
        0
    }
}

/// A timing loop of fast-path calls of `f`, a peer of `stub`.
///
/// # Safety
///
/// `f` must be a peer of `stub` generated for `world`, valid while the
/// runner is used.
pub unsafe fn runner<'a>(stub: StubKind, world: &'a NativeWorld, f: u64) -> Runner<'a> {
    prepare(stub, world);
    // SAFETY (all transmutes): `f` is a peer of `stub`, whose C signature is
    // the one named.
    match stub {
        StubKind::Fig1Alloc => {
            let f: extern "C" fn(u32, u64) -> u64 = unsafe { std::mem::transmute(f) };
            let vtable = world.params.class.vtable;
            Box::new(move |n| {
                let start = Instant::now();
                for i in 0..n {
                    if i % 1024 == 0 {
                        world.reset_tlab();
                    }
                    black_box(f(black_box(OBJECT_SIZE), vtable));
                }
                start.elapsed()
            })
        }
        StubKind::InstanceOf => {
            let f: extern "C" fn(u64) -> u32 = unsafe { std::mem::transmute(f) };
            let object = world.object_addr();
            Box::new(move |n| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(f(black_box(object)));
                }
                start.elapsed()
            })
        }
        StubKind::JniPow => {
            let f: extern "C" fn(f64, f64) -> f64 = unsafe { std::mem::transmute(f) };
            Box::new(move |n| {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(f(black_box(POW_ARGS.0), POW_ARGS.1));
                }
                start.elapsed()
            })
        }
        StubKind::CompileMe => Box::new(move |n| {
            let start = Instant::now();
            for _ in 0..n {
                // SAFETY: see the function's contract.
                black_box(unsafe {
                    call_with_sp0(f, METHOD, black_box(COMPILED_ARGS.0), COMPILED_ARGS.1)
                });
            }
            start.elapsed()
        }),
        StubKind::MonitorEnter => {
            let f: extern "C" fn(u64) = unsafe { std::mem::transmute(f) };
            let object = world.lockable_addr();
            Box::new(move |n| {
                let start = Instant::now();
                for _ in 0..n {
                    f(black_box(object));
                    world.unlock();
                }
                start.elapsed()
            })
        }
    }
}
