//! ONNX models, run by ONNX Runtime through `ort`. This is the only module that knows `ort`.
//!
//! `init` loads the ONNX Runtime library once per process (from the configured path, else
//! `ORT_DYLIB_PATH`, else `.tools/onnxruntime-*/libonnxruntime.so*` under the current folder, where
//! the setup unpacks it) and returns an error, never a panic, when it cannot. `Model::load` reads an
//! `.onnx` file once; the model is then shared by every thread (`predict` takes `&self`).
//!
//! A model is self-describing: the training script writes into the ONNX metadata
//! `liasse.name`, `liasse.version`, `liasse.labels` (JSON list, in the order of the probability
//! columns) and `liasse.features` (the `FeatureSpec`, JSON) and, when it has one,
//! `liasse.threshold` (the calibrated confidence threshold).

use crate::features::FeatureSpec;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ModelError {
    #[error(
        "ONNX Runtime library not found: set ORT_DYLIB_PATH (or classifier.ort_dylib) to libonnxruntime.so"
    )]
    NoRuntime,
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    Runtime { path: PathBuf, message: String },
    #[error("cannot read model {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("model {path} is not usable: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("model {model} expects {expected} features, got {actual}")]
    Input { model: String, expected: usize, actual: usize },
    #[error("model {model} failed to run: {message}")]
    Run { model: String, message: String },
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, ModelError>> = OnceLock::new();
static LOADS: AtomicUsize = AtomicUsize::new(0);
static LOADS_BY_PATH: Mutex<Vec<(PathBuf, usize)>> = Mutex::new(Vec::new());

/// Loads ONNX Runtime once per process: from `dylib` when given, else from `ORT_DYLIB_PATH`.
/// Later calls return the first call's result (one runtime per process).
pub fn init(dylib: Option<&Path>) -> Result<(), ModelError> {
    environment(dylib).map(|_| ())
}

fn environment(dylib: Option<&Path>) -> Result<&'static ort::environment::Environment, ModelError> {
    ENVIRONMENT
        .get_or_init(|| {
            let path = match dylib {
                Some(p) => p.to_path_buf(),
                None => match std::env::var_os("ORT_DYLIB_PATH") {
                    Some(p) if !p.is_empty() => PathBuf::from(p),
                    _ => bundled().ok_or(ModelError::NoRuntime)?,
                },
            };
            if !path.is_file() {
                return Err(ModelError::Runtime { path, message: "no such file".into() });
            }
            let runtime = |message: String| ModelError::Runtime { path: path.clone(), message };
            let builder = ort::init_from(&path).map_err(|e| runtime(e.to_string()))?;
            builder.with_name("liasse").build().map_err(|e| runtime(e.to_string()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The library the project's setup unpacks (`.tools/onnxruntime-<version>/libonnxruntime.so…`
/// under the current folder), when there is one.
fn bundled() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(".tools")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("onnxruntime-")))
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// How many models this process has loaded (to check that models load once).
pub fn loads() -> usize {
    LOADS.load(Ordering::SeqCst)
}

/// How many times this process has loaded the model file at `path`.
pub fn loads_of(path: &Path) -> usize {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let seen = LOADS_BY_PATH.lock().unwrap_or_else(|p| p.into_inner());
    seen.iter().find(|(p, _)| *p == key).map(|(_, n)| *n).unwrap_or(0)
}

/// A loaded model, shared across threads.
pub struct Model {
    pub name: String,
    pub version: String,
    /// SHA-256 of the `.onnx` file.
    pub sha256: String,
    /// Class names, in the order of `predict`'s probabilities.
    pub labels: Vec<String>,
    /// How its input vector is made.
    pub features: FeatureSpec,
    /// Calibrated confidence threshold, when the training script wrote one.
    pub threshold: Option<f32>,
    /// The file it was loaded from.
    pub path: PathBuf,
    input: String,
    output: String,
    session: Mutex<Session>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("sha256", &self.sha256)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Reads an `.onnx` file written by one of our training scripts (see the module doc).
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let env = environment(None)?;
        let bytes = std::fs::read(path)
            .map_err(|e| ModelError::Read { path: path.to_path_buf(), message: e.to_string() })?;
        let invalid = |message: String| ModelError::Invalid { path: path.to_path_buf(), message };
        let session = Session::builder(env)
            .and_then(|b| {
                b.with_optimization_level(GraphOptimizationLevel::Level3).map_err(ort::Error::<()>::from)
            })
            .and_then(|b| b.with_intra_threads(1).map_err(ort::Error::<()>::from))
            .and_then(|b| b.with_inter_threads(1).map_err(ort::Error::<()>::from))
            .and_then(|mut b| b.commit_from_memory(&bytes))
            .map_err(|e| invalid(e.to_string()))?;
        let meta = session.metadata().map_err(|e| invalid(e.to_string()))?;
        let get = |k: &str| meta.custom(&format!("liasse.{k}"));
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let name = get("name").unwrap_or(stem);
        let version = get("version").ok_or_else(|| invalid("no liasse.version metadata".into()))?;
        let labels: Vec<String> = get("labels")
            .ok_or_else(|| invalid("no liasse.labels metadata".into()))
            .and_then(|s| serde_json::from_str(&s).map_err(|e| invalid(format!("liasse.labels: {e}"))))?;
        let features = get("features")
            .ok_or_else(|| invalid("no liasse.features metadata".into()))
            .and_then(|s| FeatureSpec::from_json(&s).map_err(|e| invalid(format!("liasse.features: {e}"))))?;
        let threshold = match get("threshold") {
            Some(s) => Some(s.trim().parse::<f32>().map_err(|e| invalid(format!("liasse.threshold: {e}")))?),
            None => None,
        };
        drop(meta);
        let input = session.inputs().first().ok_or_else(|| invalid("no input".into()))?.name().to_string();
        if session.inputs().len() != 1 {
            return Err(invalid(format!("{} inputs, expected 1", session.inputs().len())));
        }
        let output = session
            .outputs()
            .iter()
            .find(|o| o.name() == "probabilities")
            .or_else(|| session.outputs().last())
            .ok_or_else(|| invalid("no output".into()))?
            .name()
            .to_string();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let model = Model {
            name,
            version,
            sha256,
            labels,
            features,
            threshold,
            path: path.to_path_buf(),
            input,
            output,
            session: Mutex::new(session),
        };
        // A first run checks that the input size and the number of classes agree.
        let p = model.predict(&vec![0f32; model.features.len()])?;
        if p.len() != model.labels.len() {
            return Err(invalid(format!("{} probabilities for {} labels", p.len(), model.labels.len())));
        }
        LOADS.fetch_add(1, Ordering::SeqCst);
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut seen = LOADS_BY_PATH.lock().unwrap_or_else(|p| p.into_inner());
        match seen.iter_mut().find(|(p, _)| *p == key) {
            Some((_, n)) => *n += 1,
            None => seen.push((key, 1)),
        }
        Ok(model)
    }

    /// Probabilities of each label for one feature vector.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<f32>, ModelError> {
        let expected = self.features.len();
        if x.len() != expected {
            return Err(ModelError::Input { model: self.name.clone(), expected, actual: x.len() });
        }
        let run = |message: String| ModelError::Run { model: self.name.clone(), message };
        let tensor = Tensor::from_array(([1usize, x.len()], x.to_vec())).map_err(|e| run(e.to_string()))?;
        // A poisoned lock only means another thread panicked while holding it; the session
        // itself holds no state between runs.
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs =
            session.run(ort::inputs![self.input.as_str() => tensor]).map_err(|e| run(e.to_string()))?;
        let value = outputs.get(&self.output).ok_or_else(|| run(format!("no output {}", self.output)))?;
        let (_, probs) = value.try_extract_tensor::<f32>().map_err(|e| run(e.to_string()))?;
        Ok(probs.to_vec())
    }

    /// Features of a text, then `predict`.
    pub fn predict_text(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        self.predict(&crate::features::text_features(text, &self.features))
    }
}
