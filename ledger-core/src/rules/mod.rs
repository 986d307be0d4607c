//! The rules: planning a command from immutable facts ([`plan`]) and
//! judging a batch against the state a store loaded ([`decision`]).

pub(crate) mod decision;
pub(crate) mod plan;
