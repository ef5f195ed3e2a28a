//! Workshops: an instructor's event that participants join with a code,
//! work in teams, and hand in three submissions — the Day 1 problem
//! statement and the Day 3 solution architecture (Markdown write-ups,
//! graded by the instructor against a rubric) and a Day 2 model (scored by
//! the server on the lab's hidden test set, ranked on a leaderboard).
//!
//! This module holds the rules that need no database: join codes (made from
//! random bytes the caller passes in), titles, dates, team names, rubrics
//! and the scores a rubric allows, the sections a write-up must have, the
//! deadline and the daily model-submission window. No I/O.

use serde::{Deserialize, Serialize};

use crate::{Timestamp, UserId, ValidationError};

uuid_id!(
    /// A workshop's id.
    WorkshopId,
    "workshop"
);
uuid_id!(
    /// A team's id.
    TeamId,
    "team"
);
uuid_id!(
    /// A submission's id.
    SubmissionId,
    "submission"
);

/// The symbols of a join code: capital letters and digits without the
/// look-alikes `0`/`O` and `1`/`I`. 32 symbols, so each random byte maps to
/// one without bias (256 = 8 × 32).
pub const JOIN_CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Symbols in a join code: 32⁸ ≈ 10¹² codes.
pub const JOIN_CODE_LEN: usize = 8;

/// Longest workshop title and team name, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

/// Most criteria in one rubric; most points for one criterion.
pub const MAX_CRITERIA: usize = 30;
/// Most points one criterion can be worth.
pub const MAX_POINTS: u32 = 100;

/// Milliseconds in a day: the model-submission limit counts per UTC day.
pub const DAY_MILLIS: i64 = 86_400_000;

/// The code participants type to join a workshop, e.g. `K7QM-R2TX`
/// (shown with a hyphen; typed with or without it, in any case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JoinCode(String);

impl JoinCode {
    /// A code from [`JOIN_CODE_LEN`] random bytes (the caller draws them).
    pub fn from_random(bytes: [u8; JOIN_CODE_LEN]) -> Self {
        Self(bytes.iter().map(|b| char::from(JOIN_CODE_ALPHABET[usize::from(*b % 32)])).collect())
    }

    /// A code as typed: case, spaces and hyphens do not matter.
    ///
    /// # Errors
    /// A [`ValidationError`] on `code` for the wrong length or a symbol
    /// that no code holds.
    pub fn parse(typed: &str) -> Result<Self, ValidationError> {
        let code: String =
            typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        if code.chars().count() != JOIN_CODE_LEN {
            return Err(ValidationError::new(
                "code",
                format!("has {JOIN_CODE_LEN} letters and digits, like K7QM-R2TX"),
            ));
        }
        if let Some(c) = code.chars().find(|c| !c.is_ascii() || !JOIN_CODE_ALPHABET.contains(&(*c as u8))) {
            return Err(ValidationError::new("code", format!("holds {c:?}, which no join code has")));
        }
        Ok(Self(code))
    }

    /// The code without its hyphen, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JoinCode {
    /// `K7QM-R2TX`: two groups of four, easier to read out in a room.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = self.0.split_at(JOIN_CODE_LEN / 2);
        write!(f, "{a}-{b}")
    }
}

impl TryFrom<String> for JoinCode {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<JoinCode> for String {
    fn from(c: JoinCode) -> Self {
        c.0
    }
}

/// A title or name: trimmed, 1 to [`MAX_TITLE_CHARS`] characters, no
/// control characters.
///
/// # Errors
/// A [`ValidationError`] on `field`.
pub fn parse_name(field: &'static str, text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ValidationError::new(field, "is empty"));
    }
    if text.chars().count() > MAX_TITLE_CHARS {
        return Err(ValidationError::new(field, format!("is longer than {MAX_TITLE_CHARS} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "holds a line break or another control character"));
    }
    Ok(text.to_owned())
}

/// A calendar date, `YYYY-MM-DD` (a workshop day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD` (years 2000–2199), checking the day exists.
    ///
    /// # Errors
    /// A [`ValidationError`] on `date`.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new("date", format!("{text:?} is not a date written YYYY-MM-DD"));
        let mut parts = text.trim().splitn(3, '-');
        let mut next = |len: usize| -> Result<u16, ValidationError> {
            let p = parts.next().filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit())).ok_or_else(bad)?;
            p.parse().map_err(|_| bad())
        };
        let (year, month, day) = (next(4)?, next(2)?, next(2)?);
        if !(2000..2200).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day == 0 || day > days {
            return Err(ValidationError::new("date", format!("{text:?}: that month has no day {day}")));
        }
        Ok(Self { year, month: month as u8, day: day as u8 })
    }

    /// The start of this day (00:00 UTC).
    pub fn start(self) -> Timestamp {
        // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
        let (y, m, d) = (i64::from(self.year), i64::from(self.month), i64::from(self.day));
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Timestamp((era * 146_097 + doe - 719_468) * DAY_MILLIS)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl TryFrom<String> for Date {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Date> for String {
    fn from(d: Date) -> Self {
        d.to_string()
    }
}

/// The three workshop days, in order.
///
/// # Errors
/// A [`ValidationError`] on `days` when a day comes before the one it follows.
pub fn check_days(days: [Date; 3]) -> Result<[Date; 3], ValidationError> {
    if days[0] > days[1] || days[1] > days[2] {
        return Err(ValidationError::new("days", "Day 1, Day 2 and Day 3 must be in order"));
    }
    Ok(days)
}

/// What a team hands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionKind {
    /// Day 1: the problem statement (Markdown, the template's sections).
    ProblemStatement,
    /// Day 2: a saved model for a lab with a hidden test set.
    Model,
    /// Day 3: the solution architecture (Markdown, the template's sections).
    Architecture,
}

impl SubmissionKind {
    /// Every kind, in the order of the days.
    pub const ALL: [Self; 3] = [Self::ProblemStatement, Self::Model, Self::Architecture];

    /// The stored and URL name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProblemStatement => "problem_statement",
            Self::Model => "model",
            Self::Architecture => "architecture",
        }
    }

    /// As people say it.
    pub fn title(self) -> &'static str {
        match self {
            Self::ProblemStatement => "Problem statement",
            Self::Model => "Model",
            Self::Architecture => "Solution architecture",
        }
    }

    /// The day it belongs to.
    pub fn day(self) -> u8 {
        match self {
            Self::ProblemStatement => 1,
            Self::Model => 2,
            Self::Architecture => 3,
        }
    }

    /// The content page (`content/<slug>.md`) whose `## ` sections a
    /// write-up must have; `None` for a model.
    pub fn template(self) -> Option<&'static str> {
        match self {
            Self::ProblemStatement => Some("problem-statement"),
            Self::Model => None,
            Self::Architecture => Some("solution-architecture"),
        }
    }

    /// Parses [`Self::as_str`]'s names.
    ///
    /// # Errors
    /// A [`ValidationError`] on `kind`.
    pub fn parse(name: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| ValidationError::new("kind", "is one of problem_statement, model and architecture"))
    }
}

/// One line of a rubric: what is judged and how many points it is worth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    /// Short name, unique in the rubric.
    pub name: String,
    /// What earns the points.
    pub description: String,
    /// The most points it can get (1–[`MAX_POINTS`]).
    pub max_points: u32,
}

/// How a write-up is graded: criteria with points.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rubric {
    /// In the order they are graded.
    pub criteria: Vec<Criterion>,
}

impl Rubric {
    /// Checks criteria: at least one, at most [`MAX_CRITERIA`], names
    /// non-empty and distinct, 1–[`MAX_POINTS`] points each.
    ///
    /// # Errors
    /// A [`ValidationError`] on `rubric` naming the criterion.
    pub fn new(criteria: Vec<Criterion>) -> Result<Self, ValidationError> {
        let err = |m: String| Err(ValidationError::new("rubric", m));
        if criteria.is_empty() {
            return err("needs at least one criterion".into());
        }
        if criteria.len() > MAX_CRITERIA {
            return err(format!("has more than {MAX_CRITERIA} criteria"));
        }
        let mut seen = std::collections::HashSet::new();
        let mut checked = Vec::with_capacity(criteria.len());
        for c in criteria {
            let name = parse_name("rubric", &c.name)
                .map_err(|e| ValidationError::new("rubric", format!("a criterion's name {}", e.message)))?;
            if !seen.insert(name.to_lowercase()) {
                return err(format!("names the criterion {name:?} twice"));
            }
            if c.max_points == 0 || c.max_points > MAX_POINTS {
                return err(format!("criterion {name:?} is worth {} points; give it 1 to {MAX_POINTS}", c.max_points));
            }
            checked.push(Criterion { name, description: c.description.trim().to_owned(), max_points: c.max_points });
        }
        Ok(Self { criteria: checked })
    }

    /// The rubric a workshop starts with: one criterion per section of the
    /// write-up's template, `points` each.
    pub fn from_sections(sections: &[String], points: u32) -> Self {
        let criteria = sections
            .iter()
            .map(|s| Criterion {
                name: s.clone(),
                description: format!("The section \"{s}\" answers what the template asks, for this team's problem."),
                max_points: points,
            })
            .collect();
        Self { criteria }
    }

    /// Reads the rubric form's text: one criterion per line, written
    /// `name | points | description` (the description may be left out).
    ///
    /// # Errors
    /// A [`ValidationError`] on `rubric` naming the line, or as [`Self::new`].
    pub fn parse_lines(text: &str) -> Result<Self, ValidationError> {
        let mut criteria = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let mut parts = line.splitn(3, '|').map(str::trim);
            let (name, points, description) = (parts.next(), parts.next(), parts.next());
            let max_points = points.and_then(|p| p.parse().ok()).ok_or_else(|| {
                ValidationError::new("rubric", format!("line {}: write `name | points | description`", i + 1))
            })?;
            criteria.push(Criterion {
                name: name.unwrap_or_default().to_owned(),
                description: description.unwrap_or_default().to_owned(),
                max_points,
            });
        }
        Self::new(criteria)
    }

    /// The form's text for this rubric (what [`Self::parse_lines`] reads).
    pub fn to_lines(&self) -> String {
        self.criteria.iter().map(|c| format!("{} | {} | {}\n", c.name, c.max_points, c.description)).collect()
    }

    /// The most points in all.
    pub fn max_total(&self) -> u32 {
        self.criteria.iter().map(|c| c.max_points).sum()
    }

    /// Checks a grading: every criterion scored once, none above its
    /// maximum, no unknown criteria.
    ///
    /// # Errors
    /// A [`ValidationError`] on `points` naming the criterion.
    pub fn check_scores(&self, scores: &[Score]) -> Result<(), ValidationError> {
        let err = |m: String| Err(ValidationError::new("points", m));
        for s in scores {
            let Some(c) = self.criteria.iter().find(|c| c.name == s.criterion) else {
                return err(format!("the rubric has no criterion {:?}", s.criterion));
            };
            if s.points > c.max_points {
                return err(format!("{:?} is worth at most {} points, not {}", c.name, c.max_points, s.points));
            }
            if scores.iter().filter(|o| o.criterion == s.criterion).count() > 1 {
                return err(format!("{:?} is scored twice", c.name));
            }
        }
        if let Some(missing) = self.criteria.iter().find(|c| !scores.iter().any(|s| s.criterion == c.name)) {
            return err(format!("{:?} has no score", missing.name));
        }
        Ok(())
    }
}

/// The rubrics of a workshop, one per write-up.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rubrics {
    /// For the Day 1 problem statement.
    pub problem_statement: Rubric,
    /// For the Day 3 solution architecture.
    pub architecture: Rubric,
}

impl Rubrics {
    /// The rubric for a write-up kind; `None` for a model (it is scored, not graded).
    pub fn of(&self, kind: SubmissionKind) -> Option<&Rubric> {
        match kind {
            SubmissionKind::ProblemStatement => Some(&self.problem_statement),
            SubmissionKind::Architecture => Some(&self.architecture),
            SubmissionKind::Model => None,
        }
    }

    /// Mutable [`Self::of`].
    pub fn of_mut(&mut self, kind: SubmissionKind) -> Option<&mut Rubric> {
        match kind {
            SubmissionKind::ProblemStatement => Some(&mut self.problem_statement),
            SubmissionKind::Architecture => Some(&mut self.architecture),
            SubmissionKind::Model => None,
        }
    }
}

/// Points given for one criterion, with the grader's comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// The criterion's name.
    pub criterion: String,
    /// Points, at most the criterion's maximum.
    pub points: u32,
    /// What the team should know (may be empty).
    #[serde(default)]
    pub comment: String,
}

/// The `## ` sections of a Markdown text, in order: each heading's text
/// (spaces collapsed) with the words written under it before the next
/// `## ` heading (deeper headings count as words).
pub fn section_texts(markdown: &str) -> Vec<(String, String)> {
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
    let mut out: Vec<(String, String)> = Vec::new();
    let mut heading: Option<String> = None;
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { level: HeadingLevel::H1 | HeadingLevel::H2, .. }) => {
                heading = Some(String::new());
            }
            Event::End(TagEnd::Heading(HeadingLevel::H1)) => heading = None,
            Event::End(TagEnd::Heading(HeadingLevel::H2)) => {
                let title = heading.take().unwrap_or_default();
                out.push((title.split_whitespace().collect::<Vec<_>>().join(" "), String::new()));
            }
            Event::Text(t) | Event::Code(t) => match (heading.as_mut(), out.last_mut()) {
                (Some(h), _) => h.push_str(&t),
                (None, Some((_, body))) => {
                    body.push_str(&t);
                    body.push(' ');
                }
                (None, None) => {}
            },
            _ => {}
        }
    }
    out
}

/// The `## ` headings of a Markdown text, in order (the sections of a
/// write-up template).
pub fn sections(markdown: &str) -> Vec<String> {
    section_texts(markdown).into_iter().map(|(title, _)| title).collect()
}

/// What a write-up lacks against its template (headings compared without
/// case and extra spaces), in the template's order: the sections it does
/// not have, and those it has with nothing written under them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MissingSections {
    /// Template sections the write-up has no heading for.
    pub absent: Vec<String>,
    /// Template sections whose heading is there with no text under it.
    pub empty: Vec<String>,
}

impl MissingSections {
    /// Whether the write-up has every section, each with some text.
    pub fn is_empty(&self) -> bool {
        self.absent.is_empty() && self.empty.is_empty()
    }
}

/// Checks a write-up against its template's sections.
pub fn missing_sections(template: &[String], write_up: &str) -> MissingSections {
    let have: Vec<(String, bool)> = section_texts(write_up)
        .into_iter()
        .map(|(title, body)| (title.to_lowercase(), !body.trim().is_empty()))
        .collect();
    let mut missing = MissingSections::default();
    for section in template {
        let key = section.to_lowercase();
        match have.iter().filter(|(t, _)| *t == key).map(|(_, filled)| *filled).reduce(|a, b| a || b) {
            None => missing.absent.push(section.clone()),
            Some(false) => missing.empty.push(section.clone()),
            Some(true) => {}
        }
    }
    missing
}

/// A workshop as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Workshop {
    /// Its id.
    pub id: WorkshopId,
    /// The instructor who created it (co-instructors are members).
    pub owner: UserId,
    /// Its title.
    pub title: String,
    /// Day 1, Day 2 and Day 3.
    pub days: [Date; 3],
    /// The labs in it (slugs), in order.
    pub labs: Vec<String>,
    /// The code participants join with.
    pub join_code: JoinCode,
    /// After this the code no longer lets anyone join.
    pub join_code_expires_at: Timestamp,
    /// Most members a team may have.
    pub team_size: u32,
    /// Whether participants may form and join teams themselves.
    pub self_formed_teams: bool,
    /// Submissions close here; the private leaderboard shows from then.
    pub closes_at: Timestamp,
    /// Most model submissions per team per UTC day.
    pub daily_model_submissions: u32,
    /// Seed of the hidden test sets' draw (never shown to participants).
    pub scoring_seed: u64,
    /// How write-ups are graded.
    pub rubrics: Rubrics,
    /// When grades were released to teams (not before).
    pub grades_released_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
}

impl Workshop {
    /// Whether submissions are still taken at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        now < self.closes_at
    }

    /// Whether the join code still works at `now`.
    pub fn code_works(&self, now: Timestamp) -> bool {
        now < self.join_code_expires_at
    }
}

/// A member's part in a workshop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Runs it: sees every team, grades, exports.
    Instructor,
    /// Works in a team.
    Participant,
}

impl MemberRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instructor => "instructor",
            Self::Participant => "participant",
        }
    }

    /// Parses [`Self::as_str`]'s names.
    ///
    /// # Errors
    /// A [`ValidationError`] on `role`.
    pub fn parse(name: &str) -> Result<Self, ValidationError> {
        match name {
            "instructor" => Ok(Self::Instructor),
            "participant" => Ok(Self::Participant),
            _ => Err(ValidationError::new("role", "is instructor or participant")),
        }
    }
}

/// Someone in a workshop.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The account.
    pub user: UserId,
    /// Its display name (for rosters).
    pub name: String,
    /// Its email (for rosters and the gradebook).
    pub email: String,
    /// Instructor or participant.
    pub role: MemberRole,
    /// The team, once in one.
    pub team: Option<TeamId>,
    /// When they joined.
    pub joined_at: Timestamp,
}

/// A team of a workshop.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// Its id.
    pub id: TeamId,
    /// The workshop.
    pub workshop: WorkshopId,
    /// Its name, unique in the workshop.
    pub name: String,
    /// When it was formed.
    pub created_at: Timestamp,
}

/// Something a team handed in. Immutable once stored; the latest of a
/// kind (and, for models, of a lab) is the one that counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// Its id.
    pub id: SubmissionId,
    /// The workshop.
    pub workshop: WorkshopId,
    /// The team.
    pub team: TeamId,
    /// What it is.
    pub kind: SubmissionKind,
    /// For a model, the lab whose hidden test set scored it.
    pub lab: Option<String>,
    /// Who handed it in.
    pub submitted_by: UserId,
    /// When.
    pub submitted_at: Timestamp,
    /// Size of the content, bytes.
    pub size_bytes: u64,
    /// A model's score on the public part of the hidden test set.
    pub public_score: Option<f64>,
    /// A model's score on the private part (shown after the workshop closes).
    pub private_score: Option<f64>,
}

/// The grade of one submission: a score per criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// The graded submission.
    pub submission: SubmissionId,
    /// One per criterion of the rubric.
    pub scores: Vec<Score>,
    /// The instructor who graded it.
    pub graded_by: UserId,
    /// When.
    pub graded_at: Timestamp,
}

impl Grade {
    /// Points in all.
    pub fn total(&self) -> u32 {
        self.scores.iter().map(|s| s.points).sum()
    }
}

/// The start of `now`'s UTC day: model submissions are counted from here.
pub fn day_start(now: Timestamp) -> Timestamp {
    Timestamp(now.0 - now.0.rem_euclid(DAY_MILLIS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_codes_are_uniform_readable_and_forgiving() {
        let code = JoinCode::from_random([0, 31, 32, 255, 7, 8, 9, 10]);
        assert_eq!(code.as_str(), "A9A9HJKL");
        assert_eq!(code.to_string(), "A9A9-HJKL");
        assert_eq!(JoinCode::parse(" a9a9-hjkl ").unwrap(), code);
        for bad in ["", "A99AHJK", "A99AHJKLM", "O99AHJKL", "A99AHJK1", "A99AHJKé"] {
            assert!(JoinCode::parse(bad).is_err(), "{bad}");
        }
        // Every byte value maps to a symbol, each symbol from exactly 8 values.
        let mut counts = [0u32; 32];
        for b in 0..=255u8 {
            let c = JoinCode::from_random([b; 8]).as_str().as_bytes()[0];
            counts[JOIN_CODE_ALPHABET.iter().position(|&s| s == c).unwrap()] += 1;
        }
        assert!(counts.iter().all(|&n| n == 8), "{counts:?}");
    }

    #[test]
    fn dates_are_checked_and_placed_on_the_clock() {
        assert_eq!(Date::parse("1970-01-01").err().map(|e| e.field), Some("date"));
        assert_eq!(Date::parse("2026-12-03").unwrap().start(), Timestamp(1_796_256_000_000));
        assert_eq!(Date::parse("2000-03-01").unwrap().start(), Timestamp(951_868_800_000));
        assert!(Date::parse("2028-02-29").is_ok());
        for bad in ["2026-02-29", "2026-13-01", "2026-04-31", "26-12-03", "2026-1-03", "tomorrow", "2026-12-03x"] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        let d = |s| Date::parse(s).unwrap();
        assert!(check_days([d("2026-12-07"), d("2026-12-08"), d("2026-12-08")]).is_ok());
        assert!(check_days([d("2026-12-07"), d("2026-12-06"), d("2026-12-08")]).is_err());
        assert_eq!(day_start(Timestamp(1_796_256_000_000 + 5_000)), Timestamp(1_796_256_000_000));
    }

    #[test]
    fn rubrics_are_checked_and_scores_must_fit_them() {
        let rubric = Rubric::parse_lines("Business question | 4 | one sentence with a number\n\nBaseline|6\n").unwrap();
        assert_eq!(rubric.max_total(), 10);
        assert_eq!(rubric.criteria[1].description, "");
        assert_eq!(Rubric::parse_lines(&rubric.to_lines()).unwrap(), rubric);
        for (bad, says) in [
            ("", "at least one"),
            ("A | x", "line 1"),
            ("A | 0 | none", "1 to 100"),
            ("A | 101", "1 to 100"),
            ("A | 1\na | 2", "twice"),
        ] {
            let err = Rubric::parse_lines(bad).unwrap_err();
            assert!(err.message.contains(says), "{bad:?}: {err}");
        }
        let s = |c: &str, p| Score { criterion: c.into(), points: p, comment: String::new() };
        assert!(rubric.check_scores(&[s("Baseline", 6), s("Business question", 0)]).is_ok());
        for (scores, says) in [
            (vec![s("Baseline", 7), s("Business question", 1)], "at most 6"),
            (vec![s("Baseline", 1)], "has no score"),
            (vec![s("Baseline", 1), s("Business question", 1), s("Style", 1)], "no criterion"),
            (vec![s("Baseline", 1), s("Baseline", 1), s("Business question", 1)], "twice"),
        ] {
            let err = rubric.check_scores(&scores).unwrap_err();
            assert!(err.message.contains(says), "{scores:?}: {err}");
        }
    }

    #[test]
    fn write_ups_need_the_templates_sections_each_with_text() {
        let template = sections(
            "# Title\n\nintro\n\n## The business question\n\ntext\n\n## Why   must it be solved?\n\n### detail\n",
        );
        assert_eq!(template, ["The business question", "Why must it be solved?"]);
        let write_up = "# Team Kestrel\n\n## the business question\n\nCut losses by 30 %.\n";
        let missing = missing_sections(&template, write_up);
        assert_eq!((missing.absent, missing.empty), (vec!["Why must it be solved?".to_owned()], vec![]));
        let blank = format!("{write_up}\n## Why must it be solved?\n\n");
        assert_eq!(missing_sections(&template, &blank).empty, ["Why must it be solved?"]);
        let deeper = format!("{write_up}\n## Why must it be solved?\n\n### Money\n");
        assert!(missing_sections(&template, &deeper).is_empty(), "a deeper heading is text");
        assert!(missing_sections(&template, &format!("{write_up}\n## Why must it be solved?\nMoney.\n")).is_empty());
        let rubric = Rubric::from_sections(&template, 2);
        assert_eq!((rubric.criteria.len(), rubric.max_total()), (2, 4));
    }

    #[test]
    fn kinds_and_roles_round_trip() {
        for k in SubmissionKind::ALL {
            assert_eq!(SubmissionKind::parse(k.as_str()).unwrap(), k);
        }
        assert!(SubmissionKind::parse("essay").is_err());
        assert_eq!(MemberRole::parse("instructor").unwrap(), MemberRole::Instructor);
        assert!(MemberRole::parse("admin").is_err());
        assert_eq!(parse_name("title", "  ML Week  ").unwrap(), "ML Week");
        assert!(parse_name("title", "a\nb").is_err() && parse_name("title", " ").is_err());
    }
}
