//! The shared vocabulary of a logical request and its response.
//!
//! A leaf module: it depends on nothing else in this crate, so HTTP, the core pipeline and
//! every engine can speak it without depending on one another.

pub(crate) mod storage;

use serde_json::{Map, Value};

/// What a request asks to do. HTTP verbs map onto these in `http::logical`; POST and PUT
/// arrive as `Update` and the pipeline may turn them into `Create` after an existence check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Operation {
    Read,
    List,
    Create,
    Update,
    Patch,
    Delete,
}

impl Operation {
    /// Create, update and patch carry a body and may not target a path ending in `/`.
    pub(crate) fn is_write(self) -> bool {
        matches!(
            self,
            Operation::Create | Operation::Update | Operation::Patch
        )
    }
}

/// Request data: the JSON body or the query string, always an object.
pub(crate) type Data = Map<String, Value>;

/// The map of a JSON object built with `json!`; anything else is empty.
pub(crate) fn object(v: Value) -> Data {
    match v {
        Value::Object(m) => m,
        _ => Data::new(),
    }
}

/// go-multierror's text, which OpenBao uses for many errors: `1 error occurred:\n\t* x\n\n`.
pub(crate) fn multierror(errors: &[String]) -> String {
    let head = match errors.len() {
        1 => "1 error occurred:".to_string(),
        n => format!("{n} errors occurred:"),
    };
    let items: String = errors.iter().map(|e| format!("\n\t* {e}")).collect();
    format!("{head}{items}\n\n")
}

/// One logical request, as the pipeline sees it.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) op: Operation,
    /// The path below `/v1/`, without a leading slash; list paths end in `/`.
    pub(crate) path: String,
    pub(crate) data: Data,
    /// The client token from `X-Vault-Token` or `Authorization: Bearer`, if any.
    pub(crate) token: Option<String>,
    /// `X-Vault-Wrap-TTL`: answer with a wrapping token instead of the response.
    pub(crate) wrap_ttl: Option<std::time::Duration>,
    /// Who sent it: bound CIDRs and certificate logins look at this.
    pub(crate) connection: std::sync::Arc<Connection>,
}

/// The other end of a request's connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Connection {
    /// The peer's address; `None` only for requests made inside the process.
    pub(crate) remote_addr: Option<std::net::IpAddr>,
    /// The client certificate chain (DER, leaf first) that a TLS listener asked for and
    /// verified against its `tls_client_ca_file`; empty otherwise.
    pub(crate) peer_certs: Vec<Vec<u8>>,
}

/// What an auth method's login path hands the core, which turns it into a token: OpenBao's
/// `logical.Auth` as a backend fills it. Durations are seconds, 0 meaning "unset".
#[derive(Clone, Debug, Default)]
pub(crate) struct Login {
    pub(crate) policies: Vec<String>,
    pub(crate) no_default_policy: bool,
    pub(crate) metadata: std::collections::BTreeMap<String, String>,
    /// Appended to the mount's name: `userpass-` + `bob`.
    pub(crate) display_name: String,
    pub(crate) ttl: u64,
    pub(crate) max_ttl: u64,
    pub(crate) explicit_max_ttl: u64,
    pub(crate) period: u64,
    pub(crate) num_uses: i64,
    /// CIDR blocks the token may be used from (`token_bound_cidrs`).
    pub(crate) bound_cidrs: Vec<String>,
    pub(crate) renewable: bool,
    /// `token_type` as the role says it: `default`, `service` or `batch`.
    pub(crate) token_type: String,
    /// The name this login is known by in the method (user name, role id, service account
    /// uid): OpenBao's alias.
    pub(crate) alias: String,
}

/// The `auth` block of a login, token create or renew answer, fields in OpenBao's order.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Auth {
    pub(crate) client_token: String,
    pub(crate) accessor: String,
    pub(crate) policies: Vec<String>,
    pub(crate) token_policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub(crate) identity_policies: Vec<String>,
    pub(crate) metadata: Option<std::collections::BTreeMap<String, String>>,
    pub(crate) lease_duration: u64,
    pub(crate) renewable: bool,
    pub(crate) entity_id: String,
    pub(crate) token_type: String,
    pub(crate) orphan: bool,
    pub(crate) mfa_requirement: Option<Value>,
    pub(crate) num_uses: i64,
}

/// The `wrap_info` block of a wrapped answer.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct WrapInfo {
    pub(crate) token: String,
    pub(crate) accessor: String,
    pub(crate) ttl: u64,
    pub(crate) creation_time: String,
    pub(crate) creation_path: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub(crate) wrapped_accessor: String,
}

/// What a response carries, which decides its HTTP shape.
#[derive(Debug, Default)]
pub(crate) enum Body {
    /// 200 with the envelope.
    Data(Data),
    /// Nothing to say: 204, or 200 with an envelope when there are warnings.
    #[default]
    NoContent,
    /// 202 with the envelope: work started in the background (tidy).
    Accepted,
    /// 404 `{"errors":[]}`: a read or list found nothing.
    NotFound,
    /// 404 with no body at all, as OpenBao answers a KV v2 patch of a missing key.
    Missing,
    /// 404 *with* the envelope: the item exists but is gone (a deleted or destroyed KV v2
    /// version), and the client still gets its metadata, as OpenBao answers; or a path
    /// that is wrong in a way a warning explains (`data: null`).
    Gone(Option<Data>),
    /// The envelope with another status: a Transit batch in which some items failed
    /// answers 400 (or 500) with every item's result, as OpenBao's `RespondWithStatusCode`.
    Status(u16, Data),
}

/// One logical response; `http::logical` turns it into the Vault envelope.
#[derive(Debug, Default)]
pub(crate) struct Response {
    pub(crate) body: Body,
    pub(crate) warnings: Vec<String>,
    /// Seconds, for the envelope's `lease_duration` (KV v1 reports its TTL there).
    pub(crate) lease_duration: u64,
    /// The envelope's `lease_id` and `renewable` (a lease renewal answers them).
    pub(crate) lease_id: String,
    pub(crate) renewable: bool,
    /// Logins, token creation and renewal.
    pub(crate) auth: Option<Auth>,
    /// An auth method's successful login; the core makes the token and fills `auth`.
    pub(crate) login: Option<Login>,
    /// Set by the pipeline when the answer was wrapped; `data` and `auth` are then empty.
    pub(crate) wrap_info: Option<WrapInfo>,
    /// Legacy `sys/` endpoints also copy `data` to the top level of the body.
    pub(crate) data_at_top_level: bool,
    /// What `wrap_info.wrapped_accessor` names when this answer, which carries no token, is
    /// wrapped: approle's new secret id accessor (OpenBao special-cases approle there).
    pub(crate) wrapped_accessor: String,
}

impl Response {
    pub(crate) fn data(data: Data) -> Self {
        Self {
            body: Body::Data(data),
            ..Self::default()
        }
    }

    /// A successful login, for the core to turn into a token.
    pub(crate) fn login(login: Login) -> Self {
        Self {
            login: Some(login),
            ..Self::default()
        }
    }

    pub(crate) fn no_content() -> Self {
        Self::default()
    }

    pub(crate) fn not_found() -> Self {
        Self {
            body: Body::NotFound,
            ..Self::default()
        }
    }

    /// A list answer: `{"keys":[...]}`, or 404 when there is nothing to list, as OpenBao
    /// answers an empty list.
    pub(crate) fn list(keys: Vec<String>) -> Self {
        if keys.is_empty() {
            return Self::not_found();
        }
        let mut data = Data::new();
        data.insert(
            "keys".into(),
            Value::Array(keys.into_iter().map(Value::String).collect()),
        );
        Self::data(data)
    }

    pub(crate) fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }
}
