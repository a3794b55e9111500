//! The LIL-rs benchmark harness: every performance number of the project
//! comes from here, measured in one run with the peers side by side.
//!
//! For a fixed set of stubs ([`stubs::StubKind`]: Figure 1 allocation,
//! per-class `instanceof`, the Figure 3 JNI wrapper, the generic compile-me
//! stub, monitor enter) it measures, against what a VM author would
//! otherwise use:
//!
//! - **generation latency**: LIL text → runnable code and the `lil_parse!`
//!   template path, split into parse / check / emit / install; hand-written
//!   `dynasm!` ([`hand_x64`], [`hand_arm64`]: the floor); Cranelift
//!   compile-only at `speed` and `none` (`clif`);
//! - **code size and fast-path instructions**, counted exactly (x86-64 by
//!   single-stepping, [`count`]; AArch64 under the emulator, `emu`);
//! - **time per call** of LIL, hand-written, Cranelift and rustc
//!   ([`rust_peers`]) code on one in-process VM ([`runtime`]);
//! - **scaling** to 10^6 per-class stubs in one code cache ([`scaling`],
//!   charted by [`chart`]);
//! - the **front end**: DRLVM corpus parse throughput ([`corpus`]), parse and
//!   check of Figure 1, checker linearity ([`frontend`]);
//!
//! and reports each against the project's goals ([`report::Goal`]).
//! [`harness::run`] does all of it; `lil bench` and `cargo bench` call it.
//!
//! ```no_run
//! let report = lil_bench::harness::run(&lil_bench::harness::Options {
//!     quick: true,
//!     scaling_sizes: vec![1_000],
//!     ..Default::default()
//! })?;
//! println!("{}", report.markdown());
//! # Ok::<(), String>(())
//! ```
//!
//! Invariant: ratios are measured in one process, interleaved
//! ([`measure::Interleaved`]); absolute times are indicative only.

#![warn(missing_docs)]

pub mod chart;
#[cfg(feature = "cranelift")]
pub mod clif;
pub mod corpus;
pub mod count;
#[cfg(feature = "emulator")]
pub mod emu;
pub mod frontend;
pub mod hand_arm64;
pub mod hand_x64;
pub mod harness;
pub mod measure;
pub mod native;
pub mod report;
pub mod runtime;
pub mod rust_peers;
pub mod scaling;
pub mod stubs;

pub use harness::{Options, run};
pub use report::Report;
