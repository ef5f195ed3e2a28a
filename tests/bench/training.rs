//! The training pool's benchmark: one command, a table.
//!
//!     cargo run --release -p flywheel-tests --example training_bench [-- --jobs 500 --workers 2]
//!
//! On the real server (in process, SQLite in a temp dir) with real local
//! workers, each job a real `flywheel train-job` process of the same build
//! (build it first: `cargo build --release -p flywheel`). Tiny jobs
//! (gradient-boosted trees, 1 round on the German credit data) so that the
//! pool's own costs show:
//!
//! - **submit → running** with a free worker: one job at a time, p50 / p95
//!   of the time from `POST /api/v1/training-jobs` until `GET` says `running`
//!   (target ≤ 1 s; the anchor is the same pool's end-to-end time per job);
//! - **throughput** of N jobs submitted at once (jobs/s), against the anchor
//!   of running the same job's process N times back to back by hand
//!   (`flywheel train-job`, no server), per worker;
//! - **fair share**: two teams with equal weights submit their halves of the
//!   jobs interleaved; team A's share of the starts while both teams still
//!   had jobs waiting (ideal 50 %);
//! - **ETA error**: each queued job's `estimated_start_secs` at submission
//!   against when it really started (median absolute error, and relative to
//!   the actual wait);
//! - **TPE against random search** (the tuning jobs' two strategies, the
//!   same `Search` the pool uses, trials fitted in process): boosted trees on
//!   fraud data (30,000 generated rows to train, 30,000 others to validate),
//!   learning rate, depth and rounds searched, PR AUC maximised; the best
//!   after N trials for each of 10 seeds, and on how many seeds TPE is ahead;
//! - **early stopping** (ASHA, η = 3 from round 5; the median rule from
//!   round 5 after 5 completed trials): random-search trials of 150 rounds
//!   each on the same data, fitted in full in process, then the tuning
//!   controller's own rule ([`EarlyStopping::verdict`]) replayed on their real
//!   `validation_log_loss` curves, trials one after another; rounds used
//!   against full training of every trial (target ≤ 40 %), and the best PR AUC
//!   of the trials each rule lets finish against the best of all.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flywheel_app::training::stopping::{EarlyStopping, Other, Reached};
use flywheel_app::training::tuning::{ParamRange, Search, Strategy};
use flywheel_ml::training::TrainingSpec;

use flywheel_domain::Role;
use flywheel_tests::{Api, flywheel_program, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

fn tiny_job() -> Value {
    json!({
        "algorithm": "gradient_boosted_trees",
        "hyperparameters": {"iterations": 1, "max_depth": 2},
        "data": {"train": "builtin:german_credit", "target": "creditability"},
    })
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

async fn get(api: &Api, token: &str, id: &str) -> Value {
    api.json(Method::GET, &format!("/api/v1/training-jobs/{id}"), None, token).await.1
}

async fn submit(api: &Api, token: &str) -> Value {
    let (status, job) = api.json(Method::POST, "/api/v1/training-jobs", Some(tiny_job()), token).await;
    assert_eq!(status, 201, "{job}");
    job
}

/// The anchor: the same job's process, run `n` times back to back without a server.
fn anchor_per_job(n: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let job = json!({
        "spec": {"algorithm": "gradient_boosted_trees", "hyperparameters": {"iterations": 1, "max_depth": 2}, "target": "creditability"},
        "train": {"builtin": "german_credit"},
        "validation": null,
    });
    std::fs::write(dir.path().join("job.json"), job.to_string()).expect("job file");
    let started = Instant::now();
    for _ in 0..n {
        let status = std::process::Command::new(flywheel_program())
            .arg("train-job")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("flywheel train-job");
        assert!(status.success(), "the anchor job failed");
    }
    started.elapsed().as_secs_f64() / n as f64
}

/// (seed, TPE's best after all trials, random's, TPE's after half, random's after half).
type SeedRow = (u64, f64, f64, f64, f64);

/// Best validation PR AUC after each trial, for one strategy and seed.
fn tune(
    strategy: Strategy,
    seed: u64,
    trials: usize,
    train: &flywheel_ml::Table,
    valid: &flywheel_ml::Table,
) -> Vec<f64> {
    let ranges = BTreeMap::from([
        ("learning_rate".to_owned(), ParamRange::Continuous { min: 0.01, max: 0.3, log: true }),
        ("max_depth".to_owned(), ParamRange::Integer { min: 2, max: 6, log: false }),
        ("iterations".to_owned(), ParamRange::Integer { min: 20, max: 150, log: false }),
    ]);
    let mut search = Search::new(strategy, &ranges).expect("valid ranges");
    let mut best = f64::NEG_INFINITY;
    let mut curve = Vec::new();
    for trial in 0..trials {
        let params = search.ask(seed.wrapping_mul(1000).wrapping_add(trial as u64));
        let spec = TrainingSpec {
            algorithm: "gradient_boosted_trees".into(),
            hyperparameters: params.clone(),
            target: Some("Class".into()),
        };
        let trained =
            flywheel_ml::training::train(&spec, train, Some(valid), None, &mut |_| {}).expect("a trial trains");
        let ap = trained.final_metrics["validation_average_precision"];
        search.tell(&params, -ap);
        best = best.max(ap);
        curve.push(best);
    }
    curve
}

/// A fully trained trial: its `validation_log_loss` per round and its final PR AUC.
struct FullTrial {
    curve: Vec<f64>,
    ap: f64,
}

/// Random-search trials of `rounds` boosting rounds, trained in full.
fn full_trials(
    seed: u64,
    trials: usize,
    rounds: usize,
    train: &flywheel_ml::Table,
    valid: &flywheel_ml::Table,
) -> Vec<FullTrial> {
    let ranges = BTreeMap::from([
        ("learning_rate".to_owned(), ParamRange::Continuous { min: 0.005, max: 0.5, log: true }),
        ("max_depth".to_owned(), ParamRange::Integer { min: 2, max: 6, log: false }),
    ]);
    let mut search = Search::new(Strategy::Random, &ranges).expect("valid ranges");
    (0..trials)
        .map(|trial| {
            let mut hyperparameters = search.ask(seed.wrapping_mul(1000).wrapping_add(trial as u64));
            hyperparameters.insert("iterations".into(), json!(rounds));
            let spec = TrainingSpec {
                algorithm: "gradient_boosted_trees".into(),
                hyperparameters,
                target: Some("Class".into()),
            };
            let trained =
                flywheel_ml::training::train(&spec, train, Some(valid), None, &mut |_| {}).expect("a trial trains");
            let curve = trained.curves["validation_log_loss"].clone();
            FullTrial { curve, ap: trained.final_metrics["validation_average_precision"] }
        })
        .collect()
}

/// Replays `rule` on full trials run one after another: (rounds used, best
/// PR AUC of the trials it let finish).
fn replay(rule: &EarlyStopping, trials: &[FullTrial]) -> (usize, f64) {
    let mut seen: Vec<(Vec<Reached>, bool)> = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for (i, t) in trials.iter().enumerate() {
        let mut mine = Vec::new();
        let mut completed = true;
        for (r, &value) in t.curve.iter().enumerate() {
            mine.push(Reached { round: r as u64 + 1, at: (i * 1_000_000 + r) as i64, value });
            let others: Vec<Other<'_>> = seen.iter().map(|(c, done)| Other { curve: c, completed: *done }).collect();
            if r + 1 < t.curve.len() && rule.verdict(&mine, &others).is_some() {
                completed = false;
                break;
            }
        }
        if completed {
            best = best.max(t.ap);
        }
        seen.push((mine, completed));
    }
    (seen.iter().map(|(c, _)| c.len()).sum(), best)
}

#[tokio::main]
async fn main() {
    let jobs = arg("--jobs", 500);
    let workers = arg("--workers", 2);
    let singles = arg("--singles", 30);
    assert!(flywheel_program().is_file(), "build the worker's program first: cargo build --release -p flywheel");
    let app = spawn_app_with(|c| {
        c.training_local_workers = workers;
        c.training_quota_minutes_per_day = 0;
        c.training_max_running_per_user = workers;
        c.training_max_running_per_team = workers;
    })
    .await;
    let api = app.api();
    let ins = app.account("ins@example.org", Role::Instructor).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let bob = app.account("bob@example.org", Role::Participant).await;
    let (_, w) = api
        .create_workshop(
            &ins,
            json!({"title": "Bench", "days": ["2099-03-02", "2099-03-03", "2099-03-04"], "team_size": 2}),
        )
        .await;
    let (ws, code) = (w["id"].as_str().unwrap().to_owned(), w["join_code"].as_str().unwrap().to_owned());
    for t in [&ada, &bob] {
        api.join_workshop(t, &code).await;
    }
    let (_, a) = api.create_team(&ada, &ws, "A").await;
    let (_, b) = api.create_team(&bob, &ws, "B").await;
    let (team_a, _team_b) = (a["id"].as_str().unwrap().to_owned(), b["id"].as_str().unwrap().to_owned());

    // 1. Submit → running, one job at a time on a free worker.
    let mut to_running = Vec::new();
    let mut end_to_end = Vec::new();
    for _ in 0..singles {
        let t0 = Instant::now();
        let id = submit(&api, &ada).await["id"].as_str().unwrap().to_owned();
        let mut running_at = None;
        loop {
            let j = get(&api, &ada, &id).await;
            if running_at.is_none() && j["state"] != "pending" {
                running_at = Some(t0.elapsed().as_secs_f64());
            }
            if j["state"] == "completed" {
                break;
            }
            assert!(j["state"] != "failed", "{j}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        to_running.push(running_at.unwrap_or(f64::NAN));
        end_to_end.push(t0.elapsed().as_secs_f64());
    }
    to_running.sort_by(f64::total_cmp);
    end_to_end.sort_by(f64::total_cmp);

    // 2–4. N jobs at once, the two teams' interleaved.
    let t0 = Instant::now();
    let mut submitted = Vec::new();
    for i in 0..jobs {
        let token = if i % 2 == 0 { &ada } else { &bob };
        let j = submit(&api, token).await;
        let eta = j["estimated_start_secs"].as_f64();
        submitted.push((j["id"].as_str().unwrap().to_owned(), token.clone(), t0.elapsed().as_secs_f64(), eta));
    }
    let submit_secs = t0.elapsed().as_secs_f64();
    let mut started: Vec<(f64, String, String)> = Vec::new(); // (start, id, team)
    let mut eta_errors = Vec::new();
    loop {
        let (_, list_a) = api.json(Method::GET, "/api/v1/training-jobs", None, &ada).await;
        let (_, list_b) = api.json(Method::GET, "/api/v1/training-jobs", None, &bob).await;
        let all: Vec<&Value> = list_a.as_array().unwrap().iter().chain(list_b.as_array().unwrap()).collect();
        let done = submitted
            .iter()
            .filter(|(id, ..)| all.iter().any(|j| j["id"] == id.as_str() && j["state"] == "completed"))
            .count();
        if done == submitted.len() {
            for (id, _, at, eta) in &submitted {
                let j = all.iter().find(|j| j["id"] == id.as_str()).unwrap();
                let start_ms = j["started_at"].as_i64().unwrap() - j["created_at"].as_i64().unwrap();
                let team = j["team"].as_str().unwrap_or_default().to_owned();
                started.push((j["started_at"].as_i64().unwrap() as f64, id.clone(), team));
                if let Some(eta) = eta {
                    let actual = start_ms as f64 / 1000.0;
                    eta_errors.push(((eta - actual).abs(), actual, *at));
                }
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let all_secs = t0.elapsed().as_secs_f64();
    started.sort_by(|a, b| a.0.total_cmp(&b.0));
    // While both teams had jobs waiting: until the last job of either team started.
    let last_a = started.iter().rposition(|(_, _, t)| t == &team_a).unwrap_or(0);
    let last_b = started.iter().rposition(|(_, _, t)| t != &team_a).unwrap_or(0);
    let window: Vec<_> = started[..last_a.min(last_b)].iter().collect();
    let share_a = window.iter().filter(|(_, _, t)| t == &team_a).count() as f64 / window.len().max(1) as f64;
    let mut abs: Vec<f64> = eta_errors.iter().map(|e| e.0).collect();
    abs.sort_by(f64::total_cmp);
    let mut rel: Vec<f64> = eta_errors.iter().filter(|e| e.1 > 1.0).map(|e| e.0 / e.1).collect();
    rel.sort_by(f64::total_cmp);

    let anchor = anchor_per_job(20);

    // TPE against random search, in process.
    let (seeds, trials) = (arg("--tpe-seeds", 10), arg("--tpe-trials", 20));
    let train = flywheel_ml::datasets::credit_card_fraud_with(30_000, 11).expect("fraud train");
    let valid = flywheel_ml::datasets::credit_card_fraud_with(30_000, 12).expect("fraud validation");
    let t_tune = Instant::now();
    if seeds == 0 || trials < 2 {
        println!("(TPE against random search skipped: --tpe-seeds 0)");
    }
    let mut rows: Vec<SeedRow> = Vec::new();
    for seed in (0..seeds as u64).filter(|_| trials >= 2) {
        let tpe = tune(Strategy::Tpe, seed, trials, &train, &valid);
        let random = tune(Strategy::Random, seed, trials, &train, &valid);
        rows.push((seed, tpe[trials - 1], random[trials - 1], tpe[trials / 2 - 1], random[trials / 2 - 1]));
    }
    let tune_secs = t_tune.elapsed().as_secs_f64();
    let ahead = rows.iter().filter(|r| r.1 > r.2).count();
    let ties = rows.iter().filter(|r| r.1 == r.2).count();
    let throughput = jobs as f64 / all_secs;
    let ideal = workers as f64 / anchor;
    println!();
    println!(
        "Training pool benchmark: {jobs} tiny jobs (boosted trees, 1 round, German credit), {workers} local workers"
    );
    println!("| measure | value | anchor (same run) | ratio |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| submit → running, free worker, p50 / p95 ({singles} jobs) | {:.3} s / {:.3} s | job end to end p50 {:.3} s | {:.2} |",
        percentile(&to_running, 0.5),
        percentile(&to_running, 0.95),
        percentile(&end_to_end, 0.5),
        percentile(&to_running, 0.5) / percentile(&end_to_end, 0.5)
    );
    println!(
        "| throughput, {jobs} jobs at once | {throughput:.2} jobs/s ({all_secs:.1} s; submitting took {submit_secs:.1} s) | {ideal:.2} jobs/s ({workers} × the bare process, {anchor:.3} s each) | {:.2} |",
        throughput / ideal
    );
    println!(
        "| fair share: team A's share of the {} starts while both teams waited | {:.1} % | 50 % (equal weights) | error {:+.1} points |",
        window.len(),
        share_a * 100.0,
        (share_a - 0.5) * 100.0
    );
    println!(
        "| ETA error at submission, median / p90 absolute | {:.1} s / {:.1} s | actual wait p50 {:.1} s | median relative {:.0} % |",
        percentile(&abs, 0.5),
        percentile(&abs, 0.9),
        {
            let mut w: Vec<f64> = eta_errors.iter().map(|e| e.1).collect();
            w.sort_by(f64::total_cmp);
            percentile(&w, 0.5)
        },
        percentile(&rel, 0.5) * 100.0
    );
    let mean = |f: &dyn Fn(&SeedRow) -> f64| rows.iter().map(f).sum::<f64>() / rows.len() as f64;
    println!(
        "| TPE vs random, best PR AUC after {trials} trials, mean of {seeds} seeds | {:.4} | random {:.4} | TPE ahead on {ahead} of {seeds} seeds ({ties} ties) |",
        mean(&|r| r.1),
        mean(&|r| r.2)
    );
    println!(
        "| the same after {} trials | {:.4} | random {:.4} | TPE ahead on {} of {seeds} seeds |",
        trials / 2,
        mean(&|r| r.3),
        mean(&|r| r.4),
        rows.iter().filter(|r| r.3 > r.4).count()
    );
    println!();
    println!("Per seed (best PR AUC after {trials} trials): TPE / random");
    for r in &rows {
        println!("  seed {}: {:.4} / {:.4}", r.0, r.1, r.2);
    }
    println!("({} fits in {tune_secs:.0} s)", seeds * trials * 2);

    // Early stopping, replayed on fully trained trials.
    let (stop_seeds, stop_trials, rounds) = (arg("--stop-seeds", 3), arg("--stop-trials", 20), 150);
    let asha = EarlyStopping::Asha { metric: "validation_log_loss".into(), min_rounds: 5, reduction_factor: 3 };
    let median = EarlyStopping::Median { metric: "validation_log_loss".into(), min_rounds: 5, startup_trials: 5 };
    let t_stop = Instant::now();
    let (mut full_rounds, mut used, mut best) = (0, [0, 0], [0.0, 0.0, 0.0]);
    for seed in 0..stop_seeds as u64 {
        let full = full_trials(seed, stop_trials, rounds, &train, &valid);
        full_rounds += full.iter().map(|t| t.curve.len()).sum::<usize>();
        best[2] += full.iter().map(|t| t.ap).fold(f64::NEG_INFINITY, f64::max) / stop_seeds as f64;
        for (k, rule) in [&asha, &median].into_iter().enumerate() {
            let (u, b) = replay(rule, &full);
            used[k] += u;
            best[k] += b / stop_seeds as f64;
        }
    }
    if stop_seeds > 0 {
        println!();
        println!(
            "Early stopping: {stop_seeds} seeds × {stop_trials} random-search trials of {rounds} rounds, replayed one after another ({:.0} s)",
            t_stop.elapsed().as_secs_f64()
        );
        println!(
            "| rule | rounds used | of full training (same trials) | best PR AUC, mean over seeds | all trials in full |"
        );
        println!("| --- | --- | --- | --- | --- |");
        for (k, name) in ["ASHA, η = 3, from round 5", "median rule, from round 5, 5 startup trials"].iter().enumerate()
        {
            println!(
                "| {name} | {} | {full_rounds} ({:.1} %) | {:.4} | {:.4} |",
                used[k],
                100.0 * used[k] as f64 / full_rounds as f64,
                best[k],
                best[2]
            );
        }
    }
}
