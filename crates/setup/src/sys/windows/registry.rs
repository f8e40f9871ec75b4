//! Registry DWORDs under `HKEY_LOCAL_MACHINE`: the values that hide the
//! sandbox users from the logon screen. Always the 64-bit view.

use std::ptr::{null, null_mut};

use crate::plan::RegistryDword;
use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_SUCCESS};
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, KEY_SET_VALUE, KEY_WOW64_64KEY, REG_DWORD, REG_OPTION_NON_VOLATILE,
    RRF_RT_REG_DWORD, RRF_SUBKEY_WOW6464KEY, RegCloseKey, RegCreateKeyExW, RegDeleteValueW, RegGetValueW,
    RegOpenKeyExW, RegSetValueExW,
};

use super::util::{failed, wide};
use crate::{ErrorCode, SetupError};

/// An open key, closed on drop.
struct Key(HKEY);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: a key this module opened, closed once.
        unsafe { RegCloseKey(self.0) };
    }
}

fn name(value: &RegistryDword) -> String {
    format!(r"HKLM\{}\{}", value.key, value.name)
}

/// Whether the value exists as a DWORD with its data.
pub(super) fn has_value(value: &RegistryDword) -> Result<bool, SetupError> {
    let mut data = 0u32;
    let mut size = size_of::<u32>() as u32;
    // SAFETY: NUL-terminated names; a DWORD buffer of `size` bytes.
    let status = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            wide(value.key).as_ptr(),
            wide(&value.name).as_ptr(),
            RRF_RT_REG_DWORD | RRF_SUBKEY_WOW6464KEY,
            null_mut(),
            (&mut data as *mut u32).cast(),
            &mut size,
        )
    };
    match status {
        ERROR_SUCCESS => Ok(data == value.value),
        ERROR_FILE_NOT_FOUND => Ok(false),
        // A value of another type: not ours.
        windows_sys::Win32::Foundation::ERROR_UNSUPPORTED_TYPE => Ok(false),
        _ => Err(failed(ErrorCode::Registry, format_args!("reading {}", name(value)), status)),
    }
}

/// Sets the DWORD, creating its key.
pub(super) fn set_value(value: &RegistryDword) -> Result<(), SetupError> {
    let mut key: HKEY = null_mut();
    // SAFETY: a NUL-terminated key name; an out-pointer.
    let status = unsafe {
        RegCreateKeyExW(
            HKEY_LOCAL_MACHINE,
            wide(value.key).as_ptr(),
            0,
            null(),
            REG_OPTION_NON_VOLATILE,
            KEY_SET_VALUE | KEY_WOW64_64KEY,
            null(),
            &mut key,
            null_mut(),
        )
    };
    if status != ERROR_SUCCESS {
        return Err(failed(ErrorCode::Registry, format_args!("opening HKLM\\{}", value.key), status));
    }
    let key = Key(key);
    let data = value.value.to_le_bytes();
    // SAFETY: an open key; a NUL-terminated name; four bytes of data.
    let status = unsafe {
        RegSetValueExW(key.0, wide(&value.name).as_ptr(), 0, REG_DWORD, data.as_ptr(), data.len() as u32)
    };
    if status != ERROR_SUCCESS {
        return Err(failed(ErrorCode::Registry, format_args!("writing {}", name(value)), status));
    }
    Ok(())
}

/// Deletes the value; a value (or key) that does not exist is deleted
/// already.
pub(super) fn delete_value(value: &RegistryDword) -> Result<(), SetupError> {
    let mut key: HKEY = null_mut();
    // SAFETY: a NUL-terminated key name; an out-pointer.
    let status = unsafe {
        RegOpenKeyExW(
            HKEY_LOCAL_MACHINE,
            wide(value.key).as_ptr(),
            0,
            KEY_SET_VALUE | KEY_WOW64_64KEY,
            &mut key,
        )
    };
    match status {
        ERROR_SUCCESS => {}
        ERROR_FILE_NOT_FOUND => return Ok(()),
        _ => return Err(failed(ErrorCode::Registry, format_args!("opening HKLM\\{}", value.key), status)),
    }
    let key = Key(key);
    // SAFETY: an open key; a NUL-terminated name.
    let status = unsafe { RegDeleteValueW(key.0, wide(&value.name).as_ptr()) };
    match status {
        ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
        _ => Err(failed(ErrorCode::Registry, format_args!("deleting {}", name(value)), status)),
    }
}
