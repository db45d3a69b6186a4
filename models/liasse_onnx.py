"""Shared plumbing of the training scripts: features from `liasse features`, ONNX export with the
metadata `worker/model.rs` reads, and the parity sample the Rust tests compare against.

    import sys, os; sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import liasse_onnx as lo
    X, ids, errors = lo.features_of_texts([(id, text), ...], spec)     # or features_of_files(paths, spec)
    lo.export(clf, "models/x/x.onnx", name="x", version="1", labels=[...], spec=spec, threshold=0.6)
    lo.write_parity("models/x/parity.json", "models/x/x.onnx", X[:20], ids[:20])

The features are computed by Rust only (the `liasse` binary), so training and inference see the
same vectors. The binary is `$LIASSE_BIN`, else target/release/liasse, else target/debug/liasse
under `$CARGO_TARGET_DIR` or the repository's `target/`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import numpy as np
import scipy.sparse as sp

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# The shared corpora (../shared/corpus beside the repository; /work/shared/corpus as a fallback).
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
if not os.path.isdir(CORPUS):
    CORPUS = "/work/shared/corpus"


def liasse_bin() -> str:
    if os.environ.get("LIASSE_BIN"):
        return os.environ["LIASSE_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    for profile in ("release", "debug"):
        p = os.path.join(target, profile, "liasse")
        if os.path.exists(p):
            return p
    raise SystemExit("no liasse binary: cargo build (or set LIASSE_BIN)")


def default_spec() -> dict:
    """The classifier's feature spec (FeatureSpec::default() in worker/features.rs)."""
    return {"version": 1, "dim": 1 << 15, "max_chars": 6000, "word_ngrams": [1, 2], "char_ngrams": [3, 5],
            "max_token_chars": 30, "char_weight": 1.0, "head_chars": 600, "head_weight": 1.0, "numeric": 0}


def _run(args: list[str], spec: dict, stdin: bytes | None = None) -> list[dict]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        spec_path = f.name
    try:
        # LIASSE_BIN is ours, not a configuration key of the binary.
        env = {k: v for k, v in os.environ.items() if k != "LIASSE_BIN"}
        env["LIASSE_LOG"] = "error"
        r = subprocess.run([liasse_bin(), "features", "--spec", spec_path, *args], input=stdin,
                           capture_output=True, env=env, cwd=ROOT)
    finally:
        os.unlink(spec_path)
    if r.returncode not in (0, 2):
        raise SystemExit(f"liasse features failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    return [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]


def _matrix(rows: list[dict], dim: int):
    """(CSR float32 matrix of the rows without error, their ids, {id: error})."""
    ok = [r for r in rows if "error" not in r]
    errors = {str(r["id"]): r["error"] for r in rows if "error" in r}
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for r in ok:
        indices.extend(r["indices"])
        values.extend(r["values"])
        indptr.append(len(indices))
    X = sp.csr_matrix((np.asarray(values, dtype=np.float32), np.asarray(indices, dtype=np.int64),
                       np.asarray(indptr, dtype=np.int64)), shape=(len(ok), dim), dtype=np.float32)
    return X, [r["id"] for r in ok], errors


def features_of_texts(items: list[tuple[str, str]], spec: dict, numeric: list[list[float]] | None = None):
    """Features of texts: [(id, text)] -> (X, ids, errors)."""
    lines = []
    for k, (i, t) in enumerate(items):
        row = {"id": i, "text": t}
        if numeric is not None:
            row["numeric"] = numeric[k]
        lines.append(json.dumps(row, ensure_ascii=False))
    rows = _run(["--stdin"], spec, ("\n".join(lines) + "\n").encode())
    return _matrix(rows, spec["dim"] + spec.get("numeric", 0))


def features_of_files(paths: list[str], spec: dict, with_text: bool = False):
    """Features of files read through Liasse's intake -> (X, ids, errors[, texts by id])."""
    rows = _run((["--with-text"] if with_text else []) + list(paths), spec)
    X, ids, errors = _matrix(rows, spec["dim"])
    if with_text:
        return X, ids, errors, {r["id"]: r.get("text", "") for r in rows if "error" not in r}
    return X, ids, errors


def export(model, path: str, *, name: str, version: str, labels: list[str], spec: dict,
           threshold: float | None = None, extra: dict | None = None) -> bytes:
    """A scikit-learn classifier to ONNX (probabilities only, no ZipMap), with the metadata
    worker/model.rs reads. Deterministic: the same model gives the same bytes."""
    import onnx
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    dim = spec["dim"] + spec.get("numeric", 0)
    onx = to_onnx(model, initial_types=[("features", FloatTensorType([None, dim]))],
                  options={id(model): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    onx.producer_name = "liasse"
    onx.producer_version = version
    onx.doc_string = f"{name} {version}"
    meta = {"liasse.name": name, "liasse.version": version, "liasse.labels": json.dumps(labels),
            "liasse.features": json.dumps(spec, sort_keys=True)}
    if threshold is not None:
        meta["liasse.threshold"] = repr(float(threshold))
    for k, v in (extra or {}).items():
        meta[f"liasse.{k}"] = str(v)
    del onx.metadata_props[:]
    for k in sorted(meta):
        p = onx.metadata_props.add()
        p.key, p.value = k, meta[k]
    onnx.checker.check_model(onx)
    data = onx.SerializeToString(deterministic=True)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return data


def onnx_probabilities(path: str, X) -> np.ndarray:
    """Probabilities of the ONNX file under the Python onnxruntime (one thread)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    out = [o.name for o in s.get_outputs()]
    name = "probabilities" if "probabilities" in out else out[-1]
    dense = X.toarray() if sp.issparse(X) else np.asarray(X)
    return s.run([name], {s.get_inputs()[0].name: dense.astype(np.float32)})[0]


def write_parity(path: str, onnx_path: str, X, ids: list, model=None) -> None:
    """The parity sample: sparse features and the Python side's probabilities (onnxruntime and,
    when given, scikit-learn's own), for the Rust test (tolerance 1e-5)."""
    X = sp.csr_matrix(X, dtype=np.float32)
    p_onnx = onnx_probabilities(onnx_path, X)
    p_skl = model.predict_proba(X.astype(np.float64)) if model is not None else None
    rows = []
    for k in range(X.shape[0]):
        r = X.getrow(k)
        row = {"id": ids[k], "dim": int(X.shape[1]), "indices": [int(i) for i in r.indices],
               "values": [float(v) for v in r.data], "onnx": [float(v) for v in p_onnx[k]]}
        if p_skl is not None:
            row["sklearn"] = [float(v) for v in p_skl[k]]
        rows.append(row)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"model": os.path.basename(onnx_path), "rows": rows}, f, indent=None, separators=(",", ":"))
        f.write("\n")
