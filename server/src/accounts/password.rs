//! Passwords: argon2id hashes (OWASP's minimum parameters: 19 MiB, 2 passes, 1 lane), the
//! policy for new ones, and one-time passwords for first starts and resets.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

/// Fewest characters a new password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in bytes (hashing is deliberately slow; an unbounded input is a
/// denial of service).
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters (密码至少 {MIN_PASSWORD_CHARS} 位)")]
    TooShort,
    #[error("the password must be at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("the password must not be the username (密码不能与用户名相同)")]
    SameAsUsername,
}

fn argon2() -> Argon2<'static> {
    // 19 MiB, t = 2, p = 1: OWASP's current minimum for argon2id.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string (algorithm, parameters, salt, hash) of `password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing a password: {e}"))
}

/// True when `password` matches the stored PHC string.
pub fn verify_password(stored: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(hash) => argon2().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the username is unknown, so the answer takes as long as for a
/// known one and does not tell which usernames exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("onegrid-no-such-user").unwrap_or_default())
}

/// Checks a new password against the policy.
pub fn check_new_password(username: &str, password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.trim().eq_ignore_ascii_case(username.trim()) {
        return Err(PasswordError::SameAsUsername);
    }
    Ok(())
}

/// A random password of 16 characters without look-alikes (no 0/O, 1/l/I), ~92 bits.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_password_and_is_argon2id_with_owasp_parameters() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert!(!verify_password("not a phc string", "x"));
        let again = hash_password("correct horse battery").expect("hash");
        assert_ne!(h, again, "salted");
    }

    #[test]
    fn the_policy_refuses_short_long_and_username_passwords() {
        assert_eq!(
            check_new_password("zhang", "short"),
            Err(PasswordError::TooShort)
        );
        assert_eq!(
            check_new_password("zhangsan01", "ZhangSan01"),
            Err(PasswordError::SameAsUsername)
        );
        assert_eq!(
            check_new_password("a", &"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(PasswordError::TooLong)
        );
        assert_eq!(check_new_password("zhang", "一二三四五六七八九十"), Ok(()));
        let p = generate_password();
        assert_eq!(p.len(), 16);
        assert_eq!(check_new_password("admin", &p), Ok(()));
        assert_ne!(p, generate_password());
    }
}
