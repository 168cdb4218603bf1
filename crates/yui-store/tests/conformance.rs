//! Runs the conformance suite against every engine.

use yui_store::{conformance, KvStore, MemEngine, SledEngine, StoreError};

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
    assert!(matches!(
        KvStore::open(engine),
        Err(StoreError::Format { found: 99, .. })
    ));
}
