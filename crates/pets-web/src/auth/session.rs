//! Admin sessions: a signed cookie any replica accepts, that the server can
//! end and whose lifetime the server decides.
//!
//! The signing key is derived from the secret (the admin password, or
//! `SESSION_KEY_FILE` when given) with Argon2id: slow and memory-hard, so a
//! captured cookie does not let anyone test guesses at the password offline
//! at any useful rate. The salt is fixed and specific to pets, because every
//! replica given the same secret must derive the same key without talking
//! to the others; it still makes tables computed for anything else useless.
//!
//! A cookie is `<id>.<issued>.<mac>`: a random session id, the Unix second it
//! was issued, and an HMAC of both. It is valid for [`SESSION_TTL`] from its
//! issue, whatever the browser keeps, and not once its id was revoked.

use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long a login lasts, counted by the server from its issue.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// How far in the future an issue time may be (clocks of replicas differ).
const CLOCK_SKEW: u64 = 60;
/// Specific to pets and to this cookie format.
const SALT: &[u8] = b"pets admin session key, v2";

/// The key sessions are signed with. No `Debug`: it must never be printed.
pub struct SessionKey([u8; 32]);

/// A valid session, as read from its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// 128 random bits, hex.
    pub id: String,
    pub issued: u64,
}

impl Session {
    /// When the server stops accepting it.
    pub fn expires(&self) -> u64 {
        self.issued + SESSION_TTL.as_secs()
    }
}

impl SessionKey {
    /// Argon2id with its recommended cost (19 MiB, two passes).
    pub fn derive(secret: &[u8]) -> Self {
        let params = Params::new(19 * 1024, 2, 1, Some(32)).expect("valid Argon2 parameters");
        let mut key = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(secret, SALT, &mut key)
            .expect("Argon2 takes any secret");
        Self(key)
    }

    /// A new session issued at `now`, and its cookie value.
    pub fn issue(&self, now: u64) -> (Session, String) {
        let session = Session {
            id: hex::encode(rand::random::<[u8; 16]>()),
            issued: now,
        };
        let cookie = format!(
            "{}.{}.{}",
            session.id,
            session.issued,
            hex::encode(self.mac(&session.id, session.issued))
        );
        (session, cookie)
    }

    /// The session a cookie carries, if it is signed with this key and its
    /// lifetime has not run out at `now`.
    pub fn verify(&self, cookie: &str, now: u64) -> Option<Session> {
        let mut parts = cookie.split('.');
        let (id, issued, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || id.len() != 32
            || !id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return None;
        }
        let issued: u64 = issued.parse().ok()?;
        let mac = hex::decode(mac).ok()?;
        let mut check = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key");
        check.update(format!("{id}.{issued}").as_bytes());
        check.verify_slice(&mac).ok()?;
        let session = Session {
            id: id.to_owned(),
            issued,
        };
        (issued <= now + CLOCK_SKEW && now < session.expires()).then_some(session)
    }

    fn mac(&self, id: &str, issued: u64) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(format!("{id}.{issued}").as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_session_verifies_only_under_the_same_secret_and_within_its_lifetime() {
        let key = SessionKey::derive(b"s3cret");
        let (session, cookie) = key.issue(NOW);
        assert_eq!(key.verify(&cookie, NOW + 10), Some(session.clone()));
        assert_eq!(
            SessionKey::derive(b"s3cret").verify(&cookie, NOW),
            Some(session)
        );
        assert!(SessionKey::derive(b"other").verify(&cookie, NOW).is_none());
        let ttl = SESSION_TTL.as_secs();
        assert!(
            key.verify(&cookie, NOW + ttl).is_none(),
            "the server's lifetime"
        );
        assert!(
            key.verify(&cookie, NOW - 3600).is_none(),
            "issued in the future"
        );
    }

    #[test]
    fn a_tampered_or_forged_cookie_is_refused() {
        let key = SessionKey::derive(b"s3cret");
        let (session, cookie) = key.issue(NOW);
        let mac = cookie.rsplit('.').next().unwrap();
        // Claiming a later issue (a longer life) breaks the signature.
        let later = format!("{}.{}.{mac}", session.id, NOW + 3600);
        assert!(key.verify(&later, NOW + 10).is_none());
        for junk in ["", "garbage", "a.b.c", &format!("{cookie}.x"), "..."] {
            assert!(key.verify(junk, NOW).is_none(), "{junk}");
        }
        // The old format (an expiry the client chose) is not accepted.
        assert!(key
            .verify(&format!("{}.{mac}", NOW + 1_000_000), NOW)
            .is_none());
    }
}
