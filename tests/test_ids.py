"""Every way people write an arXiv id normalises to one form; anything else is refused briefly."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from bot.model.ids import InvalidPaperId, normalize_paper_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2403.12345", "2403.12345"),
        ("2403.12345v2", "2403.12345"),
        ("arXiv:2403.12345", "2403.12345"),
        ("arxiv:2403.12345v3", "2403.12345"),
        ("arXiv: 2403.12345", "2403.12345"),
        ("https://arxiv.org/abs/2403.12345v2", "2403.12345"),
        ("https://arxiv.org/pdf/2403.12345", "2403.12345"),
        ("https://arxiv.org/pdf/2403.12345v1.pdf", "2403.12345"),
        ("http://export.arxiv.org/abs/2403.12345", "2403.12345"),
        ("arxiv.org/html/2403.12345v1", "2403.12345"),
        ("https://huggingface.co/papers/2403.12345", "2403.12345"),
        ("https://huggingface.co/papers/2403.12345#community", "2403.12345"),
        ("https://huggingface.co/papers/2403.12345?utm=x", "2403.12345"),
        ("<https://arxiv.org/abs/2403.12345>", "2403.12345"),
        ("  2403.12345\n", "2403.12345"),
        ("1412.6980", "1412.6980"),  # pre-2015 ids have four digits
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136v1", "math.GT/0309136"),
        ("https://arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001"),
    ],
)
def test_every_form_names_the_same_paper(text: str, expected: str) -> None:
    assert normalize_paper_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "2403.123",
        "2403.123456",
        "24031.2345",
        "2403.1234",  # since 2015 the number has five digits
        "1201.12345",  # before 2015 it had four
        "2413.12345",  # no 13th month
        "2400.12345",
        "2403.12345v",
        "2403.12345 2403.12346",
        "hep-th/990100",
        "https://example.com/abs/2403.12345",
        "https://arxiv.org/list/cs.CL/recent",
        "@everyone 2403.12345",
    ],
)
def test_malformed_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidPaperId, match="is not an arXiv id"):
        normalize_paper_id(text)


def test_a_huge_string_is_refused_with_a_short_one_line_message() -> None:
    text = "2403.12345\n" + "x" * 5_000
    with pytest.raises(InvalidPaperId) as caught:
        normalize_paper_id(text)
    message = str(caught.value)
    assert len(message) < 200
    assert "\n" not in message
    assert message.startswith("'2403.12345 xxx")


def test_invalid_id_is_a_value_error_so_generic_handlers_catch_it() -> None:
    assert issubclass(InvalidPaperId, ValueError)


@given(st.text(max_size=200))
def test_any_text_either_normalises_to_a_fixed_point_or_is_refused(text: str) -> None:
    try:
        normalized = normalize_paper_id(text)
    except InvalidPaperId as error:
        assert len(str(error)) < 200
    else:
        assert normalize_paper_id(normalized) == normalized
        assert "v" not in normalized.rsplit("/", 1)[-1]
