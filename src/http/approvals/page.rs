//! The approval page's views: the pending requests, one request with its evidence, and the
//! approve and deny forms.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use mlops_auth::Principal;
use mlops_engine::promotion::{Decision, Promotion, PromotionState};
use mlops_engine::promotion_gate::ApprovalError;
use mlops_engine::trace::Outcome;
use serde::Deserialize;

use crate::app::App;

use super::session::*;
use super::*;

pub(super) async fn index(State(app): State<App>, headers: HeaderMap) -> Response {
    let Ok((who, _)) = approver(&app, &headers).await else {
        return sign_in_page(&app, None, StatusCode::OK);
    };
    let now = chrono::Utc::now();
    let pending: Vec<Promotion> = match app
        .store()
        .list_promotions(Some(PromotionState::PendingApproval), 200)
        .await
    {
        Ok(list) => list
            .into_iter()
            .filter(|p| who.may_access_model(&p.model))
            .filter(|p| p.effective_state(now) == PromotionState::PendingApproval)
            .collect(),
        Err(e) => {
            return refused(
                &format!("the store failed: {e}"),
                StatusCode::INTERNAL_SERVER_ERROR,
            );
        }
    };
    let mut rows = String::new();
    for p in &pending {
        rows.push_str(&format!(
            "<tr><td><a class=\"request\" href=\"/approvals/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.model),
            esc(&p.candidate_version),
            esc(&p.requested_by),
            p.expires_at.format("%Y-%m-%d %H:%M UTC"),
            id = esc(&p.id),
        ));
    }
    let table = if pending.is_empty() {
        "<p id=\"empty\">No promotion request is waiting for a decision.</p>".to_owned()
    } else {
        format!(
            "<table id=\"requests\"><tr><th>request</th><th>model</th><th>candidate</th><th>requested by</th><th>expires</th></tr>{rows}</table>"
        )
    };
    let body = format!(
        "<h1>Promotion approvals</h1><p>Signed in as <b id=\"who\">{}</b>. \
         <form method=\"post\" action=\"/approvals/logout\"><button>Sign out</button></form></p>{table}",
        esc(&who.subject)
    );
    Html(page("Approvals", &body)).into_response()
}

/// The resource's Markdown, or a line saying why it is not shown.
pub(super) async fn section(app: &App, who: &Principal, uri: &str) -> String {
    match mlops_resources::read(app.store(), who, uri).await {
        Ok(r) => markdown(&r.markdown),
        Err(e) => format!("<p>{}</p>", esc(&e.to_string())),
    }
}

pub(super) async fn detail(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (who, session) = match approver(&app, &headers).await {
        Ok(a) => a,
        Err(why) => return sign_in_page(&app, Some(&why), StatusCode::UNAUTHORIZED),
    };
    let store = app.store();
    let p = match store.promotion(&id).await {
        Ok(Some(p)) if who.may_access_model(&p.model) => p,
        Ok(_) => {
            return refused(
                &format!("promotion request `{id}` is not known"),
                StatusCode::NOT_FOUND,
            );
        }
        Err(e) => {
            return refused(
                &format!("the store failed: {e}"),
                StatusCode::INTERNAL_SERVER_ERROR,
            );
        }
    };
    let champion = store
        .get_model(&p.model)
        .await
        .ok()
        .flatten()
        .and_then(|m| {
            m.aliased(mlops_engine::model::CHAMPION)
                .map(|v| v.version.clone())
        })
        .unwrap_or_else(|| "none".into());
    let request = section(&app, &who, &format!("mlops://promotions/{}", p.id)).await;
    let validation = section(
        &app,
        &who,
        &format!("mlops://validations/{}", p.validation_id),
    )
    .await;
    // The drift report that started the chain: validation → job → drift report.
    let drift_id = match store.validation(&p.validation_id).await {
        Ok(Some(v)) => match v.job_id {
            Some(job) => store
                .get_job(&job)
                .await
                .ok()
                .flatten()
                .and_then(|j| j.drift_report_id),
            None => None,
        },
        _ => None,
    };
    let drift = match &drift_id {
        Some(d) => section(&app, &who, &format!("mlops://drift-reports/{d}")).await,
        None => "<p>No drift report is linked to this candidate's job.</p>".into(),
    };
    let trace = match &p.trace_id {
        Some(t) => section(&app, &who, &format!("mlops://traces/{t}")).await,
        None => String::new(),
    };
    let state = p.effective_state(chrono::Utc::now());
    let csrf = esc(&csrf_for(&app, &session));
    let forms = if state == PromotionState::PendingApproval {
        format!(
            "<form method=\"post\" action=\"/approvals/{id}/approve\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>Note <input name=\"note\" id=\"note\"></label> <button type=\"submit\" id=\"approve\">Approve</button></form>\
             <form method=\"post\" action=\"/approvals/{id}/deny\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>Reason <input name=\"reason\" id=\"reason\" required></label> <button type=\"submit\" id=\"deny\">Deny</button></form>",
            id = esc(&p.id)
        )
    } else {
        format!(
            "<p class=\"msg\" id=\"decided\">This request is {}.</p>",
            state.as_str()
        )
    };
    let body = format!(
        "<p><a href=\"/approvals\">All requests</a> · signed in as <b id=\"who\">{who}</b></p>\
         <p>Model <b>{model}</b>: champion <b id=\"champion\">{champion}</b>, candidate <b>{cand}</b>, state <b id=\"state\">{state}</b></p>\
         {forms}{request}<h2>Validation</h2>{validation}<h2>Drift that started the chain</h2>{drift}<h2>Trace</h2>{trace}",
        who = esc(&who.subject),
        model = esc(&p.model),
        champion = esc(&champion),
        cand = esc(&p.candidate_version),
        state = state.as_str(),
    );
    Html(page(&format!("Promotion {}", p.id), &body)).into_response()
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

pub(super) async fn decide(
    app: App,
    id: String,
    headers: HeaderMap,
    form: DecisionForm,
    approve: bool,
) -> Response {
    let (who, session) = match approver(&app, &headers).await {
        Ok(a) => a,
        Err(why) => return sign_in_page(&app, Some(&why), StatusCode::UNAUTHORIZED),
    };
    if !csrf_ok(&app, &session, &form.csrf) {
        trace_session(
            &app,
            &who.subject,
            "approvals.csrf",
            Outcome::Refused,
            format!(
                "a decision on {} without the form's CSRF token",
                id.chars().take(64).collect::<String>()
            ),
        )
        .await;
        return refused(
            "the form's CSRF token is missing or wrong; open the request page again and use its buttons",
            StatusCode::FORBIDDEN,
        );
    }
    let decision = if approve {
        Decision::Approve {
            note: form.note.filter(|n| !n.trim().is_empty()),
        }
    } else {
        Decision::Deny {
            reason: form.reason.unwrap_or_default(),
        }
    };
    match crate::decisions::decide_promotion(&app, &who, &id, &decision).await {
        Ok(_) => Redirect::to(&format!("/approvals/{id}")).into_response(),
        Err(ApprovalError::Store(e)) => refused(
            &format!("the store failed: {e}"),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        Err(e) => refused(&e.to_string(), StatusCode::FORBIDDEN),
    }
}

pub(super) async fn approve(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    decide(app, id, headers, form, true).await
}

pub(super) async fn deny(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    decide(app, id, headers, form, false).await
}
