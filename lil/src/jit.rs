//! [`Jit`]: what a host VM keeps to turn LIL text into callable stubs.
//!
//! A `Jit` owns one [`CodeCache`] (W^X, many stubs per page) and the
//! [`HostEnv`] every stub is generated for, and always generates code for
//! the machine it runs on. Installed stubs live as long as the `Jit`: the
//! addresses it hands out dangle once it is dropped.

use lil_check::CheckedStub;
use lil_codegen::cache::CacheStats;
use lil_codegen::{CodeCache, CompiledStub, HostEnv, InstalledCode, Target};

use crate::{Error, check_text, compile_checked_for, host_target};

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
    cache: CodeCache,
    env: HostEnv,
    target: Target,
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
        self.install_checked(&check_text(text)?)
    }

    /// Compile and install a checked stub (for example one built with
    /// `lil_parse!` and checked with [`crate::check::check`]).
    pub fn install_checked(&self, stub: &CheckedStub) -> Result<Installed, Error> {
        let compiled = compile_checked_for(self.target, stub, &self.env)?;
        let code = self.cache.install(&compiled.code)?;
        Ok(Installed { code, compiled })
    }

    /// Free an installed stub so its bytes can be reused. No thread may be
    /// running it or run it afterwards.
    pub fn free(&self, stub: Installed) -> Result<(), Error> {
        Ok(self.cache.free(stub.code)?)
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
}

impl Installed {
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
        const {
            assert!(
                size_of::<F>() == size_of::<usize>(),
                "as_fn needs a function pointer type"
            )
        };
        let addr = self.code.addr();
        // SAFETY: `F` is pointer-sized (checked above); the caller vouches
        // that it is a function pointer type matching the code at `addr`.
        unsafe { std::mem::transmute_copy::<usize, F>(&addr) }
    }
}
