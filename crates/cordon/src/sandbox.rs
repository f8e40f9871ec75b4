//! [`Sandbox`]: one runner inside its sandbox, and the processes it runs
//! for this parent. Starting the runner is [`crate::launch`]'s; the channel
//! is [`crate::connection`]'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cordon_ipc::{HelloAck, Message, ProcessStatus};
use cordon_sandbox::Policy;

use crate::command::Command;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::event::Output;
use crate::options::LaunchOptions;
use crate::process::Process;
use crate::{launch, sys};

/// A runner inside its sandbox, and the channel to it.
///
/// Dropping a `Sandbox` closes the channel, even while `Process` handles
/// remain: the runner kills every process it started and exits, and the
/// remaining handles report [`Error::RunnerGone`]. [`Sandbox::shutdown`]
/// does the same in order and waits for it.
///
/// The runner is started with `PR_SET_PDEATHSIG`, which Linux ties to the
/// *thread* that started it: launch from a thread that outlives the sandbox
/// (the main thread or a runtime worker, not a `spawn_blocking` thread).
#[derive(Debug)]
pub struct Sandbox {
    conn: Arc<Connection>,
    runner: sys::Runner,
    info: HelloAck,
    policy: Policy,
    next_id: AtomicU64,
}

impl Sandbox {
    /// Starts a runner under the options' policy and completes the
    /// handshake.
    pub async fn launch(options: LaunchOptions) -> Result<Sandbox> {
        let started = launch::start(&options).await?;
        Ok(Sandbox {
            conn: Arc::new(started.conn),
            runner: started.runner,
            info: started.info,
            policy: options.policy,
            next_id: AtomicU64::new(1),
        })
    }

    /// The policy the runner enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What the runner said in the handshake: its version, pid, platform,
    /// and what it enforces.
    pub fn info(&self) -> &HelloAck {
        &self.info
    }

    /// Starts a process.
    pub async fn spawn(&self, command: Command) -> Result<Process> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let tty = command.tty.is_some();
        let spawn = command.into_spawn(id, &self.policy.env);
        let (pid, events, shared) = self.conn.spawn(spawn).await?;
        Ok(Process::new(id, pid, tty, self.conn.clone(), events, shared))
    }

    /// Runs a command to its end and collects its output, bounded as
    /// [`Process::output`] bounds it.
    pub async fn run(&self, command: Command) -> Result<Output> {
        self.spawn(command).await?.output().await
    }

    /// Every process the runner is running.
    pub async fn list(&self) -> Result<Vec<ProcessStatus>> {
        self.conn.list().await
    }

    /// Kills every process tree, closes the channel and waits for the runner
    /// to exit.
    pub async fn shutdown(mut self) -> Result<()> {
        let _ = self.conn.send(Message::Shutdown {});
        self.conn.closed().await;
        self.runner.wait().await.map_err(|e| Error::io("waiting for the runner to exit", e))?;
        Ok(())
    }

    /// Resolves when the channel to the runner is closed (the runner exited
    /// or was killed).
    pub async fn closed(&self) {
        self.conn.closed().await
    }

    /// The runner's pid.
    pub fn runner_pid(&self) -> Option<u32> {
        self.runner.id()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.conn.close();
    }
}
