//! A stub registered through the GDB JIT interface is named in a real
//! debugger's backtrace, with its LIL source line, and the debugger unwinds
//! through it into the Rust code that called it.
//!
//! This test runs itself under `gdb -batch`: without arguments it is the
//! test (it starts gdb), with `--child` it is the program being debugged (it
//! installs a stub that calls back into Rust, where gdb has a breakpoint).

use std::process::Command;

/// The Rust function the stub calls; gdb breaks here.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn lil_gdb_host_callback(x: u64) -> u64 {
    std::hint::black_box(x) * 2
}

const STUB_NAME: &str = "lil_calls_host";

fn stub_text() -> String {
    // The local lives across the call, so the stub has a full frame with a
    // callee-saved register in it: the debugger must unwind through that.
    format!(
        "entry 0:platform:g8:g8;\n\
         locals 1;\n\
         l0 = i0;\n\
         out platform:g8:g8;\n\
         o0 = i0;\n\
         call {:#x};\n\
         r = r + l0;\n\
         ret;\n",
        lil_gdb_host_callback as *const () as usize
    )
}

#[inline(never)]
fn child_main() {
    let mut jit = lil::Jit::new(lil::HostEnv::default()).expect("a JIT for this machine");
    jit.enable_gdb();
    let dir = std::env::temp_dir().join(format!("lil-gdb-{}", std::process::id()));
    jit.enable_source_dir(&dir).expect("a source directory");
    let stub = jit
        .install_named(STUB_NAME, &stub_text())
        .expect("the stub compiles");
    assert_eq!(lil::gdb::registered_count(), 1);
    // SAFETY: the stub's signature is platform:g8:g8 and `jit` outlives the call.
    let f = unsafe { stub.as_fn::<extern "C" fn(u64) -> u64>() };
    assert_eq!(std::hint::black_box(f)(21), 63);
    jit.free(stub).expect("free");
    assert_eq!(lil::gdb::registered_count(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

fn main() {
    if std::env::args().any(|a| a == "--child") {
        child_main();
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        // `cargo test -- --list` from tools that enumerate tests.
        println!("gdb_backtrace_names_the_stub: test");
        return;
    }
    let exe = std::env::current_exe().expect("the test executable");
    let output = Command::new("gdb")
        .args([
            "-batch",
            "-nx",
            "-ex",
            "set debuginfod enabled off",
            "-ex",
            "break lil_gdb_host_callback",
            "-ex",
            "run",
            "-ex",
            "bt",
            "-ex",
            "info symbol *(void **)($sp)",
            "-ex",
            "continue",
        ])
        .arg("--args")
        .arg(&exe)
        .arg("--child")
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run gdb ({err}); it is needed for this test: `./scripts/test` \
                 installs it, or `apt-get install gdb`"
            )
        });
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    let frames: Vec<&str> = out.lines().filter(|l| l.starts_with('#')).collect();
    let report = format!("gdb stdout:\n{out}\ngdb stderr:\n{err}");
    assert!(
        frames
            .first()
            .is_some_and(|f| f.contains("lil_gdb_host_callback")),
        "gdb did not stop in the host callback\n{report}"
    );
    let stub = frames.iter().position(|f| f.contains(STUB_NAME));
    let Some(stub) = stub else {
        panic!("the backtrace does not name the stub\n{report}");
    };
    assert_eq!(stub, 1, "the stub is not the callback's caller\n{report}");
    assert!(
        frames[stub].contains(&format!("{STUB_NAME}.lil:6")),
        "the stub frame does not show its LIL line (6: the call)\n{report}"
    );
    assert!(
        frames[stub + 1..].iter().any(|f| f.contains("child_main")),
        "gdb did not unwind through the stub into its Rust caller\n{report}"
    );
    assert!(
        out.contains("exited normally"),
        "the program did not finish under gdb\n{report}"
    );
    println!("test gdb_backtrace_names_the_stub ... ok");
}
