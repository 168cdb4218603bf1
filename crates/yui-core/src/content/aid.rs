//! Mutual aid (OASIS EDXL-RM 1.0): the steps of a thread, its lines and
//! the message every step is.

use serde::{Deserialize, Serialize};

use super::{LocalizedText, ObjectRef};

/// A step of a mutual-aid thread (OASIS EDXL-RM 1.0 message types).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AidStep {
    /// RequestResource.
    #[default]
    Request,
    /// ResponseToRequestResource with an offer, or OfferUnsolicitedResource.
    Offer,
    /// ResponseToRequestResource declining.
    Decline,
    /// RequisitionResource: the requester accepts an offer.
    Accept,
    /// CommitResource: the responder commits what was accepted.
    Commit,
    /// Dispatched (responder).
    Dispatch,
    /// Arrived (requester).
    Arrive,
    /// ReleaseResource: staff go home, lent things go back (requester).
    Release,
    /// The author withdraws its request or its offer.
    Cancel,
}

impl AidStep {
    /// Every step, in thread order.
    pub const ALL: [AidStep; 9] = [
        AidStep::Request,
        AidStep::Offer,
        AidStep::Decline,
        AidStep::Accept,
        AidStep::Commit,
        AidStep::Dispatch,
        AidStep::Arrive,
        AidStep::Release,
        AidStep::Cancel,
    ];

    /// The lower-case name used in the API and CLI.
    pub fn name(self) -> &'static str {
        match self {
            AidStep::Request => "request",
            AidStep::Offer => "offer",
            AidStep::Decline => "decline",
            AidStep::Accept => "accept",
            AidStep::Commit => "commit",
            AidStep::Dispatch => "dispatch",
            AidStep::Arrive => "arrive",
            AidStep::Release => "release",
            AidStep::Cancel => "cancel",
        }
    }

    /// The EDXL-RM 1.0 message type it corresponds to.
    pub fn edxl(self) -> &'static str {
        match self {
            AidStep::Request => "RequestResource",
            AidStep::Offer => "ResponseToRequestResource",
            AidStep::Decline => "ResponseToRequestResource",
            AidStep::Accept => "RequisitionResource",
            AidStep::Commit => "CommitResource",
            AidStep::Dispatch | AidStep::Arrive => "ReportResourceDeploymentStatus",
            AidStep::Release => "ReleaseResource",
            AidStep::Cancel => "RequestReturn",
        }
    }
}

impl std::str::FromStr for AidStep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AidStep::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown aid step {s:?}"))
    }
}

/// What kind of help a line is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AidResource {
    /// Items.
    #[default]
    Supply,
    /// Staff by 職種.
    Staff,
    /// Money.
    Money,
    /// Places for evacuees.
    Shelter,
}

/// One thing asked for or offered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AidLine {
    /// Supply, staff, money or shelter.
    pub resource: AidResource,
    /// The item, the 職種, the purpose, the kind of place.
    pub what: LocalizedText,
    /// Items, persons, yen or places.
    pub quantity: f64,
    /// Unit (`枚`, `pcs`, `JPY`).
    pub unit: String,
    /// Staff: days of deployment.
    pub days: u32,
    /// 1-based number of the request's line this answers (0 = none).
    pub answers_line: u32,
}

/// One step of a mutual-aid thread.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AidMessage {
    /// Which step.
    pub step: AidStep,
    /// The thread's request (none on a request or an unsolicited offer).
    pub request: Option<ObjectRef>,
    /// The offer the step is about.
    pub offer: Option<ObjectRef>,
    /// What is asked for, offered, accepted, committed, sent, arrived.
    pub lines: Vec<AidLine>,
    /// Municipality codes addressed.
    pub to: Vec<String>,
    /// Addressed to every mutual-aid partner.
    pub to_partners: bool,
    /// Needed by (Unix ms; 0 = as soon as possible).
    pub needed_by: i64,
    /// Where to deliver or report.
    pub deliver_to: LocalizedText,
    /// Estimated arrival (Unix ms; 0 = unknown).
    pub eta: i64,
    /// Remarks; the reason of a decline or a cancel.
    pub note: LocalizedText,
    /// A drill (訓練).
    pub exercise: bool,
}
