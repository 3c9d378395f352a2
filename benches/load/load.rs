//! The load generator: `c` workers, each on its own keep-alive connection, sending one
//! request after another for a fixed time after a warm-up, recording every latency.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Method;
use rand::distributions::Alphanumeric;
use rand::Rng as _;

use crate::client::Conn;

/// How many keys the read cells pick from.
pub const READ_KEYS: usize = 10_000;

/// The operations measured, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Health,
    Write,
    Read,
    TokenCreate,
    ApproleLogin,
    UserpassLogin,
    TransitEncrypt,
    TransitBatch,
}

/// Bytes of plaintext in one `transit encrypt` request.
pub const TRANSIT_PLAINTEXT: usize = 1024;
/// Items in one `transit batch` request, and bytes of plaintext in each.
pub const TRANSIT_BATCH: usize = 1000;
pub const TRANSIT_BATCH_ITEM: usize = 64;

impl Op {
    pub const ALL: [Op; 8] = [
        Op::Health,
        Op::Write,
        Op::Read,
        Op::TokenCreate,
        Op::ApproleLogin,
        Op::UserpassLogin,
        Op::TransitEncrypt,
        Op::TransitBatch,
    ];

    /// The Transit operations (key `bench` of type aes256-gcm96 at `transit/`).
    pub const TRANSIT: [Op; 2] = [Op::TransitEncrypt, Op::TransitBatch];

    /// The login operations: sent without a token, each answer a new token.
    pub const LOGINS: [Op; 2] = [Op::ApproleLogin, Op::UserpassLogin];

    pub fn name(self) -> &'static str {
        match self {
            Op::Health => "sys/health",
            Op::Write => "kv2 write",
            Op::Read => "kv2 read",
            Op::TokenCreate => "token create",
            Op::ApproleLogin => "approle login",
            Op::UserpassLogin => "userpass login",
            Op::TransitEncrypt => "transit encrypt",
            Op::TransitBatch => "transit batch",
        }
    }

    /// A short description for the header and the JSON.
    pub fn describe(self) -> &'static str {
        match self {
            Op::Health => "GET /v1/sys/health",
            Op::Write => {
                "POST /v1/kv/data/w/<worker>-<n> {\"data\":{\"value\":<64 random chars>}}, unique keys"
            }
            Op::Read => "GET /v1/kv/data/r/<random i>, i among 10,000 prefilled keys",
            Op::TokenCreate => {
                "POST /v1/auth/token/create {\"policies\":[\"bench\"],\"ttl\":\"1h\"} by the non-root bench token"
            }
            Op::ApproleLogin => {
                "POST /v1/auth/approle/login {\"role_id\",\"secret_id\"}, no token; role bench \
                 (token_policies bench, token_ttl 1h), one secret id of unlimited uses"
            }
            Op::UserpassLogin => {
                "POST /v1/auth/userpass/login/bench {\"password\"}, no token; user bench \
                 (token_policies bench, token_ttl 1h), bcrypt cost 10 (OpenBao's default)"
            }
            Op::TransitEncrypt => {
                "POST /v1/transit/encrypt/bench {\"plaintext\":<base64 of 1 KiB random bytes>}, \
                 aes256-gcm96 key, by the bench token"
            }
            Op::TransitBatch => {
                "POST /v1/transit/encrypt/bench {\"batch_input\":[1,000 x {\"plaintext\":<base64 of 64 \
                 random bytes>}]}, aes256-gcm96 key, by the bench token; req/s counts requests"
            }
        }
    }
}

/// Where and as whom to send.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub token: String,
    /// The login bodies (credentials), once the server has set the methods up.
    pub approle_login: Option<String>,
    pub userpass_login: Option<String>,
}

/// The outcome of one cell (operation × concurrency).
#[derive(Clone, Debug, Default)]
pub struct CellResult {
    /// Successful (2xx) answers in the measured window.
    pub ok: u64,
    /// Non-2xx answers and transport errors in the measured window.
    pub errors: u64,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
    /// Length of the measured window.
    pub secs: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

impl CellResult {
    pub fn rps(&self) -> f64 {
        if self.secs > 0.0 {
            self.ok as f64 / self.secs
        } else {
            0.0
        }
    }
}

pub fn random_value(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn random_b64(len: usize) -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The body of a `transit encrypt` (one plaintext) or `transit batch` request.
pub fn transit_body(op: Op) -> String {
    match op {
        Op::TransitBatch => {
            let items: Vec<String> = (0..TRANSIT_BATCH)
                .map(|_| format!("{{\"plaintext\":\"{}\"}}", random_b64(TRANSIT_BATCH_ITEM)))
                .collect();
            format!("{{\"batch_input\":[{}]}}", items.join(","))
        }
        _ => format!("{{\"plaintext\":\"{}\"}}", random_b64(TRANSIT_PLAINTEXT)),
    }
}

fn kv_body(value_len: usize) -> String {
    format!("{{\"data\":{{\"value\":\"{}\"}}}}", random_value(value_len))
}

/// Keys for write cells: unique across every cell run against one server.
static WRITE_SEQ: AtomicU64 = AtomicU64::new(0);

struct Worker {
    latencies: Vec<u32>,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    /// When the last measured request finished.
    last_end: Option<Instant>,
}

impl Worker {
    fn error(&mut self, measured: bool, e: String) {
        if measured {
            self.errors += 1;
            if self.first_error.is_none() {
                self.first_error = Some(e);
            }
        }
    }
}

async fn worker(
    target: Arc<Target>,
    op: Op,
    id: usize,
    measure_from: Instant,
    deadline: Instant,
) -> Worker {
    let mut w = Worker {
        latencies: Vec::with_capacity(1 << 14),
        ok: 0,
        errors: 0,
        first_error: None,
        last_end: None,
    };
    let mut conn: Option<Conn> = None;
    // Each worker sends its own fixed body (made once: making it is not what is measured).
    let transit = Op::TRANSIT.contains(&op).then(|| transit_body(op));
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Conn::connect(target.addr).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    w.error(now >= measure_from, e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let mut token = Some(target.token.as_str());
        let (method, path, body) = match op {
            Op::Health => (Method::GET, "/v1/sys/health".to_owned(), None),
            Op::Write => {
                let n = WRITE_SEQ.fetch_add(1, Ordering::Relaxed);
                (
                    Method::POST,
                    format!("/v1/kv/data/w/{id}-{n}"),
                    Some(kv_body(64)),
                )
            }
            Op::Read => {
                let i = rand::thread_rng().gen_range(0..READ_KEYS);
                (Method::GET, format!("/v1/kv/data/r/{i}"), None)
            }
            Op::TokenCreate => (
                Method::POST,
                "/v1/auth/token/create".to_owned(),
                Some(r#"{"policies":["bench"],"ttl":"1h"}"#.to_owned()),
            ),
            Op::ApproleLogin => {
                token = None;
                (
                    Method::POST,
                    "/v1/auth/approle/login".to_owned(),
                    target.approle_login.clone(),
                )
            }
            Op::UserpassLogin => {
                token = None;
                (
                    Method::POST,
                    "/v1/auth/userpass/login/bench".to_owned(),
                    target.userpass_login.clone(),
                )
            }
            Op::TransitEncrypt | Op::TransitBatch => (
                Method::POST,
                "/v1/transit/encrypt/bench".to_owned(),
                transit.clone(),
            ),
        };
        let start = Instant::now();
        let measured = start >= measure_from;
        match c.send(method, &path, token, body).await {
            Ok(reply) if reply.ok() => {
                let end = Instant::now();
                if measured {
                    w.ok += 1;
                    let us = (end - start).as_micros().min(u32::MAX as u128) as u32;
                    w.latencies.push(us);
                    w.last_end = Some(end);
                }
            }
            Ok(reply) => {
                if measured {
                    w.last_end = Some(Instant::now());
                }
                w.error(measured, format!("{path}: {}", reply.describe()));
            }
            Err(e) => {
                conn = None;
                w.error(measured, e);
            }
        }
    }
    w
}

fn percentile(sorted: &[u32], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = (sorted.len() * p / 100).min(sorted.len() - 1);
    u64::from(sorted[idx])
}

/// Run `op` with `concurrency` workers: `warmup`, then `secs` measured.
pub async fn run_cell(
    target: &Target,
    op: Op,
    concurrency: usize,
    warmup: Duration,
    secs: Duration,
) -> CellResult {
    let target = Arc::new(target.clone());
    let measure_from = Instant::now() + warmup;
    let deadline = measure_from + secs;
    let handles: Vec<_> = (0..concurrency)
        .map(|id| {
            tokio::spawn(worker(
                target.clone(),
                op,
                id + 1000 * concurrency,
                measure_from,
                deadline,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut result = CellResult::default();
    let mut last_end = deadline;
    for h in handles {
        match h.await {
            Ok(w) => {
                latencies.extend_from_slice(&w.latencies);
                result.ok += w.ok;
                result.errors += w.errors;
                if result.first_error.is_none() {
                    result.first_error = w.first_error;
                }
                if let Some(end) = w.last_end {
                    last_end = last_end.max(end);
                }
            }
            Err(e) => {
                result.errors += 1;
                result
                    .first_error
                    .get_or_insert(format!("worker failed: {e}"));
            }
        }
    }
    latencies.sort_unstable();
    result.secs = (last_end - measure_from).as_secs_f64();
    result.p50_us = percentile(&latencies, 50);
    result.p99_us = percentile(&latencies, 99);
    result
}

/// The outcome of a fill.
#[derive(Debug, Default)]
pub struct Fill {
    pub written: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    pub secs: f64,
}

/// Write `kv/data/<prefix><i>` for every `i` in `0..count` with `concurrency` workers and
/// `value_len`-character random values. A failed key is retried twice on a fresh
/// connection, then counted as failed.
pub async fn fill(
    target: &Target,
    prefix: &str,
    count: usize,
    value_len: usize,
    concurrency: usize,
) -> Fill {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let target = Arc::new(target.clone());
    let handles: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            let target = target.clone();
            let prefix = prefix.to_owned();
            tokio::spawn(async move {
                let mut out = Fill::default();
                let mut conn: Option<Conn> = None;
                'keys: loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let path = format!("/v1/kv/data/{prefix}{i}");
                    let mut last = String::new();
                    for _attempt in 0..3 {
                        let c = match conn.as_mut() {
                            Some(c) => c,
                            None => match Conn::connect(target.addr).await {
                                Ok(c) => conn.insert(c),
                                Err(e) => {
                                    last = e;
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                    continue;
                                }
                            },
                        };
                        match c
                            .send(
                                Method::POST,
                                &path,
                                Some(&target.token),
                                Some(kv_body(value_len)),
                            )
                            .await
                        {
                            Ok(r) if r.ok() => {
                                out.written += 1;
                                continue 'keys;
                            }
                            Ok(r) => last = format!("{path}: {}", r.describe()),
                            Err(e) => {
                                conn = None;
                                last = e;
                            }
                        }
                    }
                    out.failed += 1;
                    out.first_error.get_or_insert(last);
                }
                out
            })
        })
        .collect();
    let mut total = Fill::default();
    for h in handles {
        match h.await {
            Ok(f) => {
                total.written += f.written;
                total.failed += f.failed;
                if total.first_error.is_none() {
                    total.first_error = f.first_error;
                }
            }
            Err(e) => {
                total
                    .first_error
                    .get_or_insert(format!("worker failed: {e}"));
            }
        }
    }
    total.secs = started.elapsed().as_secs_f64();
    total
}
