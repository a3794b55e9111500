//! `lil run --target eval`: the reference interpreter behind the same
//! contract as the machine-code targets (arguments, result printing, `ts`,
//! `print`, exit codes), and the same answers as x86-64 where it runs.

use std::path::PathBuf;
use std::process::{Command, Output};

fn dir(test: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("lil-cli-eval")
        .join(test);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

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

/// `lil run --target eval FILE ARGS...`
fn eval(path: &str, args: &[&str]) -> Output {
    let mut all = vec!["run", "--target", "eval", path];
    all.extend_from_slice(args);
    lil(&all)
}

#[test]
fn adds_and_prints_the_result() {
    let d = dir("add");
    let add = file(
        &d,
        "add.lil",
        "entry 0:platform:g4,g4:g4; r = i0 + i1; ret;",
    );
    let o = eval(&add, &["-5", "7"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "2\n");
    assert_eq!(stderr(&o), "");
    // g4 wraps at 32 bits and is printed sign-extended from them.
    let o = eval(&add, &["0x7fffffff", "1"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "-2147483648\n");
}

#[test]
fn result_is_sign_extended_from_its_width_and_void_prints_nothing() {
    let d = dir("widths");
    let o = eval(
        &file(&d, "g1.lil", "entry 0:platform::g1; r = 0xff; ret;"),
        &[],
    );
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "-1\n");
    let o = eval(&file(&d, "v.lil", "entry 0:platform:g8:void; ret;"), &["1"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "");
}

#[test]
fn ts_is_a_zeroed_block_and_print_goes_to_stderr() {
    let d = dir("ts_print");
    let text = "entry 0:platform:g8:g8;
                locals 1;
                l0 = ts;
                ld r, [l0+4088:g8];
                r = r + i0;
                st [l0+16:g8], r;
                ld r, [l0+16:g8];
                print 'got', r;
                ret;";
    let o = eval(&file(&d, "ts.lil", text), &["41"]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "41\n");
    assert!(stderr(&o).contains("got 0x29"), "{}", stderr(&o));
}

#[test]
fn a_fault_is_reported_with_its_instruction_and_exits_1() {
    let d = dir("fault");
    let o = eval(
        &file(
            &d,
            "f.lil",
            "entry 0:platform:pint:g8; ld r, [i0+8:g8]; ret;",
        ),
        &["0x10"],
    );
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("0x18"), "{err}");
    assert!(err.contains("ld r, [i0+8:g8];"), "{err}");
    assert_eq!(stdout(&o), "");
    let o = eval(
        &file(
            &d,
            "c.lil",
            "entry 0:platform::void; out platform::void; call 0x1000; ret;",
        ),
        &[],
    );
    assert_exit(&o, 1);
    assert!(
        stderr(&o).contains("neither an installed stub"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_errors_are_the_same_as_for_the_other_targets() {
    let d = dir("usage");
    let add = file(
        &d,
        "add.lil",
        "entry 0:platform:g4,g4:g4; r = i0 + i1; ret;",
    );
    let o = eval(&add, &["1"]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("takes 2 argument(s)"), "{}", stderr(&o));
    let o = eval(
        &file(&d, "bad.lil", "entry 0:platform::g4; r = 5; l0 = r; ret;"),
        &[],
    );
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("E0222"), "{}", stderr(&o));
}

/// The interpreter and native x86-64 agree on a stub that exercises narrow
/// arithmetic, shifts, extensions, memory and a loop.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn same_answers_as_x64() {
    let d = dir("three_ways");
    let text = "entry 0:platform:g2,g1:g8;
                locals 3;
                l0 = ts;
                st [l0+64:g2], i0;
                inc [l0+64:g2];
                ld l1, [l0+64:g2], sx;
                l2 = 0:g8;
                :loop;
                jc i1 <=u 0:g1, done;
                l2 = l2 + l1:g8;
                l2 = l2 >> 1:g1;
                i1 = i1 - 1;
                j loop;
                :done;
                r = l2;
                ret;";
    let path = file(&d, "mix.lil", text);
    for args in [
        ["0x7fff", "3"],
        ["-1", "200"],
        ["0x8000", "255"],
        ["5", "0"],
    ] {
        let x64 = lil(&["run", "--target", "x64", &path, args[0], args[1]]);
        let ev = eval(&path, &args);
        assert_exit(&x64, 0);
        assert_exit(&ev, 0);
        assert_eq!(stdout(&ev), stdout(&x64), "args {args:?}");
    }
}
