//! Buffers reused from one stub to the next never change an answer. A few
//! stubs in a row (generated valid stubs, tamed arbitrary ASTs printed to
//! text, raw bytes) go through the reusing entry points, as
//! `lil::Compiler` chains them: `parse_with_into` into the last stub's
//! buffers, one `Checker` that recycles every checked stub, and
//! `compile_into` one `CompiledStub` per target. Every answer (stub,
//! diagnostics, code or error) must equal the one-shot pipeline's.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use lil_check::Checker;
use lil_codegen::{Backend, CompileOptions, CompiledStub, Target};
use lil_fuzz::host_env;
use lil_syntax::Stub;

fn next_text(u: &mut Unstructured<'_>) -> String {
    match u.int_in_range(0..=2u8).unwrap_or(0) {
        0 => lil_fuzz::generated_text(u),
        1 => match Stub::arbitrary(u) {
            Ok(mut stub) => {
                lil_fuzz::tame(&mut stub);
                stub.to_string()
            }
            Err(_) => String::new(),
        },
        _ => String::from_utf8_lossy(u.arbitrary::<&[u8]>().unwrap_or_default()).into_owned(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let env = host_env(&mut u);
    let options = CompileOptions {
        patchable_constants: u.arbitrary().unwrap_or(false),
    };
    let backends: [&dyn Backend; 2] = [
        &lil_codegen_x64::X64Backend,
        &lil_codegen_arm64::Arm64Backend,
    ];
    let mut outs = [
        CompiledStub::new(Target::X64),
        CompiledStub::new(Target::Arm64),
    ];
    let mut checker = Checker::new();
    // The stub the next text is parsed into, once there is one.
    let mut warm: Option<Stub> = None;
    for _ in 0..u.int_in_range(1..=4u8).unwrap_or(1) {
        let text = next_text(&mut u);
        let fresh = lil_syntax::parse(&text);
        let stub = match warm.take() {
            Some(mut stub) => {
                let reused = lil_syntax::parse_with_into(&text, &[], &mut stub);
                assert_eq!(reused.as_ref().err(), fresh.as_ref().err(), "{text:?}");
                stub
            }
            None => match &fresh {
                Ok(stub) => stub.clone(),
                Err(_) => continue,
            },
        };
        let Ok(fresh) = fresh else {
            warm = Some(stub);
            continue;
        };
        assert_eq!(stub, fresh, "{text:?}");

        let fresh = lil_check::check_owned(fresh);
        let checked = match (checker.check(stub), fresh) {
            (Ok(checked), Ok(fresh)) => {
                assert_eq!(checked.stub(), fresh.stub());
                assert_eq!(checked.summary(), fresh.summary());
                assert_eq!(checked.warnings(), fresh.warnings());
                for (backend, out) in backends.iter().zip(&mut outs) {
                    let reused = backend.compile_into(&checked, &env, &options, out);
                    match backend.compile_with(&fresh, &env, &options) {
                        Ok(code) => {
                            assert_eq!(reused, Ok(()), "{text}");
                            assert_eq!(*out, code, "{text}");
                        }
                        Err(error) => assert_eq!(reused, Err(error), "{text}"),
                    }
                }
                checked
            }
            (Err(reused), Err(fresh)) => {
                assert_eq!(reused, fresh, "{text}");
                continue;
            }
            (reused, fresh) => panic!(
                "a reused checker said {:?}, check_owned said {:?}:\n{text}",
                reused.err(),
                fresh.err()
            ),
        };
        warm = Some(checker.recycle(checked));
    }
});
