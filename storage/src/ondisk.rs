//! The data directory: its versioned header and its exclusive lock.
//!
//! Owns two files at the top of a data directory and nothing below it:
//! - [`HEADER_FILE`], a small JSON document `{"format_version", "created", "upgrading"}`. It is
//!   written once, atomically, on first open; a version this build does not know is refused
//!   before anything else is read, and `upgrading: true` (left by an interrupted format upgrade)
//!   refuses to open rather than guess which half of the upgrade is on disk.
//! - [`LOCK_FILE`], held with an exclusive `flock(2)` for as long as a [`DataDir`] lives, and
//!   naming its holder (`pid N on host H`) so that a second server can say who is in its way.
//!   The kernel drops a `flock` when its holder dies, so a `kill -9`'d server never leaves a
//!   stale lock behind. It is not RocksDB's own `LOCK` (that one lives inside `db/`).
//!
//! May not touch: the database files (that is [`crate::rocks`]), or anything about what is
//! stored.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The on-disk format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The header's file name inside the data directory.
pub const HEADER_FILE: &str = "coffer.header";
/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "LOCK.coffer";

/// The data directory's header, as stored in [`HEADER_FILE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The format of everything in the directory; see [`FORMAT_VERSION`].
    pub format_version: u32,
    /// When the directory was first opened (RFC 3339, UTC). Informational only.
    #[serde(default)]
    pub created: String,
    /// Set while a format upgrade rewrites the directory; a directory with it set is refused.
    #[serde(default)]
    pub upgrading: bool,
}

/// An open, locked data directory. The lock is held until this value is dropped.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    header: Header,
    created_now: bool,
    // Never read: holding the open file is what holds the `flock`.
    _lock: File,
}

impl DataDir {
    /// Open (creating it with mode 0700 if needed) and lock the data directory at `path`, then
    /// read its header, or write one if the directory has none yet.
    ///
    /// Fails with [`Error::Locked`] if another process holds the directory, with
    /// [`Error::UnsupportedFormat`] if it was written by another format version, and with
    /// [`Error::Corrupt`] if the header is unreadable or marks an interrupted upgrade.
    pub fn open(path: impl AsRef<Path>) -> Result<DataDir> {
        let path = path.as_ref().to_path_buf();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path)
            .map_err(io_err(&path))?;
        // Lock before reading the header so two servers opening a fresh directory at the same
        // moment cannot both write one.
        let lock = lock(&path)?;
        let (header, created_now) = match read_header(&path)? {
            Some(header) => (header, false),
            None => {
                let header = Header {
                    format_version: FORMAT_VERSION,
                    created: now_rfc3339(),
                    upgrading: false,
                };
                write_header(&path, &header)?;
                (header, true)
            }
        };
        Ok(DataDir {
            path,
            header,
            created_now,
            _lock: lock,
        })
    }

    /// The directory's path, as given to [`DataDir::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Whether this open wrote the header, i.e. the directory had never been opened before.
    pub fn created_now(&self) -> bool {
        self.created_now
    }
}

/// Take the exclusive lock on `<dir>/LOCK.coffer` and record ourselves as its holder.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false) // the holder's name must survive until we hold the lock
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    // Called through the trait on purpose: newer std has an inherent `File::try_lock` with a
    // different error type, and our MSRV predates it.
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            // Best effort: the holder may not have written its name yet.
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Error::Locked {
                path: dir.to_path_buf(),
                holder: if holder.is_empty() {
                    "unknown".into()
                } else {
                    holder.to_owned()
                },
            });
        }
        Err(fs4::TryLockError::Error(e)) => return Err(Error::Io { path, source: e }),
    }
    let me = format!("pid {} on host {}\n", std::process::id(), hostname());
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(me.as_bytes()))
        .map_err(io_err(&path))?;
    Ok(file)
}

/// This machine's name, for the lock file. `gethostname(2)` would need `unsafe`, so read what
/// the kernel and the distribution publish instead.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The header at `<dir>/coffer.header`, `None` if there is none yet.
fn read_header(dir: &Path) -> Result<Option<Header>> {
    let path = dir.join(HEADER_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Io { path, source: e }),
    };
    let corrupt = |why: String| Error::Corrupt(format!("{}: {why}", path.display()));
    // Look at the version alone first: a newer format may have changed every other field, and
    // "written by a newer version" is a far more useful message than a parse error.
    let doc: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not JSON: {e}")))?;
    let found = doc
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| corrupt("no numeric format_version".into()))?;
    if found != u64::from(FORMAT_VERSION) {
        return Err(Error::UnsupportedFormat {
            path: dir.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: FORMAT_VERSION,
        });
    }
    let header: Header =
        serde_json::from_value(doc).map_err(|e| corrupt(format!("bad header: {e}")))?;
    if header.upgrading {
        return Err(corrupt(
            "a format upgrade of this directory was interrupted (upgrading: true); \
             restore it from a backup or rerun the upgrade with the version that started it"
                .into(),
        ));
    }
    Ok(Some(header))
}

/// Write `header` so that a crash leaves either no header or the whole new one: write a
/// temporary file, fsync it, rename it over the header, then fsync the directory so the rename
/// itself is durable.
pub(crate) fn write_header(dir: &Path, header: &Header) -> Result<()> {
    let tmp = dir.join(format!("{HEADER_FILE}.tmp"));
    let path = dir.join(HEADER_FILE);
    let mut bytes = serde_json::to_vec_pretty(header)
        .map_err(|e| Error::Corrupt(format!("cannot encode header: {e}")))?;
    bytes.push(b'\n');
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_err(&tmp))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_open_writes_header_and_reopen_reads_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let first = DataDir::open(&dir).expect("first open");
        assert!(first.created_now());
        assert_eq!(first.header().format_version, FORMAT_VERSION);
        let header = first.header().clone();
        drop(first);

        let again = DataDir::open(&dir).expect("reopen");
        assert!(!again.created_now());
        assert_eq!(again.header(), &header);
        assert!(!dir.join(format!("{HEADER_FILE}.tmp")).exists());
        let mode = fs::metadata(&dir).expect("stat").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
    }

    #[test]
    fn second_open_in_process_names_the_holder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let _held = DataDir::open(tmp.path()).expect("first open");
        // flock locks belong to the open file description, so a second open() of the lock
        // file conflicts even inside one process.
        let err = DataDir::open(tmp.path()).expect_err("second open must fail");
        let Error::Locked { holder, .. } = &err else {
            panic!("want Locked, got {err:?}")
        };
        assert_eq!(
            holder,
            &format!("pid {} on host {}", std::process::id(), hostname())
        );
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }

    #[test]
    fn unknown_versions_and_interrupted_upgrades_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let header = tmp.path().join(HEADER_FILE);

        fs::write(&header, br#"{"format_version": 2, "anything": ["new"]}"#).expect("write");
        let err = DataDir::open(tmp.path()).expect_err("newer format");
        assert!(
            matches!(
                err,
                Error::UnsupportedFormat {
                    found: 2,
                    supported: FORMAT_VERSION,
                    ..
                }
            ),
            "{err:?}"
        );

        fs::write(
            &header,
            br#"{"format_version": 1, "created": "", "upgrading": true}"#,
        )
        .expect("write");
        let err = DataDir::open(tmp.path()).expect_err("upgrading");
        assert!(
            matches!(&err, Error::Corrupt(m) if m.contains("upgrading")),
            "{err:?}"
        );

        fs::write(&header, b"not json").expect("write");
        assert!(matches!(DataDir::open(tmp.path()), Err(Error::Corrupt(_))));
    }
}
