//! `/staff/publish/{kind}`: forms to publish and update events, cases,
//! calls for partners and readiness, with Japanese and English texts, a
//! preview, and errors beside the field in the reader's language;
//! `/staff/reply` and `/staff/retract`.
//!
//! Each form is a list of [`Spec`]s rendered by one template; a kind's
//! `build` turns the posted fields into a body (or errors by field) and
//! its `fill` turns the current version back into fields for an update
//! (both in `publish/fields.rs`).
//! The node then applies the same checks as its admin API.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use yui_core::content::{ObjectRef, Reply, Retraction};
use yui_core::{Body, LocalizedText};

mod fields;

use fields::{build, fill, kind_of, specs};
pub use fields::{Input, Spec};

use super::desk::require;
use super::forms::Errors;
use super::{see_other, Ctx, Staff};
use crate::chrome::Chrome;
use crate::i18n::Words;
use crate::text::segment;
use crate::{html, status, Req, Site, WebError};

/// One field as the template shows it.
#[derive(Debug, Clone)]
struct FieldView {
    name: &'static str,
    label: String,
    help: String,
    input: Input,
    required: bool,
    lang: &'static str,
    value: String,
    error: Option<String>,
    options: Vec<(String, String, bool)>,
}

impl FieldView {
    /// The field's ARIA attributes: invalid when refused, and described by
    /// its help and its error (screen readers read both on focus). The ids
    /// are the field's static name, so the text needs no escaping.
    fn aria(&self) -> String {
        let mut by = Vec::new();
        if !self.help.is_empty() {
            by.push(format!("{}-help", self.name));
        }
        if self.error.is_some() {
            by.push(format!("{}-error", self.name));
        }
        let mut out = String::new();
        if self.error.is_some() {
            out.push_str(" aria-invalid=\"true\"");
        }
        if !by.is_empty() {
            out.push_str(&format!(" aria-describedby=\"{}\"", by.join(" ")));
        }
        out
    }
}

#[derive(Template)]
#[template(path = "staff_publish.html")]
struct PublishPage {
    c: Chrome,
    kind: String,
    heading: String,
    csrf: String,
    object_id: String,
    fields: Vec<FieldView>,
    preview: Vec<(String, String)>,
    error: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn page(
    site: &Site,
    req: &Req,
    staff: &Staff,
    kind: &str,
    object_id: &str,
    values: &HashMap<String, String>,
    errors: &Errors,
    preview: bool,
    error: Option<String>,
) -> Result<Response, WebError> {
    let w = req.words();
    let heading = if object_id.is_empty() {
        w.get(&format!("staff-publish-{kind}"))
    } else {
        w.named("staff-update", &w.get(&format!("staff-publish-{kind}")))
    };
    let c = Chrome::new(site, req, "", heading.clone())?.signed_in(Some(staff));
    let specs = specs(kind).ok_or(WebError::NotFound)?;
    let dir = site.directory()?;
    let me = site.read.replica().id();
    let members: Vec<(String, String)> = dir
        .all()
        .filter_map(|m| m.id.filter(|id| *id != me).map(|id| (id, m)))
        .map(|(id, m)| {
            let name = crate::text::Text::of(&m.name, c.lang).text;
            (
                id.to_string(),
                if m.code.is_empty() {
                    name
                } else {
                    format!("{name} ({})", m.code)
                },
            )
        })
        .collect();
    let fields: Vec<FieldView> = specs
        .into_iter()
        .map(|s| {
            let value = values.get(s.name).cloned().unwrap_or_else(|| match s.name {
                "valid_hours" => "6".into(),
                _ => String::new(),
            });
            let value = match s.input {
                Input::Suggest => crate::pages::category_label(&w, &value),
                _ => value,
            };
            let options = match &s.input {
                Input::Select(o) if s.name == "partner" && o.is_empty() => members
                    .iter()
                    .map(|(id, label)| (id.clone(), label.clone(), *id == value))
                    .collect(),
                Input::Select(o) => o
                    .iter()
                    .map(|(v, id)| (v.clone(), w.get(id), *v == value))
                    .collect(),
                Input::Suggest => crate::pages::category_suggestions(&w)
                    .into_iter()
                    .map(|(v, label)| (v, label, false))
                    .collect(),
                _ => Vec::new(),
            };
            let help_id = format!("{}-help", s.label);
            let help = if w.has(&help_id) {
                w.get(&help_id)
            } else {
                String::new()
            };
            FieldView {
                label: label_of(&w, &s),
                help,
                error: errors.of(s.name).cloned(),
                name: s.name,
                input: s.input,
                required: s.required,
                lang: s.lang,
                value,
                options,
            }
        })
        .collect();
    let preview = if preview && errors.is_empty() {
        fields
            .iter()
            .filter(|f| !f.value.is_empty())
            .map(|f| {
                let v = f
                    .options
                    .iter()
                    .find(|o| o.2)
                    .map(|o| o.1.clone())
                    .unwrap_or_else(|| f.value.clone());
                (f.label.clone(), v)
            })
            .collect()
    } else {
        Vec::new()
    };
    let r = html(
        req.lang,
        PublishPage {
            c,
            kind: kind.to_owned(),
            heading,
            csrf: staff.csrf.clone(),
            object_id: object_id.to_owned(),
            fields,
            preview,
            error,
        }
        .render()?,
    );
    Ok(if errors.is_empty() {
        r
    } else {
        status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, r)
    })
}

fn allowed(site: &Site, req: &Req, staff: &Staff, kind: &str) -> Result<(), Box<Response>> {
    match kind_of(kind) {
        None => Err(Box::new(crate::pages::error_page(
            site,
            req,
            &WebError::NotFound,
        ))),
        Some(k) if !staff.may(k) => Err(Box::new(status(
            axum::http::StatusCode::FORBIDDEN,
            crate::pages::error_page(
                site,
                req,
                &WebError::Bad(req.words().named("staff-role-may-not", &staff.role)),
            ),
        ))),
        Some(_) => Ok(()),
    }
}

/// `GET /staff/publish/{kind}` (`?id=` updates one of this node's objects).
pub async fn form(
    State(site): State<Arc<Site>>,
    req: Req,
    cx: Ctx,
    Path(kind): Path<String>,
) -> Response {
    let staff = match require(&site, &req, &cx) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Err(r) = allowed(&site, &req, &staff, &kind) {
        return *r;
    }
    crate::render(site, req, move |site, req| {
        req.only(&["id"])?;
        let object_id = req.param("id").unwrap_or_default().to_owned();
        let values = if object_id.is_empty() {
            HashMap::new()
        } else {
            let me = site.read.replica().id();
            let mut e = site
                .read
                .object(&me, &object_id)?
                .ok_or(WebError::NotFound)?;
            if Some(e.body.kind()) != kind_of(&kind) {
                return Err(WebError::NotFound);
            }
            // The form starts from the version as written, its restricted
            // contact included, and keeps who reads it.
            site.read.reveal(std::slice::from_mut(&mut e))?;
            let mut m = fill(&e.body);
            let contact = yui_read::index::contact_of(&e.body);
            let audience = match &e.sealed {
                Some(s) => s.audience.clone(),
                None if contact.is_some_and(|c| *c != Default::default()) => "public".into(),
                None => String::new(),
            };
            m.insert("contact_audience".into(), audience);
            let shelter = match &e.sealed {
                Some(s) if s.holds(yui_core::audience::SealPart::ShelterLocation) => {
                    s.audience.clone()
                }
                _ => "public".into(),
            };
            m.insert("shelter_audience".into(), shelter);
            m
        };
        page(
            site,
            req,
            &staff,
            &kind,
            &object_id,
            &values,
            &Errors::default(),
            false,
            None,
        )
    })
    .await
}

/// Maps the node's field name (`event.start`) to the form's.
fn form_field(kind: &str, field: &str) -> Option<&'static str> {
    let tail = field.split_once('.').map_or(field, |(_, t)| t);
    let tail = tail.split('.').next().unwrap_or(tail);
    specs(kind)?
        .into_iter()
        .map(|s| s.name)
        .find(|n| *n == tail || n.trim_end_matches("_ja") == tail)
}

/// A field's label as the form shows it.
fn label_of(w: &Words, s: &Spec) -> String {
    w.get(&s.label) + if s.lang == "en" { " (English)" } else { "" }
}

/// The label of form field `name` of `kind`.
fn field_label(w: &Words, kind: &str, name: &str) -> String {
    specs(kind)
        .unwrap_or_default()
        .iter()
        .find(|s| s.name == name)
        .map_or_else(|| name.to_owned(), |s| label_of(w, s))
}

/// `POST /staff/publish/{kind}`: `preview` shows what would be published;
/// `publish` signs it.
pub async fn submit(
    State(site): State<Arc<Site>>,
    req: Req,
    cx: Ctx,
    Path(kind): Path<String>,
    body: Bytes,
) -> Response {
    let (staff, f) = match super::posted(&site, &req, &cx, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if let Err(r) = allowed(&site, &req, &staff, &kind) {
        return *r;
    }
    let object_id = f.get("object_id").to_owned();
    let values: HashMap<String, String> = specs(&kind)
        .unwrap_or_default()
        .iter()
        .map(|s| (s.name.to_owned(), f.get(s.name).to_owned()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let me = site.read.replica().id();
    let previous = if object_id.is_empty() {
        None
    } else {
        site.read
            .object(&me, &object_id)
            .ok()
            .flatten()
            .map(|mut e| {
                let _ = site.read.reveal(std::slice::from_mut(&mut e));
                e.body
            })
    };
    let w = req.words();
    let built = build(&kind, &f, &w, previous.as_ref());
    let (st, k, o) = (staff.clone(), kind.clone(), object_id.clone());
    let built = match built {
        Err(errors) => {
            return crate::render(site, req, move |site, req| {
                page(site, req, &st, &k, &o, &values, &errors, false, None)
            })
            .await
        }
        Ok(b) if !f.has("publish") => {
            let _ = b;
            return crate::render(site, req, move |site, req| {
                page(
                    site,
                    req,
                    &st,
                    &k,
                    &o,
                    &values,
                    &Errors::default(),
                    true,
                    None,
                )
            })
            .await;
        }
        Ok(b) => b,
    };
    let ws = site.workspace.clone().expect("required above");
    let id = (!object_id.is_empty()).then(|| object_id.clone());
    let chosen = |name: &str| Some(f.get(name).to_owned()).filter(|a| !a.is_empty());
    let readers = yui_core::audience::Readers {
        contact: chosen("contact_audience"),
        shelter_location: chosen("shelter_audience"),
    };
    match ws.publish(&staff, cx.addr, id, built, readers).await {
        Ok(p) => {
            let base = match kind.as_str() {
                "event" => "events",
                "case" => "cases",
                _ => "entries",
            };
            see_other(&format!("/{base}/{me}/{}", segment(&p.object_id)))
        }
        Err(r) => {
            let mut errors = Errors::default();
            // A refusal that names a field of the form is said in the
            // reader's language, beside the field and in the banner;
            // another keeps the node's own words.
            let msg = match r.field.as_deref().and_then(|x| form_field(&kind, x)) {
                Some(name) => {
                    let reason = super::aid::field_text(&req, &r);
                    errors.put(name, reason.clone());
                    w.with(
                        "staff-refused-field",
                        &[
                            ("field", field_label(&w, &kind, name).into()),
                            ("reason", reason.into()),
                        ],
                    )
                }
                None => super::aid::refusal_text(&req, &r),
            };
            crate::render(site, req, move |site, req| {
                page(site, req, &st, &k, &o, &values, &errors, false, Some(msg))
            })
            .await
        }
    }
}

/// `POST /staff/reply`.
pub async fn reply(State(site): State<Arc<Site>>, req: Req, cx: Ctx, body: Bytes) -> Response {
    let (staff, f) = match super::posted(&site, &req, &cx, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let Ok(about) = f.get("about").parse::<ObjectRef>() else {
        return crate::pages::error_page(
            &site,
            &req,
            &WebError::Bad("about: not <author>/<object id>".into()),
        );
    };
    let text = f.get("text");
    if text.is_empty() {
        return crate::pages::error_page(
            &site,
            &req,
            &WebError::Bad(req.words().get("staff-required")),
        );
    }
    let body = Body::Reply(Reply {
        about: about.clone(),
        in_reply_to: None,
        text: LocalizedText::one(req.lang.tag(), text),
        exercise: f.has("exercise"),
    });
    let ws = site.workspace.clone().expect("required above");
    let is_aid = matches!(
        site.read.object(&about.author, &about.object_id),
        Ok(Some(e)) if e.kind == "aid"
    );
    match ws
        .publish(&staff, cx.addr, None, body, Default::default())
        .await
    {
        Ok(_) => {
            let base = if is_aid { "aid" } else { "entries" };
            see_other(&format!(
                "/{base}/{}/{}#replies",
                about.author,
                segment(&about.object_id)
            ))
        }
        Err(r) => crate::pages::error_page(
            &site,
            &req,
            &WebError::Bad(super::aid::refusal_text(&req, &r)),
        ),
    }
}

/// `POST /staff/retract`: withdraws one of this node's objects.
pub async fn retract(State(site): State<Arc<Site>>, req: Req, cx: Ctx, body: Bytes) -> Response {
    let (staff, f) = match super::posted(&site, &req, &cx, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let object_id = f.get("object_id").to_owned();
    let me = site.read.replica().id();
    let Some(current) = site.read.object(&me, &object_id).ok().flatten() else {
        return crate::pages::error_page(&site, &req, &WebError::NotFound);
    };
    if !staff.may(current.body.kind()) {
        return status(
            axum::http::StatusCode::FORBIDDEN,
            crate::pages::error_page(
                &site,
                &req,
                &WebError::Bad(req.words().named("staff-role-may-not", &staff.role)),
            ),
        );
    }
    let reason = f.get("reason");
    let body = Body::Retraction(Retraction {
        reason: if reason.is_empty() {
            LocalizedText::default()
        } else {
            LocalizedText::one(req.lang.tag(), reason)
        },
    });
    let ws = site.workspace.clone().expect("required above");
    match ws
        .publish(
            &staff,
            cx.addr,
            Some(object_id.clone()),
            body,
            Default::default(),
        )
        .await
    {
        Ok(_) => see_other(&format!("/entries/{me}/{}", segment(&object_id))),
        Err(r) => crate::pages::error_page(
            &site,
            &req,
            &WebError::Bad(super::aid::refusal_text(&req, &r)),
        ),
    }
}
