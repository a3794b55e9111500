//! The ELF object a debugger is given, read by an independent tool
//! (binutils `readelf`) for both targets: GDB on an AArch64 host reads the
//! same bytes this test checks on any host.

use lil::debuginfo::{LineTable, StubImage, elf_image};
use lil::{HostEnv, Target};
use std::process::Command;

const TEXT: &str = "entry 0:platform:g8:g8;
locals 1;
l0 = i0;
out platform:g8:g8;
o0 = i0;
call 0x1000;
r = r + l0;
ret;
";

#[test]
fn readelf_reads_the_symbol_the_code_section_and_the_call_frames() {
    let checked = lil::check_text(TEXT).unwrap();
    for (target, machine) in [(Target::X64, "X86-64"), (Target::Arm64, "AArch64")] {
        let compiled = lil::compile_checked_for(target, &checked, &HostEnv::default()).unwrap();
        let lines = LineTable::new(
            &compiled,
            checked.stub(),
            Some(TEXT),
            "/src/keeps_local.lil",
        );
        let addr = 0x7f12_3456_7000;
        let image = elf_image(&StubImage {
            name: "keeps_local",
            addr,
            compiled: &compiled,
            lines: &lines,
        })
        .unwrap();
        let path = std::env::temp_dir().join(format!("lil-elf-{}-{target}.o", std::process::id()));
        std::fs::write(&path, &image).unwrap();
        let out = Command::new("readelf")
            .args(["-W", "-h", "-S", "-s", "--debug-dump=frames,rawline,info"])
            .arg(&path)
            .output()
            .expect("readelf (binutils) is needed for this test");
        let _ = std::fs::remove_file(&path);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let report = format!("{target}:\n{stdout}\n{stderr}");
        assert!(out.status.success() && stderr.trim().is_empty(), "{report}");
        assert!(stdout.contains(machine), "machine type\n{report}");
        let len = compiled.code.len();
        assert!(
            stdout.lines().any(|l| l.contains(".text")
                && l.contains("NOBITS")
                && l.contains(&format!("{addr:016x}"))
                && l.contains(&format!("{len:06x}"))),
            ".text at the stub's address, its length\n{report}"
        );
        assert!(
            stdout.lines().any(|l| l.contains("FUNC")
                && l.contains("GLOBAL")
                && l.ends_with("keeps_local")
                && l.contains(&format!(" {len} "))),
            "the stub's symbol\n{report}"
        );
        // One FDE covering exactly the code, and the frame pointer rule.
        assert!(
            stdout.contains(&format!("pc={addr:016x}..{:016x}", addr + len as u64)),
            "FDE range\n{report}"
        );
        assert!(
            stdout.contains("cfa-16"),
            "frame pointer saved at CFA-16\n{report}"
        );
        assert!(
            stdout.contains("keeps_local.lil"),
            "line table file\n{report}"
        );
    }
}
