"""``/validation``: validate a payload against a registered schema; list schemas.

The gateway's own contract (namespace ``urn:gateway:validation:1``), SOAP 1.1 and 1.2 on one
endpoint. The payload travels as base64Binary, so any XML (with its own declaration and
namespaces) arrives byte for byte.
"""
from __future__ import annotations

from spyne import Array, Boolean, ByteArray, Integer, Unicode, rpc

from gateway.domain.validation_service import validate_payload
from gateway.runtime import Runtime
from gateway.soap.dual import DualSoapApplication, build_dual
from gateway.soap import application
from gateway.soap.application import complex_type, optional, required
from gateway.soap.binary import binary_bytes
from gateway.soap.protocol import GatewayService, claim_parse_memory

PATH = "/validation"
NS = "urn:gateway:validation:1"


ValidationIssue = complex_type(NS, "ValidationIssue", line=optional(Integer), column=optional(Integer), path=optional(Unicode),
                               message=required(Unicode))
ValidationResult = complex_type(NS, "ValidationResult", schemaName=required(Unicode), valid=required(Boolean),
                                errors=Array(ValidationIssue))


class ValidationService(GatewayService):
    @rpc(required(Unicode), required(ByteArray), _returns=ValidationResult,
         _in_variable_names={"schema_name": "schemaName"}, _operation_name="validate")
    def validate(ctx, schema_name, payload):
        data = binary_bytes(payload)
        claim_parse_memory(ctx, data)
        report = validate_payload(ctx.app.gateway.schemas, schema_name or "", data)
        return ValidationResult(
            schemaName=schema_name,
            valid=report.valid,
            errors=[ValidationIssue(line=e.line, column=e.column, path=e.path, message=e.message) for e in report.errors],
        )

    @rpc(_returns=Array(Unicode), _operation_name="listSchemas")
    def listSchemas(ctx):
        return list(ctx.app.gateway.schemas.names())


def build_application(runtime: Runtime | None) -> DualSoapApplication:
    return build_dual(ValidationService, tns=NS, name="ValidationService", path=PATH, runtime=runtime)


def wsdl_document(url: str) -> bytes:
    """The WSDL this endpoint serves, with ``url`` as its address."""
    return application.wsdl_document(build_application, PATH, url)
