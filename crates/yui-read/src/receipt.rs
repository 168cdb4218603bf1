//! Signed receipts of mutual aid, so costs can be settled afterwards
//! (災害救助法 の費用精算): for one offer of a thread, every signed entry
//! from the request to the arrival — both sides' — as the authors signed
//! them, with their ids, and what they add up to.
//!
//! [`verify`] needs no node and no network: it checks each entry's bytes
//! against its id and its author's signature, that the steps belong to the
//! one thread and offer and were each made by the side that may make them,
//! and that the quantities the receipt states are what the signed entries
//! say.

use base64::Engine;
use serde::{Deserialize, Serialize};
use yui_core::content::{AidMessage, AidStep, ObjectRef};
use yui_core::{Body, NodeId, SignedEntry};
use yui_sync::Codec;

use crate::aid::{Amounts, Thread, Who};
use crate::{EntryView, ReadModel};

/// The receipt format's name.
pub const FORMAT: &str = "yui-aid-receipt/v1";

/// A receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// [`FORMAT`].
    pub format: String,
    /// The thread's request: `<author>/<object id>`.
    pub thread: ObjectRef,
    /// The offer it is for.
    pub offer: ObjectRef,
    /// Requester's name as the issuing node knows it.
    pub requester: String,
    /// Responder's name.
    pub responder: String,
    /// Per line of the request: what and the quantities at each stage.
    pub lines: Vec<ReceiptLine>,
    /// The signed entries, oldest first.
    pub entries: Vec<ReceiptEntry>,
    /// Unix ms it was made.
    pub issued_at: i64,
    /// The node that made it (it signs nothing: the entries carry the
    /// signatures).
    pub issued_by: NodeId,
}

/// One line and its quantities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptLine {
    /// What (Japanese, else the first language).
    pub what: String,
    /// Unit.
    pub unit: String,
    /// Quantities at each stage.
    pub amounts: Amounts,
}

/// One signed entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptEntry {
    /// The aid step.
    pub step: AidStep,
    /// Author.
    pub author: NodeId,
    /// Seq in the author's log.
    pub seq: u64,
    /// Entry id (SHA-256 of `signed`), hex.
    pub id: String,
    /// The author's time (Unix ms).
    pub created_at: i64,
    /// The `SignedEntry` exactly as stored and forwarded, base64.
    pub signed: String,
}

/// What a receipt proves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verified {
    /// Entries checked.
    pub entries: usize,
    /// The furthest step.
    pub stage: Option<AidStep>,
    /// The quantities, as the signed entries say.
    pub lines: Vec<ReceiptLine>,
}

struct Nobody;
impl Who for Nobody {
    fn code(&self, _: &NodeId) -> Option<String> {
        None
    }
    fn holder(&self, _: &str) -> Option<NodeId> {
        None
    }
    fn name(&self, _: &NodeId) -> Option<String> {
        None
    }
    fn mutual_aid(&self, _: &NodeId, _: &NodeId) -> bool {
        false
    }
}

fn lines_of(t: &Thread, offer: &ObjectRef) -> Vec<ReceiptLine> {
    let row = t.offer_row(offer);
    t.lines
        .iter()
        .enumerate()
        .map(|(i, l)| ReceiptLine {
            what: l.line.what.get("ja").unwrap_or_default().to_owned(),
            unit: l.line.unit.clone(),
            amounts: row
                .and_then(|r| r.amounts.get(i).cloned())
                .unwrap_or_default(),
        })
        .collect()
}

fn aid_of(e: &EntryView) -> Option<&AidMessage> {
    match &e.body {
        Body::Aid(a) => Some(a),
        _ => None,
    }
}

/// Makes the receipt of `offer` in the thread `root`, from what this node
/// holds.
pub fn build(read: &ReadModel, root: &ObjectRef, offer: &ObjectRef) -> Result<Receipt, String> {
    let thread = read.aid_thread(root).map_err(|e| e.to_string())?;
    let opening = thread
        .opening
        .as_ref()
        .ok_or_else(|| format!("this node holds no request {root}"))?;
    let row = thread
        .offer_row(offer)
        .ok_or_else(|| format!("the thread {root} has no offer {offer}"))?;
    let mut views: Vec<&EntryView> = vec![opening];
    views.extend(thread.steps.iter().filter(|e| {
        let is_offer = e.author == offer.author && e.object_id == offer.object_id;
        is_offer
            || aid_of(e)
                .is_some_and(|a| a.offer.as_ref() == Some(offer) && a.step != AidStep::Cancel)
    }));
    let mut entries = Vec::new();
    for v in views {
        let stored = read
            .replica()
            .read(&v.author, v.seq)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("entry {} is not in the store", v.id))?;
        entries.push(ReceiptEntry {
            step: aid_of(v).map(|a| a.step).unwrap_or_default(),
            author: v.author,
            seq: v.seq,
            id: stored.id.to_hex(),
            created_at: v.created_at,
            signed: base64::engine::general_purpose::STANDARD.encode(stored.signed.encode()),
        });
    }
    let names = read.names().map_err(|e| e.to_string())?;
    let name = |id: &NodeId| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    Ok(Receipt {
        format: FORMAT.into(),
        thread: root.clone(),
        offer: offer.clone(),
        requester: name(&root.author),
        responder: row.who.map(|w| name(&w)).unwrap_or_default(),
        lines: lines_of(&thread, offer),
        entries,
        issued_at: yui_sync::now_ms(),
        issued_by: read.replica().id(),
    })
}

/// Checks a receipt on its own, reading entries with `codec`; the reason
/// when it does not hold.
pub fn verify(r: &Receipt, codec: &dyn Codec) -> Result<Verified, String> {
    if r.format != FORMAT {
        return Err(format!("format {:?} is not {FORMAT}", r.format));
    }
    if r.entries.is_empty() {
        return Err("the receipt holds no entries".into());
    }
    let mut views = Vec::new();
    for (i, e) in r.entries.iter().enumerate() {
        let n = i + 1;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&e.signed)
            .map_err(|x| format!("entry {n}: not base64 ({x})"))?;
        let signed = SignedEntry::decode_canonical(&bytes)
            .map_err(|x| format!("entry {n}: not a signed entry ({x})"))?;
        if signed.id().to_hex() != e.id {
            return Err(format!(
                "entry {n}: its bytes hash to {}, not the id {} it states",
                signed.id().to_hex(),
                e.id
            ));
        }
        let entry = codec
            .decode_entry(&signed.entry)
            .map_err(|x| format!("entry {n}: cannot be read ({x})"))?;
        if entry.author != e.author || entry.seq != e.seq {
            return Err(format!(
                "entry {n}: signed by {} at seq {}, not {} at seq {} as stated",
                entry.author, entry.seq, e.author, e.seq
            ));
        }
        signed.verify(&entry.author).map_err(|_| {
            format!(
                "entry {n}: the signature of {} does not verify",
                entry.author
            )
        })?;
        let Body::Aid(a) = &entry.body else {
            return Err(format!("entry {n}: not an aid step"));
        };
        if a.step != e.step {
            return Err(format!(
                "entry {n}: is a {}, not the {} it is listed as",
                a.step.name(),
                e.step.name()
            ));
        }
        let is_opening = entry.author == r.thread.author && entry.object_id == r.thread.object_id;
        let is_offer = entry.author == r.offer.author && entry.object_id == r.offer.object_id;
        if !is_opening {
            let root = crate::aid::root_of(&entry.author, &entry.object_id, a);
            if root != r.thread {
                return Err(format!("entry {n}: belongs to another thread ({root})"));
            }
            if !is_offer && a.offer.as_ref() != Some(&r.offer) {
                return Err(format!("entry {n}: is about another offer"));
            }
        }
        views.push(EntryView {
            sealed: None,
            author: entry.author,
            author_name: None,
            seq: entry.seq,
            id: e.id.clone(),
            object_id: entry.object_id.clone(),
            created_at: entry.created_at,
            expires_at: entry.expires_at,
            kind: "aid".into(),
            version: 1,
            stale: false,
            partnership: None,
            acknowledged_by: Vec::new(),
            revoked: false,
            snippet: None,
            body: entry.body,
        });
    }
    // The same derivation as every node's: steps by the wrong side, or
    // beyond what the step before allowed, do not count.
    let thread = Thread::derive(r.thread.clone(), views, &[], Vec::new(), &Nobody);
    if thread.opening.is_none() {
        return Err(format!("the request {} is not in the receipt", r.thread));
    }
    let row = thread
        .offer_row(&r.offer)
        .ok_or_else(|| format!("the offer {} is not in the receipt", r.offer))?;
    let lines = lines_of(&thread, &r.offer);
    if lines.len() != r.lines.len() {
        return Err(format!(
            "the receipt states {} lines; the request has {}",
            r.lines.len(),
            lines.len()
        ));
    }
    for (i, (said, signed)) in r.lines.iter().zip(&lines).enumerate() {
        if said.amounts != signed.amounts {
            return Err(format!(
                "line {} ({}): the receipt states {:?}, the signed entries say {:?}",
                i + 1,
                signed.what,
                said.amounts,
                signed.amounts
            ));
        }
    }
    Ok(Verified {
        entries: r.entries.len(),
        stage: row.stage,
        lines,
    })
}
