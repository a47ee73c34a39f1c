//! The complaint benchmark's load generator: CONNS clients, each POSTing complaints back to back
//! for SECS seconds (a fresh Idempotency-Key and phone per request, spread over the shop codes
//! in CODES_FILE). Unlike wrk it lets every request in flight finish before it stops, so the
//! number of 201 answers can be compared exactly with the rows the database gained.
//!
//! complaint_load URL CODES_FILE CONNS SECS

use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("URL");
    let codes: Vec<String> = std::fs::read_to_string(args.next().expect("CODES_FILE"))
        .expect("codes file")
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect();
    let conns: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(32);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(15);
    let codes = Arc::new(codes);
    let nonce = std::process::id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|t| {
            let client = client.clone();
            let url = url.clone();
            let codes = codes.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let (mut created, mut other, mut errors) = (0u64, 0u64, 0u64);
                let mut i = 0u64;
                while Instant::now() < deadline {
                    i += 1;
                    // Interleaved, so that every request of every client has a phone of its
                    // own (`t * 10^7 + i` wrapped at 10^8: clients t and t + 10 shared phones,
                    // and a repeat from one phone the same day is the first complaint again).
                    let n = i * conns as u64 + t as u64;
                    let body = serde_json::json!({
                        "shop_code": codes[(n as usize) % codes.len()],
                        "name": "压测用户",
                        "phone": format!("139{:08}", n % 100_000_000),
                        "category": "price",
                        "description": "压测投诉：菜单标价与结账金额不一致，要求退还差价。",
                        "amount_fen": 1000,
                    });
                    let sent = Instant::now();
                    match client
                        .post(&url)
                        .header("Idempotency-Key", format!("load-{nonce}-{t}-{i}"))
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let _ = r.bytes().await;
                            lat.push(sent.elapsed());
                            if status == 201 {
                                created += 1;
                            } else {
                                other += 1;
                            }
                        }
                        Err(_) => errors += 1,
                    }
                }
                (lat, created, other, errors)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let (mut created, mut other, mut errors) = (0, 0, 0);
    for t in tasks {
        let (l, c, o, e) = t.await.unwrap();
        lat.extend(l);
        created += c;
        other += o;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    println!(
        "requests {} rps {:.1} p50_ms {:.2} p99_ms {:.2} created {} other {} errors {}",
        lat.len(),
        lat.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        created,
        other,
        errors
    );
}
