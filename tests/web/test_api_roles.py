"""What each role may do with each endpoint of the API: the table of docs/api.md ("Roles"), run
request by request against the real web process on both back ends."""

from __future__ import annotations

from typing import Any

from tests.plugins.web import Site, api_token

OWN, OTHER = "15550001", "15550002"
"""A DID of customer 1001 (reseller 100's) and one of customer 2001 (reseller 200's)."""

ROLES = ("root", "res-a", "cust-a1")
"""An admin, reseller 100 and its customer 1001."""

BUSY = {"enabled": True, "destination": "pstn:+4930111"}

TABLE: list[tuple[str, str, Any, tuple[int, int, int]]] = [
    # method, path, body, (admin, reseller, customer)
    ("GET", "/dids", None, (200, 200, 200)),
    ("GET", f"/dids/{OWN}", None, (200, 200, 200)),
    ("GET", f"/dids/{OTHER}", None, (200, 404, 404)),
    ("PATCH", f"/dids/{OWN}", {"max_channels": 2}, (200, 200, 403)),
    ("PATCH", f"/dids/{OTHER}", {"max_channels": 2}, (200, 404, 403)),
    ("POST", "/dids", {"did": "{new}", "account": "1001", "primary": "endpoint:x"}, (201, 201, 403)),
    ("GET", f"/dids/{OWN}/forwards", None, (200, 200, 200)),
    ("GET", f"/dids/{OTHER}/forwards", None, (200, 404, 404)),
    ("PUT", f"/dids/{OWN}/forwards/busy", BUSY, (204, 204, 204)),
    (
        "PUT",
        f"/dids/{OTHER}/forwards/busy",
        {"enabled": True, "destination": "pstn:+4930111"},
        (204, 404, 404),
    ),
    ("GET", f"/dids/{OWN}/schedule", None, (200, 200, 200)),
    ("PUT", f"/dids/{OWN}/schedule", {"schedule": None}, (204, 204, 204)),
    ("PUT", f"/dids/{OTHER}/schedule", {"schedule": None}, (204, 404, 404)),
    ("GET", "/accounts", None, (200, 200, 200)),
    ("GET", "/accounts/1001", None, (200, 200, 200)),
    ("GET", "/accounts/2001", None, (200, 404, 404)),
    ("PATCH", "/accounts/1001", {"name": "Customer A-1"}, (200, 200, 403)),
    ("PATCH", "/accounts/2001", {"name": "Customer B-1"}, (200, 404, 404)),
    ("POST", "/accounts", {"number": "{new}", "name": "New", "type": "customer"}, (201, 201, 403)),
    ("GET", "/calls", None, (200, 200, 200)),
    ("GET", "/calls?account=2001", None, (200, 404, 404)),
    ("GET", "/changes", None, (200, 200, 200)),
    ("GET", "/changes?account=2001", None, (200, 404, 404)),
    ("DELETE", "/dids/{new}", None, (204, 204, 403)),
]


async def test_each_role_gets_what_the_roles_table_says_of_each_endpoint(site: Site) -> None:
    """Run the whole table as each role; `{new}` is a number of the role's own, so that what one
    role creates (and deletes again) is never another's."""
    wrong = []
    for column, username in enumerate(ROLES):
        new = f"155500900{column}"
        async with site.client() as client:
            headers = await api_token(client, username)
            for method, template, given, statuses in TABLE:
                path = template.replace("{new}", new)
                body = {k: new if v == "{new}" else v for k, v in given.items()} if given else None
                response = await client.request(method, f"/api/v1{path}", headers=headers, json=body)
                if response.status_code != statuses[column]:
                    wrong.append(
                        f"{username} {method} {path}: {response.status_code}, not {statuses[column]}"
                    )
    assert wrong == []
