//! Publishing on this node's behalf: one path for the admin API and for
//! staff in the browser, so both get the same checks and the same errors.
//!
//! Beyond the validity rules every node applies ([`yui_core::validate`]),
//! a step of an aid thread must fit the thread as this node holds it
//! ([`yui_read::aid::Thread::check`]), a reply must name an object this
//! node holds, and a retraction an object this node published. Aid steps
//! are checked and signed one at a time (a turn per node), so two staff
//! cannot commit the same accepted quantity twice.

use axum::http::StatusCode;
use yui_core::audience::{Readers, SealPart};
use yui_core::content::{AidMessage, ObjectRef};
use yui_core::Body;
use yui_read::aid::root_of;
use yui_sync::{PublishError, StoredEntry};

use crate::admin::{internal, AdminState, AppError};

/// Object ids when the publisher names none: one profile and one readiness
/// status per node, one partnership per partner and kind, one
/// acknowledgement per entry; a fresh id for everything else.
pub fn default_object_id(body: &Body) -> String {
    match body {
        Body::Profile(_) => "profile".into(),
        Body::Readiness(_) => "readiness".into(),
        Body::Partnership(p) => format!("partnership-{:?}-{}", p.kind, p.partner).to_lowercase(),
        Body::Acknowledgement(a) => match a.kind {
            yui_core::content::AckKind::Received => format!("received-{}", a.entry_id),
            _ => format!("ack-{}", a.entry_id),
        },
        Body::Endorsement(e) => format!("endorsement-{}", e.subject),
        Body::Revocation(r) => format!("revocation-{}", r.subject),
        Body::Aid(a) => new_object_id(&format!("aid-{}", a.step.name())),
        other => new_object_id(other.kind().name()),
    }
}

fn new_object_id(prefix: &str) -> String {
    use rand::Rng;
    let date = chrono::Utc::now().format("%Y%m%d");
    format!("{prefix}-{date}-{:08x}", rand::thread_rng().gen::<u32>())
}

fn refused(reason: impl Into<String>) -> AppError {
    AppError::new(StatusCode::CONFLICT, reason.into())
}

/// Checks `body` against what this node holds, then signs and stores it;
/// its contact goes to the node's `[privacy] contact_audience`.
pub async fn publish(
    s: &AdminState,
    object_id: Option<String>,
    body: Body,
    expires_at: Option<i64>,
) -> Result<StoredEntry, AppError> {
    publish_for(s, object_id, body, expires_at, &Readers::default()).await
}

/// [`publish`], with the publisher's choice of who reads its restricted
/// parts.
pub async fn publish_for(
    s: &AdminState,
    object_id: Option<String>,
    mut body: Body,
    expires_at: Option<i64>,
    readers: &Readers,
) -> Result<StoredEntry, AppError> {
    let object_id = object_id.unwrap_or_else(|| default_object_id(&body));
    let me = s.replica.id();
    let _turn = match &body {
        Body::Aid(_) => Some(s.aid_turn.lock().await),
        _ => None,
    };
    match &body {
        Body::Retraction(_) => {
            let versions = s
                .replica
                .store()
                .history(&me, &object_id)
                .map_err(internal)?;
            if versions.is_empty() {
                return Err(AppError::new(
                    StatusCode::NOT_FOUND,
                    format!("this node has published no object {object_id:?} to retract"),
                ));
            }
        }
        Body::Aid(a) => check_aid(s, &object_id, a.clone()).await?,
        Body::Withdrawal(w) => {
            for o in &w.objects {
                let held = s.replica.store().object(&me, o).map_err(internal)?;
                if held.is_none() {
                    return Err(AppError::new(
                        StatusCode::NOT_FOUND,
                        format!("this node has published no object {o:?} to withdraw"),
                    ));
                }
            }
        }
        Body::Reply(r) => {
            let read = s.read.clone();
            let about = r.about.clone();
            let held =
                tokio::task::spawn_blocking(move || read.object(&about.author, &about.object_id))
                    .await
                    .map_err(internal)?
                    .map_err(internal)?;
            if held.is_none_or(|e| e.kind == "retraction") {
                return Err(refused(format!(
                    "this node holds no object {} to reply to",
                    r.about
                )));
            }
        }
        _ => {}
    }
    let mut seal = None;
    if let Some(a) = &s.audiences {
        if let Body::Profile(p) = &mut body {
            p.audience_key = a.keyring().public_key().to_vec();
        }
        if let Some((audience, parts)) = restricted_parts(a, &body, readers)? {
            seal = Some(a.seal_with(&audience, parts).await.map_err(|e| match e {
                crate::audiences::AudienceError::Unknown(..) => {
                    AppError::new(StatusCode::BAD_REQUEST, e.to_string())
                }
                other => internal(other),
            })?);
        }
    } else if [&readers.contact, &readers.shelter_location]
        .into_iter()
        .flatten()
        .any(|c| c != "public")
    {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "this node has no keyring for restricted audiences".into(),
        ));
    }
    s.replica
        .publish_with(object_id, body, expires_at, seal)
        .await
        .map_err(|e| match e {
            PublishError::Invalid(_) => AppError::new(StatusCode::BAD_REQUEST, e.to_string()),
            PublishError::Forked(_) | PublishError::Held | PublishError::Rotated(_) => {
                AppError::new(StatusCode::CONFLICT, e.to_string())
            }
            other => internal(other),
        })
}

/// The audience `body`'s restricted parts go to and which parts they are;
/// `None` when everything in it is public.
fn restricted_parts(
    a: &crate::audiences::Audiences,
    body: &Body,
    readers: &Readers,
) -> Result<Option<(String, Vec<SealPart>)>, AppError> {
    let bad = |m: String| AppError::new(StatusCode::BAD_REQUEST, m);
    let has_contact = yui_read::index::contact_of(body).is_some_and(|c| *c != Default::default());
    let contact = a
        .contact_audience(body, readers.contact.as_deref())
        .filter(|_| has_contact);
    let shelter = a.shelter_audience(readers.shelter_location.as_deref());
    if shelter.is_some() {
        let Body::Readiness(r) = body else {
            return Err(bad(
                "shelter_audience: only a readiness status has a shelter".into(),
            ));
        };
        if r.shelter.as_ref().is_none_or(|s| s.location.0.is_empty()) {
            return Err(bad(
                "shelter_audience: this readiness status names no shelter location to restrict"
                    .into(),
            ));
        }
    }
    Ok(match (contact, shelter) {
        (None, None) => None,
        (Some(c), None) => Some((c, vec![SealPart::Contact])),
        (None, Some(l)) => Some((l, vec![SealPart::ShelterLocation])),
        (Some(c), Some(l)) if c == l => {
            Some((c, vec![SealPart::Contact, SealPart::ShelterLocation]))
        }
        (Some(c), Some(l)) => {
            return Err(bad(format!(
                "an entry is sealed for one audience: the contact would go to {c:?} and the shelter's location to {l:?}; choose the same for both, or make one public"
            )));
        }
    })
}

/// Refuses an aid step that does not fit its thread, with the reason.
async fn check_aid(s: &AdminState, object_id: &str, a: AidMessage) -> Result<(), AppError> {
    let me = s.replica.id();
    let read = s.read.clone();
    let object_id = object_id.to_owned();
    tokio::task::spawn_blocking(move || {
        let root: ObjectRef = root_of(&me, &object_id, &a);
        if root.author == me && root.object_id == object_id {
            return Ok(());
        }
        let who = yui_read::aid::Directory::new(&read).map_err(internal)?;
        let this = ObjectRef::new(me, object_id.clone());
        let thread = read
            .aid_thread_with(&root, &who, Some(&this))
            .map_err(internal)?;
        thread.check(&me, &a, &who).map_err(|m| AppError {
            misfit: Some(m.clone()),
            ..refused(m.to_string())
        })
    })
    .await
    .map_err(internal)?
}
