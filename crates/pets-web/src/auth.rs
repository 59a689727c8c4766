//! The admin console's login.
//!
//! The password comes from a Swarm secret. It is kept only as a digest and
//! compared in constant time. A session is a cookie holding its expiry and an
//! HMAC of it under a key derived from the password, so any replica given the
//! same secret accepts it: no sticky sessions, no session store. Repeated
//! failures from one address are slowed down and then refused for a while.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub const SESSION_COOKIE: &str = "pets_admin";
/// How long a login lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

pub struct AdminAuth {
    password_digest: [u8; 32],
    session_key: [u8; 32],
}

impl AdminAuth {
    pub fn new(password: &str) -> Self {
        let mut key = HmacSha256::new_from_slice(password.as_bytes()).expect("HMAC takes any key");
        key.update(b"pets admin session key v1");
        Self {
            password_digest: Sha256::digest(password.as_bytes()).into(),
            session_key: key.finalize().into_bytes().into(),
        }
    }

    pub fn password_matches(&self, attempt: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(attempt.as_bytes()).into();
        digest.ct_eq(&self.password_digest).into()
    }

    /// A new session cookie value: `<expiry>.<mac>`.
    pub fn new_session(&self) -> String {
        let expires = unix_now() + SESSION_TTL.as_secs();
        format!("{expires}.{}", hex::encode(self.mac(expires)))
    }

    pub fn session_is_valid(&self, value: &str) -> bool {
        let Some((expires, mac)) = value.split_once('.') else {
            return false;
        };
        let (Ok(expires), Ok(mac)) = (expires.parse::<u64>(), hex::decode(mac)) else {
            return false;
        };
        if expires <= unix_now() {
            return false;
        }
        let mut check = HmacSha256::new_from_slice(&self.session_key).expect("HMAC takes any key");
        check.update(expires.to_string().as_bytes());
        check.verify_slice(&mac).is_ok()
    }

    fn mac(&self, expires: u64) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.session_key).expect("HMAC takes any key");
        mac.update(expires.to_string().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Failures allowed before an address must wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait imposed.
const MAX_LOCKOUT: Duration = Duration::from_secs(60);
/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Added to every failed attempt, so guessing is slow even before lockout.
pub const FAILURE_DELAY: Duration = Duration::from_millis(300);

/// Failed logins per client address.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl LoginThrottle {
    /// `Err(seconds)` while the address must wait.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&client) {
            Some(&(count, last)) if count >= FREE_FAILURES => {
                let wait = lockout(count);
                let elapsed = last.elapsed();
                if elapsed < wait {
                    Err((wait - elapsed).as_secs().max(1))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, client: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 10_000 {
            failures.retain(|_, (_, last)| last.elapsed() < FORGET_AFTER);
        }
        let entry = failures.entry(client).or_insert((0, Instant::now()));
        if entry.1.elapsed() > FORGET_AFTER {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    pub fn succeeded(&self, client: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&client);
    }
}

fn lockout(count: u32) -> Duration {
    let doublings = (count - FREE_FAILURES).min(6);
    (Duration::from_secs(1) * 2u32.pow(doublings)).min(MAX_LOCKOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_verify_only_under_the_same_secret() {
        let auth = AdminAuth::new("s3cret");
        let session = auth.new_session();
        assert!(auth.session_is_valid(&session));
        assert!(AdminAuth::new("s3cret").session_is_valid(&session));
        assert!(!AdminAuth::new("other").session_is_valid(&session));
        let (expires, mac) = session.split_once('.').unwrap();
        let later = format!("{}.{mac}", expires.parse::<u64>().unwrap() + 1);
        assert!(!auth.session_is_valid(&later));
        assert!(!auth.session_is_valid("garbage"));
        assert!(!auth.session_is_valid(&format!("1.{}", hex::encode(auth.mac(1)))));
    }

    #[test]
    fn passwords_match_exactly() {
        let auth = AdminAuth::new("s3cret");
        assert!(auth.password_matches("s3cret"));
        assert!(!auth.password_matches("s3cret "));
        assert!(!auth.password_matches(""));
    }

    #[test]
    fn repeated_failures_lock_an_address_out() {
        let throttle = LoginThrottle::default();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        for _ in 0..FREE_FAILURES {
            assert!(throttle.check(ip).is_ok());
            throttle.failed(ip);
        }
        assert!(throttle.check(ip).is_err());
        assert!(throttle.check("10.1.2.4".parse().unwrap()).is_ok());
        throttle.succeeded(ip);
        assert!(throttle.check(ip).is_ok());
    }
}
