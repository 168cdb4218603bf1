//! The `yui` command line's arguments: every command, subcommand and flag
//! (clap derive); `cli.rs` runs them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use yui_core::NodeId;
use yui_node::config::Role;

use super::{aid, audience, publish, user};

/// yui: a federated exchange network for municipalities.
#[derive(Debug, Parser)]
#[command(name = "yui", version, about)]
pub struct Cli {
    /// Home folder of the node (config, keys, data).
    #[arg(long, env = "YUI_HOME", global = true)]
    pub home: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new node in the home folder and print its node id.
    Init(InitArgs),
    /// Run the node until SIGINT or SIGTERM.
    Run {
        /// The home was restored from a backup: hold publishing until a peer
        /// shows this node has the newest entries of its own log, so it never
        /// reuses a sequence number.
        #[arg(long)]
        restored: bool,
    },
    /// Release a publishing hold (only if no peer can have newer entries of
    /// this node's log).
    #[command(subcommand)]
    Hold(HoldCmd),
    /// Print this node's id.
    Id,
    /// Check the stored logs of a stopped node: no holes, every chain link,
    /// head and index consistent, every signature valid. Exits 1 on a
    /// problem.
    Check {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index of a stopped node from its logs (the node
    /// also rebuilds it by itself when it finds it missing or damaged).
    Reindex {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// The store of a stopped node.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Write a consistent copy of the running node (entries, keys, config,
    /// trust, peers) into a new folder; default HOME/backups/<time>.
    Backup {
        /// Folder to create.
        dir: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild a node from a backup into a new home (`--home`). The restored
    /// node holds publishing until a peer shows it has the newest entries of
    /// its own log, so it never forks.
    Restore {
        /// The backup folder.
        dir: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Manage the authors this node trusts.
    #[command(subcommand)]
    Trust(TrustCmd),
    /// Vouch for a key as a named municipality (as a trust root, e.g. a
    /// regional body's relay).
    Endorse {
        /// The key (yui1…).
        node_id: NodeId,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its municipality code.
        #[arg(long, default_value = "")]
        code: String,
        /// ISO 3166-1 alpha-2.
        #[arg(long, default_value = "JP")]
        country: String,
        /// Language of the name.
        #[arg(long, default_value = "ja")]
        lang: String,
    },
    /// Key management.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Manage the peers this node dials.
    #[command(subcommand)]
    Peer(PeerCmd),
    /// Publish an entry in this node's log.
    #[command(subcommand)]
    Publish(publish::PublishCmd),
    /// Mutual aid: request, respond, accept, commit, dispatch, arrive,
    /// release, cancel; show a thread, the inbox, whom to ask, receipts.
    #[command(subcommand)]
    Aid(aid::AidCmd),
    /// Ask or answer on a case, call, event or aid request.
    Reply(aid::ReplyArgs),
    /// Restricted audiences: this node's and those it is a member of, each
    /// with its current key epoch and members.
    Audiences {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw the personal data of objects this node published: their
    /// restricted parts (the contact, when it went to an audience). Every
    /// node deletes the text and the keys that open it; the log keeps
    /// ciphertext no node can open. What was public stays public: retract
    /// or update it for that.
    Withdraw(audience::WithdrawArgs),
    /// Check a signed aid receipt (no node needed).
    #[command(subcommand)]
    Receipt(aid::ReceiptCmd),
    /// Staff accounts of this node's workspace.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Write the protocol's test vectors (docs/vectors: keys, entries,
    /// invalid cases with their verdicts, handshake proofs, a bundle).
    Vectors {
        /// Folder to write.
        #[arg(long, default_value = "docs/vectors")]
        out: PathBuf,
    },
    /// Read what this node knows.
    Query(QueryArgs),
    /// Every version of one object.
    History {
        /// Author of the object.
        #[arg(long)]
        author: NodeId,
        /// Object id.
        #[arg(long = "id")]
        object_id: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write events as iCalendar, readiness as CAP 1.2 or Atom, or all as JSON.
    Export(ExportArgs),
    /// Show the node's state.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Exchange entries as files, for offices without a network link.
    #[command(subcommand)]
    Bundle(BundleCmd),
    /// Check the home's config.toml (and YUI_* overrides); report every
    /// problem with its key.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Start a local demo network (three municipalities and a relay).
    Demo(yui_lab::demo::DemoArgs),
    /// Measure this machine.
    #[command(subcommand)]
    Bench(yui_lab::bench::BenchCmd),
}

/// `yui init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Name of the municipality or body.
    #[arg(long)]
    pub name: String,
    /// Local government code (6 digits) or foreign code (KR-busan).
    #[arg(long)]
    pub code: Option<String>,
    /// municipality or relay.
    #[arg(long, default_value = "municipality")]
    pub role: Role,
    /// Federation address to listen on (default 0.0.0.0:7100).
    #[arg(long)]
    pub listen: Option<String>,
    /// Admin API address (default 127.0.0.1:7101).
    #[arg(long)]
    pub admin: Option<String>,
    /// Store engine of the new home: fjall (the default: faster ingest in
    /// BENCHMARKS.md) or sled (the design card's).
    #[arg(long, default_value = "fjall")]
    pub engine: yui_store::EngineKind,
}

/// `yui store …`.
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Move the store of a stopped node to the other engine without a
    /// backup round trip; the old folder is kept beside it until you
    /// remove it.
    Convert {
        /// The engine to move to: fjall or sled.
        #[arg(long)]
        engine: yui_store::EngineKind,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `yui trust …`.
#[derive(Debug, Subcommand)]
pub enum TrustCmd {
    /// Trust an author.
    Add {
        /// Its node id (yui1…).
        node_id: NodeId,
        /// Name for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Stop trusting an author.
    Remove {
        /// Its node id.
        node_id: NodeId,
    },
    /// List trusted authors (the roots; --all: everyone trusted and why).
    List {
        /// Also keys trusted through endorsements, and revoked keys.
        #[arg(long)]
        all: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `yui key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Move this node's identity to a new key (the old key signs the move,
    /// the new one countersigns); the node restarts under the new key.
    Rotate,
    /// Revoke a key: this node's own (after a compromise) or one it endorsed.
    Revoke {
        /// The key to revoke (default: this node's own).
        node_id: Option<NodeId>,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Language of the reason.
        #[arg(long, default_value = "ja")]
        lang: String,
    },
}

/// `yui peer …`.
#[derive(Debug, Subcommand)]
pub enum PeerCmd {
    /// Dial a peer and keep it connected.
    Add {
        /// HOST:PORT of its federation port.
        addr: String,
        /// The node id expected there.
        #[arg(long = "id")]
        node_id: Option<NodeId>,
    },
    /// Stop dialling a peer.
    Remove {
        /// HOST:PORT.
        addr: String,
    },
    /// Show links and their state.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `yui query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// What: events, readiness, cases, calls, partnerships, profiles, acks, aid, replies or all.
    pub what: String,
    /// Only this author.
    #[arg(long)]
    pub author: Option<NodeId>,
    /// A month, YYYY-MM (events held in it; other kinds published in it).
    #[arg(long)]
    pub month: Option<String>,
    /// From (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Until, exclusive (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Cases and calls of this policy area (tourism, disaster_prevention, education, welfare, economy, culture, other).
    #[arg(long)]
    pub policy_area: Option<String>,
    /// Readiness at or above this alert level.
    #[arg(long)]
    pub min_alert_level: Option<u32>,
    /// Only stale entries.
    #[arg(long, conflicts_with = "fresh")]
    pub stale: bool,
    /// Only entries that are not stale.
    #[arg(long)]
    pub fresh: bool,
    /// Text to find, in any language (a Japanese word inside a sentence
    /// works; every word must match; "quoted words" match as a phrase).
    /// Results come by relevance, with the matching passage.
    #[arg(long)]
    pub search: Option<String>,
    /// Cases with this tag, events of this category.
    #[arg(long)]
    pub tag: Option<String>,
    /// Entries with text in this language (ja, en, …).
    #[arg(long = "in-lang")]
    pub in_lang: Option<String>,
    /// Events attended this way: offline, online or mixed.
    #[arg(long)]
    pub attendance: Option<String>,
    /// Results per page (default 50, at most 500); `--cursor` for the
    /// next page.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Every result: follow the pages to the end.
    #[arg(long, conflicts_with = "cursor")]
    pub all: bool,
    /// Where to start: the `next` of an earlier page.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Count results by kind, policy area, municipality, language and month.
    #[arg(long)]
    pub facets: bool,
    /// Preferred language for display.
    #[arg(long, default_value = "ja")]
    pub lang: String,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `yui bundle …`.
#[derive(Debug, Subcommand)]
pub enum BundleCmd {
    /// Print this node's heads as JSON, to hand to the exporting office.
    Heads,
    /// Write every entry this node holds (beyond --since) to a bundle file.
    Export {
        /// Heads file from `yui bundle heads` on the receiving node.
        #[arg(long)]
        since: Option<PathBuf>,
        /// Output file (default standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Verify and store the entries of a bundle file.
    Import {
        /// The bundle file.
        file: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `yui hold …`.
#[derive(Debug, Subcommand)]
pub enum HoldCmd {
    /// Allow publishing again.
    Release,
}

/// `yui config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Report every problem in the configuration at once.
    Check {
        /// Check this file instead of HOME/config.toml.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

/// `yui export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// ical, cap, atom or json.
    pub format: String,
    /// Language of texts where one must be chosen.
    #[arg(long, default_value = "ja")]
    pub lang: String,
    /// Only this author (cap: whose status; default this node).
    #[arg(long)]
    pub author: Option<NodeId>,
}
