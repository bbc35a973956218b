"""The core leaves its heavy libraries unloaded until a feature needs one, and each such feature still works.

A bot process holds what it imports for as long as it runs (issue 27: memory at 10,000 channels): numpy
and scipy (the interest model), feedgen and lxml (Atom feeds), pylatexenc (BibTeX) and feedparser (arXiv)
load on first use. Checked in a fresh interpreter, since any earlier test may have loaded them already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAZY = ("numpy", "scipy", "sklearn", "feedgen", "lxml", "pylatexenc", "feedparser", "wordllama", "bm25s")

# Open the core's modules, note what is loaded, then use each lazily loaded feature in turn.
SCRIPT = """
import json, sys
from datetime import datetime, timezone
import bot.runtime.app
loaded = sorted(m for m in {lazy} if m in sys.modules)

from bot.commands.reading_list import ReadingList  # noqa: F401  (its module must not load the BibTeX writer)
from bot.delivery.atom import Document, Entry, atom
from bot.model.paper import Paper
from bot.ranking.interest import ModelCache, Signalled, embedding
from bot.sources.arxiv import parse_atom_entry

at = datetime(2026, 1, 2, tzinfo=timezone.utc)
papers = [Paper(id=f"2401.0000{{n}}", title=f"Paper {{n}} on {{topic}}", abstract=f"We study {{topic}} again.",
                authors=("Ada Lovelace",), source="arxiv")
          for n, topic in enumerate(["graphs", "graphs", "graphs", "proteins", "proteins", "weather"])]
feed = atom(Document(id="urn:x", title="T", subtitle="S", url="https://example.org/feed"), [Entry(papers[0], at)])

from bot.commands.bibtex import bibtex
bib = bibtex(papers[:1])

embedding.enabled = False  # words alone: wordllama's 50 MB are not this test's point
model = ModelCache().get("channel", [Signalled(p, 1, 0) for p in papers[:3]], papers[3:])
ranked = [r.paper.id for r in model.rank(papers[3:] + papers[:1], limit=1)]

body = ("<feed xmlns='http://www.w3.org/2005/Atom'><entry><id>http://arxiv.org/abs/2401.00001v1</id>"
        "<title>An arXiv paper</title><summary>Words.</summary></entry></feed>")
arxiv = parse_atom_entry(body, requested="2401.00001")
print(json.dumps({{"loaded": loaded, "feed": feed.decode(), "bib": bib, "kind": model.kind, "ranked": ranked,
                  "arxiv": [arxiv.id, arxiv.title]}}))
"""


def test_the_core_loads_no_heavy_library_and_each_lazy_feature_loads_its_own():
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(lazy=LAZY)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["loaded"] == []
    assert "<title>Paper 0 on graphs</title>" in found["feed"] and "https://arxiv.org/abs/2401.00000" in found["feed"]
    assert found["bib"].startswith("@misc{lovelace") and "2401.00000" in found["bib"]
    assert found["kind"] == "svm"
    assert found["ranked"] == ["2401.00000"]  # the liked paper itself ranks first
    assert found["arxiv"] == ["2401.00001", "An arXiv paper"]
