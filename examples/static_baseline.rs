//! The scan-page benchmark's baseline: a minimal actix-web server that answers every request
//! with the same bytes from memory — the gzipped page the real service serves, under the same
//! response headers (`ETAG` is passed in) — with TCP_NODELAY and the same worker count. What
//! the service's cached path is compared against.
//!
//! static_baseline FILE PORT WORKERS [ETAG]

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args.next().expect("FILE");
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(18099);
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    let etag: &'static str = Box::leak(
        args.next()
            .unwrap_or_else(|| "\"0000000000000000-gz\"".to_owned())
            .into_boxed_str(),
    );
    let body = web::Bytes::from(std::fs::read(file)?);
    HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move || {
            let body = body.clone();
            async move {
                HttpResponse::Ok()
                    .insert_header(("etag", etag))
                    .insert_header((
                        "cache-control",
                        "public, max-age=15, stale-while-revalidate=60",
                    ))
                    .insert_header(("vary", "Accept-Encoding, Accept-Language"))
                    .insert_header(("x-content-type-options", "nosniff"))
                    .content_type("text/html; charset=utf-8")
                    .insert_header(("content-encoding", "gzip"))
                    .body(body)
            }
        }))
    })
    .workers(workers)
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
