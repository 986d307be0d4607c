//! The users of the identity and migration cases.

use std::net::IpAddr;

use ledger_core::conformance::Harness;
use ledger_core::identity::Device;
use ledger_core::{Login, LoginRequest, Registration};

pub const PASSWORD: &str = "correct horse battery staple";

pub fn registration(email: &str, full_name: &str) -> Registration {
    Registration { email: email.into(), password: PASSWORD.into(), full_name: full_name.into() }
}

pub fn device(label: &str) -> Device {
    Device::new(Some("test agent"), Some(IpAddr::from([192, 0, 2, 10])), Some(label)).unwrap()
}

pub async fn login_with(h: &Harness, email: &str, device: Device) -> Login {
    let request = LoginRequest { email: email.into(), password: PASSWORD.into(), device };
    h.ledger.login(request).await.unwrap()
}
