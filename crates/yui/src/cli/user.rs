//! `yui user …`: staff accounts, written straight into the home folder
//! (`HOME/staff/users.json`), whether or not the node runs; a running node
//! reads the file again when it changes.

use std::io::BufRead;

use anyhow::Context;
use clap::Subcommand;
use yui_node::home::Home;
use yui_staff::accounts::{generate_password, Accounts};
use yui_staff::{Role, Subscription, Topic};

/// `yui user …`.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add an account. Prints a new password once, unless
    /// `--password-stdin` reads one.
    Add {
        /// Sign-in name (letters, digits, `.`, `-`, `_`).
        name: String,
        /// viewer, editor, disaster or admin.
        #[arg(long)]
        role: Role,
        /// Name shown in the workspace and the audit log (山田 太郎).
        #[arg(long, default_value = "")]
        display: String,
        /// Where this person's notifications go.
        #[arg(long, default_value = "")]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Every account.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Stop an account from signing in (its sessions end).
    Disable {
        /// Sign-in name.
        name: String,
    },
    /// Let a disabled account sign in again.
    Enable {
        /// Sign-in name.
        name: String,
    },
    /// Set a new password (prints it once, unless `--password-stdin`);
    /// lifts a lockout, ends the account's sessions.
    ResetPassword {
        /// Sign-in name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// What this person is told, by e-mail: topics alert, aid_request,
    /// aid_update, reply, call.
    Notify {
        /// Sign-in name.
        name: String,
        /// Topics (repeat); none: stop notifying.
        #[arg(long = "topic")]
        topics: Vec<Topic>,
        /// For alerts: this level or above.
        #[arg(long, default_value_t = 3)]
        min_alert_level: u32,
        /// For calls: these policy areas (repeat); all when none.
        #[arg(long = "policy-area")]
        policy_areas: Vec<String>,
        /// Also drills (訓練).
        #[arg(long)]
        exercises: bool,
        /// Change the e-mail address.
        #[arg(long)]
        email: Option<String>,
    },
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((generate_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok((line.trim_end_matches(['\n', '\r']).to_owned(), false))
}

/// Runs `yui user …`.
pub fn run(home: &Home, cmd: UserCmd) -> anyhow::Result<()> {
    let accounts = Accounts::open(&home.staff_dir());
    match cmd {
        UserCmd::Add {
            name,
            role,
            display,
            email,
            password_stdin,
            json,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            let u = accounts.add(&name, &display, role, &email, &password)?;
            if json {
                super::print_json(&serde_json::json!({
                    "name": u.name,
                    "role": u.role,
                    "password": generated.then_some(password),
                }))?;
            } else {
                eprintln!("added {} ({})", u.name, u.role.name());
                if generated {
                    println!("{password}");
                    eprintln!("this password is shown once; hand it over in person");
                }
            }
        }
        UserCmd::List { json } => {
            let users = accounts.list()?;
            if json {
                let out: Vec<serde_json::Value> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "name": u.name, "display": u.display, "role": u.role,
                            "email": u.email, "disabled": u.disabled,
                            "created_at": u.created_at, "subscriptions": u.subscriptions,
                        })
                    })
                    .collect();
                super::print_json(&out)?;
            } else {
                if users.is_empty() {
                    println!("no accounts; add one with `yui user add NAME --role disaster`");
                }
                for u in users {
                    println!(
                        "{:<20} {:<9} {}{}",
                        u.name,
                        u.role.name(),
                        u.display,
                        if u.disabled { "  (disabled)" } else { "" }
                    );
                }
            }
        }
        UserCmd::Disable { name } => {
            accounts.set_disabled(&name, true)?;
            eprintln!("{name} can no longer sign in");
        }
        UserCmd::Enable { name } => {
            accounts.set_disabled(&name, false)?;
            eprintln!("{name} can sign in again");
        }
        UserCmd::ResetPassword {
            name,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            accounts.set_password(&name, &password)?;
            if generated {
                println!("{password}");
                eprintln!("this password is shown once; {name}'s sessions have ended");
            } else {
                eprintln!("password of {name} changed; its sessions have ended");
            }
        }
        UserCmd::Notify {
            name,
            topics,
            min_alert_level,
            policy_areas,
            exercises,
            email,
        } => {
            let subs = if topics.is_empty() {
                Vec::new()
            } else {
                let s = Subscription {
                    name: name.clone(),
                    topics,
                    min_alert_level,
                    policy_areas,
                    exercises,
                    ..Default::default()
                };
                s.check().map_err(anyhow::Error::msg)?;
                vec![s]
            };
            let u = accounts.set_subscriptions(&name, email.as_deref(), subs)?;
            if u.email.is_empty() && !u.subscriptions.is_empty() {
                eprintln!("note: {name} has no e-mail address (--email); nothing will be sent");
            }
            eprintln!("notifications of {name} set");
        }
    }
    Ok(())
}
