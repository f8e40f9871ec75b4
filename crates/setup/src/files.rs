//! The state directory's files: read whole, replaced whole, deleted.

use std::io::{self, Write};
use std::path::Path;

/// The file's content, or `None` if it does not exist.
pub(crate) fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(content) => Ok(Some(content)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Replaces the file's content: written beside it, flushed, then renamed
/// over it, so a reader sees the old content or the new, never a part.
/// Creates the directory.
pub(crate) fn write(path: &Path, content: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(content)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Adds `content` at the end of the file in one write (appends of a few
/// lines by two processes do not interleave), creating the file and its
/// directory.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn append(path: &Path, content: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new().append(true).create(true).open(path)?.write_all(content)
}

/// Deletes the file; a file that does not exist is deleted already.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn delete(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_read_reads_delete_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("setup.json");
        assert_eq!(read(&path).unwrap(), None);
        write(&path, b"one").unwrap();
        write(&path, b"two").unwrap();
        assert_eq!(read(&path).unwrap().as_deref(), Some(&b"two"[..]));
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary left");
        delete(&path).unwrap();
        delete(&path).unwrap();
        assert_eq!(read(&path).unwrap(), None);
    }
}
