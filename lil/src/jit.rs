//! [`Jit`]: what a host VM keeps to turn LIL text into callable stubs.
//!
//! A `Jit` owns one [`CodeCache`] (W^X, many stubs per page) and the
//! [`HostEnv`] every stub is generated for, and always generates code for
//! the machine it runs on. Installed stubs live as long as the `Jit`: the
//! addresses it hands out dangle once it is dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use lil_check::CheckedStub;
use lil_codegen::cache::CacheStats;
use lil_codegen::{CodeCache, CompiledStub, HostEnv, InstalledCode, Target};

use crate::debuginfo::{LineTable, StubImage};
use crate::perf::{JitDump, PerfMap};
use crate::template::{Hole, Template, TemplateError};
use crate::{Error, check_text, compile_checked_for, gdb, host_target};

/// Compiles stubs for this machine and installs them in its own code cache.
///
/// ```
/// # #[cfg(all(target_arch = "x86_64", target_os = "linux"))] {
/// use lil::{HostEnv, Jit};
/// let jit = Jit::new(HostEnv::default())?;
/// let add = jit.install("entry 0:platform:g8,g8:g8; r = i0 + i1; ret;")?;
/// // SAFETY: the stub's signature is `platform:g8,g8:g8`, i.e. this C type,
/// // and `jit` outlives the call.
/// let f = unsafe { add.as_fn::<extern "C" fn(u64, u64) -> u64>() };
/// assert_eq!(f(40, 2), 42);
/// assert_eq!(jit.stats().live_stubs, 1);
/// # }
/// # Ok::<(), lil::Error>(())
/// ```
#[derive(Debug)]
pub struct Jit {
    // Declared first so it is dropped first: debuggers forget the stubs
    // before their code is unmapped.
    tools: Tools,
    cache: CodeCache,
    env: HostEnv,
    target: Target,
}

/// The debugger and profiler integrations a [`Jit`] reports stubs to.
#[derive(Debug, Default)]
struct Tools {
    perf_map: Option<PerfMap>,
    jitdump: Option<JitDump>,
    gdb: Option<Mutex<HashMap<u64, gdb::Registration>>>,
    source_dir: Option<PathBuf>,
}

impl Tools {
    fn any(&self) -> bool {
        self.perf_map.is_some() || self.jitdump.is_some() || self.gdb.is_some()
    }
}

impl Jit {
    /// A JIT for this machine with a code cache of the default capacity
    /// (256 MiB of address space, committed as used).
    pub fn new(env: HostEnv) -> Result<Jit, Error> {
        Jit::with_cache(CodeCache::with_default_capacity()?, env)
    }

    /// A JIT for this machine that installs into `cache`.
    pub fn with_cache(cache: CodeCache, env: HostEnv) -> Result<Jit, Error> {
        Ok(Jit {
            tools: Tools::default(),
            cache,
            env,
            target: host_target()?,
        })
    }

    /// The target code is generated for: this machine's.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The host environment stubs are generated for.
    pub fn env(&self) -> &HostEnv {
        &self.env
    }

    /// The code cache stubs are installed into.
    pub fn cache(&self) -> &CodeCache {
        &self.cache
    }

    /// Parse, check, compile and install a stub written as LIL text.
    pub fn install(&self, text: &str) -> Result<Installed, Error> {
        self.install_checked_from(None, &check_text(text)?, Some(text))
    }

    /// [`Jit::install`], naming the stub for debuggers and profilers (the
    /// name is the symbol `gdb` and `perf` show; unnamed stubs are called
    /// `lil_stub_<id>`).
    pub fn install_named(&self, name: &str, text: &str) -> Result<Installed, Error> {
        self.install_checked_from(Some(name), &check_text(text)?, Some(text))
    }

    /// Compile and install a checked stub (for example one built with
    /// `lil_parse!` and checked with [`crate::check::check`]).
    pub fn install_checked(&self, stub: &CheckedStub) -> Result<Installed, Error> {
        self.install_checked_from(None, stub, None)
    }

    /// Compile and install a checked stub, with an optional name and the
    /// text it was parsed from (for the source lines debuggers and
    /// profilers show; without it, lines are those of the printed stub).
    pub fn install_checked_from(
        &self,
        name: Option<&str>,
        stub: &CheckedStub,
        source: Option<&str>,
    ) -> Result<Installed, Error> {
        let compiled = compile_checked_for(self.target, stub, &self.env)?;
        let code = self.cache.install(&compiled.code)?;
        let installed = Installed {
            code,
            compiled,
            name: name.map(Box::from),
        };
        if self.tools.any()
            && let Err(err) = self.announce(&installed, stub, source)
        {
            self.cache.free(code)?;
            return Err(err);
        }
        Ok(installed)
    }

    /// Report a freshly installed stub to the enabled tools.
    fn announce(
        &self,
        installed: &Installed,
        stub: &CheckedStub,
        source: Option<&str>,
    ) -> Result<(), Error> {
        let name = installed.symbol_name();
        let file = self.stub_file(&name, || match source {
            Some(text) => text.to_string(),
            None => stub.stub().to_string(),
        })?;
        let lines = LineTable::new(&installed.compiled, stub.stub(), source, file);
        self.announce_image(installed.code, &name, &installed.compiled, &lines)
    }

    /// The file name the debug information gives a stub's source lines;
    /// with a source directory, the stub's text is written there.
    fn stub_file(&self, name: &str, text: impl FnOnce() -> String) -> Result<String, Error> {
        let stem = file_stem(name);
        match &self.tools.source_dir {
            Some(dir) => {
                let path = dir.join(format!("{stem}.lil"));
                std::fs::write(&path, text()).map_err(|source| Error::Io {
                    what: format!("cannot write the stub source {}", path.display()),
                    source,
                })?;
                Ok(path.display().to_string())
            }
            None => Ok(format!("{stem}.lil")),
        }
    }

    fn announce_image(
        &self,
        code: InstalledCode,
        name: &str,
        compiled: &CompiledStub,
        lines: &LineTable,
    ) -> Result<(), Error> {
        let image = StubImage {
            name,
            addr: code.addr() as u64,
            compiled,
            lines,
        };
        if let Some(map) = &self.tools.perf_map {
            map.record(image.addr, compiled.code.len() as u64, name)?;
        }
        if let Some(dump) = &self.tools.jitdump {
            dump.record(&image)?;
        }
        if let Some(gdb) = &self.tools.gdb {
            let registration = gdb::register(&image)?;
            lock(gdb).insert(code.id(), registration);
        }
        Ok(())
    }

    /// Instantiate `template` with `values` in its holes straight into the
    /// code cache: a copy of the code and a few stores, no compilation.
    /// Returns the cache's handle; free it with [`Jit::free_code`]. The
    /// name, if any, is for debuggers and profilers.
    ///
    /// ```
    /// # #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))] {
    /// use lil::template::{Hole, Template};
    /// use lil::{HostEnv, Jit};
    /// let jit = Jit::new(HostEnv::default())?;
    /// let add_k = jit.template("entry 0:platform:g8:g8; r = i0 + %0i:g8; ret;", &[Hole::Word])?;
    /// let add_5 = jit.install_template(&add_k, &[5], None)?;
    /// // SAFETY: platform:g8:g8, and `jit` keeps the code.
    /// let f = unsafe { add_5.as_fn::<extern "C" fn(u64) -> u64>() };
    /// assert_eq!(f(37), 42);
    /// jit.free_code(add_5)?;
    /// # }
    /// # Ok::<(), lil::Error>(())
    /// ```
    pub fn install_template(
        &self,
        template: &Template,
        values: &[i64],
        name: Option<&str>,
    ) -> Result<InstalledCode, Error> {
        if template.target() != self.target {
            return Err(TemplateError::WrongTarget {
                template: template.target(),
                jit: self.target,
            }
            .into());
        }
        // Instances are small: patch on the stack, then one copy into the cache.
        let len = template.code_len();
        let mut stack = [0u8; 1024];
        let mut heap = Vec::new();
        let buf = if len <= stack.len() {
            &mut stack[..len]
        } else {
            heap.resize(len, 0);
            &mut heap[..]
        };
        template.write(values, buf)?;
        let code = self.cache.install(buf)?;
        if self.tools.any() {
            let name = match name {
                Some(name) => name.to_string(),
                None => format!("lil_stub_{}", code.id()),
            };
            let compiled = template.instantiate(values)?;
            let result = self
                .stub_file(&name, || template.source().to_string())
                .and_then(|file| {
                    let lines = template.line_table(file);
                    self.announce_image(code, &name, &compiled, &lines)
                });
            if let Err(err) = result {
                self.cache.free(code)?;
                return Err(err);
            }
        }
        Ok(code)
    }

    /// A template for this machine from LIL text whose `%0i`, `%1i`, ...
    /// directives are its holes (see [`Template::from_text`]).
    pub fn template(&self, text: &str, holes: &[Hole]) -> Result<Template, Error> {
        Template::from_text(self.target, &self.env, text, holes)
    }

    /// Free code installed by [`Jit::install_template`]. No thread may be
    /// running it or run it afterwards.
    pub fn free_code(&self, code: InstalledCode) -> Result<(), Error> {
        if let Some(gdb) = &self.tools.gdb {
            lock(gdb).remove(&code.id());
        }
        Ok(self.cache.free(code)?)
    }

    /// Free an installed stub so its bytes can be reused. No thread may be
    /// running it or run it afterwards.
    pub fn free(&self, stub: Installed) -> Result<(), Error> {
        if let Some(gdb) = &self.tools.gdb {
            lock(gdb).remove(&stub.code.id());
        }
        Ok(self.cache.free(stub.code)?)
    }

    /// Append a line for every stub installed from now on to the perf map
    /// `/tmp/perf-<pid>.map`, so `perf report` and `perf top` name them.
    pub fn enable_perf_map(&mut self) -> Result<&Path, Error> {
        if self.tools.perf_map.is_none() {
            self.tools.perf_map = Some(PerfMap::open()?);
        }
        Ok(self
            .tools
            .perf_map
            .as_ref()
            .map_or(Path::new(""), |m| m.path()))
    }

    /// Log every stub installed from now on, with its code and LIL source
    /// lines, to `<dir>/jit-<pid>.dump` for `perf inject --jit`. Returns the
    /// file's path.
    pub fn enable_jitdump(&mut self, dir: impl AsRef<Path>) -> Result<&Path, Error> {
        self.tools.jitdump = Some(JitDump::create(dir, self.target)?);
        Ok(self
            .tools
            .jitdump
            .as_ref()
            .map_or(Path::new(""), |d| d.path()))
    }

    /// Register every stub installed from now on with an attached (or
    /// later attached) debugger through the GDB JIT interface, and
    /// unregister it when it is freed or the `Jit` is dropped.
    pub fn enable_gdb(&mut self) {
        self.tools.gdb.get_or_insert_with(Default::default);
    }

    /// Also write each stub's LIL source to `<dir>/<name>.lil` and point the
    /// debug information at it, so `gdb`'s `list` and `perf annotate` can
    /// show the source.
    pub fn enable_source_dir(&mut self, dir: impl Into<PathBuf>) -> Result<(), Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            what: format!("cannot create the source directory {}", dir.display()),
            source,
        })?;
        let dir = dir.canonicalize().unwrap_or(dir);
        self.tools.source_dir = Some(dir);
        Ok(())
    }

    /// Occupancy of the code cache.
    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }
}

/// A stub installed by a [`Jit`]: where its code is, and the code itself
/// (for disassembly at its real address with
/// [`crate::disasm::listing_at`]).
#[derive(Clone, Debug)]
pub struct Installed {
    code: InstalledCode,
    compiled: CompiledStub,
    name: Option<Box<str>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A stub name made safe as a file name.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Installed {
    /// The name the stub was installed with, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The symbol debuggers and profilers know the stub by: its name, or
    /// `lil_stub_<id>` for an unnamed stub.
    pub fn symbol_name(&self) -> String {
        match &self.name {
            Some(name) => name.to_string(),
            None => format!("lil_stub_{}", self.code.id()),
        }
    }

    /// The address of the stub's first instruction, where calls enter it.
    pub fn addr(&self) -> usize {
        self.code.addr()
    }

    /// The cache's handle for the stub.
    pub fn handle(&self) -> InstalledCode {
        self.code
    }

    /// The machine code and source map that were installed.
    pub fn compiled(&self) -> &CompiledStub {
        &self.compiled
    }

    /// The stub's entry point as a function pointer type `F`, such as
    /// `extern "C" fn(u64) -> u64`. `F` must be pointer-sized (checked at
    /// compile time).
    ///
    /// # Safety
    ///
    /// `F` must be an `extern` function pointer type whose ABI and signature
    /// match the stub's entry (`platform` and the other C-ABI conventions
    /// are `extern "C"`; a `managed` or `rth` convention the host described
    /// is whatever the host says), and the [`Jit`] that installed the stub
    /// must outlive every call through the result.
    pub unsafe fn as_fn<F: Copy>(&self) -> F {
        // SAFETY: the caller's obligations are those of `InstalledCode::as_fn`.
        unsafe { self.code.as_fn() }
    }
}
