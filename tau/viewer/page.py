"""The viewer's static assets (`tau/viewer/static/`, package data in the wheel and in the frozen binary) and the
self-contained export page.

- `asset(name)`: the bytes and media type of one asset; only the names in `ASSETS` exist (a request path is never
  joined onto a directory).
- `export_html(document)`: one HTML file with the stylesheet, the scripts and the session document inlined. The
  document sits in `<script type="application/json" id="tau-data">` with `<`, `>`, `&` and U+2028/U+2029 written as
  JSON escapes, so no text in it can end that element. A Content-Security-Policy meta tag allows exactly the inlined
  style and scripts (by their sha256) and nothing else: `default-src 'none'`, so the page can make no network
  request even if a script tried; it works opened from disk, offline.
- `SERVED_CSP`: the policy `tau serve` sends with the page (same origin only: scripts, style, fetches).
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from typing import Any

__all__ = ["ASSETS", "SCRIPTS", "SERVED_CSP", "asset", "export_html"]

SCRIPTS = ("dom.js", "views.js", "live.js", "app.js")
ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "viewer.css": "text/css; charset=utf-8",
    **dict.fromkeys(SCRIPTS, "text/javascript; charset=utf-8"),
}
SERVED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_STYLE_LINK = '<link rel="stylesheet" href="viewer.css">'
_CHARSET = '<meta charset="utf-8">'
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def asset(name: str) -> tuple[bytes, str]:
    """(bytes, media type) of the asset `name`; KeyError for any other name."""
    media = ASSETS[name]
    return resources.files("tau.viewer").joinpath("static", name).read_bytes(), media


def _text(name: str) -> str:
    return asset(name)[0].decode("utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def embedded_json(value: Any) -> str:
    """`value` as JSON that is safe inside a <script> element (see the module docstring)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text


def export_html(document: dict[str, Any]) -> str:
    """The self-contained page of one session document."""
    html = _text("index.html")
    style = "\n" + _text("viewer.css")
    scripts = {name: "\n" + _text(name) for name in SCRIPTS}
    for name, code in scripts.items():
        if "</script" in code.lower():
            raise ValueError(f"{name} holds '</script': it cannot be inlined")
    if "</style" in style.lower():
        raise ValueError("viewer.css holds '</style': it cannot be inlined")
    csp = (
        f"default-src 'none'; style-src {_sha256(style)}; script-src {' '.join(map(_sha256, scripts.values()))}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    html = _replace_once(html, _CHARSET, f'{_CHARSET}\n<meta http-equiv="Content-Security-Policy" content="{csp}">')
    html = _replace_once(html, _STYLE_LINK, f"<style>{style}</style>")
    for name, code in scripts.items():
        html = _replace_once(html, f'<script src="{name}"></script>', f"<script>{code}</script>")
    data = f'<script type="application/json" id="tau-data">{embedded_json(document)}</script>\n'
    return _replace_once(html, "<script>", data + "<script>")


def _replace_once(html: str, old: str, new: str) -> str:
    if old not in html:
        raise ValueError(f"index.html lacks {old!r}")
    return html.replace(old, new, 1)
