//! Endpoints (Day 3) through the API, on models trained by the real pool:
//! deploy two variants, invoke them as JSON instances, records and CSV,
//! traffic split by weight and by header, ground truth giving each variant's
//! live accuracy, weights changed live, captures downloaded; bad requests
//! refused with what is valid and nothing changed; another participant
//! sees nothing; a second server on the same database serves the same
//! endpoint and follows a weight change.

use std::time::Duration;

use flywheel_domain::Role;
use flywheel_tests::{Api, PASSWORD, Page, TestApp, TwoTeams, error_message, eventually, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};

const CREDIT: &str = "builtin:german_credit";

async fn trained(api: &Api, token: &str, body: Value) -> String {
    let (status, job) = api.json(Method::POST, "/api/v1/training-jobs", Some(body), token).await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    eventually(&format!("job {id} completes"), Duration::from_secs(180), || async {
        let (_, j) = api.json(Method::GET, &format!("/api/v1/training-jobs/{id}"), None, token).await;
        match j["state"].as_str() {
            Some("completed") => Ok(()),
            Some("failed" | "cancelled") => panic!("{j}"),
            _ => Err(j.to_string()),
        }
    })
    .await;
    id
}

/// A boosted-trees and a linear-learner model of German credit, trained in the pool.
async fn two_models(app: &TestApp, token: &str) -> (String, String) {
    let api = app.api();
    let data = json!({"train": CREDIT, "target": "creditability"});
    let trees = trained(&api, token, json!({"algorithm": "gradient_boosted_trees", "hyperparameters": {"iterations": 10, "max_depth": 3}, "data": data})).await;
    let linear = trained(&api, token, json!({"algorithm": "linear_learner", "data": data})).await;
    (trees, linear)
}

/// German credit as the pool trained on it (every text column but the
/// target one-hot encoded).
struct Credit {
    /// The feature columns.
    columns: Vec<String>,
    /// The rows, in those columns.
    rows: Vec<Vec<f64>>,
    /// Each row's class.
    truth: Vec<String>,
    /// Each row as a record of the raw table (categories as text).
    records: Vec<serde_json::Map<String, Value>>,
}

fn credit_rows() -> Credit {
    let raw = flywheel_ml::datasets::german_credit();
    let numeric = raw.numeric_columns();
    let mut encoded = raw.clone();
    for c in raw.column_names() {
        if !numeric.contains(&c) && c != "creditability" {
            encoded = encoded.one_hot(&c).unwrap();
        }
    }
    let columns: Vec<String> = encoded.numeric_columns().into_iter().filter(|c| c != "creditability").collect();
    let x = encoded.matrix(&columns).unwrap();
    let rows = (0..x.nrows()).map(|i| x.row(i).unwrap()).collect();
    let labels = raw.labels("creditability").unwrap();
    let truth = (0..labels.len()).map(|i| labels.get(i).unwrap().to_owned()).collect();
    let mut records = vec![serde_json::Map::new(); raw.nrows()];
    for c in raw.column_names().into_iter().filter(|c| c != "creditability") {
        let values: Vec<Value> = if numeric.contains(&c) {
            raw.numbers(&c).unwrap().to_vec().into_iter().map(|v| json!(v)).collect()
        } else {
            raw.texts(&c).unwrap().into_iter().map(Value::String).collect()
        };
        for (record, v) in records.iter_mut().zip(values) {
            record.insert(c.clone(), v);
        }
    }
    Credit { columns, rows, truth, records }
}

/// POSTs a raw body; the status, the served variant header and the JSON.
async fn invoke_raw(
    base: &str,
    token: &str,
    name: &str,
    body: Vec<u8>,
    content_type: &str,
    variant: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/endpoints/{name}/invocations"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    if let Some(v) = variant {
        req = req.header("x-flywheel-variant", v);
    }
    let r = req.send().await.expect("invocation");
    let status = r.status().as_u16();
    let served = r.headers().get("x-flywheel-variant").map(|v| v.to_str().unwrap().to_owned());
    let text = r.text().await.unwrap();
    (status, served, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn invoke(
    base: &str,
    token: &str,
    name: &str,
    body: Value,
    variant: Option<&str>,
) -> (u16, Option<String>, Value) {
    invoke_raw(base, token, name, body.to_string().into_bytes(), "application/json", variant).await
}

#[tokio::test]
async fn two_variants_share_traffic_by_weight_and_ground_truth_gives_each_its_live_accuracy() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, linear) = two_models(&app, &ada).await;
    let Credit { columns, rows, truth, records } = credit_rows();

    let deploy = json!({"name": "credit", "capture_percent": 100, "variants": [
        {"name": "trees", "model": {"training_job": trees}, "weight": 2},
        {"name": "linear", "model": {"training_job": linear}, "weight": 1},
    ]});
    let (status, endpoint) = api.json(Method::POST, "/api/v1/endpoints", Some(deploy.clone()), &ada).await;
    assert_eq!(status, 201, "{endpoint}");
    assert_eq!(endpoint["state"], "in_service");
    assert_eq!(endpoint["invocation_url"], "/endpoints/credit/invocations");
    assert_eq!(endpoint["columns"], json!(columns), "the boosted trees record their (one-hot encoded) columns");
    assert_eq!(endpoint["variants"][0]["model_kind"], "GradientBoostedTreesModel");
    assert_eq!(endpoint["variants"][1]["model_kind"], "LinearClassifier");
    assert!((endpoint["variants"][0]["traffic_percent"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);

    // 300 single-row requests: about two thirds to the trees; each row's
    // truth posted back; the server's accuracy per variant is ours.
    let mut right = std::collections::HashMap::<String, (u32, u32)>::new();
    for (row, label) in rows.iter().zip(&truth).take(300) {
        let (status, served, answer) = invoke(&app.base, &ada, "credit", json!({"instances": [row]}), None).await;
        assert_eq!(status, 200, "{answer}");
        let variant = answer["variant"].as_str().unwrap().to_owned();
        assert_eq!(served.as_deref(), Some(variant.as_str()), "the header says who served it");
        assert_eq!(answer["captured"], true);
        let p = &answer["predictions"][0];
        let score = p["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{p}");
        let entry = right.entry(variant).or_default();
        entry.0 += 1;
        entry.1 += u32::from(p["class"] == label.as_str());
        let posted = json!({"inference_id": p["inference_id"], "label": label});
        let (status, body) = api.json(Method::POST, "/endpoints/credit/ground-truth", Some(posted), &ada).await;
        assert_eq!(status, 204, "{body}");
    }
    let trees_served = right["trees"].0;
    assert!((160..=240).contains(&trees_served), "2 : 1 of 300 is 200 ± 40 (5 standard deviations): {right:?}");

    // Traffic over time: every captured row is in an interval, and each
    // variant's requests add up to what it served (a request is told from
    // another by its time and serving time, so a rare twin merges).
    let (status, traffic) = api.json(Method::GET, "/api/v1/endpoints/credit/traffic", None, &ada).await;
    assert_eq!(status, 200, "{traffic}");
    assert_eq!(traffic["variants"], json!(["trees", "linear"]));
    let step = traffic["step_seconds"].as_f64().unwrap();
    let intervals = traffic["intervals"].as_array().unwrap();
    let total = |f: &dyn Fn(&Value) -> f64| intervals.iter().map(f).sum::<f64>() * step;
    assert!((total(&|i| i["predictions_per_second"].as_f64().unwrap()) - 300.0).abs() < 1e-6, "{traffic}");
    for (v, name) in ["trees", "linear"].iter().enumerate() {
        let requests = total(&|i| i["requests_per_second"][v].as_f64().unwrap());
        let served = f64::from(right[*name].0);
        assert!(requests <= served + 1e-6 && requests >= 0.97 * served, "{name}: {requests} of {served}: {traffic}");
    }
    assert!(intervals.iter().any(|i| i["latency_ms"][2].as_f64().is_some_and(|p99| p99 >= 0.0)), "{traffic}");
    for v in 0..2 {
        let served = |i: &&Value| i["latency_ms_by_variant"][v][0].as_f64().is_some_and(|p50| p50 > 0.0);
        assert!(intervals.iter().any(|i| served(&i)), "each variant's latency over time: {traffic}");
    }

    let (_, endpoint) = api.json(Method::GET, "/api/v1/endpoints/credit", None, &ada).await;
    for variant in endpoint["variants"].as_array().unwrap() {
        let name = variant["name"].as_str().unwrap();
        let (served, correct) = right[name];
        let m = &variant["metrics"];
        assert_eq!(m["captured"], served, "{m}");
        assert_eq!(m["labelled"], served, "{m}");
        assert!((m["accuracy"].as_f64().unwrap() - f64::from(correct) / f64::from(served)).abs() < 1e-12, "{m}");
        let auc = m["roc_auc"].as_f64().unwrap();
        assert!(auc > 0.6 && auc <= 1.0, "{name} learned something: {m}");
        assert!(m["latency_p50_ms"].as_f64().unwrap() >= 0.0, "{m}");
    }

    // The header picks a variant; records and CSV give the same score as instances.
    let row = &rows[0];
    let (_, served, by_instances) =
        invoke(&app.base, &ada, "credit", json!({"instances": [row]}), Some("linear")).await;
    assert_eq!(served.as_deref(), Some("linear"));
    // A record of the raw row: its categories are one-hot encoded as in training.
    let (status, _, by_record) =
        invoke(&app.base, &ada, "credit", json!({"records": [records[0]]}), Some("linear")).await;
    assert_eq!(status, 200, "{by_record}");
    assert_eq!(by_record["predictions"][0]["score"], by_instances["predictions"][0]["score"]);
    let named: serde_json::Map<String, Value> = columns.iter().zip(row).map(|(c, v)| (c.clone(), json!(v))).collect();
    let (_, _, by_columns) = invoke(&app.base, &ada, "credit", json!({"records": [named]}), Some("linear")).await;
    assert_eq!(by_columns["predictions"][0]["score"], by_instances["predictions"][0]["score"]);
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let csv = format!("{}\n{}\n", quoted.join(","), row.iter().map(f64::to_string).collect::<Vec<_>>().join(","));
    let (status, _, by_csv) = invoke_raw(&app.base, &ada, "credit", csv.into_bytes(), "text/csv", Some("linear")).await;
    assert_eq!(status, 200, "{by_csv}");
    assert_eq!(by_csv["predictions"][0]["score"], by_instances["predictions"][0]["score"]);

    // Weights change live: with the trees at 0, every request goes to the linear model.
    let (status, changed) =
        api.json(Method::PATCH, "/api/v1/endpoints/credit", Some(json!({"weights": {"trees": 0}})), &ada).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["variants"][1]["traffic_percent"], 100.0);
    for row in rows.iter().skip(300).take(20) {
        let (_, served, _) = invoke(&app.base, &ada, "credit", json!({"instances": [row]}), None).await;
        assert_eq!(served.as_deref(), Some("linear"));
    }

    // Captures: JSON lines and CSV with the columns' names.
    let (status, lines) = api.get_text(&ada, "/api/v1/endpoints/credit/captures?limit=100000").await;
    assert_eq!(status, 200);
    assert_eq!(lines.lines().count(), 300 + 4 + 20, "every request was captured");
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["features"].as_array().unwrap().len(), columns.len());
    let (status, csv) = api.get_text(&ada, "/api/v1/endpoints/credit/captures?format=csv&limit=5").await;
    assert_eq!(status, 200);
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("inference_id,variant,at,score,class,ground_truth,latency_us,"), "{header}");
    assert!(header.ends_with(columns.last().unwrap().as_str()), "{header}");
    assert_eq!(csv.lines().count(), 6);

    // Another participant sees none of it.
    let bob = app.account("bob@example.org", Role::Participant).await;
    let (status, _) = api.json(Method::GET, "/api/v1/endpoints/credit", None, &bob).await;
    assert_eq!(status, 404);
    let (status, _, _) = invoke(&app.base, &bob, "credit", json!({"instances": [row]}), None).await;
    assert_eq!(status, 404);
    let (_, list) = api.json(Method::GET, "/api/v1/endpoints", None, &bob).await;
    assert_eq!(list, json!([]));
    let (_, list) = api.json(Method::GET, "/api/v1/endpoints", None, &ada).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // The name is taken; deleting frees it.
    let (status, body) = api.json(Method::POST, "/api/v1/endpoints", Some(deploy.clone()), &ada).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = api.json(Method::DELETE, "/api/v1/endpoints/credit", None, &ada).await;
    assert_eq!(status, 204);
    let (status, _, _) = invoke(&app.base, &ada, "credit", json!({"instances": [row]}), None).await;
    assert_eq!(status, 404);
    let (status, body) = api.json(Method::POST, "/api/v1/endpoints", Some(deploy), &ada).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn bad_requests_say_what_is_valid_and_change_nothing() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, linear) = two_models(&app, &ada).await;
    let clusters = trained(
        &api,
        &ada,
        json!({"algorithm": "kmeans", "hyperparameters": {"k": 2, "runs": 1}, "data": {"train": CREDIT}}),
    )
    .await;
    let variant =
        |name: &str, job: &str, weight: f64| json!({"name": name, "model": {"training_job": job}, "weight": weight});
    let deploy = |name: &str, variants: Value| json!({"name": name, "variants": variants});
    let refused = |status: u16, body: &Value, needle: &str| {
        let message = error_message(body);
        assert_eq!(status, 422, "{body}");
        assert!(message.contains(needle), "{needle:?} in {message:?}");
    };

    let (s, b) = api
        .json(Method::POST, "/api/v1/endpoints", Some(deploy("Credit", json!([variant("a", &trees, 1.0)]))), &ada)
        .await;
    refused(s, &b, "lower-case");
    let (s, b) = api
        .json(
            Method::POST,
            "/api/v1/endpoints",
            Some(deploy("c", json!([variant("a", &trees, 0.0), variant("b", &linear, 0.0)]))),
            &ada,
        )
        .await;
    refused(s, &b, "add up to 0");
    let (s, b) = api
        .json(Method::POST, "/api/v1/endpoints", Some(deploy("c", json!([variant("a", &clusters, 1.0)]))), &ada)
        .await;
    refused(s, &b, "LinearClassifier, GradientBoostedTreesModel");
    let (s, b) = api
        .json(Method::POST, "/api/v1/endpoints", Some(deploy("c", json!([variant("a", "not-a-job", 1.0)]))), &ada)
        .await;
    refused(s, &b, "not a training job id");
    let (_, list) = api.json(Method::GET, "/api/v1/endpoints", None, &ada).await;
    assert_eq!(list, json!([]), "nothing was deployed");

    let (s, b) = api
        .json(
            Method::POST,
            "/api/v1/endpoints",
            Some(deploy("c", json!([variant("a", &trees, 1.0), variant("b", &linear, 1.0)]))),
            &ada,
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, _, b) = invoke(&app.base, &ada, "c", json!({"instances": [[1, 2, 3]]}), None).await;
    refused(s, &b, "takes 61 features: ");
    let (s, _, b) = invoke(&app.base, &ada, "c", json!({"instances": [vec!["x"; 61]]}), None).await;
    refused(s, &b, "instances[0][0] is \"x\", not a number");
    let (s, _, b) = invoke(&app.base, &ada, "c", json!({"records": [{"age_in_years": 30}]}), None).await;
    refused(s, &b, "missing columns");
    let (s, _, b) = invoke_raw(&app.base, &ada, "c", Vec::new(), "application/json", None).await;
    refused(s, &b, "empty");
    let (s, _, b) = invoke(&app.base, &ada, "c", json!({"instances": [vec![0; 61]]}), Some("nope")).await;
    refused(s, &b, "its variants are a, b");
    let (s, _, _) = invoke_raw(&app.base, &ada, "c", vec![b' '; 3 * 1024 * 1024], "application/json", None).await;
    assert_eq!(s, 413, "a body over the server's limit");
    let (s, _, _) = invoke(&app.base, &ada, "missing", json!({"instances": [vec![0; 61]]}), None).await;
    assert_eq!(s, 404);
    let (s, b) = api
        .json(
            Method::POST,
            "/endpoints/c/ground-truth",
            Some(json!({"inference_id": "00000000-0000-0000-0000-000000000000", "label": 1})),
            &ada,
        )
        .await;
    assert_eq!(s, 404, "{b}");
    assert!(error_message(&b).contains("captured no prediction"), "{b}");

    let (s, b) = api.json(Method::PATCH, "/api/v1/endpoints/c", Some(json!({"weights": {"a": 0, "b": 0}})), &ada).await;
    refused(s, &b, "add up to 0");
    let (s, b) = api.json(Method::PATCH, "/api/v1/endpoints/c", Some(json!({"weights": {"z": 1}})), &ada).await;
    refused(s, &b, "no variant \"z\"");
    let (_, endpoint) = api.json(Method::GET, "/api/v1/endpoints/c", None, &ada).await;
    assert_eq!(endpoint["variants"][0]["weight"], 1.0, "the refused changes changed nothing");
    assert_eq!(endpoint["variants"][1]["weight"], 1.0);
    assert_eq!(endpoint["variants"][0]["metrics"]["captured"], 0, "refused invocations capture nothing");

    // Each refused invocation is on the endpoint's record of failed
    // requests (the 413 never reached it; the unknown endpoint has none)...
    let (_, failed) = api.json(Method::GET, "/api/v1/endpoints/c/errors", None, &ada).await;
    let failed = failed.as_array().unwrap().clone();
    assert_eq!(failed.len(), 5, "{failed:?}");
    assert_eq!(failed[0]["status"], 422);
    assert!(failed[0]["message"].as_str().unwrap().contains("its variants are a, b"), "newest first: {failed:?}");
    assert!(failed.iter().all(|e| e["variant"].is_null()), "all refused before a variant was drawn: {failed:?}");
    // ...which the errors alarm counts: 5 failed of 20 is 25 %.
    for _ in 0..15 {
        assert_eq!(invoke(&app.base, &ada, "c", json!({"instances": [vec![0; 61]]}), None).await.0, 200);
    }
    let (_, traffic) = api.json(Method::GET, "/api/v1/endpoints/c/traffic", None, &ada).await;
    let step = traffic["step_seconds"].as_f64().unwrap();
    let errors: f64 =
        traffic["intervals"].as_array().unwrap().iter().map(|i| i["errors_per_second"].as_f64().unwrap() * step).sum();
    assert!((errors - 5.0).abs() < 1e-9, "{traffic}");
    let (s, b) =
        api.json(Method::PUT, "/api/v1/endpoints/c/monitor", Some(json!({"max_error_percent": 100})), &ada).await;
    refused(s, &b, "max_error_percent is at least 0 and below 100");
    for (bar, expected) in
        [(20, json!(["errors: 5 of 20 requests failed in the last 5 min (25.0 % > 20 %)"])), (30, json!([]))]
    {
        let (s, b) =
            api.json(Method::PUT, "/api/v1/endpoints/c/monitor", Some(json!({"max_error_percent": bar})), &ada).await;
        assert_eq!(s, 200, "{b}");
        let (_, checked) = api.json(Method::POST, "/api/v1/endpoints/c/monitor/check", None, &ada).await;
        assert_eq!(checked["alarms"], expected, "{checked}");
    }
}

#[tokio::test]
async fn a_second_server_on_the_same_database_serves_the_endpoint_and_follows_its_weights() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, linear) = two_models(&app, &ada).await;
    let deploy = json!({"name": "credit", "variants": [
        {"name": "trees", "model": {"training_job": trees}},
        {"name": "linear", "model": {"training_job": linear}},
    ]});
    let (status, body) = api.json(Method::POST, "/api/v1/endpoints", Some(deploy), &ada).await;
    assert_eq!(status, 201, "{body}");
    let (other, stop) = app.another_server().await;
    let row = json!({"instances": [vec![1; 61]]});
    let (status, served, _) = invoke(&other, &ada, "credit", row.clone(), Some("trees")).await;
    assert_eq!((status, served.as_deref()), (200, Some("trees")));

    let (status, _) =
        api.json(Method::PATCH, "/api/v1/endpoints/credit", Some(json!({"weights": {"linear": 0}})), &ada).await;
    assert_eq!(status, 200);
    eventually("the other server sends everything to the trees", Duration::from_secs(10), || async {
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.push(invoke(&other, &ada, "credit", row.clone(), None).await.1.unwrap_or_default());
        }
        if seen.iter().all(|v| v == "trees") { Ok(()) } else { Err(format!("{seen:?}")) }
    })
    .await;
    let _ = stop.send(());
}

#[tokio::test]
async fn a_shadow_answers_after_production_its_report_compares_them_and_promotion_rolls_back() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, linear) = two_models(&app, &ada).await;
    let Credit { rows, truth, .. } = credit_rows();
    let deploy = json!({"name": "credit", "variants": [{"name": "trees", "model": {"training_job": trees}}],
        "shadow": {"variant": {"name": "linear", "model": {"training_job": linear}}, "sample_percent": 100}});
    let (status, endpoint) = api.json(Method::POST, "/api/v1/endpoints", Some(deploy), &ada).await;
    assert_eq!(status, 201, "{endpoint}");
    assert_eq!((endpoint["shadow"]["name"].as_str(), endpoint["shadow_percent"].as_u64()), (Some("linear"), Some(100)));

    // The shadow's own model, loaded here, says what it should have answered.
    let (_, json) = api.get_text(&ada, &format!("/api/v1/training-jobs/{linear}/artifacts/model.json")).await;
    let shadow_model = flywheel_ml::scoring::SubmittedModel::from_json(&json).unwrap();
    let x = flywheel_ml::Matrix::from_rows(&rows[..100]).unwrap();
    let (shadow_scores, shadow_classes) = (shadow_model.predict_proba(&x).unwrap(), shadow_model.predict(&x).unwrap());
    let (mut agree, mut production_right, mut shadow_right) = (0, 0, 0);
    let mut production_scores = Vec::new();
    for (i, (row, label)) in rows.iter().zip(&truth).take(100).enumerate() {
        let (status, served, answer) = invoke(&app.base, &ada, "credit", json!({"instances": [row]}), None).await;
        assert_eq!((status, served.as_deref()), (200, Some("trees")), "the shadow never answers: {answer}");
        let p = &answer["predictions"][0];
        let class = p["class"].as_str().unwrap();
        production_scores.push(p["score"].as_f64().unwrap());
        agree += usize::from(class == shadow_classes.get(i).unwrap());
        production_right += usize::from(class == label);
        shadow_right += usize::from(shadow_classes.get(i).unwrap() == label);
        let posted = json!({"inference_id": p["inference_id"], "label": label});
        assert_eq!(api.json(Method::POST, "/endpoints/credit/ground-truth", Some(posted), &ada).await.0, 204);
    }
    let report = eventually("the shadow answered all 100", Duration::from_secs(20), || async {
        let (_, r) = api.json(Method::GET, "/api/v1/endpoints/credit/shadow-report", None, &ada).await;
        if r["compared"] == 100 { Ok(r) } else { Err(r.to_string()) }
    })
    .await;
    assert_eq!((report["variant"].as_str(), report["errors"].as_u64()), (Some("linear"), Some(0)), "{report}");
    assert!((report["agreement"].as_f64().unwrap() - agree as f64 / 100.0).abs() < 1e-12, "{agree}: {report}");
    assert!((report["production"]["accuracy"].as_f64().unwrap() - production_right as f64 / 100.0).abs() < 1e-12);
    assert!((report["shadow"]["accuracy"].as_f64().unwrap() - shadow_right as f64 / 100.0).abs() < 1e-12);
    let expected =
        flywheel_ml::metrics::pearson(&flywheel_ml::Vector::from_vec(production_scores), &shadow_scores).unwrap();
    assert!((report["score_correlation"].as_f64().unwrap() - expected).abs() < 1e-9, "{expected}: {report}");
    assert!(expected > 0.0, "two models of the same data agree in direction: {expected}");
    assert_eq!(report["shadow"]["labelled"], 100);

    // A shadow cannot take a production variant's name.
    let clash = json!({"variant": {"name": "trees", "model": {"training_job": linear}}, "sample_percent": 10});
    let (status, body) = api.json(Method::POST, "/api/v1/endpoints/credit/shadow", Some(clash), &ada).await;
    assert_eq!(status, 422, "{body}");

    // Promote: the shadow takes all the traffic; roll back with the old weights.
    let (status, promoted) = api.json(Method::POST, "/api/v1/endpoints/credit/shadow/promote", None, &ada).await;
    assert_eq!(status, 200, "{promoted}");
    assert_eq!(promoted["shadow"], Value::Null);
    assert_eq!(promoted["variants"][1]["name"], "linear");
    assert_eq!(promoted["variants"][1]["traffic_percent"], 100.0);
    for row in rows.iter().take(5) {
        assert_eq!(
            invoke(&app.base, &ada, "credit", json!({"instances": [row]}), None).await.1.as_deref(),
            Some("linear")
        );
    }
    // A monitor whose latency alarm must fire rolls the promotion back on its own.
    let (status, body) = api.json(Method::POST, "/api/v1/endpoints/credit/monitor/check", None, &ada).await;
    assert_eq!(status, 422, "no monitor yet: {body}");
    let strict = json!({"latency_p95_ms": 0.000001, "auto_rollback": true});
    let (status, monitor) = api.json(Method::PUT, "/api/v1/endpoints/credit/monitor", Some(strict), &ada).await;
    assert_eq!(status, 200, "{monitor}");
    assert_eq!(
        (monitor["next_at"].clone(), monitor["rollback_weights"].clone()),
        (Value::Null, json!([["trees", 1.0]]))
    );
    let (status, checked) = api.json(Method::POST, "/api/v1/endpoints/credit/monitor/check", None, &ada).await;
    assert_eq!(status, 200, "{checked}");
    let alarms: Vec<&str> = checked["alarms"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(alarms.len(), 2, "both variants served above 1 ns: {alarms:?}");
    assert!(
        alarms[0].starts_with("latency: variant trees p95 ") && alarms[1].starts_with("latency: variant linear p95 ")
    );
    assert_eq!(checked["rollback_weights"], json!([]), "rolled back once: nothing left to roll back to");
    let (_, after) = api.json(Method::GET, "/api/v1/endpoints/credit", None, &ada).await;
    assert_eq!(
        (after["variants"][0]["weight"].as_f64(), after["variants"][1]["weight"].as_f64()),
        (Some(1.0), Some(0.0))
    );
    let bad = json!({"every_minutes": 5});
    let (status, body) = api.json(Method::PUT, "/api/v1/endpoints/credit/monitor", Some(bad), &ada).await;
    assert_eq!(status, 422, "a monitor that watches nothing: {body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("watch something"), "{body}");
    for row in rows.iter().take(5) {
        assert_eq!(
            invoke(&app.base, &ada, "credit", json!({"instances": [row]}), None).await.1.as_deref(),
            Some("trees")
        );
    }
    let (status, body) = api.json(Method::POST, "/api/v1/endpoints/credit/shadow/promote", None, &ada).await;
    assert_eq!(status, 422, "nothing left to promote: {body}");

    // The audit trail: who did what, in order.
    let (_, me) = api.json(Method::GET, "/api/v1/me", None, &ada).await;
    let (_, events) = api.json(Method::GET, "/api/v1/endpoints/credit/events", None, &ada).await;
    let messages: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(messages.len(), 7, "{messages:?}");
    assert!(messages[0].starts_with("deployed: trees (GradientBoostedTreesModel"), "{messages:?}");
    assert!(
        messages[0].ends_with(") on 100 % of requests") && messages[0].contains("; shadow linear (LinearClassifier")
    );
    assert!(messages[1].starts_with("baseline: training data of job"), "{messages:?}");
    assert!(messages[2].starts_with("shadow linear promoted"), "{messages:?}");
    assert_eq!(messages[3], "monitor: p95 latency > 0.000001 ms (on demand, automatic rollback)");
    assert!(messages[4].starts_with("alarm: latency: variant trees") && messages[5].starts_with("alarm: latency"));
    assert_eq!(messages[6..], ["automatic rollback: weights back to trees 1, linear 0"]);
    assert!(events.as_array().unwrap().iter().all(|e| e["actor"] == me["id"]));
}

#[tokio::test]
async fn drift_against_the_training_data_finds_the_columns_that_shifted() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, _) = two_models(&app, &ada).await;
    let Credit { records, .. } = credit_rows();
    let deploy = json!({"name": "credit", "variants": [{"name": "trees", "model": {"training_job": trees}}]});
    assert_eq!(api.json(Method::POST, "/api/v1/endpoints", Some(deploy), &ada).await.0, 201);
    let (status, body) = api.json(Method::GET, "/api/v1/endpoints/credit/drift", None, &ada).await;
    assert_eq!(status, 422, "nothing captured yet: {body}");

    // Rows the model was trained on: no drift.
    for record in records.iter().take(200) {
        assert_eq!(invoke(&app.base, &ada, "credit", json!({"records": [record]}), None).await.0, 200);
    }
    let (status, calm) = api.json(Method::GET, "/api/v1/endpoints/credit/drift?window=200", None, &ada).await;
    assert_eq!(status, 200, "{calm}");
    assert_eq!(calm["baseline"]["rows"], 1000, "German credit's 1,000 training rows: {}", calm["baseline"]);
    assert!(calm["baseline"]["source"].as_str().unwrap().contains("builtin:german_credit"));
    assert_eq!(calm["current_rows"], 200);
    assert_eq!(calm["dataset_drift"], false);
    let drifted = |report: &Value| -> Vec<String> {
        report["columns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["drifted"] == true)
            .map(|c| c["column"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!drifted(&calm).contains(&"credit_amount".to_owned()), "{calm}");

    // Amounts tripled and durations two years longer: those columns drift.
    for record in records.iter().skip(200).take(200) {
        let mut shifted = record.clone();
        shifted["credit_amount"] = json!(record["credit_amount"].as_f64().unwrap() * 3.0);
        shifted["duration_in_month"] = json!(record["duration_in_month"].as_f64().unwrap() + 24.0);
        assert_eq!(invoke(&app.base, &ada, "credit", json!({"records": [shifted]}), None).await.0, 200);
    }
    let (_, moved) = api.json(Method::GET, "/api/v1/endpoints/credit/drift?window=200", None, &ada).await;
    let names = drifted(&moved);
    assert!(names.contains(&"credit_amount".to_owned()) && names.contains(&"duration_in_month".to_owned()), "{moved}");
    let amount = moved["columns"].as_array().unwrap().iter().find(|c| c["column"] == "credit_amount").unwrap();
    assert_eq!(
        (amount["method"].as_str(), amount["psi_band"].as_str()),
        (Some("K-S p_value"), Some("major")),
        "{amount}"
    );
    assert!(amount["statistic"].as_f64().unwrap() < 0.05);
    assert_eq!(moved["dataset_drift"], false, "2 of 61 columns is not half: {}", moved["drifted_share"]);

    // The monitor's drift alarm names the shifted columns (drifted, with a major PSI).
    let watch = json!({"drift": true, "every_minutes": 5});
    let (status, monitor) = api.json(Method::PUT, "/api/v1/endpoints/credit/monitor", Some(watch), &ada).await;
    assert_eq!(status, 200, "{monitor}");
    assert!(monitor["next_at"].as_i64().is_some(), "scheduled: {monitor}");
    // The schedule's first check runs within the server's 10 s tick.
    let checked = eventually("the scheduled check", Duration::from_secs(30), || async {
        let (_, m) = api.json(Method::GET, "/api/v1/endpoints/credit/monitor", None, &ada).await;
        if m["checked_at"].is_i64() { Ok(m) } else { Err(m.to_string()) }
    })
    .await;
    assert!(checked["next_at"].as_i64().unwrap() >= checked["checked_at"].as_i64().unwrap() + 4 * 60_000, "{checked}");
    let alarms = checked["alarms"].as_array().unwrap();
    assert_eq!(alarms.len(), 1, "{checked}");
    let alarm = alarms[0].as_str().unwrap();
    assert!(alarm.starts_with("drift: ") && alarm.contains("credit_amount ("), "{alarm}");

    // The shifted captures as the baseline: compared with themselves, nothing drifts.
    let (status, baseline) =
        api.json(Method::PUT, "/api/v1/endpoints/credit/baseline", Some(json!({"captures": 200})), &ada).await;
    assert_eq!((status, baseline["rows"].as_u64()), (200, Some(200)), "{baseline}");
    let (_, same) = api.json(Method::GET, "/api/v1/endpoints/credit/drift?window=200", None, &ada).await;
    assert_eq!(same["drifted_share"], 0.0, "{same}");

    // An uploaded CSV baseline (raw columns, encoded as invocations are).
    let csv =
        flywheel_ml::datasets::german_credit().head(50).drop(&["creditability"]).unwrap().to_csv_string().unwrap();
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/endpoints/credit/baseline", app.base))
        .bearer_auth(&ada)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["rows"], 50);
    let (status, body) = api.json(Method::PUT, "/api/v1/endpoints/credit/baseline", Some(json!({})), &ada).await;
    assert_eq!(status, 422, "{body}");

    let (_, events) = api.json(Method::GET, "/api/v1/endpoints/credit/events", None, &ada).await;
    let messages: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert!(messages[1].starts_with("baseline: training data of job"), "{messages:?}");
    assert!(
        messages[2].starts_with("monitor: drift (major PSI ≥ 0.25) (every 5 min")
            && messages[3].starts_with("alarm: drift: ")
    );
    assert_eq!(events[3]["actor"], Value::Null, "the server raised the scheduled alarm: {}", events[3]);
    assert_eq!(&messages[4..], ["baseline: 200 captured requests, 200 rows", "baseline: 50 uploaded rows, 50 rows"]);
}

#[tokio::test]
async fn an_endpoint_key_opens_its_endpoint_only_and_nothing_once_revoked() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, _) = two_models(&app, &ada).await;
    for name in ["a", "b"] {
        let deploy = json!({"name": name, "variants": [{"name": "trees", "model": {"training_job": trees}}]});
        assert_eq!(api.json(Method::POST, "/api/v1/endpoints", Some(deploy), &ada).await.0, 201);
    }
    let (status, made) =
        api.json(Method::POST, "/api/v1/endpoints/a/keys", Some(json!({"name": "scoring service"})), &ada).await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("fwk_"), "{made}");
    let (_, listed) = api.json(Method::GET, "/api/v1/endpoints/a/keys", None, &ada).await;
    assert_eq!(listed[0]["name"], "scoring service");
    assert_eq!(listed[0]["key"], Value::Null, "the secret is shown once");

    let row = json!({"instances": [vec![0; 61]]});
    let (status, _, answer) = invoke(&app.base, &key, "a", row.clone(), None).await;
    assert_eq!(status, 200, "{answer}");
    let posted = json!({"inference_id": answer["predictions"][0]["inference_id"], "label": "good"});
    let r = reqwest::Client::new()
        .post(format!("{}/endpoints/a/ground-truth", app.base))
        .bearer_auth(&key)
        .json(&posted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(invoke(&app.base, &key, "b", row.clone(), None).await.0, 404, "another endpoint");
    assert_eq!(api.json(Method::GET, "/api/v1/endpoints/a", None, &key).await.0, 401, "a key is not a person's token");
    let r =
        reqwest::Client::new().post(format!("{}/endpoints/a/invocations", app.base)).json(&row).send().await.unwrap();
    assert_eq!(r.status(), 401, "no credentials");
    let bob = app.account("bob@example.org", Role::Participant).await;
    assert_eq!(api.json(Method::POST, "/api/v1/endpoints/a/keys", Some(json!({})), &bob).await.0, 404);

    let id = made["id"].as_str().unwrap();
    assert_eq!(api.json(Method::DELETE, &format!("/api/v1/endpoints/a/keys/{id}"), None, &ada).await.0, 204);
    let (status, _, body) = invoke(&app.base, &key, "a", row, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(error_message(&body).contains("revoked"), "{body}");
    assert_eq!(api.json(Method::DELETE, &format!("/api/v1/endpoints/a/keys/{id}"), None, &ada).await.0, 422);
    let (_, listed) = api.json(Method::GET, "/api/v1/endpoints/a/keys", None, &ada).await;
    assert!(listed[0]["revoked_at"].is_i64() && listed[0]["last_used_at"].is_i64(), "{listed}");
}

#[tokio::test]
async fn the_pages_deploy_show_live_figures_change_weights_check_drift_and_make_keys() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, linear) = two_models(&app, &ada).await;
    let browser = app.browser();
    browser.log_in("ada@example.org", PASSWORD).await;
    let page = browser.get("/endpoints").await;
    assert!(page.has("form#deploy") && page.has("#no-endpoints"), "{}", page.html.html());

    let refused = browser.submit("/endpoints", "/endpoints", &[("name", "Credit"), ("job", &trees)]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.text("#endpoint-error").contains("lower-case"), "{}", refused.html.html());
    let fields = [
        ("name", "credit"),
        ("job", trees.as_str()),
        ("second_job", linear.as_str()),
        ("second_weight", "2"),
        ("shadow_job", linear.as_str()),
        ("shadow_percent", "100"),
    ];
    let deployed = browser.submit("/endpoints", "/endpoints", &fields).await;
    assert_eq!(deployed.status, 303, "{}", deployed.html.html());
    let Credit { records, .. } = credit_rows();
    for record in records.iter().take(30) {
        assert_eq!(invoke(&app.base, &ada, "credit", json!({"records": [record]}), None).await.0, 200);
    }

    let page = browser.get("/endpoints/credit").await;
    assert_eq!(page.texts("tr.variant td.traffic"), ["33 %", "67 %"], "{}", page.html.html());
    // The monitoring charts: requests per variant, latency, scores over time.
    assert_eq!(page.texts("#traffic-charts figure svg").len(), 3, "{}", page.html.html());
    for title in ["Requests per second, by variant", "Latency per request", "Predicted scores"] {
        assert!(page.text("#traffic-charts").contains(title), "{title}");
    }
    let captured: u32 = page.texts("tr.variant td:nth-child(5)").iter().map(|t| t.parse::<u32>().unwrap()).sum();
    assert_eq!(captured, 30);
    let report = eventually("the shadow report fills", Duration::from_secs(20), || async {
        let page = browser.get("/endpoints/credit").await;
        if page.has("#shadow-report") && page.text("#shadow-report p").contains("30 rows compared") {
            Ok(page)
        } else {
            Err(page.html.html())
        }
    })
    .await;
    assert!(report.has("form#promote"));
    assert!(
        report.text("ol.events").contains("deployed: a (GradientBoostedTreesModel"),
        "{}",
        report.text("ol.events")
    );

    let moved =
        browser.submit("/endpoints/credit", "/endpoints/credit/weights", &[("weight_a", "1"), ("weight_b", "0")]).await;
    assert_eq!(moved.status, 303, "{}", moved.html.html());
    let page = browser.get("/endpoints/credit").await;
    assert_eq!(page.texts("tr.variant td.traffic"), ["100 %", "0 %"]);
    let refused =
        browser.submit("/endpoints/credit", "/endpoints/credit/weights", &[("weight_a", "0"), ("weight_b", "0")]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.text("#endpoint-error").contains("add up to 0"));

    let drift = browser.get("/endpoints/credit?drift=1").await;
    assert!(drift.text("#drift").contains("columns drifted"), "{}", drift.html.html());
    let keyed = browser.submit("/endpoints/credit", "/endpoints/credit/keys", &[("label", "scorer")]).await;
    assert_eq!(keyed.status, 200);
    let secret = keyed.text("#new-key code");
    assert!(secret.starts_with("fwk_"), "{secret}");
    assert_eq!(invoke(&app.base, &secret, "credit", json!({"records": [records[0]]}), None).await.0, 200);
    let page = browser.get("/endpoints").await;
    assert!(page.has("tr#endpoint-credit"));
    assert_eq!(api.json(Method::GET, "/api/v1/endpoints/credit", None, &ada).await.1["variants"][1]["weight"], 0.0);

    // Alarms, set and checked from the page: a latency bar no endpoint
    // meets fires, and the weight change is rolled back.
    let page = browser.get("/endpoints/credit").await;
    assert!(page.has("form#set-monitor") && !page.has("form#check-alarms"), "{}", page.html.html());
    let refused = browser.submit("/endpoints/credit", "/endpoints/credit/monitor", &[("every_minutes", "0")]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.text("#endpoint-error").contains("watch something"), "{}", refused.html.html());
    let alarms = [("latency_p95_ms", "0.000001"), ("every_minutes", "0"), ("auto_rollback", "on")];
    let set = browser.submit("/endpoints/credit", "/endpoints/credit/monitor", &alarms).await;
    assert_eq!(set.status, 303, "{}", set.html.html());
    let page = browser.get("/endpoints/credit").await;
    assert!(page.text("#alarm-state").contains("Not checked yet"), "{}", page.html.html());
    let checked = browser.submit("/endpoints/credit", "/endpoints/credit/monitor/check", &[("go", "")]).await;
    assert_eq!(checked.status, 303, "{}", checked.html.html());
    let page = browser.get("/endpoints/credit").await;
    let state = page.text("#alarm-state");
    assert!(state.contains("alarm(s)") && state.contains("latency: variant a p95"), "{state}");
    assert_eq!(page.texts("tr.variant td.traffic"), ["33 %", "67 %"], "rolled back to the deployed weights");
    assert!(
        page.text("ol.events").contains("automatic rollback: weights back to a 1, b 2"),
        "{}",
        page.text("ol.events")
    );
}

#[tokio::test]
async fn uncertain_predictions_wait_for_review_and_a_label_becomes_ground_truth() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, _) = two_models(&app, &ada).await;
    let deploy = json!({"name": "credit", "variants": [{"name": "trees", "model": {"training_job": trees}}],
        "review": {"low": 0.3, "high": 0.7}});
    let (status, endpoint) = api.json(Method::POST, "/api/v1/endpoints", Some(deploy), &ada).await;
    assert_eq!(status, 201, "{endpoint}");
    assert_eq!(endpoint["review"], json!({"low": 0.3, "high": 0.7}));
    let Credit { records, .. } = credit_rows();
    let mut uncertain = 0;
    for record in records.iter().take(100) {
        let (_, _, answer) = invoke(&app.base, &ada, "credit", json!({"records": [record]}), None).await;
        let score = answer["predictions"][0]["score"].as_f64().unwrap();
        uncertain += usize::from((0.3..=0.7).contains(&score));
    }
    assert!(uncertain > 0, "some scores fall in the band");
    let (status, queue) = api.json(Method::GET, "/api/v1/endpoints/credit/review-queue", None, &ada).await;
    assert_eq!(status, 200, "{queue}");
    let queue = queue.as_array().unwrap().clone();
    assert_eq!(queue.len(), uncertain.min(50));
    assert!(queue.iter().all(|c| (0.3..=0.7).contains(&c["score"].as_f64().unwrap())));

    // A teammate labels the first one on the review page.
    let browser = app.browser();
    browser.log_in("ada@example.org", PASSWORD).await;
    let page = browser.get("/endpoints/credit/review").await;
    assert_eq!(page.texts("tr.pending").len(), queue.len(), "{}", page.html.html());
    let first = queue[0]["inference_id"].as_str().unwrap();
    let labelled = browser
        .submit("/endpoints/credit/review", &format!("/endpoints/credit/review/{first}"), &[("label", "bad")])
        .await;
    assert_eq!(labelled.status, 303, "{}", labelled.html.html());
    let page = browser.get("/endpoints/credit/review").await;
    assert!(!page.has(&format!("tr#review-{first}")), "labelled, it leaves the queue");
    let (_, lines) = api.get_text(&ada, "/api/v1/endpoints/credit/captures?limit=1000").await;
    let capture: Value =
        lines.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|c| c["inference_id"] == first).unwrap();
    assert_eq!(capture["ground_truth"], "bad");

    let (status, body) =
        api.json(Method::PUT, "/api/v1/endpoints/credit/review", Some(json!({"low": 0.8, "high": 0.2})), &ada).await;
    assert_eq!(status, 422, "{body}");
    let (status, ended) = api.json(Method::DELETE, "/api/v1/endpoints/credit/review", None, &ada).await;
    assert_eq!((status, &ended["review"]), (200, &Value::Null));
    assert_eq!(api.json(Method::GET, "/api/v1/endpoints/credit/review-queue", None, &ada).await.0, 422);
}

#[tokio::test]
async fn teammates_share_an_endpoint_and_the_instructor_sees_every_teams_endpoints() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let TwoTeams { ins, ada, bob, cy, kestrel } = app.two_teams().await;

    let (trees, _) = two_models(&app, &ada).await;
    let deploy = json!({"name": "kestrel-fraud", "variants": [{"name": "trees", "model": {"training_job": trees}}]});
    let (status, endpoint) = api.json(Method::POST, "/api/v1/endpoints", Some(deploy), &ada).await;
    assert_eq!(status, 201, "{endpoint}");
    assert_eq!(endpoint["team"], json!(kestrel));

    let row = json!({"instances": [vec![0; 61]]});
    assert_eq!(invoke(&app.base, &bob, "kestrel-fraud", row.clone(), None).await.0, 200, "a teammate");
    assert_eq!(invoke(&app.base, &cy, "kestrel-fraud", row.clone(), None).await.0, 404, "another team");
    assert_eq!(invoke(&app.base, &ins, "kestrel-fraud", row, None).await.0, 200, "the instructor");
    let (_, listed) = api.json(Method::GET, "/api/v1/endpoints", None, &ins).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (_, listed) = api.json(Method::GET, "/api/v1/endpoints", None, &cy).await;
    assert_eq!(listed, json!([]));
    let browser = app.browser();
    browser.log_in("ins@example.org", PASSWORD).await;
    let page = browser.get("/endpoints").await;
    assert!(page.has("tr#endpoint-kestrel-fraud"), "{}", page.html.html());
    let (_, seen) = api.json(Method::GET, "/api/v1/endpoints/kestrel-fraud", None, &ins).await;
    assert_eq!(seen["variants"][0]["metrics"]["captured"], 2, "the teammate's and the instructor's requests: {seen}");

    // The instructor's list: each endpoint's team, last hour's traffic and
    // the alarms of its last check.
    let row = |page: &Page, column: &str| page.text(&format!("tr#endpoint-kestrel-fraud {column}"));
    assert_eq!(row(&page, "td:nth-child(2)"), "Kestrel");
    assert_eq!(row(&page, "td.traffic"), "2", "{}", page.html.html());
    assert_eq!(row(&page, "td.alarms"), "no check");
    let strict = json!({"latency_p95_ms": 0.000001});
    assert_eq!(api.json(Method::PUT, "/api/v1/endpoints/kestrel-fraud/monitor", Some(strict), &ada).await.0, 200);
    assert_eq!(api.json(Method::POST, "/api/v1/endpoints/kestrel-fraud/monitor/check", None, &bob).await.0, 200);
    let page = browser.get("/endpoints").await;
    let alarms = row(&page, "td.alarms");
    assert!(alarms.starts_with("1: latency: variant trees p95"), "{alarms}");
}

#[tokio::test]
async fn a_load_test_drives_the_endpoint_with_goose_and_reports_its_serving_times() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, _) = two_models(&app, &ada).await;
    let deploy = json!({"name": "credit", "capture_percent": 100, "variants": [{"name": "trees", "model": {"training_job": trees}}]});
    assert_eq!(api.json(Method::POST, "/api/v1/endpoints", Some(deploy), &ada).await.0, 201);

    // Refused: nothing to replay yet, or a rate or duration out of range.
    let path = "/api/v1/endpoints/credit/load-tests";
    let (status, body) = api.json(Method::POST, path, Some(json!({"rps": 50, "seconds": 2})), &ada).await;
    assert_eq!(status, 422, "{body}");
    assert!(error_message(&body).contains("invoke \"credit\" once first"), "{body}");
    for bad in [
        json!({"rps": 0, "seconds": 2}),
        json!({"rps": 10, "seconds": 61}),
        json!({"rps": 10, "seconds": 1, "instances": [[1.0]]}),
    ] {
        let (status, body) = api.json(Method::POST, path, Some(bad.clone()), &ada).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }

    // Replaying ten captured rows at 100 requests a second for 2 seconds.
    let Credit { rows, .. } = credit_rows();
    assert_eq!(invoke(&app.base, &ada, "credit", json!({"instances": rows[..10]}), None).await.0, 200);
    let (status, started) = api.json(Method::POST, path, Some(json!({"rps": 100, "seconds": 2})), &ada).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["state"], "running");
    let id = started["id"].as_str().unwrap().to_owned();
    let (status, body) = api.json(Method::POST, path, Some(json!({"rps": 10, "seconds": 1})), &ada).await;
    assert_eq!(status, 422, "one load test of an endpoint at a time: {body}");
    let status_path = format!("{path}/{id}");
    let report = eventually("the load test ends", Duration::from_secs(60), || async {
        let (_, body) = api.json(Method::GET, &status_path, None, &ada).await;
        if body["state"] == "running" { Err(body.to_string()) } else { Ok(body) }
    })
    .await;
    assert_eq!(report["state"], "finished", "{report}");
    let requests = report["requests"].as_u64().unwrap();
    assert_eq!(report["failures"], 0, "{report}");
    assert!((50..=400).contains(&requests), "about 100/s for 2 s (Goose's throttle caps the rate): {report}");
    assert_eq!(report["status_codes"]["200"].as_u64(), Some(requests), "{report}");
    let serving = report["serving_ms"].as_array().unwrap();
    assert!(serving[0].as_f64().unwrap() > 0.0 && serving[0].as_f64() <= serving[2].as_f64(), "{report}");
    let (_, endpoint) = api.json(Method::GET, "/api/v1/endpoints/credit", None, &ada).await;
    assert_eq!(endpoint["variants"][0]["metrics"]["captured"].as_u64(), Some(10 + requests), "each request captured");
    // The test's key opens nothing now; the audit trail has the test.
    let (_, keys) = api.json(Method::GET, "/api/v1/endpoints/credit/keys", None, &ada).await;
    assert_eq!(keys[0]["name"], "load test", "{keys}");
    assert!(keys[0]["revoked_at"].is_i64(), "{keys}");
    let (_, events) = api.json(Method::GET, "/api/v1/endpoints/credit/events", None, &ada).await;
    let last = events.as_array().unwrap().last().unwrap()["message"].as_str().unwrap().to_owned();
    assert!(last.starts_with(&format!("load test: 100 requests/s asked for 2 s; {requests} sent")), "{last}");

    // From the page: the form starts one, and its section shows the report.
    let browser = app.browser();
    browser.log_in("ada@example.org", PASSWORD).await;
    let refused =
        browser.submit("/endpoints/credit", "/endpoints/credit/load-test", &[("rps", "9000"), ("seconds", "1")]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.text("#endpoint-error").contains("1 to 5000 requests per second"), "{}", refused.html.html());
    let started =
        browser.submit("/endpoints/credit", "/endpoints/credit/load-test", &[("rps", "20"), ("seconds", "1")]).await;
    assert_eq!(started.status, 303, "{}", started.html.html());
    let location = started.headers["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/endpoints/credit?load_test="), "{location}");
    let running = browser.get(&location).await;
    assert!(running.has("section#load-test"), "{}", running.html.html());
    let page = eventually("the page shows the report", Duration::from_secs(60), || async {
        let page = browser.get(&location).await;
        if page.text("section#load-test").contains("Finished") { Ok(page) } else { Err(page.text("section#load-test")) }
    })
    .await;
    assert!(!page.has("section#load-test[hx-trigger]"), "a finished test is not polled");
    assert!(page.text("section#load-test").contains("0 failed"), "{}", page.text("section#load-test"));
    let unknown = browser.get("/endpoints/credit?load_test=nope").await;
    assert!(unknown.text("section#load-test").contains("ran no load test"), "{}", unknown.html.html());
}

#[tokio::test]
async fn a_batch_transform_scores_a_table_into_a_new_dataset_in_my_data() {
    let app = spawn_app_with(|c| c.training_local_workers = 1).await;
    let api = app.api();
    let ada = app.account("ada@example.org", Role::Participant).await;
    let (trees, linear) = two_models(&app, &ada).await;
    let deploy = json!({"name": "credit", "variants": [
        {"name": "trees", "model": {"training_job": trees}, "weight": 1},
        {"name": "linear", "model": {"training_job": linear}, "weight": 2},
    ]});
    assert_eq!(api.json(Method::POST, "/api/v1/endpoints", Some(deploy), &ada).await.0, 201);

    // Refused, naming what is wrong.
    let path = "/api/v1/endpoints/credit/batch-transforms";
    for (body, why) in [
        (json!({"input": "builtin:nope"}), "no built-in dataset"),
        (json!({"input": "dataset:mine.csv"}), "you have no dataset mine.csv"),
        (json!({"input": "builtin:german_credit", "variant": "x"}), "no variant \"x\""),
        (json!({"input": "builtin:sensor_network"}), "none of the model's columns"),
        (json!({"input": "builtin:german_credit", "output": "scored.txt"}), "The output name"),
    ] {
        let (status, answer) = api.json(Method::POST, path, Some(body.clone()), &ada).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(error_message(&answer).contains(why), "{body}: {answer}");
    }

    // German credit, scored by the variant with the largest weight; its
    // label carried through.
    let (status, started) = api.json(Method::POST, path, Some(json!({"input": "builtin:german_credit"})), &ada).await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    let done = eventually("the batch transform ends", Duration::from_secs(60), || async {
        let (_, body) = api.json(Method::GET, &format!("{path}/{id}"), None, &ada).await;
        if body["state"] == "running" { Err(body.to_string()) } else { Ok(body) }
    })
    .await;
    assert_eq!(done["state"], "finished", "{done}");
    assert_eq!((done["rows"].as_u64(), done["variant"].as_str()), (Some(1000), Some("linear")), "{done}");
    assert_eq!(done["dataset"], "german_credit-credit.csv");
    assert_eq!(done["carried"], json!(["creditability"]));
    let dataset = done["dataset_id"].as_str().unwrap();
    let (status, csv) = api.get_text(&ada, &format!("/api/v1/datasets/{dataset}/csv")).await;
    assert_eq!(status, 200);
    assert!(csv.lines().next().unwrap().ends_with(",score,prediction"), "{}", &csv[..200]);
    assert_eq!(csv.lines().count(), 1001);
    // The first row's score is the endpoint's answer for it on that variant.
    let Credit { records, .. } = credit_rows();
    let (_, _, answer) = invoke(&app.base, &ada, "credit", json!({"records": [records[0]]}), Some("linear")).await;
    let first: Vec<String> = csv.lines().nth(1).unwrap().split(',').map(str::to_owned).collect();
    let score: f64 = first[first.len() - 2].parse().unwrap();
    assert!((score - answer["predictions"][0]["score"].as_f64().unwrap()).abs() < 1e-12, "{first:?} {answer}");
    assert_eq!(first.last().unwrap(), answer["predictions"][0]["class"].as_str().unwrap());
    let (_, events) = api.json(Method::GET, "/api/v1/endpoints/credit/events", None, &ada).await;
    let last = events.as_array().unwrap().last().unwrap()["message"].as_str().unwrap().to_owned();
    assert!(
        last.starts_with(
            "batch transform: 1000 rows of builtin:german_credit scored by linear into german_credit-credit.csv"
        ),
        "{last}"
    );
    // Its name is taken now.
    let (status, answer) = api.json(Method::POST, path, Some(json!({"input": "builtin:german_credit"})), &ada).await;
    assert_eq!(status, 422);
    assert!(error_message(&answer).contains("already have a dataset named german_credit-credit.csv"), "{answer}");

    // From the page, scoring the new dataset itself (its extra columns carried).
    let browser = app.browser();
    browser.log_in("ada@example.org", PASSWORD).await;
    let page = browser.get("/endpoints/credit").await;
    assert!(
        page.texts("form#start-batch option").iter().any(|o| o.starts_with("german_credit-credit.csv (1000 rows")),
        "{}",
        page.html.html()
    );
    let fields = [("input", "dataset:german_credit-credit.csv"), ("output", "rescored.csv")];
    let started = browser.submit("/endpoints/credit", "/endpoints/credit/batch", &fields).await;
    assert_eq!(started.status, 303, "{}", started.html.html());
    let location = started.headers["location"].to_str().unwrap().to_owned();
    let page = eventually("the page shows the result", Duration::from_secs(60), || async {
        let page = browser.get(&location).await;
        if page.text("section#batch").contains("Finished") { Ok(page) } else { Err(page.text("section#batch")) }
    })
    .await;
    let section = page.text("section#batch");
    assert!(section.contains("rescored.csv") && section.contains("creditability, score, prediction"), "{section}");
    let refused = browser.submit("/endpoints/credit", "/endpoints/credit/batch", &fields).await;
    assert_eq!(refused.status, 422);
    assert!(refused.text("#endpoint-error").contains("already have a dataset named rescored.csv"));
}
