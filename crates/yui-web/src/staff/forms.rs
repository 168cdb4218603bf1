//! Posted forms: every field as sent (repeated names kept), bounded, and
//! the errors shown beside the fields they belong to.

use std::collections::HashMap;

use axum::body::Bytes;

/// Largest form accepted (a case with long texts in several languages).
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// A posted form.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &Bytes) -> Result<Self, String> {
        if body.len() > MAX_FORM_BYTES {
            return Err(format!("the form is over {} KiB", MAX_FORM_BYTES / 1024));
        }
        Ok(Self(
            form_urlencoded::parse(body)
                .into_owned()
                .take(512)
                .collect(),
        ))
    }

    /// The first value of `name`, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// The first value of `name` as sent (passwords are not trimmed).
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Whether a checkbox or button `name` was sent.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    }
}

/// Errors by form field name, in the reader's language.
#[derive(Debug, Clone, Default)]
pub struct Errors(pub HashMap<String, String>);

impl Errors {
    /// The error of `field`, if any.
    pub fn of(&self, field: &str) -> Option<&String> {
        self.0.get(field)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one.
    pub fn put(&mut self, field: &str, msg: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| msg.into());
    }
}
