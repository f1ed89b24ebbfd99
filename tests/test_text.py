"""Typed text refuses control characters; multi-line text keeps its line breaks."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from dustgrid.errors import Invalid
from dustgrid.text import (
    MultilineText,
    OptionalPlainText,
    PlainText,
    check_field,
    strip_controls,
)


class Form(BaseModel):
    name: PlainText = Field(default="", max_length=8)
    phone: OptionalPlainText = Field(default=None, max_length=4)
    note: MultilineText = ""


@pytest.mark.parametrize("bad", ["王\u0007工", "a\tb", "a\nb", "\x00", "x\x7f", "x\x85", "x\x9f"])
def test_plain_text_refuses_every_control_character(bad: str) -> None:
    with pytest.raises(ValidationError, match="控制字符"):
        Form(name=bad)
    with pytest.raises(ValidationError, match="控制字符"):
        Form(phone=bad[:4])


def test_multiline_text_allows_tab_and_line_breaks_only() -> None:
    assert Form(note="一\t二\r\n三").note == "一\t二\r\n三"
    with pytest.raises(ValidationError, match="U\\+0001"):
        Form(note="一\n\u0001")


def test_lengths_and_none_still_work() -> None:
    assert Form(name="沈阳·和平（一）", phone=None).phone is None
    with pytest.raises(ValidationError, match="at most 4 characters"):
        Form(phone="12345")


def test_check_field_names_the_field() -> None:
    check_field("reason", "一\n二", multiline=True)
    with pytest.raises(Invalid, match="^案号：不能包含控制字符"):
        check_field("case_number", "罚\u0001")


def test_strip_controls_keeps_text_and_line_breaks() -> None:
    assert strip_controls("王\u0007工\t一\n二\x85\ufffe") == "王工\t一\n二"
