//! Parsing of `mlops://` resource URIs.

/// A resource this server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceUri {
    /// `mlops://models`
    Models,
    /// `mlops://models?cursor={cursor}`: the page after the one that gave the cursor.
    ModelsPage(String),
    /// `mlops://alerts`
    Alerts,
    /// `mlops://alerts/{id}`
    Alert(String),
    /// `mlops://models/{model}/card`
    ModelCard(String),
    /// `mlops://traces/{id}`
    Trace(String),
    /// `mlops://drift-reports/{id}`
    DriftReport(String),
    /// `mlops://quality-reports/{id}`
    QualityReport(String),
    /// `mlops://jobs/{id}`
    Job(String),
    /// `mlops://validations/{id}`
    Validation(String),
    /// `mlops://promotions/{id}`
    Promotion(String),
}

/// A URI this server does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown resource URI `{0}`; this server serves mlops://models, \
     mlops://models/{{model}}/card, mlops://alerts, mlops://alerts/{{id}}, \
     mlops://drift-reports/{{id}}, mlops://quality-reports/{{id}}, mlops://jobs/{{id}}, \
     mlops://validations/{{id}}, \
     mlops://promotions/{{id}} and mlops://traces/{{id}}"
)]
pub struct UriError(pub String);

fn segment_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s != "."
        && s != ".."
}

impl ResourceUri {
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let bad = || UriError(uri.to_owned());
        let rest = uri.strip_prefix("mlops://").ok_or_else(bad)?;
        if let Some(cursor) = rest.strip_prefix("models?cursor=") {
            let ok = !cursor.is_empty()
                && cursor.len() <= 256
                && cursor
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
            return if ok {
                Ok(Self::ModelsPage(cursor.to_owned()))
            } else {
                Err(bad())
            };
        }
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["models"] => Ok(Self::Models),
            ["alerts"] => Ok(Self::Alerts),
            ["alerts", id] if segment_ok(id) => Ok(Self::Alert((*id).to_owned())),
            ["models", name, "card"] if segment_ok(name) => Ok(Self::ModelCard((*name).to_owned())),
            ["traces", id] if segment_ok(id) => Ok(Self::Trace((*id).to_owned())),
            ["drift-reports", id] if segment_ok(id) => Ok(Self::DriftReport((*id).to_owned())),
            ["quality-reports", id] if segment_ok(id) => Ok(Self::QualityReport((*id).to_owned())),
            ["jobs", id] if segment_ok(id) => Ok(Self::Job((*id).to_owned())),
            ["validations", id] if segment_ok(id) => Ok(Self::Validation((*id).to_owned())),
            ["promotions", id] if segment_ok(id) => Ok(Self::Promotion((*id).to_owned())),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_uris_and_refuses_others() {
        assert_eq!(
            ResourceUri::parse("mlops://models"),
            Ok(ResourceUri::Models)
        );
        assert_eq!(
            ResourceUri::parse("mlops://models/fraud-detector/card"),
            Ok(ResourceUri::ModelCard("fraud-detector".into()))
        );
        assert_eq!(
            ResourceUri::parse("mlops://jobs/7f3c"),
            Ok(ResourceUri::Job("7f3c".into()))
        );
        assert_eq!(
            ResourceUri::parse("mlops://traces/abc-1"),
            Ok(ResourceUri::Trace("abc-1".into()))
        );
        assert_eq!(
            ResourceUri::parse("mlops://models?cursor=YzE6MDo"),
            Ok(ResourceUri::ModelsPage("YzE6MDo".into()))
        );
        assert_eq!(
            ResourceUri::parse("mlops://alerts/a-1"),
            Ok(ResourceUri::Alert("a-1".into()))
        );
        for bad in [
            "mlops://models?cursor=",
            "mlops://models?cursor=a/b",
            "mlops://models?page=2",
            "mlops://alerts/",
            "mlops://models/",
            "mlops://models/../card",
            "mlops://models/a/b/card",
            "file:///etc/passwd",
            "mlops://jobs/",
            "mlops://traces/a%2Fb",
        ] {
            assert!(ResourceUri::parse(bad).is_err(), "{bad}");
        }
    }
}
