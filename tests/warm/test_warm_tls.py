"""tau.cli.warm_tls: the warm server's prepared TLS context reaches a run's first HTTP client only, and only when the
run's environment would have built the same context."""

from __future__ import annotations

import httpcore2
import httpx2
import pytest

from tau.cli import warm_tls

CA_FILE = "/etc/ssl/certs/ca-certificates.crt"
CA_DIR = "/etc/ssl/certs"


@pytest.fixture(autouse=True)
def _restore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpcore2, "default_ssl_context", httpcore2.default_ssl_context)
    monkeypatch.setattr(warm_tls, "_PREPARED", [])


def test_the_first_client_of_a_run_gets_the_prepared_context() -> None:
    warm_tls.prepare({})
    ((_trust, prepared),) = warm_tls._PREPARED
    warm_tls.adopt({"HOME": "/nowhere"})
    first = httpx2.AsyncClient()
    second = httpx2.AsyncClient()
    contexts = [c._transport._pool._ssl_context for c in (first, second)]  # type: ignore[attr-defined]
    assert contexts[0] is prepared
    assert contexts[1] is not prepared  # httpx may change a context it is given: one client each


@pytest.mark.parametrize("name", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_a_run_that_names_its_own_certificates_builds_its_own(name: str) -> None:
    warm_tls.prepare({})
    prepared = list(warm_tls._PREPARED)
    original = httpcore2.default_ssl_context
    warm_tls.adopt({name: CA_FILE if name == "SSL_CERT_FILE" else CA_DIR})
    assert httpcore2.default_ssl_context is original
    assert prepared == warm_tls._PREPARED  # not handed out


@pytest.mark.parametrize(("name", "value"), [("SSL_CERT_FILE", CA_FILE), ("SSL_CERT_DIR", CA_DIR)])
def test_a_server_with_certificates_of_its_own_serves_runs_that_name_the_same(name: str, value: str) -> None:
    warm_tls.prepare({name: value})
    ((_trust, prepared),) = warm_tls._PREPARED
    original = httpcore2.default_ssl_context
    warm_tls.adopt({})  # a run without them would build the system's context: not this one
    assert httpcore2.default_ssl_context is original
    warm_tls.adopt({name: value, "HOME": "/nowhere"})
    client = httpx2.AsyncClient()
    assert client._transport._pool._ssl_context is prepared  # type: ignore[attr-defined]
    assert prepared.get_ca_certs() or name == "SSL_CERT_DIR"  # a capath loads lazily; a cafile at once


def test_a_relative_certificate_path_is_never_prepared() -> None:
    warm_tls.prepare({"SSL_CERT_FILE": "certs/ca.pem"})
    assert warm_tls._PREPARED == []
