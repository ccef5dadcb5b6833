import pytest

from gateway.documents.pdf import inspect_pdf
from gateway.errors import DocumentError
from tests.conftest import make_encrypted_pdf, make_pdf


def test_page_count():
    assert inspect_pdf(make_pdf(pages=4), field="d").page_count == 4


def test_owner_password_only_opens():
    info = inspect_pdf(make_encrypted_pdf(user_password=""), field="d")
    assert info.encrypted and info.page_count == 1


@pytest.mark.parametrize(
    "data, code",
    [
        (make_encrypted_pdf(), "PDF_PASSWORD_PROTECTED"),
        (b"%PDF-1.7\n%%EOF", "PDF_UNREADABLE"),
        (b"GIF89a", "PDF_UNREADABLE"),
        (make_pdf()[:200], "PDF_UNREADABLE"),
    ],
    ids=["user-password", "header-only", "not-pdf", "truncated"],
)
def test_refusals(data, code):
    with pytest.raises(DocumentError) as err:
        inspect_pdf(data, field="documents[0].content")
    assert err.value.code == code and err.value.field == "documents[0].content"


# --- bounds (issue 9, item 13); the hostile corpus is tests/security/test_pdf_corpus.py ---

def _code(data, policy):
    from gateway.errors import DocumentError

    with pytest.raises(DocumentError) as err:
        inspect_pdf(data, field="d", policy=policy)
    return err.value.code


def _compressed_pdf(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for page in range(pages):
        pdf.add_page()
        pdf.set_font("helvetica", size=10)
        for line in range(50):
            pdf.cell(text=f"Linje {line} side {page}")
            pdf.ln()
    return bytes(pdf.output())


def test_every_bound_is_the_policys():
    from gateway.config import IntakePolicy

    data = _compressed_pdf(3)
    assert inspect_pdf(data, field="d", policy=IntakePolicy()).page_count == 3
    assert _code(data, IntakePolicy(pdf_max_pages=2)) == "PDF_TOO_COMPLEX"
    assert _code(data, IntakePolicy(pdf_max_stream_bytes=100)) == "PDF_TOO_COMPLEX"
    assert _code(data, IntakePolicy(pdf_max_decoded_bytes=3000)) == "PDF_TOO_COMPLEX"
    assert _code(data, IntakePolicy(pdf_max_objects=5)) == "PDF_TOO_COMPLEX"
    assert _code(data, IntakePolicy(pdf_max_seconds=1e-9)) == "PDF_TOO_COMPLEX"


def test_a_binary_file_is_read_from_its_start(tmp_path):
    path = tmp_path / "v.pdf"
    path.write_bytes(_compressed_pdf(2))
    with path.open("rb") as file:
        file.seek(100)
        assert inspect_pdf(file, field="d").page_count == 2


def test_pypdf_outside_an_inspection_keeps_its_own_limits():
    """The decode hook bounds only what runs inside open_pdf: pypdf used elsewhere keeps its own limits."""
    import io
    import zlib

    from pypdf import PdfReader
    from tests.security.hostile_pdfs import _one_page, _stream

    big = _one_page(_stream(zlib.compress(b"0 g\n" * (10 << 20)), b"/Filter /FlateDecode"))  # 40 MiB of content
    assert _code(big, None) == "PDF_TOO_COMPLEX"
    assert len(PdfReader(io.BytesIO(big)).pages[0].get_contents().get_data()) == 40 << 20


def test_concurrent_inspections_keep_their_own_budgets():
    from concurrent.futures import ThreadPoolExecutor

    from gateway.config import IntakePolicy
    from tests.security.hostile_pdfs import content_stream_bomb

    bomb, good = content_stream_bomb(), _compressed_pdf(5)

    def run(data):
        try:
            return inspect_pdf(data, field="d", policy=IntakePolicy()).page_count
        except DocumentError as exc:
            return str(exc.code)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, [bomb, good] * 4))
    assert results == ["PDF_TOO_COMPLEX", 5] * 4


# --- what a caller reads when pypdf fails (outside tester, round 2) ---

def test_pypdf_wording_is_logged_not_answered(caplog):
    """The fault is one fixed sentence a case-system operator can act on; pypdf's own message
    (here a TypeError's "'<=' not supported between instances of ...") goes to the log."""
    from gateway.documents.pdf import UNREADABLE
    from tests.security.hostile_pdfs import predictor_name

    with caplog.at_level("INFO", logger="gateway.documents.pdf"), pytest.raises(DocumentError) as err:
        inspect_pdf(predictor_name(), field="d")
    assert err.value.code == "PDF_UNREADABLE" and err.value.message == UNREADABLE
    assert "instances of" in caplog.text and "TypeError" in caplog.text


def test_an_unforeseen_error_in_pypdf_is_unreadable_and_logged_with_its_trace(monkeypatch, caplog):
    """Any exception from pypdf's parsing is the sender's broken file, never a server fault."""
    import gateway.documents.pdf as pdf

    def broken(stream):
        raise RuntimeError("pypdf went wrong at 0x7f00")

    monkeypatch.setattr(pdf, "_original_decode", broken)
    with caplog.at_level("INFO", logger="gateway.documents.pdf"), pytest.raises(DocumentError) as err:
        inspect_pdf(_compressed_pdf(1), field="d")
    assert err.value.code == "PDF_UNREADABLE" and "0x7f00" not in err.value.message
    assert "RuntimeError" in caplog.text and caplog.records[-1].exc_info is not None


def test_memory_exhaustion_is_not_a_broken_file(monkeypatch):
    import gateway.documents.pdf as pdf

    def exhausted(stream):
        raise MemoryError

    monkeypatch.setattr(pdf, "_original_decode", exhausted)
    with pytest.raises(MemoryError):
        inspect_pdf(_compressed_pdf(1), field="d")
