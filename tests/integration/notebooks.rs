//! Labs and notebooks through the API and the pages: copies per user,
//! revisions, bad input, `.ipynb` checked by Jupyter's own validator, and a
//! cell run on the real kernel whose outputs are kept.

use std::time::Duration;

use flywheel_domain::Role;
use flywheel_tests::{PASSWORD as PW, TestApp, error_message, eventually, kernel_worker, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

/// The caller's copy of the fixture lab.
async fn lab_copy(app: &TestApp, token: &str) -> Value {
    let (status, nb) = app.api().json(Method::POST, "/api/v1/labs/first-steps/notebook", None, token).await;
    assert!(status == 201 || status == 200, "{status} {nb}");
    nb
}

/// The cells of `nb` as an edit body (id, type, source).
fn edit(nb: &Value, change: impl FnOnce(&mut Vec<Value>)) -> Value {
    let mut cells: Vec<Value> = nb["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({ "id": c["id"], "cell_type": c["cell_type"], "source": c["source"] }))
        .collect();
    change(&mut cells);
    json!({ "revision": nb["revision"], "cells": cells })
}

#[tokio::test]
async fn labs_are_listed_and_each_user_gets_one_copy_of_their_own() {
    let app = spawn_app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let bob = app.account("bob@example.org", Role::Participant).await;

    let (status, labs) = app.api().json(Method::GET, "/api/v1/labs", None, &ada).await;
    assert_eq!(status, 200);
    assert_eq!(labs[0]["slug"], "first-steps");
    assert_eq!((labs[0]["day"].as_u64(), labs[0]["minutes"].as_u64()), (Some(1), Some(5)));
    assert_eq!(labs[0]["notebook"], Value::Null, "not opened yet");

    let (status, mine) = app.api().json(Method::POST, "/api/v1/labs/first-steps/notebook", None, &ada).await;
    assert_eq!(status, 201, "{mine}");
    assert_eq!(mine["lab"], "first-steps");
    assert_eq!(mine["revision"], 1);
    let ids: Vec<&str> = mine["cells"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["cell-1", "edit-me", "draw", "closing"]);
    assert_eq!(mine["cells"][1]["metadata"], json!({"exercise": true}));
    let (status, again) = app.api().json(Method::POST, "/api/v1/labs/first-steps/notebook", None, &ada).await;
    assert_eq!((status, &again["id"]), (200, &mine["id"]), "the same copy the second time");
    let (_, labs) = app.api().json(Method::GET, "/api/v1/labs", None, &ada).await;
    assert_eq!(labs[0]["notebook"], mine["id"]);

    let theirs = lab_copy(&app, &bob).await;
    assert_ne!(theirs["id"], mine["id"], "bob gets his own copy");
    let path = format!("/api/v1/notebooks/{}", mine["id"].as_str().unwrap());
    for (method, body) in [(Method::GET, None), (Method::PATCH, Some(edit(&mine, |_| {}))), (Method::DELETE, None)] {
        let (status, err) = app.api().json(method.clone(), &path, body, &bob).await;
        assert_eq!(status, 404, "{method} another user's notebook: {err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("not yours"), "{err}");
    }
    let (status, _) = app.api().json(Method::GET, &format!("{path}/export"), None, &bob).await;
    assert_eq!(status, 404);
    let (status, listed) = app.api().json(Method::GET, "/api/v1/notebooks", None, &bob).await;
    assert_eq!((status, listed.as_array().unwrap().len()), (200, 1));
    let (status, err) = app.api().json(Method::POST, "/api/v1/labs/no-such-lab/notebook", None, &ada).await;
    assert_eq!(status, 404, "{err}");
}

#[tokio::test]
async fn edits_are_saved_under_a_revision_and_a_stale_tab_is_refused() {
    let app = spawn_app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let nb = lab_copy(&app, &ada).await;
    let path = format!("/api/v1/notebooks/{}", nb["id"].as_str().unwrap());

    // Tab one: edits a cell, adds one, removes the closing Markdown.
    let first = edit(&nb, |cells| {
        cells[1]["source"] = json!("let answer = 6 * 7;");
        cells.pop();
        cells.push(json!({ "id": "new-cell", "cell_type": "code", "source": "answer" }));
    });
    let (status, saved) = app.api().json(Method::PATCH, &path, Some(first), &ada).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["revision"], 2);
    assert_eq!(saved["cells"][1]["metadata"], json!({"exercise": true}), "metadata kept when not sent");
    assert_eq!(saved["cells"][3]["id"], "new-cell");

    // Tab two still holds revision 1.
    let stale = edit(&nb, |cells| cells[1]["source"] = json!("// tab two"));
    let (status, err) = app.api().json(Method::PATCH, &path, Some(stale), &ada).await;
    assert_eq!(status, 409, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("changed elsewhere"), "{err}");
    let (_, now) = app.api().json(Method::GET, &path, None, &ada).await;
    assert_eq!((now["revision"].as_i64(), now["cells"][1]["source"].as_str()), (Some(2), Some("let answer = 6 * 7;")));

    // Reset: back to the lab's original.
    let (status, reset) = app.api().json(Method::POST, &format!("{path}/reset"), None, &ada).await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["revision"], 3);
    assert_eq!(reset["cells"][1]["source"], "// Replace this line.");
    assert_eq!(reset["cells"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let nb = lab_copy(&app, &ada).await;
    let id = nb["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/notebooks/{id}");

    let huge = edit(&nb, |cells| cells[1]["source"] = json!("x".repeat(10 * 1024 * 1024)));
    let (status, err) = app.api().json(Method::PATCH, &path, Some(huge), &ada).await;
    assert_eq!(status, 413, "a 10 MB cell: {err}");
    let big = edit(&nb, |cells| cells[1]["source"] = json!("x".repeat(2 * 1024 * 1024)));
    let (status, err) = app.api().json(Method::PATCH, &path, Some(big), &ada).await;
    assert_eq!(status, 413, "a 2 MB cell (within the request limit, over the cell limit): {err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("at most 1048576"), "{err}");

    let many = edit(&nb, |cells| {
        *cells = (0..10_000).map(|i| json!({ "id": format!("c{i}"), "cell_type": "code", "source": "" })).collect();
    });
    let (status, err) = app.api().json(Method::PATCH, &path, Some(many), &ada).await;
    assert_eq!(status, 422, "10,000 cells: {err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("10000 cells"), "{err}");

    let cases = [
        (edit(&nb, |cells| cells[0]["id"] = json!("has space")), "not valid"),
        (edit(&nb, |cells| cells[0]["id"] = json!("draw")), "Two cells have the id `draw`"),
        (edit(&nb, |cells| cells[0]["cell_type"] = json!("sql")), "cell_type"),
        (json!({ "cells": [] }), "revision"),
    ];
    for (body, says) in cases {
        let (status, err) = app.api().json(Method::PATCH, &path, Some(body), &ada).await;
        assert_eq!(status, 422, "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains(says), "{says}: {err}");
    }
    let (status, err) = app.api().json(Method::POST, &format!("{path}/cells/nope/run"), None, &ada).await;
    assert_eq!(status, 404, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("no cell `nope`"), "{err}");
    let (status, err) = app.api().json(Method::POST, &format!("{path}/cells/closing/run"), None, &ada).await;
    assert_eq!(status, 422, "{err}");
    // A malformed id is the same 404 as an unknown one, before the body is read.
    for (method, bad, body) in [
        (Method::GET, "/api/v1/notebooks/not-a-uuid", None),
        (Method::PATCH, "/api/v1/notebooks/not-a-uuid", Some(json!(42))),
        (Method::POST, "/api/v1/notebooks/not-a-uuid/cells/x/run", None),
    ] {
        let (status, err) = app.api().json(method, bad, body, &ada).await;
        assert_eq!((status, error_message(&err).contains("no notebook with this id")), (404, true), "{bad}: {err}");
    }

    let (_, after) = app.api().json(Method::GET, &path, None, &ada).await;
    assert_eq!(after, nb, "nothing changed");

    // Broken uploads: the message names the line or the field.
    let uploads = [
        ("{\n  \"cells\": [\n    {,\n", "line 3"),
        ("{\"nbformat\": 3, \"cells\": []}", "nbformat 3"),
        ("{\"nbformat\": 4, \"cells\": [{\"cell_type\": \"code\", \"source\": 1}]}", "cells[0].source"),
    ];
    for (text, says) in uploads {
        let r = app
            .api()
            .client
            .post(format!("{}/api/v1/notebooks/import?format=ipynb", app.base))
            .bearer_auth(&ada)
            .body(text)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let err: Value = r.json().await.unwrap();
        assert!(err["error"]["message"].as_str().unwrap().contains(says), "{says}: {err}");
    }
    let (_, listed) = app.api().json(Method::GET, "/api/v1/notebooks", None, &ada).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "no notebook was made by a broken upload");
}

/// Validates `.ipynb` text with Jupyter's own `nbformat` package.
pub(crate) fn jupyter_validates(text: &str) -> Result<(), String> {
    use std::io::Write;
    let script = "import sys, nbformat\nnb = nbformat.reads(sys.stdin.read(), as_version=4)\nnbformat.validate(nb)\nprint('valid', len(nb.cells))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}\n(the test command installs Jupyter's validator: pip install nbformat)",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Polls the notebook until cell `index` has outputs.
async fn outputs_of(app: &TestApp, token: &str, path: &str, index: usize) -> Value {
    eventually(&format!("cell {index} of {path} gets outputs"), Duration::from_secs(300), || async {
        let (_, nb) = app.api().json(Method::GET, path, None, token).await;
        if nb["cells"][index]["outputs"].as_array().is_some_and(|o| !o.is_empty()) {
            Ok(nb)
        } else {
            Err(nb.to_string())
        }
    })
    .await
}

#[tokio::test]
async fn cells_run_on_the_notebooks_kernel_and_the_outputs_stay_with_the_notebook() {
    assert!(kernel_worker().is_file(), "build the worker first: cargo build -p flywheel-kernel");
    let app = spawn_app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    app.kernels_ready(&ada, Duration::from_secs(300)).await;
    let nb = lab_copy(&app, &ada).await;
    let id = nb["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/notebooks/{id}");
    let body = edit(&nb, |cells| cells[1]["source"] = json!("println!(\"hello\");\nlet answer = 6 * 7;\nanswer"));
    let (status, saved) = app.api().json(Method::PATCH, &path, Some(body), &ada).await;
    assert_eq!(status, 200, "{saved}");

    let (status, run) = app.api().json(Method::POST, &format!("{path}/cells/edit-me/run"), None, &ada).await;
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["execution"]["id"], 1);
    let session = run["session"]["id"].as_str().unwrap().to_owned();
    let (status, _) = app.api().json(Method::POST, &format!("{path}/cells/draw/run"), None, &ada).await;
    assert_eq!(status, 202, "the second run queues on the same session");

    let done = outputs_of(&app, &ada, &path, 2).await;
    assert_eq!(done["session"]["id"], session.as_str(), "the notebook reports its session");
    let first = &done["cells"][1];
    assert_eq!(first["execution_count"], 1);
    assert_eq!(first["outputs"][0], json!({"output_type": "stream", "name": "stdout", "text": "hello\n"}));
    assert_eq!(first["outputs"][1]["data"]["text/plain"], "42");
    let svg = &done["cells"][2]["outputs"][0];
    assert!(svg["data"]["image/svg+xml"].as_str().unwrap().starts_with("<svg"), "{svg}");
    assert_eq!(done["revision"], saved["revision"], "runs do not change the revision");

    // A page loaded while a cell runs learns of the run, to follow it.
    let slow = edit(&done, |cells| {
        cells[3] = json!({ "id": "slow", "cell_type": "code", "source": "std::thread::sleep(std::time::Duration::from_millis(1500));\n7" });
    });
    let (status, _) = app.api().json(Method::PATCH, &path, Some(slow), &ada).await;
    assert_eq!(status, 200);
    let (status, _) = app.api().json(Method::POST, &format!("{path}/cells/slow/run"), None, &ada).await;
    assert_eq!(status, 202);
    let (_, during) = app.api().json(Method::GET, &path, None, &ada).await;
    let running = &during["cells"][3]["execution"];
    assert!(matches!(running["status"].as_str(), Some("queued" | "running")), "{running}");
    assert_eq!(during["cells"][1]["execution"], Value::Null, "finished runs are not listed");
    let after = outputs_of(&app, &ada, &path, 3).await;
    assert_eq!(after["cells"][3]["execution"], Value::Null);
    assert_eq!(after["cells"][3]["outputs"][0]["data"]["text/plain"], "7");
    let done = after;

    // The outputs survive in the exported .ipynb, which Jupyter accepts.
    let (disposition, text) = app.api().export_notebook(&ada, &id, "ipynb").await;
    assert_eq!(disposition, "attachment; filename=\"first-steps.ipynb\"");
    jupyter_validates(&text).unwrap();
    let back = app.api().import_notebook(&ada, text, "filename=copy.ipynb").await;
    assert_ne!(back["id"], done["id"]);
    assert_eq!(back["cells"], done["cells"], "cells, sources and outputs round-trip");

    // Deleting the notebook closes its session.
    let (status, _) = app.api().json(Method::DELETE, &path, None, &ada).await;
    assert_eq!(status, 204);
    let (status, _) = app.api().json(Method::GET, &format!("/api/v1/sessions/{session}"), None, &ada).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_markdown_format_exports_and_imports_back() {
    let app = spawn_app().await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    let nb = lab_copy(&app, &ada).await;
    let (disposition, text) = app.api().export_notebook(&ada, nb["id"].as_str().unwrap(), "md").await;
    assert!(disposition.ends_with("first-steps.md\""), "{disposition}");
    assert!(text.starts_with("# First steps\n"), "{text}");
    assert!(text.contains("<!-- flywheel:cell {\"id\":\"edit-me\",\"exercise\":true} -->\n```rust\n"), "{text}");
    let back = app.api().import_notebook(&ada, text, "format=md").await;
    assert_eq!(back["cells"], nb["cells"]);
    assert_eq!(back["lab"], Value::Null, "an upload is not a lab copy");
    let (status, blank) = app.api().json(Method::POST, "/api/v1/notebooks", Some(json!({})), &ada).await;
    assert_eq!((status, blank["title"].as_str()), (201, Some("Untitled notebook")));
    assert_eq!(blank["cells"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn pages_list_labs_and_serve_the_notebook_with_the_api_behind_the_session_cookie() {
    let app = spawn_app().await;
    app.create_user("ada@example.org", PW, Role::Participant).await;
    let browser = app.browser();
    browser.log_in("ada@example.org", PW).await;

    let labs = browser.get("/labs").await;
    assert_eq!(labs.status, 200);
    assert_eq!(labs.text("[data-lab=first-steps] h3"), "First steps");
    let csrf = labs.csrf();
    let opened = browser.post_raw("/labs/first-steps/open", &[("csrf_token", &csrf)]).await;
    assert_eq!(opened.status, 303);
    let location = opened.headers["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/notebooks/"), "{location}");

    let page = browser.get(&location).await;
    assert_eq!(page.status, 200);
    let id = page.attr("#notebook", "data-notebook-id").unwrap();
    let token = page.attr("#notebook", "data-csrf").unwrap();
    let data: Value = serde_json::from_str(&page.text("#notebook-data")).unwrap();
    assert_eq!((data["id"].as_str(), data["cells"].as_array().map(Vec::len)), (Some(id.as_str()), Some(4)));
    assert!(page.has("script[src='/static/notebook/dist/notebook.js']"));
    assert_eq!(browser.get("/labs").await.attr("[data-lab=first-steps] a", "href"), Some(location.clone()));

    // The page's own API calls: the cookie authenticates, the CSRF header is required to change anything.
    let url = browser.url(&format!("/api/v1/notebooks/{id}"));
    let got = browser.client.get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    let body = edit(&data, |cells| cells[1]["source"] = json!("1 + 1"));
    let forged = browser.client.patch(&url).json(&body).send().await.unwrap();
    assert_eq!(forged.status(), 403, "no CSRF header");
    let saved = browser.client.patch(&url).header("X-CSRF-Token", &token).json(&body).send().await.unwrap();
    assert_eq!(saved.status(), 200);

    // Someone else's notebook page is not found.
    app.create_user("bob@example.org", PW, Role::Participant).await;
    let bob = app.browser();
    bob.log_in("bob@example.org", PW).await;
    assert_eq!(bob.get(&location).await.status, 404);
    assert_eq!(bob.client.get(&url).send().await.unwrap().status(), 404);
    let anonymous = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_notebook_whose_kernel_is_gone_gives_up_its_place_in_the_session_limit() {
    let app = flywheel_tests::spawn_app_with(|c| c.kernel_max_sessions_per_user = 1).await;
    let ada = app.account("ada@example.org", Role::Participant).await;
    app.kernels_ready(&ada, Duration::from_secs(300)).await;
    let run = |path: String, cell: &'static str| {
        let (app, ada) = (&app, &ada);
        async move { app.api().json(Method::POST, &format!("{path}/cells/{cell}/run"), None, ada).await }
    };

    // Notebook one's kernel dies (the worker is killed, as a crash would
    // kill it): the session stays, holding no kernel. The cell says which
    // process runs it (evcxr's child); the worker is that one's parent.
    let one = lab_copy(&app, &ada).await;
    let one_path = format!("/api/v1/notebooks/{}", one["id"].as_str().unwrap());
    let pid = edit(&one, |cells| cells[1]["source"] = json!("std::os::unix::process::parent_id()"));
    assert_eq!(app.api().json(Method::PATCH, &one_path, Some(pid), &ada).await.0, 200);
    let (status, started) = run(one_path.clone(), "edit-me").await;
    assert_eq!(status, 202, "{started}");
    let sid = started["session"]["id"].as_str().unwrap().to_owned();
    let ran = outputs_of(&app, &ada, &one_path, 1).await;
    let child = ran["cells"][1]["outputs"][0]["data"]["text/plain"].as_str().expect("a pid").to_owned();
    let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).expect("evcxr's child runs");
    let worker = stat.rsplit(") ").next().and_then(|rest| rest.split(' ').nth(1)).expect("its parent");
    assert!(std::process::Command::new("kill").args(["-9", worker]).status().unwrap().success());
    eventually("the session shows its kernel dead", Duration::from_secs(30), || async {
        let session = app.api().json(Method::GET, &format!("/api/v1/sessions/{sid}"), None, &ada).await.1;
        if session["kernel"] == "dead" { Ok(()) } else { Err(session.to_string()) }
    })
    .await;

    // Notebook two may still run: the dead session is closed to make room.
    let (status, two) = app.api().json(Method::POST, "/api/v1/notebooks", Some(json!({})), &ada).await;
    assert_eq!(status, 201);
    let two_path = format!("/api/v1/notebooks/{}", two["id"].as_str().unwrap());
    let (status, ran) = run(two_path, "cell-1").await;
    assert_eq!(status, 202, "{ran}");
    let (status, _) = app.api().json(Method::GET, &format!("/api/v1/sessions/{sid}"), None, &ada).await;
    assert_eq!(status, 404, "the dead session was closed");
    let (_, one_now) = app.api().json(Method::GET, &one_path, None, &ada).await;
    assert_eq!(one_now["session"], Value::Null);
    assert_eq!(one_now["cells"][1]["outputs"][0]["data"]["text/plain"], child.as_str(), "its outputs stay");
}
