//! The admin console's login.
//!
//! The password comes from a Swarm secret. It is kept only as a digest and
//! compared in constant time. A session is a signed cookie any replica
//! accepts ([`session`]); logging out ends it on every replica through the
//! store. Failed logins are slowed and then refused ([`throttle`]), per
//! client as seen through trusted proxies ([`client`]).

pub mod client;
pub mod session;
pub mod throttle;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use self::session::{Session, SessionKey};

pub const SESSION_COOKIE: &str = "pets_admin";

/// The value of the cookie `name` in a request's headers, if it has one.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    axum_extra::extract::CookieJar::from_headers(headers)
        .get(name)
        .map(|c| c.value().to_owned())
}

pub struct AdminAuth {
    password_digest: [u8; 32],
    key: SessionKey,
}

impl AdminAuth {
    /// Sessions are signed with a key derived from `session_secret` when
    /// given (`SESSION_KEY_FILE`), else from the password.
    pub fn new(password: &str, session_secret: Option<&str>) -> Self {
        let secret = session_secret.unwrap_or(password);
        Self {
            password_digest: Sha256::digest(password.as_bytes()).into(),
            key: SessionKey::derive(secret.as_bytes()),
        }
    }

    pub fn password_matches(&self, attempt: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(attempt.as_bytes()).into();
        digest.ct_eq(&self.password_digest).into()
    }

    /// A new session and its cookie value.
    pub fn new_session(&self) -> (Session, String) {
        self.key.issue(pets_store::unix_now())
    }

    /// The session a cookie carries, if valid now (revocation aside).
    pub fn session(&self, cookie: &str) -> Option<Session> {
        self.key.verify(cookie, pets_store::unix_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_match_exactly() {
        let auth = AdminAuth::new("s3cret", None);
        assert!(auth.password_matches("s3cret"));
        assert!(!auth.password_matches("s3cret "));
        assert!(!auth.password_matches(""));
    }

    #[test]
    fn a_separate_session_key_signs_sessions() {
        let auth = AdminAuth::new("s3cret", Some("a long random key"));
        let (_, cookie) = auth.new_session();
        assert!(auth.session(&cookie).is_some());
        assert!(AdminAuth::new("s3cret", None).session(&cookie).is_none());
        assert!(AdminAuth::new("changed", Some("a long random key"))
            .session(&cookie)
            .is_some());
    }
}
