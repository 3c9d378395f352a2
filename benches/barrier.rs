//! The barrier's cipher: sealing and opening one stored value, 100 B to 64 KiB.
//!
//! This is exactly the work `barrier::Barrier` does per storage operation: the keyring's
//! active term, AES-256-GCM, the storage path as AAD.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use seal::{Key, Keyring};

fn barrier(c: &mut Criterion) {
    let keyring = Keyring::new(Key::generate());
    let path = "logical/6f1c1f52-2f6e-4d3e-9d64-0e8f3b7c9a10/data/app/db";
    let mut group = c.benchmark_group("barrier");
    for size in [100usize, 1024, 4096, 16 * 1024, 64 * 1024] {
        let plaintext = vec![0x5a_u8; size];
        let sealed = keyring.encrypt(path, &plaintext);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &plaintext, |b, pt| {
            b.iter(|| keyring.encrypt(path, pt));
        });
        group.bench_with_input(BenchmarkId::new("open", size), &sealed, |b, ct| {
            b.iter(|| keyring.decrypt(path, ct).expect("open"));
        });
    }
    group.finish();
}

criterion_group!(benches, barrier);
criterion_main!(benches);
