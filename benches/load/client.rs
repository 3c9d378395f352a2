//! A minimal HTTP/1.1 client over one keep-alive connection (hyper's `client::conn::http1`).
//!
//! The load generator gives every concurrent worker its own [`Conn`]; setup calls use
//! [`call`], which opens a connection for one request.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What came back: the status and the whole body.
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `STATUS body…` for an error message, the body cut at 200 characters.
    pub fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body = body.trim();
        let cut: String = body.chars().take(200).collect();
        let more = if cut.len() < body.len() { "…" } else { "" };
        format!("{} {cut}{more}", self.status)
    }
}

/// One keep-alive HTTP/1.1 connection to a server.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("nodelay: {e}"))?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake with {addr}: {e}"))?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the server closes the connection.
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            host: addr.to_string(),
        })
    }

    /// Send one request and read the whole answer. An `Err` means the connection is no
    /// longer usable.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Result<Reply, String> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("connection closed: {e}"))?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.host);
        if let Some(token) = token {
            req = req.header("X-Vault-Token", token);
        }
        let body = match body {
            Some(b) => {
                req = req.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(b))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body).map_err(|e| format!("request {path}: {e}"))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{path}: reading body: {e}"))?
            .to_bytes();
        Ok(Reply { status, body })
    }
}

/// One request on a fresh connection, bounded by `timeout`.
pub async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
    timeout: Duration,
) -> Result<Reply, String> {
    let work = async {
        let mut conn = Conn::connect(addr).await?;
        conn.send(method.clone(), path, token, body).await
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("{method} {path}: no answer within {timeout:?}")),
    }
}
