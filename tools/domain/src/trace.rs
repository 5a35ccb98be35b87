//! Decision traces: every tool call and decision, chained by an HMAC under a key kept outside
//! the database ([`ChainKey`]) so tampering is detectable. The chain's rules live here; the
//! engine feeds them the stored events.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::chain_key::ChainKey;
use crate::secrets::{REDACTED, redact_credentials};

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

/// Whether `e` is a seal that ends an unkeyed prefix right before it.
fn seals_prefix(e: &TraceEvent) -> bool {
    let args: Value = serde_json::from_str(&e.arguments).unwrap_or(Value::Null);
    e.action == SEAL_ACTION
        && args.get("legacy_until").and_then(Value::as_i64) == Some(e.seq - 1)
        && args.get("legacy_head").and_then(Value::as_str) == Some(e.prev_hash.as_str())
}

/// Parses an outcome column.
pub fn parse_outcome(s: &str) -> Result<Outcome, String> {
    Outcome::parse(s).ok_or_else(|| format!("unknown trace outcome `{s}`"))
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

/// Walks a chain event by event, in order, and stops at the first event whose hash or link
/// does not verify under the key. Unkeyed events are accepted only as a prefix that a seal
/// ([`SEAL_ACTION`]) ends.
#[derive(Debug)]
pub struct ChainWalk<'k> {
    key: &'k ChainKey,
    prev_hash: String,
    expected_seq: i64,
    /// The first event of an unkeyed run not yet sealed.
    unsealed: Option<i64>,
    keyed_seen: bool,
}

const UNKEYED: &str = "hashed without the chain key: re-hashed by someone without the key, or \
                       written before keys and not sealed (start the server once to seal it)";

impl<'k> ChainWalk<'k> {
    pub fn new(key: &'k ChainKey) -> Self {
        Self {
            key,
            prev_hash: GENESIS_HASH.to_owned(),
            expected_seq: 1,
            unsealed: None,
            keyed_seen: false,
        }
    }

    /// Checks the next event; `Some` is the verdict when the chain breaks at it.
    pub fn step(&mut self, e: &TraceEvent) -> Option<ChainReport> {
        let broken = |seq: i64, reason: String| ChainReport {
            events: self.expected_seq,
            first_broken: Some(BrokenLink { seq, reason }),
        };
        if e.seq != self.expected_seq {
            let reason = format!("expected event {}, found {}", self.expected_seq, e.seq);
            return Some(broken(e.seq, reason));
        }
        if e.prev_hash != self.prev_hash {
            let reason = "its link to the previous event does not match".into();
            return Some(broken(e.seq, reason));
        }
        if event_hash(self.key, e) == e.hash {
            if let Some(seq) = self.unsealed.take()
                && !seals_prefix(e)
            {
                return Some(broken(seq, UNKEYED.into()));
            }
            self.keyed_seen = true;
        } else if !self.keyed_seen && legacy_hash(e) == e.hash {
            self.unsealed.get_or_insert(e.seq);
        } else {
            let reason = "its content does not match its hash (edited)".into();
            return Some(broken(e.seq, reason));
        }
        self.prev_hash.clone_from(&e.hash);
        self.expected_seq += 1;
        None
    }

    /// The verdict once every event has been stepped through.
    pub fn finish(self) -> ChainReport {
        ChainReport {
            events: self.expected_seq - 1,
            first_broken: self.unsealed.map(|seq| BrokenLink {
                seq,
                reason: UNKEYED.into(),
            }),
        }
    }
}

/// The model an event is about: the `model` of its arguments, if any.
pub fn event_model(e: &TraceEvent) -> Option<String> {
    let args: Value = serde_json::from_str(&e.arguments).ok()?;
    args.get("model").and_then(Value::as_str).map(str::to_owned)
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
