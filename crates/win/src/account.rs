//! Local accounts by name: `LookupAccountNameW`, and the computer name
//! that qualifies them.

use std::io;
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, ERROR_NONE_MAPPED, GetLastError};
use windows_sys::Win32::Security::{LookupAccountNameW, SID_NAME_USE};
use windows_sys::Win32::System::SystemInformation::{ComputerNameNetBIOS, GetComputerNameExW};

use crate::strings::wide;
use crate::token::sid_string;

/// An account as `LookupAccountNameW` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its SID, as a string.
    pub sid: String,
    /// The domain it belongs to (for a local account, the computer name).
    pub domain: String,
    /// What it is: `SidTypeUser`, `SidTypeAlias` (a local group), ….
    pub kind: SID_NAME_USE,
}

/// The account `name` (qualify it as `COMPUTER\name` for a local one), or
/// `None` if no account has that name. The error is the system's own,
/// without context: callers add what they were doing.
pub fn lookup_account(name: &str) -> io::Result<Option<Account>> {
    let name_w = wide(name);
    let (mut sid_len, mut domain_len, mut kind) = (0u32, 0u32, 0);
    // SAFETY: the documented size query: null buffers, lengths out.
    let ok = unsafe {
        LookupAccountNameW(
            null(),
            name_w.as_ptr(),
            null_mut(),
            &mut sid_len,
            null_mut(),
            &mut domain_len,
            &mut kind,
        )
    };
    // SAFETY: reads the calling thread's last error.
    let status = unsafe { GetLastError() };
    if ok == 0 && status == ERROR_NONE_MAPPED {
        return Ok(None);
    }
    if ok == 0 && status != ERROR_INSUFFICIENT_BUFFER {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    // u64 storage: a SID needs 4-byte alignment, which a byte vector does
    // not promise.
    let mut sid = vec![0u64; (sid_len as usize).div_ceil(8).max(1)];
    let mut domain = vec![0u16; domain_len.max(1) as usize];
    // SAFETY: buffers of the sizes the query asked for.
    let ok = unsafe {
        LookupAccountNameW(
            null(),
            name_w.as_ptr(),
            sid.as_mut_ptr().cast(),
            &mut sid_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let domain = String::from_utf16_lossy(&domain[..domain_len as usize]);
    // SAFETY: the SID LookupAccountNameW wrote into `sid`.
    let sid = unsafe { sid_string(sid.as_mut_ptr().cast()) }?;
    Ok(Some(Account { sid, domain, kind }))
}

/// This machine's NetBIOS name: the domain of its local accounts.
pub fn computer_name() -> io::Result<String> {
    let mut buffer = [0u16; 64];
    let mut len = buffer.len() as u32;
    // SAFETY: a buffer of `len` units; `len` is updated to the name's length.
    if unsafe { GetComputerNameExW(ComputerNameNetBIOS, buffer.as_mut_ptr(), &mut len) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(String::from_utf16_lossy(&buffer[..len as usize]))
}
