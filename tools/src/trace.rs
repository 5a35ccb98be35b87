//! Decision traces: every tool call and decision, chained by an HMAC under a key kept outside
//! the database ([`ChainKey`]) so tampering is detectable.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::chain_key::ChainKey;
use crate::secrets::{REDACTED, redact_credentials};
use crate::store::{Store, StoreError};

/// The hash that precedes the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How a call or decision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call ran and succeeded.
    Ok,
    /// The call ran and failed (bad input, business refusal, internal error).
    Error,
    /// The call was not allowed to run (authentication, scope, limits).
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(Outcome::Ok),
            "error" => Some(Outcome::Error),
            "refused" => Some(Outcome::Refused),
            _ => None,
        }
    }
}

/// An event to record. Arguments are redacted when the event is built.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTraceEvent {
    pub trace_id: String,
    pub at: DateTime<Utc>,
    pub principal: String,
    /// The tool called, or the decision taken (e.g. `http.authenticate`).
    pub action: String,
    pub arguments: Value,
    pub outcome: Outcome,
    /// Why: the refusal reason, the error, or what the call decided.
    pub rationale: String,
    pub duration_us: i64,
}

impl NewTraceEvent {
    pub fn new(
        trace_id: impl Into<String>,
        principal: impl Into<String>,
        action: impl Into<String>,
        arguments: &Value,
        outcome: Outcome,
        rationale: impl Into<String>,
        duration_us: i64,
    ) -> Self {
        Self {
            trace_id: trace_id.into(),
            at: Utc::now(),
            principal: principal.into(),
            action: action.into(),
            arguments: bounded(redact(arguments)),
            outcome,
            rationale: cut_text(rationale.into(), 4 * MAX_TRACED_STRING_CHARS),
            duration_us,
        }
    }
}

/// A stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TraceEvent {
    /// Position in the global chain (1, 2, ...).
    pub seq: i64,
    /// The incident chain this event belongs to.
    pub trace_id: String,
    /// When it happened (RFC 3339, UTC).
    pub at: String,
    /// Who: principal subject (or `anonymous` for refused unauthenticated requests).
    pub principal: String,
    /// What: tool name or decision.
    pub action: String,
    /// Arguments as given, with secrets redacted (JSON text).
    pub arguments: String,
    /// `ok`, `error` or `refused`.
    pub outcome: Outcome,
    /// Why.
    pub rationale: String,
    /// How long the call took, in microseconds.
    pub duration_us: i64,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// HMAC-SHA256, under the chain key, of this event's fields and `prev_hash` (plain SHA-256
    /// for events written before the chain was keyed).
    pub hash: String,
}

/// Formats a timestamp the way the chain stores and hashes it.
pub fn format_at(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Builds the stored form of `event` at position `seq` after `prev_hash`.
pub fn chain(key: &ChainKey, event: &NewTraceEvent, seq: i64, prev_hash: &str) -> TraceEvent {
    let mut stored = TraceEvent {
        seq,
        trace_id: event.trace_id.clone(),
        at: format_at(&event.at),
        principal: event.principal.clone(),
        action: event.action.clone(),
        arguments: event.arguments.to_string(),
        outcome: event.outcome,
        rationale: event.rationale.clone(),
        duration_us: event.duration_us,
        prev_hash: prev_hash.to_owned(),
        hash: String::new(),
    };
    stored.hash = event_hash(key, &stored);
    stored
}

/// The hash of a stored event under `key`, computed from its stored text.
pub fn event_hash(key: &ChainKey, e: &TraceEvent) -> String {
    key.mac_hex(hashed_fields(e).as_bytes())
}

/// The unkeyed SHA-256 that events written before the chain was keyed carry.
pub fn legacy_hash(e: &TraceEvent) -> String {
    hex::encode(Sha256::digest(hashed_fields(e).as_bytes()))
}

fn hashed_fields(e: &TraceEvent) -> String {
    // A JSON array gives an unambiguous, order-preserving encoding of the fields.
    serde_json::json!([
        e.seq,
        e.trace_id,
        e.at,
        e.principal,
        e.action,
        e.arguments,
        e.outcome.as_str(),
        e.rationale,
        e.duration_us,
        e.prev_hash,
    ])
    .to_string()
}

/// The action of the event that seals a chain written before it was keyed.
pub const SEAL_ACTION: &str = "trace.keyed";

/// If the chain's newest event carries an unkeyed SHA-256 (a chain written before keys), appends
/// a keyed event that names that head, so the unkeyed prefix ends there: verification accepts
/// unkeyed events only before such a seal. Returns the sealed head's sequence number.
pub async fn seal_legacy_chain(
    store: &dyn Store,
    key: &ChainKey,
) -> Result<Option<i64>, StoreError> {
    let Some(head) = store.trace_head().await? else {
        return Ok(None);
    };
    if event_hash(key, &head) == head.hash || legacy_hash(&head) != head.hash {
        return Ok(None);
    }
    let seal = NewTraceEvent::new(
        uuid::Uuid::new_v4().to_string(),
        "mlops-mcp",
        SEAL_ACTION,
        &serde_json::json!({ "legacy_until": head.seq, "legacy_head": head.hash }),
        Outcome::Ok,
        format!(
            "the chain is keyed from here on; events 1 to {} carry unkeyed SHA-256 hashes",
            head.seq
        ),
        0,
    );
    store.append_traces(&[seal]).await?;
    Ok(Some(head.seq))
}

/// Whether `e` is a seal that ends an unkeyed prefix right before it.
fn seals_prefix(e: &TraceEvent) -> bool {
    let args: Value = serde_json::from_str(&e.arguments).unwrap_or(Value::Null);
    e.action == SEAL_ACTION
        && args["legacy_until"].as_i64() == Some(e.seq - 1)
        && args["legacy_head"].as_str() == Some(e.prev_hash.as_str())
}

/// Parses an outcome column.
pub fn parse_outcome(s: &str) -> Result<Outcome, StoreError> {
    Outcome::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown trace outcome `{s}`")))
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ChainReport {
    /// Events checked.
    pub events: i64,
    /// The first event that does not verify, if any.
    pub first_broken: Option<BrokenLink>,
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Walks the whole chain and reports the first event whose hash or link does not verify under
/// `key`. Unkeyed events are accepted only as a prefix that a seal ([`seal_legacy_chain`]) ends.
pub async fn verify_chain(store: &dyn Store, key: &ChainKey) -> Result<ChainReport, StoreError> {
    const PAGE: i64 = 1000;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut expected_seq = 1;
    let mut after = 0;
    // The first event of an unkeyed run not yet sealed, and whether any keyed event was seen.
    let mut unsealed: Option<i64> = None;
    let mut keyed_seen = false;
    let unkeyed = "hashed without the chain key: re-hashed by someone without the key, or written \
                   before keys and not sealed (start the server once to seal it)";
    loop {
        let page = store.trace_events_after(after, PAGE).await?;
        if page.is_empty() {
            let first_broken = unsealed.map(|seq| BrokenLink {
                seq,
                reason: unkeyed.into(),
            });
            return Ok(ChainReport {
                events: expected_seq - 1,
                first_broken,
            });
        }
        for e in &page {
            let broken = |reason: String| ChainReport {
                events: expected_seq,
                first_broken: Some(BrokenLink { seq: e.seq, reason }),
            };
            if e.seq != expected_seq {
                return Ok(broken(format!(
                    "expected event {expected_seq}, found {}",
                    e.seq
                )));
            }
            if e.prev_hash != prev_hash {
                return Ok(broken(
                    "its link to the previous event does not match".into(),
                ));
            }
            if event_hash(key, e) == e.hash {
                if let Some(seq) = unsealed.take()
                    && !seals_prefix(e)
                {
                    return Ok(ChainReport {
                        events: expected_seq,
                        first_broken: Some(BrokenLink {
                            seq,
                            reason: unkeyed.into(),
                        }),
                    });
                }
                keyed_seen = true;
            } else if !keyed_seen && legacy_hash(e) == e.hash {
                unsealed.get_or_insert(e.seq);
            } else {
                return Ok(broken(
                    "its content does not match its hash (edited)".into(),
                ));
            }
            prev_hash = e.hash.clone();
            expected_seq += 1;
            after = e.seq;
        }
    }
}

/// The model an event is about: the `model` of its arguments, if any.
pub fn event_model(e: &TraceEvent) -> Option<String> {
    let args: Value = serde_json::from_str(&e.arguments).ok()?;
    args.get("model").and_then(Value::as_str).map(str::to_owned)
}

/// Whether `principal` may see `e`: a principal without a model grant sees every event; one
/// with a grant sees its own events and those about models it may access.
pub fn visible_to(e: &TraceEvent, principal: &mlops_auth::Principal) -> bool {
    if principal.models.is_none() || e.principal == principal.subject {
        return true;
    }
    event_model(e).is_some_and(|m| principal.may_access_model(&m))
}

/// Whether `principal` may add events to the trace made of `events`: a trace nobody started
/// yet, one the principal started, or one whose every event it may see. Otherwise its call
/// starts a trace of its own, so nobody can slip events into another's chain of evidence.
pub fn may_continue(events: &[TraceEvent], principal: &mlops_auth::Principal) -> bool {
    match events.first() {
        None => true,
        Some(first) if first.principal == principal.subject => true,
        Some(_) => events.iter().all(|e| visible_to(e, principal)),
    }
}

/// Parts of a key that mark its value as a secret (compared in lower case, `-` read as `_`).
const SECRET_MARKERS: &[&str] = &[
    "key",
    "secret",
    "token",
    "password",
    "passwd",
    "authorization",
    "credential",
    "cookie",
];

/// Whole keys that mark a secret although they contain no marker.
const SECRET_KEYS: &[&str] = &["pwd", "private"];

/// Keys of our own tools that contain a marker but hold no secret.
const NOT_SECRET: &[&str] = &["idempotency_key"];

/// Whether a key's value should be kept out of traces.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    if NOT_SECRET.contains(&key.as_str()) {
        return false;
    }
    SECRET_KEYS.contains(&key.as_str()) || SECRET_MARKERS.iter().any(|m| key.contains(m))
}

/// Longest string value an event keeps whole, in characters; longer ones keep their start.
const MAX_TRACED_STRING_CHARS: usize = 2048;
/// Largest arguments an event keeps, in bytes of JSON; past it only their keys and size.
const MAX_TRACED_ARGUMENT_BYTES: usize = 16 * 1024;

/// Arguments as a trace keeps them: long strings cut (saying how much), and arguments still
/// too large replaced by their keys and size, so no caller grows the store by what it sends.
pub fn bounded(value: Value) -> Value {
    let cut = cut_strings(value);
    let bytes = cut.to_string().len();
    if bytes <= MAX_TRACED_ARGUMENT_BYTES {
        return cut;
    }
    let keys: Vec<String> = cut
        .as_object()
        .map(|m| {
            m.keys()
                .take(32)
                .map(|k| k.chars().take(64).collect())
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({ "truncated": true, "bytes": bytes, "keys": keys })
}

/// `s`, or its first `max` characters and how many more there were.
fn cut_text(s: String, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s;
    }
    let kept: String = s.chars().take(max).collect();
    format!("{kept}… ({} more characters not traced)", count - max)
}

fn cut_strings(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(cut_text(s, MAX_TRACED_STRING_CHARS)),
        Value::Array(items) => Value::Array(items.into_iter().map(cut_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.chars().take(256).collect(), cut_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Replaces the values of secret-looking keys, at any depth, with `"[redacted]"`, and
/// credential-looking words (JWTs, `sk-` keys, AWS key ids) inside any string.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    if is_secret_key(k) {
                        (k.clone(), Value::String(REDACTED.into()))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) => Value::String(redact_credentials(s)),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_the_documented_key_patterns() {
        for key in [
            "api-key",
            "private_key",
            "pwd",
            "aws_access_key_id",
            "AWS_SECRET_ACCESS_KEY",
            "Authorization",
            "db_credentials",
            "refresh_token",
            "PASSWORD",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["model", "idempotency_key", "reason", "window", "params"] {
            assert!(!is_secret_key(key), "{key}");
        }
        let v = json!({"note": "use eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln please"});
        assert_eq!(redact(&v), json!({"note": "use [redacted] please"}));
    }

    #[test]
    fn traced_arguments_are_bounded() {
        let long = "x".repeat(10_000);
        let v = bounded(json!({"model": "m", "reason": long}));
        let reason = v["reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with(&"x".repeat(2048)), "{reason}");
        assert!(
            reason.ends_with("(7952 more characters not traced)"),
            "{reason}"
        );
        let many: serde_json::Map<String, Value> = (0..100)
            .map(|i| (format!("k{i}"), json!("y".repeat(1000))))
            .collect();
        let v = bounded(Value::Object(many));
        assert_eq!(v["truncated"], true);
        assert!(v.to_string().len() < 1024, "{v}");
        let small = json!({"model": "m", "n": 3});
        assert_eq!(bounded(small.clone()), small);
    }

    #[test]
    fn redacts_secret_keys_at_any_depth() {
        let v = json!({"model": "m", "auth": {"api_key": "k", "Bearer_Token": "t"}, "list": [{"password": 1}]});
        assert_eq!(
            redact(&v),
            json!({"model": "m", "auth": {"api_key": "[redacted]", "Bearer_Token": "[redacted]"}, "list": [{"password": "[redacted]"}]})
        );
    }

    #[test]
    fn hash_covers_every_field() {
        let ev = NewTraceEvent::new("t", "alice", "list_models", &json!({}), Outcome::Ok, "", 5);
        let key = ChainKey::from_bytes([1; 32]);
        let base = chain(&key, &ev, 1, GENESIS_HASH);
        assert_eq!(event_hash(&key, &base), base.hash);
        // Keyed: another key, or plain SHA-256, gives another hash.
        assert_ne!(event_hash(&ChainKey::from_bytes([2; 32]), &base), base.hash);
        assert_ne!(legacy_hash(&base), base.hash);
        let mut edited = base.clone();
        edited.rationale = "changed".into();
        assert_ne!(event_hash(&key, &edited), base.hash);
        let mut edited = base.clone();
        edited.outcome = Outcome::Refused;
        assert_ne!(event_hash(&key, &edited), base.hash);
        let mut edited = base;
        edited.prev_hash = "x".into();
        assert_ne!(event_hash(&key, &edited), edited.hash);
    }
}
