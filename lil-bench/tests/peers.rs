//! Every peer the harness measures does what its stub does: run once on the
//! native world (x86-64) and on the emulated one (AArch64), results and
//! effects checked, and counted. No timing here.

use lil_bench::count::{baseline, single_step};
use lil_bench::native;
use lil_bench::runtime::NativeWorld;
use lil_bench::stubs::StubKind;
use lil_codegen::{Backend, CodeCache};

#[test]
fn native_peers_agree_with_the_stubs() {
    let Some(world) = NativeWorld::new() else {
        eprintln!("SKIP: no native x86-64 world");
        return;
    };
    let p = &world.params;
    let env = p.env();
    let cache = CodeCache::new(1 << 20).unwrap();
    baseline().unwrap();
    for stub in StubKind::ALL {
        let checked = lil_check::check_owned(stub.parse(&p.args(stub)).unwrap()).unwrap();
        let lil = lil_codegen_x64::X64Backend.compile(&checked, &env).unwrap();
        let hand = lil_bench::hand_x64::emit(stub, p).unwrap();
        for (name, code) in [("lil", &lil.code), ("hand", &hand)] {
            let at = cache.install(code).unwrap();
            let addr = at.addr() as u64;
            native::check(stub, &world, addr).unwrap_or_else(|e| panic!("{name}: {e}"));
            native::prepare(stub, &world);
            let regs = native::regs(stub, &world, addr);
            // SAFETY: a checked peer of `stub` for this world.
            let s = unsafe { single_step(&regs, addr..addr + code.len() as u64) }.unwrap();
            native::check_effects(stub, &world, s.rax, s.xmm0).unwrap();
            assert!(
                s.in_region > 0 && s.in_region as usize == s.trace.len(),
                "{name} {}",
                stub.name()
            );
        }
        if let Some(f) = lil_bench::rust_peers::function(stub) {
            native::check(stub, &world, f).unwrap_or_else(|e| panic!("rustc: {e}"));
        }
    }
}

#[cfg(feature = "cranelift")]
#[test]
fn cranelift_peers_agree_with_the_stubs() {
    use lil_bench::clif::{Cranelift, OptLevel, supports};
    let Some(world) = NativeWorld::new() else {
        eprintln!("SKIP: no native x86-64 world");
        return;
    };
    for opt in [OptLevel::Speed, OptLevel::None] {
        let mut c = Cranelift::new(opt).unwrap();
        for stub in StubKind::ALL.into_iter().filter(|s| supports(*s)) {
            assert!(
                c.compile(stub, &world.params, world.ts_slot_addr())
                    .unwrap()
                    > 0
            );
            let r = c
                .install(stub, &world.params, world.ts_slot_addr())
                .unwrap();
            native::check(stub, &world, r.addr).unwrap_or_else(|e| panic!("{}: {e}", opt.system()));
        }
    }
}

#[cfg(feature = "emulator")]
#[test]
fn aarch64_peers_agree_with_the_stubs() {
    let mut world = lil_bench::emu::EmuWorld::new().unwrap();
    let p = world.params.clone();
    let env = p.env();
    for stub in StubKind::ALL {
        let checked = lil_check::check_owned(stub.parse(&p.args(stub)).unwrap()).unwrap();
        let lil = lil_codegen_arm64::Arm64Backend
            .compile(&checked, &env)
            .unwrap();
        let hand = lil_bench::hand_arm64::emit(stub, &p).unwrap();
        for (name, code) in [("lil", &lil.code), ("hand", &hand)] {
            let addr = world.install(code).unwrap();
            let n = world
                .count(stub, addr)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(n > 0, "{name} {}", stub.name());
        }
    }
}
