//! The curriculum: the pages of `content/` that guide a participant through
//! the three days, each a Markdown file with a marker line:
//!
//! ````markdown
//! <!-- flywheel:page {"order": 1, "nav": "Day 1", "day": 1} -->
//! # Day 1 — Define the problem
//!
//! ## Steps
//!
//! ### 1. Open the intro lab
//! Work through [the intro lab](../labs/intro/notebook.md).
//!
//! **Done when:** the intro lab's checks are green.
//! ````
//!
//! - `order` sorts the navigation, `nav` is its short name, `day` (1–3)
//!   makes a day page: its labs are the labs of that day.
//! - A day page has a `## Steps` section of `### ` steps, each with one
//!   paragraph that starts `**Done when:**` — the signal that says the step
//!   is finished.
//! - Links are written as files, so they also work when the repository is
//!   browsed: `day-2.md` (another page), `../labs/<slug>/notebook.md` (a
//!   lab), or an absolute `https://` address. [`Page::links`] lists them
//!   and [`LinkTarget`] says where each goes; [`check`] finds those that go
//!   nowhere.
//!
//! Parsing is pure (no files): the server reads the directory.

use std::collections::HashSet;

use pulldown_cmark::{Event, Parser, Tag};
use serde::Serialize;

const PAGE_MARKER: &str = "flywheel:page";

/// One curriculum page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// The file name without `.md` (`day-1`): the page's address.
    pub slug: String,
    /// The `# Title`.
    pub title: String,
    /// Position in the navigation (lower first).
    pub order: i64,
    /// Short name in the navigation.
    pub nav: String,
    /// For day pages, which day (1–3).
    pub day: Option<u8>,
    /// The steps of a day page, in order.
    pub steps: Vec<PageStep>,
    /// The Markdown after the marker line (the title included).
    #[serde(skip)]
    pub markdown: String,
}

/// A step of a day page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageStep {
    /// The `### ` heading's text.
    pub title: String,
    /// The text after `**Done when:**`.
    pub done_when: String,
}

/// Where a link in a page leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// Another page (`day-2.md#anchor`): its slug and the anchor, if any.
    Page(String, Option<String>),
    /// A lab (`../labs/<slug>/notebook.md`).
    Lab(String),
    /// An address outside Flywheel (`https://…`, `mailto:`).
    External(String),
    /// An anchor on the same page (`#section`).
    Anchor(String),
    /// Anything else: a broken link.
    Unknown(String),
}

impl LinkTarget {
    /// Classifies a link destination as written in a page.
    pub fn parse(dest: &str) -> Self {
        if dest.starts_with("https://") || dest.starts_with("http://") || dest.starts_with("mailto:") {
            return Self::External(dest.to_owned());
        }
        if let Some(anchor) = dest.strip_prefix('#') {
            return Self::Anchor(anchor.to_owned());
        }
        let (path, anchor) = match dest.split_once('#') {
            Some((p, a)) => (p, Some(a.to_owned())),
            None => (dest, None),
        };
        let slug_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if let Some(lab) = path.strip_prefix("../labs/").and_then(|p| p.strip_suffix("/notebook.md"))
            && slug_ok(lab)
        {
            return Self::Lab(lab.to_owned());
        }
        if let Some(page) = path.strip_suffix(".md")
            && slug_ok(page)
        {
            return Self::Page(page.to_owned(), anchor);
        }
        Self::Unknown(dest.to_owned())
    }

    /// The address this link has in the web app (`/learn/day-2#x`,
    /// `/labs#lab-intro`), or the external address as it is.
    pub fn href(&self) -> String {
        match self {
            Self::Page(slug, None) => format!("/learn/{slug}"),
            Self::Page(slug, Some(anchor)) => format!("/learn/{slug}#{anchor}"),
            Self::Lab(slug) => format!("/labs#lab-{slug}"),
            Self::External(url) | Self::Unknown(url) => url.clone(),
            Self::Anchor(anchor) => format!("#{anchor}"),
        }
    }
}

/// Why a page was refused, with the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PageError {
    /// Where (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> PageError {
    PageError { line, message: message.into() }
}

impl Page {
    /// Reads a page from its file's text.
    ///
    /// # Errors
    /// [`PageError`] naming the line: no marker or a marker that is not a
    /// JSON object with `order` and `nav`, a `day` outside 1–3, no `# Title`,
    /// a day page without steps, or a step without exactly one
    /// `**Done when:**` paragraph.
    pub fn parse(slug: &str, text: &str) -> Result<Self, PageError> {
        let mut lines = text.lines().enumerate().skip_while(|(_, l)| l.trim().is_empty());
        let (marker_line, marker) = lines.next().unwrap_or((0, ""));
        let json = marker
            .trim()
            .strip_prefix("<!--")
            .and_then(|m| m.strip_suffix("-->"))
            .and_then(|m| m.trim().strip_prefix(PAGE_MARKER))
            .ok_or_else(|| {
                error(marker_line + 1, r#"a page starts with <!-- flywheel:page {"order": 1, "nav": "Day 1"} -->"#)
            })?;
        let meta: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json.trim())
            .map_err(|e| error(marker_line + 1, format!("the page marker is not a JSON object: {e}")))?;
        let order = meta.get("order").and_then(serde_json::Value::as_i64);
        let nav = meta.get("nav").and_then(serde_json::Value::as_str).map(str::trim).filter(|n| !n.is_empty());
        let (Some(order), Some(nav)) = (order, nav) else {
            return Err(error(marker_line + 1, "the page marker needs `order` (a number) and `nav` (a short name)"));
        };
        let day = match meta.get("day") {
            None => None,
            Some(d) => Some(
                d.as_u64()
                    .and_then(|d| u8::try_from(d).ok())
                    .filter(|d| (1..=3).contains(d))
                    .ok_or_else(|| error(marker_line + 1, "`day` must be 1, 2 or 3"))?,
            ),
        };
        let (title_line, title) = lines.find(|(_, l)| !l.trim().is_empty()).unwrap_or((marker_line + 1, ""));
        let title = title
            .strip_prefix("# ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| error(title_line + 1, "after the marker, a page has its title: `# Title`"))?;
        let markdown: String = text.lines().skip(marker_line + 1).collect::<Vec<_>>().join("\n");
        let steps = if day.is_some() { steps(text)? } else { Vec::new() };
        Ok(Self { slug: slug.to_owned(), title: title.to_owned(), order, nav: nav.to_owned(), day, steps, markdown })
    }

    /// Every link destination in the page, as written, in order.
    pub fn links(&self) -> Vec<String> {
        Parser::new(&self.markdown)
            .filter_map(|e| match e {
                Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => Some(dest_url.into_string()),
                _ => None,
            })
            .collect()
    }
}

/// The `### ` steps under `## Steps`, each with its `**Done when:**` line.
fn steps(text: &str) -> Result<Vec<PageStep>, PageError> {
    const DONE: &str = "**Done when:**";
    let mut steps: Vec<(usize, PageStep, usize)> = Vec::new();
    let mut in_steps = false;
    let mut in_fence = false;
    let mut steps_line = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence {
            continue;
        }
        if let Some(h2) = line.strip_prefix("## ") {
            in_steps = h2.trim() == "Steps";
            if in_steps {
                steps_line = Some(i + 1);
            }
        } else if in_steps && let Some(h3) = line.strip_prefix("### ") {
            let title = h3.trim().to_owned();
            steps.push((i + 1, PageStep { title, done_when: String::new() }, 0));
        } else if in_steps && let Some(done) = line.trim_start().strip_prefix(DONE) {
            let Some((_, step, count)) = steps.last_mut() else {
                return Err(error(i + 1, "a `**Done when:**` line belongs under a `### ` step"));
            };
            step.done_when = done.trim().to_owned();
            *count += 1;
        }
    }
    let Some(steps_line) = steps_line else {
        return Err(error(1, "a day page has a `## Steps` section"));
    };
    if steps.is_empty() {
        return Err(error(steps_line, "the `## Steps` section has no `### ` steps"));
    }
    steps
        .into_iter()
        .map(|(line, step, count)| match count {
            1 if !step.done_when.is_empty() => Ok(step),
            0 => Err(error(line, format!("step “{}” has no `**Done when:**` paragraph", step.title))),
            _ => Err(error(line, format!("step “{}” has more than one `**Done when:**` paragraph", step.title))),
        })
        .collect()
}

/// The links in `pages` that lead nowhere: to a page that is not among
/// `pages`, to a lab not in `labs`, or of an unknown form. Each is
/// `(page slug, destination, why)`.
pub fn check<'a>(pages: &[Page], labs: impl IntoIterator<Item = &'a str>) -> Vec<(String, String, String)> {
    let labs: HashSet<&str> = labs.into_iter().collect();
    let slugs: HashSet<&str> = pages.iter().map(|p| p.slug.as_str()).collect();
    let mut broken = Vec::new();
    for page in pages {
        for dest in page.links() {
            let why = match LinkTarget::parse(&dest) {
                LinkTarget::Page(slug, _) if !slugs.contains(slug.as_str()) => format!("there is no page `{slug}.md`"),
                LinkTarget::Lab(slug) if !labs.contains(slug.as_str()) => format!("there is no lab `{slug}`"),
                LinkTarget::Unknown(_) => {
                    "write links as `page.md`, `../labs/<slug>/notebook.md` or an absolute https:// address".to_owned()
                }
                _ => continue,
            };
            broken.push((page.slug.clone(), dest, why));
        }
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: &str = "<!-- flywheel:page {\"order\": 1, \"nav\": \"Day 1\", \"day\": 1} -->\n\n# Day 1 — Define the problem\n\nIntro [next](day-2.md#goals).\n\n## Steps\n\n### 1. Read\nSee [the lab](../labs/intro/notebook.md) and [AWS](https://aws.amazon.com/).\n\n**Done when:** you can say what a loss is.\n\n### 2. Write\n```rs\n### not a step\n```\n**Done when:** the write-up is saved.\n";

    #[test]
    fn a_day_page_has_its_steps_and_links() {
        let page = Page::parse("day-1", DAY).unwrap();
        assert_eq!(
            (page.title.as_str(), page.order, page.nav.as_str(), page.day),
            ("Day 1 — Define the problem", 1, "Day 1", Some(1))
        );
        let titles: Vec<&str> = page.steps.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["1. Read", "2. Write"]);
        assert_eq!(page.steps[1].done_when, "the write-up is saved.");
        assert_eq!(page.links(), ["day-2.md#goals", "../labs/intro/notebook.md", "https://aws.amazon.com/"]);
        assert!(!page.markdown.contains("flywheel:page") && page.markdown.starts_with("\n# Day 1"));
    }

    #[test]
    fn links_resolve_to_pages_labs_or_the_outside() {
        assert_eq!(LinkTarget::parse("day-2.md").href(), "/learn/day-2");
        assert_eq!(LinkTarget::parse("day-2.md#goals").href(), "/learn/day-2#goals");
        assert_eq!(LinkTarget::parse("../labs/fraud/notebook.md"), LinkTarget::Lab("fraud".into()));
        assert_eq!(LinkTarget::parse("../labs/fraud/notebook.md").href(), "/labs#lab-fraud");
        assert_eq!(LinkTarget::parse("#steps").href(), "#steps");
        assert!(matches!(LinkTarget::parse("https://example.org/x"), LinkTarget::External(_)));
        for bad in ["Day-2.md", "../labs/x/data.csv", "/etc/passwd", "javascript:alert(1)", "day 2.md"] {
            assert!(matches!(LinkTarget::parse(bad), LinkTarget::Unknown(_)), "{bad}");
        }
        let page = Page::parse("day-1", DAY).unwrap();
        let broken = check(std::slice::from_ref(&page), ["fraud"]);
        let dests: Vec<&str> = broken.iter().map(|b| b.1.as_str()).collect();
        assert_eq!(dests, ["day-2.md#goals", "../labs/intro/notebook.md"]);
        assert!(broken[0].2.contains("no page `day-2.md`") && broken[1].2.contains("no lab `intro`"));
    }

    #[test]
    fn bad_pages_name_their_line() {
        let err = |text: &str| Page::parse("p", text).unwrap_err().to_string();
        assert!(err("# T\n").starts_with("line 1:"));
        assert!(err("<!-- flywheel:page {\"order\": 1} -->\n# T\n").contains("`nav`"));
        assert!(err("<!-- flywheel:page {\"order\": 1, \"nav\": \"N\", \"day\": 4} -->\n# T\n").contains("`day`"));
        assert!(err("<!-- flywheel:page {\"order\": 1, \"nav\": \"N\"} -->\n\nText\n").starts_with("line 3:"));
        let no_done = DAY.replace("**Done when:** you can say what a loss is.", "");
        assert!(err(&no_done).starts_with("line 9:") && err(&no_done).contains("1. Read"), "{}", err(&no_done));
        let no_steps = DAY.replace("## Steps", "## Later");
        assert!(err(&no_steps).contains("## Steps"));
        let plain =
            Page::parse("index", "<!-- flywheel:page {\"order\": 0, \"nav\": \"Start\"} -->\n# Start\n").unwrap();
        assert!(plain.day.is_none() && plain.steps.is_empty());
    }
}
