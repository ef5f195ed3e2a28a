//! The HTML pages, checked with CSS selectors: sign-up, log-in, log-out,
//! roles, CSRF, sessions and the bad inputs of each.

use flywheel_domain::Role;
use flywheel_store::AccountStore;
use flywheel_tests::{spawn_app, spawn_app_with};

const PW: &str = "correct horse battery";

#[tokio::test]
async fn a_new_user_signs_up_and_lands_on_the_dashboard() {
    let app = spawn_app().await;
    let b = app.browser();
    let landing = b.get("/").await;
    assert_eq!(landing.status, 200);
    assert!(landing.has("a[href='/signup']") && landing.has("a[href='/login']"));
    assert_eq!(landing.attr("script[src]", "src").as_deref(), Some("/static/vendor/htmx/htmx.min.js"));

    let form = b.get("/signup").await;
    for field in ["email", "name", "password"] {
        assert!(form.has(&format!("label[for={field}]")), "labelled {field}");
        assert!(form.has(&format!("input#{field}[name={field}]")), "input {field}");
    }
    let done = b.sign_up("ada@example.org", "Ada Lovelace", PW).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.headers["location"], "/dashboard");

    let dash = b.get("/dashboard").await;
    assert_eq!(dash.status, 200);
    assert_eq!(dash.text("main h1"), "Welcome, Ada Lovelace");
    assert_eq!(dash.text(".role"), "participant");
    assert!(dash.text("nav button").starts_with("Log out"));
    assert!(!dash.has("nav a[href='/admin/users']"), "participants see no admin link");
}

#[tokio::test]
async fn sign_up_errors_are_shown_beside_their_fields_and_write_nothing() {
    let app = spawn_app().await;
    let b = app.browser();
    let page = b.sign_up("not-an-email", "", "short").await;
    assert_eq!(page.status, 422);
    assert_eq!(page.text("#email-error"), "Email must look like name@example.org");
    assert_eq!(page.text("#name-error"), "Name is required");
    assert_eq!(page.text("#password-error"), "Password must be at least 8 characters");
    assert_eq!(page.attr("input#email", "aria-invalid").as_deref(), Some("true"));
    assert_eq!(page.attr("input#email", "value").as_deref(), Some("not-an-email"), "what was typed is kept");
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn a_duplicate_email_in_other_case_is_a_conflict() {
    let app = spawn_app().await;
    app.create_user("ada@example.org", PW, Role::Participant).await;
    let page = app.browser().sign_up("ADA@Example.org", "Ada again", PW).await;
    assert_eq!(page.status, 409);
    assert!(page.text("#email-error").contains("already has an account"));
    assert_eq!(app.user_count().await, 1);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.create_user("ada@example.org", PW, Role::Participant).await;
    let b = app.browser();
    let wrong = b.log_in("ada@example.org", "not the password").await;
    let unknown = b.log_in("nobody@example.org", PW).await;
    for page in [&wrong, &unknown] {
        assert_eq!(page.status, 401);
        assert_eq!(page.text("[role=alert]"), "Wrong email or password.");
    }
    assert_eq!(b.get("/dashboard").await.status, 303, "still logged out");
    let ok = b.log_in("Ada@Example.ORG", PW).await;
    assert_eq!(ok.status, 303, "emails are case-insensitive at log-in");
    assert_eq!(b.get("/dashboard").await.status, 200);
}

#[tokio::test]
async fn log_in_goes_back_where_it_was_asked_and_never_off_site() {
    let app = spawn_app().await;
    app.create_user("ada@example.org", PW, Role::Participant).await;
    let b = app.browser();
    let bounced = b.get("/account").await;
    assert_eq!(bounced.status, 303);
    assert_eq!(bounced.headers["location"], "/login?next=%2Faccount");
    let form = b.get("/login?next=%2Faccount").await;
    assert_eq!(form.text(".notice"), "Please log in to continue.");
    let token = form.csrf();
    let done = b
        .post_raw(
            "/login",
            &[("email", "ada@example.org"), ("password", PW), ("next", "/account"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(done.headers["location"], "/account");

    let b2 = app.browser();
    let token = b2.get("/login").await.csrf();
    let evil = b2
        .post_raw(
            "/login",
            &[("email", "ada@example.org"), ("password", PW), ("next", "//evil.example"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(evil.headers["location"], "/dashboard");
}

#[tokio::test]
async fn log_out_ends_the_session() {
    let app = spawn_app().await;
    let b = app.browser();
    b.sign_up("ada@example.org", "Ada", PW).await;
    let out = b.submit("/dashboard", "/logout", &[]).await;
    assert_eq!((out.status.as_u16(), out.headers["location"].to_str().unwrap()), (303, "/"));
    assert_eq!(b.get("/dashboard").await.status, 303);
}

#[tokio::test]
async fn state_changing_requests_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    let b = app.browser();
    b.get("/signup").await; // a session exists, but the form below does not carry its token
    let page = b.post_raw("/signup", &[("email", "ada@example.org"), ("name", "Ada"), ("password", PW)]).await;
    assert_eq!(page.status, 403);
    assert!(page.text("[role=alert]").contains("did not come from Flywheel"));
    let forged = b
        .post_raw("/signup", &[("email", "ada@example.org"), ("name", "Ada"), ("password", PW), ("csrf_token", "0000")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.user_count().await, 0, "nothing was written");
}

#[tokio::test]
async fn htmx_requests_carry_the_token_in_a_header_and_navigate_with_hx_location() {
    let app = spawn_app().await;
    let b = app.browser();
    let page = b.get("/signup").await;
    let headers = page.attr("#page", "hx-headers").expect("the page gives htmx its token");
    let token = page.csrf();
    assert!(headers.contains(&token));
    let r = b
        .client
        .post(b.url("/signup"))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .form(&[("email", "ada@example.org"), ("name", "Ada"), ("password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["hx-location"], "/dashboard");
    assert_eq!(app.user_count().await, 1);
}

#[tokio::test]
async fn an_expired_session_is_sent_to_log_in_again() {
    let app = spawn_app().await;
    let b = app.browser();
    b.sign_up("ada@example.org", "Ada", PW).await;
    assert_eq!(b.get("/dashboard").await.status, 200);
    // Age every session past its expiry, as if the person had been away.
    sqlx::query("UPDATE sessions SET expires_at = 0").execute(app.db.pool()).await.unwrap();
    let page = b.get("/dashboard").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.headers["location"], "/login?next=%2Fdashboard");
    let post = b.post_raw("/account/tokens", &[("name", "x")]).await;
    assert_eq!(post.status, 403, "a form from the expired session is refused");
}

#[tokio::test]
async fn session_cookies_are_http_only_lax_and_secure_behind_tls() {
    let app = spawn_app().await;
    let cookie = app.browser().get("/login").await.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("flywheel_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");

    let tls = spawn_app_with(|c| c.public_url = "https://flywheel.example.org".into()).await;
    let cookie = tls.browser().get("/login").await.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn admin_pages_are_for_admins_only() {
    let app = spawn_app().await;
    app.create_user("admin@example.org", PW, Role::Admin).await;
    app.create_user("inst@example.org", PW, Role::Instructor).await;
    app.create_user("part@example.org", PW, Role::Participant).await;

    let anonymous = app.browser().get("/admin/users").await;
    assert_eq!(anonymous.status, 303, "anonymous people are sent to log in");
    for who in ["part@example.org", "inst@example.org"] {
        let b = app.browser();
        b.log_in(who, PW).await;
        let page = b.get("/admin/users").await;
        assert_eq!(page.status, 403, "{who}");
        assert_eq!(page.text("main h1"), "Forbidden");
    }
    let admin = app.browser();
    admin.log_in("admin@example.org", PW).await;
    let page = admin.get("/admin/users").await;
    assert_eq!(page.status, 200);
    let mut emails: Vec<_> = page.texts("table.users tbody td:nth-child(2)");
    emails.sort();
    assert_eq!(emails, ["admin@example.org", "inst@example.org", "part@example.org"]);
    assert!(admin.get("/dashboard").await.has("nav a[href='/admin/users']"));
}

#[tokio::test]
async fn sign_up_can_be_switched_off_except_with_a_join_code() {
    let app = spawn_app_with(|c| c.signup_enabled = false).await;
    let b = app.browser();
    assert!(!b.get("/").await.has("a[href='/signup']"));
    let page = b.get("/signup").await;
    assert_eq!(page.status, 200);
    assert!(page.text(".notice").contains("join code"), "{}", page.text(".notice"));
    assert!(page.has("input#code[required]"));
    let token = b.get("/login").await.csrf();
    let post =
        b.post_raw("/signup", &[("email", "a@b.org"), ("name", "A"), ("password", PW), ("csrf_token", &token)]).await;
    assert_eq!(post.status, 403);
    assert!(post.text("[role=alert]").contains("Sign-up is closed"));
    assert_eq!(post.attr("#email", "value").as_deref(), Some("a@b.org"), "what was typed is kept");
    let post = b
        .post_raw(
            "/signup",
            &[("email", "a@b.org"), ("name", "A"), ("password", PW), ("code", "2222-2222"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(post.status, 404);
    assert!(post.text("[role=alert]").contains("No workshop has the join code"));
    assert_eq!(app.user_count().await, 0);

    // With a workshop's code the account is made, joins it, and lands on its page.
    app.create_user("ins@example.org", PW, Role::Instructor).await;
    let ins = app.api().token("ins@example.org", PW).await;
    let new = serde_json::json!({"title": "Room 4", "days": ["2099-03-02", "2099-03-03", "2099-03-04"]});
    let (_, _, w) = app.api().call(reqwest::Method::POST, "/api/v1/workshops", Some(new), Some(&ins)).await;
    let code = w["join_code"].as_str().unwrap().to_lowercase();
    let post = b
        .post_raw(
            "/signup",
            &[("email", "a@b.org"), ("name", "A"), ("password", PW), ("code", &code), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(post.status, 303);
    let to = post.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(to, format!("/workshops/{}", w["id"].as_str().unwrap()));
    assert_eq!(b.get(&to).await.text("h1"), "Room 4");
}

#[tokio::test]
async fn api_tokens_are_made_shown_once_and_revoked_from_the_account_page() {
    let app = spawn_app().await;
    let b = app.browser();
    b.sign_up("ada@example.org", "Ada", PW).await;
    assert_eq!(b.get("/account").await.text("#tokens-title + p"), "You have no API tokens.");
    let made = b.submit("/account", "/account/tokens", &[("name", "laptop")]).await;
    assert_eq!(made.status, 201);
    let secret = made.text("#new-token");
    assert!(secret.starts_with("fw_"), "{secret}");

    let (status, _, me) = app.api().call(reqwest::Method::GET, "/api/v1/me", None, Some(&secret)).await;
    assert_eq!((status.as_u16(), me["email"].as_str()), (200, Some("ada@example.org")));

    let page = b.get("/account").await;
    assert!(!page.has("#new-token"), "the secret is shown only once");
    assert_eq!(page.text("table.tokens tbody td:first-child"), "laptop");
    let action = page.attr("table.tokens form", "action").expect("revoke form");
    let revoked = b.submit("/account", &action, &[]).await;
    assert_eq!(revoked.status, 303);
    assert_eq!(b.get("/account").await.text("table.tokens tbody td:nth-child(4)"), "revoked");
    let (status, _, _) = app.api().call(reqwest::Method::GET, "/api/v1/me", None, Some(&secret)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn another_users_token_cannot_be_revoked() {
    let app = spawn_app().await;
    let ada = app.create_user("ada@example.org", PW, Role::Participant).await;
    app.create_user("eve@example.org", PW, Role::Participant).await;
    let token = app.db.create_api_token(ada.id, "t", "digest", flywheel::now()).await.unwrap();
    let eve = app.browser();
    eve.log_in("eve@example.org", PW).await;
    let page = eve.submit("/account", &format!("/account/tokens/{}/revoke", token.id), &[]).await;
    assert_eq!(page.status, 404);
    assert!(app.db.api_tokens(ada.id).await.unwrap()[0].revoked_at.is_none());
    assert_eq!(eve.submit("/account", "/account/tokens/not-a-uuid/revoke", &[]).await.status, 404);
}

#[tokio::test]
async fn failed_log_ins_lock_the_account_for_a_minute() {
    let app = spawn_app_with(|c| c.login_failures_per_account_per_minute = 3).await;
    app.create_user("ada@example.org", PW, Role::Participant).await;
    let b = app.browser();
    // Her own log-ins (from other browsers) do not count.
    for _ in 0..5 {
        assert_eq!(app.browser().log_in("ada@example.org", PW).await.status, 303);
    }
    for _ in 0..3 {
        assert_eq!(b.log_in("ada@example.org", "guess").await.status, 401);
    }
    for _ in 0..17 {
        assert_eq!(b.log_in("ada@example.org", "guess").await.status, 429);
    }
    let limited = b.log_in("ada@example.org", PW).await;
    assert_eq!(limited.status, 429, "even the right password waits");
    assert!(limited.text("[role=alert]").starts_with("Too many log-in attempts."));
    let wait: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(b.log_in("other@example.org", PW).await.status, 401, "other accounts are not locked");
}

#[tokio::test]
async fn oversize_forms_and_unknown_pages_get_clear_errors() {
    let app = spawn_app_with(|c| c.max_body_bytes = 4096).await;
    let b = app.browser();
    let token = b.get("/signup").await.csrf();
    let big = "x".repeat(10_000);
    let page =
        b.post_raw("/signup", &[("csrf_token", &token), ("email", "a@b.org"), ("name", &big), ("password", PW)]).await;
    assert_eq!(page.status, 413);
    assert!(page.text("[role=alert]").contains("larger than 4096 bytes"));
    assert_eq!(app.user_count().await, 0);

    let missing = b.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text("main h1"), "Not Found");

    let r = b.client.delete(b.url("/login")).header("x-csrf-token", &token).send().await.unwrap();
    assert_eq!(r.status(), 405, "a page that does not take this method");
    assert!(r.text().await.unwrap().contains("This request cannot be handled (405)."));
}
