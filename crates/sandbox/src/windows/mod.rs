//! Windows security, as pure functions: the SIDs, security descriptors,
//! restricted-token plans, setup plans and passwords that cordon's Windows
//! enforcement applies. Nothing here calls Windows; everything compiles
//! and is tested on every OS.
//!
//! Wine, where cordon's Windows code runs in CI, neither stores nor
//! enforces DACLs, restricting SIDs, logons or firewall rules. What keeps a
//! sandbox in on Windows is therefore decided here, where unit tests check
//! it, and the code that calls the Windows API only carries out the result.
//!
//! - [`command_line`]: command lines, environment blocks and console input
//!   for `CreateProcessW` and ConPTY.
//! - [`path`]: Windows path rules applied to text (normal form, absolute).
//! - [`placeholder`]: where the placeholders of missing protected paths go.
//! - [`sid`]: well-known SIDs, capability SIDs of writable roots, validation.
//! - [`sddl`]: the control pipe's DACL and the ACEs on files.
//! - [`acl`]: those ACEs as entries of a DACL, and how a DACL is rewritten.
//! - [`token`]: the write-restricted token and the ACEs it relies on.
//! - [`desktop`]: the runner's private desktop and its job's UI limits.
//! - [`integrity`]: integrity levels and labels, a sandbox token's default
//!   DACL and the groups it holds for deny only.
//! - [`job`]: the limits of the runner's job and of each command's job.
//! - [`enforcement`]: who the runner is (from its token) and what each mode
//!   enforces of a policy, layer by layer.
//! - [`setup`]: what `cordon setup` does, checks and undoes.
//! - [`password`]: passwords for the sandbox accounts.

pub mod accounts;
pub mod acl;
pub mod command_line;
pub mod desktop;
pub mod enforcement;
pub mod integrity;
pub mod job;
pub mod password;
pub mod path;
pub mod placeholder;
pub mod sddl;
pub mod sid;
pub mod token;
