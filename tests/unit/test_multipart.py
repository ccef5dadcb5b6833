"""The streaming MTOM reader: structure, bounds, spooling, and any split of the body."""
from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given, settings, strategies as st

from gateway.errors import RequestError
from gateway.soap.multipart import MultipartPolicy, cid_url_keys, content_id_key, read_multipart
from gateway.spool import Spool, SpooledContent

B = "uuid:7f1c-b"
ROOT_XML = '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>'.encode()


def part(cid: str | None, body: bytes, ctype: str = "application/octet-stream") -> bytes:
    headers = f"Content-Type: {ctype}\r\n" + (f"Content-ID: {cid}\r\n" if cid is not None else "")
    return f"--{B}\r\n{headers}\r\n".encode() + body + b"\r\n"


ROOT_TYPE = 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'
END = f"--{B}--\r\n".encode()


class Trickle(io.RawIOBase):
    """A stream that answers at most ``step`` bytes per read, as a socket may."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.pos, self.step = data, 0, step

    def read(self, size: int = -1) -> bytes:
        n = self.step if size < 0 else min(size, self.step)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk


def read(body: bytes, tmp_path, *, start: str | None = "<root@x>", step: int | None = None, **policy):
    stream = Trickle(body, step) if step else io.BytesIO(body)
    return read_multipart(stream, boundary=B, start=start, spool=Spool(tmp_path / "spool"),
                          policy=MultipartPolicy(**policy))


def test_root_named_by_start_may_come_last(tmp_path):
    body = part("<doc@x>", b"%PDF-1") + part("<root@x>", ROOT_XML, ROOT_TYPE) + END
    message = read(body, tmp_path)
    assert message.root == ROOT_XML
    assert message.root_charset == "UTF-8"
    assert message.attachments["doc@x"].content == b"%PDF-1"


def test_without_start_the_first_part_is_the_root(tmp_path):
    body = part("<r>", ROOT_XML, ROOT_TYPE) + part("<d>", b"x") + END
    assert read(body, tmp_path, start=None).root == ROOT_XML


def test_root_without_charset_has_none(tmp_path):
    body = part("<root@x>", ROOT_XML, 'application/xop+xml; type="application/soap+xml"') + END
    assert read(body, tmp_path).root_charset is None


@pytest.mark.parametrize("body, message", [
    (part("<root@x>", ROOT_XML, ROOT_TYPE) + part("<d>", b"abc"), "closing boundary"),
    (part("<root@x>", ROOT_XML, ROOT_TYPE) + f"--{B}\r\nContent-ID: <d>\r\n".encode(), "headers"),
    (part("<root@x>", ROOT_XML, ROOT_TYPE)[:-10], "closing boundary"),
    (b"no delimiter at all", "first boundary"),
    (part("<root@x>", ROOT_XML, ROOT_TYPE) + part(None, b"abc") + END, "no Content-ID"),
    (part("<root@x>", ROOT_XML, ROOT_TYPE) + part("<d>", b"1") + part("<d>", b"2") + END, "two parts"),
    (part("<root@x>", ROOT_XML, ROOT_TYPE) + part("<root@x>", b"2") + END, "two parts"),
    # a delimiter not at the start of a line is preamble: the first real one closes the body
    (b"x--" + B.encode() + b"\r\n" + part("<root@x>", ROOT_XML, ROOT_TYPE)[len(B) + 4:] + END, "no parts"),
    (part("<d>", b"1") + END, "start parameter names"),
    (part("<root@x>", ROOT_XML, "application/pdf") + END, "root part"),
    (part("<root@x>", ROOT_XML, ROOT_TYPE) + part("<>", b"1") + END, "empty Content-ID"),
    (f"--{B}--\r\n".encode(), "no parts"),
    (f"--{B}xx\r\n".encode(), "line break"),
])
def test_malformed_bodies_are_refused(tmp_path, body, message):
    with pytest.raises(RequestError) as err:
        read(body, tmp_path)
    assert message in err.value.message
    assert not list((tmp_path / "spool").glob("*")) if (tmp_path / "spool").exists() else True


def test_bounds_on_parts_headers_and_root(tmp_path):
    many = part("<root@x>", ROOT_XML, ROOT_TYPE) + b"".join(part(f"<{i}>", b"x") for i in range(5)) + END
    with pytest.raises(RequestError, match="more than 4 parts"):
        read(many, tmp_path, max_parts=4)
    long_header = f"--{B}\r\nX-Pad: {'a' * 5000}\r\nContent-ID: <root@x>\r\n\r\n".encode() + ROOT_XML + b"\r\n" + END
    with pytest.raises(RequestError, match="headers are longer"):
        read(long_header, tmp_path, max_header_bytes=4096)
    with pytest.raises(RequestError, match="root part is larger"):
        read(part("<root@x>", ROOT_XML, ROOT_TYPE) + END, tmp_path, max_root_bytes=20)


def test_large_attachment_is_spooled_hashed_and_removed_with_the_spool(tmp_path):
    big = bytes(range(256)) * 20000  # 5 MB, with every byte value including CR and LF
    body = part("<root@x>", ROOT_XML, ROOT_TYPE) + part("<big>", big) + part("<small>", b"tiny") + END
    spool = Spool(tmp_path / "spool")
    message = read_multipart(io.BytesIO(body), boundary=B, start="<root@x>", spool=spool,
                             policy=MultipartPolicy(memory_part_bytes=1024 * 1024, chunk_bytes=64 * 1024))
    content = message.attachments["big"].content
    assert isinstance(content, SpooledContent)
    assert content.size == len(big) and content.sha256 == hashlib.sha256(big).hexdigest()
    assert content.read() == big
    assert message.attachments["small"].content == b"tiny"
    spool.close()
    assert not content.path.exists()


def test_a_refused_body_leaves_no_spool_files(tmp_path):
    body = part("<root@x>", ROOT_XML, ROOT_TYPE) + part("<big>", b"a" * 3_000_000)  # no closing boundary
    with pytest.raises(RequestError):
        read(body, tmp_path, memory_part_bytes=1024)
    assert list((tmp_path / "spool").iterdir()) == []


@pytest.mark.parametrize("header, href", [
    ("<a@b>", "cid:a@b"),
    ("<http://tempuri.org/1/63>", "cid:http%3A%2F%2Ftempuri.org%2F1%2F63"),
    ("<a'b\"c@x>", "cid:a%27b%22c@x"),
    (" <x@y> ", "CID:x@y"),
    ("<a%40b>", "cid:a%2540b"),  # a % of its own in the Content-ID, encoded as RFC 2392 says
    ("<a%40b>", "cid:a%40b"),    # ... or left as it is by a client that does not encode
    ("<x%FF>", "cid:x%FF"),      # not UTF-8 when decoded: only as written
])
def test_a_cid_url_finds_the_content_id_as_sent(header, href):
    assert content_id_key(header) in cid_url_keys(href)


def test_content_ids_that_decode_alike_stay_apart():
    assert content_id_key("<x%FF>") != content_id_key("<x%FE>")
    assert content_id_key("<x%FE>") not in cid_url_keys("cid:x%FF")


@settings(max_examples=60, deadline=None)
@given(
    step=st.integers(min_value=1, max_value=700),
    chunk=st.integers(min_value=1, max_value=300),
    payload=st.binary(min_size=0, max_size=600),
)
def test_any_split_of_the_body_reads_the_same(tmp_path_factory, step, chunk, payload):
    """Delimiters split across reads, parts that contain CR LF and dashes: same result."""
    tricky = payload + b"\r\n--" + B.encode()[:-1] + b"\r\n-"
    body = b"preamble\r\n" + part("<root@x>", ROOT_XML, ROOT_TYPE) + part("<d>", tricky) + END + b"epilogue"
    tmp = tmp_path_factory.mktemp("split")
    message = read(body, tmp, step=step, chunk_bytes=chunk, memory_part_bytes=200)
    content = message.attachments["d"].content
    assert message.root == ROOT_XML
    assert (content.read() if isinstance(content, SpooledContent) else content) == tricky


def test_attachments_kept_in_memory_are_bounded_together(tmp_path):
    """Many parts under the per-part threshold: past the total, they go to the spool too."""
    parts = b"".join(part(f"<p{i}>", bytes([i]) * 300_000) for i in range(20))  # 6 MB in parts of 300 KB
    message = read(part("<root@x>", ROOT_XML, ROOT_TYPE) + parts + END, tmp_path,
                   memory_part_bytes=1024 * 1024, memory_total_bytes=1024 * 1024)
    kept = sum(len(a.content) for a in message.attachments.values() if isinstance(a.content, bytes))
    spooled = [a for a in message.attachments.values() if isinstance(a.content, SpooledContent)]
    assert kept <= 1024 * 1024 and len(spooled) >= 17
    assert all(a.content.read() == bytes([int(a.content_id[1:])]) * 300_000 for a in spooled)


def test_a_spool_that_cannot_be_written_is_storage_unavailable(tmp_path):
    from gateway.errors import StorageError

    (tmp_path / "spool").write_text("a file where the spool directory should be")
    body = part("<root@x>", ROOT_XML, ROOT_TYPE) + part("<big>", b"x" * 2_000_000) + END
    with pytest.raises(StorageError) as err:
        read_multipart(io.BytesIO(body), boundary=B, start="<root@x>", spool=Spool(tmp_path / "spool"))
    assert err.value.code == "STORAGE_UNAVAILABLE"


def test_the_root_content_id_cannot_be_repeated_without_start(tmp_path):
    body = part("<r>", ROOT_XML, ROOT_TYPE) + part("<r>", b"x") + END
    with pytest.raises(RequestError, match="two parts"):
        read(body, tmp_path, start=None)


def test_a_process_spool_sweeps_the_spools_of_dead_processes(tmp_path):
    import os
    import subprocess
    import sys

    from gateway.spool import process_spool_dir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    (tmp_path / f"p{dead}").mkdir()
    (tmp_path / f"p{dead}" / "left.part").write_bytes(b"after a SIGKILL")
    (tmp_path / f"p{os.getppid()}").mkdir()  # a living process: kept
    (tmp_path / "old.part").write_bytes(b"x")
    mine = process_spool_dir(tmp_path)
    assert mine == tmp_path / f"p{os.getpid()}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"p{os.getppid()}"]
