//! The runner's private desktop: created per launch in the caller's window
//! station, with the DACL `cordon_sandbox::windows::desktop` decides, and
//! closed with the [`Runner`](super::Runner) that holds it (the desktop
//! itself goes once its last process has exited too).

use std::io;

use cordon_sandbox::windows::desktop::{DesktopName, desktop_security, station_grant};
use cordon_sandbox::windows::sddl::PipeIdentity;

pub(super) use cordon_win::Desktop;

fn invalid(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

/// A new desktop `name` in the caller's window station that only
/// `identity` may open.
pub(super) fn create(name: &DesktopName, identity: &PipeIdentity) -> io::Result<Desktop> {
    let sddl = desktop_security(identity).map_err(invalid)?;
    let startup_path = name.startup_path(&cordon_win::window_station_name()?).map_err(invalid)?;
    Desktop::create(name.as_str(), &startup_path, &sddl)
}

/// Grants `identity` what [`station_grant`] says on the caller's window
/// station, if anything (the sandbox user; a no-op if it has the grant).
pub(super) fn grant_station(identity: &PipeIdentity) -> io::Result<()> {
    match station_grant(identity).map_err(invalid)? {
        Some((sid, mask)) => cordon_win::grant_on_window_station(&sid, mask),
        None => Ok(()),
    }
}

/// A fresh desktop name from 128 random bits.
pub(super) fn new_name() -> io::Result<DesktopName> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random)
        .map_err(|e| io::Error::other(format!("no randomness for the desktop name: {e}")))?;
    Ok(DesktopName::from_random(random))
}
