#!/usr/bin/env bash
# Copies the headers the GPU machine lacks into .carry/include (git-ignored), to be sent
# with a device run (carry: [".carry"]): sqlite3.h (libsqlite3-dev) and CLI11 (libcli11-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .carry/include
cp /usr/include/sqlite3.h /usr/include/sqlite3ext.h .carry/include/
cp -r /usr/include/CLI .carry/include/
du -sh .carry
