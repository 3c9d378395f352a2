//! A narrow public face of the policy engine, for the criterion bench (`benches/acl.rs`),
//! which is a separate crate and cannot see `pub(crate)` items.

use serde_json::{Map, Value};

use super::acl::{Acl, AclRequest};
use crate::logical::Operation;

/// A merged set of policies.
pub struct BenchAcl(Acl);

/// Parse `(name, text)` policies and merge them as one token's ACL.
pub fn build(policies: &[(String, String)]) -> Result<BenchAcl, String> {
    let parsed = policies
        .iter()
        .map(|(name, text)| super::parse::parse(name, text).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BenchAcl(Acl::new(parsed.iter())))
}

impl BenchAcl {
    /// The decision on one request; `op` is read, list, create, update, patch or delete.
    pub fn allows(&self, op: &str, path: &str, data: &Map<String, Value>) -> bool {
        let op = match op {
            "read" => Operation::Read,
            "list" => Operation::List,
            "create" => Operation::Create,
            "patch" => Operation::Patch,
            "delete" => Operation::Delete,
            _ => Operation::Update,
        };
        self.0
            .allow(&AclRequest {
                op,
                path,
                data,
                wrap_ttl: None,
            })
            .allowed
    }
}
