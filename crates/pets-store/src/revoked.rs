//! Admin sessions ended before their time (a logout), kept in this process
//! until they would have expired anyway: the embedded store's record of
//! them, and `pets paas`' for its operator console. (The Consul store keeps
//! them under `sessions/`, for every replica.)

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::unix_now;
use crate::sync::Locked;

#[derive(Default)]
pub struct RevokedSessions {
    /// Session id to when it would have expired (Unix seconds).
    until: Mutex<HashMap<String, u64>>,
}

impl RevokedSessions {
    /// Ends session `id`, which would have lasted until `until`; forgets the
    /// ones whose time is up meanwhile.
    pub fn revoke(&self, id: &str, until: u64) {
        let mut revoked = self.until.locked();
        let now = unix_now();
        revoked.retain(|_, &mut until| until > now);
        revoked.insert(id.to_owned(), until);
    }

    pub fn is_revoked(&self, id: &str) -> bool {
        let revoked = self.until.locked();
        revoked.get(id).is_some_and(|&until| until > unix_now())
    }
}
