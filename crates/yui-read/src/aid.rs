//! Mutual-aid threads: what every municipality's steps add up to.
//!
//! A thread is the request (or an offer nobody asked for) and every aid
//! entry naming it, from every author. [`Thread::derive`] is a pure
//! function of those entries, so every node holding the same entries shows
//! the same state. [`Thread::check`] says whether a step fits the thread
//! before the node signs it: an accepted offer before a commit, no more
//! than was offered, an answer only to a request addressed to the one
//! answering. Those rules depend on other authors' entries, so they are
//! the publishing node's duty, not part of an entry's validity (which
//! every node must decide alike from the entry alone).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use yui_core::content::{AckKind, AidLine, AidMessage, AidStep, ObjectRef};
use yui_core::{Body, LocalizedText, NodeId};

use crate::query::QueryError;
use crate::view::EntryView;
use crate::ReadModel;

mod misfit;
mod read;
mod suggest;
pub use misfit::Misfit;
pub use suggest::{Reason, Suggestion, HAZARD_LEVEL};

/// Steps one thread holds at most (a thread past it shows its first ones).
pub const MAX_STEPS: usize = 2_000;

/// The root of the thread an aid entry belongs to: its request, else the
/// unsolicited offer it is about, else the entry itself.
pub fn root_of(author: &NodeId, object_id: &str, a: &AidMessage) -> ObjectRef {
    match (&a.request, &a.offer) {
        (Some(r), _) => r.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => ObjectRef::new(*author, object_id),
    }
}

/// Quantities of one line at each stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Amounts {
    /// Offered.
    pub offered: f64,
    /// Accepted by the requester.
    pub accepted: f64,
    /// Committed by the responder.
    pub committed: f64,
    /// Dispatched.
    pub dispatched: f64,
    /// Arrived.
    pub arrived: f64,
}

impl Amounts {
    fn stage_mut(&mut self, step: AidStep) -> Option<&mut f64> {
        match step {
            AidStep::Offer => Some(&mut self.offered),
            AidStep::Accept => Some(&mut self.accepted),
            AidStep::Commit => Some(&mut self.committed),
            AidStep::Dispatch => Some(&mut self.dispatched),
            AidStep::Arrive => Some(&mut self.arrived),
            _ => None,
        }
    }

    fn stage(&self, step: AidStep) -> f64 {
        match step {
            AidStep::Offer => self.offered,
            AidStep::Accept => self.accepted,
            AidStep::Commit => self.committed,
            AidStep::Dispatch => self.dispatched,
            AidStep::Arrive => self.arrived,
            _ => 0.0,
        }
    }

    fn add(&mut self, o: &Amounts) {
        self.offered += o.offered;
        self.accepted += o.accepted;
        self.committed += o.committed;
        self.dispatched += o.dispatched;
        self.arrived += o.arrived;
    }
}

/// One line of the thread with what every response added to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LineTotal {
    /// The line as the request (or the unsolicited offer) gave it.
    pub line: AidLine,
    /// Sums over every offer.
    pub amounts: Amounts,
}

/// One municipality in the thread: addressed, answering, or both.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Its key, when known (an addressed code nobody here holds has none).
    pub who: Option<NodeId>,
    /// Its municipality code, when known.
    pub code: String,
    /// Its display name.
    pub name: Option<String>,
    /// The request named it (or all partners, and it is one).
    pub addressed: bool,
    /// When its node stored the request (its signed receipt).
    pub received_at: Option<i64>,
    /// When a person there acknowledged reading it.
    pub read_at: Option<i64>,
    /// Its offer, if it made one.
    pub offer: Option<ObjectRef>,
    /// Its reason, if it declined.
    pub declined: Option<LocalizedText>,
    /// The furthest step of its offer.
    pub stage: Option<AidStep>,
    /// Per line of the thread: its quantities at each stage.
    pub amounts: Vec<Amounts>,
    /// Estimated arrival (latest the responder gave).
    pub eta: Option<i64>,
    /// It withdrew its offer.
    pub cancelled: bool,
}

/// What a thread adds up to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Thread {
    /// Its root: `<author>/<object id>`.
    pub root: ObjectRef,
    /// The request, or the unsolicited offer, if this node holds it.
    pub opening: Option<EntryView>,
    /// The opening's lines with the sums of every response.
    pub lines: Vec<LineTotal>,
    /// One row per addressed municipality and per responder.
    pub rows: Vec<Row>,
    /// The opener withdrew it.
    pub cancelled: bool,
    /// Every aid step but the opening, oldest first.
    pub steps: Vec<EntryView>,
    /// Replies on the thread, oldest first.
    pub replies: Vec<EntryView>,
}

/// Who a node is, for the thread's rows.
pub trait Who {
    /// The municipality code of `id`, if known.
    fn code(&self, id: &NodeId) -> Option<String>;
    /// The key holding `code`, if known.
    fn holder(&self, code: &str) -> Option<NodeId>;
    /// The display name of `id`.
    fn name(&self, id: &NodeId) -> Option<String>;
    /// Whether `a` and `b` both stated a mutual-aid partnership.
    fn mutual_aid(&self, a: &NodeId, b: &NodeId) -> bool;
}

fn aid(e: &EntryView) -> Option<&AidMessage> {
    match &e.body {
        Body::Aid(a) => Some(a),
        _ => None,
    }
}

fn object_ref(e: &EntryView) -> ObjectRef {
    ObjectRef::new(e.author, e.object_id.clone())
}

impl Thread {
    /// Derives the thread rooted at `root` from its aid entries, the
    /// acknowledgements of its opening and its replies.
    pub fn derive(
        root: ObjectRef,
        mut entries: Vec<EntryView>,
        acks: &[EntryView],
        mut replies: Vec<EntryView>,
        who: &dyn Who,
    ) -> Self {
        entries.sort_by_key(|e| (e.created_at, e.author, e.seq));
        replies.sort_by_key(|e| (e.created_at, e.author, e.seq));
        let pos = entries
            .iter()
            .position(|e| e.author == root.author && e.object_id == root.object_id);
        let opening = pos.map(|i| entries.remove(i));
        let open = opening.as_ref().and_then(aid);
        let opener = opening.as_ref().map(|e| e.author);
        let lines: Vec<LineTotal> = open
            .map(|a| {
                a.lines
                    .iter()
                    .map(|l| LineTotal {
                        line: l.clone(),
                        amounts: Amounts::default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let cancelled = entries.iter().any(|e| {
            Some(e.author) == opener
                && aid(e).is_some_and(|a| a.step == AidStep::Cancel && a.offer.is_none())
        });
        let unsolicited = open.is_some_and(|a| a.step == AidStep::Offer);

        let mut rows: Vec<Row> = Vec::new();
        let blank = |who_id: Option<NodeId>, code: String, addressed: bool| Row {
            name: who_id.and_then(|id| who.name(&id)),
            who: who_id,
            code,
            addressed,
            received_at: None,
            read_at: None,
            offer: None,
            declined: None,
            stage: None,
            amounts: vec![Amounts::default(); lines.len()],
            eta: None,
            cancelled: false,
        };
        // Addressed municipalities first, in the request's order.
        if let (Some(a), Some(opener)) = (open, opener) {
            if a.step == AidStep::Request {
                for code in &a.to {
                    let id = who.holder(code);
                    if rows.iter().any(|r| r.code == *code) {
                        continue;
                    }
                    rows.push(blank(id, code.clone(), true));
                }
                if a.to_partners {
                    let mut seen: Vec<NodeId> = rows.iter().filter_map(|r| r.who).collect();
                    for e in entries.iter().chain(acks) {
                        if e.author != opener
                            && !seen.contains(&e.author)
                            && who.mutual_aid(&opener, &e.author)
                        {
                            seen.push(e.author);
                            rows.push(blank(
                                Some(e.author),
                                who.code(&e.author).unwrap_or_default(),
                                true,
                            ));
                        }
                    }
                }
            } else {
                // An unsolicited offer: its author is the one row.
                rows.push(blank(
                    Some(opener),
                    who.code(&opener).unwrap_or_default(),
                    false,
                ));
                if let Some(r) = rows.last_mut() {
                    r.offer = opening.as_ref().map(object_ref);
                    r.stage = Some(AidStep::Offer);
                    r.eta = (a.eta > 0).then_some(a.eta);
                    for (i, l) in a.lines.iter().enumerate() {
                        r.amounts[i].offered = l.quantity;
                    }
                }
            }
        }
        let row_of = |rows: &mut Vec<Row>, id: NodeId| -> usize {
            if let Some(i) = rows.iter().position(|r| r.who == Some(id)) {
                return i;
            }
            let code = who.code(&id).unwrap_or_default();
            if let Some(i) = rows
                .iter()
                .position(|r| r.who.is_none() && !code.is_empty() && r.code == code)
            {
                rows[i].who = Some(id);
                rows[i].name = who.name(&id);
                return i;
            }
            rows.push(blank(Some(id), code, false));
            rows.len() - 1
        };
        for a in acks {
            if Some(a.author) == opener {
                continue;
            }
            let Body::Acknowledgement(ack) = &a.body else {
                continue;
            };
            let i = row_of(&mut rows, a.author);
            let slot = match ack.kind {
                AckKind::Received => &mut rows[i].received_at,
                _ => &mut rows[i].read_at,
            };
            *slot = Some(slot.map_or(a.created_at, |t: i64| t.min(a.created_at)));
            if ack.kind == AckKind::Read && rows[i].received_at.is_none() {
                rows[i].received_at = Some(a.created_at);
            }
        }
        // Offers and declines of responders; then the later steps, matched
        // to their offer.
        let mut offers: HashMap<ObjectRef, usize> = HashMap::new();
        if unsolicited {
            if let Some(o) = &opening {
                offers.insert(object_ref(o), 0);
            }
        }
        for e in &entries {
            let Some(a) = aid(e) else { continue };
            match a.step {
                AidStep::Offer if Some(e.author) != opener => {
                    let i = row_of(&mut rows, e.author);
                    let r = &mut rows[i];
                    r.offer = Some(object_ref(e));
                    r.stage = Some(AidStep::Offer);
                    r.declined = None;
                    r.eta = (a.eta > 0).then_some(a.eta);
                    let offered = contribution(&r.amounts, &lines, &a.lines, AidStep::Offer);
                    for (m, q) in r.amounts.iter_mut().zip(offered) {
                        m.offered = q;
                    }
                    // Answering is reading.
                    r.received_at.get_or_insert(e.created_at);
                    r.read_at.get_or_insert(e.created_at);
                    offers.insert(object_ref(e), i);
                }
                AidStep::Decline if Some(e.author) != opener => {
                    let i = row_of(&mut rows, e.author);
                    rows[i].declined = Some(a.note.clone());
                    rows[i].received_at.get_or_insert(e.created_at);
                    rows[i].read_at.get_or_insert(e.created_at);
                }
                _ => {}
            }
        }
        for e in &entries {
            let Some(a) = aid(e) else { continue };
            let Some(offer) = &a.offer else { continue };
            let Some(&i) = offers.get(offer) else {
                continue;
            };
            let r = &mut rows[i];
            let offerer = offer.author;
            let by_offerer = e.author == offerer;
            let fits = match a.step {
                AidStep::Commit | AidStep::Dispatch => by_offerer,
                AidStep::Accept | AidStep::Arrive | AidStep::Release => {
                    !by_offerer && (unsolicited || Some(e.author) == opener)
                }
                AidStep::Cancel => by_offerer,
                _ => false,
            };
            if !fits {
                continue;
            }
            match a.step {
                AidStep::Cancel => r.cancelled = true,
                AidStep::Release => r.stage = Some(AidStep::Release),
                step => {
                    // Never more than the stage before holds: a step out
                    // of order (a commit before any acceptance) adds
                    // nothing, whoever signed it.
                    let add = contribution(&r.amounts, &lines, &a.lines, step);
                    let mut added = false;
                    for (m, q) in r.amounts.iter_mut().zip(add) {
                        let room = (m.stage(previous(step)) - m.stage(step)).max(0.0);
                        let q = q.min(room);
                        if let Some(s) = m.stage_mut(step) {
                            *s += q;
                            added |= q > 0.0;
                        }
                    }
                    if !added {
                        continue;
                    }
                    if r.stage.is_none_or(|s| order(s) < order(step)) {
                        r.stage = Some(step);
                    }
                    if a.eta > 0 {
                        r.eta = Some(a.eta);
                    }
                }
            }
        }
        let mut lines = lines;
        for r in &rows {
            if r.cancelled {
                continue;
            }
            for (t, m) in lines.iter_mut().zip(&r.amounts) {
                t.amounts.add(m);
            }
        }
        Self {
            root,
            opening,
            lines,
            rows,
            cancelled,
            steps: entries,
            replies,
        }
    }

    /// The row of `id`.
    pub fn row(&self, id: &NodeId) -> Option<&Row> {
        self.rows.iter().find(|r| r.who.as_ref() == Some(id))
    }

    /// The row holding `offer`.
    pub fn offer_row(&self, offer: &ObjectRef) -> Option<&Row> {
        self.rows.iter().find(|r| r.offer.as_ref() == Some(offer))
    }

    /// The thread's opener.
    pub fn opener(&self) -> Option<NodeId> {
        self.opening.as_ref().map(|e| e.author)
    }

    /// Whether the thread is a request that addresses `id` (by code, or
    /// as a mutual-aid partner of the requester).
    pub fn addresses(&self, id: &NodeId, who: &dyn Who) -> bool {
        let (Some(o), Some(a)) = (&self.opening, self.opening.as_ref().and_then(aid)) else {
            return false;
        };
        if a.step != AidStep::Request {
            return false;
        }
        who.code(id).is_some_and(|c| a.to.contains(&c))
            || (a.to_partners && who.mutual_aid(&o.author, id))
    }

    /// Whether `actor` may publish `step` into this thread now; the reason
    /// when not.
    pub fn check(&self, actor: &NodeId, step: &AidMessage, who: &dyn Who) -> Result<(), Misfit> {
        use AidStep as S;
        if step.step == S::Request || (step.step == S::Offer && step.request.is_none()) {
            return Ok(());
        }
        let Some(open) = self.opening.as_ref().and_then(aid) else {
            return Err(Misfit::NotHeld {
                root: self.root.clone(),
            });
        };
        let opener = self.opener().expect("opening");
        let unsolicited = open.step == S::Offer;
        if self.cancelled {
            return Err(Misfit::Cancelled);
        }
        let offer_row = || {
            let o = step.offer.as_ref().expect("validated: names an offer");
            self.offer_row(o)
                .ok_or_else(|| Misfit::NoOffer { offer: o.clone() })
        };
        let check_amounts = |row: &Row, before: AidStep| -> Result<(), Misfit> {
            let add = contribution(&row.amounts, &self.lines, &step.lines, step.step);
            if add.iter().all(|q| *q <= 0.0) {
                return Err(Misfit::NothingLeft {
                    step: step.step,
                    bound: before,
                });
            }
            for (i, (m, q)) in row.amounts.iter().zip(&add).enumerate() {
                let (p, c) = (m.stage(before), m.stage(step.step));
                if c + q > p + 1e-9 {
                    let l = &self.lines[i].line;
                    return Err(Misfit::TooMuch {
                        line: i + 1,
                        what: l.what.get("ja").unwrap_or_default().to_owned(),
                        total: c + q,
                        limit: p,
                        bound: before,
                    });
                }
            }
            if step
                .lines
                .iter()
                .any(|l| l.answers_line as usize > self.lines.len())
            {
                return Err(Misfit::Rule(format!(
                    "answers_line: the thread has {} lines",
                    self.lines.len()
                )));
            }
            Ok(())
        };
        let rule = |s: &str| Misfit::Rule(s.to_owned());
        match step.step {
            S::Request => Ok(()),
            S::Offer | S::Decline => {
                if unsolicited {
                    return Err(rule("an offer nobody asked for is accepted, not answered"));
                }
                if *actor == opener {
                    return Err(rule("a municipality does not answer its own request"));
                }
                if !self.addresses(actor, who) {
                    return Err(Misfit::Rule(format!(
                        "this request is not addressed to you (it names {})",
                        if open.to.is_empty() {
                            "the requester's mutual-aid partners".to_owned()
                        } else {
                            open.to.join(", ")
                        }
                    )));
                }
                if step
                    .lines
                    .iter()
                    .any(|l| l.answers_line as usize > self.lines.len())
                {
                    return Err(Misfit::Rule(format!(
                        "answers_line: the request has {} lines",
                        self.lines.len()
                    )));
                }
                Ok(())
            }
            S::Accept => {
                let row = offer_row()?;
                if *actor == row.who.unwrap_or(opener) {
                    return Err(rule("an offer is accepted by the one it is made to"));
                }
                if !unsolicited && *actor != opener {
                    return Err(rule("only the requester accepts offers"));
                }
                if row.cancelled {
                    return Err(Misfit::OfferWithdrawn);
                }
                check_amounts(row, S::Offer)
            }
            S::Commit | S::Dispatch => {
                let row = offer_row()?;
                if row.who != Some(*actor) {
                    return Err(Misfit::Rule(format!(
                        "only the one who offered may {}",
                        step.step.name()
                    )));
                }
                let before = previous(step.step);
                if row.stage.is_none_or(|s| order(s) < order(before)) {
                    return Err(rule(match step.step {
                        S::Commit => "a commit needs an accepted offer",
                        _ => "a dispatch needs a commit",
                    }));
                }
                check_amounts(row, before)
            }
            S::Arrive | S::Release => {
                let row = offer_row()?;
                if row.who == Some(*actor) || (!unsolicited && *actor != opener) {
                    return Err(Misfit::Rule(format!(
                        "only the receiving side reports {}",
                        step.step.name()
                    )));
                }
                let needs = if step.step == S::Arrive {
                    S::Dispatch
                } else {
                    S::Commit
                };
                if row.stage.is_none_or(|s| order(s) < order(needs)) {
                    return Err(rule(match step.step {
                        S::Arrive => "an arrival needs a dispatch",
                        _ => "a release needs a commit",
                    }));
                }
                if step.step == S::Arrive {
                    check_amounts(row, S::Dispatch)
                } else {
                    Ok(())
                }
            }
            S::Cancel => match &step.offer {
                Some(_) => {
                    let row = offer_row()?;
                    if row.who != Some(*actor) {
                        return Err(rule("only the one who offered withdraws an offer"));
                    }
                    Ok(())
                }
                None if *actor == opener => Ok(()),
                None => Err(rule("only the requester cancels a request")),
            },
        }
    }
}

/// The stage a step's quantities are bounded by.
fn previous(step: AidStep) -> AidStep {
    match step {
        AidStep::Accept => AidStep::Offer,
        AidStep::Commit => AidStep::Accept,
        AidStep::Dispatch => AidStep::Commit,
        AidStep::Arrive => AidStep::Dispatch,
        other => other,
    }
}

fn order(step: AidStep) -> u8 {
    match step {
        AidStep::Request => 0,
        AidStep::Offer => 1,
        AidStep::Decline => 1,
        AidStep::Accept => 2,
        AidStep::Commit => 3,
        AidStep::Dispatch => 4,
        AidStep::Arrive => 5,
        AidStep::Release => 6,
        AidStep::Cancel => 7,
    }
}

/// What a step adds at its stage, per line of the thread: its lines, put
/// onto the thread's lines by `answers_line`, else by the same resource
/// and text; no lines: what the stage before holds and this stage does
/// not yet ("the rest").
fn contribution(
    amounts: &[Amounts],
    thread: &[LineTotal],
    lines: &[AidLine],
    step: AidStep,
) -> Vec<f64> {
    if lines.is_empty() {
        let before = previous(step);
        return amounts
            .iter()
            .map(|m| (m.stage(before) - m.stage(step)).max(0.0))
            .collect();
    }
    let mut out = vec![0.0; amounts.len()];
    for l in lines {
        let i = if l.answers_line > 0 {
            Some(l.answers_line as usize - 1)
        } else {
            thread
                .iter()
                .position(|t| t.line.resource == l.resource && same_text(&t.line.what, &l.what))
        };
        if let Some(i) = i.filter(|i| *i < out.len()) {
            out[i] += l.quantity;
        }
    }
    out
}

fn same_text(a: &LocalizedText, b: &LocalizedText) -> bool {
    a.0.iter().any(|(la, ta)| {
        b.0.iter()
            .any(|(lb, tb)| la == lb && ta.trim() == tb.trim())
    })
}

/// [`Who`] from what a node holds: codes and names from the read model,
/// partnerships from its index (asked once per pair and kind).
pub struct Directory<'a> {
    read: &'a ReadModel,
    codes: crate::model::Names,
    names: crate::model::Names,
    pairs: std::sync::Mutex<HashMap<(NodeId, NodeId, &'static str), bool>>,
    /// Partnerships as the index stands, without catching it up first.
    as_indexed: bool,
}

impl<'a> Directory<'a> {
    /// The directory of `read`; its partnership questions first index
    /// what arrived since the index last caught up.
    pub fn new(read: &'a ReadModel) -> Result<Self, QueryError> {
        Ok(Self {
            read,
            codes: read.codes()?,
            names: read.names()?,
            pairs: Default::default(),
            as_indexed: false,
        })
    }

    /// The directory of `read` as its index stands: for work that waited
    /// for the index ([`ReadModel::wait_indexed`]) and must not index on
    /// its own.
    pub fn as_indexed(read: &'a ReadModel) -> Result<Self, QueryError> {
        Ok(Self {
            as_indexed: true,
            ..Self::new(read)?
        })
    }

    /// Whether `a` and `b` both stated a partnership of `kind` (one of
    /// [`PARTNERSHIP_KINDS`]); `false` when the index cannot say.
    pub fn partners(&self, a: &NodeId, b: &NodeId, kind: &'static str) -> bool {
        let key = (*a, *b, kind);
        if let Some(v) = self.pairs.lock().expect("pairs lock").get(&key) {
            return *v;
        }
        let v = if self.as_indexed {
            self.read.partners_as_indexed(a, b, kind)
        } else {
            self.read.partners(a, b, kind)
        }
        .unwrap_or(false);
        self.pairs.lock().expect("pairs lock").insert(key, v);
        v
    }
}

/// The kinds of partnership a municipality states, as the index files them.
pub const PARTNERSHIP_KINDS: [&str; 4] = ["mutual_aid", "sister_city", "friendship", "network"];

impl Who for Directory<'_> {
    fn code(&self, id: &NodeId) -> Option<String> {
        self.codes.get(id).cloned()
    }
    fn holder(&self, code: &str) -> Option<NodeId> {
        let mut holders: Vec<&NodeId> = self
            .codes
            .iter()
            .filter(|(_, c)| *c == code)
            .map(|(id, _)| id)
            .collect();
        holders.sort();
        // A rotated identity: the current key.
        holders
            .into_iter()
            .map(|id| self.read.replica().current_key(id))
            .next()
    }
    fn name(&self, id: &NodeId) -> Option<String> {
        self.names.get(id).cloned()
    }
    fn mutual_aid(&self, a: &NodeId, b: &NodeId) -> bool {
        self.partners(a, b, "mutual_aid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yui_core::content::AidResource;
    use yui_core::SecretKey;

    struct Book(Vec<(NodeId, &'static str)>);
    impl Who for Book {
        fn code(&self, id: &NodeId) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| k == id)
                .map(|(_, c)| (*c).to_owned())
        }
        fn holder(&self, code: &str) -> Option<NodeId> {
            self.0.iter().find(|(_, c)| *c == code).map(|(k, _)| *k)
        }
        fn name(&self, _: &NodeId) -> Option<String> {
            None
        }
        fn mutual_aid(&self, _: &NodeId, _: &NodeId) -> bool {
            false
        }
    }

    fn id(n: u8) -> NodeId {
        NodeId::new(SecretKey::from_seed(&[n; 32]).public_key())
    }

    fn line(what: &str, q: f64) -> AidLine {
        AidLine {
            resource: if what == "保健師" {
                AidResource::Staff
            } else {
                AidResource::Supply
            },
            what: LocalizedText::one("ja", what),
            quantity: q,
            ..Default::default()
        }
    }

    fn view(author: NodeId, object_id: &str, at: i64, body: Body) -> EntryView {
        EntryView {
            sealed: None,
            author,
            author_name: None,
            seq: at as u64,
            id: String::new(),
            object_id: object_id.into(),
            created_at: at,
            expires_at: None,
            kind: body.kind().name().into(),
            version: 1,
            stale: false,
            partnership: None,
            acknowledged_by: Vec::new(),
            revoked: false,
            snippet: None,
            body,
        }
    }

    fn step(
        s: AidStep,
        req: &ObjectRef,
        offer: Option<&ObjectRef>,
        lines: Vec<AidLine>,
    ) -> AidMessage {
        AidMessage {
            step: s,
            request: Some(req.clone()),
            offer: offer.cloned(),
            lines,
            ..Default::default()
        }
    }

    /// 南伊豆町 asks 杉並区 and 札幌市 for 500 blankets and 2 nurses;
    /// quantities add up across offers, and steps out of order are refused
    /// with their reason.
    #[test]
    fn quantities_add_up_and_steps_keep_their_order() {
        let (izu, suginami, sapporo, stranger) = (id(1), id(2), id(3), id(4));
        let book = Book(vec![
            (izu, "223042"),
            (suginami, "131156"),
            (sapporo, "011002"),
            (stranger, "132012"),
        ]);
        let req = ObjectRef::new(izu, "aid-1");
        let request = AidMessage {
            step: AidStep::Request,
            lines: vec![line("毛布", 500.0), line("保健師", 2.0)],
            to: vec!["131156".into(), "011002".into()],
            ..Default::default()
        };
        let mut entries = vec![view(izu, "aid-1", 1, Body::Aid(request))];
        let thread = |entries: &Vec<EntryView>| {
            Thread::derive(req.clone(), entries.clone(), &[], Vec::new(), &book)
        };
        let t = thread(&entries);
        assert_eq!(t.rows.len(), 2);
        assert!(t.rows.iter().all(|r| r.addressed && r.offer.is_none()));

        let offer_s = step(
            AidStep::Offer,
            &req,
            None,
            vec![line("毛布", 300.0), line("保健師", 2.0)],
        );
        assert!(t.check(&suginami, &offer_s, &book).is_ok());
        let err = t.check(&stranger, &offer_s, &book).unwrap_err();
        assert!(err.to_string().contains("not addressed to you"), "{err}");
        let os = ObjectRef::new(suginami, "aid-s");
        let commit_early = step(AidStep::Commit, &req, Some(&os), Vec::new());
        entries.push(view(suginami, "aid-s", 2, Body::Aid(offer_s)));
        let offer_p = step(AidStep::Offer, &req, None, vec![line("毛布", 200.0)]);
        entries.push(view(sapporo, "aid-p", 3, Body::Aid(offer_p)));
        let op = ObjectRef::new(sapporo, "aid-p");
        let t = thread(&entries);
        assert_eq!(t.lines[0].amounts.offered, 500.0);
        assert_eq!(t.lines[1].amounts.offered, 2.0);
        let err = t.check(&suginami, &commit_early, &book).unwrap_err();
        assert!(err.to_string().contains("needs an accepted offer"), "{err}");
        let too_much = step(AidStep::Accept, &req, Some(&op), vec![line("毛布", 250.0)]);
        let err = t.check(&izu, &too_much, &book).unwrap_err();
        assert!(err.to_string().contains("more than was offered"), "{err}");
        let not_requester = step(AidStep::Accept, &req, Some(&op), Vec::new());
        assert!(t.check(&suginami, &not_requester, &book).is_err());

        entries.push(view(
            izu,
            "acc-s",
            4,
            Body::Aid(step(AidStep::Accept, &req, Some(&os), Vec::new())),
        ));
        entries.push(view(
            izu,
            "acc-p",
            5,
            Body::Aid(step(AidStep::Accept, &req, Some(&op), Vec::new())),
        ));
        let t = thread(&entries);
        assert!(t.check(&suginami, &commit_early, &book).is_ok());
        for (who, obj, s, at) in [
            (suginami, "c-s", AidStep::Commit, 6),
            (sapporo, "c-p", AidStep::Commit, 7),
            (suginami, "d-s", AidStep::Dispatch, 8),
        ] {
            let offer = if who == suginami { &os } else { &op };
            entries.push(view(
                who,
                obj,
                at,
                Body::Aid(step(s, &req, Some(offer), Vec::new())),
            ));
        }
        let t = thread(&entries);
        let arrive_p = step(AidStep::Arrive, &req, Some(&op), Vec::new());
        let err = t.check(&izu, &arrive_p, &book).unwrap_err();
        assert!(err.to_string().contains("needs a dispatch"), "{err}");
        entries.push(view(
            izu,
            "a-s",
            9,
            Body::Aid(step(AidStep::Arrive, &req, Some(&os), Vec::new())),
        ));
        let t = thread(&entries);
        assert_eq!(t.lines[0].amounts.committed, 500.0);
        assert_eq!(t.lines[0].amounts.dispatched, 300.0);
        assert_eq!(t.lines[0].amounts.arrived, 300.0);
        assert_eq!(t.lines[1].amounts.arrived, 2.0);
        assert_eq!(
            t.row(&suginami).and_then(|r| r.stage),
            Some(AidStep::Arrive)
        );
        assert_eq!(t.row(&sapporo).and_then(|r| r.stage), Some(AidStep::Commit));

        // Signed anyway by a node that skipped the checks: more than was
        // accepted, or by the wrong side, adds nothing.
        entries.push(view(
            sapporo,
            "c-p2",
            10,
            Body::Aid(step(
                AidStep::Commit,
                &req,
                Some(&op),
                vec![line("毛布", 999.0)],
            )),
        ));
        entries.push(view(
            stranger,
            "d-x",
            11,
            Body::Aid(step(AidStep::Dispatch, &req, Some(&op), Vec::new())),
        ));
        let t = thread(&entries);
        assert_eq!(t.lines[0].amounts.committed, 500.0);
        assert_eq!(t.lines[0].amounts.dispatched, 300.0);
    }
}
