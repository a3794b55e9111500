//! `lil run [--target x64|arm64|eval] FILE [ARG...]`: run a stub once and
//! print its result.
//!
//! The stub must take only integer and pointer parameters and return one
//! (or `void`); arguments are converted to the parameter types, the result
//! is printed as one decimal integer sign-extended from the return type's
//! width, and nothing else is printed on stdout (`print` output goes to
//! stderr). x86-64 runs natively, AArch64 under the Unicorn emulator (the
//! `emulator` feature), `eval` in the reference interpreter (`lil-eval`),
//! which needs no code at all. The machine gives the stub a thread: `ts`
//! points at a zeroed 4 KiB block whose first word is the M2N list head.

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;

use lil::codegen::ThreadPointer;
use lil::syntax::{CallConv, EntrySignature, Type};
use lil::{CheckedStub, HostEnv, Target};
use lil_machine::{HostCall, HostSig, Machine, ThreadPointerAccess, Value};

use crate::source::{Exit, SourceFile, fail};

/// The long help of `lil run`.
pub const LONG_ABOUT: &str = "\
Compile a LIL stub, call it once with the given arguments, and print its result \
as one decimal integer (nothing for void). The stub's parameters and result must \
be integer or pointer types, and it must not expect standard places on entry. \
Exit status: 0 success, 1 the stub is invalid or failed when run, 2 bad \
arguments or a stub this command cannot run.";

/// Examples shown at the end of `lil run --help`.
pub const EXAMPLES: &str = "\
Examples:
  lil run add.lil 40 2                 run natively on x86-64; prints 42
  lil run add.lil -5 7                 negative decimal arguments need nothing special
  lil run add.lil -- -0x10 7           `--` before other arguments that start with `-`
  lil run --target arm64 add.lil 0x10 1   run the AArch64 code under the emulator
  lil run --target eval add.lil 0x10 1    run it in the reference interpreter

Arguments are decimal, negative decimal or 0x hex (-0x10 too), and must fit the
parameter's type: g1 takes -128..255, g2 -32768..65535, g4 -2^31..2^32-1,
g8/ref/pint any 64-bit value. The result is printed as one signed decimal integer.

The stub runs with no host functions: a `call` to a made-up address crashes; the
command then says so and exits 1 (the interpreter also names the instruction and
the address, and reports any access outside its memory). Its
`ts` is a zeroed 4 KiB block (M2N list head at offset 0); `print` goes to stderr.";

/// Where the stub runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RunTarget {
    /// x86-64 code, run natively (needs an x86-64 Linux host).
    X64,
    /// AArch64 code, run under the Unicorn emulator (the `emulator` feature).
    Arm64,
    /// The reference interpreter: runs the checked stub exactly as the
    /// language reference defines it, without generating code.
    Eval,
}

/// Arguments of `lil run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The LIL file to run.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to run it [default: this machine's instruction set].
    #[arg(long, value_enum)]
    target: Option<RunTarget>,
    /// The stub's arguments, one per parameter.
    #[arg(value_name = "ARG", allow_negative_numbers = true)]
    args: Vec<String>,
}

/// Run `lil run`.
pub fn main(args: &Args) -> Exit {
    let target = match args.target {
        Some(t) => t,
        None => match lil::host_target() {
            Ok(Target::X64) => RunTarget::X64,
            Ok(Target::Arm64) => RunTarget::Arm64,
            Err(e) => return fail(Exit::Usage, format!("{e}: pass --target")),
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
    let sig = match runnable_signature(&checked) {
        Ok(sig) => sig,
        Err(why) => {
            return fail(
                Exit::Usage,
                format!(
                    "{}: {why}; call it from Rust through lil::Jit instead",
                    file.name
                ),
            );
        }
    };
    let values = match convert_args(&sig.params, &args.args) {
        Ok(values) => values,
        Err(message) => return fail(Exit::Usage, message),
    };
    let result = match target {
        RunTarget::X64 => run_x64(&file, &checked, &sig, &values),
        RunTarget::Arm64 => run_arm64(&file, &checked, &sig, &values),
        RunTarget::Eval => run_eval(&file, &checked, &sig, &values),
    };
    match result {
        Ok(Some(value)) => {
            println!("{}", value.as_i64());
            Exit::Success
        }
        Ok(None) => Exit::Success,
        Err(exit) => exit,
    }
}

/// The signature `lil run` calls the stub with, or why it cannot.
fn runnable_signature(checked: &CheckedStub) -> Result<HostSig, String> {
    let entry = &checked.stub().entry;
    let sig = match &entry.signature {
        EntrySignature::Typed(sig) if sig.cc == CallConv::Handler => {
            return Err(
                "a `handler` stub is entered by `tailcall` and never returns, \
                        so lil run cannot call it"
                    .into(),
            );
        }
        EntrySignature::Typed(sig) => sig,
        EntrySignature::Arbitrary { .. } => {
            return Err(
                "an `arbitrary` stub passes on whatever arguments it gets and never \
                        returns, so lil run cannot call it"
                    .into(),
            );
        }
    };
    if entry.std_places > 0 {
        return Err(format!(
            "the stub expects {} standard place(s) on entry, which lil run cannot set up",
            entry.std_places
        ));
    }
    let floats: Vec<String> = sig
        .params
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_float())
        .map(|(k, t)| format!("i{k}: {t}"))
        .collect();
    if !floats.is_empty() {
        return Err(format!(
            "lil run passes only integer and pointer arguments, and this stub takes \
             floating-point ones ({})",
            floats.join(", ")
        ));
    }
    if let Some(t) = sig.ret.filter(|t| t.is_float()) {
        return Err(format!(
            "lil run prints only integer and pointer results, and this stub returns {t}"
        ));
    }
    Ok(HostSig::new(&sig.params, sig.ret))
}

/// Convert command-line arguments to values of the parameter types.
fn convert_args(params: &[Type], args: &[String]) -> Result<Vec<Value>, String> {
    let types: Vec<&str> = params.iter().map(|t| t.keyword()).collect();
    if args.len() != params.len() {
        let usage: Vec<String> = (0..params.len()).map(|k| format!("ARG{k}")).collect();
        return Err(format!(
            "the stub takes {} argument(s) ({}) but got {}: run `lil run FILE {}`",
            params.len(),
            if types.is_empty() {
                "none".to_owned()
            } else {
                types.join(", ")
            },
            args.len(),
            usage.join(" ")
        ));
    }
    params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(k, (&ty, text))| {
            let n = parse_integer(text).ok_or_else(|| {
                format!(
                    "argument {k} (`{text}`) is not an integer: write it in decimal \
                     (-5, 42) or hex (0xff, -0x10)"
                )
            })?;
            let (min, max) = range(ty);
            if n < min || n > max {
                return Err(format!(
                    "argument {k} (`{text}`) does not fit i{k}'s type {ty}: \
                     use a value from {min} to {max}"
                ));
            }
            // Two's complement: the low bits of the value, whichever way it was written.
            Ok(Value::int(ty, n as u64))
        })
        .collect()
}

/// Decimal, `-`decimal, `0x` hex or `-0x` hex; `None` for anything else.
fn parse_integer(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
            i128::from_str_radix(hex, 16).ok()?
        }
        Some(_) => return None,
        None if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
            digits.parse::<i128>().ok()?
        }
        None => return None,
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// The values accepted for a parameter of type `ty`: signed or unsigned
/// readings of its width.
fn range(ty: Type) -> (i128, i128) {
    let bits = ty.bits();
    (-(1i128 << (bits - 1)), (1i128 << bits) - 1)
}

/// Compile for the machine, install, give it a thread, call once.
fn execute(
    machine: &mut dyn Machine,
    target: Target,
    file: &SourceFile,
    checked: &CheckedStub,
    sig: &HostSig,
    args: &[Value],
) -> Result<Option<Value>, Exit> {
    let machine_error = |e: lil_machine::MachineError| {
        fail(
            Exit::Failure,
            format!("running {} on {target} failed: {e}", file.name),
        )
    };
    // `print` strings live in the code, which host functions cannot read
    // through the machine: the print function reads them from this copy.
    let code_at: Rc<Cell<u64>> = Rc::new(Cell::new(0));
    let code_copy: Rc<Cell<Vec<u8>>> = Rc::new(Cell::new(Vec::new()));
    let env =
        thread_and_hooks(machine, code_at.clone(), code_copy.clone()).map_err(machine_error)?;
    let code = match lil::compile_checked_for(target, checked, &env) {
        Ok(code) => code,
        Err(e) => return Err(file.report(&e)),
    };
    let addr = machine.install(&code.code).map_err(machine_error)?;
    code_at.set(addr);
    code_copy.set(code.code);
    machine.call(addr, sig, args).map_err(machine_error)
}

/// Give `machine` a thread (a zeroed 4 KiB block, M2N list head at 0) and a
/// `print` host function; returns the environment stubs run in.
fn thread_and_hooks(
    machine: &mut dyn Machine,
    code_at: Rc<Cell<u64>>,
    code_copy: Rc<Cell<Vec<u8>>>,
) -> Result<HostEnv, lil_machine::MachineError> {
    let thread = machine.alloc(4096, 16)?;
    machine.set_thread_pointer(thread)?;
    let print = machine.host_fn(
        HostSig::new(&[Type::Pint, Type::Pint, Type::G8], None),
        print_function(code_at, code_copy),
    )?;
    Ok(HostEnv {
        thread_pointer: match machine.thread_pointer_access() {
            ThreadPointerAccess::TlsSlot { offset } => ThreadPointer::TlsSlot { offset },
            ThreadPointerAccess::Call { function } => ThreadPointer::Call { function },
        },
        m2n_list_offset: 0,
        print: Some(print),
        ..HostEnv::default()
    })
}

/// Run the checked stub in the reference interpreter: same thread, same
/// `print` hook, no code (its `print` texts are in the interpreter's memory,
/// where the hook reads them).
fn run_eval(
    file: &SourceFile,
    checked: &CheckedStub,
    sig: &HostSig,
    args: &[Value],
) -> Result<Option<Value>, Exit> {
    let machine_error = |e: lil_machine::MachineError| {
        fail(
            Exit::Failure,
            format!("running {} in the interpreter failed: {e}", file.name),
        )
    };
    let mut machine = lil_eval::EvalMachine::new();
    let no_code = || Rc::new(Cell::new(Vec::new()));
    let env =
        thread_and_hooks(&mut machine, Rc::new(Cell::new(0)), no_code()).map_err(machine_error)?;
    let addr = machine
        .install_stub(checked.clone(), &env)
        .map_err(machine_error)?
        .addr;
    machine.call(addr, sig, args).map_err(machine_error)
}

/// The host function behind `print`: `(message, len, value)`; `len` 0
/// means a NUL-terminated string. Writes one line to stderr.
fn print_function(code_at: Rc<Cell<u64>>, code: Rc<Cell<Vec<u8>>>) -> lil_machine::HostFn {
    Box::new(move |call: &mut dyn HostCall| {
        let (addr, len, value) = (call.arg(0).bits, call.arg(1).bits, call.arg(2).bits);
        let bytes = code.take();
        let message = read_message(call, &bytes, code_at.get(), addr, len);
        code.set(bytes);
        eprintln!("print: {message} {value:#x}");
        Some(Value::pint(0))
    })
}

/// The message at `addr`: from the installed code (`code`, at `code_at`)
/// or from machine memory.
fn read_message(call: &mut dyn HostCall, code: &[u8], code_at: u64, addr: u64, len: u64) -> String {
    const MAX: u64 = 4096;
    let in_code = addr
        .checked_sub(code_at)
        .and_then(|offset| code.get(usize::try_from(offset).ok()?..));
    let bytes: Vec<u8> = match in_code {
        Some(rest) if len > 0 => rest.iter().take(len.min(MAX) as usize).copied().collect(),
        Some(rest) => rest.iter().take_while(|&&b| b != 0).copied().collect(),
        None if len > 0 => {
            let mut buf = vec![0; len.min(MAX) as usize];
            match call.read(addr, &mut buf) {
                Ok(()) => buf,
                Err(_) => return format!("<unreadable message at {addr:#x}>"),
            }
        }
        None => {
            let mut buf = Vec::new();
            let mut byte = [0u8];
            while (buf.len() as u64) < MAX {
                if call.read(addr + buf.len() as u64, &mut byte).is_err() {
                    return format!("<unreadable message at {addr:#x}>");
                }
                if byte[0] == 0 {
                    break;
                }
                buf.push(byte[0]);
            }
            buf
        }
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn run_x64(
    file: &SourceFile,
    checked: &CheckedStub,
    sig: &HostSig,
    args: &[Value],
) -> Result<Option<Value>, Exit> {
    let mut machine = lil_machine::native::NativeMachine::new().map_err(|e| {
        fail(
            Exit::Failure,
            format!("cannot set up the native machine: {e}"),
        )
    })?;
    crate::crash::report_faults(&file.name);
    execute(&mut machine, Target::X64, file, checked, sig, args)
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn run_x64(
    _file: &SourceFile,
    _checked: &CheckedStub,
    _sig: &HostSig,
    _args: &[Value],
) -> Result<Option<Value>, Exit> {
    Err(fail(
        Exit::Usage,
        format!(
            "--target x64 runs the code natively and needs an x86-64 Linux host, but this is \
             {}-{}: use --target arm64 to run under the emulator, or `lil asm --target x64` \
             to see the code",
            std::env::consts::ARCH,
            std::env::consts::OS
        ),
    ))
}

#[cfg(feature = "emulator")]
fn run_arm64(
    file: &SourceFile,
    checked: &CheckedStub,
    sig: &HostSig,
    args: &[Value],
) -> Result<Option<Value>, Exit> {
    let mut machine = lil_emu::Arm64Emulator::new().map_err(|e| {
        fail(
            Exit::Failure,
            format!("cannot set up the AArch64 emulator: {e}"),
        )
    })?;
    execute(&mut machine, Target::Arm64, file, checked, sig, args)
}

#[cfg(not(feature = "emulator"))]
fn run_arm64(
    _file: &SourceFile,
    _checked: &CheckedStub,
    _sig: &HostSig,
    _args: &[Value],
) -> Result<Option<Value>, Exit> {
    Err(fail(
        Exit::Usage,
        "this lil was built without the `emulator` feature, so it cannot run AArch64 code: \
         rebuild lil-cli with `--features emulator`, use --target x64 on an x86-64 host, or \
         `lil asm --target arm64` to see the code",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_spelling() {
        assert_eq!(parse_integer("42"), Some(42));
        assert_eq!(parse_integer("-5"), Some(-5));
        assert_eq!(parse_integer("+7"), Some(7));
        assert_eq!(parse_integer("0xff"), Some(255));
        assert_eq!(parse_integer("0XFF"), Some(255));
        assert_eq!(parse_integer("-0x10"), Some(-16));
        assert_eq!(parse_integer("0xffffffffffffffff"), Some(u64::MAX as i128));
        for bad in ["", "-", "0x", "1e3", "12a", "--1", "0x-1", " 1", "½"] {
            assert_eq!(parse_integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ranges_accept_signed_and_unsigned_readings() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let g1 = convert_args(&[Type::G1, Type::G1], &args(&["-128", "255"])).unwrap();
        assert_eq!((g1[0].bits, g1[1].bits), (0x80, 0xff));
        assert!(convert_args(&[Type::G1], &args(&["256"])).is_err());
        assert!(convert_args(&[Type::G1], &args(&["-129"])).is_err());
        let g8 = convert_args(&[Type::G8], &args(&["-1"])).unwrap();
        assert_eq!(g8[0].bits, u64::MAX);
        assert!(convert_args(&[Type::Pint], &args(&["0x10000000000000000"])).is_err());
        let err = convert_args(&[Type::G4, Type::G4], &args(&["1"])).unwrap_err();
        assert!(
            err.contains("takes 2 argument(s) (g4, g4) but got 1"),
            "{err}"
        );
    }
}
