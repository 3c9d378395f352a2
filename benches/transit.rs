//! Transit's hot paths without HTTP: encrypt and decrypt of 1 KiB per key type (and a
//! derived key, which runs HKDF per call), HMAC, and, per asymmetric type, sign and verify
//! (and RSA-OAEP).
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

fn asymmetric(c: &mut Criterion) {
    let mut g = c.benchmark_group("transit sign 1 KiB");
    for kind in [
        "ed25519",
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
        "rsa-2048",
        "rsa-4096",
    ] {
        let key = BenchKey::new(kind, false);
        g.bench_function(format!("sign {kind}"), |b| b.iter(|| key.sign(&PLAINTEXT)));
        let sig = key.sign(&PLAINTEXT);
        assert!(key.verify(&PLAINTEXT, &sig));
        g.bench_function(format!("verify {kind}"), |b| {
            b.iter(|| key.verify(&PLAINTEXT, &sig))
        });
    }
    let key = BenchKey::new("rsa-2048", false);
    let ct = key.encrypt(b"", &PLAINTEXT[..128]);
    g.bench_function("encrypt rsa-2048 (OAEP, 128 B)", |b| {
        b.iter(|| key.encrypt(b"", &PLAINTEXT[..128]))
    });
    g.bench_function("decrypt rsa-2048 (OAEP, 128 B)", |b| {
        b.iter(|| key.decrypt(b"", &ct))
    });
    g.finish();
}

criterion_group!(benches, symmetric, asymmetric);
criterion_main!(benches);
