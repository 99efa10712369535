#!/usr/bin/env bash
# Installs the system packages the tests use, only when missing (idempotent, quiet when nothing to do).
# node/npm: TF.js in Node. openssh-server/client: the SSH device tests start a real sshd on 127.0.0.1.
set -euo pipefail
need=()
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: ${need[*]} (install them with your package manager)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
