//! What `cordon setup` does to a Windows machine, as a plan: the sandbox
//! users and their group, the ACEs on writable roots and protected paths,
//! the firewall rule that keeps the offline user off the network, the
//! stored credentials and a marker.
//!
//! [`SetupPlan::compute`] validates a [`SetupConfig`] and lists the steps in
//! the order they run. Executing them is the caller's job (it needs an
//! administrator); the plan also says which steps a machine still needs
//! ([`SetupPlan::pending`]), what an earlier setup left that this one no
//! longer wants ([`SetupPlan::obsolete`]), and how to undo a setup
//! ([`remove_plan`]). Account SIDs exist only on the machine, so steps name
//! accounts ([`Trustee::Group`]) and the executor resolves them.
//!
//! ```
//! use std::path::PathBuf;
//! use cordon_setup::plan::{ObservedState, SetupConfig, SetupPlan, SetupStep};
//!
//! let config = SetupConfig::new(r"C:\Users\alice\AppData\Local\cordon", vec![PathBuf::from(r"C:\work")]);
//! let plan = SetupPlan::compute(&config)?;
//! assert!(matches!(plan.steps()[0], SetupStep::CreateGroup { .. }));
//! // A machine that has seen nothing needs every step.
//! assert_eq!(plan.pending(&ObservedState::default()).len(), plan.steps().len());
//! # Ok::<(), cordon_setup::SetupError>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The accounts and files the plan makes, as the sandbox names them.
pub use cordon_sandbox::windows::accounts::{
    CREDENTIALS_FILE, DEFAULT_GROUP, DEFAULT_OFFLINE_USER, DEFAULT_ONLINE_USER, MARKER_FILE,
};
use cordon_sandbox::windows::path;
use cordon_sandbox::windows::sddl::AceKind;
use cordon_sandbox::windows::sid::{InvalidSid, check_sid};

use crate::{ErrorCode, SetupError};

/// The version of what setup does. Raise it when a step's content changes,
/// and make [`SetupStep::changed_in`] say which steps changed: machines set
/// up by an older version then re-run exactly those.
///
/// 2: a writable root's grant is two ACEs, the root's own without
/// `DELETE` ([`cordon_sandbox::windows::acl::entries`]).
/// 3: the accounts' logon rights denied; the filtering-platform filters.
/// 4: the filters block loopback too, and any user may read them (so that
/// each launch can check them).
pub const SETUP_VERSION: u32 = 4;

/// The registry key (under `HKEY_LOCAL_MACHINE`) whose DWORD values, named
/// after accounts, hide them from the logon screen when 0.
pub const HIDDEN_USERS_KEY: &str =
    r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\SpecialAccounts\UserList";

/// Longest user name Windows accepts (`sAMAccountName`), in UTF-16 units.
const MAX_USER_NAME: usize = 20;
/// Longest local group name Windows accepts, in UTF-16 units.
const MAX_GROUP_NAME: usize = 256;
/// Characters Windows refuses in account names.
const INVALID_NAME_CHARS: &[char] =
    &['"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@'];
/// Characters Windows refuses in file names (besides control characters);
/// `:` would name a stream.
const INVALID_FILE_NAME_CHARS: &[char] = &['\\', '/', '<', '>', '"', '|', '?', '*', ':'];

/// What setup should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupConfig {
    /// Roots the sandbox accounts may modify (absolute).
    pub writable_roots: Vec<PathBuf>,
    /// Entries of each root that stay read-only (default `.git`, `.cordon`).
    pub protected_names: Vec<String>,
    /// The account that runs sandboxes without network.
    pub offline_user: String,
    /// The account that runs sandboxes with network.
    pub online_user: String,
    /// The group of both accounts.
    pub group: String,
    /// Where the credentials and the marker live: a directory only the user
    /// who runs setup can write, such as `%LOCALAPPDATA%\cordon`; never
    /// inside a writable root.
    pub state_dir: PathBuf,
}

impl SetupConfig {
    /// A configuration with the default accounts and protected names.
    pub fn new(state_dir: impl Into<PathBuf>, writable_roots: Vec<PathBuf>) -> Self {
        SetupConfig {
            writable_roots,
            protected_names: cordon_sandbox::DEFAULT_PROTECTED_NAMES.iter().map(|s| s.to_string()).collect(),
            offline_user: DEFAULT_OFFLINE_USER.to_string(),
            online_user: DEFAULT_ONLINE_USER.to_string(),
            group: DEFAULT_GROUP.to_string(),
            state_dir: state_dir.into(),
        }
    }
}

/// Whether a sandbox account may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// Outbound traffic blocked by a firewall rule.
    Offline,
    /// No firewall rule.
    Online,
}

/// Who an ACE is for. Accounts are named; the executor looks up their SID
/// on the machine ([`Trustee::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Trustee {
    /// A local group, by name.
    Group(String),
    /// A SID string, known in advance.
    Sid(String),
}

impl Trustee {
    /// The trustee's SID; `lookup` finds a local account's SID by name.
    pub fn resolve(&self, lookup: impl FnOnce(&str) -> Option<String>) -> Result<String, SetupError> {
        let sid = match self {
            Trustee::Sid(sid) => sid.clone(),
            Trustee::Group(name) => lookup(name).ok_or_else(|| {
                SetupError::new(
                    ErrorCode::UnknownAccount,
                    format!("group {name} does not exist; run `cordon setup` again"),
                )
            })?,
        };
        check_sid(&sid)?;
        Ok(sid)
    }

    fn same(&self, other: &Trustee) -> bool {
        match (self, other) {
            (Trustee::Group(a), Trustee::Group(b)) => same_name(a, b),
            (Trustee::Sid(a), Trustee::Sid(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Trustee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trustee::Group(name) => write!(f, "group {name}"),
            Trustee::Sid(sid) => f.write_str(sid),
        }
    }
}

/// A DWORD value under `HKEY_LOCAL_MACHINE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryDword {
    /// The key, relative to `HKEY_LOCAL_MACHINE`.
    pub key: &'static str,
    /// The value's name.
    pub name: String,
    /// The data.
    pub value: u32,
}

/// The registry value that hides `user` from the logon screen.
pub fn hidden_user_value(user: &str) -> RegistryDword {
    RegistryDword { key: HIDDEN_USERS_KEY, name: user.to_string(), value: 0 }
}

/// Direction of the traffic a firewall rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Inbound.
    In,
    /// Outbound.
    Out,
}

impl Direction {
    /// The `NET_FW_RULE_DIRECTION` value.
    pub fn number(self) -> i32 {
        match self {
            Direction::In => 1,
            Direction::Out => 2,
        }
    }
}

/// What a firewall rule does with the traffic it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirewallAction {
    /// Drop it.
    Block,
    /// Let it through.
    Allow,
}

impl FirewallAction {
    /// The `NET_FW_ACTION` value.
    pub fn number(self) -> i32 {
        match self {
            FirewallAction::Block => 0,
            FirewallAction::Allow => 1,
        }
    }
}

/// The IP protocol a firewall rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Every protocol.
    Any,
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
}

impl Protocol {
    /// The `NET_FW_IP_PROTOCOL` value.
    pub fn number(self) -> i32 {
        match self {
            Protocol::Any => 256,
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

/// A Windows Firewall rule (`INetFwRule3`), enabled in every profile, that
/// applies to the processes of one local user only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallRule {
    /// The rule's name, which identifies it.
    pub name: String,
    /// What the firewall UI shows.
    pub description: String,
    /// Which traffic.
    pub direction: Direction,
    /// What happens to it.
    pub action: FirewallAction,
    /// Which protocol.
    pub protocol: Protocol,
    /// The user whose processes the rule applies to; the executor sets
    /// [`local_user_authorized_list`] of the user's SID.
    pub user: String,
}

impl FirewallRule {
    /// The rule that blocks all outbound traffic of `user`.
    pub fn block_outbound(user: &str) -> FirewallRule {
        FirewallRule {
            name: firewall_rule_name(user),
            description: format!(
                "Blocks all outbound traffic of {user}, the account cordon runs offline sandboxes as"
            ),
            direction: Direction::Out,
            action: FirewallAction::Block,
            protocol: Protocol::Any,
            user: user.to_string(),
        }
    }
}

fn firewall_rule_name(user: &str) -> String {
    format!("cordon: block outbound for {user}")
}

/// A layer of the Windows Filtering Platform where cordon blocks the
/// offline user: where a connection is authorized, outbound and inbound,
/// for IPv4 and IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WfpLayer {
    /// `FWPM_LAYER_ALE_AUTH_CONNECT_V4`: outbound connections (and a UDP
    /// socket's first datagram to a peer).
    ConnectV4,
    /// `FWPM_LAYER_ALE_AUTH_CONNECT_V6`.
    ConnectV6,
    /// `FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4`: inbound connections accepted.
    RecvAcceptV4,
    /// `FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6`.
    RecvAcceptV6,
}

impl WfpLayer {
    /// Every layer, in order.
    pub const ALL: [WfpLayer; 4] =
        [WfpLayer::ConnectV4, WfpLayer::ConnectV6, WfpLayer::RecvAcceptV4, WfpLayer::RecvAcceptV6];

    /// The layer's short name.
    pub fn name(self) -> &'static str {
        match self {
            WfpLayer::ConnectV4 => "connect-v4",
            WfpLayer::ConnectV6 => "connect-v6",
            WfpLayer::RecvAcceptV4 => "recv-accept-v4",
            WfpLayer::RecvAcceptV6 => "recv-accept-v6",
        }
    }
}

/// One persistent filter that blocks every connection of `user` in
/// `layer`, loopback ones included: matched by `FWPM_CONDITION_ALE_USER_ID`
/// against [`local_user_authorized_list`] of the user's SID (so no other
/// account's traffic is touched) and by nothing else. Loopback is closed
/// as on Linux, where an offline sandbox may open no IP socket at all: a
/// local service (a debugger port such as `node --inspect`'s, a database
/// trusting local clients, a proxy to the network) is as much outside the
/// sandbox as a remote one, and the platform cannot tell a sandbox's own
/// listener from another program's. The firewall rule cannot do this
/// (Windows exempts loopback from firewall rules); the filters can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WfpFilter {
    /// The filter's key: the same for a user and layer on every run, so
    /// that setup finds, replaces and deletes its own filters by it.
    pub key: u128,
    /// The layer.
    pub layer: WfpLayer,
    /// The user.
    pub user: String,
    /// What the filter list shows.
    pub name: String,
}

impl WfpFilter {
    /// The filters that block every connection of `user`, one per layer.
    pub fn block_all(user: &str) -> Vec<WfpFilter> {
        WfpLayer::ALL
            .into_iter()
            .map(|layer| WfpFilter {
                key: wfp_filter_key(user, layer),
                layer,
                user: user.to_string(),
                name: format!("cordon: block {} for {user}", layer.name()),
            })
            .collect()
    }

    /// Whether `found`, the filter the engine holds under this one's key,
    /// blocks all this one does: the same layer, a block, and the user
    /// its only condition. A filter of an older setup that excepted
    /// loopback has a second condition, and is not.
    pub fn is_in_force(&self, found: &FoundWfpFilter) -> bool {
        found.layer == Some(self.layer) && found.blocks && found.conditions == [WfpCondition::User]
    }
}

/// A filter as the engine holds it, as far as [`WfpFilter::is_in_force`]
/// depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundWfpFilter {
    /// Its layer, if it is one of [`WfpLayer::ALL`].
    pub layer: Option<WfpLayer>,
    /// Whether its action is a plain block.
    pub blocks: bool,
    /// Its conditions, in order.
    pub conditions: Vec<WfpCondition>,
}

/// A condition of a [`FoundWfpFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WfpCondition {
    /// `FWPM_CONDITION_ALE_USER_ID` equal to a security descriptor.
    User,
    /// Any other: a loopback exception, an address, a port, another match.
    /// Each narrows what the filter blocks.
    Other,
}

/// The security descriptor given to each filter: administrators and
/// SYSTEM manage it, and any signed-in user may read it, so that an
/// unelevated launch can check that the block is still there and whole
/// (the engine's default lets other users only open the engine).
pub const WFP_FILTER_SDDL: &str = "D:(A;;GA;;;BA)(A;;GA;;;SY)(A;;GR;;;AU)";

/// A filter's key: the first 128 bits of the SHA-256 of
/// `cordon wfp block {user, lower-cased} {layer}`, marked as a version-4
/// (random) GUID, so that it cannot be any other program's.
pub fn wfp_filter_key(user: &str, layer: WfpLayer) -> u128 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("cordon wfp block {} {}", user.to_lowercase(), layer.name()));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let value = u128::from_be_bytes(bytes);
    // Version 4 in bits 76..80, the RFC 4122 variant in bits 62..64.
    (value & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
}

/// The `LocalUserAuthorizedList` of a rule that applies to `user_sid` only:
/// owner Local Service, and an ACE granting `CC` to the user.
///
/// ```
/// use cordon_setup::plan::local_user_authorized_list;
/// assert_eq!(local_user_authorized_list("S-1-5-21-1-2-3-1005")?, "O:LSD:(A;;CC;;;S-1-5-21-1-2-3-1005)");
/// # Ok::<(), cordon_sandbox::windows::sid::InvalidSid>(())
/// ```
pub fn local_user_authorized_list(user_sid: &str) -> Result<String, InvalidSid> {
    check_sid(user_sid)?;
    Ok(format!("O:LSD:(A;;CC;;;{user_sid})"))
}

/// What `cordon setup` writes to record a finished setup (as JSON, in
/// [`MARKER_FILE`]): enough to know what to redo after an upgrade and what
/// to undo on removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupMarker {
    /// The [`SETUP_VERSION`] of the setup.
    pub version: u32,
    /// The offline account.
    pub offline_user: String,
    /// The online account.
    pub online_user: String,
    /// The group.
    pub group: String,
    /// The writable roots, as configured.
    pub writable_roots: Vec<PathBuf>,
    /// The protected names.
    pub protected_names: Vec<String>,
    /// The state directory.
    pub state_dir: PathBuf,
}

impl SetupMarker {
    /// The configuration this marker records.
    pub fn config(&self) -> SetupConfig {
        SetupConfig {
            writable_roots: self.writable_roots.clone(),
            protected_names: self.protected_names.clone(),
            offline_user: self.offline_user.clone(),
            online_user: self.online_user.clone(),
            group: self.group.clone(),
            state_dir: self.state_dir.clone(),
        }
    }
}

/// One thing setup does. Every step is idempotent: running it on a machine
/// where it is done already changes nothing (or, for [`CreateUser`], only
/// the password).
///
/// [`CreateUser`]: SetupStep::CreateUser
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupStep {
    /// Create the local group.
    CreateGroup {
        /// The group.
        name: String,
    },
    /// Create the local user with a fresh password (generated when the step
    /// runs, never part of the plan), or give an existing one a fresh
    /// password.
    CreateUser {
        /// The user.
        name: String,
        /// Whether it may use the network.
        network: Network,
    },
    /// Make the user a member of the group.
    AddToGroup {
        /// The user.
        user: String,
        /// The group.
        group: String,
    },
    /// Hide the user from the logon screen ([`hidden_user_value`]).
    HideFromLogonScreen {
        /// The user.
        user: String,
    },
    /// Deny the user every logon but the interactive one cordon uses
    /// ([`DENIED_LOGON_RIGHTS`]): no network logon with its password, no
    /// remote desktop, no batch job or service.
    DenyLogons {
        /// The user.
        user: String,
    },
    /// Add an inheritable allow-modify ACE for the trustee to a writable root.
    GrantWrite {
        /// The root.
        path: PathBuf,
        /// Who may write.
        trustee: Trustee,
    },
    /// Add an inheritable deny-write ACE for the trustee to a protected path.
    /// An ACL can only be set on something that exists: for a path that
    /// does not exist yet the executor decides (and reports) what to do.
    DenyWrite {
        /// The protected path (a writable root joined with a protected name).
        path: PathBuf,
        /// Who may not write.
        trustee: Trustee,
    },
    /// Create (or correct) the firewall rule that blocks the offline user.
    FirewallBlockOutbound(FirewallRule),
    /// Add (or replace) the persistent filters of the Windows Filtering
    /// Platform that block every connection of the user, loopback ones
    /// included ([`WfpFilter::block_all`]): the firewall rule's block, in
    /// force whether or not the firewall is on, for a profile, or
    /// overridden, and wider.
    WfpBlock {
        /// The user.
        user: String,
    },
    /// Store the passwords set by this run's [`SetupStep::CreateUser`] steps
    /// (replacing those users' entries, keeping the others), protected with
    /// DPAPI for the user running setup.
    StoreCredentials {
        /// The file.
        path: PathBuf,
    },
    /// Write the marker, last: a machine with a marker is fully set up.
    WriteMarker {
        /// The file.
        path: PathBuf,
        /// Its content.
        marker: SetupMarker,
    },
}

impl SetupStep {
    /// The [`SETUP_VERSION`] in which what this step does last changed.
    pub fn changed_in(&self) -> u32 {
        match self {
            SetupStep::CreateGroup { .. }
            | SetupStep::CreateUser { .. }
            | SetupStep::AddToGroup { .. }
            | SetupStep::HideFromLogonScreen { .. }
            | SetupStep::DenyWrite { .. }
            | SetupStep::FirewallBlockOutbound(_)
            | SetupStep::StoreCredentials { .. }
            | SetupStep::WriteMarker { .. } => 1,
            SetupStep::GrantWrite { .. } => 2,
            SetupStep::DenyLogons { .. } => 3,
            SetupStep::WfpBlock { .. } => 4,
        }
    }

    /// The ACE the step adds, if it adds one: where, for whom, which kind.
    /// The SDDL is `kind.sddl(&trustee.resolve(lookup)?)`.
    pub fn ace(&self) -> Option<(&Path, &Trustee, AceKind)> {
        match self {
            SetupStep::GrantWrite { path, trustee } => Some((path, trustee, AceKind::AllowModify)),
            SetupStep::DenyWrite { path, trustee } => Some((path, trustee, AceKind::DenyWrite)),
            _ => None,
        }
    }
}

impl fmt::Display for SetupStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupStep::CreateGroup { name } => write!(f, "create group {name}"),
            SetupStep::CreateUser { name, network: Network::Offline } => {
                write!(f, "create user {name} (no network)")
            }
            SetupStep::CreateUser { name, network: Network::Online } => {
                write!(f, "create user {name} (network)")
            }
            SetupStep::AddToGroup { user, group } => write!(f, "add {user} to {group}"),
            SetupStep::HideFromLogonScreen { user } => write!(f, "hide {user} from the logon screen"),
            SetupStep::DenyLogons { user } => {
                write!(f, "deny {user} network, remote desktop, batch and service logons")
            }
            SetupStep::GrantWrite { path, trustee } => write!(f, "let {trustee} modify {}", path.display()),
            SetupStep::DenyWrite { path, trustee } => {
                write!(f, "keep {} read-only for {trustee}", path.display())
            }
            SetupStep::FirewallBlockOutbound(rule) => write!(f, "firewall rule {:?}", rule.name),
            SetupStep::WfpBlock { user } => {
                write!(f, "filter every connection of {user}, loopback included (filtering platform)")
            }
            SetupStep::StoreCredentials { path } => write!(f, "store credentials in {}", path.display()),
            SetupStep::WriteMarker { path, .. } => write!(f, "write {}", path.display()),
        }
    }
}

/// One thing `cordon setup --remove` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveStep {
    /// Delete the firewall rule.
    RemoveFirewallRule {
        /// The rule's name.
        name: String,
    },
    /// Delete the user's filtering-platform filters.
    RemoveWfpFilters {
        /// The user.
        user: String,
    },
    /// Remove the trustee's ACE of this kind from the path.
    RemoveAce {
        /// The path.
        path: PathBuf,
        /// Whose ACE.
        trustee: Trustee,
        /// Which ACE.
        kind: AceKind,
    },
    /// Delete the user's value under [`HIDDEN_USERS_KEY`].
    ShowOnLogonScreen {
        /// The user.
        user: String,
    },
    /// Take the user's logon rights and denials out of the local security
    /// policy, where they would outlive the account.
    RemoveLogonRights {
        /// The user.
        user: String,
    },
    /// Delete the local user and its profile (`C:\Users\NAME`, made by its
    /// first logon). The name comes from a marker that the user who
    /// ran setup can write: delete only an account that is a member of the
    /// group the marker names.
    DeleteUser {
        /// The user.
        name: String,
    },
    /// Delete the local group.
    DeleteGroup {
        /// The group.
        name: String,
    },
    /// Delete the stored credentials.
    DeleteCredentials {
        /// The file.
        path: PathBuf,
    },
    /// Delete the marker, last, so that an interrupted removal can run again.
    DeleteMarker {
        /// The file.
        path: PathBuf,
    },
}

impl fmt::Display for RemoveStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveStep::RemoveFirewallRule { name } => write!(f, "delete firewall rule {name:?}"),
            RemoveStep::RemoveWfpFilters { user } => {
                write!(f, "delete the filtering-platform filters of {user}")
            }
            RemoveStep::RemoveAce { path, trustee, kind: AceKind::AllowModify } => {
                write!(f, "stop letting {trustee} modify {}", path.display())
            }
            RemoveStep::RemoveAce { path, trustee, kind: AceKind::DenyWrite } => {
                write!(f, "remove the deny-write ACE of {trustee} from {}", path.display())
            }
            RemoveStep::RemoveAce { path, trustee, kind: AceKind::DenyAll } => {
                write!(f, "remove the deny-all ACE of {trustee} from {}", path.display())
            }
            RemoveStep::ShowOnLogonScreen { user } => write!(f, "un-hide {user} from the logon screen"),
            RemoveStep::RemoveLogonRights { user } => write!(f, "remove {user}'s logon rights and denials"),
            RemoveStep::DeleteUser { name } => write!(f, "delete user {name} and its profile"),
            RemoveStep::DeleteGroup { name } => write!(f, "delete group {name}"),
            RemoveStep::DeleteCredentials { path } => write!(f, "delete {}", path.display()),
            RemoveStep::DeleteMarker { path } => write!(f, "delete {}", path.display()),
        }
    }
}

/// An ACE found on the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedAce {
    /// Where.
    pub path: PathBuf,
    /// For whom (a group by name when its SID is the group's current SID).
    pub trustee: Trustee,
    /// Which kind, with exactly the mask and inheritance cordon sets.
    pub kind: AceKind,
}

/// What the executor found on the machine, for [`SetupPlan::pending`].
/// Names compare case-insensitively, paths by their normal form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedState {
    /// Local groups that exist.
    pub groups: Vec<String>,
    /// Local users that exist.
    pub users: Vec<String>,
    /// `(user, group)` memberships that exist.
    pub memberships: Vec<(String, String)>,
    /// Users hidden from the logon screen.
    pub hidden_users: Vec<String>,
    /// Users denied every logon of [`DENIED_LOGON_RIGHTS`].
    pub logons_denied: Vec<String>,
    /// ACEs present.
    pub aces: Vec<ObservedAce>,
    /// Names of firewall rules present with the content cordon sets, for
    /// the current SID of their user.
    pub firewall_rules: Vec<String>,
    /// Users whose every [`WfpFilter::block_all`] filter is there.
    pub wfp_blocked: Vec<String>,
    /// Whether the credentials file exists, opens, and holds a password for
    /// each sandbox user.
    pub credentials_stored: bool,
    /// The marker, if one was found and parsed.
    pub marker: Option<SetupMarker>,
}

impl ObservedState {
    fn has_group(&self, name: &str) -> bool {
        self.groups.iter().any(|g| same_name(g, name))
    }

    fn has_user(&self, name: &str) -> bool {
        self.users.iter().any(|u| same_name(u, name))
    }

    fn is_member(&self, user: &str, group: &str) -> bool {
        self.memberships.iter().any(|(u, g)| same_name(u, user) && same_name(g, group))
    }

    fn is_hidden(&self, user: &str) -> bool {
        self.hidden_users.iter().any(|u| same_name(u, user))
    }

    fn denies_logons(&self, user: &str) -> bool {
        self.logons_denied.iter().any(|u| same_name(u, user))
    }

    fn has_ace(&self, path: &Path, trustee: &Trustee, kind: AceKind) -> bool {
        self.aces
            .iter()
            .any(|ace| ace.kind == kind && ace.trustee.same(trustee) && same_path(&ace.path, path))
    }

    fn wfp_blocks(&self, user: &str) -> bool {
        self.wfp_blocked.iter().any(|u| same_name(u, user))
    }

    fn has_rule(&self, name: &str) -> bool {
        self.firewall_rules.iter().any(|r| r == name)
    }
}

/// The steps of a setup, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupPlan {
    steps: Vec<SetupStep>,
    marker: SetupMarker,
}

impl SetupPlan {
    /// Validates `config` and plans the setup: the group, the users, their
    /// membership, hiding them, the grants on each root, the denies on each
    /// protected path, the firewall rule, the credentials, the marker. The
    /// firewall rule comes before the credentials: until they are stored,
    /// cordon cannot run as the offline user.
    pub fn compute(config: &SetupConfig) -> Result<SetupPlan, SetupError> {
        validate(config)?;
        let group = Trustee::Group(config.group.clone());
        let users = [(&config.offline_user, Network::Offline), (&config.online_user, Network::Online)];
        let marker = SetupMarker {
            version: SETUP_VERSION,
            offline_user: config.offline_user.clone(),
            online_user: config.online_user.clone(),
            group: config.group.clone(),
            writable_roots: config.writable_roots.clone(),
            protected_names: config.protected_names.clone(),
            state_dir: config.state_dir.clone(),
        };

        let mut steps = vec![SetupStep::CreateGroup { name: config.group.clone() }];
        for (name, network) in users {
            steps.push(SetupStep::CreateUser { name: name.clone(), network });
        }
        for (name, _) in users {
            steps.push(SetupStep::AddToGroup { user: name.clone(), group: config.group.clone() });
        }
        for (name, _) in users {
            steps.push(SetupStep::HideFromLogonScreen { user: name.clone() });
        }
        for (name, _) in users {
            steps.push(SetupStep::DenyLogons { user: name.clone() });
        }
        for root in &config.writable_roots {
            steps.push(SetupStep::GrantWrite { path: root.clone(), trustee: group.clone() });
        }
        for root in &config.writable_roots {
            for name in &config.protected_names {
                steps.push(SetupStep::DenyWrite { path: path::join(root, name), trustee: group.clone() });
            }
        }
        steps.push(SetupStep::FirewallBlockOutbound(FirewallRule::block_outbound(&config.offline_user)));
        steps.push(SetupStep::WfpBlock { user: config.offline_user.clone() });
        steps.push(SetupStep::StoreCredentials { path: path::join(&config.state_dir, CREDENTIALS_FILE) });
        steps.push(SetupStep::WriteMarker {
            path: path::join(&config.state_dir, MARKER_FILE),
            marker: marker.clone(),
        });
        Ok(SetupPlan { steps, marker })
    }

    /// Every step, in order.
    pub fn steps(&self) -> &[SetupStep] {
        &self.steps
    }

    /// The marker the plan writes last.
    pub fn marker(&self) -> &SetupMarker {
        &self.marker
    }

    /// The steps `observed` still needs, in order. A step is needed when
    /// what it makes is missing, when an account it depends on is missing
    /// (re-creating an account gives it a new SID), or when the marker is
    /// older than the version in which the step last changed (no marker
    /// counts as version 0). Missing credentials re-run the user steps:
    /// passwords cannot be read back, so new ones are set and stored. A
    /// fully set-up machine needs nothing.
    pub fn pending(&self, observed: &ObservedState) -> Vec<&SetupStep> {
        self.pending_with(observed, SetupStep::changed_in)
    }

    fn pending_with(
        &self,
        observed: &ObservedState,
        changed_in: impl Fn(&SetupStep) -> u32,
    ) -> Vec<&SetupStep> {
        let version = observed.marker.as_ref().map_or(0, |marker| marker.version);
        let account_missing = |trustee: &Trustee| match trustee {
            Trustee::Group(name) => !observed.has_group(name),
            Trustee::Sid(_) => false,
        };
        let needed = |step: &SetupStep| {
            changed_in(step) > version
                || match step {
                    SetupStep::CreateGroup { name } => !observed.has_group(name),
                    SetupStep::CreateUser { name, .. } => {
                        !observed.has_user(name) || !observed.credentials_stored
                    }
                    SetupStep::AddToGroup { user, group } => {
                        !observed.has_user(user)
                            || !observed.has_group(group)
                            || !observed.is_member(user, group)
                    }
                    SetupStep::HideFromLogonScreen { user } => !observed.is_hidden(user),
                    SetupStep::DenyLogons { user } => {
                        !observed.has_user(user) || !observed.denies_logons(user)
                    }
                    SetupStep::GrantWrite { path, trustee } => {
                        account_missing(trustee) || !observed.has_ace(path, trustee, AceKind::AllowModify)
                    }
                    SetupStep::DenyWrite { path, trustee } => {
                        account_missing(trustee) || !observed.has_ace(path, trustee, AceKind::DenyWrite)
                    }
                    SetupStep::FirewallBlockOutbound(rule) => {
                        !observed.has_user(&rule.user) || !observed.has_rule(&rule.name)
                    }
                    SetupStep::WfpBlock { user } => !observed.has_user(user) || !observed.wfp_blocks(user),
                    SetupStep::StoreCredentials { .. } => !observed.credentials_stored,
                    SetupStep::WriteMarker { marker, .. } => observed.marker.as_ref() != Some(marker),
                }
        };
        let new_passwords =
            self.steps.iter().any(|step| matches!(step, SetupStep::CreateUser { .. }) && needed(step));
        self.steps
            .iter()
            .filter(|step| {
                needed(step) || (new_passwords && matches!(step, SetupStep::StoreCredentials { .. }))
            })
            .collect()
    }

    /// What the setup recorded in `observed.marker` did that this plan no
    /// longer wants (a root no longer writable, a renamed account), as
    /// removal steps to run before [`SetupPlan::pending`]'s. Nothing without
    /// a marker.
    pub fn obsolete(&self, observed: &ObservedState) -> Result<Vec<RemoveStep>, SetupError> {
        let Some(old) = &observed.marker else {
            return Ok(Vec::new());
        };
        Ok(remove_plan(old)?.into_iter().filter(|step| !self.keeps(step)).collect())
    }

    /// Whether this plan makes what `step` would remove.
    fn keeps(&self, step: &RemoveStep) -> bool {
        self.steps.iter().any(|planned| match (step, planned) {
            (RemoveStep::RemoveFirewallRule { name }, SetupStep::FirewallBlockOutbound(rule)) => {
                rule.name == *name
            }
            (RemoveStep::RemoveWfpFilters { user }, SetupStep::WfpBlock { user: planned }) => {
                same_name(user, planned)
            }
            (RemoveStep::RemoveAce { path, trustee, kind }, planned) => {
                planned.ace().is_some_and(|(p, t, k)| k == *kind && t.same(trustee) && same_path(p, path))
            }
            (
                RemoveStep::ShowOnLogonScreen { user: name }
                | RemoveStep::RemoveLogonRights { user: name }
                | RemoveStep::DeleteUser { name },
                SetupStep::CreateUser { name: planned, .. },
            ) => same_name(name, planned),
            (RemoveStep::DeleteGroup { name }, SetupStep::CreateGroup { name: planned }) => {
                same_name(name, planned)
            }
            (RemoveStep::DeleteCredentials { path }, SetupStep::StoreCredentials { path: planned })
            | (RemoveStep::DeleteMarker { path }, SetupStep::WriteMarker { path: planned, .. }) => {
                same_path(path, planned)
            }
            _ => false,
        })
    }
}

/// How to undo the setup `marker` records, in order: the firewall rule,
/// the ACEs (grants before denies, so that a protected path is never
/// writable in between), the users, the group, the credentials, the marker.
/// The marker is validated like a configuration: it is a file, and a
/// tampered one must not name arbitrary accounts or paths.
pub fn remove_plan(marker: &SetupMarker) -> Result<Vec<RemoveStep>, SetupError> {
    validate(&marker.config())?;
    let group = Trustee::Group(marker.group.clone());
    let mut steps = vec![
        RemoveStep::RemoveFirewallRule { name: firewall_rule_name(&marker.offline_user) },
        RemoveStep::RemoveWfpFilters { user: marker.offline_user.clone() },
    ];
    for root in marker.writable_roots.iter().rev() {
        steps.push(RemoveStep::RemoveAce {
            path: root.clone(),
            trustee: group.clone(),
            kind: AceKind::AllowModify,
        });
    }
    for root in marker.writable_roots.iter().rev() {
        for name in marker.protected_names.iter().rev() {
            steps.push(RemoveStep::RemoveAce {
                path: path::join(root, name),
                trustee: group.clone(),
                kind: AceKind::DenyWrite,
            });
        }
    }
    for user in [&marker.online_user, &marker.offline_user] {
        steps.push(RemoveStep::ShowOnLogonScreen { user: user.clone() });
        steps.push(RemoveStep::RemoveLogonRights { user: user.clone() });
        steps.push(RemoveStep::DeleteUser { name: user.clone() });
    }
    steps.push(RemoveStep::DeleteGroup { name: marker.group.clone() });
    steps.push(RemoveStep::DeleteCredentials { path: path::join(&marker.state_dir, CREDENTIALS_FILE) });
    steps.push(RemoveStep::DeleteMarker { path: path::join(&marker.state_dir, MARKER_FILE) });
    Ok(steps)
}

/// The logon rights setup gives each sandbox account
/// ([`SetupStep::DenyLogons`]): every logon type but the interactive one
/// `CreateProcessWithLogonW` makes.
pub const DENIED_LOGON_RIGHTS: &[&str] = &[
    "SeDenyNetworkLogonRight",
    "SeDenyRemoteInteractiveLogonRight",
    "SeDenyBatchLogonRight",
    "SeDenyServiceLogonRight",
];

/// Checks `name` against Windows' rules for user names: 1 to 20 characters,
/// not only dots and spaces, none of `"/\[]:;|=,+*?<>@` or control
/// characters.
pub fn validate_user_name(name: &str) -> Result<(), SetupError> {
    check_account_name(name, MAX_USER_NAME)
        .map_err(|why| SetupError::new(ErrorCode::InvalidUserName, format!("user name {name:?} {why}")))
}

/// Checks `name` against Windows' rules for local group names: as for users
/// ([`validate_user_name`]), but up to 256 characters.
pub fn validate_group_name(name: &str) -> Result<(), SetupError> {
    check_account_name(name, MAX_GROUP_NAME)
        .map_err(|why| SetupError::new(ErrorCode::InvalidGroupName, format!("group name {name:?} {why}")))
}

fn check_account_name(name: &str, max: usize) -> Result<(), String> {
    let len = name.encode_utf16().count();
    if len == 0 {
        return Err("is empty".to_string());
    }
    if len > max {
        return Err(format!("is longer than {max} characters"));
    }
    if name.chars().all(|c| c == '.' || c == ' ') {
        return Err("has only dots and spaces".to_string());
    }
    if let Some(c) = name.chars().find(|c| INVALID_NAME_CHARS.contains(c) || c.is_control()) {
        return Err(format!("contains {c:?}, which Windows does not allow in account names"));
    }
    Ok(())
}

fn validate_protected_name(name: &str) -> Result<(), SetupError> {
    let single_file_name = !name.is_empty()
        && !name.ends_with(['.', ' '])
        && !name.contains(INVALID_FILE_NAME_CHARS)
        && !name.contains(char::is_control);
    if single_file_name {
        Ok(())
    } else {
        Err(SetupError::new(
            ErrorCode::InvalidProtectedName,
            format!("protected name {name:?} is not a single file name (such as .git)"),
        ))
    }
}

/// An absolute, canonical path in normal form, or why not.
fn checked_path(what: &str, path: &Path) -> Result<String, SetupError> {
    if path.to_str().is_none() {
        return Err(SetupError::new(
            ErrorCode::NonCanonicalPath,
            format!("{what} {} is not valid Unicode", path.display()),
        ));
    }
    if !path::is_absolute(path) {
        return Err(SetupError::new(
            ErrorCode::RelativePath,
            format!("{what} {} is not absolute (expected C:\\… or \\\\server\\share\\…)", path.display()),
        ));
    }
    let normalized = path::normalize(path);
    if let Some(why) = path::non_canonical(&normalized) {
        return Err(SetupError::new(
            ErrorCode::NonCanonicalPath,
            format!("{what} {}: {why}; give the resolved path", path.display()),
        ));
    }
    Ok(normalized)
}

fn validate(config: &SetupConfig) -> Result<(), SetupError> {
    validate_user_name(&config.offline_user)?;
    validate_user_name(&config.online_user)?;
    validate_group_name(&config.group)?;
    let conflict = |a: &str, b: &str| {
        SetupError::new(
            ErrorCode::NameConflict,
            format!("{a:?} and {b:?} are one account name to Windows; give the accounts different names"),
        )
    };
    if same_name(&config.offline_user, &config.online_user) {
        return Err(conflict(&config.offline_user, &config.online_user));
    }
    for user in [&config.offline_user, &config.online_user] {
        if same_name(user, &config.group) {
            return Err(conflict(user, &config.group));
        }
    }

    for (i, name) in config.protected_names.iter().enumerate() {
        validate_protected_name(name)?;
        if config.protected_names[..i].iter().any(|earlier| same_name(earlier, name)) {
            return Err(SetupError::new(
                ErrorCode::InvalidProtectedName,
                format!("protected name {name:?} is listed twice"),
            ));
        }
    }

    let state_dir = checked_path("state directory", &config.state_dir)?;
    let mut roots: Vec<(String, &Path)> = Vec::new();
    for root in &config.writable_roots {
        let normalized = checked_path("writable root", root)?;
        if path::is_volume_root(&normalized) {
            return Err(SetupError::new(
                ErrorCode::RootTooBroad,
                format!("writable root {} is a whole drive or share; name a directory in it", root.display()),
            ));
        }
        if let Some((_, earlier)) = roots.iter().find(|(other, _)| *other == normalized) {
            return Err(SetupError::new(
                ErrorCode::DuplicateRoot,
                format!("writable root {} is {} again", root.display(), earlier.display()),
            ));
        }
        if path::is_within(&state_dir, &normalized) {
            return Err(SetupError::new(
                ErrorCode::StateDirWritable,
                format!(
                    "state directory {} is inside writable root {}: sandboxes could change it",
                    config.state_dir.display(),
                    root.display()
                ),
            ));
        }
        roots.push((normalized, root));
    }
    Ok(())
}

/// Whether two account (or file) names are one to Windows.
fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

fn same_path(a: &Path, b: &Path) -> bool {
    path::normalize(a) == path::normalize(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r"C:\Users\alice\AppData\Local\cordon";
    const GROUP_SID: &str = "S-1-5-21-1004336348-1177238915-682003330-1010";

    /// A configuration protecting two names, so that plans stay short: the
    /// mechanics are the same for every name.
    fn config(roots: &[&str]) -> SetupConfig {
        SetupConfig {
            protected_names: vec![".git".into(), ".cordon".into()],
            ..SetupConfig::new(STATE, roots.iter().map(PathBuf::from).collect())
        }
    }

    fn plan(roots: &[&str]) -> SetupPlan {
        SetupPlan::compute(&config(roots)).unwrap()
    }

    fn error(config: &SetupConfig) -> ErrorCode {
        SetupPlan::compute(config).unwrap_err().code
    }

    fn group() -> Trustee {
        Trustee::Group(DEFAULT_GROUP.to_string())
    }

    /// What a machine looks like once every step of `plan` has run.
    fn fully_set_up(plan: &SetupPlan) -> ObservedState {
        let mut observed = ObservedState { credentials_stored: true, ..ObservedState::default() };
        for step in plan.steps() {
            match step {
                SetupStep::CreateGroup { name } => observed.groups.push(name.clone()),
                SetupStep::CreateUser { name, .. } => observed.users.push(name.clone()),
                SetupStep::AddToGroup { user, group } => {
                    observed.memberships.push((user.clone(), group.clone()))
                }
                SetupStep::HideFromLogonScreen { user } => observed.hidden_users.push(user.clone()),
                SetupStep::DenyLogons { user } => observed.logons_denied.push(user.clone()),
                SetupStep::GrantWrite { .. } | SetupStep::DenyWrite { .. } => {
                    let (path, trustee, kind) = step.ace().unwrap();
                    observed.aces.push(ObservedAce {
                        path: path.to_path_buf(),
                        trustee: trustee.clone(),
                        kind,
                    });
                }
                SetupStep::FirewallBlockOutbound(rule) => observed.firewall_rules.push(rule.name.clone()),
                SetupStep::WfpBlock { user } => observed.wfp_blocked.push(user.clone()),
                SetupStep::StoreCredentials { .. } => {}
                SetupStep::WriteMarker { marker, .. } => observed.marker = Some(marker.clone()),
            }
        }
        observed
    }

    #[test]
    fn defaults_are_the_cordon_accounts_and_protected_names() {
        let config = SetupConfig::new(STATE, vec![PathBuf::from(r"C:\work")]);
        assert_eq!(config.offline_user, "CordonSandboxOffline");
        assert_eq!(config.online_user, "CordonSandboxOnline");
        assert_eq!(config.group, "CordonSandboxUsers");
        assert_eq!(config.protected_names, cordon_sandbox::DEFAULT_PROTECTED_NAMES);
    }

    #[test]
    fn plan_lists_every_step_in_order() {
        let plan = plan(&[r"C:\work"]);
        let expected = vec![
            SetupStep::CreateGroup { name: DEFAULT_GROUP.into() },
            SetupStep::CreateUser { name: DEFAULT_OFFLINE_USER.into(), network: Network::Offline },
            SetupStep::CreateUser { name: DEFAULT_ONLINE_USER.into(), network: Network::Online },
            SetupStep::AddToGroup { user: DEFAULT_OFFLINE_USER.into(), group: DEFAULT_GROUP.into() },
            SetupStep::AddToGroup { user: DEFAULT_ONLINE_USER.into(), group: DEFAULT_GROUP.into() },
            SetupStep::HideFromLogonScreen { user: DEFAULT_OFFLINE_USER.into() },
            SetupStep::HideFromLogonScreen { user: DEFAULT_ONLINE_USER.into() },
            SetupStep::DenyLogons { user: DEFAULT_OFFLINE_USER.into() },
            SetupStep::DenyLogons { user: DEFAULT_ONLINE_USER.into() },
            SetupStep::GrantWrite { path: r"C:\work".into(), trustee: group() },
            SetupStep::DenyWrite { path: r"C:\work\.git".into(), trustee: group() },
            SetupStep::DenyWrite { path: r"C:\work\.cordon".into(), trustee: group() },
            SetupStep::FirewallBlockOutbound(FirewallRule::block_outbound(DEFAULT_OFFLINE_USER)),
            SetupStep::WfpBlock { user: DEFAULT_OFFLINE_USER.into() },
            SetupStep::StoreCredentials { path: format!(r"{STATE}\sandbox-users.dpapi").into() },
            SetupStep::WriteMarker {
                path: format!(r"{STATE}\setup.json").into(),
                marker: plan.marker().clone(),
            },
        ];
        assert_eq!(plan.steps(), expected.as_slice());
    }

    #[test]
    fn plan_shows_as_readable_lines() {
        let lines: Vec<String> = plan(&[r"C:\work"]).steps().iter().map(ToString::to_string).collect();
        assert_eq!(lines[0], "create group CordonSandboxUsers");
        assert_eq!(lines[1], "create user CordonSandboxOffline (no network)");
        assert_eq!(lines[7], "deny CordonSandboxOffline network, remote desktop, batch and service logons");
        assert_eq!(lines[9], r"let group CordonSandboxUsers modify C:\work");
        assert_eq!(lines[10], r"keep C:\work\.git read-only for group CordonSandboxUsers");
    }

    #[test]
    fn marker_records_the_configuration_and_version() {
        let plan = plan(&[r"C:\work", r"D:\tmp"]);
        let marker = plan.marker();
        assert_eq!(marker.version, SETUP_VERSION);
        assert_eq!(marker.writable_roots, vec![PathBuf::from(r"C:\work"), PathBuf::from(r"D:\tmp")]);
        assert_eq!(marker.config(), config(&[r"C:\work", r"D:\tmp"]));
    }

    #[test]
    fn marker_round_trips_through_json() {
        let marker = plan(&[r"C:\work"]).marker().clone();
        let json = serde_json::to_value(&marker).unwrap();
        assert_eq!(json["version"], SETUP_VERSION);
        assert_eq!(json["offline_user"], "CordonSandboxOffline");
        assert_eq!(json["writable_roots"][0], r"C:\work");
        let back: SetupMarker = serde_json::from_value(json).unwrap();
        assert_eq!(back, marker);
    }

    #[test]
    fn fresh_machine_needs_every_step() {
        let plan = plan(&[r"C:\work"]);
        assert_eq!(plan.pending(&ObservedState::default()), plan.steps().iter().collect::<Vec<_>>());
    }

    #[test]
    fn fully_set_up_machine_needs_nothing() {
        let plan = plan(&[r"C:\work", r"D:\tmp"]);
        assert_eq!(plan.pending(&fully_set_up(&plan)), Vec::<&SetupStep>::new());
    }

    #[test]
    fn observed_names_and_paths_compare_the_windows_way() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        for name in observed.users.iter_mut().chain(&mut observed.groups) {
            *name = name.to_uppercase();
        }
        for ace in &mut observed.aces {
            ace.path = ace.path.to_string_lossy().to_lowercase().replace('\\', "/").into();
        }
        assert_eq!(plan.pending(&observed), Vec::<&SetupStep>::new());
    }

    #[test]
    fn marker_of_an_older_version_reruns_every_step() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        observed.marker.as_mut().unwrap().version = 0;
        assert_eq!(plan.pending(&observed).len(), plan.steps().len());
    }

    #[test]
    fn a_machine_set_up_by_version_1_gets_its_root_grants_rewritten() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        observed.marker.as_mut().unwrap().version = 1;
        let pending = plan.pending(&observed);
        assert!(pending.iter().any(|step| matches!(step, SetupStep::GrantWrite { .. })), "{pending:?}");
        assert!(
            pending.iter().all(|step| matches!(
                step,
                SetupStep::GrantWrite { .. }
                    | SetupStep::DenyLogons { .. }
                    | SetupStep::WfpBlock { .. }
                    | SetupStep::WriteMarker { .. }
            )),
            "{pending:?}"
        );
    }

    #[test]
    fn machine_without_a_marker_is_set_up_again() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        observed.marker = None;
        assert_eq!(plan.pending(&observed).len(), plan.steps().len());
    }

    #[test]
    fn a_version_that_changes_one_step_reruns_that_step_only() {
        let plan = plan(&[r"C:\work"]);
        let observed = fully_set_up(&plan);
        let changed = |step: &SetupStep| {
            if matches!(step, SetupStep::DenyWrite { .. }) { SETUP_VERSION + 1 } else { 1 }
        };
        let pending = plan.pending_with(&observed, changed);
        assert_eq!(pending.len(), 2);
        assert!(pending.iter().all(|step| matches!(step, SetupStep::DenyWrite { .. })));
    }

    #[test]
    fn deleted_firewall_rule_is_put_back_alone() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        observed.firewall_rules.clear();
        assert_eq!(
            plan.pending(&observed),
            vec![&SetupStep::FirewallBlockOutbound(FirewallRule::block_outbound(DEFAULT_OFFLINE_USER))]
        );
    }

    #[test]
    fn removed_deny_ace_on_git_is_put_back() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        observed.aces.retain(|ace| ace.kind != AceKind::DenyWrite || !ace.path.ends_with(r"C:\work\.git"));
        assert_eq!(
            plan.pending(&observed),
            vec![&SetupStep::DenyWrite { path: r"C:\work\.git".into(), trustee: group() }]
        );
    }

    #[test]
    fn recreated_offline_user_gets_a_new_firewall_rule_and_password() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        observed.users.retain(|u| u != DEFAULT_OFFLINE_USER);
        observed.memberships.retain(|(u, _)| u != DEFAULT_OFFLINE_USER);
        let pending: Vec<String> = plan.pending(&observed).iter().map(ToString::to_string).collect();
        assert_eq!(
            pending,
            vec![
                "create user CordonSandboxOffline (no network)".to_string(),
                "add CordonSandboxOffline to CordonSandboxUsers".to_string(),
                "deny CordonSandboxOffline network, remote desktop, batch and service logons".to_string(),
                "firewall rule \"cordon: block outbound for CordonSandboxOffline\"".to_string(),
                "filter every connection of CordonSandboxOffline, loopback included (filtering platform)"
                    .to_string(),
                format!(r"store credentials in {STATE}\sandbox-users.dpapi"),
            ]
        );
    }

    #[test]
    fn recreated_group_needs_its_members_and_aces_again() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        observed.groups.clear();
        let pending = plan.pending(&observed);
        assert!(matches!(pending[0], SetupStep::CreateGroup { .. }));
        assert_eq!(pending.iter().filter(|s| matches!(s, SetupStep::AddToGroup { .. })).count(), 2);
        assert_eq!(pending.iter().filter(|s| s.ace().is_some()).count(), 3);
        assert_eq!(pending.len(), 6);
    }

    #[test]
    fn lost_credentials_reset_both_passwords_and_store_them() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        observed.credentials_stored = false;
        let pending = plan.pending(&observed);
        assert_eq!(pending.len(), 3);
        assert!(matches!(pending[0], SetupStep::CreateUser { .. }));
        assert!(matches!(pending[1], SetupStep::CreateUser { .. }));
        assert!(matches!(pending[2], SetupStep::StoreCredentials { .. }));
    }

    #[test]
    fn new_root_needs_its_grant_its_denies_and_a_new_marker() {
        let old = plan(&[r"C:\work"]);
        let observed = fully_set_up(&old);
        let new = plan(&[r"C:\work", r"D:\tmp"]);
        let pending: Vec<String> = new.pending(&observed).iter().map(ToString::to_string).collect();
        assert_eq!(
            pending,
            vec![
                r"let group CordonSandboxUsers modify D:\tmp".to_string(),
                r"keep D:\tmp\.git read-only for group CordonSandboxUsers".to_string(),
                r"keep D:\tmp\.cordon read-only for group CordonSandboxUsers".to_string(),
                format!(r"write {STATE}\setup.json"),
            ]
        );
    }

    #[test]
    fn dropped_root_stops_being_writable() {
        let old = plan(&[r"C:\work", r"D:\tmp"]);
        let observed = fully_set_up(&old);
        let new = plan(&[r"C:\work"]);
        assert_eq!(
            new.obsolete(&observed).unwrap(),
            vec![
                RemoveStep::RemoveAce {
                    path: r"D:\tmp".into(),
                    trustee: group(),
                    kind: AceKind::AllowModify
                },
                RemoveStep::RemoveAce {
                    path: r"D:\tmp\.cordon".into(),
                    trustee: group(),
                    kind: AceKind::DenyWrite
                },
                RemoveStep::RemoveAce {
                    path: r"D:\tmp\.git".into(),
                    trustee: group(),
                    kind: AceKind::DenyWrite
                },
            ]
        );
    }

    #[test]
    fn renamed_offline_user_removes_the_old_account_and_rule() {
        let old = plan(&[r"C:\work"]);
        let observed = fully_set_up(&old);
        let mut config = config(&[r"C:\work"]);
        config.offline_user = "CordonOffline2".into();
        let new = SetupPlan::compute(&config).unwrap();
        assert_eq!(
            new.obsolete(&observed).unwrap(),
            vec![
                RemoveStep::RemoveFirewallRule {
                    name: "cordon: block outbound for CordonSandboxOffline".into()
                },
                RemoveStep::RemoveWfpFilters { user: DEFAULT_OFFLINE_USER.into() },
                RemoveStep::ShowOnLogonScreen { user: DEFAULT_OFFLINE_USER.into() },
                RemoveStep::RemoveLogonRights { user: DEFAULT_OFFLINE_USER.into() },
                RemoveStep::DeleteUser { name: DEFAULT_OFFLINE_USER.into() },
            ]
        );
    }

    #[test]
    fn a_machine_set_up_by_version_2_gets_logons_denied_and_filters_and_nothing_else() {
        let plan = plan(&[r"C:\work"]);
        let mut observed = fully_set_up(&plan);
        observed.marker.as_mut().unwrap().version = 2;
        observed.logons_denied.clear();
        observed.wfp_blocked.clear();
        let pending: Vec<String> = plan.pending(&observed).iter().map(ToString::to_string).collect();
        assert_eq!(
            pending,
            vec![
                "deny CordonSandboxOffline network, remote desktop, batch and service logons".to_string(),
                "deny CordonSandboxOnline network, remote desktop, batch and service logons".to_string(),
                "filter every connection of CordonSandboxOffline, loopback included (filtering platform)"
                    .to_string(),
                format!(r"write {STATE}\setup.json"),
            ]
        );
        assert!(DENIED_LOGON_RIGHTS.contains(&"SeDenyNetworkLogonRight"));
        // Never the interactive logon cordon itself makes.
        assert!(!DENIED_LOGON_RIGHTS.contains(&"SeDenyInteractiveLogonRight"));
    }

    #[test]
    fn the_offline_users_filters_have_keys_of_their_own_on_every_run() {
        let filters = WfpFilter::block_all(DEFAULT_OFFLINE_USER);
        assert_eq!(filters.iter().map(|f| f.layer).collect::<Vec<_>>(), WfpLayer::ALL);
        let keys: std::collections::BTreeSet<u128> = filters.iter().map(|f| f.key).collect();
        assert_eq!(keys.len(), 4, "one key per layer");
        let other_case: Vec<u128> =
            WfpFilter::block_all("cordonsandboxoffline").iter().map(|f| f.key).collect();
        assert_eq!(
            other_case,
            filters.iter().map(|f| f.key).collect::<Vec<_>>(),
            "one account, one set of keys"
        );
        assert!(WfpFilter::block_all("Other").iter().all(|f| !keys.contains(&f.key)));
        for key in keys {
            assert_eq!((key >> 76) & 0xf, 4, "a version-4 GUID: {key:032x}");
            assert_eq!((key >> 62) & 0x3, 2, "the RFC 4122 variant: {key:032x}");
        }
        assert!(filters[0].name.contains("connect-v4") && filters[0].name.contains(DEFAULT_OFFLINE_USER));
    }

    #[test]
    fn nothing_is_obsolete_without_a_marker_or_with_the_same_configuration() {
        let plan = plan(&[r"C:\work"]);
        assert_eq!(plan.obsolete(&ObservedState::default()).unwrap(), Vec::new());
        assert_eq!(plan.obsolete(&fully_set_up(&plan)).unwrap(), Vec::new());
    }

    #[test]
    fn removal_undoes_setup_with_the_marker_last() {
        let plan = plan(&[r"C:\work"]);
        let steps = remove_plan(plan.marker()).unwrap();
        assert_eq!(
            steps,
            vec![
                RemoveStep::RemoveFirewallRule {
                    name: "cordon: block outbound for CordonSandboxOffline".into()
                },
                RemoveStep::RemoveWfpFilters { user: DEFAULT_OFFLINE_USER.into() },
                RemoveStep::RemoveAce {
                    path: r"C:\work".into(),
                    trustee: group(),
                    kind: AceKind::AllowModify
                },
                RemoveStep::RemoveAce {
                    path: r"C:\work\.cordon".into(),
                    trustee: group(),
                    kind: AceKind::DenyWrite
                },
                RemoveStep::RemoveAce {
                    path: r"C:\work\.git".into(),
                    trustee: group(),
                    kind: AceKind::DenyWrite
                },
                RemoveStep::ShowOnLogonScreen { user: DEFAULT_ONLINE_USER.into() },
                RemoveStep::RemoveLogonRights { user: DEFAULT_ONLINE_USER.into() },
                RemoveStep::DeleteUser { name: DEFAULT_ONLINE_USER.into() },
                RemoveStep::ShowOnLogonScreen { user: DEFAULT_OFFLINE_USER.into() },
                RemoveStep::RemoveLogonRights { user: DEFAULT_OFFLINE_USER.into() },
                RemoveStep::DeleteUser { name: DEFAULT_OFFLINE_USER.into() },
                RemoveStep::DeleteGroup { name: DEFAULT_GROUP.into() },
                RemoveStep::DeleteCredentials { path: format!(r"{STATE}\sandbox-users.dpapi").into() },
                RemoveStep::DeleteMarker { path: format!(r"{STATE}\setup.json").into() },
            ]
        );
    }

    #[test]
    fn removal_never_leaves_a_protected_path_writable_in_between() {
        let steps = remove_plan(plan(&[r"C:\work", r"D:\tmp"]).marker()).unwrap();
        let last_grant =
            steps.iter().rposition(|s| matches!(s, RemoveStep::RemoveAce { kind: AceKind::AllowModify, .. }));
        let first_deny =
            steps.iter().position(|s| matches!(s, RemoveStep::RemoveAce { kind: AceKind::DenyWrite, .. }));
        assert!(last_grant.unwrap() < first_deny.unwrap());
    }

    #[test]
    fn tampered_marker_cannot_drive_removal() {
        let good = plan(&[r"C:\work"]).marker().clone();
        let tampered = [
            SetupMarker { offline_user: r"..\Administrator".into(), ..good.clone() },
            SetupMarker { group: "Users,Administrators".into(), ..good.clone() },
            SetupMarker { writable_roots: vec![r"C:\work\..\Windows".into()], ..good.clone() },
            SetupMarker { protected_names: vec![r"..\..\Windows".into()], ..good.clone() },
            SetupMarker { state_dir: "relative".into(), ..good.clone() },
        ];
        for marker in tampered {
            assert!(remove_plan(&marker).is_err(), "{marker:?}");
        }
    }

    #[test]
    fn user_names_follow_windows_rules() {
        for name in ["CordonSandboxOffline", "a", "sandbox.user", "sandbox user", "x-y_z", "ünïcödé"] {
            assert_eq!(validate_user_name(name), Ok(()), "{name}");
        }
        for name in
            ["", "CordonSandboxOffline1", "...", " . ", "a@b", "a/b", r"a\b", "a[b]", "a:b", "a;b", "a|b"]
        {
            assert_eq!(validate_user_name(name).unwrap_err().code, ErrorCode::InvalidUserName, "{name}");
        }
        for name in ["a=b", "a,b", "a+b", "a*b", "a?b", "a<b", "a>b", "a\"b", "a\tb", "a\nb"] {
            assert_eq!(validate_user_name(name).unwrap_err().code, ErrorCode::InvalidUserName, "{name:?}");
        }
    }

    #[test]
    fn group_names_may_be_longer_than_user_names() {
        assert_eq!(validate_group_name(&"g".repeat(256)), Ok(()));
        assert_eq!(validate_group_name(&"g".repeat(257)).unwrap_err().code, ErrorCode::InvalidGroupName);
        let mut config = config(&[r"C:\work"]);
        config.group = "Cordon Sandbox Users Of This Machine".into();
        assert!(SetupPlan::compute(&config).is_ok());
        config.group = "a@b".into();
        assert_eq!(error(&config), ErrorCode::InvalidGroupName);
    }

    #[test]
    fn one_name_for_two_accounts_is_refused() {
        let mut config = config(&[r"C:\work"]);
        config.online_user = "cordonsandboxoffline".into();
        assert_eq!(error(&config), ErrorCode::NameConflict);
        let mut config = self::config(&[r"C:\work"]);
        config.group = "CORDONSANDBOXONLINE".into();
        assert_eq!(error(&config), ErrorCode::NameConflict);
    }

    #[test]
    fn relative_roots_are_refused() {
        for root in ["work", r"C:work", r"\work", "/work", ""] {
            assert_eq!(error(&config(&[root])), ErrorCode::RelativePath, "{root:?}");
        }
    }

    #[test]
    fn root_spelled_to_reach_elsewhere_is_refused() {
        for root in [r"C:\work\..\Windows", r"C:\work\.", r"C:\work.", r"C:\work:hidden", r"\\.\C:\work"] {
            assert_eq!(error(&config(&[root])), ErrorCode::NonCanonicalPath, "{root}");
        }
    }

    #[test]
    fn whole_drive_or_share_cannot_be_a_writable_root() {
        for root in [r"C:\", "C:/", r"\\?\D:\", r"\\server\share", r"\\server\share\"] {
            assert_eq!(error(&config(&[root])), ErrorCode::RootTooBroad, "{root}");
        }
        assert!(SetupPlan::compute(&config(&[r"\\server\share\work"])).is_ok());
    }

    #[test]
    fn one_root_spelled_twice_is_refused() {
        let err = SetupPlan::compute(&config(&[r"C:\work", r"c:/WORK/"])).unwrap_err();
        assert_eq!(err.code, ErrorCode::DuplicateRoot);
        assert!(err.message.contains(r"C:\work"), "{err}");
        assert_eq!(error(&config(&[r"C:\work", r"\\?\C:\Work"])), ErrorCode::DuplicateRoot);
    }

    #[test]
    fn nested_roots_are_allowed() {
        assert!(SetupPlan::compute(&config(&[r"C:\work", r"C:\work\sub"])).is_ok());
    }

    #[test]
    fn protected_names_must_be_single_file_names() {
        for name in ["", ".", "..", r"..\x", "a/b", ".git:stream", ".git.", ".git ", "a*"] {
            let mut config = config(&[r"C:\work"]);
            config.protected_names = vec![name.into()];
            assert_eq!(error(&config), ErrorCode::InvalidProtectedName, "{name:?}");
        }
        let mut config = config(&[r"C:\work"]);
        config.protected_names = vec![".git".into(), ".GIT".into()];
        assert_eq!(error(&config), ErrorCode::InvalidProtectedName);
    }

    #[test]
    fn state_directory_inside_a_writable_root_is_refused() {
        let mut config = config(&[r"C:\Users\alice"]);
        assert_eq!(error(&config), ErrorCode::StateDirWritable);
        config.writable_roots = vec![STATE.into()];
        assert_eq!(error(&config), ErrorCode::StateDirWritable);
        config.writable_roots = vec![r"C:\Users\alice\AppData\Local\cordon-work".into()];
        assert!(SetupPlan::compute(&config).is_ok());
        config.state_dir = "cordon".into();
        assert_eq!(error(&config), ErrorCode::RelativePath);
    }

    #[test]
    fn errors_show_their_stable_number() {
        let err = validate_user_name("a@b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "E101: user name \"a@b\" contains '@', which Windows does not allow in account names"
        );
        let codes = [
            ErrorCode::InvalidUserName,
            ErrorCode::InvalidGroupName,
            ErrorCode::NameConflict,
            ErrorCode::RelativePath,
            ErrorCode::NonCanonicalPath,
            ErrorCode::DuplicateRoot,
            ErrorCode::RootTooBroad,
            ErrorCode::InvalidProtectedName,
            ErrorCode::StateDirWritable,
            ErrorCode::InvalidSid,
            ErrorCode::UnknownAccount,
        ];
        let numbers: Vec<u32> = codes.iter().map(|c| c.number()).collect();
        assert_eq!(numbers, (101..=111).collect::<Vec<_>>());
    }

    #[test]
    fn group_trustee_resolves_to_the_machine_sid() {
        let plan = plan(&[r"C:\work"]);
        let lookup = |name: &str| (name == DEFAULT_GROUP).then(|| GROUP_SID.to_string());
        let (path, trustee, kind) = plan.steps()[9].ace().unwrap();
        assert_eq!(path, Path::new(r"C:\work"));
        assert_eq!(
            kind.sddl(&trustee.resolve(lookup).unwrap()).unwrap(),
            format!("(A;;0x1201bf;;;{GROUP_SID})(A;OICIIO;0x1301bf;;;{GROUP_SID})")
        );
        let (_, trustee, kind) = plan.steps()[10].ace().unwrap();
        assert_eq!(
            kind.sddl(&trustee.resolve(lookup).unwrap()).unwrap(),
            format!("(D;OICI;0xd0156;;;{GROUP_SID})")
        );
    }

    #[test]
    fn trustee_that_cannot_be_resolved_to_a_sid_is_an_error() {
        let missing = group().resolve(|_| None).unwrap_err();
        assert_eq!(missing.code, ErrorCode::UnknownAccount);
        let injected = group().resolve(|_| Some("S-1-5-32-545)(A;OICI;FA;;;WD".into())).unwrap_err();
        assert_eq!(injected.code, ErrorCode::InvalidSid);
        assert_eq!(Trustee::Sid("BA".into()).resolve(|_| None).unwrap_err().code, ErrorCode::InvalidSid);
        assert_eq!(Trustee::Sid(GROUP_SID.into()).resolve(|_| None).unwrap(), GROUP_SID);
    }

    #[test]
    fn offline_user_is_blocked_from_all_outbound_traffic() {
        let rule = FirewallRule::block_outbound(DEFAULT_OFFLINE_USER);
        assert_eq!(rule.name, "cordon: block outbound for CordonSandboxOffline");
        assert_eq!(
            (rule.direction, rule.action, rule.protocol),
            (Direction::Out, FirewallAction::Block, Protocol::Any)
        );
        assert_eq!((rule.direction.number(), rule.action.number(), rule.protocol.number()), (2, 0, 256));
        assert_eq!(rule.user, DEFAULT_OFFLINE_USER);
        let rules = plan(&[r"C:\work"])
            .steps()
            .iter()
            .filter(|step| matches!(step, SetupStep::FirewallBlockOutbound(_)))
            .count();
        assert_eq!(rules, 1, "the online user has no rule");
    }

    #[test]
    fn firewall_scope_names_exactly_one_valid_sid() {
        assert_eq!(local_user_authorized_list(GROUP_SID).unwrap(), format!("O:LSD:(A;;CC;;;{GROUP_SID})"));
        assert!(local_user_authorized_list("S-1-5-21-1-2-3-1005)(A;;CC;;;WD").is_err());
        assert!(local_user_authorized_list("WD").is_err());
    }

    #[test]
    fn hidden_user_is_a_zero_dword_under_the_user_list_key() {
        let value = hidden_user_value(DEFAULT_ONLINE_USER);
        assert_eq!(
            value.key,
            r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\SpecialAccounts\UserList"
        );
        assert_eq!((value.name.as_str(), value.value), (DEFAULT_ONLINE_USER, 0));
    }
}
