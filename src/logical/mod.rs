//! The shared vocabulary of a logical request and its response.
//!
//! A leaf module: it depends on nothing else in this crate, so HTTP, the core pipeline and
//! (later) every engine can speak it without depending on one another.

pub(crate) mod storage;

use serde_json::{Map, Value};

/// What a request asks to do. HTTP verbs map onto these in `http::logical`; POST and PUT
/// arrive as `Update` and the pipeline may turn them into `Create` after an existence check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Operation {
    Read,
    List,
    #[allow(dead_code)] // produced by the existence check once engines are mounted
    Create,
    Update,
    Patch,
    Delete,
}

impl Operation {
    /// The capability name a policy grants for this operation.
    #[allow(dead_code)] // used by the ACL step once policies land
    pub(crate) fn capability(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::List => "list",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
        }
    }
}

/// Request data: the JSON body or the query string, always an object.
pub(crate) type Data = Map<String, Value>;

/// One logical request, as the pipeline sees it.
#[derive(Debug)]
#[allow(dead_code)] // `op` and `data` are read by the engines that follow (the pipeline's step 6)
pub(crate) struct Request {
    pub(crate) op: Operation,
    /// The path below `/v1/`, without a leading slash; list paths end in `/`.
    pub(crate) path: String,
    pub(crate) data: Data,
    /// The client token from `X-Vault-Token` or `Authorization: Bearer`, if any.
    pub(crate) token: Option<String>,
}

/// One logical response; `http::logical` turns it into the Vault envelope.
#[derive(Debug, Default)]
pub(crate) struct Response {
    pub(crate) data: Option<Data>,
    pub(crate) warnings: Vec<String>,
}

impl Response {
    /// True when nothing is to be said: HTTP answers 204.
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_none() && self.warnings.is_empty()
    }
}
