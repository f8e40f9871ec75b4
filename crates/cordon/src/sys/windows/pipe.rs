//! The runner's named pipes: each made for its identity alone, with an
//! unguessable name, and the connecting process checked against the
//! runner's pid.

use std::io;
use std::os::windows::io::AsRawHandle;

use cordon_sandbox::windows::sddl::pipe_security;
use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId;

use super::identity::Context;
use super::launch_error;
use crate::{Error, Result};

impl Context {
    /// A new pipe `name` that only the runner's identity (and the caller,
    /// and SYSTEM) may open: first instance, one instance, local clients
    /// only.
    pub(super) fn pipe(&self, name: &str, inbound: bool, outbound: bool) -> Result<NamedPipeServer> {
        let sddl =
            pipe_security(&self.pipe_identity).map_err(|e| Error::Launch(format!("pipe security: {e}")))?;
        let mut descriptor = cordon_win::SecurityDescriptor::from_sddl(&sddl)
            .map_err(|e| launch_error("pipe security descriptor", e))?;
        // SAFETY: the attributes stay valid for the call.
        unsafe {
            ServerOptions::new()
                .first_pipe_instance(true)
                .reject_remote_clients(true)
                .max_instances(1)
                .access_inbound(inbound)
                .access_outbound(outbound)
                .create_with_security_attributes_raw(name, descriptor.attributes().cast())
        }
        .map_err(|e| launch_error(&format!("creating {name}"), e))
    }
}

pub(super) fn client_pid(server: &NamedPipeServer) -> io::Result<u32> {
    let mut pid = 0u32;
    // SAFETY: a live, connected pipe handle.
    if unsafe { GetNamedPipeClientProcessId(server.as_raw_handle() as HANDLE, &mut pid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid)
}

pub(super) fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Launch(format!("no randomness for the pipe name: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
