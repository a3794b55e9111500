//! `lil demo`: every standard stub runs against the toy VM on both targets.

use std::process::Command;

fn lil(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lil"))
        .args(args)
        .output()
        .expect("run lil");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_runs_every_stub_and_reports_ok() {
    let (code, out, err) = lil(&["demo"]);
    assert_eq!(code, 0, "{out}{err}");
    for (name, _) in lil_toyvm::scenarios::ALL {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{out}"));
        assert!(!row.contains("FAILED"), "{row}");
        let fields: Vec<&str> = row.split_whitespace().collect();
        let x64_bytes: usize = fields[2].parse().unwrap_or(0);
        assert!(x64_bytes > 0, "no x86-64 code size: {row}");
        if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
            assert_eq!(fields[5], "OK", "{row}");
        }
        if cfg!(feature = "emulator") {
            assert_eq!(fields[6], "OK", "{row}");
        }
    }
    assert!(out.contains(" 0 checks failed"), "{out}");
}

#[test]
fn demo_disasm_shows_lil_beside_both_targets() {
    let (code, out, err) = lil(&["demo", "--disasm", "instanceof_for_class"]);
    assert_eq!(code, 0, "{err}");
    let listing = out
        .split("== instanceof_for_class ==")
        .nth(1)
        .unwrap_or_else(|| panic!("no listing:\n{out}"));
    assert!(listing.contains("| x86-64"), "{listing}");
    let ret_row = listing
        .lines()
        .find(|l| l.starts_with("ret;"))
        .unwrap_or_else(|| panic!("no ret row:\n{listing}"));
    let columns: Vec<&str> = ret_row.split('|').collect();
    assert_eq!(columns.len(), 3, "{ret_row}");
    assert!(
        columns[1].contains("ret") || columns[2].contains("ret"),
        "{ret_row}"
    );
    assert!(!out.contains("== new_object =="), "only the named stub");
}

#[test]
fn demo_disasm_of_an_unknown_stub_is_a_usage_error() {
    let (code, _, err) = lil(&["demo", "--disasm", "no_such_stub"]);
    assert_eq!(code, 2);
    assert!(err.contains("new_object"), "lists the stubs: {err}");
}
