//! The checker enforces the rules the VM's stubs rely on: each broken
//! variant of a VM stub is rejected with its code, and the real stubs pass
//! with no warning.

use lil_bytecode_vm::Stubs;
use lil_codegen::Target;

/// The error codes the checker reports for `text`.
fn codes(text: &str) -> Vec<&'static str> {
    let stub = lil_syntax::parse(text).unwrap_or_else(|e| panic!("{}", e.render("t", text)));
    match lil_check::check_owned(stub) {
        Ok(_) => Vec::new(),
        Err(d) => d.errors().map(|e| e.code()).collect(),
    }
}

const DISPATCH: &str = "
    ld l3, [sp1+0:g1], zx;
    sp1 = sp1 + 1;
    ld l3, [sp0+l3*8:pint];
    tailcall l3;";

#[test]
fn the_generated_stubs_pass_without_warnings() {
    for target in [Target::X64, Target::Arm64] {
        let stubs = Stubs::generate(target).unwrap_or_else(|e| panic!("{e}"));
        for stub in stubs.all() {
            assert!(
                stub.checked.warnings().is_empty(),
                "{}: {:?}",
                stub.name(),
                stub.checked.warnings()
            );
        }
    }
}

#[test]
fn print_must_copy_the_places_it_needs_after_the_call() {
    // The real handler, as a baseline the variants below break.
    let good = format!(
        "entry 4:handler::void; locals 4;
         l0 = sp0; l1 = sp1; l2 = sp2;
         ld l3, [sp0-32:pint];
         out platform:g8:void; o0 = sp3:g8; call l3;
         std_places 4; sp0 = l0; sp1 = l1; ld sp3, [l2+0:pint]; sp2 = l2 + 8;
         {DISPATCH}"
    );
    assert_eq!(codes(&good), Vec::<&str>::new());
    // Reading a place after the call without the copy: E0221.
    let no_copy = good.replace("sp1 = l1;", "sp1 = sp1;");
    assert_eq!(codes(&no_copy), vec!["E0221"]);
    // Handing on fewer places than received: E0233.
    let three = good.replace("ld sp3, [l2+0:pint];", "");
    assert_eq!(codes(&three), vec!["E0233"]);
}

#[test]
fn the_entry_stub_must_call_not_tailcall_the_first_handler() {
    let call = "entry 0:platform:pint,pint,pint,pint:g8; locals 1;
        std_places 4; sp0 = i0; sp1 = i1; sp2 = i2; sp3 = i3;
        ld l0, [sp0+0:pint];
        out platform::g8; call l0; ret;";
    assert_eq!(codes(call), Vec::<&str>::new());
    let tailcall = "entry 0:platform:pint,pint,pint,pint:g8; locals 1;
        std_places 4; sp0 = i0; sp1 = i1; sp2 = i2; sp3 = i3;
        ld l0, [sp0+0:pint];
        tailcall l0;";
    assert_eq!(codes(tailcall), vec!["E0234"]);
}

#[test]
fn handlers_do_not_return_or_take_arguments() {
    assert_eq!(codes("entry 4:handler::void; r = sp3; ret;"), vec!["E0206"]);
    assert_eq!(
        codes(&format!("entry 4:handler:pint:void; locals 4; {DISPATCH}")),
        vec!["E0232"]
    );
}
