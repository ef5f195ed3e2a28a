//! The curriculum pages (`/learn`, `/learn/{slug}`) and the participant's
//! progress (`/progress`). Anyone may read the curriculum; progress and the
//! day pages' lab cards need an account.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flywheel_app::curriculum::{LabProgress, StepProgress};
use flywheel_domain::curriculum::{LinkTarget, Page as CurriculumPage};
use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::auth::extract::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::notebooks::{LabItem, lab_items};
use crate::web::{Layout, Page, format_time};

/// A page in the curriculum's navigation.
pub struct NavItem {
    slug: String,
    nav: String,
    /// Steps done and in all, over a day page's labs (logged in, and the day has steps).
    progress: Option<(usize, usize)>,
}

#[derive(askama::Template)]
#[template(path = "learn.html")]
struct LearnPage {
    layout: Layout,
    page: CurriculumPage,
    pages: Vec<NavItem>,
    html: String,
    /// A day page's labs, with the participant's progress.
    items: Vec<LabItem>,
    prev: Option<(String, String)>,
    next: Option<(String, String)>,
}

#[derive(askama::Template)]
#[template(path = "progress.html")]
struct ProgressPage {
    layout: Layout,
    rows: Vec<(LabProgress, StepProgress, Option<String>)>,
    done: usize,
    total: usize,
    /// The first step not done: (lab slug, step title, lab title).
    next: Option<(String, String, String)>,
}

/// `/learn`: the curriculum's first page.
pub(super) async fn index(state: State<AppState>, layout: Layout) -> Result<Response, AppError> {
    let first = state.curriculum.first().map(|p| p.slug.clone());
    let slug = first.ok_or_else(|| AppError::not_found("No curriculum is installed on this server."))?;
    page(state, layout, Path(slug)).await
}

/// `/learn/{slug}`: one page, with the navigation and, on day pages, the
/// day's labs and the participant's progress in them.
pub(super) async fn page(
    State(state): State<AppState>,
    layout: Layout,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let all = state.curriculum.all();
    let at = all.iter().position(|p| p.slug == slug);
    let at = at.ok_or_else(|| AppError::not_found(format!("There is no curriculum page `{}`.", short(&slug))))?;
    let page = all[at].clone();
    let items = match &layout.user {
        Some(user) => lab_items(&state, user).await?,
        None => Vec::new(),
    };
    let pages = all
        .iter()
        .map(|p| {
            let day_items = || items.iter().filter(move |i| Some(i.lab.day) == p.day);
            let progress = p
                .day
                .filter(|_| !items.is_empty())
                .map(|_| (day_items().map(|i| i.progress.done).sum(), day_items().map(|i| i.progress.total).sum()))
                // A day without lab steps shows no count.
                .filter(|&(_, total): &(usize, usize)| total > 0);
            NavItem { slug: p.slug.clone(), nav: p.nav.clone(), progress }
        })
        .collect();
    let items: Vec<LabItem> = items.into_iter().filter(|i| page.day == Some(i.lab.day)).collect();
    let link = |p: &CurriculumPage| (p.slug.clone(), p.nav.clone());
    let prev = at.checked_sub(1).map(|i| link(&all[i]));
    let next = all.get(at + 1).map(link);
    let html = to_html(&page);
    Ok(Page(StatusCode::OK, LearnPage { layout, page, pages, html, items, prev, next }).into_response())
}

/// `/progress`: every lab step, done or not.
pub(super) async fn progress(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    let labs = LabProgress::all(&state.labs, &state.db.progress(user.id).await?);
    let done = labs.iter().map(|l| l.done).sum();
    let total = labs.iter().map(|l| l.total).sum();
    let next = labs
        .iter()
        .find_map(|l| l.steps.iter().find(|s| !s.done).map(|s| (l.lab.clone(), s.title.clone(), l.title.clone())));
    let rows = labs
        .iter()
        .flat_map(|l| {
            l.steps.iter().map(move |s| {
                let when = s.passed_at.map(|t| format_time(flywheel_domain::Timestamp(t)));
                (l.clone(), s.clone(), when)
            })
        })
        .collect();
    Ok(Page(StatusCode::OK, ProgressPage { layout, rows, done, total, next }).into_response())
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A page's Markdown as HTML: links rewritten to the app's addresses
/// ([`LinkTarget::href`]), `id`s on headings for anchors, raw HTML dropped
/// (the pages are ours, but nothing in them needs it), and the `# Title`
/// left out (the page template shows it).
fn to_html(page: &CurriculumPage) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_MATH;
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut heading: Option<(HeadingLevel, Vec<Event<'_>>)> = None;
    for event in Parser::new_ext(&page.markdown, options) {
        match event {
            Event::Html(_) | Event::InlineHtml(_) => {}
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level, Vec::new())),
            Event::End(TagEnd::Heading(level)) => {
                let inner = heading.take().map(|h| h.1).unwrap_or_default();
                if level == HeadingLevel::H1 {
                    continue;
                }
                let text: String = inner
                    .iter()
                    .filter_map(|e| match e {
                        Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                        _ => None,
                    })
                    .collect();
                events.push(Event::Html(CowStr::from(format!("<{level} id=\"{}\">", anchor(&text)))));
                events.extend(inner);
                events.push(Event::Html(CowStr::from(format!("</{level}>\n"))));
            }
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                let dest_url = CowStr::from(LinkTarget::parse(&dest_url).href());
                push(&mut heading, &mut events, Event::Start(Tag::Link { link_type, dest_url, title, id }));
            }
            // Maths is shown as written (KaTeX runs only in notebooks).
            Event::InlineMath(m) => push(&mut heading, &mut events, Event::Code(CowStr::from(format!("${m}$")))),
            Event::DisplayMath(m) => push(&mut heading, &mut events, Event::Code(CowStr::from(format!("$${m}$$")))),
            other => push(&mut heading, &mut events, other),
        }
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html
}

fn push<'a>(heading: &mut Option<(HeadingLevel, Vec<Event<'a>>)>, events: &mut Vec<Event<'a>>, e: Event<'a>) {
    match heading {
        Some((_, inner)) => inner.push(e),
        None => events.push(e),
    }
}

/// A heading's anchor, as GitHub makes them: lower case, spaces to `-`,
/// punctuation dropped (`1. Read the primer` → `1-read-the-primer`).
fn anchor(text: &str) -> String {
    text.trim()
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() => Some(c.to_lowercase().next().unwrap_or(c)),
            ' ' | '-' => Some('-'),
            '_' => Some('_'),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_render_with_app_links_and_anchors_and_no_raw_html() {
        let text = "<!-- flywheel:page {\"order\": 1, \"nav\": \"D\"} -->\n# Title\n\n## 1. Read *this*\n\nSee [day 2](day-2.md#goals), [the lab](../labs/intro/notebook.md) and <script>x()</script> $a+b$.\n";
        let html = to_html(&CurriculumPage::parse("d", text).unwrap());
        assert!(!html.contains("<h1") && !html.contains("Title"), "{html}");
        assert!(html.contains("<h2 id=\"1-read-this\">1. Read <em>this</em></h2>"), "{html}");
        assert!(html.contains("href=\"/learn/day-2#goals\"") && html.contains("href=\"/labs#lab-intro\""), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("<code>$a+b$</code>"), "{html}");
    }
}
