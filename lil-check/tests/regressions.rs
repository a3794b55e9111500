//! Regression tests from fuzzing (`fuzz/`, target `check`): ASTs that
//! crashed the checker or made it exhaust memory. The AST has public
//! fields, so stub generators and `lil_parse!` can build what the parser
//! never would; the checker is the only gate before a backend.

use lil_syntax::{InstKind, MAX_INDEX};

/// fuzz `check`, artifact `oom-75c94ff4120e3699d71a641f3a6a08099d9e13e0`:
/// `locals 2274456686;` (a count the parser rejects with E0006) made the
/// checker allocate that many bytes for the context of every instruction
/// (libFuzzer: `malloc(2274456686)`). A count beyond `MAX_INDEX` must be
/// an error, not an allocation. (The test uses the smallest such count, so
/// it stays cheap while the bug is open.)
#[test]
fn locals_beyond_max_index_are_rejected() {
    let mut stub = match lil_syntax::parse("entry 0:platform::void; locals 1; ret;") {
        Ok(s) => s,
        Err(e) => panic!("{e:?}"),
    };
    stub.body[0].kind = InstKind::Locals(MAX_INDEX + 1);
    assert!(
        lil_check::check(&stub).is_err(),
        "`locals {}` was accepted: the checker allocated a context of that size",
        MAX_INDEX + 1
    );
}

/// fuzz `check`, artifact `crash-975a9c58c2c53bb4d56feeda7aa44dc7ee7a5bad`,
/// minimized by hand to four lines of text (so `lil check` crashes too):
/// paths that disagree (E0230) at a label that starts the stub panicked in
/// `report_conflict` ("index out of bounds: the len is 3 but the index is
/// 4294967295"): the entry block's state has no originating instruction
/// (`origin` is `u32::MAX`), and describing that path indexed the body
/// with it.
#[test]
fn conflict_at_a_label_that_starts_the_stub_is_an_error_not_a_panic() {
    let text = "entry 0:platform::void;\n:a;\nlocals 1;\nj a;\n";
    let stub = match lil_syntax::parse(text) {
        Ok(s) => s,
        Err(e) => panic!("{e:?}"),
    };
    let codes = match lil_check::check(&stub) {
        Ok(_) => panic!("accepted; the locals disagree where the paths meet"),
        Err(d) => d.codes(),
    };
    assert!(codes.contains(&"E0230"), "{codes:?}");
}
