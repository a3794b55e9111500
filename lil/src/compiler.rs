//! [`Compiler`]: one thread's reusable buffers for generating many stubs.
//!
//! Generating a small stub costs a few microseconds, and a good part of it
//! would be allocating and freeing the buffers every stage fills: the
//! parser's AST, the checker's per-instruction facts, the code and its
//! side tables. A VM that generates stubs at run time (per class, per
//! method, per call site) keeps one `Compiler` per generating thread, as it
//! would keep one Cranelift `Context`, and those buffers are allocated once.
//!
//! Every compile gives the same answer as the one-shot functions
//! ([`crate::compile_for`], [`crate::compile_checked_for`]), whatever it
//! compiled before: `tests/tests/compiler.rs`, the digests of `lil-tests`
//! and the `reuse` fuzz target check it.

use lil_check::{CheckedStub, Checker, Diagnostics};
use lil_codegen::{
    CodeCache, CompileOptions, CompileScratch, CompiledStub, HostEnv, InstalledCode, Target,
};
use lil_syntax::{Arg, Stub};

use crate::{Error, backend, host_target};

/// Reusable buffers for parsing, checking and compiling stubs one after
/// another on one thread.
///
/// Each compile borrows the result until the next one: copy the code out
/// (installing it does) before compiling the next stub.
///
/// ```
/// use lil::{Compiler, HostEnv, Target};
/// use lil::syntax::Arg;
///
/// let env = HostEnv::default();
/// let mut compiler = Compiler::new(Target::X64);
/// for offset in [8, 16, 24] {
///     let text = "entry 0:platform:pint:g8; ld r, [i0+%0i:g8]; ret;";
///     let code = compiler.compile_text(text, &[Arg::int(offset)], &env)?;
///     assert_eq!(code.target, Target::X64);
/// }
/// // What the checker learned about the last stub stays available.
/// assert!(compiler.checked().is_some_and(|c| c.warnings().is_empty()));
/// # Ok::<(), lil::Error>(())
/// ```
#[derive(Debug)]
pub struct Compiler {
    target: Target,
    options: CompileOptions,
    checker: Checker,
    /// The last stub that passed the checker; its buffers are recycled by
    /// the next compile.
    checked: Option<CheckedStub>,
    /// A stub the parser fills in place when there is no checked stub to
    /// recycle (after a syntax error, or a stub built in Rust).
    spare: Option<Stub>,
    /// The last compile's output, reused by the next.
    out: CompiledStub,
    /// The backend's working memory (its frame plan), reused by the next.
    scratch: CompileScratch,
}

impl Compiler {
    /// A compiler generating code for `target`, with default options.
    pub fn new(target: Target) -> Compiler {
        Compiler::with_options(target, CompileOptions::default())
    }

    /// A compiler for the machine this runs on, or
    /// [`Error::UnsupportedHost`].
    pub fn for_host() -> Result<Compiler, Error> {
        Ok(Compiler::new(host_target()?))
    }

    /// A compiler generating code for `target` with `options`.
    pub fn with_options(target: Target, options: CompileOptions) -> Compiler {
        Compiler {
            target,
            options,
            checker: Checker::new(),
            checked: None,
            spare: None,
            out: CompiledStub::new(target),
            scratch: CompileScratch::new(),
        }
    }

    /// The target code is generated for.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Parse `text` with the runtime constants `args` (its `%N` directives),
    /// check it and compile it for `env`.
    ///
    /// The same answer as [`crate::syntax::parse_with`], then
    /// [`crate::check::check_owned`], then [`crate::compile_checked_for`].
    pub fn compile_text(
        &mut self,
        text: &str,
        args: &[Arg<'_>],
        env: &HostEnv,
    ) -> Result<&CompiledStub, Error> {
        // Parsed into the last checked stub's buffers, or the spare's; the
        // stub stays in this frame until the checker takes it, rather than
        // being returned from a helper (another copy of its 100 bytes).
        let mut stub = match self.checker.recycle_from(&mut self.checked) {
            Some(old) => old,
            None => match self.spare.take() {
                Some(spare) => spare,
                None => return self.compile_fresh(text, args, env),
            },
        };
        if let Err(errors) = lil_syntax::parse_with_into(text, args, &mut stub) {
            self.spare = Some(stub);
            return Err(errors.into());
        }
        let checked = self.checker.check(stub);
        self.compile_checked(checked, env)
    }

    /// Check and compile a stub built in Rust (with `lil::lil_parse!` or by
    /// hand) for `env`.
    pub fn compile_stub(&mut self, stub: Stub, env: &HostEnv) -> Result<&CompiledStub, Error> {
        // The stub brings its own buffers; the last one's become the spare.
        if let Some(old) = self.checker.recycle_from(&mut self.checked) {
            self.spare = Some(old);
        }
        let checked = self.checker.check(stub);
        self.compile_checked(checked, env)
    }

    /// [`Compiler::compile_text`], then install the code into `cache`.
    pub fn install_text(
        &mut self,
        cache: &CodeCache,
        text: &str,
        args: &[Arg<'_>],
        env: &HostEnv,
    ) -> Result<InstalledCode, Error> {
        let code = self.compile_text(text, args, env)?;
        Ok(cache.install(&code.code)?)
    }

    /// The stub of the last compile (its warnings, its analysis), until the
    /// next compile; `None` when the last compile stopped at a syntax or
    /// check error (a codegen error keeps the checked stub).
    pub fn checked(&self) -> Option<&CheckedStub> {
        self.checked.as_ref()
    }

    /// [`Compiler::compile_text`] with no buffers to parse into: the first
    /// compile, or the first after a check error.
    #[cold]
    #[inline(never)]
    fn compile_fresh(
        &mut self,
        text: &str,
        args: &[Arg<'_>],
        env: &HostEnv,
    ) -> Result<&CompiledStub, Error> {
        let stub = lil_syntax::parse_with(text, args)?;
        let checked = self.checker.check(stub);
        self.compile_checked(checked, env)
    }

    /// Keeps the checker's answer and compiles the stub it holds (or
    /// returns the check's errors).
    // Each caller calls the checker itself: the parsed stub (some 100
    // bytes) then goes from the caller's frame straight to the checker,
    // where passing it to this function first copied it (and its answer
    // was then copied twice into `checked`, not once): 33 instructions a
    // compile.
    #[inline(always)]
    fn compile_checked(
        &mut self,
        checked: Result<CheckedStub, Diagnostics>,
        env: &HostEnv,
    ) -> Result<&CompiledStub, Error> {
        // Kept before the backend reads it: the checker's answer (some 300
        // bytes) is moved once, into its place, not into a local first.
        let checked = self.checked.insert(checked?);
        let target = self.target;
        backend(target)
            .compile_into_with(
                checked,
                env,
                &self.options,
                &mut self.out,
                &mut self.scratch,
            )
            .map_err(|source| Error::Codegen { target, source })?;
        Ok(&self.out)
    }
}
