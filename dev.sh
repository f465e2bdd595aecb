#!/bin/bash
# cairn developer entry point (Debian 12, as root).
#   ./dev.sh demo    install what is missing, build, run the main job
#   ./dev.sh test    install what is missing, build, run the whole test suite
#   ./dev.sh build   install what is missing and build only
#   ./dev.sh bench [SCENARIO...]   build and run the benchmarks (not part of test)
#   ./dev.sh vm      the launcher tests in a QEMU (TCG) VM with the i386 entry
#                    (tests/vm/i386-tcg.sh; slow, not part of test)
#   ./dev.sh cleanroot [-- CMD...]   .ci/run (or CMD) on a clean Debian 12
#                    minbase root, a clone of HEAD (tests/ci/clean-root.sh)
# The build is out of tree in _build/. Set CAIRN_NO_INSTALL=1 to skip apt-get.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"

BUILD_DEPS="build-essential autoconf automake libtool pkg-config libglib2.0-dev libarchive-dev
 libgpgme-dev libgpg-error-dev libfuse3-dev libseccomp-dev libssl-dev libcurl4-openssl-dev zlib1g-dev
 libdeflate-dev libzstd-dev liblzma-dev"
RUN_DEPS="fuse3 gnupg busybox-static squashfs-tools passt"
TEST_DEPS="ostree attr python3 util-linux strace iproute2 openssh-server openssh-client umoci skopeo podman docker-registry zstd xz-utils bzip2 python3-gi flatpak openssl git
 bubblewrap crun rsync procps psmisc curl clang clang-format libclang-rt-14-dev
 runc podman conmon catatonit containernetworking-plugins fuse-overlayfs slirp4netns uidmap containerd
 golang-go golang-github-opencontainers-specs-dev golang-github-opencontainers-selinux-dev
 golang-github-opencontainers-runtime-tools-dev golang-github-google-uuid-dev golang-github-blang-semver-dev
 golang-github-hashicorp-go-multierror-dev golang-github-mrunalp-fileutils-dev golang-github-sirupsen-logrus-dev
 golang-gocapability-dev golang-github-urfave-cli-dev golang-github-xeipuuv-gojsonschema-dev
 golang-golang-x-sys-dev golang-github-stretchr-testify-dev erofs-utils fsverity kmod"
BENCH_DEPS="debootstrap hyperfine time nginx-light"
# tests/vm/i386-tcg.sh only (the i386 entry in a software-emulated VM; not CI):
# ./dev.sh vm installs them and runs it.
VM_DEPS="qemu-system-x86 e2fsprogs debootstrap"

install_deps() {
  [ "${CAIRN_NO_INSTALL:-0}" = 1 ] && return 0
  local want="$BUILD_DEPS $RUN_DEPS $TEST_DEPS $*" missing=""
  for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "dev.sh: missing packages:$missing (run as root to install them)" >&2; exit 1
  fi
  echo "dev.sh: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() {
  if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
    ./autogen.sh >/dev/null
  fi
  mkdir -p _build
  if [ ! -f _build/Makefile ] || [ configure -nt _build/config.status ]; then
    (cd _build && ../configure -q ${CAIRN_CONFIGURE_FLAGS:-})
  fi
  make -C _build -j"$(nproc)" -s >/dev/null
  make -C _build -j"$(nproc)" -s check_PROGRAMS= >/dev/null
}

case "${1:-}" in
  demo)  install_deps; build; exec "$top/tests/demo.sh" "$top/_build" ;;
  test)  install_deps; build; exec "$top/tests/run-suite.sh" "$top/_build" ;;
  build) install_deps; build ;;
  vm)    install_deps $VM_DEPS; exec "$top/tests/vm/i386-tcg.sh" ;;
  cleanroot) shift; exec "$top/tests/ci/clean-root.sh" "$@" ;;
  bench) install_deps $BENCH_DEPS; build; shift; CAIRN_TOP_BUILDDIR="$top/_build" exec "$top/tests/bench/run.sh" "$@" ;;
  *) echo "usage: $0 demo|test|build|vm|bench [SCENARIO...]|cleanroot [-- CMD...]" >&2; exit 2 ;;
esac
