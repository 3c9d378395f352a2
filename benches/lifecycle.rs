//! Wall time of `sys/init` (5 shares, threshold 3) plus the three `sys/unseal` calls, over
//! HTTP against a server on embedded RocksDB in a fresh data directory — the path an
//! operator's `bao operator init` and `bao operator unseal` take.
//!
//! For comparison: OpenBao 2.7.2 took about 6.7 s for `sys/init` alone on a raft data dir
//! on the same 2-core machine. The target is under 50 ms for init and unseal together.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use coffer::{Config, Server};
use criterion::{criterion_group, criterion_main, Criterion};

/// One HTTP/1.1 request on a fresh connection; returns the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("response");
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "{method} {path}: {head}\n{body}"
    );
    body.to_owned()
}

fn init_and_unseal(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("lifecycle");
    group.sample_size(20);
    group.bench_function("init 5/3 + unseal, rocksdb, over HTTP", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let hcl = format!(
                    "listener \"tcp\" {{\n address = \"127.0.0.1:0\"\n tls_disable = true\n}}\nstorage \"rocksdb\" {{ path = \"{}\" }}\n",
                    dir.path().join("data").display()
                );
                let config = Config::parse(&hcl, std::path::Path::new("bench.hcl")).expect("config");
                let server = rt.block_on(Server::build(&config)).expect("server");
                let socket = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
                let addr = socket.local_addr().expect("addr").to_string();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let handle = rt.spawn(server.serve(socket, async move {
                    let _ = stopped.await;
                }));

                let start = Instant::now();
                let init = http(&addr, "PUT", "/v1/sys/init", r#"{"secret_shares":5,"secret_threshold":3}"#);
                let init: serde_json::Value = serde_json::from_str(&init).expect("json");
                for key in init["keys"].as_array().expect("keys").iter().take(3) {
                    http(&addr, "PUT", "/v1/sys/unseal", &format!("{{\"key\":{key}}}"));
                }
                total += start.elapsed();

                let status = http(&addr, "GET", "/v1/sys/seal-status", "");
                assert!(status.contains("\"sealed\":false"), "{status}");
                let _ = stop.send(());
                rt.block_on(handle).expect("server task");
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, init_and_unseal);
criterion_main!(benches);
