"""How many papers `similar` calls related, for each of the 92 real papers of tests/data.

Run from the repository root: ``python bench/similar_cutoff.py`` (``--show`` prints each paper's
results). Every paper is ranked against the 91 others with `bot.commands.similar.rank`, as `similar` does
with a mixed pool, and the script prints how many results each gets, and the results of a few
papers with known relatives (the unlearning papers, the two on model merging). It is how
`MIN_LIKENESS` and `OF_THE_BEST` were chosen: relatives kept, papers sharing only the field's
common words left out. Prints figures only.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.model.paper import Paper  # noqa: E402
from bot.commands.similar import rank  # noqa: E402
from paperboy_testing.seed import seed_id, seed_titles_and_abstracts  # noqa: E402

WATCHED = {13: "unlearning", 72: "unlearning", 68: "unlearning", 90: "model merging", 53: "diffusion"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print every paper's results")
    args = parser.parse_args()
    papers = [Paper(id=seed_id(i), title=t, abstract=a) for i, (t, a) in enumerate(seed_titles_and_abstracts())]
    sizes: Counter[int] = Counter()
    for index, paper in enumerate(papers):
        found = rank(paper, [p for p in papers if p.id != paper.id])
        sizes[len(found)] += 1
        if args.show or index in WATCHED:
            label = f" [{WATCHED[index]}]" if index in WATCHED else ""
            print(f"{index:2} {paper.title[:70]}{label}")
            for other, shared in found:
                print(f"     {other.title[:70]}  ({', '.join(shared)})")
    print("results per paper: " + ", ".join(f"{n} for {count}" for n, count in sorted(sizes.items())))


if __name__ == "__main__":
    main()
