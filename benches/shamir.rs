//! Shamir over GF(2^8): splitting a 32-byte key into 5 shares and combining 3 of them, the
//! work of `sys/init` and of the last `sys/unseal` call.

use criterion::{criterion_group, criterion_main, Criterion};
use seal::{shamir, Key};

fn shamir_bench(c: &mut Criterion) {
    let key = Key::generate();
    let shares = shamir::split(key.as_bytes(), 5, 3).expect("split");
    let three = shares[..3].to_vec();
    c.bench_function("shamir/split 32B 5-of-3", |b| {
        b.iter(|| shamir::split(key.as_bytes(), 5, 3).expect("split"))
    });
    c.bench_function("shamir/combine 32B 3 shares", |b| {
        b.iter(|| shamir::combine(&three).expect("combine"))
    });
}

criterion_group!(benches, shamir_bench);
criterion_main!(benches);
