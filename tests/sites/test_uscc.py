"""Unified social credit codes (统一社会信用代码, GB 32100-2015)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dustgrid.sites.uscc import (
    USCC_CHARSET,
    USCCError,
    is_valid_uscc,
    make_uscc,
    uscc_check_char,
    validate_uscc,
)

# Codes of well-known organisations as shown on public registration records (copied from
# public sources, not generated here); each was checked to satisfy the GB 32100 check
# character with this module, so they also pin the weights and alphabet.
REAL_CODES = [
    pytest.param("914403001922038216", id="huawei-technologies"),  # 华为技术有限公司
    pytest.param("91440300708461136T", id="tencent-computer-systems"),  # 深圳市腾讯计算机系统
    pytest.param("91330100716105852F", id="alibaba-china-network"),  # 阿里巴巴(中国)网络技术
    pytest.param("91110000802100433B", id="baidu-netcom"),  # 北京百度网讯科技有限公司
    pytest.param("91110108551385082Q", id="xiaomi"),  # 小米科技有限责任公司
    pytest.param("91310000132260250X", id="saic-motor"),  # 上海汽车集团股份有限公司
    pytest.param("12100000425006133D", id="east-china-normal-univ"),  # 华东师范大学 (事业单位)
]

body_char = st.sampled_from(USCC_CHARSET)
digit = st.sampled_from("0123456789")
prefixes = st.tuples(
    st.lists(body_char, min_size=2, max_size=2),
    st.lists(digit, min_size=6, max_size=6),
    st.lists(body_char, min_size=9, max_size=9),
).map(lambda parts: "".join(parts[0] + parts[1] + parts[2]))


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_validate(code: str) -> None:
    assert validate_uscc(code) == code
    assert uscc_check_char(code[:17]) == code[17]
    assert make_uscc(code[:17]) == code
    assert is_valid_uscc(code)


def test_normalisation() -> None:
    assert validate_uscc("  91440300708461136t\n") == "91440300708461136T"
    # Full-width digits and letters pasted from a Chinese document.
    assert validate_uscc("９１４４０３００７０８４６１１３６Ｔ") == "91440300708461136T"


def test_check_value_31_maps_to_zero() -> None:
    # All-zero body: sum 0, 31 - 0 = 31, which the standard maps to "0".
    assert uscc_check_char("0" * 17) == "0"
    assert validate_uscc("0" * 18) == "0" * 18


def test_length_errors() -> None:
    with pytest.raises(USCCError, match="长度应为18位，实际为17位"):
        validate_uscc("91440300708461136")
    with pytest.raises(USCCError) as err:
        validate_uscc("")
    assert err.value.reason == "length"
    with pytest.raises(USCCError, match="计算校验码需要17位"):
        uscc_check_char("9144")


@pytest.mark.parametrize("bad", ["I", "O", "Z", "S", "V", "-", "中", "*"])
def test_illegal_characters(bad: str) -> None:
    code = "91440300" + bad + "08461136T"
    with pytest.raises(USCCError, match=r"第9位含非法字符 ") as err:
        validate_uscc(code)
    said = err.value.msg.render("en")
    assert said.startswith("Illegal character") and "position 9" in said
    try:
        validate_uscc(code)
    except USCCError as exc:
        assert (exc.reason, exc.position, exc.got) == ("illegal_char", 9, bad.upper())


def test_division_code_must_be_digits() -> None:
    with pytest.raises(USCCError, match="第5位应为数字") as err:
        validate_uscc("9144A300708461136T")
    assert "position 5 must be a digit" in err.value.msg.render("en").lower()
    assert err.value.reason == "division"


def test_wrong_check_character() -> None:
    with pytest.raises(USCCError, match="校验码错误：应为 6，实际为 7"):
        validate_uscc("914403001922038217")
    try:
        validate_uscc("914403001922038217")
    except USCCError as exc:
        assert (exc.reason, exc.position, exc.expected, exc.got) == ("check", 18, "6", "7")
    assert not is_valid_uscc("914403001922038217")


def test_not_a_string() -> None:
    with pytest.raises(USCCError, match="必须是字符串") as err:
        validate_uscc(914403001922038216)  # type: ignore[arg-type]
    assert err.value.reason == "type"
    assert issubclass(USCCError, ValueError)


def test_make_uscc_rejects_bad_prefix() -> None:
    with pytest.raises(USCCError, match="第17位含非法字符 'O'"):
        make_uscc("9144030070846113O")
    with pytest.raises(USCCError, match="实际为16位"):
        make_uscc("9144030070846113")


@given(prefixes)
def test_generated_codes_are_valid(prefix: str) -> None:
    code = make_uscc(prefix)
    assert len(code) == 18 and code.startswith(prefix)
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


@given(prefixes, st.integers(0, 17), body_char)
def test_every_single_substitution_is_detected(prefix: str, pos: int, char: str) -> None:
    # 31 is prime and no weight is 0 mod 31, so changing one character always changes the
    # weighted sum mod 31 (positions 1–17), and a different 18th char never matches.
    code = make_uscc(prefix)
    if code[pos] == char or (2 <= pos <= 7 and not char.isdigit()):
        return
    assert not is_valid_uscc(code[:pos] + char + code[pos + 1 :])
