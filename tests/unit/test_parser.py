import pytest

from gateway.errors import RequestError
from gateway.xml.parser import INLINE_DOCUMENTS, STRICT, parse_untrusted


def test_plain_xml():
    assert parse_untrusted(b"<a><b>x</b></a>").find("b").text == "x"


def test_large_text_needs_the_inline_policy():
    big = b"<a>" + b"Q" * (11 * 1024 * 1024) + b"</a>"
    with pytest.raises(RequestError):
        parse_untrusted(big, policy=STRICT)
    assert len(parse_untrusted(big, policy=INLINE_DOCUMENTS).text) == 11 * 1024 * 1024


@pytest.mark.parametrize("doc, code", [
    (b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "FORBIDDEN_DTD"),
    (b'<!DOCTYPE a SYSTEM "http://192.0.2.1/x.dtd"><a/>', "FORBIDDEN_DTD"),
    (b"<a>", "MALFORMED_XML"),
    (b"", "MALFORMED_XML"),
    (b"<a>" * 200 + b"</a>" * 200, "MALFORMED_XML"),
])
def test_refusals(doc, code):
    with pytest.raises(RequestError) as err:
        parse_untrusted(doc, policy=INLINE_DOCUMENTS)
    assert err.value.code == code


@pytest.mark.parametrize("policy", [STRICT, INLINE_DOCUMENTS])
def test_depth_limit_is_exact(policy):
    limit = policy.max_depth
    assert parse_untrusted(b"<a>" * limit + b"</a>" * limit, policy=policy) is not None
    with pytest.raises(RequestError) as err:
        parse_untrusted(b"<a>" * (limit + 1) + b"</a>" * (limit + 1), policy=policy)
    assert err.value.code == "MALFORMED_XML" and "deeper than" in err.value.message


def test_depth_is_walked_when_libxml2_gives_up(monkeypatch):
    """libxml2 refuses XPath node sets over 10 million nodes; such a tree is walked instead."""
    from lxml import etree

    from gateway.xml import parser

    def too_big(_limit):
        def evaluate(_root):
            raise etree.XPathEvalError("unknown error")
        return evaluate

    monkeypatch.setattr(parser, "_deeper_than", too_big)
    assert parse_untrusted(b"<a>" * 128 + b"</a>" * 128) is not None
    with pytest.raises(RequestError) as err:
        parse_untrusted(b"<a>" * 129 + b"</a>" * 129)
    assert "deeper than" in err.value.message
