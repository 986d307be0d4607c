//! The security suite: one module per threat.

pub mod csrf;
pub mod isolation;
pub mod webhook;
