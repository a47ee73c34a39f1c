//! The `yidianyima` command: serve, migrate, demo data, accounts, regions.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use yidianyima::auth::password;
use yidianyima::config::{LogFormat, Settings};
use yidianyima::db::audit::Actor;
use yidianyima::db::regions::Region;
use yidianyima::db::users::NewUser;
use yidianyima::domain::region::RegionCode;
use yidianyima::domain::user::{NewPassword, Role, Username};
use yidianyima::startup::Application;
use yidianyima::{db, demo, telemetry};

#[derive(Parser)]
#[command(name = "yidianyima", version, about = "一店一码 — one shop, one code")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (applies pending migrations first).
    Serve {
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
        /// Load demo data if the database is empty; allows running without JWT_SECRET.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations.
    Migrate {
        /// Revert every migration instead (drops all data; development only).
        #[arg(long)]
        revert_all: bool,
    },
    /// Load demo data into an empty database and print the demo logins.
    Demo,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import merchants from a CSV (UTF-8 or GBK) or XLSX file of the data exchange; upsert by
    /// USCC; all-or-nothing unless --partial. Prints the report as JSON; exits 2 if rows were
    /// rejected.
    Import {
        file: PathBuf,
        /// Check and report only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Commit the valid rows even when some are rejected.
        #[arg(long)]
        partial: bool,
    },
    /// Manage administrative divisions.
    Regions {
        #[command(subcommand)]
        command: RegionsCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account.
    Create {
        #[arg(long)]
        username: String,
        /// admin, regulator or merchant.
        #[arg(long)]
        role: String,
        /// A region code of a regulator's jurisdiction (repeat for several).
        #[arg(long = "region")]
        regions: Vec<String>,
        /// The merchant of a merchant login: its id or its USCC.
        #[arg(long)]
        merchant: Option<String>,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set an account's password (tokens issued before stop working).
    Passwd {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum RegionsCommand {
    /// Load or update regions from a CSV file with the header `code,name,parent_code`.
    Load { file: PathBuf },
}

fn database_url() -> anyhow::Result<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .context("DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/yidianyima)")
}

fn log_format() -> LogFormat {
    match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<NewPassword> {
    let raw = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            bail!("the passwords differ");
        }
        first
    };
    NewPassword::parse(&raw).map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(log_format());
    match cli.command {
        Command::Serve { no_migrate, demo } => serve(no_migrate, demo).await,
        Command::Migrate { revert_all } => {
            let url = database_url()?;
            if revert_all {
                let v = db::migrations::revert_all(&url).await?;
                println!("reverted {} migrations", v.len());
            } else {
                let v = db::migrations::run_pending(&url).await?;
                println!("applied {} migrations {}", v.len(), v.join(" "));
            }
            Ok(())
        }
        Command::Import {
            file,
            dry_run,
            partial,
        } => import(file, dry_run, partial).await,
        Command::Demo => {
            let url = database_url()?;
            db::migrations::run_pending(&url).await?;
            let pool = db::pool_for(&url, 2)?;
            let logins = demo::load_if_empty(&pool).await?;
            if logins.is_empty() {
                println!("the database already has users; demo data not loaded");
            } else {
                print!("{}", demo::credentials_table(&logins));
            }
            let base = yidianyima::config::public_base_url_from_env();
            print!(
                "{}",
                demo::showcase_text(&base, &demo::showcase(&pool).await?)
            );
            Ok(())
        }
        Command::User { command } => user(command).await,
        Command::Regions {
            command: RegionsCommand::Load { file },
        } => load_regions(file).await,
    }
}

/// `serve --demo` without `DATABASE_URL`: the PostgreSQL on 127.0.0.1:5432 if one answers, else
/// a private cluster (`EMBEDDED_PG_DIR`, default under the user's data directory) started here
/// and stopped when the service stops.
fn demo_database() -> anyhow::Result<(String, Option<yidianyima::embedded::LocalPostgres>)> {
    use yidianyima::embedded;
    let addr = std::env::var("DEMO_DATABASE_ADDR")
        .ok()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1:5432".into());
    if embedded::answers(&addr) {
        return Ok((format!("postgres://postgres@{addr}/yidianyima"), None));
    }
    let dir = std::env::var_os("EMBEDDED_PG_DIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(embedded::default_data_dir);
    if embedded::bin_dir().is_none() {
        bail!("{}", embedded::INSTALL_HINT);
    }
    eprintln!(
        "no PostgreSQL on {addr}: starting a private one in {}",
        dir.display()
    );
    let pg = embedded::LocalPostgres::start(&dir)?;
    tracing::info!(port = pg.port(), data = %pg.data_dir().display(), "private PostgreSQL started");
    Ok((pg.url("yidianyima"), Some(pg)))
}

async fn serve(no_migrate: bool, demo: bool) -> anyhow::Result<()> {
    let no_url = std::env::var("DATABASE_URL").map_or(true, |u| u.trim().is_empty());
    // Stopped when `serve` returns (after the server has stopped).
    let (settings, _local_postgres) = if demo && no_url {
        let (url, pg) = tokio::task::spawn_blocking(demo_database).await??;
        let lookup = move |k: &str| {
            if k == "DATABASE_URL" {
                Some(url.clone())
            } else {
                std::env::var(k).ok()
            }
        };
        (Settings::from_lookup(lookup, demo)?, pg)
    } else {
        (Settings::from_env(demo)?, None)
    };
    if !no_migrate {
        let applied = db::migrations::run_pending(settings.database_url.expose()).await?;
        tracing::info!(count = applied.len(), "migrations applied");
    }
    let app = Application::build(settings).await?;
    if demo {
        let logins = demo::load_if_empty(&app.state().pool).await?;
        if !logins.is_empty() {
            eprint!("{}", demo::credentials_table(&logins));
        }
        let shops = demo::showcase(&app.state().pool).await?;
        eprint!(
            "{}",
            demo::showcase_text(&app.state().settings.public_base_url, &shops)
        );
    }
    tracing::info!(
        bind = %app.state().settings.bind,
        port = app.port(),
        "listening; API spec at /openapi.json, Swagger UI at /swagger-ui/"
    );
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn user(command: UserCommand) -> anyhow::Result<()> {
    let pool = db::pool_for(&database_url()?, 2)?;
    let mut conn = pool.get().await?;
    match command {
        UserCommand::Create {
            username,
            role,
            regions,
            merchant,
            password_stdin,
        } => {
            let username = Username::parse(&username).map_err(|e| anyhow::anyhow!(e.message))?;
            let role: Role = role
                .parse()
                .map_err(|e: yidianyima::domain::FieldError| anyhow::anyhow!(e.message))?;
            let mut codes = Vec::new();
            for r in &regions {
                codes.push(RegionCode::parse(r)?.to_string());
            }
            match role {
                Role::Regulator if codes.is_empty() => {
                    bail!("a regulator needs at least one --region")
                }
                Role::Admin | Role::Merchant if !codes.is_empty() => {
                    bail!("only regulators have --region")
                }
                _ => {}
            }
            let known = db::regions::existing(&mut conn, &codes).await?;
            if let Some(missing) = codes.iter().find(|c| !known.contains(c)) {
                bail!("region {missing} is not loaded (see `yidianyima regions load`)");
            }
            let merchant_id = match (role, merchant) {
                (Role::Merchant, Some(m)) => Some(resolve_merchant(&mut conn, &m).await?),
                (Role::Merchant, None) => bail!("a merchant login needs --merchant (id or USCC)"),
                (_, Some(_)) => bail!("only merchant logins have --merchant"),
                (_, None) => None,
            };
            let pw = read_password(password_stdin)?;
            let hash = tokio::task::spawn_blocking(move || password::hash(pw.expose())).await??;
            let new = NewUser {
                username: username.as_str(),
                password_hash: &hash,
                role: role.as_str(),
                merchant_id,
            };
            let row = db::users::create_audited(&mut conn, &Actor::cli(), &new, &codes)
                .await
                .map_err(|e| match e {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ) => anyhow::anyhow!("the username {} is taken", username.as_str()),
                    other => anyhow::Error::new(other),
                })?;
            println!(
                "created user {} (id {}, {})",
                row.username, row.id, row.role
            );
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let row = db::users::find_by_username(&mut conn, &username)
                .await?
                .with_context(|| format!("no user {username}"))?;
            let pw = read_password(password_stdin)?;
            let hash = tokio::task::spawn_blocking(move || password::hash(pw.expose())).await??;
            db::users::set_password_audited(&mut conn, &Actor::cli(), row.id, &hash).await?;
            println!(
                "password changed for {}; earlier tokens no longer work",
                row.username
            );
        }
    }
    Ok(())
}

async fn resolve_merchant(
    conn: &mut diesel_async::AsyncPgConnection,
    key: &str,
) -> anyhow::Result<i64> {
    let found = match key.trim().parse::<i64>() {
        Ok(id) => db::merchants::find(conn, id).await?,
        Err(_) => db::merchants::find_by_uscc(conn, &key.trim().to_uppercase()).await?,
    };
    Ok(found.with_context(|| format!("no merchant {key}"))?.id)
}

async fn load_regions(file: PathBuf) -> anyhow::Result<()> {
    let url = database_url()?;
    db::migrations::run_pending(&url).await?;
    let mut reader =
        csv::Reader::from_path(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2; // the header is line 1
        let rec = rec.with_context(|| format!("line {line}"))?;
        let code = RegionCode::parse(rec.get(0).unwrap_or(""))
            .with_context(|| format!("line {line}: code"))?;
        let name = rec.get(1).unwrap_or("").trim().to_owned();
        if name.is_empty() {
            bail!("line {line}: name is empty");
        }
        let parent = match rec.get(2).map(str::trim).filter(|s| !s.is_empty()) {
            Some(p) => Some(
                RegionCode::parse(p)
                    .with_context(|| format!("line {line}: parent_code"))?
                    .to_string(),
            ),
            None => None,
        };
        rows.push(Region {
            code: code.to_string(),
            name,
            parent_code: parent,
        });
    }
    let pool = db::pool_for(&url, 2)?;
    let mut conn = pool.get().await?;
    let n = db::regions::load_audited(&mut conn, &Actor::cli(), &rows).await?;
    println!("loaded {n} regions from {}", file.display());
    Ok(())
}

async fn import(file: PathBuf, dry_run: bool, partial: bool) -> anyhow::Result<()> {
    let url = database_url()?;
    db::migrations::run_pending(&url).await?;
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let pool = db::pool_for(&url, 1)?;
    let mut conn = pool.get().await?;
    let started = std::time::Instant::now();
    let report = yidianyima::import::run(
        &mut conn,
        &Actor::cli(),
        &yidianyima::import::Scope::All,
        &bytes,
        file.file_name().and_then(|n| n.to_str()),
        yidianyima::import::Options { dry_run, partial },
        yidianyima::domain::time::china_date(chrono::Utc::now()),
    )
    .await
    .map_err(|e| match e {
        yidianyima::import::ImportError::Columns(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!(other),
    })?;
    // Running servers cache the pages of updated merchants: tell them through Redis.
    let env = |k: &str| std::env::var(k).ok().filter(|u| !u.trim().is_empty());
    let prefix = env("REDIS_PREFIX").unwrap_or_else(|| "ydym:".to_owned());
    let redis = match (env("REDIS_CLUSTER_NODES"), env("REDIS_URL")) {
        (Some(nodes), _) => Some(yidianyima::cache::RedisStore::cluster(
            &nodes
                .split(',')
                .map(|n| n.trim().to_owned())
                .collect::<Vec<_>>(),
            &prefix,
        )?),
        (None, Some(url)) => Some(yidianyima::cache::RedisStore::new(
            &yidianyima::config::Secret::new(url),
            &prefix,
        )?),
        (None, None) => None,
    };
    if let Some(redis) = redis {
        let pages = yidianyima::cache::pages::PageCache::new(
            true,
            Some(std::sync::Arc::new(redis)),
            1024 * 1024,
        );
        pages
            .invalidate_merchants(&mut conn, &report.updated_ids)
            .await;
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!(
        "{} rows in {:.2}s: {} created, {} updated, {} unchanged, {} rejected; {}",
        report.rows,
        started.elapsed().as_secs_f64(),
        report.created,
        report.updated,
        report.unchanged,
        report.rejected.len(),
        if report.committed {
            "committed"
        } else if dry_run {
            "dry run, nothing written"
        } else {
            "nothing written"
        }
    );
    if !report.rejected.is_empty() {
        std::process::exit(2);
    }
    Ok(())
}
