//! `sys/policies/acl[/<name>]` and the legacy `sys/policy[/<name>]`.

use base64::Engine as _;
use serde_json::json;

use crate::engine::{fields, EngineError, EngineRequest, EngineResponse};
use crate::logical::{Data, Operation};
use crate::policy::store::{PolicyError, Record};
use crate::policy::{sanitize_name, PolicyStore, ROOT};

impl From<PolicyError> for EngineError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Storage(e) => EngineError::Storage(e),
            other => EngineError::InvalidRequest(other.to_string()),
        }
    }
}

/// Which of the two APIs a request came through: the legacy one names the text `rules`
/// and lists under `policies` as well as `keys`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    Acl,
    Legacy,
}

/// Every name, stored ones sorted, then `root` (last, as OpenBao appends it).
async fn names(store: &PolicyStore) -> Result<Vec<String>, EngineError> {
    let mut names = store.list().await?;
    names.push(ROOT.into());
    Ok(names)
}

pub(super) async fn list(store: &PolicyStore, api: Api) -> Result<EngineResponse, EngineError> {
    let keys = names(store).await?;
    let mut data = Data::new();
    data.insert("keys".into(), json!(keys));
    if api == Api::Legacy {
        data.insert("policies".into(), json!(keys));
    }
    Ok(EngineResponse::data(data))
}

pub(super) async fn handle(
    store: &PolicyStore,
    api: Api,
    req: EngineRequest,
    now: time::OffsetDateTime,
) -> Result<EngineResponse, EngineError> {
    let name = req.params.get("name").to_owned();
    match req.op {
        Operation::List => list(store, api).await,
        Operation::Read => match store.read(&name).await? {
            None => Ok(EngineResponse::not_found()),
            Some(record) => Ok(EngineResponse::data(read_data(&record, api))),
        },
        Operation::Create | Operation::Update => write(store, api, &name, &req.data, now).await,
        Operation::Delete => {
            store.delete(&name).await?;
            Ok(EngineResponse::no_content())
        }
        Operation::Patch => Err(EngineError::UnsupportedOperation),
    }
}

fn read_data(r: &Record, api: Api) -> Data {
    let text = match api {
        Api::Acl => "policy",
        Api::Legacy => "rules",
    };
    let mut data = Data::new();
    data.insert("allow_slashes_in_identity_templates".into(), json!(false));
    data.insert("allow_wildcards_in_identity_templates".into(), json!(false));
    data.insert("cas_required".into(), json!(r.cas_required));
    if !r.modified.is_empty() {
        data.insert("modified".into(), json!(r.modified));
    }
    data.insert("name".into(), json!(r.name));
    data.insert(text.into(), json!(r.policy));
    data.insert("version".into(), json!(r.version));
    data
}

async fn write(
    store: &PolicyStore,
    api: Api,
    name: &str,
    data: &Data,
    now: time::OffsetDateTime,
) -> Result<EngineResponse, EngineError> {
    let lowered = sanitize_name(name);
    if lowered.is_empty() {
        return Err(EngineError::InvalidRequest(
            "policy name must be provided in the URL".into(),
        ));
    }
    let mut warnings = Vec::new();
    if name != lowered {
        warnings.push(format!("policy name was converted to {lowered}"));
    }
    let mut raw = fields::string(data, "policy")?.unwrap_or_default();
    if raw.is_empty() && api == Api::Legacy {
        raw = fields::string(data, "rules")?.unwrap_or_default();
        warnings.push("'rules' is deprecated, please use 'policy' instead".into());
    }
    if raw.is_empty() {
        return Err(EngineError::InvalidRequest(
            "'policy' parameter not supplied or empty".into(),
        ));
    }
    // OpenBao accepts the text base64-encoded too, and decodes whatever decodes.
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(raw.as_bytes()) {
        if let Ok(text) = String::from_utf8(bytes) {
            raw = text;
        }
    }
    let cas = fields::int(data, "cas")?;
    let cas_required = fields::boolean(data, "cas_required")?.unwrap_or(false);
    store.set(&lowered, &raw, cas, cas_required, now).await?;
    let mut resp = EngineResponse::no_content();
    resp.warnings = warnings;
    Ok(resp)
}
