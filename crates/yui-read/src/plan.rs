//! How a [`Query`](crate::query::Query) becomes tantivy queries, and how
//! a page is found: query builders, the text clauses (bigram phrases,
//! one-character terms, quoted words), and the default order's pages —
//! direct for sparse matches, in windows of the order key for dense ones.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::ops::Bound;

use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, InvertedIndexRangeQuery, Occur, PhraseQuery, Query as TQuery,
    RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, Term};

use crate::analyzer;
use crate::index::Fields;
use crate::model::tantivy_error;
use crate::query::QueryError;

pub(crate) fn term_u64(field: tantivy::schema::Field, v: u64) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_u64(field, v),
        IndexRecordOption::Basic,
    ))
}

pub(crate) fn term_text(field: tantivy::schema::Field, v: &str) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, v),
        IndexRecordOption::Basic,
    ))
}

pub(crate) fn i64_range(
    field: tantivy::schema::Field,
    lo: Bound<i64>,
    hi: Bound<i64>,
) -> Box<dyn TQuery> {
    let t = |b: Bound<i64>| b.map(|v| Term::from_field_i64(field, v));
    Box::new(RangeQuery::new(t(lo), t(hi)))
}

pub(crate) fn u64_range(
    field: tantivy::schema::Field,
    lo: Bound<u64>,
    hi: Bound<u64>,
) -> Box<dyn TQuery> {
    let t = |b: Bound<u64>| b.map(|v| Term::from_field_u64(field, v));
    Box::new(RangeQuery::new(t(lo), t(hi)))
}

pub(crate) fn all_of(mut parts: Vec<Box<dyn TQuery>>) -> Box<dyn TQuery> {
    match parts.len() {
        0 => Box::new(AllQuery),
        1 => parts.pop().expect("one"),
        _ => Box::new(BooleanQuery::new(
            parts.into_iter().map(|q| (Occur::Must, q)).collect(),
        )),
    }
}

pub(crate) fn any_of(parts: Vec<Box<dyn TQuery>>) -> Box<dyn TQuery> {
    Box::new(BooleanQuery::new(
        parts.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

/// The text query of one clause, and the terms to mark in snippets.
pub(crate) fn clause_query(
    field: tantivy::schema::Field,
    clause: &str,
    quoted_words: bool,
    terms: &mut Vec<String>,
) -> Option<Box<dyn TQuery>> {
    let pieces = analyzer::pieces(clause);
    let mut runs: BTreeMap<usize, Vec<analyzer::Piece>> = BTreeMap::new();
    for p in pieces {
        runs.entry(p.run).or_default().push(p);
    }
    let text_term = |s: &str| Term::from_field_text(field, s);
    let mut parts: Vec<Box<dyn TQuery>> = Vec::new();
    let mut words: Vec<Term> = Vec::new();
    for (_, run) in runs {
        let first = &run[0];
        if first.single {
            // One CJK character: the end of a run, or the start of a bigram.
            terms.push(first.text.clone());
            let pattern = format!("{}.", regex_escape(&first.text));
            let mut either = vec![term_text(field, &first.text)];
            if let Ok(r) = RegexQuery::from_pattern(&pattern, field) {
                either.push(Box::new(r));
            }
            parts.push(any_of(either));
            continue;
        }
        if !first.cjk {
            // A word.
            terms.push(first.text.clone());
            words.push(text_term(&first.text));
            if !quoted_words {
                parts.push(term_text(field, &first.text));
            }
            continue;
        }
        let grams: Vec<&analyzer::Piece> = run.iter().filter(|p| !p.tail).collect();
        terms.extend(grams.iter().map(|p| p.text.clone()));
        if grams.len() == 1 {
            parts.push(term_text(field, &grams[0].text));
        } else {
            parts.push(Box::new(PhraseQuery::new(
                grams.iter().map(|p| text_term(&p.text)).collect(),
            )));
        }
    }
    if quoted_words {
        match words.len() {
            0 => {}
            1 => parts.push(Box::new(TermQuery::new(
                words.pop().expect("one"),
                IndexRecordOption::WithFreqs,
            ))),
            _ => parts.push(Box::new(PhraseQuery::new(words))),
        }
    }
    (!parts.is_empty()).then(|| all_of(parts))
}

pub(crate) fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~\"<>@".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// Order keys of events are below this; everything else at or above
/// (see `index::order_key`).
pub(crate) const EVENTS_END: u64 = 1 << 63;

/// Above this many matches, if they are dense, a page in the default order
/// is found in windows of the order key (see [`top_windowed`]); else
/// directly. Measured (`yui bench query`): windows make the first page of
/// everything at 1M entries 1.4 ms instead of 7 ms, but a sparse filter
/// (one policy area's cases) 25 ms instead of 4.
pub(crate) const DIRECT_TOP: u64 = 2_000;

pub(crate) type Ordered = Vec<(Reverse<(u64, u64)>, DocAddress)>;

/// The first `n` matches in the default order, `(order, tie)` ascending.
pub(crate) fn top_by_order(n: usize) -> impl tantivy::collector::Collector<Fruit = Ordered> {
    TopDocs::with_limit(n).tweak_score(|segment: &tantivy::SegmentReader| {
        let ff = segment.fast_fields();
        let order = ff
            .u64("order")
            .ok()
            .map(|c| c.first_or_default_col(u64::MAX));
        let tie = ff.u64("tie").ok().map(|c| c.first_or_default_col(u64::MAX));
        move |doc: tantivy::DocId, _score: tantivy::Score| {
            Reverse((
                order.as_ref().map_or(u64::MAX, |c| c.get_val(doc)),
                tie.as_ref().map_or(u64::MAX, |c| c.get_val(doc)),
            ))
        }
    })
}

/// The smallest order key at or above `at` that the index holds (a term of
/// a deleted document may count: the start is only a lower bound); `at`
/// if none.
pub(crate) fn first_order(searcher: &Searcher, field: tantivy::schema::Field, at: u64) -> u64 {
    kth_order(searcher, field, at, 1).unwrap_or(at)
}

/// The `k`-th key of the order field at or above `at` (the least over
/// segments that have that many): the end of a window holding about `k`
/// documents per segment. None: fewer than `k` remain in every segment.
pub(crate) fn kth_order(
    searcher: &Searcher,
    field: tantivy::schema::Field,
    at: u64,
    k: usize,
) -> Option<u64> {
    searcher
        .segment_readers()
        .iter()
        .filter_map(|s| {
            let inverted = s.inverted_index(field).ok()?;
            let mut terms = inverted
                .terms()
                .range()
                .ge(at.to_be_bytes())
                .into_stream()
                .ok()?;
            for _ in 0..k {
                if !terms.advance() {
                    return None;
                }
            }
            <[u8; 8]>::try_from(terms.key())
                .ok()
                .map(u64::from_be_bytes)
        })
        .min()
}

/// The first `n` matches in the default order without visiting them all:
/// the query runs inside a window of the order key from `from` that holds
/// about `k` documents per segment, `k` growing sixteenfold until the
/// window holds `n` matches or reaches `end`. A window starting at `from`
/// is a prefix of what remains, so its first `n` are the first `n`
/// overall. Each probe costs the documents in its window (found by walking
/// the key's term dictionary), not the matches of the whole index.
pub(crate) fn top_windowed(
    searcher: &Searcher,
    f: &Fields,
    query: &dyn TQuery,
    n: usize,
    from: u64,
    end: u64,
) -> Result<Ordered, QueryError> {
    let mut k = (n * 4).max(256);
    loop {
        let hi = kth_order(searcher, f.order, from, k).filter(|h| *h < end);
        let upper = match hi {
            Some(h) => Bound::Excluded(Term::from_field_u64(f.order, h)),
            None if end < u64::MAX => Bound::Excluded(Term::from_field_u64(f.order, end)),
            None => Bound::Unbounded,
        };
        let window: Box<dyn TQuery> = Box::new(InvertedIndexRangeQuery::new(
            Bound::Included(Term::from_field_u64(f.order, from)),
            upper,
        ));
        let q = all_of(vec![query.box_clone(), window]);
        let hits = searcher
            .search(&*q, &top_by_order(n))
            .map_err(tantivy_error)?;
        if hits.len() >= n || hi.is_none() {
            return Ok(hits);
        }
        k = k.saturating_mul(16);
    }
}

/// Per window of `start` (`[edges[i], edges[i + 1])`): how many matches
/// start in it and the first `k` of them in the default order. One pass
/// over the matches reading fast fields; no document is loaded.
pub(crate) struct FirstPerWindow {
    pub(crate) edges: Vec<i64>,
    pub(crate) k: usize,
}

/// One window's count and first matches, `(order, tie, address)` ascending.
pub(crate) type Window = (u64, Vec<(u64, u64, DocAddress)>);

pub(crate) struct FirstPerWindowSegment {
    edges: Vec<i64>,
    k: usize,
    segment: tantivy::SegmentOrdinal,
    start: Option<tantivy::columnar::Column<i64>>,
    order: Option<tantivy::columnar::Column<u64>>,
    tie: Option<tantivy::columnar::Column<u64>>,
    windows: Vec<Window>,
}

fn keep_first(w: &mut Window, item: (u64, u64, DocAddress), k: usize) {
    w.0 += 1;
    let v = &mut w.1;
    if v.len() == k && v.last().is_some_and(|l| (l.0, l.1) <= (item.0, item.1)) {
        return;
    }
    let at = v.partition_point(|x| (x.0, x.1) <= (item.0, item.1));
    v.insert(at, item);
    v.truncate(k);
}

impl tantivy::collector::Collector for FirstPerWindow {
    type Fruit = Vec<Window>;
    type Child = FirstPerWindowSegment;

    fn for_segment(
        &self,
        segment_ord: tantivy::SegmentOrdinal,
        segment: &tantivy::SegmentReader,
    ) -> tantivy::Result<FirstPerWindowSegment> {
        let ff = segment.fast_fields();
        Ok(FirstPerWindowSegment {
            edges: self.edges.clone(),
            k: self.k,
            segment: segment_ord,
            start: ff.i64("start").ok(),
            order: ff.u64("order").ok(),
            tie: ff.u64("tie").ok(),
            windows: vec![(0, Vec::new()); self.edges.len().saturating_sub(1)],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Window>>) -> tantivy::Result<Vec<Window>> {
        let mut out: Vec<Window> = vec![(0, Vec::new()); self.edges.len().saturating_sub(1)];
        for f in fruits {
            for (o, (n, items)) in out.iter_mut().zip(f) {
                for it in items {
                    keep_first(o, it, self.k);
                    o.0 -= 1;
                }
                o.0 += n;
            }
        }
        Ok(out)
    }
}

impl tantivy::collector::SegmentCollector for FirstPerWindowSegment {
    type Fruit = Vec<Window>;

    fn collect(&mut self, doc: tantivy::DocId, _: tantivy::Score) {
        let Some(t) = self.start.as_ref().and_then(|c| c.first(doc)) else {
            return;
        };
        // The window whose lower edge is the last at or below t.
        let i = self.edges.partition_point(|e| *e <= t);
        if i == 0 || i >= self.edges.len() {
            return;
        }
        let order = self
            .order
            .as_ref()
            .and_then(|c| c.first(doc))
            .unwrap_or(u64::MAX);
        let tie = self
            .tie
            .as_ref()
            .and_then(|c| c.first(doc))
            .unwrap_or(u64::MAX);
        let item = (order, tie, DocAddress::new(self.segment, doc));
        keep_first(&mut self.windows[i - 1], item, self.k);
    }

    fn harvest(self) -> Vec<Window> {
        self.windows
    }
}
