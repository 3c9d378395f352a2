//! What one run measured, the table printed at the end, the targets of issue 3 item 8 (and
//! the login ones of issue 5 item 8), and
//! the same as JSON.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::cpu::Shares;
use crate::load::{CellResult, Op, READ_KEYS};
use crate::server::Kind;

/// The concurrencies every operation runs at.
pub const CONCURRENCY: [usize; 3] = [1, 16, 64];

/// One server's part of the run.
pub struct ServerRun {
    pub kind: Kind,
    pub bin: String,
    pub version: Option<String>,
    /// The server could not be started or initialized: nothing was measured.
    pub setup_error: Option<String>,
    /// KV v2 could not be mounted: the KV cells and the loaded memory were skipped.
    pub kv_error: Option<String>,
    /// `true` for the non-root `bench` token, `false` for the root token.
    pub non_root: bool,
    /// Why the non-root token could not be made here, if it could not.
    pub token_error: Option<String>,
    /// `(op, concurrency, result or why it was skipped)`.
    pub cells: Vec<(Op, usize, Result<CellResult, String>)>,
    pub rss_idle_kib: Result<u64, String>,
    pub rss_loaded_kib: Result<u64, String>,
    /// Distinct secrets stored when `rss_loaded_kib` was read, and failed writes on the way.
    pub secrets_stored: u64,
    pub secrets_failed: u64,
    /// How the machine's CPU was shared from the first cell to the last.
    pub cpu: Option<Shares>,
}

impl ServerRun {
    pub fn new(kind: Kind, bin: String) -> ServerRun {
        ServerRun {
            kind,
            bin,
            version: None,
            setup_error: None,
            kv_error: None,
            non_root: false,
            token_error: None,
            cells: Vec::new(),
            rss_idle_kib: Err("not measured".into()),
            rss_loaded_kib: Err("not measured".into()),
            secrets_stored: 0,
            secrets_failed: 0,
            cpu: None,
        }
    }

    pub fn cell(&self, op: Op, c: usize) -> Option<&Result<CellResult, String>> {
        self.cells
            .iter()
            .find(|(o, cc, _)| *o == op && *cc == c)
            .map(|(_, _, r)| r)
    }

    /// The cell if it ran without a single error.
    fn clean(&self, op: Op, c: usize) -> Option<&CellResult> {
        match self.cell(op, c)? {
            Ok(r) if r.errors == 0 && r.ok > 0 => Some(r),
            _ => None,
        }
    }
}

/// Picks one memory reading out of a run.
type MemReading = fn(&ServerRun) -> &Result<u64, String>;

/// Settings and context the header reports.
pub struct Context {
    pub cores: usize,
    pub cpu: String,
    pub cell_secs: f64,
    pub warmup_secs: f64,
    pub client_threads: usize,
    pub secrets: usize,
    pub only: Option<Kind>,
    /// One line on which token both servers used, and why.
    pub token_note: String,
    pub token_non_root: bool,
}

fn ms(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.3}")
    } else if ms < 1000.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn ratio(x: Option<f64>) -> String {
    match x {
        Some(r) if r.is_finite() => format!("{r:.2}x"),
        _ => "-".to_owned(),
    }
}

/// `Coffer / OpenBao` req/s, and `OpenBao / Coffer` p99, of two clean cells.
fn cell_ratios(a: Option<&CellResult>, b: Option<&CellResult>) -> (Option<f64>, Option<f64>) {
    match (a, b) {
        (Some(a), Some(b)) => {
            let rps = (b.rps() > 0.0).then(|| a.rps() / b.rps());
            let p99 = (a.p99_us > 0).then(|| b.p99_us as f64 / a.p99_us as f64);
            (rps, p99)
        }
        _ => (None, None),
    }
}

/// Three table columns for one server's cell: req/s, p50, p99.
fn cell_cols(run: Option<&ServerRun>, op: Op, c: usize) -> [String; 3] {
    match run.and_then(|r| r.cell(op, c)) {
        None => ["not run".into(), "".into(), "".into()],
        Some(Err(_)) => ["skipped*".into(), "".into(), "".into()],
        Some(Ok(r)) if r.ok == 0 => ["ERR*".into(), "".into(), "".into()],
        Some(Ok(r)) => {
            let mark = if r.errors > 0 { "*" } else { "" };
            [format!("{:.0}{mark}", r.rps()), ms(r.p50_us), ms(r.p99_us)]
        }
    }
}

pub struct Target {
    pub name: String,
    /// `None`: could not be judged, with the reason in `note`.
    pub pass: Option<bool>,
    pub measured: Option<f64>,
    pub required: f64,
    pub note: String,
}

/// The targets of issue 3 item 8, and the login ones of issue 5 item 8.
pub fn targets(
    coffer: Option<&ServerRun>,
    openbao: Option<&ServerRun>,
    secrets: u64,
) -> Vec<Target> {
    let mut out = Vec::new();
    let missing = |what: &str| -> String {
        match (coffer, openbao) {
            (None, _) => "Coffer not run".into(),
            (_, None) => "OpenBao not run".into(),
            _ => format!("{what} missing or had errors"),
        }
    };
    let (token_rps, _) = cell_ratios(
        coffer.and_then(|r| r.clean(Op::TokenCreate, 16)),
        openbao.and_then(|r| r.clean(Op::TokenCreate, 16)),
    );
    out.push(Target {
        name: "token create (non-root caller) req/s at c=16 >= 10x OpenBao's".into(),
        pass: token_rps.map(|r| r >= 10.0),
        measured: token_rps,
        required: 10.0,
        note: if token_rps.is_some() {
            String::new()
        } else {
            missing("token create c=16")
        },
    });
    for op in Op::LOGINS {
        let (rps, _) = cell_ratios(
            coffer.and_then(|r| r.clean(op, 16)),
            openbao.and_then(|r| r.clean(op, 16)),
        );
        out.push(Target {
            name: format!("{} req/s at c=16 >= 5x OpenBao's (issue 5)", op.name()),
            pass: rps.map(|r| r >= 5.0),
            measured: rps,
            required: 5.0,
            note: if rps.is_some() {
                String::new()
            } else {
                missing(&format!("{} c=16", op.name()))
            },
        });
    }
    for (op, required) in [(Op::TransitEncrypt, 10.0), (Op::TransitBatch, 1.0)] {
        let (rps, _) = cell_ratios(
            coffer.and_then(|r| r.clean(op, 16)),
            openbao.and_then(|r| r.clean(op, 16)),
        );
        out.push(Target {
            name: match op {
                Op::TransitEncrypt => {
                    "transit encrypt (1 KiB) req/s at c=16 >= 10x OpenBao's (issue 6)".into()
                }
                _ => "transit batch (1,000 items) req/s at c=16, measured beside OpenBao (issue 6)"
                    .into(),
            },
            pass: rps.map(|r| r >= required),
            measured: rps,
            required,
            note: if rps.is_some() {
                String::new()
            } else {
                missing(&format!("{} c=16", op.name()))
            },
        });
    }
    for (op, what) in [(Op::Read, "read"), (Op::Write, "write")] {
        for c in [16, 64] {
            let (rps, _) = cell_ratios(
                coffer.and_then(|r| r.clean(op, c)),
                openbao.and_then(|r| r.clean(op, c)),
            );
            out.push(Target {
                name: format!("KV v2 {what} req/s at c={c} >= 10x OpenBao's"),
                pass: rps.map(|r| r >= 10.0),
                measured: rps,
                required: 10.0,
                note: if rps.is_some() {
                    String::new()
                } else {
                    missing(&format!("{} c={c}", op.name()))
                },
            });
        }
    }
    for op in [Op::Health, Op::Write, Op::Read] {
        let (_, p99) = cell_ratios(
            coffer.and_then(|r| r.clean(op, 64)),
            openbao.and_then(|r| r.clean(op, 64)),
        );
        out.push(Target {
            name: format!("{} p99 at c=64 <= 1/5 of OpenBao's", op.name()),
            pass: p99.map(|r| r >= 5.0),
            measured: p99,
            required: 5.0,
            note: if p99.is_some() {
                String::new()
            } else {
                missing(&format!("{} c=64", op.name()))
            },
        });
    }
    let mem = match (
        coffer.map(|r| &r.rss_loaded_kib),
        openbao.map(|r| &r.rss_loaded_kib),
    ) {
        (Some(Ok(a)), Some(Ok(b))) if *a > 0 => Some(*b as f64 / *a as f64),
        _ => None,
    };
    out.push(Target {
        name: format!("resident memory after {secrets} secrets <= 1/5 of OpenBao's"),
        pass: mem.map(|r| r >= 5.0),
        measured: mem,
        required: 5.0,
        note: if mem.is_some() {
            String::new()
        } else {
            missing("loaded memory")
        },
    });
    out
}

fn header(ctx: &Context, runs: &[ServerRun]) -> String {
    let mut s = String::new();
    let run = |k: Kind| runs.iter().find(|r| r.kind == k);
    let _ = writeln!(
        s,
        "Coffer vs OpenBao: end-to-end load over loopback HTTP/1.1"
    );
    let _ = writeln!(
        s,
        "  machine    {} cores ({}), shared by the load generator and the server under test",
        ctx.cores, ctx.cpu
    );
    let _ = writeln!(
        s,
        "  servers    run one after the other under the same load, never at the same time"
    );
    for kind in [Kind::Coffer, Kind::OpenBao] {
        let desc = match run(kind) {
            None => "not run (LOAD_ONLY)".to_owned(),
            Some(r) => {
                let storage = match kind {
                    Kind::Coffer => "storage \"rocksdb\" (single node; Coffer has no replication yet, so no raft)",
                    Kind::OpenBao => "storage \"raft\" (integrated storage, single node)",
                };
                format!(
                    "version {}, {storage}; {}",
                    r.version.as_deref().unwrap_or("version unknown"),
                    r.bin
                )
            }
        };
        let _ = writeln!(s, "  {:<10} {desc}", kind.title());
    }
    let _ = writeln!(
        s,
        "  config     the same HCL apart from storage: listener \"tcp\" on 127.0.0.1 (tls_disable), \
         api_addr, cluster_addr, disable_mlock, seal \"static\" (self-unsealing)"
    );
    let _ = writeln!(s, "  token      {}", ctx.token_note);
    for r in runs {
        if let Some(c) = r.cpu {
            let warn = if c.other > 0.05 {
                "  WARNING: other work on the machine disturbed this run"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "  cpu        {} run, first cell to last: server {:.0}%, load generator {:.0}%, \
                 other processes {:.0}% of all {} cores{warn}",
                r.kind.title(),
                c.server * 100.0,
                c.generator * 100.0,
                c.other * 100.0,
                ctx.cores
            );
        }
    }
    let _ = writeln!(
        s,
        "  load       Rust: tokio ({} thread{}) + hyper, one keep-alive connection per concurrent \
         worker; each cell {:.1} s warm-up, then {:.1} s measured, every latency recorded",
        ctx.client_threads,
        if ctx.client_threads == 1 { "" } else { "s" },
        ctx.warmup_secs,
        ctx.cell_secs
    );
    for op in Op::ALL {
        let _ = writeln!(s, "  {:<14} {}", op.name(), op.describe());
    }
    let top_up = ctx.secrets.saturating_sub(READ_KEYS);
    let _ = writeln!(
        s,
        "  order      per server: sys/health cells; prefill the {READ_KEYS} read keys (c=64); kv2 \
         read cells; top up to {} secrets; kv2 write cells; token create cells; approle login \
         cells; userpass login cells",
        ctx.secrets.max(READ_KEYS)
    );
    let _ = writeln!(
        s,
        "  memory     VmRSS of the server process: idle (right after setup), and after {} distinct \
         secrets = the {READ_KEYS} read keys + {top_up} more (c=64, 100-character values), \
         written after the read cells and before the write cells",
        ctx.secrets.max(READ_KEYS)
    );
    let _ = writeln!(
        s,
        "  ratios     oriented so that more is better for Coffer: req/s Coffer/OpenBao, \
         p99 OpenBao/Coffer, memory OpenBao/Coffer"
    );
    s
}

/// The whole report as printed.
pub fn render(ctx: &Context, runs: &[ServerRun], targets: &[Target]) -> String {
    let run = |k: Kind| runs.iter().find(|r| r.kind == k);
    let (coffer, openbao) = (run(Kind::Coffer), run(Kind::OpenBao));
    let mut s = header(ctx, runs);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<14} {:>3} | {:>13} {:>8} {:>8} | {:>13} {:>8} {:>8} | {:>12} {:>12}",
        "op",
        "c",
        "Coffer req/s",
        "p50 ms",
        "p99 ms",
        "OpenBao req/s",
        "p50 ms",
        "p99 ms",
        "ratio(req/s)",
        "ratio(p99 O/C)"
    );
    let _ = writeln!(s, "{}", "-".repeat(115));
    for op in Op::ALL {
        for c in CONCURRENCY {
            let a = cell_cols(coffer, op, c);
            let b = cell_cols(openbao, op, c);
            let (rps, p99) = cell_ratios(
                coffer.and_then(|r| r.clean(op, c)),
                openbao.and_then(|r| r.clean(op, c)),
            );
            let _ = writeln!(
                s,
                "{:<14} {:>3} | {:>13} {:>8} {:>8} | {:>13} {:>8} {:>8} | {:>12} {:>12}",
                op.name(),
                c,
                a[0],
                a[1],
                a[2],
                b[0],
                b[1],
                b[2],
                ratio(rps),
                ratio(p99)
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<32} {:>12} {:>12} {:>20}",
        "resident memory (VmRSS)", "Coffer", "OpenBao", "ratio(OpenBao/Coffer)"
    );
    let _ = writeln!(s, "{}", "-".repeat(79));
    let secrets = ctx.secrets.max(READ_KEYS);
    let mem_rows: [(String, MemReading); 2] = [
        ("idle, after setup".into(), |r| &r.rss_idle_kib),
        (format!("after {secrets} secrets"), |r| &r.rss_loaded_kib),
    ];
    for (label, get) in mem_rows {
        let col = |r: Option<&ServerRun>| match r.map(get) {
            None => "not run".to_owned(),
            Some(Ok(k)) => mib(*k),
            Some(Err(_)) => "skipped*".to_owned(),
        };
        let r = match (coffer.map(get), openbao.map(get)) {
            (Some(Ok(a)), Some(Ok(b))) if *a > 0 => Some(*b as f64 / *a as f64),
            _ => None,
        };
        let _ = writeln!(
            s,
            "{label:<32} {:>12} {:>12} {:>20}",
            col(coffer),
            col(openbao),
            ratio(r)
        );
    }

    let mut notes = Vec::new();
    for r in runs {
        let who = r.kind.title();
        if let Some(e) = &r.setup_error {
            notes.push(format!("{who}: setup failed, nothing measured: {e}"));
            continue;
        }
        if let Some(e) = &r.kv_error {
            notes.push(format!(
                "{who}: KV v2 unavailable, KV cells and loaded memory skipped: {e}"
            ));
        }
        for (op, c, cell) in &r.cells {
            match cell {
                Err(e) if r.kv_error.is_none() => {
                    notes.push(format!("{who} {} c={c}: skipped: {e}", op.name()))
                }
                Ok(res) if res.errors > 0 => notes.push(format!(
                    "{who} {} c={c}: {} errors beside {} successes (req/s counts successes only); first: {}",
                    op.name(),
                    res.errors,
                    res.ok,
                    res.first_error.as_deref().unwrap_or("?")
                )),
                _ => {}
            }
        }
        if r.secrets_failed > 0 {
            notes.push(format!(
                "{who}: {} secret writes failed while filling; {} stored",
                r.secrets_failed, r.secrets_stored
            ));
        }
        for (label, m) in [("idle", &r.rss_idle_kib), ("loaded", &r.rss_loaded_kib)] {
            if let Err(e) = m {
                if r.kv_error.is_none() || label == "idle" {
                    notes.push(format!("{who}: {label} memory not measured: {e}"));
                }
            }
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "* errors and skips");
        for n in notes {
            let _ = writeln!(s, "  {n}");
        }
    }

    let _ = writeln!(s);
    let _ = writeln!(s, "targets (issue 3 item 8; logins: issue 5 item 8)");
    for t in targets {
        let status = match t.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a ",
        };
        let detail = match t.measured {
            Some(m) => format!("measured {m:.2}x, needs >= {:.0}x", t.required),
            None => t.note.clone(),
        };
        let _ = writeln!(s, "  {status}  {:<58} {detail}", t.name);
    }
    s
}

fn cell_json(r: &Result<CellResult, String>) -> Value {
    match r {
        Ok(c) => json!({
            "rps": (c.rps() * 10.0).round() / 10.0,
            "p50_us": c.p50_us,
            "p99_us": c.p99_us,
            "ok": c.ok,
            "errors": c.errors,
            "first_error": c.first_error,
            "secs": c.secs,
        }),
        Err(e) => json!({ "skipped": e }),
    }
}

fn server_json(r: &ServerRun) -> Value {
    let mem = |m: &Result<u64, String>| match m {
        Ok(k) => json!(k),
        Err(_) => Value::Null,
    };
    json!({
        "binary": r.bin,
        "version": r.version,
        "storage": r.kind.storage(),
        "setup_error": r.setup_error,
        "kv_error": r.kv_error,
        "token": if r.non_root { "non-root" } else { "root" },
        "token_error": r.token_error,
        "rss_idle_kib": mem(&r.rss_idle_kib),
        "rss_loaded_kib": mem(&r.rss_loaded_kib),
        "secrets_stored": r.secrets_stored,
        "secrets_failed": r.secrets_failed,
        "cpu_share": r.cpu.map(|c| json!({
            "server": c.server,
            "load_generator": c.generator,
            "other": c.other,
        })),
        "cells": r.cells.iter().map(|(op, c, cell)| {
            let mut v = cell_json(cell);
            v["op"] = json!(op.name());
            v["c"] = json!(c);
            v
        }).collect::<Vec<_>>(),
    })
}

pub fn to_json(ctx: &Context, runs: &[ServerRun], targets: &[Target]) -> Value {
    let run = |k: Kind| runs.iter().find(|r| r.kind == k);
    let (coffer, openbao) = (run(Kind::Coffer), run(Kind::OpenBao));
    let mut rows = Vec::new();
    for op in Op::ALL {
        for c in CONCURRENCY {
            let (rps, p99) = cell_ratios(
                coffer.and_then(|r| r.clean(op, c)),
                openbao.and_then(|r| r.clean(op, c)),
            );
            rows.push(json!({
                "op": op.name(),
                "request": op.describe(),
                "c": c,
                "ratio_rps_coffer_over_openbao": rps,
                "ratio_p99_openbao_over_coffer": p99,
            }));
        }
    }
    let mut servers = serde_json::Map::new();
    for r in runs {
        servers.insert(r.kind.name().to_owned(), server_json(r));
    }
    json!({
        "bench": "benches/load",
        "machine": {
            "cores": ctx.cores,
            "cpu": ctx.cpu,
            "note": "load generator and server share these cores; the servers run one after the other",
        },
        "cell_secs": ctx.cell_secs,
        "warmup_secs": ctx.warmup_secs,
        "client_threads": ctx.client_threads,
        "secrets": ctx.secrets.max(READ_KEYS),
        "read_keys": READ_KEYS,
        "only": ctx.only.map(Kind::name),
        "token": {
            "kind": if ctx.token_non_root { "non-root" } else { "root" },
            "note": ctx.token_note,
        },
        "servers": servers,
        "rows": rows,
        "targets": targets.iter().map(|t| json!({
            "name": t.name,
            "status": match t.pass { Some(true) => "PASS", Some(false) => "MISS", None => "n/a" },
            "measured": t.measured,
            "required": t.required,
            "note": t.note,
        })).collect::<Vec<_>>(),
    })
}
