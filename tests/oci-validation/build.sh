#!/bin/bash
# tests/oci-validation/build.sh — build the OCI runtime-tools validation
# programs (validation/*/*.go and cmd/runtimetest) from Debian packages only.
#
# Debian's golang-github-opencontainers-runtime-tools-dev ships the library
# but excludes cmd/ and validation/ (DH_GOLANG_EXCLUDES in its debian/rules),
# so the upstream sources come from the Debian *source* package's orig
# tarball, fetched with apt's own downloader (apt-helper: the machine's apt
# mirror and proxy) and checked against the SHA256 pinned below. They are
# built with Debian's Go in GOPATH mode (GO111MODULE=off, GOPROXY=off)
# against /usr/share/gocode, where the golang-*-dev packages install their
# sources: nothing is fetched from anywhere else. Two import paths are not
# in /usr/share/gocode under the name the sources use:
#   github.com/mndrix/tap-go   not packaged in Debian: tests/oci-validation/
#                              tap-go is our own TAP writer with that API;
#   github.com/blang/semver/v4 Debian installs semver 4.0.0 without the /v4
#                              suffix that GOPATH mode needs: a symlink.
#
# The source version is pinned (the validation programs and so the counts
# depend on it). It is the trixie source package 0.9.0.109.ge931285-1: the
# bookworm one (0.9.0+git20220423.g0105384-2, the version of the installed
# -dev package) could not be fetched here (its orig tarball answered 404
# from the Debian mirror this machine uses, while its .dsc answered), and
# 0.9.0.109 builds with bookworm's -dev packages unchanged.
#
# Output, under $OCI_VALIDATION_CACHE (default /var/tmp/cairn-oci-validation,
# never in the repository): bin/<test>.t, bin/runtimetest,
# bin/rootfs-amd64.tar.gz (what the programs expect in their working
# directory), bin/BUILD-REPORT (built and not built, with why).
#
# Copyright (C) 2026 The cairn authors
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${OCI_VALIDATION_CACHE:-/var/tmp/cairn-oci-validation}

PKG=golang-github-opencontainers-runtime-tools
UPSTREAM=0.9.0.109.ge931285
ORIG=${PKG}_${UPSTREAM}.orig.tar.xz
ORIG_SHA256=203989a1ea98cf2aaced79155bbda09270b20db19b03376dde91ab12e5e6a0fe
# The Debian packages the build needs (also in dev.sh's TEST_DEPS).
DEPS="golang-go golang-github-opencontainers-specs-dev golang-github-opencontainers-selinux-dev
 golang-github-opencontainers-runtime-tools-dev golang-github-google-uuid-dev golang-github-blang-semver-dev
 golang-github-hashicorp-go-multierror-dev golang-github-mrunalp-fileutils-dev
 golang-github-sirupsen-logrus-dev golang-gocapability-dev golang-github-urfave-cli-dev
 golang-github-xeipuuv-gojsonschema-dev golang-golang-x-sys-dev golang-github-stretchr-testify-dev"

die() { echo "oci-validation/build: $*" >&2; exit 1; }

missing=""
for p in $DEPS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] || die "missing Debian packages:$missing (apt-get install -y --no-install-recommends$missing)"

# The Debian mirror apt uses for bookworm/main (from apt's own configuration).
mirror() {
  apt-cache policy 2>/dev/null | awk '$3 == "bookworm/main" && $2 ~ /^https?:\/\// { print $2; exit }'
}

fetch_source() {
  local dst=$CACHE/src/$ORIG
  mkdir -p "$CACHE/src"
  if [ -f "$dst" ] && echo "$ORIG_SHA256  $dst" | sha256sum -c --quiet 2>/dev/null; then
    return 0
  fi
  local m; m=$(mirror)
  [ -n "$m" ] || die "no Debian mirror for bookworm/main in apt's configuration (run apt-get update)"
  local uri="${m%/}/pool/main/g/$PKG/$ORIG"
  rm -f "$dst"
  /usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$uri" "$dst.part" "SHA256:$ORIG_SHA256" >&2 \
    || die "could not download $ORIG (Debian source package $PKG $UPSTREAM) from $uri"
  mv "$dst.part" "$dst"
}

# A GOPATH holding the upstream tree and the two import-path fixes above;
# /usr/share/gocode comes second, so the upstream tree shadows the -dev
# package's copy of the same library.
make_gopath() {
  local gp=$CACHE/gopath
  rm -rf "$gp"
  mkdir -p "$gp/src/github.com/opencontainers" "$gp/src/github.com/mndrix" "$gp/src/github.com/blang/semver"
  tar -C "$gp/src/github.com/opencontainers" -xf "$CACHE/src/$ORIG"
  mv "$gp/src/github.com/opencontainers/$PKG-$UPSTREAM" "$gp/src/github.com/opencontainers/runtime-tools"
  cp -r "$here/tap-go" "$gp/src/github.com/mndrix/tap-go"
  ln -s /usr/share/gocode/src/github.com/blang/semver "$gp/src/github.com/blang/semver/v4"
}

build_all() {
  local src=$CACHE/gopath/src/github.com/opencontainers/runtime-tools bin=$CACHE/bin
  rm -rf "$bin"; mkdir -p "$bin"
  export GO111MODULE=off GOPATH="$CACHE/gopath:/usr/share/gocode" GOPROXY=off GOFLAGS=
  export GOCACHE=$CACHE/gocache
  cd "$src"
  local report=$bin/BUILD-REPORT built=0 failed=0 t
  : > "$report"
  # runtimetest runs inside the containers: static, as upstream's Makefile builds it.
  if CGO_ENABLED=0 go build -tags "netgo osusergo" -o "$bin/runtimetest" ./cmd/runtimetest 2> "$bin/runtimetest.err"; then
    echo "built runtimetest" >> "$report"
  else
    echo "NOT BUILT runtimetest: $(tr '\n' ' ' < "$bin/runtimetest.err")" >> "$report"
    cat "$bin/runtimetest.err" >&2
    die "runtimetest does not build: no validation program can run"
  fi
  cp rootfs-amd64.tar.gz "$bin/"
  for t in $(cd validation && ls -d */ | tr -d / | grep -v '^util$'); do
    if go build -o "$bin/$t.t" "./validation/$t" 2> "$bin/$t.err"; then
      built=$((built + 1)); echo "built $t" >> "$report"; rm -f "$bin/$t.err"
    else
      failed=$((failed + 1))
      echo "NOT BUILT $t: $(tr '\n' ' ' < "$bin/$t.err")" >> "$report"
    fi
  done
  echo "oci-validation/build: $built validation programs built, $failed not built (details: $report)"
  [ $failed = 0 ] || grep '^NOT BUILT' "$report" >&2
}

fetch_source
make_gopath
build_all
