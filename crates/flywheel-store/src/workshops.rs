//! Workshops: [`WorkshopStore`] on [`SqlDatabase`] (see the `workshops` migration): workshops, members and teams,
//! submissions and grades.

use std::str::FromStr;

use flywheel_domain::workshop::{
    Date, Grade, JoinCode, Member, MemberRole, Rubrics, Score, Submission, SubmissionKind, Team, Workshop,
};
use flywheel_domain::{SubmissionId, TeamId, Timestamp, UserId, WorkshopId};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::sql::conflict_on;
use crate::{SqlDatabase, WorkshopStore};
use crate::{StoreError, corrupt};
use async_trait::async_trait;

const WORKSHOP_COLUMNS: &str = "w.id, w.owner_id, w.title, w.days, w.labs, w.join_code, w.join_code_expires_at, \
     w.team_size, w.self_formed_teams, w.closes_at, w.daily_model_submissions, w.scoring_seed, w.rubrics, \
     w.grades_released_at, w.created_at";

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("workshop fields always serialise")
}

fn parse<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| corrupt(format!("{column}: {e}")))
}

fn id<T: FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    let text: String = row.try_get(column)?;
    T::from_str(&text).map_err(corrupt)
}

fn count(row: &AnyRow, column: &str) -> Result<u32, StoreError> {
    u32::try_from(row.try_get::<i64, _>(column)?).map_err(corrupt)
}

fn workshop(row: &AnyRow) -> Result<Workshop, StoreError> {
    let days: [Date; 3] = parse(row, "days")?;
    let rubrics: Rubrics = parse(row, "rubrics")?;
    Ok(Workshop {
        id: id(row, "id")?,
        owner: id(row, "owner_id")?,
        title: row.try_get("title")?,
        days,
        labs: parse(row, "labs")?,
        join_code: JoinCode::parse(&row.try_get::<String, _>("join_code")?).map_err(corrupt)?,
        join_code_expires_at: Timestamp(row.try_get("join_code_expires_at")?),
        team_size: count(row, "team_size")?,
        self_formed_teams: row.try_get::<i64, _>("self_formed_teams")? != 0,
        closes_at: Timestamp(row.try_get("closes_at")?),
        daily_model_submissions: count(row, "daily_model_submissions")?,
        // Stored as the same 64 bits in a signed column.
        scoring_seed: row.try_get::<i64, _>("scoring_seed")?.cast_unsigned(),
        rubrics,
        grades_released_at: row.try_get::<Option<i64>, _>("grades_released_at")?.map(Timestamp),
        created_at: Timestamp(row.try_get("created_at")?),
    })
}

pub(crate) async fn create(pool: &AnyPool, w: &Workshop) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO workshops (id, owner_id, title, days, labs, join_code, join_code_expires_at, team_size,
             self_formed_teams, closes_at, daily_model_submissions, scoring_seed, rubrics, grades_released_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(w.id.to_string())
    .bind(w.owner.to_string())
    .bind(&w.title)
    .bind(json(&w.days))
    .bind(json(&w.labs))
    .bind(w.join_code.as_str())
    .bind(w.join_code_expires_at.millis())
    .bind(i64::from(w.team_size))
    .bind(i64::from(w.self_formed_teams))
    .bind(w.closes_at.millis())
    .bind(i64::from(w.daily_model_submissions))
    .bind(w.scoring_seed.cast_signed())
    .bind(json(&w.rubrics))
    .bind(w.grades_released_at.map(Timestamp::millis))
    .bind(w.created_at.millis())
    .execute(&mut *tx)
    .await
    .map_err(conflict_on("join code"))?;
    sqlx::query(
        "INSERT INTO workshop_members (workshop_id, user_id, role, joined_at) VALUES ($1, $2, 'instructor', $3)",
    )
    .bind(w.id.to_string())
    .bind(w.owner.to_string())
    .bind(w.created_at.millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn update(pool: &AnyPool, w: &Workshop) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE workshops SET title = $2, days = $3, labs = $4, join_code = $5, join_code_expires_at = $6,
             team_size = $7, self_formed_teams = $8, closes_at = $9, daily_model_submissions = $10, rubrics = $11,
             grades_released_at = $12
         WHERE id = $1",
    )
    .bind(w.id.to_string())
    .bind(&w.title)
    .bind(json(&w.days))
    .bind(json(&w.labs))
    .bind(w.join_code.as_str())
    .bind(w.join_code_expires_at.millis())
    .bind(i64::from(w.team_size))
    .bind(i64::from(w.self_formed_teams))
    .bind(w.closes_at.millis())
    .bind(i64::from(w.daily_model_submissions))
    .bind(json(&w.rubrics))
    .bind(w.grades_released_at.map(Timestamp::millis))
    .execute(pool)
    .await
    .map_err(conflict_on("join code"))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn get(pool: &AnyPool, id: WorkshopId) -> Result<Option<Workshop>, StoreError> {
    let row = sqlx::query(&format!("SELECT {WORKSHOP_COLUMNS} FROM workshops w WHERE w.id = $1"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(workshop).transpose()
}

pub(crate) async fn by_code(pool: &AnyPool, code: &JoinCode) -> Result<Option<Workshop>, StoreError> {
    let row = sqlx::query(&format!("SELECT {WORKSHOP_COLUMNS} FROM workshops w WHERE w.join_code = $1"))
        .bind(code.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(workshop).transpose()
}

pub(crate) async fn of_member(pool: &AnyPool, user: UserId) -> Result<Vec<(Workshop, MemberRole)>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {WORKSHOP_COLUMNS}, m.role FROM workshops w JOIN workshop_members m ON m.workshop_id = w.id
         WHERE m.user_id = $1 ORDER BY w.created_at DESC"
    ))
    .bind(user.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((workshop(r)?, MemberRole::parse(&r.try_get::<String, _>("role")?).map_err(corrupt)?)))
        .collect()
}

pub(crate) async fn all(pool: &AnyPool) -> Result<Vec<Workshop>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {WORKSHOP_COLUMNS} FROM workshops w ORDER BY w.created_at DESC"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(workshop).collect()
}

pub(crate) async fn add_member(
    pool: &AnyPool,
    workshop: WorkshopId,
    user: UserId,
    role: MemberRole,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO workshop_members (workshop_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workshop_id, user_id) DO NOTHING",
    )
    .bind(workshop.to_string())
    .bind(user.to_string())
    .bind(role.as_str())
    .bind(now.millis())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

const MEMBER_COLUMNS: &str = "m.user_id, u.name, u.email, m.role, m.team_id, m.joined_at";

fn member(row: &AnyRow) -> Result<Member, StoreError> {
    Ok(Member {
        user: id(row, "user_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        role: MemberRole::parse(&row.try_get::<String, _>("role")?).map_err(corrupt)?,
        team: row
            .try_get::<Option<String>, _>("team_id")?
            .map(|t| TeamId::from_str(&t))
            .transpose()
            .map_err(corrupt)?,
        joined_at: Timestamp(row.try_get("joined_at")?),
    })
}

pub(crate) async fn members(pool: &AnyPool, workshop: WorkshopId) -> Result<Vec<Member>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM workshop_members m JOIN users u ON u.id = m.user_id
         WHERE m.workshop_id = $1 ORDER BY m.joined_at, u.name"
    ))
    .bind(workshop.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter().map(member).collect()
}

pub(crate) async fn get_member(
    pool: &AnyPool,
    workshop: WorkshopId,
    user: UserId,
) -> Result<Option<Member>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM workshop_members m JOIN users u ON u.id = m.user_id
         WHERE m.workshop_id = $1 AND m.user_id = $2"
    ))
    .bind(workshop.to_string())
    .bind(user.to_string())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(member).transpose()
}

pub(crate) async fn create_team(pool: &AnyPool, team: &Team) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO teams (id, workshop_id, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(team.id.to_string())
        .bind(team.workshop.to_string())
        .bind(&team.name)
        .bind(team.created_at.millis())
        .execute(pool)
        .await
        .map_err(conflict_on("team name"))?;
    Ok(())
}

fn team_row(r: &AnyRow) -> Result<Team, StoreError> {
    Ok(Team {
        id: id(r, "id")?,
        workshop: id(r, "workshop_id")?,
        name: r.try_get("name")?,
        created_at: Timestamp(r.try_get("created_at")?),
    })
}

pub(crate) async fn teams(pool: &AnyPool, workshop: WorkshopId) -> Result<Vec<Team>, StoreError> {
    let rows = sqlx::query("SELECT id, workshop_id, name, created_at FROM teams WHERE workshop_id = $1 ORDER BY name")
        .bind(workshop.to_string())
        .fetch_all(pool)
        .await?;
    rows.iter().map(team_row).collect()
}

pub(crate) async fn team(pool: &AnyPool, team: TeamId) -> Result<Option<Team>, StoreError> {
    let row = sqlx::query("SELECT id, workshop_id, name, created_at FROM teams WHERE id = $1")
        .bind(team.to_string())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(team_row).transpose()
}

/// Puts a member into `team` (or out of any team for `None`). With a
/// `limit`, only while the team has fewer members than that: the team's row
/// is written first, which locks it (PostgreSQL) or the database (SQLite)
/// until the transaction ends, so two joins cannot both take the last place.
pub(crate) async fn set_team(
    pool: &AnyPool,
    workshop: WorkshopId,
    user: UserId,
    team: Option<TeamId>,
    limit: Option<u32>,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    if let (Some(team), Some(limit)) = (team, limit) {
        sqlx::query("UPDATE teams SET name = name WHERE id = $1").bind(team.to_string()).execute(&mut *tx).await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM workshop_members WHERE team_id = $1 AND user_id <> $2")
            .bind(team.to_string())
            .bind(user.to_string())
            .fetch_one(&mut *tx)
            .await?;
        if row.try_get::<i64, _>("n")? >= i64::from(limit) {
            return Ok(false);
        }
    }
    let done = sqlx::query("UPDATE workshop_members SET team_id = $3 WHERE workshop_id = $1 AND user_id = $2")
        .bind(workshop.to_string())
        .bind(user.to_string())
        .bind(team.map(|t| t.to_string()))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

const SUBMISSION_COLUMNS: &str =
    "id, workshop_id, team_id, kind, lab, size_bytes, submitted_by, submitted_at, public_score, private_score";

fn submission(row: &AnyRow) -> Result<Submission, StoreError> {
    Ok(Submission {
        id: id(row, "id")?,
        workshop: id(row, "workshop_id")?,
        team: id(row, "team_id")?,
        kind: SubmissionKind::parse(&row.try_get::<String, _>("kind")?).map_err(corrupt)?,
        lab: row.try_get("lab")?,
        submitted_by: id(row, "submitted_by")?,
        submitted_at: Timestamp(row.try_get("submitted_at")?),
        size_bytes: u64::try_from(row.try_get::<i64, _>("size_bytes")?).map_err(corrupt)?,
        public_score: row.try_get("public_score")?,
        private_score: row.try_get("private_score")?,
    })
}

pub(crate) async fn create_submission(
    pool: &AnyPool,
    s: &Submission,
    content: &str,
    idempotency_key: Option<&str>,
) -> Result<(Submission, bool), StoreError> {
    // A NULL score is written as a literal, not bound: sqlx's `Any` driver
    // binds a `None::<f64>` with another type than a float, and PostgreSQL
    // then refuses a float bound later to the same prepared statement.
    let scores = match (s.public_score, s.private_score) {
        (Some(_), Some(_)) => "$11, $12",
        _ => "NULL, NULL",
    };
    let sql = format!(
        "INSERT INTO submissions (id, workshop_id, team_id, kind, lab, content, size_bytes, submitted_by,
             submitted_at, idempotency_key, public_score, private_score)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {scores})
         ON CONFLICT (team_id, idempotency_key) DO NOTHING"
    );
    let mut query = sqlx::query(&sql)
        .bind(s.id.to_string())
        .bind(s.workshop.to_string())
        .bind(s.team.to_string())
        .bind(s.kind.as_str())
        .bind(s.lab.as_deref())
        .bind(content)
        .bind(i64::try_from(s.size_bytes).map_err(corrupt)?)
        .bind(s.submitted_by.to_string())
        .bind(s.submitted_at.millis())
        .bind(idempotency_key);
    if let (Some(public), Some(private)) = (s.public_score, s.private_score) {
        query = query.bind(public).bind(private);
    }
    let done = query.execute(pool).await?;
    if done.rows_affected() == 1 {
        return Ok((s.clone(), true));
    }
    let first = submission_by_key(pool, s.team, idempotency_key.unwrap_or_default()).await?;
    Ok((first.ok_or_else(|| corrupt("a submission conflicted on a key it does not hold"))?, false))
}

pub(crate) async fn submission_by_key(
    pool: &AnyPool,
    team: TeamId,
    key: &str,
) -> Result<Option<Submission>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE team_id = $1 AND idempotency_key = $2"
    ))
    .bind(team.to_string())
    .bind(key)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(submission).transpose()
}

pub(crate) async fn submissions(pool: &AnyPool, workshop: WorkshopId) -> Result<Vec<Submission>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE workshop_id = $1 ORDER BY submitted_at, id"
    ))
    .bind(workshop.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter().map(submission).collect()
}

pub(crate) async fn get_submission(
    pool: &AnyPool,
    id: SubmissionId,
) -> Result<Option<(Submission, String)>, StoreError> {
    let row = sqlx::query(&format!("SELECT {SUBMISSION_COLUMNS}, content FROM submissions WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    row.map(|r| Ok((submission(&r)?, r.try_get("content")?))).transpose()
}

pub(crate) async fn count_since(
    pool: &AnyPool,
    team: TeamId,
    kind: SubmissionKind,
    since: Timestamp,
) -> Result<u32, StoreError> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM submissions WHERE team_id = $1 AND kind = $2 AND submitted_at >= $3")
            .bind(team.to_string())
            .bind(kind.as_str())
            .bind(since.millis())
            .fetch_one(pool)
            .await?;
    count(&row, "n")
}

pub(crate) async fn set_grade(pool: &AnyPool, grade: &Grade) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grades (submission_id, scores, graded_by, graded_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (submission_id) DO UPDATE SET scores = $2, graded_by = $3, graded_at = $4",
    )
    .bind(grade.submission.to_string())
    .bind(json(&grade.scores))
    .bind(grade.graded_by.to_string())
    .bind(grade.graded_at.millis())
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn grades(pool: &AnyPool, workshop: WorkshopId) -> Result<Vec<Grade>, StoreError> {
    let rows = sqlx::query(
        "SELECT g.submission_id, g.scores, g.graded_by, g.graded_at FROM grades g
         JOIN submissions s ON s.id = g.submission_id WHERE s.workshop_id = $1 ORDER BY g.graded_at",
    )
    .bind(workshop.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let scores: Vec<Score> = parse(r, "scores")?;
            Ok(Grade {
                submission: id(r, "submission_id")?,
                scores,
                graded_by: id(r, "graded_by")?,
                graded_at: Timestamp(r.try_get("graded_at")?),
            })
        })
        .collect()
}

pub(crate) async fn add_account(
    pool: &AnyPool,
    workshop: WorkshopId,
    user: UserId,
    label: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO workshop_accounts (workshop_id, user_id, label) VALUES ($1, $2, $3)")
        .bind(workshop.to_string())
        .bind(user.to_string())
        .bind(label)
        .execute(pool)
        .await
        .map_err(conflict_on("room account label"))?;
    Ok(())
}

pub(crate) async fn accounts(pool: &AnyPool, workshop: WorkshopId) -> Result<Vec<(String, UserId)>, StoreError> {
    let rows = sqlx::query("SELECT label, user_id FROM workshop_accounts WHERE workshop_id = $1")
        .bind(workshop.to_string())
        .fetch_all(pool)
        .await?;
    let mut out: Vec<(String, UserId)> =
        rows.iter().map(|r| Ok((r.try_get("label")?, id(r, "user_id")?))).collect::<Result<_, StoreError>>()?;
    // scientist-2 before scientist-10.
    out.sort_by_key(|(label, _)| {
        let (stem, n) = label.rsplit_once('-').unwrap_or((label, ""));
        (stem.to_owned(), n.parse::<u64>().unwrap_or(u64::MAX), label.clone())
    });
    Ok(out)
}

pub(crate) async fn disable_ended_accounts(pool: &AnyPool, now: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE users SET disabled_at = $1 WHERE disabled_at IS NULL AND id IN (
             SELECT a.user_id FROM workshop_accounts a JOIN workshops w ON w.id = a.workshop_id
             WHERE w.closes_at <= $1)",
    )
    .bind(now.millis())
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[async_trait]
impl WorkshopStore for SqlDatabase {
    async fn create_workshop(&self, workshop: &Workshop) -> Result<(), StoreError> {
        create(&self.pool, workshop).await
    }

    async fn update_workshop(&self, workshop: &Workshop) -> Result<bool, StoreError> {
        update(&self.pool, workshop).await
    }

    async fn workshop(&self, id: WorkshopId) -> Result<Option<Workshop>, StoreError> {
        get(&self.pool, id).await
    }

    async fn workshop_by_code(&self, code: &JoinCode) -> Result<Option<Workshop>, StoreError> {
        by_code(&self.pool, code).await
    }

    async fn member_workshops(&self, user: UserId) -> Result<Vec<(Workshop, MemberRole)>, StoreError> {
        of_member(&self.pool, user).await
    }

    async fn all_workshops(&self) -> Result<Vec<Workshop>, StoreError> {
        all(&self.pool).await
    }

    async fn add_member(
        &self,
        workshop: WorkshopId,
        user: UserId,
        role: MemberRole,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        add_member(&self.pool, workshop, user, role, now).await
    }

    async fn members(&self, workshop: WorkshopId) -> Result<Vec<Member>, StoreError> {
        members(&self.pool, workshop).await
    }

    async fn member(&self, workshop: WorkshopId, user: UserId) -> Result<Option<Member>, StoreError> {
        get_member(&self.pool, workshop, user).await
    }

    async fn create_team(&self, team: &Team) -> Result<(), StoreError> {
        create_team(&self.pool, team).await
    }

    async fn teams(&self, workshop: WorkshopId) -> Result<Vec<Team>, StoreError> {
        teams(&self.pool, workshop).await
    }

    async fn team(&self, id: TeamId) -> Result<Option<Team>, StoreError> {
        team(&self.pool, id).await
    }

    async fn set_team(
        &self,
        workshop: WorkshopId,
        user: UserId,
        team: Option<TeamId>,
        limit: Option<u32>,
    ) -> Result<bool, StoreError> {
        set_team(&self.pool, workshop, user, team, limit).await
    }

    async fn create_submission(
        &self,
        submission: &Submission,
        content: &str,
        idempotency_key: Option<&str>,
    ) -> Result<(Submission, bool), StoreError> {
        create_submission(&self.pool, submission, content, idempotency_key).await
    }

    async fn submission_by_key(&self, team: TeamId, key: &str) -> Result<Option<Submission>, StoreError> {
        submission_by_key(&self.pool, team, key).await
    }

    async fn submissions(&self, workshop: WorkshopId) -> Result<Vec<Submission>, StoreError> {
        submissions(&self.pool, workshop).await
    }

    async fn submission(&self, id: SubmissionId) -> Result<Option<(Submission, String)>, StoreError> {
        get_submission(&self.pool, id).await
    }

    async fn count_submissions_since(
        &self,
        team: TeamId,
        kind: SubmissionKind,
        since: Timestamp,
    ) -> Result<u32, StoreError> {
        count_since(&self.pool, team, kind, since).await
    }

    async fn add_workshop_account(&self, workshop: WorkshopId, user: UserId, label: &str) -> Result<(), StoreError> {
        add_account(&self.pool, workshop, user, label).await
    }

    async fn workshop_accounts(&self, workshop: WorkshopId) -> Result<Vec<(String, UserId)>, StoreError> {
        accounts(&self.pool, workshop).await
    }

    async fn disable_ended_workshop_accounts(&self, now: Timestamp) -> Result<u64, StoreError> {
        disable_ended_accounts(&self.pool, now).await
    }

    async fn set_grade(&self, grade: &Grade) -> Result<(), StoreError> {
        set_grade(&self.pool, grade).await
    }

    async fn grades(&self, workshop: WorkshopId) -> Result<Vec<Grade>, StoreError> {
        grades(&self.pool, workshop).await
    }
}
