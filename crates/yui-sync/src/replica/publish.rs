//! `Replica::publish`: the node's own entries, durable before anyone hears of
//! them.

use super::*;

/// How [`Replica::publish_with`] seals part of an entry.
pub struct SealWith {
    /// The parts (those the body has are sealed; none = nothing is).
    pub parts: Vec<yui_core::audience::SealPart>,
    /// The author's audience.
    pub audience: String,
    /// Its current epoch.
    pub epoch: u32,
    /// The epoch's key.
    pub key: yui_core::audience::EpochKey,
}

impl Replica {
    /// Publishes an entry in this node's own log. Returns once it is durable
    /// on disk; only then is it announced to peers.
    pub async fn publish(
        self: &Arc<Self>,
        object_id: String,
        body: Body,
        expires_at: Option<UnixMillis>,
    ) -> Result<StoredEntry, PublishError> {
        self.publish_with(object_id, body, expires_at, None).await
    }

    /// [`Replica::publish`], with a part of the body sealed for an
    /// audience epoch. The field rules are checked on the entry as written
    /// and again on what is published; the returned entry is the public
    /// one (what every node holds).
    pub async fn publish_with(
        self: &Arc<Self>,
        object_id: String,
        body: Body,
        expires_at: Option<UnixMillis>,
        seal: Option<SealWith>,
    ) -> Result<StoredEntry, PublishError> {
        let this = self.clone();
        let stored = tokio::task::spawn_blocking(move || {
            this.publish_blocking(object_id, body, expires_at, seal)
        })
        .await
        .expect("publish task panicked")?;
        Counters::add(&self.counters.published, 1);
        if affects_trust(stored.entry.kind()) {
            self.recompute_trust()?;
        }
        let _ = self.events.send(ReplicaEvent::Head {
            author: self.id,
            seq: stored.entry.seq,
            urgent: is_urgent(stored.entry.kind()),
            via_relay: false,
        });
        Ok(stored)
    }

    fn publish_blocking(
        &self,
        object_id: String,
        body: Body,
        expires_at: Option<UnixMillis>,
        seal: Option<SealWith>,
    ) -> Result<StoredEntry, PublishError> {
        yui_core::validate::publishable(&body)?;
        let _w = self.write.lock(super::write_lock::Priority::Small);
        if self.held.load(Ordering::SeqCst) {
            return Err(PublishError::Held);
        }
        if let Some(at) = self.store.forked_at(&self.id)? {
            // A rotation is how a forked node recovers its identity.
            if !matches!(body, Body::KeyRotation(_)) {
                return Err(PublishError::Forked(at));
            }
        }
        if let Some(at) = self.rotated_at(&self.id) {
            return Err(PublishError::Rotated(at));
        }
        let head = self.store.head(&self.id)?;
        let entry = Entry {
            author: self.id,
            seq: head.map_or(1, |h| h.seq + 1),
            prev: head.map(|h| h.id),
            created_at: now_ms(),
            expires_at,
            object_id,
            sealed: None,
            body,
        };
        let mut bytes = self.codec.encode_entry(&entry);
        validate_entry(&entry, bytes.len(), now_ms(), &self.limits)?;
        let entry = match seal.and_then(|s| {
            let (public, fragment, taken) = self.codec.split_restricted(&entry, &s.parts)?;
            Some((s, public, fragment, taken))
        }) {
            None => entry,
            Some((s, mut public, mut fragment, taken)) => {
                let key = yui_core::audience::content_key(&s.key, &self.id, entry.seq);
                let to = yui_core::audience::SealFor {
                    author: &self.id,
                    seq: entry.seq,
                    object_id: &entry.object_id,
                    audience: &s.audience,
                    epoch: s.epoch,
                };
                public.sealed = Some(yui_core::audience::seal(&key, to, &taken, &fragment));
                zeroize::Zeroize::zeroize(&mut fragment);
                bytes = self.codec.encode_entry(&public);
                validate_entry(&public, bytes.len(), now_ms(), &self.limits)?;
                public
            }
        };
        let signed = SignedEntry::sign(bytes, &self.key);
        let id = signed.id();
        self.store.append_arrived(
            &[IndexedEntry {
                id,
                author: self.id,
                seq: entry.seq,
                prev: entry.prev,
                kind: entry.kind(),
                object_id: entry.object_id.clone(),
                created_at: entry.created_at,
                signed: signed.clone(),
            }],
            &[Arrival {
                author: self.id,
                first_seq: entry.seq,
                last_seq: entry.seq,
                at: entry.created_at,
                source: ArrivalSource::Published,
            }],
        )?;
        // Durable before anyone hears of it: a crash after this point can
        // never make the node reuse this seq.
        self.store.flush()?;
        Ok(StoredEntry { id, entry, signed })
    }
}
