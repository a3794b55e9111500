//! The standard LIL stub library: generators that take a host-VM
//! description ([`VmLayout`]) and produce checked stubs.
//!
//! Each module owns one family of runtime stubs, written as LIL a reader can
//! follow (this crate is the showcase of the language):
//!
//! | module | stubs |
//! |---|---|
//! | [`alloc`] | object allocation (size + vtable; per class), array allocation |
//! | [`typecheck`] | checkcast, instanceof, aastore: general and per class (DRLVM's depth + superclass table) |
//! | [`jni`] | JNI-style native wrappers generated from a method signature |
//! | [`compile_me`] | compile-me: the per-method trampoline and the generic stub |
//! | [`throw`] | throw, lazy throw, throw of a fixed exception class |
//! | [`monitor`] | monitor enter/exit: `cas` thin lock, slow path under an M2N frame |
//! | [`class_init`] | the class-initialisation check |
//! | [`interface`] | interface vtable lookup |
//! | [`safepoint`] | the safepoint poll |
//! | [`per_class`] | per-class type checks and allocation from templates: a copy and a few stores per class |
//!
//! Stubs of a fixed shape are written with `lil_parse!`: their text is
//! parsed when this crate compiles, and at run time only the `{…}` holes
//! (offsets, addresses) are filled, with no parsing; the per-class
//! generators the JIT calls once per class cost a checker pass and nothing
//! else. The JNI wrapper's shape depends on the method signature, so its
//! generator writes LIL text and parses it. Every generator returns a
//! [`CheckedStub`], ready for any backend; none knows which VM it serves
//! beyond the [`VmLayout`] it is given.
//!
//! ```
//! use lil_stubs::{VmLayout, alloc};
//!
//! let vm = VmLayout::example();
//! let stub = alloc::new_object(&vm)?;
//! assert!(stub.summary().pushes_m2n, "the slow path is under an M2N frame");
//! println!("{}", stub.stub());
//! # Ok::<(), lil_stubs::GenError>(())
//! ```

#![warn(missing_docs)]

pub mod alloc;
pub mod class_init;
pub mod compile_me;
pub mod interface;
pub mod jni;
pub mod layout;
pub mod monitor;
pub mod per_class;
pub mod safepoint;
pub mod throw;
pub mod typecheck;

pub use layout::{
    ClassInfo, ClassLayout, ExceptionClasses, HandleLayout, Helpers, LockLayout, ObjectLayout,
    ThreadLayout, VmLayout, VtableLayout,
};
pub use lil_check::CheckedStub;

use lil_syntax::{Stub, SyntaxErrors};

/// Why a generator could not produce a stub.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A value from the layout does not fit where the stub uses it (an
    /// offset beyond 64 bits, a count beyond 65535).
    #[error("a layout value does not fit the stub: {0}")]
    Syntax(#[from] SyntaxErrors),
    /// The generated stub failed the checker: a bug in the generator (the
    /// text is included so it can be reproduced).
    #[error("the generated stub is not valid: {diagnostics}\n{text}")]
    Check {
        /// The checker's diagnostics.
        diagnostics: lil_check::Diagnostics,
        /// The stub, printed.
        text: String,
    },
    /// The description asks for something the generator cannot do.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Making or instantiating a template failed.
    #[error("template: {0}")]
    Template(#[from] lil::Error),
}

/// Check a generated stub.
pub(crate) fn checked(stub: Stub) -> Result<CheckedStub, GenError> {
    lil_check::check_owned(stub).map_err(|diagnostics| GenError::Check {
        diagnostics,
        text: String::new(),
    })
}

/// Check a stub generated as text, keeping the text for the error.
pub(crate) fn checked_text(text: &str) -> Result<CheckedStub, GenError> {
    let stub = lil_syntax::parse(text)?;
    lil_check::check_owned(stub).map_err(|diagnostics| GenError::Check {
        text: diagnostics.render("generated.lil", text),
        diagnostics,
    })
}

/// Pointer size of the targets LIL-rs generates code for.
pub(crate) const WORD: i64 = 8;

#[cfg(test)]
pub(crate) mod testing {
    //! Every generator's stub compiles for both targets.
    use lil_check::CheckedStub;
    use lil_codegen::{Backend, HostEnv};

    /// Compile for x86-64 and AArch64; panic with the stub on failure.
    #[track_caller]
    pub fn compiles(stub: &CheckedStub) {
        let env = HostEnv::default();
        let backends: [&dyn Backend; 2] = [
            &lil_codegen_x64::X64Backend,
            &lil_codegen_arm64::Arm64Backend,
        ];
        for backend in backends {
            if let Err(e) = backend.compile(stub, &env) {
                panic!("{:?}: {e}\n{}", backend.target(), stub.stub());
            }
        }
        assert!(
            stub.warnings().is_empty(),
            "warnings: {:?}\n{}",
            stub.warnings(),
            stub.stub()
        );
    }
}
