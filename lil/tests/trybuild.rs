//! Compile-time errors of `lil_parse!`: each file in `tests/ui/` must fail to
//! compile with exactly the diagnostics in its `.stderr` snapshot.
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p lil --test trybuild`
//! and read them before committing: they are what a user sees.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
