//! Shared helpers for the cross-crate tests.

pub mod corpus;
pub mod differential;
pub mod exec;
pub mod semantics;
