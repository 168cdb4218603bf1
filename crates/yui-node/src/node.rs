//! Wiring of one running node: store, replica, federation server, dial
//! loops, admin API.
//!
//! Shutdown order: cancel (stops accepting, ends sessions and dial loops),
//! wait for tasks within a deadline, then flush the store, then remove the
//! `run/*.addr` files. The store is flushed last so that nothing a session
//! stored during the drain is lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use yui_core::NodeId;
use yui_net::{
    Backoff, FederationService, PeerManager, PeerTable, ProtoCodec, ServerLimits, SessionConfig,
};
use yui_read::ReadModel;
use yui_store::{Engine, KvStore, Store};
use yui_sync::Replica;

use crate::admin::{self, AdminState};
use crate::config::{Config, Role};
use crate::home::{Home, HomeError};

/// Why a node did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Home folder problem.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// Store problem.
    #[error(transparent)]
    Store(#[from] yui_store::StoreError),
    /// Replica problem.
    #[error(transparent)]
    Replica(#[from] yui_sync::ReplicaError),
    /// Search index problem.
    #[error(transparent)]
    Index(#[from] yui_read::IndexError),
    /// TLS material problem.
    #[error(transparent)]
    Tls(#[from] yui_net::tls::TlsError),
    /// The staff workspace or its notifier could not start.
    #[error(transparent)]
    Staff(#[from] crate::staff::StaffError),
    /// The keyring for restricted content could not be read or written.
    #[error("{0}")]
    Keyring(String),
    /// A restore into this home did not finish.
    #[error("a restore into {0} did not finish: the home is incomplete and must not run; delete the folder and run `yui restore` again")]
    RestoreIncomplete(std::path::PathBuf),
    /// A port could not be bound.
    #[error("cannot listen on {addr} ({what}): {error}; pick another address in config.toml or stop what uses it")]
    Bind {
        /// Address.
        addr: String,
        /// Which listener.
        what: &'static str,
        /// Cause.
        error: std::io::Error,
    },
}

/// The store of a node's home, on whichever engine its data folder uses.
pub type NodeStore = KvStore<Box<dyn Engine>>;

/// A running node.
pub struct Node {
    /// The replica.
    pub replica: Arc<Replica>,
    /// The read model over it (kept current by a task of the node).
    pub read: Arc<ReadModel>,
    /// Link states.
    pub table: Arc<PeerTable>,
    /// Dial loops.
    pub peers: Arc<PeerManager>,
    /// Bound federation address.
    pub federation_addr: std::net::SocketAddr,
    /// Bound admin address.
    pub admin_addr: std::net::SocketAddr,
    /// Its config.
    pub config: Arc<Config>,
    /// Notified when the node asks to be restarted (after a key rotation).
    pub restart: Arc<tokio::sync::Notify>,
    home: Home,
    store: Arc<NodeStore>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

fn net_role(r: Role) -> yui_net::Role {
    match r {
        Role::Municipality => yui_net::Role::Municipality,
        Role::Relay => yui_net::Role::Relay,
    }
}

async fn bind(addr: &str, what: &'static str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| StartError::Bind {
            addr: addr.to_owned(),
            what,
            error,
        })
}

pub(crate) fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), HomeError> {
    let io = |error| HomeError::Io {
        path: path.to_owned(),
        error,
    };
    std::fs::create_dir_all(path.parent().expect("run folder")).map_err(io)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Opens the read model of a node: its index in `HOME/index`, rebuilt from
/// the logs when missing, damaged or of an older format.
pub(crate) fn open_read_model(
    home: &Home,
    config: &Config,
    replica: &Arc<Replica>,
) -> Result<Arc<ReadModel>, StartError> {
    let keyring = yui_read::Keyring::open_file(&home.keyring_path())
        .map_err(|e| StartError::Keyring(e.to_string()))?;
    let read = ReadModel::open(replica.clone(), Some(&home.index_path()), &config.name)?
        .with_own_code(config.code.clone())
        .with_keyring(Arc::new(keyring));
    if read.index().rebuilt_at_open() {
        tracing::warn!(
            path = %home.index_path().display(),
            "the search index was damaged or of another format; it is rebuilt from the logs"
        );
    }
    Ok(Arc::new(read))
}

/// Opens the home's store and the replica over it with the node key.
pub fn open_replica(
    home: &Home,
    config: &Config,
) -> Result<(Arc<NodeStore>, Arc<Replica>), StartError> {
    let key = home.load_key()?;
    let (engine, kind) = yui_store::open_dir(&home.data_path())?;
    tracing::debug!(engine = %kind, "store opened");
    // A store written by an older yui is migrated here, once.
    let store = Arc::new(KvStore::open_with(engine, &mut |m| {
        let view = crate::progress::ProgressView::new(
            format!("store migration {} → {}", m.from, m.to),
            m.done,
            Some(m.total),
            m.started.elapsed(),
        );
        tracing::info!("{view}");
    })?);
    let replica = Replica::open_with(
        store.clone(),
        key,
        Arc::new(ProtoCodec),
        config.core_limits(),
        yui_sync::TrustPolicy {
            endorsement_depth: config.endorsement_depth,
        },
    )?;
    Ok((store, replica))
}

impl Node {
    /// Opens the store of a stopped node and runs [`Replica::check`], then
    /// checks that the search index agrees with the logs (indexing first
    /// what the index lacks).
    pub fn check_store(
        home: &Home,
    ) -> Result<(yui_sync::CheckReport, yui_read::IndexCheck), StartError> {
        let config = home.load_config()?;
        let (_, replica) = open_replica(home, &config)?;
        let report = replica.check()?;
        let read = open_read_model(home, &config, &replica)?;
        let index = read
            .check()
            .map_err(|e| yui_read::IndexError::Index(e.to_string()))?;
        Ok((report, index))
    }

    /// Rebuilds the search index of a stopped node from its logs.
    pub fn reindex(
        home: &Home,
        progress: &mut dyn FnMut(u64),
    ) -> Result<yui_read::CatchUp, StartError> {
        let config = home.load_config()?;
        let (_, replica) = open_replica(home, &config)?;
        let read = open_read_model(home, &config, &replica)?;
        read.index().clear()?;
        let mut total = yui_read::CatchUp::default();
        loop {
            let step = read.catch_up(100_000)?;
            total.entries += step.entries;
            total.objects += step.objects;
            progress(total.entries);
            if step.behind == 0 {
                return Ok(total);
            }
        }
    }

    /// Starts the node of `home`. It runs until `cancel` fires; then call
    /// [`Node::shutdown`].
    pub async fn start(home: Home, cancel: CancellationToken) -> Result<Self, StartError> {
        if home.restoring_path().exists() {
            return Err(StartError::RestoreIncomplete(home.root().to_owned()));
        }
        let config = Arc::new(home.load_config()?);
        home.check_tls_key()?;
        let token = Arc::new(home.load_token()?);
        let (store, replica) = loop {
            let (store, replica) = open_replica(&home, &config)?;
            // A rotation that stopped between its entry and the key swap:
            // finish it (the entry is durable, the staged key matches it).
            let rotated_to = replica
                .rotated_at(&replica.id())
                .map(|_| replica.current_key(&replica.id()));
            match (rotated_to, home.load_next_key()?) {
                (Some(new), Some(next)) if NodeId::new(next.public_key()) == new => {
                    tracing::info!(new = %new, "finishing the key rotation");
                    drop(replica);
                    drop(store);
                    home.commit_next_key(yui_sync::now_ms())?;
                }
                _ => break (store, replica),
            }
        };
        if home.hold_path().exists() {
            let floor = match home.hold_floor()? {
                Some(f) => f,
                None => store.head(&replica.id())?.map_or(0, |h| h.seq),
            };
            tracing::warn!(floor, "restored from a backup: publishing is held until a peer that holds this node's log at least as far as the backup shows this node has its newest entries");
            replica.hold_publishing(floor);
            let (r, marker, c) = (replica.clone(), home.hold_path(), cancel.clone());
            tokio::spawn(async move {
                while r.is_held() {
                    tokio::select! {
                        _ = c.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
                let _ = std::fs::remove_file(marker);
            });
        }
        let trusted: std::collections::HashSet<NodeId> =
            store.trust_list()?.into_iter().map(|(id, _)| id).collect();
        let missing: Vec<(NodeId, String)> = config
            .trust
            .iter()
            .filter(|t| !trusted.contains(&t.node_id))
            .map(|t| (t.node_id, t.name.clone()))
            .collect();
        if !missing.is_empty() {
            replica.trust_add_many(&missing)?;
        }
        if let Ok(Some(proxy)) = config.proxy() {
            if yui_net::proxy::ProxyConfig::configure(proxy.clone()) {
                tracing::info!(proxy = %proxy.addr, "outbound links go through the configured proxy");
            }
        }
        let tls = yui_net::tls::server_config(&home.cert_path(), &home.tls_key_path())?;
        let fed_listener = bind(&config.federation.listen, "federation").await?;
        let admin_listener = bind(&config.admin.listen, "admin API").await?;
        let federation_addr = fed_listener.local_addr().expect("bound");
        let admin_addr = admin_listener.local_addr().expect("bound");

        let f = &config.federation;
        let session = SessionConfig {
            heartbeat: Duration::from_secs(f.heartbeat_secs),
            idle_timeout: Duration::from_secs(f.idle_timeout_secs),
            handshake_timeout: Duration::from_secs(f.handshake_timeout_secs),
            max_inbound_entries: config.limits.max_batch_entries,
            max_message_bytes: config.limits.max_message_bytes,
            max_streams_per_peer: config.limits.max_streams_per_peer,
            pending_messages: config.limits.pending_messages,
            ..SessionConfig::default()
        };
        let backoff = Backoff {
            initial: Duration::from_millis(f.backoff_initial_ms),
            max: Duration::from_secs(f.backoff_max_secs),
        };
        let role = net_role(config.role);
        let table = PeerTable::new();
        let mut tasks = Vec::new();

        let service = FederationService::new(
            replica.clone(),
            table.clone(),
            role,
            session,
            cancel.clone(),
        );
        let limits = ServerLimits {
            max_connections: f.max_connections,
            max_connections_per_address: config.limits.max_connections_per_address,
            tls_timeout: session.handshake_timeout,
            handshake_timeout: session.handshake_timeout,
            ..ServerLimits::default()
        };

        let peers = PeerManager::new(
            replica.clone(),
            table.clone(),
            role,
            session,
            backoff,
            cancel.clone(),
        );
        for p in store.peer_list()? {
            peers.add(p.addr, p.node_id);
        }
        for p in &config.peers {
            peers.add(p.addr.clone(), p.node_id);
        }

        let read = open_read_model(&home, &config, &replica)?;
        tasks.push(tokio::spawn(read.clone().follow(cancel.clone())));

        let restart = Arc::new(tokio::sync::Notify::new());
        let state = AdminState {
            read: read.clone(),
            home: home.clone(),
            restart: restart.clone(),
            replica: replica.clone(),
            table: table.clone(),
            peers: peers.clone(),
            config: config.clone(),
            federation_addr: federation_addr.to_string(),
            token,
            progress: crate::progress::Progress::default(),
            public: Arc::default(),
            aid_turn: Arc::default(),
            staff: Arc::new(crate::staff::StaffDesk::open(&home, &config)?),
            http1_nonces: Arc::default(),
            audiences: crate::audiences::Audiences::new(replica.clone(), read.clone(), &config)
                .map(Arc::new),
        };
        if let Some(a) = &state.audiences {
            tasks.push(tokio::spawn(a.clone().run(cancel.clone())));
        }
        for peer in &config.federation.http1_peers {
            match crate::http1::Http1Link::new(replica.clone(), home.load_key()?, peer.clone()) {
                Ok(link) => {
                    tracing::info!(url = %peer.url, "syncing over HTTP/1.1 (reduced guarantees: SECURITY.md)");
                    tasks.push(tokio::spawn(link.run(cancel.clone())));
                }
                Err(e) => tracing::error!(url = %peer.url, error = %e, "HTTP/1.1 peer not started"),
            }
        }
        tasks.push(tokio::spawn(
            crate::desk::Desk::new(
                state.clone(),
                state.staff.notifier.clone(),
                state.staff.accounts.clone(),
            )
            .run(cancel.clone()),
        ));
        let public = Some(crate::public::router(state.clone()));
        if !config.http.plain_listen.is_empty() {
            let plain = tokio::net::TcpListener::bind(&config.http.plain_listen)
                .await
                .map_err(|error| StartError::Bind {
                    addr: config.http.plain_listen.clone(),
                    what: "http.plain_listen",
                    error,
                })?;
            let app = crate::public::router(state.clone());
            let c = cancel.clone();
            tracing::info!(addr = %config.http.plain_listen, "pages over plain HTTP (for a reverse proxy)");
            tasks.push(tokio::spawn(async move {
                let r = axum::serve(plain, app)
                    .with_graceful_shutdown(async move { c.cancelled().await })
                    .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "plain HTTP listener failed");
                }
            }));
        }
        let c = cancel.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) =
                yui_net::server::serve(fed_listener, tls, service, public, limits, c.clone()).await
            {
                tracing::error!(error = %e, "federation server failed; stopping the node");
                c.cancel();
            }
        }));
        let c = cancel.clone();
        // Off loopback (`admin.allow_remote`) the admin API speaks only TLS
        // (the node's certificate), so the token never travels in clear.
        let admin_tls = (!admin_addr.ip().is_loopback())
            .then(|| yui_net::tls::server_config(&home.cert_path(), &home.tls_key_path()))
            .transpose()?;
        tasks.push(tokio::spawn(async move {
            let app = admin::router(state);
            match admin_tls {
                Some(tls) => admin::serve_tls(admin_listener, tls, app, c).await,
                None => {
                    let r = axum::serve(admin_listener, app)
                        .with_graceful_shutdown(async move { c.cancelled().await })
                        .await;
                    if let Err(e) = r {
                        tracing::error!(error = %e, "admin API failed");
                    }
                }
            }
        }));

        write_atomically(&home.admin_addr_path(), &admin_addr.to_string())?;
        write_atomically(&home.federation_addr_path(), &federation_addr.to_string())?;
        tracing::info!(
            node_id = %replica.id(),
            name = %config.name,
            federation = %federation_addr,
            admin = %admin_addr,
            "node started"
        );
        Ok(Self {
            replica,
            read,
            table,
            peers,
            federation_addr,
            admin_addr,
            config,
            restart,
            home,
            store,
            cancel,
            tasks,
        })
    }

    /// Stops the node: ends sessions and servers within `deadline`, flushes
    /// the store, removes the run files.
    pub async fn shutdown(self, deadline: Duration) {
        self.cancel.cancel();
        let drain = async {
            self.peers.join().await;
            for t in self.tasks {
                let _ = t.await;
            }
        };
        if tokio::time::timeout(deadline, drain).await.is_err() {
            tracing::warn!(?deadline, "shutdown deadline passed; stopping anyway");
        }
        if let Err(e) = self.store.flush() {
            tracing::error!(error = %e, "final flush failed");
        }
        let _ = std::fs::remove_file(self.home.admin_addr_path());
        let _ = std::fs::remove_file(self.home.federation_addr_path());
        tracing::info!("node stopped");
    }
}
