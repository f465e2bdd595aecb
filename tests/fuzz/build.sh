#!/bin/bash
# Build the libFuzzer targets of tests/fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) in an out-of-tree build directory
# of their own (default: build-fuzz/ at the top of the tree).
#   tests/fuzz/build.sh [BUILDDIR]
# The library modules are built by the ordinary Makefile with CC=clang; the
# launcher's sources (plain C, no libtool library) are compiled here.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bld=${1:-$top/build-fuzz}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "build.sh: $CC not found (apt-get install -y clang libclang-rt-14-dev)" >&2; exit 1; }
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 $SAN -fsanitize=fuzzer-no-link"
mkdir -p "$bld"
cd "$top"
[ -x configure ] || ./autogen.sh >/dev/null
if [ ! -f "$bld/Makefile" ] || [ configure -nt "$bld/config.status" ]; then
  (cd "$bld" && "$top/configure" -q CC="$CC" CFLAGS="$CFLAGS" LDFLAGS="$SAN")
fi
make -C "$bld" -s -j"$(nproc)" WARN_CFLAGS=-Wno-unused-parameter libcairn-common.la libcairn-sign.la libcairn-store.la libcairn-sync.la libcairn-sync-http.la libcairn-image.la >/dev/null

PKGS="glib-2.0 gio-2.0 gio-unix-2.0 libarchive gpgme libcrypto zlib libdeflate libcurl liblzma"
GLIBFLAGS=$(pkg-config --cflags $PKGS)
LIBS="$bld/.libs/libcairn-image.a $bld/.libs/libcairn-sync-http.a $bld/.libs/libcairn-sync.a $bld/.libs/libcairn-store.a $bld/.libs/libcairn-sign.a $bld/.libs/libcairn-common.a $(pkg-config --libs $PKGS)"
TCFLAGS="-g -O1 $SAN -fsanitize=fuzzer -I$top -I$bld -Wall -Wno-unused-parameter"
out="$bld/tests/fuzz"
mkdir -p "$out"

store_targets="fuzz-tar fuzz-metadata fuzz-summary fuzz-sync-serve fuzz-sync-pull fuzz-delta"
for t in $store_targets; do
  $CC $TCFLAGS $GLIBFLAGS -o "$out/$t" "$top/tests/fuzz/$t.c" "$top/tests/fuzz/fuzz-store.c" $LIBS -lpthread
done

# The launcher: the parsers and what they call, without main.c.
RT="options.c util.c caps.c seccomp.c seccomp-json.c json.c"
rtobjs=""
for f in $RT; do
  $CC -g -O1 $SAN -fsanitize=fuzzer-no-link -std=gnu11 -I"$top" -I"$bld" -c "$top/runtime/$f" -o "$out/rt-${f%.c}.o"
  rtobjs="$rtobjs $out/rt-${f%.c}.o"
done
for t in fuzz-seccomp-json fuzz-launch-options; do
  $CC $TCFLAGS -std=gnu11 -o "$out/$t" "$top/tests/fuzz/$t.c" $rtobjs -lseccomp -lm
done
# The OCI runtime's config.json reader links the whole launcher but main.c
# (oci-spec.c reports through oci-main.c, which dispatches every verb).
RT_OCI="resolve.c mounts.c cgroups.c child.c init.c monitor.c oci-main.c oci-spec.c oci-state.c
  oci-create.c oci-child.c oci-mounts.c oci-cgroup.c oci-exec.c oci-hooks.c oci-gen.c oci-print.c
  oci-devbpf.c"
ociobjs=""
for f in $RT_OCI; do
  $CC -g -O1 $SAN -fsanitize=fuzzer-no-link -std=gnu11 -I"$top" -I"$bld" -c "$top/runtime/$f" -o "$out/rt-${f%.c}.o"
  ociobjs="$ociobjs $out/rt-${f%.c}.o"
done
$CC $TCFLAGS -std=gnu11 -o "$out/fuzz-oci-config" "$top/tests/fuzz/fuzz-oci-config.c" $rtobjs $ociobjs \
  -lseccomp -lm
echo "fuzz targets in $out"
