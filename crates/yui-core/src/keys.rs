//! Keys and signatures, and the one validity rule every node applies.
//!
//! A signature valid for one node must be valid for every node, whether it was
//! checked alone or in a batch; otherwise a crafted signature could split the
//! network. yui uses the ZIP-215 rules as implemented by `ed25519-zebra`
//! (the rules' reference implementation), whose single and batch checks
//! agree exactly, and additionally rejects public keys of small order
//! ("weak keys") before either check.

use curve25519_dalek::edwards::CompressedEdwardsY;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

/// Domain separation prefix for entry signatures.
pub const ENTRY_DOMAIN: &[u8] = b"yui/entry/v1\0";

/// Why a signature or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The 32 bytes are not a valid curve point.
    #[error("public key is not a valid ed25519 point")]
    MalformedKey,
    /// The key has small order: anyone can forge signatures for it.
    #[error("public key is a weak (small-order) ed25519 key")]
    WeakKey,
    /// The key's encoding is not the canonical one for its point.
    #[error("public key is not canonically encoded")]
    NonCanonicalKey,
    /// The signature does not verify under the key.
    #[error("signature does not verify")]
    BadSignature,
    /// A length was wrong.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
}

/// Keys remembered per thread as checked (see [`PublicKey::from_bytes`]):
/// 32 bytes each, about 2 MiB per thread at most.
const CHECKED_KEYS: usize = 65_536;

/// An ed25519 public key that passed the weak-key check.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

/// Hashes the first 16 bytes of the key, not all 32 and a length: keys
/// key the maps every ingest batch consults per entry (heads, rates,
/// objects), and SipHash over 40 bytes was about 1 % of ingest. Two keys
/// share 16 bytes only by a 2^64 search, so the maps stay resistant to
/// chosen collisions (the hasher is still the randomly keyed default).
impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (a, b) = self.0.split_at(8);
        state.write_u64(u64::from_le_bytes(a.try_into().expect("8 bytes")));
        state.write_u64(u64::from_le_bytes(b[..8].try_into().expect("8 bytes")));
    }
}

impl PublicKey {
    /// Checks `bytes` is a valid point of large order.
    ///
    /// The check (a point decompression and recompression) costs about as
    /// much as verifying a signature in a batch, and every entry names its
    /// author: keys that passed are remembered per thread, so a sync of a
    /// million entries from two thousand authors checks each key once.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| VerifyError::Length {
            expected: 32,
            got: bytes.len(),
        })?;
        thread_local! {
            static CHECKED: std::cell::RefCell<std::collections::HashSet<[u8; 32]>> =
                std::cell::RefCell::default();
        }
        if CHECKED.with(|c| c.borrow().contains(&arr)) {
            return Ok(Self(arr));
        }
        let key = Self::check(arr)?;
        CHECKED.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= CHECKED_KEYS {
                c.clear();
            }
            c.insert(arr);
        });
        Ok(key)
    }

    fn check(arr: [u8; 32]) -> Result<Self, VerifyError> {
        let point = CompressedEdwardsY(arr)
            .decompress()
            .ok_or(VerifyError::MalformedKey)?;
        if point.is_small_order() {
            return Err(VerifyError::WeakKey);
        }
        // One key, one encoding: a non-canonical y would give the same key a
        // second NodeId.
        if point.compress().0 != arr {
            return Err(VerifyError::NonCanonicalKey);
        }
        Ok(Self(arr))
    }

    /// The 32 encoded bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Verifies `signature` over `message` (one item of the validity rule).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), VerifyError> {
        let vk = ed25519_zebra::VerificationKey::try_from(self.0)
            .map_err(|_| VerifyError::MalformedKey)?;
        vk.verify(&ed25519_zebra::Signature::from(signature.0), message)
            .map_err(|_| VerifyError::BadSignature)
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", hex::encode(&self.0[..8]))
    }
}

/// A 64-byte ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Reads a signature from exactly 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, VerifyError> {
        let arr: [u8; 64] = bytes.try_into().map_err(|_| VerifyError::Length {
            expected: 64,
            got: bytes.len(),
        })?;
        Ok(Self(arr))
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..8]))
    }
}

impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        let b = hex::decode(&s).map_err(serde::de::Error::custom)?;
        Signature::from_slice(&b).map_err(serde::de::Error::custom)
    }
}

/// The message a new key countersigns in a key rotation.
pub fn rotation_message(old: &PublicKey, new: &PublicKey) -> Vec<u8> {
    [&b"yui/rotation/v1\0"[..], old.as_bytes(), new.as_bytes()].concat()
}

/// An ed25519 secret key (the 32-byte seed). Zeroized on drop.
///
/// Keys and signing are ed25519-dalek's (the design card's crate), and a
/// key file is PKCS#8 PEM, which OpenSSL and other stacks read.
/// Verification stays with ed25519-zebra (see the module notes):
/// Ed25519 signing is deterministic, so the signatures are the same bytes
/// whichever crate makes them.
pub struct SecretKey {
    seed: Zeroizing<[u8; 32]>,
    signing: ed25519_dalek::SigningKey,
}

/// A key file that is not a PKCS#8 Ed25519 private key.
#[derive(Debug, thiserror::Error)]
#[error("not a PKCS#8 PEM Ed25519 private key: {0}")]
pub struct KeyFileError(String);

impl SecretKey {
    /// A fresh key from a cryptographic random number generator.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(&seed)
    }

    /// The key for a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let signing = ed25519_dalek::SigningKey::from_bytes(seed);
        Self {
            seed: Zeroizing::new(*seed),
            signing,
        }
    }

    /// The key as a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`,
    /// RFC 8410), for a key file. Version 1 (the seed alone, as OpenSSL
    /// writes it): some readers refuse the version 2 form that also
    /// carries the public key.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey, KeypairBytes};
        KeypairBytes {
            secret_key: *self.seed,
            public_key: None,
        }
        .to_pkcs8_pem(LineEnding::LF)
        .expect("an Ed25519 key always encodes")
    }

    /// The key of a PKCS#8 PEM document.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyFileError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| KeyFileError(e.to_string()))?;
        Ok(Self::from_seed(&signing.to_bytes()))
    }

    /// The seed, for saving to a protected file.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        // A key derived from a seed is never of small order.
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs `message` as it is.
    pub fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        Signature(self.signing.sign(message).to_bytes())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(for {:?})", self.public_key())
    }
}

/// Smallest share of a batch worth a thread of its own in
/// [`BatchVerifier::verify_parallel`].
pub const MIN_PARALLEL_PART: usize = 64;

/// Collects `(key, message, signature)` items and checks them all at once.
///
/// `verify` gives the same verdict per item as [`PublicKey::verify`]: a batch
/// that fails is re-checked item by item, so the result names exactly the bad
/// items. Batching roughly doubles throughput when all items are good.
#[derive(Default)]
pub struct BatchVerifier {
    items: Vec<(PublicKey, Vec<u8>, Signature)>,
}

impl BatchVerifier {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one item; `message` is the full signed message.
    pub fn push(&mut self, key: PublicKey, message: Vec<u8>, signature: Signature) {
        self.items.push((key, message, signature));
    }

    /// Number of queued items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// [`BatchVerifier::verify`] split across up to `threads` cores (OS
    /// randomness per part). Batch verification is per-core work; parts
    /// smaller than [`MIN_PARALLEL_PART`] are not worth a thread.
    pub fn verify_parallel(mut self, threads: usize) -> Vec<Result<(), VerifyError>> {
        let parts = threads.min(self.items.len() / MIN_PARALLEL_PART).max(1);
        if parts == 1 {
            return self.verify(rand_core::OsRng);
        }
        let per = self.items.len().div_ceil(parts);
        let mut chunks = Vec::with_capacity(parts);
        while self.items.len() > per {
            let tail = self.items.split_off(per);
            chunks.push(std::mem::replace(&mut self.items, tail));
        }
        chunks.push(self.items);
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|items| scope.spawn(move || BatchVerifier { items }.verify(rand_core::OsRng)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("verify thread"))
                .collect()
        })
    }

    /// Verdict per item, in push order.
    pub fn verify<R: RngCore + CryptoRng>(self, rng: R) -> Vec<Result<(), VerifyError>> {
        if self.items.is_empty() {
            return Vec::new();
        }
        let mut batch = ed25519_zebra::batch::Verifier::new();
        for (key, message, signature) in &self.items {
            let vkb = ed25519_zebra::VerificationKeyBytes::from(key.0);
            batch.queue((
                vkb,
                ed25519_zebra::Signature::from(signature.0),
                message.as_slice(),
            ));
        }
        if batch.verify(rng).is_ok() {
            return vec![Ok(()); self.items.len()];
        }
        self.items.iter().map(|(k, m, s)| k.verify(m, s)).collect()
    }
}

/// The message an entry signature covers: domain prefix then entry bytes.
pub fn entry_signing_message(entry_bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(ENTRY_DOMAIN.len() + entry_bytes.len());
    m.extend_from_slice(ENTRY_DOMAIN);
    m.extend_from_slice(entry_bytes);
    m
}

#[cfg(test)]
mod tests {

    #[test]
    fn dalek_signs_the_bytes_zebra_would_and_key_files_are_pkcs8() {
        for seed in [[0u8; 32], [7; 32], [0xff; 32]] {
            let k = SecretKey::from_seed(&seed);
            let c = ed25519_zebra::SigningKey::from(seed);
            for m in [&b""[..], b"yui/entry/v1\0abc", &[0x55; 1000]] {
                assert_eq!(k.sign(m).0, c.sign(m).to_bytes());
                k.public_key().verify(m, &k.sign(m)).unwrap();
            }
            assert_eq!(
                k.public_key().0,
                <[u8; 32]>::from(ed25519_zebra::VerificationKey::from(&c))
            );
            let pem = k.to_pkcs8_pem();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let back = SecretKey::from_pkcs8_pem(&pem).unwrap();
            assert_eq!(back.seed(), k.seed());
        }
        assert!(SecretKey::from_pkcs8_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err());
        assert!(SecretKey::from_pkcs8_pem("yui-node-key-v1\n00").is_err());
    }

    use super::*;
    use rand_core::OsRng;

    #[derive(serde::Deserialize)]
    struct Case {
        message: String,
        pub_key: String,
        signature: String,
    }

    /// Verdict of the yui rule for one speccheck case, checked alone.
    fn single(c: &Case) -> bool {
        let msg = hex::decode(&c.message).unwrap();
        let Ok(key) = PublicKey::from_bytes(&hex::decode(&c.pub_key).unwrap()) else {
            return false;
        };
        let sig = Signature::from_slice(&hex::decode(&c.signature).unwrap()).unwrap();
        key.verify(&msg, &sig).is_ok()
    }

    /// Verdict for the same case inside a batch of otherwise good items.
    fn batched(c: &Case, position: usize) -> bool {
        let msg = hex::decode(&c.message).unwrap();
        let Ok(key) = PublicKey::from_bytes(&hex::decode(&c.pub_key).unwrap()) else {
            return false;
        };
        let sig = Signature::from_slice(&hex::decode(&c.signature).unwrap()).unwrap();
        let mut batch = BatchVerifier::new();
        let good = SecretKey::from_seed(&[7; 32]);
        for i in 0..4 {
            if i == position {
                batch.push(key, msg.clone(), sig);
            }
            let m = vec![i as u8; 10];
            batch.push(good.public_key(), m.clone(), good.sign(&m));
        }
        let verdicts = batch.verify(OsRng);
        // The good items must stay good whatever the odd one is.
        for (i, v) in verdicts.iter().enumerate() {
            if i != position {
                assert!(v.is_ok(), "good item {i} failed next to a speccheck case");
            }
        }
        verdicts[position].is_ok()
    }

    const SPECCHECK: &str = include_str!("../testdata/ed25519-speccheck.json");

    /// yui's recorded verdict for the ten "Taming the many EdDSAs" cases:
    /// ZIP-215 (cofactored equation, S < L required, non-canonical R allowed)
    /// plus refusal of small-order and non-canonically encoded keys. Cases 0
    /// and 1 use a small-order A and are refused as weak keys before any
    /// equation is checked; 6 and 7 carry S >= L. A change here is a consensus
    /// change: every node must move together.
    const VERDICTS: [bool; 10] = [
        false, false, true, true, true, true, false, false, false, true,
    ];

    #[test]
    fn speccheck_single_and_batch_agree_with_recorded_verdicts() {
        let cases: Vec<Case> = serde_json::from_str(SPECCHECK).unwrap();
        assert_eq!(cases.len(), 10);
        for (i, c) in cases.iter().enumerate() {
            let s = single(c);
            for pos in 0..4 {
                assert_eq!(s, batched(c, pos), "case {i}: batch and single disagree");
            }
            assert_eq!(s, VERDICTS[i], "case {i}: verdict changed");
        }
    }

    #[test]
    fn parallel_verdicts_match_item_by_item() {
        let keys: Vec<SecretKey> = (0..5u8).map(|i| SecretKey::from_seed(&[i; 32])).collect();
        let mut items = Vec::new();
        for i in 0..300usize {
            let k = &keys[i % keys.len()];
            let msg = format!("entry {i}").into_bytes();
            let mut sig = k.sign(&msg);
            if i % 97 == 13 {
                sig.0[5] ^= 1; // a few bad ones, in different parts
            }
            items.push((k.public_key(), msg, sig));
        }
        for threads in [1, 2, 3, 8] {
            let mut v = BatchVerifier::new();
            for (k, m, s) in &items {
                v.push(*k, m.clone(), *s);
            }
            let got = v.verify_parallel(threads);
            assert_eq!(got.len(), items.len());
            for (i, ((k, m, s), r)) in items.iter().zip(&got).enumerate() {
                assert_eq!(
                    r.is_ok(),
                    k.verify(m, s).is_ok(),
                    "item {i}, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point and a point of order 8.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(VerifyError::WeakKey));
        assert_eq!(
            PublicKey::from_bytes(&[0u8; 31]).unwrap_err(),
            VerifyError::Length {
                expected: 32,
                got: 31
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn sign_verify_round_trip(seed: [u8; 32], msg: Vec<u8>, flip in 0usize..64) {
            let sk = SecretKey::from_seed(&seed);
            let pk = sk.public_key();
            let sig = sk.sign(&msg);
            proptest::prop_assert!(pk.verify(&msg, &sig).is_ok());
            let mut bad = sig;
            bad.0[flip] ^= 1;
            proptest::prop_assert!(pk.verify(&msg, &bad).is_err());
            let mut batch = BatchVerifier::new();
            batch.push(pk, msg.clone(), sig);
            batch.push(pk, msg.clone(), bad);
            let v = batch.verify(OsRng);
            proptest::prop_assert!(v[0].is_ok());
            proptest::prop_assert!(v[1].is_err());
        }
    }
}
