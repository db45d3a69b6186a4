//! E-mail intake (.eml, RFC 822 / MIME). STUB — to be written.

use super::{Intake, Item};
use crate::document::{ContentHash, Source};

pub fn looks_like_email(_bytes: &[u8]) -> bool {
    false
}

pub fn read(_intake: &Intake, _bytes: &[u8], _hash: ContentHash, _source: Source, _depth: u32) -> Vec<Item> {
    Vec::new()
}
