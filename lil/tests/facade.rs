//! The facade's pipeline: errors of every stage, compile for either target,
//! and the JIT on this machine.

use lil::{Error, HostEnv, Target};

#[test]
fn syntax_errors_render_with_carets_and_codes() {
    let text = "entry 0:platform:g4:g4;\nr = i0 +;\nret;\n";
    let err = lil::compile_for(Target::X64, text, &HostEnv::default()).unwrap_err();
    assert!(matches!(err, Error::Syntax(_)), "{err:?}");
    let codes = err.codes();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| c.starts_with("E00")),
        "{codes:?}"
    );
    let rendered = err.render("add.lil", text);
    assert!(
        rendered.contains(&format!("error[{}]", codes[0])),
        "{rendered}"
    );
    assert!(rendered.contains("add.lil:2:"), "{rendered}");
    assert_eq!(err.diagnostics().len(), codes.len());
}

#[test]
fn check_errors_render_with_carets_and_codes() {
    let text = "entry 0:platform::g4;\nr = 5;\nl0 = r;\nret;\n";
    let err = lil::check_text(text).unwrap_err();
    assert!(matches!(err, Error::Check(_)), "{err:?}");
    assert_eq!(err.codes(), ["E0222"]);
    let rendered = err.render("s.lil", text);
    assert!(rendered.contains("error[E0222]"), "{rendered}");
    assert!(rendered.contains("s.lil:3:1"), "{rendered}");
    assert!(rendered.contains('^'), "{rendered}");
}

#[test]
fn codegen_errors_name_the_file_and_code() {
    let err = Error::Codegen {
        target: Target::X64,
        source: lil::codegen::CodegenError::OutOfRegisters { what: "a test" },
    };
    assert_eq!(err.codes(), ["E0402"]);
    assert!(err.diagnostics().is_empty());
    let rendered = err.render("s.lil", "");
    assert!(
        rendered.starts_with("error[E0402]: cannot generate x64 code"),
        "{rendered}"
    );
    assert!(rendered.contains("s.lil"), "{rendered}");
}

#[test]
fn warnings_do_not_stop_compilation() {
    let checked = lil::check_text("entry 0:platform::g4; locals 1; l0 = 1; r = 2; ret;").unwrap();
    let codes: Vec<&str> = checked.warnings().iter().map(|w| w.code()).collect();
    assert_eq!(codes, ["W0202"]);
    lil::compile_checked_for(Target::X64, &checked, &HostEnv::default()).unwrap();
}

#[test]
fn compile_targets_this_machine() {
    match lil::host_target() {
        Ok(target) => {
            assert_eq!(Some(target), Target::host());
            let code =
                lil::compile("entry 0:platform:g8:g8; r = i0; ret;", &HostEnv::default()).unwrap();
            assert_eq!(code.target, target);
        }
        Err(e) => assert_eq!(e.codes(), ["E0502"]),
    }
}

#[test]
fn compile_for_either_target_on_any_host() {
    let text = "entry 0:platform:g8,g8:g8; r = i0 + i1; ret;";
    for target in [Target::X64, Target::Arm64] {
        let code = lil::compile_for(target, text, &HostEnv::default()).unwrap();
        assert_eq!(code.target, target);
        assert!(!code.code.is_empty());
        let checked = lil::check_text(text).unwrap();
        let again = lil::compile_checked_for(target, &checked, &HostEnv::default()).unwrap();
        assert_eq!(again, code);
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn jit_installs_and_calls_stubs() {
    let jit = lil::Jit::new(HostEnv::default()).unwrap();
    assert_eq!(jit.target(), Target::X64);
    let add = jit
        .install("entry 0:platform:g4,g4:g4; r = i0 + i1; ret;")
        .unwrap();
    let checked = lil::check_text("entry 0:platform:g8:g8; r = i0 - 1; ret;").unwrap();
    let dec = jit.install_checked(&checked).unwrap();
    assert_ne!(add.addr(), dec.addr());
    assert!(jit.cache().contains(add.addr()));
    // SAFETY: the signatures are `platform:g4,g4:g4` and `platform:g8:g8`;
    // `jit` outlives the calls.
    let (add_fn, dec_fn) = unsafe {
        (
            add.as_fn::<extern "C" fn(i32, i32) -> i32>(),
            dec.as_fn::<extern "C" fn(u64) -> u64>(),
        )
    };
    assert_eq!(add_fn(-5, 7), 2);
    assert_eq!(dec_fn(43), 42);
    let stats = jit.stats();
    assert_eq!(stats.live_stubs, 2);
    assert_eq!(
        stats.code_bytes,
        add.compiled().code.len() + dec.compiled().code.len()
    );
    // The installed code can be listed at its real address.
    let listing = lil::disasm::listing_at(dec.compiled(), checked.stub(), "", dec.addr() as u64);
    assert!(
        listing.contains(&format!("{:016x}", dec.addr())),
        "{listing}"
    );
    jit.free(dec).unwrap();
    assert_eq!(jit.stats().live_stubs, 1);
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn jit_reports_invalid_stubs() {
    let jit = lil::Jit::new(HostEnv::default()).unwrap();
    let err = jit.install("entry 0:platform::g4; ret;").unwrap_err();
    assert!(matches!(err, Error::Check(_)), "{err:?}");
    assert_eq!(jit.stats().live_stubs, 0);
}
