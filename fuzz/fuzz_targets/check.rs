//! Structure-aware checker fuzzing: arbitrary ASTs (most get past the
//! parser because there is none) must never make the checker panic; their
//! canonical text goes through parser and checker again, and the
//! diagnostics render against it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|stub: lil_syntax::Stub| {
    // As generated (mostly huge indices, E0242), then tamed so that the
    // dataflow and every rule run.
    let _ = lil_check::check(&stub);
    let mut stub = stub;
    lil_fuzz::tame(&mut stub);
    if let Ok(checked) = lil_check::check(&stub) {
        // Everything a backend asks of a checked stub answers.
        let _ = checked.summary();
        for i in 0..checked.stub().body.len() {
            let _ = (checked.context(i), checked.op_type(i), checked.span(i));
        }
        let _ = checked.basic_blocks().count();
    }
    let text = stub.to_string();
    if let Ok(parsed) = lil_syntax::parse(&text) {
        match lil_check::check(&parsed) {
            Ok(_) => {}
            Err(d) => {
                let _ = d.render("printed", &text);
            }
        }
    }
});
