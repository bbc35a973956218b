"""The Hugging Face shapes (real fixture, seed items, old and new search hits) map into `Paper`."""

from __future__ import annotations

import copy
import json
import logging
from datetime import date, datetime, timezone

import pytest

from bot.sources.errors import MalformedResponse
from bot.sources.hf_shapes import LINKED_KEPT, parse_daily_items, parse_paper, parse_search_results
from paperboy_testing.seed import fixture_paper, flat_paper, make_item, seed_items


def _item_around(paper: dict, **extra: object) -> dict:
    """Wrap a flat paper object in a daily item, the way the API does."""
    return {"paper": paper, "title": paper["title"], "summary": paper["summary"],
            "publishedAt": paper["publishedAt"], "numComments": 4, "isAuthorParticipating": False, **extra}


def test_the_real_fixture_parses_every_field() -> None:
    paper = parse_paper(json.dumps(fixture_paper()))
    assert paper.id == "2509.04664"
    assert paper.title == "Why Language Models Hallucinate"
    assert paper.authors == ("Adam Tauman Kalai", "Ofir Nachum", "Santosh S. Vempala", "Edwin Zhang")
    assert "\n" not in paper.abstract
    assert paper.abstract.startswith("Like students facing hard exam questions, large language models sometimes guess")
    assert paper.ai_summary and paper.ai_summary.startswith("Language models produce incorrect statements")
    assert paper.ai_keywords == ("hallucinations", "binary classification", "uncertain responses",
                                 "trustworthy AI systems")
    assert paper.upvotes == 26
    assert paper.published_at == datetime(2025, 9, 4, 21, 26, 31, tzinfo=timezone.utc)
    assert paper.daily_date == date(2025, 9, 8)
    # Absent is unknown, not zero; comments live on the daily item, not on the flat paper.
    assert paper.github_repo is None and paper.github_stars is None
    assert paper.comments is None
    assert paper.project_page is None and paper.organization is None
    assert paper.thumbnail == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2509.04664.png"
    assert paper.source == "huggingface"


def test_the_fixture_as_a_daily_item_takes_comments_and_thumbnail_from_the_item() -> None:
    item = _item_around(fixture_paper(), thumbnail="https://cdn.example/t.png")
    [paper] = parse_daily_items(json.dumps([item]))
    assert paper.comments == 4
    assert paper.thumbnail == "https://cdn.example/t.png"
    assert paper.upvotes == 26


def test_every_seed_item_parses_faithfully() -> None:
    items = seed_items(today=date(2026, 3, 14))
    papers = parse_daily_items(json.dumps(items).encode())
    assert len(papers) == 92
    for item, paper in zip(items, papers):
        raw = item["paper"]
        assert paper.id == raw["id"]
        assert paper.title == " ".join(raw["title"].split())
        assert paper.authors == tuple(a["name"] for a in raw["authors"])
        assert paper.upvotes == raw["upvotes"]
        assert paper.comments == item["numComments"]
        assert paper.github_stars == raw.get("githubStars")
        assert paper.github_repo == raw.get("githubRepo")
        assert paper.project_page == raw.get("projectPage")
        assert paper.organization == ("Example Lab" if "organization" in raw else None)
        assert paper.ai_summary == raw.get("ai_summary")
        assert paper.daily_date == date.fromisoformat(raw["submittedOnDailyAt"][:10])
    # Index 0 has code with zero stars: zero must survive as 0, not become None.
    assert papers[0].github_stars == 0


def test_only_the_id_and_title_are_required() -> None:
    [paper] = parse_daily_items(json.dumps([{"paper": {"id": "2403.00001", "title": "Bare"}}]))
    assert paper.id == "2403.00001"
    assert paper.title == "Bare"
    assert paper.authors == () and paper.abstract == "" and paper.ai_keywords == ()
    assert paper.upvotes is None and paper.comments is None and paper.github_stars is None
    assert paper.published_at is None and paper.daily_date is None
    assert paper.thumbnail == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2403.00001.png"


def test_unknown_keys_are_ignored_and_hidden_authors_dropped() -> None:
    item = make_item(0, "A  title\nwith   newlines", "Line one\nline two.", daily=date(2026, 3, 14))
    item["paper"]["authors"].append({"_id": "h", "name": "Secret Person", "hidden": True})
    item["paper"]["brandNewField"] = {"nested": [1, 2]}
    item["mediaUrls"] = ["https://example.org/v.mp4"]
    item["paper"]["versionedId"] = "2403.10001v3"
    [paper] = parse_daily_items(json.dumps([item]))
    assert paper.title == "A title with newlines"
    assert paper.abstract == "Line one line two."
    assert "Secret Person" not in paper.authors


def test_a_versioned_id_is_normalised() -> None:
    flat = flat_paper(make_item(1, "T", "A", daily=date(2026, 3, 14), paper_id="2403.10002v4"))
    assert parse_paper(json.dumps(flat)).id == "2403.10002"


def test_organization_name_is_used_when_fullname_is_missing() -> None:
    paper = fixture_paper() | {"organization": {"_id": "o", "name": "openai"}}
    assert parse_paper(json.dumps(paper)).organization == "openai"


def test_old_flat_search_hits_parse() -> None:
    hits = [
        {"id": "2403.10001", "title": "Old shape", "thumbnailUrl": "https://cdn.example/old.png", "source": "arxiv"},
        {"id": "2403.10002", "title": "No thumb", "source": "arxiv"},
    ]
    papers = parse_search_results(json.dumps(hits))
    assert [p.id for p in papers] == ["2403.10001", "2403.10002"]
    assert papers[0].thumbnail == "https://cdn.example/old.png"
    assert papers[1].thumbnail.endswith("/2403.10002.png")
    assert all(p.source == "huggingface" and p.comments is None for p in papers)


def test_newer_daily_item_shaped_search_hits_parse() -> None:
    items = seed_items(today=date(2026, 3, 14))[:3]
    papers = parse_search_results(json.dumps(items))
    assert [p.id for p in papers] == [i["paper"]["id"] for i in items]
    assert papers[1].comments == items[1]["numComments"]


def test_a_single_bad_item_is_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    items = seed_items(today=date(2026, 3, 14))[:3]
    bad = copy.deepcopy(items[1])
    del bad["paper"]["id"]
    no_title = copy.deepcopy(items[2])
    no_title["paper"]["title"] = "   "
    del no_title["title"]
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        papers = parse_daily_items(json.dumps([items[0], bad, no_title, "not an item"]), where="HF test")
    assert [p.id for p in papers] == [items[0]["paper"]["id"]]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert "paper.id" in warnings[0].getMessage() and "HF test" in warnings[0].getMessage()
    assert "no title" in warnings[1].getMessage()


def test_an_item_whose_id_is_not_an_arxiv_id_is_skipped() -> None:
    good = seed_items(today=date(2026, 3, 14))[0]
    weird = copy.deepcopy(good)
    weird["paper"]["id"] = "<@everyone>"
    assert [p.id for p in parse_daily_items(json.dumps([weird, good]))] == [good["paper"]["id"]]


def test_the_item_title_stands_in_when_the_paper_has_none() -> None:
    item = seed_items(today=date(2026, 3, 14))[0]
    del item["paper"]["title"]
    [paper] = parse_daily_items(json.dumps([item]))
    assert paper.title == item["title"]


def test_an_empty_list_is_an_empty_answer() -> None:
    assert parse_daily_items(b"[]") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html>oops</html>", "not JSON: '<!DOCTYPE html>"),
        (b'[{"paper": {"id": "2403.1', "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'{"error": "Invalid date"}', "JSON dict where a list was expected"),
        (b'"hello"', "JSON str where a list was expected"),
        (b'[{"paper": {"title": "no id"}}, {"paper": {"id": "2403.10001"}}]', "2 items and none is a paper"),
        (b"[1, 2, 3]", "3 items and none is a paper"),
    ],
)
def test_a_malformed_list_body_raises_a_clear_error(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match="^Hugging Face answered with") as caught:
        parse_daily_items(body)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "JSON list where a paper was expected"),
        (b'{"title": "no id"}', "cannot be read (id: field required)"),
        (b'{"id": "2403.10001", "title": "x", "upvotes": "many"}', "cannot be read (upvotes:"),
        (b"not json", "not JSON"),
    ],
)
def test_a_malformed_paper_body_raises_a_clear_error(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse) as caught:
        parse_paper(body)
    assert message in str(caught.value)


# -- linked models, datasets and Spaces (only `/api/papers/{id}` sends them) -----------------

def _with_linked(**fields: object) -> dict:
    return fixture_paper() | fields


def test_the_fixture_with_linked_repos_parses_them_and_their_totals() -> None:
    paper = parse_paper(json.dumps(_with_linked(
        linkedModels=[{"_id": "m1", "id": "openai/gpt-oss-20b", "author": "openai", "downloads": 10,
                       "likes": 3, "pipeline_tag": "text-generation", "private": False},
                      {"id": "gpt2"}],
        linkedDatasets=[{"id": "hallu/eval-set", "author": "hallu"}],
        linkedSpaces=[{"id": "hallu/demo", "title": "Demo", "emoji": "🚀", "sdk": "gradio"}],
        numTotalModels=12, numTotalDatasets=1, numTotalSpaces=0,
    )))
    assert paper.linked_models == ("openai/gpt-oss-20b", "gpt2")
    assert paper.linked_datasets == ("hallu/eval-set",)
    assert paper.linked_spaces == ("hallu/demo",)
    assert (paper.linked_models_total, paper.linked_datasets_total, paper.linked_spaces_total) == (12, 1, 0)
    # The rest of the paper is untouched by the extras.
    assert paper.title == "Why Language Models Hallucinate" and paper.upvotes == 26


def test_without_linked_fields_the_repos_are_empty_and_the_totals_unknown() -> None:
    paper = parse_paper(json.dumps(fixture_paper()))
    assert paper.linked_models == paper.linked_datasets == paper.linked_spaces == ()
    assert paper.linked_models_total is paper.linked_datasets_total is paper.linked_spaces_total is None
    assert paper.linked_repos() == []


def test_odd_linked_items_are_skipped_one_by_one() -> None:
    paper = parse_paper(json.dumps(_with_linked(linkedModels=[
        {"id": "org/good-model_v1.5"}, {"id": "org/good-model_v1.5"},  # a repeat counts once
        "org/bare-string", 7, None, {"name": "no id"}, {"id": 42},
        {"id": "<@everyone>"}, {"id": "org/with space"}, {"id": "../../etc/passwd"},
        {"id": "javascript:alert(1)"}, {"id": "a/b/c"}, {"id": "x" * 200},
        {"id": "solo"},
    ])))
    assert paper.linked_models == ("org/good-model_v1.5", "solo")


@pytest.mark.parametrize("odd", [None, "org/model", {"id": "org/model"}, 3, True])
def test_a_linked_field_of_the_wrong_type_costs_only_itself(odd: object) -> None:
    paper = parse_paper(json.dumps(_with_linked(linkedModels=odd, linkedSpaces=[{"id": "org/space"}])))
    assert paper.linked_models == () and paper.linked_models_total is None
    assert paper.linked_spaces == ("org/space",)
    assert paper.id == "2509.04664"


@pytest.mark.parametrize("odd", ["12", -1, 2.5, True, None, [], {}])
def test_a_total_that_is_not_a_count_is_unknown(odd: object) -> None:
    paper = parse_paper(json.dumps(_with_linked(linkedDatasets=[{"id": "org/d"}], numTotalDatasets=odd)))
    assert paper.linked_datasets == ("org/d",) and paper.linked_datasets_total is None


def test_a_long_linked_list_is_cut_but_still_counted() -> None:
    models = [{"id": f"org/model-{n}"} for n in range(LINKED_KEPT + 30)]
    paper = parse_paper(json.dumps(_with_linked(linkedModels=models)))
    assert paper.linked_models == tuple(f"org/model-{n}" for n in range(LINKED_KEPT))
    assert paper.linked_models_total == LINKED_KEPT + 30
    bigger = parse_paper(json.dumps(_with_linked(linkedModels=models, numTotalModels=5000)))
    assert bigger.linked_models_total == 5000


def test_daily_items_carry_no_linked_repos() -> None:
    papers = parse_daily_items(json.dumps(seed_items(today=date(2026, 3, 14))))
    assert all(p.linked_models == () and p.linked_models_total is None for p in papers)


def test_linked_repos_link_to_the_hub_with_and_n_more_from_the_totals() -> None:
    paper = parse_paper(json.dumps(_with_linked(
        linkedModels=[{"id": f"org/m{n}"} for n in range(7)], numTotalModels=40,
        linkedDatasets=[{"id": "org/d"}], linkedSpaces=[], numTotalSpaces=3,
    )))
    models, datasets, spaces = paper.linked_repos()
    assert models.label == "Models" and models.links[0] == ("org/m0", "https://huggingface.co/org/m0")
    assert len(models.links) == 5 and models.more == 35 and models.more_text() == "and 35 more"
    assert datasets.links == (("org/d", "https://huggingface.co/datasets/org/d"),) and datasets.more_text() is None
    # Only a total: nothing to link, but the number is still worth saying.
    assert spaces.links == () and spaces.more_text() == "3 on Hugging Face"
