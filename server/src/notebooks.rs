//! Notebooks on kernels: which kernel session a notebook runs on, running a
//! cell, and keeping its outputs. Used by the API and the pages.
//!
//! A notebook's cell runs on the notebook's own session (opened on its
//! first run, reopened when the kernel manager forgot it). The run's outputs
//! are written to the notebook when it finishes, by a task that does not
//! depend on the browser: closing the tab mid-run loses nothing. When the
//! cell is one of its lab's check cells and its outputs hold a passed check,
//! that task also records the step in the participant's progress.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use flywheel_domain::{Cell, CellId, CellType, Notebook, NotebookId, NotebookRecord, TeamId, User, UserId};
use flywheel_kernel_manager::{Execution, KernelError, KernelState, Session, SessionEvent};
use flywheel_store::Database;
use tokio::sync::broadcast::error::RecvError;

use crate::error::AppError;
use crate::state::AppState;

/// Which kernel session each notebook runs on for each person (a team
/// notebook runs on each member's own kernel), and which of its cells have
/// a run in flight there (in memory, as the sessions are).
#[derive(Default)]
pub struct NotebookSessions(Mutex<HashMap<(NotebookId, UserId), Attached>>);

type Key = (NotebookId, UserId);

struct Attached {
    session: String,
    /// Cell → the execution started for it last.
    running: HashMap<CellId, u64>,
}

impl NotebookSessions {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Key, Attached>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn get(&self, id: Key) -> Option<String> {
        self.with(|m| m.get(&id).map(|a| a.session.clone()))
    }

    fn set(&self, id: Key, session: String) {
        self.with(|m| m.insert(id, Attached { session, running: HashMap::new() }));
    }

    /// Forgets every person's session of the notebook; returns them with their owners.
    fn remove_all(&self, notebook: NotebookId) -> Vec<(UserId, String)> {
        self.with(|m| {
            let keys: Vec<Key> = m.keys().filter(|(n, _)| *n == notebook).copied().collect();
            keys.into_iter().filter_map(|k| m.remove(&k).map(|a| (k.1, a.session))).collect()
        })
    }

    fn forget_sessions(&self, sessions: &[String]) {
        self.with(|m| m.retain(|_, a| !sessions.contains(&a.session)));
    }

    fn started(&self, id: Key, cell: CellId, execution: u64) {
        self.with(|m| m.get_mut(&id).map(|a| a.running.insert(cell, execution)));
    }

    fn finished(&self, id: Key, cell: &CellId, execution: u64) {
        self.with(|m| {
            if let Some(a) = m.get_mut(&id)
                && a.running.get(cell) == Some(&execution)
            {
                a.running.remove(cell);
            }
        });
    }

    /// The execution last started for `cell` on `user`'s kernel, if it may still be going.
    pub fn running(&self, id: NotebookId, user: UserId, cell: &CellId) -> Option<u64> {
        let id = (id, user);
        self.with(|m| m.get(&id).and_then(|a| a.running.get(cell).copied()))
    }
}

fn not_found() -> AppError {
    AppError::not_found("There is no notebook with this id (or it is not yours).")
}

/// The notebook `id` if `user` owns it or it is shared with their
/// workshop team; 404 otherwise, so that others' notebooks are not even
/// confirmed to exist.
///
/// # Errors
/// 404 for a malformed, unknown or foreign id; storage failures.
pub async fn reachable(state: &AppState, user: &User, id: &str) -> Result<NotebookRecord, AppError> {
    let id = NotebookId::from_str(id).map_err(|_| not_found())?;
    let record = state.db.notebook(id).await?.ok_or_else(not_found)?;
    if record.owner == user.id || in_team(state, user, record.team).await? { Ok(record) } else { Err(not_found()) }
}

/// Whether `user` is in `team` now.
async fn in_team(state: &AppState, user: &User, team: Option<TeamId>) -> Result<bool, AppError> {
    let Some(team) = team else { return Ok(false) };
    let Some(t) = state.db.team(team).await? else { return Ok(false) };
    Ok(state.db.member(t.workshop, user.id).await?.is_some_and(|m| m.team == Some(team)))
}

/// The notebook `id` if `user` owns it: deleting, resetting and sharing
/// are the owner's.
///
/// # Errors
/// As [`reachable`]; 403 for a team member who is not the owner.
pub async fn owned(state: &AppState, user: &User, id: &str) -> Result<NotebookRecord, AppError> {
    let record = reachable(state, user, id).await?;
    if record.owner != user.id {
        return Err(AppError::forbidden("Only the notebook's owner can do this (it is shared with your team)."));
    }
    Ok(record)
}

/// The notebooks shared with the teams `user` is in, other than their own.
///
/// # Errors
/// Storage failures.
pub async fn shared_with(state: &AppState, user: &User) -> Result<Vec<flywheel_domain::NotebookSummary>, AppError> {
    let mut out = Vec::new();
    let mine = state.db.notebooks(user.id).await?;
    for (w, _) in state.db.member_workshops(user.id).await? {
        if let Some(team) = state.db.member(w.id, user.id).await?.and_then(|m| m.team) {
            let theirs = state.db.team_notebooks(team).await?;
            out.extend(theirs.into_iter().filter(|n| !mine.iter().any(|m| m.id == n.id)));
        }
    }
    Ok(out)
}

/// Shares the owner's notebook with their team in `team`'s workshop (or,
/// with `None`, stops sharing it).
///
/// # Errors
/// As [`owned`]; 404 for a team the owner is not in.
pub async fn share(
    state: &AppState,
    user: &User,
    record: &NotebookRecord,
    team: Option<&str>,
) -> Result<Option<TeamId>, AppError> {
    let team = match team {
        None => None,
        Some(t) => {
            let missing = || AppError::not_found("You are in no such team.");
            let t = TeamId::from_str(t).map_err(|_| missing())?;
            if !in_team(state, user, Some(t)).await? {
                return Err(missing());
            }
            Some(t)
        }
    };
    state.db.set_notebook_team(record.id, team).await?;
    Ok(team)
}

/// The session the notebook's cells ran on, if it is still open.
pub fn existing_session(state: &AppState, user: &User, notebook: NotebookId) -> Option<Arc<Session>> {
    let id = state.notebook_sessions.get((notebook, user.id))?;
    state.kernels.session(user.id, &id).ok()
}

async fn session_for(state: &AppState, user: &User, notebook: NotebookId) -> Result<Arc<Session>, KernelError> {
    if let Some(session) = existing_session(state, user, notebook) {
        return Ok(session);
    }
    let session = match state.kernels.create_session(user.id) {
        Err(KernelError::TooManySessions { .. }) if reclaim(state, user) > 0 => {
            state.kernels.create_session(user.id)?
        }
        other => other?,
    };
    flywheel_app::datasets::share_with(state, user, &session).await;
    state.notebook_sessions.set((notebook, user.id), session.id.clone());
    Ok(session)
}

/// Closes the user's sessions whose kernel is already gone (culled when
/// idle, or dead): they hold no variables, only a place in the per-user
/// limit, and their notebooks keep every output. Returns how many.
fn reclaim(state: &AppState, user: &User) -> usize {
    let gone: Vec<String> = state
        .kernels
        .sessions(user.id)
        .iter()
        .map(|s| s.view())
        .filter(|v| matches!(v.kernel, KernelState::Culled | KernelState::Dead))
        .map(|v| v.id)
        .collect();
    for id in &gone {
        let _ = state.kernels.close(user.id, id);
    }
    state.notebook_sessions.forget_sessions(&gone);
    gone.len()
}

/// Closes the notebook's sessions, every team member's, if open (when the
/// notebook is deleted or reset).
pub fn close_sessions(state: &AppState, notebook: NotebookId) {
    for (user, id) in state.notebook_sessions.remove_all(notebook) {
        let _ = state.kernels.close(user, &id);
    }
}

/// Queues the saved source of code cell `cell` on the notebook's session
/// and has its outputs written to the notebook when it finishes.
///
/// # Errors
/// 404 for an unknown cell, 422 for a Markdown cell, the kernel's refusals
/// (503 while kernels are preparing, 409 at the session limit).
pub async fn run_cell(
    state: &AppState,
    user: &User,
    record: &NotebookRecord,
    cell: &str,
) -> Result<(Arc<Session>, Execution), AppError> {
    let cell = record.notebook.cell(cell).ok_or_else(|| {
        AppError::not_found(format!("This notebook has no cell `{}`.", cell.chars().take(64).collect::<String>()))
    })?;
    if cell.cell_type != CellType::Code {
        return Err(AppError::unprocessable(format!("Cell `{}` is Markdown; only code cells run.", cell.id)));
    }
    let session = session_for(state, user, record.id).await?;
    let execution = session.execute(cell.source.clone())?;
    state.notebook_sessions.started((record.id, user.id), cell.id.clone(), execution.id);
    let sessions = state.notebook_sessions.clone();
    let step =
        record.lab.as_ref().filter(|slug| state.labs.get(slug).is_some_and(|lab| lab.step(cell.id.as_str()).is_some()));
    let step = step.map(|slug| (user.id, slug.clone()));
    let (db, session2, notebook, cell_id, eid) =
        (state.db.clone(), session.clone(), record.id, cell.id.clone(), execution.id);
    let key = (notebook, user.id);
    tokio::spawn(async move {
        if let Some(outputs) = keep_outputs(&db, session2, notebook, &cell_id, eid).await
            && let Some((user, lab)) = step
            && flywheel_domain::check_passed(&outputs)
        {
            match db.record_step(user, &lab, cell_id.as_str(), crate::now()).await {
                Ok(new) => tracing::info!(%user, lab, step = %cell_id, new, "step passed"),
                Err(e) => tracing::error!(%user, lab, step = %cell_id, error = %e, "could not record a passed step"),
            }
        }
        sessions.finished(key, &cell_id, eid);
    });
    Ok((session, execution))
}

/// Waits for execution `eid` to finish and writes its outputs to the cell;
/// returns them once written.
async fn keep_outputs(
    db: &Arc<dyn Database>,
    session: Arc<Session>,
    notebook: NotebookId,
    cell: &CellId,
    eid: u64,
) -> Option<Vec<serde_json::Value>> {
    let (snapshot, mut events) = session.watch(eid)?;
    let mut finished = snapshot.status.is_finished();
    while !finished {
        match events.recv().await {
            Ok(SessionEvent::Done { execution, .. }) if execution == eid => finished = true,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => finished = session.execution(eid).is_none_or(|e| e.status.is_finished()),
            Err(RecvError::Closed) => break,
        }
    }
    let execution = session.execution(eid)?;
    if !execution.status.is_finished() {
        return None;
    }
    let outputs: Vec<serde_json::Value> =
        execution.outputs.iter().filter_map(|o| serde_json::to_value(o).ok()).collect();
    match db.set_cell_outputs(notebook, cell, Some(eid), &outputs, crate::now()).await {
        Ok(()) => Some(outputs),
        Err(e) => {
            tracing::error!(%notebook, %cell, error = %e, "could not save a cell's outputs");
            None
        }
    }
}

/// A new notebook with one empty code cell.
pub fn blank(title: &str) -> Notebook {
    let id = CellId::parse("cell-1").expect("a valid id");
    Notebook { title: title.to_owned(), cells: vec![Cell::new(id, CellType::Code, "")] }
}

/// `owner`'s copy of lab `slug`, made from the lab's notebook on first call.
/// The `bool` says whether it was made now.
///
/// # Errors
/// 404 for an unknown lab; storage failures.
pub async fn lab_copy(state: &AppState, user: &User, slug: &str) -> Result<(NotebookRecord, bool), AppError> {
    let lab = state.labs.get(slug).ok_or_else(|| AppError::not_found(format!("There is no lab `{slug}`.")))?;
    if let Some(existing) = state.db.lab_notebook(user.id, slug).await? {
        return Ok((existing, false));
    }
    match state.db.create_notebook(user.id, Some(slug), &lab.notebook, crate::now()).await {
        Ok(created) => Ok((created, true)),
        // Two tabs opened the lab at once: the other made the copy.
        Err(flywheel_store::StoreError::Conflict(_)) => {
            let existing = state.db.lab_notebook(user.id, slug).await?;
            existing.map(|n| (n, false)).ok_or_else(not_found)
        }
        Err(e) => Err(e.into()),
    }
}
