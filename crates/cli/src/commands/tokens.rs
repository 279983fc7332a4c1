//! `polysync tokens create|list|revoke`: the HTTP server's API tokens.
//! A token is printed once, at creation; only its hash is stored.

use std::process::ExitCode;

use secrecy::ExposeSecret;

use super::open_engine;
use crate::output;

/// `polysync tokens …`.
#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// Create a token (printed once; store it now). Once a token exists the server asks every
    /// request but /health for one.
    Create {
        /// A name to list and revoke it by.
        name: String,
    },
    /// List tokens (names, prefixes, dates; never the tokens).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by name.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// Run `polysync tokens …`.
pub async fn run(db: Option<String>, cmd: TokensCommand) -> anyhow::Result<ExitCode> {
    let engine = open_engine(db).await?;
    match cmd {
        TokensCommand::Create { name } => {
            let (stored, token) = engine.create_api_token(&name).await?;
            eprintln!(
                "token {} created; it is shown once, store it now:",
                output::clean(&stored.name)
            );
            output::outln!("{}", token.expose_secret());
        }
        TokensCommand::List { json } => {
            let tokens = engine.list_api_tokens().await?;
            if json {
                output::print_json(&tokens)?;
            } else if tokens.is_empty() {
                output::outln!("no API tokens: the server runs open on loopback only");
            } else {
                let mut t = output::table(["Name", "Prefix", "Created", "Last used", "Revoked"]);
                for k in &tokens {
                    t.add_row([
                        output::clean(&k.name),
                        format!("{}…", k.prefix),
                        output::time(k.created_at),
                        k.last_used_at.map(output::time).unwrap_or_default(),
                        k.revoked_at.map(output::time).unwrap_or_default(),
                    ]);
                }
                output::outln!("{t}");
            }
        }
        TokensCommand::Revoke { name } => {
            engine.revoke_api_token(&name).await?;
            output::outln!("token {} revoked", output::clean(&name));
        }
    }
    engine.close().await;
    Ok(ExitCode::SUCCESS)
}
