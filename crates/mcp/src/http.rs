//! The server over MCP's streamable HTTP transport (`cordon mcp --http`):
//! rmcp's [`StreamableHttpService`] at [`ENDPOINT`], behind a bearer-token
//! check, on connections served by hyper.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use cordon_exec::ExecSessions;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::ExecServer;

/// The path MCP is served at.
pub const ENDPOINT: &str = "/mcp";

/// How the HTTP server admits requests.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Every request must carry `Authorization: Bearer TOKEN`; others get
    /// 401. Required of a server that other machines can reach.
    pub bearer_token: Option<String>,
    /// Accept any `Host` header. Otherwise only loopback names and
    /// addresses are, so that a web page cannot reach a local server
    /// through a DNS name it rebinds to 127.0.0.1. A request from a page
    /// (one with an `Origin` header) is refused either way.
    pub any_host: bool,
}

type Body = BoxBody<Bytes, Infallible>;

/// Serves `sessions` over streamable HTTP on `listener` until `shutdown`
/// completes, then kills every session and waits for their trees to be
/// reported dead.
///
/// Both revisions of the transport are served: a client of the current one
/// (2026-07-28) sends each request on its own, and its sessions live until
/// the server stops; a client of an older one opens an HTTP session with
/// `initialize`, and the exec sessions it started are killed when that
/// session ends (the client's `DELETE`).
pub async fn serve_http(
    sessions: ExecSessions,
    listener: TcpListener,
    options: HttpOptions,
    shutdown: impl Future<Output = ()>,
) {
    let sessions = Arc::new(sessions);
    let stop = CancellationToken::new();
    // No browser page is a client: a request with an `Origin` is refused,
    // so that no page can drive the server (an agent sends none).
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(stop.child_token())
        .enforce_origin_validation();
    if options.any_host {
        config = config.disable_allowed_hosts();
    }
    let factory_sessions = sessions.clone();
    let service = StreamableHttpService::new(
        move || Ok(ExecServer::session_scoped(factory_sessions.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let token: Arc<Option<String>> = Arc::new(options.bearer_token);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors, or a connection reset before it
                // was accepted: the listener itself is still good, so
                // wait a little (descriptors may free) and go on.
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tracing::debug!(%peer, "HTTP connection");
        let service = service.clone();
        let token = token.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let handler = hyper::service::service_fn(move |request| {
                let service = service.clone();
                let token = token.clone();
                async move { Ok::<_, Infallible>(route(&service, token.as_deref(), request).await) }
            });
            let connection =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), handler);
            tokio::select! {
                served = connection => if let Err(err) = served {
                    tracing::debug!(%peer, error = %err, "HTTP connection ended");
                },
                () = stop.cancelled() => {}
            }
        });
        // Reap the connections that ended, so the set stays small.
        while connections.try_join_next().is_some() {}
    }
    tracing::debug!("HTTP server stopping; ending every session");
    stop.cancel();
    connections.shutdown().await;
    sessions.shutdown().await;
}

async fn route(
    service: &StreamableHttpService<ExecServer, LocalSessionManager>,
    token: Option<&str>,
    request: Request<Incoming>,
) -> Response<Body> {
    if request.uri().path() != ENDPOINT {
        return plain(StatusCode::NOT_FOUND, format!("cordon serves MCP at {ENDPOINT}\n"));
    }
    if let Some(token) = token
        && !bearer_matches(request.headers().get(header::AUTHORIZATION), token)
    {
        let mut response = plain(StatusCode::UNAUTHORIZED, "a bearer token is required\n".into());
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return response;
    }
    service.handle(request).await
}

fn plain(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text)).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain"));
    response
}

/// Whether `Authorization` is `Bearer TOKEN`, compared in time that does not
/// depend on where the two first differ.
fn bearer_matches(value: Option<&header::HeaderValue>, token: &str) -> bool {
    let Some(given) = value.and_then(|v| v.as_bytes().strip_prefix(b"Bearer ")) else {
        return false;
    };
    let expected = token.as_bytes();
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> header::HeaderValue {
        header::HeaderValue::from_str(value).unwrap()
    }

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let token = "s3cret-token-of-some-length";
        assert!(bearer_matches(Some(&header(&format!("Bearer {token}"))), token));
        assert!(!bearer_matches(None, token));
        assert!(!bearer_matches(Some(&header(token)), token));
        assert!(!bearer_matches(Some(&header(&format!("Basic {token}"))), token));
        assert!(!bearer_matches(Some(&header(&format!("Bearer {token}x"))), token));
        assert!(!bearer_matches(Some(&header("Bearer s3cret")), token));
        assert!(!bearer_matches(Some(&header(&format!("Bearer {}", token.to_uppercase()))), token));
        assert!(!bearer_matches(Some(&header("Bearer ")), token));
    }
}
