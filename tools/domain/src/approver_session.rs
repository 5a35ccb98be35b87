//! Approver sessions of the approval page: the browser holds a random id, the store keeps only
//! its SHA-256 with the approver it stands for and when it ends.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// A signed-in approver, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverSession {
    /// SHA-256 (hex) of the id the browser holds.
    pub id_hash: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub models: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl ApproverSession {
    /// A session for `subject` with its grants until `expires_at`; returns it with the id to
    /// give the browser.
    pub fn open(
        subject: &str,
        scopes: Vec<String>,
        models: Option<Vec<String>>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> (Self, String) {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        let id = hex::encode(bytes);
        let session = Self {
            id_hash: hash_id(&id),
            subject: subject.to_owned(),
            scopes,
            models,
            created_at: now,
            expires_at,
        };
        (session, id)
    }
}

/// What the store keeps of a session id.
pub fn hash_id(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}
