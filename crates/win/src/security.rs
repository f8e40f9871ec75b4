//! SIDs and security descriptors parsed from their string forms, the
//! restricted tokens made from them, and descriptors set on objects by
//! handle. What the strings say is decided elsewhere (by the pure
//! functions of `cordon_sandbox::windows`); this module only builds and
//! applies them.

use std::io;
use std::os::windows::io::{AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{ERROR_SUCCESS, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, ConvertStringSidToSidW, EXPLICIT_ACCESS_W,
    GRANT_ACCESS, GetSecurityInfo, SE_OBJECT_TYPE, SetEntriesInAclW, SetSecurityInfo, TRUSTEE_IS_SID,
    TRUSTEE_IS_UNKNOWN, TRUSTEE_W,
};
use windows_sys::Win32::Security::{
    ACE_HEADER, ACL, CreateRestrictedToken, DACL_SECURITY_INFORMATION, GetAce, GetLengthSid,
    GetSecurityDescriptorControl, GetSecurityDescriptorDacl, GetSecurityDescriptorLength,
    GetSecurityDescriptorSacl, LABEL_SECURITY_INFORMATION, NO_INHERITANCE, OBJECT_SECURITY_INFORMATION,
    OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
    SACL_SECURITY_INFORMATION, SE_DACL_PROTECTED, SECURITY_ATTRIBUTES, SID_AND_ATTRIBUTES,
    SYSTEM_MANDATORY_LABEL_ACE, SetTokenInformation, TOKEN_DEFAULT_DACL, TOKEN_MANDATORY_LABEL,
    TokenDefaultDacl, TokenIntegrityLevel,
};

use crate::strings::{LocalBuffer, wide};

fn last_error(what: &str) -> io::Error {
    let err = io::Error::last_os_error();
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

fn status_error(what: &str, status: u32) -> io::Error {
    let err = io::Error::from_raw_os_error(status as i32);
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// `SE_GROUP_INTEGRITY` (winnt.h): the attribute of a token's integrity
/// label.
const SE_GROUP_INTEGRITY: u32 = 0x20;

/// A SID parsed from its string form (`S-1-5-…`).
#[derive(Debug)]
pub struct Sid(LocalBuffer);

impl Sid {
    /// `text` as a SID.
    pub fn parse(text: &str) -> io::Result<Sid> {
        let mut sid: PSID = null_mut();
        // SAFETY: a NUL-terminated string; the SID is LocalAlloc'ed.
        if unsafe { ConvertStringSidToSidW(wide(text).as_ptr(), &mut sid) } == 0 {
            return Err(last_error(&format!("ConvertStringSidToSidW({text})")));
        }
        Ok(Sid(LocalBuffer(sid)))
    }

    /// The SID, valid while `self` lives.
    pub fn as_psid(&self) -> PSID {
        self.0.0
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        // SAFETY: a valid SID.
        unsafe { GetLengthSid(self.as_psid()) as usize }
    }

    /// Never: a SID has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A security descriptor parsed from SDDL, with `SECURITY_ATTRIBUTES`
/// pointing at it.
pub struct SecurityDescriptor {
    descriptor: LocalBuffer,
    attributes: SECURITY_ATTRIBUTES,
}

impl SecurityDescriptor {
    /// `sddl` as a self-relative security descriptor.
    pub fn from_sddl(sddl: &str) -> io::Result<Self> {
        let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
        // SAFETY: a NUL-terminated string; the descriptor is LocalAlloc'ed.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                wide(sddl).as_ptr(),
                1,
                &mut descriptor,
                null_mut(),
            )
        };
        if ok == 0 {
            return Err(last_error(&format!("ConvertStringSecurityDescriptorToSecurityDescriptorW({sddl})")));
        }
        let attributes = SECURITY_ATTRIBUTES {
            nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: descriptor,
            bInheritHandle: 0,
        };
        Ok(SecurityDescriptor { descriptor: LocalBuffer(descriptor), attributes })
    }

    /// For APIs that take `SECURITY_ATTRIBUTES*`; valid while `self` lives.
    pub fn attributes(&mut self) -> *mut SECURITY_ATTRIBUTES {
        &mut self.attributes
    }

    /// The self-relative descriptor, valid while `self` lives.
    pub fn as_ptr(&self) -> PSECURITY_DESCRIPTOR {
        self.descriptor.0
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        // SAFETY: a valid self-relative descriptor.
        unsafe { GetSecurityDescriptorLength(self.descriptor.0) as usize }
    }

    /// Never: a descriptor has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Its DACL (null if it has none), valid while `self` lives.
    pub fn dacl(&self) -> *mut ACL {
        let (mut present, mut defaulted, mut acl) = (0, 0, null_mut());
        // SAFETY: a valid descriptor; out-pointers.
        unsafe { GetSecurityDescriptorDacl(self.descriptor.0, &mut present, &mut acl, &mut defaulted) };
        if present == 0 { null_mut() } else { acl }
    }

    /// Its SACL (null if it has none), valid while `self` lives.
    pub fn sacl(&self) -> *mut ACL {
        let (mut present, mut defaulted, mut acl) = (0, 0, null_mut());
        // SAFETY: a valid descriptor; out-pointers.
        unsafe { GetSecurityDescriptorSacl(self.descriptor.0, &mut present, &mut acl, &mut defaulted) };
        if present == 0 { null_mut() } else { acl }
    }
}

/// What `CreateRestrictedToken` takes: flags, the groups made deny-only,
/// and the restricting SIDs, as strings.
#[derive(Debug, Clone, Copy)]
pub struct Restriction<'a> {
    /// `DISABLE_MAX_PRIVILEGE | LUA_TOKEN | WRITE_RESTRICTED`, as planned.
    pub flags: u32,
    /// Groups to make deny-only; those the token does not hold are ignored.
    pub disabled: &'a [String],
    /// The restricting SIDs.
    pub restricting: &'a [String],
}

/// A primary token like `token`, restricted as `restriction` says.
pub fn restricted_token(token: &OwnedHandle, restriction: Restriction<'_>) -> io::Result<OwnedHandle> {
    let parse = |sids: &[String]| sids.iter().map(|s| Sid::parse(s)).collect::<io::Result<Vec<_>>>();
    let (disabled, restricting) = (parse(restriction.disabled)?, parse(restriction.restricting)?);
    let entries = |sids: &[Sid]| -> Vec<SID_AND_ATTRIBUTES> {
        sids.iter().map(|sid| SID_AND_ATTRIBUTES { Sid: sid.as_psid(), Attributes: 0 }).collect()
    };
    let (disabled_entries, restricting_entries) = (entries(&disabled), entries(&restricting));
    let mut restricted: HANDLE = null_mut();
    // SAFETY: a live token; the entries and the SIDs they point to outlive
    // the call; no privileges named.
    let ok = unsafe {
        CreateRestrictedToken(
            token.as_raw_handle() as HANDLE,
            restriction.flags,
            disabled_entries.len() as u32,
            if disabled_entries.is_empty() { null() } else { disabled_entries.as_ptr() },
            0,
            null(),
            restricting_entries.len() as u32,
            if restricting_entries.is_empty() { null() } else { restricting_entries.as_ptr() },
            &mut restricted,
        )
    };
    if ok == 0 {
        return Err(last_error("CreateRestrictedToken"));
    }
    // SAFETY: a fresh handle owned by nobody else.
    Ok(unsafe { OwnedHandle::from_raw_handle(restricted as RawHandle) })
}

/// Sets the integrity level of `token` (opened with
/// `TOKEN_ADJUST_DEFAULT`) to `level_sid` (`S-1-16-…`). Lowering needs no
/// privilege.
pub fn set_integrity_level(token: &OwnedHandle, level_sid: &str) -> io::Result<()> {
    let sid = Sid::parse(level_sid)?;
    let label = TOKEN_MANDATORY_LABEL {
        Label: SID_AND_ATTRIBUTES { Sid: sid.as_psid(), Attributes: SE_GROUP_INTEGRITY },
    };
    let size = (size_of::<TOKEN_MANDATORY_LABEL>() + sid.len()) as u32;
    // SAFETY: a live token; a label whose SID outlives the call.
    let ok = unsafe {
        SetTokenInformation(
            token.as_raw_handle() as HANDLE,
            TokenIntegrityLevel,
            (&raw const label).cast(),
            size,
        )
    };
    if ok == 0 {
        return Err(last_error(&format!("SetTokenInformation(TokenIntegrityLevel, {level_sid})")));
    }
    Ok(())
}

/// Sets the default DACL of `token` (opened with `TOKEN_ADJUST_DEFAULT`),
/// what objects its processes create get when nothing else gives them
/// one, to the DACL of `sddl` (`D:…`).
pub fn set_default_dacl(token: &OwnedHandle, sddl: &str) -> io::Result<()> {
    let descriptor = SecurityDescriptor::from_sddl(sddl)?;
    let dacl = TOKEN_DEFAULT_DACL { DefaultDacl: descriptor.dacl() };
    // SAFETY: a live token; a DACL inside `descriptor`, alive for the call.
    let ok = unsafe {
        SetTokenInformation(
            token.as_raw_handle() as HANDLE,
            TokenDefaultDacl,
            (&raw const dacl).cast(),
            size_of::<TOKEN_DEFAULT_DACL>() as u32,
        )
    };
    if ok == 0 {
        return Err(last_error("SetTokenInformation(TokenDefaultDacl)"));
    }
    Ok(())
}

/// What `GetSecurityInfo` read of an object: the descriptor that owns it,
/// and the parts of it asked for (null where not asked for, or absent).
pub struct ObjectSecurity {
    descriptor: LocalBuffer,
    owner: PSID,
    dacl: *mut ACL,
    sacl: *mut ACL,
}

impl ObjectSecurity {
    /// Reads `what` (`OWNER_SECURITY_INFORMATION`, `DACL_…`, `LABEL_…`) of
    /// the object `handle` (opened with `READ_CONTROL`) of `kind`.
    pub fn read(
        handle: BorrowedHandle<'_>,
        kind: SE_OBJECT_TYPE,
        what: OBJECT_SECURITY_INFORMATION,
    ) -> io::Result<ObjectSecurity> {
        let (mut owner, mut dacl, mut sacl, mut descriptor) =
            (null_mut(), null_mut(), null_mut(), null_mut());
        let want = |bit: OBJECT_SECURITY_INFORMATION| what & bit != 0;
        // SAFETY: a live handle; out-pointers for the parts asked for; the
        // descriptor is LocalAlloc'ed and owns them.
        let status = unsafe {
            GetSecurityInfo(
                handle.as_raw_handle() as HANDLE,
                kind,
                what,
                if want(OWNER_SECURITY_INFORMATION) { &mut owner } else { null_mut() },
                null_mut(),
                if want(DACL_SECURITY_INFORMATION) { &mut dacl } else { null_mut() },
                if want(SACL_SECURITY_INFORMATION | LABEL_SECURITY_INFORMATION) {
                    &mut sacl
                } else {
                    null_mut()
                },
                &mut descriptor,
            )
        };
        if status != ERROR_SUCCESS {
            return Err(status_error("GetSecurityInfo", status));
        }
        Ok(ObjectSecurity { descriptor: LocalBuffer(descriptor), owner, dacl, sacl })
    }

    /// The owner's SID (null if not read), valid while `self` lives.
    pub fn owner(&self) -> PSID {
        self.owner
    }

    /// The DACL (null if not read, or none), valid while `self` lives.
    pub fn dacl(&self) -> *mut ACL {
        self.dacl
    }

    /// The SACL, the label's (null if not read, or none), valid while
    /// `self` lives.
    pub fn sacl(&self) -> *mut ACL {
        self.sacl
    }

    /// Whether the DACL is protected from inheritance.
    pub fn dacl_protected(&self) -> bool {
        let (mut control, mut revision) = (0u16, 0u32);
        // SAFETY: a valid descriptor; out-pointers.
        unsafe { GetSecurityDescriptorControl(self.descriptor.0, &mut control, &mut revision) };
        control & SE_DACL_PROTECTED != 0
    }
}

/// Sets `what` of the object `handle` (opened with the rights that takes:
/// `WRITE_DAC`, `WRITE_OWNER`) of `kind` to `dacl` and `sacl`.
///
/// # Safety
/// `dacl` and `sacl` are valid ACLs or null, as `what` asks for them.
pub unsafe fn set_security_info(
    handle: BorrowedHandle<'_>,
    kind: SE_OBJECT_TYPE,
    what: OBJECT_SECURITY_INFORMATION,
    dacl: *const ACL,
    sacl: *const ACL,
) -> io::Result<()> {
    // SAFETY: a live handle (borrowed for the call); the ACLs are the
    // caller's promise.
    let status = unsafe {
        SetSecurityInfo(handle.as_raw_handle() as HANDLE, kind, what, null_mut(), null_mut(), dacl, sacl)
    };
    if status != ERROR_SUCCESS {
        return Err(status_error("SetSecurityInfo", status));
    }
    Ok(())
}

/// Sets the mandatory label of the object `handle` (opened with
/// `WRITE_OWNER`) of `kind` to the label of `sddl` (`S:(ML;…)`).
pub fn set_object_label(handle: BorrowedHandle<'_>, kind: SE_OBJECT_TYPE, sddl: &str) -> io::Result<()> {
    let descriptor = SecurityDescriptor::from_sddl(sddl)?;
    // SAFETY: a SACL inside `descriptor`, alive for the call.
    unsafe { set_security_info(handle, kind, LABEL_SECURITY_INFORMATION, null(), descriptor.sacl()) }
}

/// Replaces the DACL of the object `handle` (opened with `WRITE_DAC`) of
/// `kind` with the protected DACL of `sddl` (`D:P…`).
pub fn set_object_dacl(handle: BorrowedHandle<'_>, kind: SE_OBJECT_TYPE, sddl: &str) -> io::Result<()> {
    let descriptor = SecurityDescriptor::from_sddl(sddl)?;
    let what = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
    // SAFETY: a DACL inside `descriptor`, alive for the call.
    unsafe { set_security_info(handle, kind, what, descriptor.dacl(), null()) }
}

/// Adds a non-inheritable allow ACE of `mask` for `sid` to the DACL of the
/// object `handle` (opened with `READ_CONTROL | WRITE_DAC`) of `kind`,
/// keeping the ACEs it has (a no-op if the grant is there).
pub fn grant_access(
    handle: BorrowedHandle<'_>,
    kind: SE_OBJECT_TYPE,
    sid: &str,
    mask: u32,
) -> io::Result<()> {
    let sid = Sid::parse(sid)?;
    let old = ObjectSecurity::read(handle, kind, DACL_SECURITY_INFORMATION)?;
    let access = EXPLICIT_ACCESS_W {
        grfAccessPermissions: mask,
        grfAccessMode: GRANT_ACCESS,
        grfInheritance: NO_INHERITANCE,
        Trustee: TRUSTEE_W {
            pMultipleTrustee: null_mut(),
            MultipleTrusteeOperation: 0,
            TrusteeForm: TRUSTEE_IS_SID,
            TrusteeType: TRUSTEE_IS_UNKNOWN,
            ptstrName: sid.as_psid().cast(),
        },
    };
    let mut new_dacl: *mut ACL = null_mut();
    // SAFETY: one entry whose SID outlives the call; the old DACL is valid
    // (or null).
    let status = unsafe { SetEntriesInAclW(1, &access, old.dacl(), &mut new_dacl) };
    if status != ERROR_SUCCESS {
        return Err(status_error("SetEntriesInAclW", status));
    }
    let _new = LocalBuffer(new_dacl.cast());
    // SAFETY: the DACL SetEntriesInAclW made, alive for the call.
    unsafe { set_security_info(handle, kind, DACL_SECURITY_INFORMATION, new_dacl, null()) }
}

/// `SYSTEM_MANDATORY_LABEL_ACE_TYPE`.
const MANDATORY_LABEL_ACE_TYPE: u8 = 0x11;

/// The explicit mandatory label of the object `handle` (opened with
/// `READ_CONTROL`) of `kind`, if it has one: the ACE's flags, its policy
/// mask and its level's SID.
pub fn object_label(
    handle: BorrowedHandle<'_>,
    kind: SE_OBJECT_TYPE,
) -> io::Result<Option<(u8, u32, String)>> {
    let security = ObjectSecurity::read(handle, kind, LABEL_SECURITY_INFORMATION)?;
    let sacl = security.sacl();
    if sacl.is_null() {
        return Ok(None);
    }
    // SAFETY: a valid SACL from the descriptor.
    let count = unsafe { (*sacl).AceCount };
    for index in 0..u32::from(count) {
        let mut ace: *mut std::ffi::c_void = null_mut();
        // SAFETY: an index below the ACE count.
        if unsafe { GetAce(sacl, index, &mut ace) } == 0 {
            continue;
        }
        // SAFETY: every ACE starts with an ACE_HEADER; a label ACE has
        // SYSTEM_MANDATORY_LABEL_ACE's layout, its SID at SidStart.
        unsafe {
            let header = *(ace as *const ACE_HEADER);
            if header.AceType == MANDATORY_LABEL_ACE_TYPE {
                let label = ace as *const SYSTEM_MANDATORY_LABEL_ACE;
                let sid = std::ptr::addr_of!((*label).SidStart) as PSID;
                return Ok(Some((header.AceFlags, (*label).Mask, crate::token::sid_string(sid)?)));
            }
        }
    }
    Ok(None)
}
