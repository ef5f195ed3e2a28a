//! Saving and loading fitted models: every model (and scaler) becomes a
//! JSON document that names its type, so a file can be versioned, reloaded
//! in another session, submitted and later served — and loading a file of
//! another model type says so instead of failing obscurely.
//!
//! The document is `{"flywheel_model": "<type>", "format": 1, "model": {…}}`,
//! the model part being the type's serde form.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{MlError, Result};

/// The version of the document's layout.
const FORMAT: u64 = 1;

pub(crate) fn to_json<T: Serialize>(kind: &str, model: &T) -> Result<String> {
    let doc = serde_json::json!({ "flywheel_model": kind, "format": FORMAT, "model": model });
    serde_json::to_string(&doc).map_err(|e| MlError::Write(format!("the {kind} as JSON: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(kind: &str, text: &str) -> Result<T> {
    let mut doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| MlError::Read(format!("a saved model is JSON; this is not: {e}")))?;
    let found = doc.get("flywheel_model").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    if found.is_empty() {
        return Err(MlError::Read("this JSON is not a saved Flywheel model (no `flywheel_model` field)".into()));
    }
    if found != kind {
        return Err(MlError::Read(format!("this file holds a {found}, not a {kind}; load it with {found}::load")));
    }
    let format = doc.get("format").and_then(serde_json::Value::as_u64);
    if format != Some(FORMAT) {
        return Err(MlError::Read(format!(
            "this {kind} was saved in format {format:?}; this library reads format {FORMAT}"
        )));
    }
    serde_json::from_value(doc["model"].take()).map_err(|e| MlError::Read(format!("the saved {kind} is damaged: {e}")))
}

pub(crate) fn save(kind: &str, json: &str, path: &Path) -> Result<()> {
    std::fs::write(path, json).map_err(|e| MlError::Write(format!("the {kind} to {}: {e}", path.display())))
}

pub(crate) fn load(kind: &str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| MlError::Read(format!("the {kind} from {}: {e}", path.display())))
}

/// `to_json`, `from_json`, `save` and `load` for a fitted model type.
macro_rules! saveable {
    ($($model:ident),+ $(,)?) => {$(
        impl $model {
            /// The fitted model as a JSON document that names its type
            /// (`{"flywheel_model": …, "format": 1, "model": …}`).
            ///
            /// # Errors
            /// [`MlError::Write`] if it cannot be serialised (it always can).
            pub fn to_json(&self) -> Result<String> {
                persist::to_json(stringify!($model), self)
            }

            /// A model from [`Self::to_json`]'s document.
            ///
            /// # Errors
            /// [`MlError::Read`] for text that is not JSON, JSON that is not
            /// a saved model, a saved model of another type (the message
            /// names it), another format version, or a damaged model part.
            pub fn from_json(text: &str) -> Result<Self> {
                persist::from_json(stringify!($model), text)
            }

            /// Writes the model to `path` as JSON (conventionally `.json`),
            /// replacing any file there.
            ///
            /// # Errors
            /// [`MlError::Write`] when the file cannot be written; the message names the path.
            pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
                persist::save(stringify!($model), &self.to_json()?, path.as_ref())
            }

            /// Reads a model saved with [`Self::save`].
            ///
            /// # Errors
            /// [`MlError::Read`] when the file cannot be read, or as [`Self::from_json`].
            pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
                Self::from_json(&persist::load(stringify!($model), path.as_ref())?)
            }
        }

        impl $crate::job::SavedModel for $model {
            const KIND: &'static str = stringify!($model);

            fn from_json(text: &str) -> Result<Self> {
                persist::from_json(stringify!($model), text)
            }

            fn to_json(&self) -> Result<String> {
                persist::to_json(stringify!($model), self)
            }
        }
    )+};
}

pub(crate) use saveable;

#[cfg(test)]
mod tests {
    use crate::models::{GradientBoostedTrees, GradientBoostedTreesModel, KMeans, KMeansModel};
    use crate::{Dataset, MlError, datasets};

    #[test]
    fn a_model_survives_a_round_trip_through_a_file() {
        let iris = datasets::iris();
        let model = GradientBoostedTrees::params().iterations(10).fit(&iris).unwrap();
        let path = std::env::temp_dir().join(format!("flywheel-model-{}.json", std::process::id()));
        model.save(&path).unwrap();
        let back = GradientBoostedTreesModel::load(&path).unwrap();
        std::fs::remove_file(&path).ok();
        let (before, after) = (model.predict(iris.features()).unwrap(), back.predict(iris.features()).unwrap());
        assert_eq!((after.ids(), after.classes()), (before.ids(), before.classes()));
        let json = model.to_json().unwrap();
        assert!(json.starts_with(r#"{"flywheel_model":"GradientBoostedTreesModel","format":1,"model":"#), "{json}");
    }

    #[test]
    fn the_wrong_file_gets_a_clear_error() {
        let iris = datasets::iris();
        let kmeans = KMeans::params(3).seed(1).fit(&Dataset::unsupervised(iris.features().clone())).unwrap();
        let json = kmeans.to_json().unwrap();
        assert!(KMeansModel::from_json(&json).is_ok());
        let err = GradientBoostedTreesModel::from_json(&json).unwrap_err();
        assert!(
            matches!(&err, MlError::Read(m) if m.contains("holds a KMeansModel") && m.contains("KMeansModel::load")),
            "{err}"
        );
        for bad in [
            "not json",
            "{}",
            r#"{"flywheel_model": "KMeansModel", "format": 9, "model": {}}"#,
            r#"{"flywheel_model": "KMeansModel", "format": 1, "model": {"k": "x"}}"#,
        ] {
            assert!(matches!(KMeansModel::from_json(bad), Err(MlError::Read(_))), "{bad}");
        }
        let missing = KMeansModel::load("/nonexistent/model.json").unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/model.json"), "{missing}");
    }
}
