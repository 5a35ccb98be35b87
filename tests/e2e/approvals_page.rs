//! The `/approvals` page over plain HTTP (the browser test is `tests/web/approvals.mjs`): only a
//! token with promotion:approve signs in, a state-changing POST without the session's CSRF token
//! is refused, the requester cannot approve, and an approval moves the champion.

use crate::common;

use common::{HttpServer, Workspace, pending_promotion};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in and returns the session cookie (`name=value`).
async fn sign_in(server: &HttpServer, token: &str) -> (u16, Option<String>) {
    let r = client()
        .post(format!("{}/approvals/login", server.base))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), cookie)
}

async fn get(server: &HttpServer, cookie: &str, path: &str) -> (u16, String) {
    let r = client()
        .get(format!("{}{path}", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post_form(
    server: &HttpServer,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let r = client()
        .post(format!("{}{path}", server.base))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn only_approvers_with_the_forms_csrf_token_decide() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let agent = ws.token("demo-agent", "agent");
    let id = pending_promotion(&server, &agent).await;

    // The agent's token does not sign in; without a session the page asks for one.
    let (status, cookie) = sign_in(&server, &agent).await;
    assert_eq!((status, cookie), (401, None));
    let (status, body) = get(&server, "", &format!("/approvals/{id}")).await;
    assert_eq!(status, 401);
    assert!(body.contains("sign in"), "{body}");

    // The requester, even with promotion:approve, cannot approve its own request.
    let own = ws.token("demo-agent", "promotion:approve,models:read");
    let (_, cookie) = sign_in(&server, &own).await;
    let own_cookie = cookie.unwrap().split(';').next().unwrap().to_owned();
    let (_, page) = get(&server, &own_cookie, &format!("/approvals/{id}")).await;
    let (status, body) = post_form(
        &server,
        &own_cookie,
        &format!("/approvals/{id}/approve"),
        &[("csrf", &csrf(&page))],
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("cannot decide"), "{body}");

    let alice = ws.token("alice", "promotion:approve,models:read");
    let (status, cookie) = sign_in(&server, &alice).await;
    assert_eq!(status, 303);
    let cookie = cookie.unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let (_, list) = get(&server, &cookie, "/approvals").await;
    assert!(list.contains(&id), "{list}");
    let (status, page) = get(&server, &cookie, &format!("/approvals/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Verdict: passed") && page.contains("Recommended action: retrain"),
        "the validation and the drift report that started the chain: {page}"
    );
    assert!(page.contains("id=\"champion\">v1<"), "{page}");

    // No CSRF token, another session's token, or a forged one: refused, nothing decided.
    for token in [
        "",
        &csrf(
            &get(&server, &own_cookie, &format!("/approvals/{id}"))
                .await
                .1,
        ),
        "AAAA",
    ] {
        let (status, body) = post_form(
            &server,
            &cookie,
            &format!("/approvals/{id}/approve"),
            &[("csrf", token)],
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("CSRF"), "{body}");
    }
    assert_eq!(
        ws.model("fraud-detector")
            .await
            .aliased("champion")
            .unwrap()
            .version,
        "v1"
    );

    let (status, _) = post_form(
        &server,
        &cookie,
        &format!("/approvals/{id}/approve"),
        &[("csrf", &csrf(&page)), ("note", "ship it")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        ws.model("fraud-detector")
            .await
            .aliased("champion")
            .unwrap()
            .version,
        "v2"
    );
    let (_, after) = get(&server, &cookie, &format!("/approvals/{id}")).await;
    assert!(
        after.contains("id=\"champion\">v2<") && after.contains("id=\"state\">promoted<"),
        "{after}"
    );
    assert!(
        ws.traces()
            .await
            .iter()
            .any(|e| e.action == "promotion.promoted" && e.principal == "alice")
    );
}

#[tokio::test]
async fn the_page_counts_against_the_per_address_quota() {
    let ws = Workspace::demo();
    ws.edit_config(|t| {
        let mut limits = toml::Table::new();
        limits.insert("per_address_per_minute".into(), 1.into());
        limits.insert("per_address_burst".into(), 3.into());
        t.insert("limits".into(), limits.into());
    });
    let server = HttpServer::start(&ws);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get(&server, "", "/approvals").await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert!(
        ws.traces()
            .await
            .iter()
            .any(|e| e.action == "approvals.rate_limited")
    );
}

#[tokio::test]
async fn hostile_justifications_render_inert_and_other_sites_cannot_post() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let agent = ws.token("demo-agent", "agent");
    let id = common::pending_promotion_with(
        &server,
        &agent,
        "[open the report](javascript:fetch('/approvals')) ![chart](http://host/pixel.png) \
         <script>window.pwned=1</script>",
    )
    .await;
    let alice = ws.token("alice", "promotion:approve,models:read");
    let (_, cookie) = sign_in(&server, &alice).await;
    let cookie = cookie.unwrap().split(';').next().unwrap().to_owned();

    let r = client()
        .get(format!("{}/approvals/{id}", server.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let headers = r.headers().clone();
    let page = r.text().await.unwrap();
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(page.contains("open the report"), "{page}");
    // The text may appear as escaped data (the trace's arguments), never as a link.
    assert!(
        !page.to_ascii_lowercase().contains("href=\"javascript:"),
        "{page}"
    );
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("<script"), "{page}");

    // A valid session and CSRF token, but the form was posted from another site: refused.
    let token = csrf(&page);
    let own_origin = server.base.clone();
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "null")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", own_origin.as_str()),
        ],
    ] {
        let mut request = client()
            .post(format!("{}/approvals/{id}/approve", server.base))
            .header("cookie", &cookie);
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let r = request
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{headers:?}");
        assert!(r.headers().contains_key("content-security-policy"));
    }
    let (_, after) = get(&server, &cookie, &format!("/approvals/{id}")).await;
    assert!(after.contains("pending_approval"), "{after}");
    // The same form from the page itself goes through (Chromium sends `Origin: null` under the
    // page's `Referrer-Policy: no-referrer`, and `Sec-Fetch-Site: same-origin`).
    let r = client()
        .post(format!("{}/approvals/{id}/approve", server.base))
        .header("cookie", &cookie)
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
}

/// Signing in gives a random session id, not the token; the store keeps only its hash; the
/// session ends no later than the token; sign-out ends it for every copy of the cookie; over
/// https the cookie is `Secure` with the `__Host-` prefix.
#[tokio::test]
async fn sessions_are_random_ids_that_sign_out_revokes() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let claims = ws.claims("alice", "promotion:approve models:read", 120);
    let alice = ws.keys().sign(&claims).unwrap();
    let (status, set_cookie) = sign_in(&server, &alice).await;
    assert_eq!(status, 303);
    let set_cookie = set_cookie.unwrap();
    assert!(!set_cookie.contains(&alice), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    let max_age: i64 = set_cookie
        .split("Max-Age=")
        .nth(1)
        .and_then(|v| v.split(';').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (0..=120).contains(&max_age),
        "not past the token: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let id = cookie.split_once('=').unwrap().1.to_owned();
    assert_eq!(id.len(), 64, "{cookie}");

    // The store holds the id's SHA-256, never the id or the token.
    let store = mlops_engine::store::SqlStore::open(&ws.db_url(), ws.chain_key())
        .await
        .unwrap();
    let hashes: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM approver_sessions")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(hashes, [mlops_engine::approver_session::hash_id(&id)]);

    let (status, list) = get(&server, &cookie, "/approvals").await;
    assert_eq!(status, 200);
    assert!(list.contains("id=\"who\">alice<"), "{list}");
    // The token itself is no session.
    let (_, list) = get(&server, &format!("mlops_approver={alice}"), "/approvals").await;
    assert!(list.contains("id=\"sign-in\""), "{list}");

    // Sign-out revokes it in the store: the same cookie, replayed, is signed out too.
    let r = client()
        .post(format!("{}/approvals/logout", server.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (_, list) = get(&server, &cookie, "/approvals").await;
    assert!(list.contains("id=\"sign-in\""), "{list}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approver_sessions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    drop(server);

    // Reached over https (the resource URL says so): Secure, __Host-, path /.
    let server = HttpServer::start_with(
        &ws,
        &[("MLOPS_MCP_AUTH__RESOURCE", "https://mlops.example.com/mcp")],
    );
    let (_, set_cookie) = sign_in(&server, &alice).await;
    let set_cookie = set_cookie.unwrap();
    assert!(
        set_cookie.starts_with("__Host-mlops_approver="),
        "{set_cookie}"
    );
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/;"] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let (_, list) = get(&server, &cookie, "/approvals").await;
    assert!(list.contains("id=\"who\">alice<"), "{list}");
}

/// The identity-provider sign-in refuses whatever did not start here: no or a forged flow
/// cookie, a provider error, a pasted token once the provider is configured; every refusal is
/// traced and opens no session. The whole flow against a real provider is the browser test
/// `tests/web/approvals_oidc.mjs`.
#[tokio::test]
async fn identity_provider_sign_in_refuses_what_did_not_start_here() {
    let ws = Workspace::demo();
    // Without [promotion.oidc] there is nothing to start.
    let server = HttpServer::start(&ws);
    let (status, _) = get(&server, "", "/approvals/oidc/start").await;
    assert_eq!(status, 404);
    drop(server);

    ws.edit_config(|t| {
        let mut oidc = toml::Table::new();
        oidc.insert("issuer".into(), "http://127.0.0.1:9".into());
        oidc.insert("client_id".into(), "mlops-approvals".into());
        oidc.insert("client_secret_env".into(), "MLOPS_TEST_UNSET_SECRET".into());
        oidc.insert(
            "approver_values".into(),
            toml::Value::Array(vec!["mlops-approvers".into()]),
        );
        let mut promotion = toml::Table::new();
        promotion.insert("oidc".into(), oidc.into());
        t.insert("promotion".into(), promotion.into());
    });
    let server = HttpServer::start(&ws);
    let sessions = || async {
        let store = mlops_engine::store::SqlStore::open(&ws.db_url(), ws.chain_key())
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approver_sessions")
            .fetch_one(store.pool())
            .await
            .unwrap();
        n
    };

    // The page offers the provider, not a token field, and refuses a pasted token.
    let (status, page) = get(&server, "", "/approvals").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"sign-in-oidc\"") && !page.contains("id=\"token\""),
        "{page}"
    );
    let claims = ws.claims("alice", "promotion:approve models:read", 120);
    let (status, cookie) = sign_in(&server, &ws.keys().sign(&claims).unwrap()).await;
    assert_eq!((status, cookie), (403, None));

    // Its secret is not set here: the start says so instead of sending anyone away.
    let (status, body) = get(&server, "", "/approvals/oidc/start").await;
    assert_eq!(status, 503);
    assert!(body.contains("MLOPS_TEST_UNSET_SECRET"), "{body}");

    let flow = "eyJzdGF0ZSI6InMiLCJub25jZSI6Im4iLCJ2ZXJpZmllciI6InYiLCJleHAiOjk5OTk5OTk5OTl9";
    for (cookie, query, says) in [
        ("", "code=c&state=s", "was not started here"),
        (
            &*format!("mlops_oidc={flow}.Zm9yZ2Vk"),
            "code=c&state=s",
            "was not started here",
        ),
        (
            &*format!("mlops_oidc={flow}"),
            "code=c&state=s",
            "was not started here",
        ),
        (
            "",
            &*format!("state={}", "x".repeat(5000)),
            "was not started here",
        ),
    ] {
        let (status, body) = get(
            &server,
            cookie,
            &format!("/approvals/oidc/callback?{query}"),
        )
        .await;
        assert_eq!(status, 400, "{cookie} {query}: {body}");
        assert!(body.contains(says), "{body}");
        assert!(!body.contains("<script"), "{body}");
    }
    assert_eq!(sessions().await, 0);
    let events = ws.traces().await;
    let refused = events
        .iter()
        .filter(|e| {
            e.action == "approvals.sign_in" && e.outcome == mlops_engine::trace::Outcome::Refused
        })
        .count();
    assert!(refused >= 5, "{refused} refusals traced");
}
