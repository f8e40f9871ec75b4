//! The Landlock layer: filesystem rules, TCP bind/connect when the network
//! is off, and scoping of abstract UNIX sockets and signals.
//!
//! From ABI 9 the filesystem rights include connecting (or sending) to a
//! pathname UNIX socket (`AccessFs::ResolveUnix`, which the landlock crate
//! counts among the write rights): it is granted beneath the writable roots
//! only, so a host socket anywhere else is refused whenever it was bound,
//! and by whatever path. Older kernels lack it; there the namespaces layer
//! keeps the host's sockets out of view instead (private `/tmp`, `/run`,
//! `/var/tmp`; others hidden one by one).
//!
//! Landlock rules only ever grant, and a rule on a directory grants the
//! whole hierarchy beneath it. A denied path therefore cannot be carved out
//! of a rule on `/` (or on a writable root); instead the rule is expanded:
//! every ancestor of a denied path is replaced by its children, except the
//! one leading to the denied path (see [`beneath`]). The cost is that
//! those ancestors themselves can be traversed but not listed, nothing new
//! can be created directly in them, and entries that appear in them after
//! the sandbox starts are not covered.
//!
//! Protected paths (read-only inside a writable root) are not handled here:
//! the namespaces layer bind-mounts them read-only before this layer runs,
//! so the write rules granted here meet a read-only mount there.

use std::io;
use std::path::{Path, PathBuf};

use cordon_ipc::{LayerState, SandboxLayer};
use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, PathBeneath, PathFd, PathFdError, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
};
use nix::errno::Errno;
use nix::sys::stat::{SFlag, fstat};

use super::active;
use crate::{Policy, Probe};

const LAYER: &str = "landlock";

/// `LANDLOCK_CREATE_RULESET_VERSION`: asks `landlock_create_ruleset` for the
/// ABI version instead of a ruleset.
const CREATE_RULESET_VERSION: nix::libc::c_uint = 1;

/// Confines the calling thread, and every thread and process it creates
/// afterwards, to `policy`'s filesystem access (reads everywhere or under
/// the read roots, writes under the write roots, denied paths neither) and,
/// when the network is off, forbids TCP bind and connect; abstract UNIX
/// sockets and signals are scoped to the sandbox. Call it while the process
/// is single-threaded, after `no_new_privs`.
///
/// Uses every access right the running kernel's Landlock ABI has; the
/// result is [`LayerState::Partial`] when that ABI lacks something the
/// policy needs (named in the detail), and an error when the kernel has no
/// Landlock or refuses the ruleset.
pub fn apply(policy: &Policy) -> Result<SandboxLayer, String> {
    let version = kernel_abi()?;
    // The landlock crate discourages building an ABI from the running
    // kernel's version, because new rights then take effect untested. Here
    // that is the point: the sandbox should handle every right the kernel
    // knows (e.g. pathname UNIX socket connects from ABI 9), and the report
    // says which ABI that was. Versions newer than the crate are capped at
    // the newest it knows.
    let abi = ABI::from(version);
    let fs = &policy.filesystem;
    let deny = existing(&fs.deny);

    let read = if fs.read_everything {
        beneath(Path::new("/"), &deny)
    } else {
        fs.read
            .iter()
            .filter_map(|root| std::fs::canonicalize(root).ok())
            .flat_map(|r| beneath(&r, &deny))
            .collect()
    };
    let mut write = Vec::new();
    let mut write_denied = 0;
    for root in &fs.write {
        // The policy names writable roots canonically; one that now leads
        // elsewhere was swapped for a link since (by a sandbox sharing its
        // parent, say), and its target is not what the caller made writable.
        let root = match std::fs::canonicalize(root) {
            Ok(resolved) if resolved == *root => resolved,
            Ok(resolved) => {
                return Err(format!(
                    "writable root {} now leads to {}: it was replaced by a symbolic link",
                    root.display(),
                    resolved.display()
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("writable root {}: {e}", root.display())),
        };
        if deny.iter().any(|d| root.starts_with(d)) {
            write_denied += 1;
        }
        write.extend(beneath(&root, &deny));
    }

    let restrict_tcp = !policy.network && abi >= ABI::V4;
    let scoped = abi >= ABI::V6;
    let ruleset_error = |e: landlock::RulesetError| format!("cannot build the ruleset: {e}");
    let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(abi)).map_err(ruleset_error)?;
    if restrict_tcp {
        // Handled with no rule: no port may be bound or connected to.
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp).map_err(ruleset_error)?;
    }
    if scoped {
        // A scoped process may only signal processes in its own domain or
        // one nested in it. The runner restricts itself and its children
        // inherit its domain, so it can still signal (and kill) them; what
        // the sandbox loses is signalling anything outside it, the parent
        // included. Signals into the sandbox are not restricted, and signals
        // the kernel sends (SIGCHLD on exit, SIGPIPE, terminal job control
        // through a PTY master) are not checked.
        ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal).map_err(ruleset_error)?;
    }
    let mut ruleset = ruleset.create().map_err(ruleset_error)?;
    for path in &read {
        ruleset = add_rule(ruleset, path, AccessFs::from_read(abi), abi, false)?;
    }
    for path in &write {
        ruleset = add_rule(ruleset, path, AccessFs::from_all(abi), abi, true)?;
    }
    // The host's /proc, covered by the PID namespace's own, is reached only
    // through this descriptor; no path rule can grant it.
    if let Some(fdinfo) = super::pid_namespace::host_fdinfo() {
        ruleset = ruleset
            .add_rule(PathBeneath::new(fdinfo, AccessFs::from_read(abi)))
            .map_err(|e| format!("cannot add a rule for the host's /proc/self/fdinfo: {e}"))?;
    }
    let status = ruleset.restrict_self().map_err(|e| format!("cannot enforce the ruleset: {e}"))?;

    let mut gaps = gaps(abi, policy.network);
    match status.ruleset {
        RulesetStatus::FullyEnforced => {}
        RulesetStatus::PartiallyEnforced => gaps.push("the kernel enforced the ruleset only in part"),
        RulesetStatus::NotEnforced => {
            return Err(format!("the kernel reports Landlock ABI {version} but did not enforce the ruleset"));
        }
    }

    let mut read_part = if fs.read_everything {
        "read everywhere".to_string()
    } else {
        format!("read {} roots", fs.read.len())
    };
    if !deny.is_empty() {
        read_part += &format!(" but {} denied", deny.len());
    }
    let absent = fs.deny.len() - deny.len();
    if absent > 0 {
        read_part += &format!(" ({absent} denied paths absent)");
    }
    let mut write_part = format!("write {} roots", fs.write.len());
    if write_denied > 0 {
        write_part += &format!(" ({write_denied} inside denied paths, not writable)");
    }
    let mut parts = vec![format!("{read_part}, {write_part}")];
    if restrict_tcp {
        parts.push("tcp bind/connect denied".into());
    } else if policy.network {
        parts.push("tcp allowed".into());
    }
    if scoped {
        parts.push("abstract unix sockets and signals scoped".into());
    }
    if abi >= ABI::V9 {
        parts.push("pathname unix sockets reachable only under the writable roots".into());
    }
    let kernel = if version > abi as i32 { format!(" (kernel ABI {version})") } else { String::new() };
    if gaps.is_empty() {
        return Ok(active(LAYER, format!("ABI {abi}{kernel}: {}", parts.join("; "))));
    }
    parts.push(format!("not enforced: {}", gaps.join(", ")));
    let detail = format!("ABI {abi}{kernel}: {}", parts.join("; "));
    Ok(SandboxLayer { name: LAYER.to_string(), state: LayerState::Partial, detail })
}

/// Whether the machine has Landlock, and which ABI, without restricting
/// anything.
pub fn probe() -> Probe {
    match kernel_abi() {
        Ok(version) => Probe { name: LAYER.into(), available: true, detail: format!("ABI {version}") },
        Err(reason) => Probe { name: LAYER.into(), available: false, detail: reason },
    }
}

/// The running kernel's Landlock ABI version, or why it has none.
fn kernel_abi() -> Result<i32, String> {
    // SAFETY: with a null attribute, a zero size and the VERSION flag the
    // system call reads no memory and creates nothing; it only returns the
    // ABI version.
    let version = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_landlock_create_ruleset,
            std::ptr::null::<nix::libc::c_void>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if version > 0 {
        return Ok(i32::try_from(version).unwrap_or(i32::MAX));
    }
    Err(match Errno::last() {
        Errno::EOPNOTSUPP => {
            "Landlock is built into this kernel but disabled: add landlock to the lsm= boot parameter".into()
        }
        Errno::ENOSYS => {
            "this kernel has no Landlock (it needs Linux 5.13+ built with CONFIG_SECURITY_LANDLOCK), \
                          or a seccomp filter hides it"
                .into()
        }
        errno => format!("landlock_create_ruleset: {errno}"),
    })
}

/// What the policy needs that `abi` cannot enforce. Refer (ABI 2) is not
/// listed: without it the kernel refuses every cross-directory rename and
/// link, which is stricter, not looser.
fn gaps(abi: ABI, network: bool) -> Vec<&'static str> {
    let mut gaps = Vec::new();
    if abi < ABI::V3 {
        gaps.push("truncate(2) of read-only files (needs ABI 3)");
    }
    if !network && abi < ABI::V4 {
        gaps.push("tcp bind/connect (needs ABI 4)");
    }
    if abi < ABI::V5 {
        gaps.push("device ioctls (needs ABI 5)");
    }
    if abi < ABI::V6 {
        gaps.push("abstract unix socket and signal scoping (needs ABI 6)");
    }
    gaps
}

/// Adds a rule granting `access` beneath `path`. A path that is gone is
/// skipped; one that cannot be opened is an error only if it is writable
/// (`write`), since failing to grant a read only takes access away.
fn add_rule(
    ruleset: RulesetCreated,
    path: &Path,
    access: BitFlags<AccessFs>,
    abi: ABI,
    write: bool,
) -> Result<RulesetCreated, String> {
    let fd = match PathFd::new(path) {
        Ok(fd) => fd,
        Err(PathFdError::OpenCall { source, .. }) if source.kind() == io::ErrorKind::NotFound || !write => {
            return Ok(ruleset);
        }
        Err(e) => return Err(format!("writable root: {e}")),
    };
    let is_dir = match fstat(&fd) {
        Ok(stat) => SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR,
        Err(_) if !write => return Ok(ruleset),
        Err(e) => return Err(format!("writable root {}: {e}", path.display())),
    };
    // Directory rights on a file are invalid for the kernel; the crate would
    // drop them itself but then report the ruleset as only partly enforced.
    let access = if is_dir { access } else { access & AccessFs::from_file(abi) };
    ruleset
        .add_rule(PathBeneath::new(fd, access))
        .map_err(|e| format!("cannot add a rule for {}: {e}", path.display()))
}

/// The paths that together cover the whole filesystem except `deny` (the
/// rules that replace one on `/`): for every directory on the way from `/`
/// to a denied path, each child except the one leading there. Denied paths
/// that do not exist change nothing; denying `/` leaves nothing.
#[cfg(test)]
fn read_roots(deny: &[PathBuf]) -> Vec<PathBuf> {
    beneath(Path::new("/"), &existing(deny))
}

/// The denied paths that exist, as the kernel resolves them: a denied path
/// reached through a symlink is denied where it really is.
fn existing(deny: &[PathBuf]) -> Vec<PathBuf> {
    deny.iter().filter_map(|path| std::fs::canonicalize(path).ok()).collect()
}

/// The paths that together cover `root` and everything beneath it except
/// `deny` (canonical paths). Directories that cannot be listed are left
/// out: granting less is the safe side.
fn beneath(root: &Path, deny: &[PathBuf]) -> Vec<PathBuf> {
    if deny.iter().any(|d| root.starts_with(d)) {
        return Vec::new();
    }
    let inside: Vec<PathBuf> = deny.iter().filter(|d| d.starts_with(root)).cloned().collect();
    if inside.is_empty() {
        return vec![root.to_path_buf()];
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    // Symlinks are skipped: a rule opens its path following links, so a
    // link could grant a denied path under another name, and whatever a
    // link points to is covered (or not) where it really is.
    let mut children: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| matches!(entry.file_type(), Ok(kind) if !kind.is_symlink()))
        .map(|entry| entry.path())
        .collect();
    children.sort();
    children.iter().flat_map(|child| beneath(child, &inside)).collect()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::net::{TcpListener, TcpStream};
    use std::process::Command;

    use super::*;

    /// A test tree: `a/b/c`, `a/b/d`, `a/x` (file), `a/y/`, `z/`.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/c"), "c").unwrap();
        fs::write(root.join("a/b/d"), "d").unwrap();
        fs::write(root.join("a/x"), "x").unwrap();
        fs::create_dir(root.join("a/y")).unwrap();
        fs::create_dir(root.join("z")).unwrap();
        (dir, root)
    }

    fn covered(roots: &[PathBuf], path: &Path) -> bool {
        roots.iter().any(|root| path.starts_with(root))
    }

    #[test]
    fn deny_a_directory_covers_its_siblings_but_not_it() {
        let (_dir, t) = tree();
        let roots = read_roots(&[t.join("a/b")]);
        for path in [t.join("a/x"), t.join("a/y"), t.join("a/y/new"), t.join("z"), "/etc/passwd".into()] {
            assert!(covered(&roots, &path), "{} not covered by {roots:?}", path.display());
        }
        // Denied, and the ancestors of a denied path (only traversable).
        for path in [t.join("a/b"), t.join("a/b/c"), t.join("a"), t.clone(), "/".into()] {
            assert!(!covered(&roots, &path), "{} covered", path.display());
        }
        assert_eq!(beneath(&t, &[t.join("a/b")]), [t.join("a/x"), t.join("a/y"), t.join("z")]);
    }

    #[test]
    fn two_denies_and_nested_denies() {
        let (_dir, t) = tree();
        let roots = read_roots(&[t.join("a/b"), t.join("z")]);
        assert!(covered(&roots, &t.join("a/x")));
        assert!(!covered(&roots, &t.join("a/b/d")));
        assert!(!covered(&roots, &t.join("z")));
        assert_eq!(beneath(&t, &[t.join("a/b"), t.join("z")]), [t.join("a/x"), t.join("a/y")]);

        let nested = [t.join("a/b/c"), t.join("a")];
        let roots = read_roots(&nested);
        assert!(!covered(&roots, &t.join("a/b/d")) && !covered(&roots, &t.join("a/x")));
        assert_eq!(beneath(&t, &existing(&nested)), [t.join("z")]);
    }

    #[test]
    fn a_missing_deny_changes_nothing() {
        let (_dir, t) = tree();
        assert_eq!(read_roots(&[t.join("nope"), "/no/such/path".into()]), [PathBuf::from("/")]);
        assert_eq!(beneath(&t, &existing(&[t.join("a/nope")])), [t]);
        assert_eq!(read_roots(&[]), [PathBuf::from("/")]);
    }

    #[test]
    fn deny_a_file() {
        let (_dir, t) = tree();
        assert_eq!(
            beneath(&t, &[t.join("a/b/c")]),
            [t.join("a/b/d"), t.join("a/x"), t.join("a/y"), t.join("z")]
        );
        let roots = read_roots(&[t.join("a/b/c")]);
        assert!(!covered(&roots, &t.join("a/b/c")));
        assert!(covered(&roots, &t.join("a/b/d")));
    }

    #[test]
    fn deny_root_leaves_nothing() {
        assert!(read_roots(&["/".into()]).is_empty());
        let (_dir, t) = tree();
        assert!(beneath(&t, &existing(&["/".into()])).is_empty());
        // A root inside a denied path is denied too.
        assert!(beneath(&t.join("a/b"), &[t.join("a")]).is_empty());
    }

    #[test]
    fn symlinks_neither_leak_nor_dodge_a_deny() {
        let (_dir, t) = tree();
        std::os::unix::fs::symlink(t.join("a/b"), t.join("a/link")).unwrap();
        // The link is not a root (opening it would grant a/b).
        assert_eq!(beneath(&t, &[t.join("a/b")]), [t.join("a/x"), t.join("a/y"), t.join("z")]);
        // Denying through the link denies the real path.
        let roots = read_roots(&[t.join("a/link/c")]);
        assert!(!covered(&roots, &t.join("a/b/c")));
        assert!(covered(&roots, &t.join("a/b/d")));
    }

    #[test]
    fn gaps_follow_the_abi() {
        assert!(gaps(ABI::V7, false).is_empty());
        assert!(gaps(ABI::V6, false).is_empty());
        assert_eq!(gaps(ABI::V5, true), ["abstract unix socket and signal scoping (needs ABI 6)"]);
        let v3 = gaps(ABI::V3, false);
        assert!(v3.iter().any(|g| g.starts_with("tcp")) && !v3.iter().any(|g| g.starts_with("truncate")));
        assert!(!gaps(ABI::V3, true).iter().any(|g| g.starts_with("tcp")));
        assert!(gaps(ABI::V1, true).iter().any(|g| g.starts_with("truncate")));
    }

    #[test]
    fn pathname_unix_socket_connects_are_a_write_right_from_abi_9() {
        // What the module docs rely on: read roots never get it.
        assert!(AccessFs::from_all(ABI::V9).contains(AccessFs::ResolveUnix));
        assert!(!AccessFs::from_read(ABI::V9).contains(AccessFs::ResolveUnix));
        assert!(!AccessFs::from_all(ABI::V8).contains(AccessFs::ResolveUnix));
    }

    #[test]
    fn probe_does_not_restrict() {
        let probe = probe();
        assert_eq!(probe.name, "landlock");
        assert_eq!(probe.available, kernel_abi().is_ok(), "{}", probe.detail);
        assert!(fs::read("/etc/passwd").is_ok());
    }

    const CHILD: &str = "CORDON_LANDLOCK_TEST_CHILD";

    /// Runs [`child_under_landlock`] in a fresh copy of this test binary, so
    /// the restriction never reaches this process.
    #[test]
    fn enforces_workspace_write_in_a_child_process() {
        if let Err(reason) = kernel_abi() {
            eprintln!("skipped: {reason}");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let outside = dir.path().join("outside");
        let secret = dir.path().join("secret");
        fs::create_dir(&work).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(&secret, "hush").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Test names leave out the crate.
        let module = module_path!().split_once("::").unwrap().1;
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &format!("{module}::child_under_landlock"), "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env("CORDON_TEST_WORK", &work)
            .env("CORDON_TEST_OUTSIDE", &outside)
            .env("CORDON_TEST_SECRET", &secret)
            .env("CORDON_TEST_PORT", port.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "child failed ({}):\n{stdout}\n{stderr}", output.status);
        assert!(stdout.contains("1 passed"), "the child test did not run:\n{stdout}");
        assert!(work.join("made").exists());
        assert!(!outside.join("nope").exists());
    }

    /// The child half of [`enforces_workspace_write_in_a_child_process`];
    /// without its environment it does nothing.
    #[test]
    fn child_under_landlock() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        let var = |name: &str| PathBuf::from(std::env::var_os(name).unwrap());
        let (work, outside, secret) =
            (var("CORDON_TEST_WORK"), var("CORDON_TEST_OUTSIDE"), var("CORDON_TEST_SECRET"));
        let port: u16 = std::env::var("CORDON_TEST_PORT").unwrap().parse().unwrap();

        nix::sys::prctl::set_no_new_privs().unwrap();
        let policy = crate::PolicyBuilder::new(crate::Preset::WorkspaceWrite)
            .cwd(&work)
            .deny(&secret)
            .build()
            .unwrap();
        let layer = apply(&policy).unwrap();
        println!("{layer:?}");
        let abi = ABI::from(kernel_abi().unwrap());

        let eacces = |what: &str, result: io::Result<()>| match result {
            Err(e) if e.raw_os_error() == Some(nix::libc::EACCES) => None,
            other => Some(format!("{what}: expected EACCES, got {other:?}")),
        };
        let ok = |what: &str, result: io::Result<()>| result.err().map(|e| format!("{what}: {e}"));
        let readable = ["/etc/hostname", "/etc/passwd"].into_iter().find(|p| Path::new(p).exists()).unwrap();
        let mut failures: Vec<String> = [
            ok("write in the working directory", fs::write(work.join("made"), "x")),
            eacces("write outside it", fs::write(outside.join("nope"), "x")),
            ok("read a system file", fs::read(readable).map(drop)),
            eacces("read the denied file", fs::read(&secret).map(drop)),
            (abi >= ABI::V4)
                .then(|| eacces("tcp connect", TcpStream::connect(("127.0.0.1", port)).map(drop)))
                .flatten(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if abi >= ABI::V6 && layer.state != LayerState::Active {
            failures.push(format!("layer not active: {layer:?}"));
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }
}
