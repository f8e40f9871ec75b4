//! Placeholders: the empty directories that hold protected paths which do
//! not exist yet, so that a read-only mount can cover them and the sandbox
//! cannot create them (`git init .`, a planted `.envrc`).
//!
//! A placeholder lives on the host's filesystem, inside a writable root, for
//! as long as a sandbox uses it, and is removed when the last one is gone.
//! Removing it while another sandbox still mounts over it would take that
//! sandbox's protection away (the kernel detaches mounts on a removed
//! directory in every namespace), so sandboxes that share a workspace share
//! its placeholders: each holds a shared `flock` on every placeholder it
//! uses for its whole life, and only one that gets the exclusive lock
//! removes it. A placeholder is an empty directory of mode 1555 (sticky,
//! read-only: no directory a user makes looks like that), so one left
//! behind by a sandbox whose supervisor was killed is known as such and
//! taken over, and removed in its turn.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag, open};
use nix::sys::stat::{Mode, fstat};

/// A placeholder's mode: sticky and read-only.
const MODE: u32 = 0o1555;

/// How often taking a placeholder is retried while others remove and make
/// it at the same moment.
const ATTEMPTS: usize = 100;

/// The shared locks this process holds, kept open (close-on-exec) for its
/// whole life: they are what keeps other sandboxes from removing the
/// placeholders under it.
static HELD: Mutex<Vec<Flock<OwnedFd>>> = Mutex::new(Vec::new());

/// Where the protected paths are held read-only.
pub struct Protection {
    /// What to bind-mount read-only: each protected path that exists, and
    /// for one that does not, its placeholder.
    pub points: Vec<PathBuf>,
    /// The placeholders among them, to remove when the sandbox is gone.
    pub placeholders: Vec<PathBuf>,
}

/// Makes every protected path something a read-only mount can hold: one
/// that does not exist gets a placeholder at its first missing component,
/// or shares the one another sandbox made. A missing path whose directory
/// the runner may not write is skipped: the sandbox, with fewer rights,
/// cannot create it either.
pub fn hold(protected: &[PathBuf]) -> Result<Protection, String> {
    let mut points = Vec::new();
    let mut placeholders = Vec::new();
    for path in protected {
        let point = match first_missing_component(path) {
            Missing::Nothing if is_placeholder(path) => path.clone(),
            Missing::Nothing => {
                points.push(path.clone());
                continue;
            }
            // Beneath a placeholder, the placeholder's mount covers it.
            Missing::BelowPlaceholder | Missing::Uncreatable => continue,
            Missing::At(point) => point,
        };
        // Only in a directory reached through no link: the placeholder must
        // land where the policy says.
        let parent = point.parent().unwrap_or(Path::new("/"));
        if fs::canonicalize(parent).ok().as_deref() != Some(parent) {
            continue;
        }
        match take(&point)? {
            Taken::Placeholder(lock) => {
                HELD.lock().unwrap_or_else(|e| e.into_inner()).push(lock);
                placeholders.push(point.clone());
            }
            Taken::Exists => {}
            Taken::Refused => continue,
        }
        points.push(point);
    }
    points.sort();
    points.dedup();
    placeholders.sort();
    placeholders.dedup();
    Ok(Protection { points, placeholders })
}

/// Removes the placeholders once nothing of this sandbox is left: its own
/// mount over each is detached, and each that no other sandbox holds (the
/// exclusive lock is free) and that is still an empty placeholder is
/// removed. The caller must hold none of the shared locks any more.
pub fn remove(placeholders: &[PathBuf]) {
    for path in placeholders.iter().rev() {
        let _ = nix::mount::umount2(path.as_path(), nix::mount::MntFlags::MNT_DETACH);
        let Ok(fd) = open(
            path.as_path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let Ok(lock) = Flock::lock(fd, FlockArg::LockExclusiveNonblock) else { continue };
        if same_inode(lock.as_fd(), path) && is_placeholder(path) {
            let _ = fs::remove_dir(path);
        }
        drop(lock);
    }
}

/// How a placeholder was taken.
enum Taken {
    /// Made or shared, and held with a shared lock.
    Placeholder(Flock<OwnedFd>),
    /// Something else is there now (the host made it): protect it as it is.
    Exists,
    /// The directory it goes in cannot be written.
    Refused,
}

/// Makes the placeholder at `point`, or shares the one there, and holds it.
/// One being removed by another sandbox right now is waited for (its
/// exclusive lock) and then made again.
fn take(point: &Path) -> Result<Taken, String> {
    for _ in 0..ATTEMPTS {
        match fs::DirBuilder::new().mode(MODE).create(point) {
            // The mode is set again: the umask may have taken bits away.
            Ok(()) => {
                let _ = fs::set_permissions(point, fs::Permissions::from_mode(MODE));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Removed again by the sandbox that made it, just now.
                if fs::symlink_metadata(point).is_err() {
                    continue;
                }
                if !is_placeholder(point) {
                    return Ok(Taken::Exists);
                }
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EACCES | nix::libc::EPERM | nix::libc::EROFS)
                ) =>
            {
                return Ok(Taken::Refused);
            }
            Err(e) => return Err(format!("making a placeholder at protected path {}: {e}", point.display())),
        }
        let mut fd = match open(
            point,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(Errno::ENOTDIR | Errno::ELOOP) => return Ok(Taken::Exists),
            Err(e) => return Err(format!("opening the placeholder {}: {e}", point.display())),
        };
        let lock = loop {
            match Flock::lock(fd, FlockArg::LockShared) {
                Ok(lock) => break lock,
                Err((back, Errno::EINTR)) => fd = back,
                Err((_, e)) => return Err(format!("locking the placeholder {}: {e}", point.display())),
            }
        };
        // Removed (and perhaps made again) while the lock was awaited.
        if same_inode(lock.as_fd(), point) && is_placeholder(point) {
            return Ok(Taken::Placeholder(lock));
        }
    }
    Err(format!("the placeholder at protected path {} kept changing", point.display()))
}

/// Whether `path` is a placeholder: an empty directory of [`MODE`].
fn is_placeholder(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir() && meta.mode() & 0o7777 == MODE)
        && fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}

/// Whether `fd` is the directory at `path` now.
#[allow(clippy::unnecessary_cast, reason = "stat's field types differ across targets")]
fn same_inode(fd: std::os::fd::BorrowedFd<'_>, path: &Path) -> bool {
    match (fstat(fd), fs::symlink_metadata(path)) {
        (Ok(held), Ok(there)) => held.st_dev as u64 == there.dev() && held.st_ino as u64 == there.ino(),
        _ => false,
    }
}

/// What of a protected path is missing.
enum Missing {
    /// It exists.
    Nothing,
    /// This, its first missing component, below a directory.
    At(PathBuf),
    /// It lies beneath a placeholder.
    BelowPlaceholder,
    /// Its deepest existing ancestor is not a directory.
    Uncreatable,
}

fn first_missing_component(path: &Path) -> Missing {
    if fs::symlink_metadata(path).is_ok() {
        return Missing::Nothing;
    }
    let mut missing = path.to_path_buf();
    while let Some(parent) = missing.parent() {
        match fs::symlink_metadata(parent) {
            Ok(meta) if meta.is_dir() && is_placeholder(parent) => return Missing::BelowPlaceholder,
            Ok(meta) if meta.is_dir() => return Missing::At(missing),
            Ok(_) => return Missing::Uncreatable,
            Err(_) => missing = parent.to_path_buf(),
        }
    }
    Missing::Uncreatable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_is_shared_and_removed_by_the_last_one_out() {
        let dir = tempfile::tempdir().unwrap();
        let point = dir.path().join(".envrc");
        let Taken::Placeholder(first) = take(&point).unwrap() else { panic!("not made") };
        assert_eq!(fs::metadata(&point).unwrap().mode() & 0o7777, MODE);
        // A second sandbox shares it; the first leaving does not remove it.
        let Taken::Placeholder(second) = take(&point).unwrap() else { panic!("not shared") };
        drop(first);
        remove(std::slice::from_ref(&point));
        assert!(point.is_dir(), "removed while another sandbox holds it");
        drop(second);
        remove(std::slice::from_ref(&point));
        assert!(!point.exists(), "the last one out removes it");
    }

    #[test]
    fn what_is_not_a_placeholder_is_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().join(".vscode");
        fs::create_dir(&mine).unwrap();
        assert!(matches!(take(&mine).unwrap(), Taken::Exists));
        remove(std::slice::from_ref(&mine));
        assert!(mine.is_dir());
        // A placeholder someone put a file in is theirs now.
        let point = dir.path().join(".idea");
        let Taken::Placeholder(lock) = take(&point).unwrap() else { panic!("not made") };
        fs::set_permissions(&point, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(point.join("workspace.xml"), "x").unwrap();
        fs::set_permissions(&point, fs::Permissions::from_mode(MODE)).unwrap();
        drop(lock);
        remove(std::slice::from_ref(&point));
        assert!(point.join("workspace.xml").exists());
    }

    #[test]
    fn a_missing_path_beneath_a_placeholder_is_covered_by_it() {
        let dir = tempfile::tempdir().unwrap();
        let claude = dir.path().join(".claude");
        let Taken::Placeholder(_lock) = take(&claude).unwrap() else { panic!("not made") };
        assert!(matches!(first_missing_component(&claude.join("commands")), Missing::BelowPlaceholder));
        assert!(
            matches!(first_missing_component(&dir.path().join("a/b")), Missing::At(p) if p == dir.path().join("a"))
        );
    }
}
