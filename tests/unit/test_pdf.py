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
