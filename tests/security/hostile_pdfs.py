"""Hostile PDFs, built by hand (no library would write them), each with the fault code
inspection must give. Small on the wire, expensive to open without bounds: the bombs
inflate to 256 MiB, twice the default bound for a whole document.

An LZW bomb is a file in ``pdf/`` (pypdf's encoder needs seconds to make one).
"""
from __future__ import annotations

import zlib
from collections.abc import Callable


BOMB = 256 << 20


def _pdf(objects: dict[int, bytes], *, root: int = 1, xref: bool = True, size: int | None = None) -> bytes:
    """Objects (number → body, without ``obj``/``endobj``) with a classic xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    count = (size or max(objects) + 1)
    start = len(out)
    if xref:
        out += b"xref\n0 %d\n0000000000 65535 f \n" % count
        for number in range(1, count):
            # a missing object is listed in use, at the catalog's offset: the table is what costs
            out += b"%010d 00000 n \n" % offsets.get(number, offsets[root])
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, root, start)
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _bomb(size: int) -> bytes:
    """``size`` zero bytes, deflated (about 1,000:1)."""
    compressor = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    out = bytearray()
    for _ in range(size >> 20):
        out += compressor.compress(chunk)
    return bytes(out + compressor.flush())


def _one_page(contents: bytes, extra_objects: dict[int, bytes] | None = None) -> bytes:
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        4: contents,
        **(extra_objects or {}),
    }
    return _pdf(objects)


def content_stream_bomb() -> bytes:
    """One page whose content stream inflates to 256 MiB."""
    return _one_page(_stream(_bomb(BOMB), b"/Filter /FlateDecode"))


def content_streams_many_bombs() -> bytes:
    """Each of 12 streams below the per-stream bound, together far above the total."""
    parts = b" ".join(b"%d 0 R" % n for n in range(10, 22))
    bomb = _stream(_bomb(30 << 20), b"/Filter /FlateDecode")
    return _one_page(b"[" + parts + b"]", {n: bomb for n in range(10, 22)})


def nested_filter_bomb() -> bytes:
    """Deflate of a deflate bomb: each layer is small, the inner output is 256 MiB."""
    inner = _bomb(BOMB)
    return _one_page(_stream(zlib.compress(inner, 9), b"/Filter [/FlateDecode /FlateDecode]"))


def ascii_hex_bomb() -> bytes:
    """ASCIIHex around a deflate bomb: a slow decoder in front of the inflater."""
    return _one_page(_stream(_bomb(BOMB).hex().encode() + b">", b"/Filter [/ASCIIHexDecode /FlateDecode]"))


def predictor_bomb() -> bytes:
    """A content stream with a TIFF predictor: 64 MiB decoded byte by byte in Python."""
    return _one_page(_stream(_bomb(64 << 20), b"/Filter /FlateDecode /DecodeParms << /Predictor 2 /Columns 1000 >>"))


def png_predictor_bomb() -> bytes:
    data = (b"\x01" + b"\0" * 999) * (64 * 1024)  # PNG Sub on every row
    return _one_page(_stream(zlib.compress(data, 9), b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 999 >>"))


def run_length_bomb() -> bytes:
    """RunLength: 2 bytes per 128 output bytes, 32 MiB."""
    return _one_page(_stream(b"\x81\0" * ((32 << 20) // 128) + b"\x80", b"/Filter /RunLengthDecode"))


def ascii85_zeros() -> bytes:
    """ASCII85: 'z' is four zero bytes; 32 MiB of them decoded in Python."""
    return _one_page(_stream(b"z" * (8 << 20) + b"~>", b"/Filter /ASCII85Decode"))


def ascii85_zeros_small_input() -> bytes:
    """The same, 1.5 MiB of 'z' (6 MiB decoded): small input, output past the bound."""
    return _one_page(_stream(b"z" * (3 << 19) + b"~>", b"/Filter /ASCII85Decode"))


def _objstm(count: int, bomb: bool) -> tuple[bytes, int]:
    header = b" ".join(b"%d %d" % (100 + i, i * 2) for i in range(count))
    body = header + b" " + b"0 " * count
    if bomb:
        body += b" " * BOMB
    compressed = zlib.compress(body, 9)
    return _stream(compressed, b"/Type /ObjStm /N %d /First %d /Filter /FlateDecode" % (count, len(header) + 1)), count


def object_stream_bomb() -> bytes:
    """The page tree lives in an object stream padded to 256 MiB, found through an xref stream."""
    return _xref_stream_pdf(pad=BOMB)


def many_object_streams() -> bytes:
    """Object streams of 30 MiB each, needed to find the pages (the 880 MB case)."""
    return _xref_stream_pdf(pad=30 << 20, streams=3)


def many_pages_in_object_streams() -> bytes:
    """200 pages, each in its own object stream of 3.9 MiB (below the bound for one stream,
    780 MiB together, each parsed byte by byte)."""
    return _pages_in_object_streams(200, (39 << 20) // 10)


def _pages_in_object_streams(pages: int, pad: int) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    entries: dict[int, tuple[int, int, int]] = {}
    kids = b" ".join(b"%d 0 R" % (100 + i) for i in range(pages))
    objs = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages}
    for number, body in objs.items():
        entries[number] = (1, len(out), 0)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    for i in range(pages):
        page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
        header = b"%d 0" % (100 + i)
        body = header + b" " + page + b" "
        compressor = zlib.compressobj(9)
        data = compressor.compress(body) + compressor.compress(b" " * pad) + compressor.flush()
        number = 1000 + i
        entries[number] = (1, len(out), 0)
        out += b"%d 0 obj\n" % number + _stream(data, b"/Type /ObjStm /N 1 /First %d /Filter /FlateDecode" % (len(header) + 1)) + b"\nendobj\n"
        entries[100 + i] = (2, number, 0)
    size = 1000 + pages + 1
    xref_number = size - 1
    start = len(out)
    entries[xref_number] = (1, start, 0)
    rows = b"".join(bytes([kind]) + field.to_bytes(4, "big") + gen.to_bytes(2, "big")
                    for kind, field, gen in (entries.get(i, (0, 0, 0)) for i in range(size)))
    out += b"%d 0 obj\n" % xref_number + _stream(
        zlib.compress(rows), b"/Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode" % size) + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


def many_tiny_objects() -> bytes:
    """An object stream declaring 2,000,000 one-byte objects: millions of Python objects."""
    return _xref_stream_pdf(pad=0, tiny=2_000_000)


def xref_stream_bomb() -> bytes:
    """The cross-reference stream itself inflates to 256 MiB."""
    return _xref_stream_pdf(pad=0, xref_pad=BOMB)


def _xref_stream_pdf(*, pad: int, streams: int = 1, tiny: int = 0, xref_pad: int = 0) -> bytes:
    """Catalog, pages and page in object stream(s); objects listed in a /XRef stream."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    entries: dict[int, tuple[int, int, int]] = {0: (0, 0, 65535)}
    content_number = 4
    out_offsets = {}
    out_offsets[content_number] = len(out)
    out += b"4 0 obj\n" + _stream(b"BT ET") + b"\nendobj\n"
    entries[4] = (1, out_offsets[4], 0)
    objs = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
    }
    number = 10
    # objects 1..3 spread over the object streams, the last one holding object 1
    groups = [[n] for n in (3, 2, 1)] if streams >= 3 else [[1, 2, 3]]
    while len(groups) < streams:
        groups.insert(0, [])
    for group in groups:
        members = list(group)
        header = b" ".join(b"%d %d" % (n, 0) for n in members)
        bodies, offsets, pos = [], [], 0
        for n in members:
            offsets.append(pos)
            bodies.append(objs[n])
            pos += len(objs[n]) + 1
        header = b" ".join(b"%d %d" % (n, o) for n, o in zip(members, offsets))
        count = len(members)
        if tiny:
            extra = b" ".join(b"%d %d" % (1000 + i, pos + 2 * i) for i in range(tiny))
            header = header + b" " + extra if header else extra
            count += tiny
        body = header + b" " + b" ".join(bodies) + b" " + (b"0 " * tiny)
        first = len(header) + 1
        compressor = zlib.compressobj(9)
        data = compressor.compress(body)
        if pad:
            chunk = b" " * (1 << 20)
            for _ in range(pad >> 20):
                data += compressor.compress(chunk)
        data += compressor.flush()
        out_offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + _stream(data, b"/Type /ObjStm /N %d /First %d /Filter /FlateDecode" % (count, first)) + b"\nendobj\n"
        entries[number] = (1, out_offsets[number], 0)
        for index, n in enumerate(members):
            entries[n] = (2, number, index)
        number += 1
    xref_number = number
    size = xref_number + 1
    start = len(out)
    entries[xref_number] = (1, start, 0)
    rows = b"".join(bytes([kind]) + field.to_bytes(4, "big") + gen.to_bytes(2, "big")
                    for kind, field, gen in (entries.get(i, (0, 0, 0)) for i in range(size)))
    compressor = zlib.compressobj(9)
    data = compressor.compress(rows)
    if xref_pad:
        chunk = b"\0" * (1 << 20)
        for _ in range(xref_pad >> 20):
            data += compressor.compress(chunk)
    data += compressor.flush()
    out += b"%d 0 obj\n" % xref_number + _stream(
        data, b"/Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode" % size) + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


def deep_page_tree() -> bytes:
    """A chain of 5,000 /Pages nodes before the one page."""
    depth = 5000
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    for level in range(depth):
        number = 2 + level
        objects[number] = b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (number + 1)
    page = 2 + depth
    objects[page] = b"<< /Type /Page /MediaBox [0 0 595 842] >>"
    return _pdf(objects)


def looping_page_tree() -> bytes:
    """/Pages whose kids include itself."""
    return _pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    })


def page_fan_out() -> bytes:
    """One page object listed 200 times in each of 200 /Pages nodes: 40,000 pages on paper."""
    kids = b" ".join([b"3 0 R"] * 200)
    nodes = {10 + i: b"<< /Type /Pages /Kids [" + kids + b"] /Count 200 >>" for i in range(200)}
    top = b" ".join(b"%d 0 R" % (10 + i) for i in range(200))
    return _pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + top + b"] /Count 40000 >>",
        3: b"<< /Type /Page /MediaBox [0 0 595 842] >>",
        **nodes,
    })


def huge_literal_string() -> bytes:
    """A 40 MB literal string in the page dictionary: pypdf reads strings a byte at a time."""
    return _pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Junk (" + b"a" * (40 << 20) + b") >>",
    })


def large_xref_table() -> bytes:
    """490,000 cross-reference entries, just under the default bound: accepted."""
    return _pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    }, size=490_000)


def huge_count() -> bytes:
    """/Count says two billion pages; there is one."""
    return _pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 2147483647 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    })


def many_xref_entries() -> bytes:
    """A cross-reference table of 1,000,000 entries (20 MB) for a one-page PDF."""
    return _pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    }, size=1_000_000)


def jbig2_content() -> bytes:
    """A page content stream in JBIG2, which pypdf decodes only with the jbig2dec program."""
    return _one_page(_stream(b"abc", b"/Filter /JBIG2Decode"))


def predictor_zero_columns() -> bytes:
    return _one_page(_stream(zlib.compress(b"\0" * 100), b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 0 >>"))


def predictor_negative_columns() -> bytes:
    return _one_page(_stream(zlib.compress(b"\0" * 100), b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns -5 >>"))


def predictor_zero_colors() -> bytes:
    return _one_page(_stream(zlib.compress(b"\0" * 100),
                             b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 /BitsPerComponent 0 /Colors 0 >>"))


def predictor_name() -> bytes:
    """``/Predictor /X``: pypdf compares a name with a number (a TypeError)."""
    return _one_page(_stream(zlib.compress(b"\0x"), b"/Filter /FlateDecode /DecodeParms << /Predictor /X /Columns 1 >>"))


def unknown_filter() -> bytes:
    return _one_page(_stream(b"abc", b"/Filter /FooDecode"))


def nested_filter_array() -> bytes:
    return _one_page(_stream(b"abc", b"/Filter [[/FlateDecode]]"))


def long_indirect_chain() -> bytes:
    """The contents are a reference to a reference ... 3,000 deep, then an empty stream."""
    chain = {n: b"%d 0 R" % (n + 1) for n in range(4, 3004)}
    return _one_page(b"5 0 R", {**chain, 3004: _stream(b"")})


def self_referencing_length() -> bytes:
    """The content stream's /Length is a reference to the stream itself."""
    data = zlib.compress(b"x")
    return _one_page(b"<< /Length 4 0 R /Filter /FlateDecode >>\nstream\n" + data + b"\nendstream")


def unsupported_encryption() -> bytes:
    """A /Standard security handler of a version pypdf does not know."""
    return _one_page(_stream(b"BT ET")).replace(
        b"/Root 1 0 R", b"/Root 1 0 R /Encrypt << /Filter /Standard /V 99 /R 99 /O (x) /U (y) /P -1 >>")


#: name → (fault code, builder); ``None``: accepted, with the page count given
CORPUS: dict[str, tuple[str | int, Callable[[], bytes]]] = {
    "content-stream-bomb": ("PDF_TOO_COMPLEX", content_stream_bomb),
    "content-streams-many-bombs": ("PDF_TOO_COMPLEX", content_streams_many_bombs),
    "nested-filter-bomb": ("PDF_TOO_COMPLEX", nested_filter_bomb),
    "asciihex-then-flate-bomb": ("PDF_TOO_COMPLEX", ascii_hex_bomb),
    "tiff-predictor-64mib": ("PDF_TOO_COMPLEX", predictor_bomb),
    "png-predictor-64mib": ("PDF_TOO_COMPLEX", png_predictor_bomb),
    "run-length-32mib": ("PDF_TOO_COMPLEX", run_length_bomb),
    "ascii85-zeros-32mib": ("PDF_TOO_COMPLEX", ascii85_zeros),
    "ascii85-zeros-6mib": ("PDF_TOO_COMPLEX", ascii85_zeros_small_input),
    "many-pages-in-object-streams": ("PDF_TOO_COMPLEX", many_pages_in_object_streams),
    "object-stream-bomb": ("PDF_TOO_COMPLEX", object_stream_bomb),
    "many-object-streams": ("PDF_TOO_COMPLEX", many_object_streams),
    "many-tiny-objects": ("PDF_TOO_COMPLEX", many_tiny_objects),
    "xref-stream-bomb": ("PDF_TOO_COMPLEX", xref_stream_bomb),
    "deep-page-tree": ("PDF_TOO_COMPLEX", deep_page_tree),
    "page-fan-out": ("PDF_TOO_COMPLEX", page_fan_out),
    "many-xref-entries": ("PDF_TOO_COMPLEX", many_xref_entries),
    "huge-literal-string": ("PDF_TOO_COMPLEX", huge_literal_string),
    "looping-page-tree": ("PDF_UNREADABLE", looping_page_tree),
    "jbig2-content-stream": ("PDF_UNREADABLE", jbig2_content),
    "predictor-zero-columns": ("PDF_UNREADABLE", predictor_zero_columns),
    "predictor-negative-columns": ("PDF_UNREADABLE", predictor_negative_columns),
    "predictor-zero-colors": ("PDF_UNREADABLE", predictor_zero_colors),
    "predictor-is-a-name": ("PDF_UNREADABLE", predictor_name),
    "unknown-filter": ("PDF_UNREADABLE", unknown_filter),
    "nested-filter-array": ("PDF_UNREADABLE", nested_filter_array),
    "long-indirect-chain": ("PDF_UNREADABLE", long_indirect_chain),
    "unsupported-encryption": ("PDF_UNREADABLE", unsupported_encryption),
    "self-referencing-length": ("PDF_TOO_COMPLEX", self_referencing_length),  # pypdf's own loop limit
    "huge-count-one-page": (1, huge_count),  # the pages as walked, never /Count
    "large-xref-table-accepted": (1, large_xref_table),
}
