//! The security suite, one module per threat (issue 8):
//!
//! | threat | tests |
//! |---|---|
//! | another user's ids | `isolation` (routes read from the OpenAPI document) |
//! | forged, expired, revoked tokens | `tokens` |
//! | CSRF on cookie-authenticated writes | `csrf` |
//! | session fixation | `session_fixation` |
//! | reset tokens reused or late | `reset_tokens` |
//! | webhook: bad signature, replay, old timestamp | `webhook` |
//! | bodies over the limit, malformed JSON | `bodies` |
//! | SQL, HTML, odd Unicode stored literally | `literal_strings` |
//! | login throttling | `throttling` |
//! | the outside review's findings at the HTTP edge (issue 20) | `review`; the rest in `ledger_core::conformance::hardening` |

pub mod bodies;
pub mod csrf;
pub mod isolation;
pub mod literal_strings;
pub mod reset_tokens;
pub mod review;
pub mod session_fixation;
pub mod throttling;
pub mod tokens;
pub mod webhook;
