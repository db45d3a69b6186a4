"""Trains the document classifier: type, contract subtype and language heads, exported to ONNX.

    "$(bash models/venv.sh)" models/classifier/train.py [--scale 1.0] [--scans 72] [--check]

One command, deterministic: the data recipe (DATA.md) is built by the fixture generator
(`fixtures/make.sh classdata`) and read from ../shared/corpus; the features are computed by the
Rust binary (`liasse features`, built beforehand: `cargo build --release`); the split is a fixed
seeded hash of each document's group; logistic regressions (lbfgs) are trained on the training
split, the confidence threshold is calibrated on the validation split, and every figure of
CARD.md is measured on the test split, seen by nothing else. Writes type.onnx, subtype.onnx,
language.onnx, parity.json (features and Python probabilities for the Rust parity test) and
CARD.md beside this file. `--check` trains twice and compares the ONNX bytes.
"""

from __future__ import annotations

import argparse
import collections
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
VERSION = "1.0.0"
SPLIT_SEED = "liasse-classifier-split-v1"
TYPES = ["invoice", "credit_note", "purchase_order", "quote", "delivery_note", "receipt", "contract",
         "contract_amendment", "other"]
SUBTYPES = ["services", "nda", "supply", "lease", "saas", "distribution", "employment", "other"]
LANGS = ["fr", "en", "other"]
C_TYPE, C_SUB, C_LANG = 20.0, 20.0, 10.0
# Precision asked of the documents kept above the threshold, on the validation split.
TARGET_PRECISION = 0.995
INVOICE_GROUP = {"invoice", "credit_note"}
CONTRACT_GROUP = {"contract", "contract_amendment"}


def split_of(group: str) -> str:
    h = int(hashlib.sha256(f"{SPLIT_SEED}/{group}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "train" if h < 0.70 else "val" if h < 0.85 else "test"


# --- data -------------------------------------------------------------------------------------

def generated(out: str, scale: float, scans: int) -> list[dict]:
    stamp = os.path.join(out, "params.json")
    want = {"scale": scale, "scans": scans, "seed": "liasse-classdata",
            "gen": hashlib.sha256(open(os.path.join(ROOT, "fixtures/gen/classdata.py"), "rb").read()).hexdigest()}
    if not (os.path.exists(stamp) and json.load(open(stamp)) == want):
        subprocess.run(["bash", os.path.join(ROOT, "fixtures/make.sh"), "classdata", out, "--scale", str(scale),
                        "--scans", str(scans)], check=True)
        json.dump(want, open(stamp, "w"))
    rows = [json.loads(line) for line in open(os.path.join(out, "labels.jsonl"), encoding="utf-8")]
    for r in rows:
        r["source"] = "generated"
        r["group"] = r["id"]
        if "file" in r:
            r["file"] = os.path.join(out, r["file"])
    return rows


def cuad_label(name: str) -> tuple[str, str | None]:
    u = name.upper()
    if re.search(r"AMEND|ADDENDUM", u):
        return "contract_amendment", None
    for sub, pat in [("nda", r"NON-?DISCLOSURE|CONFIDENTIALITY|\bNDA\b"),
                     ("distribution", r"DISTRIBUT|RESELLER|DEALER"),
                     ("supply", r"SUPPLY|MANUFACTUR"),
                     ("saas", r"LICEN[SC]E|HOSTING|SOFTWARE|SUBSCRIPTION"),
                     ("lease", r"\bLEASE"),
                     ("employment", r"EMPLOYMENT"),
                     ("services", r"SERVICE|CONSULTING|OUTSOURCING|MAINTENANCE")]:
        if re.search(pat, u):
            return "contract", sub
    return "contract", "other"


def real() -> list[dict]:
    rows: list[dict] = []
    # CUAD: commercial contracts (English), subtype from the title in the file name.
    for p in sorted(glob.glob(os.path.join(CORPUS, "cuad/full_contract_txt/*.txt"))):
        name = os.path.basename(p)
        typ, sub = cuad_label(name)
        rows.append({"id": f"cuad/{name}", "group": f"cuad/{name}", "source": "cuad", "type": typ,
                     "subtype": sub, "lang": "en", "kind": "cuad", "form": "text",
                     "text": open(p, encoding="utf-8", errors="replace").read()})
    # ContractNLI: NDAs (English).
    nli = json.load(open(os.path.join(CORPUS, "contract_nli/dev.json"), encoding="utf-8"))
    for d in nli["documents"]:
        rows.append({"id": f"contract_nli/{d['id']}", "group": f"contract_nli/{d['id']}", "source": "contract_nli",
                     "type": "contract", "subtype": "nda", "lang": "en", "kind": "contract_nli", "form": "text",
                     "text": d["text"]})
    # Terms of service (other), in English, German, Italian, Polish: one group per service so that
    # translations of one text stay in one split.
    for p in sorted(glob.glob(os.path.join(CORPUS, "unfair_tos_multilingual/corpus/original_text/*/*.txt"))):
        lang_dir, name = p.split(os.sep)[-2:]
        rows.append({"id": f"tos/{lang_dir}/{name}", "group": f"tos/{name}", "source": "unfair_tos", "type": "other",
                     "subtype": None, "lang": "en" if lang_dir == "en" else "other", "kind": "tos",
                     "form": "text", "text": open(p, encoding="utf-8", errors="replace").read()})
    # invoice2data: real invoices (PDF through intake); language read by us from each file.
    i2d_lang = {"AmazonWebServices": "en", "AzureInterior": "en", "FlipkartInvoice": "en", "NetpresseInvoice": "fr",
                "QualityHosting": "other", "SammyMaystoneLinesTest": "en", "coolblue1": "other",
                "coolblue2": "other", "free_fiber": "fr", "oyo": "en", "saeco": "other"}
    for p in sorted(glob.glob(os.path.join(CORPUS, "invoice2data/tests/compare/*.pdf"))):
        stem = os.path.basename(p)[:-4]
        rows.append({"id": f"invoice2data/{stem}", "group": f"invoice2data/{stem}", "source": "invoice2data",
                     "type": "invoice", "subtype": None, "lang": i2d_lang.get(stem, "other"), "kind": "invoice2data",
                     "form": "pdf", "file": p})
    # Factur-X / ZUGFeRD / XRechnung PDFs with their embedded XML: type from the XML's type code
    # (381 credit note, the others invoices), language from the corpus's guess of the visible text.
    gt = [json.loads(line) for line in open(os.path.join(CORPUS, "einvoices/_ground_truth/ground_truth.jsonl"))]
    for g in gt:
        if not g.get("xml_file") or not g.get("visible_lang_guess"):
            continue  # no XML: no ground truth of the type
        typ = "credit_note" if g.get("type_code") == "381" else "invoice"
        lang = g["visible_lang_guess"] if g["visible_lang_guess"] in ("fr", "en") else "other"
        rows.append({"id": f"einvoices/{g['pdf']}", "group": f"einvoices/{g['pdf']}", "source": "einvoices",
                     "type": typ, "subtype": None, "lang": lang, "kind": "einvoice", "form": "pdf",
                     "file": os.path.join(CORPUS, "einvoices", g["pdf"])})
        # The embedded XML alone, as a bare e-invoice: same group as its PDF.
        xml = os.path.join(CORPUS, "einvoices/_ground_truth", g["pdf"].split("/")[0], g["xml_file"])
        if os.path.exists(xml):
            rows.append({"id": f"einvoices-xml/{g['pdf']}", "group": f"einvoices/{g['pdf']}", "source": "einvoices",
                         "type": typ, "subtype": None, "lang": lang, "kind": "einvoice_xml", "form": "xml",
                         "file": xml})
    # SROIE: scanned receipts (English), read by OCR through intake.
    for p in sorted(glob.glob(os.path.join(CORPUS, "sroie/data/img/*.jpg"))):
        stem = os.path.basename(p)[:-4]
        rows.append({"id": f"sroie/{stem}", "group": f"sroie/{stem}", "source": "sroie", "type": "receipt",
                     "subtype": None, "lang": "en", "kind": "sroie", "form": "scan", "file": p})
    return rows


def features(rows: list[dict], spec: dict, cache_dir: str):
    """X for every row (rows whose file intake cannot read are dropped, and reported)."""
    files = [r["file"] for r in rows if "file" in r]
    # Files are read in batches, each cached (intake of a thousand PDFs takes minutes); the cache
    # key holds the spec, the files and the binary, so a change of any of them recomputes.
    binary = hashlib.sha256(open(lo.liasse_bin(), "rb").read()).hexdigest()
    parts_x, fids, ferr = [], [], {}
    t = time.time()
    for b in range(0, len(files), 200):
        batch = files[b:b + 200]
        key = hashlib.sha256(json.dumps([spec, [(f, os.path.getsize(f)) for f in batch], binary]).encode()).hexdigest()[:16]
        cache = os.path.join(cache_dir, f"files-{key}.npz")
        if os.path.exists(cache):
            z = np.load(cache, allow_pickle=False)
            Xb = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            ids_b = [str(i) for i in z["ids"]]
            err_b = json.loads(str(z["errors"]))
        else:
            Xb, ids_b, err_b = lo.features_of_files(batch, spec)
            np.savez(cache, data=Xb.data, indices=Xb.indices, indptr=Xb.indptr, shape=np.array(Xb.shape),
                     ids=np.array(ids_b), errors=json.dumps(err_b))
            print(f"  intake + features of files {b + len(batch)}/{len(files)}: {time.time() - t:.1f} s", flush=True)
        parts_x.append(Xb)
        fids += ids_b
        ferr.update(err_b)
    Xf = sp.vstack(parts_x).tocsr() if parts_x else sp.csr_matrix((0, spec["dim"]), dtype=np.float32)
    texts = [(r["id"], r["text"]) for r in rows if "text" in r]
    Xt, tids, terr = lo.features_of_texts(texts, spec)
    by_id = {}
    for k, i in enumerate(fids):
        by_id[str(i)] = ("f", k)
    for k, i in enumerate(tids):
        by_id[str(i)] = ("t", k)
    keep, parts, dropped = [], [], []
    for r in rows:
        key = r.get("file", r["id"])
        if key not in by_id:
            dropped.append((r["id"], ferr.get(key) or terr.get(r["id"]) or "?"))
            continue
        src, k = by_id[key]
        parts.append((Xf if src == "f" else Xt)[k])
        keep.append(r)
    return sp.vstack(parts).tocsr().astype(np.float32), keep, dropped


# --- training and evaluation ------------------------------------------------------------------

def fit(X, y, C: float):
    from sklearn.linear_model import LogisticRegression
    clf = LogisticRegression(C=C, max_iter=1000, tol=1e-5, class_weight="balanced", solver="lbfgs")
    return clf.fit(X.astype(np.float64), y)


def probs_full(clf, X, n: int) -> np.ndarray:
    """Probabilities over all n labels (columns of classes absent from training stay 0)."""
    p = clf.predict_proba(X.astype(np.float64))
    out = np.zeros((X.shape[0], n))
    out[:, clf.classes_] = p
    return out


def calibrate(conf: np.ndarray, correct: np.ndarray) -> float:
    """Lowest threshold whose kept validation documents reach TARGET_PRECISION."""
    for t in np.round(np.arange(0.30, 0.96, 0.01), 2):
        kept = conf >= t
        if kept.sum() and correct[kept].mean() >= TARGET_PRECISION:
            return float(t)
    return 0.95


def group3(t: str) -> str:
    return "invoice" if t in INVOICE_GROUP else "contract" if t in CONTRACT_GROUP else "other"


def metrics(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict:
    n = len(labels)
    cm = np.zeros((n, n), dtype=int)
    for a, b in zip(y, pred):
        cm[a, b] += 1
    per = {}
    f1s = []
    for i, lab in enumerate(labels):
        tp = cm[i, i]
        support = cm[i].sum()
        predicted = cm[:, i].sum()
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        per[lab] = {"precision": p, "recall": r, "f1": f, "support": int(support)}
        if support:
            f1s.append(f)
    return {"accuracy": float((y == pred).mean()) if len(y) else 0.0, "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
            "per_class": per, "confusion": cm.tolist(), "n": int(len(y))}


def train_all(X, rows, idx: dict, spec: dict) -> dict:
    y_type = np.array([TYPES.index(r["type"]) for r in rows])
    y_lang = np.array([LANGS.index(r["lang"]) for r in rows])
    is_contract = np.array([r["type"] == "contract" and r.get("subtype") is not None for r in rows])
    y_sub = np.array([SUBTYPES.index(r["subtype"]) if r["type"] == "contract" and r.get("subtype") else -1 for r in rows])
    tr, va, te = idx["train"], idx["val"], idx["test"]
    t = time.time()
    type_clf = fit(X[tr], y_type[tr], C_TYPE)
    sub_tr = tr[is_contract[tr]]
    sub_clf = fit(X[sub_tr], y_sub[sub_tr], C_SUB)
    lang_clf = fit(X[tr], y_lang[tr], C_LANG)
    print(f"  training: {time.time() - t:.1f} s", flush=True)
    pv = probs_full(type_clf, X[va], len(TYPES))
    threshold = calibrate(pv.max(1), pv.argmax(1) == y_type[va])
    return {"type": type_clf, "subtype": sub_clf, "language": lang_clf, "threshold": threshold,
            "y_type": y_type, "y_lang": y_lang, "y_sub": y_sub, "is_contract": is_contract}


def evaluate(m: dict, X, rows, idx: dict) -> dict:
    te = idx["test"]
    p = probs_full(m["type"], X[te], len(TYPES))
    pred = p.argmax(1)
    conf = p.max(1)
    y = m["y_type"][te]
    ev = {"type": metrics(y, pred, TYPES)}
    g = np.array([["invoice", "contract", "other"].index(group3(TYPES[i])) for i in y])
    gp = np.array([["invoice", "contract", "other"].index(group3(TYPES[i])) for i in pred])
    ev["split3"] = metrics(g, gp, ["invoice", "contract", "other"])
    ev["invoice_contract_confusions"] = int(((g == 0) & (gp == 1)).sum() + ((g == 1) & (gp == 0)).sum())
    kept = conf >= m["threshold"]
    ev["threshold"] = {"value": m["threshold"], "coverage": float(kept.mean()),
                       "accuracy_kept": float((pred[kept] == y[kept]).mean()) if kept.any() else 0.0,
                       "errors_kept": int((pred[kept] != y[kept]).sum()), "unknown": int((~kept).sum())}
    # Per source.
    src = collections.defaultdict(list)
    for k, i in enumerate(te):
        src[rows[i]["source"] + ("/" + rows[i]["form"] if rows[i]["source"] == "generated" else "")].append(k)
    ev["by_source"] = {s: {"n": len(ks), "accuracy": float((pred[ks] == y[ks]).mean())} for s, ks in sorted(src.items())}
    ev["errors"] = [{"id": rows[te[k]]["id"], "true": TYPES[y[k]], "pred": TYPES[pred[k]], "conf": round(float(conf[k]), 3)}
                    for k in range(len(te)) if pred[k] != y[k]]
    # Language.
    pl = probs_full(m["language"], X[te], len(LANGS)).argmax(1)
    ev["language"] = metrics(m["y_lang"][te], pl, LANGS)
    # Subtype on the test contracts that have one.
    ts = te[m["is_contract"][te]]
    ps = probs_full(m["subtype"], X[ts], len(SUBTYPES)).argmax(1)
    ev["subtype"] = metrics(m["y_sub"][ts], ps, SUBTYPES)
    return ev


def export_all(m: dict, spec: dict, out: str) -> dict:
    paths = {}
    for head, labels in (("type", TYPES), ("subtype", SUBTYPES), ("language", LANGS)):
        clf = m[head]
        # A head trained without some label (none in the data) still outputs every column.
        assert list(clf.classes_) == list(range(len(labels))), (head, clf.classes_)
        path = os.path.join(out, f"{head}.onnx")
        lo.export(clf, path, name=f"classifier-{head}", version=VERSION, labels=labels, spec=spec,
                  threshold=m["threshold"] if head == "type" else None)
        paths[head] = path
    return paths


def parity(m: dict, X, rows, idx: dict, paths: dict, out: str) -> float:
    """parity.json: for one test document of each type (the shortest with at least 300 non-zero
    features), the features once and, per head, the probabilities of onnxruntime and scikit-learn."""
    te = idx["test"]
    nnz = np.diff(X.indptr)
    pick = []
    for t in TYPES:
        cands = [i for i in te if rows[i]["type"] == t and nnz[i] >= 300]
        if cands:
            pick.append(min(cands, key=lambda i: (nnz[i], rows[i]["id"])))
    pick = np.array(pick)
    Xp = X[pick]
    feats = []
    for k, i in enumerate(pick):
        r = Xp.getrow(k)
        feats.append({"id": rows[i]["id"], "dim": int(X.shape[1]), "indices": [int(j) for j in r.indices],
                      "values": [float(np.format_float_positional(v, unique=True)) for v in r.data]})
    sample = {"features": feats, "heads": {}}
    worst = 0.0
    for head in ("type", "subtype", "language"):
        # The Python side's probabilities of the vectors exactly as stored (parsed back to f32).
        Xs = sp.csr_matrix((np.array([v for f in feats for v in f["values"]], dtype=np.float32),
                            np.array([j for f in feats for j in f["indices"]]),
                            np.cumsum([0] + [len(f["indices"]) for f in feats])), shape=(len(feats), X.shape[1]))
        p_onnx = lo.onnx_probabilities(paths[head], Xs)
        p_skl = m[head].predict_proba(Xs.astype(np.float64))
        worst = max(worst, float(np.abs(p_onnx - p_skl).max()))
        sample["heads"][head] = [{"onnx": [float(v) for v in a], "sklearn": [float(v) for v in b]}
                                 for a, b in zip(p_onnx, p_skl)]
    with open(os.path.join(out, "parity.json"), "w", encoding="utf-8") as f:
        json.dump(sample, f, separators=(",", ":"))
        f.write("\n")
    return worst


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def card(ev: dict, counts: dict, dropped: list, parity_err: float, sizes: dict, spec: dict, data_summary: str) -> str:
    t = ev["type"]
    lines = [f"# Document classifier — model card (version {VERSION})", "",
             "Three logistic-regression heads over the same hashed text features (`worker/features.rs`, "
             "spec below), exported to ONNX and run by ONNX Runtime (`worker/model.rs`): **type** "
             f"({', '.join(TYPES)}), contract **subtype** ({', '.join(SUBTYPES)}; `saas` covers licence and "
             f"SaaS) and **language** ({', '.join(LANGS)}).", "",
             "Rebuild: `cargo build --release && \"$(bash models/venv.sh)\" models/classifier/train.py` "
             "(deterministic: `--check` retrains and compares the ONNX bytes).", "",
             "## Data", "", data_summary, "",
             "| split | " + " | ".join(TYPES) + " | total |", "|---|" + "---|" * (len(TYPES) + 1)]
    for s in ("train", "val", "test"):
        c = counts[s]
        lines.append(f"| {s} | " + " | ".join(str(c.get(x, 0)) for x in TYPES) + f" | {sum(c.values())} |")
    if dropped:
        lines += ["", f"{len(dropped)} document(s) that intake could not read were left out: "
                  + ", ".join(f"`{i}` ({e[:60]})" for i, e in dropped[:10]) + ("…" if len(dropped) > 10 else "")]
    lines += ["", "## Held-out test figures (test split only: never seen in training nor calibration)", "",
              f"- type accuracy: **{pct(t['accuracy'])}** over {t['n']} documents; macro-F1 **{pct(t['macro_f1'])}**",
              f"- invoice / contract / other split (invoice = invoice + credit note, contract = contract + amendment, "
              f"other = everything else): accuracy **{pct(ev['split3']['accuracy'])}**",
              f"- invoice ↔ contract confusions: **{ev['invoice_contract_confusions']}**",
              f"- confidence threshold **{ev['threshold']['value']:.2f}** (calibrated on the validation split: the lowest "
              f"threshold whose kept documents reach {TARGET_PRECISION:.1%} precision). On test: {pct(ev['threshold']['coverage'])} "
              f"of documents kept, accuracy of the kept ones {pct(ev['threshold']['accuracy_kept'])} "
              f"({ev['threshold']['errors_kept']} errors), {ev['threshold']['unknown']} typed `unknown` (to review)",
              f"- language accuracy: **{pct(ev['language']['accuracy'])}** (macro-F1 {pct(ev['language']['macro_f1'])})",
              f"- contract subtype accuracy: **{pct(ev['subtype']['accuracy'])}** over {ev['subtype']['n']} contracts "
              f"(macro-F1 {pct(ev['subtype']['macro_f1'])})",
              f"- parity: ONNX Runtime vs scikit-learn probabilities, largest difference {parity_err:.2e} on the "
              "stored sample (`parity.json`; the Rust test checks ONNX Runtime in Rust against it to 1e-5)", "",
              "### Type: per class", "", "| type | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lab in TYPES:
        c = t["per_class"][lab]
        lines.append(f"| {lab} | {pct(c['precision'])} | {pct(c['recall'])} | {pct(c['f1'])} | {c['support']} |")
    lines += ["", "### Type: confusion matrix (rows: true, columns: predicted)", "",
              "| | " + " | ".join(TYPES) + " |", "|---|" + "---|" * len(TYPES)]
    for i, lab in enumerate(TYPES):
        lines.append(f"| **{lab}** | " + " | ".join(str(v) for v in t["confusion"][i]) + " |")
    lines += ["", "### By source (type accuracy on test)", "", "| source | documents | accuracy |", "|---|---|---|"]
    for s, v in ev["by_source"].items():
        lines.append(f"| {s} | {v['n']} | {pct(v['accuracy'])} |")
    lines += ["", "### Errors on test", ""]
    lines += [f"- `{e['id']}`: {e['true']} → {e['pred']} ({e['conf']})" for e in ev["errors"]] or ["none"]
    for head, labels in (("language", LANGS), ("subtype", SUBTYPES)):
        h = ev[head]
        lines += ["", f"### {head.capitalize()}: per class", "", "| label | precision | recall | support |", "|---|---|---|---|"]
        for lab in labels:
            c = h["per_class"][lab]
            lines.append(f"| {lab} | {pct(c['precision'])} | {pct(c['recall'])} | {c['support']} |")
    lines += ["", "## Model", "",
              f"- features: `{json.dumps(spec, sort_keys=True)}`",
              f"- heads: LogisticRegression(lbfgs, class_weight=balanced), C = {C_TYPE} (type), {C_SUB} (subtype), {C_LANG} (language)",
              "- files: " + ", ".join(f"`{k}.onnx` {v / 1024 / 1024:.2f} MiB" for k, v in sizes.items()),
              "- limits: generated documents come from one generator (same phrasing families), so their figures "
              "are optimistic; the real corpora (CUAD, ContractNLI, invoice2data, Factur-X/ZUGFeRD, SROIE, ToS) are "
              "English, German and some French; no real French contracts, quotes, purchase orders or delivery notes.", ""]
    return "\n".join(lines)


def run(args) -> dict:
    spec = lo.default_spec()
    work = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "classifier-data")
    os.makedirs(work, exist_ok=True)
    t = time.time()
    rows = generated(os.path.join(work, "generated"), args.scale, args.scans) + real()
    rows.sort(key=lambda r: r["id"])
    print(f"{len(rows)} documents ({time.time() - t:.1f} s)", flush=True)
    X, rows, dropped = features(rows, spec, work)
    print(f"features: {X.shape}, {len(dropped)} dropped", flush=True)
    split = np.array([split_of(r["group"]) for r in rows])
    idx = {s: np.where(split == s)[0] for s in ("train", "val", "test")}
    counts = {s: collections.Counter(rows[i]["type"] for i in idx[s]) for s in idx}
    m = train_all(X, rows, idx, spec)
    out = args.out or HERE
    os.makedirs(out, exist_ok=True)
    paths = export_all(m, spec, out)
    ev = evaluate(m, X, rows, idx)
    perr = parity(m, X, rows, idx, paths, out)
    sizes = {k: os.path.getsize(p) for k, p in paths.items()}
    by_src = collections.Counter(r["source"] for r in rows)
    gen_forms = collections.Counter(r["form"] for r in rows if r["source"] == "generated")
    summary = (f"{len(rows)} documents: {by_src['generated']} generated by `fixtures/gen/classdata.py` "
               f"(seed `liasse-classdata`, scale {args.scale}: {gen_forms['pdf']} text PDFs and {gen_forms['scan']} scans "
               f"read through Liasse's intake, {gen_forms['text']} plain-text renderings; French and English) and real "
               f"documents from `../shared/corpus`: " + ", ".join(f"{k} {v}" for k, v in sorted(by_src.items()) if k != "generated")
               + f". Split by a SHA-256 of each document's group with seed `{SPLIT_SEED}` (70 / 15 / 15 %): "
               "translations of one terms-of-service text share a group. See DATA.md.")
    with open(os.path.join(out, "CARD.md"), "w", encoding="utf-8") as f:
        f.write(card(ev, counts, dropped, perr, sizes, spec, summary))
    with open(os.path.join(out, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump({k: v for k, v in ev.items()}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"type accuracy {pct(ev['type']['accuracy'])}, macro-F1 {pct(ev['type']['macro_f1'])}, "
          f"3-way {pct(ev['split3']['accuracy'])}, inv<->contract {ev['invoice_contract_confusions']}, "
          f"threshold {m['threshold']}, language {pct(ev['language']['accuracy'])}, "
          f"subtype {pct(ev['subtype']['accuracy'])}, parity {perr:.1e}")
    return {k: hashlib.sha256(open(p, "rb").read()).hexdigest() for k, p in paths.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--scans", type=int, default=72)
    ap.add_argument("--out", default=None, help="write the model here instead of models/classifier")
    ap.add_argument("--check", action="store_true", help="train twice and compare the ONNX bytes")
    args = ap.parse_args()
    first = run(args)
    if args.check:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            args.out = tmp
            second = run(args)
        same = first == second
        print("retraining gives identical ONNX files" if same else f"DIFFERENT: {first} vs {second}")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
