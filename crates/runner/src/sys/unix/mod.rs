//! Linux (and other Unix) implementation of the runner's platform layer.

mod bootstrap;
mod reap;
mod spawn;
mod tree;

pub use bootstrap::{
    Channel, ChannelReader, ChannelWriter, mark_inherited_fds_close_on_exec, take_secret_env,
};
pub use reap::{ExitStatus, Reaper};
pub use spawn::{Child, SpawnSpec, StdioMode, eof_bytes, resize, signal, spawn};
pub use tree::{kill_all_descendants, kill_tree};

use nix::sys::prctl;
use nix::sys::signal::Signal as NixSignal;

/// Ties the runner's life to its parent's and makes it the reaper of every
/// orphan in its trees. `expected_parent`, when given, closes the race where
/// the parent died before the death signal was armed.
///
/// Call it at start-up and again once the sandbox is in force: entering a
/// user namespace changes the credentials, and a credential change clears
/// the death signal (the parent may also have died meanwhile).
pub fn startup(expected_parent: Option<u32>) -> anyhow::Result<()> {
    // SIGTERM rather than SIGKILL: the runner catches it and kills its trees
    // before it exits.
    prctl::set_pdeathsig(NixSignal::SIGTERM)?;
    if let Some(parent) = expected_parent {
        let actual = nix::unistd::getppid().as_raw() as u32;
        if actual != parent {
            anyhow::bail!("the parent (pid {parent}) exited before the runner started");
        }
    }
    // Orphans of any tree are re-parented to the runner, never to init, so
    // that shutdown can still find and kill them.
    prctl::set_child_subreaper(true)?;
    Ok(())
}
