//! Background work at a lower CPU priority than the live path.
//!
//! Search indexing and checking the signatures of backfill are work a node
//! can do a moment later; a readiness update crossing the node is not.
//! (Storing backfill stays at normal priority: it holds the write lock an
//! update waits for.)
//! When the CPU is short — a node catching up a large backlog on a small
//! machine, or many nodes on one — the scheduler should give the live path
//! (the async runtime: sessions, the urgent lane, small ingests, pages)
//! first call. Background work therefore runs on threads with a higher
//! nice value ([`BACKGROUND_NICE`]); threads they start (the search
//! index's workers) inherit it. On systems other than Linux the threads run at normal priority.
//!
//! A thread cannot lower its nice value again without privileges, so the
//! work runs on a pool of its own ([`run`]) rather than on the runtime's
//! blocking threads, which serve the live path too.

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

/// The nice value of background threads (the live path runs at the
/// process's own, normally 0): under contention they get about a tenth of
/// what a thread at 0 gets.
pub const BACKGROUND_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Lowers the calling thread's CPU priority to [`BACKGROUND_NICE`] (only
/// ever lowers it; a failure is logged and changes nothing).
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // On Linux the nice value is per thread: a thread id names it.
        let tid = Some(rustix::thread::gettid());
        if rustix::process::getpriority_process(tid).is_ok_and(|n| n >= BACKGROUND_NICE) {
            return;
        }
        if let Err(e) = rustix::process::setpriority_process(tid, BACKGROUND_NICE) {
            tracing::debug!(error = %e, "cannot lower the priority of a background thread");
        }
    }
}

/// Runs `f` on a new thread at background priority and waits for it: for
/// setting up something whose threads should inherit that priority (the
/// search index writer).
pub fn on_lowered_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("yui-background".into())
            .spawn_scoped(s, || {
                lower_this_thread();
                f()
            })
            .expect("cannot start a thread")
            .join()
        {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// Whether other processes keep every core of the machine busy: more
/// threads of other processes are runnable right now than twice the
/// cores (Linux: `/proc/loadavg` less this process's own runnable
/// threads). A process that splits work across the cores only when this
/// is false leaves a crowded machine to the live paths of its neighbours
/// and still uses every core of a machine of its own (or one shared with a
/// few others). Elsewhere, and when `/proc` cannot be read: false.
pub fn machine_busy() -> bool {
    #[cfg(target_os = "linux")]
    {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if let (Some(all), Some(own)) = (runnable_on_machine(), runnable_here()) {
            return crowded(all, own, cores);
        }
    }
    false
}

/// `all` threads runnable on a machine of `cores`, `own` of them this
/// process's: whether the others take more than twice the cores.
fn crowded(all: usize, own: usize, cores: usize) -> bool {
    all.saturating_sub(own) > 2 * cores
}

/// Threads runnable on the machine now: the fourth field of
/// `/proc/loadavg` is `runnable/total`.
#[cfg(target_os = "linux")]
fn runnable_on_machine() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    s.split_whitespace().nth(3)?.split('/').next()?.parse().ok()
}

/// This process's threads runnable now (state `R` in each task's `stat`).
#[cfg(target_os = "linux")]
fn runnable_here() -> Option<usize> {
    let mut n = 0;
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // The state follows the parenthesised name (which may hold spaces).
        if let Some((_, rest)) = stat.rsplit_once(')') {
            if rest.trim_start().starts_with('R') {
                n += 1;
            }
        }
    }
    Some(n)
}

fn pool() -> &'static Mutex<mpsc::Sender<Job>> {
    static POOL: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        // One per bulk turn (one per core) and one for the indexer.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) + 1;
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("yui-background-{i}"))
                .spawn(move || {
                    lower_this_thread();
                    loop {
                        let job = rx.lock().expect("background queue").recv();
                        let Ok(job) = job else { return };
                        // A panicking job drops its answer (the caller sees
                        // it); the thread serves on.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .expect("cannot start a background thread");
        }
        Mutex::new(tx)
    })
}

/// Runs `f` on the background pool and waits for its result without
/// blocking the async runtime. Panics if `f` panicked.
pub async fn run<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    pool()
        .lock()
        .expect("background pool")
        .send(job)
        .expect("background pool stopped");
    rx.await.expect("background task panicked")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    fn own_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[tokio::test]
    async fn background_work_runs_at_lower_priority_and_the_caller_keeps_its_own() {
        #[cfg(target_os = "linux")]
        {
            let before = own_nice();
            let (inside, child) = run(|| {
                let child = std::thread::spawn(own_nice).join().unwrap();
                (own_nice(), child)
            })
            .await;
            assert!(inside >= BACKGROUND_NICE, "pool thread at nice {inside}");
            assert!(child >= BACKGROUND_NICE, "its threads inherit: {child}");
            assert_eq!(own_nice(), before, "the caller's priority is untouched");
            assert!(on_lowered_thread(own_nice) >= BACKGROUND_NICE);
            assert_eq!(own_nice(), before);
        }
        assert_eq!(run(|| 6 * 7).await, 42);
    }

    #[test]
    fn only_other_processes_runnable_threads_crowd_the_machine() {
        // Two cores: up to four runnable threads of others leave it free.
        assert!(!crowded(4, 0, 2));
        assert!(crowded(5, 0, 2));
        // This process's own threads never count.
        assert!(!crowded(12, 8, 2));
        assert!(crowded(12, 2, 2));
        assert!(!crowded(3, 7, 2), "counts read at different moments");
    }

    /// The counts are read off a real machine: this process's spinning
    /// threads are its own runnable ones, and other processes' busy loops,
    /// three per core, make the machine busy.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_machine_is_busy_when_other_processes_crowd_its_cores() {
        use std::process::{Command, Stdio};
        use std::sync::atomic::{AtomicBool, Ordering};
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let spinning = 2 * cores + 2;
        let spinners: Vec<_> = (0..spinning)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let own = runnable_here().expect("/proc/self/task");
        stop.store(true, Ordering::Relaxed);
        for s in spinners {
            s.join().unwrap();
        }
        assert!(
            own >= spinning,
            "{own} runnable threads seen of {spinning} spinning"
        );
        let mut children: Vec<_> = (0..3 * cores + 2)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("sh")
            })
            .collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut busy = false;
        while !busy && std::time::Instant::now() < deadline {
            busy = machine_busy();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
        assert!(busy, "other processes' busy loops not seen");
    }

    #[tokio::test]
    async fn a_panicking_job_reaches_its_caller_and_the_pool_serves_on() {
        let r = tokio::spawn(run(|| -> u8 { panic!("boom") })).await;
        assert!(r.is_err());
        for i in 0..8u32 {
            assert_eq!(run(move || i + 1).await, i + 1);
        }
    }
}
