"""Trains the clause classifier: multi-label, one logistic regression per category of
taxonomy.json (CUAD's 41 categories + the French clause types), exported to ONNX.

    "$(bash models/venv.sh)" models/clauses/train.py [--gen-n 240] [--check]

One command, deterministic:
- clauses are cut by OUR segmenter (`liasse clauses`, the Rust binary built beforehand), so the
  clause texts are exactly what the pipeline classifies; the features are computed by Rust too
  (`liasse features --stdin`);
- CUAD (../shared/corpus/cuad): each contract's clauses are labelled with the categories whose
  answer texts (master_clauses.csv, matched into the contract text, whitespace-insensitive)
  overlap them. Split by contract: sha256(SPLIT_SEED/file name) -> train 70 % / validation 10 % /
  test 20 % (CUAD's own test split is not in the corpus);
- generated contracts (fixtures/make.sh contracts, seed GEN_SEED, never the evaluation seeds):
  each clause labelled from its generator kind (taxonomy.json `generated_kinds`), split by
  contract with the same hash;
- thresholds per category: best F1 on the validation part; every figure of metrics.json is
  measured on the test part, seen by nothing else.
Writes clauses.onnx, thresholds.json, parity.json, metrics.json, cuad_heldout.json (the test
contracts' clause labels, for `liasse eval contracts --cuad`) beside this file. `--check` trains
twice and compares the ONNX bytes.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import csv
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import liasse_onnx as lo  # noqa: E402

ROOT = lo.ROOT
CORPUS = lo.CORPUS
CUAD = os.path.join(CORPUS, "cuad")
NAME = "clauses"
VERSION = "1.0.0"
SPLIT_SEED = "liasse-clauses-split-v1"
GEN_SEED = "liasse-clauses-train"
C = 4.0
TOL = 1e-4
SPEC = {"version": 1, "dim": 1 << 14, "max_chars": 12000, "word_ngrams": [1, 2], "char_ngrams": [4, 4],
        "max_token_chars": 30, "char_weight": 0.5, "head_chars": 160, "head_weight": 1.0, "numeric": 0}


def split_of(group: str) -> str:
    h = int(hashlib.sha256(f"{SPLIT_SEED}/{group}".encode()).hexdigest()[:8], 16) / 0x100000000
    return "train" if h < 0.70 else "val" if h < 0.80 else "test"


def liasse_clauses(paths: list[str], pages: bool) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k != "LIASSE_BIN"}
    env["LIASSE_LOG"] = "error"
    out = []
    for k in range(0, len(paths), 64):
        r = subprocess.run([lo.liasse_bin(), "clauses", *(["--pages"] if pages else []), *paths[k:k + 64]],
                           capture_output=True, env=env, cwd=ROOT)
        if r.returncode not in (0, 2):
            raise SystemExit(f"liasse clauses failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
        out.extend(json.loads(line) for line in r.stdout.decode().split("\n") if line.strip())
    return out


# --- CUAD ---------------------------------------------------------------------------------------

def squeeze(text: str) -> tuple[str, list[int]]:
    """`text` with whitespace runs as one space, lower-cased, and the char offset in `text` of
    each char of the result."""
    out, where = [], []
    prev_space = True
    for i, ch in enumerate(text):
        if ch.isspace():
            if not prev_space:
                out.append(" ")
                where.append(i)
            prev_space = True
        else:
            out.append(ch.lower())
            where.append(i)
            prev_space = False
    return "".join(out), where


def answer_span(sq: str, where: list[int], byte_at: list[int], answer: str) -> tuple[int, int] | None:
    """The byte span in the page text of an answer text, found whitespace- and case-insensitively
    in the squeezed page (`squeeze`); a long answer is looked for by its first 80 characters."""
    a = squeeze(answer)[0].strip()
    if not a:
        return None
    pos = sq.find(a)
    if pos < 0 and len(a) > 80:
        pos = sq.find(a[:80])
    if pos < 0:
        return None
    end = min(pos + len(a), len(where)) - 1
    return byte_at[where[pos]], byte_at[where[end] + 1]


def clause_labels(parts: list, spans: list) -> list[str]:
    """The categories whose answer spans (label, start, end) overlap a clause's parts
    ([page, start, end], page 1 only: CUAD texts are one-page documents)."""
    return sorted({lab for lab, s, e in spans if any(p == 1 and s < pe and ps < e for p, ps, pe in parts)})


def cuad_rows(taxonomy: dict) -> tuple[list[dict], dict]:
    csv.field_size_limit(1 << 30)
    by_cuad = {lab["cuad"]: lab["id"] for lab in taxonomy["labels"] if lab["cuad"]}
    with open(os.path.join(CUAD, "master_clauses.csv"), encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    cats = [(i, h) for i, h in enumerate(header) if h in by_cuad]
    answers: dict[str, list[tuple[str, str]]] = {}
    for r in rows[1:]:
        name = r[0][:-4] if r[0].lower().endswith(".pdf") else r[0]
        items = []
        for i, h in cats:
            try:
                texts = ast.literal_eval(r[i]) if r[i].strip() else []
            except (ValueError, SyntaxError):
                texts = []
            items.extend((by_cuad[h], t) for t in texts if isinstance(t, str) and t.strip())
        answers[name] = items
    files = sorted(glob.glob(os.path.join(CUAD, "full_contract_txt", "*.txt")))
    segmented = liasse_clauses(files, pages=True)
    out = []
    stats = {"contracts": 0, "segmented": 0, "answers": 0, "matched": 0, "in_clause": 0}
    for doc in segmented:
        if "error" in doc:
            continue
        name = os.path.basename(doc["id"])[:-4]
        stats["contracts"] += 1
        if name not in answers or not doc["clauses"]:
            continue
        stats["segmented"] += 1
        page = doc["pages"][0]
        sq, where = squeeze(page)
        # char offset -> byte offset in the page text
        byte_at = np.cumsum([0] + [len(ch.encode()) for ch in page]).tolist()
        spans = []
        for label, ans in answers[name]:
            stats["answers"] += 1
            span = answer_span(sq, where, byte_at, ans)
            if span is None:
                continue
            stats["matched"] += 1
            spans.append((label, *span))
        for k, c in enumerate(doc["clauses"]):
            labels = clause_labels(c["parts"], spans)
            out.append({"id": f"cuad/{name}#{k}", "group": f"cuad/{name}", "source": "cuad", "file": name,
                        "index": k, "number": c["number"], "text": c["text"], "labels": labels})
        stats["in_clause"] += sum(1 for lab, s, e in spans
                                  if any(p == 1 and s < pe and ps < e for c in doc["clauses"] for p, ps, pe in c["parts"]))
    return out, stats


# --- generated ----------------------------------------------------------------------------------

def generated_rows(taxonomy: dict, n: int, out_dir: str) -> list[dict]:
    stamp = os.path.join(out_dir, "params.json")
    want = {"n": n, "seed": GEN_SEED,
            "gen": hashlib.sha256(b"".join(open(os.path.join(ROOT, "fixtures/gen", f), "rb").read()
                                           for f in ("clauses.py", "contract.py", "clausedata.py"))).hexdigest()}
    if not (os.path.exists(stamp) and json.load(open(stamp)) == want):
        subprocess.run(["bash", os.path.join(ROOT, "fixtures/make.sh"), "contracts", out_dir, "-n", str(n),
                        "--seed", GEN_SEED], check=True)
        json.dump(want, open(stamp, "w"))
    manifest = json.load(open(os.path.join(out_dir, "MANIFEST.json"), encoding="utf-8"))
    kinds = taxonomy["generated_kinds"]
    paths = [os.path.join(out_dir, c["path"]) for c in manifest["contracts"]]
    seg = {d["id"]: d for d in liasse_clauses(paths, pages=False)}
    rows = []
    for c, p in zip(manifest["contracts"], paths):
        d = seg.get(p)
        if not d or "error" in d:
            continue
        truth = {t["number"]: t for t in c["facts"]["clauses"]}
        renewal = (c["facts"].get("renewal") or {}).get("auto")
        for k, cl in enumerate(d["clauses"]):
            t = truth.get(cl["number"])
            if t is None:
                continue
            labels = set(kinds.get(t["kind"], []))
            labels.update(taxonomy["generated_reasons"].get(t.get("risk_reason") or "", []))
            if t["kind"] == "duration" and renewal:
                labels.update(["renewal_term", "notice_period_to_terminate_renewal"])
            if t.get("risk_reason") == "total_liability_exclusion":
                labels.discard("uncapped_liability")
            rows.append({"id": f"gen/{c['path']}#{k}", "group": f"gen/{GEN_SEED}/{c['path']}", "source": "generated",
                         "lang": c["lang"], "kind": t["kind"], "risk": t["risk"], "text": cl["text"],
                         "labels": sorted(labels)})
    return rows


# --- model --------------------------------------------------------------------------------------

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def fit(X, Y, labels, own, is_cuad):
    """One logistic regression per label. A label of our own (no CUAD category) learns from the
    generated clauses only: CUAD did not annotate it, so a CUAD clause is not a negative of it."""
    from sklearn.linear_model import LogisticRegression
    W = np.zeros((X.shape[1], len(labels)), dtype=np.float32)
    b = np.full(len(labels), -12.0, dtype=np.float32)
    trained = []
    for j, lab in enumerate(labels):
        rows = ~is_cuad if lab in own else np.ones(X.shape[0], dtype=bool)
        y = Y[rows, j]
        if y.sum() < 3 or y.sum() == len(y):
            continue
        m = LogisticRegression(C=C, class_weight="balanced", solver="lbfgs", max_iter=1000, tol=TOL)
        m.fit(X[rows], y)
        W[:, j] = m.coef_[0].astype(np.float32)
        b[j] = np.float32(m.intercept_[0])
        trained.append(lab)
    return W, b, trained


def predict(X, W, b):
    return sigmoid((X @ W.astype(np.float64)) + b.astype(np.float64))


def best_threshold(y, p):
    if y.sum() == 0:
        return 0.5
    best, bt = -1.0, 0.5
    for t in np.unique(np.round(p, 4)):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        if tp == 0:
            continue
        prec, rec = tp / pred.sum(), tp / y.sum()
        f1 = 2 * prec * rec / (prec + rec)
        if f1 > best + 1e-12:
            best, bt = f1, float(t)
    return max(0.05, min(0.95, bt))


def metrics(y, p, t):
    from sklearn.metrics import average_precision_score, precision_recall_curve
    n = int(y.sum())
    pred = p >= t
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    out = {"positives": n, "tp": tp, "fp": fp, "fn": n - tp,
           "precision": round(tp / (tp + fp), 4) if tp + fp else None,
           "recall": round(tp / n, 4) if n else None}
    if n and n < len(y):
        out["aupr"] = round(float(average_precision_score(y, p)), 4)
        prec, rec, _ = precision_recall_curve(y, p)
        ok = prec[rec >= 0.8]
        out["p_at_80r"] = round(float(ok.max()), 4) if len(ok) else 0.0
    return out


def export(W, b, labels, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    dim = W.shape[0]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "W"], ["z0"]), helper.make_node("Add", ["z0", "b"], ["z"]),
         helper.make_node("Sigmoid", ["z"], ["probabilities"])],
        "clauses",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, dim])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(labels)])],
        [numpy_helper.from_array(W.astype(np.float32), "W"), numpy_helper.from_array(b.astype(np.float32), "b")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="liasse",
                          producer_version=VERSION, doc_string=f"{NAME} {VERSION}")
    m.ir_version = 8
    meta = {"liasse.name": NAME, "liasse.version": VERSION, "liasse.labels": json.dumps(labels),
            "liasse.features": json.dumps(SPEC, sort_keys=True)}
    for k in sorted(meta):
        p = m.metadata_props.add()
        p.key, p.value = k, meta[k]
    onnx.checker.check_model(m)
    data = m.SerializeToString(deterministic=True)
    with open(path, "wb") as f:
        f.write(data)
    return data


def train_once(args, out_dir: str) -> dict:
    t0 = time.time()
    taxonomy = json.load(open(os.path.join(HERE, "taxonomy.json"), encoding="utf-8"))
    labels = [lab["id"] for lab in taxonomy["labels"]]
    cuad, cstats = cuad_rows(taxonomy)
    gen = generated_rows(taxonomy, args.gen_n, args.gen_dir)
    rows = cuad + gen
    for r in rows:
        r["split"] = split_of(r["group"])
    X, ids, errors = lo.features_of_texts([(r["id"], r["text"]) for r in rows], SPEC)
    if errors:
        raise SystemExit(f"features failed for {len(errors)} clauses: {list(errors.items())[:3]}")
    assert ids == [r["id"] for r in rows]
    X = sp.csr_matrix(X, dtype=np.float64)
    Y = np.array([[1 if lab in r["labels"] else 0 for lab in labels] for r in rows], dtype=np.int64)
    split = np.array([r["split"] for r in rows])
    src = np.array([r["source"] for r in rows])
    tr, va, te = split == "train", split == "val", split == "test"
    own = {lab["id"] for lab in taxonomy["labels"] if not lab["cuad"]}
    W, b, trained = fit(X[tr], Y[tr], labels, own, src[tr] == "cuad")
    P = predict(X, W, b)
    thresholds = {}
    for j, lab in enumerate(labels):
        m = va & (src != "cuad") if lab in own else va
        thresholds[lab] = round(best_threshold(Y[m, j], P[m, j]), 4)
    data = export(W, b, labels, os.path.join(out_dir, "clauses.onnx"))
    th = np.array([thresholds[lab] for lab in labels])
    per = {}
    for name, mask in (("cuad", te & (src == "cuad")), ("generated", te & (src == "generated"))):
        per[name] = {lab: metrics(Y[mask, j], P[mask, j], th[j]) for j, lab in enumerate(labels)}
        # Micro figures over the categories this source annotates (CUAD: its 41 categories).
        cols = np.array([name != "cuad" or lab not in own for lab in labels])
        yf, pf = Y[mask][:, cols].ravel(), P[mask][:, cols].ravel()
        from sklearn.metrics import average_precision_score
        predf = (P[mask][:, cols] >= th[cols]).ravel()
        tp = int((predf & (yf == 1)).sum())
        per[name]["_micro"] = {"positives": int(yf.sum()), "tp": tp, "fp": int((predf & (yf == 0)).sum()),
                               "precision": round(tp / max(1, predf.sum()), 4), "recall": round(tp / max(1, yf.sum()), 4),
                               "aupr": round(float(average_precision_score(yf, pf)), 4) if yf.sum() else None}
        aps = [per[name][lab] for j, lab in enumerate(labels) if cols[j] and "aupr" in per[name][lab]]
        per[name]["_macro"] = {"categories": len(aps),
                               "aupr": round(float(np.mean([a["aupr"] for a in aps])), 4) if aps else None,
                               "p_at_80r": round(float(np.mean([a["p_at_80r"] for a in aps])), 4) if aps else None}
    counts = {s: {"clauses": int((split == s).sum()),
                  "cuad_contracts": len({r["group"] for r in rows if r["split"] == s and r["source"] == "cuad"}),
                  "generated_contracts": len({r["group"] for r in rows if r["split"] == s and r["source"] == "generated"})}
              for s in ("train", "val", "test")}
    train_pos = {lab: int(Y[tr, j].sum()) for j, lab in enumerate(labels)}
    return {"data": data, "X": X, "ids": ids, "rows": rows, "P": P, "thresholds": thresholds, "labels": labels,
            "trained": trained, "metrics": per, "counts": counts, "train_positives": train_pos, "cuad": cstats,
            "seconds": round(time.time() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gen-n", type=int, default=240)
    ap.add_argument("--gen-dir", default=os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"),
                                                      "clauses-gen-train"))
    ap.add_argument("--check", action="store_true", help="train twice and compare the ONNX bytes")
    args = ap.parse_args()
    r = train_once(args, HERE)
    if args.check:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            again = train_once(args, d)
        same = again["data"] == r["data"]
        print(f"determinism: two trainings give {'identical' if same else 'DIFFERENT'} ONNX bytes "
              f"(sha256 {hashlib.sha256(r['data']).hexdigest()[:16]})")
        if not same:
            raise SystemExit(1)
    with open(os.path.join(HERE, "thresholds.json"), "w", encoding="utf-8") as f:
        json.dump({"model": "clauses.onnx", "version": VERSION, "chosen_on": "validation split (best F1)",
                   "thresholds": r["thresholds"]}, f, indent=1, sort_keys=True)
        f.write("\n")
    # Parity sample: a few clauses of every source, Rust must give the same probabilities.
    rows, X = r["rows"], r["X"]
    pick = [i for i, row in enumerate(rows) if row["split"] == "test"][:: max(1, len(rows) // 60)][:12]
    lo.write_parity(os.path.join(HERE, "parity.json"), os.path.join(HERE, "clauses.onnx"), X[pick],
                    [rows[i]["id"] for i in pick])
    par = json.load(open(os.path.join(HERE, "parity.json")))
    for k, i in enumerate(pick):
        par["rows"][k]["numpy"] = [float(v) for v in r["P"][i]]
    json.dump(par, open(os.path.join(HERE, "parity.json"), "w"), separators=(",", ":"))
    # The held-out CUAD contracts' clause labels, for the Rust evaluation.
    held: dict[str, list] = {}
    for row in rows:
        if row["source"] == "cuad" and row["split"] == "test":
            held.setdefault(row["file"], []).append({"index": row["index"], "number": row["number"],
                                                     "labels": row["labels"]})
    with open(os.path.join(HERE, "cuad_heldout.json"), "w", encoding="utf-8") as f:
        json.dump({"split_seed": SPLIT_SEED, "note": "clause labels of the CUAD test-split contracts, from "
                   "master_clauses.csv answers overlapping our segmenter's clauses (models/clauses/train.py)",
                   "contracts": [{"file": k + ".txt", "clauses": v} for k, v in sorted(held.items())]},
                  f, separators=(",", ":"))
        f.write("\n")
    out = {k: r[k] for k in ("metrics", "counts", "train_positives", "cuad", "trained", "seconds")}
    out["onnx_sha256"] = hashlib.sha256(r["data"]).hexdigest()
    out["onnx_bytes"] = len(r["data"])
    out["spec"] = SPEC
    with open(os.path.join(HERE, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    m = r["metrics"]
    print(json.dumps({k: out[k] for k in ("counts", "cuad", "seconds", "onnx_bytes")}, indent=1))
    print(f"{'label':<36} {'cuad n':>6} {'P':>6} {'R':>6} {'AUPR':>6} {'P@80R':>6} | {'gen n':>5} {'P':>6} {'R':>6}")
    print("macro:", json.dumps({k: m[k]["_macro"] for k in m}))
    for lab in r["labels"] + ["_micro"]:
        c, g = m["cuad"][lab], m["generated"][lab]
        fmt = lambda v: f"{v:6.3f}" if isinstance(v, float) else f"{'-':>6}"  # noqa: E731
        print(f"{lab:<36} {c['positives']:>6} {fmt(c['precision'])} {fmt(c['recall'])} {fmt(c.get('aupr'))} "
              f"{fmt(c.get('p_at_80r'))} | {g['positives']:>5} {fmt(g['precision'])} {fmt(g['recall'])}")


if __name__ == "__main__":
    main()
