//! Signed-in sessions: a random token in a cookie, its SHA-256 in memory.
//!
//! A session ends at sign-out, after [`IDLE`] without a request, after
//! [`MAX_AGE`] in any case, and when its account is disabled or its
//! password changes. Sessions live in memory: a restart signs everyone
//! out, and no token is ever on disk. Each session has its own CSRF token,
//! which every form carries and every POST must return.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);
/// A session ends this long after sign-in, used or not.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Sessions kept at most (the oldest go first).
pub const MAX_SESSIONS: usize = 10_000;

/// One signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Account name.
    pub user: String,
    /// The form token of this session.
    pub csrf: String,
    /// The account's password time at sign-in (a change ends the session).
    pub password_set_at: i64,
    /// Where it signed in from.
    pub addr: Option<IpAddr>,
    started: Instant,
    seen: Instant,
}

/// Every session of a node.
#[derive(Debug, Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares in time independent of where the strings differ.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    /// Starts a session; returns the cookie token.
    pub fn start(
        &self,
        user: &str,
        password_set_at: i64,
        addr: Option<IpAddr>,
    ) -> (String, Session) {
        let token = random_token();
        let now = Instant::now();
        let s = Session {
            user: user.to_owned(),
            csrf: random_token(),
            password_set_at,
            addr,
            started: now,
            seen: now,
        };
        let mut m = self.by_hash.lock().expect("sessions lock");
        if m.len() >= MAX_SESSIONS {
            m.retain(|_, s| s.seen.elapsed() < IDLE && s.started.elapsed() < MAX_AGE);
            if m.len() >= MAX_SESSIONS {
                if let Some(oldest) = m.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| *k) {
                    m.remove(&oldest);
                }
            }
        }
        m.insert(digest(&token), s.clone());
        (token, s)
    }

    /// The live session of `token`, marked as used now.
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut m = self.by_hash.lock().expect("sessions lock");
        let key = digest(token);
        let s = m.get_mut(&key)?;
        if s.seen.elapsed() >= IDLE || s.started.elapsed() >= MAX_AGE {
            m.remove(&key);
            return None;
        }
        s.seen = Instant::now();
        Some(s.clone())
    }

    /// Ends the session of `token`.
    pub fn end(&self, token: &str) {
        self.by_hash
            .lock()
            .expect("sessions lock")
            .remove(&digest(token));
    }

    /// Ends every session of `user`.
    pub fn end_user(&self, user: &str) {
        self.by_hash
            .lock()
            .expect("sessions lock")
            .retain(|_, s| s.user != user);
    }

    /// Sessions live now.
    pub fn count(&self) -> usize {
        self.by_hash.lock().expect("sessions lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_end() {
        let s = Sessions::default();
        let (a, sa) = s.start("tanaka", 1, None);
        let (b, _) = s.start("tanaka", 1, None);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(s.get(&a).map(|x| x.csrf), Some(sa.csrf));
        assert!(s.get("forged").is_none());
        s.end(&a);
        assert!(s.get(&a).is_none());
        s.end_user("tanaka");
        assert!(s.get(&b).is_none());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
