"""Unit tests of the fixes the hostile suite led to (in-process, fast): each names the case that found it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tau.config.assemble import assemble_layers
from tau.config.layers import Layer
from tau.config.trust import TrustStore, trust_files


def _empty(name: str, base: Path) -> Layer:
    return Layer(name, name, base, {})


def _assemble(work: Path, env: dict[str, str], store: TrustStore) -> list[str]:
    front, env_layer, flags = (_empty(name, work) for name in ("frontmatter", "env", "flags"))
    return assemble_layers(front=front, env_layer=env_layer, flags_layer=flags, env=env, cwd=work, store=store).notices


def test_a_workspace_changed_since_tau_trust_says_why(tmp_path: Path) -> None:
    """code:mcp-json-stdio:tau-trust-changed — the notice named only how to trust, not that a pinned file changed."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    (work / ".mcp.json").write_text('{"mcpServers": {}}', encoding="utf-8")
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    store = TrustStore(home / "trust.json")
    store.trust(work, trust_files(work, work))
    assert _assemble(work, env, store) == []
    (work / ".mcp.json").write_text('{"mcpServers": {"evil": {"command": "true"}}}', encoding="utf-8")
    [notice] = _assemble(work, env, store)
    assert notice.startswith(f"untrusted workspace: {work}: changed since `tau trust`: .mcp.json — trust it with")


def test_a_never_trusted_workspace_gets_no_extra_notice(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    assert _assemble(work, env, TrustStore(home / "trust.json")) == []


def test_an_untrusted_output_schema_is_never_read(tmp_path: Path) -> None:
    """loosen:output-schema-outside — building the untrusted project layer read `output.schema` (a file outside the
    repository) and quoted its content in the exit-2 error, before the trust filter dropped the key."""
    home, work, outside = tmp_path / "home", tmp_path / "work", tmp_path / "outside"
    for directory in (home, work / ".tau", outside):
        directory.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    (outside / "schema.json").write_text('{"type": "SECRET-CONTENT"}', encoding="utf-8")
    (work / ".tau" / "config.toml").write_text(f'[output]\nschema = "{outside}/schema.json"\n', encoding="utf-8")
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    [notice] = _assemble(work, env, TrustStore(home / "trust.json"))
    assert "output.schema (needs trust)" in notice and "SECRET-CONTENT" not in notice
