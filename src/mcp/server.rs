//! The `ServerHandler`: identity, authorization and tracing around rmcp's routing.

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use mlops_auth::{AuthzError, Principal, scopes};
use mlops_engine::trace::{NewTraceEvent, Outcome, may_continue};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, MetaObject,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use super::{prompts, resources, schema, subscriptions};
use crate::app::App;
use crate::metrics::Refusal;

/// `_meta` key carrying the trace id of a call, in results and (optionally) in requests that
/// continue an existing trace.
pub const TRACE_META_KEY: &str = "io.mlops-mcp/traceId";

/// The trace id of the tool call being served (tools that record their own decisions join it).
#[derive(Debug, Clone)]
pub struct TraceId(pub String);

static ROUTER: LazyLock<Arc<ToolRouter<McpServer>>> = LazyLock::new(|| {
    let mut router = McpServer::tool_router();
    for route in router.map.values_mut() {
        let tool = &mut route.attr;
        schema::compact(Arc::make_mut(&mut tool.input_schema), schema::Role::Input);
        if let Some(output) = tool.output_schema.as_mut() {
            schema::compact(Arc::make_mut(output), schema::Role::Output);
        }
    }
    Arc::new(router)
});

/// One handler per stdio process or per HTTP request; cheap to create.
#[derive(Clone)]
pub struct McpServer {
    pub(crate) app: App,
    router: Arc<ToolRouter<McpServer>>,
    /// Set for stdio; over HTTP the principal comes from the verified token on each request.
    stdio_principal: Option<Principal>,
    /// Legacy `resources/subscribe` state (stdio sessions only).
    legacy_subscriptions: Arc<subscriptions::Legacy>,
}

impl McpServer {
    /// A handler for HTTP requests, which carry their principal.
    pub fn for_http(app: App) -> Self {
        Self {
            app,
            router: ROUTER.clone(),
            stdio_principal: None,
            legacy_subscriptions: Arc::default(),
        }
    }

    /// A handler for a stdio client, which is `principal` for its whole life.
    pub fn for_stdio(app: App, principal: Principal) -> Self {
        Self {
            app,
            router: ROUTER.clone(),
            stdio_principal: Some(principal),
            legacy_subscriptions: Arc::default(),
        }
    }

    /// Names of every registered tool (checked against the policy table at start-up).
    pub fn tool_names() -> Vec<String> {
        ROUTER
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    /// Every tool definition, unfiltered (for documentation and checks).
    pub fn all_tools() -> Vec<Tool> {
        ROUTER.list_all()
    }

    fn principal(&self, ctx: &RequestContext<RoleServer>) -> Option<Principal> {
        if let Some(p) = &self.stdio_principal {
            return Some(p.clone());
        }
        ctx.extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .cloned()
    }

    fn require_principal(&self, ctx: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
        self.principal(ctx)
            .ok_or_else(|| ErrorData::invalid_request("unauthenticated request", None))
    }

    /// The caller of a read other than a tool (resources, prompts, listen), counted against its
    /// read quota like a read tool; a refusal is traced and counted.
    async fn read_within_quota(
        &self,
        ctx: &RequestContext<RoleServer>,
        action: &str,
        needs_models_read: bool,
    ) -> Result<Principal, ErrorData> {
        let principal = if needs_models_read {
            self.require_read(ctx)?
        } else {
            self.require_principal(ctx)?
        };
        if let Err(quota) = self
            .app
            .limits()
            .check(&principal.subject, mlops_auth::ToolClass::Read)
        {
            let message = quota.to_string();
            self.app.metrics().refused(Refusal::Quota, None);
            self.app
                .trace(NewTraceEvent::new(
                    uuid::Uuid::new_v4().to_string(),
                    &principal.subject,
                    action,
                    &Value::Object(Default::default()),
                    Outcome::Refused,
                    message.clone(),
                    0,
                ))
                .await;
            return Err(ErrorData::invalid_request(message, None));
        }
        Ok(principal)
    }

    fn require_read(&self, ctx: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
        let principal = self.require_principal(ctx)?;
        if principal.has_scope(scopes::MODELS_READ) {
            Ok(principal)
        } else {
            Err(ErrorData::invalid_request(
                format!(
                    "reading resources requires the scope `{}`",
                    scopes::MODELS_READ
                ),
                None,
            ))
        }
    }
}

/// The trace a call belongs to: the one named in `_meta` if the caller may continue it
/// ([`may_continue`]), else a new one.
async fn trace_id_from(
    app: &App,
    ctx: &RequestContext<RoleServer>,
    principal: &Principal,
) -> String {
    let asked = ctx
        .meta
        .get(TRACE_META_KEY)
        .and_then(Value::as_str)
        .filter(|id| uuid::Uuid::parse_str(id).is_ok());
    if let Some(id) = asked {
        match app.store().trace(id).await {
            Ok(events) if may_continue(&events, principal) => return id.to_owned(),
            Ok(_) => {
                tracing::info!(trace = id, who = %principal.subject, "not continuing a trace the caller may not see")
            }
            Err(error) => tracing::warn!(%error, "trace lookup failed; starting a new trace"),
        }
    }
    uuid::Uuid::new_v4().to_string()
}

fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// "name (string, required), …" from a tool's input schema, to make argument errors actionable.
fn argument_summary(tool: &Tool) -> String {
    let required: Vec<&str> = tool
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
    else {
        return "no arguments".into();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let kind = match schema.get("type") {
                Some(Value::String(t)) => t.clone(),
                Some(Value::Array(ts)) => ts
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|t| *t != "null")
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => "see schema".into(),
            };
            let need = if required.contains(&name.as_str()) {
                "required"
            } else {
                "optional"
            };
            format!("{name} ({kind}, {need})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds the expected arguments to rmcp's argument-deserialization error.
fn explain_bad_arguments(mut result: CallToolResult, tool: &Tool) -> CallToolResult {
    let text = text_of(&result);
    if result.is_error == Some(true) && text.starts_with("failed to deserialize parameters") {
        let message = format!(
            "invalid arguments for `{}`: {}. Expected arguments: {}. Fix them and call again.",
            tool.name,
            text.trim_start_matches("failed to deserialize parameters: "),
            argument_summary(tool)
        );
        result.content = vec![ContentBlock::text(message)];
    }
    result
}

/// Replaces a result larger than `max` bytes with an error that says how to ask for less.
fn cap_size(result: CallToolResult, max: usize) -> CallToolResult {
    let size = serde_json::to_vec(&result).map_or(usize::MAX, |v| v.len());
    if size <= max {
        return result;
    }
    CallToolResult::error(vec![ContentBlock::text(format!(
        "the result is {size} bytes, more than this server returns ({max} bytes, limits.max_result_bytes); \
         narrow the request (e.g. filter by name) and call again"
    ))])
}

fn micros(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX)
}

fn with_trace_meta(mut result: CallToolResult, trace_id: &str) -> CallToolResult {
    let mut meta = result
        .meta
        .take()
        .unwrap_or_else(|| MetaObject(Default::default()));
    meta.0
        .insert(TRACE_META_KEY.into(), Value::String(trace_id.into()));
    result.meta = Some(meta);
    result
}

impl McpServer {
    async fn read_capped(
        &self,
        principal: &Principal,
        uri: &str,
    ) -> Result<rmcp::model::ReadResourceResult, ErrorData> {
        let result = resources::read(&self.app, principal, uri).await?;
        let size = serde_json::to_vec(&result).map_or(usize::MAX, |v| v.len());
        let max = self.app.config().limits.max_result_bytes;
        if size > max {
            return Err(ErrorData::invalid_request(
                format!(
                    "the resource is {size} bytes, more than this server returns ({max} bytes, limits.max_result_bytes)"
                ),
                None,
            ));
        }
        Ok(result)
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .build(),
        )
        .with_server_info(
            Implementation::new("mlops-mcp", env!("CARGO_PKG_VERSION")).with_title("mlops-mcp"),
        )
        .with_instructions(
            "Operate production ML models: list_models to start (needs_attention: true for a \
             fleet, most urgent first), then follow the monitor_model prompt (drift → retrain → \
             validate → request promotion) or triage_fleet for many models. Monitored models \
             raise alerts: subscribe to mlops://alerts instead of polling. Promotions need a \
             human's approval; no tool can approve. Every call is traced; the trace id is in \
             each result's _meta.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let principal = self.require_principal(&ctx)?;
        let tools = self
            .router
            .list_all()
            .into_iter()
            .filter(|t| self.app.policy().authorize(&principal, &t.name).is_ok())
            .collect();
        // The list depends on the caller's scopes.
        Ok(ListToolsResult::with_all_items(tools)
            .with_cache_scope(CacheScope::Private)
            .with_ttl_ms(0))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.router.get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let tool = request.name.to_string();
        let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
        let principal = self.require_principal(&ctx)?;
        let trace_id = trace_id_from(&self.app, &ctx, &principal).await;
        let who = principal.subject.clone();
        let trace = |outcome, rationale: String| {
            NewTraceEvent::new(
                &trace_id,
                &who,
                &tool,
                &arguments,
                outcome,
                rationale,
                micros(started),
            )
        };

        let definition = self.router.get(&tool).cloned();
        let unknown =
            format!("unknown tool `{tool}`; call tools/list to see the tools you may call");
        // Tools with a policy entry are authorized and counted against the caller's quota even
        // before this server ships them, so a caller cannot probe the quota-free path.
        let refusal = match (self.app.policy().authorize(&principal, &tool), &definition) {
            (Err(AuthzError::NoPolicy(_)), None) => {
                self.app
                    .trace(trace(Outcome::Refused, unknown.clone()))
                    .await;
                self.app
                    .metrics()
                    .tool_call(&tool, false, started.elapsed().as_secs_f64());
                return Err(ErrorData::invalid_params(unknown, None));
            }
            (Err(refusal), _) => Some((Refusal::Scope, refusal.to_string())),
            (Ok(policy), _) => self
                .app
                .limits()
                .check(&principal.subject, policy.class)
                .err()
                .map(|q| (Refusal::Quota, q.to_string())),
        };
        if let Some((kind, message)) = refusal {
            self.app.metrics().refused(kind, Some(&tool));
            self.app
                .trace(trace(Outcome::Refused, message.clone()))
                .await;
            let result = CallToolResult::error(vec![ContentBlock::text(message)]);
            return Ok(with_trace_meta(result, &trace_id).into());
        }
        let Some(definition) = definition else {
            let message = format!(
                "`{tool}` is not available on this server yet; call tools/list to see the tools you may call"
            );
            self.app.trace(trace(Outcome::Error, message.clone())).await;
            return Err(ErrorData::invalid_params(message, None));
        };

        ctx.extensions.insert(principal.clone());
        ctx.extensions.insert(TraceId(trace_id.clone()));
        let response = self
            .router
            .call(ToolCallContext::new(self, request, ctx))
            .await;
        match response {
            Ok(CallToolResponse::Complete(result)) => {
                let result = cap_size(
                    explain_bad_arguments(result, &definition),
                    self.app.config().limits.max_result_bytes,
                );
                let failed = result.is_error == Some(true);
                self.app
                    .metrics()
                    .tool_call(&tool, !failed, started.elapsed().as_secs_f64());
                let (outcome, rationale) = if failed {
                    (Outcome::Error, text_of(&result))
                } else {
                    (Outcome::Ok, "completed".to_owned())
                };
                self.app.trace(trace(outcome, rationale)).await;
                Ok(with_trace_meta(result, &trace_id).into())
            }
            Ok(other) => {
                self.app
                    .metrics()
                    .tool_call(&tool, true, started.elapsed().as_secs_f64());
                self.app
                    .trace(trace(Outcome::Ok, "returned a non-final response".into()))
                    .await;
                Ok(other)
            }
            Err(error) => {
                self.app
                    .metrics()
                    .tool_call(&tool, false, started.elapsed().as_secs_f64());
                self.app
                    .trace(trace(Outcome::Error, error.message.to_string()))
                    .await;
                Err(error)
            }
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let principal = self.read_within_quota(&ctx, "resources/list", true).await?;
        let items = resources::list(&self.app, &principal).await?;
        Ok(ListResourcesResult::with_all_items(items)
            .with_cache_scope(CacheScope::Private)
            .with_ttl_ms(0))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(
            ListResourceTemplatesResult::with_all_items(resources::templates())
                .with_cache_scope(CacheScope::Public)
                .with_ttl_ms(60_000),
        )
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let started = Instant::now();
        let principal = self.read_within_quota(&ctx, "resources/read", true).await?;
        let result = self.read_capped(&principal, &request.uri).await;
        // Reads are traced like tool calls: who looked at what, and whether it was refused.
        let (outcome, rationale) = match &result {
            Ok(_) => (Outcome::Ok, "completed".to_owned()),
            Err(e) => (Outcome::Refused, e.message.to_string()),
        };
        let arguments = serde_json::json!({ "uri": request.uri });
        let event = NewTraceEvent::new(
            trace_id_from(&self.app, &ctx, &principal).await,
            &principal.subject,
            "resources/read",
            &arguments,
            outcome,
            rationale,
            micros(started),
        );
        self.app.trace(event).await;
        Ok(result?
            .with_cache_scope(CacheScope::Private)
            .with_ttl_ms(0)
            .into())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(subscriptions::accepted(requested))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let principal = self
            .read_within_quota(context.request_context(), "subscriptions/listen", true)
            .await?;
        subscriptions::listen(&self.app, principal, context).await
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let principal = self
            .read_within_quota(&ctx, "resources/subscribe", true)
            .await?;
        if self.stdio_principal.is_none() {
            return Err(ErrorData::invalid_request(
                "resources/subscribe needs a session, which this stateless HTTP server does not keep; \
                 use subscriptions/listen (protocol 2026-07-28), or call get_job with wait_seconds",
                None,
            ));
        }
        if !subscriptions::watchable(&request.uri) {
            return Err(ErrorData::invalid_params(
                format!(
                    "`{}` cannot be subscribed to; this server notifies about mlops://jobs/{{id}}, \
                     mlops://alerts and mlops://alerts/{{id}}",
                    request.uri
                ),
                None,
            ));
        }
        self.legacy_subscriptions
            .subscribe(&self.app, &principal, ctx.peer.clone(), request.uri)
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.legacy_subscriptions.unsubscribe(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        self.read_within_quota(&ctx, "prompts/list", false).await?;
        Ok(ListPromptsResult::with_all_items(prompts::list())
            .with_cache_scope(CacheScope::Public)
            .with_ttl_ms(60_000))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        self.read_within_quota(&ctx, "prompts/get", false).await?;
        if request.name == prompts::TRIAGE_FLEET {
            return Ok(prompts::triage_fleet().into());
        }
        if request.name != prompts::MONITOR_MODEL {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown prompt `{}`; this server has `{}` and `{}`",
                    request.name,
                    prompts::MONITOR_MODEL,
                    prompts::TRIAGE_FLEET
                ),
                None,
            ));
        }
        let model = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("model"))
            .and_then(Value::as_str)
            .filter(|m| mlops_engine::model::is_valid_name(m))
            .ok_or_else(|| {
                ErrorData::invalid_params(
                    "the prompt needs the argument `model`: a model name from list_models",
                    None,
                )
            })?;
        Ok(prompts::monitor_model(model).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_tool_has_a_policy_entry() {
        let names = McpServer::tool_names();
        assert!(names.contains(&"list_models".to_owned()));
        assert_eq!(
            mlops_auth::PolicyTable::standard().check_covers(names.iter().map(String::as_str)),
            Ok(())
        );
    }

    #[test]
    fn every_tool_declares_an_output_schema_and_annotations() {
        for tool in McpServer::all_tools() {
            assert!(tool.output_schema.is_some(), "{}", tool.name);
            assert!(tool.annotations.is_some(), "{}", tool.name);
            assert!(
                tool.description.as_deref().is_some_and(|d| d.len() > 40),
                "{}",
                tool.name
            );
        }
    }
}
