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
use std::sync::{Arc, Mutex};

use flywheel_domain::{Cell, CellId, CellType, Notebook, NotebookId, NotebookRecord, TeamId, User, UserId};
use flywheel_kernel_manager::{Execution, KernelError, KernelSession, KernelState, SessionEvent};
use flywheel_store::{Database, StoreError};
use tokio::sync::broadcast::error::RecvError;

use crate::App;

/// Why a notebook operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum NotebookServiceError {
    /// No such notebook, or one neither the caller's nor shared with their
    /// team (the same answer, so that others' notebooks are not even
    /// confirmed to exist).
    #[error("There is no notebook with this id (or it is not yours).")]
    NotFound,
    /// A team member asked for what only the owner may do (delete, reset, share).
    #[error("Only the notebook's owner can do this (it is shared with your team).")]
    OwnerOnly,
    /// The notebook has no cell with this id (shown cut to 64 characters).
    #[error("This notebook has no cell `{0}`.")]
    NoSuchCell(String),
    /// Only code cells run.
    #[error("Cell `{0}` is Markdown; only code cells run.")]
    MarkdownCell(CellId),
    /// The caller is in no such team.
    #[error("You are in no such team.")]
    NoSuchTeam,
    /// No lab has this slug.
    #[error("There is no lab `{0}`.")]
    NoSuchLab(String),
    /// The kernel refused (preparing, at the session limit, …).
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which kernel session each notebook runs on for each person (a team
/// notebook runs on each member's own kernel), and which of its cells have
/// a run in flight there (in memory, as the sessions are).
#[derive(Default)]
pub struct NotebookKernels(Mutex<HashMap<(NotebookId, UserId), Attached>>);

type Key = (NotebookId, UserId);

struct Attached {
    session: String,
    /// Cell → the execution started for it last.
    running: HashMap<CellId, u64>,
}

impl NotebookKernels {
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

/// The notebook `id` if `user` owns it or it is shared with their
/// workshop team; `NotFound` otherwise, so that others' notebooks are not even
/// confirmed to exist.
///
/// # Errors
/// [`NotebookServiceError::NotFound`] for an unknown or foreign id (the
/// server answers a malformed one the same, before calling); storage
/// failures.
pub async fn reachable(app: &App, user: &User, id: NotebookId) -> Result<NotebookRecord, NotebookServiceError> {
    let record = app.db.notebook(id).await?.ok_or(NotebookServiceError::NotFound)?;
    if record.owner == user.id || in_team(app, user, record.team).await? {
        Ok(record)
    } else {
        Err(NotebookServiceError::NotFound)
    }
}

/// Whether `user` is in `team` now.
async fn in_team(app: &App, user: &User, team: Option<TeamId>) -> Result<bool, NotebookServiceError> {
    let Some(team) = team else { return Ok(false) };
    let Some(t) = app.db.team(team).await? else { return Ok(false) };
    Ok(app.db.member(t.workshop, user.id).await?.is_some_and(|m| m.team == Some(team)))
}

/// The notebook `id` if `user` owns it: deleting, resetting and sharing
/// are the owner's.
///
/// # Errors
/// As [`reachable`]; [`NotebookServiceError::OwnerOnly`] for a team member
/// who is not the owner.
pub async fn owned(app: &App, user: &User, id: NotebookId) -> Result<NotebookRecord, NotebookServiceError> {
    let record = reachable(app, user, id).await?;
    if record.owner != user.id {
        return Err(NotebookServiceError::OwnerOnly);
    }
    Ok(record)
}

/// The notebooks shared with the teams `user` is in, other than their own.
///
/// # Errors
/// Storage failures.
pub async fn shared_with(
    app: &App,
    user: &User,
) -> Result<Vec<flywheel_domain::NotebookSummary>, NotebookServiceError> {
    let mut out = Vec::new();
    let mine = app.db.notebooks(user.id).await?;
    for (w, _) in app.db.member_workshops(user.id).await? {
        if let Some(team) = app.db.member(w.id, user.id).await?.and_then(|m| m.team) {
            let theirs = app.db.team_notebooks(team).await?;
            out.extend(theirs.into_iter().filter(|n| !mine.iter().any(|m| m.id == n.id)));
        }
    }
    Ok(out)
}

/// Shares the owner's notebook with their team in `team`'s workshop (or,
/// with `None`, stops sharing it).
///
/// # Errors
/// As [`owned`]; [`NotebookServiceError::NoSuchTeam`] for a team the owner
/// is not in.
pub async fn share(
    app: &App,
    user: &User,
    record: &NotebookRecord,
    team: Option<TeamId>,
) -> Result<Option<TeamId>, NotebookServiceError> {
    if team.is_some() && !in_team(app, user, team).await? {
        return Err(NotebookServiceError::NoSuchTeam);
    }
    app.db.set_notebook_team(record.id, team).await?;
    Ok(team)
}

/// The session the notebook's cells ran on, if it is still open.
pub fn existing_session(app: &App, user: &User, notebook: NotebookId) -> Option<Arc<KernelSession>> {
    let id = app.notebook_kernels.get((notebook, user.id))?;
    app.kernels.session(user.id, &id).ok()
}

async fn session_for(app: &App, user: &User, notebook: NotebookId) -> Result<Arc<KernelSession>, KernelError> {
    if let Some(session) = existing_session(app, user, notebook) {
        return Ok(session);
    }
    let session = match app.kernels.create_session(user.id) {
        Err(KernelError::TooManySessions { .. }) if reclaim(app, user) > 0 => app.kernels.create_session(user.id)?,
        other => other?,
    };
    crate::kernels::attach(app, user, &session).await;
    app.notebook_kernels.set((notebook, user.id), session.id.clone());
    Ok(session)
}

/// Closes the user's sessions whose kernel is already gone (culled when
/// idle, or dead): they hold no variables, only a place in the per-user
/// limit, and their notebooks keep every output. Returns how many.
fn reclaim(app: &App, user: &User) -> usize {
    let gone: Vec<String> = app
        .kernels
        .sessions(user.id)
        .iter()
        .map(|s| s.view())
        .filter(|v| matches!(v.kernel, KernelState::Culled | KernelState::Dead))
        .map(|v| v.id)
        .collect();
    for id in &gone {
        let _ = app.kernels.close(user.id, id);
    }
    app.notebook_kernels.forget_sessions(&gone);
    gone.len()
}

/// Closes the notebook's sessions, every team member's, if open (when the
/// notebook is deleted or reset).
pub fn close_sessions(app: &App, notebook: NotebookId) {
    for (user, id) in app.notebook_kernels.remove_all(notebook) {
        let _ = app.kernels.close(user, &id);
    }
}

/// Queues the saved source of code cell `cell` on the notebook's session
/// and has its outputs written to the notebook when it finishes.
///
/// # Errors
/// [`NotebookServiceError::NoSuchCell`], [`NotebookServiceError::MarkdownCell`],
/// and the kernel's refusals ([`KernelError`]: preparing, at the session
/// limit, …).
pub async fn run_cell(
    app: &App,
    user: &User,
    record: &NotebookRecord,
    cell: &str,
) -> Result<(Arc<KernelSession>, Execution), NotebookServiceError> {
    let cell =
        record.notebook.cell(cell).ok_or_else(|| NotebookServiceError::NoSuchCell(cell.chars().take(64).collect()))?;
    if cell.cell_type != CellType::Code {
        return Err(NotebookServiceError::MarkdownCell(cell.id.clone()));
    }
    let session = session_for(app, user, record.id).await?;
    let execution = session.execute(cell.source.clone())?;
    app.notebook_kernels.started((record.id, user.id), cell.id.clone(), execution.id);
    let sessions = app.notebook_kernels.clone();
    let step =
        record.lab.as_ref().filter(|slug| app.labs.get(slug).is_some_and(|lab| lab.step(cell.id.as_str()).is_some()));
    let step = step.map(|slug| (user.id, slug.clone()));
    let (db, session2, notebook, cell_id, eid) =
        (app.db.clone(), session.clone(), record.id, cell.id.clone(), execution.id);
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
    session: Arc<KernelSession>,
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
/// [`NotebookServiceError::NoSuchLab`]; storage failures.
pub async fn lab_copy(app: &App, user: &User, slug: &str) -> Result<(NotebookRecord, bool), NotebookServiceError> {
    let lab = app.labs.get(slug).ok_or_else(|| NotebookServiceError::NoSuchLab(slug.to_owned()))?;
    if let Some(existing) = app.db.lab_notebook(user.id, slug).await? {
        return Ok((existing, false));
    }
    match app.db.create_notebook(user.id, Some(slug), &lab.notebook, crate::now()).await {
        Ok(created) => Ok((created, true)),
        // Two tabs opened the lab at once: the other made the copy.
        Err(StoreError::Conflict(_)) => {
            let existing = app.db.lab_notebook(user.id, slug).await?;
            existing.map(|n| (n, false)).ok_or(NotebookServiceError::NotFound)
        }
        Err(e) => Err(e.into()),
    }
}
