//! `PROC_THREAD_ATTRIBUTE_LIST`: what `CreateProcess` reads through
//! `STARTUPINFOEXW`, borrowing what it points to.

use std::ffi::c_void;
use std::io;
use std::marker::PhantomData;
use std::ptr::{null, null_mut};

use windows_sys::Win32::System::Threading::{
    DeleteProcThreadAttributeList, InitializeProcThreadAttributeList, LPPROC_THREAD_ATTRIBUTE_LIST,
    UpdateProcThreadAttribute,
};

/// An attribute list whose values live at least as long as `'a`: the list
/// stores pointers, not bytes, so the borrow checker keeps every value
/// alive until the list (and the `CreateProcess` call that reads it) is
/// done.
#[derive(Debug)]
pub struct AttributeList<'a> {
    /// `usize` storage: the list holds pointers and needs their alignment.
    storage: Vec<usize>,
    values: PhantomData<&'a ()>,
}

impl<'a> AttributeList<'a> {
    /// A list with room for `count` attributes.
    pub fn new(count: u32) -> io::Result<Self> {
        let mut size = 0usize;
        // SAFETY: the documented size query (fails, with `size` set).
        unsafe { InitializeProcThreadAttributeList(null_mut(), count, 0, &mut size) };
        let mut storage = vec![0usize; size.div_ceil(size_of::<usize>()).max(1)];
        // SAFETY: storage of at least the size asked for, aligned for it.
        if unsafe { InitializeProcThreadAttributeList(storage.as_mut_ptr().cast(), count, 0, &mut size) } == 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(AttributeList { storage, values: PhantomData })
    }

    /// Sets `attribute` (`PROC_THREAD_ATTRIBUTE_*`) to the items of
    /// `value` (a handle list, a job list, …).
    pub fn set<T>(&mut self, attribute: usize, value: &'a [T]) -> io::Result<()> {
        self.set_raw(attribute, value.as_ptr().cast(), size_of_val(value))
    }

    /// Sets `attribute` to the pointer-sized `value` itself (an `HPCON`:
    /// `PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE` takes the handle, not a
    /// pointer to it). The object it names must outlive the list.
    pub fn set_value(&mut self, attribute: usize, value: *mut c_void) -> io::Result<()> {
        self.set_raw(attribute, value, size_of::<*mut c_void>())
    }

    fn set_raw(&mut self, attribute: usize, value: *const c_void, size: usize) -> io::Result<()> {
        // SAFETY: an initialised list; `value` is borrowed for 'a (or,
        // for `set_value`, names an object the caller keeps alive).
        let ok = unsafe {
            UpdateProcThreadAttribute(self.as_ptr(), 0, attribute, value, size, null_mut(), null())
        };
        if ok == 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// The list, for `STARTUPINFOEXW::lpAttributeList`.
    pub fn as_ptr(&mut self) -> LPPROC_THREAD_ATTRIBUTE_LIST {
        self.storage.as_mut_ptr().cast()
    }
}

impl Drop for AttributeList<'_> {
    fn drop(&mut self) {
        // SAFETY: an initialised list, deleted once.
        unsafe { DeleteProcThreadAttributeList(self.as_ptr()) };
    }
}
