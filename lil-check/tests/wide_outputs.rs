//! Output areas wider than 64: the checker keeps the first 64 outputs'
//! set/unset bits inline in its state and the rest apart, so the rules on
//! outputs (E0212 set before a call, E0213 set before read, a join keeps
//! set only what every path set, `in2out` sets them all) are checked here
//! beyond that boundary too.

use lil_check::check;
use std::fmt::Write;

/// Outputs of the area `out platform:pint x N:void`.
const N: usize = 70;

/// `entry 0:platform:pint:void; locals 1; out ...;` then `body`, a call
/// and `ret`.
fn stub(body: &str) -> String {
    let params = vec!["pint"; N].join(",");
    format!(
        "entry 0:platform:pint:void;\nlocals 1;\nout platform:{params}:void;\n{body}call 0x1000;\nret;\n"
    )
}

/// `oK = 1;` for every output but those in `except`.
fn set_all_but(except: &[usize]) -> String {
    let mut s = String::new();
    for k in (0..N).filter(|k| !except.contains(k)) {
        let _ = writeln!(s, "o{k} = 1;");
    }
    s
}

fn codes(text: &str) -> Vec<&'static str> {
    let stub = lil_syntax::parse(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    match check(&stub) {
        Ok(_) => Vec::new(),
        Err(d) => d.codes(),
    }
}

#[test]
fn every_output_set_is_valid() {
    assert_eq!(codes(&stub(&set_all_but(&[]))), Vec::<&str>::new());
}

#[test]
fn an_output_beyond_64_not_set_is_an_error() {
    assert_eq!(codes(&stub(&set_all_but(&[66]))), ["E0212"]);
}

#[test]
fn an_output_beyond_64_set_on_one_path_only_is_an_error() {
    let body = format!("{}jc i0 = 0, skip;\no66 = 1;\n:skip;\n", set_all_but(&[66]));
    assert_eq!(codes(&stub(&body)), ["E0212"]);
    let body = format!(
        "{}jc i0 = 0, other;\no66 = 1;\nj done;\n:other;\no66 = 2;\n:done;\n",
        set_all_but(&[66])
    );
    assert_eq!(codes(&stub(&body)), Vec::<&str>::new());
}

#[test]
fn an_output_beyond_64_read_before_set_is_an_error() {
    // `o65 = l0` reads the local written.
    let body = format!("l0 = o66;\n{}o65 = l0;\n", set_all_but(&[]));
    assert_eq!(codes(&stub(&body)), ["E0213"]);
    let body = format!("{}l0 = o66;\no65 = l0;\n", set_all_but(&[]));
    assert_eq!(codes(&stub(&body)), Vec::<&str>::new());
}

#[test]
fn in2out_sets_outputs_beyond_64() {
    let params = vec!["pint"; N].join(",");
    let text =
        format!("entry 0:managed:{params}:void;\nin2out platform:void;\ncall 0x1000;\nret;\n");
    assert_eq!(codes(&text), Vec::<&str>::new());
    // A call clears the outputs: a second call needs them set again.
    let text = format!(
        "entry 0:managed:{params}:void;\nin2out platform:void;\ncall 0x1000;\nout platform:{params}:void;\n{}call 0x1000;\nret;\n",
        set_all_but(&[69])
    );
    assert_eq!(codes(&text), ["E0212"]);
}
