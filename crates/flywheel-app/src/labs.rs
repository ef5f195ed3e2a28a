//! The lab catalogue: every `LABS_DIR/<slug>/notebook.md`, read once at start.

use std::path::Path;

use flywheel_domain::Lab;

/// The labs this server offers, in agenda order (day, then slug).
#[derive(Debug, Default)]
pub struct Labs(Vec<Lab>);

/// The file each lab directory holds its notebook in.
pub const NOTEBOOK_FILE: &str = "notebook.md";

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
        let mut labs = load_dir(dir, "lab", "labs_dir", lab_file, Lab::from_markdown);
        labs.sort_by(|a, b| (a.day, &a.slug).cmp(&(b.day, &b.slug)));
        tracing::info!(count = labs.len(), dir = %dir.display(), "labs loaded");
        Self(labs)
    }

    /// All labs, in agenda order.
    pub fn all(&self) -> &[Lab] {
        &self.0
    }

    /// The lab with this slug.
    pub fn get(&self, slug: &str) -> Option<&Lab> {
        self.0.iter().find(|l| l.slug == slug)
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
        assert_eq!(Labs::load(dir).all().len(), found);
    }
}
