//! Security identifiers as strings: the well-known ones cordon names, the
//! capability SID of a writable root, and a strict validator.
//!
//! Every SID cordon puts in an SDDL string passes [`is_valid_sid`] first: a
//! string that is not a SID (an SDDL alias such as `BA`, or text with `)` or
//! `;` in it) would otherwise change the meaning of the descriptor it is
//! spliced into.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::path;

/// `NT AUTHORITY\SYSTEM`.
pub const SYSTEM: &str = "S-1-5-18";
/// `BUILTIN\Administrators`.
pub const ADMINISTRATORS: &str = "S-1-5-32-544";
/// `BUILTIN\Users`.
pub const USERS: &str = "S-1-5-32-545";
/// `Everyone` (the World SID).
pub const EVERYONE: &str = "S-1-1-0";
/// `NT AUTHORITY\Authenticated Users`.
pub const AUTHENTICATED_USERS: &str = "S-1-5-11";
/// `NT AUTHORITY\NETWORK`: present in tokens of network logons.
pub const NETWORK: &str = "S-1-5-2";
/// `NT AUTHORITY\WRITE RESTRICTED`: present in write-restricted tokens.
pub const WRITE_RESTRICTED_CODE: &str = "S-1-5-33";

/// What every logon SID starts with: `S-1-5-5-X-Y`, one per logon session.
pub const LOGON_SID_PREFIX: &str = "S-1-5-5-";

/// What every app-capability SID starts with; eight sub-authorities follow.
pub const CAPABILITY_SID_PREFIX: &str = "S-1-15-3-1024-";

/// At most this many sub-authorities (`SID_MAX_SUB_AUTHORITIES`).
const MAX_SUB_AUTHORITIES: usize = 15;

/// A string that should have been a SID (of some kind) and is not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {expected}")]
pub struct InvalidSid {
    /// The string as given.
    pub value: String,
    /// What it should have been (`"SID"`, `"logon SID"`).
    pub expected: &'static str,
}

/// The capability SID of a writable root: `S-1-15-3-1024-` followed by the
/// first eight little-endian `u32` of the SHA-256 of the UTF-8 bytes of the
/// root's normal form ([`path::normalize`]). Every spelling of one root gives
/// the same SID, on every machine, so it can be computed when a token is made
/// and when an ACL is written without being stored in between.
///
/// ```
/// use std::path::Path;
/// use cordon_sandbox::windows::sid::{capability_sid, is_valid_sid};
///
/// let sid = capability_sid(Path::new(r"C:\work"));
/// assert!(sid.starts_with("S-1-15-3-1024-") && is_valid_sid(&sid));
/// assert_eq!(sid, capability_sid(Path::new(r"\\?\c:\WORK\")));
/// ```
pub fn capability_sid(root: &Path) -> String {
    let digest = Sha256::digest(path::normalize(root).as_bytes());
    let mut sid = String::from(CAPABILITY_SID_PREFIX);
    for (i, word) in digest.chunks_exact(4).enumerate() {
        if i > 0 {
            sid.push('-');
        }
        let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        sid.push_str(&word.to_string());
    }
    sid
}

/// Whether `sid` is a SID string in canonical form: `S-1-`, an identifier
/// authority, then one to fifteen sub-authorities, each a decimal `u32`
/// without sign or leading zero. SDDL aliases (`SY`, `BA`) and the
/// hexadecimal form of large authorities are refused: with one spelling per
/// SID, comparing strings compares SIDs.
pub fn is_valid_sid(sid: &str) -> bool {
    let Some(rest) = sid.strip_prefix("S-1-") else {
        return false;
    };
    let mut parts = rest.split('-');
    let authority_ok = parts.next().is_some_and(is_canonical_u32);
    let sub_authorities: Vec<&str> = parts.collect();
    authority_ok
        && (1..=MAX_SUB_AUTHORITIES).contains(&sub_authorities.len())
        && sub_authorities.iter().all(|part| is_canonical_u32(part))
}

/// Whether `sid` is a logon SID (`S-1-5-5-X-Y`).
pub fn is_logon_sid(sid: &str) -> bool {
    is_valid_sid(sid) && sid.strip_prefix(LOGON_SID_PREFIX).is_some_and(|rest| rest.split('-').count() == 2)
}

/// `Ok` for a valid SID string, else the error naming it.
pub fn check_sid(sid: &str) -> Result<(), InvalidSid> {
    if is_valid_sid(sid) { Ok(()) } else { Err(InvalidSid { value: sid.to_string(), expected: "SID" }) }
}

fn is_canonical_u32(text: &str) -> bool {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let no_leading_zero = text == "0" || !text.starts_with('0');
    digits_only && no_leading_zero && text.parse::<u32>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_sids_are_valid() {
        for sid in
            [SYSTEM, ADMINISTRATORS, USERS, EVERYONE, AUTHENTICATED_USERS, NETWORK, WRITE_RESTRICTED_CODE]
        {
            assert!(is_valid_sid(sid), "{sid}");
        }
        assert!(is_valid_sid("S-1-5-21-3623811015-3361044348-30300820-1013"));
        assert!(is_valid_sid("S-1-0-0"));
    }

    #[test]
    fn sddl_injection_through_a_sid_is_refused() {
        for sid in [
            "",
            "BA",
            "SY",
            "S-1-5-18)(A;;GA;;;WD",
            "S-1-5-18;",
            "S-1-5-18 ",
            " S-1-5-18",
            "s-1-5-18",
            "S-2-5-18",
            "S-1-5",
            "S-1-5-",
            "S-1-5--18",
            "S-1-5-+18",
            "S-1-5-018",
            "S-1-5-4294967296",
            "S-1-0x000000000005-18",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
        ] {
            assert!(!is_valid_sid(sid), "{sid:?}");
            assert!(check_sid(sid).is_err(), "{sid:?}");
        }
        assert!(is_valid_sid("S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15"));
        assert!(is_valid_sid("S-1-5-4294967295"));
    }

    #[test]
    fn logon_sids_have_two_sub_authorities_after_the_prefix() {
        assert!(is_logon_sid("S-1-5-5-0-123456"));
        assert!(!is_logon_sid("S-1-5-5-0"));
        assert!(!is_logon_sid("S-1-5-5-0-1-2"));
        assert!(!is_logon_sid(EVERYONE));
        assert!(!is_logon_sid("S-1-5-50-0-1"));
    }

    #[test]
    fn capability_sid_has_the_app_capability_shape() {
        let sid = capability_sid(Path::new(r"C:\work"));
        assert!(is_valid_sid(&sid));
        let rest = sid.strip_prefix(CAPABILITY_SID_PREFIX).unwrap();
        assert_eq!(rest.split('-').count(), 8);
    }

    #[test]
    fn capability_sid_is_the_digest_of_the_normal_form() {
        let digest = Sha256::digest(br"c:\work");
        let words: Vec<String> = digest
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]).to_string())
            .collect();
        assert_eq!(capability_sid(Path::new(r"C:\Work\")), format!("S-1-15-3-1024-{}", words.join("-")));
    }

    #[test]
    fn every_spelling_of_a_root_has_one_capability_sid() {
        let sid = capability_sid(Path::new(r"C:\Users\Alice\Repo"));
        for spelling in [r"c:\users\alice\repo", "C:/Users/Alice/Repo/", r"\\?\C:\USERS\alice\repo\\"] {
            assert_eq!(capability_sid(Path::new(spelling)), sid, "{spelling}");
        }
    }

    #[test]
    fn different_roots_have_different_capability_sids() {
        let a = capability_sid(Path::new(r"C:\work\a"));
        let b = capability_sid(Path::new(r"C:\work\b"));
        let parent = capability_sid(Path::new(r"C:\work"));
        assert_ne!(a, b);
        assert_ne!(a, parent);
    }
}
