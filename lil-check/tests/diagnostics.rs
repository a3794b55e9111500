//! Snapshots of rendered diagnostics: what a VM author sees.

fn render(text: &str) -> String {
    let stub = lil_syntax::parse(text).expect("parses");
    match lil_check::check(&stub) {
        Ok(c) => lil_syntax::diagnostic::render_all(
            &c.warnings()
                .iter()
                .map(|w| w.to_diagnostic())
                .collect::<Vec<_>>(),
            "stub.lil",
            text,
        ),
        Err(d) => d.render("stub.lil", text),
    }
}

#[test]
fn join_conflict_names_both_paths() {
    insta::assert_snapshot!(render(
        "entry 0:platform:pint:void;\nlocals 1;\nl0 = 5:g4;\njc i0 = 0, done;\nl0 = i0;\n:done;\nl0 = l0 + 1;\nret;\n"
    ));
}

#[test]
fn local_count_conflict() {
    insta::assert_snapshot!(render(
        "entry 0:platform:pint:void;\nlocals 1;\njc i0 = 0, done;\nlocals 2;\n:done;\nret;\n"
    ));
}

#[test]
fn standard_place_destroyed_by_a_call() {
    insta::assert_snapshot!(render(
        "entry 1:managed:arbitrary;\npush_m2n 0;\nout platform::void;\ncall 0x1000;\nout platform:pint:pint;\no0 = sp0;\ncall 0x2000;\npop_m2n;\ntailcall r;\n"
    ));
}

#[test]
fn several_errors_at_once() {
    insta::assert_snapshot!(render(
        "entry 0:managed:g4,pint:ref;\nlocals 3;\nl0 = ts;\nld r, [l0+16:ref];\nld l1, [l0+24:pint];\nl2 = r:pint + i0;\njc l2 >u l1, slowpath;\nst [r+0:pint], i1;\nst [l0+16:pint], l2;\nret;\n:slowpath;\nin2out platform:ref;\npush_m2n 0;\ncall 0x1000;\nret;\n"
    ));
}

#[test]
fn warnings() {
    insta::assert_snapshot!(render(
        "entry 0:platform::void;\nlocals 2;\nl0 = 1;\nret;\nl1 = 2;\nret;\n"
    ));
}
