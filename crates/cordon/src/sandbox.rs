//! [`Sandbox`]: one runner inside its sandbox, and the processes it runs
//! for this parent. Starting the runner is [`crate::launch`]'s; the channel
//! is [`crate::connection`]'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cordon_ipc::{HelloAck, Message, ProcessStatus};
use cordon_sandbox::Policy;
use tracing::Instrument;

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
    /// `sandbox{runner, runner_pid}`, the parent of every process's span.
    span: tracing::Span,
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
            span: started.span,
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
        let span = tracing::info_span!(
            parent: &self.span,
            "process",
            id,
            program = %command.program(),
            tty,
            pid = tracing::field::Empty,
        );
        let spawn = command.into_spawn(id, &self.policy.env);
        let spawned = self.conn.spawn(spawn).instrument(span.clone()).await;
        let (pid, events, shared) = spawned.inspect_err(|err| {
            tracing::debug!(parent: &span, error = %err, "spawn failed");
        })?;
        span.record("pid", pid);
        tracing::debug!(parent: &span, "spawned");
        Ok(Process::new(id, pid, tty, self.conn.clone(), events, shared, span))
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
        let span = self.span.clone();
        async {
            let _ = self.conn.send(Message::Shutdown {});
            self.conn.closed().await;
            let status =
                self.runner.wait().await.map_err(|e| Error::io("waiting for the runner to exit", e))?;
            tracing::debug!(%status, "runner shut down");
            Ok(())
        }
        .instrument(span)
        .await
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
