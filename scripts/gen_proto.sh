#!/bin/sh
# Regenerate the committed Python code for the agent <-> control plane protocol.
#
#   scripts/gen_proto.sh            write into the repo (assay/api/v1/*_pb2*.py[i])
#   scripts/gen_proto.sh OUT_DIR    write into OUT_DIR instead (the freshness test uses this)
#
# Run after every change to proto/**/*.proto and commit the result; the test
# tests/agent/test_protocol_generated_code.py fails while they differ.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root}
python=${PYTHON:-$root/.venv/bin/python}
cd "$root/proto"
protos=$(find assay -name '*.proto' | sort)
mkdir -p "$out"
"$python" -m grpc_tools.protoc -I. \
    --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" $protos
