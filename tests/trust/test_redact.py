"""Secret redaction: credential-like environment values, explicit values, URL userinfo and query tokens."""

from __future__ import annotations

from tau.redact import MASK, Redactor, credential_name


def test_credential_names() -> None:
    assert all(map(credential_name, ["OPENAI_API_KEY", "GITHUB_TOKEN", "DB_PASSWORD", "aws_secret_access_key"]))
    assert not any(map(credential_name, ["PATH", "HOME", "LANG", "EDITOR", "CI"]))


def test_values_of_credential_variables_are_masked_longest_first() -> None:
    redactor = Redactor.from_env({"API_KEY": "sk-abcdef123", "API_KEY_2": "sk-abcdef1234567", "HOME": "/home/u"})
    assert redactor.text("keys sk-abcdef1234567 and sk-abcdef123 in /home/u") == f"keys {MASK} and {MASK} in /home/u"


def test_short_values_are_left_alone() -> None:
    assert Redactor.from_env({"AUTH": "1"}).text("step 1 done") == "step 1 done"


def test_url_userinfo_and_query_tokens() -> None:
    text = "failed: https://alice:s3cret@mcp.example.com/v1?access_token=abc&page=2&sig=zz#frag"
    assert (
        Redactor().text(text) == f"failed: https://{MASK}@mcp.example.com/v1?access_token={MASK}&page=2&sig={MASK}#frag"
    )


def test_explicit_values() -> None:
    redactor = Redactor().with_values(["canary-123456"])
    assert redactor.text("Bearer canary-123456") == f"Bearer {MASK}"
