"""suds (SOAP 1.1, as many older Python and Java-era integrations are) against /validation and /memo.

suds turns an HTTP 500 answer into a WebFault carrying the fault code; any other status is a
bare transport error and the code is lost. SOAP 1.1 and the WS-I Basic Profile require 500 for
a fault, so every fault over SOAP 1.1 (but 401, 413 and 415) is answered with 500.
"""
from __future__ import annotations

import base64
import logging
import uuid

import pytest
from suds import WebFault
from suds.client import Client
from suds.transport.http import HttpAuthenticated

from gateway.soap import memo, validation
from tests.conftest import SENDER_PASSWORD

logging.getLogger("suds").setLevel(logging.CRITICAL)


def _client(gw, path: str, password: str = SENDER_PASSWORD) -> Client:
    transport = HttpAuthenticated(username="kommune-sak", password=password)
    return Client(gw.base_url + path + "?wsdl", transport=transport, cache=None, timeout=60)


def _code(fault: WebFault) -> str:
    return fault.fault.detail.error.code


def test_suds_lists_schemas_and_validates(sqlite_gateway):
    client = _client(sqlite_gateway, validation.PATH)
    assert "memo-1.2" in list(client.service.listSchemas()[0])
    result = client.service.validate("memo-1.2", base64.b64encode(b"<a/>").decode())
    assert result.valid is False and result.errors.ValidationIssue[0].message


@pytest.mark.parametrize("call, code", [
    (lambda c: c.service.validate("no-such-schema", base64.b64encode(b"<a/>").decode()), "SCHEMA_UNKNOWN"),
    (lambda c: c.service.validate("memo-1.2", base64.b64encode(b'<!DOCTYPE a SYSTEM "/etc/passwd"><a/>').decode()),
     "FORBIDDEN_DTD"),
    (lambda c: c.service.validate("memo-1.2", "!!!! not base64 !!!!"), "INVALID_REQUEST"),
])
def test_suds_gets_the_fault_code(sqlite_gateway, call, code):
    client = _client(sqlite_gateway, validation.PATH)
    with pytest.raises(WebFault) as err:
        call(client)
    assert _code(err.value) == code
    assert err.value.fault.faultcode.endswith(f"Client.{code}")


def test_suds_gets_not_found_from_memo(sqlite_gateway):
    client = _client(sqlite_gateway, memo.PATH)
    with pytest.raises(WebFault) as err:
        client.service.getStatus(str(uuid.uuid4()))
    assert _code(err.value) == "SHIPMENT_NOT_FOUND"


def test_suds_wrong_password_is_an_http_401(sqlite_gateway):
    """401 stays an HTTP-level answer (with WWW-Authenticate), so clients can send credentials."""
    client = _client(sqlite_gateway, validation.PATH, password="wrong")
    with pytest.raises(Exception) as err:  # suds reports any status but 200 and 500 as a bare (status, reason)
        client.service.listSchemas()
    assert err.value.args[0][0] == 401
