//! The storage suite: the `Database` trait's contract, on whichever backend
//! this run uses (SQLite, or PostgreSQL in CI).

use flywheel_domain::{Cell, CellId, CellType, DisplayName, Email, NewUser, Notebook, NotebookId, Role, Timestamp};
use flywheel_store::{
    AccountStore, Backend, Database, DatasetStore, LoginSessionStore, NotebookStore, ProgressStore, StoreError,
    WorkshopStore,
};
use flywheel_tests::{backend_is_postgres, fresh_store};

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        name: DisplayName::parse("Ada").unwrap(),
        role: Role::Participant,
        password_hash: "$argon2id$stub".into(),
    }
}

#[tokio::test]
async fn runs_on_the_backend_asked_for() {
    let (db, _t) = fresh_store().await;
    let expected = if backend_is_postgres() { Backend::Postgres } else { Backend::Sqlite };
    assert_eq!(db.backend(), expected);
    db.ping().await.unwrap();
    db.migrate().await.expect("migrating twice is a no-op");
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    if backend_is_postgres() {
        return; // a PostgreSQL property does not apply
    }
    let (db, _t) = fresh_store().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(db.pool()).await.unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn users_are_unique_by_email_ignoring_case() {
    let (db, _t) = fresh_store().await;
    let ada = db.create_user(&new_user("Ada@Example.org"), Timestamp(1000)).await.unwrap();
    let err = db.create_user(&new_user("ada@EXAMPLE.org"), Timestamp(2000)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(db.users().await.unwrap(), vec![ada.clone()], "the duplicate wrote nothing");

    let (found, hash) = db.user_credentials("ada@example.org").await.unwrap().expect("found by key");
    assert_eq!((found.id, found.email.as_str(), hash.as_str()), (ada.id, "Ada@Example.org", "$argon2id$stub"));
    assert!(db.user_credentials("Ada@Example.org").await.unwrap().is_none(), "lookup is by the lower-cased key");
    assert_eq!(db.user(ada.id).await.unwrap(), Some(ada));
}

#[tokio::test]
async fn api_tokens_authenticate_until_revoked_and_only_their_owner_revokes() {
    let (db, _t) = fresh_store().await;
    let ada = db.create_user(&new_user("ada@example.org"), Timestamp(1)).await.unwrap();
    let bob = db.create_user(&new_user("bob@example.org"), Timestamp(2)).await.unwrap();
    let token = db.create_api_token(ada.id, "laptop", "digest-1", Timestamp(10)).await.unwrap();
    let dup = db.create_api_token(bob.id, "x", "digest-1", Timestamp(11)).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)));

    let who = db.authenticate_api_token("digest-1", Timestamp(20)).await.unwrap();
    assert_eq!(who.map(|u| u.id), Some(ada.id));
    assert!(db.authenticate_api_token("digest-2", Timestamp(20)).await.unwrap().is_none());
    let listed = db.api_tokens(ada.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(Timestamp(20)), "use is recorded");
    db.authenticate_api_token("digest-1", Timestamp(25)).await.unwrap();
    assert_eq!(db.api_tokens(ada.id).await.unwrap()[0].last_used_at, Some(Timestamp(20)), "to the minute");
    db.authenticate_api_token("digest-1", Timestamp(60_020)).await.unwrap();
    assert_eq!(db.api_tokens(ada.id).await.unwrap()[0].last_used_at, Some(Timestamp(60_020)), "a minute later");

    assert!(!db.revoke_api_token(bob.id, token.id, Timestamp(30)).await.unwrap(), "not bob's token");
    assert!(db.authenticate_api_token("digest-1", Timestamp(31)).await.unwrap().is_some());
    assert!(db.revoke_api_token(ada.id, token.id, Timestamp(32)).await.unwrap());
    assert!(!db.revoke_api_token(ada.id, token.id, Timestamp(33)).await.unwrap(), "already revoked");
    assert!(db.authenticate_api_token("digest-1", Timestamp(34)).await.unwrap().is_none());
    assert_eq!(db.api_tokens(ada.id).await.unwrap()[0].revoked_at, Some(Timestamp(32)));
    assert!(db.api_tokens(bob.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn sessions_expire_and_ids_do_not_collide() {
    let (db, _t) = fresh_store().await;
    assert!(db.create_session("s1", "{\"a\":1}", Timestamp(100)).await.unwrap());
    assert!(!db.create_session("s1", "{\"b\":2}", Timestamp(100)).await.unwrap(), "id taken");
    assert_eq!(db.load_session("s1", Timestamp(50)).await.unwrap().as_deref(), Some("{\"a\":1}"));
    db.save_session("s1", "{\"c\":3}", Timestamp(200)).await.unwrap();
    assert_eq!(db.load_session("s1", Timestamp(150)).await.unwrap().as_deref(), Some("{\"c\":3}"));
    assert_eq!(db.load_session("s1", Timestamp(200)).await.unwrap(), None, "expired at its expiry time");
    db.save_session("s2", "{}", Timestamp(500)).await.unwrap();
    assert_eq!(db.delete_expired_sessions(Timestamp(300)).await.unwrap(), 1);
    assert!(db.load_session("s2", Timestamp(300)).await.unwrap().is_some());
    db.delete_session("s2").await.unwrap();
    db.delete_session("never-existed").await.unwrap();
    assert!(db.load_session("s2", Timestamp(300)).await.unwrap().is_none());
}

fn notebook(cells: &[(&str, &str)]) -> Notebook {
    let cells =
        cells.iter().map(|(id, source)| Cell::new(CellId::parse(id).unwrap(), CellType::Code, *source)).collect();
    Notebook { title: "Lab".into(), cells }
}

#[tokio::test]
async fn notebook_saves_are_guarded_by_revision_and_keep_outputs_by_cell() {
    let (db, _t) = fresh_store().await;
    let ada = db.create_user(&new_user("ada@example.org"), Timestamp(1)).await.unwrap();
    let created = db.create_notebook(ada.id, Some("intro"), &notebook(&[("a", "1"), ("b", "2")]), Timestamp(10)).await;
    let nb = created.unwrap();
    assert_eq!(nb.revision, 1);
    let again = db.create_notebook(ada.id, Some("intro"), &notebook(&[]), Timestamp(11)).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "one copy per lab: {again:?}");
    assert_eq!(db.lab_notebook(ada.id, "intro").await.unwrap().map(|n| n.id), Some(nb.id));

    let out = vec![serde_json::json!({"output_type": "stream", "name": "stdout", "text": "1\n"})];
    db.set_cell_outputs(nb.id, &CellId::parse("a").unwrap(), Some(1), &out, Timestamp(20)).await.unwrap();
    db.set_cell_outputs(nb.id, &CellId::parse("b").unwrap(), Some(2), &out, Timestamp(21)).await.unwrap();
    let stored = db.notebook(nb.id).await.unwrap().unwrap();
    assert_eq!(stored.revision, 1, "outputs do not bump the revision");
    assert_eq!((stored.notebook.cells[0].execution_count, &stored.notebook.cells[0].outputs), (Some(1), &out));

    // An edit on revision 1: cell a edited, b deleted, c added.
    let edited = notebook(&[("c", "3"), ("a", "1 + 0")]);
    let saved = db.update_notebook(nb.id, 1, &edited, Timestamp(30)).await.unwrap().unwrap();
    assert_eq!(saved.revision, 2);
    let ids: Vec<&str> = saved.notebook.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c", "a"]);
    assert_eq!(saved.notebook.cells[1].outputs, out, "a kept its outputs");
    assert!(saved.notebook.cells[0].outputs.is_empty());

    // A second tab still on revision 1 is refused and changes nothing.
    let stale = db.update_notebook(nb.id, 1, &notebook(&[("z", "")]), Timestamp(40)).await.unwrap_err();
    assert!(matches!(stale, StoreError::StaleRevision { current: 2 }), "{stale:?}");
    assert_eq!(db.notebook(nb.id).await.unwrap().unwrap(), saved);

    // Bringing b back does not resurrect its old outputs (they went with it).
    let back = db.update_notebook(nb.id, 2, &notebook(&[("a", "1"), ("b", "2")]), Timestamp(50)).await.unwrap();
    assert!(back.unwrap().notebook.cells[1].outputs.is_empty());

    let reset = db.replace_notebook(nb.id, &notebook(&[("a", "1")]), Timestamp(60)).await.unwrap().unwrap();
    assert_eq!(reset.revision, 4);
    assert!(reset.notebook.cells[0].outputs.is_empty(), "a reset drops outputs");

    let missing = NotebookId(uuid::Uuid::new_v4());
    assert!(db.update_notebook(missing, 1, &edited, Timestamp(70)).await.unwrap().is_none());
    let listed = db.notebooks(ada.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].lab.as_deref(), listed[0].updated_at), (Some("intro"), Timestamp(60)));
    assert!(db.delete_notebook(nb.id).await.unwrap());
    assert!(db.notebook(nb.id).await.unwrap().is_none());
    let orphans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cell_outputs").fetch_one(db.pool()).await.unwrap();
    assert_eq!(orphans, 0, "outputs go with their notebook");
}

#[tokio::test]
async fn uploads_without_a_lab_do_not_collide_and_keep_their_outputs() {
    let (db, _t) = fresh_store().await;
    let ada = db.create_user(&new_user("ada@example.org"), Timestamp(1)).await.unwrap();
    let mut nb = notebook(&[("a", "1")]);
    nb.cells[0].outputs = vec![serde_json::json!({"output_type": "stream", "name": "stdout", "text": "x"})];
    nb.cells[0].execution_count = Some(7);
    let one = db.create_notebook(ada.id, None, &nb, Timestamp(2)).await.unwrap();
    let two = db.create_notebook(ada.id, None, &nb, Timestamp(3)).await.unwrap();
    assert_ne!(one.id, two.id);
    assert_eq!(db.notebook(two.id).await.unwrap().unwrap().notebook, nb);
}

#[tokio::test]
async fn a_step_is_recorded_once_per_user_and_lab() {
    let (db, _t) = fresh_store().await;
    let ada = db.create_user(&new_user("ada@example.org"), Timestamp(1)).await.unwrap();
    let bob = db.create_user(&new_user("bob@example.org"), Timestamp(1)).await.unwrap();
    assert!(db.record_step(ada.id, "intro", "check-fit", Timestamp(10)).await.unwrap());
    assert!(
        !db.record_step(ada.id, "intro", "check-fit", Timestamp(20)).await.unwrap(),
        "a second pass changes nothing"
    );
    assert!(db.record_step(ada.id, "fraud", "check-fit", Timestamp(30)).await.unwrap(), "same step id, other lab");
    let mine = db.progress(ada.id).await.unwrap();
    let seen: Vec<(&str, &str, i64)> = mine.iter().map(|s| (s.lab.as_str(), s.step.as_str(), s.passed_at.0)).collect();
    assert_eq!(seen, [("intro", "check-fit", 10), ("fraud", "check-fit", 30)]);
    assert!(db.progress(bob.id).await.unwrap().is_empty(), "progress is per user");
}

#[tokio::test]
async fn datasets_are_unique_by_name_per_owner_and_keep_their_content() {
    use flywheel_domain::dataset::{ColumnKind, ColumnSummary};
    use flywheel_domain::{DatasetId, DatasetName, DatasetRecord};
    let (db, _t) = fresh_store().await;
    let ada = db.create_user(&new_user("ada@example.org"), Timestamp(1)).await.unwrap();
    let bob = db.create_user(&new_user("bob@example.org"), Timestamp(1)).await.unwrap();
    let record = |owner, name: &str| DatasetRecord {
        id: DatasetId(uuid::Uuid::new_v4()),
        owner,
        name: DatasetName::parse(name).unwrap(),
        size_bytes: 8,
        rows: 1,
        columns: vec![ColumnSummary { name: "a".into(), kind: ColumnKind::Number, missing: 0 }],
        created_at: Timestamp(5),
    };
    let sales = record(ada.id, "sales.csv");
    db.create_dataset(&sales, "a\n1\n").await.unwrap();
    db.create_dataset(&record(ada.id, "b.csv"), "a\n2\n").await.unwrap();
    db.create_dataset(&record(bob.id, "sales.csv"), "a\n3\n").await.unwrap();
    assert!(
        matches!(db.create_dataset(&record(ada.id, "sales.csv"), "x").await, Err(StoreError::Conflict(_))),
        "a name is taken once per owner"
    );
    assert_eq!(db.dataset(sales.id).await.unwrap(), Some(sales.clone()));
    assert_eq!(db.dataset_content(sales.id).await.unwrap().as_deref(), Some("a\n1\n"));
    let names: Vec<String> = db.datasets(ada.id).await.unwrap().iter().map(|d| d.name.to_string()).collect();
    assert_eq!(names, ["b.csv", "sales.csv"]);
    assert!(db.delete_dataset(sales.id).await.unwrap());
    assert!(!db.delete_dataset(sales.id).await.unwrap());
    assert_eq!(db.dataset_content(sales.id).await.unwrap(), None);
    assert_eq!(db.datasets(bob.id).await.unwrap().len(), 1, "another owner's dataset stays");
}

#[tokio::test]
async fn workshops_teams_submissions_and_grades_round_trip() {
    use flywheel_domain::workshop::{
        Date, Grade, JoinCode, MemberRole, Rubric, Rubrics, Score, Submission, SubmissionKind, Team, Workshop,
    };
    use flywheel_domain::{SubmissionId, TeamId, WorkshopId};

    let (db, _t) = fresh_store().await;
    let ins = db.create_user(&new_user("ins@example.org"), Timestamp(1)).await.unwrap();
    let ada = db.create_user(&new_user("ada@example.org"), Timestamp(1)).await.unwrap();
    let bob = db.create_user(&new_user("bob@example.org"), Timestamp(1)).await.unwrap();
    let day = Date::parse("2099-03-02").unwrap();
    let rubric = Rubric::parse_lines("Question | 4 | one sentence").unwrap();
    let w = Workshop {
        id: WorkshopId(uuid::Uuid::new_v4()),
        owner: ins.id,
        title: "ML week".into(),
        days: [day; 3],
        labs: vec!["fraud".into()],
        join_code: JoinCode::from_random([1; 8]),
        join_code_expires_at: Timestamp(5000),
        team_size: 1,
        self_formed_teams: true,
        closes_at: Timestamp(9000),
        daily_model_submissions: 3,
        scoring_seed: u64::MAX - 7,
        rubrics: Rubrics { problem_statement: rubric.clone(), architecture: rubric },
        grades_released_at: None,
        created_at: Timestamp(10),
    };
    db.create_workshop(&w).await.unwrap();
    assert_eq!(db.workshop(w.id).await.unwrap().as_ref(), Some(&w), "every field, the seed's top bit too");
    assert_eq!(db.workshop_by_code(&w.join_code).await.unwrap().map(|x| x.id), Some(w.id));
    let clash = Workshop { id: WorkshopId(uuid::Uuid::new_v4()), ..w.clone() };
    assert!(matches!(db.create_workshop(&clash).await, Err(StoreError::Conflict("join code"))));
    assert_eq!(db.member(w.id, ins.id).await.unwrap().map(|m| m.role), Some(MemberRole::Instructor));

    assert!(db.add_member(w.id, ada.id, MemberRole::Participant, Timestamp(20)).await.unwrap());
    assert!(!db.add_member(w.id, ada.id, MemberRole::Participant, Timestamp(21)).await.unwrap());
    assert!(db.add_member(w.id, bob.id, MemberRole::Participant, Timestamp(22)).await.unwrap());
    assert_eq!(db.member_workshops(ada.id).await.unwrap().len(), 1);

    let team =
        Team { id: TeamId(uuid::Uuid::new_v4()), workshop: w.id, name: "Kestrel".into(), created_at: Timestamp(30) };
    db.create_team(&team).await.unwrap();
    let twin = Team { id: TeamId(uuid::Uuid::new_v4()), ..team.clone() };
    assert!(matches!(db.create_team(&twin).await, Err(StoreError::Conflict("team name"))));
    assert!(db.set_team(w.id, ada.id, Some(team.id), Some(1)).await.unwrap());
    assert!(db.set_team(w.id, ada.id, Some(team.id), Some(1)).await.unwrap(), "moving into one's own team");
    assert!(!db.set_team(w.id, bob.id, Some(team.id), Some(1)).await.unwrap(), "the team is full");
    assert!(db.set_team(w.id, bob.id, Some(team.id), None).await.unwrap(), "no limit for instructors");
    let members = db.members(w.id).await.unwrap();
    assert_eq!(members.iter().filter(|m| m.team == Some(team.id)).count(), 2);

    let model = Submission {
        id: SubmissionId(uuid::Uuid::new_v4()),
        workshop: w.id,
        team: team.id,
        kind: SubmissionKind::Model,
        lab: Some("fraud".into()),
        submitted_by: ada.id,
        submitted_at: Timestamp(100),
        size_bytes: 4,
        public_score: Some(0.625),
        private_score: Some(0.5),
    };
    // A write-up (no scores) first: a NULL score must not spoil the next insert's float.
    let essay = Submission {
        id: SubmissionId(uuid::Uuid::new_v4()),
        kind: SubmissionKind::ProblemStatement,
        lab: None,
        public_score: None,
        private_score: None,
        submitted_at: Timestamp(101),
        ..model.clone()
    };
    db.create_submission(&essay, "## Question", None).await.unwrap();
    assert_eq!(db.create_submission(&model, "{\"m\"}", Some("k1")).await.unwrap(), (model.clone(), true));
    let retry = Submission { id: SubmissionId(uuid::Uuid::new_v4()), submitted_at: Timestamp(102), ..model.clone() };
    assert_eq!(db.create_submission(&retry, "{\"m\"}", Some("k1")).await.unwrap(), (model.clone(), false));
    assert_eq!(db.submission_by_key(team.id, "k1").await.unwrap(), Some(model.clone()));
    assert_eq!(db.submissions(w.id).await.unwrap(), [model.clone(), essay.clone()]);
    assert_eq!(db.submission(essay.id).await.unwrap(), Some((essay.clone(), "## Question".into())));
    assert_eq!(db.count_submissions_since(team.id, SubmissionKind::Model, Timestamp(100)).await.unwrap(), 1);
    assert_eq!(db.count_submissions_since(team.id, SubmissionKind::Model, Timestamp(101)).await.unwrap(), 0);

    let grade = Grade {
        submission: essay.id,
        scores: vec![Score { criterion: "Question".into(), points: 3, comment: "add the number".into() }],
        graded_by: ins.id,
        graded_at: Timestamp(200),
    };
    db.set_grade(&grade).await.unwrap();
    let regrade =
        Grade { scores: vec![Score { points: 4, ..grade.scores[0].clone() }], graded_at: Timestamp(201), ..grade };
    db.set_grade(&regrade).await.unwrap();
    assert_eq!(db.grades(w.id).await.unwrap(), [regrade]);

    assert!(db.update_workshop(&w).await.unwrap(), "an update with a NULL time, then one with a time");
    // A notebook shared with the team, then not; a member moved out of any team.
    let nb =
        db.create_notebook(ada.id, None, &Notebook { title: "T".into(), cells: vec![] }, Timestamp(400)).await.unwrap();
    assert!(db.set_notebook_team(nb.id, Some(team.id)).await.unwrap());
    assert_eq!(db.notebook(nb.id).await.unwrap().unwrap().team, Some(team.id));
    assert_eq!(db.team_notebooks(team.id).await.unwrap().iter().map(|n| n.id).collect::<Vec<_>>(), [nb.id]);
    assert!(db.set_notebook_team(nb.id, None).await.unwrap());
    assert!(db.team_notebooks(team.id).await.unwrap().is_empty());
    assert!(db.set_team(w.id, bob.id, None, None).await.unwrap());
    assert_eq!(db.member(w.id, bob.id).await.unwrap().unwrap().team, None);
    assert_eq!(db.team(team.id).await.unwrap(), Some(team.clone()));

    let updated = Workshop { title: "ML week 2".into(), grades_released_at: Some(Timestamp(300)), ..w.clone() };
    assert!(db.update_workshop(&updated).await.unwrap());
    assert_eq!(db.workshop(w.id).await.unwrap(), Some(updated));
}
