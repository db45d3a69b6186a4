"""Fraud model: a logistic regression over the invoice signals (which rules fired, and a few
facts; `SIGNALS` in worker/invoice/fraud.rs) giving a fraud-risk probability.

One command, deterministic (same data, same bytes):

    "$(bash models/venv.sh)" models/fraud/train.py

1. labelled scenarios: `fixtures/make.sh fraud <target>/fraud-train --per-kind 12 --clean 36
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
                        "--clean", "36", "--seed", "11"], check=True)
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


def fit_monotone(X, y, names, C: float = 5.0):
    """Balanced, L2-regularised logistic regression in which a rule that fires can only add
    risk: the coefficients of the rule signals are bounded below by 0 (L-BFGS-B); the facts
    (amount, credit note, e-invoice) are free; column 0 (the empty text part) is fixed at 0.
    Returned as a scikit-learn LogisticRegression, for the ONNX export."""
    from scipy.optimize import minimize
    from sklearn.linear_model import LogisticRegression

    X = X.astype(np.float64)
    n, d = X.shape
    w = np.where(y == 1, n / (2.0 * y.sum()), n / (2.0 * (n - y.sum())))
    facts = {"amount_log10", "credit_note", "einvoice"}

    def loss(theta):
        b, c = theta[0], theta[1:]
        z = X @ c + b
        p = 1.0 / (1.0 + np.exp(-z))
        ll = np.sum(w * (np.logaddexp(0, z) - y * z))
        g = X.T @ (w * (p - y)) + c / C
        return ll + 0.5 * np.dot(c, c) / C, np.concatenate([[np.sum(w * (p - y))], g])

    # The reform's mandatory mentions are compliance, not fraud: they do not enter the score.
    compliance = {"fr.customer_siren", "fr.delivery_address", "fr.sale_category", "fr.vat_on_debits"}
    bounds = [(None, None), (0.0, 0.0)] + [
        (0.0, 0.0) if nm in compliance else (None, None) if nm in facts else (0.0, None) for nm in names
    ]
    r = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                 options={"maxiter": 5000, "gtol": 1e-8})
    clf = LogisticRegression()
    clf.classes_ = np.array([0, 1])
    clf.coef_ = r.x[1:].reshape(1, -1)
    clf.intercept_ = np.array([r.x[0]])
    clf.n_features_in_ = d
    clf.n_iter_ = np.array([r.nit])
    return clf


def held_out(row_id: str) -> bool:
    return int(hashlib.sha1(row_id.encode()).hexdigest(), 16) % 10 < 3


def main() -> int:
    from sklearn.metrics import roc_auc_score

    rows = signals(scenarios())
    names = rows[0]["names"]
    X = np.array([[0.0] + r["signals"] for r in rows], dtype=np.float32)  # column 0: the empty text part
    y = np.array([r["label"] for r in rows])
    test = np.array([held_out(r["id"]) for r in rows])
    clf = fit_monotone(X[~test], y[~test], names)
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
    write_card(metrics)
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("coefficients", "per_kind_held_out")}, indent=1))
    for k, v in sorted(metrics["per_kind_held_out"].items()):
        print(f"  {k:28} n={v['n']:3}  review_or_block={v['review_or_block']:3}  block={v['block']:3}  "
              f"reason_flagged={v['reason_flagged']:3}")
    return 0


def write_card(m: dict) -> None:
    kinds = "\n".join(
        f"| {k} | {v['n']} | {v['review_or_block']} | {v['block']} | {v['reason_flagged']} |"
        for k, v in sorted(m["per_kind_held_out"].items()))
    coefs = "\n".join(f"| {k} | {v:+.3f} |" for k, v in sorted(m["coefficients"].items(), key=lambda kv: -abs(kv[1])))
    text = f"""# Fraud model (`fraud.onnx`), version {m['version']}

Logistic regression (balanced classes, L2 with C=5, rule coefficients constrained ≥ 0 so that a
rule that fires never lowers the risk; fitted with L-BFGS-B, exported as a scikit-learn model) over the invoice signals of
`worker/invoice/fraud.rs` (`SIGNALS`: one 0/1 input per validation and history rule, the gross
amount as log10(1 + |gross|)/6, credit note, e-invoice), giving the probability that the invoice is
fraudulent. Liasse's decision: pass below {REVIEW}, review from {REVIEW}, block from {BLOCK}
(`invoice.review_threshold`, `invoice.block_threshold`); a rule whose weight reaches the block
threshold (same file again, a known invoice number, changed bank details) blocks on its own.
Written by `models/fraud/train.py` (this file too); the numbers below are its output.

## Data

- Generated scenarios (`fixtures/make.sh fraud <target>/fraud-train --per-kind 12 --clean 36
  --seed 11`, not in git): a French or Irish supplier's 0 to 3 earlier invoices, then a target that
  is clean (with or without history) or fraudulent in one way: bank details changed, invoice
  re-sent, re-sent with an OCR-confused or transposed number, re-dated copy, same amount and
  date under a new number, invalid IBAN, fake VAT number, totals tampered, amount just under an
  approval threshold, VAT rate not legal in France. Rendered as text PDFs by the fixture
  generator, read by Liasse's own pipeline with one history per scenario
  (`liasse eval fraud-signals`, `invoice.today = {TODAY}`).
- Real clean invoices: the Factur-X/ZUGFeRD PDFs of `../shared/corpus/einvoices/`
  (mustangproject_testres, oca_edi_fr), label clean, no history.
- {m['rows']} rows; split by a hash of the scenario id: {m['train']} for training,
  {m['held_out']} held out ({m['held_out_fraud']} fraud, {m['held_out_clean']} clean).

## Held-out metrics

- ROC AUC: {m['roc_auc_held_out']}
- frauds sent to review or block: {m['fraud_flagged_for_review_or_block']:.1%}
- clean invoices passed: {m['clean_passed']:.1%}; clean invoices blocked: {m['clean_blocked']}

| kind | held out | review or block | block | expected rule fired |
|---|---:|---:|---:|---:|
{kinds}

## Coefficients (by magnitude; intercept {m['intercept']})

| signal | coefficient |
|---|---:|
{coefs}

## Limits

The frauds are synthetic and each shows one rule's signal; the model learns how much each rule
weighs, not new patterns. Real clean invoices are few (old dates make `date.very_old` fire on
them). Retrain when `SIGNALS` or the rules change (the input size is checked at load).
"""
    with open(os.path.join(HERE, "CARD.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
