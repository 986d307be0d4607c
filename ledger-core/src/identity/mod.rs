//! Identity and security: users, passwords, profiles, KYC, sessions,
//! password resets, login throttling and the actors that authorization uses.

pub mod actor;
pub mod email;
pub mod kyc;
pub mod notifier;
pub mod password;
pub mod profile;
pub mod session;
pub mod throttle;
pub mod token;
pub mod user;

pub use actor::{Actor, Role};
pub use email::Email;
pub use kyc::{KycStatus, KycTransition};
pub use notifier::{LogNotifier, Notifier};
pub use password::{HashParams, Password, PasswordDigest};
pub use profile::{Profile, ProfilePatch};
pub use session::{Device, ResetToken, Session, SessionId, SessionPolicy};
pub use throttle::{LoginThrottle, ThrottleLimit, ThrottlePolicy};
pub use token::SecretToken;
pub use user::{User, UserView};
