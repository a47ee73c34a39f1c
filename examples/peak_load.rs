//! The peak-season load generator (bench/load.sh, bench/faults.sh): CONNS connections kept busy
//! for SECS seconds with a realistic mix of requests, each connection sending one request after
//! another. Like complaint_load.rs it lets every request in flight finish before it stops, so
//! the counts (201 complaints, 200 scans) can be compared exactly with the database.
//!
//! peak_load BASE_URL CODES_FILE [CONNS=1000] [SECS=60]
//!
//! The mix (per cent of requests, env `MIX`, default `scan=95,complaint=1,list=1,get=1,queue=1,stats=1`):
//! - `scan`: `GET /s/{code}` with `Accept-Encoding: gzip`, the code drawn by a Zipf law
//!   (exponent `ZIPF_S`, default 1.1) over the codes of CODES_FILE (one a line, the first the
//!   most scanned). A fraction `MISS` (default 0.005) of scans ask for a well-formed code that
//!   was never issued: those 404s are deliberate (kind `scan_miss`) and not errors.
//! - `complaint`: `POST /api/v1/public/complaints` (a fresh Idempotency-Key and phone, and a
//!   description unique to the run, so no submission is a duplicate of another), the code drawn
//!   by the same Zipf law. The tracking numbers of the 201 answers are written to
//!   `TRACKING_OUT` (one a line) when set.
//! - staff reads with `Authorization: Bearer $STAFF_TOKEN`: `list` =
//!   `GET /api/v1/merchants?region=R&status=open&per_page=20` (R drawn from `REGIONS`, comma
//!   separated), `get` = `GET /api/v1/merchants/{id}` (id uniform in `MERCHANT_IDS`, `lo-hi`),
//!   `queue` = `GET /api/v1/complaints?per_page=20`, `stats` = `GET /api/v1/stats?STATS_QUERY`
//!   (default `region=513200`).
//!
//! Other settings: `THREADS` (tokio worker threads, default 1), `TIMEOUT_MS` (per request,
//! default 30000; a timeout counts as a transport error), `INTERVAL` (seconds per timeline
//! bucket, default 5), `RAMP_MS` (connections start spread over this time, default 1000, so
//! that 1000 connects do not overflow the server's accept backlog at once), `SEED`.
//!
//! Output: a human table per kind (requests, req/s, p50/p99/p99.9, status classes), a timeline
//! per interval (scan p99, non-2xx/3xx per kind), then one line `SUMMARY {json}` for scripts.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Scan,
    ScanMiss,
    Complaint,
    List,
    Get,
    Queue,
    Stats,
}

const KINDS: [Kind; 7] = [
    Kind::Scan,
    Kind::ScanMiss,
    Kind::Complaint,
    Kind::List,
    Kind::Get,
    Kind::Queue,
    Kind::Stats,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Scan => "scan",
            Kind::ScanMiss => "scan_miss",
            Kind::Complaint => "complaint",
            Kind::List => "list",
            Kind::Get => "get",
            Kind::Queue => "queue",
            Kind::Stats => "stats",
        }
    }
}

/// One answered (or failed) request: status 0 is a transport error or timeout.
#[derive(Clone, Copy)]
struct Sample {
    kind: Kind,
    status: u16,
    /// When it was sent, ms after the start.
    at_ms: u32,
    latency_us: u32,
}

/// Zipf's law over ranks 1..=n: the cumulative distribution, sampled by binary search.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += 1.0 / (k as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Self { cdf }
    }
    /// A 0-based rank.
    fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

struct Config {
    base: String,
    codes: Vec<String>,
    zipf: Zipf,
    /// Cumulative per-cent thresholds of the kinds other than ScanMiss.
    mix: Vec<(f64, Kind)>,
    miss: f64,
    token: String,
    regions: Vec<String>,
    merchant_ids: (i64, i64),
    stats_query: String,
    nonce: String,
    /// The next phone number (a random start per run, then one per complaint).
    phones: std::sync::atomic::AtomicU64,
}

fn env_or(k: &str, default: &str) -> String {
    std::env::var(k)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn parse_mix(s: &str) -> Vec<(f64, Kind)> {
    let mut total = 0.0;
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, pct) = part.split_once('=').expect("MIX: name=percent,...");
        let kind = KINDS
            .iter()
            .copied()
            .find(|k| k.name() == name.trim() && *k != Kind::ScanMiss)
            .unwrap_or_else(|| panic!("MIX: unknown kind {name:?}"));
        let pct: f64 = pct.trim().parse().expect("MIX: a number of per cent");
        total += pct;
        out.push((total, kind));
    }
    assert!(total > 0.0, "MIX is empty");
    // normalised to 100
    out.into_iter()
        .map(|(c, k)| (c * 100.0 / total, k))
        .collect()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

#[derive(Default, Clone)]
struct Classes {
    n: u64,
    s2xx: u64,
    s3xx: u64,
    s404: u64,
    s503: u64,
    other: u64,
    transport: u64,
}

impl Classes {
    fn add(&mut self, status: u16) {
        self.n += 1;
        match status {
            0 => self.transport += 1,
            200..=299 => self.s2xx += 1,
            300..=399 => self.s3xx += 1,
            404 => self.s404 += 1,
            503 => self.s503 += 1,
            _ => self.other += 1,
        }
    }
    /// Not 2xx/3xx (404 included: only `scan_miss` 404s are deliberate).
    fn bad(&self, kind: Kind) -> u64 {
        let s404 = if kind == Kind::ScanMiss { 0 } else { self.s404 };
        s404 + self.s503 + self.other + self.transport
    }
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n, "2xx": self.s2xx, "3xx": self.s3xx, "404": self.s404,
            "503": self.s503, "other": self.other, "transport": self.transport,
        })
    }
}

async fn one(
    client: &reqwest::Client,
    cfg: &Config,
    rng: &mut rand::rngs::StdRng,
    task: usize,
    i: u64,
    tracking: &mut Vec<String>,
) -> (Kind, u16) {
    let roll: f64 = rng.random::<f64>() * 100.0;
    let mut kind = cfg
        .mix
        .iter()
        .find(|(c, _)| roll < *c)
        .map_or(cfg.mix[cfg.mix.len() - 1].1, |(_, k)| *k);
    if kind == Kind::Scan && rng.random::<f64>() < cfg.miss {
        kind = Kind::ScanMiss;
    }
    let req = match kind {
        Kind::Scan => client
            .get(format!(
                "{}/s/{}",
                cfg.base,
                cfg.codes[cfg.zipf.sample(rng)]
            ))
            .header("accept-encoding", "gzip"),
        Kind::ScanMiss => {
            // Well-formed, never issued (Crockford base32 without the ambiguous letters; the
            // issued codes are random, so a collision is a 2^-60 event).
            let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
            let code: String = (0..12)
                .map(|_| alphabet[rng.random_range(0..32)] as char)
                .collect();
            client
                .get(format!("{}/s/{code}", cfg.base))
                .header("accept-encoding", "gzip")
        }
        Kind::Complaint => {
            let n = cfg
                .phones
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let body = serde_json::json!({
                "shop_code": cfg.codes[cfg.zipf.sample(rng)],
                "name": "压测用户",
                "phone": format!("13{:09}", n % 1_000_000_000),
                "category": "price",
                "description": format!("压测投诉：菜单标价与结账金额不一致，要求退还差价。（{} #{n}）", cfg.nonce),
                "amount_fen": 1000,
            });
            client
                .post(format!("{}/api/v1/public/complaints", cfg.base))
                .header("idempotency-key", format!("peak-{}-{task}-{i}", cfg.nonce))
                .json(&body)
        }
        Kind::List => {
            let region = &cfg.regions[rng.random_range(0..cfg.regions.len())];
            client.get(format!(
                "{}/api/v1/merchants?region={region}&status=open&per_page=20",
                cfg.base
            ))
        }
        Kind::Get => {
            let (lo, hi) = cfg.merchant_ids;
            client.get(format!(
                "{}/api/v1/merchants/{}",
                cfg.base,
                rng.random_range(lo..=hi)
            ))
        }
        Kind::Queue => client.get(format!("{}/api/v1/complaints?per_page=20", cfg.base)),
        Kind::Stats => client.get(format!("{}/api/v1/stats?{}", cfg.base, cfg.stats_query)),
    };
    let req = match kind {
        Kind::List | Kind::Get | Kind::Queue | Kind::Stats => req.bearer_auth(&cfg.token),
        _ => req,
    };
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.bytes().await {
                Ok(body) => {
                    // An answer that is neither success, a 404 nor a 503: say what it was (the
                    // first few), since the counts alone do not tell a 500 from a 400.
                    static SHOWN: std::sync::atomic::AtomicU32 =
                        std::sync::atomic::AtomicU32::new(0);
                    if !matches!(status, 200..=399 | 404 | 503)
                        && SHOWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5
                    {
                        eprintln!(
                            "unexpected answer to {kind:?}: {status} {}",
                            String::from_utf8_lossy(&body[..body.len().min(400)])
                        );
                    }
                    if kind == Kind::Complaint && status == 201 {
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
                            if let Some(t) = v.get("tracking_no").and_then(|t| t.as_str()) {
                                tracking.push(t.to_owned());
                            }
                        }
                    }
                    (kind, status)
                }
                // The answer was cut off: not a complete response. A 201 whose body was lost
                // is still acknowledged by the server: count it (it must be in the database).
                Err(e) => {
                    transport_error(kind, &e);
                    (kind, if status == 201 { 201 } else { 0 })
                }
            }
        }
        Err(e) => {
            transport_error(kind, &e);
            (kind, 0)
        }
    }
}

/// Says what the first few transport errors were (a timeout, a reset, a refused connection).
fn transport_error(kind: Kind, e: &reqwest::Error) {
    static SHOWN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if SHOWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5 {
        let mut why = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            why.push_str(&format!(": {s}"));
            source = s.source();
        }
        eprintln!("transport error on {kind:?}: {why}");
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .expect("BASE_URL")
        .trim_end_matches('/')
        .to_owned();
    let codes: Vec<String> = std::fs::read_to_string(args.next().expect("CODES_FILE"))
        .expect("codes file")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(!codes.is_empty(), "no codes in CODES_FILE");
    let conns: usize = args.next().and_then(|c| c.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let threads: usize = env_or("THREADS", "1").parse().expect("THREADS");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(base, codes, conns, secs));
}

async fn run(base: String, codes: Vec<String>, conns: usize, secs: u64) {
    let zipf_s: f64 = env_or("ZIPF_S", "1.1").parse().expect("ZIPF_S");
    let ids = env_or("MERCHANT_IDS", "1-1000");
    let (lo, hi) = ids.split_once('-').expect("MERCHANT_IDS: lo-hi");
    let interval_s: u64 = env_or("INTERVAL", "5").parse().expect("INTERVAL");
    let timeout = Duration::from_millis(env_or("TIMEOUT_MS", "30000").parse().expect("TIMEOUT_MS"));
    let ramp = Duration::from_millis(env_or("RAMP_MS", "1000").parse().expect("RAMP_MS"));
    let seed: u64 = env_or("SEED", &std::process::id().to_string())
        .parse()
        .expect("SEED");
    let cfg = Arc::new(Config {
        zipf: Zipf::new(codes.len(), zipf_s),
        codes,
        base,
        mix: parse_mix(&env_or(
            "MIX",
            "scan=95,complaint=1,list=1,get=1,queue=1,stats=1",
        )),
        miss: env_or("MISS", "0.005").parse().expect("MISS"),
        token: env_or("STAFF_TOKEN", ""),
        regions: env_or("REGIONS", "513201")
            .split(',')
            .map(str::to_owned)
            .collect(),
        merchant_ids: (
            lo.parse().expect("MERCHANT_IDS lo"),
            hi.parse().expect("MERCHANT_IDS hi"),
        ),
        stats_query: env_or("STATS_QUERY", "region=513200"),
        phones: std::sync::atomic::AtomicU64::new(
            rand::rngs::StdRng::seed_from_u64(seed).random_range(0..1_000_000_000),
        ),
        nonce: format!(
            "{}{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() % 100_000)
        ),
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        // Below the server's keep-alive (actix: 5 s), as browsers keep theirs: a connection the
        // server is closing at the moment it is reused fails without an answer (a browser
        // retries such a GET by itself; reqwest does not).
        .pool_idle_timeout(Duration::from_secs(4))
        .tcp_nodelay(true)
        .timeout(timeout)
        .build()
        .expect("client");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..conns)
        .map(|t| {
            let client = client.clone();
            let cfg = cfg.clone();
            tokio::spawn(async move {
                let mut rng =
                    rand::rngs::StdRng::seed_from_u64(seed.wrapping_mul(1_000_003) + t as u64);
                tokio::time::sleep(ramp.mul_f64(t as f64 / conns as f64)).await;
                let mut samples = Vec::new();
                let mut tracking = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    i += 1;
                    let sent = Instant::now();
                    let (kind, status) = one(&client, &cfg, &mut rng, t, i, &mut tracking).await;
                    samples.push(Sample {
                        kind,
                        status,
                        at_ms: sent.duration_since(started).as_millis() as u32,
                        latency_us: sent.elapsed().as_micros().min(u32::MAX as u128) as u32,
                    });
                }
                (samples, tracking)
            })
        })
        .collect();
    let mut samples = Vec::new();
    let mut tracking = Vec::new();
    for t in tasks {
        let (s, tr) = t.await.expect("task");
        samples.extend(s);
        tracking.extend(tr);
    }
    let elapsed = started.elapsed().as_secs_f64();
    report(&samples, &tracking, elapsed, interval_s, conns, secs);
}

fn report(
    samples: &[Sample],
    tracking: &[String],
    elapsed: f64,
    interval_s: u64,
    conns: usize,
    secs: u64,
) {
    // Per kind.
    let mut by_kind: BTreeMap<Kind, (Classes, Vec<u32>)> = BTreeMap::new();
    for s in samples {
        let e = by_kind.entry(s.kind).or_default();
        e.0.add(s.status);
        if s.status != 0 {
            e.1.push(s.latency_us);
        }
    }
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "kind",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "2xx",
        "3xx",
        "404",
        "503",
        "other",
        "transp"
    );
    let mut kinds_json = serde_json::Map::new();
    let mut errors = 0;
    let mut total = 0;
    for (kind, (c, lat)) in &mut by_kind {
        lat.sort_unstable();
        let (p50, p99, p999) = (
            percentile(lat, 0.50),
            percentile(lat, 0.99),
            percentile(lat, 0.999),
        );
        let max = percentile(lat, 1.0);
        let rps = c.n as f64 / elapsed;
        println!(
            "{:<10} {:>9} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6}",
            kind.name(),
            c.n,
            rps,
            p50,
            p99,
            p999,
            max,
            c.s2xx,
            c.s3xx,
            c.s404,
            c.s503,
            c.other,
            c.transport
        );
        errors += c.bad(*kind);
        total += c.n;
        let mut j = c.json();
        j["rps"] = serde_json::json!((rps * 10.0).round() / 10.0);
        j["p50_ms"] = serde_json::json!(p50);
        j["p99_ms"] = serde_json::json!(p99);
        j["p999_ms"] = serde_json::json!(p999);
        j["max_ms"] = serde_json::json!(max);
        j["errors"] = serde_json::json!(c.bad(*kind));
        kinds_json.insert(kind.name().to_owned(), j);
    }
    let created = samples
        .iter()
        .filter(|s| s.kind == Kind::Complaint && s.status == 201)
        .count();
    let scans_200 = samples
        .iter()
        .filter(|s| s.kind == Kind::Scan && s.status == 200)
        .count();
    println!(
        "total {total} requests in {elapsed:.1} s ({:.1} req/s), errors {errors} (non-2xx/3xx other than the deliberate scan_miss 404s), complaints 201: {created} ({} tracking numbers), scans answered 200: {scans_200}",
        total as f64 / elapsed,
        tracking.len()
    );
    // Timeline: per interval, the scans' p99 and the failures per kind.
    let step = (interval_s.max(1) * 1000) as u32;
    let buckets = (samples.iter().map(|s| s.at_ms).max().unwrap_or(0) / step + 1) as usize;
    let mut lines: Vec<(Vec<u32>, BTreeMap<Kind, Classes>)> = vec![Default::default(); buckets];
    for s in samples {
        let b = &mut lines[(s.at_ms / step) as usize];
        if s.kind == Kind::Scan && s.status != 0 {
            b.0.push(s.latency_us);
        }
        b.1.entry(s.kind).or_default().add(s.status);
    }
    println!("timeline (by the time a request was sent):");
    let mut timeline = Vec::new();
    for (i, (lat, classes)) in lines.iter_mut().enumerate() {
        lat.sort_unstable();
        let from = i as u64 * interval_s;
        let bad: Vec<String> = classes
            .iter()
            .filter(|(k, c)| c.bad(**k) > 0)
            .map(|(k, c)| {
                format!(
                    "{}: {} bad ({} 503, {} 404, {} other, {} transport)",
                    k.name(),
                    c.bad(*k),
                    c.s503,
                    if *k == Kind::ScanMiss { 0 } else { c.s404 },
                    c.other,
                    c.transport
                )
            })
            .collect();
        let complaints = classes.get(&Kind::Complaint).cloned().unwrap_or_default();
        println!(
            "  {:>4}-{:<4}s scans {:>7}  p50 {:>8.2} ms  p99 {:>8.2} ms  complaints 201 {:>4}/{:<4} {}",
            from,
            from + interval_s,
            lat.len(),
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            complaints.s2xx,
            complaints.n,
            bad.join("; ")
        );
        let mut per_kind = serde_json::Map::new();
        for (k, c) in classes.iter() {
            per_kind.insert(k.name().to_owned(), c.json());
        }
        timeline.push(serde_json::json!({
            "from_s": from,
            "scans": lat.len(),
            "scan_p50_ms": percentile(lat, 0.5),
            "scan_p99_ms": percentile(lat, 0.99),
            "kinds": per_kind,
        }));
    }
    if let Ok(path) = std::env::var("TRACKING_OUT") {
        if !path.is_empty() {
            let mut f =
                std::io::BufWriter::new(std::fs::File::create(&path).expect("TRACKING_OUT"));
            for t in tracking {
                writeln!(f, "{t}").expect("write TRACKING_OUT");
            }
        }
    }
    let summary = serde_json::json!({
        "conns": conns,
        "secs": secs,
        "elapsed_s": (elapsed * 100.0).round() / 100.0,
        "requests": total,
        "rps": ((total as f64 / elapsed) * 10.0).round() / 10.0,
        "errors": errors,
        "created": created,
        "tracking_numbers": tracking.len(),
        "scans_200": scans_200,
        "kinds": kinds_json,
        "timeline": timeline,
    });
    println!("SUMMARY {summary}");
}
