//! `lil::Compiler` reuses its buffers from one stub to the next; these tests
//! show that it gives the one-shot pipeline's answer for every stub, on
//! both targets, whatever it compiled before (valid stubs, syntax errors,
//! check errors, stubs built in Rust). The backends' and the planner's
//! reuse entry points, `Backend::compile_into_with` and `FramePlan::plan`,
//! are checked the same way.

use lil::check::CheckedStub;
use lil::syntax::Arg;
use lil::{Compiler, Error, HostEnv, Target};
use lil_codegen::{CompileOptions, CompileScratch, FramePlan, ThreadPointer};
use lil_tests::differential::{
    example_texts, generated_texts, helper_stub_texts, placeholder_names,
};

/// The one-shot pipeline: fresh buffers at every stage.
fn one_shot(
    target: Target,
    text: &str,
    args: &[Arg<'_>],
    env: &HostEnv,
    options: &CompileOptions,
) -> Result<lil::CompiledStub, Error> {
    let stub = lil::syntax::parse_with(text, args)?;
    let checked = lil::check::check_owned(stub)?;
    lil::backend(target)
        .compile_with(&checked, env, options)
        .map_err(|source| Error::Codegen { target, source })
}

/// Stubs in an order that makes each stage reuse buffers of a different
/// size and kind: valid stubs of every shape, with bad ones in between.
fn texts() -> Vec<(String, String)> {
    let names = placeholder_names();
    let bad = [
        ("syntax", "entry 0:platform:g4:g4; r = ; ret;"),
        (
            "unknown label",
            "entry 0:platform::void; jc 1 = 1, nowhere; ret;",
        ),
        ("check", "entry 0:platform::g4; r = 5; l0 = r; ret;"),
        ("empty", ""),
    ];
    let mut texts = Vec::new();
    let good: Vec<_> = example_texts()
        .into_iter()
        .chain(helper_stub_texts(&names))
        .chain(generated_texts(150, &names))
        .collect();
    for (k, stub) in good.into_iter().enumerate() {
        texts.push(stub);
        if k % 7 == 3 {
            let (name, text) = bad[k / 7 % bad.len()];
            texts.push((name.to_owned(), text.to_owned()));
        }
    }
    texts
}

fn assert_same(
    name: &str,
    reused: Result<&lil::CompiledStub, Error>,
    fresh: Result<lil::CompiledStub, Error>,
) {
    match (reused, fresh) {
        (Ok(a), Ok(b)) => assert_eq!(*a, b, "{name}: the code differs"),
        (Err(a), Err(b)) => assert_eq!(
            (a.codes(), a.to_string()),
            (b.codes(), b.to_string()),
            "{name}: the errors differ"
        ),
        (a, b) => panic!(
            "{name}: reused compiler gave {:?}, one-shot gave {:?}",
            a.map(|c| c.code.len()),
            b.map(|c| c.code.len())
        ),
    }
}

#[test]
fn compiler_matches_one_shot_on_both_targets() {
    let env = HostEnv::new(ThreadPointer::TlsSlot { offset: 0x40 }, 24);
    let texts = texts();
    assert!(texts.len() > 300, "only {} stubs", texts.len());
    for target in [Target::X64, Target::Arm64] {
        for options in [
            CompileOptions::default(),
            CompileOptions {
                patchable_constants: true,
            },
        ] {
            let mut compiler = Compiler::with_options(target, options);
            let (mut good, mut bad) = (0, 0);
            for (name, text) in &texts {
                let fresh = one_shot(target, text, &[], &env, &options);
                if fresh.is_ok() {
                    good += 1
                } else {
                    bad += 1
                }
                assert_same(name, compiler.compile_text(text, &[], &env), fresh);
                // What the checker said about the last valid stub is kept.
                if let Ok(checked) = lil::check_text(text) {
                    let kept = compiler.checked().expect("a checked stub");
                    assert_eq!(kept.stub(), checked.stub(), "{name}");
                    assert_eq!(kept.warnings(), checked.warnings(), "{name}");
                } else {
                    assert!(compiler.checked().is_none(), "{name}: a stale checked stub");
                }
            }
            assert!(good > 250 && bad > 20, "{good} valid, {bad} invalid");
        }
    }
}

#[test]
fn runtime_constants_and_rust_built_stubs_share_one_compiler() {
    let env = HostEnv::default();
    let text = "entry 0:platform:pint:g8; ld r, [i0+%0i:g8]; ret;";
    for target in [Target::X64, Target::Arm64] {
        let mut compiler = Compiler::new(target);
        for offset in [0i64, 8, 0x7fff_fff8, -16] {
            let args = [Arg::int(offset)];
            let fresh = one_shot(target, text, &args, &env, &CompileOptions::default());
            assert_same("ld", compiler.compile_text(text, &args, &env), fresh);

            let built = lil::lil_parse!("entry 0:platform:pint:g8; ld r, [i0+{offset}:g8]; ret;")
                .expect("the macro's stub parses");
            let checked = lil::check::check_owned(built.clone()).expect("valid");
            let fresh = lil::compile_checked_for(target, &checked, &env);
            assert_same("lil_parse!", compiler.compile_stub(built, &env), fresh);
        }
        // A missing runtime constant is a syntax error, and the next
        // compile is unaffected by it.
        assert!(matches!(
            compiler.compile_text(text, &[], &env),
            Err(Error::Syntax(_))
        ));
        let fresh = one_shot(
            target,
            text,
            &[Arg::int(24)],
            &env,
            &CompileOptions::default(),
        );
        assert_same(
            "after error",
            compiler.compile_text(text, &[Arg::int(24)], &env),
            fresh,
        );
    }
}

#[test]
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn installed_code_from_a_reused_compiler_runs() {
    let cache = lil::codegen::CodeCache::with_default_capacity().expect("a code cache");
    let env = HostEnv::default();
    let mut compiler = Compiler::for_host().expect("x86-64 is a target");
    let text = "entry 0:platform:g8:g8; r = i0 + %0i; ret;";
    let mut installed = Vec::new();
    for k in 0..40i64 {
        installed.push((
            k,
            compiler
                .install_text(&cache, text, &[Arg::int(k)], &env)
                .expect("installs"),
        ));
    }
    for (k, code) in installed {
        // SAFETY: the stub's signature is `platform:g8:g8`, this C type,
        // and the cache outlives the call.
        let f = unsafe { std::mem::transmute::<usize, extern "C" fn(u64) -> u64>(code.addr()) };
        assert_eq!(f(1000), 1000 + k as u64);
    }
}

#[test]
fn a_compiler_can_move_to_another_thread() {
    fn send<T: Send>(_: &T) {}
    let mut compiler = Compiler::new(Target::Arm64);
    send(&compiler);
    let code = std::thread::spawn(move || {
        let env = HostEnv::default();
        compiler
            .compile_text("entry 0:platform:g8:g8; r = i0; ret;", &[], &env)
            .map(|c| c.code.clone())
            .expect("compiles")
    })
    .join()
    .expect("the thread finishes");
    assert!(!code.is_empty());
}

/// One `CompiledStub` reused across compiles, an error among them, gets
/// what `compile_with` returns each time, in the same code buffer once it
/// is large enough, and is left empty by an error.
#[test]
fn compile_into_reuses_the_code_buffer_and_matches_compile_with() {
    let big = lil_check::assert_valid(
        "entry 0:managed:g4,pint:ref; locals 2; l0 = ts; ld l1, [l0+8:ref];
         jc l1 = 0, slow; r = l1; ret; :slow; push_m2n 0; in2out platform:ref;
         call 0x1000; pop_m2n; ret;",
    );
    let small = lil_check::assert_valid("entry 0:platform:g8,g8:g8; r = i0 + i1; ret;");
    let uses_ts = lil_check::assert_valid("entry 0:platform::pint; r = ts; ret;");
    let env = HostEnv::default();
    // Register 0 is taken by LIL on both targets (return value or first
    // argument).
    let clashing = HostEnv::new(ThreadPointer::Register(0), 8);
    let options = CompileOptions::default();
    // Kept across both targets: what it holds never changes an answer.
    let mut scratch = CompileScratch::new();
    for target in [Target::X64, Target::Arm64] {
        let backend = lil::backend(target);
        let mut out = lil::CompiledStub::new(target);
        backend
            .compile_into(&big, &env, &options, &mut out)
            .expect("compiles");
        let buffer = out.code.as_ptr();
        let mut errors = 0;
        for (stub, env) in [
            (&small, &env),
            (&uses_ts, &clashing),
            (&big, &env),
            (&small, &env),
        ] {
            let want = backend.compile_with(stub, env, &options);
            let into = backend.compile_into(stub, env, &options, &mut out);
            let into_result = out.clone();
            let with = backend.compile_into_with(stub, env, &options, &mut out, &mut scratch);
            for (name, got, got_out) in [("into", into, &into_result), ("into_with", with, &out)] {
                match &want {
                    Ok(want) => assert_eq!((got, got_out), (Ok(()), want), "{target:?} {name}"),
                    Err(err) => {
                        errors += 1;
                        assert_eq!(got.as_ref(), Err(err), "{target:?} {name}");
                        let empty = lil::CompiledStub::new(target);
                        assert_eq!(*got_out, empty, "{target:?} {name}");
                    }
                }
            }
            assert_eq!(
                out.code.as_ptr(),
                buffer,
                "{target:?}: the buffer is reused"
            );
        }
        assert_eq!(errors, 2, "{target:?}: the clashing register is refused");
    }
}

/// What an emitter reads of a plan for `stub`, as text.
fn plan_view(plan: &FramePlan, stub: &CheckedStub) -> String {
    let n = stub.stub().body.len();
    let per_inst: Vec<_> = (0..n)
        .map(|i| {
            (
                plan.framed_before(i),
                plan.requires_frame(i),
                plan.liveness.ret_after(i),
                plan.liveness.local_after(i, 0),
                plan.alloc_address(i, 0),
                plan.alloc_address(i, 1),
            )
        })
        .collect();
    let blocks: Vec<_> = (0..stub.blocks().len())
        .map(|b| plan.block_framed_in(b))
        .collect();
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {} {:?} {} {:?} {} {:?} {:?} {:?} {:?} {:?}",
        plan.inputs,
        plan.input_homes,
        plan.arbitrary_saves,
        plan.locals_gp,
        plan.locals_fp,
        plan.scratch_gp,
        plan.scratch_fp,
        plan.saved,
        plan.helper_saves,
        plan.frame_size,
        plan.alloc_offset,
        plan.m2n_offset,
        plan.out_area,
        plan.ts_register,
        plan.std_places_saved,
        (plan.ret_gp, plan.ret_fp),
        plan.borrowed,
        per_inst,
        blocks,
        plan.has_frame(),
    )
}

/// A `FramePlan` reused for one stub after another (`FramePlan::plan`)
/// holds what a fresh plan of each holds, on both targets: stubs with
/// frames and without, `alloc` addresses, branches, narrow extensions,
/// and the examples, forward and then in reverse.
#[test]
fn a_reused_plan_equals_a_fresh_one() {
    let own = [
        "entry 0:platform:g8,g8:g8; r = i0 + i1; ret;",
        "entry 0:platform:g8,g8:g8; locals 2; alloc l0, 24; alloc l1, 8; \
         st [l0+16:g8], i0; st [l1+0:g8], i1; st [l0+0:g8], 0:g8; \
         ld r, [l0+16:g8]; ld l0, [l1+0:g8]; r = r - l0; ret;",
        "entry 0:platform:g8,g8:g8; locals 2; l0 = i0; l1 = i1; jc l0 < l1, yes; \
         r = l0; ret; :yes; r = l1; ret;",
        "entry 0:platform:g1,g2,g4,g1:pint; locals 2; l0 = sx1 i0; l1 = zx2 i1; \
         l0 = l0 * l1; l1 = sx4 i2; l0 = l0 - l1; l1 = zx1 i3; l1 = l1 << 7; \
         r = l0 ^ l1; ret;",
    ];
    let stubs: Vec<CheckedStub> = own
        .iter()
        .map(|text| text.to_string())
        .chain(example_texts().into_iter().map(|(_, text)| text))
        .filter_map(|text| lil::check::check_owned(lil::syntax::parse(&text).ok()?).ok())
        .collect();
    assert!(stubs.len() > own.len(), "the examples are read");
    let env = HostEnv::default();
    // One plan for both targets, as `CompileScratch` keeps it.
    let mut reused = FramePlan::empty(lil::backend(Target::X64).desc());
    for target in [Target::X64, Target::Arm64] {
        let desc = lil::backend(target).desc();
        let mut planned = 0;
        for stub in stubs.iter().chain(stubs.iter().rev()) {
            let fresh = FramePlan::new(stub, desc, &env);
            let again = reused.plan(stub, desc, &env);
            assert_eq!(fresh.is_ok(), again.is_ok(), "{target:?}: {}", stub.stub());
            if let Ok(fresh) = fresh {
                planned += 1;
                assert_eq!(
                    plan_view(&reused, stub),
                    plan_view(&fresh, stub),
                    "{target:?}: {}",
                    stub.stub()
                );
            }
        }
        assert!(planned >= 2 * own.len(), "{target:?}: {planned} plans");
    }
}
