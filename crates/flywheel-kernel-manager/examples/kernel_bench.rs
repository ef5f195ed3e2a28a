//! The kernel benchmark (issue: kernel; SPEC §11): Flywheel's sessions —
//! prebuilt template, warm pool, sandbox — against plain evcxr (the same
//! worker loading the library with `:dep` on a fresh directory, no
//! template, no pool, no sandbox), on the same cells, in the same run.
//!
//! Run it with `bash crates/flywheel-kernel-manager/bench/run.sh`, which
//! builds the release worker and passes its paths. Prints one table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flywheel_domain::UserId;
use flywheel_kernel_manager::{
    Execution, ExecutionStatus, KernelManager, KernelSession, ManagerConfig, ProcessSpawner, SandboxSpec, Spawner,
    WorkerEvent,
};
use flywheel_kernel_protocol::{Event, Output, Request};

const PRELUDE_CELL: &str = "let iris = datasets::iris();";
const TRIVIAL_CELL: &str = "1 + 1";
const KMEANS_CELL: &str = "let x = Matrix::from_vec(10_000, 10, (0..100_000u64).map(|i| ((i * 7919 + i / 10 * 104_729) % 1000) as f64 / 100.0).collect()).unwrap();\nlet km = KMeans::params(8).seed(1).fit(&Dataset::unsupervised(x)).unwrap();";

struct Args {
    worker: PathBuf,
    prelude: PathBuf,
    sysroot: PathBuf,
    cargo_home: PathBuf,
    work: PathBuf,
    runs: usize,
    sessions: usize,
}

fn args() -> Args {
    let mut a = std::env::args().skip(1);
    let mut next = |name: &str| a.next().unwrap_or_else(|| panic!("missing {name}; run bench/run.sh"));
    Args {
        worker: next("worker").into(),
        prelude: next("prelude").into(),
        sysroot: next("sysroot").into(),
        cargo_home: next("cargo home").into(),
        work: next("work dir").into(),
        runs: next("runs").parse().expect("runs"),
        sessions: next("sessions").parse().expect("sessions"),
    }
}

fn spawner(a: &Args, template: Option<PathBuf>, sandbox: bool) -> ProcessSpawner {
    let workspace = a.prelude.parent().and_then(Path::parent).expect("crates/flywheel-ml").to_path_buf();
    let cargo_home = a.work.join("cargo-home");
    let read = vec![
        a.worker.clone(),
        a.sysroot.clone(),
        a.cargo_home.clone(),
        cargo_home.clone(),
        workspace.join("crates"),
        workspace.join("Cargo.toml"),
        workspace.join("Cargo.lock"),
        workspace.join("server/Cargo.toml"),
        workspace.join("tests/Cargo.toml"),
    ];
    ProcessSpawner {
        program: a.worker.clone(),
        args: if sandbox {
            vec!["--prelude".into(), a.prelude.display().to_string()]
        } else {
            // Plain evcxr shows a final expression its own way.
            vec!["--prelude".into(), a.prelude.display().to_string(), "--evcxr-display".into()]
        },
        path_dirs: vec![a.sysroot.join("bin")],
        cargo_home: Some(cargo_home),
        template,
        sandbox: sandbox.then_some(SandboxSpec { read, require: false }),
        memory_bytes: Some(4 << 30),
        pids: None,
    }
}

/// Waits for `ready`, then runs `cells` one after the other; returns the
/// time from start to each cell's end, and the `:timing` lines cells showed.
async fn drive(spawner: &ProcessSpawner, dir: &Path, cells: &[&str]) -> (Duration, Vec<Duration>, Vec<String>) {
    std::fs::create_dir_all(dir).unwrap();
    let started = Instant::now();
    let mut w = spawner.spawn(dir).expect("spawn");
    w.ready().await.unwrap_or_else(|why| panic!("worker exited: {why}"));
    let ready = started.elapsed();
    let mut times = Vec::new();
    let mut timings = Vec::new();
    for (i, code) in cells.iter().enumerate() {
        let t = Instant::now();
        let id = i as u64 + 1;
        w.requests.send(Request::Execute { id, code: (*code).to_owned() }).unwrap();
        loop {
            match w.events.recv().await {
                Some(WorkerEvent::Event(Event::Done { id: got, .. })) if got == id => break,
                Some(WorkerEvent::Event(Event::Output { output: Output::Error { evalue, .. }, .. })) => {
                    panic!("cell failed: {evalue}")
                }
                Some(WorkerEvent::Event(Event::Output { output: Output::DisplayData { data, .. }, .. })) => {
                    timings.extend(data.get("text/plain").filter(|t| t.starts_with("Took ")).cloned());
                }
                Some(WorkerEvent::Exited(why)) => panic!("worker exited: {why}"),
                _ => {}
            }
        }
        times.push(t.elapsed());
    }
    let _ = w.requests.send(Request::Shutdown);
    (ready, times, timings)
}

/// The median of each phase over `:timing` lines (`Took 312 ms: Final
/// compile 250 ms, Execution 5 ms`), in the order phases first appear.
fn phase_medians(lines: &[String]) -> Vec<(String, Duration)> {
    let mut phases: Vec<(String, Vec<Duration>)> = Vec::new();
    for line in lines {
        let Some((_, list)) = line.split_once(": ") else { continue };
        for part in list.split(", ") {
            let Some((name, ms)) = part
                .rsplit_once(' ')
                .and_then(|(rest, unit)| (unit == "ms").then_some(rest).and_then(|r| r.rsplit_once(' ')))
            else {
                continue;
            };
            let Ok(ms) = ms.parse::<u64>() else { continue };
            let d = Duration::from_millis(ms);
            match phases.iter_mut().find(|(n, _)| n == name) {
                Some((_, ds)) => ds.push(d),
                None => phases.push((name.to_owned(), vec![d])),
            }
        }
    }
    phases.into_iter().map(|(n, ds)| (n, percentile(ds, 0.5))).collect()
}

async fn run(session: &KernelSession, code: &str) -> (Duration, Execution) {
    let t = Instant::now();
    let e = session.execute(code.to_owned()).expect("execute");
    loop {
        let now = session.execution(e.id).expect("exists");
        if now.status.is_finished() {
            assert_eq!(now.status, ExecutionStatus::Ok, "{code}: {:?}", now.outputs);
            return (t.elapsed(), now);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn percentile(mut xs: Vec<Duration>, p: f64) -> Duration {
    xs.sort();
    let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
    xs[i.min(xs.len() - 1)]
}

/// Resident memory (kB) of processes whose working directory is under `dir`.
fn rss_kb_under(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let p = entry.path();
        let in_dir = std::fs::read_link(p.join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir));
        if !in_dir {
            continue;
        }
        let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    let _ = std::fs::remove_dir_all(&a.work);
    std::fs::create_dir_all(a.work.join("cargo-home")).unwrap();
    std::os::unix::fs::symlink(a.cargo_home.join("registry"), a.work.join("cargo-home/registry")).unwrap();
    for f in flywheel_kernel_manager::CARGO_LOCK_FILES {
        std::fs::write(a.work.join("cargo-home").join(f), "").unwrap();
    }
    let mut rows: Vec<(String, String, String, String)> = Vec::new();

    // Plain evcxr: a fresh directory, the library loaded by `:dep`, no sandbox.
    eprintln!("plain evcxr: cold start with the library (minutes)…");
    let plain = spawner(&a, None, false);
    let trivial: Vec<&str> = std::iter::repeat_n(TRIVIAL_CELL, a.runs).collect();
    let mut cells = vec![PRELUDE_CELL, KMEANS_CELL];
    cells.extend(&trivial);
    // Then the same cells again with `:timing`, for the profile.
    cells.push(":timing");
    cells.extend(&trivial);
    let (plain_ready, plain_times, plain_timings) = drive(&plain, &a.work.join("plain"), &cells).await;
    let plain_first = plain_ready + plain_times[0];
    let plain_kmeans = plain_times[1];
    let plain_trivial = plain_times[2..2 + a.runs].to_vec();

    // Flywheel: the template is what the server builds once at first start.
    eprintln!("flywheel: building the template…");
    let template_dir = a.work.join("template");
    let t = Instant::now();
    drive(&spawner(&a, None, true), &template_dir, &[]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let template_build = t.elapsed();
    let mut config = ManagerConfig::new(a.work.join("sessions"));
    config.pool_size = 1;
    config.max_sessions_per_user = a.sessions + 2;
    let manager = KernelManager::new(config);
    manager.start().unwrap();
    manager.set_spawner(Arc::new(spawner(&a, Some(template_dir), true)));
    eprintln!("flywheel: waiting for the warm pool…");
    while manager.pooled() == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let user = UserId(uuid::Uuid::new_v4());
    let t = Instant::now();
    let s = manager.create_session(user).unwrap();
    run(&s, PRELUDE_CELL).await;
    let fw_first = t.elapsed();
    let (fw_kmeans, _) = run(&s, KMEANS_CELL).await;
    let mut fw_trivial = Vec::new();
    for _ in 0..a.runs {
        fw_trivial.push(run(&s, TRIVIAL_CELL).await.0);
    }
    run(&s, ":timing").await;
    let mut fw_timings = Vec::new();
    for _ in 0..a.runs {
        let (_, e) = run(&s, TRIVIAL_CELL).await;
        fw_timings.extend(e.outputs.iter().filter_map(|o| match o {
            Output::DisplayData { data, .. } => data.get("text/plain").filter(|t| t.starts_with("Took ")).cloned(),
            _ => None,
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let session_dirs = a.work.join("sessions");
    // The pool holds one more idle worker: measure the session's own processes only.
    let idle_kb = {
        let mut per_dir: Vec<u64> = std::fs::read_dir(&session_dirs)
            .unwrap()
            .flatten()
            .map(|e| rss_kb_under(&e.path()))
            .filter(|&kb| kb > 0)
            .collect();
        per_dir.sort_unstable();
        per_dir.last().copied().unwrap_or(0)
    };
    let plain_idle_kb = {
        // A plain worker, idle after its prelude cell.
        let dir = a.work.join("plain-idle");
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = plain.spawn(&dir).unwrap();
        w.ready().await.unwrap_or_else(|why| panic!("worker exited: {why}"));
        w.requests.send(Request::Execute { id: 1, code: PRELUDE_CELL.into() }).unwrap();
        while !matches!(w.events.recv().await, Some(WorkerEvent::Event(Event::Done { .. })) | None) {}
        tokio::time::sleep(Duration::from_secs(2)).await;
        let kb = rss_kb_under(&dir);
        let _ = w.requests.send(Request::Shutdown);
        kb
    };

    // Many sessions at once, each running the prelude cell and a trivial cell.
    eprintln!("flywheel: {} sessions at once…", a.sessions);
    let t = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..a.sessions {
        let m = manager.clone();
        handles.push(tokio::spawn(async move {
            let s = m.create_session(UserId(uuid::Uuid::new_v4())).unwrap();
            run(&s, PRELUDE_CELL).await;
            run(&s, TRIVIAL_CELL).await;
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let many = t.elapsed();
    manager.shutdown();

    let ratio = |fw: Duration, plain: Duration| format!("{:.2}×", fw.as_secs_f64() / plain.as_secs_f64());
    rows.push((
        "new session → first prelude result".into(),
        ms(fw_first),
        ms(plain_first),
        ratio(fw_first, plain_first),
    ));
    rows.push((
        format!("warm `1 + 1`, p50 of {}", a.runs),
        ms(percentile(fw_trivial.clone(), 0.5)),
        ms(percentile(plain_trivial.clone(), 0.5)),
        ratio(percentile(fw_trivial.clone(), 0.5), percentile(plain_trivial.clone(), 0.5)),
    ));
    rows.push((
        format!("warm `1 + 1`, p95 of {}", a.runs),
        ms(percentile(fw_trivial.clone(), 0.95)),
        ms(percentile(plain_trivial.clone(), 0.95)),
        ratio(percentile(fw_trivial, 0.95), percentile(plain_trivial, 0.95)),
    ));
    rows.push(("k-means k=8 on 10k×10 (cell)".into(), ms(fw_kmeans), ms(plain_kmeans), ratio(fw_kmeans, plain_kmeans)));
    rows.push((
        "idle session memory (worker + child, RSS)".into(),
        format!("{} MB", idle_kb / 1024),
        format!("{} MB", plain_idle_kb / 1024),
        format!("{:.2}×", idle_kb as f64 / plain_idle_kb.max(1) as f64),
    ));
    rows.push((
        format!("{} sessions at once: open + prelude cell + `1 + 1`, all done", a.sessions),
        ms(many),
        "—".into(),
        "—".into(),
    ));
    rows.push(("template build (once, at first start)".into(), ms(template_build), "—".into(), "—".into()));

    // Where a warm `1 + 1` spends its time, by evcxr's phases (`:timing`).
    let (fw_phases, plain_phases) = (phase_medians(&fw_timings), phase_medians(&plain_timings));
    let mut names: Vec<&String> = plain_phases.iter().map(|(n, _)| n).collect();
    names.extend(fw_phases.iter().map(|(n, _)| n).filter(|n| !plain_phases.iter().any(|(p, _)| p == *n)));
    for name in names {
        let of = |phases: &[(String, Duration)]| {
            phases.iter().find(|(n, _)| n == name).map_or_else(|| "—".to_owned(), |(_, d)| ms(*d))
        };
        rows.push((
            format!("warm `1 + 1` with `:timing`: phase \"{name}\", p50"),
            of(&fw_phases),
            of(&plain_phases),
            "".into(),
        ));
    }

    println!();
    println!("| measure | Flywheel (template, pool, sandbox) | plain evcxr (`:dep` on a fresh dir) | ratio |");
    println!("| --- | --- | --- | --- |");
    for (m, f, p, r) in rows {
        println!("| {m} | {f} | {p} | {r} |");
    }
}
