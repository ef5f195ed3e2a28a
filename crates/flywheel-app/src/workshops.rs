//! Workshops: what instructors and participants do in one, shared by the
//! API and the pages. Every operation starts from a [`Viewer`] — the
//! workshop as the caller may see it — so the membership and role checks
//! happen in one place: a workshop the caller is not in does not exist for
//! them (`NotFound`), staff-only operations are `StaffOnly` for
//! participants, and a participant reaches only their own team's
//! submissions and grades (another team's are `Missing`). Each refusal is a
//! [`WorkshopError`].
//!
//! Models are scored here, in the server's process, on the lab's hidden test set
//! (`flywheel_ml::scoring`), in a blocking task; hidden test sets are drawn
//! once per workshop and lab and kept in memory.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use flywheel_domain::workshop::{
    self, Date, Grade, JoinCode, Member, MemberRole, Rubric, Rubrics, Score, Submission, SubmissionKind, Team, Workshop,
};
use flywheel_domain::{SubmissionId, TeamId, Timestamp, User, UserId, ValidationError, WorkshopId};
use flywheel_ml::scoring::{HiddenTest, HiddenTestSpec, SubmittedModel};
use flywheel_store::StoreError;

use crate::App;

/// Why a workshop operation did not happen. Nothing is written on any of them.
#[derive(Debug, thiserror::Error)]
pub enum WorkshopError {
    /// No such workshop, or one the caller is not in (the same answer, so
    /// that others' workshops are not even confirmed to exist).
    #[error("There is no such workshop (or you are not in it).")]
    NotFound,
    /// Only the workshop's instructors (and admins) may do this.
    #[error("Only the workshop's instructors can do this.")]
    StaffOnly,
    /// The caller's role or the workshop's settings do not allow this; the
    /// message says which.
    #[error("{0}")]
    NotAllowed(String),
    /// No such team, participant, submission, join code or leaderboard in
    /// this workshop (as the caller may see it).
    #[error("{0}")]
    Missing(String),
    /// The input cannot be used; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// It conflicts with what exists (already a member, a name taken).
    #[error("{0}")]
    Conflict(String),
    /// The team has as many members as the workshop allows.
    #[error("Team \"{team}\" is full ({size} members).")]
    TeamFull {
        /// The team's name.
        team: String,
        /// The workshop's team size.
        size: u32,
    },
    /// Submissions are closed.
    #[error("Submissions closed at {}; the workshop is over.", crate::format_time(*closes_at))]
    Closed {
        /// When they closed.
        closes_at: Timestamp,
    },
    /// A write-up or model over its size limit.
    #[error("{what} is {size} bytes; the most accepted is {max}.")]
    TooLarge {
        /// What was too large (`The write-up`, `The model`, a file name).
        what: String,
        /// Its size, in bytes.
        size: u64,
        /// The limit, in bytes.
        max: u64,
    },
    /// The team used today's model submissions.
    #[error("Your team has used today's {limit} model submissions; more from 00:00 UTC.")]
    DailyLimit {
        /// Model submissions per team per UTC day.
        limit: u32,
        /// Seconds until the next UTC day.
        retry_after: u64,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else failed (the random source, a scoring task); logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<ValidationError> for WorkshopError {
    fn from(e: ValidationError) -> Self {
        WorkshopError::Invalid(e.to_string())
    }
}

/// Largest write-up accepted, bytes.
pub const MAX_WRITE_UP_BYTES: usize = 200 * 1024;
/// Largest model accepted, bytes (a k-NN model holds its training rows).
pub const MAX_MODEL_BYTES: usize = 20 * 1024 * 1024;
/// Points per criterion of a workshop's starting rubrics.
pub const DEFAULT_POINTS: u32 = 4;

/// Hidden test sets drawn so far, by workshop seed and lab.
#[derive(Default)]
pub struct HiddenTests(Mutex<HashMap<(u64, String), Arc<HiddenTest>>>);

impl HiddenTests {
    /// The hidden test set of `lab` (declared by `spec`) for the workshop
    /// seeded `seed`, drawn on first use (a blocking call: run it off the
    /// async threads).
    fn get(&self, seed: u64, lab: &str, spec: &HiddenTestSpec) -> Result<Arc<HiddenTest>, flywheel_ml::MlError> {
        let key = (seed, lab.to_owned());
        if let Some(found) = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(found.clone());
        }
        let drawn = Arc::new(HiddenTest::draw(lab, spec, seed)?);
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, drawn.clone());
        Ok(drawn)
    }
}

/// A workshop as one caller may see it.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The workshop.
    pub workshop: Workshop,
    /// The caller's membership (admins may have none).
    pub member: Option<Member>,
    /// Instructor of this workshop, or an admin.
    pub staff: bool,
}

impl Viewer {
    /// The caller's team, if they are in one.
    pub fn team(&self) -> Option<TeamId> {
        self.member.as_ref().and_then(|m| m.team)
    }

    /// Whether the caller runs this workshop.
    ///
    /// # Errors
    /// [`WorkshopError::StaffOnly`] for participants.
    pub fn require_staff(&self) -> Result<(), WorkshopError> {
        if self.staff { Ok(()) } else { Err(WorkshopError::StaffOnly) }
    }

    /// Whether the caller may see what `team` has handed in.
    pub fn sees_team(&self, team: TeamId) -> bool {
        self.staff || self.team() == Some(team)
    }

    /// Whether the private scores are shown to the caller at `now`: after
    /// the workshop closes, or to its staff (the rule of every view of a
    /// score).
    pub fn sees_private_scores(&self, now: Timestamp) -> bool {
        self.staff || !self.workshop.is_open(now)
    }

    /// `s`'s private score as the caller may see it at `now`.
    pub fn private_score(&self, s: &Submission, now: Timestamp) -> Option<f64> {
        s.private_score.filter(|_| self.sees_private_scores(now))
    }

    /// `m`'s email address as the caller may see it: staff only.
    pub fn email_of<'m>(&self, m: &'m Member) -> Option<&'m str> {
        self.staff.then_some(m.email.as_str())
    }
}

/// The workshop `id` as `user` may see it: members and admins only. (The
/// server parses the id from the path, and calls this from its
/// `InWorkshop` extractor.)
///
/// # Errors
/// [`WorkshopError::NotFound`] for an unknown id and for workshops `user`
/// is not in.
pub async fn visible(app: &App, user: &User, id: WorkshopId) -> Result<Viewer, WorkshopError> {
    let workshop = app.db.workshop(id).await?.ok_or(WorkshopError::NotFound)?;
    viewer(app, user, workshop).await
}

/// `workshop` as `user` may see it: members and admins only.
///
/// # Errors
/// [`WorkshopError::NotFound`] for a workshop `user` is not in.
pub async fn viewer(app: &App, user: &User, workshop: Workshop) -> Result<Viewer, WorkshopError> {
    let member = app.db.member(workshop.id, user.id).await?;
    let admin = user.role.is_admin();
    if member.is_none() && !admin {
        return Err(WorkshopError::NotFound);
    }
    let staff = admin || member.as_ref().is_some_and(|m| m.role == MemberRole::Instructor);
    Ok(Viewer { workshop, member, staff })
}

/// Most members per team, unless the instructor says otherwise.
pub const DEFAULT_TEAM_SIZE: u32 = 4;
/// Model submissions per team per UTC day, unless the instructor says otherwise.
pub const DEFAULT_DAILY_MODEL_SUBMISSIONS: u32 = 5;

/// What an instructor fills in to create a workshop.
#[derive(Debug, Clone)]
pub struct WorkshopInput {
    /// Title, 1–120 characters.
    pub title: String,
    /// Day 1, Day 2 and Day 3 as `YYYY-MM-DD`, in order.
    pub days: [String; 3],
    /// Lab slugs (empty: every lab).
    pub labs: Vec<String>,
    /// Most members per team (1–50).
    pub team_size: u32,
    /// Whether participants form and join teams themselves.
    pub self_formed_teams: bool,
    /// Submissions close (Unix ms; `None`: the end of Day 3, UTC).
    pub closes_at: Option<i64>,
    /// Most model submissions per team per UTC day (1–100).
    pub daily_model_submissions: u32,
}

fn end_of(day: Date) -> Timestamp {
    Timestamp(day.start().millis() + workshop::DAY_MILLIS)
}

/// Creates a workshop owned by `user` (an instructor or admin), with a
/// fresh join code valid until it closes and rubrics made from the write-up
/// templates' sections.
///
/// # Errors
/// `NotAllowed` for participants; `Invalid` for a bad title, dates, lab or limit.
pub async fn create(app: &App, user: &User, input: WorkshopInput) -> Result<Workshop, WorkshopError> {
    if !(user.role.is_admin() || user.role == flywheel_domain::Role::Instructor) {
        return Err(WorkshopError::NotAllowed("Only instructors and administrators can create workshops.".to_owned()));
    }
    let title = workshop::parse_name("title", &input.title)?;
    let days = workshop::check_days([
        Date::parse(&input.days[0])?,
        Date::parse(&input.days[1])?,
        Date::parse(&input.days[2])?,
    ])?;
    let labs = if input.labs.is_empty() {
        app.labs.all().iter().map(|l| l.slug.clone()).collect()
    } else {
        for slug in &input.labs {
            if app.labs.get(slug).is_none() {
                return Err(WorkshopError::Invalid(format!("There is no lab `{slug}`.")));
            }
        }
        input.labs
    };
    if !(1..=50).contains(&input.team_size) {
        return Err(WorkshopError::Invalid("team_size: give 1 to 50 members per team.".to_owned()));
    }
    if !(1..=100).contains(&input.daily_model_submissions) {
        return Err(WorkshopError::Invalid("daily_model_submissions: give 1 to 100 per day.".to_owned()));
    }
    let closes_at = input.closes_at.map_or_else(|| end_of(days[2]), Timestamp);
    let now = crate::now();
    let mut w = Workshop {
        id: WorkshopId(uuid::Uuid::new_v4()),
        owner: user.id,
        title,
        days,
        labs,
        join_code: JoinCode::from_random(crate::random_bytes()?),
        join_code_expires_at: closes_at,
        team_size: input.team_size,
        self_formed_teams: input.self_formed_teams,
        closes_at,
        daily_model_submissions: input.daily_model_submissions,
        scoring_seed: u64::from_le_bytes(crate::random_bytes()?),
        rubrics: default_rubrics(app),
        grades_released_at: None,
        created_at: now,
    };
    // 10¹² codes: a clash is rare, but it must not fail the request.
    for _ in 0..3 {
        match app.db.create_workshop(&w).await {
            Err(StoreError::Conflict(_)) => w.join_code = JoinCode::from_random(crate::random_bytes()?),
            other => {
                other?;
                tracing::info!(workshop = %w.id, owner = %user.id, "workshop created");
                return Ok(w);
            }
        }
    }
    Err(WorkshopError::Internal(anyhow::anyhow!("three join codes in a row were taken")))
}

/// One criterion per `## ` section of each write-up's template page.
fn default_rubrics(app: &App) -> Rubrics {
    let rubric = |kind: SubmissionKind| {
        let sections = kind
            .template()
            .and_then(|slug| app.curriculum.get(slug))
            .map(|page| workshop::sections(&page.markdown))
            .unwrap_or_default();
        if sections.is_empty() {
            Rubric::from_sections(&["Content".to_owned()], 10)
        } else {
            Rubric::from_sections(&sections, DEFAULT_POINTS)
        }
    };
    Rubrics {
        problem_statement: rubric(SubmissionKind::ProblemStatement),
        architecture: rubric(SubmissionKind::Architecture),
    }
}

/// The workshops `user` is in (all of them for an admin), with the caller's role.
///
/// # Errors
/// Storage failures.
pub async fn list(app: &App, user: &User) -> Result<Vec<(Workshop, Option<MemberRole>)>, WorkshopError> {
    let mine = app.db.member_workshops(user.id).await?;
    if !user.role.is_admin() {
        return Ok(mine.into_iter().map(|(w, r)| (w, Some(r))).collect());
    }
    let roles: HashMap<WorkshopId, MemberRole> = mine.into_iter().map(|(w, r)| (w.id, r)).collect();
    Ok(app.db.all_workshops().await?.into_iter().map(|w| (w.clone(), roles.get(&w.id).copied())).collect())
}

/// Joins `user` to the workshop whose join code `code` is, as a participant.
///
/// # Errors
/// `Invalid` for a code that cannot be one; `Missing` for a code no
/// workshop has; `NotAllowed` when the code has expired; `Conflict` when
/// `user` is already in it.
pub async fn join(app: &App, user: &User, code: &str) -> Result<Workshop, WorkshopError> {
    let w = joinable(app, code).await?;
    if !app.db.add_member(w.id, user.id, MemberRole::Participant, crate::now()).await? {
        return Err(WorkshopError::Conflict(format!("You are already in \"{}\".", w.title)));
    }
    tracing::info!(workshop = %w.id, user = %user.id, "joined a workshop");
    Ok(w)
}

/// The workshop a join code lets people into now.
///
/// # Errors
/// `Invalid` for a code that cannot be one; `Missing` for a code no
/// workshop has; `NotAllowed` when it has expired.
pub async fn joinable(app: &App, code: &str) -> Result<Workshop, WorkshopError> {
    let code = JoinCode::parse(code)?;
    let w = app.db.workshop_by_code(&code).await?.ok_or_else(|| {
        WorkshopError::Missing(format!("No workshop has the join code {code}. Check it with your instructor."))
    })?;
    if !w.code_works(crate::now()) {
        return Err(WorkshopError::NotAllowed(format!(
            "The join code {code} of \"{}\" has expired. Ask your instructor for the new one.",
            w.title
        )));
    }
    Ok(w)
}

/// Makes a new join code (the old one stops working), valid until
/// `expires_at` (default: when the workshop closes).
///
/// # Errors
/// [`WorkshopError::StaffOnly`] for participants.
pub async fn new_code(app: &App, viewer: &Viewer, expires_at: Option<i64>) -> Result<Workshop, WorkshopError> {
    viewer.require_staff()?;
    let mut w = viewer.workshop.clone();
    w.join_code_expires_at = expires_at.map_or(w.closes_at, Timestamp);
    for _ in 0..3 {
        w.join_code = JoinCode::from_random(crate::random_bytes()?);
        match app.db.update_workshop(&w).await {
            Err(StoreError::Conflict(_)) => {}
            other => {
                other?;
                return Ok(w);
            }
        }
    }
    Err(WorkshopError::Internal(anyhow::anyhow!("three join codes in a row were taken")))
}

/// Adds a co-instructor: an instructor's or admin's account, by email. They
/// then see and run the workshop as its owner does.
///
/// # Errors
/// `StaffOnly`; `Invalid` for an address that is not an instructor's or
/// admin's account; `Conflict` for someone already in the workshop.
pub async fn add_instructor(app: &App, viewer: &Viewer, email: &str) -> Result<Member, WorkshopError> {
    viewer.require_staff()?;
    let key = flywheel_domain::Email::parse(email)?.key();
    let user = app.db.user_credentials(&key).await?.map(|(u, _)| u).filter(|u| {
        u.is_active() && matches!(u.role, flywheel_domain::Role::Instructor | flywheel_domain::Role::Admin)
    });
    let user =
        user.ok_or_else(|| WorkshopError::Invalid(format!("{email} is not an instructor's account on this server.")))?;
    let w = &viewer.workshop;
    if !app.db.add_member(w.id, user.id, MemberRole::Instructor, crate::now()).await? {
        return Err(WorkshopError::Conflict(format!("{email} is already in \"{}\".", w.title)));
    }
    app.db
        .member(w.id, user.id)
        .await?
        .ok_or_else(|| WorkshopError::Internal(anyhow::anyhow!("member just added is missing")))
}

/// Forms a team. Staff may always; a participant only when the workshop
/// lets teams form themselves, and then joins it.
///
/// # Errors
/// `Invalid` for a bad name; `NotAllowed` when participants may not form
/// teams; `Conflict` for a
/// name taken in the workshop.
pub async fn create_team(app: &App, viewer: &Viewer, user: &User, name: &str) -> Result<Team, WorkshopError> {
    let name = workshop::parse_name("name", name)?;
    if !viewer.staff && !viewer.workshop.self_formed_teams {
        return Err(WorkshopError::NotAllowed("In this workshop the instructors form the teams.".to_owned()));
    }
    let team = Team { id: TeamId(uuid::Uuid::new_v4()), workshop: viewer.workshop.id, name, created_at: crate::now() };
    app.db.create_team(&team).await.map_err(|e| match e {
        StoreError::Conflict(_) => WorkshopError::Conflict(format!("There is already a team named \"{}\".", team.name)),
        other => other.into(),
    })?;
    if !viewer.staff {
        app.db.set_team(team.workshop, user.id, Some(team.id), None).await?;
    }
    Ok(team)
}

/// The workshop's team `id`.
///
/// # Errors
/// `Missing` when the workshop has no such team.
pub async fn team(app: &App, viewer: &Viewer, id: &str) -> Result<Team, WorkshopError> {
    let missing = || WorkshopError::Missing("This workshop has no such team.".to_owned());
    let id = TeamId::from_str(id).map_err(|_| missing())?;
    app.db.teams(viewer.workshop.id).await?.into_iter().find(|t| t.id == id).ok_or_else(missing)
}

/// A participant joins `team` (leaving the one they were in).
///
/// # Errors
/// `NotAllowed` for staff (they place people instead) and when teams are
/// formed by the instructors; `TeamFull`.
pub async fn join_team(app: &App, viewer: &Viewer, user: &User, team: &Team) -> Result<(), WorkshopError> {
    if viewer.member.as_ref().is_none_or(|m| m.role != MemberRole::Participant) {
        return Err(WorkshopError::NotAllowed(
            "Only participants join teams; instructors place people in them.".to_owned(),
        ));
    }
    if !viewer.workshop.self_formed_teams {
        return Err(WorkshopError::NotAllowed("In this workshop the instructors form the teams.".to_owned()));
    }
    if viewer.team() == Some(team.id) {
        return Ok(());
    }
    let limit = viewer.workshop.team_size;
    if !app.db.set_team(viewer.workshop.id, user.id, Some(team.id), Some(limit)).await? {
        return Err(WorkshopError::TeamFull { team: team.name.clone(), size: limit });
    }
    Ok(())
}

/// Staff put a participant into a team (or into none), whatever its size.
///
/// # Errors
/// `StaffOnly`; `Missing` when `member` is not a participant of the workshop.
pub async fn place(app: &App, viewer: &Viewer, member: &str, team: Option<&Team>) -> Result<(), WorkshopError> {
    viewer.require_staff()?;
    let missing = || WorkshopError::Missing("This workshop has no such participant.".to_owned());
    let user = UserId::from_str(member).map_err(|_| missing())?;
    let m = app.db.member(viewer.workshop.id, user).await?.ok_or_else(missing)?;
    if m.role != MemberRole::Participant {
        return Err(missing());
    }
    app.db.set_team(viewer.workshop.id, user, team.map(|t| t.id), None).await?;
    Ok(())
}

/// What a team hands in.
#[derive(Debug)]
pub struct NewSubmission {
    /// Which of the three.
    pub kind: SubmissionKind,
    /// For a model, the lab whose hidden test set scores it.
    pub lab: Option<String>,
    /// The write-up's Markdown or the model's JSON.
    pub content: String,
    /// A key the client sends with one intended submission.
    pub idempotency_key: Option<String>,
}

/// Hands in a submission for the caller's team. A model is scored before
/// it is stored. With an idempotency key the team used before, nothing new
/// is stored and the first submission comes back (`false`).
///
/// # Errors
/// `NotAllowed` for callers in no team; `Closed`; `TooLarge` over the
/// size limits; `Invalid` for a write-up without the template's sections (listed),
/// a lab that takes no models, a model that cannot be read or scored (the
/// reason: wrong features, wrong classes, a type without probabilities);
/// `DailyLimit`.
pub async fn submit(
    app: &App,
    viewer: &Viewer,
    user: &User,
    new: NewSubmission,
) -> Result<(Submission, bool), WorkshopError> {
    let w = &viewer.workshop;
    let team = viewer
        .team()
        .filter(|_| viewer.member.as_ref().is_some_and(|m| m.role == MemberRole::Participant))
        .ok_or_else(|| WorkshopError::NotAllowed("Join a team first: submissions are made by teams.".to_owned()))?;
    if let Some(key) = &new.idempotency_key {
        if key.is_empty() || key.len() > 200 {
            return Err(WorkshopError::Invalid("Idempotency-Key: give 1 to 200 characters.".to_owned()));
        }
        if let Some(first) = app.db.submission_by_key(team, key).await? {
            return Ok((first, false));
        }
    }
    let now = crate::now();
    if !w.is_open(now) {
        return Err(WorkshopError::Closed { closes_at: w.closes_at });
    }
    let (lab, scores) = match new.kind {
        SubmissionKind::Model => {
            let (lab, score) = score_model(app, viewer, team, new.lab.as_deref(), &new.content, now).await?;
            (Some(lab), Some(score))
        }
        kind => {
            check_write_up(app, kind, &new.content)?;
            (None, None)
        }
    };
    let submission = Submission {
        id: SubmissionId(uuid::Uuid::new_v4()),
        workshop: w.id,
        team,
        kind: new.kind,
        lab,
        submitted_by: user.id,
        submitted_at: now,
        size_bytes: new.content.len() as u64,
        public_score: scores.map(|s| s.public),
        private_score: scores.map(|s| s.private),
    };
    let (stored, created) = app.db.create_submission(&submission, &new.content, new.idempotency_key.as_deref()).await?;
    tracing::info!(workshop = %w.id, %team, kind = stored.kind.as_str(), created, "submission");
    Ok((stored, created))
}

/// The text of file `name` that a cell saved in one of `user`'s open
/// kernels (`model.save("fraud-gbt.json")?`), newest session first: how a
/// participant submits a model without downloading it.
///
/// # Errors
/// `Invalid` when no open kernel of theirs has the file (the message says
/// why: none open, not saved yet, not a plain name), `TooLarge` over
/// [`MAX_MODEL_BYTES`].
pub async fn kernel_file(app: &App, user: &User, name: &str) -> Result<String, WorkshopError> {
    use flywheel_kernel_manager::FileError;
    let mut sessions = app.kernels.sessions(user.id);
    sessions.reverse();
    let mut why = FileError::NoKernel;
    for session in sessions {
        match session.read_file(name.trim(), MAX_MODEL_BYTES as u64).await {
            Ok(bytes) => {
                return String::from_utf8(bytes)
                    .map_err(|_| WorkshopError::Invalid(format!("{name} is not a text (JSON) file.")));
            }
            Err(FileError::TooLarge { size, max }) => {
                return Err(WorkshopError::TooLarge { what: name.to_owned(), size, max });
            }
            Err(e @ FileError::BadName(_)) => return Err(WorkshopError::Invalid(format!("The file name: {e}."))),
            Err(e) => {
                if matches!(why, FileError::NoKernel) {
                    why = e;
                }
            }
        }
    }
    Err(WorkshopError::Invalid(match why {
        FileError::NoKernel => format!(
            "You have no notebook kernel running, so there is no {name} to submit. Open your lab notebook and run the cell that saves the model."
        ),
        other => format!("{other}."),
    }))
}

fn check_write_up(app: &App, kind: SubmissionKind, text: &str) -> Result<(), WorkshopError> {
    if text.len() > MAX_WRITE_UP_BYTES {
        return Err(WorkshopError::TooLarge {
            what: "The write-up".to_owned(),
            size: text.len() as u64,
            max: MAX_WRITE_UP_BYTES as u64,
        });
    }
    let template = kind.template().and_then(|slug| app.curriculum.get(slug));
    let sections = template.map(|p| workshop::sections(&p.markdown)).unwrap_or_default();
    let missing = workshop::missing_sections(&sections, text);
    let quoted = |list: &[String]| list.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    let mut problems = Vec::new();
    if !missing.absent.is_empty() {
        problems.push(format!(
            "lacks {} of the template's sections: {} (write each as a `## ` heading with your text under it)",
            missing.absent.len(),
            quoted(&missing.absent)
        ));
    }
    if !missing.empty.is_empty() {
        problems.push(format!("has nothing written under {}", quoted(&missing.empty)));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(WorkshopError::Invalid(format!("The {} {}.", kind.title().to_lowercase(), problems.join("; and it "))))
}

async fn score_model(
    app: &App,
    viewer: &Viewer,
    team: TeamId,
    lab: Option<&str>,
    json: &str,
    now: Timestamp,
) -> Result<(String, flywheel_ml::scoring::HiddenScore), WorkshopError> {
    let w = &viewer.workshop;
    let takes = scored_labs(app, w);
    let (lab, spec) = match lab.and_then(|l| Some((l, app.labs.scoring(l)?))) {
        Some((l, spec)) if takes.iter().any(|t| t == l) => (l.to_owned(), spec.clone()),
        _ => {
            return Err(WorkshopError::Invalid(format!(
                "Name the lab the model is for: this workshop scores models for {}.",
                if takes.is_empty() { "no lab".to_owned() } else { takes.join(", ") }
            )));
        }
    };
    if json.len() > MAX_MODEL_BYTES {
        return Err(WorkshopError::TooLarge {
            what: "The model".to_owned(),
            size: json.len() as u64,
            max: MAX_MODEL_BYTES as u64,
        });
    }
    let used = app.db.count_submissions_since(team, SubmissionKind::Model, workshop::day_start(now)).await?;
    if used >= w.daily_model_submissions {
        let next_day = workshop::day_start(now).millis() + workshop::DAY_MILLIS;
        let wait = u64::try_from((next_day - now.millis()) / 1000).unwrap_or(1).max(1);
        return Err(WorkshopError::DailyLimit { limit: w.daily_model_submissions, retry_after: wait });
    }
    let (tests, seed, json_owned, lab2) = (app.hidden_tests.clone(), w.scoring_seed, json.to_owned(), lab.clone());
    let scored = tokio::task::spawn_blocking(move || {
        let model = SubmittedModel::from_json(&json_owned)?;
        tests.get(seed, &lab2, &spec)?.score(&model)
    })
    .await
    .map_err(|e| WorkshopError::Internal(anyhow::anyhow!("scoring task: {e}")))?;
    let score = scored.map_err(|e| WorkshopError::Invalid(format!("This model cannot be scored: {e}.")))?;
    Ok((lab, score))
}

/// A submission of the workshop with its content, if the caller may see it.
///
/// # Errors
/// `Missing` for a malformed or unknown id, another workshop's, or another
/// team's for a participant.
pub async fn submission(app: &App, viewer: &Viewer, id: &str) -> Result<(Submission, String), WorkshopError> {
    let missing = || WorkshopError::Missing("There is no such submission (or it is not your team's).".to_owned());
    let id = SubmissionId::from_str(id).map_err(|_| missing())?;
    match app.db.submission(id).await? {
        Some((s, content)) if s.workshop == viewer.workshop.id && viewer.sees_team(s.team) => Ok((s, content)),
        _ => Err(missing()),
    }
}

/// The submissions the caller may see: all for staff, their team's for a participant.
///
/// # Errors
/// Storage failures.
pub async fn submissions(app: &App, viewer: &Viewer) -> Result<Vec<Submission>, WorkshopError> {
    let all = app.db.submissions(viewer.workshop.id).await?;
    Ok(all.into_iter().filter(|s| viewer.sees_team(s.team)).collect())
}

/// Grades the latest-counting write-up `submission` against its rubric.
///
/// # Errors
/// `StaffOnly`; `Missing` for another workshop's submission; `Invalid` for a
/// model (scored, not graded) or scores that do not fit the rubric.
pub async fn grade(
    app: &App,
    viewer: &Viewer,
    user: &User,
    submission_id: &str,
    scores: Vec<Score>,
) -> Result<Grade, WorkshopError> {
    viewer.require_staff()?;
    let (s, _) = submission(app, viewer, submission_id).await?;
    let rubric =
        viewer.workshop.rubrics.of(s.kind).ok_or_else(|| {
            WorkshopError::Invalid("A model is scored on the hidden test set, not graded.".to_owned())
        })?;
    rubric.check_scores(&scores)?;
    let scores = scores.into_iter().map(|s| Score { comment: s.comment.trim().to_owned(), ..s }).collect();
    let grade = Grade { submission: s.id, scores, graded_by: user.id, graded_at: crate::now() };
    app.db.set_grade(&grade).await?;
    Ok(grade)
}

/// The grades the caller may see: all for staff; their team's for a
/// participant once released (none before).
///
/// # Errors
/// Storage failures.
pub async fn grades(app: &App, viewer: &Viewer) -> Result<HashMap<SubmissionId, Grade>, WorkshopError> {
    if !viewer.staff && viewer.workshop.grades_released_at.is_none() {
        return Ok(HashMap::new());
    }
    let visible: Vec<SubmissionId> = submissions(app, viewer).await?.iter().map(|s| s.id).collect();
    Ok(app
        .db
        .grades(viewer.workshop.id)
        .await?
        .into_iter()
        .filter(|g| visible.contains(&g.submission))
        .map(|g| (g.submission, g))
        .collect())
}

/// Replaces a write-up's rubric. Grades already given stay as they were.
///
/// # Errors
/// `StaffOnly`; `Invalid` for a model.
pub async fn set_rubric(
    app: &App,
    viewer: &Viewer,
    kind: SubmissionKind,
    rubric: Rubric,
) -> Result<Workshop, WorkshopError> {
    viewer.require_staff()?;
    let mut w = viewer.workshop.clone();
    *w.rubrics
        .of_mut(kind)
        .ok_or_else(|| WorkshopError::Invalid("Models have no rubric: they are scored.".to_owned()))? = rubric;
    app.db.update_workshop(&w).await?;
    Ok(w)
}

/// Shows teams their grades and comments (or, `release = false`, hides them again).
///
/// # Errors
/// [`WorkshopError::StaffOnly`] for participants.
pub async fn release_grades(app: &App, viewer: &Viewer, release: bool) -> Result<Workshop, WorkshopError> {
    viewer.require_staff()?;
    let mut w = viewer.workshop.clone();
    w.grades_released_at = release.then(crate::now);
    app.db.update_workshop(&w).await?;
    Ok(w)
}

/// The workshop's labs that score submitted models (each declares a hidden
/// test set, and has a leaderboard).
pub fn scored_labs(app: &App, w: &Workshop) -> Vec<String> {
    w.labs.iter().filter(|l| app.labs.scoring(l).is_some()).cloned().collect()
}

/// A team's place on a lab's leaderboard.
#[derive(Debug, Clone)]
pub struct Standing {
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

/// The leaderboard of `lab`: each team's latest model, ranked by the public
/// score while the workshop is open and by the private one after it closes.
///
/// # Errors
/// `Missing` for a lab the workshop scores no models for.
pub async fn leaderboard(app: &App, viewer: &Viewer, lab: &str) -> Result<Vec<Standing>, WorkshopError> {
    let w = &viewer.workshop;
    if !scored_labs(app, w).iter().any(|l| l == lab) {
        return Err(WorkshopError::Missing(format!("This workshop has no leaderboard for `{lab}`.")));
    }
    let now = crate::now();
    let closed = !w.is_open(now);
    let teams: HashMap<TeamId, String> = app.db.teams(w.id).await?.into_iter().map(|t| (t.id, t.name)).collect();
    let mut latest: HashMap<TeamId, (Submission, usize)> = HashMap::new();
    for s in app.db.submissions(w.id).await? {
        if s.kind == SubmissionKind::Model && s.lab.as_deref() == Some(lab) {
            let entries = latest.get(&s.team).map_or(0, |(_, n)| *n) + 1;
            latest.insert(s.team, (s, entries));
        }
    }
    let mut rows: Vec<Standing> = latest
        .into_values()
        .filter_map(|(s, entries)| {
            let score = if closed { s.private_score } else { s.public_score }?;
            Some(Standing {
                rank: 0,
                team_id: s.team.to_string(),
                team: teams.get(&s.team).cloned().unwrap_or_default(),
                score,
                public_score: s.public_score,
                private_score: viewer.private_score(&s, now),
                entries,
                submitted_at: s.submitted_at.millis(),
            })
        })
        .collect();
    rows.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.submitted_at.cmp(&b.submitted_at)));
    for (i, row) in rows.iter_mut().enumerate() {
        row.rank = i + 1;
    }
    Ok(rows)
}

/// The gradebook as CSV: one row per participant, with their team, each
/// write-up's points per criterion and total (latest submission), and the
/// latest model's public and private score per scored lab.
///
/// # Errors
/// [`WorkshopError::StaffOnly`] for participants.
pub async fn gradebook_csv(app: &App, viewer: &Viewer) -> Result<String, WorkshopError> {
    viewer.require_staff()?;
    let w = &viewer.workshop;
    let teams: HashMap<TeamId, String> = app.db.teams(w.id).await?.into_iter().map(|t| (t.id, t.name)).collect();
    let submissions = app.db.submissions(w.id).await?;
    let grades: HashMap<SubmissionId, Grade> =
        app.db.grades(w.id).await?.into_iter().map(|g| (g.submission, g)).collect();
    let scored_labs = scored_labs(app, w);

    let mut header = vec!["team".to_owned(), "name".to_owned(), "email".to_owned()];
    for kind in [SubmissionKind::ProblemStatement, SubmissionKind::Architecture] {
        let rubric = w.rubrics.of(kind).expect("write-ups have rubrics");
        header.extend(rubric.criteria.iter().map(|c| format!("{}: {} (/{})", kind.as_str(), c.name, c.max_points)));
        header.push(format!("{}: total (/{})", kind.as_str(), rubric.max_total()));
    }
    for lab in &scored_labs {
        header.push(format!("model {lab}: public score"));
        header.push(format!("model {lab}: private score"));
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header).map_err(csv_error)?;
    let latest = |team: TeamId, kind: SubmissionKind, lab: Option<&str>| {
        submissions.iter().rev().find(|s| s.team == team && s.kind == kind && s.lab.as_deref() == lab)
    };
    for m in app.db.members(w.id).await?.into_iter().filter(|m| m.role == MemberRole::Participant) {
        let mut row = vec![m.team.and_then(|t| teams.get(&t).cloned()).unwrap_or_default(), m.name, m.email];
        for kind in [SubmissionKind::ProblemStatement, SubmissionKind::Architecture] {
            let rubric = w.rubrics.of(kind).expect("write-ups have rubrics");
            let grade = m.team.and_then(|t| latest(t, kind, None)).and_then(|s| grades.get(&s.id));
            for c in &rubric.criteria {
                let points = grade.and_then(|g| g.scores.iter().find(|s| s.criterion == c.name)).map(|s| s.points);
                row.push(points.map(|p| p.to_string()).unwrap_or_default());
            }
            row.push(grade.map(|g| g.total().to_string()).unwrap_or_default());
        }
        for lab in &scored_labs {
            let s = m.team.and_then(|t| latest(t, SubmissionKind::Model, Some(lab.as_str())));
            row.push(s.and_then(|s| s.public_score).map(|v| format!("{v:.6}")).unwrap_or_default());
            row.push(s.and_then(|s| s.private_score).map(|v| format!("{v:.6}")).unwrap_or_default());
        }
        out.write_record(&row).map_err(csv_error)?;
    }
    let bytes = out.into_inner().map_err(|e| WorkshopError::Internal(anyhow::anyhow!("gradebook CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| WorkshopError::Internal(anyhow::anyhow!("gradebook CSV: {e}")))
}

fn csv_error(e: csv::Error) -> WorkshopError {
    WorkshopError::Internal(anyhow::anyhow!("gradebook CSV: {e}"))
}

/// A room account just made, with its password (shown this once).
#[derive(Debug, Clone)]
pub struct RoomAccount {
    /// E.g. `scientist-7`.
    pub label: String,
    /// What to log in with.
    pub email: String,
    /// The generated password: not stored, not shown again.
    pub password: String,
}

/// Most room accounts made at once.
pub const MAX_ROOM_ACCOUNTS: u32 = 200;

/// Makes `count` numbered participant accounts for the workshop
/// (`<prefix>-1`, `<prefix>-2`, … continuing after any made before), each
/// with a generated password, joined to the workshop and disabled once it
/// closes. The passwords are in the answer only.
///
/// # Errors
/// `StaffOnly`; `Invalid` for a count outside 1–[`MAX_ROOM_ACCOUNTS`] or
/// a prefix that is not 1–20 lower-case letters, digits or `-`.
pub async fn provision(
    app: &App,
    viewer: &Viewer,
    count: u32,
    prefix: &str,
) -> Result<Vec<RoomAccount>, WorkshopError> {
    viewer.require_staff()?;
    if !(1..=MAX_ROOM_ACCOUNTS).contains(&count) {
        return Err(WorkshopError::Invalid(format!("Make 1 to {MAX_ROOM_ACCOUNTS} accounts at a time.")));
    }
    let prefix = prefix.trim();
    if prefix.is_empty()
        || prefix.len() > 20
        || !prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(WorkshopError::Invalid(
            "The name prefix is 1 to 20 lower-case letters, digits or '-', like scientist.".to_owned(),
        ));
    }
    let w = &viewer.workshop;
    let taken = app.db.workshop_accounts(w.id).await?;
    let first = taken
        .iter()
        .filter_map(|(label, _)| label.strip_prefix(prefix)?.strip_prefix('-')?.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    // The workshop's id in the address keeps room accounts of two workshops apart.
    let tag = w.id.to_string().chars().take(8).collect::<String>();
    let mut made = Vec::with_capacity(count as usize);
    for n in first..first + count {
        let label = format!("{prefix}-{n}");
        let email = format!("{label}.{tag}@flywheel.invalid");
        let password = room_password(crate::random_bytes()?);
        let sign_up = crate::accounts::SignUp::parse(&email, &label, &password)
            .map_err(|errs| WorkshopError::Internal(anyhow::anyhow!("a room account does not validate: {errs:?}")))?;
        let user = crate::accounts::create_account(app.db.as_ref(), sign_up, flywheel_domain::Role::Participant)
            .await
            .map_err(|e| match e {
                crate::accounts::AccountError::Store(e) => WorkshopError::Store(e),
                other => WorkshopError::Internal(other.into()),
            })?;
        app.db.add_member(w.id, user.id, MemberRole::Participant, crate::now()).await?;
        app.db.add_workshop_account(w.id, user.id, &label).await?;
        made.push(RoomAccount { label, email, password });
    }
    tracing::info!(workshop = %w.id, count, first, "room accounts made");
    Ok(made)
}

/// A password of 12 symbols in three groups (`k7qm-r2tx-9pwa`): 60 bits,
/// easy to copy from a printed sheet (no 0, o, 1 or i).
fn room_password(bytes: [u8; 12]) -> String {
    let code = |b: &[u8]| -> String {
        b.iter().map(|x| char::from(workshop::JOIN_CODE_ALPHABET[usize::from(*x % 32)]).to_ascii_lowercase()).collect()
    };
    format!("{}-{}-{}", code(&bytes[..4]), code(&bytes[4..8]), code(&bytes[8..]))
}
