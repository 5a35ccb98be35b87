//! The attack suite: table-driven cases against the real HTTP server. Every case asserts the
//! refusal (status and error), that the store did not change, and that the refusal is in the
//! trace. Tokens come from the configured HS256 secret and from a local JWKS identity provider.

use crate::common;

use std::sync::Arc;

use base64::Engine as _;
use common::{HttpServer, Workspace, call, post_with};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mlops_auth::Claims;
use mlops_engine::trace::{Outcome, TraceEvent};
use serde_json::{Value, json};

const TRACE_META_KEY: &str = "io.mlops-mcp/traceId";

#[path = "../../auth/tests/support/mod.rs"]
mod keys;

use keys::{EC_A, RSA_A, RSA_B, jwk};

fn sign(key: &EncodingKey, alg: Algorithm, kid: Option<&str>, claims: &Claims) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// A loopback JWKS endpoint publishing RSA keys `a` and `b`.
/// An HS256 token with a header of our choosing (jsonwebtoken's `Header` has no `crit`).
fn hs_with_header(secret: &str, header: &str, claims: &Claims) -> String {
    hs_raw(secret, header, &serde_json::to_value(claims).unwrap())
}

/// An HS256 token of any header and claims.
fn hs_raw(secret: &str, header: &str, claims: &Value) -> String {
    use hmac::Mac as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(&serde_json::to_vec(claims).unwrap())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

async fn identity_provider() -> String {
    let set = JwkSet {
        keys: vec![
            jwk(RSA_A, Algorithm::RS256, "a"),
            jwk(RSA_B, Algorithm::RS256, "b"),
        ],
    };
    let set = Arc::new(set);
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let set = set.clone();
            async move { axum::Json((*set).clone()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// What a case expects back.
enum Expect {
    /// HTTP status and the `error` field of the JSON body.
    Http(u16, &'static str),
    /// HTTP 200 with a tool result whose text contains this.
    ToolError(&'static str),
    /// HTTP 200 with a JSON-RPC error whose message contains this.
    RpcError(&'static str),
    /// This HTTP status (HTML pages, callbacks).
    Status(u16),
}

struct Case {
    name: &'static str,
    /// `None`: a JSON-RPC POST to `/mcp`; else `"METHOD /path"` on the same server.
    path: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    expect: Expect,
}

/// Everything an attack could have changed.
async fn snapshot(ws: &Workspace) -> String {
    let store = ws.store().await;
    let models = store.list_models().await.unwrap();
    let history = store.alias_history("fraud-detector").await.unwrap();
    let (min, max) = (
        chrono::DateTime::<chrono::Utc>::MIN_UTC,
        chrono::DateTime::<chrono::Utc>::MAX_UTC,
    );
    let ingested = ws.ingested("fraud-detector", min, max).await;
    let rows = ingested.len();
    let promotions = store.list_promotions(None, 1000).await.unwrap().len();
    let labels = ingested.iter().filter(|r| r.late_label.is_some()).count();
    let jobs = store.list_jobs(None, 1000).await.unwrap().len();
    format!(
        "{rows} rows, {labels} labels, {promotions} promotions, {jobs} jobs, {:?}{:?}",
        models
            .iter()
            .map(|m| (&m.versions, &m.aliases))
            .collect::<Vec<_>>(),
        history
    )
}

/// Sends `body` as `"METHOD /path"` (e.g. `"POST /approvals/login"`) with `headers`; the
/// status, headers and the JSON body (`Null` for other bodies).
async fn send_to(
    server: &HttpServer,
    target: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let (method, path) = target.split_once(' ').unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client
        .request(method.parse().unwrap(), format!("{}{path}", server.base))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// A token for `sub` with the agent's scopes (no approval, no data:write, no metrics:read).
fn agent_token(hs: &EncodingKey, claims: &dyn Fn(&str, &str) -> Claims, sub: &str) -> String {
    let scopes = "models:read drift:read retrain:trigger validation:read promotion:request";
    sign(hs, Algorithm::HS256, None, &claims(sub, scopes))
}

/// Signs `sub` in on the approval page (with promotion:approve) and returns its cookie.
async fn approver_cookie(
    server: &HttpServer,
    keys: &mlops_auth::Hs256Keys,
    ws: &Workspace,
    sub: &str,
) -> String {
    let token = keys
        .sign(&ws.claims(sub, "promotion:approve models:read", 600))
        .unwrap();
    let (status, headers, _) = send_to(
        server,
        "POST /approvals/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("token={token}").into_bytes(),
    )
    .await;
    assert_eq!(status, 303);
    let cookie = headers["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

fn bearer(t: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {t}"))
}

async fn run_case(server: &HttpServer, ws: &Workspace, case: &Case) -> Vec<TraceEvent> {
    let before = snapshot(ws).await;
    let traced_before = ws.traces().await.len();
    let headers: Vec<(&str, &str)> = case.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, resp_headers, body) = match &case.path {
        None => post_with(server, &headers, case.body.clone()).await,
        Some(path) => send_to(server, path, &headers, case.body.clone()).await,
    };
    let name = case.name;
    match &case.expect {
        Expect::Http(code, error) => {
            assert_eq!(status, *code, "{name}: {body}");
            assert_eq!(body["error"], *error, "{name}: {body}");
            if *code == 401 || *code == 403 && *error == "insufficient_scope" {
                let challenge = resp_headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                assert!(
                    challenge.contains("resource_metadata=\""),
                    "{name}: {challenge}"
                );
            }
        }
        Expect::ToolError(text) => {
            assert_eq!(status, 200, "{name}: {body}");
            assert_eq!(body["result"]["isError"], true, "{name}: {body}");
            assert!(
                body["result"]["content"][0]["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains(text),
                "{name}: {body}"
            );
        }
        Expect::Status(code) => assert_eq!(status, *code, "{name}: {body}"),
        Expect::RpcError(text) => {
            assert_eq!(status, 200, "{name}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains(text),
                "{name}: {body}"
            );
        }
    }
    assert_eq!(snapshot(ws).await, before, "{name}: the store changed");
    let events = ws.traces().await;
    let new = &events[traced_before..];
    let anonymous = new
        .iter()
        .find(|e| e.principal == "anonymous" && e.outcome == Outcome::Refused);
    match (&case.expect, &case.path, anonymous) {
        // An unauthenticated call of /mcp leaves a bounded summary, never its arguments.
        (Expect::Http(401, _), None, summary) => {
            let summary = summary.unwrap_or_else(|| panic!("{name}: not traced: {new:?}"));
            let arguments: Value = serde_json::from_str(&summary.arguments).unwrap();
            assert_eq!(
                arguments["body_bytes"].as_u64(),
                Some(case.body.len() as u64),
                "{name}: {arguments}"
            );
            assert!(!summary.arguments.contains(name), "{name}: {arguments}");
        }
        // Other endpoints trace an anonymous refusal without what it sent.
        (_, Some(_), Some(summary)) if !new.iter().any(|e| e.principal == name) => {
            assert!(summary.arguments.len() < 300, "{name}: {summary:?}");
        }
        _ => {
            let traced = new.iter().any(|e| {
                (e.arguments.contains(name) || e.principal == name) && e.outcome != Outcome::Ok
            });
            assert!(traced, "{name}: refusal not traced: {new:?}");
        }
    }
    events
}

#[tokio::test]
async fn attack_suite() {
    let ws = Workspace::demo();
    let jwks = identity_provider().await;
    let server = HttpServer::start_with(
        &ws,
        &[
            ("MLOPS_MCP_AUTH__JWKS_URL", jwks.as_str()),
            ("MLOPS_MCP_AUTH__JWKS_MIN_REFRESH_SECS", "0"),
            ("MLOPS_MCP_HTTP__MAX_INGEST_BYTES", "1048576"),
            (
                "MLOPS_MCP_PROMOTION__CALLBACK_SECRET_ENV",
                "ATTACK_CALLBACK_SECRET",
            ),
            (
                "ATTACK_CALLBACK_SECRET",
                "attack-callback-secret-0123456789",
            ),
        ],
    );
    let keys = ws.keys();
    let hs = EncodingKey::from_secret(ws.secret().as_bytes());
    let rsa_a = EncodingKey::from_rsa_pem(RSA_A).unwrap();
    let rsa_b = EncodingKey::from_rsa_pem(RSA_B).unwrap();
    let ec = EncodingKey::from_ec_pem(EC_A).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |sub: &str, scope: &str| ws.claims(sub, scope, 600);
    let with = |sub: &str, scope: &str, f: &dyn Fn(&mut Claims)| {
        let mut c = claims(sub, scope);
        f(&mut c);
        c
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let list = |marker: &str| call("list_models", json!({ "name_contains": marker })).into_bytes();
    let tool = |name: &str, marker: &str| call(name, json!({ "model": marker })).into_bytes();
    let read = |uri: &str| {
        json!({"jsonrpc":"2.0","id":9,"method":"resources/read","params":{"uri": uri}})
            .to_string()
            .into_bytes()
    };
    let read_only = "models:read drift:read validation:read";
    let public_jwk_as_secret = serde_json::to_vec(&jwk(RSA_A, Algorithm::RS256, "a")).unwrap();
    let unauthorized = || Expect::Http(401, "invalid_token");
    let forbidden = || Expect::Http(403, "insufficient_scope");

    let mut cases = vec![
        Case {
            name: "no-token",
            path: None,
            headers: vec![],
            body: list("no-token"),
            expect: unauthorized(),
        },
        Case {
            name: "basic-scheme",
            path: None,
            headers: vec![("authorization", format!("Basic {}", b64(b"a:b")))],
            body: list("basic-scheme"),
            expect: unauthorized(),
        },
        Case {
            name: "empty-bearer",
            path: None,
            headers: vec![("authorization", "Bearer ".into())],
            body: list("empty-bearer"),
            expect: unauthorized(),
        },
        Case {
            name: "garbage-token",
            path: None,
            headers: vec![bearer("not.a.jwt")],
            body: list("garbage-token"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-other-secret",
            path: None,
            headers: vec![bearer(&sign(
                &EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
                Algorithm::HS256,
                None,
                &claims("x", "models:read"),
            ))],
            body: list("hs-other-secret"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-expired",
            path: None,
            headers: vec![bearer(
                &keys
                    .sign(&with("x", "models:read", &|c| c.exp = now - 600))
                    .unwrap(),
            )],
            body: list("hs-expired"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-not-yet-valid",
            path: None,
            headers: vec![bearer(
                &keys
                    .sign(&with("x", "models:read", &|c| c.nbf = Some(now + 600)))
                    .unwrap(),
            )],
            body: list("hs-not-yet-valid"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-wrong-audience",
            path: None,
            headers: vec![bearer(
                &keys
                    .sign(&with("x", "models:read", &|c| c.aud = "other".into()))
                    .unwrap(),
            )],
            body: list("hs-wrong-audience"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-wrong-issuer",
            path: None,
            headers: vec![bearer(
                &keys
                    .sign(&with("x", "models:read", &|c| c.iss = "evil".into()))
                    .unwrap(),
            )],
            body: list("hs-wrong-issuer"),
            expect: unauthorized(),
        },
        Case {
            name: "alg-none",
            path: None,
            headers: vec![bearer(&format!(
                "{}.{}.",
                b64(br#"{"alg":"none"}"#),
                b64(&serde_json::to_vec(&claims("x", "models:read")).unwrap())
            ))],
            body: list("alg-none"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-rs-confusion",
            path: None,
            headers: vec![bearer(&sign(
                &EncodingKey::from_secret(&public_jwk_as_secret),
                Algorithm::HS256,
                Some("a"),
                &claims("x", "models:read"),
            ))],
            body: list("hs-rs-confusion"),
            expect: unauthorized(),
        },
        Case {
            name: "rs-unknown-kid",
            path: None,
            headers: vec![bearer(&sign(
                &rsa_a,
                Algorithm::RS256,
                Some("zz"),
                &claims("x", "models:read"),
            ))],
            body: list("rs-unknown-kid"),
            expect: unauthorized(),
        },
        Case {
            name: "rs-forged-kid",
            path: None,
            headers: vec![bearer(&sign(
                &rsa_b,
                Algorithm::RS256,
                Some("a"),
                &claims("x", "models:read"),
            ))],
            body: list("rs-forged-kid"),
            expect: unauthorized(),
        },
        Case {
            name: "rs-no-kid-two-keys",
            path: None,
            headers: vec![bearer(&sign(
                &rsa_a,
                Algorithm::RS256,
                None,
                &claims("x", "models:read"),
            ))],
            body: list("rs-no-kid-two-keys"),
            expect: unauthorized(),
        },
        Case {
            name: "rs-expired",
            path: None,
            headers: vec![bearer(&sign(
                &rsa_a,
                Algorithm::RS256,
                Some("a"),
                &with("x", "models:read", &|c| c.exp = now - 600),
            ))],
            body: list("rs-expired"),
            expect: unauthorized(),
        },
        Case {
            name: "rs-wrong-audience",
            path: None,
            headers: vec![bearer(&sign(
                &rsa_a,
                Algorithm::RS256,
                Some("a"),
                &with("x", "models:read", &|c| c.aud = "other".into()),
            ))],
            body: list("rs-wrong-audience"),
            expect: unauthorized(),
        },
        Case {
            name: "es-with-rsa-kid",
            path: None,
            headers: vec![bearer(&sign(
                &ec,
                Algorithm::ES256,
                Some("a"),
                &claims("x", "models:read"),
            ))],
            body: list("es-with-rsa-kid"),
            expect: unauthorized(),
        },
        Case {
            name: "oversized-token",
            path: None,
            headers: vec![bearer(&"a".repeat(9000))],
            body: list("oversized-token"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-crit-header",
            path: None,
            headers: vec![bearer(&hs_with_header(
                &ws.secret(),
                r#"{"alg":"HS256","typ":"JWT","crit":["x-approve"],"x-approve":true}"#,
                &claims("x", "models:read"),
            ))],
            body: list("hs-crit-header"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-lifetime-2^62",
            path: None,
            headers: vec![bearer(
                &keys
                    .sign(&with("x", "models:read", &|c| c.exp = 1 << 62))
                    .unwrap(),
            )],
            body: list("hs-lifetime-2^62"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-lifetime-25h",
            path: None,
            headers: vec![bearer(
                &keys
                    .sign(&with("x", "models:read", &|c| c.exp = c.iat + 25 * 3600))
                    .unwrap(),
            )],
            body: list("hs-lifetime-25h"),
            expect: unauthorized(),
        },
        Case {
            name: "hs-iat-future",
            path: None,
            headers: vec![bearer(
                &keys
                    .sign(&with("x", "models:read", &|c| {
                        c.iat = now + 3600;
                        c.exp = now + 4000;
                    }))
                    .unwrap(),
            )],
            body: list("hs-iat-future"),
            expect: unauthorized(),
        },
        Case {
            name: "hs512-token",
            path: None,
            headers: vec![bearer(&sign(
                &hs,
                Algorithm::HS512,
                None,
                &claims("x", "models:read"),
            ))],
            body: list("hs512-token"),
            expect: unauthorized(),
        },
    ];
    // Missing scopes: every high-privilege tool, and the read tools and resources.
    for (name, tool_name, scope) in [
        ("scope-trigger-retrain", "trigger_retrain", read_only),
        ("scope-request-promotion", "request_promotion", read_only),
        ("scope-check-drift", "check_drift", "models:read"),
        (
            "scope-check-performance",
            "check_performance",
            "models:read",
        ),
        ("scope-get-validation", "get_validation", "models:read"),
        ("scope-list-models", "list_models", "drift:read"),
        ("scope-get-job", "get_job", "drift:read"),
        ("scope-get-promotion", "get_promotion", "drift:read"),
    ] {
        let token = sign(&hs, Algorithm::HS256, None, &claims(name, scope));
        cases.push(Case {
            name,
            path: None,
            headers: vec![bearer(&token)],
            body: tool(tool_name, name),
            expect: forbidden(),
        });
    }
    let no_read = sign(
        &hs,
        Algorithm::HS256,
        None,
        &claims("scope-resources-read", "drift:read"),
    );
    cases.push(Case {
        name: "scope-resources-read",
        path: None,
        headers: vec![bearer(&no_read)],
        body: read("mlops://models/fraud-detector/card"),
        expect: forbidden(),
    });
    let no_list = sign(
        &hs,
        Algorithm::HS256,
        None,
        &claims("scope-resources-list", "drift:read"),
    );
    cases.push(Case {
        name: "scope-resources-list",
        path: None,
        headers: vec![bearer(&no_list)],
        body: json!({"jsonrpc":"2.0","id":3,"method":"resources/list"})
            .to_string()
            .into_bytes(),
        expect: forbidden(),
    });
    // Models outside the grant are not found.
    let mut granted = claims("grant-card", "models:read");
    granted.models = Some(vec!["churn-*".into()]);
    let granted = sign(&rsa_a, Algorithm::RS256, Some("a"), &granted);
    cases.push(Case {
        name: "grant-card",
        path: None,
        headers: vec![bearer(&granted)],
        body: read("mlops://models/fraud-detector/card"),
        expect: Expect::RpcError("not found"),
    });
    // A trace about a model outside the grant is not found either.
    let drift = common::tool(
        &server,
        &ws.token("trace-owner", "drift:read"),
        "check_drift",
        json!({ "model": "fraud-detector" }),
    )
    .await;
    let fraud_trace = drift["_meta"][TRACE_META_KEY].as_str().unwrap().to_owned();
    let mut granted = claims("grant-trace", "models:read");
    granted.models = Some(vec!["churn-*".into()]);
    let granted = sign(&rsa_a, Algorithm::RS256, Some("a"), &granted);
    cases.push(Case {
        name: "grant-trace",
        path: None,
        headers: vec![bearer(&granted)],
        body: read(&format!("mlops://traces/{fraud_trace}")),
        expect: Expect::RpcError("not found"),
    });
    // That check opened an alert: outside the grant it is not found.
    let alert_id = ws.store().await.alerts(true, 1).await.unwrap()[0]
        .id
        .clone();
    let mut granted = claims("grant-alert", "models:read");
    granted.models = Some(vec!["churn-*".into()]);
    let granted = sign(&rsa_a, Algorithm::RS256, Some("a"), &granted);
    cases.push(Case {
        name: "grant-alert",
        path: None,
        headers: vec![bearer(&granted)],
        body: read(&format!("mlops://alerts/{alert_id}")),
        expect: Expect::RpcError("not found"),
    });
    cases.push(Case {
        name: "alerts-no-token",
        path: None,
        headers: vec![],
        body: read("mlops://alerts"),
        expect: unauthorized(),
    });
    let reader = |sub: &str| sign(&hs, Algorithm::HS256, None, &claims(sub, "models:read"));
    cases.push(Case {
        name: "alert-malformed",
        path: None,
        headers: vec![bearer(&reader("alert-malformed"))],
        body: read("mlops://alerts/../../etc/passwd"),
        expect: Expect::RpcError("unknown resource URI"),
    });
    cases.push(Case {
        name: "list-oversized-cursor",
        path: None,
        headers: vec![bearer(&reader("list-oversized-cursor"))],
        body: call("list_models", json!({ "cursor": "A".repeat(5000) })).into_bytes(),
        expect: Expect::ToolError("not one list_models returned"),
    });
    cases.push(Case {
        name: "list-oversized-filter",
        path: None,
        headers: vec![bearer(&reader("list-oversized-filter"))],
        body: call("list_models", json!({ "owner": "x".repeat(5000) })).into_bytes(),
        expect: Expect::ToolError("longer than 128"),
    });
    cases.push(Case {
        name: "list-malformed-page",
        path: None,
        headers: vec![bearer(&reader("list-malformed-page"))],
        body: call("list_models", json!({ "page_size": -3 })).into_bytes(),
        expect: Expect::ToolError("invalid arguments"),
    });
    // Host and Origin allow-lists.
    let agent = |sub: &str| sign(&hs, Algorithm::HS256, None, &claims(sub, "models:read"));
    cases.push(Case {
        name: "bad-origin",
        path: None,
        headers: vec![
            bearer(&agent("bad-origin")),
            ("origin", "https://evil.example".into()),
        ],
        body: list("bad-origin"),
        expect: Expect::Http(403, ""),
    });
    cases.push(Case {
        name: "bad-host",
        path: None,
        headers: vec![bearer(&agent("bad-host")), ("host", "evil.example".into())],
        body: list("bad-host"),
        expect: Expect::Http(403, ""),
    });
    // An oversized body.
    let mut huge = list("oversized-body");
    huge.extend(std::iter::repeat_n(b' ', 2 * 1024 * 1024));
    cases.push(Case {
        name: "oversized-body",
        path: None,
        headers: vec![bearer(&agent("oversized-body"))],
        body: huge,
        expect: Expect::Http(413, "request_too_large"),
    });

    // The ingest endpoint: wrong token, scope, grant; oversized, malformed, out-of-bounds input.
    let now_s = now.to_string();
    let csv = |ts: &str| {
        format!(
            "timestamp,amount,hour,distance_km,account_age_days,tx_count_24h,merchant_category,channel,is_fraud\n\
             {ts},4.04,19.96,110.7,378,4,fuel,mobile,0\n"
        )
        .into_bytes()
    };
    let records = "POST /v1/models/fraud-detector/records".to_owned();
    let csv_type = || ("content-type", "text/csv".to_owned());
    let writer = |sub: &str| sign(&hs, Algorithm::HS256, None, &claims(sub, "data:write"));
    let mut churn_writer = claims("ingest-wrong-grant", "data:write");
    churn_writer.models = Some(vec!["churn-*".into()]);
    let churn_writer = sign(&rsa_a, Algorithm::RS256, Some("a"), &churn_writer);
    let mut big = csv(&now_s);
    big.extend(std::iter::repeat_n(b'#', 1200 * 1024));
    let labels = "POST /v1/models/fraud-detector/labels".to_owned();
    let label_body = || b"id,label\nrow-1,1\n".to_vec();
    let mut churn_labeller = claims("labels-wrong-grant", "data:write");
    churn_labeller.models = Some(vec!["churn-*".into()]);
    let churn_labeller = sign(&rsa_a, Algorithm::RS256, Some("a"), &churn_labeller);
    let mut big_labels = label_body();
    big_labels.extend(std::iter::repeat_n(b'#', 1200 * 1024));
    for (name, path, headers, body, expect) in [
        (
            "labels-no-token",
            labels.clone(),
            vec![csv_type()],
            label_body(),
            unauthorized(),
        ),
        (
            "labels-wrong-scope",
            labels.clone(),
            vec![
                csv_type(),
                bearer(&agent_token(&hs, &claims, "labels-wrong-scope")),
            ],
            label_body(),
            forbidden(),
        ),
        (
            "labels-wrong-grant",
            labels.clone(),
            vec![csv_type(), bearer(&churn_labeller)],
            label_body(),
            Expect::Http(404, "unknown_model"),
        ),
        (
            "labels-oversized",
            labels.clone(),
            vec![csv_type(), bearer(&writer("labels-oversized"))],
            big_labels,
            Expect::Http(413, "request_too_large"),
        ),
        (
            "labels-malformed",
            labels.clone(),
            vec![csv_type(), bearer(&writer("labels-malformed"))],
            b"id,label\nrow-1,maybe\n".to_vec(),
            Expect::Http(400, "invalid_labels"),
        ),
        (
            "labels-hostile-id",
            labels.clone(),
            vec![csv_type(), bearer(&writer("labels-hostile-id"))],
            b"id,label\n\"row\x1b[2J\",1\n".to_vec(),
            Expect::Http(400, "invalid_labels"),
        ),
        (
            "ingest-no-token",
            records.clone(),
            vec![csv_type()],
            csv(&now_s),
            unauthorized(),
        ),
        (
            "ingest-wrong-scope",
            records.clone(),
            vec![
                csv_type(),
                bearer(&agent_token(&hs, &claims, "ingest-wrong-scope")),
            ],
            csv(&now_s),
            forbidden(),
        ),
        (
            "ingest-wrong-grant",
            records.clone(),
            vec![csv_type(), bearer(&churn_writer)],
            csv(&now_s),
            Expect::Http(404, "unknown_model"),
        ),
        (
            "ingest-unknown-model",
            "POST /v1/models/no-such-model/records".to_owned(),
            vec![csv_type(), bearer(&writer("ingest-unknown-model"))],
            csv(&now_s),
            Expect::Http(404, "unknown_model"),
        ),
        (
            "ingest-oversized",
            records.clone(),
            vec![csv_type(), bearer(&writer("ingest-oversized"))],
            big,
            Expect::Http(413, "request_too_large"),
        ),
        (
            "ingest-malformed",
            records.clone(),
            vec![csv_type(), bearer(&writer("ingest-malformed"))],
            b"amount\n\"unterminated\n".to_vec(),
            Expect::Http(400, "invalid_records"),
        ),
        (
            "ingest-year-9999",
            records.clone(),
            vec![csv_type(), bearer(&writer("ingest-year-9999"))],
            csv("9999-01-01T00:00:00Z"),
            Expect::Http(400, "invalid_records"),
        ),
        (
            "ingest-media-type",
            records.clone(),
            vec![
                ("content-type", "text/plain".into()),
                bearer(&writer("ingest-media-type")),
            ],
            csv(&now_s),
            Expect::Http(415, "unsupported_media_type"),
        ),
        // /metrics on the main listener.
        (
            "metrics-no-token",
            "GET /metrics".to_owned(),
            vec![],
            vec![],
            unauthorized(),
        ),
        (
            "metrics-expired",
            "GET /metrics".to_owned(),
            vec![bearer(
                &keys
                    .sign(&with("metrics-expired", "metrics:read", &|c| {
                        c.exp = now - 600
                    }))
                    .unwrap(),
            )],
            vec![],
            unauthorized(),
        ),
        (
            "metrics-wrong-scope",
            "GET /metrics".to_owned(),
            vec![bearer(&agent_token(&hs, &claims, "metrics-wrong-scope"))],
            vec![],
            forbidden(),
        ),
        // The approval page and its callback.
        (
            "approvals-login-agent",
            "POST /approvals/login".to_owned(),
            vec![("content-type", "application/x-www-form-urlencoded".into())],
            format!(
                "token={}",
                agent_token(&hs, &claims, "approvals-login-agent")
            )
            .into_bytes(),
            Expect::Status(401),
        ),
        (
            "approvals-login-garbage",
            "POST /approvals/login".to_owned(),
            vec![("content-type", "application/x-www-form-urlencoded".into())],
            b"token=not.a.jwt".to_vec(),
            Expect::Status(401),
        ),
        (
            "approvals-cross-site",
            "POST /approvals/some-id/approve".to_owned(),
            vec![
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("origin", "https://evil.example".into()),
            ],
            b"csrf=x".to_vec(),
            Expect::Status(403),
        ),
        (
            "approvals-csrf-missing",
            "POST /approvals/some-id/approve".to_owned(),
            vec![
                ("content-type", "application/x-www-form-urlencoded".into()),
                (
                    "cookie",
                    approver_cookie(&server, &keys, &ws, "approvals-csrf-missing").await,
                ),
            ],
            b"note=x".to_vec(),
            Expect::Status(403),
        ),
        (
            "callback-unsigned",
            "POST /approvals/callback".to_owned(),
            vec![("content-type", "application/json".into())],
            br#"{"request_id":"x","decision":"approve"}"#.to_vec(),
            Expect::Status(401),
        ),
        (
            "callback-bad-signature",
            "POST /approvals/callback".to_owned(),
            vec![
                ("content-type", "application/json".into()),
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", now_s.clone()),
                ("webhook-signature", "v1,AAAA".into()),
            ],
            br#"{"request_id":"x","decision":"approve"}"#.to_vec(),
            Expect::Status(401),
        ),
    ] {
        cases.push(Case {
            name,
            path: Some(path),
            headers,
            body,
            expect,
        });
    }
    // Tools and resources: other models' grants, hostile values, odd tokens and URIs.
    let granted_to_churn = |sub: &str, scope: &str| {
        let mut c = claims(sub, scope);
        c.models = Some(vec!["churn-*".into()]);
        sign(&rsa_a, Algorithm::RS256, Some("a"), &c)
    };
    for (name, token, body, expect) in [
        (
            "grant-check-drift",
            granted_to_churn("grant-check-drift", "drift:read"),
            tool("check_drift", "fraud-detector"),
            Expect::ToolError("not known"),
        ),
        (
            "grant-check-performance",
            granted_to_churn("grant-check-performance", "drift:read"),
            tool("check_performance", "fraud-detector"),
            Expect::ToolError("not known"),
        ),
        (
            "grant-quality-report",
            granted_to_churn("grant-quality-report", "models:read"),
            read("mlops://quality-reports/grant-quality-report"),
            Expect::RpcError("not found"),
        ),
        (
            "performance-malformed-window",
            agent_token(&hs, &claims, "performance-malformed-window"),
            call(
                "check_performance",
                json!({"model": "fraud-detector", "last": "performance-malformed-window"}),
            )
            .into_bytes(),
            Expect::ToolError("last"),
        ),
        (
            "performance-oversized-model",
            agent_token(&hs, &claims, "performance-oversized-model"),
            call(
                "check_performance",
                json!({"model": format!("performance-oversized-model{}", "m".repeat(5000))}),
            )
            .into_bytes(),
            Expect::ToolError("not known"),
        ),
        (
            "grant-trigger-retrain",
            granted_to_churn("grant-trigger-retrain", "retrain:trigger"),
            call(
                "trigger_retrain",
                json!({"model": "fraud-detector", "reason": "x"}),
            )
            .into_bytes(),
            Expect::ToolError("not known"),
        ),
        (
            "grant-get-validation",
            granted_to_churn("grant-get-validation", "validation:read"),
            call(
                "get_validation",
                json!({"model": "fraud-detector", "version": "v1"}),
            )
            .into_bytes(),
            Expect::ToolError("not known"),
        ),
        (
            "nested-retrain-params",
            agent_token(&hs, &claims, "nested-retrain-params"),
            call(
                "trigger_retrain",
                json!({"model": "fraud-detector", "reason": "x", "params": {"epochs": {"$gt": 0}}}),
            )
            .into_bytes(),
            Expect::ToolError("not allowed"),
        ),
        (
            "unknown-tool",
            agent_token(&hs, &claims, "unknown-tool"),
            call("approve_promotion", json!({"request_id": "x"})).into_bytes(),
            Expect::RpcError("approve_promotion"),
        ),
        (
            // Even a token that carries the approver's scope cannot approve over MCP.
            "approve-over-mcp",
            sign(
                &hs,
                Algorithm::HS256,
                None,
                &claims("approve-over-mcp", "promotion:approve models:read"),
            ),
            call("approve_promotion", json!({"request_id": "x"})).into_bytes(),
            Expect::RpcError("approve_promotion"),
        ),
        (
            "traversal-uri",
            agent_token(&hs, &claims, "traversal-uri"),
            read("mlops://traces/../../../etc/passwd"),
            Expect::RpcError("unknown resource URI"),
        ),
    ] {
        cases.push(Case {
            name,
            path: None,
            headers: vec![bearer(&token)],
            body,
            expect,
        });
    }
    let blank_sub = keys.sign(&with("   ", "models:read", &|_| {})).unwrap();
    cases.push(Case {
        name: "hs-blank-sub",
        path: None,
        headers: vec![bearer(&blank_sub)],
        body: list("hs-blank-sub"),
        expect: unauthorized(),
    });
    let mut odd_claims = serde_json::to_value(claims("x", "models:read")).unwrap();
    odd_claims["models"] = json!({"fraud-*": true});
    cases.push(Case {
        name: "hs-models-not-globs",
        path: None,
        headers: vec![bearer(&hs_raw(
            &ws.secret(),
            r#"{"alg":"HS256"}"#,
            &odd_claims,
        ))],
        body: list("hs-models-not-globs"),
        expect: unauthorized(),
    });

    assert!(cases.len() >= 60, "{} cases", cases.len());
    for case in &cases {
        // rmcp's own 403 for Host/Origin has no JSON `error` field; check the status only.
        if let Expect::Http(403, "") = case.expect {
            let before = snapshot(&ws).await;
            let headers: Vec<(&str, &str)> =
                case.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, _, _) = post_with(&server, &headers, case.body.clone()).await;
            assert_eq!(status, 403, "{}", case.name);
            assert_eq!(snapshot(&ws).await, before);
            let events = ws.traces().await;
            assert!(
                events
                    .iter()
                    .any(|e| e.principal == case.name && e.outcome == Outcome::Refused),
                "{}: {:?}",
                case.name,
                events.iter().rev().take(3).collect::<Vec<_>>()
            );
            continue;
        }
        run_case(&server, &ws, case).await;
    }

    // The grant also filters lists: the model is simply not there.
    let mut limited = claims("grant-list", "models:read");
    limited.models = Some(vec!["churn-*".into()]);
    let limited = sign(&rsa_a, Algorithm::RS256, Some("a"), &limited);
    let (status, _, body) = post_with(
        &server,
        &[("authorization", &format!("Bearer {limited}"))],
        list(""),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["structuredContent"]["models"], json!([]));
    // No refused case produced a successful call.
    let events = ws.traces().await;
    assert!(
        events.iter().filter(|e| e.outcome == Outcome::Ok).all(|e| {
            ["grant-list", "trace-owner"].contains(&e.principal.as_str())
                || (e.principal == "approvals-csrf-missing" && e.action == "approvals.sign_in")
        }),
        "{:?}",
        events
            .iter()
            .filter(|e| e.outcome == Outcome::Ok)
            .collect::<Vec<_>>()
    );
}

/// Sends the same call until the quota refuses it; returns the refusal body.
async fn burst(server: &HttpServer, token: &str, body: &[u8], limit: usize) -> (u16, Value) {
    for _ in 0..limit {
        let (status, _, json) = post_with(
            server,
            &[("authorization", &format!("Bearer {token}"))],
            body.to_vec(),
        )
        .await;
        let text = json["result"]["content"][0]["text"].as_str().unwrap_or("");
        if status != 200 || text.starts_with("rate limit") {
            return (status, json);
        }
    }
    panic!("no refusal after {limit} calls");
}

#[tokio::test]
async fn bursts_over_each_quota_are_refused_and_traced() {
    let ws = Workspace::demo();
    let server = HttpServer::start_with(
        &ws,
        &[
            ("MLOPS_MCP_LIMITS__READ_PER_MINUTE", "6"),
            ("MLOPS_MCP_LIMITS__READ_BURST", "3"),
            ("MLOPS_MCP_LIMITS__HIGH_PRIVILEGE_PER_MINUTE", "2"),
            ("MLOPS_MCP_LIMITS__HIGH_PRIVILEGE_BURST", "1"),
        ],
    );
    let before = snapshot(&ws).await;
    let reader = ws.token("burst-reader", "agent");
    let (status, body) = burst(
        &server,
        &reader,
        &call("list_models", json!({})).into_bytes(),
        10,
    )
    .await;
    assert_eq!(status, 200);
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("read quota") && text.contains("retry in"),
        "{text}"
    );

    // High-privilege calls have their own, stricter quota (even before the tool exists here).
    let (status, body) = burst(
        &server,
        &reader,
        &call("trigger_retrain", json!({"model": "fraud-detector"})).into_bytes(),
        5,
    )
    .await;
    assert_eq!(status, 200);
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("high-privilege quota"), "{text}");

    // Another principal is not affected.
    let other = ws.token("burst-other", "agent");
    let (status, _, body) = post_with(
        &server,
        &[("authorization", &format!("Bearer {other}"))],
        call("list_models", json!({})).into_bytes(),
    )
    .await;
    assert_eq!(
        (status, body["result"]["isError"].clone()),
        (200, json!(false))
    );

    assert_eq!(snapshot(&ws).await, before);
    let events = ws.traces().await;
    let refused: Vec<&str> = events
        .iter()
        .filter(|e| e.principal == "burst-reader" && e.outcome == Outcome::Refused)
        .map(|e| e.rationale.as_str())
        .collect();
    assert!(refused.iter().any(|r| r.contains("read quota")));
    assert!(refused.iter().any(|r| r.contains("high-privilege quota")));
}

#[tokio::test]
async fn per_address_quota_comes_before_authentication() {
    let ws = Workspace::demo();
    let server = HttpServer::start_with(
        &ws,
        &[
            ("MLOPS_MCP_LIMITS__PER_ADDRESS_PER_MINUTE", "10"),
            ("MLOPS_MCP_LIMITS__PER_ADDRESS_BURST", "5"),
        ],
    );
    let before = snapshot(&ws).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        // No token at all: the address quota still counts these.
        let (status, headers, _) =
            post_with(&server, &[], call("list_models", json!({})).into_bytes()).await;
        if status == 429 {
            assert!(headers.get("retry-after").is_some());
        }
        statuses.push(status);
    }
    assert_eq!(statuses[..5], [401; 5]);
    assert_eq!(statuses[5..], [429; 3]);
    assert_eq!(snapshot(&ws).await, before);
    let events = ws.traces().await;
    assert!(
        events
            .iter()
            .any(|e| e.outcome == Outcome::Refused && e.rationale.contains("per-address quota"))
    );
}

#[tokio::test]
async fn protected_resource_metadata_is_served() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let doc: Value = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["resource"], server.url.as_str());
        // What an agent may request, and never the approver's scope.
        assert_eq!(
            doc["scopes_supported"],
            json!([
                "models:read",
                "drift:read",
                "retrain:trigger",
                "validation:read",
                "promotion:request"
            ])
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
    let (status, headers, _) =
        post_with(&server, &[], call("list_models", json!({})).into_bytes()).await;
    assert_eq!(status, 401);
    let challenge = headers.get("www-authenticate").unwrap().to_str().unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", \
             scope=\"models:read\"",
            server.base
        )
    );
}

#[tokio::test]
async fn results_larger_than_the_cap_are_refused() {
    let ws = Workspace::demo();
    let server = HttpServer::start_with(&ws, &[("MLOPS_MCP_LIMITS__MAX_RESULT_BYTES", "1024")]);
    let token = format!("Bearer {}", ws.token("capped", "agent"));
    let (status, _, body) = post_with(
        &server,
        &[("authorization", &token)],
        call("check_drift", json!({"model": "fraud-detector"})).into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["isError"], true);
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("limits.max_result_bytes") && text.contains("narrow the request"),
        "{text}"
    );
    let read = json!({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"mlops://models/fraud-detector/card"}});
    let (_, _, body) = post_with(
        &server,
        &[("authorization", &token)],
        read.to_string().into_bytes(),
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limits.max_result_bytes"),
        "{body}"
    );
    let events = ws.traces().await;
    assert!(events.iter().any(|e| e.principal == "capped"
        && e.action == "resources/read"
        && e.outcome == Outcome::Refused));
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ws = Workspace::demo();
    let server = HttpServer::start_with(&ws, &[("MLOPS_MCP_HTTP__HEADER_TIMEOUT_SECS", "1")]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Start a request and never finish its headers.
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buf),
    )
    .await;
    assert!(
        closed.is_ok(),
        "the server closes a connection whose headers never complete"
    );
}

/// A call may join only a trace its caller started or may read; otherwise it starts its own,
/// so nobody can slip events into another principal's chain of evidence.
#[tokio::test]
async fn foreign_traces_cannot_be_joined() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let owner = ws.token("trace-owner", "drift:read,models:read");
    let drift = common::tool(
        &server,
        &owner,
        "check_drift",
        json!({ "model": "fraud-detector" }),
    )
    .await;
    let trace_id = drift["_meta"][TRACE_META_KEY].as_str().unwrap().to_owned();
    let in_trace = |events: &[TraceEvent]| {
        events
            .iter()
            .filter(|e| e.trace_id == trace_id)
            .map(|e| e.principal.clone())
            .collect::<Vec<_>>()
    };
    // The check's own events (the call, and the alert its verdict opened), all the owner's.
    let owner_only = in_trace(&ws.traces().await);
    assert!(
        owner_only.iter().all(|p| p == "trace-owner"),
        "{owner_only:?}"
    );
    let joined = |name: &str, args: Value| {
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
            "name": name, "arguments": args, "_meta": { TRACE_META_KEY: trace_id }
        }})
        .to_string()
        .into_bytes()
    };
    let as_bearer = |t: &str| format!("Bearer {t}");

    // A principal limited to other models sends the id: its event lands in a trace of its own.
    let mut limited = ws.claims("intruder", "models:read", 600);
    limited.models = Some(vec!["churn-*".into()]);
    let limited = ws.keys().sign(&limited).unwrap();
    let (status, _, body) = post_with(
        &server,
        &[("authorization", &as_bearer(&limited))],
        joined("list_models", json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let own = body["result"]["_meta"][TRACE_META_KEY].as_str().unwrap();
    assert_ne!(own, trace_id);
    assert_eq!(in_trace(&ws.traces().await), owner_only);
    // Reading it by id finds nothing either.
    let (_, _, body) = post_with(
        &server,
        &[("authorization", &as_bearer(&limited))],
        common::read(&format!("mlops://traces/{trace_id}")).into_bytes(),
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not found"),
        "{body}"
    );

    // The owner continues its own trace.
    let (_, _, body) = post_with(
        &server,
        &[("authorization", &as_bearer(&owner))],
        joined("list_models", json!({})),
    )
    .await;
    assert_eq!(body["result"]["_meta"][TRACE_META_KEY], trace_id.as_str());
    // So does an unrestricted reader (it may see every event of the trace).
    let reviewer = ws.token("reviewer", "models:read");
    let (_, _, body) = post_with(
        &server,
        &[("authorization", &as_bearer(&reviewer))],
        joined("list_models", json!({})),
    )
    .await;
    assert_eq!(body["result"]["_meta"][TRACE_META_KEY], trace_id.as_str());
    let mut expected = owner_only.clone();
    expected.extend(["trace-owner".to_owned(), "reviewer".to_owned()]);
    assert_eq!(in_trace(&ws.traces().await), expected);
}

/// Anonymous callers cannot grow the store by what they send: 20 unauthenticated 900 KB bodies
/// and 300 requests over the per-address quota add less than 1 MiB, because a 401 is traced as
/// a bounded summary and quota refusals once per address per minute.
#[tokio::test]
async fn anonymous_and_over_quota_requests_barely_grow_the_store() {
    let ws = Workspace::demo();
    let server = HttpServer::start_with(
        &ws,
        &[
            ("MLOPS_MCP_LIMITS__PER_ADDRESS_PER_MINUTE", "1"),
            ("MLOPS_MCP_LIMITS__PER_ADDRESS_BURST", "20"),
        ],
    );
    let size = || {
        std::fs::read_dir(ws.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("mlops-mcp.db"))
            .map(|e| e.metadata().unwrap().len())
            .sum::<u64>()
    };
    let traced_before = ws.traces().await.len();
    let before = size();
    let padding = "x".repeat(900 * 1024);
    for i in 0..20 {
        let body = call(
            "list_models",
            json!({ "name_contains": format!("{i}{padding}") }),
        );
        let (status, _, _) = post_with(&server, &[], body.into_bytes()).await;
        assert_eq!(status, 401);
    }
    let mut limited = 0;
    for _ in 0..300 {
        let (status, _, _) =
            post_with(&server, &[], call("list_models", json!({})).into_bytes()).await;
        if status == 429 {
            limited += 1;
        }
    }
    assert_eq!(limited, 300);
    let grown = size().saturating_sub(before);
    let events = ws.traces().await;
    let new = &events[traced_before..];
    eprintln!(
        "the store grew {grown} bytes for {} new trace rows",
        new.len()
    );
    assert!(grown < 1024 * 1024, "{grown} bytes");
    assert!(new.iter().all(|e| e.arguments.len() < 200), "{new:?}");
    let quota_rows = new
        .iter()
        .filter(|e| e.rationale.contains("per-address quota"))
        .count();
    assert!(
        (1..=2).contains(&quota_rows),
        "{quota_rows} quota refusals traced"
    );
}

/// Resources, prompts and listen streams count against the caller's read quota like read tools:
/// past it each is refused (a JSON-RPC error naming the quota) and traced.
#[tokio::test]
async fn reads_other_than_tools_count_against_the_read_quota() {
    let ws = Workspace::demo();
    let server = HttpServer::start_with(
        &ws,
        &[
            ("MLOPS_MCP_LIMITS__READ_PER_MINUTE", "1"),
            ("MLOPS_MCP_LIMITS__READ_BURST", "2"),
        ],
    );
    let rpc = |method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": 4, "method": method, "params": params})
            .to_string()
            .into_bytes()
    };
    let requests = [
        (
            "resources/read",
            rpc(
                "resources/read",
                json!({"uri": "mlops://models/fraud-detector/card"}),
            ),
        ),
        ("resources/list", rpc("resources/list", json!({}))),
        ("prompts/list", rpc("prompts/list", json!({}))),
        (
            "prompts/get",
            rpc(
                "prompts/get",
                json!({"name": "monitor_model", "arguments": {"model": "fraud-detector"}}),
            ),
        ),
    ];
    for (i, (action, body)) in requests.into_iter().enumerate() {
        let who = format!("quota-reader-{i}");
        let token = ws.token(&who, "models:read");
        let auth = format!("Bearer {token}");
        let mut answers = Vec::new();
        for _ in 0..3 {
            let (status, _, json) =
                post_with(&server, &[("authorization", &auth)], body.clone()).await;
            assert_eq!(status, 200, "{action}: {json}");
            answers.push(json);
        }
        assert!(
            answers[0].get("result").is_some(),
            "{action}: {}",
            answers[0]
        );
        let refused = answers[2]["error"]["message"].as_str().unwrap_or_default();
        assert!(refused.contains("read quota"), "{action}: {}", answers[2]);
        let traced = ws
            .traces()
            .await
            .into_iter()
            .any(|e| e.principal == who && e.action == action && e.outcome == Outcome::Refused);
        assert!(traced, "{action}: refusal not traced");
    }
}

/// An authenticated caller cannot grow the store by what it sends either: a 500 KB argument is
/// traced as its first 2,048 characters and how many more there were.
#[tokio::test]
async fn long_arguments_are_cut_in_the_trace() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let token = ws.token("long-args", "models:read");
    let long = "z".repeat(500 * 1024);
    let (status, _, _) = post_with(
        &server,
        &[("authorization", &format!("Bearer {token}"))],
        call("list_models", json!({ "name_contains": long })).into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    let events = ws.traces().await;
    let event = events
        .iter()
        .find(|e| e.principal == "long-args")
        .expect("the call is traced");
    assert!(
        event.arguments.len() < 4096,
        "{} bytes",
        event.arguments.len()
    );
    assert!(
        event
            .arguments
            .contains("(509952 more characters not traced)"),
        "{}",
        &event.arguments[event.arguments.len() - 80..]
    );
}
