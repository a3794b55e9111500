//! What both LIL backends share.

pub mod cache;
