//! At start-up, with an identity provider configured: its metadata (RFC 8414, else OpenID
//! Connect discovery) must name the issuer `auth.issuer` expects, exactly. A mismatch (a
//! trailing slash, another realm or tenant) would refuse every token, or worse, accept another
//! issuer's; it stops the server with both values. An unreachable provider only warns: tokens are
//! still checked against `auth.issuer` and its keys are fetched when they are needed.

use std::time::Duration;

use serde_json::Value;

use crate::config::AuthConfig;

/// The metadata documents of `issuer`, in the order tried (RFC 8414 §3.1 inserts the well-known
/// path before an issuer's own path; OpenID Connect appends it).
fn metadata_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let mut urls = Vec::new();
    if let Some((scheme, rest)) = trimmed.split_once("://") {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        urls.push(format!(
            "{scheme}://{host}/.well-known/oauth-authorization-server{path}"
        ));
    }
    urls.push(format!("{trimmed}/.well-known/openid-configuration"));
    urls
}

/// What the first reachable metadata document says the issuer is.
async fn advertised_issuer(server: &str) -> Option<(String, String)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()?;
    for url in metadata_urls(server) {
        let Ok(response) = client.get(&url).send().await else {
            continue;
        };
        if !response.status().is_success() {
            continue;
        }
        if let Ok(doc) = response.json::<Value>().await
            && let Some(issuer) = doc.get("issuer").and_then(Value::as_str)
        {
            return Some((url, issuer.to_owned()));
        }
    }
    None
}

/// Checks `auth.issuer` against the metadata of the configured authorization server that
/// issues it (the one whose URL is the issuer, else the first).
pub async fn check_issuer(auth: &AuthConfig) -> anyhow::Result<()> {
    if auth.jwks_url.is_none() {
        return Ok(());
    }
    let Some(server) = auth
        .authorization_servers
        .iter()
        .find(|s| s.trim_end_matches('/') == auth.issuer.trim_end_matches('/'))
        .or_else(|| auth.authorization_servers.first())
    else {
        return Ok(());
    };
    match advertised_issuer(server).await {
        Some((_, issuer)) if issuer == auth.issuer => Ok(()),
        Some((url, issuer)) => anyhow::bail!(
            "auth.issuer = {:?}, but the authorization server's metadata ({url}) says its issuer is {issuer:?}: tokens name that issuer, so set auth.issuer to it exactly",
            auth.issuer
        ),
        None => {
            tracing::warn!(
                authorization_server = %server,
                "the authorization server's metadata cannot be read now; auth.issuer is not checked against it"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_follow_both_specifications() {
        assert_eq!(
            metadata_urls("https://idp.example.com/realms/ml/"),
            [
                "https://idp.example.com/.well-known/oauth-authorization-server/realms/ml",
                "https://idp.example.com/realms/ml/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("http://127.0.0.1:4000"),
            [
                "http://127.0.0.1:4000/.well-known/oauth-authorization-server",
                "http://127.0.0.1:4000/.well-known/openid-configuration",
            ]
        );
    }
}
