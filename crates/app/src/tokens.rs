//! Random tokens (sessions, API tokens, idempotency keys, checkout forms) and the hash juchu
//! keeps of them: a leaf every module may use. Tokens are 256 random bits; only their SHA-256
//! is stored, so a leaked database does not log anyone in.

use sha2::{Digest, Sha256};

use crate::AppError;

pub fn random_token() -> Result<String, AppError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    Ok(hex(&b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}
