//! [`NodeId`]: who a node or author is, and its one text form.
//!
//! The text form is bech32m with the human-readable part `yui`
//! (`yui1…`, 62 characters). Its checksum catches typos and transpositions
//! when an operator copies an id between offices; upper case is accepted,
//! lower case is always printed.

use std::fmt;
use std::str::FromStr;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};

use crate::keys::{PublicKey, VerifyError};

const HRP: Hrp = Hrp::parse_unchecked("yui");

/// The identity of a node and of the author of its log: its ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(PublicKey);

/// Why a text did not parse as a [`NodeId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseNodeIdError {
    /// Not bech32m, or the checksum failed (a typo).
    #[error("not a yui node id (expected yui1… with a valid checksum): {0}")]
    Encoding(String),
    /// The prefix is not `yui`.
    #[error("node id must start with \"yui1\", found prefix {0:?}")]
    Prefix(String),
    /// The key inside is not acceptable.
    #[error("node id holds an unusable key: {0}")]
    Key(#[from] VerifyError),
}

impl NodeId {
    /// The id for a public key.
    pub fn new(key: PublicKey) -> Self {
        Self(key)
    }

    /// Reads 32 key bytes (wire form).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        PublicKey::from_bytes(bytes).map(Self)
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.0
    }

    /// The 32 key bytes (wire form).
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// A short form for logs and tables (not parseable).
    pub fn short(&self) -> String {
        let s = self.to_string();
        format!("{}…{}", &s[..10], &s[s.len() - 6..])
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        bech32::encode_lower_to_fmt::<Bech32m, _>(f, HRP, self.as_bytes()).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.short())
    }
}

impl FromStr for NodeId {
    type Err = ParseNodeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let checked = CheckedHrpstring::new::<Bech32m>(s.trim())
            .map_err(|e| ParseNodeIdError::Encoding(e.to_string()))?;
        if checked.hrp() != HRP {
            return Err(ParseNodeIdError::Prefix(checked.hrp().to_string()));
        }
        let bytes: Vec<u8> = checked.byte_iter().collect();
        Ok(Self(PublicKey::from_bytes(&bytes)?))
    }
}

impl serde::Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn id(seed: u8) -> NodeId {
        NodeId::new(SecretKey::from_seed(&[seed; 32]).public_key())
    }

    #[test]
    fn text_form_round_trips_and_is_stable() {
        let a = id(1);
        let text = a.to_string();
        assert!(text.starts_with("yui1"));
        assert_eq!(text.len(), 62);
        assert_eq!(text.parse::<NodeId>().unwrap(), a);
        assert_eq!(text.to_uppercase().parse::<NodeId>().unwrap(), a);
    }

    #[test]
    fn typos_are_rejected() {
        let text = id(2).to_string();
        let mut chars: Vec<char> = text.chars().collect();
        // Change one data character.
        chars[20] = if chars[20] == 'q' { 'p' } else { 'q' };
        let typo: String = chars.iter().collect();
        assert!(matches!(
            typo.parse::<NodeId>(),
            Err(ParseNodeIdError::Encoding(_))
        ));
        // Swap two neighbours.
        let mut chars: Vec<char> = text.chars().collect();
        let j = (10..60).find(|&j| chars[j] != chars[j + 1]).unwrap();
        chars.swap(j, j + 1);
        let swapped: String = chars.iter().collect();
        assert!(swapped.parse::<NodeId>().is_err());
        assert!("".parse::<NodeId>().is_err());
        assert!("yui1".parse::<NodeId>().is_err());
    }

    #[test]
    fn other_prefixes_are_rejected() {
        let other =
            bech32::encode::<Bech32m>(Hrp::parse("npub").unwrap(), id(3).as_bytes()).unwrap();
        assert!(matches!(
            other.parse::<NodeId>(),
            Err(ParseNodeIdError::Prefix(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_key_round_trips(seed: [u8; 32]) {
            let a = NodeId::new(SecretKey::from_seed(&seed).public_key());
            proptest::prop_assert_eq!(a.to_string().parse::<NodeId>().unwrap(), a);
        }
    }
}
