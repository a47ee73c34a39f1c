//! Liveness, readiness, and the Prometheus endpoint (on its own listener).

use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// 200 while the process runs.
#[utoipa::path(operation_id = "healthz", tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Dependency {
    /// `up`, `down`, or `disabled` (Redis not configured).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when PostgreSQL answers (Redis is optional: the service degrades without it).
    pub status: &'static str,
    pub postgres: Dependency,
    pub redis: Dependency,
    /// PostgreSQL read replicas (`DATABASE_REPLICA_URLS`); empty without them. A replica that
    /// is down or lagging only sends reads to the primary: it never makes the service unready.
    pub replicas: Vec<ReplicaStatus>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplicaStatus {
    /// `host:port/database`.
    pub name: String,
    /// `up` while reads may use it, `down` while they skip it.
    pub status: &'static str,
    /// WAL bytes the primary has written that the replica has not replayed.
    pub lag_bytes: u64,
}

async fn check_postgres(state: &AppState) -> Dependency {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(2), async {
        let mut conn = state.pool.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    match result {
        Ok(Ok(_)) => Dependency {
            status: "up",
            latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
            error: None,
        },
        Ok(Err(e)) => Dependency {
            status: "down",
            latency_ms: None,
            error: Some(sanitize(&e)),
        },
        Err(_) => Dependency {
            status: "down",
            latency_ms: None,
            error: Some("timed out".to_owned()),
        },
    }
}

/// Connection errors can quote the URL; keep only the first line and no credentials.
fn sanitize(e: &str) -> String {
    let line = e.lines().next().unwrap_or("error");
    if line.contains("://") {
        "connection failed".to_owned()
    } else {
        line.chars().take(200).collect()
    }
}

/// 200 when PostgreSQL answers, 503 (with `Retry-After`) when it does not; Redis is reported.
#[utoipa::path(operation_id = "readyz", tag = "operations", responses(
    (status = 200, body = Readiness),
    (status = 503, body = Readiness, description = "PostgreSQL is down")
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let redis = async {
        match &state.redis {
            None => Dependency {
                status: "disabled",
                latency_ms: None,
                error: None,
            },
            Some(r) => match r.ping().await {
                Ok(d) => Dependency {
                    status: "up",
                    latency_ms: Some(d.as_secs_f64() * 1000.0),
                    error: None,
                },
                Err(e) => Dependency {
                    status: "down",
                    latency_ms: None,
                    error: Some(sanitize(&e)),
                },
            },
        }
    };
    let (postgres, redis) = tokio::join!(check_postgres(&state), redis);
    let ready = postgres.status == "up";
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        postgres,
        redis,
        replicas: state
            .reads
            .status()
            .into_iter()
            .map(|(name, up, lag_bytes)| ReplicaStatus {
                name,
                status: if up { "up" } else { "down" },
                lag_bytes,
            })
            .collect(),
    };
    let mut resp = if ready {
        HttpResponse::Ok()
    } else {
        let mut r = HttpResponse::ServiceUnavailable();
        r.insert_header((header::RETRY_AFTER, "5"));
        r
    };
    resp.insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Prometheus text: request counts and latency by route, the scan page's histogram, page
/// cache lookups, scans. Served only on the metrics listener (`METRICS_BIND`).
#[get("/metrics")]
pub async fn metrics(registry: web::Data<prometheus::Registry>) -> HttpResponse {
    let mut text = String::new();
    match prometheus::TextEncoder::new().encode_utf8(&registry.gather(), &mut text) {
        Ok(()) => HttpResponse::Ok()
            .content_type(prometheus::TEXT_FORMAT)
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}
