//! Staff accounts: who may sign in to a node's workspace and what each may
//! publish.
//!
//! Accounts live in `HOME/staff/users.json` (mode 0600), written whole and
//! atomically by `yui user …` whether or not the node runs; the node reads
//! the file again when it changes. Passwords are kept only as argon2id
//! hashes (PHC strings). Failed sign-ins lock an account for
//! [`LOCKOUT`] after [`MAX_FAILURES`] within that time; the per-address
//! rate limit is the web layer's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use yui_core::Kind;

use crate::notify::Subscription;

/// Failed sign-ins within [`LOCKOUT`] that lock an account.
pub const MAX_FAILURES: usize = 5;
/// How long an account stays locked, and the window failures count in.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads the workspace: inbox, threads, replies.
    Viewer,
    /// Publishes events, cases, calls for partners and replies.
    Editor,
    /// Publishes readiness and every aid step, and replies (防災担当).
    Disaster,
    /// Everything, and reads the audit log.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Disaster, Role::Admin];

    /// Its name in the CLI and files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Disaster => "disaster",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may publish (or update, or retract) `kind`.
    pub fn may_publish(self, kind: Kind) -> bool {
        match self {
            Role::Admin => !matches!(kind, Kind::Unknown),
            Role::Editor => matches!(
                kind,
                Kind::Event
                    | Kind::Case
                    | Kind::CallForPartners
                    | Kind::Reply
                    | Kind::Acknowledgement
            ),
            Role::Disaster => matches!(
                kind,
                Kind::Readiness | Kind::Aid | Kind::Reply | Kind::Acknowledgement
            ),
            Role::Viewer => false,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown role {s:?} (viewer, editor, disaster or admin)"))
    }
}

/// One account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Sign-in name (ASCII letters, digits, `.`, `-`, `_`).
    pub name: String,
    /// Name shown in the workspace and the audit log.
    #[serde(default)]
    pub display: String,
    /// What it may do.
    pub role: Role,
    /// Where its notifications go.
    #[serde(default)]
    pub email: String,
    /// argon2id PHC string.
    pub password: String,
    /// Signs in no more.
    #[serde(default)]
    pub disabled: bool,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms of the last password change.
    pub password_set_at: i64,
    /// What it wants to be told.
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
}

/// The accounts file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    users: Vec<User>,
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// A name or password was refused.
    #[error("{0}")]
    Bad(String),
    /// No such account.
    #[error("no account {0:?}")]
    Unknown(String),
    /// The file could not be read or written.
    #[error("accounts file {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

/// Why a sign-in failed. Wrong name and wrong password are one answer, so
/// the page does not tell which names exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// Name or password wrong, or the account disabled.
    #[error("the name or the password is wrong")]
    Wrong,
    /// Too many failures: locked for a while.
    #[error("too many failed attempts: try again in {minutes} minutes")]
    Locked {
        /// Minutes left.
        minutes: u64,
    },
}

/// The accounts of a node.
pub struct Accounts {
    path: PathBuf,
    cache: Mutex<(Option<SystemTime>, Vec<User>)>,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
    /// A hash verified when the name is unknown, so timing does not tell.
    decoy: String,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Hashes `password` with argon2id (the crate's defaults: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Bad(format!("password: {e}")))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a sign-in name.
pub fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::Bad(format!(
            "name {name:?}: 1-64 ASCII letters, digits, '.', '-' or '_'"
        )))
    }
}

/// Checks a new password.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::Bad(format!(
            "password: at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// A password to hand out once: 20 characters from an alphabet without
/// look-alikes (no 0/O, 1/l/I).
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Accounts {
    /// The accounts in `HOME/staff/users.json`.
    pub fn open(staff_dir: &Path) -> Self {
        Self {
            path: staff_dir.join("users.json"),
            cache: Mutex::new((None, Vec::new())),
            failures: Mutex::default(),
            decoy: hash_password("decoy password, never a user's").unwrap_or_default(),
        }
    }

    fn io(&self, e: impl std::fmt::Display) -> AccountError {
        AccountError::Io {
            path: self.path.clone(),
            error: e.to_string(),
        }
    }

    /// Every account, read again if the file changed.
    pub fn list(&self) -> Result<Vec<User>, AccountError> {
        let modified = match std::fs::metadata(&self.path) {
            Ok(m) => m.modified().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        let mut cache = self.cache.lock().expect("accounts lock");
        if cache.0.is_none() || cache.0 != modified {
            let text = std::fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
            let file: File = serde_json::from_str(&text).map_err(|e| self.io(e))?;
            *cache = (modified, file.users);
        }
        Ok(cache.1.clone())
    }

    /// One account.
    pub fn get(&self, name: &str) -> Result<Option<User>, AccountError> {
        Ok(self.list()?.into_iter().find(|u| u.name == name))
    }

    fn write(&self, users: Vec<User>) -> Result<(), AccountError> {
        let dir = self.path.parent().expect("users.json has a folder");
        std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let text = serde_json::to_string_pretty(&File { users }).map_err(|e| self.io(e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| self.io(e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| self.io(e))?;
        }
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|e| self.io(e))?;
        tmp.as_file().sync_all().map_err(|e| self.io(e))?;
        tmp.persist(&self.path).map_err(|e| self.io(e.error))?;
        *self.cache.lock().expect("accounts lock") = (None, Vec::new());
        Ok(())
    }

    fn change(&self, name: &str, f: impl FnOnce(&mut User)) -> Result<User, AccountError> {
        let mut users = self.list()?;
        let u = users
            .iter_mut()
            .find(|u| u.name == name)
            .ok_or_else(|| AccountError::Unknown(name.to_owned()))?;
        f(u);
        let out = u.clone();
        self.write(users)?;
        Ok(out)
    }

    /// Adds an account.
    pub fn add(
        &self,
        name: &str,
        display: &str,
        role: Role,
        email: &str,
        password: &str,
    ) -> Result<User, AccountError> {
        check_name(name)?;
        check_password(password)?;
        if !email.is_empty() && !email.contains('@') {
            return Err(AccountError::Bad(format!("e-mail {email:?} has no @")));
        }
        let mut users = self.list()?;
        if users.iter().any(|u| u.name == name) {
            return Err(AccountError::Bad(format!("an account {name:?} exists")));
        }
        let now = now_ms();
        let user = User {
            name: name.to_owned(),
            display: if display.is_empty() {
                name.to_owned()
            } else {
                display.to_owned()
            },
            role,
            email: email.to_owned(),
            password: hash_password(password)?,
            disabled: false,
            created_at: now,
            password_set_at: now,
            subscriptions: Vec::new(),
        };
        users.push(user.clone());
        self.write(users)?;
        Ok(user)
    }

    /// Disables (or enables again) an account; its sessions end.
    pub fn set_disabled(&self, name: &str, disabled: bool) -> Result<User, AccountError> {
        self.change(name, |u| u.disabled = disabled)
    }

    /// Sets a new password.
    pub fn set_password(&self, name: &str, password: &str) -> Result<User, AccountError> {
        check_password(password)?;
        let hash = hash_password(password)?;
        self.failures.lock().expect("failures lock").remove(name);
        self.change(name, |u| {
            u.password = hash;
            u.password_set_at = now_ms();
        })
    }

    /// Sets what an account wants to be told, and where.
    pub fn set_subscriptions(
        &self,
        name: &str,
        email: Option<&str>,
        subscriptions: Vec<Subscription>,
    ) -> Result<User, AccountError> {
        if let Some(e) = email {
            if !e.is_empty() && !e.contains('@') {
                return Err(AccountError::Bad(format!("e-mail {e:?} has no @")));
            }
        }
        self.change(name, |u| {
            if let Some(e) = email {
                u.email = e.to_owned();
            }
            u.subscriptions = subscriptions;
        })
    }

    /// Checks a sign-in. Runs argon2 (tens of milliseconds): call it off
    /// the async workers.
    pub fn sign_in(&self, name: &str, password: &str) -> Result<User, SignInError> {
        let now = Instant::now();
        {
            let mut f = self.failures.lock().expect("failures lock");
            let list = f.entry(name.to_owned()).or_default();
            list.retain(|t| now.duration_since(*t) < LOCKOUT);
            if list.len() >= MAX_FAILURES {
                let left = LOCKOUT.saturating_sub(now.duration_since(list[0]));
                return Err(SignInError::Locked {
                    minutes: left.as_secs().div_ceil(60).max(1),
                });
            }
        }
        let user = self.get(name).ok().flatten();
        let ok = match &user {
            Some(u) => verify_password(password, &u.password) && !u.disabled,
            None => {
                verify_password(password, &self.decoy);
                false
            }
        };
        match (ok, user) {
            (true, Some(u)) => {
                self.failures.lock().expect("failures lock").remove(name);
                Ok(u)
            }
            _ => {
                self.failures
                    .lock()
                    .expect("failures lock")
                    .entry(name.to_owned())
                    .or_default()
                    .push(now);
                Err(SignInError::Wrong)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_and_failures_lock_the_account() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Accounts::open(dir.path());
        let pw = generate_password();
        a.add(
            "izu.bousai",
            "防災係 山田",
            Role::Disaster,
            "bousai@example.jp",
            &pw,
        )
        .expect("add");
        let text = std::fs::read_to_string(dir.path().join("users.json")).expect("file");
        assert!(!text.contains(&pw), "the password itself is never written");
        assert!(text.contains("$argon2id$"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("users.json"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(
            a.add("izu.bousai", "", Role::Viewer, "", &pw).is_err(),
            "names are unique"
        );
        assert!(a.add("bad name", "", Role::Viewer, "", &pw).is_err());
        assert!(a.add("short", "", Role::Viewer, "", "short").is_err());

        assert_eq!(
            a.sign_in("izu.bousai", &pw).map(|u| u.role),
            Ok(Role::Disaster)
        );
        assert_eq!(a.sign_in("nobody", &pw).err(), Some(SignInError::Wrong));
        for _ in 0..MAX_FAILURES {
            assert_eq!(
                a.sign_in("izu.bousai", "wrong password!").err(),
                Some(SignInError::Wrong)
            );
        }
        assert!(
            matches!(
                a.sign_in("izu.bousai", &pw),
                Err(SignInError::Locked { .. })
            ),
            "the right password waits out the lock"
        );
        let new = generate_password();
        a.set_password("izu.bousai", &new).expect("reset");
        assert!(
            a.sign_in("izu.bousai", &new).is_ok(),
            "a reset lifts the lock"
        );
        a.set_disabled("izu.bousai", true).expect("disable");
        assert_eq!(
            a.sign_in("izu.bousai", &new).err(),
            Some(SignInError::Wrong)
        );
    }

    #[test]
    fn roles_publish_what_they_are_for() {
        assert!(Role::Disaster.may_publish(Kind::Aid));
        assert!(!Role::Editor.may_publish(Kind::Aid));
        assert!(Role::Editor.may_publish(Kind::Case));
        assert!(!Role::Disaster.may_publish(Kind::Profile));
        assert!(!Role::Viewer.may_publish(Kind::Reply));
        assert!(Role::Admin.may_publish(Kind::Partnership));
    }
}
