"""The tiny test model of tests/classify.rs (`model_*` tests): a 3-class logistic regression on a
dozen texts, small feature spec, exported like every Liasse model, with its parity sample.

    "$(bash models/venv.sh)" models/testdata/make_tiny.py      # needs a built `liasse` binary
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import liasse_onnx as lo  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = {"version": 1, "dim": 256, "max_chars": 2000, "word_ngrams": [1, 1], "char_ngrams": [3, 3],
        "max_token_chars": 30, "char_weight": 0.5, "numeric": 0}
TEXTS = [
    ("fruit", "apple banana cherry pear"), ("fruit", "pomme poire banane cerise"),
    ("fruit", "a basket of ripe apples and pears"), ("fruit", "fresh cherries and plums"),
    ("tool", "hammer screwdriver wrench saw"), ("tool", "marteau tournevis clé scie"),
    ("tool", "a box of nails, a hammer and pliers"), ("tool", "drill bits and a spanner"),
    ("colour", "red green blue yellow"), ("colour", "rouge vert bleu jaune"),
    ("colour", "a palette of crimson and teal"), ("colour", "orange violet and indigo"),
]


def main() -> None:
    labels = ["colour", "fruit", "tool"]
    X, ids, errors = lo.features_of_texts([(str(i), t) for i, (_, t) in enumerate(TEXTS)], SPEC)
    assert not errors, errors
    y = [labels.index(TEXTS[int(i)][0]) for i in ids]
    clf = LogisticRegression(C=10.0, max_iter=1000, tol=1e-8).fit(X, y)
    path = os.path.join(HERE, "tiny.onnx")
    lo.export(clf, path, name="tiny", version="1", labels=labels, spec=SPEC, threshold=0.5)
    Xp, idp, _ = lo.features_of_texts([("p1", "a ripe banana"), ("p2", "the saw and the drill"),
                                        ("p3", "bleu et rouge"), ("p4", "")], SPEC)
    lo.write_parity(os.path.join(HERE, "tiny.parity.json"), path, Xp, idp, clf)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
