//! The secret values this server holds, gathered from its configuration and environment, so
//! that they can be kept out of trainers, job logs, traces and errors.

use mlops_engine::secrets::Secrets;
use secrecy::ExposeSecret;

use crate::config::Config;

/// Environment variables that carry the server's credentials, named by the configuration or by
/// convention.
pub fn secret_env_names(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = vec![
        "MLOPS_MCP_AUTH__HS256_SECRET".into(),
        "MLOPS_MCP_TOKEN".into(),
        "MLOPS_MCP_STORE__URL".into(),
        "MLFLOW_TRACKING_PASSWORD".into(),
        "MLFLOW_TRACKING_TOKEN".into(),
    ];
    names.extend(config.promotion.callback_secret_env.clone());
    names.extend(
        config
            .promotion
            .oidc
            .as_ref()
            .map(|o| o.client_secret_env.clone()),
    );
    names.extend(
        config
            .promotion
            .webhooks
            .iter()
            .filter_map(|w| w.secret_env.clone()),
    );
    for model in &config.models {
        if let Some(retrain) = &model.retrain {
            names.extend(retrain.secret_env_names().into_iter().map(str::to_owned));
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Every secret value the server holds: the HS256 secret, the store URL's password, and the
/// values of the variables [`secret_env_names`] lists.
pub fn held(config: &Config) -> Secrets {
    let mut values: Vec<String> = secret_env_names(config)
        .iter()
        .filter(|name| name.as_str() != "MLOPS_MCP_STORE__URL")
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    values.extend(
        config
            .auth
            .hs256_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned()),
    );
    values.extend(url_password(&config.store.url));
    Secrets::new(values)
}

/// The password of a `scheme://user:password@host/...` URL.
pub fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| password.to_owned())
}

/// Problems with what trainers are given: a model's `retrain.env` must not pass one of the
/// server's secrets on.
pub fn env_problems(config: &Config) -> Vec<String> {
    let held = secret_env_names(config);
    let mut out = Vec::new();
    for (i, model) in config.models.iter().enumerate() {
        let Some(retrain) = &model.retrain else {
            continue;
        };
        for name in &retrain.env {
            if held.iter().any(|h| h.eq_ignore_ascii_case(name))
                || mlops_engine::retrain_spec::mlops_secret_like(name)
            {
                out.push(format!(
                    "models[{i}].retrain.env: `{name}` holds a secret of the server's; a trainer must not get it (give the trainer its own credential under another name)"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_password_of_a_database_url() {
        assert_eq!(
            url_password("postgres://app:s3cr%40t@db:5432/mlops?sslmode=require").as_deref(),
            Some("s3cr%40t")
        );
        assert_eq!(url_password("postgres://app@db/mlops"), None);
        assert_eq!(url_password("sqlite://state.db"), None);
    }
}
