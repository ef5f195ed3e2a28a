//! Configuration, in layers: built-in defaults, then an optional
//! `flywheel.toml`, then `FLYWHEEL_*` environment variables, then
//! command-line options. `server/flywheel.example.toml` documents every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything an operator can set. Field docs are the reference; the example
/// config repeats them with defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the web server listens on.
    pub bind: SocketAddr,
    /// Directory for Flywheel's own files (the SQLite database by default).
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    /// Empty means `sqlite://<data_dir>/flywheel.db`.
    pub database_url: String,
    /// Seconds to wait for the database at start before giving up.
    pub database_connect_timeout_secs: u64,
    /// The URL people reach Flywheel at (empty: `http://<bind>`). When it
    /// starts with `https://`, session cookies are marked `Secure` (set it
    /// when Flywheel is behind a TLS proxy).
    pub public_url: String,
    /// Whether anyone may create an account from the sign-up page or API.
    pub signup_enabled: bool,
    /// A web session ends after this many hours without a request.
    pub session_idle_hours: u64,
    /// Largest request body accepted, in bytes (larger gets 413).
    pub max_body_bytes: usize,
    /// Failed log-ins (wrong password, unknown email) allowed per account per
    /// minute, web and API together; past them the account is locked until
    /// the oldest is a minute old.
    pub login_failures_per_account_per_minute: u32,
    /// Failed log-ins allowed per client IP address per minute, whatever the
    /// account (password spraying); past them the address is locked likewise.
    pub login_failures_per_ip_per_minute: u32,
    /// Successful log-ins allowed per client IP address per minute: high
    /// enough for a room behind one address.
    pub logins_per_ip_per_minute: u32,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// Directory served at `/static` (htmx, CSS). Defaults to the repository's `static/`.
    pub static_dir: PathBuf,
    /// Directory of labs (`<slug>/notebook.md`). Defaults to the repository's `labs/`.
    pub labs_dir: PathBuf,
    /// Directory of curriculum pages (`*.md`). Defaults to the repository's `content/`.
    pub content_dir: PathBuf,
    /// Largest notebook upload or save accepted, in bytes (notebooks with
    /// plots are bigger than other requests; `max_body_bytes` covers the rest).
    pub max_notebook_bytes: usize,
    /// Largest dataset (CSV) upload accepted, in bytes.
    pub max_dataset_bytes: usize,
    /// The kernel worker executable. Empty: `flywheel-kernel` beside the
    /// `flywheel` binary, else on `PATH`; from a source tree, built on first
    /// start when missing.
    pub kernel_program: PathBuf,
    /// Whether sessions start with the algorithm library loaded
    /// (`use flywheel_ml::prelude::*;`).
    pub kernel_prelude: bool,
    /// Pre-started kernels kept ready, so opening a notebook does not wait.
    pub kernel_pool_size: usize,
    /// Cells compiling or running at once across all sessions (0: cores − 1, at least 1).
    pub kernel_max_concurrent_cells: usize,
    /// A cell running longer than this many seconds is interrupted.
    pub kernel_cell_time_limit_secs: u64,
    /// A kernel idle for this many minutes is stopped (the notebook stays).
    pub kernel_idle_minutes: u64,
    /// Open sessions one user may have.
    pub kernel_max_sessions_per_user: usize,
    /// Printed text kept per cell, in bytes (the rest is dropped with a note).
    pub kernel_max_output_bytes: usize,
    /// Run kernels in their sandbox (Landlock filesystem rules, no network
    /// sockets, rlimits). Off only for debugging.
    pub kernel_sandbox: bool,
    /// Refuse to start kernels where the Linux kernel does not fully enforce Landlock.
    pub kernel_require_sandbox: bool,
    /// Memory (address space) of the process running a session's code, in MiB.
    pub kernel_memory_limit_mb: u64,
    /// Processes and threads a kernel's user code may have (the cells and
    /// what they start; not the compiler), through a pids cgroup per kernel
    /// where Linux lets Flywheel make one; 0: no bound.
    pub kernel_max_processes: u32,
    /// The Cargo home whose `registry` (and `git`) kernels compile against,
    /// read-only; nothing else in it (credentials, configuration) is
    /// readable by kernels. Empty: `$CARGO_HOME`, else `~/.cargo`.
    pub kernel_cargo_home: PathBuf,
    /// Training workers `serve` starts on this machine (each runs one job at a time; 0: none).
    pub training_local_workers: usize,
    /// The `flywheel` executable workers run jobs with (`flywheel train-job DIR`). Empty: this one.
    pub training_worker_program: PathBuf,
    /// Training jobs one participant may have running at once.
    pub training_max_running_per_user: usize,
    /// Training jobs one team may have running at once.
    pub training_max_running_per_team: usize,
    /// Worker-minutes a team may use per UTC day (a GPU minute counts ten); 0: no quota.
    pub training_quota_minutes_per_day: u64,
    /// A training job running longer than this many minutes is stopped and failed.
    pub training_time_limit_minutes: u64,
    /// Attempts a job gets when its worker keeps dying, before it is failed.
    pub training_max_attempts: u32,
    /// The secret remote workers join with (`flywheel worker --server URL
    /// --token …`); empty (the default): no remote workers.
    pub training_worker_token: String,
    /// A running job whose worker has not heartbeaten for this many seconds
    /// (a crashed server or a lost worker) goes back to the queue.
    pub training_heartbeat_timeout_secs: u64,
    /// `local` (workers on this machine) or `slurm` (every job handed to a Slurm cluster with sbatch).
    pub training_backend: TrainingBackend,
    /// The Slurm partition jobs go to; empty: the cluster's default.
    pub training_slurm_partition: String,
    /// Run each team's jobs under a Slurm account of its own (`flywheel-<team>`), for Slurm's fair share.
    pub training_slurm_team_accounts: bool,
}

/// Where training jobs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainingBackend {
    /// Local workers started by `serve`.
    Local,
    /// A Slurm cluster (`sbatch`, `squeue`, `scontrol`, `scancel` on this machine's PATH).
    Slurm,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: String::new(),
            database_connect_timeout_secs: 10,
            public_url: String::new(),
            signup_enabled: true,
            session_idle_hours: 24 * 7,
            max_body_bytes: 1024 * 1024,
            login_failures_per_account_per_minute: 5,
            login_failures_per_ip_per_minute: 60,
            logins_per_ip_per_minute: 600,
            log_format: LogFormat::Text,
            static_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../static")),
            labs_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../labs")),
            content_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../content")),
            max_notebook_bytes: 16 * 1024 * 1024,
            max_dataset_bytes: 50 * 1024 * 1024,
            kernel_program: PathBuf::new(),
            kernel_prelude: true,
            kernel_pool_size: 1,
            kernel_max_concurrent_cells: 0,
            kernel_cell_time_limit_secs: 120,
            kernel_idle_minutes: 30,
            kernel_max_sessions_per_user: 4,
            kernel_max_output_bytes: 1024 * 1024,
            kernel_sandbox: true,
            kernel_require_sandbox: false,
            kernel_memory_limit_mb: 4096,
            kernel_max_processes: 256,
            kernel_cargo_home: PathBuf::new(),
            training_local_workers: 1,
            training_worker_program: PathBuf::new(),
            training_max_running_per_user: 2,
            training_max_running_per_team: 4,
            training_quota_minutes_per_day: 240,
            training_time_limit_minutes: 60,
            training_max_attempts: 3,
            training_heartbeat_timeout_secs: 15,
            training_worker_token: String::new(),
            training_backend: TrainingBackend::Local,
            training_slurm_partition: String::new(),
            training_slurm_team_accounts: false,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    /// `--bind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// The file read when `--config` is not given (it may be absent).
    pub const DEFAULT_FILE: &'static str = "flywheel.toml";

    /// Builds the configuration from its layers. `file` must exist when it
    /// is given explicitly; the default `flywheel.toml` may be missing.
    ///
    /// # Errors
    /// An unreadable or invalid file, an unknown key, or a value of the
    /// wrong type, naming the key.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let path = match file {
            Some(p) if !p.exists() => anyhow::bail!("config file {} does not exist", p.display()),
            Some(p) => p.to_path_buf(),
            None => PathBuf::from(Self::DEFAULT_FILE),
        };
        let env = Env::prefixed("FLYWHEEL_").only(&Self::KEYS);
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&path))
            .merge(env)
            .merge(Serialized::defaults(overrides))
            .extract()
            .with_context(|| format!("invalid configuration (file {}, FLYWHEEL_* variables)", path.display()))
    }

    const KEYS: [&'static str; 42] = [
        "bind",
        "data_dir",
        "database_url",
        "database_connect_timeout_secs",
        "public_url",
        "signup_enabled",
        "session_idle_hours",
        "max_body_bytes",
        "login_failures_per_account_per_minute",
        "login_failures_per_ip_per_minute",
        "logins_per_ip_per_minute",
        "log_format",
        "static_dir",
        "labs_dir",
        "content_dir",
        "max_notebook_bytes",
        "max_dataset_bytes",
        "kernel_program",
        "kernel_prelude",
        "kernel_pool_size",
        "kernel_max_concurrent_cells",
        "kernel_cell_time_limit_secs",
        "kernel_idle_minutes",
        "kernel_max_sessions_per_user",
        "kernel_max_output_bytes",
        "kernel_sandbox",
        "kernel_require_sandbox",
        "kernel_memory_limit_mb",
        "kernel_max_processes",
        "kernel_cargo_home",
        "training_local_workers",
        "training_worker_program",
        "training_max_running_per_user",
        "training_max_running_per_team",
        "training_quota_minutes_per_day",
        "training_time_limit_minutes",
        "training_max_attempts",
        "training_heartbeat_timeout_secs",
        "training_worker_token",
        "training_backend",
        "training_slurm_partition",
        "training_slurm_team_accounts",
    ];

    /// The keys the application services obey.
    pub fn app_settings(&self) -> flywheel_app::Settings {
        flywheel_app::Settings {
            labs_dir: self.labs_dir.clone(),
            content_dir: self.content_dir.clone(),
            signup_enabled: self.signup_enabled,
            max_dataset_bytes: self.max_dataset_bytes,
            kernels: self.kernel_settings(),
            training: flywheel_app::training::TrainingSettings {
                local_workers: self.training_local_workers,
                worker_program: self.training_worker_program.clone(),
                work_dir: self.data_dir.join("training"),
                per_user_running: self.training_max_running_per_user,
                per_team_running: self.training_max_running_per_team,
                quota_minutes_per_day: self.training_quota_minutes_per_day,
                heartbeat_timeout: std::time::Duration::from_secs(self.training_heartbeat_timeout_secs.max(2)),
                max_attempts: self.training_max_attempts,
                time_limit: std::time::Duration::from_secs(self.training_time_limit_minutes.saturating_mul(60)),
                worker_token: self.training_worker_token.clone(),
                slurm: (self.training_backend == TrainingBackend::Slurm).then(|| {
                    flywheel_app::training::slurm::SlurmSettings {
                        partition: self.training_slurm_partition.clone(),
                        team_accounts: self.training_slurm_team_accounts,
                    }
                }),
            },
        }
    }

    /// The `kernel_*` keys, as the kernel services take them.
    pub fn kernel_settings(&self) -> flywheel_app::kernels::KernelSettings {
        flywheel_app::kernels::KernelSettings {
            data_dir: self.data_dir.clone(),
            program: self.kernel_program.clone(),
            prelude: self.kernel_prelude,
            pool_size: self.kernel_pool_size,
            max_concurrent_cells: self.kernel_max_concurrent_cells,
            cell_time_limit: std::time::Duration::from_secs(self.kernel_cell_time_limit_secs),
            idle_timeout: std::time::Duration::from_secs(self.kernel_idle_minutes.saturating_mul(60)),
            max_sessions_per_user: self.kernel_max_sessions_per_user,
            max_output_bytes: self.kernel_max_output_bytes,
            sandbox: self.kernel_sandbox,
            require_sandbox: self.kernel_require_sandbox,
            memory_limit_mb: self.kernel_memory_limit_mb,
            max_processes: self.kernel_max_processes,
            cargo_home: self.kernel_cargo_home.clone(),
        }
    }

    /// The database URL in force: the configured one, or the SQLite file in `data_dir`.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("flywheel.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The URL in force, without a trailing slash: the configured one, or `http://<bind>`.
    pub fn effective_public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.bind)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// Whether cookies must carry the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail and figment::Error are what they are
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "flywheel.toml",
                "signup_enabled = false\nbind = \"127.0.0.1:9000\"\ndata_dir = \"/srv/a\"",
            )?;
            jail.set_env("FLYWHEEL_DATA_DIR", "/srv/b");
            jail.set_env("FLYWHEEL_TEST_DATABASE", "postgres"); // not a config key: ignored
            let overrides = Overrides { bind: Some("0.0.0.0:7000".parse().unwrap()), ..Overrides::default() };
            let c = Config::load(None, &overrides).map_err(|e| e.to_string())?;
            assert!(!c.signup_enabled, "file layer");
            assert_eq!(c.data_dir, PathBuf::from("/srv/b"), "env beats file");
            assert_eq!(c.bind.to_string(), "0.0.0.0:7000", "command line beats all");
            assert_eq!(c.effective_database_url(), "sqlite:///srv/b/flywheel.db");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_explicit_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("flywheel.toml", "sign_up = true")?;
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("sign_up"), "{err:#}");
            let err = Config::load(Some(Path::new("nope.toml")), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("nope.toml does not exist"));
            Ok(())
        });
    }

    /// Every key's example value is its default, except the directories
    /// of the source tree, which the example shows installed elsewhere
    /// (that every key is in the file at all is checked by tests/tidy.rs).
    #[test]
    fn example_config_is_the_defaults() {
        let example = toml_from_example(include_str!("../flywheel.example.toml")).expect("example config parses");
        let mut example = serde_json::to_value(example).expect("serialises");
        let mut defaults = serde_json::to_value(Config::default()).expect("serialises");
        for installed in ["static_dir", "labs_dir", "content_dir"] {
            assert_ne!(example[installed], defaults[installed], "{installed} is shown installed");
            example[installed] = serde_json::Value::Null;
            defaults[installed] = serde_json::Value::Null;
        }
        assert_eq!(example, defaults);
    }

    fn toml_from_example(text: &str) -> Result<Config, figment::Error> {
        // Uncomment every `# key = value` line, as an operator would.
        let active: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("# ").filter(|l| l.contains(" = ")))
            .map(|l| format!("{l}\n"))
            .collect();
        Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(&active)).extract()
    }
}
