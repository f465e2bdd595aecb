#!/bin/bash
# CI entry point: build every fuzz target and run each for a short bounded
# time (FUZZ_SECONDS, default 10) on its committed seeds; non-zero exit on
# any crash. The last line is "N passed, N failed".
exec "$(dirname "$0")/run.sh" "${FUZZ_SECONDS:-10}"
