//! `lil asm [--target x64|arm64] FILE`: the machine code of a stub, each
//! LIL source line followed by the instructions it produced.
//!
//! Code is generated for the default host environment (`HostEnv::default`):
//! `ts` is read from TLS slot 0 (`fs:[0]` on x86-64, `[tpidr_el0]` on
//! AArch64), the M2N list head is at offset 0 of the thread, `print`
//! generates no code, and `managed`/`rth` are the C ABI. Cross-compiling
//! needs no emulator: any host can list either target.

use std::path::PathBuf;

use lil::{HostEnv, Target};

use crate::source::{Exit, SourceFile, fail};

/// The long help of `lil asm`.
pub const LONG_ABOUT: &str = "\
Compile a LIL stub and print its machine code, each LIL source line followed by \
the instructions it produced. Code is generated for a default host environment: \
`ts` from TLS slot 0 (fs:[0] / [tpidr_el0]), the M2N list head at offset 0 of \
the thread, no `print` function.";

/// Examples shown at the end of `lil asm --help`.
pub const EXAMPLES: &str = "\
Examples:
  lil asm add.lil                   code for this machine
  lil asm --target arm64 add.lil    AArch64 code, on any host
  lil asm --base 0x10000 add.lil    addresses (and branch targets) from 0x10000

The listing shows `; LINE | SOURCE` for each LIL instruction, then one line per
machine instruction: address, encoding in hex, assembly. Code not attributable to
one instruction is under `; (prologue/edge)`; strings for `print` under `; (data)`.
The stub may not use `%0i`-style runtime constants: replace them with literals.";

/// A target of code generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetArg {
    /// x86-64, System V ABI.
    X64,
    /// AArch64, AAPCS64.
    Arm64,
}

impl From<TargetArg> for Target {
    fn from(t: TargetArg) -> Target {
        match t {
            TargetArg::X64 => Target::X64,
            TargetArg::Arm64 => Target::Arm64,
        }
    }
}

/// Arguments of `lil asm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The LIL file to compile.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The instruction set to generate code for [default: this machine's].
    #[arg(long, value_enum)]
    target: Option<TargetArg>,
    /// The address of the first byte of code in the listing (decimal or 0x hex).
    #[arg(long, value_name = "ADDR", value_parser = parse_address, default_value = "0")]
    base: u64,
}

fn parse_address(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not an address: write it in decimal or as 0x hex"))
}

/// Run `lil asm`.
pub fn main(args: &Args) -> Exit {
    let target = match args.target {
        Some(t) => Target::from(t),
        None => match lil::host_target() {
            Ok(t) => t,
            Err(e) => {
                return fail(
                    Exit::Usage,
                    format!("{e}: pass --target x64 or --target arm64"),
                );
            }
        },
    };
    let file = match SourceFile::read(&args.file) {
        Ok(file) => file,
        Err(e) => return e,
    };
    let checked = match file.check_or_report() {
        Ok(checked) => checked,
        Err(e) => return e,
    };
    match lil::compile_checked_for(target, &checked, &HostEnv::default()) {
        Ok(code) => {
            print!(
                "{}",
                lil::disasm::listing_at(&code, checked.stub(), &file.text, args.base)
            );
            Exit::Success
        }
        Err(e) => file.report(&e),
    }
}
