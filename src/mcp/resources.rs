//! Resources: `mlops-resources` views mapped onto rmcp.

use mlops_auth::Principal;
use mlops_resources::{RESOURCES, ReadError, TEMPLATES};
use rmcp::ErrorData;
use rmcp::model::{ReadResourceResult, Resource, ResourceContents, ResourceTemplate};

use crate::app::App;

pub async fn list(app: &App, principal: &Principal) -> Result<Vec<Resource>, ErrorData> {
    let mut out: Vec<Resource> = RESOURCES
        .iter()
        .map(|r| {
            Resource::new(r.uri, r.name)
                .with_title(r.title)
                .with_description(r.description)
                .with_mime_type(r.mime_type)
        })
        .collect();
    let models = app.store().list_models().await.map_err(internal)?;
    for m in models
        .iter()
        .filter(|m| principal.may_access_model(&m.spec.name))
    {
        out.push(
            Resource::new(
                format!("mlops://models/{}/card", m.spec.name),
                format!("{}-card", m.spec.name),
            )
            .with_title(format!("Model card: {}", m.spec.name))
            .with_description(format!("Model card of `{}`", m.spec.name))
            .with_mime_type("text/markdown"),
        );
    }
    Ok(out)
}

pub fn templates() -> Vec<ResourceTemplate> {
    TEMPLATES
        .iter()
        .map(|t| {
            ResourceTemplate::new(t.uri, t.name)
                .with_title(t.title)
                .with_description(t.description)
                .with_mime_type(t.mime_type)
        })
        .collect()
}

pub async fn read(
    app: &App,
    principal: &Principal,
    uri: &str,
) -> Result<ReadResourceResult, ErrorData> {
    match mlops_resources::read(app.store(), principal, uri).await {
        Ok(rendered) => {
            let json = serde_json::to_string_pretty(&rendered.json).map_err(internal)?;
            Ok(ReadResourceResult::new(vec![
                ResourceContents::text(rendered.markdown, uri).with_mime_type("text/markdown"),
                ResourceContents::text(json, uri).with_mime_type("application/json"),
            ]))
        }
        Err(ReadError::BadUri(e)) => Err(ErrorData::resource_not_found(
            e.to_string(),
            Some(uri_data(uri)),
        )),
        Err(ReadError::NotFound(what)) => Err(ErrorData::resource_not_found(
            format!("resource not found: {what}"),
            Some(uri_data(uri)),
        )),
        Err(ReadError::Store(e)) => Err(internal(e)),
    }
}

fn uri_data(uri: &str) -> serde_json::Value {
    serde_json::json!({ "uri": uri })
}

fn internal(error: impl std::fmt::Display) -> ErrorData {
    tracing::error!(%error, "resource request failed");
    ErrorData::internal_error("internal error; see the server log", None)
}
