//! `tacho hook …`: automation hook tokens on the relay this database is signed in to.

use clap::Subcommand;
use serde_json::json;
use tacho_core::Core;

use crate::output::{self, out};

/// `tacho hook …`
#[derive(Debug, Subcommand)]
pub enum HookCmd {
    /// Make a hook token and print it (shown only this once).
    Create {
        /// Limit the token to one car (name, id or connect hint; sync first).
        #[arg(long)]
        car: Option<String>,
        /// A label, e.g. "CarPlay Golf".
        #[arg(long)]
        label: Option<String>,
    },
    /// List this account's hook tokens (without the secrets).
    List,
    /// Revoke a hook token; it stops working at once.
    Revoke {
        /// The token's id (`tacho hook list`).
        id: String,
    },
}

/// Runs one `tacho hook` command.
pub async fn run(core: &Core, cmd: HookCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        HookCmd::Create { car, label } => {
            let made = core
                .create_hook_token(car.as_deref(), label.as_deref())
                .await?;
            if json {
                output::json(&json!({ "id": made.id, "token": made.token }))?;
            } else {
                out!("{}", made.token)?;
                eprintln!(
                    "hook token {} made; copy it now, it is not shown again \
                     (use it as `Authorization: Bearer <token>`, see docs/shortcuts.md)",
                    made.id
                );
            }
        }
        HookCmd::List => {
            let tokens = core.hook_tokens().await?;
            if json {
                output::json(&tokens)?;
            } else if tokens.is_empty() {
                out!("no hook tokens")?;
            } else {
                for t in tokens {
                    out!(
                        "{}  {:<24}  car: {:<12}  made {}  last used {}",
                        t.id,
                        t.label,
                        t.car_name.as_deref().unwrap_or("any"),
                        t.created_at,
                        t.last_used_at.as_deref().unwrap_or("never"),
                    )?;
                }
            }
        }
        HookCmd::Revoke { id } => {
            core.revoke_hook_token(&id).await?;
            if json {
                output::json(&json!({ "revoked": id }))?;
            } else {
                out!("revoked {id}")?;
            }
        }
    }
    Ok(())
}
