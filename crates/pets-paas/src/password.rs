//! Console passwords for instances: made by the server, random, easy to
//! type (four groups of five lowercase letters and digits, 100 bits).

use rand::Rng;
use secrecy::SecretString;

const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

pub fn generate() -> SecretString {
    let mut rng = rand::rng();
    let groups: Vec<String> = (0..4)
        .map(|_| {
            (0..5)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    SecretString::from(groups.join("-"))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    #[test]
    fn passwords_are_long_and_differ() {
        let a = super::generate();
        let b = super::generate();
        assert_eq!(a.expose_secret().len(), 23);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(
            !format!("{a:?}").contains(a.expose_secret()),
            "Debug hides it"
        );
    }
}
