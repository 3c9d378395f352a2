//! The TokenReview call: ask the Kubernetes API server whether a service account JWT is
//! (still) valid, over HTTPS verified against the configured (or the pod's) CA only.
//!
//! Every failure, the API being unreachable included, is one [`Refused`] with a reason for
//! the debug log; the login turns it into OpenBao's bare 403 "permission denied". The
//! reasons never contain the JWT.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use zeroize::Zeroizing;

/// The API path OpenBao posts to.
const PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
/// A TokenReview answer is small; anything much larger is not one.
const MAX_BODY: usize = 1 << 20;

/// Where and how to ask.
pub(super) struct Target<'a> {
    /// `kubernetes_host`: a URL, to which the API path is appended.
    pub(super) host: &'a str,
    /// PEM certificates trusted for the API server; nothing else is.
    pub(super) ca_pem: &'a str,
    /// The bearer token: the reviewer JWT, or the client's own.
    pub(super) bearer: &'a str,
    pub(super) timeout: Duration,
}

/// Who the API server says the token belongs to.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Reviewed {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) uid: String,
}

/// Why a review did not succeed (for the log only).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refused(pub(super) String);

/// POST a TokenReview for `jwt` and check the answer as the plugin does.
pub(super) async fn review(
    target: &Target<'_>,
    jwt: &str,
    audiences: &[String],
) -> Result<Reviewed, Refused> {
    let body = request_body(jwt, audiences);
    let (status, answer) = tokio::time::timeout(target.timeout, post(target, body))
        .await
        .map_err(|_| Refused(format!("no answer within {:?}", target.timeout)))??;
    check(status, &answer, audiences)
}

/// The TokenReview the plugin marshals (`authv1.TokenReview` with Go's field order and
/// omissions: no `kind`/`apiVersion`, `audiences` only when there are some).
pub(super) fn request_body(jwt: &str, audiences: &[String]) -> Zeroizing<String> {
    let token = Zeroizing::new(Value::String(jwt.to_owned()).to_string());
    let audiences = if audiences.is_empty() {
        String::new()
    } else {
        format!(",\"audiences\":{}", Value::from(audiences.to_vec()))
    };
    Zeroizing::new(format!(
        "{{\"metadata\":{{}},\"spec\":{{\"token\":{}{audiences}}},\"status\":{{\"user\":{{}}}}}}",
        token.as_str()
    ))
}

fn tls_config(ca_pem: &str) -> Result<rustls::ClientConfig, Refused> {
    let mut roots = rustls::RootCertStore::empty();
    // As Go's AppendCertsFromPEM: unusable blocks are skipped, and no usable CA means every
    // handshake fails rather than trusting the system roots.
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()).flatten() {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Refused(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

async fn post(target: &Target<'_>, body: Zeroizing<String>) -> Result<(u16, Bytes), Refused> {
    let url = format!("{}{PATH}", target.host.trim_end_matches('/'));
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| Refused(format!("bad kubernetes_host {:?}: {e}", target.host)))?;
    let bearer = Zeroizing::new(format!("Bearer {}", target.bearer).trim().to_owned());
    let request = hyper::Request::post(uri)
        .header(hyper::header::AUTHORIZATION, bearer.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body.as_bytes().to_vec())))
        .map_err(|e| Refused(format!("could not build the request: {e}")))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(target.ca_pem)?)
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let resp = client
        .request(request)
        .await
        .map_err(|e| Refused(format!("request failed: {e:?}")))?;
    let status = resp.status().as_u16();
    let answer = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| Refused(format!("reading the answer failed: {e}")))?
        .to_bytes();
    Ok((status, answer))
}

/// The plugin's checks of the answer (`tokenReviewAPI.Review`, `parseResponse`).
pub(super) fn check(status: u16, body: &[u8], audiences: &[String]) -> Result<Reviewed, Refused> {
    let refuse = |why: &str| Err(Refused(why.to_owned()));
    if !(200..=206).contains(&status) {
        return refuse(&format!("the API answered {status}"));
    }
    let Ok(Value::Object(review)) = serde_json::from_slice::<Value>(body) else {
        return refuse("the answer is not a JSON object");
    };
    // A `Status` object (or anything whose `status` is not an object) is an API error.
    let Some(Value::Object(st)) = review.get("status") else {
        return refuse("the answer is not a TokenReview");
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let error = text(st.get("error"));
    if !error.is_empty() {
        return refuse(&format!("lookup failed: {error}"));
    }
    if st.get("authenticated").and_then(Value::as_bool) != Some(true) {
        return refuse("lookup failed: service account jwt not valid");
    }
    if !audiences.is_empty() {
        let got: Vec<String> = st
            .get("audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if !audiences.iter().any(|a| got.contains(a)) {
            return refuse(&format!(
                "lookup failed: service account jwt valid for audience(s) {got:?}, but wanted {audiences:?}"
            ));
        }
    }
    let user = st.get("user");
    let username = text(user.and_then(|u| u.get("username")));
    let parts: Vec<&str> = username.split(':').collect();
    let [system, kind, namespace, name] = parts.as_slice() else {
        return refuse("lookup failed: unexpected username format");
    };
    if *system != "system" || *kind != "serviceaccount" {
        return refuse("lookup failed: username returned is not a service account");
    }
    Ok(Reviewed {
        namespace: (*namespace).to_owned(),
        name: (*name).to_owned(),
        uid: text(user.and_then(|u| u.get("uid"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: Value) -> Vec<u8> {
        serde_json::json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"token": "x"},
            "status": status,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_body_is_what_the_plugin_marshals() {
        assert_eq!(
            request_body("a\"b", &[]).as_str(),
            r#"{"metadata":{},"spec":{"token":"a\"b"},"status":{"user":{}}}"#
        );
        assert_eq!(
            request_body("t", &["vault".into()]).as_str(),
            r#"{"metadata":{},"spec":{"token":"t","audiences":["vault"]},"status":{"user":{}}}"#
        );
    }

    #[test]
    fn answers_are_checked_as_the_plugin_does() {
        let ok = serde_json::json!({
            "authenticated": true,
            "user": {"username": "system:serviceaccount:default:app", "uid": "u1"},
            "audiences": ["vault"],
        });
        assert_eq!(
            check(201, &answer(ok.clone()), &["vault".into()]),
            Ok(Reviewed {
                namespace: "default".into(),
                name: "app".into(),
                uid: "u1".into()
            })
        );
        assert!(check(201, &answer(ok.clone()), &["other".into()]).is_err());
        assert!(check(401, &answer(ok.clone()), &[]).is_err());
        assert!(check(200, b"not json", &[]).is_err());
        let status = br#"{"kind":"Status","status":"Failure","message":"no","code":401}"#;
        assert!(check(200, status, &[]).is_err());
        for bad in [
            serde_json::json!({"authenticated": false}),
            serde_json::json!({"authenticated": true, "error": "expired",
                "user": {"username": "system:serviceaccount:default:app"}}),
            serde_json::json!({"authenticated": true, "user": {"username": "alice"}}),
            serde_json::json!({"authenticated": true,
                "user": {"username": "system:node:default:app"}}),
        ] {
            assert!(check(200, &answer(bad.clone()), &[]).is_err(), "{bad}");
        }
    }
}
