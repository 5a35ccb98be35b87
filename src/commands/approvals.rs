//! `mlops-mcp approvals list|show|approve|deny`: the command-line approval channel. The approver
//! is the principal of a verified token (`--token` or `MLOPS_MCP_TOKEN`); deciding needs
//! `promotion:approve`, and the server's rules hold here as everywhere (not your own request,
//! first decision wins, not after expiry, evidence re-checked before the champion moves).
//! Every decision and every refused attempt is traced in the request's trace.

use std::path::PathBuf;
use std::process::ExitCode;

use mlops_auth::Principal;
use mlops_engine::promotion::{Decision, Promotion, PromotionState};
use mlops_engine::promotion_gate::ApprovalError;

use crate::app::App;
use crate::cli::{ApprovalsArgs, ApprovalsCommand};
use crate::commands::CommandError;
use crate::config::Config;

async fn approver(app: &App, token: Option<&str>) -> Result<Principal, CommandError> {
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
        CommandError::Input(
            "approvals need your token: pass --token or set MLOPS_MCP_TOKEN (an operator issues one with `mlops-mcp token issue --sub NAME --scopes promotion:approve,models:read`)".into(),
        )
    })?;
    if !app.verifier().is_configured() {
        return Err(CommandError::Input(
            "no token can be verified: configure auth.hs256_secret or auth.jwks_url".into(),
        ));
    }
    let mut principal = app
        .verifier()
        .verify(token)
        .await
        .map_err(|e| CommandError::Input(format!("the token is not accepted: {e}")))?;
    principal.via = "cli".into();
    Ok(principal)
}

fn line(p: &Promotion) -> String {
    format!(
        "{:<36}  {:<20}  {:<6}  {:<18}  {:<16}  {}",
        p.id,
        p.model,
        p.candidate_version,
        p.effective_state(chrono::Utc::now()).as_str(),
        p.expires_at.format("%Y-%m-%d %H:%M"),
        p.requested_by
    )
}

pub async fn run(
    config_path: Option<PathBuf>,
    args: ApprovalsArgs,
) -> Result<ExitCode, CommandError> {
    let config = Config::load(config_path.as_deref())?;
    let app = App::start(config).await?;
    let who = approver(&app, args.token.as_deref()).await?;
    let store = app.store();
    match args.command {
        ApprovalsCommand::List { all } => {
            let state = (!all).then_some(PromotionState::PendingApproval);
            let now = chrono::Utc::now();
            let items: Vec<Promotion> = store
                .list_promotions(state, 200)
                .await
                .map_err(anyhow::Error::from)?
                .into_iter()
                .filter(|p| who.may_access_model(&p.model))
                .filter(|p| all || p.effective_state(now) == PromotionState::PendingApproval)
                .collect();
            if items.is_empty() {
                println!("no {}promotion requests", if all { "" } else { "pending " });
            } else {
                println!(
                    "{:<36}  {:<20}  {:<6}  {:<18}  {:<16}  requested by",
                    "id", "model", "cand.", "state", "expires (UTC)"
                );
                for p in &items {
                    super::print_safely(&line(p));
                }
            }
        }
        ApprovalsCommand::Show { id } => {
            let p = store
                .promotion(&id)
                .await
                .map_err(anyhow::Error::from)?
                .filter(|p| who.may_access_model(&p.model))
                .ok_or_else(|| {
                    CommandError::Input(format!("promotion request `{id}` is not known"))
                })?;
            let resource = mlops_resources::read(store, &who, &format!("mlops://promotions/{id}"))
                .await
                .map_err(|e| CommandError::Input(e.to_string()))?;
            super::print_safely(&resource.markdown);
            if let Some(v) = store
                .validation(&p.validation_id)
                .await
                .map_err(anyhow::Error::from)?
            {
                super::print_safely(&v.report);
            }
            if let Some(t) = &p.trace_id {
                println!("Trace: mlops://traces/{t} (`mlops-mcp traces` to verify the chain)");
            }
        }
        ApprovalsCommand::Approve { id, note } => {
            return decide(&app, &who, &id, Decision::Approve { note }).await;
        }
        ApprovalsCommand::Deny { id, reason } => {
            return decide(&app, &who, &id, Decision::Deny { reason }).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn decide(
    app: &App,
    who: &Principal,
    id: &str,
    decision: Decision,
) -> Result<ExitCode, CommandError> {
    match crate::decisions::decide_promotion(app, who, id, &decision).await {
        Ok(view) => {
            let p = &view.promotion;
            match p.state {
                PromotionState::Promoted => {
                    println!(
                        "approved: {} is now the champion of {}",
                        p.candidate_version, p.model
                    );
                    Ok(ExitCode::SUCCESS)
                }
                PromotionState::Failed => {
                    eprintln!(
                        "approved, but the promotion failed and nothing moved: {}",
                        mlops_engine::untrusted::strip_controls(
                            p.failure_reason.as_deref().unwrap_or("unknown reason")
                        )
                    );
                    Ok(ExitCode::FAILURE)
                }
                _ => {
                    println!("denied: request {} is {}", p.id, p.state.as_str());
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Err(ApprovalError::Store(e)) => Err(CommandError::Other(e.into())),
        Err(refusal) => Err(CommandError::Input(format!("refused: {refusal}"))),
    }
}
