//! Moving a data folder from one engine to the other (`yui store convert`),
//! without a backup round trip.
//!
//! The new engine is filled beside the old one (`DIR.convert`), every pair
//! copied in key order and then read back and compared. Only then is the
//! marker `DIR.convert-done` written (and synced), and the folders are
//! swapped: `DIR` → `DIR.<old engine>-before-convert`, `DIR.convert` → `DIR`.
//! A convert cut short before the marker leaves `DIR` untouched (the next
//! convert starts over); one cut short after it is finished by the next
//! [`crate::open_dir`], whichever step it stopped at. The old folder is kept
//! for the operator to remove.

use std::path::{Path, PathBuf};

use crate::engine::{Engine, EngineKind, FjallEngine, Op, SledEngine};
use crate::{Result, StoreError};

/// Pairs copied per batch.
const STEP: usize = 10_000;
/// Every key of the layout starts with an ASCII tag (`kv.rs`), so this end
/// is past all of them.
const END: &[u8] = &[0xff];

/// What a convert did.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The engine it came from.
    pub from: EngineKind,
    /// Pairs copied.
    pub keys: u64,
    /// Bytes of keys and values copied.
    pub bytes: u64,
    /// Where the old folder is kept.
    pub kept: PathBuf,
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

fn temp_dir(dir: &Path) -> PathBuf {
    sibling(dir, ".convert")
}

fn marker(dir: &Path) -> PathBuf {
    sibling(dir, ".convert-done")
}

fn kept_dir(dir: &Path, from: EngineKind) -> PathBuf {
    sibling(dir, &format!(".{from}-before-convert"))
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    if e.raw_os_error() == Some(28) {
        return StoreError::DiskFull(format!("{what} {}", path.display()));
    }
    StoreError::Engine(format!("{what} {}: {e}", path.display()))
}

fn sync_parent(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::File::open(parent)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("cannot sync", parent, e))
}

fn open_engine(dir: &Path, kind: EngineKind) -> Result<Box<dyn Engine>> {
    Ok(match kind {
        EngineKind::Fjall => Box::new(FjallEngine::open(dir)?),
        EngineKind::Sled => Box::new(SledEngine::open(dir)?),
    })
}

/// Converts the data folder `dir` (of a stopped node) to engine `to`.
/// `progress` hears the pairs copied so far.
pub fn convert_dir(dir: &Path, to: EngineKind, progress: &mut dyn FnMut(u64)) -> Result<Converted> {
    finish_convert(dir)?;
    if !dir.is_dir() {
        return Err(StoreError::Engine(format!(
            "{} holds no store to convert",
            dir.display()
        )));
    }
    let from = EngineKind::of(dir);
    if from == to {
        return Err(StoreError::Engine(format!(
            "{} is already a {to} store",
            dir.display()
        )));
    }
    let kept = kept_dir(dir, from);
    if kept.exists() {
        return Err(StoreError::Engine(format!(
            "{} is still there from an earlier convert; remove it first",
            kept.display()
        )));
    }
    let tmp = temp_dir(dir);
    if tmp.exists() {
        // A convert that stopped before it was complete.
        std::fs::remove_dir_all(&tmp).map_err(|e| io("cannot remove", &tmp, e))?;
    }
    // Opening the old engine takes its lock: a running node holds it.
    let source = open_engine(dir, from)?;
    let copied = copy(&*source, &tmp, to, progress);
    let (keys, bytes) = match copied {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    drop(source);
    let m = marker(dir);
    std::fs::write(&m, from.to_string())
        .and_then(|()| std::fs::File::open(&m)?.sync_all())
        .map_err(|e| io("cannot write", &m, e))?;
    sync_parent(dir)?;
    finish_convert(dir)?;
    Ok(Converted {
        from,
        keys,
        bytes,
        kept,
    })
}

/// Fills a new `to` engine at `tmp` with every pair of `source`, then reads
/// both back and compares them.
fn copy(
    source: &dyn Engine,
    tmp: &Path,
    to: EngineKind,
    progress: &mut dyn FnMut(u64),
) -> Result<(u64, u64)> {
    let target = open_engine(tmp, to)?;
    let (mut keys, mut bytes) = (0u64, 0u64);
    let mut start: Vec<u8> = Vec::new();
    loop {
        let pairs = source.range(&start, END, STEP)?;
        let Some((last, _)) = pairs.last() else {
            break;
        };
        start = last.clone();
        start.push(0);
        keys += pairs.len() as u64;
        bytes += pairs
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum::<u64>();
        target.apply(pairs.into_iter().map(|(k, v)| Op::Put(k, v)).collect())?;
        progress(keys);
    }
    target.flush()?;
    // Read back: the same pairs in the same order.
    let mut start: Vec<u8> = Vec::new();
    let mut checked = 0u64;
    loop {
        let a = source.range(&start, END, STEP)?;
        let b = target.range(&start, END, STEP)?;
        if a != b {
            return Err(StoreError::Corrupt(format!(
                "the new {to} store differs from the old one after {checked} keys; nothing was changed"
            )));
        }
        let Some((last, _)) = a.last() else {
            break;
        };
        checked += a.len() as u64;
        start = last.clone();
        start.push(0);
    }
    if checked != keys {
        return Err(StoreError::Corrupt(format!(
            "{checked} keys read back of {keys} copied; nothing was changed"
        )));
    }
    Ok((keys, bytes))
}

/// Finishes a convert that stopped after its copy was complete (the marker
/// is there); does nothing otherwise.
pub(crate) fn finish_convert(dir: &Path) -> Result<()> {
    let m = marker(dir);
    let Ok(from) = std::fs::read_to_string(&m) else {
        return Ok(());
    };
    let from: EngineKind = from
        .trim()
        .parse()
        .map_err(|e: String| StoreError::Corrupt(format!("{}: {e}", m.display())))?;
    let tmp = temp_dir(dir);
    if tmp.exists() {
        if dir.exists() {
            let kept = kept_dir(dir, from);
            std::fs::rename(dir, &kept).map_err(|e| io("cannot move", dir, e))?;
            sync_parent(dir)?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| io("cannot move", &tmp, e))?;
        sync_parent(dir)?;
    }
    std::fs::remove_file(&m).map_err(|e| io("cannot remove", &m, e))?;
    sync_parent(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::open_dir;

    fn fill(dir: &Path, kind: EngineKind, n: u32) {
        crate::engine::create_dir(dir, kind).unwrap();
        let (e, _) = open_dir(dir).unwrap();
        let ops = (0..n)
            .map(|i| Op::Put(format!("e{i:06}").into_bytes(), vec![i as u8; 100]))
            .collect();
        e.apply(ops).unwrap();
        e.flush().unwrap();
    }

    fn all(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
        open_dir(dir)
            .unwrap()
            .0
            .range(b"", END, usize::MAX)
            .unwrap()
    }

    #[test]
    fn a_folder_moves_both_ways_and_keeps_every_pair() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        fill(&dir, EngineKind::Sled, 25_001);
        let before = all(&dir);
        let mut seen = 0;
        let c = convert_dir(&dir, EngineKind::Fjall, &mut |n| seen = n).unwrap();
        assert_eq!((c.from, c.keys, seen), (EngineKind::Sled, 25_001, 25_001));
        assert_eq!(EngineKind::of(&dir), EngineKind::Fjall);
        assert_eq!(all(&dir), before);
        assert_eq!(EngineKind::of(&c.kept), EngineKind::Sled);
        // To the engine it has: refused.
        let same = convert_dir(&dir, EngineKind::Fjall, &mut |_| {}).unwrap_err();
        assert!(same.to_string().contains("already a fjall store"), "{same}");
        // Back, keeping the fjall folder too.
        let back = convert_dir(&dir, EngineKind::Sled, &mut |_| {}).unwrap();
        assert_eq!(EngineKind::of(&dir), EngineKind::Sled);
        assert_eq!(all(&dir), before);
        assert_eq!(EngineKind::of(&back.kept), EngineKind::Fjall);
        // A third time would overwrite the sled folder kept first: refused
        // until the operator removes it.
        let again = convert_dir(&dir, EngineKind::Fjall, &mut |_| {}).unwrap_err();
        assert!(again.to_string().contains("earlier convert"), "{again}");
        assert_eq!(EngineKind::of(&dir), EngineKind::Sled);
    }

    #[test]
    fn a_convert_cut_short_is_finished_or_forgotten() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        fill(&dir, EngineKind::Sled, 10);
        let before = all(&dir);
        // Stopped during the copy: no marker, the old folder is untouched
        // and the next convert starts over.
        fill(&temp_dir(&dir), EngineKind::Fjall, 3);
        assert_eq!(EngineKind::of(&dir), EngineKind::Sled);
        assert_eq!(all(&dir), before);
        convert_dir(&dir, EngineKind::Fjall, &mut |_| {}).unwrap();
        assert_eq!(all(&dir), before);
        // Stopped between the two renames: the next open finishes it.
        let kept = kept_dir(&dir, EngineKind::Sled);
        std::fs::remove_dir_all(&kept).unwrap();
        std::fs::rename(&dir, temp_dir(&dir)).unwrap();
        fill(&kept, EngineKind::Sled, 10);
        std::fs::write(marker(&dir), "sled").unwrap();
        assert!(!dir.exists());
        assert_eq!(all(&dir), before, "open_dir finished the convert");
        assert_eq!(EngineKind::of(&dir), EngineKind::Fjall);
        assert!(!marker(&dir).exists() && !temp_dir(&dir).exists());
    }

    #[test]
    fn a_folder_in_use_is_refused_and_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        fill(&dir, EngineKind::Fjall, 10);
        let (held, _) = open_dir(&dir).unwrap();
        let e = convert_dir(&dir, EngineKind::Sled, &mut |_| {}).unwrap_err();
        drop(held);
        assert!(matches!(e, StoreError::Engine(_)), "{e}");
        assert_eq!(EngineKind::of(&dir), EngineKind::Fjall);
        assert!(!temp_dir(&dir).exists());
        assert_eq!(all(&dir).len(), 10);
    }
}
