//! Builds the HTTP application: routes, middleware, error mapping, OpenAPI. Binds first, so
//! that tests can ask for port 0 and learn the port.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::dev::{Server, Service};
use actix_web::middleware::ErrorHandlers;
use actix_web::{guard, web, App, HttpServer};
use actix_web_prom::PrometheusMetricsBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Settings;
use crate::error::{self, Problem};
use crate::pages;
use crate::routes::{api, ops, public};
use crate::state::AppState;

/// Seconds in-flight requests have to finish after SIGTERM (before the scan counts are flushed).
pub const SHUTDOWN_GRACE_SECS: u64 = 6;

/// After SIGTERM (or SIGINT) the service goes on serving for this long, every answer with
/// `Connection: close`, before it stops accepting: a client that sent a request on a kept-alive
/// connection just as the signal came gets its answer and then closes, instead of finding the
/// connection closed under it (at the peak mix, 21 requests sent before the signal got no
/// answer when the stop closed idle connections at once).
pub const SHUTDOWN_DRAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// JSON bodies: 1 MiB (uploads get their own, larger limit).
pub const JSON_LIMIT: usize = 1 << 20;
/// HTML forms: a 2,000-character complaint percent-encoded is ~18 KB.
pub const FORM_LIMIT: usize = 64 * 1024;
/// Any body: 20 MiB (photo uploads).
pub const PAYLOAD_LIMIT: usize = 20 << 20;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "yidianyima 一店一码 API",
        description = "Merchant credit QR platform of a market-supervision bureau. Errors are \
                       application/problem+json (RFC 9457) with `code` and, for validation, `errors`.",
    ),
    modifiers(&BearerAuth),
    components(schemas(Problem))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// The Prometheus listener's port and its server (stopped with the main one).
    metrics: Option<(u16, actix_web::dev::ServerHandle)>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot bind {}: {e}", settings.bind))?;
        let metrics_listener = match &settings.metrics_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .map_err(|e| anyhow::anyhow!("cannot bind METRICS_BIND {addr}: {e}"))?,
            ),
            None => None,
        };
        let state = web::Data::new(AppState::new(settings)?);
        state.pages.spawn_listener();
        state
            .reads
            .spawn_monitor(state.settings.database_url.expose().to_owned());
        state.scans.spawn_flusher(state.pool.clone());
        crate::db::metrics::spawn_sampler(state.pool.clone());
        crate::jobs::spawn_grade_refresher(state.clone());
        Self::with_listeners(state, listener, metrics_listener)
    }

    /// The application on `listener`, and Prometheus's `/metrics` on `metrics_listener` (not
    /// on the public listener, where it answers 404).
    pub fn with_listeners(
        state: web::Data<AppState>,
        listener: TcpListener,
        metrics_listener: Option<TcpListener>,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        // No `.endpoint(..)`: the middleware only records; the metrics listener serves.
        let prometheus = PrometheusMetricsBuilder::new("yidianyima")
            .exclude_regex("^/swagger-ui")
            .mask_unmatched_patterns("UNMATCHED")
            .build()
            .map_err(|e| anyhow::anyhow!("metrics setup failed: {e}"))?;
        // Cache hits and misses next to the request metrics (a second app in one process, as
        // in tests, finds the counter registered: fine).
        let _ = prometheus
            .registry
            .register(Box::new(crate::cache::pages::metrics::LOOKUPS.clone()));
        let _ = prometheus
            .registry
            .register(Box::new(crate::cache::scans::metric()));
        let _ = prometheus.registry.register(Box::new(
            crate::cache::pages::metrics::SCAN_PAGE_SECONDS.clone(),
        ));
        let _ = prometheus
            .registry
            .register(Box::new(crate::cache::pages::metrics::BYTES.clone()));
        let _ = prometheus
            .registry
            .register(Box::new(crate::db::metrics::POOL.clone()));
        let _ = prometheus
            .registry
            .register(Box::new(crate::db::metrics::TIMEOUTS.clone()));
        let _ = prometheus
            .registry
            .register(Box::new(crate::db::replicas::READS.clone()));
        let _ = prometheus
            .registry
            .register(Box::new(crate::db::replicas::LAG.clone()));
        let _ = prometheus
            .registry
            .register(Box::new(crate::db::replicas::UP.clone()));
        let metrics = match metrics_listener {
            Some(l) => {
                let metrics_port = l.local_addr()?.port();
                let registry = web::Data::new(prometheus.registry.clone());
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(registry.clone())
                        .service(ops::metrics)
                        .default_service(web::to(actix_web::HttpResponse::NotFound))
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(1)
                .listen(l)?
                .run();
                let handle = server.handle();
                tokio::spawn(server);
                Some((metrics_port, handle))
            }
            None => None,
        };
        let workers = state.settings.workers;
        let app_state = state.clone();
        let draining = Arc::new(AtomicBool::new(false));
        let draining_flag = draining.clone();
        let server = HttpServer::new(move || {
            let draining = draining_flag.clone();
            let (app, api) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(app_state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(JSON_LIMIT)
                        .error_handler(error::json_error),
                )
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .app_data(web::PayloadConfig::new(PAYLOAD_LIMIT))
                .app_data(web::FormConfig::default().limit(FORM_LIMIT))
                // The scan page is outside the middlewares (request metrics, problem+json for
                // actix's own errors, the request log): together they cost ~10 % of the hot
                // cached page's throughput. It times and logs itself
                // (yidianyima_scan_page_seconds, yidianyima_page_cache_total), its errors are
                // its own pages, and a wrong method falls through to `no_route` (405 problem).
                .service(public::shop_page)
                .service(
                    scope::scope("")
                        // Swagger UI and the spec are registered after this scope (they need
                        // the collected spec), and so is the console (HTML, not in the spec):
                        // let them through.
                        .guard(guard::fn_guard(|ctx| {
                            let p = ctx.head().uri.path();
                            !p.starts_with("/swagger-ui")
                                && p != "/openapi.json"
                                && p != "/console"
                                && !p.starts_with("/console/")
                        }))
                        // Innermost: security headers and compression of HTML pages.
                        .wrap(actix_web::middleware::from_fn(
                            crate::pages::security::html_pages,
                        ))
                        .wrap(actix_web::middleware::from_fn(
                            crate::routes::edge::refuse_control_chars,
                        ))
                        .wrap(prometheus.clone())
                        .wrap(ErrorHandlers::new().default_handler(error::problemize))
                        .wrap(actix_web::middleware::from_fn(
                            crate::telemetry::log_requests,
                        ))
                        .service(pages::index)
                        .service(pages::favicon)
                        .service(ops::healthz)
                        .service(ops::readyz)
                        .service(crate::routes::complaint_pages::complaint_form)
                        .service(crate::routes::complaint_pages::complaint_submit)
                        .service(crate::routes::complaint_pages::track_form)
                        .service(crate::routes::complaint_pages::track_lookup)
                        .service(api::photos::photo_display)
                        .service(api::photos::photo_thumb)
                        .service(
                            scope::scope("/api/v1")
                                .service(api::auth::login)
                                .service(api::auth::me)
                                .service(api::auth::change_password)
                                .service(api::audit::list)
                                .service(api::users::create)
                                .service(api::users::list)
                                .service(api::users::get)
                                .service(api::users::disable)
                                .service(api::users::enable)
                                .service(api::users::reset_password)
                                .service(api::regions::list)
                                // before `/calendar/{year}`, which would otherwise match it
                                .service(api::calendar::add_working_days)
                                .service(api::calendar::get_year)
                                .service(api::calendar::put_year)
                                .service(api::settings::list)
                                .service(api::settings::put)
                                .service(api::merchants::create)
                                .service(api::merchants::list)
                                .service(api::merchants::get)
                                .service(api::merchants::update)
                                .service(api::merchants::list_licences)
                                .service(api::merchants::create_licence)
                                .service(api::merchants::list_inspections)
                                .service(api::merchants::create_inspection)
                                .service(api::merchants::list_credit_records)
                                .service(api::merchants::create_credit_record)
                                .service(api::objections::file)
                                .service(api::objections::of_merchant)
                                .service(api::objections::queue)
                                .service(api::objections::decide)
                                .service(api::objections::add_evidence)
                                .service(api::objections::get_evidence)
                                .service(api::repairs::rules)
                                .service(api::repairs::set_rule)
                                .service(api::repairs::review_deadlines)
                                .service(api::repairs::set_review_deadline)
                                .service(api::repairs::apply)
                                .service(api::repairs::of_merchant)
                                .service(api::repairs::queue)
                                .service(api::repairs::decide)
                                .service(api::repairs::add_evidence)
                                .service(api::replies::list)
                                .service(api::replies::put_reply)
                                .service(api::replies::seen)
                                .service(api::replies::hide)
                                .service(api::photos::upload_photo)
                                .service(api::photos::delete_photo)
                                .service(api::imports::create_import)
                                // the image routes before `/merchants/{id}/qrcode`
                                .service(api::qrcodes::qrcode_png)
                                .service(api::qrcodes::qrcode_svg)
                                .service(api::qrcodes::poster_svg)
                                .service(api::qrcodes::poster_png)
                                .service(api::qrcodes::issue)
                                .service(api::qrcodes::revoke)
                                .service(api::qrcodes::show)
                                .service(api::qrcodes::bulk_issue)
                                .service(api::qrcodes::region_zip)
                                .service(api::qrcodes::scans)
                                .service(public::shop_json)
                                .service(api::complaints::submit)
                                .service(api::complaints::track)
                                .service(api::complaints::confirm)
                                .service(api::complaints::rate)
                                .service(api::complaints::withdraw)
                                .service(api::complaints::list_warnings)
                                .service(api::complaints::list)
                                .service(api::complaints::get)
                                .service(api::complaints::act)
                                .service(api::complaints::create_warning)
                                .service(api::warnings::list)
                                .service(api::warnings::end)
                                // `.csv` and `.xlsx` before the bare route
                                .service(api::stats::stats_csv)
                                .service(api::stats::stats_xlsx)
                                .service(api::stats::stats),
                        ),
                )
                .split_for_parts();
            let api = crate::openapi::finish(api);
            let routes = web::Data::new(crate::openapi::RouteTable::new(&api));
            app.app_data(routes)
                .service(crate::routes::console::scope())
                .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/openapi.json", api))
                .default_service(web::to(error::no_route))
                .wrap(crate::openapi::HeadAsGet)
                .wrap_fn(move |req, srv| {
                    let closing = draining.load(Ordering::Relaxed);
                    let answer = srv.call(req);
                    async move {
                        let mut res = answer.await?;
                        if closing {
                            res.response_mut()
                                .head_mut()
                                .set_connection_type(actix_web::http::ConnectionType::Close);
                        }
                        Ok(res)
                    }
                })
        })
        .workers(workers)
        // Signals are this service's own (below): it drains before it stops.
        .disable_signals()
        // On SIGTERM in-flight requests get this long to finish, then the scan counts are
        // flushed: the process is gone well within the 10 s an orchestrator usually allows.
        .shutdown_timeout(SHUTDOWN_GRACE_SECS)
        .on_connect(|conn, _ext| {
            // Small responses must not wait for the client's delayed ACK (Nagle).
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(async move {
            stop_signal().await;
            tracing::info!(
                drain_ms = SHUTDOWN_DRAIN.as_millis() as u64,
                "stopping: answering with Connection: close, then finishing what is in flight"
            );
            draining.store(true, Ordering::Relaxed);
            tokio::time::sleep(SHUTDOWN_DRAIN).await;
            handle.stop(true).await;
        });
        Ok(Self {
            port,
            server,
            state,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, if there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(p, _)| *p)
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM (graceful: in-flight requests finish), then writes the
    /// scan counts not yet flushed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some((_, metrics)) = &self.metrics {
            metrics.stop(true).await;
        }
        // Through a connection of its own: the pool's connections were opened on the HTTP
        // workers' runtimes, which have stopped, and one used in the last second is handed out
        // unchecked ("connection closed": the counts were lost).
        let flushed = match crate::db::pool_of_size(&self.state.settings, 1) {
            Ok(pool) => self.state.scans.flush(&pool).await,
            Err(e) => Err(e),
        };
        if let Err(e) = flushed {
            tracing::error!(error = %e, "scan counts lost at shutdown");
        }
        result
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
