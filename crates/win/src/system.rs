//! What kind of Windows this is.

/// Whether this is Wine rather than Windows (its ntdll exports
/// `wine_get_version`): what Wine does not do (job UI limits, a
/// pseudoconsole's own handles) is then said, not mistaken for a failure.
pub fn is_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    static WINE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WINE.get_or_init(|| {
        // SAFETY: lookups of a loaded module's export by NUL-terminated names.
        unsafe {
            let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
            !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
        }
    })
}
