//! The `coffer` binary: `coffer server -config=FILE` or `coffer server -dev`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use coffer::{telemetry, Config, Server};

#[derive(Parser)]
#[command(
    name = "coffer",
    version,
    about = "A secrets server that speaks the OpenBao / Vault HTTP API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a server.
    Server(ServerArgs),
}

#[derive(Args)]
struct ServerArgs {
    /// A configuration file (OpenBao-style HCL); repeat to merge several.
    #[arg(long = "config", value_name = "FILE")]
    config: Vec<PathBuf>,
    /// Development mode: in memory, initialized and unsealed, root token printed.
    #[arg(long = "dev")]
    dev: bool,
    /// The root token id in dev mode (default: random).
    #[arg(
        long = "dev-root-token-id",
        value_name = "ID",
        env = "BAO_DEV_ROOT_TOKEN_ID"
    )]
    dev_root_token_id: Option<String>,
    /// The address to listen on in dev mode.
    #[arg(
        long = "dev-listen-address",
        value_name = "ADDR",
        default_value = "127.0.0.1:8200",
        env = "BAO_DEV_LISTEN_ADDRESS"
    )]
    dev_listen_address: String,
    /// Log level: trace, debug, info, warn, error.
    #[arg(long = "log-level", value_name = "LEVEL")]
    log_level: Option<String>,
}

/// OpenBao's CLI takes Go-style flags with one dash (`-config=FILE`, `-dev`); clap wants
/// two. Long flags with a single dash become double-dash ones; everything else is untouched.
fn go_style_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let single_dash_long = a.starts_with('-') && !a.starts_with("--") && a.len() > 2;
            if i > 0 && single_dash_long {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse_from(go_style_args(std::env::args()));
    let Command::Server(args) = cli.command;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(server(args)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line an operator can act on, with its causes, and no backtrace.
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
    if args.dev {
        telemetry::init(args.log_level.as_deref());
        let (server, creds) = Server::dev(&args.dev_listen_address, args.dev_root_token_id.clone())
            .await
            .context("starting the dev server")?;
        println!(
            "WARNING! dev mode is enabled! In this mode, Coffer runs entirely in-memory\n\
             and starts unsealed with a single unseal key. Do not run it in production.\n\n\
             Api Address: http://{addr}\n\
             Unseal Key: {key}\n\
             Root Token: {token}\n",
            addr = args.dev_listen_address,
            key = creds.unseal_key.as_str(),
            token = creds.root_token.as_str(),
        );
        return server.run(shutdown_signal()).await.context("serving");
    }
    if args.config.is_empty() {
        anyhow::bail!("a configuration file must be given with -config=FILE (or use -dev)");
    }
    let config = Config::load(&args.config)?;
    telemetry::init(args.log_level.as_deref().or(config.log_level.as_deref()));
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let server = Server::build(&config).await?;
    tracing::info!(addresses = ?server.addresses(), "coffer server started");
    server.run(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_flags_become_clap_flags() {
        let args = go_style_args(
            [
                "coffer",
                "server",
                "-config=a.hcl",
                "--config",
                "b.hcl",
                "-dev",
                "-h",
            ]
            .map(String::from),
        );
        assert_eq!(
            args,
            [
                "coffer",
                "server",
                "--config=a.hcl",
                "--config",
                "b.hcl",
                "--dev",
                "-h"
            ]
        );
        let cli = Cli::try_parse_from(go_style_args(
            ["coffer", "server", "-config=a.hcl", "-config=b.hcl"].map(String::from),
        ))
        .expect("parse");
        let Command::Server(s) = cli.command;
        assert_eq!(
            s.config,
            vec![PathBuf::from("a.hcl"), PathBuf::from("b.hcl")]
        );
    }
}
