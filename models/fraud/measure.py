"""Measure the committed fraud.onnx on the current extraction, without retraining: the same
scenarios, signals (`liasse eval fraud-signals`) and held-out split as train.py, scored by the
committed model. Prints the card's held-out figures and per-kind table.

    "$(bash models/venv.sh)" models/fraud/measure.py
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train  # noqa: E402

lo = train.lo


def main() -> int:
    from sklearn.metrics import roc_auc_score

    rows = train.signals(train.scenarios())
    X = np.array([[0.0] + r["signals"] for r in rows], dtype=np.float32)
    y = np.array([r["label"] for r in rows])
    test = np.array([train.held_out(r["id"]) for r in rows])
    p = lo.onnx_probabilities(os.path.join(HERE, "fraud.onnx"), X)[:, 1]
    hy, hp = y[test], p[test]
    print(json.dumps({
        "rows": len(rows), "train": int((~test).sum()), "held_out": int(test.sum()),
        "held_out_fraud": int(hy.sum()), "held_out_clean": int((hy == 0).sum()),
        "roc_auc_held_out": round(float(roc_auc_score(hy, hp)), 4),
        "fraud_flagged_for_review_or_block": round(float((hp[hy == 1] >= train.REVIEW).mean()), 4),
        "clean_passed": round(float((hp[hy == 0] < train.REVIEW).mean()), 4),
        "clean_blocked": int((hp[hy == 0] >= train.BLOCK).sum()),
    }, indent=1))
    kinds: dict[str, list[int]] = {}
    for r, pi, t in zip(rows, p, test):
        if not t:
            continue
        k = kinds.setdefault(r["kind"], [0, 0, 0, 0])
        k[0] += 1
        k[1] += int(pi >= train.REVIEW)
        k[2] += int(pi >= train.BLOCK)
        k[3] += int(r["reason"] is None or r["reason"] in r["flags"])
    print("| kind | held out | review or block | block | expected rule fired |")
    print("|---|---:|---:|---:|---:|")
    for k, v in sorted(kinds.items()):
        print(f"| {k} | {v[0]} | {v[1]} | {v[2]} | {v[3]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
