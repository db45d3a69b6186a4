//! Secrets: API tokens and session cookies (random, stored as SHA-256), passwords (argon2id),
//! scopes and roles.

use rand::RngCore as _;
use sha2::{Digest, Sha256};

pub const SCOPES: [&str; 3] = ["read:invoices", "read:contracts", "ack"];
pub const ROLES: [&str; 3] = ["accounts_payable", "lawyer", "admin"];

/// A new random secret (32 bytes) as text, with a prefix telling what it is.
pub fn new_secret(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}

pub fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Constant-time comparison of two secrets (CSRF tokens, the metrics token): their SHA-256
/// digests compared with `subtle`, so neither the content nor the length leaks through timing.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    sha256(a).ct_eq(&sha256(b)).into()
}

/// Scopes parsed from `read:invoices,ack`; an unknown scope is an error.
pub fn parse_scopes(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !SCOPES.contains(&p) {
            return Err(format!("unknown scope {p:?} (known: {})", SCOPES.join(", ")));
        }
        if !out.iter().any(|x| x == p) {
            out.push(p.to_string());
        }
    }
    if out.is_empty() {
        return Err("at least one scope is needed".into());
    }
    Ok(out)
}

pub fn hash_password(password: &str) -> Result<String, super::WebError> {
    use argon2::PasswordHasher as _;
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = argon2::password_hash::SaltString::encode_b64(&salt)
        .map_err(|e| super::WebError::Password(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| super::WebError::Password(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier as _;
    match argon2::password_hash::PasswordHash::new(hash) {
        Ok(h) => argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// Whether a role may see documents of a kind (`invoice`, `contract`).
pub fn role_sees(role: &str, kind: &str) -> bool {
    match role {
        "admin" => true,
        "accounts_payable" => kind == "invoice",
        "lawyer" => kind == "contract",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_secrets_differ() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(new_secret("t_"), new_secret("t_"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
        assert_eq!(parse_scopes("ack, read:invoices,ack").unwrap(), ["ack", "read:invoices"]);
        assert!(parse_scopes("write:all").is_err());
        assert!(
            role_sees("lawyer", "contract")
                && !role_sees("lawyer", "invoice")
                && role_sees("admin", "invoice")
        );
    }
}
