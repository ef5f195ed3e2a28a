//! The curriculum's pages (`CONTENT_DIR/*.md`, read once at start) and each
//! participant's progress through the labs. The pages' HTML is the web
//! layer's (`server/src/web/learn.rs`).

use std::collections::HashMap;
use std::path::Path;

use flywheel_domain::curriculum::Page;
use flywheel_domain::{Lab, StepDone, Timestamp};

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

/// One lab's progress for one participant.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
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
    use flywheel_domain::curriculum::LinkTarget;

    fn repo(dir: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir)
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
}
