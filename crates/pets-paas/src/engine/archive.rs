//! The tar archives the Docker engine takes and gives for files inside a
//! container: the console's password copied in before an instance starts,
//! and the expiry an extension writes and a restarted service reads back.

use secrecy::ExposeSecret;

use super::{EngineError, Spec};

/// The image's own user (distroless nonroot), who owns the files.
const OWNER: u64 = 65532;

/// A tar archive of one file, `admin_password`, readable by the image's
/// user only.
pub(super) fn password_archive(spec: &Spec) -> Result<Vec<u8>, EngineError> {
    archive_of(
        "admin_password",
        spec.password.expose_secret().as_bytes(),
        0o400,
    )
}

/// A tar archive of one file owned by the image's user.
pub(super) fn archive_of(name: &str, contents: &[u8], mode: u32) -> Result<Vec<u8>, EngineError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(mode);
    header.set_uid(OWNER);
    header.set_gid(OWNER);
    header.set_mtime(0);
    let mut archive = tar::Builder::new(Vec::new());
    archive
        .append_data(&mut header, name, contents)
        .and_then(|()| archive.into_inner())
        .map_err(|e| EngineError::Refused {
            action: "build an archive",
            message: e.to_string(),
        })
}

/// The first file's contents in a tar archive.
pub(super) fn first_file(archive: &[u8]) -> Option<String> {
    use std::io::Read;
    let mut archive = tar::Archive::new(archive);
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    let mut text = String::new();
    entry.by_ref().take(64).read_to_string(&mut text).ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_of_one_file_reads_back() {
        let archive = archive_of("expires_at", b"1795462546", 0o444).unwrap();
        assert_eq!(first_file(&archive).as_deref(), Some("1795462546"));
        assert_eq!(first_file(b"not a tar archive"), None);
    }
}
