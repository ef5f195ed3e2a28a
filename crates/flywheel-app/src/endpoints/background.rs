//! Work an endpoint does in the background on this server — load tests
//! and batch transforms — as this server keeps it: in memory, by id, the
//! newest [`KEPT`] per kind, one running per endpoint. Another server
//! behind the same balancer does not know them; the endpoint's audit trail
//! keeps each one's summary.

use std::sync::{Mutex, MutexGuard, PoisonError};

use flywheel_domain::Timestamp;
use uuid::Uuid;

use super::EndpointError;
use crate::now;

/// Tasks of one kind this server remembers (the oldest finished go first).
pub const KEPT: usize = 100;

/// One task: its endpoint, when it started, its progress while it runs
/// and then its outcome.
#[derive(Debug, Clone)]
pub struct Task<P, R> {
    /// The endpoint's name.
    pub endpoint: String,
    /// When it started.
    pub started: Timestamp,
    /// How far it is.
    pub progress: P,
    /// Its result, or why it failed, once it ended.
    pub outcome: Option<Result<R, String>>,
}

/// The tasks of one kind.
#[derive(Debug)]
pub struct Background<P, R> {
    tasks: Mutex<Vec<(Uuid, Task<P, R>)>>,
}

impl<P, R> Default for Background<P, R> {
    fn default() -> Self {
        Self { tasks: Mutex::new(Vec::new()) }
    }
}

impl<P: Clone, R: Clone> Background<P, R> {
    fn lock(&self) -> MutexGuard<'_, Vec<(Uuid, Task<P, R>)>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a new running task of `endpoint`; its id.
    ///
    /// # Errors
    /// [`EndpointError::Invalid`] (saying `busy`) while another of this
    /// kind runs for the endpoint.
    pub fn begin(&self, endpoint: &str, progress: P, busy: &str) -> Result<Uuid, EndpointError> {
        let mut tasks = self.lock();
        if tasks.iter().any(|(_, t)| t.endpoint == endpoint && t.outcome.is_none()) {
            return Err(EndpointError::Invalid(busy.to_owned()));
        }
        while tasks.len() >= KEPT {
            match tasks.iter().position(|(_, t)| t.outcome.is_some()) {
                Some(i) => tasks.remove(i),
                None => break,
            };
        }
        let id = Uuid::new_v4();
        tasks.push((id, Task { endpoint: endpoint.to_owned(), started: now(), progress, outcome: None }));
        Ok(id)
    }

    /// Sets a running task's progress.
    pub fn progress(&self, id: Uuid, progress: P) {
        if let Some((_, task)) = self.lock().iter_mut().find(|(i, _)| *i == id) {
            task.progress = progress;
        }
    }

    /// Ends a task.
    pub fn finish(&self, id: Uuid, outcome: Result<R, String>) {
        if let Some((_, task)) = self.lock().iter_mut().find(|(i, _)| *i == id) {
            task.outcome = Some(outcome);
        }
    }

    /// Task `id` of `endpoint`, given as text.
    ///
    /// # Errors
    /// [`EndpointError::Invalid`] naming `what` for an id this server does
    /// not know for the endpoint.
    pub fn get(&self, endpoint: &str, id: &str, what: &str) -> Result<Task<P, R>, EndpointError> {
        let unknown = || EndpointError::Invalid(format!("This server ran no {what} {id:?} of {endpoint:?}."));
        let id: Uuid = id.parse().map_err(|_| unknown())?;
        self.lock().iter().find(|(i, t)| *i == id && t.endpoint == endpoint).map(|(_, t)| t.clone()).ok_or_else(unknown)
    }

    /// The tasks of `endpoint`, newest first.
    pub fn of(&self, endpoint: &str) -> Vec<(Uuid, Task<P, R>)> {
        self.lock().iter().rev().filter(|(_, t)| t.endpoint == endpoint).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_task_runs_per_endpoint_and_finished_ones_make_room() {
        let tasks: Background<u32, String> = Background::default();
        let a = tasks.begin("a", 0, "busy").unwrap();
        assert!(matches!(tasks.begin("a", 0, "busy"), Err(EndpointError::Invalid(m)) if m == "busy"));
        let b = tasks.begin("b", 0, "busy").unwrap();
        tasks.progress(a, 7);
        assert_eq!(tasks.get("a", &a.to_string(), "task").unwrap().progress, 7);
        assert!(tasks.get("b", &a.to_string(), "task").is_err(), "another endpoint's id");
        assert!(tasks.get("a", "nope", "task").unwrap_err().to_string().contains("no task \"nope\""));
        tasks.finish(a, Ok("done".into()));
        let again = tasks.begin("a", 1, "busy").unwrap();
        assert_eq!(tasks.of("a").iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![again, a]);
        for _ in 0..KEPT {
            let id = tasks.begin("c", 0, "busy").unwrap();
            tasks.finish(id, Err("failed".into()));
        }
        assert_eq!(tasks.lock().len(), KEPT);
        assert!(tasks.get("b", &b.to_string(), "task").is_ok(), "a running task is never dropped");
    }
}
