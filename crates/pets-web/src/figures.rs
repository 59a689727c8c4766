//! Numbers and times as people read them on the console: `12,400`,
//! `14:02:11`. A leaf: it imports nothing of this crate.

/// `12400` as `12,400`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A Unix second as `HH:MM:SS` (UTC).
pub fn clock(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .map(|t| format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_873), "1,873");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(clock(3_661), "01:01:01");
    }
}
