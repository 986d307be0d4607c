//! The rules: planning a command from immutable facts ([`plan`]), judging
//! a batch against the state a store loaded ([`decision`]), and placing
//! the verdict in the audit chain ([`seal`]).

pub(crate) mod decision;
pub(crate) mod plan;
pub(crate) mod seal;
