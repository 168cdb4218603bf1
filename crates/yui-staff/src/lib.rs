//! The people who work at a node: [`accounts`] (argon2id, roles, lockout),
//! [`sessions`] (cookie tokens, CSRF tokens), the [`audit`] log, and
//! [`notify`] (subscriptions, e-mail and webhook delivery with retries).
//!
//! Nothing here signs or stores entries: the node publishes on a staff
//! member's behalf through the same path as its admin API, and the pages
//! (`yui-web`) render the workspace. Everything lives under `HOME/staff/`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accounts;
pub mod audit;
pub mod notify;
pub mod sessions;

pub use accounts::{Accounts, Role, User};
pub use audit::AuditLog;
pub use notify::{Notice, Notifier, NotifySettings, Subscription, Topic};
pub use sessions::Sessions;
