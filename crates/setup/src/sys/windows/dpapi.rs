//! DPAPI for the calling user: `CryptProtectData` and `CryptUnprotectData`
//! without UI, the output blobs freed with `LocalFree`.

use std::ptr::{null, null_mut};

use windows_sys::Win32::Security::Cryptography::{
    CRYPT_INTEGER_BLOB, CRYPTPROTECT_UI_FORBIDDEN, CryptProtectData, CryptUnprotectData,
};

use super::util::{LocalBuffer, last_error, wide};
use crate::{ErrorCode, SetupError};

/// What the blobs are described as (stored in them, shown by no UI).
const DESCRIPTION: &str = "cordon sandbox account password";

fn input(data: &[u8]) -> CRYPT_INTEGER_BLOB {
    CRYPT_INTEGER_BLOB { cbData: data.len() as u32, pbData: data.as_ptr() as *mut u8 }
}

/// The bytes of an output blob, which is freed (and first overwritten
/// when it holds a secret).
fn take(blob: CRYPT_INTEGER_BLOB, wipe: bool) -> Vec<u8> {
    let _free = LocalBuffer(blob.pbData.cast());
    if blob.pbData.is_null() {
        return Vec::new();
    }
    // SAFETY: the API's buffer of cbData bytes, alive until `_free` drops.
    let bytes = unsafe { std::slice::from_raw_parts_mut(blob.pbData, blob.cbData as usize) };
    let copy = bytes.to_vec();
    if wipe {
        bytes.fill(0);
    }
    copy
}

/// `secret`, protected for the user running this process.
pub(super) fn protect(secret: &[u8]) -> Result<Vec<u8>, SetupError> {
    let data = input(secret);
    let mut out = CRYPT_INTEGER_BLOB { cbData: 0, pbData: null_mut() };
    // SAFETY: an input blob over `secret`; an output blob the API allocates.
    let ok = unsafe {
        CryptProtectData(
            &data,
            wide(DESCRIPTION).as_ptr(),
            null(),
            null(),
            null(),
            CRYPTPROTECT_UI_FORBIDDEN,
            &mut out,
        )
    };
    if ok == 0 {
        return Err(last_error(ErrorCode::Dpapi, "protecting a password (CryptProtectData)"));
    }
    Ok(take(out, false))
}

/// The secret in a blob that [`protect`] made for this user.
pub(super) fn unprotect(blob: &[u8]) -> Result<Vec<u8>, SetupError> {
    let data = input(blob);
    let mut out = CRYPT_INTEGER_BLOB { cbData: 0, pbData: null_mut() };
    // SAFETY: an input blob over `blob`; an output blob the API allocates.
    let ok = unsafe {
        CryptUnprotectData(&data, null_mut(), null(), null(), null(), CRYPTPROTECT_UI_FORBIDDEN, &mut out)
    };
    if ok == 0 {
        return Err(last_error(
            ErrorCode::Dpapi,
            "unprotecting a stored password (CryptUnprotectData; only the user who ran setup can)",
        ));
    }
    Ok(take(out, true))
}
