//! Every stub the checker accepts compiles on x86-64 and AArch64 without
//! a panic, failing at most with a documented limit (E0402: out of
//! registers). Stubs come from arbitrary ASTs (tamed, `lil_fuzz::tame`)
//! and from the differential generator; the host environment varies.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use lil_codegen::{Backend, CheckedStub, CodegenError, HostEnv};
use lil_fuzz::host_env;

fn compile_everywhere(checked: &CheckedStub, env: &HostEnv) {
    let backends: [&dyn Backend; 2] = [
        &lil_codegen_x64::X64Backend,
        &lil_codegen_arm64::Arm64Backend,
    ];
    for backend in backends {
        match backend.compile(checked, env) {
            Ok(code) => {
                assert!(code.data_start as usize <= code.code.len());
                for entry in &code.source_map {
                    assert!(entry.code.start <= entry.code.end);
                    assert!(entry.code.end <= code.data_start);
                }
            }
            Err(CodegenError::OutOfRegisters { .. }) => {}
            Err(e) => panic!(
                "{:?} failed with {} ({e}) on a checked stub in {env:?}:\n{}",
                backend.target(),
                e.code(),
                checked.stub()
            ),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let generated = u.arbitrary::<u8>().unwrap_or(0).is_multiple_of(4);
    let env = host_env(&mut u);
    if generated {
        let text = lil_fuzz::generated_text(&mut u);
        let checked = lil_check::assert_valid(&text);
        compile_everywhere(&checked, &env);
    } else if let Ok(mut stub) = lil_syntax::Stub::arbitrary(&mut u) {
        // Tamed: raw arbitrary ASTs rarely get past the checker.
        lil_fuzz::tame(&mut stub);
        if let Ok(checked) = lil_check::check_owned(stub) {
            compile_everywhere(&checked, &env);
        }
    }
});
