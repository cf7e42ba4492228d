# ruff: noqa: E501 - a data file: one line per path or schema reads better than wrapped ones
"""The OpenAPI 3.1 description of /api/v1: the contract the API tests (and schemathesis) check."""

from __future__ import annotations

from typing import Any

from did_failover.admin.paging import MAX_CURSOR, MAX_OFFSET
from did_failover.conditions import Condition
from did_failover.routing.forwards import MAX_LIST_LENGTH
from did_failover.routing.schedule import MAX_LENGTH as MAX_SCHEDULE_LENGTH

FORWARD_KINDS = tuple(condition.field for condition in Condition)
"""The API's forward names: the fields' names everywhere else (`GET /dids`, CSV, the CLI)."""
WAZO_ALIASES = {
    condition.wazo: condition.field for condition in Condition if condition.wazo != condition.field
}
"""Wazo's names (wazo-confd's forwards API), taken on input as aliases: `noanswer`, `unconditional`,
`afterhours`."""
OPTIONAL_KINDS = frozenset({"after_hours"})
"""Forwards a PUT of all forwards may leave out (they came after the first API): they keep their value."""

_DEST = {
    "type": ["string", "null"],
    "maxLength": MAX_LIST_LENGTH,
    "description": "a forward list: DEST[/SECONDS] items apart by commas, up to 5, tried in order; DEST is"
    " pstn:NUMBER, sip:USER@HOST[:PORT], endpoint:NAME or (last only) voicemail:MAILBOX[@CONTEXT]",
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "field"],
            "properties": {"message": {"type": "string"}, "field": {"type": ["string", "null"]}},
        }
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(c): {
            "description": "refused",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for c in codes
    }


def _json(ref: str, description: str = "ok") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _body(ref: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


_DID_PARAM = {
    "name": "did",
    "in": "path",
    "required": True,
    "example": "15551230000",
    "schema": {"type": "string", "pattern": "^\\+?[0-9]{3,20}$"},
}
_NUMBER_PARAM = {
    "name": "number",
    "in": "path",
    "required": True,
    "example": "1001",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,32}$"},
}
_WEBHOOK_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "example": "1",
    "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
}
_KIND_PARAM = {
    "name": "kind",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": [*FORWARD_KINDS, *WAZO_ALIASES]},
}
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
_SINCE = {
    "name": "since",
    "in": "query",
    "schema": {"type": "string"},
    "description": "age (30m, 2h, 7d, 1w) or date/time",
}
_AUTH: list[dict[str, list[str]]] = [{"bearer": []}]
_ALL = (400, 401, 403, 404, 409, 422, 429)

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "did-failover", "version": "1", "description": "DID call transfer: DIDs, their forwards, accounts, calls, changes."},
    "servers": [{"url": "/api/v1"}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": _ERROR,
            "Login": {
                "type": "object", "additionalProperties": False, "required": ["username", "password"],
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
            },
            "Token": {
                "type": "object", "required": ["token", "expires_at"],
                "properties": {"token": {"type": "string"}, "expires_at": {"type": ["string", "null"]}},
            },
            "Forward": {
                "type": "object", "additionalProperties": False, "required": ["enabled"],
                "properties": {"enabled": {"type": "boolean"}, "destination": _DEST},
            },
            "Forwards": {
                "type": "object", "additionalProperties": False,
                "required": [*(k for k in FORWARD_KINDS if k not in OPTIONAL_KINDS and k not in WAZO_ALIASES.values()), "enabled", "timeout", "caller_id"],
                # each forward by its name or by Wazo's, not both; after_hours may be left out
                "allOf": [
                    {"oneOf": [{"required": [field]}, {"required": [alias]}]} if field not in OPTIONAL_KINDS else {"not": {"required": [field, alias]}}
                    for alias, field in WAZO_ALIASES.items()
                ],
                "properties": {
                    **{kind: {"$ref": "#/components/schemas/Forward"} for kind in FORWARD_KINDS},
                    **{alias: {"$ref": "#/components/schemas/Forward", "description": f"Wazo's name for {field}, taken on input"} for alias, field in WAZO_ALIASES.items()},
                    "enabled": {"type": "boolean", "description": "the DID's call-transfer switch"},
                    "timeout": {"type": "integer", "minimum": 1, "maximum": 300},
                    "caller_id": {"type": "string", "enum": ["keep", "did"]},
                },
            },
            "Schedule": {
                "type": "object", "additionalProperties": False, "required": ["schedule"],
                "properties": {"schedule": {
                    "type": ["string", "null"], "maxLength": MAX_SCHEDULE_LENGTH,
                    "description": "business hours: an IANA time zone, then rules apart by ;"
                    " (DAYS HH:MM-HH:MM, closed DATE[..DATE] [HH:MM-HH:MM]); null: always open",
                    "example": "Europe/Paris; mon-fri 09:00-18:00; closed 2026-12-25",
                }},
            },
            "DIDRow": {
                "type": "object", "required": ["did", "account", "primary", "status"],
                "properties": {
                    "did": {"type": "string"}, "account": {"type": "string"}, "primary": {"type": "string"},
                    "did_type": {"type": "string"}, "ring_timeout": {"type": "integer"},
                    "max_channels": {"type": "integer"}, "status": {"type": "string"},
                    "transfer": {"type": "string"},
                },
            },
            "DIDPage": {
                "type": "object", "required": ["items", "total", "total_exact", "next", "previous"],
                "properties": {
                    "items": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"},
                    "total_exact": {"type": "boolean"},
                    "next": {"type": ["string", "null"]}, "previous": {"type": ["string", "null"]},
                },
            },
            "NewDID": {
                "type": "object", "additionalProperties": False, "required": ["did", "account", "primary"],
                "properties": {
                    "did": {"type": "string"}, "account": {"type": "string"}, "primary": {"type": "string"},
                    "ring_timeout": {"type": "integer"}, "max_channels": {"type": "integer"},
                },
            },
            "DIDChange": {
                "type": "object", "additionalProperties": False,
                "properties": {
                    "account": {"type": "string"}, "primary": {"type": "string"}, "ring_timeout": {"type": "integer"},
                    "max_channels": {"type": "integer"}, "active": {"type": "boolean"},
                },
            },
            "Account": {
                "type": "object", "required": ["number", "name", "type"],
                "properties": {
                    "number": {"type": "string"}, "name": {"type": "string"}, "type": {"type": "string"},
                    "reseller": {"type": ["string", "null"]}, "status": {"type": "string"}, "transfer": {"type": "string"},
                },
            },
            "NewAccount": {
                "type": "object", "additionalProperties": False, "required": ["number", "name", "type"],
                "properties": {
                    "number": {"type": "string"}, "name": {"type": "string"},
                    "type": {"type": "string", "enum": ["admin", "reseller", "customer"]},
                    "reseller": {"type": ["string", "null"]},
                },
            },
            "AccountChange": {
                "type": "object", "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "active": {"type": "boolean"}, "transfer": {"type": "boolean"}},
            },
            "Webhook": {
                "type": "object", "required": ["id", "url", "events", "owner", "status", "behind"],
                "properties": {
                    "id": {"type": "integer"}, "url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string", "enum": ["call.ended", "change.made"]}},
                    "owner": {"type": "string", "description": "admin, or the reseller's account number"},
                    "status": {"type": "string", "enum": ["ok", "retrying", "failing"]},
                    "behind": {"type": "integer", "description": "events numbered but not yet delivered (at least this many unless behind_exact)"},
                    "behind_exact": {"type": "boolean", "description": "false: more were numbered than the 10,000 after the cursor that were counted"},
                    "oldest_undelivered_at": {"type": ["string", "null"]}, "last_delivered_at": {"type": ["string", "null"]},
                    "failed_attempts": {"type": "integer"}, "failing_since": {"type": ["string", "null"]}, "next_attempt_at": {"type": ["string", "null"]},
                    "last_error": {"type": ["string", "null"]}, "created_by": {"type": "string"}, "created_at": {"type": "string"},
                    "secret": {"type": "string", "description": "the signing secret (whsec_...): in the answer to the POST that adds it or rotates it only, this once"},
                    "previous_secret_until": {"type": ["string", "null"], "description": "after a rotation: until when the replaced secret signs too (a second signature)"},
                },
            },
            "NewWebhook": {
                "type": "object", "additionalProperties": False, "required": ["url", "events"],
                "properties": {
                    "url": {"type": "string", "maxLength": 2000, "description": "http:// or https:// to a public address (or a network DID_FAILOVER_WEBHOOK_ALLOW names)"},
                    "events": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["call.ended", "change.made"]}},
                    "reseller": {"type": ["string", "null"], "description": "admin only: the reseller whose customers' events it gets (default: every event)"},
                },
            },
            "PingResult": {
                "type": "object", "required": ["id", "delivered", "error"],
                "properties": {"id": {"type": "integer"}, "delivered": {"type": "boolean"}, "error": {"type": ["string", "null"]}},
            },
            "List": {
                "type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"}},
            },
        },
    },
    "paths": {
        "/tokens": {"post": {
            "summary": "A token for a user (24 h), throttled like the login page", "requestBody": _body("Login"),
            "responses": {"201": _json("Token", "created"), **_errors(400, 401, 422, 429)},
        }},
        "/openapi.json": {"get": {"summary": "This description", "responses": {"200": {"description": "ok"}}}},
        "/health": {"get": {"summary": "The web process and its database", "responses": {"200": {"description": "ok"}, "503": {"description": "database down"}}}},
        "/dids": {
            "get": {
                "summary": "DIDs in scope, a page at a time", "security": _AUTH,
                "parameters": [
                    _LIMIT, {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}},
                    {"name": "after", "in": "query", "schema": {"type": "string", "maxLength": MAX_CURSOR}},
                    {"name": "before", "in": "query", "schema": {"type": "string", "maxLength": MAX_CURSOR}},
                    {"name": "last", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
                    {"name": "search", "in": "query", "schema": {"type": "string", "maxLength": 64}},
                    {"name": "order", "in": "query", "schema": {"type": "string"}},
                    {"name": "direction", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
                ],
                "responses": {"200": _json("DIDPage"), **_errors(401, 422)},
            },
            "post": {"summary": "Add a DID", "security": _AUTH, "requestBody": _body("NewDID"), "responses": {"201": _json("DIDRow", "created"), **_errors(*_ALL)}},
        },
        "/dids/{did}": {
            "parameters": [_DID_PARAM],
            "get": {"summary": "One DID", "security": _AUTH, "responses": {"200": _json("DIDRow"), **_errors(401, 404, 422)}},
            "patch": {"summary": "Change a DID", "security": _AUTH, "requestBody": _body("DIDChange"), "responses": {"200": _json("DIDRow"), **_errors(*_ALL)}},
            "delete": {"summary": "Remove a DID", "security": _AUTH, "responses": {"204": {"description": "removed"}, **_errors(401, 403, 404, 422)}},
        },
        "/dids/{did}/forwards": {
            "parameters": [_DID_PARAM],
            "get": {"summary": "A DID's forwards", "security": _AUTH, "responses": {"200": _json("Forwards"), **_errors(401, 404, 422)}},
            "put": {"summary": "Set all of a DID's forwards", "security": _AUTH, "requestBody": _body("Forwards"), "responses": {"204": {"description": "set"}, **_errors(*_ALL)}},
        },
        "/dids/{did}/forwards/{kind}": {
            "parameters": [_DID_PARAM, _KIND_PARAM],
            "get": {"summary": "One forward", "security": _AUTH, "responses": {"200": _json("Forward"), **_errors(401, 404, 422)}},
            "put": {"summary": "Set one forward", "security": _AUTH, "requestBody": _body("Forward"), "responses": {"204": {"description": "set"}, **_errors(*_ALL)}},
        },
        "/dids/{did}/schedule": {
            "parameters": [_DID_PARAM],
            "get": {"summary": "A DID's business hours", "security": _AUTH, "responses": {"200": _json("Schedule"), **_errors(401, 404, 422)}},
            "put": {"summary": "Set (or with null remove) a DID's business hours", "security": _AUTH, "requestBody": _body("Schedule"), "responses": {"204": {"description": "set"}, **_errors(*_ALL)}},
        },
        "/accounts": {
            "get": {"summary": "Accounts in scope", "security": _AUTH, "responses": {"200": _json("List"), **_errors(401)}},
            "post": {"summary": "Add an account", "security": _AUTH, "requestBody": _body("NewAccount"), "responses": {"201": _json("Account", "created"), **_errors(*_ALL)}},
        },
        "/accounts/{number}": {
            "parameters": [_NUMBER_PARAM],
            "get": {"summary": "One account", "security": _AUTH, "responses": {"200": _json("Account"), **_errors(401, 404)}},
            "patch": {"summary": "Change an account (name, active, account-level transfer)", "security": _AUTH, "requestBody": _body("AccountChange"), "responses": {"200": _json("Account"), **_errors(*_ALL)}},
        },
        "/calls": {"get": {
            "summary": "Call history, newest first", "security": _AUTH,
            "parameters": [{"name": "did", "in": "query", "schema": {"type": "string"}}, {"name": "account", "in": "query", "schema": {"type": "string"}}, _SINCE, _LIMIT, {"name": "every_owner", "in": "query", "description": "with did: also the calls of the DID's earlier owners (true or 1)", "schema": {"type": "string", "enum": ["true", "false", "1", "0"]}}],
            "responses": {"200": _json("List"), **_errors(401, 404, 422)},
        }},
        "/webhooks": {
            "get": {"summary": "Webhook subscriptions in scope, with how far behind each is", "security": _AUTH, "responses": {"200": _json("List"), **_errors(401, 403)}},
            "post": {"summary": "Subscribe a URL to call.ended and/or change.made (the answer holds the signing secret, once)", "security": _AUTH, "requestBody": _body("NewWebhook"), "responses": {"201": _json("Webhook", "created"), **_errors(*_ALL)}},
        },
        "/webhooks/{id}": {
            "parameters": [_WEBHOOK_PARAM],
            "get": {"summary": "One webhook subscription", "security": _AUTH, "responses": {"200": _json("Webhook"), **_errors(401, 403, 404, 422)}},
            "delete": {"summary": "Remove a webhook subscription", "security": _AUTH, "responses": {"204": {"description": "removed"}, **_errors(401, 403, 404, 422)}},
        },
        "/webhooks/{id}/test": {
            "parameters": [_WEBHOOK_PARAM],
            "post": {"summary": "Send a signed ping now (a ping answered ends a pause after failures)", "security": _AUTH, "responses": {"200": _json("PingResult"), **_errors(401, 403, 404, 422)}},
        },
        "/webhooks/{id}/rotate": {
            "parameters": [_WEBHOOK_PARAM],
            "post": {"summary": "A new signing secret, in the answer this once; the replaced one signs too for 24 hours", "security": _AUTH, "responses": {"200": _json("Webhook"), **_errors(401, 403, 404, 422)}},
        },
        "/changes": {"get": {
            "summary": "Change log, newest first", "security": _AUTH,
            "parameters": [{"name": "did", "in": "query", "schema": {"type": "string"}}, {"name": "account", "in": "query", "schema": {"type": "string"}}, {"name": "actor", "in": "query", "schema": {"type": "string"}}, _SINCE, _LIMIT],
            "responses": {"200": _json("List"), **_errors(401, 404, 422)},
        }},
    },
}  # fmt: skip
