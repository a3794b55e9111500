//! The `lil` command: check, format, disassemble and run LIL stubs.
//!
//! One module per subcommand (`check`, `fmt`, `asm`, `run`, `demo`), each with an
//! `Args` struct (clap derive) and a `main(&Args) -> Exit`; [`Command`]
//! lists them. To add a subcommand, add a module and one variant.
//!
//! Exit codes are the same for every subcommand ([`source::Exit`]): 0
//! success, 1 the stub is invalid or failed, 2 the command was used wrongly
//! (bad flags or arguments, a file that cannot be read). Nothing a user
//! types makes this program panic: every failure is a message on stderr
//! that says what to do, and an exit code.

mod asm;
mod bench;
mod check;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod crash;
mod demo;
mod fmt;
mod run;
mod source;

use clap::{Parser, Subcommand};

/// What the program prints for `lil --help`.
const LONG_ABOUT: &str = "\
LIL is a small, architecture-neutral language for the runtime stubs of a virtual \
machine (allocation fast paths, type checks, native-call wrappers, interpreter \
handlers); LIL-rs compiles it to x86-64 and AArch64 machine code at run time.

This command works on LIL source files: it checks them, prints them in canonical \
form, shows the machine code they compile to, and runs them.

A stub looks like this (add.lil):

    entry 0:platform:g4,g4:g4;   // two 32-bit inputs, a 32-bit result, C ABI
    r = i0 + i1;
    ret;

Exit status: 0 on success, 1 when a stub is invalid or fails, 2 when the command \
is used wrongly (bad flags or arguments, a file that cannot be read).";

const EXAMPLES: &str = "\
Examples:
  lil demo                          the stub library against a toy VM, on both targets
  lil check stubs/*.lil             check files, print diagnostics with carets
  lil fmt add.lil                   print add.lil in canonical form
  lil asm --target arm64 add.lil    AArch64 code interleaved with the source lines
  lil run add.lil -5 7              run the stub on this machine; prints 2

Run `lil help <command>` for each command's options and examples.";

/// The `lil` command line.
#[derive(Debug, Parser)]
#[command(
    name = "lil",
    version,
    about = "Check, format, disassemble and run LIL virtual-machine stubs",
    long_about = LONG_ABOUT,
    after_long_help = EXAMPLES,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands, one module each.
#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and check LIL files; print diagnostics.
    #[command(long_about = check::LONG_ABOUT, after_long_help = check::EXAMPLES)]
    Check(check::Args),
    /// Print a LIL file in canonical form, or check that it is.
    #[command(long_about = fmt::LONG_ABOUT, after_long_help = fmt::EXAMPLES)]
    Fmt(fmt::Args),
    /// Show the machine code of a stub, interleaved with its source lines.
    #[command(long_about = asm::LONG_ABOUT, after_long_help = asm::EXAMPLES)]
    Asm(asm::Args),
    /// Run a stub with integer arguments and print its result.
    #[command(long_about = run::LONG_ABOUT, after_long_help = run::EXAMPLES)]
    Run(run::Args),
    /// Generate the standard stubs for a toy VM and run them on both targets.
    #[command(long_about = demo::LONG_ABOUT, after_long_help = demo::EXAMPLES)]
    Demo(demo::Args),
    /// Measure LIL against hand-written dynasm, Cranelift and rustc.
    #[command(long_about = bench::LONG_ABOUT, after_long_help = bench::EXAMPLES)]
    Bench(bench::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let exit = match &cli.command {
        Command::Check(args) => check::main(args),
        Command::Fmt(args) => fmt::main(args),
        Command::Asm(args) => asm::main(args),
        Command::Run(args) => run::main(args),
        Command::Demo(args) => demo::main(args),
        Command::Bench(args) => bench::main(args),
    };
    exit.into()
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
