//! The home folder: config, secrets and data of one node.
//!
//! ```text
//! HOME/config.toml          settings (see deploy/yui.example.toml)
//! HOME/node.key             ed25519 node key            (0600)
//! HOME/admin.token          admin API bearer token      (0600)
//! HOME/tls/cert.pem         TLS certificate (P-256)
//! HOME/tls/key.pem          TLS private key             (0600)
//! HOME/data/                the store (sled)
//! HOME/run/*.addr           addresses bound by the running node
//! ```
//! Secrets are written with mode 0600 and refused at load if group or others
//! can read them.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;
use yui_core::{NodeId, SecretKey};

use crate::config::{Config, Role};

const KEY_HEADER: &str = "yui-node-key-v1";

/// A problem with the home folder, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HomeError {
    /// File system error.
    #[error("{path}: {error}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        error: std::io::Error,
    },
    /// A secret is readable by others.
    #[error("{path} is readable by group or others (mode {mode:o}); fix with: chmod 600 {path}")]
    LoosePermissions {
        /// File.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// A file has the wrong content.
    #[error("{path}: {reason}")]
    Bad {
        /// File.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `init` on a folder that already holds a node.
    #[error("{0} already holds a yui node (node.key exists); use another --home or remove it")]
    Exists(PathBuf),
    /// The home has not been initialised.
    #[error("{0} is not a yui home (no config.toml); create one with `yui init --name NAME`")]
    NotInitialised(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HomeError + '_ {
    move |error| HomeError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Paths of one node's home folder.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

/// Choices for `yui init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Name of the municipality or body.
    pub name: String,
    /// Municipality code.
    pub code: Option<String>,
    /// Role.
    pub role: Role,
    /// Federation listen address.
    pub listen: Option<String>,
    /// Admin listen address.
    pub admin: Option<String>,
}

impl Home {
    /// The home at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Present while `yui restore` writes this home: a home with it must not
    /// start (written and made durable before anything else, removed last).
    pub fn restoring_path(&self) -> PathBuf {
        self.root.join("restore.incomplete")
    }

    /// Writes the restore marker durably (see [`Home::restoring_path`]).
    pub fn mark_restoring(&self) -> Result<(), HomeError> {
        write_durably(
            &self.restoring_path(),
            b"yui restore is writing this home\n",
        )
    }

    /// Writes the publishing hold durably (file and folder synced). `floor`
    /// is the own head the restored data holds (see
    /// `Replica::hold_publishing`); `None`: the own head in the store when
    /// the node starts.
    pub fn write_hold(&self, floor: Option<u64>) -> Result<(), HomeError> {
        let line = floor.map(|f| format!("floor={f}\n")).unwrap_or_default();
        write_durably(
            &self.hold_path(),
            format!("restored from a backup\n{line}").as_bytes(),
        )
    }

    /// The own head recorded in the hold file, if it names one.
    pub fn hold_floor(&self) -> Result<Option<u64>, HomeError> {
        let p = self.hold_path();
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix("floor="))
            .and_then(|v| v.trim().parse().ok()))
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// `node.key`.
    pub fn key_path(&self) -> PathBuf {
        self.root.join("node.key")
    }
    /// The next node key during a rotation.
    pub fn next_key_path(&self) -> PathBuf {
        self.root.join("node.key.next")
    }
    /// Marker: hold publishing until peers show the own log is current
    /// (written by `yui run --restored`, removed when released).
    pub fn hold_path(&self) -> PathBuf {
        self.root.join("hold-publish")
    }
    /// `admin.token`.
    pub fn token_path(&self) -> PathBuf {
        self.root.join("admin.token")
    }
    /// TLS certificate.
    pub fn cert_path(&self) -> PathBuf {
        self.root.join("tls").join("cert.pem")
    }
    /// TLS key.
    pub fn tls_key_path(&self) -> PathBuf {
        self.root.join("tls").join("key.pem")
    }
    /// Store folder.
    pub fn data_path(&self) -> PathBuf {
        self.root.join("data")
    }
    /// Staff accounts, audit log, webhook key, the desk's position.
    pub fn staff_dir(&self) -> PathBuf {
        self.root.join("staff")
    }
    /// Keys for restricted content (this node's audience secrets, the
    /// epoch keys it opened): `keys/audience.json`, mode 0600.
    pub fn keyring_path(&self) -> PathBuf {
        self.root.join("keys").join("audience.json")
    }
    /// Search index folder (derived from the store; never backed up).
    pub fn index_path(&self) -> PathBuf {
        self.root.join("index")
    }
    /// File holding the bound admin address while the node runs.
    pub fn admin_addr_path(&self) -> PathBuf {
        self.root.join("run").join("admin.addr")
    }
    /// File holding the bound federation address while the node runs.
    pub fn federation_addr_path(&self) -> PathBuf {
        self.root.join("run").join("federation.addr")
    }

    /// Creates a new node here: config, node key, TLS key and admin token.
    pub fn init(&self, opts: &InitOptions) -> Result<(NodeId, Config), HomeError> {
        if self.key_path().exists() {
            return Err(HomeError::Exists(self.root.clone()));
        }
        let mut cfg = Config {
            name: opts.name.clone(),
            code: opts.code.clone(),
            role: opts.role,
            ..Config::default()
        };
        if let Some(l) = &opts.listen {
            cfg.federation.listen = l.clone();
        }
        if let Some(a) = &opts.admin {
            cfg.admin.listen = a.clone();
        }
        cfg.check().map_err(|e| HomeError::Bad {
            path: self.config_path(),
            reason: e.to_string(),
        })?;
        fs::create_dir_all(self.root.join("tls")).map_err(io(&self.root))?;
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
            .map_err(io(&self.root))?;

        let key = SecretKey::generate(&mut rand::rngs::OsRng);
        write_secret(&self.key_path(), key.to_pkcs8_pem().as_bytes())?;
        let mut token = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut token);
        write_secret(
            &self.token_path(),
            format!("{}\n", hex::encode(token)).as_bytes(),
        )?;
        let (cert, tls_key) =
            yui_net::tls::generate_self_signed(&opts.name).map_err(|e| HomeError::Bad {
                path: self.cert_path(),
                reason: e.to_string(),
            })?;
        write_secret(&self.tls_key_path(), tls_key.as_bytes())?;
        fs::write(self.cert_path(), cert).map_err(io(&self.cert_path()))?;
        let text = format!(
            "# yui node configuration. Every key, its default and meaning:\n# deploy/yui.example.toml\n\n{}",
            toml::to_string(&cfg).expect("config serialises")
        );
        fs::write(self.config_path(), text).map_err(io(&self.config_path()))?;
        Ok((NodeId::new(key.public_key()), cfg))
    }

    /// Reads and checks `config.toml`.
    pub fn load_config(&self) -> Result<Config, HomeError> {
        if !self.config_path().exists() {
            return Err(HomeError::NotInitialised(self.root.clone()));
        }
        Config::load(&self.config_path()).map_err(|e| HomeError::Bad {
            path: self.config_path(),
            reason: format!("\n{e}"),
        })
    }

    /// Loads the node key, refusing one readable by others.
    pub fn load_key(&self) -> Result<SecretKey, HomeError> {
        let path = self.key_path();
        if !path.exists() && !self.config_path().exists() {
            return Err(HomeError::NotInitialised(self.root.clone()));
        }
        let text = read_secret(&path)?;
        let key = parse_key(&path, &text)?;
        if text.starts_with(KEY_HEADER) {
            // A key file of an earlier release: rewritten once as PKCS#8
            // (a new file renamed over the old, then the folder synced, so
            // a crash leaves one or the other, both the same key).
            let tmp = self.root.join("node.key.pkcs8");
            let _ = std::fs::remove_file(&tmp);
            write_secret(&tmp, key.to_pkcs8_pem().as_bytes())?;
            std::fs::rename(&tmp, &path).map_err(io(&path))?;
            sync_dir(&self.root)?;
            tracing::info!(path = %path.display(), "node key file rewritten as PKCS#8 PEM");
        }
        Ok(key)
    }

    /// Writes the next node key beside the current one (step 1 of a
    /// rotation: it exists before the rotation entry is published).
    pub fn stage_next_key(&self, key: &SecretKey) -> Result<(), HomeError> {
        let p = self.next_key_path();
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
        write_secret(&p, key.to_pkcs8_pem().as_bytes())
    }

    /// The staged next key, if any.
    pub fn load_next_key(&self) -> Result<Option<SecretKey>, HomeError> {
        if !self.next_key_path().exists() {
            return Ok(None);
        }
        let text = read_secret(&self.next_key_path())?;
        parse_key(&self.next_key_path(), &text).map(Some)
    }

    /// Makes the staged key the node key (step 3 of a rotation, after the
    /// rotation entry is durable); the old key is kept as
    /// `node.key.retired-<unix ms>`.
    pub fn commit_next_key(&self, now_ms: i64) -> Result<(), HomeError> {
        // The old key is linked (not moved) to its retired name first, then
        // the staged key replaces it in one rename: at every instant there
        // is a `node.key`, and a crash before the second step leaves the
        // staged key for `Node::start` to finish the swap with. The folder
        // is synced after each step so the renames themselves are durable.
        let retired = self.root.join(format!("node.key.retired-{now_ms}"));
        if !retired.exists() {
            std::fs::hard_link(self.key_path(), &retired).map_err(io(&retired))?;
        }
        sync_dir(&self.root)?;
        std::fs::rename(self.next_key_path(), self.key_path()).map_err(io(&self.key_path()))?;
        sync_dir(&self.root)
    }

    /// Reads the admin token, refusing one readable by others.
    pub fn load_token(&self) -> Result<String, HomeError> {
        let t = read_secret(&self.token_path())?.trim().to_owned();
        if t.len() < 32 {
            return Err(HomeError::Bad {
                path: self.token_path(),
                reason: "token is too short".into(),
            });
        }
        Ok(t)
    }

    /// Checks the TLS key's permissions (the node reads it through rustls).
    pub fn check_tls_key(&self) -> Result<(), HomeError> {
        read_secret(&self.tls_key_path()).map(|_| ())
    }
}

/// A node key file: PKCS#8 PEM (what this release writes), or the earlier
/// `yui-node-key-v1` + hex seed (read, and rewritten by `load_key`).
fn parse_key(path: &Path, text: &str) -> Result<SecretKey, HomeError> {
    let bad = |reason: &str| HomeError::Bad {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if text.trim_start().starts_with("-----BEGIN") {
        return SecretKey::from_pkcs8_pem(text).map_err(|e| bad(&e.to_string()));
    }
    let mut lines = text.lines();
    if lines.next() != Some(KEY_HEADER) {
        return Err(bad(
            "not a yui node key (neither PKCS#8 PEM nor the yui-node-key-v1 format)",
        ));
    }
    let seed =
        hex::decode(lines.next().unwrap_or_default().trim()).map_err(|_| bad("key is not hex"))?;
    let seed: [u8; 32] = seed.try_into().map_err(|_| bad("key must be 32 bytes"))?;
    Ok(SecretKey::from_seed(&seed))
}

impl Home {
    /// The key webhooks are signed with: `file` if given, else
    /// `HOME/staff/webhook.key` (64 hex digits, mode 0600), made at first
    /// use. Receivers check `X-Yui-Signature` with it.
    pub fn webhook_key(&self, file: Option<&Path>) -> Result<Vec<u8>, HomeError> {
        let default = self.staff_dir().join("webhook.key");
        let path = file.unwrap_or(&default);
        if file.is_none() && !path.exists() {
            fs::create_dir_all(self.staff_dir()).map_err(io(&default))?;
            let mut k = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
            write_secret(path, hex::encode(k).as_bytes())?;
        }
        Ok(read_secret(path)?.trim().as_bytes().to_vec())
    }
}

/// Writes a new secret file with mode 0600.
pub fn write_secret(path: &Path, contents: &[u8]) -> Result<(), HomeError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(contents).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

fn read_secret(path: &Path) -> Result<String, HomeError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(HomeError::LoosePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    fs::read_to_string(path).map_err(io(path))
}

/// Fsyncs a folder, so renames and new files in it survive a crash.
pub(crate) fn sync_dir(path: &Path) -> Result<(), HomeError> {
    std::fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io(path))
}

/// Writes a file through a temporary name, syncs it, renames it into place
/// and syncs the folder: after return it survives a crash whole.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), HomeError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> InitOptions {
        InitOptions {
            name: "杉並区".into(),
            code: Some("131156".into()),
            role: Role::Municipality,
            listen: Some("127.0.0.1:0".into()),
            admin: Some("127.0.0.1:0".into()),
        }
    }

    #[test]
    fn init_then_load() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::new(d.path().join("h"));
        let (id, cfg) = home.init(&opts()).unwrap();
        assert_eq!(NodeId::new(home.load_key().unwrap().public_key()), id);
        assert_eq!(home.load_config().unwrap(), cfg);
        assert!(home.load_token().unwrap().len() >= 32);
        home.check_tls_key().unwrap();
        for p in [home.key_path(), home.token_path(), home.tls_key_path()] {
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600,
                "{}",
                p.display()
            );
        }
        assert!(matches!(home.init(&opts()), Err(HomeError::Exists(_))));
    }

    #[test]
    fn loose_secrets_are_refused_with_the_fix() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::new(d.path());
        home.init(&opts()).unwrap();
        fs::set_permissions(home.key_path(), fs::Permissions::from_mode(0o644)).unwrap();
        let e = home.load_key().unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn bad_init_options_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let home = Home::new(d.path());
        let mut o = opts();
        o.code = Some("131157".into());
        assert!(home
            .init(&o)
            .unwrap_err()
            .to_string()
            .contains("check digit"));
        assert!(
            !home.key_path().exists(),
            "a refused init must write nothing"
        );
    }
}
