//! The `lil` binary end to end: exit codes, stdout and stderr of every
//! subcommand, on files written to a per-test temporary directory.
//!
//! The AArch64 `asm`/`run` tests are in `cli_arm64.rs`.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A fresh directory for one test.
fn dir(test: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("lil-cli")
        .join(test);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Write `text` to `name` in `dir`; returns the path as a string.
fn file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn lil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lil"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert the exit code, showing the output when it is wrong.
#[track_caller]
fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

const ADD: &str = "entry 0:platform:g4,g4:g4;\nr = i0 + i1;\nret;\n";
const BAD: &str = "entry 0:platform::g4;\nr = 5;\nl0 = r;\nret;\n";
const WARN: &str = "entry 0:platform::g4;\nlocals 1;\nl0 = 1;\nr = 2;\nret;\n";

// ---- check -----------------------------------------------------------------

#[test]
fn check_valid_file_is_silent() {
    let d = dir("check_valid");
    let o = lil(&["check", &file(&d, "add.lil", ADD)]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), "");
}

#[test]
fn check_prints_warnings_and_succeeds() {
    let d = dir("check_warn");
    let o = lil(&["check", &file(&d, "w.lil", WARN)]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("warning[W0202]"), "{}", stderr(&o));
}

#[test]
fn check_invalid_file_renders_code_and_position() {
    let d = dir("check_invalid");
    let path = file(&d, "bad.lil", BAD);
    let o = lil(&["check", &path]);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("error[E0222]"), "{err}");
    assert!(err.contains(&format!("{path}:3:1")), "{err}");
    assert!(err.contains("^^"), "{err}");
    assert_eq!(stdout(&o), "");
}

#[test]
fn check_syntax_error() {
    let d = dir("check_syntax");
    let o = lil(&[
        "check",
        &file(&d, "s.lil", "entry 0:platform:g4:g4;\nr = i0 +;\nret;\n"),
    ]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("error[E00"), "{}", stderr(&o));
}

#[test]
fn check_explains_runtime_constants() {
    let d = dir("check_directive");
    let o = lil(&[
        "check",
        &file(&d, "d.lil", "entry 0:platform::g8; r = %0i; ret;"),
    ]);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("E0101"), "{err}");
    assert!(err.contains("Replace them with literals"), "{err}");
}

#[test]
fn check_missing_file_is_a_usage_error() {
    let d = dir("check_missing");
    let missing = d.join("nope.lil");
    let o = lil(&["check", missing.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("cannot read") && err.contains("nope.lil"),
        "{err}"
    );
}

#[test]
fn check_every_file_and_exit_with_the_worst() {
    let d = dir("check_many");
    let (add, bad) = (file(&d, "add.lil", ADD), file(&d, "bad.lil", BAD));
    let missing = d.join("nope.lil");
    let o = lil(&["check", &add, &bad]);
    assert_exit(&o, 1);
    let o = lil(&["check", &bad, missing.to_str().unwrap(), &add]);
    assert_exit(&o, 2);
    // The invalid file was still reported.
    assert!(stderr(&o).contains("E0222"), "{}", stderr(&o));
}

#[test]
fn check_without_files_is_a_usage_error() {
    let o = lil(&["check"]);
    assert_exit(&o, 2);
}

#[test]
fn check_json_one_object_per_diagnostic() {
    let d = dir("check_json");
    let (bad, warn, add) = (
        file(&d, "bad.lil", BAD),
        file(&d, "w.lil", WARN),
        file(&d, "add.lil", ADD),
    );
    let o = lil(&["check", "--format", "json", &bad, &warn, &add]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    let objects: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 2, "{out}");
    let e = &objects[0];
    assert_eq!(e["file"], bad.as_str());
    assert_eq!(e["line"], 3);
    assert_eq!(e["column"], 1);
    assert_eq!(e["end_line"], 3);
    assert_eq!(e["end_column"], 3);
    assert_eq!(e["severity"], "error");
    assert_eq!(e["code"], "E0222");
    assert!(e["message"].as_str().unwrap().contains("l0"), "{e}");
    let w = &objects[1];
    assert_eq!(w["file"], warn.as_str());
    assert_eq!(w["severity"], "warning");
    assert_eq!(w["code"], "W0202");
    assert_eq!(w["line"], 3);
}

#[test]
fn check_json_valid_file_prints_nothing() {
    let d = dir("check_json_valid");
    let o = lil(&["check", "--format", "json", &file(&d, "add.lil", ADD)]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "");
}

// ---- fmt -------------------------------------------------------------------

#[test]
fn fmt_prints_canonical_text() {
    let d = dir("fmt_print");
    let o = lil(&[
        "fmt",
        &file(&d, "ugly.lil", "entry 0:platform:g4,g4:g4;   r=i0+i1; ret;"),
    ]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), ADD);
}

#[test]
fn fmt_check_accepts_canonical_text() {
    let d = dir("fmt_check_ok");
    let o = lil(&["fmt", "--check", &file(&d, "add.lil", ADD)]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), "");
}

#[test]
fn fmt_check_rejects_other_text_and_shows_the_difference() {
    let d = dir("fmt_check_bad");
    let o = lil(&[
        "fmt",
        "--check",
        &file(
            &d,
            "ugly.lil",
            "entry 0:platform:g4,g4:g4;\nr=i0+i1;\nret;\n",
        ),
    ]);
    assert_exit(&o, 1);
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(err.contains("not in canonical form"), "{err}");
    assert!(err.contains("-   2 | r=i0+i1;"), "{err}");
    assert!(err.contains("+   2 | r = i0 + i1;"), "{err}");
}

/// `--check` takes several files, checks them all and names each one
/// that is not canonical; printing takes one file.
#[test]
fn fmt_check_takes_several_files() {
    let d = dir("fmt_check_many");
    let good = file(&d, "add.lil", ADD);
    let bad1 = file(
        &d,
        "ugly1.lil",
        "entry 0:platform:g4,g4:g4;\nr=i0+i1;\nret;\n",
    );
    let bad2 = file(
        &d,
        "ugly2.lil",
        "entry 0:platform:g4,g4:g4;\nr=i0-i1;\nret;\n",
    );
    let o = lil(&["fmt", "--check", &good, &good]);
    assert_exit(&o, 0);
    let o = lil(&["fmt", "--check", &bad1, &good, &bad2]);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("ugly1.lil is not in canonical form"), "{err}");
    assert!(err.contains("ugly2.lil is not in canonical form"), "{err}");
    assert!(!err.contains("add.lil is not"), "{err}");
    let o = lil(&["fmt", &good, &good]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("lil fmt --check FILE..."),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fmt_of_a_syntax_error_fails() {
    let d = dir("fmt_syntax");
    let o = lil(&[
        "fmt",
        &file(&d, "s.lil", "entry 0:platform:g4:g4; r = ; ret;"),
    ]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("error[E00"), "{}", stderr(&o));
}

#[test]
fn fmt_missing_file() {
    let d = dir("fmt_missing");
    let o = lil(&["fmt", d.join("nope.lil").to_str().unwrap()]);
    assert_exit(&o, 2);
}

// ---- asm -------------------------------------------------------------------

#[test]
fn asm_x64_listing_has_source_lines_and_mnemonics() {
    let d = dir("asm_x64");
    let o = lil(&["asm", "--target", "x64", &file(&d, "add.lil", ADD)]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let at = |s: &str| {
        lines
            .iter()
            .position(|l| *l == s)
            .unwrap_or_else(|| panic!("no {s:?} in\n{out}"))
    };
    let (entry, add, ret) = (
        at("; 1 | entry 0:platform:g4,g4:g4;"),
        at("; 2 | r = i0 + i1;"),
        at("; 3 | ret;"),
    );
    assert!(entry < add && add < ret, "{out}");
    let add_code = lines[add + 1..ret].join("\n");
    assert!(
        add_code.contains(" add ") || add_code.contains(" lea "),
        "{out}"
    );
    assert!(lines[ret + 1].starts_with("00000"), "{out}");
    assert!(lines[ret + 1].ends_with(" ret"), "{out}");
}

#[test]
fn asm_base_moves_addresses() {
    let d = dir("asm_base");
    let o = lil(&[
        "asm",
        "--target",
        "x64",
        "--base",
        "0x10000",
        &file(&d, "add.lil", ADD),
    ]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("\n00010000  "), "{}", stdout(&o));
    let o = lil(&["asm", "--base", "zero", &file(&d, "add.lil", ADD)]);
    assert_exit(&o, 2);
}

#[test]
fn asm_invalid_stub_fails_with_diagnostics() {
    let d = dir("asm_invalid");
    let o = lil(&["asm", "--target", "x64", &file(&d, "bad.lil", BAD)]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("E0222"), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn asm_unknown_target_is_a_usage_error() {
    let d = dir("asm_target");
    let o = lil(&["asm", "--target", "mips", &file(&d, "add.lil", ADD)]);
    assert_exit(&o, 2);
}

// ---- run -------------------------------------------------------------------

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod run_x64 {
    use super::*;

    #[test]
    fn adds_negative_and_positive() {
        let d = dir("run_add");
        let o = lil(&[
            "run",
            "--target",
            "x64",
            &file(
                &d,
                "add.lil",
                "entry 0:platform:g4,g4:g4; r = i0 + i1; ret;",
            ),
            "-5",
            "7",
        ]);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o), "2\n");
    }

    #[test]
    fn default_target_is_this_machine() {
        let d = dir("run_default");
        let o = lil(&["run", &file(&d, "add.lil", ADD), "0x10", "-0"]);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o), "16\n");
    }

    #[test]
    fn result_is_sign_extended_from_its_width() {
        let d = dir("run_g1");
        let o = lil(&[
            "run",
            "--target",
            "x64",
            &file(&d, "g1.lil", "entry 0:platform::g1; r = 0xff; ret;"),
        ]);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o), "-1\n");
        let o = lil(&[
            "run",
            &file(&d, "pint.lil", "entry 0:platform:pint:pint; r = i0; ret;"),
            "0xffffffffffffffff",
        ]);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o), "-1\n");
    }

    #[test]
    fn void_prints_nothing() {
        let d = dir("run_void");
        let o = lil(&[
            "run",
            &file(&d, "v.lil", "entry 0:platform:g8:void; ret;"),
            "1",
        ]);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o), "");
    }

    #[test]
    fn ts_is_a_zeroed_block() {
        let d = dir("run_ts");
        let text = "entry 0:platform:g8:g8;
                    locals 1;
                    l0 = ts;
                    ld r, [l0+4088:g8];
                    r = r + i0;
                    st [l0+16:g8], r;
                    ld r, [l0+16:g8];
                    ret;";
        let o = lil(&["run", &file(&d, "ts.lil", text), "41"]);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o), "41\n");
    }

    #[test]
    fn print_goes_to_stderr() {
        let d = dir("run_print");
        let text = "entry 0:platform:g8:g8; print 'got', i0; r = i0; ret;";
        let o = lil(&["run", &file(&d, "p.lil", text), "0x2a"]);
        assert_exit(&o, 0);
        assert_eq!(stdout(&o), "42\n");
        assert!(stderr(&o).contains("got 0x2a"), "{}", stderr(&o));
    }

    #[test]
    fn invalid_stub_exits_1() {
        let d = dir("run_invalid");
        let o = lil(&["run", &file(&d, "bad.lil", BAD)]);
        assert_exit(&o, 1);
        assert!(stderr(&o).contains("E0222"), "{}", stderr(&o));
        assert_eq!(stdout(&o), "");
    }
}

/// A stub that faults natively is reported (exit 1, a message saying what
/// to do), not a silent death by signal.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn run_of_a_stub_that_crashes_natively_says_so() {
    let d = dir("run_crash");
    let text = "entry 0:platform::g8;\nout platform::g8;\ncall 0x10;\nret;\n";
    let o = lil(&["run", "--target", "x64", &file(&d, "crash.lil", text)]);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("the stub crashed with SIGSEGV"), "{err}");
    assert!(err.contains("--target eval"), "{err}");
    assert_eq!(stdout(&o), "");
}

#[test]
fn run_wrong_argument_count_exits_2() {
    let d = dir("run_count");
    let o = lil(&["run", "--target", "x64", &file(&d, "add.lil", ADD), "1"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("takes 2 argument(s) (g4, g4) but got 1"),
        "{err}"
    );
    assert!(err.contains("lil run FILE ARG0 ARG1"), "{err}");
    assert_eq!(stdout(&o), "");
}

#[test]
fn run_unparsable_argument_exits_2() {
    let d = dir("run_parse");
    let o = lil(&["run", &file(&d, "add.lil", ADD), "1", "two"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("argument 1 (`two`) is not an integer"),
        "{err}"
    );
    assert!(err.contains("0x"), "{err}");
}

#[test]
fn run_out_of_range_argument_exits_2() {
    let d = dir("run_range");
    let g1 = file(&d, "g1.lil", "entry 0:platform:g1:g1; r = i0; ret;");
    let o = lil(&["run", &g1, "256"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("does not fit"), "{err}");
    assert!(err.contains("from -128 to 255"), "{err}");
    let o = lil(&["run", &g1, "-129"]);
    assert_exit(&o, 2);
}

#[test]
fn run_stub_with_float_parameters_exits_2() {
    let d = dir("run_float");
    let o = lil(&[
        "run",
        &file(&d, "f.lil", "entry 0:platform:f8:g4; r = 1; ret;"),
        "1",
    ]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("floating-point"), "{}", stderr(&o));
}

#[cfg(not(feature = "emulator"))]
#[test]
fn run_arm64_without_emulator_says_how_to_get_it() {
    let d = dir("run_no_emulator");
    let o = lil(&[
        "run",
        "--target",
        "arm64",
        &file(&d, "add.lil", ADD),
        "1",
        "2",
    ]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("`emulator` feature"), "{}", stderr(&o));
}

// ---- help ------------------------------------------------------------------

#[test]
fn help_says_what_lil_is_with_examples() {
    let o = lil(&["--help"]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(
        out.contains("LIL is a small, architecture-neutral language"),
        "{out}"
    );
    for command in ["check", "fmt", "asm", "run"] {
        assert!(out.contains(&format!("  lil {command} ")), "{out}");
        let o = lil(&[command, "--help"]);
        assert_exit(&o, 0);
        assert!(stdout(&o).contains("Examples:"), "{}", stdout(&o));
    }
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let o = lil(&[]);
    assert_exit(&o, 2);
}

/// `lil bench` is part of the default build (the harness answers, here
/// with a usage error for an empty scaling run, before measuring anything).
#[test]
fn bench_is_built_in_by_default() {
    let o = lil(&["bench", "--sizes", "0"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("--sizes needs positive stub counts"), "{err}");
}
