"""tau.cli.warm_tls: the warm server's prepared TLS context reaches a run's first HTTP client only, and only when the
run's environment would have built the same context."""

from __future__ import annotations

import httpcore2
import httpx2
import pytest

from tau.cli import warm_tls


@pytest.fixture(autouse=True)
def _restore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpcore2, "default_ssl_context", httpcore2.default_ssl_context)
    monkeypatch.setattr(warm_tls, "_PREPARED", [])


def test_the_first_client_of_a_run_gets_the_prepared_context() -> None:
    warm_tls.prepare({})
    (prepared,) = warm_tls._PREPARED
    warm_tls.adopt({"HOME": "/nowhere"})
    first = httpx2.AsyncClient()
    second = httpx2.AsyncClient()
    contexts = [c._transport._pool._ssl_context for c in (first, second)]  # type: ignore[attr-defined]
    assert contexts[0] is prepared
    assert contexts[1] is not prepared  # httpx may change a context it is given: one client each


@pytest.mark.parametrize("name", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_a_run_that_names_its_own_certificates_builds_its_own(name: str) -> None:
    warm_tls.prepare({})
    (prepared,) = warm_tls._PREPARED
    original = httpcore2.default_ssl_context
    warm_tls.adopt({name: "/etc/ssl/certs/ca-certificates.crt"})
    assert httpcore2.default_ssl_context is original
    assert [prepared] == warm_tls._PREPARED  # not handed out


def test_a_server_with_its_own_certificates_prepares_nothing() -> None:
    warm_tls.prepare({"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"})
    assert warm_tls._PREPARED == []
