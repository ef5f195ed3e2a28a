//! The `flywheel` command line (clap): `serve` (the default), `migrate`,
//! `user create`, `kernels prepare`, `notebook check`. `--config`, `--data-dir` and `--database-url` work on
//! every subcommand.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use flywheel_domain::Role;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::app::{Application, open_database};
use crate::config::{Config, LogFormat, Overrides};
use flywheel_app::accounts::{self, SignUp};

/// Flywheel: hands-on machine-learning workshops in Rust.
#[derive(Debug, Parser)]
#[command(name = "flywheel", version, about)]
pub struct Cli {
    /// Configuration file [default: ./flywheel.toml, if present].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for Flywheel's files (the SQLite database by default).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DB.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// What to do [default: serve].
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (applies pending migrations first).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        bind: Option<SocketAddr>,
    },
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Manage accounts.
    User {
        /// What to do with accounts.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Notebook kernels.
    Kernels {
        /// What to do with kernels.
        #[command(subcommand)]
        command: KernelsCommand,
    },
    /// Run one training job from its directory and exit: what a training
    /// worker starts for each job (`job.json` in, events on stdout,
    /// `result.json` and `model.json` out). Not for people.
    #[command(hide = true)]
    TrainJob {
        /// The job's directory.
        dir: PathBuf,
    },
    /// Send an endpoint load test's requests with Goose and print what it
    /// saw: what the server starts for each load test (its plan, JSON, on
    /// stdin; one report line on stdout). Not for people.
    #[command(hide = true)]
    LoadTest,
    /// Join another server's training pool as a worker on this machine:
    /// take its jobs, run them here, report back (the server sets
    /// `training_worker_token`).
    Worker {
        /// The server, e.g. http://10.0.0.5:8080.
        #[arg(long)]
        server: String,
        /// The server's training_worker_token [env: FLYWHEEL_WORKER_TOKEN].
        #[arg(long, env = "FLYWHEEL_WORKER_TOKEN", hide_env_values = true)]
        token: String,
        /// This worker's name in the pool [default: this machine's host name].
        #[arg(long)]
        name: Option<String>,
        /// Where job directories go [default: the system's temporary directory].
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// Work with notebook files.
    Notebook {
        /// What to do with notebook files.
        #[command(subcommand)]
        command: NotebookCommand,
    },
}

/// `flywheel kernels …`.
#[derive(Debug, Subcommand)]
pub enum KernelsCommand {
    /// Prepare kernels now, showing each step, instead of in the background
    /// at the server's first start: build the kernel worker if needed, check
    /// the toolchain, and compile the algorithm library into the template
    /// every session copies (about 15 minutes the first time on 2 cores;
    /// seconds when everything is fresh). Run it before the event.
    Prepare,
}

/// `flywheel notebook …`.
#[derive(Debug, Subcommand)]
pub enum NotebookCommand {
    /// Check a notebook file (`.ipynb`, or Flywheel's Markdown format; a lab's
    /// `labs/<slug>/notebook.md` is also checked as a lab) and name the line
    /// of the first error.
    Check {
        /// The file.
        file: PathBuf,
    },
}

/// `flywheel user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from the first line of standard input.
    Create {
        /// Login address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// participant, instructor or admin.
        #[arg(long, default_value = "participant")]
        role: Role,
    },
}

/// Runs the command line. Errors are returned for `main` to print as one line.
///
/// # Errors
/// Whatever stops the command: a bad configuration, an unreachable database,
/// an address in use, an invalid account.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let bind = match &cli.command {
        Some(Command::Serve { bind }) => *bind,
        _ => None,
    };
    let overrides = Overrides { bind, data_dir: cli.data_dir.clone(), database_url: cli.database_url.clone() };
    if let Some(Command::Notebook { command: NotebookCommand::Check { file } }) = &cli.command {
        return check_notebook(file);
    }
    if let Some(Command::TrainJob { dir }) = &cli.command {
        // Stdout is the event channel to the worker: no logging set up here.
        flywheel_app::training::runner::exit_with_parent();
        let code = flywheel_app::training::runner::run_job_dir(dir)?;
        std::process::exit(code);
    }
    if let Some(Command::LoadTest) = &cli.command {
        use flywheel_app::endpoints::load;
        flywheel_app::training::runner::exit_with_parent();
        let mut plan = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut plan)?;
        let report = load::generate(serde_json::from_str(&plan)?).await?;
        println!("{}{}", load::REPORT_LINE, serde_json::to_string(&report)?);
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref(), &overrides)?;
    init_tracing(config.log_format);
    match cli.command.unwrap_or(Command::Serve { bind: None }) {
        Command::Notebook { .. } | Command::TrainJob { .. } | Command::LoadTest => {
            unreachable!("handled above: it needs no configuration")
        }
        Command::Serve { .. } => serve(config).await,
        Command::Worker { server, token, name, work_dir } => {
            let name = name.unwrap_or_else(host_name);
            let work_dir = work_dir.unwrap_or_else(|| std::env::temp_dir().join(format!("flywheel-worker-{name}")));
            crate::remote_worker::RemoteWorker { server, token, name, work_dir }.run().await
        }
        Command::Kernels { command: KernelsCommand::Prepare } => prepare_kernels(&config).await,
        Command::Migrate => {
            open_database(&config).await?;
            println!("database {} is up to date", flywheel_store::redact_url(&config.effective_database_url()));
            Ok(())
        }
        Command::User { command: UserCommand::Create { email, name, role } } => {
            let password = read_password()?;
            let sign_up = SignUp::parse(&email, &name, &password)
                .map_err(|errs| anyhow::anyhow!(errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
            let db = open_database(&config).await?;
            let user = accounts::create_account(&db, sign_up, role).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {} {} ({})", user.role, user.email, user.id);
            Ok(())
        }
    }
}

/// This machine's host name (`/etc/hostname`), or `worker`.
fn host_name() -> String {
    let name = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let name: String = name.trim().chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
    if name.is_empty() { "worker".to_owned() } else { name }
}

/// `flywheel notebook check FILE`: prints what the file holds, or fails with `FILE:LINE: what`.
fn check_notebook(file: &std::path::Path) -> anyhow::Result<()> {
    use flywheel_domain::notebook::{ipynb, markdown};
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let located = |e: flywheel_domain::NotebookError| match e {
        flywheel_domain::NotebookError::Syntax { line, message } => {
            anyhow::anyhow!("{}:{line}: {message}", file.display())
        }
        other => anyhow::anyhow!("{}: {other}", file.display()),
    };
    let is_ipynb = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("ipynb"));
    let (notebook, kind) = if is_ipynb {
        (ipynb::read(&text, "notebook").map_err(located)?, "Jupyter notebook".to_owned())
    } else if file.file_name().is_some_and(|n| n == flywheel_app::labs::NOTEBOOK_FILE)
        && let Some(slug) =
            file.canonicalize().ok().and_then(|p| p.parent()?.file_name().map(|s| s.to_string_lossy().into_owned()))
    {
        let lab = flywheel_domain::Lab::from_markdown(&slug, &text).map_err(located)?;
        let kind = format!(
            "lab `{slug}` (day {}, {} minutes, {} exercises with solutions, {} checks)",
            lab.day,
            lab.minutes,
            lab.solutions.len(),
            lab.steps.len()
        );
        (lab.notebook, kind)
    } else {
        (markdown::parse(&text).map_err(located)?.notebook, "Markdown notebook".to_owned())
    };
    let code = notebook.cells.iter().filter(|c| c.cell_type == flywheel_domain::CellType::Code).count();
    println!(
        "{}: ok — {kind} \"{}\", {} cells ({code} code, {} Markdown)",
        file.display(),
        notebook.title,
        notebook.cells.len(),
        notebook.cells.len() - code
    );
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(
        !password.is_empty(),
        "no password on standard input (pipe it in: `echo … | flywheel user create …`)"
    );
    Ok(password)
}

/// `flywheel kernels prepare`: the steps the server runs at its first start,
/// in the foreground, each said as it starts.
async fn prepare_kernels(config: &Config) -> anyhow::Result<()> {
    let settings = config.kernel_settings();
    let manager = flywheel_app::kernels::manager(&settings);
    let dir = manager.config().sessions_dir.parent().map(|d| d.display().to_string()).unwrap_or_default();
    println!("Preparing notebook kernels in {dir}");
    let started = std::time::Instant::now();
    let progress = |what: &str| println!("{what}");
    let spawner = flywheel_app::kernels::prepare(&manager, &settings, &progress)
        .await
        .context("kernels could not be prepared")?;
    println!("Kernels are ready ({} s): worker {}", started.elapsed().as_secs(), spawner.program.display());
    match &spawner.template {
        Some(template) => println!("Algorithm library compiled into {}", template.display()),
        None => println!("No algorithm library (kernel_prelude = false, or not running from a source tree)"),
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.bind).await.with_context(|| format!("cannot listen on {}", config.bind))?;
    let url = config.effective_database_url();
    let app = Application::build(config.clone(), listener).await?;
    let addr = app.local_addr()?;
    let shutdown = shutdown_signal()?;
    tracing::info!(
        database = flywheel_store::redact_url(&url),
        signup_enabled = config.signup_enabled,
        "Flywheel is listening on http://{addr}"
    );
    app.run_until(shutdown).await.context("serving HTTP")?;
    tracing::info!("Flywheel stopped");
    Ok(())
}

/// Installs the Ctrl-C and SIGTERM handlers now and returns a future that
/// completes on either. Installing them before the "listening" line matters:
/// a supervisor (or a test) may send SIGTERM as soon as it reads that line,
/// and a handler installed only when the future is first polled would let
/// that signal kill the process without a graceful shutdown.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the Ctrl-C handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown requested; finishing requests in flight");
    })
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second initialisation (tests) is not an error worth failing on.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
