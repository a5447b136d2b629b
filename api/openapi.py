"""The OpenAPI document, with the receipt and custody-export JSON Schemas in its components.

Receipts and custody exports are specified once, as JSON Schema files beside the code that
writes and parses them (``evidence/formats/schema/``). They are put into the served OpenAPI document
as they are — their ``$defs`` become components of their own, prefixed with the schema's
name — so clients and the fuzz tests check responses against the very same schema.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["JSON_SCHEMAS", "install", "schema_ref"]

JSON_SCHEMAS: dict[str, str] = {
    "Receipt": "receipt-v2.schema.json",
    "CustodyExport": "custody-export-v2.schema.json",
    "TrustBundle": "trust-bundle-v1.schema.json",
}
"""Component name → schema file in ``evidence/formats/schema``."""

_DEFS = "#/$defs/"


def schema_ref(name: str) -> dict[str, Any]:
    """A response body of the named JSON Schema (a key of :data:`JSON_SCHEMAS`)."""
    if name not in JSON_SCHEMAS:
        raise KeyError(name)
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _rewrite(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite(v, prefix) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            out["$ref"] = f"#/components/schemas/{prefix}_{ref[len(_DEFS) :]}"
        return out
    if isinstance(node, list):
        return [_rewrite(v, prefix) for v in node]
    return node


def json_schema_components() -> dict[str, Any]:
    """The components the JSON Schema files become (each schema, and each of its ``$defs``)."""
    components: dict[str, Any] = {}
    folder = resources.files("evidence.formats") / "schema"
    for name, file in JSON_SCHEMAS.items():
        schema = json.loads((folder / file).read_text(encoding="utf-8"))
        for key in ("$schema", "$id"):
            schema.pop(key, None)
        for def_name, definition in schema.pop("$defs", {}).items():
            components[f"{name}_{def_name}"] = _rewrite(definition, name)
        components[name] = _rewrite(schema, name)
    return components


def install(app: FastAPI) -> None:
    """Serve the OpenAPI document with :func:`json_schema_components` added (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(json_schema_components())
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
