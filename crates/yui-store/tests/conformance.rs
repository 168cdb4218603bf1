//! Runs the conformance suite against every engine.

use yui_store::{conformance, FjallEngine, KvStore, MemEngine, SledEngine, StoreError};

#[test]
fn memory_engine() {
    conformance::run(|| KvStore::open(MemEngine::new()).unwrap());
}

#[test]
fn sled_engine() {
    let dirs = std::sync::Mutex::new(Vec::new());
    conformance::run(|| {
        let d = tempfile::tempdir().unwrap();
        let s = KvStore::open(SledEngine::open(d.path()).unwrap()).unwrap();
        dirs.lock().unwrap().push(d);
        s
    });
}

#[test]
fn sled_engine_survives_reopen() {
    let d = tempfile::tempdir().unwrap();
    conformance::run_reopen(|| KvStore::open(SledEngine::open(d.path()).unwrap()).unwrap());
}

#[test]
fn fjall_engine() {
    let dirs = std::sync::Mutex::new(Vec::new());
    conformance::run(|| {
        let d = tempfile::tempdir().unwrap();
        let s = KvStore::open(FjallEngine::open(d.path()).unwrap()).unwrap();
        dirs.lock().unwrap().push(d);
        s
    });
}

#[test]
fn fjall_engine_survives_reopen() {
    let d = tempfile::tempdir().unwrap();
    conformance::run_reopen(|| KvStore::open(FjallEngine::open(d.path()).unwrap()).unwrap());
}

#[test]
fn fjall_refuses_a_second_opener() {
    let d = tempfile::tempdir().unwrap();
    let _first = FjallEngine::open(d.path()).unwrap();
    let err = FjallEngine::open(d.path())
        .err()
        .expect("second open must fail");
    assert!(
        matches!(&err, StoreError::Engine(m) if m.contains("in use")),
        "unclear error: {err}"
    );
}

#[test]
fn sled_refuses_a_second_opener() {
    let d = tempfile::tempdir().unwrap();
    let _first = SledEngine::open(d.path()).unwrap();
    let err = SledEngine::open(d.path())
        .err()
        .expect("second open must fail");
    assert!(
        matches!(&err, StoreError::Engine(m) if m.contains("in use")),
        "unclear error: {err}"
    );
}

#[test]
fn refuses_unknown_format_version() {
    use yui_store::{Engine, Op};
    let engine = MemEngine::new();
    let mut k = vec![b'M'];
    k.extend_from_slice(b"format");
    engine
        .apply(vec![Op::Put(k, 99u32.to_be_bytes().to_vec())])
        .unwrap();
    let err = KvStore::open(engine).err().expect("refused");
    assert!(matches!(err, StoreError::Format { found: 99, .. }));
    assert!(err.to_string().contains("newer yui"), "{err}");
}

fn meta(name: &str) -> Vec<u8> {
    let mut k = vec![b'M'];
    k.extend_from_slice(name.as_bytes());
    k
}

/// A store as format 1 wrote it: everything but `M bytes`, format 1.
fn format_1_store(n: u64) -> (std::sync::Arc<MemEngine>, u64) {
    use yui_store::{Engine, Op, Store};
    let store = KvStore::open(std::sync::Arc::new(MemEngine::new())).unwrap();
    let key = yui_core::SecretKey::from_seed(&[4; 32]);
    let entries = conformance::chain(&key, n);
    store.append(&entries).unwrap();
    let bytes = entries.iter().map(|e| e.signed.encode().len() as u64).sum();
    let engine = store.engine().clone();
    engine
        .apply(vec![
            Op::Delete(meta("bytes")),
            Op::Put(meta("format"), 1u32.to_be_bytes().to_vec()),
        ])
        .unwrap();
    (engine, bytes)
}

#[test]
fn format_1_is_migrated_once_with_progress() {
    use yui_store::{Engine, Store};
    let (engine, bytes) = format_1_store(300);
    let mut reports = Vec::new();
    let store = KvStore::open_with(engine.clone(), &mut |m| {
        reports.push((m.from, m.to, m.done, m.total))
    })
    .unwrap();
    assert_eq!(store.entry_bytes().unwrap(), bytes);
    assert_eq!(store.entry_count().unwrap(), 300);
    assert_eq!(reports.last(), Some(&(1, 2, 300, 300)));
    assert_eq!(
        engine.get(&meta("format")).unwrap().unwrap(),
        yui_store::FORMAT_VERSION.to_be_bytes()
    );
    // Already migrated: nothing runs again.
    let mut again = 0;
    KvStore::open_with(engine, &mut |_| again += 1).unwrap();
    assert_eq!(again, 0);
}

#[test]
fn a_migration_that_finds_damage_changes_nothing() {
    use yui_store::{Engine, Op};
    let (engine, _) = format_1_store(10);
    // The count says 11: the layout does not add up.
    engine
        .apply(vec![Op::Put(meta("count"), 11u64.to_be_bytes().to_vec())])
        .unwrap();
    let err = KvStore::open(engine.clone()).err().expect("damage found");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert_eq!(
        engine.get(&meta("format")).unwrap().unwrap(),
        1u32.to_be_bytes()
    );
    assert!(engine.get(&meta("bytes")).unwrap().is_none());
}
