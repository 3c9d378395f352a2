//! RocksBackend beyond the conformance suite: reopening, the directory lock and header, and
//! what survives `kill -9`.
//!
//! The crash tests need a second process. They re-run this test binary with
//! `--exact child_process` and an environment variable naming the child's role; without that
//! variable `child_process` is an empty test.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use storage::ondisk::{FORMAT_VERSION, HEADER_FILE, LOCK_FILE};
use storage::{Backend, Batch, Condition, Error, Op, RocksBackend};

const ROLE_ENV: &str = "COFFER_STORAGE_TEST_CHILD";
const DIR_ENV: &str = "COFFER_STORAGE_TEST_DIR";
/// A child left behind by a failed parent stops on its own after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(120);

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_after_drop_keeps_data() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("data");
    {
        let b = RocksBackend::open(&path).expect("open");
        b.put("a/one", b"1".to_vec()).await.expect("put");
        let batch = Batch {
            conditions: vec![Condition::Absent("a/two".into())],
            ops: vec![
                Op::Put("a/two".into(), b"2".to_vec()),
                Op::Put("b".into(), Vec::new()),
            ],
        };
        b.batch(batch).await.expect("batch");
        b.put("gone", b"x".to_vec()).await.expect("put");
        b.delete("gone").await.expect("delete");
        let clone = b.clone(); // clones share the database; dropping both closes it
        drop(b);
        assert_eq!(
            clone.get("b").await.expect("get via clone"),
            Some(Vec::new())
        );
    }
    let b = RocksBackend::open(&path).expect("reopen after drop");
    assert_eq!(b.get("a/one").await.expect("get"), Some(b"1".to_vec()));
    assert_eq!(b.get("a/two").await.expect("get"), Some(b"2".to_vec()));
    assert_eq!(b.get("gone").await.expect("get"), None);
    assert_eq!(
        b.list("").await.expect("list"),
        vec!["a/".to_owned(), "b".to_owned()]
    );
}

#[test]
fn second_open_is_refused_naming_the_holder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = RocksBackend::open(tmp.path()).expect("first open");
    let err = RocksBackend::open(tmp.path()).expect_err("second open must fail");
    let Error::Locked { path, holder } = &err else {
        panic!("want Locked, got {err:?}")
    };
    assert_eq!(path, tmp.path());
    assert_eq!(
        holder,
        &format!("pid {} on host {}", std::process::id(), hostname())
    );
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("pid {}", std::process::id())),
        "{shown}"
    );
    assert!(shown.contains(&hostname()), "{shown}");

    drop(first);
    RocksBackend::open(tmp.path()).expect("open after the holder is dropped");
}

#[test]
fn newer_or_half_upgraded_format_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    drop(RocksBackend::open(tmp.path()).expect("create"));
    let header_path = tmp.path().join(HEADER_FILE);
    let header: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&header_path).expect("read header")).expect("json");
    assert_eq!(header["format_version"], FORMAT_VERSION);
    assert_eq!(header["upgrading"], false);

    let newer = FORMAT_VERSION + 1;
    std::fs::write(&header_path, format!(r#"{{"format_version":{newer}}}"#)).expect("write");
    let err = RocksBackend::open(tmp.path()).expect_err("newer format");
    assert!(
        matches!(err, Error::UnsupportedFormat { found, supported, .. } if found == newer && supported == FORMAT_VERSION),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("format version {newer}")),
        "{err}"
    );

    std::fs::write(
        &header_path,
        r#"{"format_version":1,"created":"","upgrading":true}"#,
    )
    .expect("write");
    let err = RocksBackend::open(tmp.path()).expect_err("interrupted upgrade");
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("upgrad")),
        "{err:?}"
    );
}

#[test]
fn database_without_header_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    drop(RocksBackend::open(tmp.path()).expect("create"));
    std::fs::remove_file(tmp.path().join(HEADER_FILE)).expect("remove header");
    let err = RocksBackend::open(tmp.path()).expect_err("db without header");
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
}

/// The lock held by a `kill -9`'d server disappears with it: flock is released by the kernel.
#[test]
fn lock_of_a_killed_process_is_released() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut child, mut out) = spawn_child("hold-lock", tmp.path());
    wait_for_line(&mut out, "locked");

    let err = RocksBackend::open(tmp.path()).expect_err("the child holds the lock");
    let Error::Locked { holder, .. } = &err else {
        panic!("want Locked, got {err:?}")
    };
    assert_eq!(
        holder,
        &format!("pid {} on host {}", child.0.id(), hostname())
    );
    let on_disk = std::fs::read_to_string(tmp.path().join(LOCK_FILE)).expect("lock file");
    assert_eq!(on_disk.trim(), holder, "the lock file names the holder");

    child.kill9();
    let b = RocksBackend::open(tmp.path()).expect("lock released when its holder died");
    drop(b);
}

/// Every write acknowledged before `kill -9` is there after reopening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    const KILL_AFTER: usize = 300;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut child, out) = spawn_child("write", tmp.path());

    let mut lines = BufReader::new(out).lines();
    let mut acked: BTreeMap<String, String> = BTreeMap::new();
    while acked.len() < KILL_AFTER {
        let line = lines
            .next()
            .expect("child exited early")
            .expect("read child");
        if let Some((key, value)) = parse_ack(&line) {
            acked.insert(key, value);
        }
    }
    child.kill9();
    // Whatever the child printed before it died is still in the pipe.
    for line in lines {
        if let Some((key, value)) = parse_ack(&line.expect("read child")) {
            acked.insert(key, value);
        }
    }

    let b = RocksBackend::open(tmp.path()).expect("reopen after kill -9");
    for (key, value) in &acked {
        let got = b.get(key).await.expect("get");
        assert_eq!(
            got.as_deref(),
            Some(value.as_bytes()),
            "acknowledged {key} lost"
        );
    }
    eprintln!("{} acknowledged writes all survived kill -9", acked.len());
}

fn parse_ack(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("acked ")?;
    let (key, value) = rest.split_once(' ')?;
    Some((key.to_owned(), value.to_owned()))
}

/// Not a timing assertion: prints how much group commit saves. Run with
/// `cargo test -p coffer-storage --test rocks -- --ignored --nocapture group_commit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, not a check"]
async fn group_commit_measurement() {
    const N: usize = 64;
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = Arc::new(RocksBackend::open(tmp.path()).expect("open"));

    let start = Instant::now();
    for i in 0..N {
        b.put(&format!("seq/{i}"), vec![0; 64]).await.expect("put");
    }
    let sequential = start.elapsed();

    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let b = Arc::clone(&b);
        tasks.spawn(async move { b.put(&format!("con/{i}"), vec![0; 64]).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task").expect("put");
    }
    let concurrent = start.elapsed();
    eprintln!(
        "{N} synced puts: sequential {sequential:?}, concurrent {concurrent:?} ({:.1}x)",
        sequential.as_secs_f64() / concurrent.as_secs_f64()
    );
}

/// The body of the child processes above; does nothing unless [`ROLE_ENV`] is set.
#[test]
fn child_process() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).expect("child needs a directory"));
    let deadline = Instant::now() + CHILD_LIFETIME;
    match role.as_str() {
        "hold-lock" => {
            let _held = RocksBackend::open(&dir).expect("child open");
            say("locked");
            while Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        "write" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let b = Arc::new(RocksBackend::open(&dir).expect("child open"));
                // Several writers at once, so the kill lands inside group commits too.
                let mut tasks = tokio::task::JoinSet::new();
                for writer in 0..8 {
                    let b = Arc::clone(&b);
                    tasks.spawn(async move {
                        let mut i = 0u64;
                        while Instant::now() < deadline {
                            let key = format!("w{writer}/{i:08}");
                            let value = format!("v{writer}-{i}");
                            b.put(&key, value.clone().into_bytes())
                                .await
                                .expect("child put");
                            say(&format!("acked {key} {value}"));
                            i += 1;
                        }
                    });
                }
                while tasks.join_next().await.is_some() {}
            });
        }
        other => panic!("unknown child role {other}"),
    }
}

/// Write one line straight to fd 1 (not through the test harness's capture) and flush it.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .expect("child stdout");
}

/// Kills the child with SIGKILL when dropped, so a failing test leaves no process behind.
struct ChildGuard(Child);

impl ChildGuard {
    fn kill9(&mut self) {
        // `Child::kill` sends SIGKILL on Unix: no destructors, no flush, like `kill -9`.
        self.0.kill().expect("kill child");
        self.0.wait().expect("reap child");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_child(role: &str, dir: &Path) -> (ChildGuard, ChildStdout) {
    let exe = std::env::current_exe().expect("current test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_ENV, role)
        .env(DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let out = child.stdout.take().expect("child stdout");
    (ChildGuard(child), out)
}

fn wait_for_line(out: &mut ChildStdout, want: &str) {
    let mut reader = BufReader::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read child");
        assert!(n > 0, "child exited before printing {want:?}");
        // libtest may print `test child_process ... ` on the same line before the child's
        // own output, so match the end of the line.
        if line.trim_end().ends_with(want) {
            return;
        }
    }
}
