#!/bin/sh
# Run a GTest binary in TAP mode (automake LOG_COMPILER for unit tests).
exec "$@" --tap -k
