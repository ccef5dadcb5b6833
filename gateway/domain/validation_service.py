"""Validating payloads against named schemas: the one routine behind the ``/validation`` SOAP
service and ``gateway validate``, so both answer alike."""
from __future__ import annotations

from gateway.errors import FaultCode, GatewayError, RequestError
from gateway.xml.parser import INLINE_DOCUMENTS
from gateway.xml.schemas import SchemaIssue, SchemaRegistry, ValidationReport


class UnknownSchema(GatewayError):
    default_code = FaultCode.SCHEMA_UNKNOWN


def validate_payload(registry: SchemaRegistry, schema: str, payload: bytes) -> ValidationReport:
    """A report for well-formed and malformed payloads alike; hostile XML (DOCTYPE) raises."""
    if schema not in registry:
        raise UnknownSchema(f"no schema named {schema!r}; known: {', '.join(registry.names())}",
                            code=FaultCode.SCHEMA_UNKNOWN, field="schema")
    try:
        return registry.validate(schema, payload, policy=INLINE_DOCUMENTS)
    except RequestError as exc:
        if exc.code is not FaultCode.MALFORMED_XML:
            raise
        line, column = _position(exc.message)
        return ValidationReport(valid=False, errors=(SchemaIssue(line=line, column=column, path=None, message=exc.message),))


def _position(message: str) -> tuple[int | None, int | None]:
    """libxml2 says '..., line 3, column 7': keep them as numbers."""
    import re

    match = re.search(r"line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)
