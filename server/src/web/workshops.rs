//! The workshop pages: the list with joining and creating (`/workshops`),
//! a workshop's page (`/workshops/{id}`: agenda, teams, submissions,
//! leaderboards; for instructors the join code, roster placement, live
//! progress, grade release and the gradebook), and a submission's page with
//! the rubric grading form. Every operation goes through
//! [`flywheel_app::workshops`], which checks membership and role.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_htmx::HxRequest;
use flywheel_domain::workshop::{self, MemberRole, Rubric, Score, SubmissionKind, Workshop};
use flywheel_domain::{Role, Timestamp, User};
use flywheel_kernel_manager::KernelState;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Deserialize;

use super::account::WebForm;
use super::{Layout, Page, format_time, see_other};
use crate::api::workshops::gradebook_response;
use crate::auth::extract::{CurrentUser, InWorkshop, WorkshopStaff};
use crate::error::AppError;
use crate::state::AppState;
use flywheel_app::notebooks::NotebookServiceError;
use flywheel_app::workshops::{self as ws, NewSubmission, Standing, Viewer, WorkshopInput};

/// Minutes without a passed step, during a workshop day, after which a
/// participant shows as stuck on the progress dashboard.
pub const STUCK_MINUTES: i64 = 20;

struct ListRow {
    id: String,
    title: String,
    days: String,
    role: &'static str,
}

#[derive(askama::Template)]
#[template(path = "workshops.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ListRow>,
    can_create: bool,
    labs: Vec<(String, String)>,
    error: Option<String>,
    code: String,
}

fn can_create(user: &User) -> bool {
    matches!(user.role, Role::Instructor | Role::Admin)
}

async fn list_page(
    state: &AppState,
    user: &User,
    layout: Layout,
    status: StatusCode,
    error: Option<String>,
    code: String,
) -> Result<Response, AppError> {
    let rows = ws::list(state, user)
        .await?
        .into_iter()
        .map(|(w, role)| ListRow {
            id: w.id.to_string(),
            days: w.days.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            title: w.title,
            role: role.map_or("administrator", MemberRole::as_str),
        })
        .collect();
    let labs = state.labs.all().iter().map(|l| (l.slug.clone(), l.notebook.title.clone())).collect();
    let page = ListPage { layout, rows, can_create: can_create(user), labs, error, code };
    Ok(Page(status, page).into_response())
}

pub(super) async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    list_page(&state, &user, layout, StatusCode::OK, None, String::new()).await
}

#[derive(Deserialize)]
pub(super) struct JoinForm {
    code: String,
}

/// Joins with a code; a refusal is shown on the list with the code kept.
pub(super) async fn join(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    layout: Layout,
    WebForm(form): WebForm<JoinForm>,
) -> Result<Response, AppError> {
    match ws::join(&state, &user, &form.code).await.map_err(AppError::from) {
        Ok(w) => Ok(see_other(hx, &format!("/workshops/{}", w.id))),
        Err(AppError::Client { status, message, .. }) => {
            list_page(&state, &user, layout, status, Some(message), form.code).await
        }
        Err(e) => Err(e),
    }
}

/// The create form's fields.
struct CreateForm {
    title: String,
    day1: String,
    day2: String,
    day3: String,
    team_size: u32,
    daily_model_submissions: u32,
    self_formed_teams: Option<String>,
    /// Checked labs, as `lab=<slug>` repeated.
    lab: Vec<String>,
}

/// Creates a workshop and goes to it.
pub(super) async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    HxRequest(hx): HxRequest,
    layout: Layout,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    // `lab` repeats, which serde_urlencoded's structs do not take: collect it by hand.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let number = |k: &str| {
        get(k).trim().parse::<u32>().map_err(|_| AppError::unprocessable(format!("{k}: give a whole number.")))
    };
    let form = CreateForm {
        title: get("title"),
        day1: get("day1"),
        day2: get("day2"),
        day3: get("day3"),
        team_size: number("team_size")?,
        daily_model_submissions: number("daily_model_submissions")?,
        self_formed_teams: pairs.iter().any(|(k, _)| k == "self_formed_teams").then(String::new),
        lab: pairs.iter().filter(|(k, _)| k == "lab").map(|(_, v)| v.clone()).collect(),
    };
    let input = WorkshopInput {
        title: form.title,
        days: [form.day1, form.day2, form.day3],
        labs: form.lab,
        team_size: form.team_size,
        self_formed_teams: form.self_formed_teams.is_some(),
        closes_at: None,
        daily_model_submissions: form.daily_model_submissions,
    };
    match ws::create(&state, &user, input).await.map_err(AppError::from) {
        Ok(w) => Ok(see_other(hx, &format!("/workshops/{}", w.id))),
        Err(AppError::Client { status, message, .. }) => {
            list_page(&state, &user, layout, status, Some(message), String::new()).await
        }
        Err(e) => Err(e),
    }
}

struct MemberView {
    id: String,
    name: String,
    email: String,
}

struct TeamView {
    id: String,
    name: String,
    members: Vec<MemberView>,
    full: bool,
    mine: bool,
}

struct SubmissionRow {
    id: String,
    team: String,
    kind: &'static str,
    lab: String,
    when: String,
    by: String,
    score: String,
    grade: String,
}

struct ProgressRow {
    team: String,
    name: String,
    labs: Vec<String>,
    last: String,
    kernel: &'static str,
    stuck: bool,
}

struct Board {
    lab: String,
    rows: Vec<Standing>,
    closed: bool,
}

#[derive(askama::Template)]
#[template(path = "workshop.html")]
struct WorkshopPage {
    layout: Layout,
    id: String,
    title: String,
    agenda: Vec<(u8, String)>,
    labs: Vec<(String, String)>,
    closes: String,
    open: bool,
    staff: bool,
    participant: bool,
    self_formed: bool,
    code: String,
    code_expires: String,
    code_works: bool,
    released: bool,
    teams: Vec<TeamView>,
    unassigned: Vec<MemberView>,
    in_team: bool,
    team_name: String,
    submissions: Vec<SubmissionRow>,
    boards: Vec<Board>,
    scored_labs: Vec<String>,
    progress: Vec<ProgressRow>,
    progress_labs: Vec<String>,
    error: Option<String>,
    draft_kind: String,
    draft: String,
    problem_template: String,
    architecture_template: String,
    idempotency_key: String,
    daily: u32,
    /// The team's shared notebooks: (id, title, last change).
    team_notebooks: Vec<(String, String, String)>,
    /// The instructors' names.
    instructors: Vec<String>,
    /// The participant's own notebooks not shared with the team: (id, title).
    shareable: Vec<(String, String)>,
}

/// A write-up skeleton: the template's `## ` headings, to fill in.
fn skeleton(state: &AppState, kind: SubmissionKind) -> String {
    let sections = kind
        .template()
        .and_then(|slug| state.curriculum.get(slug))
        .map(|p| workshop::sections(&p.markdown))
        .unwrap_or_default();
    let mut text = format!("# {} — team name\n\nMembers and roles:\n", kind.title());
    for s in sections {
        text.push_str(&format!("\n## {s}\n\n\n"));
    }
    text
}

async fn workshop_page(
    state: &AppState,
    viewer: &Viewer,
    layout: Layout,
    status: StatusCode,
    error: Option<String>,
    draft: Option<(SubmissionKind, String)>,
) -> Result<Response, AppError> {
    let w = &viewer.workshop;
    let now = crate::now();
    let members = state.db.members(w.id).await?;
    let teams = state.db.teams(w.id).await?;
    let team_names: HashMap<String, String> = teams.iter().map(|t| (t.id.to_string(), t.name.clone())).collect();
    let (team_views, unassigned) = roster(viewer, &members, &teams);
    let submissions = submission_rows(state, viewer, &members, &team_names, now).await?;
    let closed = !w.is_open(now);
    let scored_labs = ws::scored_labs(state, w);
    let mut boards = Vec::new();
    for lab in &scored_labs {
        boards.push(Board { lab: lab.clone(), rows: ws::leaderboard(state, viewer, lab).await?, closed });
    }
    let (progress, progress_labs) =
        if viewer.staff { progress(state, w, &members, &team_names, now).await? } else { (Vec::new(), Vec::new()) };
    let (draft_kind, draft) = draft.map_or((String::new(), String::new()), |(k, t)| (k.as_str().to_owned(), t));
    let (team_notebooks, shareable) = notebook_lists(state, viewer).await?;
    let page = WorkshopPage {
        layout,
        id: w.id.to_string(),
        title: w.title.clone(),
        agenda: w.days.iter().enumerate().map(|(i, d)| (i as u8 + 1, d.to_string())).collect(),
        labs: w
            .labs
            .iter()
            .map(|slug| (slug.clone(), state.labs.get(slug).map_or(slug.clone(), |l| l.notebook.title.clone())))
            .collect(),
        closes: format_time(w.closes_at),
        open: !closed,
        staff: viewer.staff,
        participant: viewer.member.as_ref().is_some_and(|m| m.role == MemberRole::Participant),
        self_formed: w.self_formed_teams,
        code: w.join_code.to_string(),
        code_expires: format_time(w.join_code_expires_at),
        code_works: w.code_works(now),
        released: w.grades_released_at.is_some(),
        in_team: viewer.team().is_some(),
        team_name: viewer.team().and_then(|t| team_names.get(&t.to_string()).cloned()).unwrap_or_default(),
        teams: team_views,
        unassigned,
        submissions,
        boards,
        scored_labs,
        progress,
        progress_labs,
        error,
        draft_kind,
        draft,
        problem_template: skeleton(state, SubmissionKind::ProblemStatement),
        architecture_template: skeleton(state, SubmissionKind::Architecture),
        idempotency_key: crate::random_hex::<16>()?,
        daily: w.daily_model_submissions,
        team_notebooks,
        shareable,
        instructors: members.iter().filter(|m| m.role == MemberRole::Instructor).map(|m| m.name.clone()).collect(),
    };
    Ok(Page(status, page).into_response())
}

/// The workshop's teams with their members, and the participants in no
/// team, as the caller may see them (emails for staff only).
fn roster(viewer: &Viewer, members: &[workshop::Member], teams: &[workshop::Team]) -> (Vec<TeamView>, Vec<MemberView>) {
    let view = |m: &workshop::Member| MemberView {
        id: m.user.to_string(),
        name: m.name.clone(),
        email: viewer.email_of(m).unwrap_or_default().to_owned(),
    };
    let team_views = teams
        .iter()
        .map(|t| {
            let members: Vec<MemberView> = members.iter().filter(|m| m.team == Some(t.id)).map(view).collect();
            TeamView {
                id: t.id.to_string(),
                name: t.name.clone(),
                full: members.len() >= viewer.workshop.team_size as usize,
                mine: viewer.team() == Some(t.id),
                members,
            }
        })
        .collect();
    let unassigned =
        members.iter().filter(|m| m.team.is_none() && m.role == MemberRole::Participant).map(view).collect();
    (team_views, unassigned)
}

/// The submissions the caller may see, newest first, with scores and grades as they may see them.
async fn submission_rows(
    state: &AppState,
    viewer: &Viewer,
    members: &[workshop::Member],
    team_names: &HashMap<String, String>,
    now: flywheel_domain::Timestamp,
) -> Result<Vec<SubmissionRow>, AppError> {
    let w = &viewer.workshop;
    let names: HashMap<String, String> = members.iter().map(|m| (m.user.to_string(), m.name.clone())).collect();
    let grades = ws::grades(state, viewer).await?;
    let rows = ws::submissions(state, viewer)
        .await?
        .into_iter()
        .rev()
        .map(|s| {
            let score = match (s.public_score, viewer.private_score(&s, now)) {
                (Some(p), Some(q)) => format!("public {p:.4} · private {q:.4}"),
                (Some(p), _) => format!("public {p:.4}"),
                _ => String::new(),
            };
            let grade = grades.get(&s.id).map_or(String::new(), |g| {
                let max = w.rubrics.of(s.kind).map_or(0, Rubric::max_total);
                format!("{} / {max}", g.total())
            });
            SubmissionRow {
                id: s.id.to_string(),
                team: team_names.get(&s.team.to_string()).cloned().unwrap_or_default(),
                kind: s.kind.title(),
                lab: s.lab.clone().unwrap_or_default(),
                when: format_time(s.submitted_at),
                by: names.get(&s.submitted_by.to_string()).cloned().unwrap_or_default(),
                score,
                grade,
            }
        })
        .collect();
    Ok(rows)
}

/// The caller's team's notebooks (id, title, last change) and their own
/// notebooks they could share with it (id, title); empty outside a team.
async fn notebook_lists(
    state: &AppState,
    viewer: &Viewer,
) -> Result<(Vec<(String, String, String)>, Vec<(String, String)>), AppError> {
    let (mut team_notebooks, mut shareable) = (Vec::new(), Vec::new());
    if let (Some(team), Some(member)) = (viewer.team(), &viewer.member) {
        for n in state.db.team_notebooks(team).await? {
            team_notebooks.push((n.id.to_string(), n.title, format_time(n.updated_at)));
        }
        for n in state.db.notebooks(member.user).await? {
            if n.team != Some(team) {
                shareable.push((n.id.to_string(), n.title));
            }
        }
    }
    Ok((team_notebooks, shareable))
}

/// The live progress dashboard: each participant's steps per lab, their
/// last passed step, their kernel's state, and whether they look stuck.
async fn progress(
    state: &AppState,
    w: &Workshop,
    members: &[workshop::Member],
    team_names: &HashMap<String, String>,
    now: Timestamp,
) -> Result<(Vec<ProgressRow>, Vec<String>), AppError> {
    let labs: Vec<&flywheel_domain::Lab> = w.labs.iter().filter_map(|slug| state.labs.get(slug)).collect();
    let on_a_day = w.days.iter().any(|d| d.start() <= now && now.millis() < d.start().millis() + workshop::DAY_MILLIS);
    let mut rows = Vec::new();
    for m in members.iter().filter(|m| m.role == MemberRole::Participant) {
        let done = state.db.progress(m.user).await?;
        let in_labs: Vec<_> = done.iter().filter(|s| w.labs.contains(&s.lab)).collect();
        let last = in_labs.iter().map(|s| s.passed_at).max();
        let since = last.unwrap_or(m.joined_at).max(m.joined_at);
        let kernels: Vec<KernelState> = state.kernels.sessions(m.user).iter().map(|s| s.view().kernel).collect();
        let kernel = if kernels.contains(&KernelState::Busy) {
            "running a cell"
        } else if kernels.contains(&KernelState::Starting) {
            "starting"
        } else if kernels.contains(&KernelState::Idle) {
            "idle"
        } else {
            "none"
        };
        rows.push(ProgressRow {
            team: m.team.and_then(|t| team_names.get(&t.to_string()).cloned()).unwrap_or_else(|| "—".into()),
            name: m.name.clone(),
            labs: labs
                .iter()
                .map(|lab| {
                    let passed = in_labs.iter().filter(|s| s.lab == lab.slug).count();
                    format!("{passed}/{}", lab.steps.len())
                })
                .collect(),
            last: last.map_or_else(|| "no step yet".to_owned(), format_time),
            kernel,
            stuck: on_a_day && now.millis() - since.millis() >= STUCK_MINUTES * 60_000,
        });
    }
    rows.sort_by(|a, b| (&a.team, &a.name).cmp(&(&b.team, &b.name)));
    Ok((rows, labs.iter().map(|l| l.slug.clone()).collect()))
}

pub(super) async fn show(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<CurrentUser>,
    layout: Layout,
) -> Result<Response, AppError> {
    workshop_page(&state, &viewer, layout, StatusCode::OK, None, None).await
}

/// Runs `op`; on success goes back to the workshop page, on a refusal shows
/// the page with the message (and the draft, so nothing typed is lost).
async fn then_back<E: Into<AppError>, F: std::future::Future<Output = Result<(), E>>>(
    state: &AppState,
    user: &User,
    viewer: &Viewer,
    layout: Layout,
    hx: bool,
    draft: Option<(SubmissionKind, String)>,
    op: F,
) -> Result<Response, AppError> {
    match op.await.map_err(Into::into) {
        Ok(()) => Ok(see_other(hx, &format!("/workshops/{}", viewer.workshop.id))),
        Err(AppError::Client { status, message, .. }) => {
            let fresh = ws::visible(state, user, viewer.workshop.id).await?;
            workshop_page(state, &fresh, layout, status, Some(message), draft).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub(super) struct NameForm {
    name: String,
}

pub(super) async fn create_team(
    State(state): State<AppState>,
    InWorkshop { caller: CurrentUser(user), viewer }: InWorkshop<CurrentUser>,
    HxRequest(hx): HxRequest,
    layout: Layout,
    WebForm(form): WebForm<NameForm>,
) -> Result<Response, AppError> {
    let op = async { ws::create_team(&state, &viewer, &user, &form.name).await.map(|_| ()) };
    then_back(&state, &user, &viewer, layout, hx, None, op).await
}

pub(super) async fn join_team(
    State(state): State<AppState>,
    InWorkshop { caller: CurrentUser(user), viewer }: InWorkshop<CurrentUser>,
    HxRequest(hx): HxRequest,
    layout: Layout,
    Path((_workshop, team)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let op = async {
        let team = ws::team(&state, &viewer, &team).await?;
        ws::join_team(&state, &viewer, &user, &team).await
    };
    then_back(&state, &user, &viewer, layout, hx, None, op).await
}

#[derive(Deserialize)]
pub(super) struct PlaceForm {
    team: String,
}

pub(super) async fn place(
    State(state): State<AppState>,
    WorkshopStaff { caller: CurrentUser(user), viewer }: WorkshopStaff<CurrentUser>,
    HxRequest(hx): HxRequest,
    layout: Layout,
    Path((_workshop, member)): Path<(String, String)>,
    WebForm(form): WebForm<PlaceForm>,
) -> Result<Response, AppError> {
    let op = async {
        let team = if form.team.is_empty() { None } else { Some(ws::team(&state, &viewer, &form.team).await?) };
        ws::place(&state, &viewer, &member, team.as_ref()).await
    };
    then_back(&state, &user, &viewer, layout, hx, None, op).await
}

pub(super) async fn new_code(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<CurrentUser>,
    HxRequest(hx): HxRequest,
) -> Result<Response, AppError> {
    ws::new_code(&state, &viewer, None).await?;
    Ok(see_other(hx, &format!("/workshops/{}", viewer.workshop.id)))
}

#[derive(Deserialize)]
pub(super) struct ReleaseForm {
    released: bool,
}

pub(super) async fn release(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<CurrentUser>,
    HxRequest(hx): HxRequest,
    WebForm(form): WebForm<ReleaseForm>,
) -> Result<Response, AppError> {
    ws::release_grades(&state, &viewer, form.released).await?;
    Ok(see_other(hx, &format!("/workshops/{}", viewer.workshop.id)))
}

#[derive(Deserialize)]
pub(super) struct SubmitForm {
    kind: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    lab: String,
    #[serde(default)]
    kernel_file: String,
    #[serde(default)]
    idempotency_key: String,
}

/// Hands in a write-up (typed on the page) or a model (a file a cell saved
/// in the participant's kernel). One key per rendered form: a double click
/// submits once.
pub(super) async fn submit(
    State(state): State<AppState>,
    InWorkshop { caller: CurrentUser(user), viewer }: InWorkshop<CurrentUser>,
    HxRequest(hx): HxRequest,
    layout: Layout,
    WebForm(form): WebForm<SubmitForm>,
) -> Result<Response, AppError> {
    let kind = SubmissionKind::parse(&form.kind)?;
    let draft = (kind != SubmissionKind::Model).then(|| (kind, form.content.clone()));
    let op = async {
        let content = if kind == SubmissionKind::Model {
            ws::kernel_file(&state, &user, &form.kernel_file).await?
        } else {
            form.content
        };
        let key = (!form.idempotency_key.is_empty()).then_some(form.idempotency_key);
        let lab = (!form.lab.is_empty()).then_some(form.lab);
        ws::submit(&state, &viewer, &user, NewSubmission { kind, lab, content, idempotency_key: key }).await.map(|_| ())
    };
    then_back(&state, &user, &viewer, layout, hx, draft, op).await
}

/// `GET /workshops/{id}/leaderboard/{lab}`: the board alone, for htmx polling.
pub(super) async fn leaderboard(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<CurrentUser>,
    Path((_workshop, lab)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let rows = ws::leaderboard(&state, &viewer, &lab).await?;
    let board = Board { lab, rows, closed: !viewer.workshop.is_open(crate::now()) };
    Ok(Page(StatusCode::OK, BoardPartial { id: viewer.workshop.id.to_string(), board }).into_response())
}

#[derive(askama::Template)]
#[template(path = "partials/leaderboard.html")]
struct BoardPartial {
    id: String,
    board: Board,
}

pub(super) async fn gradebook(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<CurrentUser>,
) -> Result<Response, AppError> {
    gradebook_response(&state, &viewer).await
}

struct CriterionRow {
    name: String,
    description: String,
    max: u32,
    points: String,
    comment: String,
}

#[derive(askama::Template)]
#[template(path = "submission.html")]
struct SubmissionPage {
    layout: Layout,
    workshop_id: String,
    workshop_title: String,
    id: String,
    kind: &'static str,
    team: String,
    when: String,
    by: String,
    html: String,
    model: String,
    score: String,
    staff: bool,
    graded: bool,
    total: String,
    criteria: Vec<CriterionRow>,
    error: Option<String>,
}

async fn submission_page(
    state: &AppState,
    viewer: &Viewer,
    layout: Layout,
    sid: &str,
    status: StatusCode,
    error: Option<String>,
    typed: Option<Vec<Score>>,
) -> Result<Response, AppError> {
    let (s, content) = ws::submission(state, viewer, sid).await?;
    let w = &viewer.workshop;
    let grade = ws::grades(state, viewer).await?.remove(&s.id);
    let members = state.db.members(w.id).await?;
    let team = state.db.teams(w.id).await?.into_iter().find(|t| t.id == s.team).map(|t| t.name).unwrap_or_default();
    let by = members.iter().find(|m| m.user == s.submitted_by).map(|m| m.name.clone()).unwrap_or_default();
    let shown_scores = typed.as_ref().or(grade.as_ref().map(|g| &g.scores));
    let criteria = w
        .rubrics
        .of(s.kind)
        .map(|r| {
            r.criteria
                .iter()
                .map(|c| {
                    let score = shown_scores.and_then(|list| list.iter().find(|x| x.criterion == c.name));
                    CriterionRow {
                        name: c.name.clone(),
                        description: c.description.clone(),
                        max: c.max_points,
                        points: score.map(|x| x.points.to_string()).unwrap_or_default(),
                        comment: score.map(|x| x.comment.clone()).unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let is_model = s.kind == SubmissionKind::Model;
    let private = viewer.private_score(&s, crate::now());
    let page = SubmissionPage {
        layout,
        workshop_id: w.id.to_string(),
        workshop_title: w.title.clone(),
        id: s.id.to_string(),
        kind: s.kind.title(),
        team,
        when: format_time(s.submitted_at),
        by,
        html: if is_model { String::new() } else { untrusted_markdown(&content) },
        model: if is_model { model_summary(&content) } else { String::new() },
        score: match (s.public_score, private) {
            (Some(p), Some(q)) => format!("public {p:.4} · private {q:.4}"),
            (Some(p), _) => format!("public {p:.4} (private shown when the workshop closes)"),
            _ => String::new(),
        },
        staff: viewer.staff,
        graded: grade.is_some(),
        total: grade.as_ref().map_or(String::new(), |g| {
            format!("{} / {}", g.total(), w.rubrics.of(s.kind).map_or(0, Rubric::max_total))
        }),
        criteria,
        error,
    };
    Ok(Page(status, page).into_response())
}

/// A model's type and size, as the page shows it (not its numbers).
fn model_summary(json: &str) -> String {
    let kind = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("flywheel_model").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "model".to_owned());
    format!("{kind}, {}", flywheel_kernel_manager::human_bytes(json.len()))
}

/// Markdown a participant wrote, as HTML: raw HTML is shown as text, and
/// links keep only http(s), mailto and relative addresses.
pub fn untrusted_markdown(text: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(text, options).filter_map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            let lower = dest_url.to_ascii_lowercase();
            let safe = !lower.contains(':')
                || lower.starts_with("http://")
                || lower.starts_with("https://")
                || lower.starts_with("mailto:");
            let dest_url = if safe { dest_url } else { "#".into() };
            Some(Event::Start(Tag::Link { link_type, dest_url, title, id }))
        }
        // No images from elsewhere (the page's CSP refuses them anyway): their alt text stays.
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

pub(super) async fn show_submission(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<CurrentUser>,
    layout: Layout,
    Path((_workshop, sid)): Path<(String, String)>,
) -> Result<Response, AppError> {
    submission_page(&state, &viewer, layout, &sid, StatusCode::OK, None, None).await
}

/// Saves a grade from the rubric form (`points:<criterion>`,
/// `comment:<criterion>` fields); a refusal shows the form again as typed.
pub(super) async fn grade(
    State(state): State<AppState>,
    WorkshopStaff { caller: CurrentUser(user), viewer }: WorkshopStaff<CurrentUser>,
    HxRequest(hx): HxRequest,
    layout: Layout,
    Path((_workshop, sid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let mut scores: Vec<Score> = Vec::new();
    let mut unreadable = None;
    for (key, value) in &pairs {
        if let Some(criterion) = key.strip_prefix("points:") {
            let comment = pairs
                .iter()
                .find(|(k, _)| k.strip_prefix("comment:") == Some(criterion))
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let points = value.trim().parse::<u32>().unwrap_or_else(|_| {
                unreadable.get_or_insert_with(|| format!("\"{criterion}\": give a whole number of points."));
                0
            });
            scores.push(Score { criterion: criterion.to_owned(), points, comment });
        }
    }
    let result = match unreadable {
        Some(message) => Err(AppError::unprocessable(message)),
        None => ws::grade(&state, &viewer, &user, &sid, scores.clone()).await.map(|_| ()).map_err(AppError::from),
    };
    match result {
        Ok(()) => Ok(see_other(hx, &format!("/workshops/{}/submissions/{sid}", viewer.workshop.id))),
        Err(AppError::Client { status, message, .. }) => {
            submission_page(&state, &viewer, layout, &sid, status, Some(message), Some(scores)).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub(super) struct ShareForm {
    notebook: String,
}

/// Shares one of the participant's notebooks with their team.
pub(super) async fn share_notebook(
    State(state): State<AppState>,
    InWorkshop { caller: CurrentUser(user), viewer }: InWorkshop<CurrentUser>,
    HxRequest(hx): HxRequest,
    layout: Layout,
    WebForm(form): WebForm<ShareForm>,
) -> Result<Response, AppError> {
    let op = async {
        let team =
            viewer.team().ok_or_else(|| AppError::forbidden("Join a team first: notebooks are shared with a team."))?;
        let notebook = form.notebook.parse().map_err(|_| NotebookServiceError::NotFound)?;
        let record = flywheel_app::notebooks::owned(&state, &user, notebook).await?;
        flywheel_app::notebooks::share(&state, &user, &record, Some(team)).await?;
        Ok::<(), AppError>(())
    };
    then_back(&state, &user, &viewer, layout, hx, None, op).await
}

#[derive(Deserialize)]
pub(super) struct RoomForm {
    count: u32,
    prefix: String,
}

#[derive(askama::Template)]
#[template(path = "room_accounts.html")]
struct RoomSheet {
    layout: Layout,
    id: String,
    title: String,
    code: String,
    closes: String,
    login_url: String,
    accounts: Vec<ws::RoomAccount>,
}

/// Makes room accounts and shows them once, as a sheet to print and cut.
pub(super) async fn room_accounts(
    State(state): State<AppState>,
    WorkshopStaff { caller: CurrentUser(user), viewer }: WorkshopStaff<CurrentUser>,
    HxRequest(hx): HxRequest,
    layout: Layout,
    WebForm(form): WebForm<RoomForm>,
) -> Result<Response, AppError> {
    let made = match ws::provision(&state, &viewer, form.count, &form.prefix).await.map_err(AppError::from) {
        Ok(made) => made,
        Err(e @ AppError::Client { .. }) => {
            return then_back(&state, &user, &viewer, layout, hx, None, async { Err(e) }).await;
        }
        Err(e) => return Err(e),
    };
    let w = &viewer.workshop;
    let sheet = RoomSheet {
        layout,
        id: w.id.to_string(),
        title: w.title.clone(),
        code: w.join_code.to_string(),
        closes: format_time(w.closes_at),
        login_url: format!("{}/login", state.config.effective_public_url()),
        accounts: made,
    };
    Ok(Page(StatusCode::CREATED, sheet).into_response())
}

#[derive(Deserialize)]
pub(super) struct InstructorForm {
    email: String,
}

/// Adds a co-instructor by email.
pub(super) async fn add_instructor(
    State(state): State<AppState>,
    WorkshopStaff { caller: CurrentUser(user), viewer }: WorkshopStaff<CurrentUser>,
    HxRequest(hx): HxRequest,
    layout: Layout,
    WebForm(form): WebForm<InstructorForm>,
) -> Result<Response, AppError> {
    let op = async { ws::add_instructor(&state, &viewer, &form.email).await.map(|_| ()) };
    then_back(&state, &user, &viewer, layout, hx, None, op).await
}
