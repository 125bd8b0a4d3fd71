//! The server's secret key, which seals what must not be stored in the clear (the gateways'
//! credentials): XChaCha20-Poly1305 with a random 192-bit nonce per seal, stored as
//! `base64(nonce ‖ ciphertext)`. The key lives outside the database — `JUCHU_SECRET_KEY`
//! (64 hex digits) or a file beside the SQLite database (`secret.key`, mode 0600) — so a
//! copy of the database alone does not give the secrets away.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretKeyError {
    #[error("秘密鍵は64桁の16進数（32バイト）で指定してください")]
    BadHex,
    #[error("乱数を取得できません: {0}")]
    Random(String),
    #[error("秘密鍵ファイル {0} を読み書きできません: {1}")]
    File(String, String),
    /// The key does not open what was sealed: another key, or altered data.
    #[error("保存されている暗号文をこの秘密鍵で復号できません")]
    Open,
}

/// 32 bytes. Never printed.
#[derive(Clone)]
pub struct SecretKey(Result<[u8; 32], SecretKeyError>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], SecretKeyError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| SecretKeyError::Random(e.to_string()))?;
    Ok(b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SecretKey {
    /// A new random key. Good for tests and one-off commands; a server must keep its key
    /// (see `load_or_create`), or it cannot read what it sealed after a restart. Should the
    /// system's random source fail, the key refuses every seal and open instead of panicking.
    pub fn random() -> SecretKey {
        SecretKey(random_bytes::<32>())
    }

    pub fn from_bytes(b: [u8; 32]) -> SecretKey {
        SecretKey(Ok(b))
    }

    /// 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<SecretKey, SecretKeyError> {
        let s = s.trim();
        if s.len() != 64 || !s.is_ascii() {
            return Err(SecretKeyError::BadHex);
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o =
                u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| SecretKeyError::BadHex)?;
        }
        Ok(SecretKey(Ok(out)))
    }

    /// The key in the file `path`; a new random key is written there first (mode 0600) when
    /// the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<SecretKey, SecretKeyError> {
        let shown = path.display().to_string();
        let file_err = |e: std::io::Error| SecretKeyError::File(shown.clone(), e.to_string());
        match std::fs::read_to_string(path) {
            Ok(s) => return SecretKey::from_hex(&s),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(file_err(e)),
            Err(_) => {}
        }
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(file_err)?;
        }
        let key = random_bytes::<32>()?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(path) {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(format!("{}\n", hex(&key)).as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(file_err)?;
                Ok(SecretKey(Ok(key)))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                SecretKey::from_hex(&std::fs::read_to_string(path).map_err(file_err)?)
            }
            Err(e) => Err(file_err(e)),
        }
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305, SecretKeyError> {
        let k = self.0.as_ref().map_err(Clone::clone)?;
        Ok(XChaCha20Poly1305::new(Key::from_slice(k)))
    }

    /// Encrypt `plain`, bound to `context` (what and whose it is: a sealed value copied to
    /// another row does not open there).
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String, SecretKeyError> {
        let nonce = random_bytes::<NONCE_LEN>()?;
        let ct = self
            .cipher()?
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretKeyError::Open)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(STANDARD.encode(out))
    }

    /// Decrypt what `seal` made with the same key and context.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecretKeyError> {
        let raw = STANDARD
            .decode(sealed.trim())
            .map_err(|_| SecretKeyError::Open)?;
        if raw.len() < NONCE_LEN {
            return Err(SecretKeyError::Open);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        self.cipher()?
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretKeyError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let k = SecretKey::random();
        let a = k.seal(b"connect-password-1234", "shop=1 gmo").unwrap();
        let b = k.seal(b"connect-password-1234", "shop=1 gmo").unwrap();
        assert_ne!(a, b, "a fresh nonce per seal");
        assert!(!a.contains("1234"));
        assert_eq!(k.open(&a, "shop=1 gmo").unwrap(), b"connect-password-1234");
        assert_eq!(k.open(&a, "shop=2 gmo"), Err(SecretKeyError::Open));
        assert_eq!(
            SecretKey::random().open(&a, "shop=1 gmo"),
            Err(SecretKeyError::Open)
        );
        assert_eq!(k.open("not base64!", "x"), Err(SecretKeyError::Open));
        assert_eq!(k.open("AAAA", "x"), Err(SecretKeyError::Open));
        assert_eq!(format!("{k:?}"), "SecretKey(***)");
    }

    #[test]
    fn hex_keys() {
        let h = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let k = SecretKey::from_hex(h).unwrap();
        let s = k.seal(b"x", "c").unwrap();
        assert_eq!(
            SecretKey::from_hex(&format!(" {h}\n"))
                .unwrap()
                .open(&s, "c")
                .unwrap(),
            b"x"
        );
        assert_eq!(
            SecretKey::from_hex("abc").unwrap_err(),
            SecretKeyError::BadHex
        );
        assert_eq!(
            SecretKey::from_hex(&"zz".repeat(32)).unwrap_err(),
            SecretKeyError::BadHex
        );
        assert_eq!(
            SecretKey::from_hex(&"あ".repeat(21)).unwrap_err(),
            SecretKeyError::BadHex
        );
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let dir =
            std::env::temp_dir().join(format!("juchu-key-{}", hex(&random_bytes::<8>().unwrap())));
        let path = dir.join("sub/secret.key");
        let k1 = SecretKey::load_or_create(&path).unwrap();
        let k2 = SecretKey::load_or_create(&path).unwrap();
        let s = k1.seal(b"same", "c").unwrap();
        assert_eq!(k2.open(&s, "c").unwrap(), b"same");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "broken").unwrap();
        assert_eq!(
            SecretKey::load_or_create(&path).unwrap_err(),
            SecretKeyError::BadHex
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
