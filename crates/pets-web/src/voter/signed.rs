//! The voter's cookie, signed: `<id>.<mac>`, the voter id pets issued and
//! the first 128 bits of an HMAC-SHA256 of it under the store's voter key,
//! which every replica shares. A cookie with an id pets never issued, or
//! with a signature that does not match, names no voter: its ballot is a new
//! voter's, with an id pets makes, so a forged cookie never reaches the
//! store as someone's record and cannot stand in another voter's group.

use hmac::{Hmac, Mac};
use pets_store::{VoterId, VoterKey};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in the cookie.
const MAC_BYTES: usize = 16;

fn mac(key: &VoterKey, id: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(&key.0).expect("HMAC takes any key");
    mac.update(b"pets voter ");
    mac.update(id.as_bytes());
    mac
}

/// The cookie's value for `voter`.
pub fn sign(key: &VoterKey, voter: &VoterId) -> String {
    let id = voter.to_string();
    let tag = mac(key, &id).finalize().into_bytes();
    format!("{id}.{}", hex::encode(&tag[..MAC_BYTES]))
}

/// The voter a cookie names, if pets issued it under `key`; compared in
/// constant time.
pub fn verify(key: &VoterKey, cookie: &str) -> Option<VoterId> {
    let (id, tag) = cookie.split_once('.')?;
    let voter = VoterId::parse(id).ok()?;
    let tag = hex::decode(tag).ok().filter(|t| t.len() == MAC_BYTES)?;
    mac(key, id).verify_truncated_left(&tag).ok()?;
    Some(voter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cookies_signed_under_the_key_name_a_voter() {
        let key = VoterKey::random();
        let voter = VoterId::random();
        let cookie = sign(&key, &voter);
        assert_eq!(verify(&key, &cookie), Some(voter));
        assert_eq!(verify(&VoterKey::random(), &cookie), None, "another key");
        let (id, tag) = cookie.split_once('.').unwrap();
        let other = VoterId::random().to_string();
        for forged in [
            id.to_owned(),
            format!("{other}.{tag}"),
            format!("{id}.{}", "0".repeat(32)),
            format!("{id}.{}", &tag[..30]),
            format!("{id}.{tag}00"),
            format!("{}.{tag}", id.to_uppercase()),
            String::new(),
            ".".into(),
        ] {
            assert_eq!(verify(&key, &forged), None, "{forged:?}");
        }
    }
}
