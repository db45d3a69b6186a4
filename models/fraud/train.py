"""Fraud model: a logistic regression over the invoice signals (which rules fired, and a few
facts; `SIGNALS` in worker/invoice/fraud.rs) giving a fraud-risk probability.

One command, deterministic (same data, same bytes):

    "$(bash models/venv.sh)" models/fraud/train.py

1. labelled scenarios: `fixtures/make.sh fraud <target>/fraud-train --per-kind 12 --clean 24
   --seed 11` (earlier invoices of a supplier, then a clean or fraudulent target; not in git);
2. the signals, computed by Liasse itself (`liasse eval fraud-signals`) on those scenarios and on
   real clean invoices (../shared/corpus/einvoices: mustangproject_testres, oca_edi_fr), with
   `invoice.today = 2026-11-25`;
3. a split by scenario id (30 % held out, by hash), training, held-out metrics;
4. models/fraud/fraud.onnx (metadata for worker/model.rs), metrics.json, parity.json, CARD.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models"))
import liasse_onnx as lo  # noqa: E402

VERSION = "1"
TODAY = "2026-11-25"
REVIEW, BLOCK = 0.3, 0.8  # worker/config.rs defaults


def target_dir() -> str:
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def scenarios() -> str:
    out = os.path.join(target_dir(), "fraud-train")
    if not os.path.exists(os.path.join(out, "scenarios.json")):
        subprocess.run(["bash", os.path.join(ROOT, "fixtures", "make.sh"), "fraud", out, "--per-kind", "12",
                        "--clean", "24", "--seed", "11"], check=True)
    return out


def signals(out: str) -> list[dict]:
    path = os.path.join(out, "signals.jsonl")
    if not os.path.exists(path):
        env = dict(os.environ, LIASSE_LOG="error", LIASSE_INVOICE__TODAY=TODAY)
        env.pop("LIASSE_SKIP_SETUP", None)
        corpus = os.path.join(ROOT, "..", "shared", "corpus", "einvoices")
        r = subprocess.run([lo.liasse_bin(), "eval", "fraud-signals", "--scenarios",
                            os.path.join(out, "scenarios.json"), "--clean",
                            os.path.join(corpus, "mustangproject_testres"), "--clean",
                            os.path.join(corpus, "oca_edi_fr")], capture_output=True, env=env, cwd=ROOT)
        if r.returncode != 0:
            raise SystemExit(r.stderr.decode()[-2000:])
        with open(path, "wb") as f:
            f.write(r.stdout)
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def held_out(row_id: str) -> bool:
    return int(hashlib.sha1(row_id.encode()).hexdigest(), 16) % 10 < 3


def main() -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rows = signals(scenarios())
    names = rows[0]["names"]
    X = np.array([[0.0] + r["signals"] for r in rows], dtype=np.float32)  # column 0: the empty text part
    y = np.array([r["label"] for r in rows])
    test = np.array([held_out(r["id"]) for r in rows])
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, solver="lbfgs")
    clf.fit(X[~test], y[~test])
    spec = {"version": 1, "dim": 1, "max_chars": 0, "word_ngrams": [0, 0], "char_ngrams": [0, 0],
            "max_token_chars": 30, "char_weight": 0.0, "numeric": len(names)}
    onnx_path = os.path.join(HERE, "fraud.onnx")
    lo.export(clf, onnx_path, name="fraud", version=VERSION, labels=["clean", "fraud"], spec=spec,
              threshold=REVIEW)
    p = lo.onnx_probabilities(onnx_path, X)[:, 1]
    lo.write_parity(os.path.join(HERE, "parity.json"), onnx_path, X[test][:20],
                    [r["id"] for r, t in zip(rows, test) if t][:20], model=clf)

    def block(sel):
        kinds = {}
        for r, pi, t in zip(rows, p, sel):
            if not t:
                continue
            k = kinds.setdefault(r["kind"], {"n": 0, "review_or_block": 0, "block": 0, "reason_flagged": 0})
            k["n"] += 1
            k["review_or_block"] += int(pi >= REVIEW)
            k["block"] += int(pi >= BLOCK)
            k["reason_flagged"] += int(r["reason"] is None or r["reason"] in r["flags"])
        return kinds

    ht, hy, hp = test, y[test], p[test]
    metrics = {
        "version": VERSION,
        "rows": len(rows), "train": int((~test).sum()), "held_out": int(test.sum()),
        "held_out_fraud": int(hy.sum()), "held_out_clean": int((hy == 0).sum()),
        "roc_auc_held_out": round(float(roc_auc_score(hy, hp)), 4),
        "fraud_flagged_for_review_or_block": round(float((hp[hy == 1] >= REVIEW).mean()), 4),
        "clean_passed": round(float((hp[hy == 0] < REVIEW).mean()), 4),
        "clean_blocked": int((hp[hy == 0] >= BLOCK).sum()),
        "per_kind_held_out": block(ht),
        "coefficients": {n: round(float(c), 4) for n, c in zip(names, clf.coef_[0][1:])},
        "intercept": round(float(clf.intercept_[0]), 4),
    }
    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("coefficients", "per_kind_held_out")}, indent=1))
    for k, v in sorted(metrics["per_kind_held_out"].items()):
        print(f"  {k:28} n={v['n']:3}  review_or_block={v['review_or_block']:3}  block={v['block']:3}  "
              f"reason_flagged={v['reason_flagged']:3}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
