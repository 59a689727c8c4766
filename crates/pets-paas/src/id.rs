//! Instance ids: made by the server, random, unguessable, and safe in a
//! host name, a container name and a label.
//!
//! An id is 16 characters from `a-z0-9` (about 82 bits). [`InstanceId::parse`]
//! is the only way in from outside, so a Host header or a path that names an
//! instance can never carry anything else to the Docker engine.

use std::fmt;

use rand::Rng;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(String);

impl InstanceId {
    /// A new random id.
    pub fn random() -> Self {
        let mut rng = rand::rng();
        Self(
            (0..LEN)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    /// An id as it appears in a host name or path; anything else is `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == LEN && raw.bytes().all(|b| ALPHABET.contains(&b)))
            .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The container's and its network's and volume's name.
    pub fn resource_name(&self) -> String {
        format!("pets-paas-{}", self.0)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_parse_and_differ() {
        let a = InstanceId::random();
        let b = InstanceId::random();
        assert_ne!(a, b);
        assert_eq!(InstanceId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.resource_name(), format!("pets-paas-{a}"));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "short",
            "ABCDEFGHIJKLMNOP",
            "abcdefghijklmno-",
            "abcdefghijklmnop0",
            "abcdefgh/../mnop",
            "abcdefghijklmnö",
        ] {
            assert_eq!(InstanceId::parse(bad), None, "{bad}");
        }
    }
}
