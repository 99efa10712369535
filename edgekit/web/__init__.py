"""Everything edgekit runs inside a web browser: a local static server, the headless Chromium driver,
and the pages they serve (the validation harness). Nothing here imports Playwright at module level."""
