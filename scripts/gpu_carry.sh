#!/usr/bin/env bash
# Copies the headers the GPU machine lacks into .carry/include (git-ignored), to be sent
# with a device run (carry: [".carry"]): sqlite3.h (libsqlite3-dev), CLI11 (libcli11-dev),
# OpenSSL's headers (libssl-dev)
# and ONNX's backend test data (libonnx-testdata).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .carry/include
cp /usr/include/sqlite3.h /usr/include/sqlite3ext.h .carry/include/
cp -r /usr/include/CLI .carry/include/
# OpenSSL's headers (libssl-dev): the portable ones and the multiarch configuration.
mkdir -p .carry/include/openssl
cp /usr/include/openssl/*.h .carry/include/openssl/
cp /usr/include/x86_64-linux-gnu/openssl/*.h .carry/include/openssl/
# ONNX's backend test data (libonnx-testdata), for the CUDA conformance runs.
mkdir -p .carry/onnx-testdata
cp -r /usr/share/libonnx-testdata/data/{node,pytorch-converted,pytorch-operator,simple} .carry/onnx-testdata/
du -sh .carry
