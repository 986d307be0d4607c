//! The rules: planning a command from immutable facts ([`plan`]), judging
//! a batch against the state a store loaded ([`decision`]), and placing
//! the verdict in the audit chain at its commit time ([`seal`],
//! [`restamp`]).

pub(crate) mod decision;
pub(crate) mod plan;
pub(crate) mod restamp;
pub(crate) mod seal;

#[cfg(test)]
mod book_and_seal_model;
