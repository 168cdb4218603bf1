//! Whom to ask for aid: municipalities with a mutual-aid agreement, whose
//! fresh readiness offers what is asked for, in another prefecture; those
//! under a hazard themselves are listed as excluded.

use serde::{Deserialize, Serialize};
use yui_core::content::AidLine;
use yui_core::{Body, LocalizedText, NodeId};

use super::{Directory, Who};
use crate::query::{Query, QueryError};
use crate::ReadModel;

/// A municipality worth asking, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suggestion {
    /// Its key.
    pub who: NodeId,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: Option<String>,
    /// Why it is suggested: `mutual_aid`, `offers:<what>`, `other_prefecture`.
    pub reasons: Vec<Reason>,
    /// Its alert level, from its fresh readiness.
    pub alert_level: Option<u32>,
    /// Not suggested: under a hazard itself (alert level 3 or above).
    pub excluded: bool,
}

/// One reason to ask (or not ask) a municipality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// Both stated a mutual-aid agreement (災害時相互応援協定).
    MutualAid,
    /// Its fresh readiness offers what is asked for.
    Offers {
        /// What.
        what: String,
        /// How many it offers.
        quantity: f64,
        /// Unit.
        unit: String,
    },
    /// In another prefecture: less likely under the same hazard.
    OtherPrefecture,
    /// Under alert level 3 or above itself.
    UnderAlert {
        /// Its level.
        level: u32,
    },
}

/// Alert level from which a municipality is taken to be under the hazard
/// itself (警戒レベル3: 高齢者等避難).
pub const HAZARD_LEVEL: u32 = 3;

fn matches_offer(line: &AidLine, offered: &LocalizedText) -> bool {
    line.what.0.iter().any(|(_, want)| {
        let want = crate::query::normalize(want.trim());
        !want.is_empty()
            && offered.0.iter().any(|(_, have)| {
                let have = crate::query::normalize(have.trim());
                have.contains(&want) || want.contains(&have)
            })
    })
}

impl ReadModel {
    /// Whom `me` might ask for `lines`: municipalities with a mutual-aid
    /// agreement, whose fresh readiness offers what is asked, in another
    /// prefecture; those under alert level [`HAZARD_LEVEL`] or above are
    /// listed as excluded. Best first, at most `cap`.
    pub fn suggest(
        &self,
        me: &NodeId,
        lines: &[AidLine],
        cap: usize,
    ) -> Result<Vec<Suggestion>, QueryError> {
        use yui_core::content::AidResource;
        let who = Directory::new(self)?;
        let my_pref: Option<String> = who.code(me).map(|c| c.chars().take(2).collect());
        let readiness = self.first(
            &Query {
                kind: Some("readiness".into()),
                stale: Some(false),
                ..Default::default()
            },
            5_000,
        )?;
        let mut out: Vec<(i64, Suggestion)> = Vec::new();
        let mut candidates: Vec<NodeId> = self.codes()?.keys().copied().collect();
        candidates.sort();
        for c in candidates {
            if c == *me || self.replica().is_revoked(&c) {
                continue;
            }
            let code = who.code(&c).unwrap_or_default();
            let mut reasons = Vec::new();
            let mut score = 0i64;
            if who.mutual_aid(me, &c) {
                reasons.push(Reason::MutualAid);
                score += 30;
            }
            let mut level = None;
            for r in readiness.iter().filter(|r| r.author == c) {
                let Body::Readiness(rd) = &r.body else {
                    continue;
                };
                if rd.exercise {
                    continue;
                }
                level = Some(level.unwrap_or(0).max(rd.alert_level));
                for l in lines {
                    let found: Option<(String, f64, String)> = match l.resource {
                        AidResource::Supply => rd
                            .supplies
                            .iter()
                            .find(|s| matches_offer(l, &s.item))
                            .map(|s| {
                                (
                                    s.item.get("ja").unwrap_or_default().to_owned(),
                                    s.quantity,
                                    s.unit.clone(),
                                )
                            }),
                        AidResource::Staff => rd
                            .staff
                            .iter()
                            .find(|s| matches_offer(l, &s.skill))
                            .map(|s| {
                                (
                                    s.skill.get("ja").unwrap_or_default().to_owned(),
                                    f64::from(s.count),
                                    "人".to_owned(),
                                )
                            }),
                        AidResource::Shelter => rd
                            .shelter
                            .as_ref()
                            .filter(|s| s.accepts_outside_evacuees && s.available > 0)
                            .map(|s| {
                                (
                                    s.location.get("ja").unwrap_or_default().to_owned(),
                                    f64::from(s.available),
                                    "人".to_owned(),
                                )
                            }),
                        AidResource::Money => None,
                    };
                    if let Some((what, quantity, unit)) = found {
                        score += 20;
                        reasons.push(Reason::Offers {
                            what,
                            quantity,
                            unit,
                        });
                    }
                }
            }
            let pref: String = code.chars().take(2).collect();
            if my_pref
                .as_ref()
                .is_some_and(|p| !code.is_empty() && *p != pref)
            {
                reasons.push(Reason::OtherPrefecture);
                score += 5;
            }
            let excluded = level.is_some_and(|l| l >= HAZARD_LEVEL);
            if excluded {
                reasons.push(Reason::UnderAlert {
                    level: level.unwrap_or(0),
                });
                score -= 100;
            }
            if reasons.is_empty() {
                continue;
            }
            out.push((
                score,
                Suggestion {
                    name: who.name(&c),
                    who: c,
                    code,
                    reasons,
                    alert_level: level,
                    excluded,
                },
            ));
        }
        out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.code.cmp(&b.1.code)));
        Ok(out.into_iter().take(cap).map(|(_, s)| s).collect())
    }
}
