"""Validating payloads against named schemas: the one routine behind the ``/validation`` SOAP
service and ``gateway validate``, so both answer alike."""
from __future__ import annotations

import re

from gateway.errors import FaultCode, RequestError
from gateway.xml.parser import INLINE_DOCUMENTS
from gateway.xml.schema_report import SchemaIssue, ValidationReport
from gateway.xml.schemas import SchemaRegistry

_POSITION = re.compile(r"line (\d+), column (\d+)")


def validate_payload(registry: SchemaRegistry, schema: str, payload: bytes) -> ValidationReport:
    """A report for well-formed and malformed payloads alike; hostile XML (DOCTYPE) and an
    unknown schema (:class:`~gateway.xml.schemas.UnknownSchema`) raise."""
    try:
        return registry.validate(schema, payload, policy=INLINE_DOCUMENTS)
    except RequestError as exc:
        if exc.code is not FaultCode.MALFORMED_XML:
            raise
        line, column = _position(exc.message)
        return ValidationReport(valid=False, errors=(SchemaIssue(line=line, column=column, path=None, message=exc.message),))


def _position(message: str) -> tuple[int | None, int | None]:
    """libxml2 says '..., line 3, column 7': keep them as numbers."""
    match = _POSITION.search(message)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)
