"""Webhooks to https receivers, end to end: a real receiver process speaking TLS with a certificate of
a throwaway CA (trustme). Trusted through SSL_CERT_FILE, as an operator trusts a private CA, the
events arrive signed; a certificate of another CA, or for another name, is a failure that says which,
and nothing is sent over that connection."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from did_failover.admin.scope import Scope
from did_failover.admin.service import Service
from did_failover.storage import Repository, open_repository
from did_failover.webhooks import delivery as delivery_module
from did_failover.webhooks.delivery import WebhookDelivery
from tests.plugins.webhooks import StartReceiver
from tests.test_webhooks import call, failed_once

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.fixture
def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A CA that this process trusts (SSL_CERT_FILE, read by OpenSSL at each new connection)."""
    ca = trustme.CA()
    bundle = tmp_path / "trusted-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setattr(delivery_module, "POLL", 0.1)
    return ca


def pem(tmp_path: Path, ca: trustme.CA, *names: str) -> Path:
    """A file of a certificate for `names` issued by `ca`, and its key, as the receiver loads it."""
    path = tmp_path / f"{'-'.join(names)}-{id(ca)}.pem"
    ca.issue_cert(*names).private_key_and_cert_chain_pem.write_to_path(str(path))
    return path


@pytest.fixture
async def repo(sqlite_url: str) -> AsyncIterator[Repository]:
    async with open_repository(sqlite_url, 5.0) as repository:
        await repository.init_schema()
        await repository.add_account("1001", "Customer", "customer", None)
        yield repository


async def test_an_https_receiver_gets_signed_events_over_a_verified_connection(
    repo: Repository, receiver: StartReceiver, trusted: trustme.CA, tmp_path: Path
) -> None:
    target = await receiver(tls=pem(tmp_path, trusted, "127.0.0.1"))
    service = Service(repo, webhook_allow=LOOPBACK, webhook_timeout=10.0)
    hook = await service.add_webhook(Scope(), target.url(), "call.ended")
    assert hook.url.startswith("https://")
    target.trust(hook.secret)
    assert (await service.test_webhook(Scope(), hook.id))[1] is None  # the ping
    await repo.insert_calls([call("15550001", "1001", n) for n in range(3)])
    worker = WebhookDelivery(repo, 10.0, LOOPBACK)
    worker.start()
    try:
        got = await target.wait_for(3, "call.ended")
    finally:
        await worker.close()
    assert [r["body"]["data"]["uniqueid"] for r in got] == ["call-0", "call-1", "call-2"]
    assert all(r["verified"] for r in target.records())


@pytest.mark.parametrize(
    ("issuer", "names", "error"),
    [
        ("another CA", ("127.0.0.1",), "TLS failed: unable to get local issuer certificate"),
        ("the trusted CA", ("hooks.example.test",), "TLS failed: IP address mismatch"),
    ],
)
async def test_a_certificate_not_to_be_trusted_is_a_failure_that_says_why(
    repo: Repository,
    receiver: StartReceiver,
    trusted: trustme.CA,
    tmp_path: Path,
    issuer: str,
    names: tuple[str, ...],
    error: str,
) -> None:
    """A certificate of a CA not trusted, or for another name: the ping fails, and so does delivery
    (the subscription pauses with that error as its last one); the receiver gets no request."""
    ca = trusted if issuer == "the trusted CA" else trustme.CA()
    target = await receiver(tls=pem(tmp_path, ca, *names))
    service = Service(repo, webhook_allow=LOOPBACK, webhook_timeout=10.0)
    hook = await service.add_webhook(Scope(), target.url(), "call.ended")
    _, problem = await service.test_webhook(Scope(), hook.id)
    assert problem is not None and problem.startswith(error), problem
    await repo.insert_calls([call("15550001", "1001", 1)])
    worker = WebhookDelivery(repo, 10.0, LOOPBACK)
    worker.start()
    try:
        row = await failed_once(repo, hook.id)
    finally:
        await worker.close()
    assert row.last_error is not None and row.last_error.startswith(error), row.last_error
    assert target.records() == []
