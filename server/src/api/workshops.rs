//! `/api/v1/workshops`: workshops, joining with a code, teams,
//! submissions (write-ups and models), the leaderboard, rubric grades and
//! the gradebook. Membership and roles are checked in
//! [`flywheel_app::workshops`]: a workshop you are not in is 404, instructor
//! operations are 403 for participants, another team's submission is 404.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flywheel_domain::workshop::{Criterion, Grade, Member, Rubric, Score, Submission, SubmissionKind, Team, Workshop};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::ApiJson;
use crate::auth::extract::{ApiUser, InWorkshop, WorkshopStaff};
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;
use flywheel_app::App;
use flywheel_app::workshops::{self, NewSubmission, RoomAccount, Standing, Viewer, WorkshopInput};

/// A workshop as the caller sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkshopBody {
    /// Its id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Day 1–3, `YYYY-MM-DD`.
    pub days: Vec<String>,
    /// Lab slugs.
    pub labs: Vec<String>,
    /// Labs whose models are scored on a hidden test set.
    pub scored_labs: Vec<String>,
    /// Most members per team.
    pub team_size: u32,
    /// Whether participants form their own teams.
    pub self_formed_teams: bool,
    /// When submissions close, Unix ms.
    pub closes_at: i64,
    /// Model submissions per team per UTC day.
    pub daily_model_submissions: u32,
    /// Whether teams see their grades.
    pub grades_released: bool,
    /// The caller's role: `instructor`, `participant`, or null (an admin outside it).
    pub role: Option<String>,
    /// The caller's team id, if in one.
    pub team: Option<String>,
    /// The join code (instructors only).
    pub join_code: Option<String>,
    /// When the join code stops working, Unix ms (instructors only).
    pub join_code_expires_at: Option<i64>,
    /// The write-ups' rubrics.
    pub rubrics: RubricsBody,
}

/// The rubric of each write-up.
#[derive(Debug, Serialize, ToSchema)]
pub struct RubricsBody {
    /// Day 1.
    pub problem_statement: Vec<CriterionBody>,
    /// Day 3.
    pub architecture: Vec<CriterionBody>,
}

/// One rubric criterion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CriterionBody {
    /// Name, unique in the rubric.
    pub name: String,
    /// What earns the points.
    #[serde(default)]
    pub description: String,
    /// The most points (1–100).
    pub max_points: u32,
}

fn criteria(rubric: &Rubric) -> Vec<CriterionBody> {
    rubric
        .criteria
        .iter()
        .map(|c| CriterionBody { name: c.name.clone(), description: c.description.clone(), max_points: c.max_points })
        .collect()
}

impl WorkshopBody {
    fn new(app: &App, w: &Workshop, viewer: Option<&Viewer>, role: Option<&str>) -> Self {
        let staff = viewer.is_none_or(|v| v.staff);
        Self {
            id: w.id.to_string(),
            title: w.title.clone(),
            days: w.days.iter().map(ToString::to_string).collect(),
            labs: w.labs.clone(),
            scored_labs: workshops::scored_labs(app, w),
            team_size: w.team_size,
            self_formed_teams: w.self_formed_teams,
            closes_at: w.closes_at.millis(),
            daily_model_submissions: w.daily_model_submissions,
            grades_released: w.grades_released_at.is_some(),
            role: role.map(str::to_owned),
            team: viewer.and_then(Viewer::team).map(|t| t.to_string()),
            join_code: staff.then(|| w.join_code.to_string()),
            join_code_expires_at: staff.then(|| w.join_code_expires_at.millis()),
            rubrics: RubricsBody {
                problem_statement: criteria(&w.rubrics.problem_statement),
                architecture: criteria(&w.rubrics.architecture),
            },
        }
    }

    fn of(app: &App, viewer: &Viewer) -> Self {
        Self::new(app, &viewer.workshop, Some(viewer), viewer.member.as_ref().map(|m| m.role.as_str()))
    }
}

/// A member of a workshop.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    /// User id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Email (instructors only).
    pub email: Option<String>,
    /// `instructor` or `participant`.
    pub role: String,
    /// Team id, if in one.
    pub team: Option<String>,
}

/// A team with its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Members.
    pub members: Vec<MemberBody>,
}

/// The roster: teams and the participants in none.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterBody {
    /// Teams by name.
    pub teams: Vec<TeamBody>,
    /// Participants in no team yet.
    pub unassigned: Vec<MemberBody>,
    /// The instructors.
    pub instructors: Vec<MemberBody>,
}

/// A submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionBody {
    /// Id.
    pub id: String,
    /// Team id.
    pub team: String,
    /// `problem_statement`, `model` or `architecture`.
    pub kind: String,
    /// For a model: its lab.
    pub lab: Option<String>,
    /// Who handed it in (user id).
    pub submitted_by: String,
    /// When, Unix ms.
    pub submitted_at: i64,
    /// Size, bytes.
    pub size_bytes: u64,
    /// A model's score on the public part of the hidden test set.
    pub public_score: Option<f64>,
    /// On the private part: after the workshop closes, or for instructors.
    pub private_score: Option<f64>,
    /// The grade, once given (to the team: once released).
    pub grade: Option<GradeBody>,
    /// The content (Markdown or model JSON), in single-submission answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl SubmissionBody {
    fn new(s: &Submission, viewer: &Viewer, grade: Option<&Grade>, content: Option<String>) -> Self {
        Self {
            id: s.id.to_string(),
            team: s.team.to_string(),
            kind: s.kind.as_str().to_owned(),
            lab: s.lab.clone(),
            submitted_by: s.submitted_by.to_string(),
            submitted_at: s.submitted_at.millis(),
            size_bytes: s.size_bytes,
            public_score: s.public_score,
            private_score: viewer.private_score(s, crate::now()),
            grade: grade.map(GradeBody::from),
            content,
        }
    }
}

/// A grade: points per criterion with comments.
#[derive(Debug, Serialize, ToSchema)]
pub struct GradeBody {
    /// Per criterion.
    pub scores: Vec<ScoreBody>,
    /// Points in all.
    pub total: u32,
    /// When, Unix ms.
    pub graded_at: i64,
}

/// Points for one criterion.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScoreBody {
    /// The criterion's name.
    pub criterion: String,
    /// Points, at most the criterion's maximum.
    pub points: u32,
    /// For the team.
    #[serde(default)]
    pub comment: String,
}

impl From<&Grade> for GradeBody {
    fn from(g: &Grade) -> Self {
        Self {
            scores: g
                .scores
                .iter()
                .map(|s| ScoreBody { criterion: s.criterion.clone(), points: s.points, comment: s.comment.clone() })
                .collect(),
            total: g.total(),
            graded_at: g.graded_at.millis(),
        }
    }
}

/// What an instructor fills in to create a workshop.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct WorkshopRequest {
    /// Title, 1–120 characters.
    #[schema(example = "ML week, Rotterdam")]
    pub title: String,
    /// Day 1, Day 2 and Day 3 as `YYYY-MM-DD`, in order.
    #[schema(example = json!(["2026-12-07", "2026-12-08", "2026-12-09"]))]
    pub days: [String; 3],
    /// Lab slugs (default: every lab).
    #[serde(default)]
    pub labs: Vec<String>,
    /// Most members per team (default 4).
    #[serde(default = "default_team_size")]
    pub team_size: u32,
    /// Whether participants form and join teams themselves (default true).
    #[serde(default = "yes")]
    pub self_formed_teams: bool,
    /// Submissions close (Unix ms; default: the end of Day 3, UTC).
    pub closes_at: Option<i64>,
    /// Most model submissions per team per UTC day (default 5).
    #[serde(default = "default_daily")]
    pub daily_model_submissions: u32,
}

fn default_team_size() -> u32 {
    workshops::DEFAULT_TEAM_SIZE
}
fn yes() -> bool {
    true
}
fn default_daily() -> u32 {
    workshops::DEFAULT_DAILY_MODEL_SUBMISSIONS
}

impl From<WorkshopRequest> for WorkshopInput {
    fn from(r: WorkshopRequest) -> Self {
        Self {
            title: r.title,
            days: r.days,
            labs: r.labs,
            team_size: r.team_size,
            self_formed_teams: r.self_formed_teams,
            closes_at: r.closes_at,
            daily_model_submissions: r.daily_model_submissions,
        }
    }
}

/// A team's place on a lab's leaderboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct StandingBody {
    /// 1 for the best.
    pub rank: usize,
    /// The team's id.
    pub team_id: String,
    /// The team's name.
    pub team: String,
    /// The score shown: public while the workshop is open, private after.
    pub score: f64,
    /// The public score (staff always see both).
    pub public_score: Option<f64>,
    /// The private score: after the close, or for staff.
    pub private_score: Option<f64>,
    /// Model submissions the team made for this lab.
    pub entries: usize,
    /// When the counting (latest) model was submitted, Unix ms.
    pub submitted_at: i64,
}

impl From<Standing> for StandingBody {
    fn from(s: Standing) -> Self {
        Self {
            rank: s.rank,
            team_id: s.team_id,
            team: s.team,
            score: s.score,
            public_score: s.public_score,
            private_score: s.private_score,
            entries: s.entries,
            submitted_at: s.submitted_at,
        }
    }
}

/// A room account just made, with its password (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomAccountBody {
    /// E.g. `scientist-7`.
    pub label: String,
    /// What to log in with.
    pub email: String,
    /// The generated password: not stored, not shown again.
    pub password: String,
}

impl From<RoomAccount> for RoomAccountBody {
    fn from(a: RoomAccount) -> Self {
        Self { label: a.label, email: a.email, password: a.password }
    }
}

/// Joining with a code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinRequest {
    /// The code, e.g. `K7QM-R2TX` (case and hyphen do not matter).
    pub code: String,
}

/// A team's name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamRequest {
    /// 1–120 characters, unique in the workshop.
    pub name: String,
}

/// Where to put a participant.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlaceRequest {
    /// The team id, or null for no team.
    pub team: Option<String>,
}

/// A new join code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// When it stops working, Unix ms (default: when the workshop closes).
    pub expires_at: Option<i64>,
}

/// A submission.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubmitRequest {
    /// `problem_statement`, `model` or `architecture`.
    pub kind: String,
    /// For a model: the lab it is for (one of the workshop's `scored_labs`).
    pub lab: Option<String>,
    /// A write-up's Markdown (with the template's `## ` sections), or a
    /// model's saved JSON (`model.to_json()?` or the file of `model.save(…)`).
    #[serde(default)]
    pub content: Option<String>,
    /// For a model instead of `content`: the name of the file a cell saved
    /// in one of the caller's running notebook kernels, e.g. `fraud-gbt.json`.
    #[serde(default)]
    pub kernel_file: Option<String>,
}

/// A grade to give.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GradeRequest {
    /// One per criterion of the rubric.
    pub scores: Vec<ScoreBody>,
}

/// Grades shown to teams or not.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReleaseRequest {
    /// `true` shows every team its grades and comments.
    pub released: bool,
}

/// A rubric to set.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RubricRequest {
    /// The criteria, in grading order.
    pub criteria: Vec<CriterionBody>,
}

fn member_body(m: &Member, viewer: &Viewer) -> MemberBody {
    MemberBody {
        user_id: m.user.to_string(),
        name: m.name.clone(),
        email: viewer.email_of(m).map(str::to_owned),
        role: m.role.as_str().to_owned(),
        team: m.team.map(|t| t.to_string()),
    }
}

/// The workshops the caller is in (all of them for an admin).
#[utoipa::path(get, path = "/api/v1/workshops", tag = "workshops", security(("bearer" = [])),
    responses((status = 200, body = Vec<WorkshopBody>), (status = 401, body = ErrorBody)))]
async fn list_workshops(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<WorkshopBody>>, AppError> {
    let list = workshops::list(&state, &user).await?;
    Ok(Json(
        list.iter()
            .map(|(w, role)| {
                let staff = user.role.is_admin() || *role == Some(flywheel_domain::workshop::MemberRole::Instructor);
                let mut body = WorkshopBody::new(&state, w, None, role.map(|r| r.as_str()));
                if !staff {
                    (body.join_code, body.join_code_expires_at) = (None, None);
                }
                body
            })
            .collect(),
    ))
}

/// Creates a workshop (instructors and admins), with a join code and
/// rubrics made from the write-up templates' sections.
#[utoipa::path(post, path = "/api/v1/workshops", tag = "workshops", security(("bearer" = [])),
    request_body = WorkshopRequest,
    responses(
        (status = 201, body = WorkshopBody),
        (status = 403, description = "Participants cannot create workshops", body = ErrorBody),
        (status = 422, description = "Bad title, dates, lab or limit", body = ErrorBody),
    ))]
async fn create_workshop(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(input): ApiJson<WorkshopRequest>,
) -> Result<Response, AppError> {
    let w = workshops::create(&state, &user, input.into()).await?;
    Ok((StatusCode::CREATED, Json(WorkshopBody::new(&state, &w, None, Some("instructor")))).into_response())
}

/// One workshop.
#[utoipa::path(get, path = "/api/v1/workshops/{id}", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id")),
    responses((status = 200, body = WorkshopBody), (status = 404, description = "No such workshop, or not yours", body = ErrorBody)))]
async fn get_workshop(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
) -> Json<WorkshopBody> {
    Json(WorkshopBody::of(&state, &viewer))
}

/// Joins a workshop with its join code, as a participant.
#[utoipa::path(post, path = "/api/v1/workshops/join", tag = "workshops", security(("bearer" = [])),
    request_body = JoinRequest,
    responses(
        (status = 200, body = WorkshopBody),
        (status = 403, description = "The code has expired", body = ErrorBody),
        (status = 404, description = "No workshop has this code", body = ErrorBody),
        (status = 409, description = "Already in it", body = ErrorBody),
        (status = 422, description = "Not a join code", body = ErrorBody),
    ))]
async fn join_workshop(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ApiJson(req): ApiJson<JoinRequest>,
) -> Result<Json<WorkshopBody>, AppError> {
    let w = workshops::join(&state, &user, &req.code).await?;
    Ok(Json(WorkshopBody::of(&state, &workshops::viewer(&state, &user, w).await?)))
}

/// Makes a new join code; the old one stops working (instructors).
#[utoipa::path(post, path = "/api/v1/workshops/{id}/code", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id")), request_body = CodeRequest,
    responses((status = 200, body = WorkshopBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn new_code(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<Json<WorkshopBody>, AppError> {
    let w = workshops::new_code(&state, &viewer, req.expires_at).await?;
    Ok(Json(WorkshopBody::of(&state, &Viewer { workshop: w, ..viewer })))
}

/// The roster: teams with their members, participants in no team, instructors.
#[utoipa::path(get, path = "/api/v1/workshops/{id}/teams", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id")),
    responses((status = 200, body = RosterBody), (status = 404, body = ErrorBody)))]
async fn roster(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
) -> Result<Json<RosterBody>, AppError> {
    Ok(Json(roster_body(&state, &viewer).await?))
}

async fn roster_body(state: &AppState, viewer: &Viewer) -> Result<RosterBody, AppError> {
    let members = state.db.members(viewer.workshop.id).await?;
    let teams: Vec<Team> = state.db.teams(viewer.workshop.id).await?;
    let body = |m: &Member| member_body(m, viewer);
    Ok(RosterBody {
        teams: teams
            .iter()
            .map(|t| TeamBody {
                id: t.id.to_string(),
                name: t.name.clone(),
                members: members.iter().filter(|m| m.team == Some(t.id)).map(body).collect(),
            })
            .collect(),
        unassigned: members
            .iter()
            .filter(|m| m.team.is_none() && m.role == flywheel_domain::workshop::MemberRole::Participant)
            .map(body)
            .collect(),
        instructors: members
            .iter()
            .filter(|m| m.role == flywheel_domain::workshop::MemberRole::Instructor)
            .map(body)
            .collect(),
    })
}

/// Forms a team (instructors; participants when teams are self-formed, who then join it).
#[utoipa::path(post, path = "/api/v1/workshops/{id}/teams", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id")), request_body = TeamRequest,
    responses(
        (status = 201, body = TeamBody),
        (status = 403, description = "Instructors form the teams here", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    ))]
async fn create_team(
    State(state): State<AppState>,
    InWorkshop { caller: ApiUser(user), viewer }: InWorkshop<ApiUser>,
    ApiJson(req): ApiJson<TeamRequest>,
) -> Result<Response, AppError> {
    let team = workshops::create_team(&state, &viewer, &user, &req.name).await?;
    let members = state.db.members(viewer.workshop.id).await?;
    let members = members.iter().filter(|m| m.team == Some(team.id)).map(|m| member_body(m, &viewer)).collect();
    let body = TeamBody { id: team.id.to_string(), name: team.name, members };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Joins a team (participants, when teams are self-formed), leaving any other.
#[utoipa::path(post, path = "/api/v1/workshops/{id}/teams/{team}/join", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id"), ("team" = String, Path, description = "Team id")),
    responses(
        (status = 204, description = "In the team"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The team is full", body = ErrorBody),
    ))]
async fn join_team(
    State(state): State<AppState>,
    InWorkshop { caller: ApiUser(user), viewer }: InWorkshop<ApiUser>,
    Path((_workshop, team)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let team = workshops::team(&state, &viewer, &team).await?;
    workshops::join_team(&state, &viewer, &user, &team).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Puts a participant into a team, or into none (instructors).
#[utoipa::path(put, path = "/api/v1/workshops/{id}/members/{user}/team", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id"), ("user" = String, Path, description = "User id")),
    request_body = PlaceRequest,
    responses((status = 204, description = "Placed"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn place_member(
    State(state): State<AppState>,
    WorkshopStaff { viewer, .. }: WorkshopStaff<ApiUser>,
    Path((_workshop, member)): Path<(String, String)>,
    ApiJson(req): ApiJson<PlaceRequest>,
) -> Result<StatusCode, AppError> {
    let team = match &req.team {
        Some(t) => Some(workshops::team(&state, &viewer, t).await?),
        None => None,
    };
    workshops::place(&state, &viewer, &member, team.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hands in a submission for the caller's team. Send an `Idempotency-Key`
/// header to make retries safe: the same key returns the first submission
/// (200) instead of storing another (201).
#[utoipa::path(post, path = "/api/v1/workshops/{id}/submissions", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id"),
           ("Idempotency-Key" = Option<String>, Header, description = "One key per intended submission")),
    request_body = SubmitRequest,
    responses(
        (status = 201, description = "Stored (a model: scored)", body = SubmissionBody),
        (status = 200, description = "Stored before under this Idempotency-Key", body = SubmissionBody),
        (status = 403, description = "Not in a team", body = ErrorBody),
        (status = 409, description = "The workshop has closed", body = ErrorBody),
        (status = 413, description = "Too large", body = ErrorBody),
        (status = 422, description = "Sections missing; no such scored lab; a model that cannot be read or scored", body = ErrorBody),
        (status = 429, description = "Daily model submissions used", body = ErrorBody),
    ))]
async fn submit(
    State(state): State<AppState>,
    InWorkshop { caller: ApiUser(user), viewer }: InWorkshop<ApiUser>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SubmitRequest>,
) -> Result<Response, AppError> {
    let kind = SubmissionKind::parse(&req.kind)?;
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned).map_err(|_| AppError::unprocessable("Idempotency-Key must be text.")));
    let content = match (req.content, req.kernel_file) {
        (Some(text), None) => text,
        (None, Some(name)) if kind == SubmissionKind::Model => workshops::kernel_file(&state, &user, &name).await?,
        _ => {
            return Err(AppError::unprocessable(
                "Send the submission as `content`, or (for a model) `kernel_file`: one of the two.",
            ));
        }
    };
    let new = NewSubmission { kind, lab: req.lab, content, idempotency_key: key.transpose()? };
    let (s, created) = workshops::submit(&state, &viewer, &user, new).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(SubmissionBody::new(&s, &viewer, None, None))).into_response())
}

/// The submissions the caller may see (instructors: all; participants: their team's), oldest first.
#[utoipa::path(get, path = "/api/v1/workshops/{id}/submissions", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id")),
    responses((status = 200, body = Vec<SubmissionBody>), (status = 404, body = ErrorBody)))]
async fn list_submissions(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
) -> Result<Json<Vec<SubmissionBody>>, AppError> {
    let grades = workshops::grades(&state, &viewer).await?;
    let list = workshops::submissions(&state, &viewer).await?;
    Ok(Json(list.iter().map(|s| SubmissionBody::new(s, &viewer, grades.get(&s.id), None)).collect()))
}

/// One submission with its content.
#[utoipa::path(get, path = "/api/v1/workshops/{id}/submissions/{submission}", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id"), ("submission" = String, Path, description = "Submission id")),
    responses((status = 200, body = SubmissionBody), (status = 404, description = "No such submission, or another team's", body = ErrorBody)))]
async fn get_submission(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
    Path((_workshop, submission)): Path<(String, String)>,
) -> Result<Json<SubmissionBody>, AppError> {
    let (s, content) = workshops::submission(&state, &viewer, &submission).await?;
    let grades = workshops::grades(&state, &viewer).await?;
    Ok(Json(SubmissionBody::new(&s, &viewer, grades.get(&s.id), Some(content))))
}

/// Grades a write-up, criterion by criterion (instructors).
#[utoipa::path(put, path = "/api/v1/workshops/{id}/submissions/{submission}/grade", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id"), ("submission" = String, Path, description = "Submission id")),
    request_body = GradeRequest,
    responses(
        (status = 200, body = GradeBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "A model; an unknown or missing criterion; points above the maximum", body = ErrorBody),
    ))]
async fn grade(
    State(state): State<AppState>,
    InWorkshop { caller: ApiUser(user), viewer }: InWorkshop<ApiUser>,
    Path((_workshop, submission)): Path<(String, String)>,
    ApiJson(req): ApiJson<GradeRequest>,
) -> Result<Json<GradeBody>, AppError> {
    let scores = req
        .scores
        .into_iter()
        .map(|s| Score { criterion: s.criterion, points: s.points, comment: s.comment })
        .collect();
    let g = workshops::grade(&state, &viewer, &user, &submission, scores).await?;
    Ok(Json(GradeBody::from(&g)))
}

/// Shows (or hides) every team's grades and comments (instructors).
#[utoipa::path(put, path = "/api/v1/workshops/{id}/grades/release", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id")), request_body = ReleaseRequest,
    responses((status = 200, body = WorkshopBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn release(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
    ApiJson(req): ApiJson<ReleaseRequest>,
) -> Result<Json<WorkshopBody>, AppError> {
    let w = workshops::release_grades(&state, &viewer, req.released).await?;
    Ok(Json(WorkshopBody::of(&state, &Viewer { workshop: w, ..viewer })))
}

/// Replaces a write-up's rubric (instructors).
#[utoipa::path(put, path = "/api/v1/workshops/{id}/rubrics/{kind}", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id"), ("kind" = String, Path, description = "`problem_statement` or `architecture`")),
    request_body = RubricRequest,
    responses((status = 200, body = WorkshopBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_rubric(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
    Path((_workshop, kind)): Path<(String, String)>,
    ApiJson(req): ApiJson<RubricRequest>,
) -> Result<Json<WorkshopBody>, AppError> {
    let kind = SubmissionKind::parse(&kind)?;
    let rubric = Rubric::new(
        req.criteria
            .into_iter()
            .map(|c| Criterion { name: c.name, description: c.description, max_points: c.max_points })
            .collect(),
    )?;
    let w = workshops::set_rubric(&state, &viewer, kind, rubric).await?;
    Ok(Json(WorkshopBody::of(&state, &Viewer { workshop: w, ..viewer })))
}

/// A lab's leaderboard: each team's latest model, by the public score while
/// the workshop is open and by the private score after it closes.
#[utoipa::path(get, path = "/api/v1/workshops/{id}/leaderboard/{lab}", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id"), ("lab" = String, Path, description = "A scored lab, e.g. `fraud`")),
    responses((status = 200, body = Vec<StandingBody>), (status = 404, body = ErrorBody)))]
async fn leaderboard(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
    Path((_workshop, lab)): Path<(String, String)>,
) -> Result<Json<Vec<StandingBody>>, AppError> {
    let board = workshops::leaderboard(&state, &viewer, &lab).await?;
    Ok(Json(board.into_iter().map(StandingBody::from).collect()))
}

/// The gradebook as CSV: a row per participant with team, rubric points and
/// model scores (instructors).
#[utoipa::path(get, path = "/api/v1/workshops/{id}/gradebook.csv", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn gradebook(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
) -> Result<Response, AppError> {
    gradebook_response(&state, &viewer).await
}

/// The gradebook download (also used by the workshop page).
///
/// # Errors
/// As [`workshops::gradebook_csv`].
pub async fn gradebook_response(state: &AppState, viewer: &Viewer) -> Result<Response, AppError> {
    let csv = workshops::gradebook_csv(state, viewer).await?;
    let disposition = format!("attachment; filename=\"gradebook-{}.csv\"", viewer.workshop.id);
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        csv,
    )
        .into_response())
}

/// A co-instructor to add.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InstructorRequest {
    /// The email of an instructor's (or admin's) account.
    pub email: String,
}

/// Adds a co-instructor (instructors): they see and run the workshop as its owner does.
#[utoipa::path(post, path = "/api/v1/workshops/{id}/instructors", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id")), request_body = InstructorRequest,
    responses(
        (status = 201, body = MemberBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "Already in the workshop", body = ErrorBody),
        (status = 422, description = "Not an instructor's account", body = ErrorBody),
    ))]
async fn add_instructor(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
    ApiJson(req): ApiJson<InstructorRequest>,
) -> Result<Response, AppError> {
    let member = workshops::add_instructor(&state, &viewer, &req.email).await?;
    Ok((StatusCode::CREATED, Json(member_body(&member, &viewer))).into_response())
}

/// How many room accounts to make.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoomAccountsRequest {
    /// 1–200.
    pub count: u32,
    /// Name prefix (default `scientist`): accounts are `<prefix>-1`, `<prefix>-2`, …
    #[serde(default)]
    pub prefix: Option<String>,
}

/// Makes numbered participant accounts for the room (instructors): each
/// joins the workshop, gets a generated password — in this answer only —
/// and is disabled once the workshop closes.
#[utoipa::path(post, path = "/api/v1/workshops/{id}/accounts", tag = "workshops", security(("bearer" = [])),
    params(("id" = String, Path, description = "Workshop id")), request_body = RoomAccountsRequest,
    responses(
        (status = 201, body = Vec<RoomAccountBody>),
        (status = 403, body = ErrorBody),
        (status = 422, description = "A count outside 1–200, a bad prefix", body = ErrorBody),
    ))]
async fn room_accounts(
    State(state): State<AppState>,
    InWorkshop { viewer, .. }: InWorkshop<ApiUser>,
    ApiJson(req): ApiJson<RoomAccountsRequest>,
) -> Result<Response, AppError> {
    let made = workshops::provision(&state, &viewer, req.count, req.prefix.as_deref().unwrap_or("scientist")).await?;
    let made: Vec<RoomAccountBody> = made.into_iter().map(RoomAccountBody::from).collect();
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// The workshop routes, to nest under `/api/v1`. Submissions may carry a
/// model up to [`workshops::MAX_MODEL_BYTES`] (JSON-escaped, so twice that).
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post, put};
    axum::Router::new()
        .route("/workshops", get(list_workshops).post(create_workshop))
        .route("/workshops/join", post(join_workshop))
        .route("/workshops/{id}", get(get_workshop))
        .route("/workshops/{id}/code", post(new_code))
        .route("/workshops/{id}/teams", get(roster).post(create_team))
        .route("/workshops/{id}/teams/{team}/join", post(join_team))
        .route("/workshops/{id}/members/{user}/team", put(place_member))
        .route(
            "/workshops/{id}/submissions",
            get(list_submissions).post(submit).layer(DefaultBodyLimit::max(workshops::MAX_MODEL_BYTES * 2)),
        )
        .route("/workshops/{id}/submissions/{submission}", get(get_submission))
        .route("/workshops/{id}/submissions/{submission}/grade", put(grade))
        .route("/workshops/{id}/grades/release", put(release))
        .route("/workshops/{id}/rubrics/{kind}", put(set_rubric))
        .route("/workshops/{id}/leaderboard/{lab}", get(leaderboard))
        .route("/workshops/{id}/gradebook.csv", get(gradebook))
        .route("/workshops/{id}/accounts", post(room_accounts))
        .route("/workshops/{id}/instructors", post(add_instructor))
}

/// The paths above, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_workshops, create_workshop, get_workshop, join_workshop, new_code, roster, create_team, join_team,
          place_member, submit, list_submissions, get_submission, grade, release, set_rubric, leaderboard, gradebook,
          room_accounts, add_instructor),
    tags((name = "workshops", description = "Workshops: join codes, teams, submissions, leaderboard, rubric grades, gradebook")),
)]
pub struct WorkshopsDoc;
