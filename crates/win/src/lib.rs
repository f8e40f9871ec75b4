//! cordon's Win32 wrappers, written once: what the client, the runner, the
//! sandbox and setup each need of the same calls. Every `unsafe` block of
//! those calls lives here, behind a safe function whose contract it keeps.
//! Empty elsewhere than on Windows.

#![warn(missing_docs)]

#[cfg(windows)]
mod account;
#[cfg(windows)]
mod attributes;
#[cfg(windows)]
mod desktop;
#[cfg(windows)]
mod file;
#[cfg(windows)]
mod process;
#[cfg(windows)]
mod security;
#[cfg(windows)]
mod strings;
#[cfg(windows)]
mod system;
#[cfg(windows)]
mod token;

#[cfg(windows)]
pub use account::{Account, computer_name, lookup_account};
#[cfg(windows)]
pub use attributes::AttributeList;
#[cfg(windows)]
pub use desktop::{Desktop, grant_on_window_station, window_station_name};
#[cfg(windows)]
pub use file::set_file_attributes;
#[cfg(windows)]
pub use process::{Created, create_process};
#[cfg(windows)]
pub use security::{
    ObjectSecurity, Restriction, SecurityDescriptor, Sid, grant_access, object_label, restricted_token,
    set_default_dacl, set_integrity_level, set_object_dacl, set_object_label, set_security_info,
};
#[cfg(windows)]
pub use strings::{LocalBuffer, from_wide_ptr, wide};
#[cfg(windows)]
pub use system::is_wine;
#[cfg(windows)]
pub use token::{
    logon_sid_in, own_token, own_user_sid, sid_string, token_groups, token_information, token_logon_sid,
    token_restricting_sids, token_user_sid,
};
