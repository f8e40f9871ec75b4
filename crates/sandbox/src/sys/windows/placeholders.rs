//! The placeholders of a launch ([`crate::windows::placeholder`]): made
//! in the writable roots before the runner starts, held open for its whole
//! life, removed when it is gone.
//!
//! Launches that share a workspace share its placeholders. Each holds every
//! placeholder it uses open without delete sharing, so no other launch (nor
//! the user, nor the sandbox) can remove or rename it meanwhile: Windows
//! refuses the delete with a sharing violation. The last launch out is the
//! one whose removal succeeds.

use std::fs::{self, File};
use std::io;
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use windows_sys::Win32::Storage::FileSystem::{
    FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_ATTRIBUTES, FILE_SHARE_READ,
    FILE_SHARE_WRITE,
};

use crate::windows::placeholder::{ATTRIBUTES, Found, is_placeholder, points};

/// How often taking a placeholder is retried while other launches remove
/// and make it at the same moment.
const ATTEMPTS: usize = 100;

/// The placeholders a launch holds; each is removed when this is dropped,
/// unless another launch still holds it.
#[derive(Debug, Default)]
pub struct Placeholders {
    held: Vec<(PathBuf, File)>,
}

impl Placeholders {
    /// The placeholders held, in the order they were taken.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.held.iter().map(|(path, _)| path.as_path())
    }
}

impl Drop for Placeholders {
    fn drop(&mut self) {
        for (path, file) in self.held.drain(..).rev() {
            drop(file);
            let _ = remove_if_placeholder(&path);
        }
    }
}

/// Where [`hold`] would make or share placeholders for `protected` in
/// `roots`, as the machine is now.
pub fn placeholder_points(protected: &[PathBuf], roots: &[PathBuf]) -> Vec<PathBuf> {
    points(protected, roots, found)
}

/// Makes the placeholders at `points` ([`placeholder_points`]), or shares
/// those there, and holds them; a point where something else is now is
/// left as it is. A placeholder that cannot be made fails the whole: the
/// sandbox could then create what it stands for.
pub fn hold(points: &[PathBuf]) -> io::Result<Placeholders> {
    let mut placeholders = Placeholders::default();
    for point in points {
        if let Some(file) = take(point)? {
            placeholders.held.push((point.clone(), file));
        }
    }
    Ok(placeholders)
}

/// Removes the placeholder at `path` if it is one and no launch holds it;
/// whether it was removed.
pub fn remove_if_placeholder(path: &Path) -> io::Result<bool> {
    if found(path) != Found::Placeholder {
        return Ok(false);
    }
    match fs::remove_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Makes the placeholder at `point`, or shares the one there, and opens it
/// without delete sharing; `None` when something else is there now (the
/// user made it: it is protected as it is).
fn take(point: &Path) -> io::Result<Option<File>> {
    let making =
        |e: io::Error| io::Error::new(e.kind(), format!("making a placeholder at {}: {e}", point.display()));
    for _ in 0..ATTEMPTS {
        match fs::create_dir(point) {
            Ok(()) => {
                if let Err(e) = cordon_win::set_file_attributes(point, ATTRIBUTES) {
                    let _ = fs::remove_dir(point);
                    return Err(making(e));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match found(point) {
                Found::Placeholder => {}
                // Removed by the launch that made it, just now.
                Found::Missing => continue,
                Found::Directory | Found::Other => return Ok(None),
            },
            Err(e) => return Err(making(e)),
        }
        match open(point) {
            // Held: no one removes or replaces it from now on.
            Ok(file) if found(point) == Found::Placeholder => return Ok(Some(file)),
            Ok(_) => return Ok(None),
            // Gone, or being removed (delete pending): made again.
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied) => {
                continue;
            }
            Err(e) => return Err(making(e)),
        }
    }
    Err(io::Error::other(format!("the placeholder at {} kept changing", point.display())))
}

/// Opens the directory itself (not what a reparse point leads to), sharing
/// read and write but not delete.
fn open(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .access_mode(FILE_READ_ATTRIBUTES)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

fn found(path: &Path) -> Found {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Found::Missing,
        Err(_) => Found::Other,
        Ok(meta) if meta.is_dir() => {
            let empty = fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none());
            if is_placeholder(meta.file_attributes(), empty) { Found::Placeholder } else { Found::Directory }
        }
        Ok(_) => Found::Other,
    }
}
