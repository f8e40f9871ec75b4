//! The restricted-token mode: the runner runs as the parent's user under a
//! token made by `CreateRestrictedToken` with the flags and restricting SIDs
//! of a [`RestrictedTokenPlan`].
//!
//! A write-restricted token passes an access check for writing only if the
//! DACL grants the write both to the user and to one of the restricting
//! SIDs. The restricting SIDs are a capability SID per writable root, the
//! logon SID and Everyone; the roots get an ACE for their capability SID
//! ([`root_grants`]) and their protected entries a deny ACE for it
//! ([`protected_denies`]). Reading is not restricted by the SIDs; the
//! token's Low integrity keeps it from reading the user's processes
//! ([`integrity`](super::integrity)), and the powerful groups an elevated
//! caller's token holds are deny-only in it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::integrity::{DENY_ONLY_GROUPS, IntegrityLevel, SANDBOX_INTEGRITY, default_dacl};
use super::path;
use super::sddl::{AceKind, allow_modify_ace, deny_write_ace};
use super::sid::{EVERYONE, InvalidSid, capability_sid, check_sid, is_logon_sid};

/// `DISABLE_MAX_PRIVILEGE`: every privilege but `SeChangeNotifyPrivilege`
/// is removed.
pub const DISABLE_MAX_PRIVILEGE: u32 = 0x1;
/// `LUA_TOKEN`: the token is a limited (non-elevated) user's token.
pub const LUA_TOKEN: u32 = 0x4;
/// `WRITE_RESTRICTED`: the restricting SIDs are checked for write access only.
pub const WRITE_RESTRICTED: u32 = 0x8;

/// The arguments of `CreateRestrictedToken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictedTokenPlan {
    /// [`DISABLE_MAX_PRIVILEGE`] `|` [`LUA_TOKEN`] `|` [`WRITE_RESTRICTED`].
    pub flags: u32,
    /// The restricting SIDs, in order: the capability SID of each writable
    /// root (each once), the logon SID, Everyone.
    pub restricting_sids: Vec<String>,
    /// The groups made deny-only ([`DENY_ONLY_GROUPS`]).
    pub deny_only: Vec<String>,
    /// The integrity level it is lowered to ([`SANDBOX_INTEGRITY`]).
    pub integrity: IntegrityLevel,
    /// Its default DACL ([`default_dacl`]): SYSTEM and the logon SID.
    pub default_dacl: String,
}

/// The token plan for `writable_roots`, in the logon session `logon_sid`
/// (`S-1-5-5-X-Y`, which the control pipe also grants write to).
///
/// ```
/// use std::path::PathBuf;
/// use cordon_sandbox::windows::sid::capability_sid;
/// use cordon_sandbox::windows::token::restricted_token_plan;
///
/// let roots = [PathBuf::from(r"C:\work")];
/// let plan = restricted_token_plan(&roots, "S-1-5-5-0-4242")?;
/// assert_eq!(plan.restricting_sids, [capability_sid(&roots[0]), "S-1-5-5-0-4242".into(), "S-1-1-0".into()]);
/// # Ok::<(), cordon_sandbox::windows::sid::InvalidSid>(())
/// ```
pub fn restricted_token_plan(
    writable_roots: &[PathBuf],
    logon_sid: &str,
) -> Result<RestrictedTokenPlan, InvalidSid> {
    if !is_logon_sid(logon_sid) {
        return Err(InvalidSid { value: logon_sid.to_string(), expected: "logon SID" });
    }
    let mut restricting_sids: Vec<String> =
        unique_roots(writable_roots).into_iter().map(capability_sid).collect();
    restricting_sids.push(logon_sid.to_string());
    restricting_sids.push(EVERYONE.to_string());
    Ok(RestrictedTokenPlan {
        flags: DISABLE_MAX_PRIVILEGE | LUA_TOKEN | WRITE_RESTRICTED,
        restricting_sids,
        deny_only: DENY_ONLY_GROUPS.iter().map(|sid| sid.to_string()).collect(),
        integrity: SANDBOX_INTEGRITY,
        default_dacl: default_dacl(logon_sid)?,
    })
}

/// The ACE each writable root needs: modify for its capability SID,
/// inherited by everything beneath. One entry per root (spellings of one
/// root count once), in order.
pub fn root_grants(writable_roots: &[PathBuf]) -> Vec<(PathBuf, String)> {
    unique_roots(writable_roots)
        .into_iter()
        .map(|root| {
            (root.to_path_buf(), allow_modify_ace(&capability_sid(root)).expect("capability SIDs are valid"))
        })
        .collect()
}

/// The deny ACEs that keep `root\name` read-only for every root and
/// protected name: one for the capability SID of each writable root that
/// contains the protected path (a root that contains another root would
/// otherwise still grant write through its own inherited ACE).
pub fn protected_denies(writable_roots: &[PathBuf], protected_names: &[String]) -> Vec<(PathBuf, String)> {
    let roots = unique_roots(writable_roots);
    let mut denies = Vec::new();
    for root in &roots {
        for name in protected_names {
            let protected = path::join(root, name);
            let normalized = path::normalize(&protected);
            for holder in &roots {
                if path::is_within(&normalized, &path::normalize(holder)) {
                    let ace = deny_write_ace(&capability_sid(holder)).expect("capability SIDs are valid");
                    denies.push((protected.clone(), ace));
                }
            }
        }
    }
    denies
}

/// One ACE the restricted-token launch adds to a file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AceStep {
    /// The file or directory.
    pub path: PathBuf,
    /// The trustee: a capability SID.
    pub sid: String,
    /// Allow modify, deny write, or deny all.
    pub kind: AceKind,
}

/// What a restricted-token launch does before the runner starts: the
/// token, and the ACEs, in order (every root's grant, then every deny).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictedLaunchPlan {
    /// The arguments of `CreateRestrictedToken`.
    pub token: RestrictedTokenPlan,
    /// The ACEs to add. A launch that cannot add one of them is refused:
    /// without its deny ACE a protected path is writable.
    pub aces: Vec<AceStep>,
    /// The roots to label Low ([`Label::LowTree`](super::integrity::Label)),
    /// each once: without it the Low runner can write none of a root.
    pub low_labels: Vec<PathBuf>,
    /// The protected paths inside those roots, to label back to Medium
    /// ([`Label::MediumTree`](super::integrity::Label)), each once, after
    /// the roots: what the roots' Low label would open to every Low process
    /// of the user's stays closed.
    pub medium_labels: Vec<PathBuf>,
}

/// The plan of a restricted-token launch for `writable_roots`, the
/// policy's protected paths (`FilesystemPolicy::protected`: `.git`,
/// `.cordon`, repositories' hooks and config) and its denied paths
/// (`FilesystemPolicy::deny`), in the logon session `logon_sid`.
///
/// Each root gets an allow-modify ACE for its capability SID; each
/// protected or denied path a deny-write ACE for the capability SID of
/// every root that contains it (a root that contains another root would
/// otherwise still grant write through its own inherited ACE). A path in
/// no root needs no deny: nothing grants the sandbox write there. A denied
/// path stays readable: a write-restricted token is checked against its
/// restricting SIDs for writes only, and a deny for a SID the token holds
/// besides (the user, the logon SID) would deny the user outside the
/// sandbox too (see [`enforcement`](super::enforcement)).
///
/// ```
/// use std::path::PathBuf;
/// use cordon_sandbox::windows::sddl::AceKind;
/// use cordon_sandbox::windows::sid::capability_sid;
/// use cordon_sandbox::windows::token::restricted_launch_plan;
///
/// let roots = [PathBuf::from(r"C:\work")];
/// let plan = restricted_launch_plan(&roots, &[PathBuf::from(r"C:\work\.git")], &[], "S-1-5-5-0-4242")?;
/// assert_eq!(plan.aces[1].path, PathBuf::from(r"C:\work\.git"));
/// assert_eq!(plan.aces[1].kind, AceKind::DenyWrite);
/// assert_eq!(plan.aces[1].sid, capability_sid(&roots[0]));
/// # Ok::<(), cordon_sandbox::windows::sid::InvalidSid>(())
/// ```
pub fn restricted_launch_plan(
    writable_roots: &[PathBuf],
    protected: &[PathBuf],
    deny: &[PathBuf],
    logon_sid: &str,
) -> Result<RestrictedLaunchPlan, InvalidSid> {
    let token = restricted_token_plan(writable_roots, logon_sid)?;
    let aces = capability_aces(writable_roots, protected, deny);
    let roots = unique_roots(writable_roots);
    let low_labels = roots.iter().map(|root| root.to_path_buf()).collect();
    let mut seen = HashSet::new();
    let medium_labels = protected
        .iter()
        .filter(|path| {
            let normalized = path::normalize(path);
            roots.iter().any(|root| path::is_within(&normalized, &path::normalize(root)))
                && seen.insert(normalized)
        })
        .cloned()
        .collect();
    Ok(RestrictedLaunchPlan { token, aces, low_labels, medium_labels })
}

/// Each root's allow-modify ACE for its capability SID, then a deny-write
/// ACE on each protected or denied path (each once) for the capability
/// SID of every root that contains it.
fn capability_aces(writable_roots: &[PathBuf], protected: &[PathBuf], deny: &[PathBuf]) -> Vec<AceStep> {
    let roots = unique_roots(writable_roots);
    let mut aces: Vec<AceStep> = roots
        .iter()
        .map(|root| AceStep {
            path: root.to_path_buf(),
            sid: capability_sid(root),
            kind: AceKind::AllowModify,
        })
        .collect();
    let mut seen = HashSet::new();
    for path in protected.iter().chain(deny).filter(|path| seen.insert(path::normalize(path))) {
        let normalized = path::normalize(path);
        for holder in &roots {
            if path::is_within(&normalized, &path::normalize(holder)) {
                aces.push(AceStep {
                    path: path.clone(),
                    sid: capability_sid(holder),
                    kind: AceKind::DenyWrite,
                });
            }
        }
    }
    aces
}

/// The token the runner, started as the sandbox user, gives every
/// command: write-restricted to the capability SIDs of *this launch's*
/// writable roots, its logon SID and Everyone, as in restricted-token
/// mode, but at the sandbox user's own Medium integrity (it is another
/// user than the caller, whose processes it cannot open anyway). Without
/// it a command could write every root any launch was ever granted
/// (`cordon setup`'s among them), whatever this launch's policy says.
///
/// ```
/// use std::path::PathBuf;
/// use cordon_sandbox::windows::integrity::IntegrityLevel;
/// use cordon_sandbox::windows::sid::capability_sid;
/// use cordon_sandbox::windows::token::elevated_command_token_plan;
///
/// let roots = [PathBuf::from(r"C:\work")];
/// let plan = elevated_command_token_plan(&roots, "S-1-5-5-0-77")?;
/// assert_eq!(plan.restricting_sids[0], capability_sid(&roots[0]));
/// assert_eq!(plan.integrity, IntegrityLevel::Medium);
/// # Ok::<(), cordon_sandbox::windows::sid::InvalidSid>(())
/// ```
pub fn elevated_command_token_plan(
    writable_roots: &[PathBuf],
    logon_sid: &str,
) -> Result<RestrictedTokenPlan, InvalidSid> {
    Ok(RestrictedTokenPlan {
        integrity: IntegrityLevel::Medium,
        ..restricted_token_plan(writable_roots, logon_sid)?
    })
}

/// The ACEs an elevated launch adds before the runner starts as the sandbox
/// user `runner_sid`, in order:
///
/// - each writable root: allow-modify for the sandbox user (so that the
///   launch's roots are writable whether or not `cordon setup` granted
///   them) and for the root's capability SID (which the commands' token
///   [`elevated_command_token_plan`] is restricted to);
/// - each protected or denied path in a root: deny-write for the
///   capability SID of every root that contains it;
/// - each denied path: deny-all, inherited beneath, for the sandbox user,
///   which can then neither read nor write there whatever else grants it.
///
/// ```
/// use std::path::PathBuf;
/// use cordon_sandbox::windows::sddl::AceKind;
/// use cordon_sandbox::windows::token::elevated_launch_aces;
///
/// let roots = [PathBuf::from(r"C:\work")];
/// let aces = elevated_launch_aces(&roots, &[], &[PathBuf::from(r"C:\Users\me\.ssh")], "S-1-5-21-1-2-3-1005")?;
/// assert_eq!(aces[0].sid, "S-1-5-21-1-2-3-1005");
/// assert_eq!(aces[0].kind, AceKind::AllowModify);
/// assert_eq!(aces.last().unwrap().kind, AceKind::DenyAll);
/// # Ok::<(), cordon_sandbox::windows::sid::InvalidSid>(())
/// ```
pub fn elevated_launch_aces(
    writable_roots: &[PathBuf],
    protected: &[PathBuf],
    deny: &[PathBuf],
    runner_sid: &str,
) -> Result<Vec<AceStep>, InvalidSid> {
    check_sid(runner_sid)?;
    let mut aces: Vec<AceStep> = unique_roots(writable_roots)
        .into_iter()
        .map(|root| AceStep {
            path: root.to_path_buf(),
            sid: runner_sid.to_string(),
            kind: AceKind::AllowModify,
        })
        .collect();
    aces.extend(capability_aces(writable_roots, protected, deny));
    let mut seen = HashSet::new();
    aces.extend(deny.iter().filter(|path| seen.insert(path::normalize(path))).map(|path| AceStep {
        path: path.clone(),
        sid: runner_sid.to_string(),
        kind: AceKind::DenyAll,
    }));
    Ok(aces)
}

/// The writable roots, of `owners` (each root and its owner's SID), that
/// an elevated launch by `caller_sid` must refuse: those another user
/// owns. The sandbox accounts are the machine's, shared by every user who
/// ran `cordon setup`, and a capability SID is the same for everyone who
/// names a root; without this another user's root, granted by that user's
/// launches, would be writable from a sandbox of this caller's that named
/// it. (In restricted-token mode the token's own user is checked, and it is
/// the caller.)
///
/// ```
/// use std::path::PathBuf;
/// use cordon_sandbox::windows::token::foreign_roots;
///
/// let me = "S-1-5-21-1-2-3-1001";
/// let owners = [(PathBuf::from(r"C:\mine"), me.to_string()), (PathBuf::from(r"C:\Users\bob\w"), "S-1-5-21-1-2-3-1002".into())];
/// assert_eq!(foreign_roots(&owners, me), [&owners[1]]);
/// ```
pub fn foreign_roots<'a>(owners: &'a [(PathBuf, String)], caller_sid: &str) -> Vec<&'a (PathBuf, String)> {
    owners.iter().filter(|(_, owner)| !owner.eq_ignore_ascii_case(caller_sid)).collect()
}

/// The ACE that lets the runner read and delete its request file (the
/// legacy one-shot bootstrap): modify, for `reader_sid`, on the private
/// directory the file is in, inherited by the file. The directory is the
/// user's alone, and neither reader could finish otherwise: the sandbox
/// user is another account, and a write-restricted token may read the
/// file but not delete it, since its restricting SIDs (the logon SID among
/// them, which every process of the session holds anyway) are granted
/// nothing there.
///
/// ```
/// use std::path::Path;
/// use cordon_sandbox::windows::sddl::AceKind;
/// use cordon_sandbox::windows::token::request_file_ace;
///
/// let request = Path::new(r"C:\Users\me\AppData\Local\Temp\cordon-request-x1\request.json");
/// let ace = request_file_ace(request, "S-1-5-5-0-4242")?;
/// assert_eq!(ace.path, Path::new(r"C:\Users\me\AppData\Local\Temp\cordon-request-x1"));
/// assert_eq!((ace.sid.as_str(), ace.kind), ("S-1-5-5-0-4242", AceKind::AllowModify));
/// # Ok::<(), cordon_sandbox::windows::sid::InvalidSid>(())
/// ```
pub fn request_file_ace(request: &Path, reader_sid: &str) -> Result<AceStep, InvalidSid> {
    check_sid(reader_sid)?;
    let text = request.to_string_lossy();
    let directory = match text.trim_end_matches(['\\', '/']).rfind(['\\', '/']) {
        Some(end) => PathBuf::from(&text[..end]),
        None => request.to_path_buf(),
    };
    Ok(AceStep { path: directory, sid: reader_sid.to_string(), kind: AceKind::AllowModify })
}

/// The roots, without later spellings of an earlier one.
fn unique_roots(roots: &[PathBuf]) -> Vec<&Path> {
    let mut seen = HashSet::new();
    roots.iter().filter(|root| seen.insert(path::normalize(root))).map(PathBuf::as_path).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGON: &str = "S-1-5-5-0-315274";

    fn roots(paths: &[&str]) -> Vec<PathBuf> {
        paths.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn the_request_file_ace_grants_its_directory_to_the_reader() {
        let ace = request_file_ace(Path::new(r"C:\t\cordon-request-a\request.json"), LOGON).unwrap();
        assert_eq!(
            ace,
            AceStep {
                path: PathBuf::from(r"C:\t\cordon-request-a"),
                sid: LOGON.into(),
                kind: AceKind::AllowModify
            }
        );
        let ace = request_file_ace(Path::new("C:/t/d/request.json"), "S-1-5-21-1-2-3-1005").unwrap();
        assert_eq!(ace.path, PathBuf::from("C:/t/d"));
        assert!(request_file_ace(Path::new(r"C:\t\r.json"), "not a sid").is_err());
    }

    #[test]
    fn token_is_write_restricted_without_privileges() {
        let plan = restricted_token_plan(&roots(&[r"C:\work"]), LOGON).unwrap();
        assert_eq!(plan.flags, 0x1 | 0x4 | 0x8);
    }

    #[test]
    fn token_is_low_integrity_with_admin_groups_deny_only_and_a_session_default_dacl() {
        let plan = restricted_token_plan(&roots(&[r"C:\work"]), LOGON).unwrap();
        assert_eq!(plan.integrity, IntegrityLevel::Low);
        assert!(plan.deny_only.iter().any(|sid| sid == super::super::sid::ADMINISTRATORS));
        assert_eq!(plan.default_dacl, format!("D:(A;;GA;;;S-1-5-18)(A;;GA;;;{LOGON})"));
    }

    #[test]
    fn the_restricted_plan_labels_each_root_low_once() {
        let roots = roots(&[r"C:\work", "c:/WORK/", r"D:\tmp"]);
        let plan = restricted_launch_plan(&roots, &[], &[], LOGON).unwrap();
        assert_eq!(plan.low_labels, [PathBuf::from(r"C:\work"), PathBuf::from(r"D:\tmp")]);
    }

    #[test]
    fn the_restricted_plan_labels_protected_paths_in_its_roots_back_to_medium() {
        let roots = roots(&[r"C:\work"]);
        let protected = vec![
            PathBuf::from(r"C:\work\.git"),
            PathBuf::from("c:/work/.GIT"),
            PathBuf::from(r"D:\elsewhere\.git"),
        ];
        let plan = restricted_launch_plan(&roots, &protected, &[], LOGON).unwrap();
        assert_eq!(plan.medium_labels, [PathBuf::from(r"C:\work\.git")]);
    }

    #[test]
    fn restricting_sids_are_roots_then_logon_then_everyone() {
        let roots = roots(&[r"C:\work", r"C:\tmp\cordon"]);
        let plan = restricted_token_plan(&roots, LOGON).unwrap();
        assert_eq!(
            plan.restricting_sids,
            vec![
                capability_sid(&roots[0]),
                capability_sid(&roots[1]),
                LOGON.to_string(),
                EVERYONE.to_string()
            ]
        );
    }

    #[test]
    fn one_root_spelled_twice_gives_one_sid() {
        let plan = restricted_token_plan(&roots(&[r"C:\work", "c:/WORK/", r"D:\x"]), LOGON).unwrap();
        assert_eq!(plan.restricting_sids.len(), 4);
        assert_eq!(plan.restricting_sids[0], capability_sid(Path::new(r"C:\work")));
        assert_eq!(plan.restricting_sids[1], capability_sid(Path::new(r"D:\x")));
    }

    #[test]
    fn no_roots_leaves_logon_and_everyone() {
        let plan = restricted_token_plan(&[], LOGON).unwrap();
        assert_eq!(plan.restricting_sids, vec![LOGON.to_string(), EVERYONE.to_string()]);
    }

    #[test]
    fn a_logon_sid_that_is_not_one_is_refused() {
        for logon in [EVERYONE, "S-1-5-21-1-2-3-1001", "S-1-5-5-0-1)(A;;GA;;;WD", ""] {
            assert!(restricted_token_plan(&[], logon).is_err(), "{logon:?}");
        }
    }

    #[test]
    fn each_root_grants_modify_to_its_own_capability_sid() {
        let roots = roots(&[r"C:\work", r"C:\Work\", r"D:\tmp"]);
        let grants = root_grants(&roots);
        assert_eq!(
            grants,
            vec![
                (roots[0].clone(), AceKind::AllowModify.sddl(&capability_sid(&roots[0])).unwrap()),
                (roots[2].clone(), AceKind::AllowModify.sddl(&capability_sid(&roots[2])).unwrap()),
            ]
        );
    }

    #[test]
    fn protected_entries_deny_write_to_the_capability_sid_of_their_root() {
        let roots = roots(&[r"C:\work", r"D:\tmp"]);
        let names = vec![".git".to_string()];
        let denies = protected_denies(&roots, &names);
        assert_eq!(
            denies,
            vec![
                (PathBuf::from(r"C:\work\.git"), format!("(D;OICI;0xd0156;;;{})", capability_sid(&roots[0]))),
                (PathBuf::from(r"D:\tmp\.git"), format!("(D;OICI;0xd0156;;;{})", capability_sid(&roots[1]))),
            ]
        );
    }

    #[test]
    fn the_restricted_plan_denies_write_to_git_and_cordon_in_each_root() {
        let roots = roots(&[r"C:\work", r"D:\tmp"]);
        let protected = vec![
            PathBuf::from(r"C:\work\.git"),
            PathBuf::from(r"C:\work\.cordon"),
            PathBuf::from(r"D:\tmp\.git"),
        ];
        let plan = restricted_launch_plan(&roots, &protected, &[], LOGON).unwrap();
        assert_eq!(plan.token, restricted_token_plan(&roots, LOGON).unwrap());
        let deny = |path: &str, root: &PathBuf| AceStep {
            path: PathBuf::from(path),
            sid: capability_sid(root),
            kind: AceKind::DenyWrite,
        };
        let allow = |root: &PathBuf| AceStep {
            path: root.clone(),
            sid: capability_sid(root),
            kind: AceKind::AllowModify,
        };
        assert_eq!(
            plan.aces,
            vec![
                allow(&roots[0]),
                allow(&roots[1]),
                deny(r"C:\work\.git", &roots[0]),
                deny(r"C:\work\.cordon", &roots[0]),
                deny(r"D:\tmp\.git", &roots[1]),
            ]
        );
    }

    #[test]
    fn the_restricted_plan_denies_through_every_root_that_holds_a_protected_path() {
        let roots = roots(&[r"C:\work", r"C:\work\sub"]);
        let plan = restricted_launch_plan(&roots, &[PathBuf::from(r"C:\work\sub\.git")], &[], LOGON).unwrap();
        let denies: Vec<&AceStep> = plan.aces.iter().filter(|ace| ace.kind == AceKind::DenyWrite).collect();
        assert_eq!(denies.len(), 2);
        assert!(denies.iter().any(|ace| ace.sid == capability_sid(&roots[0])));
        assert!(denies.iter().any(|ace| ace.sid == capability_sid(&roots[1])));
    }

    #[test]
    fn the_restricted_plan_skips_protected_paths_outside_the_roots_and_repeats() {
        let roots = roots(&[r"C:\work"]);
        let protected = vec![
            PathBuf::from(r"D:\other\.git"),
            PathBuf::from(r"C:\work\.git"),
            PathBuf::from("c:/WORK/.git"),
        ];
        let plan = restricted_launch_plan(&roots, &protected, &[], LOGON).unwrap();
        let denies: Vec<&AceStep> = plan.aces.iter().filter(|ace| ace.kind == AceKind::DenyWrite).collect();
        assert_eq!(denies.len(), 1, "{denies:?}");
        assert_eq!(denies[0].path, PathBuf::from(r"C:\work\.git"));
    }

    #[test]
    fn the_restricted_plan_refuses_a_bad_logon_sid() {
        assert!(restricted_launch_plan(&[], &[], &[], EVERYONE).is_err());
    }

    #[test]
    fn protected_entry_of_a_nested_root_denies_write_through_the_outer_root_too() {
        let roots = roots(&[r"C:\work", r"C:\work\sub"]);
        let denies = protected_denies(&roots, &[".git".to_string()]);
        let inner: Vec<&String> = denies
            .iter()
            .filter(|(path, _)| path == Path::new(r"C:\work\sub\.git"))
            .map(|(_, ace)| ace)
            .collect();
        assert_eq!(inner.len(), 2);
        assert!(inner.iter().any(|ace| ace.contains(&capability_sid(&roots[0]))));
        assert!(inner.iter().any(|ace| ace.contains(&capability_sid(&roots[1]))));
    }

    #[test]
    fn denied_paths_in_a_root_deny_write_to_its_capability_sid() {
        let roots = roots(&[r"C:\work"]);
        let deny = vec![PathBuf::from(r"C:\work\secrets"), PathBuf::from(r"C:\Users\me\.ssh")];
        let plan = restricted_launch_plan(&roots, &[PathBuf::from(r"C:\work\.git")], &deny, LOGON).unwrap();
        let denies: Vec<&AceStep> = plan.aces.iter().filter(|ace| ace.kind == AceKind::DenyWrite).collect();
        let paths: Vec<&Path> = denies.iter().map(|ace| ace.path.as_path()).collect();
        assert_eq!(paths, [Path::new(r"C:\work\.git"), Path::new(r"C:\work\secrets")]);
        assert!(denies.iter().all(|ace| ace.sid == capability_sid(&roots[0])));
        // A path both protected and denied gets one ACE.
        let twice = restricted_launch_plan(&roots, &deny[..1], &deny[..1], LOGON).unwrap();
        assert_eq!(twice.aces.iter().filter(|ace| ace.kind == AceKind::DenyWrite).count(), 1);
    }

    #[test]
    fn elevated_launches_deny_all_to_the_sandbox_user_on_each_denied_path() {
        let user = "S-1-5-21-1004336348-1177238915-682003330-1005";
        let deny = vec![
            PathBuf::from(r"C:\Users\me\.ssh"),
            PathBuf::from("c:/users/ME/.ssh/"),
            PathBuf::from(r"C:\Users\me\.aws"),
        ];
        let aces = elevated_launch_aces(&[], &[], &deny, user).unwrap();
        assert_eq!(aces.len(), 2, "one ACE per path, whatever its spelling");
        assert!(aces.iter().all(|ace| ace.kind == AceKind::DenyAll && ace.sid == user));
        assert!(elevated_launch_aces(&[], &[], &deny, "WD").is_err());
        assert!(elevated_launch_aces(&[], &[], &[], user).unwrap().is_empty());
    }

    #[test]
    fn the_elevated_plan_carries_the_launchs_roots() {
        let user = "S-1-5-21-1004336348-1177238915-682003330-1005";
        let roots = roots(&[r"C:\work", r"D:\tmp\cordon-tmp-1"]);
        let protected = vec![PathBuf::from(r"C:\work\.git")];
        let aces = elevated_launch_aces(&roots, &protected, &[], user).unwrap();
        let step = |path: &PathBuf, sid: String, kind| AceStep { path: path.clone(), sid, kind };
        assert_eq!(
            aces,
            vec![
                step(&roots[0], user.to_string(), AceKind::AllowModify),
                step(&roots[1], user.to_string(), AceKind::AllowModify),
                step(&roots[0], capability_sid(&roots[0]), AceKind::AllowModify),
                step(&roots[1], capability_sid(&roots[1]), AceKind::AllowModify),
                step(&protected[0], capability_sid(&roots[0]), AceKind::DenyWrite),
            ]
        );
    }

    #[test]
    fn an_elevated_launch_refuses_roots_another_user_owns() {
        let me = "S-1-5-21-1004336348-1177238915-682003330-1001";
        let owners = vec![
            (PathBuf::from(r"C:\work"), me.to_uppercase()),
            (PathBuf::from(r"C:\Users\bob\project"), "S-1-5-21-1004336348-1177238915-682003330-1002".into()),
            (PathBuf::from(r"C:\shared"), "S-1-5-32-544".into()),
        ];
        let foreign: Vec<&Path> = foreign_roots(&owners, me).iter().map(|(path, _)| path.as_path()).collect();
        assert_eq!(foreign, [Path::new(r"C:\Users\bob\project"), Path::new(r"C:\shared")]);
        assert!(foreign_roots(&owners[..1], me).is_empty());
    }

    #[test]
    fn the_commands_of_an_elevated_launch_are_restricted_to_its_roots_alone() {
        let launch = roots(&[r"C:\work"]);
        let plan = elevated_command_token_plan(&launch, LOGON).unwrap();
        assert_eq!(plan.restricting_sids, [capability_sid(&launch[0]), LOGON.into(), EVERYONE.into()]);
        assert_eq!(plan.flags & WRITE_RESTRICTED, WRITE_RESTRICTED);
        // A root granted at setup but not named by this launch has no
        // capability SID in the token: the commands cannot write it.
        assert!(!plan.restricting_sids.contains(&capability_sid(Path::new(r"C:\other-project"))));
        assert_eq!(plan.integrity, IntegrityLevel::Medium);
        assert_eq!(plan.default_dacl, format!("D:(A;;GA;;;S-1-5-18)(A;;GA;;;{LOGON})"));
    }
}
