//! The curriculum's pages (`CONTENT_DIR/*.md`, read once at start), their
//! HTML, and each participant's progress through the labs.

use std::collections::HashMap;
use std::path::Path;

use flywheel_domain::curriculum::{LinkTarget, Page};
use flywheel_domain::{Lab, StepDone, Timestamp};
use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Serialize;

use crate::labs::{Labs, load_dir};

/// The pages this server shows, in navigation order.
#[derive(Debug, Default)]
pub struct Curriculum(Vec<Page>);

impl Curriculum {
    /// Reads every `*.md` under `dir` but `README.md` (which is for the
    /// pages' authors). A page that does not parse is left out with an error
    /// in the log naming its file and line; a missing `dir` gives no pages.
    pub fn load(dir: &Path) -> Self {
        let page_file = |path: &Path| {
            let markdown =
                path.extension().is_some_and(|x| x == "md") && path.file_name().is_some_and(|n| n != "README.md");
            let slug = path.file_stem()?.to_string_lossy().into_owned();
            markdown.then(|| (slug, path.to_path_buf()))
        };
        let mut pages = load_dir(dir, "curriculum page", "content_dir", page_file, Page::parse);
        pages.sort_by(|a, b| (a.order, &a.slug).cmp(&(b.order, &b.slug)));
        tracing::info!(count = pages.len(), dir = %dir.display(), "curriculum loaded");
        Self(pages)
    }

    /// All pages, in navigation order.
    pub fn all(&self) -> &[Page] {
        &self.0
    }

    /// The page with this slug.
    pub fn get(&self, slug: &str) -> Option<&Page> {
        self.0.iter().find(|p| p.slug == slug)
    }

    /// The first page (the one `/learn` shows).
    pub fn first(&self) -> Option<&Page> {
        self.0.first()
    }
}

/// A page's Markdown as HTML: links rewritten to the app's addresses
/// ([`LinkTarget::href`]), `id`s on headings for anchors, raw HTML dropped
/// (the pages are ours, but nothing in them needs it), and the `# Title`
/// left out (the page template shows it).
pub fn to_html(page: &Page) -> String {
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
pub fn anchor(text: &str) -> String {
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

/// One lab's progress for one participant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LabProgress {
    /// The lab's slug.
    pub lab: String,
    /// Its title.
    pub title: String,
    /// Its day (1–3).
    pub day: u8,
    /// Its steps, in order, each with whether (and when) it was passed.
    pub steps: Vec<StepProgress>,
    /// How many steps are done.
    pub done: usize,
    /// How many steps the lab has.
    pub total: usize,
}

/// One step of a lab, for one participant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepProgress {
    /// The check cell's id.
    pub id: String,
    /// What the step is.
    pub title: String,
    /// Whether its check has passed.
    pub done: bool,
    /// When it first passed (milliseconds since the epoch).
    pub passed_at: Option<i64>,
}

impl LabProgress {
    /// `lab`'s steps against what the participant has `passed`.
    pub fn of(lab: &Lab, passed: &HashMap<(&str, &str), Timestamp>) -> Self {
        let steps: Vec<StepProgress> = lab
            .steps
            .iter()
            .map(|s| {
                let at = passed.get(&(lab.slug.as_str(), s.id.as_str()));
                StepProgress {
                    id: s.id.to_string(),
                    title: s.title.clone(),
                    done: at.is_some(),
                    passed_at: at.map(|t| t.millis()),
                }
            })
            .collect();
        let done = steps.iter().filter(|s| s.done).count();
        Self { lab: lab.slug.clone(), title: lab.title.clone(), day: lab.day, total: steps.len(), steps, done }
    }

    /// Every lab's progress, in agenda order.
    pub fn all(labs: &Labs, passed: &[StepDone]) -> Vec<Self> {
        let passed: HashMap<(&str, &str), Timestamp> =
            passed.iter().map(|s| ((s.lab.as_str(), s.step.as_str()), s.passed_at)).collect();
        labs.all().iter().map(|lab| Self::of(lab, &passed)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(dir: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir)
    }

    /// Every page of `content/` parses (the server would leave it out), and
    /// every link in them leads to a page, a lab of `labs/` or the outside.
    #[test]
    fn content_pages_parse_and_their_links_resolve() {
        let mut files = 0;
        for entry in std::fs::read_dir(repo("content")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "md") && !path.ends_with("README.md") {
                let slug = path.file_stem().unwrap().to_string_lossy().into_owned();
                Page::parse(&slug, &std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                files += 1;
            }
        }
        let curriculum = Curriculum::load(&repo("content"));
        assert_eq!(curriculum.all().len(), files);
        let days: Vec<u8> = curriculum.all().iter().filter_map(|p| p.day).collect();
        assert_eq!(days, [1, 2, 3], "one page per day, in order");
        let labs = Labs::load(&repo("labs"));
        let broken = flywheel_domain::curriculum::check(curriculum.all(), labs.all().iter().map(|l| l.slug.as_str()));
        assert!(broken.is_empty(), "broken links: {broken:#?}");
        for lab in labs.all() {
            let linked = curriculum
                .all()
                .iter()
                .any(|p| p.links().iter().any(|d| LinkTarget::parse(d) == LinkTarget::Lab(lab.slug.clone())));
            assert!(linked, "no page links to the lab `{}`", lab.slug);
        }
    }

    #[test]
    fn pages_render_with_app_links_and_anchors_and_no_raw_html() {
        let text = "<!-- flywheel:page {\"order\": 1, \"nav\": \"D\"} -->\n# Title\n\n## 1. Read *this*\n\nSee [day 2](day-2.md#goals), [the lab](../labs/intro/notebook.md) and <script>x()</script> $a+b$.\n";
        let html = to_html(&Page::parse("d", text).unwrap());
        assert!(!html.contains("<h1") && !html.contains("Title"), "{html}");
        assert!(html.contains("<h2 id=\"1-read-this\">1. Read <em>this</em></h2>"), "{html}");
        assert!(html.contains("href=\"/learn/day-2#goals\"") && html.contains("href=\"/labs#lab-intro\""), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("<code>$a+b$</code>"), "{html}");
    }
}
