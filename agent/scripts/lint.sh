#!/bin/sh
# Syntax-checks the agent with every POSIX shell that is installed: sh always; dash, busybox sh,
# ShellCheck and checkbashisms when present, so that the check works on machines without them.
set -u
cd "$(dirname "$0")/.." || exit 1
script=metalplane-agent.sh
status=0
checked='sh'
sh -n "$script" || status=1
if command -v dash >/dev/null 2>&1; then
  dash -n "$script" || status=1
  checked="$checked, dash"
fi
if command -v busybox >/dev/null 2>&1; then
  busybox sh -n "$script" || status=1
  checked="$checked, busybox sh"
fi
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck -s sh "$script" scripts/lint.sh || status=1
  checked="$checked, shellcheck"
fi
if command -v checkbashisms >/dev/null 2>&1; then
  checkbashisms "$script" scripts/lint.sh || status=1
  checked="$checked, checkbashisms"
fi
if [ "$status" -eq 0 ]; then echo "lint: $script ok ($checked)"; fi
exit "$status"
