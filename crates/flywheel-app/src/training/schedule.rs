//! Which pending job runs next, and why each of the others waits: a pure
//! function of the queue, the workers and the settings, so the API, the
//! pages and the workers all see the same order.
//!
//! **Fair share: least normalised usage first** (Slurm's classic fair-share
//! factor, simplified). A team's usage is the worker-seconds its jobs have
//! run today (a GPU second counts as [`GPU_SECOND_WEIGHT`] CPU seconds),
//! divided by its weight; among the jobs allowed to start, the one of the
//! team with the lowest normalised usage goes first, then by age within a
//! team. Chosen over deficit round robin because jobs have no known size
//! before they run (DRR needs one to charge a quantum), and usage measured
//! after the fact corrects itself: a team whose job ran long waits longer
//! next time. With one resource kind per worker this is also what
//! dominant-resource fairness reduces to. No starvation: a waiting team's
//! usage does not grow, so every other team's eventually passes it, and
//! within a team the oldest job goes first. An instructor's priority
//! outranks fair share.

use std::collections::HashMap;

use flywheel_domain::{JobState, TeamId, Timestamp, TrainingJob, TrainingJobId, UserId};
use serde::Serialize;

/// A GPU-second counts as this many CPU-seconds of usage.
pub const GPU_SECOND_WEIGHT: f64 = 10.0;

/// Why a pending job is not running, in Slurm's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reason {
    /// Jobs ahead of it go first (priority or fair share).
    Priority,
    /// It is next, but no worker (of the kind it needs) is free.
    Resources,
    /// It asks for a GPU and no GPU worker is connected.
    #[serde(rename = "ReqNodeNotAvail")]
    NoGpuWorker,
    /// Its owner already has as many jobs running as allowed.
    #[serde(rename = "QOSMaxJobsPerUserLimit")]
    PerUserLimit,
    /// Its team already has as many jobs running as allowed.
    #[serde(rename = "AssocGrpJobsLimit")]
    PerTeamLimit,
}

impl Reason {
    /// The code as the API shows it.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Priority => "Priority",
            Reason::Resources => "Resources",
            Reason::NoGpuWorker => "ReqNodeNotAvail",
            Reason::PerUserLimit => "QOSMaxJobsPerUserLimit",
            Reason::PerTeamLimit => "AssocGrpJobsLimit",
        }
    }

    /// What it means, for people.
    pub fn explain(self) -> &'static str {
        match self {
            Reason::Priority => "waiting for jobs ahead of it (priority and fair share between teams)",
            Reason::Resources => "next in line, waiting for a free worker",
            Reason::NoGpuWorker => "it asks for a GPU and no GPU worker is connected",
            Reason::PerUserLimit => "you already have as many jobs running as allowed",
            Reason::PerTeamLimit => "your team already has as many jobs running as allowed",
        }
    }
}

/// A worker as scheduling sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSlot {
    /// Its name.
    pub name: String,
    /// GPUs it has.
    pub gpus: u32,
    /// Whether it is running nothing.
    pub free: bool,
}

/// The limits scheduling applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Jobs one participant may have running at once.
    pub per_user_running: usize,
    /// Jobs one team may have running at once.
    pub per_team_running: usize,
}

/// A pending job's place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    /// The job.
    pub id: TrainingJobId,
    /// 1 for the next to start.
    pub position: usize,
    /// Why it waits.
    pub reason: Reason,
    /// Seconds until it is expected to start.
    pub estimated_start_secs: f64,
}

/// The queue in order, with the job each free worker should take.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Every pending job, in the order they will start.
    pub queue: Vec<Place>,
    /// (worker name, job) for each free worker that has a job to take now.
    pub assignments: Vec<(String, TrainingJobId)>,
}

/// What orders the accounts' next jobs: priority (higher first), normalised usage, age, id.
type OrderKey = (std::cmp::Reverse<i32>, f64, Timestamp, uuid::Uuid);

/// A job's share key: its team, or its owner when it has no team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Account {
    Team(TeamId),
    User(UserId),
}

fn account(job: &TrainingJob) -> Account {
    job.team.map_or(Account::User(job.owner), Account::Team)
}

/// Worker-seconds a job has used by `now`, GPUs weighted.
pub fn usage_seconds(job: &TrainingJob, now: Timestamp) -> f64 {
    job.run_seconds(now) * (1.0 + GPU_SECOND_WEIGHT * f64::from(job.gpus))
}

/// Plans the queue: `jobs` are today's jobs (pending, running and
/// finished: finished ones count towards usage), `weights` a team's share
/// (1 when absent), `expected_secs` a job's expected run time.
pub fn plan(
    jobs: &[TrainingJob],
    workers: &[WorkerSlot],
    limits: &Limits,
    weights: &HashMap<TeamId, f64>,
    expected_secs: &dyn Fn(&TrainingJob) -> f64,
    now: Timestamp,
) -> Plan {
    let mut usage: HashMap<Account, f64> = HashMap::new();
    let mut running_user: HashMap<UserId, usize> = HashMap::new();
    let mut running_team: HashMap<Account, usize> = HashMap::new();
    // When each worker becomes free, for the estimate: running jobs' expected remainder.
    let mut free_at: Vec<(f64, u32)> = Vec::new();
    for job in jobs {
        *usage.entry(account(job)).or_default() += usage_seconds(job, now);
        if job.state == JobState::Running {
            *running_user.entry(job.owner).or_default() += 1;
            *running_team.entry(account(job)).or_default() += 1;
        }
    }
    let running: Vec<&TrainingJob> = jobs.iter().filter(|j| j.state == JobState::Running).collect();
    for w in workers {
        let busy_for = if w.free {
            0.0
        } else {
            running
                .iter()
                .find(|j| j.worker.as_deref() == Some(w.name.as_str()))
                .map_or(0.0, |j| (expected_secs(j) - j.run_seconds(now)).max(1.0))
        };
        free_at.push((busy_for, w.gpus));
    }
    let max_gpus = workers.iter().map(|w| w.gpus).max().unwrap_or(0);
    let weight = |a: Account| match a {
        Account::Team(t) => weights.get(&t).copied().unwrap_or(1.0).max(1e-6),
        Account::User(_) => 1.0,
    };

    // Each account's pending jobs in the order it would run them.
    let mut queues: HashMap<Account, Vec<&TrainingJob>> = HashMap::new();
    for j in jobs.iter().filter(|j| j.state == JobState::Pending) {
        queues.entry(account(j)).or_default().push(j);
    }
    for q in queues.values_mut() {
        q.sort_by_key(|j| (std::cmp::Reverse(j.priority), j.created_at, j.id.0));
    }
    let mut plan = Plan::default();
    let mut free: Vec<&WorkerSlot> = workers.iter().filter(|w| w.free).collect();
    let mut first_waiting = true;
    let startable = |j: &TrainingJob, ru: &HashMap<UserId, usize>, rt: &HashMap<Account, usize>| {
        if j.gpus > max_gpus {
            Err(Reason::NoGpuWorker)
        } else if ru.get(&j.owner).copied().unwrap_or(0) >= limits.per_user_running {
            Err(Reason::PerUserLimit)
        } else if j.team.is_some() && rt.get(&account(j)).copied().unwrap_or(0) >= limits.per_team_running {
            Err(Reason::PerTeamLimit)
        } else {
            Ok(())
        }
    };
    // Greedy: among each account's first startable job, pick the best;
    // charge it as if it ran its expected time (so the next pick sees the
    // new usage); repeat.
    loop {
        let mut best: Option<(Account, usize, OrderKey)> = None;
        for (&acct, q) in &queues {
            let Some(i) = q.iter().position(|j| startable(j, &running_user, &running_team).is_ok()) else { continue };
            let share = usage.get(&acct).copied().unwrap_or(0.0) / weight(acct);
            let key = (std::cmp::Reverse(q[i].priority), share, q[i].created_at, q[i].id.0);
            if best.as_ref().is_none_or(|(_, _, k)| key.partial_cmp(k) == Some(std::cmp::Ordering::Less)) {
                best = Some((acct, i, key));
            }
        }
        let Some((acct, i, _)) = best else {
            // Nothing left can start: the rest wait on their limits, by priority then age.
            let mut rest: Vec<&TrainingJob> = queues.into_values().flatten().collect();
            rest.sort_by_key(|j| (std::cmp::Reverse(j.priority), j.created_at, j.id.0));
            for j in rest {
                let reason = startable(j, &running_user, &running_team).err().unwrap_or(Reason::Priority);
                let position = plan.queue.len() + 1;
                plan.queue.push(Place { id: j.id, position, reason, estimated_start_secs: f64::NAN });
            }
            break;
        };
        let job = queues.get_mut(&acct).map(|q| q.remove(i)).expect("the account picked has a queue");
        let expected = expected_secs(job);
        let position = plan.queue.len() + 1;
        let worker = free.iter().position(|w| w.gpus >= job.gpus);
        let reason = match worker {
            Some(w) => {
                plan.assignments.push((free.remove(w).name.clone(), job.id));
                // It runs now, beside what already runs: it counts against its owner's and team's limits.
                *running_user.entry(job.owner).or_default() += 1;
                *running_team.entry(account(job)).or_default() += 1;
                Reason::Resources
            }
            None if first_waiting => {
                first_waiting = false;
                Reason::Resources
            }
            None => Reason::Priority,
        };
        // The estimate: the earliest time a worker with enough GPUs is free.
        let slot = free_at.iter_mut().filter(|(_, g)| *g >= job.gpus).min_by(|a, b| a.0.total_cmp(&b.0));
        let start = slot.map_or(f64::NAN, |s| {
            let start = s.0;
            s.0 += expected;
            start
        });
        plan.queue.push(Place { id: job.id, position, reason, estimated_start_secs: start });
        *usage.entry(account(job)).or_default() += expected * (1.0 + GPU_SECOND_WEIGHT * f64::from(job.gpus));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(owner: UserId, team: Option<TeamId>, created: i64, state: JobState) -> TrainingJob {
        TrainingJob {
            id: TrainingJobId(uuid::Uuid::new_v4()),
            owner,
            workshop: None,
            team,
            algorithm: "gradient_boosted_trees".into(),
            spec: serde_json::json!({}),
            gpus: 0,
            priority: 0,
            state,
            attempts: 0,
            worker: None,
            error: None,
            final_metrics: serde_json::Map::new(),
            rows: None,
            created_at: Timestamp(created),
            started_at: None,
            finished_at: None,
            heartbeat_at: None,
        }
    }

    fn ids() -> (UserId, UserId, TeamId, TeamId) {
        let u = || UserId(uuid::Uuid::new_v4());
        let t = || TeamId(uuid::Uuid::new_v4());
        (u(), u(), t(), t())
    }

    const LIMITS: Limits = Limits { per_user_running: 100, per_team_running: 100 };

    fn one_worker() -> Vec<WorkerSlot> {
        vec![WorkerSlot { name: "w".into(), gpus: 0, free: true }]
    }

    /// Two teams keep their queues full of 1-second jobs on one worker; over
    /// 300 jobs each team's share of worker time matches its weight.
    #[test]
    fn two_teams_get_their_weighted_shares() {
        let (alice, bob, a, b) = ids();
        let weights = HashMap::from([(a, 2.0), (b, 1.0)]);
        let mut jobs: Vec<TrainingJob> = (0..400)
            .flat_map(|i| [job(alice, Some(a), i, JobState::Pending), job(bob, Some(b), i, JobState::Pending)])
            .collect();
        let mut now = 1_000_000;
        for _ in 0..300 {
            let p = plan(&jobs, &one_worker(), &LIMITS, &weights, &|_| 1.0, Timestamp(now));
            let (_, next) = p.assignments[0].clone();
            let j = jobs.iter_mut().find(|j| j.id == next).unwrap();
            j.state = JobState::Completed;
            j.started_at = Some(Timestamp(now));
            now += 1000;
            j.finished_at = Some(Timestamp(now));
        }
        let ran = |t| jobs.iter().filter(|j| j.team == Some(t) && j.state == JobState::Completed).count();
        let share_a = ran(a) as f64 / 300.0;
        assert!((share_a - 2.0 / 3.0).abs() <= 2.0 / 3.0 * 0.1, "team A ran {} of 300", ran(a));
    }

    #[test]
    fn priority_outranks_fair_share_and_age_orders_a_team() {
        let (alice, bob, a, b) = ids();
        let mut done = job(alice, Some(a), 0, JobState::Completed);
        done.started_at = Some(Timestamp(0));
        done.finished_at = Some(Timestamp(60_000));
        let older = job(alice, Some(a), 1, JobState::Pending);
        let newer = job(alice, Some(a), 2, JobState::Pending);
        let other = job(bob, Some(b), 3, JobState::Pending);
        let mut urgent = job(alice, Some(a), 4, JobState::Pending);
        urgent.priority = 10;
        let jobs = vec![done, older.clone(), newer.clone(), other.clone(), urgent.clone()];
        let p = plan(&jobs, &one_worker(), &LIMITS, &HashMap::new(), &|_| 5.0, Timestamp(100_000));
        let order: Vec<_> = p.queue.iter().map(|q| q.id).collect();
        // Urgent first (priority); then team B, which has used nothing; then A's oldest.
        assert_eq!(order, vec![urgent.id, other.id, older.id, newer.id]);
        assert_eq!(p.assignments, vec![("w".to_owned(), urgent.id)]);
        let reasons: Vec<_> = p.queue.iter().map(|q| q.reason).collect();
        assert_eq!(reasons, vec![Reason::Resources, Reason::Resources, Reason::Priority, Reason::Priority]);
        let starts: Vec<_> = p.queue.iter().map(|q| q.estimated_start_secs).collect();
        assert_eq!(starts, vec![0.0, 5.0, 10.0, 15.0]);
    }

    #[test]
    fn limits_and_missing_gpus_are_reasons() {
        let (alice, bob, a, _) = ids();
        let mut running = job(alice, Some(a), 0, JobState::Running);
        running.worker = Some("w".into());
        let capped = job(alice, Some(a), 1, JobState::Pending);
        let mut gpu = job(bob, None, 2, JobState::Pending);
        gpu.gpus = 1;
        let limits = Limits { per_user_running: 1, per_team_running: 5 };
        let workers = vec![WorkerSlot { name: "w".into(), gpus: 0, free: false }];
        let p =
            plan(&[running, capped.clone(), gpu.clone()], &workers, &limits, &HashMap::new(), &|_| 5.0, Timestamp(1));
        let reason = |id| p.queue.iter().find(|q| q.id == id).unwrap().reason;
        assert_eq!(reason(capped.id), Reason::PerUserLimit);
        assert_eq!(reason(gpu.id), Reason::NoGpuWorker);
        assert!(p.assignments.is_empty());
    }
}
