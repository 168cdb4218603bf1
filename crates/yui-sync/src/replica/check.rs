//! `Replica::check`: the walk over every log that `yui check` and the crash
//! tests run.

use super::*;

impl Replica {
    /// Walks every log and checks what a crash must never break: each
    /// author's entries run 1..=head without a hole, each `prev` is the id
    /// of the entry before, the head agrees with the log,
    /// every entry decodes and its signature verifies, and the entry count
    /// matches. Read-only.
    pub fn check(&self) -> Result<CheckReport, ReplicaError> {
        let mut report = CheckReport::default();
        let heads = self.store.heads()?;
        report.authors = heads.len();
        for (author, head) in heads {
            let mut prev: Option<EntryId> = None;
            let mut next = 1u64;
            let mut verifier = BatchVerifier::new();
            let mut seqs = Vec::new();
            while next <= head.seq {
                let chunk = self.store.range(&author, next, 1024)?;
                if chunk.is_empty() {
                    break;
                }
                for signed in chunk {
                    let seq = next;
                    next += 1;
                    report.entries += 1;
                    let id = signed.id();
                    match self.codec.decode_entry(&signed.entry) {
                        Ok(e) => {
                            if e.author != author || e.seq != seq {
                                report.problems.push(format!(
                                    "{author} seq {seq}: the stored entry says {} seq {}",
                                    e.author, e.seq
                                ));
                            }
                            if e.prev != prev {
                                report.problems.push(format!(
                                    "{author} seq {seq}: prev does not name entry {}",
                                    seq - 1
                                ));
                            }
                        }
                        Err(e) => report
                            .problems
                            .push(format!("{author} seq {seq}: does not decode: {e}")),
                    }
                    verifier.push(
                        *author.public_key(),
                        entry_signing_message(&signed.entry),
                        signed.signature,
                    );
                    seqs.push(seq);
                    prev = Some(id);
                }
            }
            for (seq, verdict) in seqs.into_iter().zip(verifier.verify(rand_core::OsRng)) {
                if verdict.is_err() {
                    report
                        .problems
                        .push(format!("{author} seq {seq}: signature does not verify"));
                }
            }
            if next != head.seq + 1 {
                report.problems.push(format!(
                    "{author}: head says seq {} but the log ends at {}",
                    head.seq,
                    next - 1
                ));
            } else if prev != Some(head.id) {
                report.problems.push(format!(
                    "{author}: head id is not the id of entry {}",
                    head.seq
                ));
            }
            if self.store.get(&author, head.seq + 1)?.is_some() {
                report.problems.push(format!(
                    "{author}: entries stored past the head {}",
                    head.seq
                ));
            }
        }
        let counted = self.store.entry_count()?;
        if counted != report.entries {
            report.problems.push(format!(
                "entry count says {counted}, the logs hold {}",
                report.entries
            ));
        }
        Ok(report)
    }
}
