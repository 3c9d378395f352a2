//! Data-driven path tables: each engine declares its paths once, as a static table of typed
//! routes, and [`PathTable`] compiles it with `matchit`.
//!
//! Static segments take priority over captures, and two rows that would match the same path
//! are a build error, so the order of rows never matters (unlike OpenBao's ordered regexes).

use std::fmt;

use bitflags::bitflags;

use crate::logical::Operation;

bitflags! {
    /// The operations a path accepts; any other answers 405 "unsupported operation".
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct Ops: u8 {
        const READ = 1;
        const LIST = 1 << 1;
        const CREATE = 1 << 2;
        const UPDATE = 1 << 3;
        const PATCH = 1 << 4;
        const DELETE = 1 << 5;
        /// Create and update: a POST/PUT that the existence check may turn into either.
        const WRITE = Self::CREATE.bits() | Self::UPDATE.bits();
        /// Every operation.
        const ALL = Self::READ.bits()
            | Self::LIST.bits()
            | Self::WRITE.bits()
            | Self::PATCH.bits()
            | Self::DELETE.bits();
    }
}

impl Ops {
    pub(crate) fn allows(self, op: Operation) -> bool {
        self.contains(match op {
            Operation::Read => Ops::READ,
            Operation::List => Ops::LIST,
            Operation::Create => Ops::CREATE,
            Operation::Update => Ops::UPDATE,
            Operation::Patch => Ops::PATCH,
            Operation::Delete => Ops::DELETE,
        })
    }
}

bitflags! {
    /// What the pipeline must do around a path, besides calling the handler.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) struct Flags: u8 {
        /// No token needed (logins).
        const UNAUTHENTICATED = 1;
        /// Needs `sudo` (OpenBao's "root paths").
        const ROOT = 1 << 1;
        /// Create vs update is decided by asking the engine whether the item exists.
        const EXISTENCE_CHECK = 1 << 2;
        /// Legacy `sys/` answers that also copy `data` to the top level of the body.
        const DATA_AT_TOP_LEVEL = 1 << 3;
        /// Served without a token too (with less in the answer), but a token that is sent
        /// must be valid.
        const TOKEN_OPTIONAL = 1 << 4;
    }
}

/// One row of a path table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Path<R: 'static> {
    /// `matchit` syntax without the leading `/`: `config`, `data/{*path}`, `keys/{name}`.
    pub(crate) pattern: &'static str,
    /// A trailing catch-all that may also be empty, so the bare folder (`metadata/`) matches
    /// with an empty capture: how list roots are served (OpenBao's `.*` against `.+`).
    pub(crate) empty_ok: bool,
    pub(crate) route: R,
    pub(crate) ops: Ops,
    pub(crate) flags: Flags,
    /// The request fields the path understands; others earn OpenBao's "ignored these
    /// unrecognized parameters" warning. `None` accepts anything silently (KV v1 values).
    pub(crate) fields: Option<&'static [&'static str]>,
    pub(crate) help: &'static str,
}

impl<R: Copy> Path<R> {
    pub(crate) const fn new(pattern: &'static str, route: R) -> Self {
        Self {
            pattern,
            empty_ok: false,
            route,
            ops: Ops::empty(),
            flags: Flags::empty(),
            fields: None,
            help: "",
        }
    }

    /// Let the trailing catch-all be empty (see [`Path::empty_ok`]).
    pub(crate) const fn or_empty(mut self) -> Self {
        self.empty_ok = true;
        self
    }

    pub(crate) const fn ops(mut self, ops: Ops) -> Self {
        self.ops = ops;
        self
    }

    pub(crate) const fn flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }

    pub(crate) const fn fields(mut self, fields: &'static [&'static str]) -> Self {
        self.fields = Some(fields);
        self
    }

    pub(crate) const fn help(mut self, help: &'static str) -> Self {
        self.help = help;
        self
    }
}

/// The captures of a matched path, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// A capture by name; an absent one (a list root) is the empty string.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A table that two rows claim the same paths in.
#[derive(Debug)]
pub(crate) struct TableError(String);

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TableError {}

/// A compiled table.
pub(crate) struct PathTable<R: 'static> {
    rows: &'static [Path<R>],
    router: matchit::Router<usize>,
}

impl<R: Copy> PathTable<R> {
    /// Compile `rows`; conflicting patterns are an error naming both.
    pub(crate) fn build(rows: &'static [Path<R>]) -> Result<Self, TableError> {
        let mut router = matchit::Router::new();
        for (i, row) in rows.iter().enumerate() {
            let mut patterns = vec![format!("/{}", row.pattern)];
            if row.empty_ok {
                let folder = row.pattern.strip_suffix_catch_all().ok_or_else(|| {
                    TableError(format!(
                        "path {:?} may be empty but has no trailing catch-all",
                        row.pattern
                    ))
                })?;
                patterns.push(format!("/{folder}"));
            }
            for pattern in patterns {
                router
                    .insert(&pattern, i)
                    .map_err(|e| TableError(format!("path {:?} conflicts: {e}", row.pattern)))?;
            }
        }
        Ok(Self { rows, router })
    }

    /// The row serving `path` (relative to the mount), its index in the table, and its
    /// captures.
    pub(crate) fn lookup(&self, path: &str) -> Option<(usize, &'static Path<R>, Params)> {
        let full = format!("/{path}");
        let m = self.router.at(&full).ok()?;
        let params = m
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Some((*m.value, &self.rows[*m.value], Params(params)))
    }
}

impl<R: Copy> PathTable<R> {
    /// The route of row `index` (as returned by [`PathTable::lookup`]).
    pub(crate) fn route(&self, index: usize) -> R {
        self.rows[index].route
    }
}

trait CatchAll {
    /// `data/{*path}` → `data/`; `None` for a pattern that does not end in a catch-all.
    fn strip_suffix_catch_all(&self) -> Option<&str>;
}

impl CatchAll for str {
    fn strip_suffix_catch_all(&self) -> Option<&str> {
        let start = self.rfind("{*")?;
        (self.ends_with('}') && (start == 0 || self[..start].ends_with('/')))
            .then(|| &self[..start])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum R {
        Config,
        Data,
        Key,
    }

    static ROWS: &[Path<R>] = &[
        Path::new("config", R::Config).ops(Ops::READ),
        Path::new("data/{*path}", R::Data)
            .or_empty()
            .ops(Ops::READ.union(Ops::LIST)),
        Path::new("keys/{name}", R::Key).ops(Ops::READ),
    ];

    #[test]
    fn static_segments_and_captures() {
        let t = PathTable::build(ROWS).expect("build");
        let (_, row, _) = t.lookup("config").expect("config");
        assert_eq!(row.route, R::Config);
        let (_, row, p) = t.lookup("data/a/b/c").expect("data");
        assert_eq!((row.route, p.get("path")), (R::Data, "a/b/c"));
        let (_, row, p) = t.lookup("data/").expect("list root");
        assert_eq!((row.route, p.get("path")), (R::Data, ""));
        let (_, row, p) = t.lookup("keys/k1").expect("key");
        assert_eq!((row.route, p.get("name")), (R::Key, "k1"));
        assert!(t.lookup("keys/k1/extra").is_none());
        assert!(t.lookup("nope").is_none());
        assert!(
            t.lookup("keys/").is_none(),
            "a capture is not empty unless allowed"
        );
        assert!(t.lookup("").is_none());
    }

    #[test]
    fn conflicting_rows_fail_to_build() {
        static BAD: &[Path<R>] = &[
            Path::new("keys/{name}", R::Key),
            Path::new("keys/{other}", R::Config),
        ];
        assert!(PathTable::build(BAD).is_err());
    }

    #[test]
    fn ops_cover_create_and_update_as_write() {
        assert!(Ops::WRITE.allows(Operation::Create));
        assert!(Ops::WRITE.allows(Operation::Update));
        assert!(!Ops::WRITE.allows(Operation::Patch));
    }
}
