//! Progress of long work (backup, bundle import, restore, store migration):
//! entries done, rate and time left, for `yui status` and the CLI.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Where one piece of long work stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressView {
    /// What is being done (`backup`, `bundle import`, `catch-up from …`).
    pub what: String,
    /// Entries done.
    pub done: u64,
    /// Entries in all, when known.
    pub total: Option<u64>,
    /// Entries per second so far.
    pub per_sec: f64,
    /// Seconds left at that rate, when the total is known.
    pub eta_secs: Option<u64>,
}

impl ProgressView {
    /// A view of `done` of `total` after `elapsed`.
    pub fn new(what: impl Into<String>, done: u64, total: Option<u64>, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64();
        let per_sec = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let eta_secs = total.and_then(|t| {
            (per_sec > 0.0).then(|| (t.saturating_sub(done) as f64 / per_sec).ceil() as u64)
        });
        Self {
            what: what.into(),
            done,
            total,
            per_sec,
            eta_secs,
        }
    }
}

impl std::fmt::Display for ProgressView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.done)?;
        if let Some(t) = self.total {
            write!(f, "/{t}")?;
            if t > 0 {
                write!(f, " ({:.0}%)", self.done as f64 * 100.0 / t as f64)?;
            }
        }
        write!(f, " entries, {:.0}/s", self.per_sec)?;
        if let Some(eta) = self.eta_secs {
            write!(f, ", {} left", fmt_secs(eta))?;
        }
        Ok(())
    }
}

/// `95 s`, `12 min`, `3 h 5 min`.
pub fn fmt_secs(s: u64) -> String {
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s.div_ceil(60)),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// One running task; counts as it goes and leaves the board when dropped.
pub struct Task {
    board: Progress,
    slot: Arc<TaskSlot>,
}

struct TaskSlot {
    what: String,
    done: AtomicU64,
    total: AtomicU64,
    started: Instant,
}

impl Task {
    /// `n` more entries done.
    pub fn add(&self, n: u64) {
        self.slot.done.fetch_add(n, Ordering::Relaxed);
    }

    /// The total became known (or changed).
    pub fn set_total(&self, total: u64) {
        self.slot.total.store(total, Ordering::Relaxed);
    }

    /// Where it stands now.
    pub fn view(&self) -> ProgressView {
        self.slot.view()
    }
}

impl TaskSlot {
    fn view(&self) -> ProgressView {
        let total = self.total.load(Ordering::Relaxed);
        ProgressView::new(
            self.what.clone(),
            self.done.load(Ordering::Relaxed),
            (total != u64::MAX).then_some(total),
            self.started.elapsed(),
        )
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.board
            .0
            .lock()
            .expect("progress board")
            .retain(|s| !Arc::ptr_eq(s, &self.slot));
    }
}

/// The long work running in a node.
#[derive(Clone, Default)]
pub struct Progress(Arc<Mutex<Vec<Arc<TaskSlot>>>>);

impl Progress {
    /// Starts a task; `total` when known.
    pub fn start(&self, what: impl Into<String>, total: Option<u64>) -> Task {
        let slot = Arc::new(TaskSlot {
            what: what.into(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(total.unwrap_or(u64::MAX)),
            started: Instant::now(),
        });
        self.0.lock().expect("progress board").push(slot.clone());
        Task {
            board: self.clone(),
            slot,
        }
    }

    /// Every running task.
    pub fn views(&self) -> Vec<ProgressView> {
        self.0
            .lock()
            .expect("progress board")
            .iter()
            .map(|s| s.view())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_time_left() {
        let v = ProgressView::new("import", 500, Some(2000), Duration::from_secs(10));
        assert_eq!(v.per_sec, 50.0);
        assert_eq!(v.eta_secs, Some(30));
        assert_eq!(
            v.to_string(),
            "import: 500/2000 (25%) entries, 50/s, 30 s left"
        );
        let unknown = ProgressView::new("catch-up", 0, None, Duration::ZERO);
        assert_eq!(unknown.eta_secs, None);
        assert_eq!(fmt_secs(7300), "2 h 1 min");
    }

    #[test]
    fn tasks_leave_the_board_when_done() {
        let p = Progress::default();
        let t = p.start("backup", Some(10));
        t.add(4);
        let views = p.views();
        assert_eq!(views.len(), 1);
        assert_eq!((views[0].done, views[0].total), (4, Some(10)));
        drop(t);
        assert!(p.views().is_empty());
    }
}
