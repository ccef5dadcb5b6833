"""One reading of UUIDs (gateway.uuids): canonical form, exact spelling, version 4."""
from __future__ import annotations

import re
import uuid

from hypothesis import given
from hypothesis import strategies as st

from gateway.uuids import V4_PATTERN, canonical_uuid, is_canonical_uuid, is_v4_uuid

V4 = re.compile(V4_PATTERN)
HEX = "0123456789abcdefABCDEF"


def test_canonical_form_of_any_spelling_python_reads():
    value = uuid.uuid4()
    for spelling in (str(value), str(value).upper(), value.hex, f"{{{value}}}", f"urn:uuid:{value}"):
        assert canonical_uuid(spelling) == str(value)
    for not_a_uuid in ("", "x" * 36, str(value)[:-1], None, 42, "１" * 32 + "x"):
        assert canonical_uuid(not_a_uuid) is None  # type: ignore[arg-type]


def test_exact_spelling():
    value = str(uuid.uuid4())
    assert is_canonical_uuid(value)
    assert not is_canonical_uuid(value.upper())
    assert is_canonical_uuid(value.upper(), any_case=True)
    for other in (value.replace("-", ""), f"{{{value}}}", f"urn:uuid:{value}", value + "\n", " " + value):
        assert not is_canonical_uuid(other, any_case=True)
    # int() reads other scripts' digits; the canonical form is ASCII only
    assert not is_canonical_uuid("１" * 8 + value[8:], any_case=True)


def test_v4():
    assert is_v4_uuid(str(uuid.uuid4()).upper())
    assert not is_v4_uuid(str(uuid.uuid1()))
    assert not is_v4_uuid(uuid.uuid4().hex)


@given(st.lists(st.sampled_from(HEX + "-"), min_size=36, max_size=36).map("".join)
       | st.uuids().map(str)
       | st.builds(lambda u, i, c: u[:i] + c + u[i + 1:], st.uuids(version=4).map(str), st.integers(0, 35), st.sampled_from(HEX + "-x")))
def test_v4_is_exactly_the_memo_xsd_pattern(value):
    assert is_v4_uuid(value) == (V4.fullmatch(value) is not None)
