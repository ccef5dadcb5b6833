import pytest
from lxml import etree

from gateway.errors import RequestError
from gateway.xml.parser import INLINE_DOCUMENTS, SIGNED_INLINE_DOCUMENTS, STRICT, parse_untrusted


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
@pytest.mark.parametrize("policy", [INLINE_DOCUMENTS, SIGNED_INLINE_DOCUMENTS])
def test_refusals(doc, code, policy):
    with pytest.raises(RequestError) as err:
        parse_untrusted(doc, policy=policy)
    assert err.value.code == code


def test_processing_instructions_are_kept_only_for_signature_verification():
    """Canonical XML keeps PIs (a signer's digest covers them); comments are dropped either way.
    A PI before the root, with or without a declaration, parses under every policy."""
    doc = b'<?xml version="1.0"?>\n<?xml-stylesheet href="m.xsl"?><!-- c --><a>x<?app note?>y<!-- c --><b/></a>'
    for policy in (STRICT, INLINE_DOCUMENTS):
        root = parse_untrusted(doc, policy=policy)
        assert [n.tag for n in root.iter()] == ["a", "b"] and root.text == "xy"
        assert root.getprevious() is None
    root = parse_untrusted(doc, policy=SIGNED_INLINE_DOCUMENTS)
    assert [(n.target, n.text) for n in root.iter(etree.ProcessingInstruction)] == [("app", "note")]
    assert not list(root.iter(etree.Comment)) and root.text == "x"
    assert root.getprevious().target == "xml-stylesheet"


@pytest.mark.parametrize("policy", [STRICT, INLINE_DOCUMENTS, SIGNED_INLINE_DOCUMENTS])
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


# ---------------------------------------------------------------- no file is ever opened

def _references(target: str) -> list[bytes]:
    """Every way a document can name a file for libxml2 to open."""
    url = "file://" + target
    return [
        f'<!DOCTYPE a SYSTEM "{target}"><a/>'.encode(),
        f'<!DOCTYPE a SYSTEM "{url}"><a/>'.encode(),
        f'<!DOCTYPE a PUBLIC "-//x//y" "{target}"><a/>'.encode(),
        f'<?xml version="1.0"?>\n<!-- c --><?pi x?>\n<!DOCTYPE a SYSTEM "{target}"><a/>'.encode(),
        f'<!DOCTYPE a [<!ENTITY % p SYSTEM "{target}"> %p;]><a/>'.encode(),
        f'<!DOCTYPE a [<!ENTITY e SYSTEM "{target}">]><a>&e;</a>'.encode(),
        f'<!DOCTYPE a [<!ENTITY e SYSTEM "{url}">]><a b="&e;"/>'.encode(),
        f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a SYSTEM "{target}"><a/>'.encode("utf-16"),
        f'<!DOCTYPE a SYSTEM "{target}"><a/>'.encode("utf-16-le"),
        "\ufeff".encode() + f'<!DOCTYPE a SYSTEM "{target}"><a/>'.encode(),
    ]


def test_no_file_named_in_a_doctype_is_opened(tmp_path):
    from tests.fifo_watch import fifo_watch

    with fifo_watch(tmp_path) as fifo:
        for doc in _references(str(fifo.path)):
            for policy in (STRICT, INLINE_DOCUMENTS):
                with pytest.raises(RequestError) as err:
                    parse_untrusted(doc, policy=policy)
                assert err.value.code == "FORBIDDEN_DTD", doc
        assert fifo.opened == 0


def test_the_resolver_refuses_what_the_prolog_scan_misses(tmp_path, monkeypatch):
    """Without the early refusal (an encoding the scan cannot read), libxml2 still opens nothing."""
    from gateway.xml import parser
    from tests.fifo_watch import fifo_watch

    monkeypatch.setattr(parser, "has_doctype", lambda data: False)
    with fifo_watch(tmp_path) as fifo:
        for doc in _references(str(fifo.path)):
            with pytest.raises(RequestError) as err:
                parse_untrusted(doc)
            assert err.value.code in ("FORBIDDEN_DTD", "MALFORMED_XML")  # BOM-less UTF-16 is not XML to libxml2
        assert fifo.opened == 0


def test_every_parser_from_the_factory_refuses_files(tmp_path):
    """signxml re-parses with :func:`make_parser`'s parsers: they too open nothing."""
    from lxml import etree

    from gateway.xml.parser import ExternalReferenceRefused, make_parser
    from tests.fifo_watch import fifo_watch

    with fifo_watch(tmp_path) as fifo:
        for doc in _references(str(fifo.path))[:7]:
            with pytest.raises((ExternalReferenceRefused, etree.XMLSyntaxError)):
                root = etree.fromstring(doc, make_parser(INLINE_DOCUMENTS))
                # entity references stay unresolved; a document that parses still has its DOCTYPE
                assert root.getroottree().docinfo.doctype
                raise etree.XMLSyntaxError("doctype kept", 0, 0, 0)
        assert fifo.opened == 0


def test_the_refusal_says_nothing_about_the_file(tmp_path):
    """Same answer for a file that exists, one that does not, and a directory: no oracle."""
    existing = tmp_path / "exists.dtd"
    existing.write_text('<!ENTITY x "y">')
    messages = set()
    for target in (existing, tmp_path / "missing.dtd", tmp_path):
        for doc in _references(str(target)):
            with pytest.raises(RequestError) as err:
                parse_untrusted(doc)
            messages.add((err.value.code, err.value.message))
    assert len(messages) == 1


@pytest.mark.parametrize("doc", [
    b"<a><!-- <!DOCTYPE x> --></a>",
    b"<?xml version='1.0'?><!-- x --><a><![CDATA[<!DOCTYPE a SYSTEM 'x'>]]></a>",
    b"<?pi <!DOCTYPE ?><a/>",
])
def test_a_doctype_in_content_is_text(doc):
    assert parse_untrusted(doc) is not None
