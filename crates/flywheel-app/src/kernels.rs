//! Puts notebook kernels within reach: builds the [`KernelManager`] from
//! [`KernelSettings`], then finds the kernel worker (building it when
//! Flywheel runs from its source tree), finds the Rust toolchain, and
//! compiles the algorithm library once into a template session directory
//! that every new session copies. The web server runs [`provision`] in the
//! background at start (sessions answer 503 with what is happening until it
//! is done); an operator runs the same steps ahead of the event with
//! `flywheel kernels prepare` ([`prepare`], progress printed).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use flywheel_kernel_manager::{
    Availability, KernelManager, Limits, ManagerConfig, ProcessSpawner, SandboxSpec, Spawner, WorkerEvent,
    pids::PidsCgroups,
};
use flywheel_kernel_protocol::Request;

/// The worker's file name.
const WORKER: &str = "flywheel-kernel";

/// How kernels are run: the `kernel_*` keys of the server's configuration
/// (`server/flywheel.example.toml` says what each does).
#[derive(Debug, Clone)]
pub struct KernelSettings {
    /// Flywheel's data directory; kernels live in `<data_dir>/kernels`.
    pub data_dir: PathBuf,
    /// The worker executable; empty: beside this binary, on `PATH`, or built.
    pub program: PathBuf,
    /// Whether sessions start with the algorithm library loaded.
    pub prelude: bool,
    /// Pre-started kernels kept ready.
    pub pool_size: usize,
    /// Cells compiling or running at once (0: cores − 1).
    pub max_concurrent_cells: usize,
    /// A cell running longer is interrupted.
    pub cell_time_limit: Duration,
    /// An idle kernel is stopped after this long.
    pub idle_timeout: Duration,
    /// Open sessions one user may have.
    pub max_sessions_per_user: usize,
    /// Printed text kept per cell, in bytes.
    pub max_output_bytes: usize,
    /// Run kernels in their sandbox.
    pub sandbox: bool,
    /// Refuse kernels where Landlock does not fully guard files.
    pub require_sandbox: bool,
    /// Memory of the process running a session's code, in MiB.
    pub memory_limit_mb: u64,
    /// Processes and threads a kernel's user code may have (0: no bound).
    pub max_processes: u32,
    /// The Cargo home kernels compile against; empty: `$CARGO_HOME`, else `~/.cargo`.
    pub cargo_home: PathBuf,
}

/// Why kernels cannot be prepared, in words for the operator (the steps
/// that failed and their causes).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProvisionError(String);

/// Readies a kernel session `user` just opened: their datasets and
/// training-job models go into its `data/` folder, and its cells' training
/// jobs and endpoint calls are watched.
pub async fn attach(
    app: &crate::App,
    user: &flywheel_domain::User,
    session: &Arc<flywheel_kernel_manager::KernelSession>,
) {
    crate::datasets::share_with(app, user, session).await;
    crate::training::attach(app, user, session).await;
    crate::endpoints::cells::watch(app, user, session);
}

/// The manager, not yet started: see [`provision`].
pub fn manager(settings: &KernelSettings) -> KernelManager {
    let mut m = ManagerConfig::new(kernels_dir(settings).join("sessions"));
    if settings.max_concurrent_cells > 0 {
        m.max_concurrent_cells = settings.max_concurrent_cells;
    }
    m.cell_time_limit = settings.cell_time_limit.max(Duration::from_secs(1));
    m.idle_timeout = settings.idle_timeout.max(Duration::from_secs(60));
    m.pool_size = settings.pool_size;
    m.max_sessions_per_user = settings.max_sessions_per_user.max(1);
    m.limits = Limits { max_text_bytes: settings.max_output_bytes, ..m.limits };
    KernelManager::new(m)
}

fn kernels_dir(settings: &KernelSettings) -> PathBuf {
    let dir = absolute(&settings.data_dir);
    // Normalised (no `..`), so that paths under it compare as cargo sees them.
    std::fs::create_dir_all(&dir).ok();
    dir.canonicalize().unwrap_or(dir).join("kernels")
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The workspace Flywheel was built from (its `Cargo.lock` is there when
/// Flywheel runs from a source tree).
fn source_tree() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The algorithm library's source, when Flywheel runs from its source tree.
fn prelude_source() -> Option<PathBuf> {
    let p = source_tree().join("crates/flywheel-ml");
    p.join("Cargo.toml").is_file().then(|| p.canonicalize().ok()).flatten()
}

/// Starts the manager and makes kernels available; runs until that is done
/// (minutes on a first start), saying what it does through
/// [`KernelManager::availability`].
pub async fn provision(manager: KernelManager, settings: Arc<KernelSettings>) {
    if let Err(e) = manager.start() {
        manager.set_unavailable(format!("Kernels are not available: cannot prepare the sessions directory ({e})."));
        tracing::error!(error = %e, "kernels are not available");
        return;
    }
    let progress = |what: &str| manager.set_preparing(what);
    match prepare(&manager, &settings, &progress).await {
        Ok(spawner) => {
            manager.set_spawner(Arc::new(spawner));
            tracing::info!("notebook kernels are ready");
        }
        Err(e) => {
            let why = format!("{e:#}");
            tracing::error!(error = %why, "notebook kernels are not available");
            manager.set_unavailable(format!("Kernels are not available on this server: {why}"));
        }
    }
}

/// Says what a long step is doing (the server shows it to people who open a
/// session meanwhile; `flywheel kernels prepare` prints it).
pub type Progress<'a> = dyn Fn(&str) + Send + Sync + 'a;

/// Everything a kernel needs before the first session: the worker (built
/// when Flywheel runs from its source tree), the toolchain and the standard
/// library's source, the crates the kernels resolve offline, and the
/// template with the algorithm library compiled (minutes the first time;
/// later runs find it fresh). Returns the spawner sessions start with.
///
/// # Errors
/// What could not be prepared and why (no toolchain, a worker that does not
/// build or start, a library that does not compile).
pub async fn prepare(
    manager: &KernelManager,
    settings: &KernelSettings,
    progress: &Progress<'_>,
) -> Result<ProcessSpawner, ProvisionError> {
    prepare_steps(manager, settings, progress).await.map_err(|e| ProvisionError(format!("{e:#}")))
}

async fn prepare_steps(
    manager: &KernelManager,
    config: &KernelSettings,
    progress: &Progress<'_>,
) -> anyhow::Result<ProcessSpawner> {
    // `manager()` resolved it once: `<data_dir>/kernels/sessions`.
    let kernels = manager.config().sessions_dir.parent().map(Path::to_path_buf).context("no kernels directory")?;
    let program = match locate_worker(config) {
        Some(p) => p,
        None => build_worker(progress).await?,
    };
    anyhow::ensure!(
        program.is_file(),
        "the kernel worker {} does not exist (setting `kernel_program`); build it with `cargo build --release -p {WORKER}`",
        program.display()
    );
    let sysroot = run_text("rustc", &["--print", "sysroot"]).await.context(
        "no Rust toolchain found (`rustc --print sysroot` failed); kernels compile cells with it, install it with rustup",
    )?;
    let cargo_home = operator_cargo_home(config);
    let kernel_cargo_home = match &cargo_home {
        Some(real) => Some(kernel_cargo_home(&kernels, real)?),
        None => None,
    };
    let sysroot = PathBuf::from(sysroot.trim());
    std_sources(progress, &sysroot, cargo_home.as_deref()).await?;
    let prelude = if config.prelude { prelude_source() } else { None };
    if config.prelude && prelude.is_none() {
        tracing::warn!("the algorithm library's source is not here; kernels start without the prelude");
    }
    let sandbox = config.sandbox.then(|| SandboxSpec {
        read: sandbox_reads(
            &program,
            &sysroot,
            cargo_home.as_deref(),
            kernel_cargo_home.as_deref(),
            prelude.as_deref(),
            &kernels,
        ),
        require: config.require_sandbox,
    });
    if !config.sandbox {
        tracing::warn!(
            "kernels run WITHOUT their sandbox (kernel_sandbox = false): user code can read this server's files"
        );
    }
    let mut spawner = ProcessSpawner {
        program,
        args: Vec::new(),
        path_dirs: vec![sysroot.join("bin")],
        cargo_home: kernel_cargo_home,
        template: None,
        sandbox,
        memory_bytes: Some(config.memory_limit_mb.max(256) * 1024 * 1024),
        pids: process_bound(config.max_processes),
    };
    if let Some(source) = prelude {
        if let Some(workspace) = source.parent().and_then(Path::parent) {
            let manifest = workspace.join("Cargo.toml");
            fetch(progress, &manifest, "the algorithm library's dependencies", false, cargo_home.as_deref()).await;
        }
        spawner.args = vec!["--prelude".to_owned(), source.display().to_string()];
        spawner.template = Some(template(progress, &kernels, &spawner, &source).await?);
    }
    Ok(spawner)
}

/// A pids cgroup per kernel, bounding its processes and threads to `max`
/// (0: no bound); where Linux lets Flywheel make none, that is logged, and
/// the kernels' sandbox line says their processes are not bounded.
fn process_bound(max: u32) -> Option<std::sync::Arc<PidsCgroups>> {
    if max == 0 {
        return None;
    }
    PidsCgroups::create(max)
        .inspect_err(|why| tracing::warn!("kernels' processes are NOT bounded (kernel_max_processes): {why}"))
        .ok()
        .map(std::sync::Arc::new)
}

/// The Cargo home whose crates kernels compile against: `kernel_cargo_home`,
/// else `$CARGO_HOME`, else `~/.cargo`.
fn operator_cargo_home(config: &KernelSettings) -> Option<PathBuf> {
    if !config.cargo_home.as_os_str().is_empty() {
        return Some(absolute(&config.cargo_home));
    }
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// The parts of the operator's Cargo home that kernels read: the crates'
/// sources and index, and git checkouts. Never the rest of it
/// (`credentials.toml` holds registry tokens, `config.toml` settings).
const CARGO_HOME_SHARED: [&str; 2] = ["registry", "git"];

/// What a sandboxed kernel may read (and execute) besides the system: the
/// worker binary (evcxr's child is the same file), the toolchain, the
/// registry and git checkouts of the operator's Cargo home (not its
/// credentials or configuration), the kernels' own Cargo home, and — for
/// the prelude — the workspace manifests cargo reads to build `flywheel-ml`
/// and the `crates/` sources, but not the rest of the repository (the
/// default data directory, with the database, is inside it).
fn sandbox_reads(
    program: &Path,
    sysroot: &Path,
    cargo_home: Option<&Path>,
    kernel_cargo_home: Option<&Path>,
    prelude: Option<&Path>,
    kernels_dir: &Path,
) -> Vec<PathBuf> {
    let mut read = vec![absolute(program), sysroot.to_path_buf()];
    let shared = cargo_home.into_iter().flat_map(|home| CARGO_HOME_SHARED.map(|part| home.join(part)));
    read.extend(shared.filter(|p| p.exists()));
    read.extend(kernel_cargo_home.map(Path::to_path_buf));
    // Cargo walks up from each session's project reading every `Cargo.toml`
    // and `.cargo/` it meets (an unreadable one is an error): when the data
    // directory sits inside a workspace (the default `./data` does), those.
    for dir in kernels_dir.ancestors().skip(1) {
        for found in [dir.join("Cargo.toml"), dir.join(".cargo")] {
            if found.exists() {
                read.push(found);
            }
        }
    }
    if let Some(workspace) = prelude.and_then(Path::parent).and_then(Path::parent) {
        read.push(workspace.join("crates"));
        for manifest in ["Cargo.toml", "Cargo.lock", "server/Cargo.toml", "tests/Cargo.toml"] {
            read.push(workspace.join(manifest));
        }
    }
    read
}

/// The `CARGO_HOME` kernels share: `registry` and `git` linked to the
/// server's own (crate sources, index and checkouts, read-only to kernels)
/// and cargo's lock files, the only files in it a kernel may write.
fn kernel_cargo_home(kernels_dir: &Path, real: &Path) -> anyhow::Result<PathBuf> {
    let home = kernels_dir.join("cargo-home");
    std::fs::create_dir_all(&home).with_context(|| format!("cannot create {}", home.display()))?;
    for part in CARGO_HOME_SHARED {
        let (link, target) = (home.join(part), real.join(part));
        if target.exists() && std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&target, &link)
                .with_context(|| format!("cannot link {} to {}", link.display(), target.display()))?;
        }
    }
    for file in flywheel_kernel_manager::CARGO_LOCK_FILES {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.join(file))
            .with_context(|| format!("cannot create {}", home.join(file).display()))?;
    }
    Ok(home)
}

/// The configured worker, or `flywheel-kernel` beside this binary or on `PATH`.
fn locate_worker(config: &KernelSettings) -> Option<PathBuf> {
    if !config.program.as_os_str().is_empty() {
        return Some(config.program.clone());
    }
    // (A configured program that does not exist is reported by `prepare`.)
    let beside = std::env::current_exe().ok()?.parent()?.join(WORKER);
    if beside.is_file() {
        return Some(beside);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(WORKER))
        .find(|p| p.is_file())
}

/// Builds the worker with cargo when Flywheel runs from its source tree
/// (the README's `cargo run --release`), in the same profile as this binary.
async fn build_worker(progress: &Progress<'_>) -> anyhow::Result<PathBuf> {
    let workspace = source_tree();
    let here = std::env::current_exe().context("cannot find this executable")?;
    let Some(target_profile_dir) = here.parent().filter(|_| workspace.join("Cargo.lock").is_file()) else {
        anyhow::bail!("`{WORKER}` was not found beside `flywheel` or on PATH; set `kernel_program`");
    };
    let release = !cfg!(debug_assertions);
    progress(&format!(
        "Building the kernel worker `{WORKER}` (first start only; about 10 minutes on 2 cores). Notebooks can run cells once it is done."
    ));
    tracing::info!("building the kernel worker: cargo build -p {WORKER}{}", if release { " --release" } else { "" });
    let started = Instant::now();
    let mut cargo = tokio::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // Stopping the server (which drops this future) stops the build too.
    cargo.current_dir(&workspace).args(["build", "--locked", "-p", WORKER]).kill_on_drop(true);
    if release {
        cargo.arg("--release");
    }
    if let Some(target_dir) = target_profile_dir.parent() {
        cargo.env("CARGO_TARGET_DIR", target_dir);
    }
    let status = cargo.status().await.context("cannot run cargo to build the kernel worker")?;
    anyhow::ensure!(status.success(), "building the kernel worker failed ({status}); see the log above");
    let built = target_profile_dir.join(WORKER);
    anyhow::ensure!(built.is_file(), "cargo finished but {} is missing", built.display());
    tracing::info!(seconds = started.elapsed().as_secs(), "built the kernel worker");
    Ok(built)
}

/// The template session directory with the algorithm library compiled in
/// (built once; rebuilt when the worker or the library changes). Each new
/// session copies it, so its `:dep` finds everything fresh.
async fn template(
    progress: &Progress<'_>,
    kernels: &Path,
    spawner: &ProcessSpawner,
    source: &Path,
) -> anyhow::Result<PathBuf> {
    let dir = kernels.join("template");
    let stamp = freshness_stamp(&spawner.program, source);
    let stamp_file = dir.join("stamp");
    if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return Ok(dir);
    }
    progress(
        "Compiling the algorithm library for notebooks (first start only; a few minutes). \
         Notebooks can run cells once it is done.",
    );
    tracing::info!(dir = %dir.display(), "building the kernel template (the algorithm library, compiled once)");
    let started = Instant::now();
    let building = kernels.join("template.building");
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building).context("cannot create the kernel template directory")?;
    let bare = ProcessSpawner { template: None, ..spawner.clone() };
    let mut worker = bare.spawn(&building).context("cannot start the kernel worker")?;
    let ready =
        async { worker.ready().await.map_err(|why| anyhow::anyhow!("the algorithm library did not load: {why}")) };
    tokio::time::timeout(Duration::from_secs(45 * 60), ready)
        .await
        .map_err(|_| anyhow::anyhow!("compiling the algorithm library took more than 45 minutes"))??;
    let _ = worker.requests.send(Request::Shutdown);
    let exited = async { while !matches!(worker.events.recv().await, Some(WorkerEvent::Exited(_)) | None) {} };
    let _ = tokio::time::timeout(Duration::from_secs(30), exited).await;
    drop(worker);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&building, &dir).context("cannot move the kernel template into place")?;
    std::fs::write(&stamp_file, stamp).context("cannot write the kernel template's stamp")?;
    tracing::info!(seconds = started.elapsed().as_secs(), "built the kernel template");
    Ok(dir)
}

/// Changes when the worker binary or any file of the library changes.
fn freshness_stamp(program: &Path, source: &Path) -> String {
    fn newest(p: &Path) -> u128 {
        let Ok(meta) = std::fs::metadata(p) else { return 0 };
        let own =
            meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        if !meta.is_dir() {
            return own;
        }
        std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| newest(&e.path())).fold(own, u128::max)
    }
    let program_meta = std::fs::metadata(program).map(|m| m.len()).unwrap_or(0);
    format!(
        "worker {} {} {}\nlibrary {} {}\n",
        program.display(),
        program_meta,
        newest(program),
        source.display(),
        newest(&source.join("src")).max(newest(&source.join("Cargo.toml")))
    )
}

/// Makes sure the standard library's source is there for rust-analyzer,
/// which evcxr runs to find the type of each variable a cell keeps: without
/// it, `let name = s.to_string();` fails with "Couldn't automatically
/// determine type of variable". Two parts: the toolchain's `rust-src`
/// component (added with rustup when missing), and the crates the standard
/// library's own workspace depends on, which rust-analyzer reads with
/// `cargo metadata` ([`fetch`]; `RUSTC_BOOTSTRAP=1`: that workspace uses
/// unstable cargo features).
async fn std_sources(progress: &Progress<'_>, sysroot: &Path, cargo_home: Option<&Path>) -> anyhow::Result<()> {
    let library = sysroot.join("lib/rustlib/src/rust/library/Cargo.toml");
    if !library.is_file() {
        progress("Preparing kernels: adding the Rust standard library's source (rustup component add rust-src)…");
        tracing::info!("adding the rust-src component, which the kernels' type inference reads");
        let added = run_text("rustup", &["component", "add", "rust-src"]).await;
        anyhow::ensure!(
            library.is_file(),
            "the Rust standard library's source is missing and could not be added ({}); kernels need it to keep \
             variables between cells: run `rustup component add rust-src`",
            added.err().map_or_else(|| "rustup added nothing".to_owned(), |e| format!("{e:#}"))
        );
    }
    fetch(progress, &library, "the Rust standard library's dependencies", true, cargo_home).await;
    Ok(())
}

/// Puts every package of `manifest`'s lock file, for every target, into
/// cargo's registry. Kernels run cargo offline, and both rust-analyzer's
/// `cargo metadata` and the prelude's `:dep` resolve the whole graph —
/// packages only other platforms build (wasm's `bumpalo`) included — which
/// `cargo build` here never downloads. Offline first (milliseconds when all
/// is there), then online; a failure (no network) is logged, not fatal.
/// Into `cargo_home` where one is configured, else cargo's own.
async fn fetch(progress: &Progress<'_>, manifest: &Path, what: &str, bootstrap: bool, cargo_home: Option<&Path>) {
    let run = |offline: bool| {
        let mut cargo = tokio::process::Command::new("cargo");
        cargo.args(["fetch", "--quiet", "--manifest-path"]).arg(manifest);
        if let Some(home) = cargo_home {
            cargo.env("CARGO_HOME", home);
        }
        if bootstrap {
            cargo.env("RUSTC_BOOTSTRAP", "1");
        }
        if offline {
            cargo.arg("--offline");
        }
        tokio::time::timeout(Duration::from_secs(600), cargo.output())
    };
    if matches!(run(true).await, Ok(Ok(out)) if out.status.success()) {
        return;
    }
    progress(&format!("Preparing kernels: fetching {what}…"));
    let why = match run(false).await {
        Ok(Ok(out)) if out.status.success() => return,
        Ok(Ok(out)) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out after 600 s".to_owned(),
    };
    tracing::warn!(error = %why, manifest = %manifest.display(), "could not fetch {what} into cargo's registry; kernels run cargo offline and may fail to resolve them");
}

async fn run_text(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(program).args(args).output().await?;
    anyhow::ensure!(out.status.success(), "{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A line for people: whether kernels can run, and if not, why.
pub fn describe(a: &Availability) -> String {
    match a {
        Availability::Ready => "Kernels are ready.".to_owned(),
        Availability::Preparing(m) | Availability::Unavailable(m) => m.clone(),
    }
}
