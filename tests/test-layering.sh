#!/bin/bash
# The modules keep to the arrows of docs/ARCHITECTURE.md §1: the #include
# lines of every tracked .c/.h and the LIBADD/LDADD lines of the Makefiles
# (tests/check-layering.py). The checker is also shown to fail, on a copy of
# the real tree, for each kind of offence, naming the file and the header.
. "$(dirname "$0")/libtest.sh"

CHECK="$CAIRN_TOP_SRCDIR/tests/check-layering.py"

t_tree_keeps_to_the_arrows() {
  python3 "$CHECK" "$CAIRN_TOP_SRCDIR" > out 2>&1 || { cat out; exit 1; }
}

# The sources and Makefile fragments of the real tree, outside git (the
# checker then reads every file of the module directories).
copy_tree() {
  rm -rf tree; mkdir tree
  (cd "$CAIRN_TOP_SRCDIR" && for d in common store sign sync image checkout runtime cli tests; do
     find "$d" -name '*.[ch]'
   done; ls Makefile*.am) > list
  tar -C "$CAIRN_TOP_SRCDIR" -cf - -T list | tar -C tree -xf -
  python3 "$CHECK" tree > out 2>&1 || { echo "assert: the copy does not pass"; cat out; exit 1; }
}

# Add line $2 at the top of file $1 of the copy; the checker must fail and
# print the pattern $3.
expect_offence() {
  copy_tree
  { echo "$2"; cat "tree/$1"; } > tmp && mv tmp "tree/$1"
  if python3 "$CHECK" tree > out 2>&1; then echo "assert: accepted: $1: $2"; exit 1; fi
  assert_file_has_content out "$3"
}

t_checker_fails_on_each_offence() {
  expect_offence store/refs.c '#include "sign/cairn-sign.h"' \
    '^store/refs.c:1: store/ includes sign/cairn-sign.h, but store/ may not depend on sign/$'
  expect_offence store/commit.c '#include "sync/cairn-remote.h"' \
    'store/commit.c:1: store/ includes sync/cairn-remote.h, but store/ may not depend on sync/'
  expect_offence sign/sign.c '#include "store/cairn-store.h"' \
    'sign/sign.c:1: sign/ includes store/cairn-store.h, but sign/ may not depend on store/'
  expect_offence image/export.c '#include "sync/cairn-pull.h"' \
    'image/export.c:1: image/ includes sync/cairn-pull.h, but image/ may not depend on sync/'
  expect_offence checkout/checkout.c '#include "image/cairn-image.h"' \
    'checkout/checkout.c:1: checkout/ includes image/cairn-image.h, but checkout/ may not depend on image/'
  expect_offence common/fdio.c '#include "store/cairn-store.h"' \
    'common/fdio.c:1: common/ includes store/cairn-store.h, but common/ may not depend on store/'
  expect_offence runtime/main.c '#include "common/cairn-common.h"' \
    'runtime/main.c:1: runtime/ includes common/cairn-common.h, but runtime/ may not depend on common/'
  expect_offence runtime/util.c '#include <glib.h>' 'runtime/util.c:1: runtime/ includes GLib'
  expect_offence sync/pull.c '#include "store/store-private.h"' \
    'sync/pull.c:1: sync/ includes store/store-private.h, a header private to store/'
  expect_offence checkout/cache.c '#include "store/cairn-store-lowlevel.h"' \
    'checkout/cache.c:1: checkout/ includes store/cairn-store-lowlevel.h, which only image, sync may use'
  # the front end is linked into the launcher: plain C, no other module
  expect_offence cli/run-record.c '#include <glib.h>' \
    'cli/run-record.c:1: the front end (linked into cairn-launch) includes glib.h'
  expect_offence cli/front.c '#include "store/cairn-store.h"' \
    'cli/front.c:1: the front end (linked into cairn-launch) includes store/cairn-store.h'
}

# Replace $2 by $3 in Makefile fragment $1 of the copy; the checker must fail
# and print the pattern $4.
expect_link_offence() {
  copy_tree
  grep -q -e "$2" "tree/$1" || { echo "assert: tree/$1 lacks /$2/"; exit 1; }
  sed -i "s|$2|$3|" "tree/$1"
  if python3 "$CHECK" tree > out 2>&1; then echo "assert: accepted: $1: $3"; exit 1; fi
  assert_file_has_content out "$4"
}

t_checker_fails_on_each_link_offence() {
  expect_link_offence Makefile-store.am 'libcairn_store_la_LIBADD = ' \
    'libcairn_store_la_LIBADD = libcairn-sign.la ' \
    'Makefile-store.am: libcairn_store_la_LIBADD links libcairn-sign.la, but store/ may not depend on sign/'
  expect_link_offence Makefile-image.am 'libcairn_image_la_LIBADD = libcairn-store.la ' \
    'libcairn_image_la_LIBADD = ' \
    'Makefile-image.am: libcairn_image_la_LIBADD lacks the library of store/'
  expect_link_offence Makefile-cli.am 'cairn_core_LDADD = ' \
    'cairn_core_LDADD = libcairn-image.la ' \
    "Makefile-cli.am: cairn-core's link reaches \$(ARCHIVE_LIBS)"
  expect_link_offence Makefile-runtime.am '	cli/front.c' '	cli/front.c cli/cmd-ls.c' \
    'Makefile-runtime.am: cairn_launch is built from several modules: cli, runtime'
  expect_link_offence Makefile-sync.am 'libcairn_sync_la_LIBADD = ' \
    'libcairn_sync_la_LIBADD = libcairn-sync-http.la ' \
    "Makefile-cli.am: cairn-core's link reaches \$(CURL_LIBS)"
}

run_test "every #include and LIBADD/LDADD line keeps to the module arrows" t_tree_keeps_to_the_arrows
run_test "the layering check fails on each kind of forbidden include, naming file and header" t_checker_fails_on_each_offence
run_test "the layering check fails on forbidden and missing LIBADD/LDADD lines" t_checker_fails_on_each_link_offence
tests_done
