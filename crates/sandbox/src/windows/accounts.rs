//! The sandbox accounts of elevated mode and where `cordon setup` keeps
//! what it made, as the sandbox itself needs them: the runner checks its
//! token against these accounts, and the launch finds their credentials.
//! What setup does to a machine is `cordon_setup`'s plan.

/// The default account that runs sandboxes without network.
pub const DEFAULT_OFFLINE_USER: &str = "CordonSandboxOffline";
/// The default account that runs sandboxes with network.
pub const DEFAULT_ONLINE_USER: &str = "CordonSandboxOnline";
/// The default group of the sandbox accounts; ACEs name the group.
pub const DEFAULT_GROUP: &str = "CordonSandboxUsers";

/// The file in the state directory that holds the sandbox accounts'
/// passwords, protected with DPAPI for the user who ran setup.
pub const CREDENTIALS_FILE: &str = "sandbox-users.dpapi";
/// The file in the state directory that records a finished setup.
pub const MARKER_FILE: &str = "setup.json";
