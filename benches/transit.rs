//! Transit's hot paths without HTTP: encrypt and decrypt of 1 KiB per key type (and a
//! derived key, which runs HKDF per call), HMAC, and, per asymmetric type, sign and verify.
//! The end-to-end numbers beside OpenBao are in `benches/load`.

use coffer::transit_bench::BenchKey;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const PLAINTEXT: [u8; 1024] = [0x5a; 1024];

fn symmetric(c: &mut Criterion) {
    let mut g = c.benchmark_group("transit 1 KiB");
    g.throughput(Throughput::Bytes(PLAINTEXT.len() as u64));
    for (kind, derived) in [
        ("aes128-gcm96", false),
        ("aes256-gcm96", false),
        ("chacha20-poly1305", false),
        ("xchacha20-poly1305", false),
        ("aes256-gcm96", true),
    ] {
        let key = BenchKey::new(kind, derived);
        let context: &[u8] = if derived { b"tenant-42" } else { b"" };
        let label = if derived {
            format!("{kind} derived")
        } else {
            kind.to_string()
        };
        g.bench_function(format!("encrypt {label}"), |b| {
            b.iter(|| key.encrypt(context, &PLAINTEXT))
        });
        let ct = key.encrypt(context, &PLAINTEXT);
        g.bench_function(format!("decrypt {label}"), |b| {
            b.iter(|| key.decrypt(context, &ct))
        });
    }
    let key = BenchKey::new("aes256-gcm96", false);
    g.bench_function("hmac sha2-256", |b| b.iter(|| key.hmac(&PLAINTEXT)));
    g.finish();
}

criterion_group!(benches, symmetric);
criterion_main!(benches);
