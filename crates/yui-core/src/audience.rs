//! Restricted audiences: the entry parts only some nodes may read, the
//! epochs that say who they are, and withdrawal of personal data.
//!
//! A node publishes an X25519 key in its profile (signed, like the whole
//! profile, by its node key). An author who restricts something publishes
//! an [`Audience`] epoch first: a fresh 32-byte epoch key sealed with HPKE
//! (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305) to each member's key. Its later entries carry a
//! [`Sealed`] part: a protobuf fragment of the entry, encrypted with
//! ChaCha20-Poly1305 under a key derived from the epoch key and the entry's
//! author and seq. The signature covers the ciphertext, so whether an entry
//! belongs to a log never depends on who can read it.
//!
//! Everything here is pure; the keys a node holds live in its keyring
//! (`yui-read`).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::content::{LocalizedText, PartnershipKind};
use crate::validate::invalid;
use crate::{NodeId, ValidationError};

type Kem = hpke::kem::X25519HkdfSha256;
type HpkeAead = hpke::aead::ChaCha20Poly1305;
type HpkeKdf = hpke::kdf::HkdfSha256;

/// Bytes of an X25519 public key, an HPKE encapsulated key, an epoch key.
pub const KEY_BYTES: usize = 32;
/// Bytes of a wrapped epoch key (key and tag).
pub const WRAPPED_BYTES: usize = 48;
/// Bytes of a [`Sealed`] nonce.
pub const NONCE_BYTES: usize = 12;
/// Members one epoch may name: an [`Audience`] entry with this many wraps
/// stays well inside the entry size limit.
pub const MAX_MEMBERS: usize = 300;
/// Objects one [`Withdrawal`] may name.
pub const MAX_WITHDRAWN: usize = 100;

/// Which part of an entry an author restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealPart {
    /// The contact (person in charge, direct telephone, e-mail).
    Contact,
    /// Where a readiness status's shelter is (a shelter for people fleeing
    /// violence, say); its places stay public.
    ShelterLocation,
}

/// Who reads an entry's restricted parts, as its publisher chose: each
/// `"public"` or an audience name of the node; `None` = the node's default
/// (`[privacy] contact_audience` for a contact, public for a shelter's
/// location). One entry is sealed for one audience.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readers {
    /// Of the contact.
    pub contact: Option<String>,
    /// Of a readiness status's shelter location.
    pub shelter_location: Option<String>,
}

/// Parts one [`Sealed`] may name.
pub const MAX_PARTS: usize = 8;

impl SealPart {
    /// Every part this release can seal.
    pub const ALL: [SealPart; 2] = [SealPart::Contact, SealPart::ShelterLocation];

    /// Its name in [`Sealed::parts`].
    pub fn name(self) -> &'static str {
        match self {
            SealPart::Contact => "contact",
            SealPart::ShelterLocation => "shelter_location",
        }
    }

    /// The part of that name, if this release knows it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A restricted part of an entry (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The author's audience name.
    pub audience: String,
    /// Its epoch.
    pub epoch: u32,
    /// ChaCha20-Poly1305 nonce.
    #[serde(with = "hex_bytes")]
    pub nonce: Vec<u8>,
    /// Ciphertext and tag.
    #[serde(with = "hex_bytes")]
    pub ciphertext: Vec<u8>,
    /// The parts it holds, by [`SealPart::name`]; none named = the
    /// contact (what the first release of audiences sealed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<String>,
}

impl Sealed {
    /// The parts it holds; `Err` names the first one this release does
    /// not know.
    pub fn sealed_parts(&self) -> Result<Vec<SealPart>, String> {
        if self.parts.is_empty() {
            return Ok(vec![SealPart::Contact]);
        }
        self.parts
            .iter()
            .map(|n| SealPart::from_name(n).ok_or_else(|| n.clone()))
            .collect()
    }

    /// Whether it holds `part` (as far as this release can tell).
    pub fn holds(&self, part: SealPart) -> bool {
        if self.parts.is_empty() {
            return part == SealPart::Contact;
        }
        self.parts.iter().any(|n| n == part.name())
    }
}

/// One epoch of an author's audience.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Audience {
    /// 1–64 bytes of a–z, 0–9, `-`.
    pub name: String,
    /// 1, 2, 3, … per name.
    pub epoch: u32,
    /// How the author chose the members.
    pub members: AudienceMembers,
    /// Each member's copy of the epoch key.
    pub wraps: Vec<AudienceWrap>,
}

/// How an author chose an audience's members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AudienceMembers {
    /// Named municipalities (local government codes).
    pub codes: Vec<String>,
    /// Partners of these kinds (both sides stated the partnership).
    pub partner_kinds: Vec<PartnershipKind>,
    /// Members these relays endorse.
    pub endorsed_by: Vec<NodeId>,
    /// Only the author's own staff.
    pub own_staff: bool,
}

/// One member's copy of an epoch key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudienceWrap {
    /// The member.
    pub node: NodeId,
    /// The member's audience key it is sealed to.
    #[serde(with = "hex_bytes")]
    pub key: Vec<u8>,
    /// HPKE encapsulated key.
    #[serde(with = "hex_bytes")]
    pub enc: Vec<u8>,
    /// HPKE ciphertext of the epoch key.
    #[serde(with = "hex_bytes")]
    pub wrapped: Vec<u8>,
}

/// The author withdraws the restricted parts of its objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Withdrawal {
    /// The author's object ids.
    pub objects: Vec<String>,
    /// Why (shown to staff; no personal data).
    pub reason: LocalizedText,
}

/// Whether `name` is an audience name: 1–64 bytes of a–z, 0–9, `-`.
pub fn valid_audience_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The object id of an audience's epochs.
pub fn audience_object_id(name: &str) -> String {
    format!("audience/{name}")
}

/// Why sealing or opening failed. Opening failures never say more than
/// which step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// A key of the wrong length or not a curve point.
    #[error("not an X25519 key")]
    BadKey,
    /// HPKE or the AEAD refused (wrong key, tampered bytes).
    #[error("does not open with this key (tampered, or sealed to another key)")]
    DoesNotOpen,
    /// A field has the wrong length.
    #[error("{0} has the wrong length")]
    Length(&'static str),
}

/// A node's X25519 secret for restricted content. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AudienceSecret([u8; KEY_BYTES]);

impl std::fmt::Debug for AudienceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AudienceSecret")
            .field(&hex::encode(self.public()))
            .finish()
    }
}

impl AudienceSecret {
    /// A fresh key from the operating system's generator.
    pub fn generate() -> Self {
        let mut ikm = [0u8; KEY_BYTES];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut ikm);
        let (sk, _) = Kem::derive_keypair(&ikm);
        ikm.zeroize();
        let mut out = [0u8; KEY_BYTES];
        out.copy_from_slice(&sk.to_bytes());
        Self(out)
    }

    /// The secret as stored.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let arr: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        <Kem as hpke::Kem>::PrivateKey::from_bytes(&arr).map_err(|_| SealError::BadKey)?;
        Ok(Self(arr))
    }

    /// The secret's bytes, for the keyring file.
    pub fn to_bytes(&self) -> [u8; KEY_BYTES] {
        self.0
    }

    /// The public key published in the profile.
    pub fn public(&self) -> [u8; KEY_BYTES] {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&self.0).expect("checked key");
        let pk = <Kem as hpke::Kem>::sk_to_pk(&sk);
        let mut out = [0u8; KEY_BYTES];
        out.copy_from_slice(&pk.to_bytes());
        out
    }
}

/// An audience epoch's key. Zeroized on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct EpochKey(pub [u8; KEY_BYTES]);

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochKey(..)")
    }
}

impl EpochKey {
    /// A fresh key from the operating system's generator.
    pub fn generate() -> Self {
        let mut k = [0u8; KEY_BYTES];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut k);
        Self(k)
    }
}

/// The key that seals one entry's restricted part: derived from the epoch
/// key, the author and the seq, so each entry has its own and a node can
/// keep one entry's key without the epoch's. Zeroized on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ContentKey(pub [u8; KEY_BYTES]);

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

/// What an epoch key is bound to when it is wrapped for one member.
fn wrap_info(author: &NodeId, name: &str, epoch: u32, member: &NodeId) -> Vec<u8> {
    let mut info = Vec::with_capacity(16 + 32 + name.len() + 1 + 4 + 32);
    info.extend_from_slice(b"yui/audience/v1\0");
    info.extend_from_slice(author.as_bytes());
    info.extend_from_slice(name.as_bytes());
    info.push(0);
    info.extend_from_slice(&epoch.to_be_bytes());
    info.extend_from_slice(member.as_bytes());
    info
}

/// Seals `key` to a member's published audience key.
pub fn wrap_epoch_key(
    author: &NodeId,
    name: &str,
    epoch: u32,
    member: &NodeId,
    member_key: &[u8],
    key: &EpochKey,
) -> Result<AudienceWrap, SealError> {
    let pk =
        <Kem as hpke::Kem>::PublicKey::from_bytes(member_key).map_err(|_| SealError::BadKey)?;
    let mut rng = rand_core_09::UnwrapErr(rand_core_09::OsRng);
    let (enc, wrapped) = hpke::single_shot_seal::<HpkeAead, HpkeKdf, Kem, _>(
        &OpModeS::Base,
        &pk,
        &wrap_info(author, name, epoch, member),
        &key.0,
        &[],
        &mut rng,
    )
    .map_err(|_| SealError::BadKey)?;
    Ok(AudienceWrap {
        node: *member,
        key: member_key.to_vec(),
        enc: enc.to_bytes().to_vec(),
        wrapped,
    })
}

/// Opens this node's copy of an epoch key.
pub fn unwrap_epoch_key(
    author: &NodeId,
    name: &str,
    epoch: u32,
    wrap: &AudienceWrap,
    secret: &AudienceSecret,
) -> Result<EpochKey, SealError> {
    let sk =
        <Kem as hpke::Kem>::PrivateKey::from_bytes(&secret.0).map_err(|_| SealError::BadKey)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&wrap.enc)
        .map_err(|_| SealError::Length("enc"))?;
    let mut key = hpke::single_shot_open::<HpkeAead, HpkeKdf, Kem>(
        &OpModeR::Base,
        &sk,
        &enc,
        &wrap_info(author, name, epoch, &wrap.node),
        &wrap.wrapped,
        &[],
    )
    .map_err(|_| SealError::DoesNotOpen)?;
    let arr: Result<[u8; KEY_BYTES], _> = key.as_slice().try_into();
    key.zeroize();
    arr.map(EpochKey).map_err(|_| SealError::DoesNotOpen)
}

/// The key for the entry at `seq` of `author`'s log.
pub fn content_key(epoch_key: &EpochKey, author: &NodeId, seq: u64) -> ContentKey {
    let mut info = Vec::with_capacity(14 + 32 + 8);
    info.extend_from_slice(b"yui/sealed/v1\0");
    info.extend_from_slice(author.as_bytes());
    info.extend_from_slice(&seq.to_be_bytes());
    let hk = hkdf::Hkdf::<Sha256>::new(None, &epoch_key.0);
    let mut out = [0u8; KEY_BYTES];
    hk.expand(&info, &mut out)
        .expect("32 bytes is a valid length");
    ContentKey(out)
}

/// What a sealed part is bound to: its entry and its epoch.
fn sealed_aad(author: &NodeId, seq: u64, object_id: &str, audience: &str, epoch: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(14 + 32 + 8 + object_id.len() + audience.len() + 6);
    aad.extend_from_slice(b"yui/sealed/v1\0");
    aad.extend_from_slice(author.as_bytes());
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(object_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(audience.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad
}

/// Which entry a sealed part belongs to and the epoch it is sealed for.
#[derive(Debug, Clone, Copy)]
pub struct SealFor<'a> {
    /// The entry's author.
    pub author: &'a NodeId,
    /// Its seq.
    pub seq: u64,
    /// Its object.
    pub object_id: &'a str,
    /// The author's audience.
    pub audience: &'a str,
    /// Its epoch.
    pub epoch: u32,
}

/// Seals `plaintext` (a protobuf fragment of the entry holding `parts`)
/// for the entry and epoch `to`.
pub fn seal(key: &ContentKey, to: SealFor<'_>, parts: &[SealPart], plaintext: &[u8]) -> Sealed {
    let SealFor {
        author,
        seq,
        object_id,
        audience,
        epoch,
    } = to;
    let mut nonce = [0u8; NONCE_BYTES];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let aad = sealed_aad(author, seq, object_id, audience, epoch);
    let cipher = ChaCha20Poly1305::new((&key.0).into());
    let ciphertext = cipher
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .expect("ChaCha20-Poly1305 seals any length a entry can hold");
    Sealed {
        audience: audience.to_owned(),
        epoch,
        nonce: nonce.to_vec(),
        ciphertext,
        parts: parts.iter().map(|p| p.name().to_owned()).collect(),
    }
}

/// Opens a sealed part of the entry at `seq` of `author`'s log.
pub fn open(
    key: &ContentKey,
    author: &NodeId,
    seq: u64,
    object_id: &str,
    sealed: &Sealed,
) -> Result<Vec<u8>, SealError> {
    let nonce: [u8; NONCE_BYTES] = sealed
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| SealError::Length("sealed.nonce"))?;
    let aad = sealed_aad(author, seq, object_id, &sealed.audience, sealed.epoch);
    ChaCha20Poly1305::new((&key.0).into())
        .decrypt(
            (&nonce).into(),
            Payload {
                msg: &sealed.ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| SealError::DoesNotOpen)
}

/// Field rules of a sealed part (what every node checks, readable or not).
pub(crate) fn validate_sealed(
    s: &Sealed,
    body: &crate::Body,
    limits: &crate::Limits,
) -> Result<(), ValidationError> {
    use crate::Body;
    if !valid_audience_name(&s.audience) {
        return Err(invalid(
            "sealed.audience",
            "must be 1-64 bytes of a-z, 0-9 and -",
        ));
    }
    if s.epoch == 0 {
        return Err(invalid("sealed.epoch", "epochs start at 1"));
    }
    if s.nonce.len() != NONCE_BYTES {
        return Err(invalid("sealed.nonce", "must be 12 bytes"));
    }
    if s.ciphertext.len() < 16 || s.ciphertext.len() > limits.max_entry_bytes {
        return Err(invalid(
            "sealed.ciphertext",
            "must hold at least the 16-byte tag and fit in an entry",
        ));
    }
    if s.parts.len() > MAX_PARTS {
        return Err(invalid("sealed.parts", "names at most 8 parts"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &s.parts {
        let name_ok = (1..=32).contains(&p.len())
            && p.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        if !name_ok {
            return Err(invalid(
                "sealed.parts",
                "each part is 1-32 bytes of a-z, 0-9 and _",
            ));
        }
        if !seen.insert(p.as_str()) {
            return Err(invalid("sealed.parts", "names a part twice"));
        }
    }
    if s.holds(SealPart::ShelterLocation) && !matches!(body, Body::Readiness(_)) {
        return Err(invalid(
            "sealed.parts",
            "shelter_location belongs to a readiness status",
        ));
    }
    match body {
        Body::Audience(_)
        | Body::Withdrawal(_)
        | Body::Endorsement(_)
        | Body::Revocation(_)
        | Body::KeyRotation(_)
        | Body::Retraction(_)
        | Body::Partnership(_)
        | Body::Acknowledgement(_) => Err(invalid(
            "sealed",
            "trust, keys, audiences, retractions, partnerships and acknowledgements are never restricted: every node must read them",
        )),
        _ => Ok(()),
    }
}

/// Field rules of an audience epoch.
pub(crate) fn validate_audience(a: &Audience, entry: &crate::Entry) -> Result<(), ValidationError> {
    if !valid_audience_name(&a.name) {
        return Err(invalid(
            "audience.name",
            "must be 1-64 bytes of a-z, 0-9 and -",
        ));
    }
    if entry.object_id != audience_object_id(&a.name) {
        return Err(invalid(
            "object_id",
            format!(
                "an audience's object id is {:?}",
                audience_object_id(&a.name)
            ),
        ));
    }
    if a.epoch == 0 {
        return Err(invalid("audience.epoch", "epochs start at 1"));
    }
    if a.wraps.len() > MAX_MEMBERS || a.members.codes.len() > MAX_MEMBERS {
        return Err(invalid(
            "audience.wraps",
            format!("at most {MAX_MEMBERS} members"),
        ));
    }
    if a.members.endorsed_by.len() > 16 {
        return Err(invalid("audience.members.endorsed_by", "at most 16 relays"));
    }
    for c in &a.members.codes {
        crate::validate::validate_municipality_code(c)
            .map_err(|e| invalid("audience.members.codes", e))?;
    }
    let mut seen = std::collections::HashSet::new();
    for w in &a.wraps {
        if w.key.len() != KEY_BYTES || w.enc.len() != KEY_BYTES {
            return Err(invalid("audience.wraps", "key and enc are 32 bytes"));
        }
        if w.wrapped.len() != WRAPPED_BYTES {
            return Err(invalid("audience.wraps.wrapped", "must be 48 bytes"));
        }
        if !seen.insert(w.node) {
            return Err(invalid(
                "audience.wraps",
                format!("{} is named twice", w.node),
            ));
        }
    }
    Ok(())
}

/// Field rules of a withdrawal.
pub(crate) fn validate_withdrawal(
    w: &Withdrawal,
    limits: &crate::Limits,
) -> Result<(), ValidationError> {
    if w.objects.is_empty() {
        return Err(ValidationError::Missing("withdrawal.objects"));
    }
    if w.objects.len() > MAX_WITHDRAWN {
        return Err(invalid(
            "withdrawal.objects",
            format!("at most {MAX_WITHDRAWN} objects"),
        ));
    }
    for o in &w.objects {
        crate::validate::validate_object_id(o, limits)?;
    }
    crate::validate::validate_text("withdrawal.reason", &w.reason, limits)
}

pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn id() -> NodeId {
        NodeId::new(SecretKey::generate(&mut rand_core::OsRng).public_key())
    }

    #[test]
    fn an_epoch_key_opens_only_for_its_member_and_context() {
        let author = id();
        let member = id();
        let other = id();
        let secret = AudienceSecret::generate();
        let stranger = AudienceSecret::generate();
        let key = EpochKey::generate();
        let wrap = wrap_epoch_key(&author, "partners", 1, &member, &secret.public(), &key).unwrap();
        assert_eq!(wrap.enc.len(), KEY_BYTES);
        assert_eq!(wrap.wrapped.len(), WRAPPED_BYTES);
        assert_eq!(
            unwrap_epoch_key(&author, "partners", 1, &wrap, &secret).unwrap(),
            key
        );
        // Another secret, another epoch, another name, another member.
        assert!(unwrap_epoch_key(&author, "partners", 1, &wrap, &stranger).is_err());
        assert!(unwrap_epoch_key(&author, "partners", 2, &wrap, &secret).is_err());
        assert!(unwrap_epoch_key(&author, "staff", 1, &wrap, &secret).is_err());
        let moved = AudienceWrap {
            node: other,
            ..wrap.clone()
        };
        assert!(unwrap_epoch_key(&author, "partners", 1, &moved, &secret).is_err());
        let mut tampered = wrap;
        tampered.wrapped[3] ^= 1;
        assert_eq!(
            unwrap_epoch_key(&author, "partners", 1, &tampered, &secret),
            Err(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn a_sealed_part_is_bound_to_its_entry() {
        let author = id();
        let epoch = EpochKey::generate();
        let key = content_key(&epoch, &author, 7);
        let to = SealFor {
            author: &author,
            seq: 7,
            object_id: "case/1",
            audience: "partners",
            epoch: 1,
        };
        let s = seal(&key, to, &[SealPart::Contact], b"contact");
        assert_eq!(s.parts, ["contact"]);
        assert_eq!(s.sealed_parts().unwrap(), [SealPart::Contact]);
        assert_eq!(open(&key, &author, 7, "case/1", &s).unwrap(), b"contact");
        assert!(open(&key, &author, 7, "case/2", &s).is_err());
        assert!(open(&content_key(&epoch, &author, 8), &author, 8, "case/1", &s).is_err());
        let mut t = s.clone();
        t.ciphertext[0] ^= 1;
        assert!(open(&key, &author, 7, "case/1", &t).is_err());
        let mut t = s;
        t.epoch = 2;
        assert!(open(&key, &author, 7, "case/1", &t).is_err());
    }

    #[test]
    fn parts_named_none_mean_the_contact_and_unknown_ones_are_named() {
        let mut s = Sealed {
            audience: "partners".into(),
            epoch: 1,
            nonce: vec![0; NONCE_BYTES],
            ciphertext: vec![0; 16],
            parts: vec![],
        };
        assert!(s.holds(SealPart::Contact));
        assert!(!s.holds(SealPart::ShelterLocation));
        s.parts = vec!["shelter_location".into(), "roster".into()];
        assert!(s.holds(SealPart::ShelterLocation));
        assert!(!s.holds(SealPart::Contact));
        assert_eq!(s.sealed_parts().unwrap_err(), "roster");
        for p in SealPart::ALL {
            assert_eq!(SealPart::from_name(p.name()), Some(p));
        }
    }

    #[test]
    fn secrets_round_trip_and_names_are_checked() {
        let s = AudienceSecret::generate();
        let back = AudienceSecret::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(back.public(), s.public());
        assert!(AudienceSecret::from_bytes(&[1, 2, 3]).is_err());
        assert!(valid_audience_name("mutual-aid-2"));
        assert!(!valid_audience_name(""));
        assert!(!valid_audience_name("Partners"));
        assert!(!valid_audience_name(&"a".repeat(65)));
    }
}
