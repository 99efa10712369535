#!/usr/bin/env bash
# Installs Debian's headless-capable chromium for the browser runtimes and the web bundle tests, only
# when no chromium is present (idempotent). Playwright's own browser download is never used: edgekit
# drives the system chromium through executable_path, so the install works behind a package mirror.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
   || [ -n "${EDGEKIT_CHROMIUM:-}" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium is missing (install it with your package manager, or set EDGEKIT_CHROMIUM)" >&2
  exit 1
fi
# Another setup script may hold the dpkg lock at the same moment: wait for it instead of failing.
apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
  chromium >/dev/null
