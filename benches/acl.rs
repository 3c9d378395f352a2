//! One ACL decision for a token carrying 50 policies of 20 rules each (exact paths, `*`
//! prefixes, `+` segments and parameter constraints mixed), as the pipeline makes it on
//! every request; and the merge of those policies, which happens once per policy set (the
//! policy store caches merged ACLs until a policy changes).

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Map, Value};

fn policies() -> Vec<(String, String)> {
    (0..50)
        .map(|p| {
            let mut text = String::new();
            for r in 0..20 {
                let rule = match r % 5 {
                    0 => format!("path \"team{p}/app{r}/config\" {{\n capabilities = [\"read\"]\n}}\n"),
                    1 => format!("path \"team{p}/app{r}/*\" {{\n capabilities = [\"read\", \"list\"]\n}}\n"),
                    2 => format!("path \"team{p}/+/db{r}\" {{\n capabilities = [\"update\"]\n}}\n"),
                    3 => format!(
                        "path \"team{p}/app{r}/params\" {{\n capabilities = [\"update\"]\n allowed_parameters = {{ \"env\" = [\"prod-*\", \"dev\"] }}\n}}\n"
                    ),
                    _ => format!("path \"kv/data/team{p}/+/secret{r}/*\" {{\n capabilities = [\"read\", \"create\"]\n}}\n"),
                };
                text.push_str(&rule);
            }
            (format!("policy-{p}"), text)
        })
        .collect()
}

fn acl(c: &mut Criterion) {
    let set = policies();
    let acl = coffer::acl_bench::build(&set).expect("policies parse");
    let empty = Map::new();
    let params: Map<String, Value> = match json!({"env": "prod-eu"}) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut group = c.benchmark_group("acl_50x20");
    group.bench_function("exact_read", |b| {
        b.iter(|| assert!(acl.allows("read", "team25/app10/config", &empty)))
    });
    group.bench_function("prefix_list", |b| {
        b.iter(|| assert!(acl.allows("list", "team25/app11/sub/", &empty)))
    });
    group.bench_function("segment_update", |b| {
        b.iter(|| assert!(acl.allows("update", "team25/anything/db12", &empty)))
    });
    group.bench_function("kv_v2_segment_glob_read", |b| {
        b.iter(|| assert!(acl.allows("read", "kv/data/team25/x/secret14/a/b", &empty)))
    });
    group.bench_function("parameters_update", |b| {
        b.iter(|| assert!(acl.allows("update", "team25/app13/params", &params)))
    });
    group.bench_function("denied_miss", |b| {
        b.iter(|| assert!(!acl.allows("delete", "other/path/entirely", &empty)))
    });
    group.bench_function("parse_and_merge_50_policies", |b| {
        b.iter(|| coffer::acl_bench::build(&set).expect("parse"))
    });
    group.finish();
}

criterion_group!(benches, acl);
criterion_main!(benches);
