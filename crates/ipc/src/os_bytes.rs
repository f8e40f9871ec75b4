//! [`OsBytes`]: the wire form of what the operating system treats as bytes
//! (arguments, environment variables, paths) and people treat as text.

use std::borrow::{Borrow, Cow};
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An argument, an environment variable's name or value, or a path: any
/// bytes, almost always UTF-8 text.
///
/// On Unix these are bytes, and a program may be given any (a file name in
/// Latin-1, `printf '%s' $'\xff'`). On the wire an `OsBytes` is one
/// MessagePack value with exactly one encoding: a `str` when the bytes are
/// valid UTF-8, a `bin` when they are not. A `bin` holding valid UTF-8 is
/// malformed, and so is a `str` that is not UTF-8. A runner that cannot
/// pass bytes (Windows, whose arguments are UTF-16) refuses a `Spawn` with
/// a `bin` in it.
///
/// ```
/// use cordon_ipc::OsBytes;
///
/// assert_eq!(OsBytes::from("ls").to_str(), Some("ls"));
/// assert_eq!(OsBytes::from(vec![0xff]).to_str(), None);
/// assert_eq!(OsBytes::from(vec![0xff]).as_bytes(), [0xff]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OsBytes(Vec<u8>);

impl OsBytes {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The text, if the bytes are valid UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The text, with invalid UTF-8 replaced by `U+FFFD`: for messages.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The bytes of an `OsStr` as the platform encodes them: on Unix
    /// exactly its bytes; on Windows WTF-8, which is UTF-8 unless the
    /// string holds an unpaired surrogate.
    pub fn from_os_str(s: &std::ffi::OsStr) -> Self {
        OsBytes(s.as_encoded_bytes().to_vec())
    }
}

impl fmt::Debug for OsBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_str() {
            Some(text) => fmt::Debug::fmt(text, f),
            None => write!(f, "b\"{}\"", self.0.escape_ascii()),
        }
    }
}

impl From<String> for OsBytes {
    fn from(s: String) -> Self {
        OsBytes(s.into_bytes())
    }
}

impl From<&String> for OsBytes {
    fn from(s: &String) -> Self {
        OsBytes(s.as_bytes().to_vec())
    }
}

impl From<&str> for OsBytes {
    fn from(s: &str) -> Self {
        OsBytes(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for OsBytes {
    fn from(bytes: Vec<u8>) -> Self {
        OsBytes(bytes)
    }
}

impl From<&[u8]> for OsBytes {
    fn from(bytes: &[u8]) -> Self {
        OsBytes(bytes.to_vec())
    }
}

impl Borrow<[u8]> for OsBytes {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for OsBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for OsBytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for OsBytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl Serialize for OsBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.to_str() {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for OsBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OsBytesVisitor;
        impl<'de> Visitor<'de> for OsBytesVisitor {
            type Value = OsBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a str, or a bin that is not UTF-8")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OsBytes, E> {
                Ok(OsBytes::from(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<OsBytes, E> {
                if std::str::from_utf8(v).is_ok() {
                    return Err(E::custom("a bin that is valid UTF-8 (send it as a str)"));
                }
                Ok(OsBytes::from(v))
            }
        }
        deserializer.deserialize_any(OsBytesVisitor)
    }
}
