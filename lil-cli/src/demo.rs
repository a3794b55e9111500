//! `lil demo`: every standard stub (`lil-stubs`), generated for the toy VM
//! (`lil-toyvm`) and run against it on both targets.
//!
//! For each stub the demo runs its scenario (generate, compile, install,
//! exercise the fast and slow paths, check results and memory) on x86-64
//! natively and on AArch64 under the emulator (the `emulator` feature;
//! without it the AArch64 column shows code sizes only), and prints one
//! table row: LIL lines, code bytes per target, generation time, and the
//! result of each run. `--disasm` prints a stub's LIL beside the code of
//! both targets. The exit status is 1 if any check failed.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use lil::codegen::{CompiledStub, HostEnv, Target};
use lil::disasm::{self, Insn};
use lil_toyvm::scenarios::{self, Generated};
use lil_toyvm::{Host, Session, ToyVm};

use crate::source::{Exit, fail};

/// Long help for `lil demo`.
pub const LONG_ABOUT: &str = "\
Generate every standard stub of the stub library for a toy Java-like VM, run \
each against the VM (fast paths, slow paths under M2N frames, exceptions), and \
print a table: LIL lines, code bytes on x86-64 and AArch64, generation time, and \
whether the checks passed on each target. x86-64 runs natively; AArch64 runs \
under the Unicorn emulator when lil is built with the `emulator` feature.

Exit status: 0 when every check passed, 1 when one failed.";

/// Examples for `lil demo`.
pub const EXAMPLES: &str = "\
Examples:
  lil demo                       the table
  lil demo --disasm new_object   the allocation stub's LIL beside its code
  lil demo --disasm              every stub's LIL beside its code";

/// Arguments of `lil demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show the LIL of the named stub (every stub without a name) beside its
    /// x86-64 and AArch64 code.
    #[arg(long, value_name = "STUB", num_args = 0..=1, default_missing_value = "")]
    disasm: Option<String>,
}

/// One target's run of every scenario.
struct TargetRun {
    /// Per scenario: the stub and generation time, or why it failed.
    results: Vec<Result<Generated, String>>,
    /// The environment the stubs were compiled in.
    env: HostEnv,
    /// Whether the stubs actually ran (not just generated for sizes).
    ran: bool,
}

/// Run `lil demo`.
pub fn main(args: &Args) -> Exit {
    if let Some(name) = args.disasm.as_deref().filter(|n| !n.is_empty())
        && scenarios::find(name).is_none()
    {
        let names: Vec<&str> = scenarios::ALL.iter().map(|(n, _)| *n).collect();
        return fail(
            Exit::Usage,
            format!(
                "no stub called `{name}`; the stubs are: {}",
                names.join(", ")
            ),
        );
    }
    let start = Instant::now();
    let x64 = match run_x64() {
        Ok(run) => run,
        Err(e) => return fail(Exit::Failure, e),
    };
    let arm64 = match run_arm64() {
        Ok(run) => run,
        Err(e) => return fail(Exit::Failure, e),
    };
    let mut failed = 0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<26} {:>5} {:>9} {:>9} {:>9}  {:<8} {:<8}",
        "stub", "lines", "x64 B", "arm64 B", "gen µs", "x64", "arm64"
    );
    for (k, (name, _)) in scenarios::ALL.iter().enumerate() {
        let (x, a) = (&x64.results[k], &arm64.results[k]);
        let stub = x.as_ref().ok().or(a.as_ref().ok());
        let lines = stub.map_or(0, |g| g.stub.stub().body.len() + 1);
        let x_bytes = size(x, Target::X64, &x64.env);
        let a_bytes = size(a, Target::Arm64, &arm64.env);
        let generation = x
            .as_ref()
            .or(a.as_ref())
            .map_or(Duration::ZERO, |g| g.generation);
        let verdict = |r: &Result<Generated, String>, ran: bool| match (r, ran) {
            (Ok(_), true) => "OK",
            (Ok(_), false) => "-",
            (Err(_), _) => "FAILED",
        };
        let _ = writeln!(
            out,
            "{name:<26} {lines:>5} {x_bytes:>9} {a_bytes:>9} {:>9.1}  {:<8} {:<8}",
            generation.as_secs_f64() * 1e6,
            verdict(x, x64.ran),
            verdict(a, arm64.ran),
        );
        for (target, r) in [("x64", x), ("arm64", a)] {
            if let Err(why) = r {
                failed += 1;
                let _ = writeln!(out, "    {target}: {why}");
            }
        }
    }
    let _ = writeln!(
        out,
        "{} stubs, {} checks failed; x64 {}, arm64 {}; {:.2} s",
        scenarios::ALL.len(),
        failed,
        if x64.ran {
            "run natively"
        } else {
            "sizes only"
        },
        if arm64.ran {
            "run under the emulator"
        } else {
            "sizes only (build with the `emulator` feature to run it)"
        },
        start.elapsed().as_secs_f64()
    );
    if let Some(name) = &args.disasm {
        for (k, (stub_name, _)) in scenarios::ALL.iter().enumerate() {
            if !name.is_empty() && name != stub_name {
                continue;
            }
            let _ = write!(
                out,
                "{}",
                side_by_side(
                    stub_name,
                    &x64.results[k],
                    &x64.env,
                    &arm64.results[k],
                    &arm64.env
                )
            );
        }
    }
    print!("{out}");
    if failed == 0 {
        Exit::Success
    } else {
        Exit::Failure
    }
}

/// Run every scenario on `host`, on a freshly booted VM.
fn run_all(host: &mut dyn Host) -> Result<Vec<Result<Generated, String>>, String> {
    let mut vm = ToyVm::boot(host).map_err(|e| format!("cannot boot the toy VM: {e}"))?;
    Ok(scenarios::ALL
        .iter()
        .map(|(_, run)| run(&mut vm, host))
        .collect())
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn run_x64() -> Result<TargetRun, String> {
    let machine = lil_machine::native::NativeMachine::new()
        .map_err(|e| format!("cannot set up the native machine: {e}"))?;
    let mut session = Session::new(Box::new(machine), lil::backend(Target::X64));
    let results = run_all(&mut session)?;
    Ok(TargetRun {
        results,
        env: session.env().clone(),
        ran: true,
    })
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn run_x64() -> Result<TargetRun, String> {
    sizes_only(Target::X64)
}

#[cfg(feature = "emulator")]
fn run_arm64() -> Result<TargetRun, String> {
    let machine = lil_emu::Arm64Emulator::new()
        .map_err(|e| format!("cannot set up the AArch64 emulator: {e}"))?;
    let mut session = Session::new(Box::new(machine), lil::backend(Target::Arm64));
    let results = run_all(&mut session)?;
    Ok(TargetRun {
        results,
        env: session.env().clone(),
        ran: true,
    })
}

#[cfg(not(feature = "emulator"))]
fn run_arm64() -> Result<TargetRun, String> {
    sizes_only(Target::Arm64)
}

/// Without a machine for `target`: generate every stub (on the
/// interpreter's VM, whose addresses stand in) for code sizes.
#[allow(
    dead_code,
    reason = "used on hosts or builds without one of the machines"
)]
fn sizes_only(target: Target) -> Result<TargetRun, String> {
    let machine = lil_eval::EvalMachine::new();
    let mut host = EvalHost {
        machine,
        env: HostEnv::default(),
    };
    let results = run_all(&mut host)?;
    let _ = target;
    Ok(TargetRun {
        results,
        env: host.env,
        ran: false,
    })
}

/// The reference interpreter as the VM's host (for sizes only).
struct EvalHost {
    machine: lil_eval::EvalMachine,
    env: HostEnv,
}

impl Host for EvalHost {
    fn machine(&mut self) -> &mut dyn lil_machine::Machine {
        &mut self.machine
    }
    fn env_mut(&mut self) -> &mut HostEnv {
        &mut self.env
    }
    fn compile(&mut self, stub: &lil::CheckedStub) -> Result<u64, lil_toyvm::VmError> {
        Ok(self.machine.install_stub(stub.clone(), &self.env)?.addr)
    }
    fn set_thread(&mut self, thread: u64) -> Result<(), lil_toyvm::VmError> {
        Ok(lil_machine::Machine::set_thread_pointer(
            &mut self.machine,
            thread,
        )?)
    }
}

fn compile(r: &Result<Generated, String>, target: Target, env: &HostEnv) -> Option<CompiledStub> {
    let g = r.as_ref().ok()?;
    lil::compile_checked_for(target, &g.stub, env).ok()
}

fn size(r: &Result<Generated, String>, target: Target, env: &HostEnv) -> String {
    compile(r, target, env).map_or_else(|| "-".into(), |c| c.code.len().to_string())
}

/// The stub's LIL, one instruction a row, beside the x86-64 and AArch64
/// instructions each produced.
fn side_by_side(
    name: &str,
    x: &Result<Generated, String>,
    x_env: &HostEnv,
    a: &Result<Generated, String>,
    a_env: &HostEnv,
) -> String {
    let mut out = format!("\n== {name} ==\n");
    let Some(g) = x.as_ref().ok().or(a.as_ref().ok()) else {
        let _ = writeln!(out, "(not generated)");
        return out;
    };
    let stub = g.stub.stub();
    let columns = [
        per_instruction(compile(x, Target::X64, x_env), Target::X64, stub.body.len()),
        per_instruction(
            compile(a, Target::Arm64, a_env),
            Target::Arm64,
            stub.body.len(),
        ),
    ];
    const W: usize = 40;
    let _ = writeln!(out, "{:<W$} | {:<W$} | AArch64", "LIL", "x86-64");
    let _ = writeln!(
        out,
        "{:<W$} | {:<W$} |",
        format!("entry {};", entry_text(stub)),
        ""
    );
    for (i, inst) in stub.body.iter().enumerate() {
        let lil = lil_text(stub, i).unwrap_or_else(|| format!("{:?}", inst.kind));
        let (xs, ys) = (&columns[0].0[i], &columns[1].0[i]);
        let rows = xs.len().max(ys.len()).max(1);
        for row in 0..rows {
            let left = if row == 0 { lil.as_str() } else { "" };
            let mid = xs.get(row).map_or("", String::as_str);
            let right = ys.get(row).map_or("", String::as_str);
            let _ = writeln!(out, "{left:<W$} | {mid:<W$} | {right}");
        }
    }
    let (xo, yo) = (&columns[0].1, &columns[1].1);
    if !xo.is_empty() || !yo.is_empty() {
        let _ = writeln!(out, "{:<W$} | {:<W$} |", "(frame set-up, edges, data)", "");
        for row in 0..xo.len().max(yo.len()) {
            let mid = xo.get(row).map_or("", String::as_str);
            let right = yo.get(row).map_or("", String::as_str);
            let _ = writeln!(out, "{:<W$} | {mid:<W$} | {right}", "");
        }
    }
    out
}

/// Each LIL instruction's machine instructions, and those attributed to
/// none (prologues placed at joins, edge stubs, data).
fn per_instruction(
    code: Option<CompiledStub>,
    target: Target,
    count: usize,
) -> (Vec<Vec<String>>, Vec<String>) {
    let mut per = vec![Vec::new(); count];
    let mut other = Vec::new();
    let Some(code) = code else {
        return (per, vec!["(no code)".into()]);
    };
    let insns: Vec<Insn> = disasm::disassemble(target, &code.code, 0);
    for insn in insns {
        let offset = insn.addr as u32;
        let owner = code
            .source_map
            .iter()
            .find(|e| e.code.contains(&offset))
            .map(|e| e.instruction as usize);
        let text = format!("{:4x}: {}", insn.addr, insn.text);
        match owner.and_then(|i| per.get_mut(i)) {
            Some(rows) => rows.push(text),
            None => other.push(text),
        }
    }
    (per, other)
}

fn entry_text(stub: &lil::syntax::Stub) -> String {
    let text = stub.to_string();
    let first = text.lines().next().unwrap_or("");
    first
        .trim_start_matches("entry ")
        .trim_end_matches(';')
        .to_string()
}

/// The canonical text of body instruction `i`.
fn lil_text(stub: &lil::syntax::Stub, i: usize) -> Option<String> {
    // The printer writes the entry, then one body instruction a line.
    stub.to_string().lines().nth(i + 1).map(str::to_string)
}
