//! `tacho logout` and `tacho device …`: signing this database out, and the account's devices on
//! the relay (rename them, cut off a lost one).

use clap::{Args, Subcommand};
use serde_json::json;
use tacho_core::Core;

use crate::output::{self, out};

/// `tacho logout`
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Also delete every local record (trips, entries, projects…) from this database once the
    /// relay has them all; refused (exit code 5) while changes wait to be synced.
    #[arg(long)]
    pub forget_data: bool,
}

/// `tacho device …`
#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// List the account's devices (this one is marked).
    List,
    /// Rename a device of the account.
    Rename {
        /// The device's id (`tacho device list`).
        id: String,
        /// Its new name.
        name: String,
    },
    /// Cut a device off (a lost watch): its next call and its refresh token are refused.
    Revoke {
        /// The device's id (`tacho device list`).
        id: String,
    },
}

/// Runs `tacho logout`.
pub async fn logout(core: &Core, args: LogoutArgs, json: bool) -> anyhow::Result<()> {
    let report = core.logout(args.forget_data).await?;
    if json {
        return output::json(&report);
    }
    match &report.relay_error {
        None => out!("signed out; the relay revoked this device's session")?,
        Some(why) => out!(
            "signed out here; the relay could not be told ({why}); revoke this device from \
             another one with `tacho device revoke` if it is lost"
        )?,
    }
    if report.forgot_data {
        out!("local records deleted")?;
    } else if report.unsynced_ops > 0 {
        out!(
            "{} change(s) wait for the relay; they are pushed after the next sign-in to this account",
            report.unsynced_ops
        )?;
    }
    Ok(())
}

/// Runs one `tacho device` command.
pub async fn device(core: &Core, cmd: DeviceCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        DeviceCmd::List => {
            let devices = core.devices().await?;
            if json {
                return output::json(&devices);
            }
            for d in devices {
                let mark = if d.current { "*" } else { " " };
                let state = match &d.revoked_at {
                    Some(at) => format!("revoked {at}"),
                    None => format!("last push {}", d.last_push_at.as_deref().unwrap_or("never")),
                };
                out!(
                    "{mark} {}  {:<28}  since {}  {state}",
                    d.device_id,
                    d.name,
                    d.created_at
                )?;
            }
        }
        DeviceCmd::Rename { id, name } => {
            let device = core.rename_device(&id, &name).await?;
            if json {
                output::json(&device)?;
            } else {
                out!("renamed {} to {}", device.device_id, device.name)?;
            }
        }
        DeviceCmd::Revoke { id } => {
            core.revoke_device(&id).await?;
            if json {
                output::json(&json!({ "revoked": id.trim() }))?;
            } else {
                out!(
                    "revoked {}; its next call to the relay is refused",
                    id.trim()
                )?;
            }
        }
    }
    Ok(())
}
