//! This node's restricted audiences: keeping each audience's key epoch in
//! step with its members, sealing what is published for one, publishing
//! this node's audience key in its profile, and carrying out withdrawals
//! (this node's and other authors').
//!
//! A new epoch starts whenever the members an audience resolves to, or a
//! member's published key, differ from the last epoch's: a member removed
//! (a partnership ended, a trust revoked) cannot read what follows, and a
//! member who rotated its key can read it again. The work runs on every
//! change the replica reports (gathered for a moment), and before each
//! sealed publication, under one turn so two epochs are never published at
//! once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use yui_core::audience::{audience_object_id, wrap_epoch_key, Audience, EpochKey, SealPart};
use yui_core::{Body, Kind, NodeId};
use yui_read::{Keyring, Opened, ReadModel};
use yui_sync::{PublishError, Replica, SealWith, StoredEntry};

use crate::config::{AudienceConfig, Privacy};

/// How long the keeper gathers replica events before it looks.
const GATHER: Duration = Duration::from_millis(300);
/// How often it looks even when nothing was reported.
const TICK: Duration = Duration::from_secs(30);
/// The least time between two looks: during a large sync every moment
/// brings events, and a look reads every profile and partnership. A sealed
/// publication does not wait for it (it renews its epoch itself).
const BETWEEN: Duration = Duration::from_secs(3);

/// Why an audience could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AudienceError {
    /// No audience of that name is configured.
    #[error("no audience {0:?} here (config [privacy]: {1})")]
    Unknown(String, String),
    /// Publishing the epoch failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Reading the store, the index or the keyring failed.
    #[error("{0}")]
    Read(String),
}

/// This node's audiences and keyring.
pub struct Audiences {
    replica: Arc<Replica>,
    read: Arc<ReadModel>,
    keyring: Arc<Keyring>,
    privacy: Privacy,
    /// Said once that there is no profile to carry the key.
    warned_no_profile: std::sync::atomic::AtomicBool,
    turn: tokio::sync::Mutex<()>,
}

fn read_error(e: impl std::fmt::Display) -> AudienceError {
    AudienceError::Read(e.to_string())
}

impl Audiences {
    /// The audiences of `privacy` over this node's replica and keyring.
    pub fn new(
        replica: Arc<Replica>,
        read: Arc<ReadModel>,
        config: &crate::config::Config,
    ) -> Option<Self> {
        let keyring = read.keyring()?.clone();
        Some(Self {
            replica,
            read,
            keyring,
            privacy: config.privacy.clone(),
            warned_no_profile: Default::default(),
            turn: tokio::sync::Mutex::new(()),
        })
    }

    /// The keyring.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    fn config(&self, name: &str) -> Result<AudienceConfig, AudienceError> {
        let all = self.privacy.audiences();
        all.iter().find(|a| a.name == name).cloned().ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
            AudienceError::Unknown(name.to_owned(), names.join(", "))
        })
    }

    /// The audience a contact goes to: the publisher's choice, else the
    /// node's `[privacy] contact_audience`; `None` = public.
    pub fn contact_audience(&self, body: &Body, chosen: Option<&str>) -> Option<String> {
        let name = match chosen {
            Some(c) => c.to_owned(),
            // The profile's contact is the municipality's public window.
            None if matches!(body, Body::Profile(_)) => return None,
            None => self.privacy.contact_audience.clone(),
        };
        (name != "public").then_some(name)
    }

    /// The audience a shelter's location goes to: the publisher's
    /// choice; `None` = public (the default: residents look for shelters).
    pub fn shelter_audience(&self, chosen: Option<&str>) -> Option<String> {
        chosen.filter(|c| *c != "public").map(str::to_owned)
    }

    /// How to seal `parts` of an entry for `audience`: its current epoch
    /// (a new one first when the members changed).
    pub async fn seal_with(
        &self,
        audience: &str,
        parts: Vec<SealPart>,
    ) -> Result<SealWith, AudienceError> {
        let _turn = self.turn.lock().await;
        let (epoch, key) = self.ensure_epoch(audience).await?;
        Ok(SealWith {
            parts,
            audience: audience.to_owned(),
            epoch,
            key,
        })
    }

    /// The audience's current epoch and key, after publishing a new epoch
    /// when its members or their keys changed (or there is none yet).
    async fn ensure_epoch(&self, name: &str) -> Result<(u32, EpochKey), AudienceError> {
        let cfg = self.config(name)?;
        let me = self.replica.id();
        let read = self.read.clone();
        let members = cfg.members();
        let lookup = members.clone();
        let resolved = tokio::task::spawn_blocking(move || read.audience_members(&lookup))
            .await
            .map_err(read_error)?
            .map_err(read_error)?;
        let (want, without) = (resolved.keys, resolved.without_key);
        if !without.is_empty() {
            tracing::debug!(
                audience = name,
                count = without.len(),
                "members without an audience key are left out until they publish one"
            );
        }
        let last = self.last_epoch(name)?;
        if let Some((a, _)) = &last {
            let held: BTreeMap<NodeId, Vec<u8>> =
                a.wraps.iter().map(|w| (w.node, w.key.clone())).collect();
            if held == want && a.members == members {
                if let Some(k) = self.keyring.epoch_key(&me, name, a.epoch) {
                    return Ok((a.epoch, k));
                }
            }
        }
        let epoch = last.as_ref().map_or(1, |(a, _)| a.epoch + 1);
        let key = EpochKey::generate();
        let mut wraps = Vec::with_capacity(want.len());
        for (node, pk) in &want {
            match wrap_epoch_key(&me, name, epoch, node, pk, &key) {
                Ok(w) => wraps.push(w),
                Err(e) => {
                    tracing::warn!(member = %node, error = %e, "an audience key does not take a seal; member left out")
                }
            }
        }
        // Kept before the epoch is published: an epoch this node cannot
        // open itself is never announced.
        self.keyring
            .put_epoch_key(&me, name, epoch, &key)
            .map_err(read_error)?;
        let body = Body::Audience(Audience {
            name: name.to_owned(),
            epoch,
            members,
            wraps,
        });
        self.replica
            .publish(audience_object_id(name), body, None)
            .await?;
        tracing::info!(
            audience = name,
            epoch,
            members = want.len(),
            "new audience epoch"
        );
        Ok((epoch, key))
    }

    fn last_epoch(&self, name: &str) -> Result<Option<(Audience, StoredEntry)>, AudienceError> {
        let me = self.replica.id();
        let versions = self
            .replica
            .history(&me, &audience_object_id(name))
            .map_err(read_error)?;
        Ok(versions
            .into_iter()
            .rev()
            .find_map(|v| match &v.entry.body {
                Body::Audience(a) => Some((a.clone(), v.clone())),
                _ => None,
            }))
    }

    /// This node's current profile as written (its sealed contact opened),
    /// and whether that contact is to be sealed again: a contact withdrawn
    /// stays out.
    fn own_profile(&self) -> Option<(StoredEntry, Body, bool)> {
        let me = self.replica.id();
        let (kind, seq) = self.replica.store().object(&me, "profile").ok()??;
        if kind != Kind::Profile {
            return None;
        }
        let stored = self.replica.read(&me, seq).ok()??;
        Some(match self.keyring.open(&self.replica, &stored) {
            Opened::Open(full) => (stored, full.body, true),
            Opened::Public | Opened::Closed(_) => {
                let body = stored.entry.body.clone();
                (stored, body, false)
            }
        })
    }

    /// Publishes the profile again when it lacks this node's current
    /// audience key.
    async fn publish_key(&self) -> Result<(), AudienceError> {
        let Some((stored, mut body, reseal)) = self.own_profile() else {
            if !self
                .warned_no_profile
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!("this node has published no profile: partners cannot seal contacts for it until it does (yui publish profile)");
            }
            return Ok(());
        };
        let key = self.keyring.public_key().to_vec();
        let Body::Profile(p) = &mut body else {
            return Ok(());
        };
        if p.audience_key == key {
            return Ok(());
        }
        p.audience_key = key;
        let seal = match &stored.entry.sealed {
            Some(s) if reseal => Some(
                self.seal_with(&s.audience, s.sealed_parts().unwrap_or_default())
                    .await?,
            ),
            _ => None,
        };
        self.replica
            .publish_with("profile".into(), body, stored.entry.expires_at, seal)
            .await?;
        tracing::info!("published this node's audience key in its profile");
        Ok(())
    }

    /// Carries out every withdrawal not yet carried out here. After any,
    /// this node's audience secrets are replaced (the retired ones
    /// deleted), so the withdrawn epochs' copies in the logs cannot be
    /// opened again, and the new key is published.
    async fn withdrawals(&self) -> Result<(), AudienceError> {
        let read = self.read.clone();
        let keyring = self.keyring.clone();
        let done = tokio::task::spawn_blocking(move || -> Result<usize, AudienceError> {
            let pending: Vec<StoredEntry> = read
                .replica()
                .current(Kind::Withdrawal)
                .map_err(read_error)?
                .into_iter()
                .filter(|w| !keyring.withdrawal_done(&w.id))
                .collect();
            if pending.is_empty() {
                return Ok(0);
            }
            // Every epoch still addressed to this node is opened while its
            // secrets can, before they are retired below.
            keyring.learn_all(read.replica());
            let mut done = 0;
            for w in pending {
                let report = read.withdraw(&w).map_err(read_error)?;
                keyring.mark_withdrawal_done(&w.id).map_err(read_error)?;
                tracing::info!(author = %w.entry.author, entries = report.entries, epoch_keys = report.epoch_keys, "withdrawal carried out");
                done += 1;
            }
            Ok(done)
        })
        .await
        .map_err(read_error)??;
        if done > 0 {
            self.keyring.rotate(true).map_err(read_error)?;
            self.publish_key().await?;
        }
        Ok(())
    }

    /// One look: withdrawals, the profile's key, every audience's epoch.
    pub async fn tend(&self) {
        if let Err(e) = self.withdrawals().await {
            tracing::warn!(error = %e, "withdrawals not carried out yet");
        }
        if let Err(e) = self.publish_key().await {
            tracing::warn!(error = %e, "audience key not published yet");
        }
        for a in self.privacy.audiences() {
            // Only audiences in use keep their epochs current.
            if matches!(self.last_epoch(&a.name), Ok(Some(_))) {
                let _turn = self.turn.lock().await;
                if let Err(e) = self.ensure_epoch(&a.name).await {
                    tracing::warn!(audience = %a.name, error = %e, "audience epoch not renewed yet");
                }
            }
        }
    }

    /// Tends the audiences whenever the replica changes, until cancelled.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut events = self.replica.subscribe();
        self.tend().await;
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                ev = events.recv() => match ev {
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                () = tokio::time::sleep(TICK) => {}
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(GATHER) => {}
            }
            while events.try_recv().is_ok() {}
            self.tend().await;
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(BETWEEN) => {}
            }
        }
    }
}
