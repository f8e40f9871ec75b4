//! The firewall rule that keeps the offline user off the network, through
//! the Windows Firewall's COM API (`INetFwPolicy2`, `INetFwRule3`). Which
//! rule is cordon's is decided by [`crate::matching::is_cordons_rule`].

use crate::plan::{FirewallRule, local_user_authorized_list};
use windows::Win32::Foundation::{RPC_E_CHANGED_MODE, VARIANT_TRUE};
use windows::Win32::NetworkManagement::WindowsFirewall::{
    INetFwPolicy2, INetFwRule, INetFwRule3, INetFwRules, NET_FW_ACTION, NET_FW_PROFILE2_DOMAIN,
    NET_FW_PROFILE2_PRIVATE, NET_FW_PROFILE2_PUBLIC, NET_FW_RULE_DIRECTION, NetFwPolicy2, NetFwRule,
};
use windows::Win32::System::Com::{
    CLSCTX_INPROC_SERVER, COINIT_MULTITHREADED, CoCreateInstance, CoInitializeEx, CoUninitialize,
};
use windows::core::{BSTR, Interface};

use crate::matching::{ALL_PROFILES, FirewallSwitches, FoundRule, is_cordons_rule};
use crate::{ErrorCode, SetupError};

/// The group the firewall UI files cordon's rules under.
const GROUPING: &str = "cordon";

/// Most rules of one name this module deletes in one call (a guard against
/// a `Remove` that removes nothing).
const MAX_SAME_NAME: usize = 64;

fn error(what: impl std::fmt::Display, err: windows::core::Error) -> SetupError {
    SetupError::new(ErrorCode::Firewall, format!("{what}: {} ({:#010x})", err.message(), err.code().0))
}

/// COM for this thread while it lives.
struct Com {
    uninitialize: bool,
}

impl Com {
    fn init() -> Result<Com, SetupError> {
        // SAFETY: plain COM initialisation; balanced in `drop` when it
        // succeeded.
        let status = unsafe { CoInitializeEx(None, COINIT_MULTITHREADED) };
        if status == RPC_E_CHANGED_MODE {
            // The thread has COM already, in another mode: use it as it is.
            return Ok(Com { uninitialize: false });
        }
        status.ok().map_err(|err| error("initialising COM", err))?;
        Ok(Com { uninitialize: true })
    }
}

impl Drop for Com {
    fn drop(&mut self) {
        if self.uninitialize {
            // SAFETY: balances a successful CoInitializeEx on this thread.
            unsafe { CoUninitialize() };
        }
    }
}

/// The firewall's policy (while `_com` lives).
fn policy(_com: &Com) -> Result<INetFwPolicy2, SetupError> {
    // SAFETY: COM is initialised on this thread.
    unsafe { CoCreateInstance(&NetFwPolicy2, None, CLSCTX_INPROC_SERVER) }
        .map_err(|err| error("opening the firewall policy", err))
}

/// The firewall's rules (while `com` lives).
fn rules(com: &Com) -> Result<INetFwRules, SetupError> {
    // SAFETY: a COM call on a live policy.
    unsafe { policy(com)?.Rules() }.map_err(|err| error("listing firewall rules", err))
}

/// Whether the firewall is on for the domain, private and public profiles,
/// and whether local rules take effect.
pub(super) fn switches() -> Result<FirewallSwitches, SetupError> {
    let com = Com::init()?;
    let policy = policy(&com)?;
    let mut enabled = [false; 3];
    for (slot, profile) in
        enabled.iter_mut().zip([NET_FW_PROFILE2_DOMAIN, NET_FW_PROFILE2_PRIVATE, NET_FW_PROFILE2_PUBLIC])
    {
        // SAFETY: a COM call on a live policy.
        *slot = unsafe { policy.get_FirewallEnabled(profile) }
            .map_err(|err| error("reading whether the firewall is on", err))?
            == VARIANT_TRUE;
    }
    // SAFETY: as above.
    let state = unsafe { policy.LocalPolicyModifyState() }
        .map_err(|err| error("reading whether local firewall rules apply", err))?;
    Ok(FirewallSwitches { enabled, local_policy_modify_state: state.0 })
}

/// What a rule says, for [`is_cordons_rule`].
fn describe(rule: &INetFwRule) -> Result<FoundRule, windows::core::Error> {
    let rule3: INetFwRule3 = rule.cast()?;
    // SAFETY: COM calls on a live rule.
    unsafe {
        Ok(FoundRule {
            direction: rule.Direction()?.0,
            action: rule.Action()?.0,
            protocol: rule.Protocol()?,
            profiles: rule.Profiles()?,
            enabled: rule.Enabled()? == VARIANT_TRUE,
            local_user_authorized_list: rule3.LocalUserAuthorizedList()?.to_string(),
            application_name: rule.ApplicationName()?.to_string(),
            remote_addresses: rule.RemoteAddresses()?.to_string(),
        })
    }
}

/// Whether the firewall has `rule`, exactly, scoped to `user_sid`.
pub(super) fn has_rule(rule: &FirewallRule, user_sid: &str) -> Result<bool, SetupError> {
    let com = Com::init()?;
    let rules = rules(&com)?;
    // SAFETY: a COM call on live rules.
    let Ok(found) = (unsafe { rules.Item(&BSTR::from(rule.name.as_str())) }) else {
        return Ok(false);
    };
    let found =
        describe(&found).map_err(|err| error(format_args!("reading firewall rule {:?}", rule.name), err))?;
    Ok(is_cordons_rule(&found, rule, user_sid))
}

/// Deletes every rule named `name` from `rules`.
fn remove_all(rules: &INetFwRules, name: &str) -> Result<(), SetupError> {
    let name_b = BSTR::from(name);
    for _ in 0..MAX_SAME_NAME {
        // SAFETY: COM calls on live rules.
        if unsafe { rules.Item(&name_b) }.is_err() {
            return Ok(());
        }
        // SAFETY: as above.
        unsafe { rules.Remove(&name_b) }
            .map_err(|err| error(format_args!("deleting firewall rule {name:?}"), err))?;
    }
    Err(SetupError::new(
        ErrorCode::Firewall,
        format!("firewall rule {name:?} is still there after {MAX_SAME_NAME} deletions"),
    ))
}

/// Replaces the rules named `rule.name` with `rule`, scoped to `user_sid`.
pub(super) fn set_rule(rule: &FirewallRule, user_sid: &str) -> Result<(), SetupError> {
    let users = local_user_authorized_list(user_sid)
        .map_err(|err| SetupError::new(ErrorCode::Firewall, err.to_string()))?;
    let com = Com::init()?;
    let rules = rules(&com)?;
    remove_all(&rules, &rule.name)?;
    let what = format!("adding firewall rule {:?}", rule.name);
    // SAFETY: COM calls on a fresh rule object and live rules.
    unsafe {
        let new: INetFwRule3 =
            CoCreateInstance(&NetFwRule, None, CLSCTX_INPROC_SERVER).map_err(|e| error(&what, e))?;
        let result = (|| {
            new.SetName(&BSTR::from(rule.name.as_str()))?;
            new.SetDescription(&BSTR::from(rule.description.as_str()))?;
            new.SetGrouping(&BSTR::from(GROUPING))?;
            new.SetDirection(NET_FW_RULE_DIRECTION(rule.direction.number()))?;
            new.SetAction(NET_FW_ACTION(rule.action.number()))?;
            new.SetProtocol(rule.protocol.number())?;
            new.SetProfiles(ALL_PROFILES)?;
            new.SetLocalUserAuthorizedList(&BSTR::from(users.as_str()))?;
            new.SetEnabled(VARIANT_TRUE)?;
            rules.Add(&new.cast::<INetFwRule>()?)
        })();
        result.map_err(|err| error(&what, err))
    }
}

/// Deletes every rule named `name`.
pub(super) fn remove_rule(name: &str) -> Result<(), SetupError> {
    let com = Com::init()?;
    let rules = rules(&com)?;
    remove_all(&rules, name)
}
