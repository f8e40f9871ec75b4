//! The seccomp layer: a system-call filter, installed last because it
//! forbids what the earlier layers use (`mount`, `unshare`).
//!
//! It closes what paths and capabilities cannot express: reading or writing
//! other processes' memory (`ptrace`, `process_vm_*`), io_uring (its
//! operations would bypass this filter altogether), kernel-wide facilities
//! (kexec, BPF, perf, keyrings), new mounts and namespaces (ways to undo the
//! namespace layer), faking input on the terminal (`TIOCSTI`, `TIOCLINUX`),
//! and setting resource limits of other processes (`prlimit64` with a pid:
//! the runner has the commands' uid, and a command could starve it of file
//! descriptors). With the network off it also allows only AF_UNIX sockets, so
//! the network stays closed even where the network namespace is missing.
//!
//! It also keeps commands from leaving behind files that run with
//! privileges later, outside the sandbox: files made in the writable roots
//! belong to the runner's user (root, when the runner runs as root), and a
//! setuid copy of a shell there would give that user's rights to whoever
//! runs it. `no_new_privs` disarms such a file inside, not outside. So a
//! mode with the setuid or setgid bit is refused wherever one is given
//! (`chmod`, `fchmod`, `fchmodat`, `fchmodat2`, `open`, `creat`, `openat`,
//! `mknod`, `mknodat`), for directories too; `openat2`, whose mode seccomp
//! cannot read, is refused whatever it asks; and so is every `setxattr`
//! call, since seccomp cannot read the attribute's name either and
//! `security.capability` (file capabilities) is as dangerous as a setuid
//! bit. That takes `user.*` attributes and POSIX ACLs with it: the sandbox
//! looks like a filesystem without extended attributes.
//!
//! Denied calls fail with an ordinary error (EPERM; ENOSYS for `clone3` and
//! `openat2`, so that libc and programs fall back to `clone` and `openat`,
//! which the filter can check; EOPNOTSUPP for `setxattr` and friends, which
//! `cp -a` and `tar` take for a filesystem without extended attributes) so
//! that programs take their usual error paths instead of dying. The only
//! kill is seccompiler's architecture check: a call made through another
//! ABI (i386 `int 0x80` on x86_64) has different numbers and would slip past
//! every rule, and no legitimate program in the sandbox uses one.
//!
//! A seccompiler filter has a single on-match action, so the layer is a
//! stack of filters, each evaluated on every call: the EPERM rules, `clone3`
//! and `openat2` to ENOSYS, the `setxattr` calls to EOPNOTSUPP, and on
//! x86_64 a hand-written check for the x32 ABI, which
//! shares x86_64's audit architecture (so passes seccompiler's check) but
//! numbers its calls from `__X32_SYSCALL_BIT`, past every rule.

use cordon_ipc::SandboxLayer;
use nix::libc;

use crate::{Policy, Probe};

/// Installs the filter on the runner (every thread of it, should there be
/// any) and so on everything it spawns. The orchestrator has set
/// `no_new_privs`, without which the kernel refuses an unprivileged filter
/// (seccompiler sets it again before installing, which changes nothing).
pub fn apply(policy: &Policy) -> Result<SandboxLayer, String> {
    // The runner installs the filter on itself: the pid its commands know
    // it by (1, in its PID namespace) is this one.
    let filters = filter::build(std::env::consts::ARCH, policy.network, std::process::id())?;
    // Everything is compiled before anything is installed, so a filter that
    // cannot be built leaves the process as it was.
    for (installed, program) in filters.programs.iter().enumerate() {
        seccompiler::apply_filter_all_threads(program).map_err(|err| {
            let reason = install_error(&err);
            if installed == 0 {
                reason
            } else {
                format!("{reason} (after {installed} of {} filters were installed)", filters.programs.len())
            }
        })?;
    }
    Ok(super::active("seccomp", filters.detail))
}

/// Why the kernel refused a filter, in terms a user can act on.
fn install_error(err: &seccompiler::Error) -> String {
    match err {
        seccompiler::Error::Seccomp(io) => match io.raw_os_error() {
            Some(libc::EACCES) => format!("the kernel refused the filter ({io}): no_new_privs is not set"),
            Some(libc::EINVAL) | Some(libc::ENOSYS) => format!(
                "the kernel refused the filter ({io}): seccomp filtering (CONFIG_SECCOMP_FILTER, \
                 Linux 4.14+) is not available"
            ),
            _ => format!("the kernel refused the filter: {io}"),
        },
        seccompiler::Error::ThreadSync(tid) => {
            format!("thread {tid} could not take the filter; the runner must be single-threaded")
        }
        other => format!("cannot install the filter: {other}"),
    }
}

/// Whether the kernel can filter system calls, without installing anything.
pub fn probe() -> Probe {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    // `Seccomp:` and `Seccomp_filters:` share a prefix; the colon tells them apart.
    let field = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':').map(|v| v.trim().to_string()))
    };
    let mode = match field("Seccomp") {
        Some(mode) => mode.parse::<i32>().ok(),
        // Without /proc, ask the kernel; EINVAL means no CONFIG_SECCOMP.
        // SAFETY: PR_GET_SECCOMP takes no pointers and changes nothing.
        None => match unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) } {
            -1 => None,
            mode => Some(mode),
        },
    };
    let this_process = match mode {
        Some(0) => "this process is unfiltered".to_string(),
        Some(1) => "this process is in strict mode".to_string(),
        Some(2) => match field("Seccomp_filters") {
            Some(n) => format!("this process is already under {n} filter(s); cordon's filters stack on top"),
            None => "this process is already filtered; cordon's filters stack on top".to_string(),
        },
        Some(other) => format!("this process is in mode {other}"),
        None => "this process's mode is unknown".to_string(),
    };
    // The two actions the filters return besides Allow: Errno for every
    // denial, KillProcess for a foreign architecture.
    let actions = [("errno", libc::SECCOMP_RET_ERRNO), ("kill_process", libc::SECCOMP_RET_KILL_PROCESS)];
    let missing =
        actions.iter().find_map(|&(name, action)| action_available(action).err().map(|e| (name, e)));
    let (available, detail) = match missing {
        None => (true, format!("filter mode with errno and kill_process actions; {this_process}")),
        Some((_, err)) if err.raw_os_error() == Some(libc::ENOSYS) => {
            (false, "the kernel has no seccomp (CONFIG_SECCOMP)".to_string())
        }
        Some((_, err)) if err.raw_os_error() == Some(libc::EINVAL) => (
            false,
            "the kernel cannot report seccomp actions: Linux 4.14+ with CONFIG_SECCOMP_FILTER is needed"
                .to_string(),
        ),
        Some((name, err)) if err.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            (false, format!("the kernel lacks the seccomp {name} action"))
        }
        Some((_, err)) => (false, format!("cannot query seccomp: {err}")),
    };
    Probe { name: "seccomp".into(), available, detail }
}

/// Whether the kernel supports a filter return action.
fn action_available(action: u32) -> std::io::Result<()> {
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32 through the pointer,
    // which outlives the call, and changes nothing.
    let rc =
        unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_GET_ACTION_AVAIL, 0, &action as *const u32) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// The filters, for the architectures seccompiler compiles for.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64"))]
mod filter {
    use std::collections::BTreeMap;

    use nix::libc;
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    /// The compiled filters, in installation order, and what they deny.
    pub(super) struct Filters {
        pub(super) programs: Vec<BpfProgram>,
        pub(super) detail: String,
    }

    // libc lacks it for riscv64 and musl aarch64; the number is the
    // asm-generic one both use.
    #[cfg(target_arch = "x86_64")]
    const SYS_KEXEC_FILE_LOAD: i64 = libc::SYS_kexec_file_load;
    #[cfg(not(target_arch = "x86_64"))]
    const SYS_KEXEC_FILE_LOAD: i64 = 294;

    // libc names these for some targets only. Calls from 424 on have one
    // number on every architecture.
    pub(super) const SYS_FCHMODAT2: i64 = 452;
    pub(super) const SYS_SETXATTRAT: i64 = 463;

    /// `ioprio_set`'s `which`: one process, or every process of a user.
    const IOPRIO_WHO_PROCESS: u64 = 1;
    const IOPRIO_WHO_USER: u64 = 3;

    /// Denied whatever their arguments. `unshare` and `setns` go whole:
    /// every use of them in the sandbox is a way around the namespace layer.
    const DENIED: &[i64] = &[
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_pidfd_getfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_kexec_load,
        SYS_KEXEC_FILE_LOAD,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_fsconfig,
        libc::SYS_fspick,
        libc::SYS_unshare,
        libc::SYS_setns,
    ];

    /// `clone` flags that make a new namespace. CLONE_NEWTIME (0x80) lies in
    /// the exit-signal byte, where the kernel never takes it from `clone`;
    /// matching it only refuses exit signals above 127, which are invalid.
    const NAMESPACE_FLAGS: &[libc::c_int] = &[
        libc::CLONE_NEWNS,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
        libc::CLONE_NEWCGROUP,
        libc::CLONE_NEWTIME,
    ];

    /// `ioctl` requests that type into a terminal: TIOCSTI pushes input
    /// into one, TIOCLINUX can paste into a console. Either would run
    /// commands outside the sandbox, in whatever reads that terminal next.
    // The request type is c_ulong in glibc but c_int in musl.
    #[allow(clippy::unnecessary_cast)]
    const TERMINAL_INJECTION: [u64; 2] = [libc::TIOCSTI as u64, libc::TIOCLINUX as u64];

    /// The mode bits that make a file run with its owner's or group's
    /// rights: refused in every mode a call gives, one rule per bit.
    const SET_ID_BITS: [u64; 2] = [libc::S_ISUID as u64, libc::S_ISGID as u64];

    /// Calls that give a file its mode, and the argument that holds it. The
    /// mode of `open` and `openat` matters only with O_CREAT or O_TMPFILE;
    /// libc passes 0 otherwise. `open`, `creat`, `chmod` and `mknod` exist
    /// on x86_64 only: the others have just the `*at` forms.
    const MODE_ARGUMENT: &[(i64, u8)] = &[
        (libc::SYS_fchmod, 1),
        (libc::SYS_fchmodat, 2),
        (SYS_FCHMODAT2, 2),
        (libc::SYS_openat, 3),
        (libc::SYS_mknodat, 2),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_chmod, 1),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_open, 2),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_creat, 1),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_mknod, 1),
    ];

    /// Failed with ENOSYS, as by a kernel that lacks them, so that callers
    /// fall back to calls the EPERM filter can check: `clone3` takes its
    /// flags in memory, `openat2` its mode, and seccomp cannot read memory.
    /// libc falls back from `clone3` to `clone`; programs that try
    /// `openat2` fall back to `openat`.
    const NOT_IMPLEMENTED: &[i64] = &[libc::SYS_clone3, libc::SYS_openat2];

    /// Failed with EOPNOTSUPP, as on a filesystem without extended
    /// attributes: seccomp cannot read the attribute's name, and
    /// `security.capability` grants capabilities on exec as a setuid bit
    /// grants a uid. `user.*` attributes and POSIX ACLs go with it.
    /// Removing and reading attributes stay allowed.
    const XATTR_WRITES: &[i64] =
        &[libc::SYS_setxattr, libc::SYS_lsetxattr, libc::SYS_fsetxattr, SYS_SETXATTRAT];

    /// Compiles the filters for `arch` (which must be the architecture this
    /// crate is built for: the numbers come from its libc).
    pub(super) fn build(arch: &str, network: bool, runner: u32) -> Result<Filters, String> {
        let target = TargetArch::try_from(arch).map_err(|e| format!("no seccomp filter for {arch}: {e}"))?;
        let compile = |filter: Result<SeccompFilter, seccompiler::BackendError>| {
            filter.and_then(BpfProgram::try_from).map_err(|e| format!("cannot build the {arch} filter: {e}"))
        };
        let mut programs = vec![
            compile(eperm_filter(target, network, runner))?,
            compile(errno_filter(target, NOT_IMPLEMENTED, libc::ENOSYS))?,
            compile(errno_filter(target, XATTR_WRITES, libc::EOPNOTSUPP))?,
        ];
        #[cfg(target_arch = "x86_64")]
        programs.push(x32_program());
        let x32 = if cfg!(target_arch = "x86_64") { ", x32 ABI" } else { "" };
        let sockets =
            if network { "sockets: unrestricted (network allowed)" } else { "sockets: AF_UNIX only" };
        let detail = format!(
            "{arch} filter: ptrace, process_vm_*, pidfd_getfd, io_uring, kexec/bpf/perf/keyring, mount, namespaces \
             (clone3: ENOSYS), TIOCSTI/TIOCLINUX, prlimit of other processes, the runner's priority, \
             affinity and scheduling, setuid/setgid modes \
             (openat2: ENOSYS), setxattr (EOPNOTSUPP){x32}; {sockets}"
        );
        Ok(Filters { programs, detail })
    }

    /// One 32-bit comparison. Every argument checked here is an `int`, an
    /// `unsigned int` or a mode (`umode_t`, 16 bits) in the kernel, which
    /// ignores the upper half; comparing all 64 bits would let garbage there
    /// slip past.
    fn condition(
        arg: u8,
        op: SeccompCmpOp,
        value: u64,
    ) -> Result<SeccompCondition, seccompiler::BackendError> {
        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)
    }

    /// A rule of one condition; a call's rules OR together.
    fn rule(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompRule, seccompiler::BackendError> {
        SeccompRule::new(vec![condition(arg, op, value)?])
    }

    /// Everything denied with EPERM.
    fn eperm_filter(
        target: TargetArch,
        network: bool,
        runner: u32,
    ) -> Result<SeccompFilter, seccompiler::BackendError> {
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = DENIED.iter().map(|&nr| (nr, Vec::new())).collect();
        // Any one namespace flag is enough: one rule per flag.
        let clone = NAMESPACE_FLAGS
            .iter()
            .map(|&flag| rule(0, SeccompCmpOp::MaskedEq(flag as u64), flag as u64))
            .collect::<Result<_, _>>()?;
        rules.insert(libc::SYS_clone, clone);
        let ioctl = TERMINAL_INJECTION
            .iter()
            .map(|&request| rule(1, SeccompCmpOp::Eq, request))
            .collect::<Result<_, _>>()?;
        rules.insert(libc::SYS_ioctl, ioctl);
        // Either bit is enough: one rule per bit.
        for &(call, arg) in MODE_ARGUMENT {
            let set_id = SET_ID_BITS
                .iter()
                .map(|&bit| rule(arg, SeccompCmpOp::MaskedEq(bit), bit))
                .collect::<Result<_, _>>()?;
            rules.insert(call, set_id);
        }
        // pid 0 is the caller, which is what getrlimit and setrlimit pass.
        rules.insert(libc::SYS_prlimit64, vec![rule(0, SeccompCmpOp::Ne, 0)?]);
        // The runner shares its uid with its commands, which could otherwise
        // starve it (`renice -p 1`, `taskset -p 1 1`, `chrt -i -p 0 1`,
        // `ionice -c 3 -p 1`, or all of the uid's processes at once). A
        // command may still do all of this to itself and its own children.
        let runner = u64::from(runner);
        for call in [
            libc::SYS_sched_setaffinity,
            libc::SYS_sched_setscheduler,
            libc::SYS_sched_setparam,
            libc::SYS_sched_setattr,
        ] {
            rules.insert(call, vec![rule(0, SeccompCmpOp::Eq, runner)?]);
        }
        let of_process = |which: u64| -> Result<SeccompRule, seccompiler::BackendError> {
            SeccompRule::new(vec![
                condition(0, SeccompCmpOp::Eq, which)?,
                condition(1, SeccompCmpOp::Eq, runner)?,
            ])
        };
        rules.insert(
            libc::SYS_setpriority,
            vec![of_process(libc::PRIO_PROCESS as u64)?, rule(0, SeccompCmpOp::Eq, libc::PRIO_USER as u64)?],
        );
        rules.insert(
            libc::SYS_ioprio_set,
            vec![of_process(IOPRIO_WHO_PROCESS)?, rule(0, SeccompCmpOp::Eq, IOPRIO_WHO_USER)?],
        );
        if !network {
            // Any family but AF_UNIX: INET (and MPTCP, which is INET with
            // another protocol), INET6, NETLINK, PACKET, VSOCK, ...
            let unix = libc::AF_UNIX as u64;
            rules.insert(libc::SYS_socket, vec![rule(0, SeccompCmpOp::Ne, unix)?]);
            rules.insert(libc::SYS_socketpair, vec![rule(0, SeccompCmpOp::Ne, unix)?]);
        }
        SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), target)
    }

    /// `calls` denied whatever their arguments, with `errno`.
    fn errno_filter(
        target: TargetArch,
        calls: &[i64],
        errno: i32,
    ) -> Result<SeccompFilter, seccompiler::BackendError> {
        let rules = calls.iter().map(|&nr| (nr, Vec::new())).collect();
        SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno as u32), target)
    }

    /// x32 calls carry AUDIT_ARCH_X86_64 but numbers from
    /// `__X32_SYSCALL_BIT` on, so they pass seccompiler's architecture check
    /// and match none of its rules (x32 `socket` is 0x40000029, not 41). They
    /// get ENOSYS, as from a kernel built without x32. Other architectures
    /// pass through: the EPERM filter kills them.
    #[cfg(target_arch = "x86_64")]
    fn x32_program() -> BpfProgram {
        use seccompiler::sock_filter;

        // linux/audit.h: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
        const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
        const X32_SYSCALL_BIT: u32 = 0x4000_0000;
        // linux/bpf_common.h: BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K,
        // BPF_JMP|BPF_JGE|BPF_K, BPF_RET|BPF_K.
        const LOAD: u16 = 0x20;
        const JEQ: u16 = 0x15;
        const JGE: u16 = 0x35;
        const RET: u16 = 0x06;
        // struct seccomp_data: int nr at 0, __u32 arch at 4.
        const NR: u32 = 0;
        const ARCH: u32 = 4;
        let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
        vec![
            op(LOAD, 0, 0, ARCH),
            op(JEQ, 0, 3, AUDIT_ARCH_X86_64), // not x86_64: allow (below)
            op(LOAD, 0, 0, NR),
            op(JGE, 0, 1, X32_SYSCALL_BIT),
            op(RET, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
            op(RET, 0, 0, libc::SECCOMP_RET_ALLOW),
        ]
    }
}

/// Elsewhere seccompiler has no compiler, so the layer is unavailable.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")))]
mod filter {
    /// Never built here.
    #[allow(dead_code)] // `build` below never makes one.
    pub(super) struct Filters {
        pub(super) programs: Vec<seccompiler::BpfProgram>,
        pub(super) detail: String,
    }

    /// Always refuses.
    pub(super) fn build(arch: &str, _network: bool, _runner: u32) -> Result<Filters, String> {
        Err(format!("no seccomp filter for {arch}: seccompiler supports x86_64, aarch64 and riscv64"))
    }
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")))]
mod tests {
    use std::process::Command;

    use super::*;

    /// Set in the child process that installs the filter.
    const CHILD_ENV: &str = "CORDON_SECCOMP_TEST_CHILD";
    /// What the child prints once every check has passed.
    const CHILD_OK: &str = "seccomp child: all checks passed";

    #[test]
    fn filters_build_for_this_arch_with_and_without_network() {
        let arch = std::env::consts::ARCH;
        let with = filter::build(arch, true, 1).unwrap();
        let without = filter::build(arch, false, 1).unwrap();
        let expected = if cfg!(target_arch = "x86_64") { 4 } else { 3 };
        assert_eq!(with.programs.len(), expected);
        assert_eq!(without.programs.len(), expected);
        for program in with.programs.iter().chain(&without.programs) {
            assert!(!program.is_empty() && program.len() < 4096, "{} instructions", program.len());
        }
        // The socket rules are the only difference.
        assert!(without.programs[0].len() > with.programs[0].len());
        assert!(without.detail.contains("AF_UNIX only"), "{}", without.detail);
        assert!(with.detail.contains("network allowed"), "{}", with.detail);
        assert!(with.detail.starts_with(arch), "{}", with.detail);
    }

    #[test]
    fn an_unknown_arch_is_an_error() {
        let err = filter::build("sparc64", false, 1).err().unwrap();
        assert!(err.contains("sparc64"), "{err}");
    }

    #[test]
    fn probe_reports_without_installing() {
        let filters = || {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            status.lines().find(|l| l.starts_with("Seccomp")).map(str::to_string)
        };
        let before = filters();
        let probe = probe();
        assert_eq!(filters(), before, "probe changed the process's seccomp state");
        assert_eq!(probe.name, "seccomp");
        let filtered = before.as_deref().is_some_and(|mode| mode.ends_with('2'));
        assert_eq!(filtered, probe.detail.contains("already"), "{}", probe.detail);
    }

    /// Installs the filter in a child (re-running this test binary for
    /// [`child_under_filter`]) and checks what it denies there; the test
    /// process itself stays unfiltered.
    #[test]
    fn the_filter_denies_in_a_child_process() {
        let probe = probe();
        if !probe.available {
            eprintln!("skipped: seccomp unavailable: {}", probe.detail);
            return;
        }
        let module = module_path!().split_once("::").map_or(module_path!(), |(_, path)| path);
        let name = format!("{module}::child_under_filter");
        // Output goes to files, not pipes, so that the wait below can time
        // out: a child stuck under a broken filter must fail the test, not
        // hang it.
        let stdout = tempfile::tempfile().unwrap();
        let stderr = tempfile::tempfile().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &name, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .stdin(std::process::Stdio::null())
            .stdout(stdout.try_clone().unwrap())
            .stderr(stderr.try_clone().unwrap())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let read = |mut file: std::fs::File| {
            use std::io::{Read, Seek};
            let mut text = String::new();
            file.rewind().unwrap();
            file.read_to_string(&mut text).unwrap();
            text
        };
        let (stdout, stderr) = (read(stdout), read(stderr));
        assert!(
            status.is_some_and(|s| s.success()) && stdout.contains(CHILD_OK),
            "child {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            status.map_or("timed out after 60 s".to_string(), |s| s.to_string())
        );
    }

    /// What a call should do.
    #[derive(Debug, PartialEq)]
    enum Want {
        Succeed,
        Fail(i32),
    }

    /// A raw return value as success or errno (read at once, before anything
    /// else can change it).
    fn sys(rc: impl Into<i64>) -> Result<i64, i32> {
        let rc = rc.into();
        if rc < 0 { Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)) } else { Ok(rc) }
    }

    fn close(fd: i64) {
        // SAFETY: closes a descriptor this test opened and owns.
        unsafe { libc::close(fd as i32) };
    }

    /// `ptrace(PTRACE_TRACEME)` in a throwaway process: should the filter
    /// let it through, the caller would become a tracee of the test harness
    /// and stop for good at its next signal.
    ///
    /// # Safety
    ///
    /// Forks; the child only makes system calls and exits.
    unsafe fn traceme_in_a_child() -> Result<i64, i32> {
        // SAFETY: after fork the child calls nothing but async-signal-safe
        // functions (ptrace, _exit); errno is read without allocating.
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                let rc = libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
                let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(255);
                libc::_exit(if rc < 0 { errno } else { 0 });
            }
            sys(pid)?;
            let mut status = 0;
            sys(libc::waitpid(pid, &mut status, 0))?;
            match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
                Some(0) => Ok(0),
                Some(errno) => Err(errno),
                None => Err(-1),
            }
        }
    }

    /// The calls that give a file a mode or an extended attribute, in a
    /// fresh directory: the setuid and setgid bits are refused, each alone,
    /// other modes are not; `openat2` and every `setxattr` call are refused
    /// whatever they ask.
    fn set_id_modes_are_refused(check: &mut impl FnMut(&str, Result<i64, i32>, Want)) {
        use std::ffi::CString;
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let path =
            |name: &str| CString::new(dir.path().join(name).into_os_string().into_encoded_bytes()).unwrap();
        let (file, created) = (path("file"), path("created"));
        let eperm = || Want::Fail(libc::EPERM);
        let creat = libc::O_CREAT | libc::O_WRONLY;
        let at = libc::AT_FDCWD;
        let regular = libc::S_IFREG as libc::c_uint;
        // SAFETY: (the whole block) raw system calls on paths and
        // descriptors of the temporary directory, with valid pointers;
        // every descriptor opened is closed.
        unsafe {
            let fd = sys(libc::openat(at, file.as_ptr(), creat, 0o644));
            check("openat(O_CREAT, 0644)", fd, Want::Succeed);
            let fd = fd.unwrap_or(-1) as libc::c_int;
            for bit in [libc::S_ISUID, libc::S_ISGID] {
                let mode = 0o755 | bit;
                let rc = sys(libc::openat(at, created.as_ptr(), creat, mode));
                check(&format!("openat(O_CREAT, {mode:o})"), rc, eperm());
                let rc = sys(libc::openat(at, path(".").as_ptr(), libc::O_TMPFILE | libc::O_WRONLY, mode));
                check(&format!("openat(O_TMPFILE, {mode:o})"), rc, eperm());
                let rc = sys(libc::mknodat(at, created.as_ptr(), regular | mode, 0));
                check(&format!("mknodat(S_IFREG | {mode:o})"), rc, eperm());
                check(&format!("fchmod({mode:o})"), sys(libc::fchmod(fd, mode)), eperm());
                let rc = sys(libc::fchmodat(at, file.as_ptr(), mode, 0));
                check(&format!("fchmodat({mode:o})"), rc, eperm());
                let rc = sys(libc::syscall(super::filter::SYS_FCHMODAT2, at, file.as_ptr(), mode, 0));
                check(&format!("fchmodat2({mode:o})"), rc, eperm());
                #[cfg(target_arch = "x86_64")]
                {
                    let rc = sys(libc::syscall(libc::SYS_chmod, file.as_ptr(), mode));
                    check(&format!("chmod({mode:o})"), rc, eperm());
                    let rc = sys(libc::syscall(libc::SYS_open, created.as_ptr(), creat, mode));
                    check(&format!("open(O_CREAT, {mode:o})"), rc, eperm());
                    let rc = sys(libc::syscall(libc::SYS_creat, created.as_ptr(), mode));
                    check(&format!("creat({mode:o})"), rc, eperm());
                    let rc = sys(libc::syscall(libc::SYS_mknod, created.as_ptr(), regular | mode, 0));
                    check(&format!("mknod(S_IFREG | {mode:o})"), rc, eperm());
                }
            }
            // Modes without the bits, the sticky bit among them.
            check("fchmod(0700)", sys(libc::fchmod(fd, 0o700)), Want::Succeed);
            check("fchmodat(1755)", sys(libc::fchmodat(at, file.as_ptr(), 0o1755, 0)), Want::Succeed);
            let rc = sys(libc::mknodat(at, path("node").as_ptr(), regular | 0o600, 0));
            check("mknodat(S_IFREG | 0600)", rc, Want::Succeed);
            // The filter reads the mode whatever the flags; without O_CREAT
            // or O_TMPFILE, libc passes 0 whatever it is given.
            let rc = sys(libc::syscall(libc::SYS_openat, at, file.as_ptr(), libc::O_RDONLY, 0o4755));
            check("raw openat(O_RDONLY, 4755)", rc, eperm());
            let rc = sys(libc::openat(at, file.as_ptr(), libc::O_RDONLY, 0o4755));
            check("libc openat(O_RDONLY, 4755)", rc, Want::Succeed);
            rc.map(close).ok();

            let mut how = std::mem::zeroed::<libc::open_how>();
            (how.flags, how.mode) = (creat as u64, 0o644);
            let size = std::mem::size_of_val(&how);
            let rc = sys(libc::syscall(
                libc::SYS_openat2,
                at,
                created.as_ptr(),
                &how as *const libc::open_how,
                size,
            ));
            check("openat2", rc, Want::Fail(libc::ENOSYS));

            let (name, value) = (c"user.cordon-test", b"1");
            let eopnotsupp = || Want::Fail(libc::EOPNOTSUPP);
            let rc = libc::setxattr(file.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0);
            check("setxattr", sys(rc), eopnotsupp());
            let rc = libc::lsetxattr(file.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0);
            check("lsetxattr", sys(rc), eopnotsupp());
            let rc = libc::fsetxattr(fd, name.as_ptr(), value.as_ptr().cast(), value.len(), 0);
            check("fsetxattr", sys(rc), eopnotsupp());
            #[repr(C)]
            struct XattrArgs {
                value: u64,
                size: u32,
                flags: u32,
            }
            let args = XattrArgs { value: value.as_ptr() as u64, size: value.len() as u32, flags: 0 };
            let (args, size) = (&args as *const XattrArgs, std::mem::size_of::<XattrArgs>());
            let rc =
                libc::syscall(super::filter::SYS_SETXATTRAT, at, file.as_ptr(), 0, name.as_ptr(), args, size);
            check("setxattrat", sys(rc), eopnotsupp());
            libc::close(fd);
        }
        let mode = std::fs::metadata(dir.path().join("file")).unwrap().permissions().mode();
        let set_id = if mode & 0o6000 == 0 { Ok(mode.into()) } else { Err(0) };
        check(&format!("no setuid or setgid bit in the file's mode {mode:o}"), set_id, Want::Succeed);
        assert!(!dir.path().join("created").exists(), "a refused call created its file");
    }

    /// Runs only in the child started by the test above.
    #[test]
    fn child_under_filter() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        // SAFETY: plain prctl; the orchestrator does the same before seccomp.
        assert_eq!(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, 0);
        let policy = crate::PolicyBuilder::new(crate::Preset::ReadOnly).build().unwrap();
        assert!(!policy.network);
        let layer = apply(&policy).expect("the filter installs");
        println!("installed: {}", layer.detail);

        let null = std::fs::File::open("/dev/null").unwrap();
        let null_fd = std::os::fd::AsRawFd::as_raw_fd(&null);
        let mut failures = Vec::new();
        let mut check = |what: &str, got: Result<i64, i32>, want: Want| {
            let ok = match (&want, got) {
                (Want::Succeed, Ok(_)) => true,
                (Want::Fail(errno), Err(got)) => *errno == got,
                _ => false,
            };
            println!("{} {what}: {got:?} (want {want:?})", if ok { "ok  " } else { "FAIL" });
            if !ok {
                failures.push(what.to_string());
            }
            if let (Ok(fd), true) = (got, what.starts_with("socket(")) {
                close(fd);
            }
        };
        let eperm = || Want::Fail(libc::EPERM);
        // SAFETY: (the whole block) raw system calls with valid or null
        // pointers, made to see them fail. Should the filter be missing,
        // none harms the test: sockets are closed, the `clone` child exits
        // at once, and PTRACE_TRACEME happens in a throwaway process.
        unsafe {
            check("socket(AF_INET)", sys(libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0)), eperm());
            check("socket(AF_INET6)", sys(libc::socket(libc::AF_INET6, libc::SOCK_DGRAM, 0)), eperm());
            check("socket(AF_NETLINK)", sys(libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, 0)), eperm());
            check("socket(AF_PACKET)", sys(libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0)), eperm());
            check("socket(AF_UNIX)", sys(libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0)), Want::Succeed);
            let mut pair = [-1; 2];
            let rc = libc::socketpair(libc::AF_INET, libc::SOCK_STREAM, 0, pair.as_mut_ptr());
            check("socketpair(AF_INET)", sys(rc), eperm());
            let rc = libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, pair.as_mut_ptr());
            check("socketpair(AF_UNIX)", sys(rc), Want::Succeed);
            pair.iter().filter(|&&fd| fd >= 0).for_each(|&fd| close(fd.into()));

            check("ptrace(TRACEME)", traceme_in_a_child(), eperm());
            let rc = libc::syscall(libc::SYS_process_vm_readv, libc::getpid(), 0, 0, 0, 0, 0);
            check("process_vm_readv", sys(rc), eperm());
            check("io_uring_setup", sys(libc::syscall(libc::SYS_io_uring_setup, 1, 0)), eperm());
            check("bpf", sys(libc::syscall(libc::SYS_bpf, 0, 0, 0)), eperm());
            check("perf_event_open", sys(libc::syscall(libc::SYS_perf_event_open, 0, 0, -1, -1, 0)), eperm());
            check("keyctl", sys(libc::syscall(libc::SYS_keyctl, 0, 0, 0)), eperm());
            check("mount", sys(libc::syscall(libc::SYS_mount, 0, 0, 0, 0, 0)), eperm());
            check("umount2", sys(libc::syscall(libc::SYS_umount2, 0, 0)), eperm());
            check("fsopen", sys(libc::syscall(libc::SYS_fsopen, 0, 0)), eperm());

            check("unshare(CLONE_NEWUSER)", sys(libc::unshare(libc::CLONE_NEWUSER)), eperm());
            check("setns", sys(libc::setns(-1, 0)), eperm());
            let flags = (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_long;
            let got = sys(libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0));
            match got {
                // The filter let it through and this is the new process.
                Ok(0) => libc::_exit(0),
                Ok(pid) => _ = libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0),
                Err(_) => {}
            }
            check("clone(CLONE_NEWUSER)", got, eperm());
            check("clone3", sys(libc::syscall(libc::SYS_clone3, 0, 0)), Want::Fail(libc::ENOSYS));

            let byte = b'x';
            let rc = libc::ioctl(null_fd, libc::TIOCSTI, &byte as *const u8);
            check("ioctl(TIOCSTI)", sys(rc), eperm());
            let rc = libc::ioctl(null_fd, libc::TIOCLINUX, &byte as *const u8);
            check("ioctl(TIOCLINUX)", sys(rc), eperm());
            // Other ioctls still reach the driver: /dev/null is no terminal.
            let mut termios = std::mem::zeroed::<libc::termios>();
            let rc = libc::ioctl(null_fd, libc::TCGETS, &mut termios as *mut libc::termios);
            check("ioctl(TCGETS)", sys(rc), Want::Fail(libc::ENOTTY));

            // Limits: the caller's own (pid 0) only.
            let mut old = std::mem::zeroed::<libc::rlimit64>();
            let rc = libc::syscall(
                libc::SYS_prlimit64,
                0,
                libc::RLIMIT_NOFILE,
                0,
                &mut old as *mut libc::rlimit64,
            );
            check("prlimit64(0, NOFILE, get)", sys(rc), Want::Succeed);
            let rc =
                libc::syscall(libc::SYS_prlimit64, 0, libc::RLIMIT_NOFILE, &old as *const libc::rlimit64, 0);
            check("prlimit64(0, NOFILE, set)", sys(rc), Want::Succeed);
            let rc = libc::syscall(
                libc::SYS_prlimit64,
                libc::getppid(),
                libc::RLIMIT_NOFILE,
                &old as *const libc::rlimit64,
                0,
            );
            check("prlimit64(parent, NOFILE, set)", sys(rc), eperm());
            let rc = libc::syscall(libc::SYS_prlimit64, libc::getpid(), libc::RLIMIT_NOFILE, 0, &mut old);
            check("prlimit64(own pid, NOFILE, get)", sys(rc), eperm());

            #[cfg(target_arch = "x86_64")]
            {
                let x32_socket = 0x4000_0000 | libc::SYS_socket;
                let rc = libc::syscall(x32_socket, libc::AF_INET, libc::SOCK_STREAM, 0);
                check("x32 socket(AF_INET)", sys(rc), Want::Fail(libc::ENOSYS));
            }
        }

        set_id_modes_are_refused(&mut check);

        // Ordinary life goes on: threads and processes (glibc falls back
        // from clone3 to clone).
        let thread = std::thread::spawn(|| 42).join();
        println!("thread spawn: {:?}", thread.as_ref().ok());
        if !matches!(thread, Ok(42)) {
            failures.push("thread spawn".into());
        }
        if std::path::Path::new("/bin/true").exists() {
            let status = Command::new("/bin/true").status();
            println!("spawn /bin/true: {status:?}");
            if !matches!(status, Ok(s) if s.success()) {
                failures.push("spawn /bin/true".into());
            }
        }
        assert!(failures.is_empty(), "under the filter, these misbehaved: {failures:?}");
        println!("{CHILD_OK}");
    }
}
