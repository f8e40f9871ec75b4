//! Desktops and the window station: a desktop created with a security
//! descriptor and closed on drop, the caller's window station's name, and
//! an ACE added to that station.

use std::ffi::c_void;
use std::io;
use std::os::windows::io::{BorrowedHandle, RawHandle};
use std::ptr::null;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Security::Authorization::SE_WINDOW_OBJECT;
use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;

use crate::security::{SecurityDescriptor, grant_access};
use crate::strings::wide;

/// `UOI_NAME` (winuser.h): `GetUserObjectInformationW` returns the name.
const UOI_NAME: i32 = 2;
/// `GENERIC_ALL`, mapped to every desktop right; what the creator asks for
/// on its own handle.
const GENERIC_ALL: u32 = 0x1000_0000;
/// `READ_CONTROL | WRITE_DAC`: read a DACL and write it back.
const READ_AND_WRITE_DAC: u32 = 0x0002_0000 | 0x0004_0000;

// Declared here rather than through windows-sys: there `CreateDesktopW`
// sits behind the GDI feature for a `DEVMODEW` pointer that is always null
// here, and these are all cordon needs from the desktop API.
#[link(name = "user32")]
unsafe extern "system" {
    fn CreateDesktopW(
        desktop: *const u16,
        device: *const u16,
        devmode: *const c_void,
        flags: u32,
        access: u32,
        attributes: *const SECURITY_ATTRIBUTES,
    ) -> HANDLE;
    fn CloseDesktop(desktop: HANDLE) -> i32;
    fn OpenWindowStationW(name: *const u16, inherit: i32, access: u32) -> HANDLE;
    fn CloseWindowStation(station: HANDLE) -> i32;
    fn GetProcessWindowStation() -> HANDLE;
    fn GetUserObjectInformationW(
        object: HANDLE,
        index: i32,
        info: *mut c_void,
        length: u32,
        needed: *mut u32,
    ) -> i32;
}

/// A desktop this process created, closed on drop (the desktop itself goes
/// once its last process has left it too).
#[derive(Debug)]
pub struct Desktop {
    handle: HANDLE,
    /// `station\name`, NUL-terminated, for `STARTUPINFOW.lpDesktop`.
    startup_path: Vec<u16>,
}

// SAFETY: a desktop handle is a kernel handle, usable from any thread; it
// is only closed, once, on drop.
unsafe impl Send for Desktop {}
// SAFETY: as above; nothing mutates through a shared reference.
unsafe impl Sync for Desktop {}

impl Desktop {
    /// A new desktop `name` in the caller's window station, with the
    /// security descriptor `sddl`; `startup_path` is how a process is
    /// started on it (`station\name`).
    pub fn create(name: &str, startup_path: &str, sddl: &str) -> io::Result<Desktop> {
        let mut descriptor = SecurityDescriptor::from_sddl(sddl)?;
        let name_w = wide(name);
        // SAFETY: a NUL-terminated name, no device or mode, and security
        // attributes that `descriptor` keeps valid for the call.
        let handle = unsafe {
            CreateDesktopW(name_w.as_ptr(), null(), null(), 0, GENERIC_ALL, descriptor.attributes())
        };
        if handle.is_null() {
            let err = io::Error::last_os_error();
            return Err(io::Error::new(err.kind(), format!("CreateDesktopW({name}): {err}")));
        }
        Ok(Desktop { handle, startup_path: wide(startup_path) })
    }

    /// `station\name` for `STARTUPINFOW.lpDesktop`; valid while `self`
    /// lives. `CreateProcess*W` take it as a mutable pointer but do not
    /// write through it.
    pub fn startup_path(&self) -> *mut u16 {
        self.startup_path.as_ptr().cast_mut()
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // SAFETY: the handle CreateDesktopW returned, closed once.
        unsafe { CloseDesktop(self.handle) };
    }
}

/// The name of the calling process's window station (`WinSta0` in an
/// interactive session), where `CreateDesktopW` creates a desktop.
pub fn window_station_name() -> io::Result<String> {
    // SAFETY: no preconditions; the handle is not to be closed.
    let station = unsafe { GetProcessWindowStation() };
    if station.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut buffer = [0u16; 256];
    let mut needed = 0u32;
    // SAFETY: a live window station handle and a buffer of the size given.
    let ok = unsafe {
        GetUserObjectInformationW(
            station,
            UOI_NAME,
            buffer.as_mut_ptr().cast(),
            size_of_val(&buffer) as u32,
            &mut needed,
        )
    };
    if ok == 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("the window station's name: {err}")));
    }
    let len = buffer.iter().position(|&c| c == 0).unwrap_or(buffer.len());
    Ok(String::from_utf16_lossy(&buffer[..len]))
}

/// Adds a non-inheritable allow ACE of `mask` for `sid` to the caller's
/// window station (a no-op if it is there). It lasts as long as the
/// station (the logon session).
pub fn grant_on_window_station(sid: &str, mask: u32) -> io::Result<()> {
    let name = wide(window_station_name()?);
    // SAFETY: a NUL-terminated name.
    let station = unsafe { OpenWindowStationW(name.as_ptr(), 0, READ_AND_WRITE_DAC) };
    if station.is_null() {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("opening the window station: {err}")));
    }
    // SAFETY: the handle opened above, alive until closed below.
    let borrowed = unsafe { BorrowedHandle::borrow_raw(station as RawHandle) };
    let result = grant_access(borrowed, SE_WINDOW_OBJECT, sid, mask);
    // SAFETY: the handle opened above, closed once.
    unsafe { CloseWindowStation(station) };
    result
}
