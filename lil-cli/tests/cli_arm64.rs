//! `lil asm` and `lil run` for AArch64: the same contract as the x86-64
//! tests in `cli.rs`, with the code run under the Unicorn emulator (the
//! `emulator` feature, on by default).

use std::path::PathBuf;
use std::process::{Command, Output};

fn dir(test: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("lil-cli-arm64")
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

const ADD: &str = "entry 0:platform:g4,g4:g4;\nr = i0 + i1;\nret;\n";

#[test]
fn asm_arm64_listing_has_source_lines_and_ret() {
    let d = dir("asm");
    let o = lil(&["asm", "--target", "arm64", &file(&d, "add.lil", ADD)]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.starts_with("; arm64 code"), "{out}");
    assert!(out.contains("; 2 | r = i0 + i1;\n"), "{out}");
    assert!(out.contains("; 3 | ret;\n"), "{out}");
    assert!(out.lines().any(|l| l.ends_with("d65f03c0  ret")), "{out}");
}

#[cfg(feature = "emulator")]
mod run {
    use super::*;

    #[track_caller]
    fn assert_stdout(o: &Output, code: i32, expected: &str) {
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(
            o.status.code(),
            Some(code),
            "stdout:\n{out}\nstderr:\n{err}"
        );
        assert_eq!(out, expected, "stderr:\n{err}");
    }

    #[test]
    fn adds_negative_and_positive() {
        let d = dir("run_add");
        let o = lil(&[
            "run",
            "--target",
            "arm64",
            &file(&d, "add.lil", ADD),
            "-5",
            "7",
        ]);
        assert_stdout(&o, 0, "2\n");
    }

    #[test]
    fn result_is_sign_extended_from_its_width() {
        let d = dir("run_g1");
        let o = lil(&[
            "run",
            "--target",
            "arm64",
            &file(&d, "g1.lil", "entry 0:platform::g1; r = 0xff; ret;"),
        ]);
        assert_stdout(&o, 0, "-1\n");
    }

    #[test]
    fn void_prints_nothing() {
        let d = dir("run_void");
        let o = lil(&[
            "run",
            "--target",
            "arm64",
            &file(&d, "v.lil", "entry 0:platform:g8:void; ret;"),
            "1",
        ]);
        assert_stdout(&o, 0, "");
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
        let o = lil(&["run", "--target", "arm64", &file(&d, "ts.lil", text), "41"]);
        assert_stdout(&o, 0, "41\n");
    }

    #[test]
    fn print_goes_to_stderr() {
        let d = dir("run_print");
        let text = "entry 0:platform:g8:g8; print 'got', i0; r = i0; ret;";
        let o = lil(&["run", "--target", "arm64", &file(&d, "p.lil", text), "0x2a"]);
        assert_stdout(&o, 0, "42\n");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("got 0x2a"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
