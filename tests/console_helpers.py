"""The console in tests: operators, a gateway with them, a logged-in HTTP client that reads
each page's CSRF token as a browser would, and letters with Noark case numbers."""
from __future__ import annotations

import dataclasses
import re
from typing import Any

import requests

from gateway.config import ConsoleSettings, OperatorSettings
from gateway.passwords import hash_password
from tests.svarut_builders import forsendelse

ADMIN, VIEWER, LIMITED = "ada", "vera", "lina"
PASSWORDS = {ADMIN: "admin-passord-1", VIEWER: "viewer-passord-1", LIMITED: "limited-passord-1"}
_HASHES: dict[str, str] = {}


def operators() -> tuple[OperatorSettings, ...]:
    if not _HASHES:
        _HASHES.update({name: hash_password(pw, log2_n=10) for name, pw in PASSWORDS.items()})
    return (
        OperatorSettings(name=ADMIN, password_hash=_HASHES[ADMIN], role="admin"),
        OperatorSettings(name=VIEWER, password_hash=_HASHES[VIEWER], role="viewer"),
        OperatorSettings(name=LIMITED, password_hash=_HASHES[LIMITED], role="admin", senders=("annen-kommune",)),
    )


def with_console(settings: Any, **console: Any) -> Any:
    """``settings`` with the test operators (and ``console`` keys) added."""
    return dataclasses.replace(settings, console=ConsoleSettings(operators=operators(), **console))


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


class ConsoleClient:
    """An operator's browser without JavaScript: cookies, and the CSRF token from the last page."""

    def __init__(self, base_url: str, *, verify: Any = True) -> None:
        self.root = base_url + "/console"
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = verify
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        response = self.http.get(self.root + path, allow_redirects=kwargs.pop("allow_redirects", True), timeout=30, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kwargs: Any) -> requests.Response:
        form = dict(data or {})
        if csrf:
            form["csrf"] = self.csrf
        return self.http.post(self.root + path, data=form, allow_redirects=kwargs.pop("allow_redirects", False), timeout=30, **kwargs)

    def login(self, name: str, password: str | None = None, *, expect: int = 303) -> requests.Response:
        page = self.get("/login")
        token = _LOGIN_TOKEN.search(page.text)
        assert token is not None, page.text
        response = self.post("/login", {"login_token": token.group(1), "name": name,
                                        "password": PASSWORDS.get(name, "") if password is None else password}, csrf=False)
        assert response.status_code == expect, (response.status_code, response.text[:500])
        if expect == 303:
            self.get("/")
        return response


def case_letter(client: Any, *, year: int, sequence: int, document: int, title: str = "Vedtak om byggetillatelse",
                **overrides: Any) -> dict[str, Any]:
    """A SvarUt letter with the Noark case number ``year/sequence`` and document number ``document``."""
    return forsendelse(client, tittel=title, metadataFraAvleverendeSystem={
        "journalaar": year, "journalpostnummer": document, "journalsekvensnummer": 4711, "saksaar": year,
        "sakssekvensnummer": sequence, "tittel": title, "ekstraMetadata": [],
    }, **overrides)
