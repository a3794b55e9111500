//! The harness: every measurement of the project, in one run, into one
//! [`Report`].
//!
//! Sections, in order: generation latency (x86-64, then AArch64 code
//! generated on this host), code size and fast-path instructions (x86-64 by
//! single-stepping, AArch64 under the emulator), time per call (x86-64),
//! scaling to 10^6 per-class stubs, the front end (DRLVM corpus, checker
//! linearity), and the goals.
//!
//! Invariant: peers that are compared are measured interleaved
//! ([`Interleaved`]) in the same process, on the same world, with the same
//! inputs; a peer that cannot be measured is left out of the table with a
//! note saying why, never replaced by a number from elsewhere.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use lil::Compiler;
use lil::template::Template;
use lil_codegen::{Backend, CodeCache, CompiledStub, HostEnv, InstalledCode, Target};
use lil_stubs::VmLayout;
use lil_syntax::Stub;

use crate::measure::{Config, Interleaved, Runner, Timing, measure, simple};
use crate::report::{Direction, Goal, Measurement, Report, Section, Table, fmt_ns, fmt_num};
use crate::stubs::{Params, StubKind};
use crate::{corpus, frontend, hand_arm64, hand_x64, scaling};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Short measurements (noisier): for smoke tests.
    pub quick: bool,
    /// Stub counts of the scaling run.
    pub scaling_sizes: Vec<usize>,
    /// Where to write the scaling chart (SVG), if anywhere.
    pub chart: Option<PathBuf>,
    /// The command line shown in the report.
    pub command: String,
    /// Print progress on stderr.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            quick: false,
            scaling_sizes: vec![1_000, 10_000, 100_000, 1_000_000],
            chart: None,
            command: "lil bench".to_owned(),
            progress: false,
        }
    }
}

/// Run everything and build the report.
pub fn run(opts: &Options) -> Result<Report, String> {
    let config = if opts.quick {
        Config::quick()
    } else {
        Config::full()
    };
    let mut h = Harness {
        report: Report::new(&opts.command),
        config,
        opts: opts.clone(),
        traces: HashMap::new(),
    };
    let world = crate::runtime::NativeWorld::new();
    let params = world
        .as_ref()
        .map(|w| w.params.clone())
        .unwrap_or_else(Params::example);
    if world.is_none() {
        h.note("No native x86-64 world (not x86-64 Linux, or no TLS slot): code is generated with made-up addresses and nothing runs natively.");
    }
    h.progress("generation latency");
    h.generation(&params)?;
    h.progress("code size, instructions, time per call (x86-64)");
    h.native(world.as_ref())?;
    h.progress("instructions (AArch64, emulated)");
    h.arm64_counts()?;
    h.progress("scaling");
    h.scaling()?;
    h.progress("front end");
    h.front_end()?;
    h.goals();
    h.listings();
    h.summary();
    Ok(h.report)
}

/// Systems, as they appear in the JSON `system` field.
pub mod sys {
    /// LIL text with `%Ni` arguments, parsed at run time.
    pub const TEXT: &str = "lil-text";
    /// `lil_parse!` templates: holes filled, no parsing at run time.
    pub const TEMPLATE: &str = "lil-template";
    /// LIL phases shared by both paths (check, emit, install) and LIL code.
    pub const LIL: &str = "lil";
    /// Hand-written `dynasm!`, x86-64.
    pub const HAND: &str = "dynasm-hand";
    /// Cranelift at `opt_level=speed`.
    pub const SPEED: &str = "cranelift-speed";
    /// Cranelift at `opt_level=none`.
    pub const NONE: &str = "cranelift-none";
    /// A Rust function compiled by rustc.
    pub const RUSTC: &str = "rustc";
    /// [`TEXT`] generating AArch64 code.
    pub const TEXT_A64: &str = "lil-text/arm64";
    /// [`TEMPLATE`] generating AArch64 code.
    pub const TEMPLATE_A64: &str = "lil-template/arm64";
    /// [`LIL`] for AArch64.
    pub const LIL_A64: &str = "lil/arm64";
    /// Hand-written `dynasm!`, AArch64.
    pub const HAND_A64: &str = "dynasm-hand/arm64";
    /// Template instances (`lil::template`): the stub compiled once with its
    /// constants as holes, each instance a copy with the values written in.
    pub const PATCH: &str = "lil-patch";
    /// [`PATCH`] for AArch64 code.
    pub const PATCH_A64: &str = "lil-patch/arm64";
}

struct Harness {
    report: Report,
    config: Config,
    opts: Options,
    /// Executed x86-64 fast paths: (stub, system) -> instruction texts.
    traces: HashMap<(StubKind, &'static str), Vec<String>>,
}

/// A measurement being collected: which system and metric each runner is.
struct Set<'a> {
    set: Interleaved<'a>,
    ids: Vec<(&'static str, &'static str)>,
}

impl<'a> Set<'a> {
    fn new(config: Config) -> Set<'a> {
        Set {
            set: Interleaved::new(config),
            ids: Vec::new(),
        }
    }
    fn add(&mut self, system: &'static str, metric: &'static str, runner: Runner<'a>) {
        self.set.add(runner);
        self.ids.push((system, metric));
    }
    fn run(self) -> Vec<(&'static str, &'static str, Timing)> {
        let timings = self.set.run();
        self.ids
            .into_iter()
            .zip(timings)
            .map(|((s, m), t)| (s, m, t))
            .collect()
    }
}

/// Install `code` `n` times, timed; free it all afterwards, untimed.
fn install_runner(cache: &CodeCache, code: Vec<u8>) -> Runner<'_> {
    installing_runner(cache, move || cache.install(&code).ok())
}

/// `install` `n` times (each call generates one stub and installs it into
/// `cache`); the stubs are freed afterwards, untimed.
fn installing_runner<'a>(
    cache: &'a CodeCache,
    mut install: impl FnMut() -> Option<InstalledCode> + 'a,
) -> Runner<'a> {
    Box::new(move |n| {
        let mut handles = Vec::with_capacity(n);
        let start = Instant::now();
        for _ in 0..n {
            if let Some(h) = install() {
                handles.push(h);
            }
        }
        let elapsed = start.elapsed();
        for h in handles {
            let _ = cache.free(h);
        }
        elapsed
    })
}

/// A whole generation pipeline that returns the code, installed into
/// `cache`.
fn pipeline_runner<'a>(
    cache: &'a CodeCache,
    mut generate: impl FnMut() -> Option<Vec<u8>> + 'a,
) -> Runner<'a> {
    installing_runner(cache, move || cache.install(&generate()?).ok())
}

/// Instantiate `template` with `values` into `cache` each iteration, as
/// `Jit::install_template` does: patch on the stack, one copy into the cache.
fn patch_runner<'a>(cache: &'a CodeCache, template: Template, values: Vec<i64>) -> Runner<'a> {
    let mut buf = [0u8; 1024];
    let len = template.code_len().min(buf.len());
    installing_runner(cache, move || {
        template.write(&values, &mut buf[..len]).ok()?;
        cache.install(&buf[..len]).ok()
    })
}

/// The stub's template for `target`, or why there is none.
pub fn stub_template(
    stub: StubKind,
    target: Target,
    p: &Params,
) -> Result<(Template, Vec<i64>), String> {
    let values: Vec<i64> = stub.args(p).iter().map(|&v| v as i64).collect();
    let template = Template::from_text(target, &p.env(), stub.text(), stub.holes())
        .map_err(|e| format!("{}: {e}", stub.name()))?;
    if template.code_len() > 1024 {
        return Err(format!(
            "{}: template longer than the bench's buffer",
            stub.name()
        ));
    }
    Ok((template, values))
}

fn backend(target: Target) -> &'static dyn Backend {
    lil::backend(target)
}

fn compile(target: Target, stub: &lil_check::CheckedStub, env: &HostEnv) -> Option<Vec<u8>> {
    backend(target)
        .compile(stub, env)
        .ok()
        .map(|c: CompiledStub| c.code)
}

impl Harness {
    fn progress(&self, what: &str) {
        if self.opts.progress {
            eprintln!("lil bench: {what}…");
        }
    }

    fn note(&mut self, text: &str) {
        self.report.notes.push(text.to_owned());
    }

    fn push(&mut self, bench: &str, system: &str, metric: &str, value: f64, unit: &str) {
        self.report
            .push(Measurement::new(bench, system, metric, value, unit));
    }

    fn get(&self, bench: &str, system: &str, metric: &str) -> f64 {
        self.report.get(bench, system, metric).unwrap_or(f64::NAN)
    }

    // ---- generation latency ------------------------------------------------

    fn generation(&mut self, p: &Params) -> Result<(), String> {
        let p_a64 = aarch64_params(p);
        let cache = CodeCache::with_default_capacity().map_err(|e| e.to_string())?;
        for stub in StubKind::ALL {
            let mut set = Set::new(self.config);
            for (system, metric, runner) in generation_runners(stub, p, &p_a64, &cache)? {
                set.add(system, metric, runner);
            }
            for (system, metric, t) in set.run() {
                self.push(stub.name(), system, metric, t.median_ns, "ns");
            }
        }
        self.generation_tables();
        Ok(())
    }

    fn generation_tables(&mut self) {
        let mut t = Table::new(&[
            "stub",
            "LIL text → code",
            "one-shot",
            "parse",
            "check",
            "emit",
            "install",
            "lil_parse! → code",
            "template instance → code",
            "hand dynasm (emit + install)",
            "Cranelift speed",
            "Cranelift none",
            "text ÷ hand",
            "lil_parse! ÷ hand",
            "instance ÷ hand",
            "Cranelift (faster) ÷ text",
        ]);
        for stub in StubKind::ALL {
            let b = stub.name();
            let text = self.get(b, sys::TEXT, "generate");
            let template = self.get(b, sys::TEMPLATE, "generate");
            let patch = self.get(b, sys::PATCH, "generate");
            let hand = self.get(b, sys::HAND, "generate");
            let speed = self.get(b, sys::SPEED, "compile_only");
            let none = self.get(b, sys::NONE, "compile_only");
            let clif = speed.min(none);
            t.row(vec![
                format!("`{b}`"),
                fmt_ns(text),
                fmt_ns(self.get(b, sys::TEXT, "generate_one_shot")),
                fmt_ns(self.get(b, sys::TEXT, "parse")),
                fmt_ns(self.get(b, sys::LIL, "check")),
                fmt_ns(self.get(b, sys::LIL, "emit")),
                fmt_ns(self.get(b, sys::LIL, "install")),
                fmt_ns(template),
                fmt_ns(patch),
                fmt_ns(hand),
                fmt_ns(speed),
                fmt_ns(none),
                format!("{}×", fmt_num(text / hand)),
                format!("{}×", fmt_num(template / hand)),
                format!("{}×", fmt_num(patch / hand)),
                if clif.is_finite() {
                    format!("{}×", fmt_num(clif / text))
                } else {
                    "n/a".to_owned()
                },
            ]);
        }
        self.report.sections.push(Section {
            title: "Generation latency, x86-64".into(),
            intro: "Median time to get runnable code for one stub. LIL text → code is \
                    `lil::Compiler::install_text`: parse the text with its `%Ni` arguments, \
                    check, emit x86-64 code and `CodeCache::install` it, with one `Compiler` \
                    reused from stub to stub, as a VM keeps one per thread (and as Cranelift's \
                    `Context` is reused below); one-shot is the same pipeline with fresh \
                    buffers (`parse_with` + `check_owned` + `Backend::compile`); the parse, \
                    check and emit columns are one-shot. lil_parse! → code replaces the parse \
                    by filling the template's holes (`build`) and uses \
                    `Compiler::compile_stub`; template instance → code is \
                    `lil::template`: the stub compiled once with its constants as holes, each \
                    instance patched on the stack and installed (`Jit::install_template`). \
                    Hand dynasm is `dynasm!` into a \
                    `VecAssembler` + the same install. Cranelift is compile only: building the \
                    IR with `cranelift-frontend` + `Context::compile` (ISA, `Context` and \
                    `FunctionBuilderContext` reused; JIT installation not included, see \
                    `to_runnable` in the JSON). `compile_me_generic` has no Cranelift \
                    equivalent (`arbitrary` signature, `sp0` in a fixed register, tail call \
                    with the caller's arguments)."
                .into(),
            table: t,
        });

        let mut t = Table::new(&[
            "stub",
            "LIL text → code",
            "emit",
            "lil_parse! → code",
            "template instance → code",
            "hand dynasm",
            "text ÷ hand",
            "lil_parse! ÷ hand",
            "instance ÷ hand",
            "AArch64 ÷ x86-64 (text → code)",
            "AArch64 ÷ x86-64 (emit)",
        ]);
        for stub in StubKind::ALL {
            let b = stub.name();
            let text = self.get(b, sys::TEXT_A64, "generate");
            let template = self.get(b, sys::TEMPLATE_A64, "generate");
            let patch = self.get(b, sys::PATCH_A64, "generate");
            let hand = self.get(b, sys::HAND_A64, "generate");
            t.row(vec![
                format!("`{b}`"),
                fmt_ns(text),
                fmt_ns(self.get(b, sys::LIL_A64, "emit")),
                fmt_ns(template),
                fmt_ns(patch),
                fmt_ns(hand),
                format!("{}×", fmt_num(text / hand)),
                format!("{}×", fmt_num(template / hand)),
                format!("{}×", fmt_num(patch / hand)),
                format!("{}×", fmt_num(text / self.get(b, sys::TEXT, "generate"))),
                format!(
                    "{}×",
                    fmt_num(self.get(b, sys::LIL_A64, "emit") / self.get(b, sys::LIL, "emit"))
                ),
            ]);
        }
        self.report.sections.push(Section {
            title: "Generation latency, AArch64 code (generated on this host)".into(),
            intro: "The same pipelines with the AArch64 backend and hand-written \
                    `dynasm!` for AArch64; the code is installed into the same cache as bytes \
                    (it is never run here). Measured interleaved with the x86-64 rows above."
                .into(),
            table: t,
        });
    }

    // ---- x86-64: sizes, instructions, time per call -----------------------------

    fn native(&mut self, world: Option<&crate::runtime::NativeWorld>) -> Result<(), String> {
        let Some(world) = world else {
            return Ok(());
        };
        let p = &world.params;
        let env = p.env();
        let cache = CodeCache::with_default_capacity().map_err(|e| e.to_string())?;
        let baseline = crate::count::baseline().map_err(|e| e.to_string())?;
        // Keeps the Cranelift code alive until the timing is done.
        let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
        for stub in StubKind::ALL {
            let args = p.args(stub);
            let checked = lil_check::check_owned(stub.parse(&args).map_err(|e| format!("{e:?}"))?)
                .map_err(|e| format!("{e:?}"))?;
            let mut peers: Vec<(&'static str, u64, u64)> = Vec::new();
            let lil = backend(Target::X64)
                .compile(&checked, &env)
                .map_err(|e| e.to_string())?;
            let lil_at = cache.install(&lil.code).map_err(|e| e.to_string())?;
            peers.push((sys::LIL, lil_at.addr() as u64, lil.code.len() as u64));
            let hand = hand_x64::emit(stub, p).map_err(|e| e.to_string())?;
            let hand_at = cache.install(&hand).map_err(|e| e.to_string())?;
            peers.push((sys::HAND, hand_at.addr() as u64, hand.len() as u64));
            peers.extend(cranelift_peers(stub, p, world.ts_slot_addr(), &mut keep)?);
            if let Some(f) = crate::rust_peers::function(stub) {
                peers.push((sys::RUSTC, f, 0));
            }

            // Correctness first: every peer must do what the stub does.
            let mut ok = Vec::new();
            for &(system, addr, len) in &peers {
                match crate::native::check(stub, world, addr) {
                    Ok(()) => ok.push((system, addr, len)),
                    Err(e) => self.note(&format!("{system} left out of `{}`: {e}", stub.name())),
                }
            }

            // Instructions executed on the fast path, exactly.
            let mut lil_helpers = None;
            for &(system, addr, len) in &ok {
                crate::native::prepare(stub, world);
                let regs = crate::native::regs(stub, world, addr);
                // SAFETY: `addr` is a checked peer of `stub` for this world.
                let stepped = unsafe { crate::count::single_step(&regs, addr..addr + len) }
                    .map_err(|e| e.to_string())?;
                crate::native::check_effects(stub, world, stepped.rax, stepped.xmm0)?;
                if len > 0 {
                    self.push(stub.name(), system, "code_size", len as f64, "bytes");
                    self.push(
                        stub.name(),
                        system,
                        "fast_path_insns",
                        stepped.in_region as f64,
                        "insns",
                    );
                    let code: &[u8] = if system == sys::LIL {
                        &lil.code
                    } else if system == sys::HAND {
                        &hand
                    } else {
                        &[]
                    };
                    if !code.is_empty() {
                        self.traces
                            .insert((stub, system), trace_text(code, addr, &stepped.trace));
                    }
                    if system == sys::LIL {
                        lil_helpers = Some(stepped.total - baseline - stepped.in_region);
                    }
                } else if let Some(helpers) = lil_helpers {
                    // rustc: everything stepped minus the harness and the helpers
                    // (the same helpers with the same arguments as LIL's).
                    let own = stepped.total.saturating_sub(baseline + helpers);
                    self.push(stub.name(), system, "fast_path_insns", own as f64, "insns");
                }
            }

            // Time per call, interleaved.
            let mut set = Set::new(self.config);
            for &(system, addr, _) in &ok {
                // SAFETY: `addr` is a checked peer of `stub` for this world,
                // alive until the end of this function.
                set.add(system, "time_per_call", unsafe {
                    crate::native::runner(stub, world, addr)
                });
            }
            for (system, metric, t) in set.run() {
                self.push(stub.name(), system, metric, t.median_ns, "ns");
            }
        }
        self.native_tables();
        Ok(())
    }

    fn native_tables(&mut self) {
        let mut t = Table::new(&[
            "stub",
            "LIL bytes",
            "hand bytes",
            "Cranelift speed bytes",
            "Cranelift none bytes",
            "LIL insns",
            "hand insns",
            "Cranelift speed insns",
            "Cranelift none insns",
            "rustc insns",
            "LIL ÷ hand insns",
        ]);
        let n = |v: f64| {
            if v.is_finite() {
                format!("{v:.0}")
            } else {
                "–".into()
            }
        };
        for stub in StubKind::ALL {
            let b = stub.name();
            let g = |s: &str, m: &str| self.get(b, s, m);
            t.row(vec![
                format!("`{b}`"),
                n(g(sys::LIL, "code_size")),
                n(g(sys::HAND, "code_size")),
                n(g(sys::SPEED, "code_size")),
                n(g(sys::NONE, "code_size")),
                n(g(sys::LIL, "fast_path_insns")),
                n(g(sys::HAND, "fast_path_insns")),
                n(g(sys::SPEED, "fast_path_insns")),
                n(g(sys::NONE, "fast_path_insns")),
                n(g(sys::RUSTC, "fast_path_insns")),
                format!(
                    "{}×",
                    fmt_num(g(sys::LIL, "fast_path_insns") / g(sys::HAND, "fast_path_insns"))
                ),
            ]);
        }
        self.report.sections.push(Section {
            title: "Code size and fast-path instructions, x86-64".into(),
            intro: "Bytes of machine code (whole stub, slow paths included) and instructions \
                    executed by one fast-path call, counted exactly by single-stepping the call \
                    (trap flag) and counting the steps whose instruction pointer is in the \
                    stub's code; helpers called are not counted. rustc: every step of the call \
                    minus the harness's steps and the helpers' (its code size is not known). \
                    Fast paths: an allocation that fits, an instance of the class, a JNI call \
                    without exception, a compile-me through to the compiled method, an \
                    uncontended lock."
                .into(),
            table: t,
        });

        let mut t = Table::new(&[
            "stub",
            "LIL",
            "hand dynasm",
            "Cranelift speed",
            "Cranelift none",
            "rustc",
            "LIL ÷ hand",
        ]);
        for stub in StubKind::ALL {
            let b = stub.name();
            let g = |s: &str| self.get(b, s, "time_per_call");
            t.row(vec![
                format!("`{b}`"),
                fmt_ns(g(sys::LIL)),
                fmt_ns(g(sys::HAND)),
                fmt_ns(g(sys::SPEED)),
                fmt_ns(g(sys::NONE)),
                fmt_ns(g(sys::RUSTC)),
                format!("{}×", fmt_num(g(sys::LIL) / g(sys::HAND))),
            ]);
        }
        self.report.sections.push(Section {
            title: "Time per call, x86-64".into(),
            intro: "Median time of one fast-path call in a loop (the loop, the call and the \
                    per-iteration reset are the same for every peer: an indirect call through a \
                    function pointer, or an inline-asm call setting r10 for compile-me). \
                    Differences of a nanosecond are noise on a shared machine."
                .into(),
            table: t,
        });
    }

    // ---- AArch64 instruction counts ----------------------------------------------

    #[cfg(feature = "emulator")]
    fn arm64_counts(&mut self) -> Result<(), String> {
        let mut world = match crate::emu::EmuWorld::new() {
            Ok(w) => w,
            Err(e) => {
                self.note(&format!("AArch64 instruction counts not measured: {e}"));
                return Ok(());
            }
        };
        let p = world.params.clone();
        let env = p.env();
        let mut t = Table::new(&[
            "stub",
            "LIL bytes",
            "hand bytes",
            "LIL insns",
            "hand insns",
            "LIL ÷ hand insns",
        ]);
        for stub in StubKind::ALL {
            let checked =
                lil_check::check_owned(stub.parse(&p.args(stub)).map_err(|e| format!("{e:?}"))?)
                    .map_err(|e| format!("{e:?}"))?;
            let lil = compile(Target::Arm64, &checked, &env).ok_or("arm64 compile")?;
            let hand = hand_arm64::emit(stub, &p).map_err(|e| e.to_string())?;
            let mut counts = [f64::NAN; 2];
            for (i, (system, code)) in [(sys::LIL_A64, &lil), (sys::HAND_A64, &hand)]
                .into_iter()
                .enumerate()
            {
                self.push(stub.name(), system, "code_size", code.len() as f64, "bytes");
                let addr = world.install(code)?;
                match world.count(stub, addr) {
                    Ok(n) => {
                        counts[i] = n as f64;
                        self.push(stub.name(), system, "fast_path_insns", n as f64, "insns");
                    }
                    Err(e) => {
                        self.note(&format!("{system} `{}` on the emulator: {e}", stub.name()))
                    }
                }
            }
            t.row(vec![
                format!("`{}`", stub.name()),
                lil.len().to_string(),
                hand.len().to_string(),
                format!("{:.0}", counts[0]),
                format!("{:.0}", counts[1]),
                format!("{}×", fmt_num(counts[0] / counts[1])),
            ]);
        }
        self.report.sections.push(Section {
            title: "Code size and fast-path instructions, AArch64 (emulated)".into(),
            intro: "The same fast paths run under the Unicorn emulator (Cortex-A72, no LSE \
                    atomics) against the same world in guest memory; every guest instruction \
                    in the stub's code is counted (helpers run as host functions and are not). \
                    `compile_me_generic` is entered through a trampoline that sets `sp0`, whose \
                    instructions are subtracted."
                .into(),
            table: t,
        });
        Ok(())
    }

    #[cfg(not(feature = "emulator"))]
    fn arm64_counts(&mut self) -> Result<(), String> {
        self.note("AArch64 instruction counts not measured: built without the `emulator` feature.");
        Ok(())
    }

    // ---- scaling -------------------------------------------------------------------

    fn scaling(&mut self) -> Result<(), String> {
        let vm = VmLayout::example();
        let env = HostEnv::default();
        let min_total = if self.opts.quick {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(300)
        };
        let mut points = Vec::new();
        let mut template_points = Vec::new();
        for (path, target, system) in [
            (scaling::Path::Compile, Target::X64, sys::TEMPLATE),
            (scaling::Path::Compile, Target::Arm64, sys::TEMPLATE_A64),
            (scaling::Path::Template, Target::X64, sys::PATCH),
            (scaling::Path::Template, Target::Arm64, sys::PATCH_A64),
        ] {
            for n in self.opts.scaling_sizes.clone() {
                let point = scaling::measure(target, n, &vm, &env, path, min_total)?;
                let bench = format!("scaling_{n}");
                let per = |b: usize| b as f64 / n as f64;
                self.push(&bench, system, "stubs_per_s", point.rate(), "stubs/s");
                self.push(
                    &bench,
                    system,
                    "total_time",
                    point.elapsed.as_secs_f64() * 1e3,
                    "ms",
                );
                self.push(
                    &bench,
                    system,
                    "code_per_stub",
                    per(point.code_bytes),
                    "B/stub",
                );
                self.push(
                    &bench,
                    system,
                    "bookkeeping_per_stub",
                    per(point.bookkeeping_bytes),
                    "B/stub",
                );
                self.push(
                    &bench,
                    system,
                    "committed",
                    point.committed_bytes as f64 / (1 << 20) as f64,
                    "MiB",
                );
                self.push(
                    &bench,
                    system,
                    "rss_growth_per_stub",
                    per(point.rss_growth),
                    "B/stub",
                );
                match path {
                    scaling::Path::Compile => points.push(point),
                    scaling::Path::Template => template_points.push(point),
                }
            }
        }
        let mut t = Table::new(&[
            "stubs",
            "target",
            "path",
            "time",
            "stubs/s",
            "µs/stub",
            "code B/stub",
            "bookkeeping B/stub",
            "pages committed",
            "RSS growth B/stub",
        ]);
        let rows = points
            .iter()
            .map(|p| (p, "compile"))
            .chain(template_points.iter().map(|p| (p, "template")));
        for (p, path) in rows {
            let per = |b: usize| format!("{:.1}", b as f64 / p.stubs as f64);
            t.row(vec![
                fmt_num(p.stubs as f64),
                match p.target {
                    Target::X64 => "x86-64".into(),
                    Target::Arm64 => "AArch64".into(),
                },
                path.into(),
                format!("{:.1} ms", p.elapsed.as_secs_f64() * 1e3),
                fmt_num(p.rate()),
                format!("{:.2}", 1e6 / p.rate()),
                per(p.code_bytes),
                per(p.bookkeeping_bytes),
                format!("{:.1} MiB", p.committed_bytes as f64 / (1 << 20) as f64),
                per(p.rss_growth),
            ]);
        }
        let chart = match &self.opts.chart {
            Some(path) => {
                crate::chart::draw(&points, path)?;
                format!(" Chart: `{}`.", path.display())
            }
            None => String::new(),
        };
        self.report.sections.push(Section {
            title: "Scaling: per-class instanceof stubs into one code cache".into(),
            intro: format!(
                "Path *compile*: `lil_stubs::typecheck::instanceof_for_class` (a `lil_parse!` \
                 template) + check + compile + install; path *template*: \
                 `lil_stubs::per_class::PerClassTemplates` made once before the timed loop, each \
                 stub a patched copy installed. N distinct classes into one fresh `CodeCache`; one \
                 thread. The chart shows the compile path. Small sizes are repeated and the median run shown. Memory: the cache's \
                 code bytes (excluding the 16-byte alignment), its bookkeeping (stub records and \
                 free list at their allocated capacity), the pages it committed, and the growth \
                 of the process's resident set while filling it. AArch64 code is installed as \
                 bytes.{chart}"
            ),
            table: t,
        });
        Ok(())
    }

    // ---- front end -----------------------------------------------------------------

    fn front_end(&mut self) -> Result<(), String> {
        let mut t = Table::new(&["workload", "measured", "detail"]);
        match corpus::Corpus::load() {
            Some(corpus) => {
                let parsed = corpus.parse_all();
                let timing = measure(self.config, simple(|| corpus.parse_all()));
                let mbps = corpus.bytes() as f64 / timing.median_ns * 1e3;
                self.push("drlvm_corpus", sys::TEXT, "parse_throughput", mbps, "MB/s");
                self.push("drlvm_corpus", sys::TEXT, "parse", timing.median_ns, "ns");
                t.row(vec![
                    "parse the DRLVM corpus".into(),
                    format!("{} MB/s", fmt_num(mbps)),
                    format!(
                        "{} stubs ({parsed} parsed), {} bytes of LIL without comment lines, {} per pass",
                        corpus.stubs(),
                        corpus.bytes(),
                        fmt_ns(timing.median_ns)
                    ),
                ]);
            }
            None => self.note(&format!(
                "DRLVM corpus not found at {} (set LIL_DRLVM_CORPUS): parse throughput not measured.",
                corpus::corpus_dir().display()
            )),
        }
        let fig1 = StubKind::Fig1Alloc.name();
        t.row(vec![
            "parse Figure 1 (text with 4 `%Ni` arguments)".into(),
            fmt_ns(self.get(fig1, sys::TEXT, "parse")),
            "median, from the generation run".into(),
        ]);
        t.row(vec![
            "check Figure 1".into(),
            fmt_ns(self.get(fig1, sys::LIL, "check")),
            "median, from the generation run".into(),
        ]);
        // Parse and check generated stubs of growing size (fewer rounds for
        // the largest), for the linearity goals.
        for n in [1_000usize, 10_000, 100_000] {
            let text = frontend::sized_stub_text(n);
            let stub: Stub = frontend::sized_stub(n)?;
            let len = stub.body.len();
            let per_insn = |ns: f64| ns / len as f64;
            let config = Config {
                rounds: if n >= 100_000 {
                    self.config.rounds.min(31)
                } else {
                    self.config.rounds
                },
                ..self.config
            };
            let faults = frontend::faults_per_check(&stub);
            let check = measure(config, frontend::check_runner(stub)).median_ns;
            let parse = measure(config, simple(move || lil_syntax::parse(&text).is_ok())).median_ns;
            let (check_bench, parse_bench) = (format!("check_{n}"), format!("parse_{n}"));
            self.push(
                &check_bench,
                sys::LIL,
                "page_faults_per_check",
                faults as f64,
                "faults",
            );
            self.push(&check_bench, sys::LIL, "check", check, "ns");
            self.push(
                &check_bench,
                sys::LIL,
                "check_per_insn",
                per_insn(check),
                "ns/insn",
            );
            self.push(&parse_bench, sys::TEXT, "parse", parse, "ns");
            self.push(
                &parse_bench,
                sys::TEXT,
                "parse_per_insn",
                per_insn(parse),
                "ns/insn",
            );
            t.row(vec![
                format!("check a generated stub of {len} instructions"),
                fmt_ns(check),
                format!(
                    "{:.1} ns per instruction; {faults} minor page faults per check",
                    per_insn(check)
                ),
            ]);
            t.row(vec![
                format!("parse a generated stub of {len} instructions"),
                fmt_ns(parse),
                format!("{:.1} ns per instruction", per_insn(parse)),
            ]);
        }
        self.report.sections.push(Section {
            title: "Front end".into(),
            intro: "Parsing (`StubBuilder` with the directive arguments, piece by piece as DRLVM \
                    did) and checking (`check_owned` on a fresh copy) alone; parsing and \
                    checking generated stubs of growing size. The generated stubs \
                    repeat `l2 = l0 + l1; l3 = l2 ^ l0; jc l3 = 0, Lk; ld l1, [l0+8:pint]; \
                    l0 = l3 + 1; :Lk;`, a join every six statements."
                .into(),
            table: t,
        });
        Ok(())
    }

    // ---- goals -----------------------------------------------------------------------

    /// Record a goal: `target` is the direction and the value (`(AtMost, 5.0)`
    /// reads "≤ 5").
    fn goal(
        &mut self,
        name: &str,
        bench: &str,
        measured: f64,
        target: (Direction, f64),
        unit: &str,
        note: String,
    ) {
        self.report.goals.push(Goal {
            name: name.to_owned(),
            bench: bench.to_owned(),
            measured,
            target: target.1,
            direction: target.0,
            unit: unit.to_owned(),
            note,
        });
    }

    /// Where the time of a LIL pipeline goes, for notes on misses.
    fn breakdown(&self, b: &str, first: (&str, &str)) -> String {
        let parts = [
            (first.1, self.get(b, first.0, first.1)),
            ("check", self.get(b, sys::LIL, "check")),
            ("emit", self.get(b, sys::LIL, "emit")),
            ("install", self.get(b, sys::LIL, "install")),
        ];
        let total: f64 = parts.iter().map(|p| p.1).sum();
        parts
            .iter()
            .map(|(n, v)| format!("{n} {} ({:.0}%)", fmt_ns(*v), 100.0 * v / total))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn goals(&mut self) {
        for stub in StubKind::ALL {
            let b = stub.name();
            let text = self.get(b, sys::TEXT, "generate");
            let template = self.get(b, sys::TEMPLATE, "generate");
            let hand = self.get(b, sys::HAND, "generate");
            let ratio = text / hand;
            let note = if ratio <= 5.0 {
                String::new()
            } else {
                format!(
                    "{} vs hand {}: needs {} less; {}",
                    fmt_ns(text),
                    fmt_ns(hand),
                    fmt_ns(text - 5.0 * hand),
                    self.breakdown(b, (sys::TEXT, "parse"))
                )
            };
            self.goal(
                "text → code ≤ 5× hand dynasm",
                b,
                ratio,
                (Direction::AtMost, 5.0),
                "×",
                note,
            );

            let clif =
                self.get(b, sys::SPEED, "compile_only")
                    .min(self.get(b, sys::NONE, "compile_only"));
            if clif.is_finite() {
                let faster = clif / text;
                let note = if faster >= 25.0 {
                    format!("faster Cranelift level: {}", fmt_ns(clif))
                } else {
                    format!(
                        "Cranelift {} vs LIL {}: LIL needs ≤ {}; {}",
                        fmt_ns(clif),
                        fmt_ns(text),
                        fmt_ns(clif / 25.0),
                        self.breakdown(b, (sys::TEXT, "parse"))
                    )
                };
                self.goal(
                    "text → code ≥ 25× faster than Cranelift compile-only",
                    b,
                    faster,
                    (Direction::AtLeast, 25.0),
                    "×",
                    note,
                );
            }

            let ratio = template / hand;
            let note = if ratio <= 2.0 {
                String::new()
            } else {
                format!(
                    "{} vs hand {}: needs {} less; {}",
                    fmt_ns(template),
                    fmt_ns(hand),
                    fmt_ns(template - 2.0 * hand),
                    self.breakdown(b, (sys::TEMPLATE, "build"))
                )
            };
            self.goal(
                "lil_parse! → code ≤ 2× hand dynasm",
                b,
                ratio,
                (Direction::AtMost, 2.0),
                "×",
                note,
            );

            let patch = self.get(b, sys::PATCH, "generate");
            if patch.is_finite() {
                let ratio = patch / hand;
                let note = if ratio <= 2.0 {
                    String::new()
                } else {
                    format!("{} vs hand {}", fmt_ns(patch), fmt_ns(hand))
                };
                self.goal(
                    "template instance → code ≤ 2× hand dynasm",
                    b,
                    ratio,
                    (Direction::AtMost, 2.0),
                    "×",
                    note,
                );
            }
        }
        for stub in StubKind::ALL {
            let b = stub.name();
            let (lil, hand) = (
                self.get(b, sys::LIL, "fast_path_insns"),
                self.get(b, sys::HAND, "fast_path_insns"),
            );
            let note = if lil <= hand {
                String::new()
            } else {
                format!(
                    "{lil:.0} vs {hand:.0} instructions: {}",
                    mnemonic_difference(
                        self.traces.get(&(stub, sys::LIL)),
                        self.traces.get(&(stub, sys::HAND))
                    )
                )
            };
            self.goal(
                "x86-64 fast-path instructions = hand-written",
                b,
                lil / hand,
                (Direction::AtMost, 1.0),
                "×",
                note,
            );
        }
        for stub in StubKind::ALL {
            let b = stub.name();
            let (lil, hand) = (
                self.get(b, sys::LIL_A64, "fast_path_insns"),
                self.get(b, sys::HAND_A64, "fast_path_insns"),
            );
            let note = if lil / hand <= 1.15 {
                String::new()
            } else {
                format!(
                    "{lil:.0} vs {hand:.0} instructions: {:.0} too many for 1.15× (see the AArch64 listings)",
                    (lil - (1.15 * hand).floor()).max(1.0)
                )
            };
            self.goal(
                "AArch64 fast-path instructions ≤ 1.15× hand-written",
                b,
                lil / hand,
                (Direction::AtMost, 1.15),
                "×",
                note,
            );
        }
        for stub in StubKind::ALL {
            let b = stub.name();
            let ratio = self.get(b, sys::TEXT_A64, "generate") / self.get(b, sys::TEXT, "generate");
            let emit = self.get(b, sys::LIL_A64, "emit") / self.get(b, sys::LIL, "emit");
            self.goal(
                "AArch64 text → code ≤ 1.5× x86-64",
                b,
                ratio,
                (Direction::AtMost, 1.5),
                "×",
                format!("emit alone: {}×", fmt_num(emit)),
            );
        }
        for (target, system) in [
            ("x86-64", sys::TEMPLATE),
            ("AArch64", sys::TEMPLATE_A64),
            ("x86-64, template instances", sys::PATCH),
            ("AArch64, template instances", sys::PATCH_A64),
        ] {
            let rates: Vec<(usize, f64)> = self
                .opts
                .scaling_sizes
                .iter()
                .map(|&n| (n, self.get(&format!("scaling_{n}"), system, "stubs_per_s")))
                .collect();
            if let Some(&(n, worst)) = rates.iter().min_by(|a, b| a.1.total_cmp(&b.1)) {
                let note = if worst >= 500_000.0 {
                    format!("slowest at {}", fmt_num(n as f64))
                } else {
                    format!(
                        "slowest at {}: {:.2} µs/stub, needs ≤ 2.00 µs; one x86-64 instanceof stub in the \
                         generation run: {}",
                        fmt_num(n as f64),
                        1e6 / worst,
                        self.breakdown(StubKind::InstanceOf.name(), (sys::TEMPLATE, "build"))
                    )
                };
                self.goal(
                    &format!("≥ 500,000 per-class stubs/s ({target})"),
                    "scaling",
                    worst,
                    (Direction::AtLeast, 500_000.0),
                    "stubs/s",
                    note,
                );
            }
        }
        let worst = self
            .opts
            .scaling_sizes
            .iter()
            .map(|&n| {
                (
                    n,
                    self.get(
                        &format!("scaling_{n}"),
                        sys::TEMPLATE,
                        "bookkeeping_per_stub",
                    ),
                )
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((n, b)) = worst {
            self.goal(
                "≤ 32 B bookkeeping per stub",
                "scaling",
                b,
                (Direction::AtMost, 32.0),
                "B/stub",
                format!("largest at {}", fmt_num(n as f64)),
            );
        }
        let mbps = self.get("drlvm_corpus", sys::TEXT, "parse_throughput");
        if mbps.is_finite() {
            let note = if mbps >= 100.0 {
                String::new()
            } else {
                format!(
                    "needs {:.0}% less parse time per byte",
                    100.0 * (1.0 - mbps / 100.0)
                )
            };
            self.goal(
                "parse the DRLVM corpus ≥ 100 MB/s",
                "drlvm_corpus",
                mbps,
                (Direction::AtLeast, 100.0),
                "MB/s",
                note,
            );
        }
        let fig1 = StubKind::Fig1Alloc.name();
        let parse = self.get(fig1, sys::TEXT, "parse");
        self.goal(
            "parse Figure 1 ≤ 1 µs (median)",
            fig1,
            parse,
            (Direction::AtMost, 1000.0),
            "ns",
            String::new(),
        );
        let check = self.get(fig1, sys::LIL, "check");
        self.goal(
            "check Figure 1 ≤ 1 µs (median)",
            fig1,
            check,
            (Direction::AtMost, 1000.0),
            "ns",
            String::new(),
        );
        let per = |n: usize| self.get(&format!("parse_{n}"), sys::TEXT, "parse_per_insn");
        let (small, mid, big) = (per(1_000), per(10_000), per(100_000));
        self.goal(
            "parse time linear in size: ns/insn at 10k and 100k ≤ 1.5× at 1k",
            "parse_1k_10k_100k",
            mid.max(big) / small,
            (Direction::AtMost, 1.5),
            "×",
            format!("{small:.1} / {mid:.1} / {big:.1} ns per instruction"),
        );
        let per = |n: usize| self.get(&format!("check_{n}"), sys::LIL, "check_per_insn");
        let (small, mid, big) = (per(1_000), per(10_000), per(100_000));
        let growth = mid.max(big) / small;
        self.goal(
            "check time linear in size: ns/insn at 10k and 100k ≤ 1.5× at 1k",
            "check_1k_10k_100k",
            growth,
            (Direction::AtMost, 1.5),
            "×",
            {
                let faults =
                    |n: usize| self.get(&format!("check_{n}"), sys::LIL, "page_faults_per_check");
                let mut note = format!("{small:.1} / {mid:.1} / {big:.1} ns per instruction");
                if growth > 1.5 {
                    let _ = write!(
                        note,
                        "; minor page faults per check {:.0} / {:.0} / {:.0}, so not the kernel: \
                         the large check is memory-bound (`perf stat` on \
                         `lil-bench/examples/hot_loop.rs check 100000`: instructions per cycle fall from \
                         3.3 at 1k to 1.8 at 100k, cache misses rise); denser per-instruction \
                         state in the checker (contexts, CFG) would close it",
                        faults(1_000),
                        faults(10_000),
                        faults(100_000)
                    );
                }
                note
            },
        );
    }

    // ---- summary ---------------------------------------------------------------------

    fn summary(&mut self) {
        let mut out = String::new();
        let _ = writeln!(out, "Machine: {}.\n", self.report.machine.describe());
        let mut t = Table::new(&[
            "stub",
            "LIL text → code",
            "lil_parse! → code",
            "template instance → code",
            "hand dynasm",
            "Cranelift speed / none",
            "x86-64 insns LIL / hand",
            "AArch64 insns LIL / hand",
            "per call: LIL / hand / Cranelift / rustc",
        ]);
        let n = |v: f64| {
            if v.is_finite() {
                format!("{v:.0}")
            } else {
                "–".into()
            }
        };
        for stub in StubKind::ALL {
            let b = stub.name();
            let g = |s: &str, m: &str| self.get(b, s, m);
            t.row(vec![
                format!("`{b}`"),
                fmt_ns(g(sys::TEXT, "generate")),
                fmt_ns(g(sys::TEMPLATE, "generate")),
                fmt_ns(g(sys::PATCH, "generate")),
                fmt_ns(g(sys::HAND, "generate")),
                format!(
                    "{} / {}",
                    fmt_ns(g(sys::SPEED, "compile_only")),
                    fmt_ns(g(sys::NONE, "compile_only"))
                ),
                format!(
                    "{} / {}",
                    n(g(sys::LIL, "fast_path_insns")),
                    n(g(sys::HAND, "fast_path_insns"))
                ),
                format!(
                    "{} / {}",
                    n(g(sys::LIL_A64, "fast_path_insns")),
                    n(g(sys::HAND_A64, "fast_path_insns"))
                ),
                format!(
                    "{} / {} / {} / {}",
                    fmt_ns(g(sys::LIL, "time_per_call")),
                    fmt_ns(g(sys::HAND, "time_per_call")),
                    fmt_ns(g(sys::SPEED, "time_per_call")),
                    fmt_ns(g(sys::RUSTC, "time_per_call")),
                ),
            ]);
        }
        out.push_str(&t.markdown());
        let _ = writeln!(out);
        let mut t = Table::new(&[
            "stubs in one cache",
            "x86-64 stubs/s",
            "AArch64 stubs/s",
            "x86-64 stubs/s (templates)",
            "AArch64 stubs/s (templates)",
            "code B/stub",
            "bookkeeping B/stub",
            "RSS growth B/stub",
        ]);
        for &stubs in &self.opts.scaling_sizes {
            let b = format!("scaling_{stubs}");
            let g = |s: &str, m: &str| self.get(&b, s, m);
            t.row(vec![
                fmt_num(stubs as f64),
                fmt_num(g(sys::TEMPLATE, "stubs_per_s")),
                fmt_num(g(sys::TEMPLATE_A64, "stubs_per_s")),
                fmt_num(g(sys::PATCH, "stubs_per_s")),
                fmt_num(g(sys::PATCH_A64, "stubs_per_s")),
                format!("{:.1}", g(sys::TEMPLATE, "code_per_stub")),
                format!("{:.1}", g(sys::TEMPLATE, "bookkeeping_per_stub")),
                format!("{:.1}", g(sys::TEMPLATE, "rss_growth_per_stub")),
            ]);
        }
        out.push_str(&t.markdown());
        let _ = writeln!(out);
        let mut t = Table::new(&["goal", "stub", "measured", "target", "result"]);
        for g in &self.report.goals {
            let op = match g.direction {
                Direction::AtMost => "≤",
                Direction::AtLeast => "≥",
            };
            t.row(vec![
                g.name.clone(),
                g.bench.clone(),
                format!("{} {}", fmt_num(g.measured), g.unit),
                format!("{op} {} {}", fmt_num(g.target), g.unit),
                if g.pass() {
                    "pass".to_owned()
                } else {
                    format!("**FAIL** ({})", g.margin())
                },
            ]);
        }
        out.push_str(&t.markdown());
        self.report.summary = out;
    }

    // ---- listings --------------------------------------------------------------------

    fn listings(&mut self) {
        let mut out = String::new();
        for stub in StubKind::ALL {
            let (Some(lil), Some(hand)) = (
                self.traces.get(&(stub, sys::LIL)),
                self.traces.get(&(stub, sys::HAND)),
            ) else {
                continue;
            };
            if lil.len() == hand.len() {
                continue;
            }
            let _ = writeln!(
                out,
                "### `{}`: executed x86-64 fast path, LIL ({}) vs hand-written ({})\n",
                stub.name(),
                lil.len(),
                hand.len()
            );
            let _ = writeln!(out, "```");
            let width = lil
                .iter()
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
                .max(24);
            for i in 0..lil.len().max(hand.len()) {
                let l = lil.get(i).map_or("", String::as_str);
                let h = hand.get(i).map_or("", String::as_str);
                let _ = writeln!(out, "{l:<width$} | {h}");
            }
            let _ = writeln!(out, "```\n");
        }
        if !out.is_empty() {
            self.report.notes.push(format!(
                "## Executed fast paths where LIL and hand-written differ (x86-64)\n\n{out}"
            ));
        }
        self.arm64_listings();
    }

    fn arm64_listings(&mut self) {
        let mut out = String::new();
        let p = Params::example();
        let env = p.env();
        for stub in StubKind::ALL {
            let b = stub.name();
            let (lil, hand) = (
                self.get(b, sys::LIL_A64, "fast_path_insns"),
                self.get(b, sys::HAND_A64, "fast_path_insns"),
            );
            if lil.partial_cmp(&hand) != Some(std::cmp::Ordering::Greater) {
                continue;
            }
            let text = stub.text();
            let Ok(stub_ast) = stub.parse(&p.args(stub)) else {
                continue;
            };
            let Ok(checked) = lil_check::check_owned(stub_ast) else {
                continue;
            };
            let Ok(code) = backend(Target::Arm64).compile(&checked, &env) else {
                continue;
            };
            let Ok(hand_code) = hand_arm64::emit(stub, &p) else {
                continue;
            };
            let _ = writeln!(
                out,
                "### `{b}`: AArch64, LIL ({lil:.0} executed) and hand-written ({hand:.0} executed), whole stubs\n"
            );
            let _ = writeln!(
                out,
                "```\n{}```\n",
                lil::disasm::listing(&code, checked.stub(), text)
            );
            let _ = writeln!(out, "```");
            for insn in lil::disasm::disassemble(Target::Arm64, &hand_code, 0) {
                let _ = writeln!(out, "{:08x}  {}", insn.addr, insn.text);
            }
            let _ = writeln!(out, "```\n");
        }
        if !out.is_empty() {
            self.report.notes.push(format!(
                "## AArch64 stubs where LIL executes more than hand-written (made-up addresses)\n\n{out}"
            ));
        }
    }
}

/// The parameters for AArch64 code: the same VM, but `ts` at a positive
/// offset from `tpidr_el0` (AArch64's TLS block lies above the thread
/// pointer; x86-64's below `fs`).
pub fn aarch64_params(p: &Params) -> Params {
    Params {
        tls_offset: 16,
        ..p.clone()
    }
}

/// Every generation-latency runner of `stub`, as (system, metric, runner):
/// the LIL text and template pipelines and their phases for both targets,
/// hand-written `dynasm!` for both targets, and Cranelift compile-only and
/// to-runnable. Pipelines install into `cache` and free what they installed
/// after each batch. `p` is for x86-64 code, `p_a64` for AArch64 code.
pub fn generation_runners<'a>(
    stub: StubKind,
    p: &'a Params,
    p_a64: &'a Params,
    cache: &'a CodeCache,
) -> Result<Vec<(&'static str, &'static str, Runner<'a>)>, String> {
    let what = |e: &dyn std::fmt::Debug| format!("{}: {e:?}", stub.name());
    let (env, env_a64) = (Rc::new(p.env()), Rc::new(p_a64.env()));
    let (args, args_a64) = (Rc::new(p.args(stub)), Rc::new(p_a64.args(stub)));
    let parsed = stub.parse(&args).map_err(|e| what(&e))?;
    let checked = Rc::new(lil_check::check_owned(parsed.clone()).map_err(|e| what(&e))?);
    let checked_a64 = Rc::new(
        lil_check::check_owned(stub.parse(&args_a64).map_err(|e| what(&e))?)
            .map_err(|e| what(&e))?,
    );
    let lil_x64 = compile(Target::X64, &checked, &env).ok_or_else(|| what(&"x86-64 backend"))?;
    let hand = hand_x64::emit(stub, p).map_err(|e| what(&e))?;

    let mut runners: Vec<(&'static str, &'static str, Runner<'a>)> = Vec::new();
    // A VM generating stubs at run time keeps one `lil::Compiler` per
    // thread (as it keeps one Cranelift `Context`): its buffers are reused.
    let text = |target: Target| {
        let (args, env) = match target {
            Target::X64 => (args.clone(), env.clone()),
            Target::Arm64 => (args_a64.clone(), env_a64.clone()),
        };
        let mut compiler = Compiler::new(target);
        installing_runner(cache, move || {
            compiler.install_text(cache, stub.text(), &args, &env).ok()
        })
    };
    let one_shot = {
        let (args, env) = (args.clone(), env.clone());
        pipeline_runner(cache, move || {
            let s = stub.parse(&args).ok()?;
            let c = lil_check::check_owned(s).ok()?;
            compile(Target::X64, &c, &env)
        })
    };
    let template = |target: Target| {
        let (p, env) = match target {
            Target::X64 => (p, env.clone()),
            Target::Arm64 => (p_a64, env_a64.clone()),
        };
        let mut compiler = Compiler::new(target);
        installing_runner(cache, move || {
            let s = stub.template(p).ok()?;
            let code = compiler.compile_stub(s, &env).ok()?;
            cache.install(&code.code).ok()
        })
    };
    let emit = |target: Target| -> Runner<'a> {
        let (checked, env) = match target {
            Target::X64 => (checked.clone(), env.clone()),
            Target::Arm64 => (checked_a64.clone(), env_a64.clone()),
        };
        simple(move || compile(target, &checked, &env))
    };
    {
        let args = args.clone();
        runners.push((sys::TEXT, "parse", simple(move || stub.parse(&args))));
    }
    runners.push((sys::TEMPLATE, "build", simple(move || stub.template(p))));
    runners.push((sys::LIL, "check", frontend::check_runner(parsed)));
    runners.push((sys::LIL, "emit", emit(Target::X64)));
    runners.push((sys::LIL, "install", install_runner(cache, lil_x64)));
    runners.push((sys::TEXT, "generate", text(Target::X64)));
    runners.push((sys::TEXT, "generate_one_shot", one_shot));
    runners.push((sys::TEMPLATE, "generate", template(Target::X64)));
    runners.push((sys::HAND, "emit", simple(move || hand_x64::emit(stub, p))));
    runners.push((sys::HAND, "install", install_runner(cache, hand)));
    runners.push((
        sys::HAND,
        "generate",
        pipeline_runner(cache, move || hand_x64::emit(stub, p).ok()),
    ));
    // AArch64 code, generated on this host (installed as bytes, never run).
    runners.push((sys::LIL_A64, "emit", emit(Target::Arm64)));
    runners.push((sys::TEXT_A64, "generate", text(Target::Arm64)));
    runners.push((sys::TEMPLATE_A64, "generate", template(Target::Arm64)));
    runners.push((
        sys::HAND_A64,
        "emit",
        simple(move || hand_arm64::emit(stub, p_a64)),
    ));
    runners.push((
        sys::HAND_A64,
        "generate",
        pipeline_runner(cache, move || hand_arm64::emit(stub, p_a64).ok()),
    ));
    for (target, params, system) in [
        (Target::X64, p, sys::PATCH),
        (Target::Arm64, p_a64, sys::PATCH_A64),
    ] {
        // A stub whose constants cannot all be holes has no template row.
        if let Ok((template, values)) = stub_template(stub, target, params) {
            runners.push((system, "generate", patch_runner(cache, template, values)));
        }
    }
    cranelift_runners(&mut runners, stub, p);
    Ok(runners)
}

#[cfg(feature = "cranelift")]
fn cranelift_runners<'a>(
    runners: &mut Vec<(&'static str, &'static str, Runner<'a>)>,
    stub: StubKind,
    p: &'a Params,
) {
    use crate::clif::{Cranelift, OptLevel, supports};
    if !supports(stub) {
        return;
    }
    // The thread pointer's word: any address will do for compiling.
    let ts_slot = 0x7f00_0000_0040;
    for (opt, system) in [(OptLevel::Speed, sys::SPEED), (OptLevel::None, sys::NONE)] {
        if let Ok(mut c) = Cranelift::new(opt) {
            runners.push((
                system,
                "compile_only",
                simple(move || c.compile(stub, p, ts_slot)),
            ));
        }
        if let Ok(mut c) = Cranelift::new(opt) {
            runners.push((
                system,
                "to_runnable",
                simple(move || c.install(stub, p, ts_slot).map(|r| r.len)),
            ));
        }
    }
}

#[cfg(not(feature = "cranelift"))]
fn cranelift_runners<'a>(
    _runners: &mut Vec<(&'static str, &'static str, Runner<'a>)>,
    _stub: StubKind,
    _p: &'a Params,
) {
}

/// The Cranelift peers of `stub` made runnable: (system, address, length).
#[cfg(feature = "cranelift")]
fn cranelift_peers(
    stub: StubKind,
    p: &Params,
    ts_slot: u64,
    keep: &mut Vec<Box<dyn std::any::Any>>,
) -> Result<Vec<(&'static str, u64, u64)>, String> {
    use crate::clif::{Cranelift, OptLevel, supports};
    let mut peers = Vec::new();
    if supports(stub) {
        for opt in [OptLevel::Speed, OptLevel::None] {
            let mut c = Cranelift::new(opt)?;
            let r = c.install(stub, p, ts_slot)?;
            peers.push((opt.system(), r.addr, r.len));
            keep.push(Box::new(c));
        }
    }
    Ok(peers)
}

#[cfg(not(feature = "cranelift"))]
fn cranelift_peers(
    _stub: StubKind,
    _p: &Params,
    _ts_slot: u64,
    _keep: &mut Vec<Box<dyn std::any::Any>>,
) -> Result<Vec<(&'static str, u64, u64)>, String> {
    Ok(Vec::new())
}

/// The instruction texts of an executed trace, from the code it ran.
fn trace_text(code: &[u8], base: u64, trace: &[u64]) -> Vec<String> {
    let insns = lil::disasm::disassemble(Target::X64, code, base);
    let by_addr: HashMap<u64, &str> = insns.iter().map(|i| (i.addr, i.text.as_str())).collect();
    trace
        .iter()
        .map(|a| {
            by_addr
                .get(a)
                .map_or_else(|| format!("{a:#x}?"), |t| (*t).to_owned())
        })
        .collect()
}

/// Which mnemonics LIL's executed path has more (and fewer) of than the
/// hand-written one.
fn mnemonic_difference(lil: Option<&Vec<String>>, hand: Option<&Vec<String>>) -> String {
    let (Some(lil), Some(hand)) = (lil, hand) else {
        return "no trace".to_owned();
    };
    let count = |t: &Vec<String>| {
        let mut m: HashMap<String, i64> = HashMap::new();
        for s in t {
            *m.entry(s.split_whitespace().next().unwrap_or("").to_owned())
                .or_default() += 1;
        }
        m
    };
    let (l, h) = (count(lil), count(hand));
    let mut keys: Vec<&String> = l.keys().chain(h.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut extra = Vec::new();
    for k in keys {
        let d = l.get(k).copied().unwrap_or(0) - h.get(k).copied().unwrap_or(0);
        if d != 0 {
            extra.push(format!("{d:+} {k}"));
        }
    }
    format!("LIL − hand: {} (listing below)", extra.join(", "))
}
