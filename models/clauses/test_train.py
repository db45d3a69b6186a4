"""Unit tests of train.py's label code (no binary, no corpus needed):

    "$(bash models/venv.sh)" -m unittest discover -s models/clauses -p 'test_*.py'
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402


def page_index(page: str):
    sq, where = train.squeeze(page)
    byte_at = [0]
    for ch in page:
        byte_at.append(byte_at[-1] + len(ch.encode()))
    return sq, where, byte_at


class LabelCode(unittest.TestCase):
    def test_answer_found_across_whitespace_and_case_maps_to_bytes(self):
        page = "1. Durée\n\nLe   contrat est  régi par\nle droit français.\n\n2. Fin"
        sq, where, byte_at = page_index(page)
        span = train.answer_span(sq, where, byte_at, "Le contrat est régi par le DROIT français.")
        self.assertIsNotNone(span)
        s, e = span
        self.assertEqual(page.encode()[s:e].decode(), "Le   contrat est  régi par\nle droit français.")
        self.assertIsNone(train.answer_span(sq, where, byte_at, "absent text"))
        self.assertIsNone(train.answer_span(sq, where, byte_at, "   "))

    def test_long_answer_found_by_its_start(self):
        body = "The Licensee shall not assign this Agreement without the prior written consent of the Licensor. "
        page = "5. Assignment\n" + body
        sq, where, byte_at = page_index(page)
        span = train.answer_span(sq, where, byte_at, body + "(text the segmenter's page does not hold)")
        self.assertIsNotNone(span)
        self.assertEqual(span[0], len("5. Assignment\n"))

    def test_clause_labels_by_overlap(self):
        spans = [("governing_law", 10, 20), ("anti_assignment", 30, 40), ("parties", 0, 5)]
        self.assertEqual(train.clause_labels([[1, 8, 12]], spans), ["governing_law"])
        self.assertEqual(train.clause_labels([[1, 6, 10], [1, 20, 30]], spans), [])  # touching is not overlapping
        self.assertEqual(train.clause_labels([[1, 0, 50]], spans), ["anti_assignment", "governing_law", "parties"])
        self.assertEqual(train.clause_labels([[2, 0, 50]], spans), [])

    def test_split_is_a_fixed_function_of_the_group(self):
        groups = [f"cuad/contract-{i}" for i in range(2000)]
        splits = [train.split_of(g) for g in groups]
        self.assertEqual(splits, [train.split_of(g) for g in groups])
        share = {s: splits.count(s) / len(splits) for s in ("train", "val", "test")}
        self.assertAlmostEqual(share["test"], 0.20, delta=0.03)
        self.assertAlmostEqual(share["val"], 0.10, delta=0.03)


if __name__ == "__main__":
    unittest.main()
