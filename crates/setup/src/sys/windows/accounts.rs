//! The sandbox users and their group: local accounts through the NetApi
//! (`NetUserAdd`, `NetLocalGroupAdd`, …), SIDs through
//! `LookupAccountNameW`. Every name is qualified with this computer's name,
//! so a domain account of the same name is never taken for a local one.

use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{
    ERROR_ALIAS_EXISTS, ERROR_MEMBER_IN_ALIAS, ERROR_MORE_DATA, ERROR_NO_SUCH_ALIAS,
};
use windows_sys::Win32::NetworkManagement::NetManagement::{
    LOCALGROUP_INFO_1, LOCALGROUP_MEMBERS_INFO_0, LOCALGROUP_MEMBERS_INFO_3, MAX_PREFERRED_LENGTH,
    NERR_GroupExists, NERR_GroupNotFound, NERR_Success, NERR_UserExists, NERR_UserNotFound, NetApiBufferFree,
    NetLocalGroupAdd, NetLocalGroupAddMembers, NetLocalGroupDel, NetLocalGroupGetInfo,
    NetLocalGroupGetMembers, NetUserAdd, NetUserDel, NetUserGetInfo, NetUserSetInfo, UF_DONT_EXPIRE_PASSWD,
    UF_PASSWD_CANT_CHANGE, UF_SCRIPT, USER_INFO_1, USER_INFO_1003, USER_INFO_1007, USER_INFO_1008,
    USER_PRIV_USER,
};
use windows_sys::Win32::Security::{PSID, SidTypeAlias, SidTypeUser};

use super::util::{failed, from_wide_ptr, wide};
use crate::host::{Account, AccountKind};
use crate::{ErrorCode, SetupError};

/// The flags of a sandbox user: a normal account (`UF_SCRIPT` is required)
/// whose password neither expires nor can be changed by the user.
const USER_FLAGS: u32 = UF_SCRIPT | UF_DONT_EXPIRE_PASSWD | UF_PASSWD_CANT_CHANGE;

/// A buffer the NetApi allocated, freed on drop.
struct NetBuffer(*mut u8);

impl Drop for NetBuffer {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by a NetApi call, freed once.
            unsafe { NetApiBufferFree(self.0.cast()) };
        }
    }
}

/// This computer's NetBIOS name: the domain of its local accounts.
fn computer_name() -> Result<String, SetupError> {
    cordon_win::computer_name()
        .map_err(|e| SetupError::new(ErrorCode::Accounts, format!("GetComputerNameExW: {e}")))
}

/// `COMPUTER\name`.
fn qualified(name: &str) -> Result<String, SetupError> {
    Ok(format!("{}\\{name}", computer_name()?))
}

/// A SID as a string.
///
/// # Safety
///
/// `sid` points to a valid SID.
pub(super) unsafe fn sid_string(sid: PSID) -> Result<String, SetupError> {
    // SAFETY: the caller's promise.
    unsafe { cordon_win::sid_string(sid) }.map_err(|e| SetupError::new(ErrorCode::Accounts, e.to_string()))
}

/// The local account `name`: its SID, its kind and its comment.
pub(super) fn account(name: &str) -> Result<Option<Account>, SetupError> {
    let Some(found) = cordon_win::lookup_account(&qualified(name)?)
        .map_err(|e| SetupError::new(ErrorCode::Accounts, format!("looking up {name}: {e}")))?
    else {
        return Ok(None);
    };
    let kind = if found.kind == SidTypeUser {
        AccountKind::User
    } else if found.kind == SidTypeAlias {
        AccountKind::Group
    } else {
        AccountKind::Other
    };
    let comment = match kind {
        AccountKind::User => user_comment(name),
        AccountKind::Group => group_comment(name),
        AccountKind::Other => String::new(),
    };
    Ok(Some(Account { sid: found.sid, kind, comment }))
}

/// The comment of the local user `name` (empty if it cannot be read).
fn user_comment(name: &str) -> String {
    let mut buffer = null_mut();
    // SAFETY: a NUL-terminated name; the buffer is the API's.
    let status = unsafe { NetUserGetInfo(null(), wide(name).as_ptr(), 1, &mut buffer) };
    let buffer = NetBuffer(buffer);
    if status != NERR_Success || buffer.0.is_null() {
        return String::new();
    }
    // SAFETY: level 1 fills a USER_INFO_1.
    unsafe { from_wide_ptr((*(buffer.0 as *const USER_INFO_1)).usri1_comment) }
}

/// The comment of the local group `name` (empty if it cannot be read).
fn group_comment(name: &str) -> String {
    let mut buffer = null_mut();
    // SAFETY: a NUL-terminated name; the buffer is the API's.
    let status = unsafe { NetLocalGroupGetInfo(null(), wide(name).as_ptr(), 1, &mut buffer) };
    let buffer = NetBuffer(buffer);
    if status != NERR_Success || buffer.0.is_null() {
        return String::new();
    }
    // SAFETY: level 1 fills a LOCALGROUP_INFO_1.
    unsafe { from_wide_ptr((*(buffer.0 as *const LOCALGROUP_INFO_1)).lgrpi1_comment) }
}

/// The SIDs of the members of the local group.
pub(super) fn members(group: &str) -> Result<Vec<String>, SetupError> {
    let group_w = wide(group);
    let mut sids = Vec::new();
    let mut resume = 0usize;
    loop {
        let mut buffer = null_mut();
        let mut read = 0u32;
        let mut total = 0u32;
        // SAFETY: a NUL-terminated name; out-pointers; the buffer is the API's.
        let status = unsafe {
            NetLocalGroupGetMembers(
                null(),
                group_w.as_ptr(),
                0,
                &mut buffer,
                MAX_PREFERRED_LENGTH,
                &mut read,
                &mut total,
                &mut resume,
            )
        };
        let buffer = NetBuffer(buffer);
        if status != NERR_Success && status != ERROR_MORE_DATA {
            return Err(failed(ErrorCode::Accounts, format_args!("listing the members of {group}"), status));
        }
        if !buffer.0.is_null() {
            // SAFETY: level 0 fills `read` LOCALGROUP_MEMBERS_INFO_0.
            let entries = unsafe {
                std::slice::from_raw_parts(buffer.0 as *const LOCALGROUP_MEMBERS_INFO_0, read as usize)
            };
            for entry in entries {
                // SAFETY: a member's SID, inside the buffer Windows filled.
                sids.push(unsafe { sid_string(entry.lgrmi0_sid) }?);
            }
        }
        if status != ERROR_MORE_DATA {
            return Ok(sids);
        }
    }
}

/// Creates the local group with `comment`; an existing one is kept.
pub(super) fn create_group(name: &str, comment: &str) -> Result<(), SetupError> {
    let mut name_w = wide(name);
    let mut comment_w = wide(comment);
    let info = LOCALGROUP_INFO_1 { lgrpi1_name: name_w.as_mut_ptr(), lgrpi1_comment: comment_w.as_mut_ptr() };
    // SAFETY: a LOCALGROUP_INFO_1 whose strings outlive the call.
    let status =
        unsafe { NetLocalGroupAdd(null(), 1, (&info as *const LOCALGROUP_INFO_1).cast(), null_mut()) };
    if [NERR_Success, NERR_GroupExists, ERROR_ALIAS_EXISTS].contains(&status) {
        Ok(())
    } else {
        Err(failed(ErrorCode::Accounts, format_args!("creating group {name}"), status))
    }
}

/// Creates the local user with this password, comment and [`USER_FLAGS`];
/// an existing one gets them.
pub(super) fn create_user(name: &str, password: &str, comment: &str) -> Result<(), SetupError> {
    let mut name_w = wide(name);
    let mut password_w = wide(password);
    let mut comment_w = wide(comment);
    let info = USER_INFO_1 {
        usri1_name: name_w.as_mut_ptr(),
        usri1_password: password_w.as_mut_ptr(),
        usri1_password_age: 0,
        usri1_priv: USER_PRIV_USER,
        usri1_home_dir: null_mut(),
        usri1_comment: comment_w.as_mut_ptr(),
        usri1_flags: USER_FLAGS,
        usri1_script_path: null_mut(),
    };
    // SAFETY: a USER_INFO_1 whose strings outlive the call.
    let mut status = unsafe { NetUserAdd(null(), 1, (&info as *const USER_INFO_1).cast(), null_mut()) };
    if status == NERR_UserExists {
        status = update_user(&name_w, &mut password_w, &mut comment_w);
    }
    password_w.fill(0);
    if [NERR_Success].contains(&status) {
        Ok(())
    } else {
        Err(failed(ErrorCode::Accounts, format_args!("creating user {name}"), status))
    }
}

/// Gives the existing user `name_w` a password, a comment and
/// [`USER_FLAGS`]; the NetApi status.
fn update_user(name_w: &[u16], password_w: &mut [u16], comment_w: &mut [u16]) -> u32 {
    let password = USER_INFO_1003 { usri1003_password: password_w.as_mut_ptr() };
    let comment = USER_INFO_1007 { usri1007_comment: comment_w.as_mut_ptr() };
    let flags = USER_INFO_1008 { usri1008_flags: USER_FLAGS };
    let infos: [(u32, *const u8); 3] = [
        (1003, (&password as *const USER_INFO_1003).cast()),
        (1007, (&comment as *const USER_INFO_1007).cast()),
        (1008, (&flags as *const USER_INFO_1008).cast()),
    ];
    for (level, info) in infos {
        // SAFETY: a structure of the level's type whose strings outlive the call.
        let status = unsafe { NetUserSetInfo(null(), name_w.as_ptr(), level, info, null_mut()) };
        if status != NERR_Success {
            return status;
        }
    }
    NERR_Success
}

/// Makes the local user a member of the local group; a member stays one.
pub(super) fn add_to_group(user: &str, group: &str) -> Result<(), SetupError> {
    let mut user_w = wide(&qualified(user)?);
    let info = LOCALGROUP_MEMBERS_INFO_3 { lgrmi3_domainandname: user_w.as_mut_ptr() };
    // SAFETY: one LOCALGROUP_MEMBERS_INFO_3 whose string outlives the call.
    let status = unsafe {
        NetLocalGroupAddMembers(
            null(),
            wide(group).as_ptr(),
            3,
            (&info as *const LOCALGROUP_MEMBERS_INFO_3).cast(),
            1,
        )
    };
    if [NERR_Success, ERROR_MEMBER_IN_ALIAS].contains(&status) {
        Ok(())
    } else {
        Err(failed(ErrorCode::Accounts, format_args!("adding {user} to {group}"), status))
    }
}

/// Deletes the local user; one that does not exist is deleted already.
pub(super) fn delete_user(name: &str) -> Result<(), SetupError> {
    // SAFETY: a NUL-terminated name.
    let status = unsafe { NetUserDel(null(), wide(name).as_ptr()) };
    if [NERR_Success, NERR_UserNotFound].contains(&status) {
        Ok(())
    } else {
        Err(failed(ErrorCode::Accounts, format_args!("deleting user {name}"), status))
    }
}

/// Deletes the local group; one that does not exist is deleted already.
pub(super) fn delete_group(name: &str) -> Result<(), SetupError> {
    // SAFETY: a NUL-terminated name.
    let status = unsafe { NetLocalGroupDel(null(), wide(name).as_ptr()) };
    if [NERR_Success, NERR_GroupNotFound, ERROR_NO_SUCH_ALIAS].contains(&status) {
        Ok(())
    } else {
        Err(failed(ErrorCode::Accounts, format_args!("deleting group {name}"), status))
    }
}

/// A fresh password from the OS's random generator.
pub(super) fn new_password() -> Result<String, SetupError> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|err| {
        SetupError::new(ErrorCode::Accounts, format!("no random bytes for a password: {err}"))
    })?;
    let password = cordon_sandbox::windows::password::generate_password(&random);
    random.fill(0);
    Ok(password)
}
