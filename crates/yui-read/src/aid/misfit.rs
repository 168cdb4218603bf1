//! [`Misfit`]: why an aid step does not fit its thread, and the English
//! the API and the command line say it in.

use serde::{Deserialize, Serialize};
use yui_core::content::{AidStep, ObjectRef};

/// Why an aid step does not fit its thread ([`Thread::check`]). Its
/// `Display` is the English the API and the command line give; pages say
/// the ones staff meet through the forms in the reader's language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "misfit", rename_all = "snake_case")]
pub enum Misfit {
    /// This node does not hold the thread's request or offer yet.
    NotHeld {
        /// The thread.
        root: ObjectRef,
    },
    /// The request was cancelled.
    Cancelled,
    /// The offer the step names is not in the thread.
    NoOffer {
        /// The offer named.
        offer: ObjectRef,
    },
    /// The offer was withdrawn.
    OfferWithdrawn,
    /// Every line is already at this step's stage.
    NothingLeft {
        /// The step.
        step: AidStep,
        /// The stage that bounds it.
        bound: AidStep,
    },
    /// A line would go past what the stage before allows.
    TooMuch {
        /// The line, from 1.
        line: usize,
        /// What the line asks for (its Japanese text).
        what: String,
        /// The line's total with this step.
        total: f64,
        /// What the stage before allows.
        limit: f64,
        /// The stage that bounds it.
        bound: AidStep,
    },
    /// Any other rule: who may take which step, in which order.
    Rule(String),
}

impl std::fmt::Display for Misfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Misfit::NotHeld { root } => write!(
                f,
                "this node holds no request or offer {root}; wait until it has arrived"
            ),
            Misfit::Cancelled => f.write_str("the request was cancelled"),
            Misfit::NoOffer { offer } => write!(f, "there is no offer {offer} in this thread"),
            Misfit::OfferWithdrawn => f.write_str("the offer was withdrawn"),
            Misfit::NothingLeft { step, bound } => write!(
                f,
                "nothing left to {}: all that was {} is {} already",
                step.name(),
                bound_word(*bound),
                stage_word(*step)
            ),
            Misfit::TooMuch {
                line,
                what,
                total,
                limit,
                bound,
            } => write!(
                f,
                "line {line} ({what}): {total} in all is more than was {} ({limit})",
                bound_word(*bound)
            ),
            Misfit::Rule(s) => f.write_str(s),
        }
    }
}

/// The stage a quantity was reached at, in the English of a refusal.
fn bound_word(step: AidStep) -> &'static str {
    match step {
        AidStep::Offer => "offered",
        AidStep::Accept => "accepted",
        AidStep::Commit => "committed",
        AidStep::Dispatch => "dispatched",
        _ => "done",
    }
}

fn stage_word(step: AidStep) -> &'static str {
    match step {
        AidStep::Accept => "accepted",
        AidStep::Commit => "committed",
        AidStep::Dispatch => "dispatched",
        AidStep::Arrive => "arrived",
        _ => "done",
    }
}
