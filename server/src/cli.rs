//! `onegrid user|screen|apikey|audit`: account administration on the same store as `serve`.
//! Passwords are read from standard input (one line), never from the command line, where they
//! would stay in the shell's history and the process list. Every change is audited as
//! `cli:<OS user>`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use onegrid_app::wire::Role;
use onegrid_server::accounts::{Accounts, Actor};
use onegrid_server::clock::Clock;
use onegrid_server::store::{AuditQuery, Store, TokenKind};

/// Which store a command works on: the SQLite file in the data dir, or a PostgreSQL database.
#[derive(Args)]
pub struct StoreArgs {
    /// Folder of the database [default: ./data].
    #[arg(long, env = "ONEGRID_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// PostgreSQL database to use instead of the data dir's SQLite file
    /// (postgres://user@host/db).
    #[arg(long, env = "ONEGRID_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub async fn open(&self) -> anyhow::Result<Store> {
        Store::open(&self.data_dir, self.database_url.as_deref())
            .await
            .with_context(|| format!("opening the store {}", self.describe()))
    }

    /// The store as the user named it (a URL without its password).
    pub fn describe(&self) -> String {
        match &self.database_url {
            Some(url) => redact(url),
            None => self.data_dir.display().to_string(),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add an account; its password is read from standard input (one line).
    Add {
        name: String,
        /// admin, duty_officer, street_officer, community_worker, grid_worker or
        /// department_operator.
        #[arg(long)]
        role: String,
        /// The street, community or grid code (or department code) the account is bound to.
        #[arg(long)]
        scope: Option<String>,
        /// The user must choose a new password at the first login.
        #[arg(long)]
        one_time: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the accounts.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable an account; its sessions end at once.
    Disable {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Enable a disabled account.
    Enable {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a new password (read from standard input); the user's sessions end and the user
    /// must choose their own at the next login.
    ResetPassword {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an account another role and scope; its sessions end.
    Grant {
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        scope: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
pub enum ScreenCommand {
    /// Add a wall screen and print the URL to open on it (no login at the wall).
    Add {
        name: String,
        /// Where the wall reaches onegrid [default: ONEGRID_PUBLIC_URL or http://127.0.0.1:3000].
        #[arg(long, env = "ONEGRID_PUBLIC_URL")]
        url: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the wall screens.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a wall screen: it is logged out at its next request.
    Revoke {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Add an API key for machine intake; prints only the key.
    Add {
        name: String,
        /// Jurisdiction code the key is limited to [default: the whole district].
        #[arg(long)]
        scope: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the API keys (never the keys themselves).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke an API key.
    Revoke {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args)]
pub struct AuditArgs {
    /// Most rows to print, newest first.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Only this action, or actions starting with it if it ends in '.' (e.g. "incident.").
    #[arg(long)]
    action: Option<String>,
    /// Only this actor (e.g. "user:admin").
    #[arg(long)]
    actor: Option<String>,
    /// Only rows at or after this RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Print CSV instead of a table.
    #[arg(long)]
    csv: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}

async fn open(store: &StoreArgs) -> anyhow::Result<(Store, Accounts, Actor)> {
    let s = store.open().await?;
    let accounts = Accounts::new(s.clone(), Clock::system(), Default::default());
    Ok((s, accounts, Actor::command_line(&os_user())))
}

fn role(name: &str) -> anyhow::Result<Role> {
    Role::parse(name)
        .filter(|r| Role::USERS.contains(r))
        .with_context(|| {
            format!(
                "unknown role {name:?}; use {}",
                Role::USERS.map(Role::as_str).join(", ")
            )
        })
}

/// One line of standard input, without its line end.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (密码): ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    anyhow::ensure!(
        !password.is_empty(),
        "no password on standard input; e.g. `printf '%s\\n' \"$PASSWORD\" | onegrid user add …`"
    );
    Ok(password)
}

pub async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            role: r,
            scope,
            one_time,
            store,
        } => {
            let role = role(&r)?;
            let password = read_password()?;
            let (s, accounts, me) = open(&store).await?;
            let result = accounts
                .add_user(&me, &name, role, scope.as_deref(), &password, one_time)
                .await;
            s.close().await;
            let user = result?;
            println!(
                "added {} ({}{})",
                user.username,
                user.role.as_str(),
                user.scope
                    .map(|s| format!(", scope {s}"))
                    .unwrap_or_default()
            );
        }
        UserCommand::List { store } => {
            let (s, accounts, _) = open(&store).await?;
            let users = accounts.list_users().await;
            s.close().await;
            println!(
                "{:<24} {:<20} {:<18} {:<9} created",
                "username", "role", "scope", "state"
            );
            for u in users? {
                let state = match (u.disabled, u.must_change) {
                    (true, _) => "disabled",
                    (false, true) => "one-time",
                    _ => "active",
                };
                println!(
                    "{:<24} {:<20} {:<18} {:<9} {}",
                    u.username,
                    u.role.as_str(),
                    u.scope.unwrap_or_else(|| "-".into()),
                    state,
                    u.created_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        UserCommand::Disable { name, store } => {
            let (s, accounts, me) = open(&store).await?;
            let result = accounts.set_disabled(&me, &name, true).await;
            s.close().await;
            result?;
            println!("disabled {name}; its sessions have ended");
        }
        UserCommand::Enable { name, store } => {
            let (s, accounts, me) = open(&store).await?;
            let result = accounts.set_disabled(&me, &name, false).await;
            s.close().await;
            result?;
            println!("enabled {name}");
        }
        UserCommand::ResetPassword { name, store } => {
            let password = read_password()?;
            let (s, accounts, me) = open(&store).await?;
            let result = accounts.reset_password(&me, &name, &password).await;
            s.close().await;
            result?;
            println!("set a new password for {name}; its sessions have ended and it must choose its own at the next login");
        }
        UserCommand::Grant {
            name,
            role: r,
            scope,
            store,
        } => {
            let role = role(&r)?;
            let (s, accounts, me) = open(&store).await?;
            let result = accounts.grant(&me, &name, role, scope.as_deref()).await;
            s.close().await;
            let user = result?;
            println!(
                "{} is now {}{}; its sessions have ended",
                user.username,
                user.role.as_str(),
                user.scope.map(|s| format!(" of {s}")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

pub async fn screen(command: ScreenCommand) -> anyhow::Result<()> {
    match command {
        ScreenCommand::Add { name, url, store } => {
            let (s, accounts, me) = open(&store).await?;
            let result = accounts
                .add_token(&me, TokenKind::Screen, &name, None)
                .await;
            s.close().await;
            let (_, token) = result?;
            let base = url.unwrap_or_else(|| "http://127.0.0.1:3000".to_string());
            println!("{}/screen?token={token}", base.trim_end_matches('/'));
        }
        ScreenCommand::List { store } => list_tokens(&store, TokenKind::Screen).await?,
        ScreenCommand::Revoke { name, store } => {
            revoke(&store, TokenKind::Screen, &name).await?;
        }
    }
    Ok(())
}

pub async fn apikey(command: ApiKeyCommand) -> anyhow::Result<()> {
    match command {
        ApiKeyCommand::Add { name, scope, store } => {
            let (s, accounts, me) = open(&store).await?;
            let result = accounts
                .add_token(&me, TokenKind::ApiClient, &name, scope.as_deref())
                .await;
            s.close().await;
            let (_, token) = result?;
            println!("{token}");
        }
        ApiKeyCommand::List { store } => list_tokens(&store, TokenKind::ApiClient).await?,
        ApiKeyCommand::Revoke { name, store } => {
            revoke(&store, TokenKind::ApiClient, &name).await?;
        }
    }
    Ok(())
}

async fn list_tokens(store: &StoreArgs, kind: TokenKind) -> anyhow::Result<()> {
    let (s, accounts, _) = open(store).await?;
    let tokens = accounts.list_tokens(kind).await;
    s.close().await;
    println!("{:<24} {:<18} {:<17} revoked", "name", "scope", "created");
    for t in tokens? {
        println!(
            "{:<24} {:<18} {:<17} {}",
            t.name,
            t.scope.unwrap_or_else(|| "-".into()),
            t.created_at.format("%Y-%m-%d %H:%M"),
            t.revoked_at
                .map(|r| r.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}

async fn revoke(store: &StoreArgs, kind: TokenKind, name: &str) -> anyhow::Result<()> {
    let (s, accounts, me) = open(store).await?;
    let result = accounts.revoke_token(&me, kind, name).await;
    s.close().await;
    result?;
    println!("revoked {} {name}", kind.as_str());
    Ok(())
}

pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let from = match &args.from {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .with_context(|| format!("--from {t:?} is not an RFC 3339 time"))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let (s, _, _) = open(&args.store).await?;
    let entries = s
        .audit_entries(&AuditQuery {
            from,
            to: None,
            actor: args.actor.clone(),
            action: args.action.clone(),
            limit: args.limit.clamp(1, 100_000),
            before_id: None,
        })
        .await;
    s.close().await;
    let entries = entries?;
    if args.csv {
        print!(
            "{}",
            onegrid_server::http::audit_csv(&entries)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .trim_start_matches('\u{feff}')
        );
        return Ok(());
    }
    for e in entries {
        println!(
            "{:>6} {} {:<24} {:<15} {:<24} {}{}{}",
            e.id,
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.address,
            e.action,
            e.target,
            e.seq.map(|s| format!(" seq {s}")).unwrap_or_default(),
            if e.detail.is_empty() {
                String::new()
            } else {
                format!(" {}", e.detail)
            }
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct MigrateArgs {
    /// The empty PostgreSQL database to copy into (postgres://user@host/db).
    #[arg(long)]
    to: String,
    /// Folder of the SQLite database to copy from [default: ./data].
    #[arg(long, env = "ONEGRID_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

/// `onegrid migrate-store --to postgres://…`: reads every table of the data dir's SQLite
/// store, writes it into the empty PostgreSQL database in one transaction (ids and `seq`
/// values kept), compares every table's count, and records the move in the new store's audit.
pub async fn migrate_store(args: MigrateArgs) -> anyhow::Result<()> {
    let from = StoreArgs {
        data_dir: args.data_dir.clone(),
        database_url: None,
    };
    let source = from.open().await?;
    let target = match Store::open_postgres(&args.to).await {
        Ok(t) => t,
        Err(e) => {
            source.close().await;
            return Err(anyhow::anyhow!("opening {}: {e}", redact(&args.to)));
        }
    };
    println!("copying {} into {} …", from.describe(), redact(&args.to));
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("copying   [{bar:40}] {percent:>3}% {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress = bar.clone();
    let copied = onegrid_server::store::snapshot::migrate(&source, &target, &mut |done, total| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    })
    .await;
    bar.finish_and_clear();
    let last = source.last_seq().await;
    source.close().await;
    let counts = match copied {
        Ok(c) => c,
        Err(e) => {
            target.close().await;
            anyhow::bail!("{e}; {} is unchanged", redact(&args.to));
        }
    };
    let last = last?;
    println!("{:<16} {:>10} {:>10}", "table", "sqlite", "postgres");
    for c in &counts {
        println!("{:<16} {:>10} {:>10}", c.table, c.source, c.target);
    }
    let recorded = target
        .record_audit(&onegrid_server::store::AuditRecord {
            at: chrono::Utc::now(),
            who: Actor::command_line(&os_user()).who(),
            action: "store.migrated".into(),
            target: redact(&args.to),
            detail: serde_json::json!({
                "from": from.describe(),
                "rows": counts.iter().map(|c| (c.table.clone(), c.source)).collect::<std::collections::BTreeMap<_, _>>(),
                "last_seq": last,
            })
            .to_string(),
            seq: None,
        })
        .await;
    target.close().await;
    recorded?;
    println!(
        "every count matches; the log runs to seq {last}; serve it with:\n  onegrid serve --database-url {}",
        redact(&args.to)
    );
    Ok(())
}
