//! Secrets: a string that never formats ([`Secret`]), and the list of secrets one client has
//! sent ([`Secrets`]), which every text a server sends passes through before it is shown.

use std::sync::{Arc, RwLock};

/// A secret string (API key, password, token): its `Debug` never shows it and it has no
/// `Display`. Sending it through an [`Http`](crate::Http) client is the caller's act: register
/// it with the client ([`Secrets::add`]) so that no server can echo it back into a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself, for sending. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Secrets shorter than this are not scrubbed: replacing every `ab` of a message would make it
/// unreadable, and such a secret protects nothing anyway.
const MIN_SECRET_LEN: usize = 4;

/// The secrets a client sends (API keys, passwords, tokens, the Basic form of a login), shared
/// by the client's clones and owned by it: two clients (two users, two servers) never see each
/// other's list. [`Secrets::scrub`] is the one scrubber every server text goes through.
#[derive(Clone, Default)]
pub struct Secrets(Arc<RwLock<Vec<String>>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.read().map_or(0, |v| v.len());
        write!(f, "Secrets({n} [redacted])")
    }
}

impl Secrets {
    /// Remembers a secret so that [`Secrets::scrub`] hides it, as it is and percent-encoded.
    pub fn add(&self, secret: &str) {
        let secret = secret.trim();
        if secret.chars().count() < MIN_SECRET_LEN {
            return;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let mut known = self.0.write().unwrap_or_else(|e| e.into_inner());
        for s in [secret.to_string(), encoded] {
            if !known.contains(&s) {
                known.push(s);
            }
        }
        // Longest first, so a secret that contains another is hidden whole.
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Whether `text` holds any of the secrets (as it is or percent-encoded): for an answer that
    /// is kept whole rather than shown, which is refused instead of scrubbed.
    pub fn found_in(&self, text: &str) -> bool {
        let known = self.0.read().unwrap_or_else(|e| e.into_inner());
        known.iter().any(|s| text.contains(s.as_str()))
    }

    /// `text` with every secret replaced by `[redacted]`: for anything a server sent (an
    /// error's `message`, a field serde did not expect, a name) before it is shown, logged or
    /// recorded.
    pub fn scrub(&self, text: &str) -> String {
        let known = self.0.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for s in known.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[redacted]");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_as_they_are_and_encoded_and_only_by_their_client() {
        let secrets = Secrets::default();
        secrets.add("s3cr3t/key+1");
        secrets.add("ab");
        let text = "bad key s3cr3t/key+1 (s3cr3t%2Fkey%2B1), ab";
        assert_eq!(secrets.scrub(text), "bad key [redacted] ([redacted]), ab");
        // A clone shares the list; another client's list is its own.
        let clone = secrets.clone();
        clone.add("second-secret");
        assert_eq!(secrets.scrub("second-secret"), "[redacted]");
        assert_eq!(Secrets::default().scrub(text), text);
        assert!(secrets.found_in("x s3cr3t%2Fkey%2B1 y") && !secrets.found_in("nothing here"));
        assert!(!format!("{secrets:?}").contains("s3cr3t"));
        assert_eq!(format!("{:?}", Secret::new("s3cr3t")), "Secret([redacted])");
    }

    #[test]
    fn a_secret_inside_another_is_hidden_whole() {
        let secrets = Secrets::default();
        secrets.add("abcd");
        secrets.add("abcdefgh");
        assert_eq!(secrets.scrub("x abcdefgh y"), "x [redacted] y");
    }
}
