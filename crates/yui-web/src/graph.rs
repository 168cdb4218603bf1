//! The network graph, drawn on the server as SVG: members on a circle,
//! ties as lines. Each kind of tie has its own colour *and* its own dash
//! pattern (nothing said by colour alone), and the page lists every tie as
//! text beside it.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::text::Text;

/// Members drawn at most (those with the most ties): a national network
/// is a table, not a picture.
pub const MAX_NODES: usize = 60;

/// One tie between members `a` and `b` (indexes into the node list).
#[derive(Debug, Clone)]
pub struct Edge {
    /// One end.
    pub a: usize,
    /// The other end.
    pub b: usize,
    /// Kind (wire name: sister_city, friendship, mutual_aid, network).
    pub kind: String,
    /// Both sides stated it.
    pub active: bool,
}

/// A tie kind's stroke: colour and dash pattern.
pub fn stroke(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "sister_city" => ("#b3262d", ""),
        "friendship" => ("#1a6b3c", "8 4"),
        "mutual_aid" => ("#1d4f91", "2 3"),
        _ => ("#6b4e16", "10 3 2 3"),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG of `nodes` (names) and `edges`, titled `title`.
pub fn svg(title: &str, desc: &str, nodes: &[Text], edges: &[Edge]) -> String {
    let n = nodes.len().max(1);
    let (w, h) = (720.0_f64, 520.0_f64);
    let (cx, cy, r) = (w / 2.0, h / 2.0, 190.0_f64);
    let pos: Vec<(f64, f64)> = (0..nodes.len())
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
            (cx + r * a.cos(), cy + r * a.sin())
        })
        .collect();
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-labelledby=\"graph-title graph-desc\" class=\"graph\">\
         <title id=\"graph-title\">{}</title><desc id=\"graph-desc\">{}</desc>",
        esc(title),
        esc(desc)
    );
    // Several ties between one pair: offset so each stays visible.
    let mut seen: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for e in edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (pos.get(e.a), pos.get(e.b)) else {
            continue;
        };
        let k = seen.entry((e.a.min(e.b), e.a.max(e.b))).or_default();
        let off = *k as f64 * 4.0;
        *k += 1;
        let (colour, dash) = stroke(&e.kind);
        let _ = write!(
            o,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" \
             stroke-width=\"{}\"{}{} />",
            x1 + off,
            y1 + off,
            x2 + off,
            y2 + off,
            if e.active { 3.0 } else { 1.5 },
            if dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dash}\"")
            },
            if e.active { "" } else { " opacity=\"0.6\"" },
        );
    }
    for (i, name) in nodes.iter().enumerate() {
        let (x, y) = pos[i];
        let anchor = if x < cx - 10.0 {
            "end"
        } else if x > cx + 10.0 {
            "start"
        } else {
            "middle"
        };
        let dx = match anchor {
            "end" => -10.0,
            "start" => 10.0,
            _ => 0.0,
        };
        let dy = if anchor == "middle" {
            if y < cy {
                -12.0
            } else {
                22.0
            }
        } else {
            5.0
        };
        let _ = write!(
            o,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"7\" fill=\"#fff\" stroke=\"#1b1b1b\" stroke-width=\"2\" />\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" font-size=\"15\" fill=\"#1b1b1b\"{}>{}</text>",
            x + dx,
            y + dy,
            if name.lang.is_empty() {
                String::new()
            } else {
                format!(" xml:lang=\"{}\"", esc(&name.lang))
            },
            esc(&name.text)
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_each_kind_has_its_own_dashes() {
        let nodes = vec![
            Text::plain("<script>", crate::i18n::Lang::En),
            Text::plain("B & C", crate::i18n::Lang::En),
        ];
        let s = svg(
            "t",
            "d",
            &nodes,
            &[Edge {
                a: 0,
                b: 1,
                kind: "mutual_aid".into(),
                active: true,
            }],
        );
        assert!(s.contains("&lt;script&gt;") && !s.contains("<script>"));
        assert!(s.contains("B &amp; C"));
        assert!(s.contains("stroke-dasharray=\"2 3\""));
        let dashes: std::collections::HashSet<_> =
            ["sister_city", "friendship", "mutual_aid", "network"]
                .iter()
                .map(|k| stroke(k).1)
                .collect();
        assert_eq!(dashes.len(), 4);
    }
}
