//! Where a benchmark's CPU went: each thread's CPU time and time spent
//! runnable but waiting for a core, read from `/proc` (Linux; elsewhere
//! every figure is zero).

use std::collections::HashMap;

/// USER_HZ on Linux: the unit of `utime` and `stime`.
const TICKS: f64 = 100.0;

/// One thread at one moment.
#[derive(Debug, Clone)]
struct ThreadCpu {
    /// Its name with trailing digits cut (`yui-background-3` →
    /// `yui-background-`), so a pool's threads sum together.
    group: String,
    nice: i32,
    /// CPU time, in seconds.
    used: f64,
    /// Runnable but waiting for a core, in seconds.
    waited: f64,
}

/// The threads of a process at one moment, by thread id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Threads(HashMap<u32, ThreadCpu>);

/// Fields of a `stat` line after the parenthesised name.
fn stat_fields(stat: &str) -> Option<(String, Vec<&str>)> {
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1;
    Some((name.to_owned(), rest.split_whitespace().collect()))
}

/// Runnable-but-waiting nanoseconds from a `schedstat` line.
fn schedstat_wait(s: &str) -> f64 {
    s.split_whitespace()
        .nth(1)
        .and_then(|w| w.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e9)
}

impl Threads {
    /// The live threads of `pid` now.
    pub(crate) fn of(pid: u32) -> Self {
        let mut out = HashMap::new();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return Self(out);
        };
        for t in tasks.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
                continue;
            };
            let Some((name, f)) = stat_fields(&stat) else {
                continue;
            };
            // utime and stime are the 12th and 13th fields after the name,
            // the nice value the 17th.
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            let nice = f.get(16).and_then(|v| v.parse().ok()).unwrap_or(0);
            let waited = std::fs::read_to_string(t.path().join("schedstat"))
                .map_or(0.0, |s| schedstat_wait(&s));
            out.insert(
                tid,
                ThreadCpu {
                    group: name
                        .trim_end_matches(|c: char| c.is_ascii_digit())
                        .to_owned(),
                    nice,
                    used: (ticks(11) + ticks(12)) / TICKS,
                    waited,
                },
            );
        }
        Self(out)
    }

    /// Takes in a later look at the same process: threads seen again are
    /// updated, threads that ended since keep what they had used when last
    /// seen (so sampling now and then counts short-lived threads too).
    pub(crate) fn merge(&mut self, later: Threads) {
        self.0.extend(later.0);
    }

    /// CPU used and time waited by thread group and nice value since
    /// `before` (threads started since count whole; threads ended since
    /// are missing), busiest first.
    pub(crate) fn since(&self, before: &Threads) -> Vec<(String, i32, f64, f64)> {
        let mut by: HashMap<(String, i32), (f64, f64)> = HashMap::new();
        for (tid, now) in &self.0 {
            let (u0, w0) = before.0.get(tid).map_or((0.0, 0.0), |b| (b.used, b.waited));
            let e = by.entry((now.group.clone(), now.nice)).or_default();
            e.0 += now.used - u0;
            e.1 += now.waited - w0;
        }
        let mut v: Vec<_> = by
            .into_iter()
            .map(|((g, n), (u, w))| (g, n, u, w))
            .collect();
        v.sort_by(|a, b| b.2.total_cmp(&a.2));
        v
    }
}

/// CPU time a process has used (all its threads, those ended included),
/// the time its live threads at normal priority spent runnable but waiting
/// for a CPU, and the same for its background threads (nice > 0), in
/// seconds; zero where `/proc` does not say (not Linux).
pub(crate) fn cpu_of(pid: u32) -> (f64, f64, f64) {
    let used = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let (_, f) = stat_fields(&s)?;
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / TICKS)
        })
        .unwrap_or(0.0);
    let mut waited = [0.0f64; 2];
    for t in Threads::of(pid).0.values() {
        waited[usize::from(t.nice > 0)] += t.waited;
    }
    (used, waited[0], waited[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_splits_after_the_last_parenthesis() {
        let (name, f) =
            stat_fields("42 (yui (bg) 7) R 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 10").unwrap();
        assert_eq!(name, "yui (bg) 7");
        assert_eq!(f[0], "R");
        assert_eq!(f[11], "250");
        assert_eq!(f[12], "50");
        assert_eq!(f[16], "10");
        assert_eq!(schedstat_wait("100 2500000000 7"), 2.5);
    }

    #[test]
    fn a_spinning_thread_shows_its_cpu_in_its_group() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let before = Threads::of(std::process::id());
        let stop = Arc::new(AtomicBool::new(false));
        let spinner = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("cpu-probe-1".into())
                .spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    }
                    x
                })
                .unwrap()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let seen = loop {
            let probe = Threads::of(std::process::id())
                .since(&before)
                .into_iter()
                .find(|(g, ..)| g == "cpu-probe-")
                .map_or(0.0, |t| t.2);
            if probe >= 0.05 || std::time::Instant::now() > deadline {
                break probe;
            }
            std::thread::yield_now();
        };
        stop.store(true, Ordering::Relaxed);
        spinner.join().unwrap();
        assert!(seen >= 0.05, "the spinning thread's group shows {seen} s");
        assert!(cpu_of(std::process::id()).0 >= seen);
    }
}
