//! `juchu`: the order-and-payment back office.

mod bulk;

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use juchu_app::access::NewUser;
use juchu_app::{App, SecretKey};
use juchu_store::Store;

const DEFAULT_DB: &str = "sqlite://data/juchu.db";

#[derive(Parser)]
#[command(
    name = "juchu",
    version,
    about = "受注・決済管理 (orders and payments back office)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct Db {
    /// `sqlite://path/to/file.db` (default, created if missing) or `postgres://user@host/db`
    #[arg(long, env = "JUCHU_DATABASE_URL", default_value = DEFAULT_DB, global = true)]
    database_url: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the admin UI and API (migrates the database; on a new one, creates the demo shop).
    Serve {
        #[command(flatten)]
        db: Db,
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, env = "JUCHU_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Do not create the demo shop on a new database.
        #[arg(long)]
        no_demo: bool,
        /// Mark cookies Secure (set this when serving behind HTTPS).
        #[arg(long, env = "JUCHU_SECURE_COOKIES")]
        secure_cookies: bool,
        /// Do not serve the gateway sandboxes (/gmo, /paygent, /paidy) on the same port; set
        /// this when the connectors point at real gateways.
        #[arg(long, env = "JUCHU_NO_SANDBOX")]
        no_sandbox: bool,
        /// Also serve the sandboxes' control API (/_sandbox: the virtual clock, faults, a
        /// buyer paying at the konbini) on this port, to callers on this machine only. Off by
        /// default: it can mark an order paid.
        #[arg(long, env = "JUCHU_SANDBOX_CONTROL", conflicts_with = "no_sandbox")]
        sandbox_control: bool,
        #[command(flatten)]
        payments: PaymentArgs,
    },
    /// Run only the gateway sandboxes (GMO-PG … and the /_sandbox control API).
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
    },
    /// 一括処理: run one payment action over many orders (by number or by search) and follow
    /// it with a progress bar; prints the summary and each failure.
    Bulk {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        args: bulk::BulkArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: Db,
    },
    /// Admin users.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
}

#[derive(Args, Clone)]
struct PaymentArgs {
    /// Point the payment connectors at a sandbox running elsewhere (`juchu sandbox`), e.g.
    /// `http://127.0.0.1:8081`. By default they use the sandbox bundled on juchu's own port.
    #[arg(long, env = "JUCHU_GATEWAY_SANDBOX_URL")]
    gateway_sandbox_url: Option<String>,
    /// How often the recovery job settles payment operations whose outcome is unknown.
    #[arg(long, env = "JUCHU_RECOVERY_INTERVAL_SECS", default_value_t = 30)]
    recovery_interval_secs: u64,
    /// How old a pending operation must be before the job treats its caller as gone (longer
    /// than the gateways' 30-second timeout).
    #[arg(long, env = "JUCHU_RECOVERY_GRACE_SECS", default_value_t = 120)]
    recovery_grace_secs: u64,
    /// How often the pull job asks the gateways about konbini / ATM / net-bank payments
    /// (Paygent 差分照会, a query per open payment).
    #[arg(long, env = "JUCHU_SYNC_INTERVAL_SECS", default_value_t = 3600)]
    sync_interval_secs: u64,
    /// How long a 決済処理中 order (the buyer left the payment page) lives before it is removed
    /// — after asking its gateway that nothing was authorized.
    #[arg(long, env = "JUCHU_PENDING_TIMEOUT_MINS", default_value_t = 60)]
    pending_timeout_mins: u64,
    /// How many orders of a 一括処理 run go to each gateway at once, per process.
    #[arg(long, env = "JUCHU_BULK_CONCURRENCY", default_value_t = 8)]
    bulk_concurrency: usize,
    /// How long a process holds the 一括処理 items it took; a process that died leaves them
    /// to the others after this (keep it above the gateways' 30-second timeout).
    #[arg(long, env = "JUCHU_BULK_LEASE_SECS", default_value_t = 60)]
    bulk_lease_secs: u64,
    /// Where mails are written as .eml files when no SMTP server is set.
    #[arg(long, env = "JUCHU_MAIL_DIR", default_value = "data/mail")]
    mail_dir: std::path::PathBuf,
    /// Send mails through this SMTP server instead: `smtp://user:pass@host:587?tls=required`
    /// or `smtps://user:pass@host`.
    #[arg(long, env = "JUCHU_SMTP_URL")]
    smtp_url: Option<String>,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add an admin user; the password is read from standard input (one line).
    Add {
        #[command(flatten)]
        db: Db,
        /// Shop code (the demo shop is `demo`); created if missing.
        #[arg(long, default_value = "demo")]
        shop: String,
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// `admin` or `operator`
        #[arg(long, default_value = "operator")]
        role: String,
    },
    /// Set a user's password, read from standard input.
    Passwd {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        login: String,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token for a user and print it (it is not shown again).
    Create {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        login: String,
        /// What the token is for, shown in histories.
        #[arg(long)]
        name: String,
    },
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.is_empty() {
        bail!("no password on standard input (e.g. `echo 'secret-pass' | juchu user add ...`)");
    }
    Ok(p)
}

async fn open(db: &Db) -> anyhow::Result<App> {
    let store = Store::connect(&db.database_url)
        .await
        .with_context(|| format!("connecting to {}", redact(&db.database_url)))?;
    store.migrate().await.context("applying migrations")?;
    Ok(App::new(store))
}

/// Where the secret key lives when `JUCHU_SECRET_KEY` is not set: `secret.key` beside the
/// SQLite database (`data/secret.key` for the default), or `data/secret.key` for PostgreSQL.
fn key_path(database_url: &str) -> std::path::PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or_default())
        .filter(|p| !p.is_empty() && *p != ":memory:");
    let dir = match file {
        Some(f) => std::path::Path::new(f)
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default(),
        None => std::path::PathBuf::from("data"),
    };
    dir.join("secret.key")
}

/// The key that seals the gateways' credentials in the database: `JUCHU_SECRET_KEY` (64 hex
/// digits), else the key file (created with 32 random bytes, mode 0600, when missing). Every
/// process sharing a database needs the same key.
fn secret_key(database_url: &str) -> anyhow::Result<SecretKey> {
    if let Ok(hex) = std::env::var("JUCHU_SECRET_KEY")
        && !hex.trim().is_empty()
    {
        return SecretKey::from_hex(&hex).context("JUCHU_SECRET_KEY");
    }
    let path = key_path(database_url);
    SecretKey::load_or_create(&path).with_context(|| format!("secret key file {}", path.display()))
}

/// The app with its persistent secret key, checked against what the database holds: a key
/// that does not open the stored credentials stops here, naming the shop and the gateway.
async fn open_with_key(db: &Db) -> anyhow::Result<App> {
    let app = open(db)
        .await?
        .with_secret_key(secret_key(&db.database_url)?);
    juchu_app::credentials::verify_key(&app)
        .await
        .map_err(app_err)?;
    Ok(app)
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn app_err(e: juchu_app::AppError) -> anyhow::Error {
    match e {
        juchu_app::AppError::Invalid(i) => anyhow::anyhow!("{i}"),
        e => anyhow::anyhow!("{e}"),
    }
}

#[tokio::main]
// Long: one arm per subcommand.
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve {
            db,
            listen,
            no_demo,
            secure_cookies,
            no_sandbox,
            sandbox_control,
            payments,
        } => {
            let sandbox = if no_sandbox {
                Bundled::None
            } else if sandbox_control {
                Bundled::WithControl
            } else {
                Bundled::Gateways
            };
            serve(db, &listen, no_demo, secure_cookies, sandbox, payments).await
        }
        Cmd::Sandbox { listen } => {
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            let addr = listener.local_addr()?;
            let sb = juchu_sandbox::Sandbox::new(juchu_sandbox::Config::default());
            println!(
                "juchu sandbox is serving on http://{addr}  (GMO-PG: /gmo, control: /_sandbox)"
            );
            juchu_web::serve(listener, sb.router(), shutdown())
                .await
                .context("serving")?;
            Ok(())
        }
        Cmd::Bulk { db, args } => bulk::run(open_with_key(&db).await?, args).await,
        Cmd::Migrate { db } => {
            open_with_key(&db).await?;
            println!("migrations applied: {}", redact(&db.database_url));
            Ok(())
        }
        Cmd::User {
            cmd:
                UserCmd::Add {
                    db,
                    shop,
                    login,
                    name,
                    role,
                },
        } => {
            let password = read_password()?;
            let app = open(&db).await?;
            let (shop, _) = juchu_app::shops::ensure(&app, &shop, &shop)
                .await
                .map_err(app_err)?;
            juchu_app::access::add_user_to_shop(
                &app,
                shop.id,
                &NewUser {
                    login: login.clone(),
                    name,
                    password,
                    role,
                },
            )
            .await
            .map_err(app_err)?;
            println!("user {login} added to shop {}", shop.code);
            Ok(())
        }
        Cmd::User {
            cmd: UserCmd::Passwd { db, login },
        } => {
            let password = read_password()?;
            let app = open(&db).await?;
            juchu_app::access::set_password(&app, &login, &password)
                .await
                .map_err(app_err)?;
            println!("password of {login} changed");
            Ok(())
        }
        Cmd::Token {
            cmd: TokenCmd::Create { db, login, name },
        } => {
            let app = open(&db).await?;
            let user = juchu_store::users::by_login(&mut *app.store.read().await?, &login)
                .await?
                .with_context(|| format!("no user {login}"))?;
            let token = juchu_app::access::create_token_for(&app, user.id, &name, None)
                .await
                .map_err(app_err)?;
            println!("{token}");
            Ok(())
        }
    }
}

/// Which of the bundled gateway sandboxes answer on juchu's own port.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bundled {
    None,
    /// The gateways only (the default).
    Gateways,
    /// The gateways and the control API (`--sandbox-control`, loopback only).
    WithControl,
}

// Long: start-up wiring — database, key, mailer, gateways, jobs, listener — in the order it happens.
async fn serve(
    db: Db,
    listen: &str,
    no_demo: bool,
    secure_cookies: bool,
    sandbox: Bundled,
    pay: PaymentArgs,
) -> anyhow::Result<()> {
    let no_sandbox = sandbox == Bundled::None;
    let app = open_with_key(&db).await?;
    let fresh_demo = !no_demo
        && juchu_app::demo::seed_if_empty(&app)
            .await
            .map_err(app_err)?;
    if fresh_demo {
        tracing::info!("created the demo shop");
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let sandbox_url = match (&pay.gateway_sandbox_url, no_sandbox) {
        (Some(u), _) => Some(u.clone()),
        (None, false) => Some(format!("http://{addr}")),
        (None, true) => None,
    };
    let app = match &sandbox_url {
        Some(u) => {
            let app = app
                .with_endpoints(juchu_app::connectors::Endpoints::sandbox(
                    u,
                    juchu_gateway::DEFAULT_TIMEOUT,
                ))
                .map_err(app_err)?;
            // The connectors take the shop's stored credentials (支払方法設定); one set of
            // connectors serves the process, so the first shop's.
            let shops = juchu_store::shops::ids(
                &mut *app.store.read().await.map_err(|e| app_err(e.into()))?,
            )
            .await
            .map_err(|e| app_err(e.into()))?;
            if let Some(first) = shops.first() {
                juchu_app::connectors::reconnect(&app, *first)
                    .await
                    .map_err(app_err)?;
            }
            app
        }
        None => app,
    };
    let app = app.with_bulk(
        pay.bulk_concurrency,
        std::time::Duration::from_secs(pay.bulk_lease_secs),
    );
    let app = app.with_mailer(match &pay.smtp_url {
        Some(u) => juchu_app::mail::Mailer::smtp(u).map_err(anyhow::Error::msg)?,
        None => juchu_app::mail::Mailer::Files(pay.mail_dir.clone()),
    });
    let grace = std::time::Duration::from_secs(pay.recovery_grace_secs);
    let mut router = juchu_web::router(
        app.clone(),
        juchu_web::WebConfig {
            secure_cookies,
            recovery_grace: grace,
        },
    );
    if !no_sandbox {
        // The bundled sandboxes answer on the same port, so a fresh machine needs nothing else;
        // they push their notifications to the demo shop.
        let sb = juchu_sandbox::Sandbox::new(juchu_sandbox::Config::default());
        for g in ["paygent", "gmo", "paidy"] {
            sb.notify_to(
                g,
                Some(format!(
                    "http://{addr}/notify/{}/{g}",
                    juchu_app::demo::SHOP_CODE
                )),
            );
        }
        router = router.merge(match sandbox {
            Bundled::WithControl => sb.router(),
            _ => sb.gateways(),
        });
    }
    // Tests read this line to find the port.
    println!(
        "juchu is serving on http://{addr}/admin  (database: {})",
        redact(&db.database_url)
    );
    match sandbox {
        Bundled::WithControl => println!(
            "sandbox control API: http://{addr}/_sandbox  (on: --sandbox-control; this machine only)"
        ),
        Bundled::Gateways => println!(
            "gateway sandboxes: http://{addr}/gmo /paygent /paidy  (control API off; --sandbox-control turns it on)"
        ),
        Bundled::None => {}
    }
    if !no_demo {
        println!(
            "demo login: {} / {}  (operator: {} / {})",
            juchu_app::demo::ADMIN_LOGIN,
            juchu_app::demo::DEMO_PASSWORD,
            juchu_app::demo::OPERATOR_LOGIN,
            juchu_app::demo::DEMO_PASSWORD
        );
    }
    if fresh_demo && !no_sandbox && pay.gateway_sandbox_url.is_none() {
        // The demo's payments live in the bundled sandbox, which answers once serving starts.
        let app = app.clone();
        tokio::spawn(async move {
            match juchu_app::demo::seed_payments(&app).await {
                Ok(n) => tracing::info!("made {n} demo payments at the bundled sandboxes"),
                Err(e) => tracing::warn!(error = %e, "demo payments"),
            }
        });
    }
    tokio::spawn(mail_job(app.clone()));
    tokio::spawn(bulk_job(app.clone()));
    tokio::spawn(sync_job(
        app.clone(),
        std::time::Duration::from_secs(pay.sync_interval_secs.max(1)),
    ));
    tokio::spawn(recovery_job(
        app.clone(),
        std::time::Duration::from_secs(pay.recovery_interval_secs.max(1)),
        grace,
    ));
    tokio::spawn(pending_job(
        app.clone(),
        std::time::Duration::from_secs(pay.pending_timeout_mins.max(1) * 60),
    ));
    juchu_web::serve(listener, router, shutdown())
        .await
        .context("serving")?;
    app.store.close().await;
    Ok(())
}

/// Settle payment operations whose outcome is unknown, at start-up (a previous process may
/// have died mid-operation) and then every `interval`.
async fn recovery_job(app: App, interval: std::time::Duration, grace: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match juchu_app::payments::recover(&app, grace).await {
            Ok(done) => {
                for r in done {
                    tracing::info!(order = r.order_number, status = ?r.result.status, message = %r.result.message, "recovery settled a payment operation");
                }
            }
            Err(e) => tracing::warn!(error = %e, "payment recovery failed"),
        }
    }
}

/// Remove 決済処理中 orders their buyers left, every minute.
async fn pending_job(app: App, timeout: std::time::Duration) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match juchu_app::checkout::sweep(&app, timeout).await {
            Ok(done) => {
                for s in done {
                    tracing::info!(order = s.order_number, removal = ?s.removal, "pending order swept");
                }
            }
            Err(e) => tracing::warn!(error = %e, "pending-order sweep failed"),
        }
    }
}

/// Work the 一括処理 runs: those this process started begin at once; this job resumes runs
/// left by a process that stopped (at start-up, then every few seconds) and joins runs other
/// processes are working.
async fn bulk_job(app: App) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = juchu_app::payments::work_bulk(&app).await {
            tracing::warn!(error = %e, "bulk payment run failed");
        }
    }
}

/// Send what the mail outbox holds, every few seconds.
async fn mail_job(app: App) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = juchu_app::mail::deliver(&app).await {
            tracing::warn!(error = %e, "mail delivery failed");
        }
    }
}

/// Ask the gateways about payments the buyers make later (konbini, ATM, net bank), so a
/// lost notification is caught and lapsed due dates are applied.
async fn sync_job(app: App, interval: std::time::Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match juchu_app::payments::sync(&app).await {
            Ok(r) => {
                for a in &r.applied {
                    tracing::info!(order = a.order_number, message = %a.message, "payment status pulled");
                }
                for e in &r.errors {
                    tracing::warn!(error = %e, "payment sync");
                }
            }
            Err(e) => tracing::warn!(error = %e, "payment sync failed"),
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn the_key_file_sits_beside_the_sqlite_database() {
        let p = |u: &str| super::key_path(u).display().to_string();
        assert_eq!(p("sqlite://data/juchu.db"), "data/secret.key");
        assert_eq!(
            p("sqlite:///var/lib/juchu/j.db?mode=rwc"),
            "/var/lib/juchu/secret.key"
        );
        assert_eq!(p("sqlite://j.db"), "secret.key");
        assert_eq!(p("sqlite::memory:"), "data/secret.key");
        assert_eq!(p("postgres://u@h/db"), "data/secret.key");
    }
}
