"""The Swagger 2.0 document the fake Civis API serves at `GET /endpoints`.

civis-python builds its client methods from this document when `APIClient()` is constructed, so
it must describe every call the migration makes, in the shape the real API documents: list
endpoints take `limit` and `page_num` (which is what turns on the client's `iterator=True`),
path ids are integers, request bodies are one `in: body` parameter with an object schema, and
every operation has a `summary` and a `200` response. Written from the public API reference;
only the endpoints the migration uses are described.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCRIPT_KINDS", "api_spec"]

# path segment under /scripts -> the `type` list filter value (the same word in the real API)
SCRIPT_KINDS = ("sql", "python3", "containers")


def _t(kind: str, description: str = "", **extra: Any) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": kind, **extra}
    if description:
        prop["description"] = description
    return prop


def _ints(description: str = "") -> dict[str, Any]:
    return _t("array", description, items={"type": "integer"})


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    return out


_SCHEDULE = _object(
    {
        "scheduled": _t("boolean", "Whether the object runs on a schedule."),
        "scheduledDays": _ints("Weekdays it runs on, 0 is Sunday."),
        "scheduledHours": _ints("Hours of the day it runs at."),
        "scheduledMinutes": _ints("Minutes past the hour it runs at."),
        "scheduledRunsPerHour": _t("integer", "Older form of scheduledMinutes."),
        "scheduledDaysOfMonth": _ints("Days of the month it runs on (instead of weekdays)."),
    }
)

_USER = _object({"id": _t("integer"), "name": _t("string"), "username": _t("string")})

_PARAM = _object(
    {
        "name": _t("string", "Name the code reads the value under."),
        "label": _t("string"),
        "type": _t("string", "string, integer, float, bool, credential_redshift, credential_custom, ..."),
        "required": _t("boolean"),
        "default": _t("string"),
        "value": _t("string"),
    }
)

_COMMON = {
    "id": _t("integer"),
    "name": _t("string"),
    "type": _t("string"),
    "createdAt": _t("string", format="time"),
    "updatedAt": _t("string", format="time"),
    "author": _ref("User"),
    "state": _t("string"),
    "archived": _t("string", "The archival status of the object."),
    "timeZone": _t("string"),
}

_SCRIPT = {
    **_COMMON,
    "params": _t("array", items=_ref("Param")),
    "arguments": _t("object", "Values of the params; credential params hold credential ids."),
    "schedule": _ref("Schedule"),
    "nextRunAt": _t("string", format="time"),
}

_DEFINITIONS: dict[str, Any] = {
    "Schedule": _SCHEDULE,
    "User": _USER,
    "Param": _PARAM,
    "ScriptSummary": _object(dict(_COMMON)),
    "SqlScript": _object(
        {**_SCRIPT, "sql": _t("string"), "remoteHostId": _t("integer"), "credentialId": _t("integer")}
    ),
    "Python3Script": _object({**_SCRIPT, "source": _t("string"), "dockerImageTag": _t("string")}),
    "ContainersScript": _object(
        {
            **_SCRIPT,
            "dockerImageName": _t("string"),
            "dockerImageTag": _t("string"),
            "dockerCommand": _t("string"),
            "repoHttpUri": _t("string"),
            "repoRef": _t("string"),
            "gitCredentialId": _t("integer"),
        }
    ),
    "WorkflowSummary": _object({**_COMMON, "schedule": _ref("Schedule")}),
    "Workflow": _object(
        {**_COMMON, "schedule": _ref("Schedule"), "definition": _t("string", "Mistral v2 YAML.")}
    ),
    "ImportSummary": _object({**_COMMON, "syncType": _t("string"), "schedule": _ref("Schedule")}),
    "Import": _object(
        {
            **_COMMON,
            "syncType": _t("string"),
            "isOutbound": _t("boolean"),
            "source": _t("object"),
            "destination": _t("object"),
            "syncs": _t("array", items={"type": "object"}),
            "schedule": _ref("Schedule"),
        }
    ),
    "SchedulePatch": _object(
        {"name": _t("string"), "schedule": _ref("Schedule"), "timeZone": _t("string")}
    ),
    "ImportUpdate": _object(
        {
            "name": _t("string"),
            "syncType": _t("string"),
            "isOutbound": _t("boolean"),
            "source": _t("object"),
            "destination": _t("object"),
            "schedule": _ref("Schedule"),
            "timeZone": _t("string"),
        },
        required=("name", "syncType", "isOutbound"),
    ),
    "ArchiveUpdate": _object({"status": _t("boolean", "true archives, false restores.")}, ("status",)),
}

_PAGING = [
    {"name": "archived", "in": "query", "required": False, "type": "string",
     "description": "true, false (the default) or all."},
    {"name": "limit", "in": "query", "required": False, "type": "integer",
     "description": "Items per page, 20 by default, at most 50."},
    {"name": "page_num", "in": "query", "required": False, "type": "integer",
     "description": "Page to return, from 1."},
    {"name": "order", "in": "query", "required": False, "type": "string"},
    {"name": "order_dir", "in": "query", "required": False, "type": "string"},
]

_ID = {"name": "id", "in": "path", "required": True, "type": "integer"}


def _op(summary: str, response: str, params: list[dict[str, Any]], *, array: bool = False) -> dict[str, Any]:
    schema = {"type": "array", "items": _ref(response)} if array else _ref(response)
    return {
        "summary": summary,
        "parameters": params,
        "responses": {"200": {"description": "success", "schema": schema}},
    }


def _body(name: str) -> dict[str, Any]:
    return {"name": name, "in": "body", "required": True, "schema": _ref(name)}


def _paths() -> dict[str, Any]:
    script_type = {"name": "type", "in": "query", "required": False, "type": "string",
                   "description": "Comma-separated script types: sql, python3, containers, ..."}
    paths: dict[str, Any] = {
        "/scripts/": {"get": _op("List scripts", "ScriptSummary", [script_type, *_PAGING], array=True)},
        "/workflows/": {"get": _op("List workflows", "WorkflowSummary", list(_PAGING), array=True)},
        "/workflows/{id}": {
            "get": _op("Get a workflow", "Workflow", [_ID]),
            "patch": _op("Update some attributes of a workflow", "Workflow", [_ID, _body("SchedulePatch")]),
        },
        "/workflows/{id}/archive": {
            "put": _op("Set the archive status of a workflow", "Workflow", [_ID, _body("ArchiveUpdate")])
        },
        "/imports/": {"get": _op("List imports", "ImportSummary", list(_PAGING), array=True)},
        "/imports/{id}": {
            "get": _op("Get an import", "Import", [_ID]),
            "put": _op("Update an import", "Import", [_ID, _body("ImportUpdate")]),
        },
        "/imports/{id}/archive": {
            "put": _op("Set the archive status of an import", "Import", [_ID, _body("ArchiveUpdate")])
        },
    }
    for kind in SCRIPT_KINDS:
        model = f"{kind.capitalize()}Script"
        paths[f"/scripts/{kind}/{{id}}"] = {
            "get": _op(f"Get a {kind} script", model, [_ID]),
            "patch": _op(f"Update some attributes of a {kind} script", model, [_ID, _body("SchedulePatch")]),
        }
        paths[f"/scripts/{kind}/{{id}}/archive"] = {
            "put": _op(f"Set the archive status of a {kind} script", model, [_ID, _body("ArchiveUpdate")])
        }
    return paths


def api_spec() -> dict[str, Any]:
    """A fresh copy of the document (callers may mutate it)."""
    import copy

    return {
        "swagger": "2.0",
        "info": {"title": "Civis API (local fake)", "version": "1.0"},
        "produces": ["application/json"],
        "paths": _paths(),
        "definitions": copy.deepcopy(_DEFINITIONS),
        "securityDefinitions": {"api_key": {"type": "apiKey", "name": "Authorization", "in": "header"}},
        "security": [{"api_key": []}],
    }
