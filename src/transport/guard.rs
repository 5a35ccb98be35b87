//! HTTP: answers a POST to `/mcp` whose body is not a JSON-RPC message with 400 and a JSON-RPC
//! error, before it reaches rmcp (which would answer 415 with plain text).

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};

use super::jsonrpc;

pub async fn check_jsonrpc(limit: usize, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            let message = format!("the request body is larger than {limit} bytes");
            return (StatusCode::PAYLOAD_TOO_LARGE, message).into_response();
        }
    };
    if let Err(error) = jsonrpc::check(&bytes) {
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
