//! The operator console's gate: pets' own login (`pets_web::auth`) for
//! `pets paas`, with the password kept as a digest, failed attempts
//! throttled per client, and sessions that a logout ends here, not only in
//! the browser. A leaf: the state holds it, the console's handlers use it.

use http::HeaderMap;
use pets_store::RevokedSessions;
use pets_web::auth::session::Session;
use pets_web::auth::throttle::LoginThrottle;
use pets_web::auth::AdminAuth;
use secrecy::{ExposeSecret, SecretString};

/// The console's session cookie.
pub const COOKIE: &str = "paas_admin";

/// The console's login: present only with a password.
pub struct Operator {
    pub auth: AdminAuth,
    pub throttle: LoginThrottle,
    /// Sessions ended by logging out.
    pub revoked: RevokedSessions,
}

impl Operator {
    pub fn new(password: &SecretString) -> Self {
        Self {
            auth: AdminAuth::new(password.expose_secret(), None),
            throttle: LoginThrottle::default(),
            revoked: RevokedSessions::default(),
        }
    }

    /// The live session a request's cookie carries, if any.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let value = pets_web::auth::cookie(headers, COOKIE)?;
        self.auth
            .session(&value)
            .filter(|s| !self.revoked.is_revoked(&s.id))
    }
}
