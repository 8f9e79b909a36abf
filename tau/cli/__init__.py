"""CLI: click commands (`main`), `tau run` wiring (`run`) and the output renderers (`render`). Front end only."""
