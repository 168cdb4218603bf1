//! The replica's write lock, with a way past the queue for small writes.
//!
//! Every store write of the replica (ingest commits, publishing, fork
//! evidence) holds one lock. Under a busy CPU a bulk commit of a backfill
//! batch takes a long while, and several may wait for the lock; a
//! readiness update stored after all of them arrived seconds late at a
//! relay of a busy network (`yui bench propagation --processes`). A small
//! write ([`Priority::Small`]: a publish, a batch of at most
//! [`super::SMALL_BATCH`] entries) goes before every bulk write still
//! waiting, so it waits for at most the one bulk write in progress. Bulk
//! writes wait while small ones do; those are short and bounded per
//! session (`MAX_RUNNING_SMALL`), so bulk writes still make progress.
//! A bulk write in progress looks every [`YIELD_EVERY`] entries whether a
//! small one waits ([`WriteLock::small_waiting`]) and, if so, stores what
//! it has, lets it go and takes the lock again for the rest: a bulk batch
//! (2,048 entries) whose thread gets a few per cent of a busy CPU held the
//! lock for a second or more. Nor does a bulk write store a whole batch in
//! one go: it stores slices of at most [`APPEND_SLICE`] entries and looks
//! between them, since a small write that came just after the last look
//! otherwise waited for the whole batch to be written (278 ms at a
//! municipality in `yui bench propagation --processes`, where the write
//! itself took 0.06 ms).

use std::sync::{Condvar, Mutex, MutexGuard};

/// Which queue a writer waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priority {
    /// A publish, fork evidence, a batch of at most `SMALL_BATCH` entries.
    Small,
    /// A larger batch.
    Bulk,
}

/// Entries a bulk write applies between looks at [`WriteLock::small_waiting`].
pub(crate) const YIELD_EVERY: usize = 64;

/// Entries a bulk write stores at most in one store batch while it holds
/// the lock, before it looks again whether a small write waits.
pub(crate) const APPEND_SLICE: usize = 256;

#[derive(Default)]
struct State {
    held: bool,
    small_waiting: usize,
    bulk_waiting: usize,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct WriteLock {
    state: Mutex<State>,
    freed: Condvar,
}

/// Holds the [`WriteLock`] until dropped (also when unwinding).
pub(crate) struct WriteGuard<'a> {
    lock: &'a WriteLock,
}

impl WriteLock {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a few counters updated without anything that can
        // panic in between: a poisoned mutex still holds them whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the lock; small writers go before waiting bulk ones.
    pub(crate) fn lock(&self, priority: Priority) -> WriteGuard<'_> {
        let mut s = self.state();
        match priority {
            Priority::Small => {
                s.small_waiting += 1;
                while s.held {
                    s = self.freed.wait(s).unwrap_or_else(|p| p.into_inner());
                }
                s.small_waiting -= 1;
            }
            Priority::Bulk => {
                s.bulk_waiting += 1;
                while s.held || s.small_waiting > 0 {
                    s = self.freed.wait(s).unwrap_or_else(|p| p.into_inner());
                }
                s.bulk_waiting -= 1;
            }
        }
        s.held = true;
        WriteGuard { lock: self }
    }

    /// Whether a small writer waits: a bulk writer holding the lock then
    /// stores what it has and lets it go first.
    pub(crate) fn small_waiting(&self) -> bool {
        self.state().small_waiting > 0
    }

    /// Writers waiting (small, bulk).
    #[cfg(test)]
    fn waiting(&self) -> (usize, usize) {
        let s = self.state();
        (s.small_waiting, s.bulk_waiting)
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.lock.state().held = false;
        self.lock.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Waits (bounded) until `lock` has this many writers waiting.
    fn until_waiting(lock: &WriteLock, want: (usize, usize)) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock.waiting() != want {
            assert!(Instant::now() < deadline, "waiting {:?}", lock.waiting());
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_small_write_goes_before_bulk_writes_already_waiting() {
        let lock = Arc::new(WriteLock::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = lock.lock(Priority::Bulk);
        let spawn = |name: &'static str, p: Priority| {
            let (lock, order) = (lock.clone(), order.clone());
            std::thread::spawn(move || {
                let _g = lock.lock(p);
                order.lock().unwrap().push(name);
            })
        };
        let bulk = [
            spawn("bulk 1", Priority::Bulk),
            spawn("bulk 2", Priority::Bulk),
        ];
        until_waiting(&lock, (0, 2));
        let small = spawn("small", Priority::Small);
        until_waiting(&lock, (1, 2));
        drop(held);
        small.join().unwrap();
        for b in bulk {
            b.join().unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order[0], "small", "{order:?}");
        assert_eq!(order.len(), 3);
        // Free again: anyone takes it at once.
        drop(lock.lock(Priority::Bulk));
        drop(lock.lock(Priority::Small));
    }

    #[test]
    fn a_panicking_holder_frees_the_lock() {
        let lock = Arc::new(WriteLock::default());
        let l = lock.clone();
        let r = std::thread::spawn(move || {
            let _g = l.lock(Priority::Bulk);
            panic!("a failed write");
        })
        .join();
        assert!(r.is_err());
        drop(lock.lock(Priority::Small));
    }
}
