//! Tracing subscriber: text for people, JSON for log shippers; `RUST_LOG` filters.

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A line per request comes from `log_requests`.
    let builder = fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_writer(std::io::stderr);
    // `try_init` so that tests (which may build several apps) do not panic.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// One log line per request: method, route pattern, path, status, latency. Costs nothing when
/// the `yidianyima::request` target is filtered out (e.g. `RUST_LOG=warn`): the scan page's hot
/// path must stay close to serving bytes from memory, and a span per request (as
/// tracing-actix-web makes) cost ~30 % of its throughput even with logging off.
pub async fn log_requests(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if !tracing::enabled!(target: "yidianyima::request", tracing::Level::INFO) {
        return next.call(req).await;
    }
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let route = req.match_pattern();
    let res = next.call(req).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &res {
        Ok(r) => tracing::info!(
            target: "yidianyima::request",
            %method,
            route = route.as_deref().unwrap_or("-"),
            path,
            status = r.status().as_u16(),
            elapsed_ms,
            "request"
        ),
        Err(e) => tracing::info!(
            target: "yidianyima::request",
            %method,
            route = route.as_deref().unwrap_or("-"),
            path,
            error = %e,
            elapsed_ms,
            "request failed"
        ),
    }
    res
}
