//! The architecture invariants of `ARCHITECTURE.md`, checked rather than
//! only written down (rust-analyzer's `xtask/src/tidy.rs` habit): the
//! workspace's declared dependencies, read from `cargo metadata`, what
//! `server/src` and `flywheel-app` hold, the configuration keys against
//! `server/flywheel.example.toml`, and the API's routes against its OpenAPI
//! document. Fast (no server, no kernel), so it
//! runs with every suite.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// Each workspace package's normal (non-dev) dependencies, with the
/// features it asks of each, as `cargo metadata` reports them (workspace
/// inheritance resolved).
fn dependencies() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline", "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON");
    let mut packages = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for dep in package["dependencies"].as_array().expect("dependencies") {
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            let features = dep["features"].as_array().into_iter().flatten().filter_map(Value::as_str);
            deps.entry(dep["name"].as_str().expect("name").to_owned()).or_default().extend(features.map(str::to_owned));
        }
        packages.insert(package["name"].as_str().expect("name").to_owned(), deps);
    }
    packages
}

/// The packages (other than `allowed`) that depend on any of `crates`.
fn dependents_besides(
    packages: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    crates: &[&str],
    allowed: &[&str],
) -> Vec<String> {
    packages
        .iter()
        .filter(|(name, _)| !allowed.contains(&name.as_str()))
        .flat_map(|(name, deps)| {
            crates.iter().filter(|c| deps.contains_key(**c)).map(move |c| format!("{name} depends on {c}"))
        })
        .collect()
}

#[test]
fn only_the_server_knows_the_web_framework() {
    let web = ["axum", "axum-htmx", "askama", "utoipa", "tower-http", "tower-sessions"];
    let offenders = dependents_besides(&dependencies(), &web, &["flywheel"]);
    assert!(offenders.is_empty(), "only `server` (package flywheel) may know the web layer: {offenders:?}");
}

#[test]
fn only_the_kernel_links_evcxr() {
    let offenders = dependents_besides(&dependencies(), &["evcxr", "ra_ap_syntax"], &["flywheel-kernel"]);
    assert!(offenders.is_empty(), "only flywheel-kernel may link evcxr: {offenders:?}");
}

#[test]
fn the_domain_crate_does_no_io() {
    let packages = dependencies();
    let domain = packages.get("flywheel-domain").expect("flywheel-domain is a member");
    let io = ["tokio", "sqlx", "reqwest", "getrandom", "rand", "tempfile", "walkdir", "flywheel-store"];
    let found: Vec<_> = io.iter().filter(|c| domain.contains_key(**c)).collect();
    assert!(found.is_empty(), "flywheel-domain does no I/O, yet depends on {found:?}");
    let uuid = domain.get("uuid").cloned().unwrap_or_default();
    assert!(
        !uuid.iter().any(|f| matches!(f.as_str(), "v4" | "v7" | "fast-rng")),
        "flywheel-domain makes no random ids (uuid features {uuid:?}): ids are made by the caller"
    );
}

#[test]
fn the_library_crates_never_depend_on_the_server() {
    let offenders = dependents_besides(&dependencies(), &["flywheel"], &["flywheel-tests"]);
    assert!(offenders.is_empty(), "{offenders:?}");
}

/// The web server is pages, API, auth, CLI, configuration, errors, metrics
/// and wiring; the rules live in `flywheel-app`. A new module in
/// `server/src` is a service in the wrong place, or a new kind of web part
/// that this list (and `ARCHITECTURE.md`) should name.
#[test]
fn the_server_holds_only_the_web_layer() {
    let allowed = [
        "api",
        "app.rs",
        "auth",
        "cli.rs",
        "config.rs",
        "error.rs",
        "lib.rs",
        "main.rs",
        "metrics.rs",
        "remote_worker.rs",
        "state.rs",
        "web",
    ];
    let entries = std::fs::read_dir(workspace_root().join("server/src")).expect("server/src");
    let mut extra: Vec<String> = entries
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|name| !allowed.contains(&name.as_str()))
        .collect();
    extra.sort();
    assert!(extra.is_empty(), "server/src holds {extra:?}: application rules go in crates/flywheel-app");
}

/// The application services answer in domain terms: no HTTP status in
/// their sources (the server's `error.rs` decides statuses).
/// The `.rs` files under `dir`, its subdirectories included.
fn rust_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_application_services_speak_no_http() {
    let mut offenders = Vec::new();
    for path in rust_files(&workspace_root().join("crates/flywheel-app/src")) {
        let text = std::fs::read_to_string(&path).expect("a source file");
        for (n, line) in text.lines().enumerate() {
            if ["StatusCode", "axum::", "http::", "IntoResponse"].iter().any(|w| line.contains(w)) {
                offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn every_configuration_key_is_in_the_example_file() {
    let example = std::fs::read_to_string(workspace_root().join("server/flywheel.example.toml")).expect("example");
    let defaults = serde_json::to_value(flywheel::Config::default()).expect("the configuration serialises");
    let keys: Vec<&String> = defaults.as_object().expect("an object").keys().collect();
    assert!(keys.len() > 20, "{keys:?}");
    let missing: Vec<_> = keys.iter().filter(|k| !example.contains(&format!("\n# {k} = "))).collect();
    assert!(missing.is_empty(), "keys missing from server/flywheel.example.toml: {missing:?}");
}

/// The `(method, path)` pairs of every `.route("…", get(…).post(…))` in
/// `server/src/api/`, with `/api/v1` in front — except in a `runtime_router`
/// (the endpoints' invocations), which the server mounts at the top level.
fn declared_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let dir = workspace_root().join("server/src/api");
    for file in std::fs::read_dir(&dir).expect("server/src/api") {
        let source = std::fs::read_to_string(file.expect("entry").path()).expect("source");
        let runtime_at = source.find("fn runtime_router(").unwrap_or(source.len());
        let mut rest = source.as_str();
        while let Some(start) = rest.find(".route(") {
            let prefix = if source.len() - rest.len() + start > runtime_at { "" } else { "/api/v1" };
            rest = &rest[start + ".route(".len()..];
            // The call's arguments: up to the parenthesis that closes it.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let call = &rest[..end];
            let path = call.split('"').nth(1).expect("a route's path literal");
            for method in ["get", "post", "put", "patch", "delete"] {
                let named = call
                    .match_indices(&format!("{method}("))
                    .any(|(i, _)| !call[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
                if named {
                    routes.insert((method.to_owned(), format!("{prefix}{path}")));
                }
            }
        }
    }
    routes
}

#[test]
fn every_api_route_is_in_the_openapi_document() {
    let document = serde_json::to_value(flywheel::api::openapi()).expect("the document serialises");
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().into_iter().flatten().map(move |(method, _)| (method.clone(), path.clone()))
        })
        .collect();
    let declared = declared_routes();
    assert!(declared.len() > 40, "the route scan found too few routes: {declared:?}");
    // `/openapi.json` serves the document itself, outside `/api/v1`.
    let missing: Vec<_> = declared
        .iter()
        .filter(|(_, path)| path != "/api/v1/openapi.json")
        .filter(|r| !documented.contains(*r))
        .collect();
    assert!(missing.is_empty(), "API routes without an OpenAPI entry: {missing:?}");
}
