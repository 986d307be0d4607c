//! Every request and response body of the API, in one place for the
//! OpenAPI document and for embedders. Each is defined beside its routes
//! (`routes/<area>/dto.rs`); amounts cross JSON as strings ("12.50"), never
//! as numbers, so no float ever touches money, and request bodies refuse
//! unknown fields, so a misspelt field is an error rather than ignored.

pub use crate::routes::accounts::dto::*;
pub use crate::routes::audit::dto::*;
pub use crate::routes::auth::dto::*;
pub use crate::routes::balances::dto::*;
pub use crate::routes::entries::dto::*;
pub use crate::routes::health::dto::*;
pub use crate::routes::history::dto::*;
pub use crate::routes::ledger_accounts::dto::*;
pub use crate::routes::money::dto::*;
pub use crate::routes::payees::dto::*;
pub use crate::routes::profile::dto::*;
pub use crate::routes::reversals::dto::*;
pub use crate::routes::webhook::dto::*;
