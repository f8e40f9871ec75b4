//! What counts as cordon's firewall rule, decided on the plain values
//! Windows returns, so that the decision is tested on every OS. The
//! Windows modules read the values and ask here. (What counts as cordon's
//! ACE is `cordon_sandbox::windows::acl`'s.)

#![cfg_attr(not(windows), allow(dead_code))]

use crate::plan::FirewallRule;

/// `NET_FW_PROFILE2_ALL`: domain, private and public.
pub(crate) const ALL_PROFILES: i32 = 0x7fff_ffff;

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
    let Ok(users) = crate::plan::local_user_authorized_list(user_sid) else {
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

/// `NET_FW_MODIFY_STATE_OK`: rules of the local store take effect.
pub(crate) const MODIFY_STATE_OK: i32 = 0;
/// `NET_FW_MODIFY_STATE_GP_OVERRIDE`: group policy overrides them.
pub(crate) const MODIFY_STATE_GP_OVERRIDE: i32 = 1;

/// What the firewall says of itself (`INetFwPolicy2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FirewallSwitches {
    /// `FirewallEnabled` of the domain, private and public profiles.
    pub(crate) enabled: [bool; 3],
    /// `LocalPolicyModifyState` (`NET_FW_MODIFY_STATE`).
    pub(crate) local_policy_modify_state: i32,
}

/// The profiles of [`FirewallSwitches::enabled`], in order.
const PROFILE_NAMES: [&str; 3] = ["domain", "private", "public"];

/// Why the offline user's rule would not block its traffic, if it would
/// not: the firewall off for a profile (a network of that kind would carry
/// the sandbox's traffic), local rules overridden by group policy (cordon's
/// rule is a local one), or the rule missing or changed. Empty when the
/// block is in force.
pub(crate) fn offline_block_gaps(
    switches: &FirewallSwitches,
    rule_in_place: bool,
    filters_in_force: bool,
) -> Vec<String> {
    let mut gaps: Vec<String> = PROFILE_NAMES
        .iter()
        .zip(switches.enabled)
        .filter(|(_, on)| !on)
        .map(|(name, _)| format!("the firewall is off for the {name} profile"))
        .collect();
    match switches.local_policy_modify_state {
        MODIFY_STATE_OK => {}
        MODIFY_STATE_GP_OVERRIDE => {
            gaps.push("group policy overrides the local firewall rules, cordon's among them".into())
        }
        other => gaps.push(format!("local firewall rules may not take effect (modify state {other})")),
    }
    if !rule_in_place {
        gaps.push("cordon's rule blocking the offline user is missing or was changed".into());
    }
    if !filters_in_force {
        gaps.push(
            "cordon's filtering-platform filters blocking the offline user (loopback included) are missing, \
             changed or from an older setup"
                .into(),
        );
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: FirewallSwitches =
        FirewallSwitches { enabled: [true; 3], local_policy_modify_state: MODIFY_STATE_OK };

    #[test]
    fn the_block_is_in_force_only_with_every_profile_on_local_rules_applied_the_rule_and_the_filters_there() {
        assert!(offline_block_gaps(&ON, true, true).is_empty());
        let public_off = FirewallSwitches { enabled: [true, true, false], ..ON };
        assert_eq!(
            offline_block_gaps(&public_off, true, true),
            ["the firewall is off for the public profile"]
        );
        let overridden = FirewallSwitches { local_policy_modify_state: MODIFY_STATE_GP_OVERRIDE, ..ON };
        assert!(offline_block_gaps(&overridden, true, true)[0].contains("group policy"));
        assert!(
            offline_block_gaps(&FirewallSwitches { local_policy_modify_state: 2, ..ON }, true, true)[0]
                .contains("modify state 2")
        );
        assert!(
            offline_block_gaps(&ON, false, true)[0].contains("rule blocking the offline user is missing")
        );
        let stale = offline_block_gaps(&ON, true, false);
        assert_eq!(stale.len(), 1);
        assert!(stale[0].contains("filters") && stale[0].contains("loopback"), "{stale:?}");
        let all_off = FirewallSwitches { enabled: [false; 3], local_policy_modify_state: 1 };
        assert_eq!(offline_block_gaps(&all_off, false, false).len(), 6);
    }

    const SID: &str = "S-1-5-21-1004336348-1177238915-682003330-1005";

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
