//! Helpers for tests that run real `yui` processes: homes in a temporary
//! folder, port 0 everywhere, and waiting on conditions with deadlines
//! instead of sleeping.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the `yui` binary under test.
pub fn yui_bin() -> &'static str {
    env!("CARGO_BIN_EXE_yui")
}

/// Polls `cond` every 25 ms until it holds or `secs` pass, then panics with `what`.
pub fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// [`wait_until`], and on timeout the end of each node's log in the panic
/// message (the homes are gone once the test has failed).
pub fn wait_until_or_logs(
    what: &str,
    secs: u64,
    nodes: &[&NodeProc],
    mut cond: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        if Instant::now() >= deadline {
            let logs: String = nodes
                .iter()
                .map(|n| {
                    let log = n.log();
                    let lines: Vec<&str> = log.lines().collect();
                    let tail = lines[lines.len().saturating_sub(80)..].join("\n");
                    format!("\n--- {} (last 80 lines of node.log) ---\n{tail}", n.name)
                })
                .collect();
            panic!("timed out after {secs} s waiting for {what}{logs}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// One node: a home folder and, while running, its process.
pub struct NodeProc {
    pub name: String,
    pub home: PathBuf,
    pub id: String,
    child: Option<Child>,
}

impl NodeProc {
    /// `yui init` in `dir/slug` on loopback port 0.
    pub fn init(dir: &Path, slug: &str, name: &str, code: &str) -> Self {
        let home = dir.join(slug);
        let out = Command::new(yui_bin())
            .args([
                "--home",
                home.to_str().unwrap(),
                "init",
                "--name",
                name,
                "--code",
                code,
            ])
            .args(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(id.starts_with("yui1"), "init printed {id:?}");
        Self {
            name: name.to_owned(),
            home,
            id,
            child: None,
        }
    }

    /// A node whose home already exists (restored from a backup).
    pub fn existing(home: PathBuf, name: &str, id: &str) -> Self {
        Self {
            name: name.to_owned(),
            home,
            id: id.to_owned(),
            child: None,
        }
    }

    /// Starts `yui run` and waits until its admin API answers.
    pub fn start(&mut self) {
        self.start_with_env(&[]);
    }

    /// Starts `yui run` with extra environment variables.
    pub fn start_with_env(&mut self, env: &[(&str, &str)]) {
        self.start_with(&[], env);
    }

    /// Starts `yui run ARGS` with extra environment variables.
    pub fn start_with(&mut self, args: &[&str], env: &[(&str, &str)]) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let _ = std::fs::remove_dir_all(self.home.join("run"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("node.log"))
            .unwrap();
        let child = Command::new(yui_bin())
            .args(["--home", self.home.to_str().unwrap(), "run"])
            .args(args)
            .env("YUI_LOG_LEVEL", "info,yui_net=debug")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let name = self.name.clone();
        wait_until(&format!("{name} to serve its admin API"), 30, || {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("{name} exited at start with {st}: {}", self.log());
            }
            self.home.join("run/admin.addr").exists()
                && self.try_cli(&["status", "--json"]).status.success()
        });
    }

    /// Sets a top-level `key = value` line in config.toml (before start).
    pub fn set_config(&self, key: &str, value: &str) {
        let path = self.home.join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let prefix = format!("{key} = ");
        let mut found = false;
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with(&prefix) {
                    found = true;
                    format!("{key} = {value}")
                } else {
                    l.to_owned()
                }
            })
            .collect();
        assert!(found, "config.toml has no {key}");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("node.log")).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        let mut c = self.child.take().expect("running");
        c.kill().unwrap();
        c.wait().unwrap();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) {
        let mut c = self.child.take().expect("running");
        let pid = c.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                assert!(st.success(), "{} exited with {st} on SIGTERM", self.name);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop on SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        assert!(
            !self.home.join("run/admin.addr").exists(),
            "run files left behind"
        );
    }

    /// Runs a CLI command against this home.
    pub fn try_cli(&self, args: &[&str]) -> Output {
        Command::new(yui_bin())
            .args(["--home", self.home.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs a CLI command that must succeed; returns its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.try_cli(args);
        assert!(
            out.status.success(),
            "yui {args:?} on {} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a CLI command with `--json` output and parses it.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.cli(args)).unwrap()
    }

    /// The federation address the running node bound.
    pub fn addr(&self) -> String {
        std::fs::read_to_string(self.home.join("run/federation.addr"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Head seq of `author` as this node reports it.
    pub fn head_of(&self, author: &str) -> u64 {
        let s = self.json(&["status", "--json"]);
        s["heads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["author"] == author)
            .map_or(0, |h| h["seq"].as_u64().unwrap())
    }

    /// Object ids of the current events this node knows, sorted.
    pub fn event_ids(&self) -> Vec<String> {
        let v = self.json(&["query", "events", "--json"])["items"].clone();
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["object_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// Publishes an event; returns the entry id printed.
    pub fn publish(&self, object_id: &str, title: &str) -> String {
        self.cli(&[
            "publish",
            "event",
            "--id",
            object_id,
            "--title",
            title,
            "--start",
            "2027-02-10T10:00:00+09:00",
        ])
        .trim()
        .to_owned()
    }

    /// Makes this node and `other` trust each other (both running).
    pub fn trust_mutually(&self, other: &NodeProc) {
        self.cli(&["trust", "add", &other.id, "--name", &other.name]);
        other.cli(&["trust", "add", &self.id, "--name", &self.name]);
    }

    /// Makes this node dial `other`.
    pub fn dial(&self, other: &NodeProc) {
        self.cli(&["peer", "add", &other.addr(), "--id", &other.id]);
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
