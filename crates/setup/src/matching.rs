//! What counts as cordon's ACE and cordon's firewall rule, decided on the
//! plain values Windows returns, so that the decision is tested on every
//! OS. The Windows modules read the values and ask here.

#![cfg_attr(not(windows), allow(dead_code))]

use cordon_sandbox::windows::sddl::{AceKind, DENY_ALL, DENY_WRITE, MODIFY};
use cordon_sandbox::windows::setup::FirewallRule;

/// `ACCESS_ALLOWED_ACE_TYPE`.
pub(crate) const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;
/// `ACCESS_DENIED_ACE_TYPE`.
pub(crate) const ACCESS_DENIED_ACE_TYPE: u8 = 1;
/// `OBJECT_INHERIT_ACE`.
const OBJECT_INHERIT_ACE: u8 = 0x01;
/// `CONTAINER_INHERIT_ACE`.
const CONTAINER_INHERIT_ACE: u8 = 0x02;
/// `INHERIT_ONLY_ACE`.
const INHERIT_ONLY_ACE: u8 = 0x08;
/// `INHERITED_ACE`.
const INHERITED_ACE: u8 = 0x10;

/// `NET_FW_PROFILE2_ALL`: domain, private and public.
pub(crate) const ALL_PROFILES: i32 = 0x7fff_ffff;

/// The ACE type of an ACE of `kind`.
pub(crate) fn ace_type(kind: AceKind) -> u8 {
    match kind {
        AceKind::AllowModify => ACCESS_ALLOWED_ACE_TYPE,
        AceKind::DenyWrite | AceKind::DenyAll => ACCESS_DENIED_ACE_TYPE,
    }
}

/// The access mask of an ACE of `kind`.
pub(crate) fn ace_mask(kind: AceKind) -> u32 {
    match kind {
        AceKind::AllowModify => MODIFY,
        AceKind::DenyWrite => DENY_WRITE,
        AceKind::DenyAll => DENY_ALL,
    }
}

/// Whether an ACE (already known to be for the right SID) is an explicit
/// one of `kind`'s type, which `remove_ace` removes and `add_ace` replaces.
pub(crate) fn is_explicit_of_kind(ace_type_: u8, flags: u8, kind: AceKind) -> bool {
    ace_type_ == ace_type(kind) && flags & INHERITED_ACE == 0
}

/// Whether an ACE (already known to be for the right SID) is exactly what
/// cordon sets for `kind`: explicit, applying to the object itself and
/// inherited by files and directories beneath, with exactly the mask.
pub(crate) fn is_cordons_ace(ace_type_: u8, flags: u8, mask: u32, kind: AceKind) -> bool {
    let inheritance = OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE;
    is_explicit_of_kind(ace_type_, flags, kind)
        && flags & inheritance == inheritance
        && flags & INHERIT_ONLY_ACE == 0
        && mask == ace_mask(kind)
}

/// A firewall rule as `INetFwRule3` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundRule {
    /// `NET_FW_RULE_DIRECTION`.
    pub direction: i32,
    /// `NET_FW_ACTION`.
    pub action: i32,
    /// `NET_FW_IP_PROTOCOL`.
    pub protocol: i32,
    /// `NET_FW_PROFILE_TYPE2` bits.
    pub profiles: i32,
    /// Whether the rule is enabled.
    pub enabled: bool,
    /// The SDDL of the users it applies to.
    pub local_user_authorized_list: String,
    /// The programs it applies to (empty for all).
    pub application_name: String,
    /// The remote addresses it applies to (`*` for all).
    pub remote_addresses: String,
}

/// Whether `found` is `expected`, scoped to `user_sid`, in every profile,
/// for every program and address: a rule with the right name and a
/// narrower scope would block less than cordon means to.
pub(crate) fn is_cordons_rule(found: &FoundRule, expected: &FirewallRule, user_sid: &str) -> bool {
    let Ok(users) = cordon_sandbox::windows::setup::local_user_authorized_list(user_sid) else {
        return false;
    };
    found.direction == expected.direction.number()
        && found.action == expected.action.number()
        && found.protocol == expected.protocol.number()
        && found.profiles & ALL_PROFILES == ALL_PROFILES
        && found.enabled
        && found.local_user_authorized_list.eq_ignore_ascii_case(&users)
        && found.application_name.is_empty()
        && matches!(found.remote_addresses.as_str(), "" | "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "S-1-5-21-1004336348-1177238915-682003330-1005";

    #[test]
    fn cordons_allow_ace_is_explicit_inheritable_modify() {
        assert!(is_cordons_ace(0, 0x03, 0x1301bf, AceKind::AllowModify));
        assert!(!is_cordons_ace(0, 0x13, 0x1301bf, AceKind::AllowModify), "inherited from a parent");
        assert!(!is_cordons_ace(0, 0x0b, 0x1301bf, AceKind::AllowModify), "inherit-only");
        assert!(!is_cordons_ace(0, 0x02, 0x1301bf, AceKind::AllowModify), "containers only");
        assert!(!is_cordons_ace(0, 0x03, 0x1f01ff, AceKind::AllowModify), "full control is not modify");
        assert!(!is_cordons_ace(1, 0x03, 0x1301bf, AceKind::AllowModify), "a deny");
    }

    #[test]
    fn cordons_deny_ace_is_explicit_inheritable_deny_write() {
        assert!(is_cordons_ace(1, 0x03, 0xd0156, AceKind::DenyWrite));
        assert!(!is_cordons_ace(1, 0x03, 0x120116, AceKind::DenyWrite), "generic write would deny reads");
        assert!(!is_cordons_ace(0, 0x03, 0xd0156, AceKind::DenyWrite));
    }

    #[test]
    fn removal_takes_every_explicit_ace_of_the_kind_and_no_inherited_one() {
        assert!(is_explicit_of_kind(0, 0x03, AceKind::AllowModify));
        assert!(is_explicit_of_kind(0, 0x00, AceKind::AllowModify));
        assert!(!is_explicit_of_kind(0, 0x10, AceKind::AllowModify));
        assert!(!is_explicit_of_kind(1, 0x03, AceKind::AllowModify));
        assert!(is_explicit_of_kind(1, 0x03, AceKind::DenyWrite));
    }

    fn rule() -> FirewallRule {
        FirewallRule::block_outbound("CordonSandboxOffline")
    }

    fn found() -> FoundRule {
        FoundRule {
            direction: 2,
            action: 0,
            protocol: 256,
            profiles: ALL_PROFILES,
            enabled: true,
            local_user_authorized_list: format!("O:LSD:(A;;CC;;;{SID})"),
            application_name: String::new(),
            remote_addresses: "*".into(),
        }
    }

    #[test]
    fn the_rule_cordon_sets_is_recognised() {
        assert!(is_cordons_rule(&found(), &rule(), SID));
        assert!(is_cordons_rule(&FoundRule { remote_addresses: String::new(), ..found() }, &rule(), SID));
    }

    #[test]
    fn a_rule_that_blocks_less_is_not_cordons() {
        let narrower = [
            FoundRule { enabled: false, ..found() },
            FoundRule { direction: 1, ..found() },
            FoundRule { action: 1, ..found() },
            FoundRule { protocol: 6, ..found() },
            FoundRule { profiles: 4, ..found() },
            FoundRule { application_name: r"C:\x.exe".into(), ..found() },
            FoundRule { remote_addresses: "10.0.0.1".into(), ..found() },
            FoundRule { local_user_authorized_list: String::new(), ..found() },
        ];
        for found in narrower {
            assert!(!is_cordons_rule(&found, &rule(), SID), "{found:?}");
        }
    }

    #[test]
    fn a_rule_for_another_sid_is_not_the_users() {
        assert!(!is_cordons_rule(&found(), &rule(), "S-1-5-21-1004336348-1177238915-682003330-1006"));
        assert!(!is_cordons_rule(&found(), &rule(), "not a sid"));
    }
}
