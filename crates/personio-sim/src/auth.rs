//! Credentials and bearer tokens: stable 24 h per credential, optional forced expiry (fault).

use crate::config::Credential;
use crate::rng;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Personio's token lifetime.
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone)]
struct TokenInfo {
    credential: usize,
    issued: Instant,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// Unknown or expired token.
    Invalid,
}

/// Why a credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialError {
    UnknownClient,
    WrongSecret,
}

/// Issued tokens.
#[derive(Debug)]
pub(crate) struct AuthState {
    credentials: Vec<Credential>,
    tokens: HashMap<String, TokenInfo>,
    current: Vec<Option<String>>,
    counter: u64,
    seed: u64,
}

impl AuthState {
    pub(crate) fn new(credentials: Vec<Credential>, seed: u64) -> Self {
        let current = vec![None; credentials.len()];
        AuthState {
            credentials,
            tokens: HashMap::new(),
            current,
            counter: 0,
            seed,
        }
    }

    pub(crate) fn credential(&self, idx: usize) -> Option<&Credential> {
        self.credentials.get(idx)
    }

    /// Checks client id and secret.
    pub(crate) fn verify(&self, client_id: &str, secret: &str) -> Result<usize, CredentialError> {
        let idx = self
            .credentials
            .iter()
            .position(|c| c.client_id == client_id)
            .ok_or(CredentialError::UnknownClient)?;
        if self.credentials[idx].client_secret == secret {
            Ok(idx)
        } else {
            Err(CredentialError::WrongSecret)
        }
    }

    /// The credential's token: the current one while valid (stable-token rule), else a new one.
    /// Returns the token and its remaining lifetime in seconds.
    pub(crate) fn issue(&mut self, credential: usize, ttl: Option<Duration>) -> (String, u64) {
        let lifetime = ttl.unwrap_or(TOKEN_LIFETIME).min(TOKEN_LIFETIME);
        let now = Instant::now();
        if let Some(tok) = self.current.get(credential).cloned().flatten()
            && let Some(info) = self.tokens.get(&tok)
        {
            let age = now.saturating_duration_since(info.issued);
            if age < lifetime {
                return (tok, (lifetime - age).as_secs().max(1));
            }
        }
        self.counter += 1;
        let nanos = now.elapsed().as_nanos() as u64 ^ std::process::id() as u64;
        let a = rng::hash(&[
            self.seed,
            credential as u64,
            self.counter,
            nanos,
            jiff::Timestamp::now().as_nanosecond() as u64,
        ]);
        let b = rng::mix(a ^ 0xA5A5);
        let tok = format!(
            "papi-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        );
        self.tokens.insert(
            tok.clone(),
            TokenInfo {
                credential,
                issued: now,
            },
        );
        if let Some(slot) = self.current.get_mut(credential) {
            *slot = Some(tok.clone());
        }
        (tok, lifetime.as_secs())
    }

    /// Revokes a token (`POST /v2/auth/revoke`); the next token request issues a new one.
    /// Returns whether the token was known.
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        let Some(info) = self.tokens.remove(token) else {
            return false;
        };
        if let Some(slot) = self.current.get_mut(info.credential)
            && slot.as_deref() == Some(token)
        {
            *slot = None;
        }
        true
    }

    /// Checks an `Authorization` header value; returns the credential index.
    pub(crate) fn check(
        &self,
        header: Option<&str>,
        ttl: Option<Duration>,
    ) -> Result<usize, TokenError> {
        let header = header
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or(TokenError::Missing)?;
        let token = match header.split_once(' ') {
            Some((scheme, tok)) if scheme.eq_ignore_ascii_case("bearer") => tok.trim(),
            Some(_) => return Err(TokenError::Invalid),
            None => header,
        };
        let info = self.tokens.get(token).ok_or(TokenError::Invalid)?;
        let lifetime = ttl.unwrap_or(TOKEN_LIFETIME).min(TOKEN_LIFETIME);
        if info.issued.elapsed() >= lifetime {
            return Err(TokenError::Invalid);
        }
        Ok(info.credential)
    }
}
