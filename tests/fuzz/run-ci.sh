#!/bin/bash
# CI entry point: build every fuzz target and run each for a short bounded
# time (FUZZ_SECONDS, default 10) on its committed seeds, as many at once as
# there are CPUs (FUZZ_JOBS); non-zero exit on any crash. The last line is
# "N passed, N failed". FUZZ_NO_BUILD=1 uses targets already built (the
# suite builds them beside the tests: tests/run-suite.sh).
export FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
exec "$(dirname "$0")/run.sh" "${FUZZ_SECONDS:-10}"
