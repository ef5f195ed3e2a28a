//! Workshops through the API, as an instructor and participants use them:
//! create, join with a code, form teams, hand in write-ups and models,
//! leaderboard, rubric grades, release, gradebook — and every refusal,
//! including attempts to reach other teams' and other workshops' things by
//! id (IDOR), on SQLite and PostgreSQL alike.

use std::path::PathBuf;
use std::str::FromStr;

use flywheel_domain::{Role, WorkshopId};
use flywheel_ml::prelude::*;
use flywheel_store::WorkshopStore;
use flywheel_tests::{PASSWORD as PW, TestApp, error_message, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

async fn app() -> TestApp {
    spawn_app_with(|c| {
        c.labs_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../labs"));
        c.content_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../content"));
    })
    .await
}

/// A write-up with every `## ` section of a template page.
fn write_up(template: &str, team: &str) -> String {
    let page = std::fs::read_to_string(format!("{}/../content/{template}.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut text = format!("# {team}\n\nMembers: see the roster.\n");
    for line in page.lines().filter(|l| l.starts_with("## ")) {
        text.push_str(&format!("\n{line}\n\nOur answer for {team}.\n"));
    }
    text
}

fn fraud_model(seed: u64, iterations: usize) -> (GradientBoostedTreesModel, String) {
    let train = datasets::credit_card_fraud_with(4_000, seed).unwrap().classification("Class").unwrap();
    let model = GradientBoostedTrees::params().iterations(iterations).max_depth(3).seed(seed).fit(&train).unwrap();
    let json = model.to_json().unwrap();
    (model, json)
}

/// The public and private score by the recipe the docs state, computed here
/// without the server's scoring code: a 100,000-row draw with the
/// workshop's seed, split in stratified halves with the same seed, PR AUC.
fn expected_scores(model: &GradientBoostedTreesModel, seed: u64) -> (f64, f64) {
    let data = datasets::credit_card_fraud_with(100_000, seed).unwrap().classification("Class").unwrap();
    let (public, private) = stratified_split(&data, 0.5, seed).unwrap();
    let ap = |d: &Dataset| {
        metrics::average_precision(d.labels().unwrap(), &model.predict_proba(d.features()).unwrap()).unwrap()
    };
    (ap(&public), ap(&private))
}

/// A workshop as most tests here start from it: an instructor; Kestrel
/// (Ada, who formed it, and Bob) and Osprey (Cy, who found Kestrel full);
/// team size 2; the intro and fraud labs; closing in 2099.
struct Room {
    app: TestApp,
    ins: String,
    ada: String,
    bob: String,
    cy: String,
    ws: String,
    code: String,
    kestrel: String,
    osprey: String,
}

/// The workshop `room` makes, as the instructor fills it in.
fn ml_week() -> Value {
    json!({"title": "ML week", "days": ["2099-03-02", "2099-03-03", "2099-03-04"], "labs": ["intro", "fraud"], "team_size": 2})
}

async fn room() -> Room {
    let app = app().await;
    let ins = app.account("ins@example.org", Role::Instructor).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let bob = app.account("bob@example.org", Role::Participant).await;
    let cy = app.account("cy@example.org", Role::Participant).await;
    let api = app.api();
    let (status, w) = api.create_workshop(&ins, ml_week()).await;
    assert_eq!(status, 201, "{w}");
    let (ws, code) = (w["id"].as_str().unwrap().to_owned(), w["join_code"].as_str().unwrap().to_owned());
    for t in [&ada, &bob, &cy] {
        assert_eq!(api.join_workshop(t, &code).await.0, 200);
    }
    let (status, kestrel) = api.create_team(&ada, &ws, "Kestrel").await;
    assert_eq!(status, 201, "{kestrel}");
    let kestrel = kestrel["id"].as_str().unwrap().to_owned();
    assert_eq!(api.join_team(&bob, &ws, &kestrel).await.0, 204);
    let (status, osprey) = api.create_team(&cy, &ws, "Osprey").await;
    assert_eq!(status, 201, "{osprey}");
    let osprey = osprey["id"].as_str().unwrap().to_owned();
    Room { app, ins, ada, bob, cy, ws, code, kestrel, osprey }
}

impl Room {
    async fn submit(&self, token: &str, body: Value, key: Option<&str>) -> (u16, Value) {
        self.app.api().submit(token, &self.ws, body, key).await
    }

    /// Submits a model for the fraud lab; panics unless it is stored.
    async fn submit_model(&self, token: &str, json: &str) -> Value {
        let (status, s) = self.submit(token, json!({"kind": "model", "lab": "fraud", "content": json}), None).await;
        assert_eq!(status, 201, "{s}");
        s
    }

    /// Submits a complete write-up of `kind` from `template`; panics unless it is stored.
    async fn submit_write_up(&self, token: &str, kind: &str, template: &str, team: &str) -> Value {
        let (status, s) = self.submit(token, json!({"kind": kind, "content": write_up(template, team)}), None).await;
        assert_eq!(status, 201, "{s}");
        s
    }

    /// The workshop's scoring seed (only the server knows it; the tests read the store).
    async fn seed(&self) -> u64 {
        self.app.db.workshop(WorkshopId::from_str(&self.ws).unwrap()).await.unwrap().unwrap().scoring_seed
    }

    /// `kind`'s rubric as (criterion, most points).
    async fn rubric(&self, kind: &str) -> Vec<(String, u64)> {
        let (_, w) = self.app.api().workshop(&self.ins, &self.ws).await;
        let criteria = w["rubrics"][kind].as_array().unwrap();
        criteria.iter().map(|c| (c["name"].as_str().unwrap().to_owned(), c["max_points"].as_u64().unwrap())).collect()
    }

    /// Moves the close into the past.
    async fn close(&self) {
        let mut stored = self.app.db.workshop(WorkshopId::from_str(&self.ws).unwrap()).await.unwrap().unwrap();
        stored.closes_at = flywheel_domain::Timestamp(1);
        self.app.db.update_workshop(&stored).await.unwrap();
    }
}

/// Scores for `rubric`: every criterion's most points, less one on every
/// other criterion; with `over`, the first criterion one point past its most.
fn scores_for(rubric: &[(String, u64)], over: bool) -> (Value, u64) {
    let points = |i: usize, max: u64| if over && i == 0 { max + 1 } else { max - (i as u64 % 2) };
    let list: Vec<Value> = rubric
        .iter()
        .enumerate()
        .map(
            |(i, (name, max))| json!({"criterion": name, "points": points(i, *max), "comment": format!("comment {i}")}),
        )
        .collect();
    let total = rubric.iter().enumerate().map(|(i, (_, max))| points(i, *max)).sum();
    (json!({"scores": list}), total)
}

#[tokio::test]
async fn only_instructors_create_workshops_and_bad_input_is_422_with_the_reason() {
    let app = app().await;
    let ins = app.account("ins@example.org", Role::Instructor).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    assert_eq!(app.api().create_workshop(&ada, ml_week()).await.0, 403);
    for (bad, says) in [
        (json!({"title": " ", "days": ["2099-03-02", "2099-03-03", "2099-03-04"]}), "title"),
        (json!({"title": "x", "days": ["2099-03-04", "2099-03-03", "2099-03-04"]}), "in order"),
        (json!({"title": "x", "days": ["2099-02-30", "2099-03-03", "2099-03-04"]}), "no day 30"),
        (json!({"title": "x", "days": ["2099-03-02", "2099-03-03", "2099-03-04"], "labs": ["nope"]}), "no lab `nope`"),
    ] {
        let (status, body) = app.api().create_workshop(&ins, bad).await;
        assert_eq!((status, error_message(&body).contains(says)), (422, true), "{says}: {body}");
    }
    let (status, w) = app.api().create_workshop(&ins, ml_week()).await;
    assert_eq!((status, &w["scored_labs"]), (201, &json!(["fraud"])), "{w}");
    // The rubrics start from the templates' sections.
    let criteria = w["rubrics"]["problem_statement"].as_array().unwrap();
    assert!(criteria.iter().any(|c| c["name"] == "Why must it be solved?"), "{w}");
}

#[tokio::test]
async fn participants_join_with_the_code_in_any_case_once() {
    let r = room().await;
    let api = r.app.api();
    let dee = r.app.account("dee@example.org", Role::Participant).await;
    let (status, body) = api.join_workshop(&dee, "AB").await;
    assert_eq!((status, error_message(&body).contains("8 letters")), (422, true), "{body}");
    assert_eq!(api.join_workshop(&dee, "2222-2222").await.0, 404);
    let (status, body) = api.join_workshop(&dee, &r.code.to_lowercase()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["role"].as_str(), body["join_code"].is_null()), (Some("participant"), true), "{body}");
    let (status, body) = api.join_workshop(&dee, &r.code).await;
    assert_eq!((status, error_message(&body).contains("already")), (409, true), "{body}");
}

#[tokio::test]
async fn teams_fill_up_to_their_size_and_only_instructors_place_people_past_it() {
    let r = room().await;
    let api = r.app.api();
    assert_eq!(api.create_team(&r.cy, &r.ws, "Kestrel").await.0, 409, "a name is taken once");
    let (status, body) = api.join_team(&r.cy, &r.ws, &r.kestrel).await;
    assert_eq!((status, error_message(&body).contains("full")), (409, true), "{body}");
    let (_, roster) = api.roster(&r.ins, &r.ws).await;
    let sizes: Vec<(&str, usize)> = roster["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["members"].as_array().unwrap().len()))
        .collect();
    assert_eq!(sizes, [("Kestrel", 2), ("Osprey", 1)]);
    let cy_id = roster["teams"][1]["members"][0]["user_id"].as_str().unwrap();
    assert_eq!(api.place(&r.ada, &r.ws, cy_id, &r.kestrel).await.0, 403);
    assert_eq!(api.place(&r.ins, &r.ws, cy_id, &r.kestrel).await.0, 204);
    let (_, roster) = api.roster(&r.ins, &r.ws).await;
    assert_eq!(roster["teams"][0]["members"].as_array().unwrap().len(), 3, "{roster}");
}

#[tokio::test]
async fn a_write_up_needs_the_templates_sections_and_a_double_click_submits_once() {
    let r = room().await;
    let partial = "# Kestrel\n\n## The business question (one quantifiable sentence)\n\nCut losses 30 %.\n";
    let (status, body) = r.submit(&r.ada, json!({"kind": "problem_statement", "content": partial}), None).await;
    assert_eq!(status, 422, "{body}");
    assert!(error_message(&body).contains("\"What is the problem?\""), "{body}");
    let statement = json!({"kind": "problem_statement", "content": write_up("problem-statement", "Kestrel")});
    let (status, first) = r.submit(&r.ada, statement.clone(), Some("click-1")).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = r.submit(&r.bob, statement, Some("click-1")).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "a double click submits once: {again}");
    let (status, body) = r.submit(&r.ins, json!({"kind": "problem_statement", "content": "x"}), None).await;
    assert_eq!(status, 403, "instructors are in no team: {body}");
    let (status, body) = r
        .submit(&r.cy, json!({"kind": "architecture", "content": write_up("problem-statement", "Osprey")}), None)
        .await;
    assert_eq!((status, error_message(&body).contains("\"Data flow\"")), (422, true), "another template: {body}");
}

#[tokio::test]
async fn models_are_scored_on_the_hidden_test_set_and_ranked_by_the_public_score_while_open() {
    let r = room().await;
    let (weak, weak_json) = fraud_model(1, 2);
    let (strong, strong_json) = fraud_model(2, 30);
    let (status, body) = r.submit(&r.ada, json!({"kind": "model", "lab": "intro", "content": weak_json}), None).await;
    assert_eq!((status, error_message(&body).contains("scores models for fraud")), (422, true), "{body}");
    let k1 = r.submit_model(&r.ada, &weak_json).await;
    let o1 = r.submit_model(&r.cy, &strong_json).await;
    assert!(o1["private_score"].is_null(), "the private score is hidden while open: {o1}");

    let seed = r.seed().await;
    let (weak_public, _) = expected_scores(&weak, seed);
    let (strong_public, _) = expected_scores(&strong, seed);
    assert!((k1["public_score"].as_f64().unwrap() - weak_public).abs() < 1e-12, "{k1} vs {weak_public}");
    assert!((o1["public_score"].as_f64().unwrap() - strong_public).abs() < 1e-12, "{o1} vs {strong_public}");

    let (status, board) = r.app.api().leaderboard(&r.ada, &r.ws, "fraud").await;
    assert_eq!(status, 200, "{board}");
    let mut expected = vec![("Kestrel", weak_public), ("Osprey", strong_public)];
    expected.sort_by(|a, b| b.1.total_cmp(&a.1));
    let shown: Vec<(&str, f64)> =
        board.as_array().unwrap().iter().map(|r| (r["team"].as_str().unwrap(), r["score"].as_f64().unwrap())).collect();
    assert_eq!(shown.len(), 2);
    for ((team, score), (want_team, want)) in shown.iter().zip(&expected) {
        assert_eq!(team, want_team, "{board}");
        assert!((score - want).abs() < 1e-12, "{board}");
    }
    assert!(board[0]["private_score"].is_null(), "participants see no private score while open: {board}");
}

#[tokio::test]
async fn models_that_cannot_be_scored_are_refused_with_the_reason() {
    let r = room().await;
    let (_, strong_json) = fraud_model(2, 30);
    let narrow = {
        let train = datasets::credit_card_fraud_with(2_000, 3).unwrap().classification("Class").unwrap();
        let x = train.features().select_columns(&["V1", "V2"]).unwrap();
        let d = Dataset::classification(x, train.labels().unwrap().clone()).unwrap();
        GradientBoostedTrees::params().iterations(2).fit(&d).unwrap().to_json().unwrap()
    };
    let kmeans = KMeans::params(2).seed(1).fit(&Dataset::unsupervised(datasets::iris().features().clone())).unwrap();
    for (content, says) in [
        (narrow, "have 30 features"),
        (strong_json[..strong_json.len() / 2].to_owned(), "not JSON"),
        (kmeans.to_json().unwrap(), "KMeansModel cannot be scored"),
    ] {
        let (status, body) = r.submit(&r.ada, json!({"kind": "model", "lab": "fraud", "content": content}), None).await;
        assert_eq!((status, error_message(&body).contains(says)), (422, true), "{says}: {body}");
    }
}

#[tokio::test]
async fn write_ups_are_graded_on_their_rubric_and_teams_see_grades_once_released() {
    let r = room().await;
    let api = r.app.api();
    let statement = r.submit_write_up(&r.ada, "problem_statement", "problem-statement", "Kestrel").await;
    let id = statement["id"].as_str().unwrap();
    let rubric = r.rubric("problem_statement").await;
    let (fitting, total) = scores_for(&rubric, false);
    let (over, _) = scores_for(&rubric, true);
    assert_eq!(api.grade(&r.ada, &r.ws, id, fitting.clone()).await.0, 403);
    let (status, body) = api.grade(&r.ins, &r.ws, id, over).await;
    assert_eq!((status, error_message(&body).contains("worth at most")), (422, true), "{body}");
    let (status, grade) = api.grade(&r.ins, &r.ws, id, fitting.clone()).await;
    assert_eq!((status, grade["total"].as_u64()), (200, Some(total)), "{grade}");
    let (_, weak_json) = fraud_model(1, 2);
    let model = r.submit_model(&r.ada, &weak_json).await;
    assert_eq!(
        api.grade(&r.ins, &r.ws, model["id"].as_str().unwrap(), fitting.clone()).await.0,
        422,
        "models are scored"
    );

    let (_, seen) = api.submission(&r.bob, &r.ws, id).await;
    assert!(seen["grade"].is_null() && seen["content"].as_str().unwrap().contains("Kestrel"), "{seen}");
    assert_eq!(api.release_grades(&r.bob, &r.ws, true).await.0, 403);
    assert_eq!(api.release_grades(&r.ins, &r.ws, true).await.0, 200);
    let (_, seen) = api.submission(&r.bob, &r.ws, id).await;
    assert_eq!(seen["grade"]["total"].as_u64(), Some(total), "{seen}");
    assert_eq!(seen["grade"]["scores"][0]["comment"], "comment 0");

    // Another team's submission is not there for Cy, whatever the id.
    assert_eq!(api.submission(&r.cy, &r.ws, id).await.0, 404);
    assert_eq!(api.grade(&r.cy, &r.ws, id, fitting).await.0, 403);
    let (_, cys) = api.submissions(&r.cy, &r.ws).await;
    assert!(cys.as_array().unwrap().iter().all(|s| s["team"] == r.osprey.as_str()), "{cys}");
}

#[tokio::test]
async fn the_gradebook_has_a_row_per_participant_with_points_and_model_scores_for_staff() {
    let r = room().await;
    let api = r.app.api();
    let statement = r.submit_write_up(&r.ada, "problem_statement", "problem-statement", "Kestrel").await;
    let (scores, total) = scores_for(&r.rubric("problem_statement").await, false);
    assert_eq!(api.grade(&r.ins, &r.ws, statement["id"].as_str().unwrap(), scores).await.0, 200);
    let arch = r.submit_write_up(&r.cy, "architecture", "solution-architecture", "Osprey").await;
    let arch_scores: Vec<Value> =
        r.rubric("architecture").await.iter().map(|(name, _)| json!({"criterion": name, "points": 2})).collect();
    let arch_total = 2 * arch_scores.len() as u64;
    let (status, body) = api.grade(&r.ins, &r.ws, arch["id"].as_str().unwrap(), json!({"scores": arch_scores})).await;
    assert_eq!((status, body["total"].as_u64()), (200, Some(arch_total)), "{body}");
    let (weak, weak_json) = fraud_model(1, 2);
    r.submit_model(&r.ada, &weak_json).await;
    let (weak_public, _) = expected_scores(&weak, r.seed().await);

    let path = format!("/api/v1/workshops/{}/gradebook.csv", r.ws);
    assert_eq!(api.get_text(&r.ada, &path).await.0, 403);
    let (status, csv) = api.get_text(&r.ins, &path).await;
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    let col =
        |name: &str| header.iter().position(|h| h.starts_with(name)).unwrap_or_else(|| panic!("{name}: {header:?}"));
    let ada_row = rows.iter().find(|r| r[2] == "ada@example.org").unwrap();
    assert_eq!(ada_row[0], "Kestrel");
    assert_eq!(ada_row[col("problem_statement: total")], total.to_string());
    let public: f64 = ada_row[col("model fraud: public score")].parse().unwrap();
    assert!((public - weak_public).abs() < 1e-6, "{csv}");
    assert_eq!(ada_row[col("architecture: total")], "");
    let cy_row = rows.iter().find(|r| r[2] == "cy@example.org").unwrap();
    assert_eq!((cy_row[0].as_str(), cy_row[col("problem_statement: total")].as_str()), ("Osprey", ""));
    assert_eq!(cy_row[col("architecture: total")], arch_total.to_string());
}

#[tokio::test]
async fn after_the_close_submissions_are_refused_and_the_private_leaderboard_shows() {
    let r = room().await;
    let (weak, weak_json) = fraud_model(1, 2);
    let (strong, strong_json) = fraud_model(2, 30);
    r.submit_model(&r.ada, &weak_json).await;
    r.submit_model(&r.cy, &strong_json).await;
    r.close().await;
    let (status, body) = r.submit(&r.ada, json!({"kind": "model", "lab": "fraud", "content": strong_json}), None).await;
    assert_eq!((status, error_message(&body).contains("closed")), (409, true), "{body}");
    let seed = r.seed().await;
    let (_, board) = r.app.api().leaderboard(&r.bob, &r.ws, "fraud").await;
    let mut expected = vec![("Kestrel", expected_scores(&weak, seed).1), ("Osprey", expected_scores(&strong, seed).1)];
    expected.sort_by(|a, b| b.1.total_cmp(&a.1));
    assert_eq!(board.as_array().unwrap().len(), 2, "{board}");
    for (row, (team, want)) in board.as_array().unwrap().iter().zip(&expected) {
        assert_eq!(row["team"].as_str(), Some(*team), "{board}");
        assert!((row["score"].as_f64().unwrap() - want).abs() < 1e-12, "{board}");
        assert!((row["private_score"].as_f64().unwrap() - want).abs() < 1e-12, "shown after the close: {board}");
    }
}

#[tokio::test]
async fn outsiders_expired_codes_and_limits_are_refused() {
    let app = app().await;
    let ins = app.account("ins@example.org", Role::Instructor).await;
    let other_ins = app.account("other@example.org", Role::Instructor).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let eve = app.account("eve@example.org", Role::Participant).await;
    let admin = app.account("root@example.org", Role::Admin).await;

    let new = json!({"title": "Closed teams", "days": ["2099-03-02", "2099-03-03", "2099-03-04"], "labs": ["fraud"],
                     "self_formed_teams": false, "daily_model_submissions": 1});
    let (_, w) = app.api().create_workshop(&ins, new).await;
    let ws = w["id"].as_str().unwrap().to_owned();
    let code = w["join_code"].as_str().unwrap().to_owned();
    assert_eq!(app.api().join_workshop(&ada, &code).await.0, 200);

    // Someone not in it — a participant or another workshop's instructor — finds nothing.
    for t in [&eve, &other_ins] {
        for path in [
            format!("/api/v1/workshops/{ws}"),
            format!("/api/v1/workshops/{ws}/teams"),
            format!("/api/v1/workshops/{ws}/submissions"),
            format!("/api/v1/workshops/{ws}/leaderboard/fraud"),
            format!("/api/v1/workshops/{ws}/gradebook.csv"),
        ] {
            assert_eq!(app.api().json(Method::GET, &path, None, t).await.0, 404, "{path}");
        }
        let (_, list) = app.api().json(Method::GET, "/api/v1/workshops", None, t).await;
        assert_eq!(list, json!([]));
    }
    // A co-instructor, once added, runs it too; only instructors' accounts can be added.
    let add = format!("/api/v1/workshops/{ws}/instructors");
    assert_eq!(app.api().json(Method::POST, &add, Some(json!({"email": "other@example.org"})), &ada).await.0, 403);
    let (status, body) = app.api().json(Method::POST, &add, Some(json!({"email": "eve@example.org"})), &ins).await;
    assert_eq!((status, error_message(&body).contains("not an instructor")), (422, true), "{body}");
    assert_eq!(app.api().json(Method::POST, &add, Some(json!({"email": "OTHER@example.org"})), &ins).await.0, 201);
    assert_eq!(app.api().json(Method::POST, &add, Some(json!({"email": "other@example.org"})), &ins).await.0, 409);
    let (_, seen) = app.api().json(Method::GET, &format!("/api/v1/workshops/{ws}"), None, &other_ins).await;
    assert_eq!((seen["role"].as_str(), seen["join_code"].is_string()), (Some("instructor"), true), "{seen}");
    // An admin sees every workshop.
    let (_, list) = app.api().json(Method::GET, "/api/v1/workshops", None, &admin).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(app.api().get_text(&admin, &format!("/api/v1/workshops/{ws}/gradebook.csv")).await.0, 200);

    // Teams formed by the instructor only.
    let teams = format!("/api/v1/workshops/{ws}/teams");
    let (status, body) = app.api().json(Method::POST, &teams, Some(json!({"name": "Mine"})), &ada).await;
    assert_eq!((status, error_message(&body).contains("instructors form the teams")), (403, true), "{body}");
    let (_, team) = app.api().json(Method::POST, &teams, Some(json!({"name": "Heron"})), &ins).await;
    let team = team["id"].as_str().unwrap().to_owned();
    assert_eq!(app.api().json(Method::POST, &format!("{teams}/{team}/join"), None, &ada).await.0, 403);
    let (_, roster) = app.api().json(Method::GET, &teams, None, &ins).await;
    let ada_id = roster["unassigned"][0]["user_id"].as_str().unwrap().to_owned();
    let (_, roster_seen) = app.api().json(Method::GET, &teams, None, &ada).await;
    assert!(roster_seen["unassigned"][0]["email"].is_null(), "participants see no emails: {roster_seen}");
    let place = format!("/api/v1/workshops/{ws}/members/{ada_id}/team");
    assert_eq!(app.api().json(Method::PUT, &place, Some(json!({"team": "not-an-id"})), &ins).await.0, 404);
    assert_eq!(app.api().json(Method::PUT, &place, Some(json!({"team": team})), &ins).await.0, 204);

    // One model a day here: the second is 429 until midnight UTC.
    let (_, json_model) = fraud_model(4, 2);
    let model = json!({"kind": "model", "lab": "fraud", "content": json_model});
    assert_eq!(app.api().submit(&ada, &ws, model.clone(), None).await.0, 201);
    let (status, body) = app.api().submit(&ada, &ws, model, None).await;
    assert_eq!((status, error_message(&body).contains("today's 1 model")), (429, true), "{body}");

    // An oversize model is refused before it is read (the daily limit is not reached by refusals).
    let huge = "x".repeat(flywheel_app::workshops::MAX_MODEL_BYTES + 1);
    let (status, body) =
        app.api().submit(&ada, &ws, json!({"kind": "model", "lab": "fraud", "content": huge}), None).await;
    assert_eq!(status, 413, "{body}");

    // A new code: the old one stops working; an expired one says so.
    let (status, w2) = app
        .api()
        .json(Method::POST, &format!("/api/v1/workshops/{ws}/code"), Some(json!({"expires_at": 1})), &ins)
        .await;
    assert_eq!(status, 200, "{w2}");
    assert_ne!(w2["join_code"], w["join_code"]);
    assert_eq!(app.api().join_workshop(&eve, &code).await.0, 404);
    let (status, body) = app.api().join_workshop(&eve, w2["join_code"].as_str().unwrap()).await;
    assert_eq!((status, error_message(&body).contains("expired")), (403, true), "{body}");
    assert_eq!(
        app.api().json(Method::POST, &format!("/api/v1/workshops/{ws}/code"), Some(json!({})), &ada).await.0,
        403
    );
    // Rubrics: instructors only, checked.
    let rubric = format!("/api/v1/workshops/{ws}/rubrics/architecture");
    let good = json!({"criteria": [{"name": "Serving", "max_points": 5}, {"name": "Monitoring", "max_points": 5, "description": "drift"}]});
    assert_eq!(app.api().json(Method::PUT, &rubric, Some(good.clone()), &ada).await.0, 403);
    let (status, body) =
        app.api().json(Method::PUT, &rubric, Some(json!({"criteria": [{"name": "A", "max_points": 0}]})), &ins).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app.api().json(Method::PUT, &rubric, Some(good), &ins).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rubrics"]["architecture"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.api()
            .json(
                Method::PUT,
                &format!("/api/v1/workshops/{ws}/rubrics/model"),
                Some(json!({"criteria": [{"name": "A", "max_points": 1}]})),
                &ins
            )
            .await
            .0,
        422
    );
}

/// The location a page's `303 See Other` sends the browser to.
/// The route's workshop is found before any handler code runs: a malformed
/// workshop id is 404 on the API and the pages (even with a body that does
/// not parse), and a staff-only route is 403 for a participant before its
/// body is read.
#[tokio::test]
async fn a_malformed_workshop_id_is_404_and_staff_routes_refuse_participants_before_the_body() {
    let app = app().await;
    let ins = app.account("ins@example.org", Role::Instructor).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let new = json!({"title": "Ids", "days": ["2099-03-02", "2099-03-03", "2099-03-04"]});
    let (_, w) = app.api().create_workshop(&ins, new).await;
    let (ws, code) = (w["id"].as_str().unwrap().to_owned(), w["join_code"].as_str().unwrap().to_owned());
    assert_eq!(app.api().join_workshop(&ada, &code).await.0, 200);

    for (method, path, body) in [
        (Method::GET, "/api/v1/workshops/not-a-uuid", None),
        (Method::GET, "/api/v1/workshops/not-a-uuid/teams", None),
        (Method::POST, "/api/v1/workshops/not-a-uuid/code", Some(json!("not an object"))),
        (Method::PUT, "/api/v1/workshops/12345/members/x/team", Some(json!(42))),
    ] {
        let (status, body) = app.api().json(method, path, body, &ins).await;
        assert_eq!((status, error_message(&body).contains("no such workshop")), (404, true), "{path}: {body}");
    }
    let place = format!("/api/v1/workshops/{ws}/members/x/team");
    let (status, body) = app.api().json(Method::PUT, &place, Some(json!(42)), &ada).await;
    assert_eq!((status, error_message(&body).contains("instructors")), (403, true), "{body}");

    let b = app.browser();
    assert_eq!(b.log_in("ins@example.org", PW).await.status, 303);
    assert_eq!(b.get("/workshops/not-a-uuid").await.status, 404);
}

fn location(page: &flywheel_tests::Page) -> String {
    assert_eq!(page.status, 303, "expected a redirect");
    page.headers["location"].to_str().unwrap().to_owned()
}

/// The pages as an instructor and a participant use them: both logged in
/// in their own browsers, a workshop made over the API (team size 3, teams
/// formed by participants, intro and fraud), Ada in it and in team Kestrel.
struct PageRoom {
    app: TestApp,
    ins: flywheel_tests::Browser,
    ada: flywheel_tests::Browser,
    ada_token: String,
    /// `/workshops/{id}`.
    page_path: String,
}

async fn page_room() -> PageRoom {
    let app = app().await;
    let ins_token = app.account("ins@example.org", Role::Instructor).await;
    let ada_token = app.account("ada@example.org", Role::Participant).await;
    let (ins, ada) = (app.browser(), app.browser());
    assert_eq!(ins.log_in("ins@example.org", PW).await.status, 303);
    assert_eq!(ada.log_in("ada@example.org", PW).await.status, 303);
    let new = json!({"title": "ML week", "days": ["2099-03-02", "2099-03-03", "2099-03-04"], "labs": ["intro", "fraud"], "team_size": 3});
    let (_, w) = app.api().create_workshop(&ins_token, new).await;
    let ws = w["id"].as_str().unwrap().to_owned();
    assert_eq!(app.api().join_workshop(&ada_token, w["join_code"].as_str().unwrap()).await.0, 200);
    assert_eq!(app.api().create_team(&ada_token, &ws, "Kestrel").await.0, 201);
    PageRoom { app, ins, ada, ada_token, page_path: format!("/workshops/{ws}") }
}

impl PageRoom {
    /// Posts the workshop page's submission form as Ada.
    async fn submit(&self, fields: &[(&str, &str)]) -> flywheel_tests::Page {
        self.ada.submit(&self.page_path, &format!("{}/submissions", self.page_path), fields).await
    }
}

#[tokio::test]
async fn the_instructor_creates_a_workshop_from_the_form_and_participants_get_none() {
    let app = app().await;
    app.create_user("ins@example.org", PW, Role::Instructor).await;
    app.create_user("ada@example.org", PW, Role::Participant).await;
    let (ins, ada) = (app.browser(), app.browser());
    assert_eq!(ins.log_in("ins@example.org", PW).await.status, 303);
    assert_eq!(ada.log_in("ada@example.org", PW).await.status, 303);
    assert!(!ada.get("/workshops").await.has("#create-workshop"));
    assert!(ins.get("/workshops").await.has("#create-workshop"));
    let form = |day1: &'static str| {
        vec![
            ("title", "ML week"),
            ("day1", day1),
            ("day2", "2099-03-03"),
            ("day3", "2099-03-04"),
            ("team_size", "3"),
            ("daily_model_submissions", "5"),
            ("self_formed_teams", "true"),
            ("lab", "intro"),
            ("lab", "fraud"),
        ]
    };
    let bad = ins.submit("/workshops", "/workshops", &form("2099-03-04")).await;
    assert_eq!(bad.status, 422);
    assert!(bad.text("#workshop-error").contains("in order"), "{}", bad.text("#workshop-error"));
    let created = ins.submit("/workshops", "/workshops", &form("2099-03-02")).await;
    let page = ins.get(&location(&created)).await;
    assert_eq!(page.text("#join-code").len(), 9, "{}", page.text("#join-code"));
    assert_eq!(page.texts("#agenda li").len(), 3);
}

#[tokio::test]
async fn a_participant_joins_with_the_code_and_forms_a_team_on_the_page() {
    let r = page_room().await;
    let code = r.ins.get(&r.page_path).await.text("#join-code");
    r.app.create_user("bob@example.org", PW, Role::Participant).await;
    let bob = r.app.browser();
    assert_eq!(bob.log_in("bob@example.org", PW).await.status, 303);
    let wrong = bob.submit("/workshops", "/workshops/join", &[("code", "2222-2222")]).await;
    assert_eq!((wrong.status.as_u16(), wrong.attr("#join-code", "value").as_deref()), (404, Some("2222-2222")));
    assert_eq!(location(&bob.submit("/workshops", "/workshops/join", &[("code", &code)]).await), r.page_path);
    let formed = bob.submit(&r.page_path, &format!("{}/teams", r.page_path), &[("name", "Osprey")]).await;
    assert_eq!(location(&formed), r.page_path);
    let mine = bob.get(&r.page_path).await;
    assert_eq!(mine.text("#my-team"), "Osprey");
    assert!(!mine.has("#join-code"), "participants do not see the code");
}

#[tokio::test]
async fn a_write_up_on_the_page_is_checked_kept_when_refused_and_submitted_once() {
    let r = page_room().await;
    let key =
        r.ada.get(&r.page_path).await.attr("#submit-problem-statement input[name=idempotency_key]", "value").unwrap();
    let partial = "# Kestrel\n\n## What is the problem?\n\nFixed rules miss fraud.\n";
    let refused = r.submit(&[("kind", "problem_statement"), ("content", partial), ("idempotency_key", &key)]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.text("#workshop-error").contains("lacks"), "{}", refused.text("#workshop-error"));
    assert!(refused.text("#ps-content").contains("Fixed rules miss fraud."), "the draft is kept");
    let full = write_up("problem-statement", "Kestrel");
    for _ in 0..2 {
        let done = r.submit(&[("kind", "problem_statement"), ("content", &full), ("idempotency_key", &key)]).await;
        assert_eq!(location(&done), r.page_path);
    }
    assert_eq!(r.ada.get(&r.page_path).await.texts("#submissions tbody tr").len(), 1, "a double click submits once");
}

#[tokio::test]
async fn a_model_is_submitted_from_the_file_a_notebook_cell_saved_in_the_kernel() {
    assert!(flywheel_tests::kernel_worker().is_file(), "build the worker first: cargo build -p flywheel-kernel");
    let r = page_room().await;
    let model_file = [("kind", "model"), ("lab", "fraud"), ("kernel_file", "fraud-gbt.json")];
    let no_kernel = r.submit(&model_file).await;
    assert_eq!(no_kernel.status, 422);
    let error = no_kernel.text("#workshop-error");
    assert!(error.contains("no notebook kernel running"), "{error}");
    r.app.kernels_ready(&r.ada_token, std::time::Duration::from_secs(300)).await;
    let (_, nb) = r.app.api().json(Method::POST, "/api/v1/notebooks", Some(json!({})), &r.ada_token).await;
    let (model, model_json) = fraud_model(6, 5);
    let save = format!("std::fs::write(\"fraud-gbt.json\", {model_json:?}).unwrap();");
    let e = r.app.run_cell(&r.ada_token, nb["id"].as_str().unwrap(), &save).await;
    assert_eq!(e["status"], "ok", "{e}");
    let not_saved = r.submit(&[("kind", "model"), ("lab", "fraud"), ("kernel_file", "other.json")]).await;
    let error = not_saved.text("#workshop-error");
    assert!(error.contains("no file named \"other.json\""), "{error}");
    assert_eq!(location(&r.submit(&model_file).await), r.page_path);
    let id = WorkshopId::from_str(r.page_path.rsplit('/').next().unwrap()).unwrap();
    let seed = r.app.db.workshop(id).await.unwrap().unwrap().scoring_seed;
    let (public, _) = expected_scores(&model, seed);
    let board = r.ada.get(&format!("{}/leaderboard/fraud", r.page_path)).await;
    assert_eq!(board.texts("tbody tr"), [format!("1 Kestrel {public:.4} 1")]);
}

#[tokio::test]
async fn the_instructor_grades_on_the_page_and_the_team_sees_it_once_released() {
    let r = page_room().await;
    let full = write_up("problem-statement", "Kestrel");
    assert_eq!(location(&r.submit(&[("kind", "problem_statement"), ("content", &full)]).await), r.page_path);
    let (ins, ada, page_path) = (&r.ins, &r.ada, &r.page_path);
    let ins_page = ins.get(page_path).await;
    let link = {
        let rows = scraper::Selector::parse("#submissions tbody tr").unwrap();
        let a = scraper::Selector::parse("a").unwrap();
        let row = ins_page.html.select(&rows).find(|r| r.text().any(|t| t.contains("Problem statement"))).unwrap();
        row.select(&a).next().unwrap().value().attr("href").unwrap().to_owned()
    };
    let form = ins.get(&link).await;
    assert!(form.text("#write-up").contains("Our answer for Kestrel."));
    let criteria: Vec<String> = {
        let sel = scraper::Selector::parse("#grade-form input[type=number]").unwrap();
        form.html.select(&sel).map(|e| e.value().attr("name").unwrap().to_owned()).collect()
    };
    assert!(criteria.len() >= 5, "{criteria:?}");
    let mut fields: Vec<(String, String)> = criteria.iter().map(|n| (n.clone(), "3".to_owned())).collect();
    fields[0].1 = "9".into();
    fields.push((criteria[0].replacen("points:", "comment:", 1), "Say it with a number.".into()));
    let post = |mut f: Vec<(String, String)>| {
        let link = link.clone();
        async move {
            f.push(("csrf_token".into(), ins.get(&link).await.csrf()));
            ins.client.post(ins.url(&format!("{link}/grade"))).form(&f).send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(post(fields.clone()).await, 422, "9 points is over a criterion's maximum");
    fields[0].1 = "4".into();
    assert_eq!(post(fields).await, 303);
    let total = 4 + 3 * (criteria.len() - 1);
    assert!(ins.get(&link).await.text("#grade-heading").contains(&format!("graded: {total} /")));
    let hidden = ada.get(&link).await;
    assert!(hidden.has("#not-graded") && !hidden.has("#grade-total"));
    let released = ins.submit(page_path, &format!("{page_path}/release"), &[("released", "true")]).await;
    assert_eq!(location(&released), *page_path);
    let shown = ada.get(&link).await;
    assert!(shown.text("#grade-total").starts_with(&format!("{total} /")), "{}", shown.text("#grade-total"));
    assert!(shown.text("#grade").contains("Say it with a number."));

    // The gradebook download is the staff's; the progress dashboard lists the team.
    let csv = ins.client.get(ins.url(&format!("{page_path}/gradebook.csv"))).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with("Kestrel,"), "{csv}");
    assert_eq!(ada.client.get(ada.url(&format!("{page_path}/gradebook.csv"))).send().await.unwrap().status(), 403);
    let dashboard = ins.get(page_path).await;
    assert!(dashboard.text("#progress tbody").contains("Kestrel"), "{}", dashboard.text("#progress"));
}

#[tokio::test]
async fn a_team_notebook_is_shared_with_its_team_only_and_edits_stay_guarded() {
    let app = app().await;
    let ins = app.account("ins@example.org", Role::Instructor).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let bob = app.account("bob@example.org", Role::Participant).await;
    let cy = app.account("cy@example.org", Role::Participant).await;
    let new = json!({"title": "Team week", "days": ["2099-03-02", "2099-03-03", "2099-03-04"]});
    let (_, w) = app.api().create_workshop(&ins, new).await;
    let ws = w["id"].as_str().unwrap().to_owned();
    for t in [&ada, &bob, &cy] {
        app.api().join_workshop(t, w["join_code"].as_str().unwrap()).await;
    }
    let teams = format!("/api/v1/workshops/{ws}/teams");
    let (_, kestrel) = app.api().json(Method::POST, &teams, Some(json!({"name": "Kestrel"})), &ada).await;
    let kestrel = kestrel["id"].as_str().unwrap().to_owned();
    assert_eq!(app.api().json(Method::POST, &format!("{teams}/{kestrel}/join"), None, &bob).await.0, 204);
    let (_, osprey) = app.api().json(Method::POST, &teams, Some(json!({"name": "Osprey"})), &cy).await;
    let osprey = osprey["id"].as_str().unwrap().to_owned();

    let (_, nb) =
        app.api().json(Method::POST, "/api/v1/notebooks", Some(json!({"title": "Fraud features"})), &ada).await;
    let path = format!("/api/v1/notebooks/{}", nb["id"].as_str().unwrap());
    // Only the owner shares, and only with a team she is in.
    let share = format!("{path}/team");
    assert_eq!(app.api().json(Method::PUT, &share, Some(json!({"team": osprey})), &ada).await.0, 404);
    assert_eq!(app.api().json(Method::PUT, &share, Some(json!({"team": kestrel})), &cy).await.0, 404);
    let (status, shared) = app.api().json(Method::PUT, &share, Some(json!({"team": kestrel})), &ada).await;
    assert_eq!((status, shared["team"].as_str()), (200, Some(kestrel.as_str())), "{shared}");

    // Bob, in the team, opens, edits and lists it; Cy, in another team, finds nothing.
    let (status, seen) = app.api().json(Method::GET, &path, None, &bob).await;
    assert_eq!((status, seen["owned"].as_bool()), (200, Some(false)), "{seen}");
    let (_, listed) = app.api().json(Method::GET, "/api/v1/notebooks", None, &bob).await;
    assert!(
        listed.as_array().unwrap().iter().any(|n| n["id"] == nb["id"] && n["team"] == kestrel.as_str()),
        "{listed}"
    );
    let (_, listed) = app.api().json(Method::GET, "/api/v1/notebooks", None, &cy).await;
    assert!(!listed.as_array().unwrap().iter().any(|n| n["id"] == nb["id"]), "{listed}");
    let revision = seen["revision"].as_i64().unwrap();
    let edit = |by: &str| json!({"revision": revision, "cells": [{"id": "cell-1", "cell_type": "code", "source": format!("// {by}")}]});
    let (status, saved) = app.api().json(Method::PATCH, &path, Some(edit("bob")), &bob).await;
    assert_eq!(status, 200, "{saved}");
    // Ada's edit of the same version is refused, not merged over Bob's.
    let (status, body) = app.api().json(Method::PATCH, &path, Some(edit("ada")), &ada).await;
    assert_eq!(status, 409, "{body}");
    let (_, rev) = app.api().json(Method::GET, &format!("{path}/revision"), None, &ada).await;
    assert_eq!(rev["revision"].as_i64(), Some(revision + 1));
    let (_, now) = app.api().json(Method::GET, &path, None, &ada).await;
    assert_eq!(now["cells"][0]["source"], "// bob");
    for (method, sub) in [
        (Method::GET, ""),
        (Method::GET, "/revision"),
        (Method::GET, "/export"),
        (Method::POST, "/cells/cell-1/run"),
        (Method::DELETE, ""),
    ] {
        assert_eq!(app.api().json(method.clone(), &format!("{path}{sub}"), None, &cy).await.0, 404, "{method} {sub}");
    }
    let (status, _) = app.api().json(Method::PATCH, &path, Some(edit("cy")), &cy).await;
    assert_eq!(status, 404);
    // Deleting and sharing are the owner's.
    assert_eq!(app.api().json(Method::DELETE, &path, None, &bob).await.0, 403);
    assert_eq!(app.api().json(Method::PUT, &share, Some(json!({"team": null})), &bob).await.0, 403);

    // Moved out of the team, Bob loses it.
    let (_, roster) = app.api().json(Method::GET, &teams, None, &ins).await;
    let bob_id = roster["teams"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["members"].as_array().unwrap().iter())
        .find(|m| m["email"] == "bob@example.org")
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let place = format!("/api/v1/workshops/{ws}/members/{bob_id}/team");
    assert_eq!(app.api().json(Method::PUT, &place, Some(json!({"team": null})), &ins).await.0, 204);
    assert_eq!(app.api().json(Method::GET, &path, None, &bob).await.0, 404);
    assert_eq!(app.api().json(Method::DELETE, &path, None, &ada).await.0, 204);
}

#[tokio::test]
async fn each_team_member_runs_a_shared_notebook_on_their_own_kernel() {
    assert!(flywheel_tests::kernel_worker().is_file(), "build the worker first: cargo build -p flywheel-kernel");
    let app = app().await;
    let ins = app.account("ins@example.org", Role::Instructor).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let bob = app.account("bob@example.org", Role::Participant).await;
    let new = json!({"title": "Team week", "days": ["2099-03-02", "2099-03-03", "2099-03-04"]});
    let (_, w) = app.api().create_workshop(&ins, new).await;
    let ws = w["id"].as_str().unwrap();
    for t in [&ada, &bob] {
        app.api().join_workshop(t, w["join_code"].as_str().unwrap()).await;
    }
    let teams = format!("/api/v1/workshops/{ws}/teams");
    let (_, team) = app.api().json(Method::POST, &teams, Some(json!({"name": "Kestrel"})), &ada).await;
    app.api().json(Method::POST, &format!("{teams}/{}/join", team["id"].as_str().unwrap()), None, &bob).await;
    let (_, nb) = app.api().json(Method::POST, "/api/v1/notebooks", Some(json!({})), &ada).await;
    let id = nb["id"].as_str().unwrap().to_owned();
    app.api().json(Method::PUT, &format!("/api/v1/notebooks/{id}/team"), Some(json!({"team": team["id"]})), &ada).await;
    app.kernels_ready(&ada, std::time::Duration::from_secs(300)).await;

    let who = "let who = 1; println!(\"ran\");";
    let mine = app.run_cell(&ada, &id, who).await;
    let theirs = app.run_cell(&bob, &id, who).await;
    assert_eq!((mine["status"].as_str(), theirs["status"].as_str()), (Some("ok"), Some("ok")), "{mine} {theirs}");
    let (_, a) = app.api().json(Method::GET, &format!("/api/v1/notebooks/{id}"), None, &ada).await;
    let (_, b) = app.api().json(Method::GET, &format!("/api/v1/notebooks/{id}"), None, &bob).await;
    let (sa, sb) = (a["session"]["id"].as_str().unwrap(), b["session"]["id"].as_str().unwrap());
    assert_ne!(sa, sb, "two kernels, one per member");
    // Each session is its owner's: Bob cannot reach Ada's.
    assert_eq!(app.api().json(Method::GET, &format!("/api/v1/sessions/{sa}"), None, &bob).await.0, 404);
    // The outputs are the notebook's, seen by both.
    assert_eq!(b["cells"][0]["outputs"][0]["text"], "ran\n", "{b}");
}

#[tokio::test]
async fn room_accounts_are_printed_once_log_in_and_are_disabled_when_the_workshop_closes() {
    let app = app().await;
    let ins = app.account("ins@example.org", Role::Instructor).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let new = json!({"title": "Room 4", "days": ["2099-03-02", "2099-03-03", "2099-03-04"]});
    let (_, w) = app.api().create_workshop(&ins, new).await;
    let ws = w["id"].as_str().unwrap().to_owned();
    let accounts = format!("/api/v1/workshops/{ws}/accounts");
    app.api().join_workshop(&ada, w["join_code"].as_str().unwrap()).await;
    assert_eq!(app.api().json(Method::POST, &accounts, Some(json!({"count": 2})), &ada).await.0, 403);
    for bad in [json!({"count": 0}), json!({"count": 201}), json!({"count": 2, "prefix": "Bad Name"})] {
        assert_eq!(app.api().json(Method::POST, &accounts, Some(bad.clone()), &ins).await.0, 422, "{bad}");
    }
    let (status, made) = app.api().json(Method::POST, &accounts, Some(json!({"count": 3})), &ins).await;
    assert_eq!(status, 201, "{made}");
    let labels: Vec<&str> = made.as_array().unwrap().iter().map(|a| a["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["scientist-1", "scientist-2", "scientist-3"]);
    // More later continue the numbering.
    let (_, more) = app.api().json(Method::POST, &accounts, Some(json!({"count": 1})), &ins).await;
    assert_eq!(more[0]["label"], "scientist-4");

    // A room account logs in with the printed password and is in the workshop.
    let (email, password) = (made[1]["email"].as_str().unwrap(), made[1]["password"].as_str().unwrap());
    assert_eq!(password.len(), 14, "{password}");
    let token = app.api().token(email, password).await;
    let (_, mine) = app.api().json(Method::GET, "/api/v1/workshops", None, &token).await;
    assert_eq!((mine[0]["id"].as_str(), mine[0]["role"].as_str()), (Some(ws.as_str()), Some("participant")));
    let (_, roster) = app.api().json(Method::GET, &format!("/api/v1/workshops/{ws}/teams"), None, &ins).await;
    assert_eq!(roster["unassigned"].as_array().unwrap().len(), 5, "four room accounts and Ada: {roster}");

    // The workshop closes: housekeeping disables the room accounts, not Ada.
    let mut stored = app.db.workshop(WorkshopId::from_str(&ws).unwrap()).await.unwrap().unwrap();
    stored.closes_at = flywheel_domain::Timestamp(1);
    app.db.update_workshop(&stored).await.unwrap();
    let now = flywheel_domain::Timestamp(i64::MAX / 2);
    assert_eq!(app.db.disable_ended_workshop_accounts(now).await.unwrap(), 4);
    assert_eq!(app.db.disable_ended_workshop_accounts(now).await.unwrap(), 0, "once");
    let body = json!({"email": email, "password": password});
    let (status, _, _) = app.api().call(Method::POST, "/api/v1/tokens", Some(body), None).await;
    assert_eq!(status, 403, "a disabled room account cannot log in");
    assert_eq!(app.api().json(Method::GET, "/api/v1/workshops", None, &token).await.0, 401);
    assert_eq!(app.api().json(Method::GET, "/api/v1/workshops", None, &ada).await.0, 200);
}

#[tokio::test]
async fn the_room_sheet_is_a_printable_page_shown_once() {
    let app = app().await;
    app.create_user("ins@example.org", PW, Role::Instructor).await;
    let b = app.browser();
    b.log_in("ins@example.org", PW).await;
    let created = b
        .submit(
            "/workshops",
            "/workshops",
            &[
                ("title", "Room 4"),
                ("day1", "2099-03-02"),
                ("day2", "2099-03-03"),
                ("day3", "2099-03-04"),
                ("team_size", "3"),
                ("daily_model_submissions", "5"),
                ("lab", "fraud"),
            ],
        )
        .await;
    let page_path = location(&created);
    let sheet =
        b.submit(&page_path, &format!("{page_path}/accounts"), &[("count", "2"), ("prefix", "scientist")]).await;
    assert_eq!(sheet.status, 201);
    assert!(sheet.text("#print-now").contains("not shown again"));
    assert_eq!(sheet.texts("#room-sheet .slip").len(), 2);
    let passwords = sheet.texts(".room-password");
    let emails = sheet.texts(".room-email");
    let token = app.api().token(&emails[0], &passwords[0]).await;
    assert!(!token.is_empty());
    let bad = b.submit(&page_path, &format!("{page_path}/accounts"), &[("count", "0"), ("prefix", "scientist")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.text("#workshop-error").contains("1 to 200"));
}
