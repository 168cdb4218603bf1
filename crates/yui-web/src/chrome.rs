//! What every page has around its content: the language, the navigation,
//! the language switcher, the alert banner, the stylesheet link.

use yui_core::content::ProfileKind;

use crate::i18n::{Lang, Words, LANGS};
use crate::text::Text;
use crate::{Req, Site, WebError};

/// One link of the navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Where it goes.
    pub href: String,
    /// What it says.
    pub label: String,
    /// This page.
    pub current: bool,
}

/// One language of the switcher.
#[derive(Debug, Clone)]
pub struct LangLink {
    /// This page in that language.
    pub href: String,
    /// BCP 47 tag.
    pub tag: &'static str,
    /// Its own name.
    pub name: &'static str,
    /// The language shown.
    pub current: bool,
}

/// A municipality at alert level 3 or above (the banner).
#[derive(Debug, Clone)]
pub struct Alerting {
    /// Its name.
    pub name: Text,
    /// Its page.
    pub href: String,
    /// Level.
    pub level: u32,
    /// The level's CSS class.
    pub class: &'static str,
    /// The level's name.
    pub level_name: String,
    /// A drill.
    pub exercise: bool,
}

/// The frame of a page.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The reader's language.
    pub lang: Lang,
    /// Words in it.
    pub words: Words,
    /// The page's title.
    pub title: String,
    /// The node's name.
    pub site: String,
    /// The navigation.
    pub nav: Vec<NavItem>,
    /// The language switcher.
    pub langs: Vec<LangLink>,
    /// Fresh readiness at level 3 or above, most urgent first.
    pub alerts: Vec<Alerting>,
    /// More of them than the banner names.
    pub alerts_more: u64,
    /// Refresh the page after this many seconds (the board).
    pub refresh: Option<u32>,
    /// The stylesheet's URL.
    pub css: String,
    /// The signed-in staff member: name shown and the form token.
    pub staff: Option<(String, String)>,
    /// Carry `lang=` on links.
    explicit: bool,
}

impl Chrome {
    /// The frame of a page titled `title` at navigation section `section`,
    /// with the alert banner.
    pub fn new(site: &Site, req: &Req, section: &str, title: String) -> Result<Self, WebError> {
        let mut c = Self::framed(site, req, section, title);
        (c.alerts, c.alerts_more) = alerting(site, req.lang, &c)?;
        Ok(c)
    }

    /// The frame without the banner (error pages: the store may be what
    /// failed).
    pub fn bare(site: &Site, req: &Req, title: String) -> Self {
        Self::framed(site, req, "", title)
    }

    fn framed(site: &Site, req: &Req, section: &str, title: String) -> Self {
        let w = req.words();
        let sections = [
            ("/", "nav-home"),
            ("/calendar", "nav-calendar"),
            ("/board", "nav-board"),
            ("/cases", "nav-cases"),
            ("/calls", "nav-calls"),
            ("/network", "nav-network"),
        ];
        let mut c = Chrome {
            lang: req.lang,
            words: w,
            title,
            site: site.options.name.clone(),
            nav: Vec::new(),
            langs: Vec::new(),
            alerts: Vec::new(),
            alerts_more: 0,
            refresh: None,
            css: format!("/assets/yui.css?v={}", crate::assets::version()),
            staff: None,
            explicit: req.explicit,
        };
        c.nav = sections
            .iter()
            .map(|(path, id)| NavItem {
                href: c.href(path),
                label: w.get(id),
                current: *path == section,
            })
            .collect();
        c.langs = LANGS
            .iter()
            .map(|l| {
                let mut pairs: Vec<(&str, &str)> = req
                    .params
                    .iter()
                    .filter(|(k, _)| k != "lang" && k != "cursor")
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                pairs.push(("lang", l.tag()));
                LangLink {
                    href: format!("{}{}", req.path, crate::text::query_string(&pairs)),
                    tag: l.tag(),
                    name: l.native_name(),
                    current: *l == req.lang,
                }
            })
            .collect();
        c
    }

    /// Shows who is signed in (and the sign-out button) in the header.
    pub fn signed_in(mut self, staff: Option<&crate::staff::Staff>) -> Self {
        self.staff = staff.map(|s| (s.display.clone(), s.csrf.clone()));
        self
    }

    /// The reader chose the language (`?lang=`): forms carry it on.
    pub fn explicit(&self) -> bool {
        self.explicit
    }

    /// Message `id` in the reader's language.
    pub fn t(&self, id: &str) -> String {
        self.words.get(id)
    }

    /// "Page 2 of 5".
    pub fn page_of(
        &self,
        page: impl std::borrow::Borrow<usize>,
        pages: impl std::borrow::Borrow<usize>,
    ) -> String {
        self.words.with(
            "pager-of",
            &[
                ("page", (*page.borrow() as i64).into()),
                ("pages", (*pages.borrow() as i64).into()),
            ],
        )
    }

    /// Message `id` with a count `$n` (templates pass references).
    pub fn n(&self, id: &str, n: impl std::borrow::Borrow<i64>) -> String {
        self.words.n(id, *n.borrow())
    }

    /// A link to `path` on this node, carrying the chosen language.
    pub fn href(&self, path: &str) -> String {
        if !self.explicit {
            return path.to_owned();
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}lang={}", self.lang.tag())
    }
}

/// Municipalities the banner names at most (it links to the board).
const BANNER: usize = 8;

/// Fresh readiness at level 3 or above, most urgent first (bounded: the
/// banner lists a handful and links to the board). The highest levels are
/// asked for first, so a level 5 is never left out for level 3s.
fn alerting(site: &Site, lang: Lang, c: &Chrome) -> Result<(Vec<Alerting>, u64), WebError> {
    let dir = site.directory()?;
    let w = Words(lang);
    let mut out = Vec::new();
    let mut total = 0;
    for level in [5, 4, 3] {
        let q = yui_read::query::Query {
            kind: Some("readiness".into()),
            alert_level: Some(level),
            stale: Some(false),
            limit: Some(BANNER.saturating_sub(out.len()).max(1)),
            ..Default::default()
        };
        let page = site.read.query(&q)?;
        total += page.total;
        for e in &page.items {
            if out.len() >= BANNER {
                break;
            }
            if let yui_core::Body::Readiness(r) = &e.body {
                out.push(Alerting {
                    name: dir.name(&e.author, lang),
                    href: c.href(&format!("/m/{}", e.author)),
                    level: r.alert_level,
                    class: crate::format::alert_class(r.alert_level),
                    level_name: crate::format::alert_name(&w, r.alert_level),
                    exercise: r.exercise,
                });
            }
        }
    }
    let more = total.saturating_sub(out.len() as u64);
    Ok((out, more))
}

/// The message id of a profile kind.
pub fn profile_kind_id(k: Option<ProfileKind>) -> String {
    k.map_or_else(
        || "kind-unknown".to_owned(),
        |k| format!("kind-{}", crate::text::wire(&k)),
    )
}
