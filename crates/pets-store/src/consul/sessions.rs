//! What the admin console shares between replicas through Consul: ended
//! sessions (`sessions/<id>`, so a logout counts on every replica) and each
//! replica's failed logins this minute (`logins/<replica>`, so the ceiling
//! on guessing is for the whole service, not per replica).
//!
//! Both are followed with blocking queries like the tally; an ended session
//! past its expiry is deleted by whichever replica sees it first
//! (delete-cas, so two replicas cannot disagree).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::{minute_now, unix_now};
use crate::consul::kv::{KvEntry, TxnOp};
use crate::consul::records::{LoginFailures, Revoked};
use crate::sync::Locked;

#[derive(Default)]
pub struct SharedSessions {
    /// Ended sessions by id: until when, and the key's index.
    revoked: Mutex<HashMap<String, (u64, u64)>>,
    /// Other replicas' failed logins.
    others: Mutex<Vec<LoginFailures>>,
    /// This replica's, as last written.
    own: Mutex<LoginFailures>,
}

impl SharedSessions {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.locked()
    }

    /// Takes the `sessions/` entries; returns deletes for those expired.
    pub fn apply_revoked(&self, prefix: &str, entries: &[KvEntry]) -> Vec<TxnOp> {
        let now = unix_now();
        let mut expired = Vec::new();
        let mut revoked = HashMap::new();
        for entry in entries {
            let Some(id) = entry.key.strip_prefix(prefix) else {
                continue;
            };
            let Ok(value) = serde_json::from_slice::<Revoked>(&entry.bytes()) else {
                continue;
            };
            if value.until <= now {
                expired.push(TxnOp::delete_cas(entry.key.clone(), entry.modify_index));
            } else {
                revoked.insert(id.to_owned(), (value.until, entry.modify_index));
            }
        }
        *Self::lock(&self.revoked) = revoked;
        expired
    }

    /// Remembers a session this replica ended, before the watch says so.
    pub fn revoked_here(&self, id: &str, until: u64) {
        Self::lock(&self.revoked).insert(id.to_owned(), (until, 0));
    }

    pub fn is_revoked(&self, id: &str) -> bool {
        Self::lock(&self.revoked)
            .get(id)
            .is_some_and(|&(until, _)| until > unix_now())
    }

    /// Takes the `logins/` entries of every replica but this one.
    pub fn apply_logins(&self, own_key: &str, entries: &[KvEntry]) {
        let others = entries
            .iter()
            .filter(|e| e.key != own_key)
            .filter_map(|e| serde_json::from_slice(&e.bytes()).ok())
            .collect();
        *Self::lock(&self.others) = others;
    }

    /// Counts one failure here; the value to write to this replica's key.
    pub fn failed_here(&self) -> LoginFailures {
        let mut own = Self::lock(&self.own);
        let minute = minute_now();
        if own.minute != minute {
            *own = LoginFailures { minute, n: 0 };
        }
        own.n += 1;
        *own
    }

    /// Failures this minute across replicas.
    pub fn failures(&self) -> u64 {
        let minute = minute_now();
        let own = *Self::lock(&self.own);
        let others: u64 = Self::lock(&self.others)
            .iter()
            .filter(|f| f.minute == minute)
            .map(|f| f.n)
            .sum();
        others + if own.minute == minute { own.n } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &impl serde::Serialize) -> KvEntry {
        KvEntry::new(key.into(), &serde_json::to_vec(value).unwrap(), 7)
    }

    #[test]
    fn ended_sessions_are_known_until_they_expire_and_then_deleted() {
        let shared = SharedSessions::default();
        let now = unix_now();
        let deletes = shared.apply_revoked(
            "p/sessions/",
            &[
                entry("p/sessions/live", &Revoked { until: now + 60 }),
                entry("p/sessions/dead", &Revoked { until: now - 1 }),
            ],
        );
        assert!(shared.is_revoked("live"));
        assert!(!shared.is_revoked("dead"));
        assert_eq!(deletes.len(), 1);
    }

    #[test]
    fn failures_add_up_across_replicas_for_this_minute_only() {
        let shared = SharedSessions::default();
        let minute = minute_now();
        shared.apply_logins(
            "p/logins/me",
            &[
                entry("p/logins/a", &LoginFailures { minute, n: 3 }),
                entry(
                    "p/logins/b",
                    &LoginFailures {
                        minute: minute - 2,
                        n: 50,
                    },
                ),
                entry("p/logins/me", &LoginFailures { minute, n: 99 }),
            ],
        );
        shared.failed_here();
        assert_eq!(shared.failures(), 4);
    }
}
