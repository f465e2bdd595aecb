#!/bin/sh
# Generate the build system: ./autogen.sh && ./configure && make
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --force --install --verbose >/dev/null
echo "autogen: now run ./configure"
