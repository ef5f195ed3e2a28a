//! The lab catalogue: every `LABS_DIR/<slug>/notebook.md`, read once at
//! start, with the lab's hidden test set when it scores submitted models
//! (`<slug>/scoring.json`, a `flywheel_ml::scoring::HiddenTestSpec`: a new
//! scored lab is two files, not an edit of the library).

use std::collections::HashMap;
use std::path::Path;

use flywheel_domain::Lab;
use flywheel_ml::scoring::HiddenTestSpec;

/// The labs this server offers, in agenda order (day, then slug), and how
/// the scored ones score submitted models.
#[derive(Debug, Default)]
pub struct Labs {
    labs: Vec<Lab>,
    scoring: HashMap<String, HiddenTestSpec>,
}

/// The file each lab directory holds its notebook in.
pub const NOTEBOOK_FILE: &str = "notebook.md";

/// The file a scored lab declares its hidden test set in, beside its notebook.
pub const SCORING_FILE: &str = "scoring.json";

/// A lab and, if it scores models, its hidden test set.
type Loaded = (Lab, Option<HiddenTestSpec>);

/// Reads a lab directory's scoring declaration, if it has one.
fn scoring(dir: &Path) -> Result<Option<HiddenTestSpec>, String> {
    let file = dir.join(SCORING_FILE);
    if !file.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let spec: HiddenTestSpec = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    spec.check().map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Some(spec))
}

impl Labs {
    /// Reads every lab under `dir`. A lab that does not parse is left out
    /// with an error in the log naming its file and line (`flywheel notebook
    /// check` says the same); a missing `dir` gives no labs and a warning.
    pub fn load(dir: &Path) -> Self {
        let lab_file = |entry: &Path| {
            let file = entry.join(NOTEBOOK_FILE);
            let slug = entry.file_name()?.to_string_lossy().into_owned();
            file.is_file().then_some((slug, file))
        };
        let parse = |slug: &str, text: &str| -> Result<Loaded, String> {
            let lab = Lab::from_markdown(slug, text).map_err(|e| e.to_string())?;
            Ok((lab, scoring(&dir.join(slug))?))
        };
        let mut loaded = load_dir(dir, "lab", "labs_dir", lab_file, parse);
        loaded.sort_by(|(a, _), (b, _)| (a.day, &a.slug).cmp(&(b.day, &b.slug)));
        let scoring = loaded.iter().filter_map(|(lab, spec)| Some((lab.slug.clone(), spec.clone()?))).collect();
        let labs: Vec<Lab> = loaded.into_iter().map(|(lab, _)| lab).collect();
        tracing::info!(count = labs.len(), dir = %dir.display(), "labs loaded");
        Self { labs, scoring }
    }

    /// All labs, in agenda order.
    pub fn all(&self) -> &[Lab] {
        &self.labs
    }

    /// The lab with this slug.
    pub fn get(&self, slug: &str) -> Option<&Lab> {
        self.labs.iter().find(|l| l.slug == slug)
    }

    /// How lab `slug` scores submitted models; `None` when it takes none.
    pub fn scoring(&self, slug: &str) -> Option<&HiddenTestSpec> {
        self.scoring.get(slug)
    }
}

/// Reads the files of `dir` that `file_of` picks (each entry's path → its
/// slug and the file to read) and parses each with `parse(slug, text)`. A
/// file that cannot be read or parsed is left out with an error in the log
/// naming it (`what left out: FILE: why`); an unreadable `dir` gives nothing
/// and a warning naming the `setting` to fix. The labs and the curriculum
/// pages are loaded this way.
pub(crate) fn load_dir<T, E: std::fmt::Display>(
    dir: &Path,
    what: &str,
    setting: &str,
    file_of: impl Fn(&Path) -> Option<(String, std::path::PathBuf)>,
    parse: impl Fn(&str, &str) -> Result<T, E>,
) -> Vec<T> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "no {what}s: cannot read the directory (setting `{setting}`)");
            return Vec::new();
        }
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| file_of(&entry.path()))
        .filter_map(|(slug, file)| {
            let parsed = std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|text| parse(&slug, &text).map_err(|e| e.to_string()));
            parsed.map_err(|e| tracing::error!("{what} left out: {}: {e}", file.display())).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every lab in the repository parses (the server would leave it out).
    #[test]
    fn every_bundled_lab_parses() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../labs"));
        let mut found = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path().join(NOTEBOOK_FILE);
            if path.is_file() {
                let slug = path.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(&path).unwrap();
                Lab::from_markdown(&slug, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                found += 1;
            }
        }
        assert!(found >= 1, "labs/ holds at least the intro lab");
        let labs = Labs::load(dir);
        assert_eq!(labs.all().len(), found);
        assert_eq!(labs.scoring("fraud").map(|s| s.generator.as_str()), Some("credit_card_fraud"));
        assert!(labs.scoring("intro").is_none());
    }

    /// A scoring declaration that names no generator or metric of the
    /// library leaves its lab out (and the log says which file and why),
    /// as a notebook that does not parse does.
    #[test]
    fn a_lab_with_a_bad_scoring_declaration_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let notebook = "<!-- flywheel:notebook {\"day\": 1, \"minutes\": 5, \"summary\": \"S.\"} -->\n# T\n";
        for (slug, scoring) in [
            ("good", r#"{"generator": "ai4i_2020", "rows": 100, "target": "Machine failure", "metric": "roc_auc"}"#),
            ("bad", r#"{"generator": "mnist", "rows": 100, "target": "y", "metric": "roc_auc"}"#),
            ("plain", ""),
        ] {
            std::fs::create_dir(dir.path().join(slug)).unwrap();
            std::fs::write(dir.path().join(slug).join(NOTEBOOK_FILE), notebook).unwrap();
            if !scoring.is_empty() {
                std::fs::write(dir.path().join(slug).join(SCORING_FILE), scoring).unwrap();
            }
        }
        let labs = Labs::load(dir.path());
        let slugs: Vec<&str> = labs.all().iter().map(|l| l.slug.as_str()).collect();
        assert_eq!(slugs, ["good", "plain"]);
        assert_eq!(labs.scoring("good").map(|s| s.metric.as_str()), Some("roc_auc"));
        assert!(labs.scoring("plain").is_none());
    }
}
