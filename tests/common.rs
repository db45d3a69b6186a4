#![allow(dead_code)]
//! Shared test helpers: one engine per test binary, the golden-file check, paths.

use liasse::config::Config;
use liasse::intake::Input;
use liasse::pipeline::{Engine, Outcome, process_one};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// A path in the shared corpora (`../shared/corpus/…` from the root).
pub fn corpus(rel: &str) -> PathBuf {
    root().join("../shared/corpus").join(rel)
}

/// The test configuration: the defaults, with the sandbox being the `liasse` binary cargo built
/// for these tests.
pub fn config() -> Config {
    let mut c = Config::default();
    c.sandbox.helper = Some(PathBuf::from(env!("CARGO_BIN_EXE_liasse")));
    // A fixed processing date: the invoice date checks (future, very old) stay reproducible.
    c.invoice.today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25);
    c
}

/// One engine shared by every test of the binary (OCR engines are costly to start).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(&config()).expect("the engine starts"))
}

/// Run the in-process pipeline on a file.
pub fn process_file(path: &Path) -> Vec<Outcome> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    process_one(engine(), Input::file(bytes, &name, None))
}

/// Run the in-process pipeline on bytes.
pub fn process_bytes(bytes: &[u8], name: &str) -> Vec<Outcome> {
    process_one(engine(), Input::file(bytes.to_vec(), name, None))
}

/// The golden file beside a fixture: `fixtures/x.pdf` → `fixtures/x.expected.json`.
pub fn golden_path(path: &Path) -> PathBuf {
    path.with_extension("expected.json")
}

/// Check a fixture's outcomes against its golden file; with `LIASSE_UPDATE_GOLDEN=1`, rewrite
/// the golden file instead.
pub fn check(path: &Path) {
    let outcomes = process_file(path);
    // Through text, as the golden file is: f32 values keep their shortest form.
    let mut actual: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&outcomes).expect("outcomes serialise")).unwrap();
    scrub(&mut actual);
    let golden = golden_path(path);
    if std::env::var_os("LIASSE_UPDATE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
        std::fs::write(&golden, text).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
        panic!("no golden file {}; run with LIASSE_UPDATE_GOLDEN=1 to create it", golden.display())
    });
    let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
    if expected != actual {
        let diff = first_difference(&expected, &actual, String::new()).unwrap_or_default();
        panic!(
            "{} differs from {} at {diff}\n(rerun with LIASSE_UPDATE_GOLDEN=1 if the change is intended)",
            path.display(),
            golden.display()
        );
    }
}

/// Remove what legitimately changes between machines and releases (the liasse version).
fn scrub(v: &mut serde_json::Value) {
    if let Some(arr) = v.as_array_mut() {
        for o in arr {
            if let Some(ver) = o.get_mut("versions").and_then(|v| v.as_object_mut()) {
                ver.remove("liasse");
            }
        }
    }
}

/// A JSON pointer to the first place two values differ, with both values.
pub fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value::{Array, Object};
    match (a, b) {
        (Object(x), Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_difference(p, q, format!("{at}/{k}")) {
                            return Some(d);
                        }
                    }
                    (p, q) => return Some(format!("{at}/{k}: expected {p:?}, got {q:?}")),
                }
            }
            None
        }
        (Array(x), Array(y)) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(p, q, format!("{at}/{i}")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{at}: expected {} items, got {}", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{at}: expected {a}, got {b}")),
    }
}

/// Receive a file and start its job, as `liasse submit` and the worker do:
/// (content hash, job, the bytes, name and path the store hands out).
pub async fn receive_and_start(
    store: &liasse::store::Store,
    bytes: &[u8],
    name: &str,
) -> (String, i64, Vec<u8>, String, Option<String>) {
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(bytes));
    let received = store
        .receive(&liasse::store::Receipt {
            bytes,
            content_hash: &hash,
            name,
            path: None,
            channel: "submit",
            receipt_key: None,
        })
        .await
        .unwrap();
    let job = received.job_to_publish.unwrap();
    let liasse::store::Attempt::Run { bytes, name, path, .. } = store.begin_attempt(job).await.unwrap()
    else {
        panic!("the job runs")
    };
    (hash, job, bytes, name, path)
}

/// Receive a file, run the pipeline on the bytes the store hands out and write the outcomes as
/// the worker does: (content hash, result ids, outcomes).
pub async fn process_through_store(
    store: &liasse::store::Store,
    bytes: &[u8],
    name: &str,
) -> (String, Vec<i64>, Vec<Outcome>) {
    let (hash, job, bytes, name, path) = receive_and_start(store, bytes, name).await;
    let outcomes = tokio::task::spawn_blocking(move || {
        liasse::pipeline::process_one(engine(), liasse::intake::Input::file(bytes, &name, path))
    })
    .await
    .unwrap();
    let liasse::store::Written::Now(ids) = store.write_outcomes(job, &hash, &outcomes, 1).await.unwrap()
    else {
        panic!("written now")
    };
    (hash, ids, outcomes)
}
