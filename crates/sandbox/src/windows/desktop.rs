//! The runner's private desktop and the UI limits of its job.
//!
//! Windows keeps window messages, hooks, `SendInput` and screen reads within
//! one desktop. A sandbox on the user's own desktop (`WinSta0\Default`) can
//! type into the user's terminal, hook other programs and take
//! screenshots, whatever its token says. Each launch therefore gets a
//! desktop of its own, with a fresh random name and a DACL that grants the
//! runner's identity only, and the runner's job carries the UI limits that
//! keep it from the clipboard, global atoms, other desktops, system
//! settings and logoff ([`RUNNER_UI_LIMITS`]).
//!
//! This module decides the name, the `STARTUPINFOW.lpDesktop` string, the
//! DACL and the job's flags; the launch code only carries them out.

use std::fmt;

use super::integrity::Label;
use super::sddl::PipeIdentity;
use super::sid::{InvalidSid, check_sid, is_logon_sid};

/// What every private desktop's name starts with.
pub const DESKTOP_PREFIX: &str = "cordon-";

/// The most UTF-16 units a desktop name may have (`MAX_PATH`; the name is
/// also an object name under the window station).
pub const MAX_DESKTOP_NAME: usize = 260;

/// The names a private desktop must never have: the user's desktop, the
/// secure desktop of the logon screen and the screen saver's. `lpDesktop`
/// set to one of them would put the sandbox back beside the user.
pub const SHARED_DESKTOPS: &[&str] = &["Default", "Winlogon", "Screen-saver", "Disconnect"];

/// `JOB_OBJECT_UILIMIT_HANDLES`: no use of USER handles (windows, hooks)
/// of processes outside the job.
pub const UILIMIT_HANDLES: u32 = 0x0001;
/// `JOB_OBJECT_UILIMIT_READCLIPBOARD`.
pub const UILIMIT_READCLIPBOARD: u32 = 0x0002;
/// `JOB_OBJECT_UILIMIT_WRITECLIPBOARD`.
pub const UILIMIT_WRITECLIPBOARD: u32 = 0x0004;
/// `JOB_OBJECT_UILIMIT_SYSTEMPARAMETERS`: no `SystemParametersInfo` changes.
pub const UILIMIT_SYSTEMPARAMETERS: u32 = 0x0008;
/// `JOB_OBJECT_UILIMIT_DISPLAYSETTINGS`: no `ChangeDisplaySettings`.
pub const UILIMIT_DISPLAYSETTINGS: u32 = 0x0010;
/// `JOB_OBJECT_UILIMIT_GLOBALATOMS`: a private global atom table.
pub const UILIMIT_GLOBALATOMS: u32 = 0x0020;
/// `JOB_OBJECT_UILIMIT_DESKTOP`: no `CreateDesktop` or `SwitchDesktop`.
pub const UILIMIT_DESKTOP: u32 = 0x0040;
/// `JOB_OBJECT_UILIMIT_EXITWINDOWS`: no `ExitWindows(Ex)`.
pub const UILIMIT_EXITWINDOWS: u32 = 0x0080;

/// The `JOBOBJECT_BASIC_UI_RESTRICTIONS.UIRestrictionsClass` of the
/// runner's job: every UI limit Windows has.
pub const RUNNER_UI_LIMITS: u32 = UILIMIT_HANDLES
    | UILIMIT_READCLIPBOARD
    | UILIMIT_WRITECLIPBOARD
    | UILIMIT_SYSTEMPARAMETERS
    | UILIMIT_DISPLAYSETTINGS
    | UILIMIT_GLOBALATOMS
    | UILIMIT_DESKTOP
    | UILIMIT_EXITWINDOWS;

/// `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`: closing the parent's job handle
/// ends everything in the job.
pub const LIMIT_KILL_ON_JOB_CLOSE: u32 = 0x2000;
/// `JOB_OBJECT_LIMIT_BREAKAWAY_OK`: a process may be created outside the
/// job with `CREATE_BREAKAWAY_FROM_JOB`. Never set for the runner.
pub const LIMIT_BREAKAWAY_OK: u32 = 0x0800;
/// `JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK`: every new process starts outside
/// the job. Never set for the runner.
pub const LIMIT_SILENT_BREAKAWAY_OK: u32 = 0x1000;

/// The `JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags` of the runner's job:
/// kill on close, and no way out of the job.
pub const RUNNER_JOB_LIMITS: u32 = LIMIT_KILL_ON_JOB_CLOSE;

const _: () = assert!(RUNNER_UI_LIMITS == 0xff);
const _: () = assert!(RUNNER_JOB_LIMITS & (LIMIT_BREAKAWAY_OK | LIMIT_SILENT_BREAKAWAY_OK) == 0);

/// A desktop name that is not one a private desktop may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDesktopName {
    /// The name given.
    pub name: String,
    /// Why it is refused.
    pub reason: &'static str,
}

impl fmt::Display for InvalidDesktopName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid private desktop name {:?}: {}", self.name, self.reason)
    }
}

impl std::error::Error for InvalidDesktopName {}

/// The name of a launch's private desktop: never empty, never a shared
/// desktop ([`SHARED_DESKTOPS`]), never a path, starting with
/// [`DESKTOP_PREFIX`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopName(String);

impl DesktopName {
    /// `cordon-` and 32 hex digits of `random` (128 bits from the OS, so two
    /// launches never share a desktop and none can guess another's).
    ///
    /// ```
    /// use cordon_sandbox::windows::desktop::DesktopName;
    ///
    /// let name = DesktopName::from_random([0xab; 16]);
    /// assert_eq!(name.as_str(), "cordon-abababababababababababababababab");
    /// assert_eq!(name.startup_path("WinSta0")?, r"WinSta0\cordon-abababababababababababababababab");
    /// # Ok::<(), cordon_sandbox::windows::desktop::InvalidDesktopName>(())
    /// ```
    pub fn from_random(random: [u8; 16]) -> DesktopName {
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        DesktopName(format!("{DESKTOP_PREFIX}{hex}"))
    }

    /// `name` if a private desktop may have it.
    pub fn parse(name: &str) -> Result<DesktopName, InvalidDesktopName> {
        let refuse = |reason| Err(InvalidDesktopName { name: name.to_string(), reason });
        if name.is_empty() {
            return refuse("empty (the process would share its parent's desktop)");
        }
        if SHARED_DESKTOPS.iter().any(|shared| shared.eq_ignore_ascii_case(name)) {
            return refuse("a desktop shared with the user");
        }
        if name.contains(['\\', '/', '\0']) {
            return refuse("contains a separator or NUL");
        }
        if !name.starts_with(DESKTOP_PREFIX) || name.len() == DESKTOP_PREFIX.len() {
            return refuse("not a cordon desktop name");
        }
        if name.encode_utf16().count() > MAX_DESKTOP_NAME {
            return refuse("too long");
        }
        Ok(DesktopName(name.to_string()))
    }

    /// The name, as `CreateDesktopW` takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `STARTUPINFOW.lpDesktop`: `station\name`, `station` being the
    /// caller's window station (`WinSta0` in an interactive session). The
    /// desktop must be created in that station.
    pub fn startup_path(&self, station: &str) -> Result<String, InvalidDesktopName> {
        if station.is_empty() || station.contains(['\\', '/', '\0']) {
            return Err(InvalidDesktopName {
                name: station.to_string(),
                reason: "not a window station name",
            });
        }
        Ok(format!(r"{station}\{}", self.0))
    }
}

impl fmt::Display for DesktopName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The security descriptor of the private desktop: a protected DACL that
/// grants generic all to the runner's identity only: the sandbox user, or,
/// for a write-restricted runner, the user and its logon SID (opening a
/// desktop to create windows is a write, which a write-restricted token
/// also checks against its restricting SIDs), with a Low label for its
/// Low integrity. Not SYSTEM, not Administrators, not Everyone. The caller, as the creator, holds its
/// handle whatever the DACL says, and owns the object.
///
/// ```
/// use cordon_sandbox::windows::desktop::desktop_security;
/// use cordon_sandbox::windows::sddl::PipeIdentity;
///
/// let identity = PipeIdentity::SandboxUser {
///     runner_sid: "S-1-5-21-1-2-3-1005".into(),
///     owner_sid: "S-1-5-21-1-2-3-1001".into(),
/// };
/// assert_eq!(desktop_security(&identity)?, "D:P(A;;GA;;;S-1-5-21-1-2-3-1005)");
/// # Ok::<(), cordon_sandbox::windows::sid::InvalidSid>(())
/// ```
pub fn desktop_security(identity: &PipeIdentity) -> Result<String, InvalidSid> {
    match identity {
        PipeIdentity::SandboxUser { runner_sid, owner_sid } => {
            check_sid(runner_sid)?;
            check_sid(owner_sid)?;
            Ok(format!("D:P(A;;GA;;;{runner_sid})"))
        }
        PipeIdentity::RestrictedToken { user_sid, logon_sid } => {
            check_sid(user_sid)?;
            if !is_logon_sid(logon_sid) {
                return Err(InvalidSid { value: logon_sid.clone(), expected: "logon SID" });
            }
            // Labelled Low, for the runner's Low integrity.
            Ok(format!("D:P(A;;GA;;;{user_sid})(A;;GA;;;{logon_sid}){}", Label::LowObject.sddl()))
        }
    }
}

/// `WINSTA_ENUMDESKTOPS`.
pub const WINSTA_ENUMDESKTOPS: u32 = 0x0001;
/// `WINSTA_READATTRIBUTES`.
pub const WINSTA_READATTRIBUTES: u32 = 0x0002;
/// `WINSTA_ACCESSCLIPBOARD`: never granted.
pub const WINSTA_ACCESSCLIPBOARD: u32 = 0x0004;
/// `WINSTA_CREATEDESKTOP`: never granted.
pub const WINSTA_CREATEDESKTOP: u32 = 0x0008;
/// `WINSTA_WRITEATTRIBUTES`: never granted.
pub const WINSTA_WRITEATTRIBUTES: u32 = 0x0010;
/// `WINSTA_ACCESSGLOBALATOMS`.
pub const WINSTA_ACCESSGLOBALATOMS: u32 = 0x0020;
/// `WINSTA_EXITWINDOWS`: never granted.
pub const WINSTA_EXITWINDOWS: u32 = 0x0040;
/// `WINSTA_ENUMERATE`.
pub const WINSTA_ENUMERATE: u32 = 0x0100;
/// `WINSTA_READSCREEN`: never granted (it reads the visible desktop).
pub const WINSTA_READSCREEN: u32 = 0x0200;

/// What the sandbox user is granted on the caller's window station, which
/// a process must be able to open to start on one of its desktops:
/// connecting and reading its attributes, nothing that touches the
/// clipboard, the screen, logoff or other desktops' creation.
pub const STATION_ACCESS: u32 = WINSTA_ENUMDESKTOPS | WINSTA_READATTRIBUTES | WINSTA_ACCESSGLOBALATOMS;

/// The window-station grant a launch needs: the sandbox user's SID and
/// [`STATION_ACCESS`]. `CreateProcessWithLogonW` given a desktop leaves
/// that grant to the caller. A write-restricted runner needs none: it is
/// the user, in the user's logon session, which the station grants already.
pub fn station_grant(identity: &PipeIdentity) -> Result<Option<(String, u32)>, InvalidSid> {
    match identity {
        PipeIdentity::SandboxUser { runner_sid, .. } => {
            check_sid(runner_sid)?;
            Ok(Some((runner_sid.clone(), STATION_ACCESS)))
        }
        PipeIdentity::RestrictedToken { .. } => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::sid::{ADMINISTRATORS, EVERYONE, SYSTEM};

    const ALICE: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
    const SANDBOX: &str = "S-1-5-21-1004336348-1177238915-682003330-1005";
    const LOGON: &str = "S-1-5-5-0-315274";

    #[test]
    fn the_desktop_name_is_never_empty_or_default() {
        for random in [[0u8; 16], [0xff; 16], *b"Default\0\0\0\0\0\0\0\0\0"] {
            let name = DesktopName::from_random(random);
            assert!(!name.as_str().is_empty());
            assert!(SHARED_DESKTOPS.iter().all(|shared| !shared.eq_ignore_ascii_case(name.as_str())));
            assert_eq!(DesktopName::parse(name.as_str()), Ok(name.clone()), "a generated name is valid");
        }
    }

    #[test]
    fn each_launch_gets_its_own_desktop_name() {
        let a = DesktopName::from_random([1; 16]);
        let b = DesktopName::from_random([2; 16]);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), DESKTOP_PREFIX.len() + 32, "all 128 random bits are in the name");
    }

    #[test]
    fn empty_shared_and_path_names_are_refused() {
        for name in [
            "",
            "Default",
            "default",
            "DEFAULT",
            "Winlogon",
            "screen-saver",
            "Disconnect",
            r"WinSta0\Default",
            r"cordon-1\..\Default",
            "cordon-a/b",
            "cordon-\0",
            "cordon-",
            "other",
        ] {
            assert!(DesktopName::parse(name).is_err(), "{name:?}");
        }
        assert!(DesktopName::parse(&format!("cordon-{}", "a".repeat(300))).is_err(), "too long");
    }

    #[test]
    fn lp_desktop_names_the_station_and_the_private_desktop() {
        let name = DesktopName::from_random([0x5a; 16]);
        let path = name.startup_path("WinSta0").unwrap();
        assert_eq!(path, format!(r"WinSta0\{name}"));
        assert!(!path.ends_with(r"\Default"));
        for station in ["", r"WinSta0\x", "a\0"] {
            assert!(name.startup_path(station).is_err(), "{station:?}");
        }
    }

    #[test]
    fn the_desktop_dacl_grants_the_sandbox_user_only() {
        let identity = PipeIdentity::SandboxUser { runner_sid: SANDBOX.into(), owner_sid: ALICE.into() };
        let sddl = desktop_security(&identity).unwrap();
        assert_eq!(sddl, format!("D:P(A;;GA;;;{SANDBOX})"));
        for other in [ALICE, SYSTEM, ADMINISTRATORS, EVERYONE] {
            assert!(!sddl.contains(other), "{other} is not granted: {sddl}");
        }
    }

    #[test]
    fn the_desktop_dacl_grants_a_restricted_runner_its_user_and_logon_sid_only() {
        let identity = PipeIdentity::RestrictedToken { user_sid: ALICE.into(), logon_sid: LOGON.into() };
        let sddl = desktop_security(&identity).unwrap();
        assert_eq!(sddl, format!("D:P(A;;GA;;;{ALICE})(A;;GA;;;{LOGON})S:(ML;;NW;;;LW)"));
        for other in [SYSTEM, ADMINISTRATORS, EVERYONE] {
            assert!(!sddl.contains(other), "{other} is not granted: {sddl}");
        }
    }

    #[test]
    fn the_desktop_dacl_refuses_what_is_not_a_sid() {
        let bad = PipeIdentity::SandboxUser {
            runner_sid: "S-1-5-21-1)(A;;GA;;;WD".into(),
            owner_sid: ALICE.into(),
        };
        assert!(desktop_security(&bad).is_err());
        let bad = PipeIdentity::RestrictedToken { user_sid: ALICE.into(), logon_sid: EVERYONE.into() };
        assert!(desktop_security(&bad).is_err());
    }

    #[test]
    fn the_sandbox_user_gets_the_station_but_not_its_clipboard_screen_or_logoff() {
        let identity = PipeIdentity::SandboxUser { runner_sid: SANDBOX.into(), owner_sid: ALICE.into() };
        let (sid, mask) = station_grant(&identity).unwrap().expect("a grant");
        assert_eq!(sid, SANDBOX);
        assert_eq!(mask, 0x23);
        for never in [
            WINSTA_ACCESSCLIPBOARD,
            WINSTA_CREATEDESKTOP,
            WINSTA_WRITEATTRIBUTES,
            WINSTA_EXITWINDOWS,
            WINSTA_READSCREEN,
            WINSTA_ENUMERATE,
        ] {
            assert_eq!(mask & never, 0, "{never:#x}");
        }
        let restricted = PipeIdentity::RestrictedToken { user_sid: ALICE.into(), logon_sid: LOGON.into() };
        assert_eq!(station_grant(&restricted).unwrap(), None);
        let bad = PipeIdentity::SandboxUser { runner_sid: "WD".into(), owner_sid: ALICE.into() };
        assert!(station_grant(&bad).is_err());
    }

    #[test]
    fn the_runner_job_has_every_ui_limit() {
        for (flag, value) in [
            (UILIMIT_HANDLES, 0x1),
            (UILIMIT_READCLIPBOARD, 0x2),
            (UILIMIT_WRITECLIPBOARD, 0x4),
            (UILIMIT_SYSTEMPARAMETERS, 0x8),
            (UILIMIT_DISPLAYSETTINGS, 0x10),
            (UILIMIT_GLOBALATOMS, 0x20),
            (UILIMIT_DESKTOP, 0x40),
            (UILIMIT_EXITWINDOWS, 0x80),
        ] {
            assert_eq!(flag, value, "winnt.h value");
            assert_eq!(RUNNER_UI_LIMITS & flag, flag, "{flag:#x} is set");
        }
    }

    #[test]
    fn the_runner_job_kills_on_close_and_allows_no_breakaway() {
        assert_eq!(RUNNER_JOB_LIMITS & LIMIT_KILL_ON_JOB_CLOSE, LIMIT_KILL_ON_JOB_CLOSE);
        assert_eq!(RUNNER_JOB_LIMITS & LIMIT_BREAKAWAY_OK, 0);
        assert_eq!(RUNNER_JOB_LIMITS & LIMIT_SILENT_BREAKAWAY_OK, 0);
        assert_eq!(
            (LIMIT_KILL_ON_JOB_CLOSE, LIMIT_BREAKAWAY_OK, LIMIT_SILENT_BREAKAWAY_OK),
            (0x2000, 0x800, 0x1000)
        );
    }
}
