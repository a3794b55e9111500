//! Every peer the harness measures does what its stub does: run once on the
//! native world (x86-64) and on the emulated one (AArch64), results and
//! effects checked, and counted; the template instances the harness
//! measures too. No timing here.

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
        let (template, values) =
            lil_bench::harness::stub_template(stub, lil::Target::X64, p).unwrap();
        let instance = template.instantiate(&values).unwrap();
        for (name, code) in [
            ("lil", &lil.code),
            ("hand", &hand),
            ("template", &instance.code),
        ] {
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
        let (template, values) =
            lil_bench::harness::stub_template(stub, lil::Target::Arm64, &p).unwrap();
        let instance = template.instantiate(&values).unwrap();
        for (name, code) in [
            ("lil", &lil.code),
            ("hand", &hand),
            ("template", &instance.code),
        ] {
            let addr = world.install(code).unwrap();
            let n = world
                .count(stub, addr)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(n > 0, "{name} {}", stub.name());
        }
    }
}

/// The stubs that push an M2N frame, and whether that is on the slow path.
const FRAMED: [(StubKind, bool); 4] = [
    (StubKind::Fig1Alloc, true),
    (StubKind::MonitorEnter, true),
    (StubKind::JniPow, false),
    (StubKind::CompileMe, false),
];

#[test]
fn hand_written_m2n_frames_match_lil_x64() {
    use lil_bench::runtime::{LAST_FRAME, RECORD_FRAMES};
    let Some(world) = NativeWorld::new() else {
        eprintln!("SKIP: no native x86-64 world");
        return;
    };
    let p = &world.params;
    let env = p.env();
    let cache = CodeCache::new(1 << 20).unwrap();
    RECORD_FRAMES.with(|c| c.set(true));
    for (stub, slow) in FRAMED {
        let checked = lil_check::check_owned(stub.parse(&p.args(stub)).unwrap()).unwrap();
        let lil = lil_codegen_x64::X64Backend.compile(&checked, &env).unwrap();
        let hand = lil_bench::hand_x64::emit(stub, p).unwrap();
        let mut frames = Vec::new();
        for code in [&lil.code, &hand] {
            let addr = cache.install(code).unwrap().addr() as u64;
            native::prepare(stub, &world);
            if slow {
                world.fill_tlab();
                world.set_lock_word(0x9900);
            }
            LAST_FRAME.with(|c| c.set(None));
            // SAFETY: a peer of `stub` for this world.
            unsafe { native::call(&native::regs(stub, &world, addr)) };
            frames.push(
                LAST_FRAME
                    .with(|c| c.get())
                    .expect("the helper saw a frame"),
            );
            assert_eq!(world.thread.get(p.layout.thread.m2n_list), 0, "popped");
        }
        let (l, h) = (frames[0], frames[1]);
        let name = stub.name();
        assert_eq!(l.prev, h.prev, "{name} prev");
        assert_eq!(l.link, h.link, "{name} link");
        assert_eq!(l.method, h.method, "{name} method");
        assert_eq!(l.frame_type, h.frame_type, "{name} frame_type");
        assert_eq!(l.return_address, h.return_address, "{name} return_address");
        assert_eq!(l.caller_sp, h.caller_sp, "{name} caller_sp");
        assert_eq!(
            l.local_handles != 0,
            h.local_handles != 0,
            "{name} local_handles"
        );
    }
    RECORD_FRAMES.with(|c| c.set(false));
}

#[cfg(feature = "emulator")]
#[test]
fn hand_written_m2n_frames_match_lil_arm64() {
    let mut world = lil_bench::emu::EmuWorld::new().unwrap();
    let p = world.params.clone();
    let env = p.env();
    for (stub, slow) in FRAMED {
        let checked = lil_check::check_owned(stub.parse(&p.args(stub)).unwrap()).unwrap();
        let lil = lil_codegen_arm64::Arm64Backend
            .compile(&checked, &env)
            .unwrap();
        let hand = lil_bench::hand_arm64::emit(stub, &p).unwrap();
        let mut frames = Vec::new();
        for code in [&lil.code, &hand] {
            let addr = world.install(code).unwrap();
            let (_, frame) = world.run(stub, addr, slow).unwrap();
            frames.push(frame.expect("the helper saw a frame"));
        }
        let (l, h) = (frames[0], frames[1]);
        // prev, link, method, frame_type, return address, caller sp and fp,
        // x19..x28; d8..d15 where m2n_save_all ran before the helper.
        let words = if stub == StubKind::CompileMe { 26 } else { 18 };
        for i in (0..words).filter(|&i| i != 2) {
            assert_eq!(l[i], h[i], "{} word {i}", stub.name());
        }
        assert_eq!(l[2] != 0, h[2] != 0, "{} local_handles", stub.name());
    }
}
