//! What the policy builder asks of the host: its memory, and who may write
//! a directory or which file a path names.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The machine's physical memory, in bytes (`MemTotal` of `/proc/meminfo`).
pub fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find_map(|line| line.strip_prefix("MemTotal:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// Whether `a` and `b` name the same file (device and inode).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether only root may change `dir`: root owns it and neither its group
/// nor others may write it.
pub fn only_root_may_write(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|meta| meta.uid() == 0 && meta.mode() & 0o022 == 0)
}
