//! A digest of everything both backends generate for a fixed set of
//! stubs: one line per (stub, target, host variant) with a hash of the
//! whole compile result (code, source map, unwind table, or the error).
//!
//! Speed work on the planner and the emitters must not change the code;
//! this is how that is shown. Run it before and after and compare:
//!
//! ```text
//! cargo run --release -p lil-tests --example codegen_digest > /tmp/before
//! # ... change the code generators ...
//! cargo run --release -p lil-tests --example codegen_digest | diff /tmp/before -
//! ```
//!
//! The stubs: the repository's `examples/*.lil`, the stubs of the
//! differential tests, and `N` generated differential cases (main and
//! tail; default 3000, or the first argument). The variants: `ts` from a
//! TLS slot, by a call and from a pinned register, with the M2N hooks and
//! `print` set, with and without patchable constants.
//!
//! `Backend::compile_into_with` (and so `compile_into`) is held to
//! `compile_with`: every case is also compiled into one `CompiledStub`
//! with one `CompileScratch`, both reused across all of them (errors and
//! both targets included), and must give the same result (an assertion,
//! so the printed digest is the same as before that entry point existed).

use std::hash::{DefaultHasher, Hash, Hasher};

use lil_codegen::{CompileOptions, CompileScratch, CompiledStub, HostEnv, M2nHooks, ThreadPointer};
use lil_tests::differential::{
    example_texts, generated_texts, helper_stub_texts, placeholder_names,
};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let names = placeholder_names();
    let mut stubs: Vec<(String, String)> = Vec::new();
    stubs.extend(example_texts());
    stubs.extend(helper_stub_texts(&names));
    stubs.extend(generated_texts(n, &names));

    let mut all = DefaultHasher::new();
    let mut reused = CompiledStub::new(lil::Target::X64);
    let mut scratch = CompileScratch::new();
    for (name, text) in &stubs {
        let checked = match lil_syntax::parse(text).map(lil_check::check_owned) {
            Ok(Ok(c)) => c,
            Ok(Err(_)) | Err(_) => {
                println!("{name}: invalid");
                continue;
            }
        };
        for target in [lil::Target::X64, lil::Target::Arm64] {
            for (e, env) in envs(target).iter().enumerate() {
                for patchable in [false, true] {
                    let options = CompileOptions {
                        patchable_constants: patchable,
                    };
                    let backend = lil::backend(target);
                    let result = backend.compile_with(&checked, env, &options);
                    let into = backend.compile_into_with(
                        &checked,
                        env,
                        &options,
                        &mut reused,
                        &mut scratch,
                    );
                    match &result {
                        Ok(compiled) => assert_eq!(
                            (into, &reused),
                            (Ok(()), compiled),
                            "{name} {target:?} env{e} p{patchable}: compile_into_with"
                        ),
                        Err(err) => assert!(
                            into.as_ref() == Err(err) && emptied(&reused, target),
                            "{name} {target:?} env{e} p{patchable}: compile_into_with after {err}"
                        ),
                    }
                    let mut h = DefaultHasher::new();
                    format!("{result:?}").hash(&mut h);
                    let digest = h.finish();
                    digest.hash(&mut all);
                    let len = result.as_ref().map_or(0, |c| c.code.len());
                    println!("{name} {target:?} env{e} p{patchable}: {digest:016x} {len}");
                }
            }
        }
    }
    println!("all: {:016x}", all.finish());
}

/// Whether `out` is what `compile_into` leaves after an error.
fn emptied(out: &CompiledStub, target: lil::Target) -> bool {
    *out == CompiledStub::new(target)
}

/// The host environments every stub is compiled for.
fn envs(target: lil::Target) -> Vec<HostEnv> {
    let tls = HostEnv::new(ThreadPointer::TlsSlot { offset: 0x40 }, 24);
    let mut call = HostEnv::new(
        ThreadPointer::Call {
            function: 0x7123_4560,
        },
        16,
    );
    call.m2n_hooks = M2nHooks {
        free_handles: Some(0x7000_1000),
        pending_exception: Some(0x7000_2000),
    };
    call.print = Some(0x7000_3000);
    let register = match target {
        lil::Target::X64 => 12,
        lil::Target::Arm64 => 28,
    };
    let pinned = HostEnv::new(ThreadPointer::Register(register), 8);
    vec![tls, call, pinned]
}
