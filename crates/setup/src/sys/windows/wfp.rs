//! The filters of the Windows Filtering Platform that block the offline
//! user (`FwpmFilterAdd0` and its kin, through the Base Filtering Engine).
//! Which filters, with which keys, is [`WfpFilter::block_all`]'s.

use std::ptr::{null, null_mut};

use cordon_win::SecurityDescriptor;
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform::{
    FWP_ACTION_BLOCK, FWP_BYTE_BLOB, FWP_CONDITION_VALUE0, FWP_CONDITION_VALUE0_0, FWP_EMPTY,
    FWP_MATCH_EQUAL, FWP_SECURITY_DESCRIPTOR_TYPE, FWP_VALUE0, FWPM_ACTION0, FWPM_CONDITION_ALE_USER_ID,
    FWPM_DISPLAY_DATA0, FWPM_FILTER_CONDITION0, FWPM_FILTER_FLAG_PERSISTENT, FWPM_FILTER0,
    FWPM_LAYER_ALE_AUTH_CONNECT_V4, FWPM_LAYER_ALE_AUTH_CONNECT_V6, FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4,
    FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6, FwpmEngineClose0, FwpmEngineOpen0, FwpmFilterAdd0,
    FwpmFilterDeleteByKey0, FwpmFilterGetByKey0, FwpmFreeMemory0, FwpmTransactionAbort0,
    FwpmTransactionBegin0, FwpmTransactionCommit0,
};
use windows_sys::Win32::System::Rpc::RPC_C_AUTHN_WINNT;
use windows_sys::core::GUID;

use super::util::wide;
use crate::plan::{
    FoundWfpFilter, WFP_FILTER_SDDL, WfpCondition, WfpFilter, WfpLayer, local_user_authorized_list,
};
use crate::{ErrorCode, SetupError};

/// `FWP_E_FILTER_NOT_FOUND`.
const FILTER_NOT_FOUND: u32 = 0x8032_0003;

/// `ERROR_ACCESS_DENIED`, which the engine returns as is.
const ACCESS_DENIED: u32 = 5;

fn failed(what: impl std::fmt::Display, status: u32) -> SetupError {
    SetupError::new(ErrorCode::Firewall, format!("{what}: filtering platform error {status:#010x}"))
}

/// A session with the Base Filtering Engine, closed on drop.
struct Engine(HANDLE);

impl Engine {
    fn open() -> Result<Engine, SetupError> {
        let mut handle: HANDLE = null_mut();
        // SAFETY: the local engine, default session; an out-pointer.
        let status = unsafe { FwpmEngineOpen0(null(), RPC_C_AUTHN_WINNT, null(), null(), &mut handle) };
        if status != 0 {
            return Err(failed("opening the filtering engine", status));
        }
        Ok(Engine(handle))
    }

    /// The filter with `key`, if it is there.
    fn find(&self, key: &GUID) -> Result<Option<FoundWfpFilter>, SetupError> {
        let mut filter: *mut FWPM_FILTER0 = null_mut();
        // SAFETY: a live engine, a key, an out-pointer freed below.
        let status = unsafe { FwpmFilterGetByKey0(self.0, key, &mut filter) };
        match status {
            0 => {
                // SAFETY: the engine returned a filter, valid until freed.
                let found = unsafe { describe(&*filter) };
                // SAFETY: memory the engine allocated, freed once.
                unsafe { FwpmFreeMemory0((&raw mut filter).cast()) };
                Ok(Some(found))
            }
            FILTER_NOT_FOUND => Ok(None),
            ACCESS_DENIED => Err(SetupError::new(
                ErrorCode::FirewallIneffective,
                "cordon's filters cannot be read: a setup older than cordon's filters with loopback blocked \
                 made them; run `cordon setup` again",
            )),
            other => Err(failed("reading a filter", other)),
        }
    }

    /// Deletes the filter with `key`, if it is there.
    fn delete(&self, key: &GUID) -> Result<(), SetupError> {
        // SAFETY: a live engine and a key.
        match unsafe { FwpmFilterDeleteByKey0(self.0, key) } {
            0 | FILTER_NOT_FOUND => Ok(()),
            other => Err(failed("deleting a filter", other)),
        }
    }

    /// Runs `body` in a transaction: committed if it succeeds, aborted
    /// otherwise, so that no filter of the set is left without the others.
    fn transaction(&self, body: impl FnOnce() -> Result<(), SetupError>) -> Result<(), SetupError> {
        // SAFETY: a live engine.
        let status = unsafe { FwpmTransactionBegin0(self.0, 0) };
        if status != 0 {
            return Err(failed("beginning a filtering transaction", status));
        }
        match body() {
            Ok(()) => {
                // SAFETY: the transaction begun above.
                let status = unsafe { FwpmTransactionCommit0(self.0) };
                if status != 0 {
                    return Err(failed("committing the filters", status));
                }
                Ok(())
            }
            Err(err) => {
                // SAFETY: the transaction begun above.
                unsafe { FwpmTransactionAbort0(self.0) };
                Err(err)
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: the handle FwpmEngineOpen0 returned, closed once.
        unsafe { FwpmEngineClose0(self.0) };
    }
}

fn guid(key: u128) -> GUID {
    GUID::from_u128(key)
}

/// The inverse of [`GUID::from_u128`] (`GUID` has no `PartialEq`).
fn key_of(guid: &GUID) -> u128 {
    (u128::from(guid.data1) << 96)
        | (u128::from(guid.data2) << 80)
        | (u128::from(guid.data3) << 64)
        | u128::from(u64::from_be_bytes(guid.data4))
}

/// What of `filter` decides whether it blocks all cordon's does.
///
/// # Safety
///
/// `filter` is one the engine returned: its conditions are
/// `numFilterConditions` valid entries.
unsafe fn describe(filter: &FWPM_FILTER0) -> FoundWfpFilter {
    let layer =
        WfpLayer::ALL.into_iter().find(|layer| key_of(&layer_key(*layer)) == key_of(&filter.layerKey));
    let conditions = if filter.filterCondition.is_null() {
        &[][..]
    } else {
        // SAFETY: the caller's promise.
        unsafe { std::slice::from_raw_parts(filter.filterCondition, filter.numFilterConditions as usize) }
    };
    let conditions = conditions
        .iter()
        .map(|condition| {
            let user = key_of(&condition.fieldKey) == key_of(&FWPM_CONDITION_ALE_USER_ID)
                && condition.matchType == FWP_MATCH_EQUAL
                && condition.conditionValue.r#type == FWP_SECURITY_DESCRIPTOR_TYPE;
            if user { WfpCondition::User } else { WfpCondition::Other }
        })
        .collect();
    FoundWfpFilter { layer, blocks: filter.action.r#type == FWP_ACTION_BLOCK, conditions }
}

fn layer_key(layer: WfpLayer) -> GUID {
    match layer {
        WfpLayer::ConnectV4 => FWPM_LAYER_ALE_AUTH_CONNECT_V4,
        WfpLayer::ConnectV6 => FWPM_LAYER_ALE_AUTH_CONNECT_V6,
        WfpLayer::RecvAcceptV4 => FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4,
        WfpLayer::RecvAcceptV6 => FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6,
    }
}

/// Whether every one of `filters` is there and blocks all it should
/// ([`WfpFilter::is_in_force`]).
pub(super) fn has_all(filters: &[WfpFilter]) -> Result<bool, SetupError> {
    let engine = Engine::open()?;
    for filter in filters {
        match engine.find(&guid(filter.key))? {
            Some(found) if filter.is_in_force(&found) => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// Replaces `filters` with new ones scoped to `user_sid`, persistent, in
/// one transaction.
pub(super) fn set(filters: &[WfpFilter], user_sid: &str) -> Result<(), SetupError> {
    let users = local_user_authorized_list(user_sid)?;
    let descriptor = SecurityDescriptor::from_sddl(&users)
        .map_err(|e| SetupError::new(ErrorCode::Firewall, format!("the filters' user condition: {e}")))?;
    let readable = SecurityDescriptor::from_sddl(WFP_FILTER_SDDL)
        .map_err(|e| SetupError::new(ErrorCode::Firewall, format!("the filters' own security: {e}")))?;
    let engine = Engine::open()?;
    engine.transaction(|| {
        for filter in filters {
            let key = guid(filter.key);
            engine.delete(&key)?;
            let mut name = wide(&filter.name);
            let mut description = wide(format!(
                "Blocks every connection, loopback included, of {}, the account cordon runs offline sandboxes as",
                filter.user
            ));
            let mut blob = FWP_BYTE_BLOB { size: descriptor.len() as u32, data: descriptor.as_ptr().cast() };
            // The user's: the only condition, so loopback is blocked too.
            let mut conditions = [FWPM_FILTER_CONDITION0 {
                fieldKey: FWPM_CONDITION_ALE_USER_ID,
                matchType: FWP_MATCH_EQUAL,
                conditionValue: FWP_CONDITION_VALUE0 {
                    r#type: FWP_SECURITY_DESCRIPTOR_TYPE,
                    Anonymous: FWP_CONDITION_VALUE0_0 { sd: &mut blob },
                },
            }];
            let new = FWPM_FILTER0 {
                filterKey: key,
                displayData: FWPM_DISPLAY_DATA0 {
                    name: name.as_mut_ptr(),
                    description: description.as_mut_ptr(),
                },
                flags: FWPM_FILTER_FLAG_PERSISTENT,
                layerKey: layer_key(filter.layer),
                weight: FWP_VALUE0 { r#type: FWP_EMPTY, ..Default::default() },
                numFilterConditions: conditions.len() as u32,
                filterCondition: conditions.as_mut_ptr(),
                action: FWPM_ACTION0 { r#type: FWP_ACTION_BLOCK, ..Default::default() },
                ..Default::default()
            };
            let mut id = 0u64;
            // SAFETY: a live engine; the filter, its condition, the blob,
            // the strings and the filter's security descriptor outlive the
            // call.
            let status = unsafe { FwpmFilterAdd0(engine.0, &new, readable.as_ptr(), &mut id) };
            if status != 0 {
                return Err(failed(format_args!("adding filter {:?}", filter.name), status));
            }
        }
        Ok(())
    })
}

/// Deletes `filters`, those that are there.
pub(super) fn remove(filters: &[WfpFilter]) -> Result<(), SetupError> {
    let engine = Engine::open()?;
    engine.transaction(|| filters.iter().try_for_each(|filter| engine.delete(&guid(filter.key))))
}
