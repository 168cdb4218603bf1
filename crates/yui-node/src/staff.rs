//! The node's side of the staff workspace: accounts, sessions, the audit
//! log and the notifier, opened from the home folder and the config.

use std::sync::Arc;

use yui_staff::{Accounts, AuditLog, Notifier, Sessions};

use crate::config::Config;
use crate::home::{Home, HomeError};

/// Everything staff work needs besides the replica.
#[derive(Debug)]
pub struct StaffDesk {
    /// Accounts (`HOME/staff/users.json`).
    pub accounts: Arc<Accounts>,
    /// Signed-in sessions (memory only).
    pub sessions: Sessions,
    /// The audit log (`HOME/staff/audit.jsonl`).
    pub audit: AuditLog,
    /// Delivers notices; none when nothing is configured to receive them.
    pub notifier: Option<Arc<Notifier>>,
}

/// Why the staff side could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StaffError {
    /// The home folder.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The notifier's settings.
    #[error(transparent)]
    Notify(#[from] yui_staff::notify::NotifyError),
}

impl StaffDesk {
    /// Opens the staff side of `home`.
    pub fn open(home: &Home, config: &Config) -> Result<Self, StaffError> {
        let dir = home.staff_dir();
        let accounts = Arc::new(Accounts::open(&dir));
        let key = home.webhook_key(config.notify.webhook_key_file.as_deref())?;
        let notifier = Notifier::new(config.notify.clone(), key)?;
        Ok(Self {
            accounts,
            sessions: Sessions::default(),
            audit: AuditLog::open(&dir),
            notifier: Some(Arc::new(notifier)),
        })
    }
}
