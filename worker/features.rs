//! Deterministic text features, computed here and only here: `liasse features` writes them for
//! the training scripts and the models read the same vectors at inference, so training and
//! inference cannot drift apart.
//!
//! `text_features(text, spec)`: the first `max_chars` characters, lower-cased, accents folded,
//! digits mapped to `0`; tokens are runs of letters and digits; word n-grams and character
//! n-grams (within padded words, like scikit-learn's `char_wb`) are hashed (FNV-1a 64, signed)
//! into `dim` buckets; term frequencies are sublinear (`ln(1 + tf)`, sign kept) and the vector is
//! L2-normalised. Numeric features a model adds (`spec.numeric`) follow the hashed part as given.
//!
//! A model stores its `FeatureSpec` beside its ONNX file: a change of spec is a new model.

use crate::document::Document;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FeatureError {
    #[error("invalid feature spec: {0}")]
    Spec(String),
    #[error("expected {expected} numeric features, got {actual}")]
    Numeric { expected: usize, actual: usize },
}

/// How text becomes a vector. Stored with each model (`features.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Version of this algorithm; 1 is the only one.
    #[serde(default = "one")]
    pub version: u32,
    /// Hashed dimension.
    pub dim: usize,
    /// Only the first `max_chars` characters of the text are read (bounds the cost).
    pub max_chars: usize,
    /// Word n-gram lengths, inclusive (`[1, 2]`: unigrams and bigrams; `[0, 0]`: none).
    pub word_ngrams: [usize; 2],
    /// Character n-gram lengths within padded words, inclusive (`[0, 0]`: none).
    pub char_ngrams: [usize; 2],
    /// Longest token kept (longer ones are cut).
    #[serde(default = "thirty")]
    pub max_token_chars: usize,
    /// Weight of the character n-grams relative to words (applied before the L2 norm).
    #[serde(default = "one_f")]
    pub char_weight: f32,
    /// The first `head_chars` characters (where titles are) also count as features of their
    /// own (word and character n-grams, in a separate hash space); 0: none.
    #[serde(default)]
    pub head_chars: usize,
    /// Weight of the head features.
    #[serde(default = "one_f")]
    pub head_weight: f32,
    /// Numeric features appended after the hashed part (not normalised).
    #[serde(default)]
    pub numeric: usize,
}

fn one() -> u32 {
    1
}
fn thirty() -> usize {
    30
}
fn one_f() -> f32 {
    1.0
}

impl Default for FeatureSpec {
    /// The document classifier's spec.
    fn default() -> Self {
        FeatureSpec {
            version: 1,
            dim: 1 << 15,
            max_chars: 6000,
            word_ngrams: [1, 2],
            char_ngrams: [3, 5],
            max_token_chars: 30,
            char_weight: 1.0,
            head_chars: 600,
            head_weight: 1.0,
            numeric: 0,
        }
    }
}

impl FeatureSpec {
    /// Length of the vectors this spec makes.
    pub fn len(&self) -> usize {
        self.dim + self.numeric
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn validate(&self) -> Result<(), FeatureError> {
        let bad = |m: &str| Err(FeatureError::Spec(m.to_string()));
        if self.version != 1 {
            return bad("only version 1 exists");
        }
        if self.dim == 0 || self.dim > 1 << 24 {
            return bad("dim must be in 1..=16777216");
        }
        for (name, [lo, hi]) in [("word_ngrams", self.word_ngrams), ("char_ngrams", self.char_ngrams)] {
            if lo > hi || hi > 8 || (lo == 0 && hi != 0) {
                return Err(FeatureError::Spec(format!("{name} must be [0, 0] or 1 <= min <= max <= 8")));
            }
        }
        if self.max_token_chars == 0 {
            return bad("max_token_chars must be positive");
        }
        if !self.char_weight.is_finite() || self.char_weight < 0.0 {
            return bad("char_weight must be a finite non-negative number");
        }
        if !self.head_weight.is_finite() || self.head_weight < 0.0 {
            return bad("head_weight must be a finite non-negative number");
        }
        Ok(())
    }

    pub fn from_json(text: &str) -> Result<FeatureSpec, FeatureError> {
        let spec: FeatureSpec = serde_json::from_str(text).map_err(|e| FeatureError::Spec(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }
}

/// The text of a document as the models see it: its pages' texts joined by blank lines; for a
/// document without page text (a bare e-invoice XML), a short rendering of its e-invoice.
pub fn document_text(doc: &Document) -> String {
    let pages: Vec<&str> =
        doc.pages.iter().map(|p| p.text.as_str()).filter(|t| !t.trim().is_empty()).collect();
    if !pages.is_empty() {
        return pages.join("\n\n");
    }
    match &doc.einvoice {
        Some(e) => einvoice_text(e),
        None => String::new(),
    }
}

/// The words of an e-invoice, in the order a printed one shows them.
fn einvoice_text(e: &crate::einvoice::EInvoice) -> String {
    let v = serde_json::to_value(e).unwrap_or_default();
    let mut out = String::new();
    collect_strings(&v, &mut out);
    out
}

/// Every string value of a JSON tree that is not an XML path or a line reference.
fn collect_strings(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::String(s) if !s.starts_with('/') => {
            out.push_str(s);
            out.push('\n');
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                if k != "path" && k != "xpath" {
                    collect_strings(x, out);
                }
            }
        }
        _ => {}
    }
}

/// The normalised tokens of a text: lower case, accents folded, digits as `0`.
pub fn tokens(text: &str, spec: &FeatureSpec) -> Vec<String> {
    tokens_of_prefix(text, spec.max_chars, spec)
}

fn tokens_of_prefix(text: &str, max_chars: usize, spec: &FeatureSpec) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_chars = 0usize;
    let prefix: String = text.chars().take(max_chars).collect();
    for c in prefix.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            if cur_chars < spec.max_token_chars {
                if c.is_numeric() {
                    cur.push('0');
                    cur_chars += 1;
                } else {
                    for l in c.to_lowercase() {
                        cur.push(l);
                        cur_chars += 1;
                    }
                }
            }
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_chars = 0;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Adds one hashed feature: bucket from the low bits, sign from the top bit.
fn add(v: &mut [f32], h: u64, w: f32) {
    // A final avalanche so that nearby FNV values spread over the buckets.
    let mut x = h;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    let n = v.len() as u64;
    // The same bucket as `x % n`; a mask when `n` is a power of two (no division per feature).
    let i = if n.is_power_of_two() { x & (n - 1) } else { x % n } as usize;
    if x >> 63 == 1 {
        v[i] -= w;
    } else {
        v[i] += w;
    }
}

/// The feature vector of a text (`spec.len()` values; numeric features, if any, zero).
pub fn text_features(text: &str, spec: &FeatureSpec) -> Vec<f32> {
    let mut v = vec![0f32; spec.len()];
    hashed(text, spec, &mut v[..spec.dim]);
    v
}

/// The feature vector of a text followed by a model's numeric features.
pub fn features_with_numeric(
    text: &str,
    numeric: &[f32],
    spec: &FeatureSpec,
) -> Result<Vec<f32>, FeatureError> {
    if numeric.len() != spec.numeric {
        return Err(FeatureError::Numeric { expected: spec.numeric, actual: numeric.len() });
    }
    let mut v = text_features(text, spec);
    v[spec.dim..].copy_from_slice(numeric);
    Ok(v)
}

fn hashed(text: &str, spec: &FeatureSpec, v: &mut [f32]) {
    if v.is_empty() {
        return;
    }
    let toks = tokens(text, spec);
    add_ngrams(&toks, spec, *b"wc", 1.0, v);
    if spec.head_chars > 0 && spec.head_weight > 0.0 {
        let head = tokens_of_prefix(text, spec.head_chars.min(spec.max_chars), spec);
        add_ngrams(&head, spec, *b"hH", spec.head_weight, v);
    }
    let mut norm = 0f64;
    for x in v.iter_mut() {
        if *x != 0.0 {
            *x = x.signum() * x.abs().ln_1p();
            norm += f64::from(*x) * f64::from(*x);
        }
    }
    if norm > 0.0 {
        let inv = (1.0 / norm.sqrt()) as f32;
        for x in v.iter_mut() {
            *x *= inv;
        }
    }
}

/// Word and character n-grams of `toks`, hashed with the namespace bytes `ns` (words, chars).
fn add_ngrams(toks: &[String], spec: &FeatureSpec, ns: [u8; 2], weight: f32, v: &mut [f32]) {
    let [wlo, whi] = spec.word_ngrams;
    if whi > 0 {
        for n in wlo..=whi {
            for win in toks.windows(n) {
                let mut h = fnv(FNV_OFFSET, &[ns[0], n as u8]);
                for (k, t) in win.iter().enumerate() {
                    if k > 0 {
                        h = fnv(h, &[0x1f]);
                    }
                    h = fnv(h, t.as_bytes());
                }
                add(v, h, weight);
            }
        }
    }
    let [clo, chi] = spec.char_ngrams;
    if chi > 0 && spec.char_weight > 0.0 {
        let mut buf = [0u8; 4];
        let mut chars: Vec<char> = Vec::with_capacity(spec.max_token_chars + 2);
        for t in toks {
            chars.clear();
            chars.push(' ');
            chars.extend(t.chars());
            chars.push(' ');
            for n in clo..=chi {
                if chars.len() < n {
                    break;
                }
                for win in chars.windows(n) {
                    let mut h = fnv(FNV_OFFSET, &[ns[1], n as u8]);
                    for c in win {
                        h = fnv(h, c.encode_utf8(&mut buf).as_bytes());
                    }
                    add(v, h, spec.char_weight * weight);
                }
            }
        }
    }
}

/// A vector as its non-zero entries, for compact JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sparse {
    pub dim: usize,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Sparse {
    pub fn of(v: &[f32]) -> Sparse {
        let mut indices = Vec::new();
        let mut values = Vec::new();
        for (i, x) in v.iter().enumerate() {
            if *x != 0.0 {
                indices.push(i as u32);
                values.push(*x);
            }
        }
        Sparse { dim: v.len(), indices, values }
    }

    pub fn dense(&self) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        for (i, x) in self.indices.iter().zip(&self.values) {
            if let Some(slot) = v.get_mut(*i as usize) {
                *slot = *x;
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_normalised() {
        let spec = FeatureSpec::default();
        assert_eq!(
            tokens("FACTURE n° 2026-017 — Échéance: 30/11/2026", &spec),
            ["facture", "n", "0000", "000", "echeance", "00", "00", "0000"]
        );
    }

    #[test]
    fn same_text_same_vector_and_unit_norm() {
        let spec = FeatureSpec::default();
        let a = text_features("Contrat de prestation de services entre les soussignés", &spec);
        let b = text_features("Contrat de prestation de services entre les soussignés", &spec);
        assert_eq!(a, b);
        assert_eq!(a.len(), spec.dim);
        let n: f32 = a.iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-5, "{n}");
    }

    #[test]
    fn accents_case_and_digits_do_not_change_features() {
        let spec = FeatureSpec::default();
        assert_eq!(text_features("Échéance 12/03/2026", &spec), text_features("echeance 45/67/8901", &spec));
        assert_ne!(text_features("invoice", &spec), text_features("contract", &spec));
    }

    #[test]
    fn empty_text_is_the_zero_vector() {
        let spec = FeatureSpec::default();
        assert!(text_features("", &spec).iter().all(|x| *x == 0.0));
        assert!(text_features(" \n\t— ", &spec).iter().all(|x| *x == 0.0));
    }

    #[test]
    fn the_head_counts_twice() {
        // Unigrams only: without head features, the position of a word does not matter.
        let spec = FeatureSpec { word_ngrams: [1, 1], ..FeatureSpec::default() };
        let none = FeatureSpec { head_chars: 0, ..spec.clone() };
        let body = format!("{}\nFACTURE", "ligne de texte ".repeat(100));
        let head = format!("FACTURE\n{}", "ligne de texte ".repeat(100));
        assert!(text_features(&body, &none) == text_features(&head, &none));
        assert!(text_features(&body, &spec) != text_features(&head, &spec));
    }

    #[test]
    fn only_the_prefix_counts() {
        let spec = FeatureSpec { max_chars: 20, ..FeatureSpec::default() };
        let long = format!("purchase order here {}", "lease ".repeat(1000));
        assert_eq!(text_features(&long, &spec), text_features("purchase order here", &spec));
    }

    #[test]
    fn numeric_features_follow_the_hashed_part() {
        let spec = FeatureSpec { dim: 64, numeric: 2, ..FeatureSpec::default() };
        let v = features_with_numeric("total due", &[3.5, -1.0], &spec).unwrap();
        assert_eq!(v.len(), 66);
        assert_eq!(&v[64..], &[3.5, -1.0]);
        assert_eq!(
            features_with_numeric("x", &[1.0], &spec),
            Err(FeatureError::Numeric { expected: 2, actual: 1 })
        );
    }

    #[test]
    fn known_vector_is_stable() {
        // Guards the hashing against accidental change: a change here is a new feature version
        // and every model must be retrained.
        let spec = FeatureSpec {
            dim: 16,
            word_ngrams: [1, 1],
            char_ngrams: [0, 0],
            head_chars: 0,
            ..FeatureSpec::default()
        };
        let s = Sparse::of(&text_features("facture avoir facture", &spec));
        let got: Vec<(u32, String)> =
            s.indices.iter().zip(&s.values).map(|(i, x)| (*i, format!("{x:.6}"))).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        let mags: Vec<f32> = s.values.iter().map(|x| x.abs()).collect();
        // ln(1+2) and ln(1+1), normalised.
        let n = (3f32.ln().powi(2) + 2f32.ln().powi(2)).sqrt();
        let mut want = [3f32.ln() / n, 2f32.ln() / n];
        let mut have = mags.clone();
        want.sort_by(f32::total_cmp);
        have.sort_by(f32::total_cmp);
        for (a, b) in want.iter().zip(&have) {
            assert!((a - b).abs() < 1e-6, "{got:?}");
        }
    }

    #[test]
    fn sparse_roundtrip_and_spec_json() {
        let spec = FeatureSpec::default();
        let v = text_features("Bon de livraison n° 12", &spec);
        assert_eq!(Sparse::of(&v).dense(), v);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(FeatureSpec::from_json(&json).unwrap(), spec);
        assert!(
            FeatureSpec::from_json(r#"{"dim":0,"max_chars":1,"word_ngrams":[1,1],"char_ngrams":[0,0]}"#)
                .is_err()
        );
        assert!(
            FeatureSpec::from_json(
                r#"{"dim":8,"max_chars":1,"word_ngrams":[1,1],"char_ngrams":[0,0],"x":1}"#
            )
            .is_err()
        );
    }
}
