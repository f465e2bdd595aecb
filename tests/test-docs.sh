#!/bin/bash
# The repository explains itself: no tracked file outside docs/ cites a
# document that is not in the repository or a tracker number, and the
# relative links of README.md and docs/*.md resolve (tests/check-references.sh).
# The checker is also shown to fail on a tree that breaks each rule.
. "$(dirname "$0")/libtest.sh"

CHECK="$CAIRN_TOP_SRCDIR/tests/check-references.sh"

t_tree_is_self_contained() {
  "$CHECK" "$CAIRN_TOP_SRCDIR" > out 2>&1 || { cat out; exit 1; }
}

# A small git tree that passes, then each kind of offence added in turn.
make_tree() {
  rm -rf tree; mkdir -p tree/docs tree/src
  printf '# t\nsee [arch](docs/a.md)\n' > tree/README.md
  printf '# a\nback to [readme](../README.md), [code](../src/x.c#L1)\n' > tree/docs/a.md
  printf '/* see docs/a.md */\n' > tree/src/x.c
  git -C tree init -q && git -C tree add -A
}
t_checker_fails_on_each_offence() {
  require_cmd git
  make_tree
  "$CHECK" "$T/tree" > out 2>&1 || { cat out; echo "assert: clean tree refused"; exit 1; }
  local bad
  # (each string is split so that this file does not cite anything itself)
  for bad in '..''/shared/DESIGN.md' 'spec/ostree''-format.md' 'spec/runtime''-anchors.md' \
             'see iss''ue 12' 'Iss''ue #3' 'the spec'' §5.2'; do
    make_tree
    printf '/* %s */\n' "$bad" >> tree/src/x.c
    git -C tree add -A
    if "$CHECK" "$T/tree" > out 2>&1; then echo "assert: checker accepted '$bad'"; exit 1; fi
    assert_file_has_content out 'src/x.c:2'
  done
  # docs/ itself may discuss anything
  make_tree
  printf 'iss''ue 12 and ..''/shared\n' >> tree/docs/a.md
  git -C tree add -A
  "$CHECK" "$T/tree" > out 2>&1 || { cat out; echo "assert: docs/ content refused"; exit 1; }
  # a dead relative link, in README.md and in docs/
  make_tree
  printf '[gone](docs/nothing.md)\n' >> tree/README.md
  if "$CHECK" "$T/tree" > out 2>&1; then echo "assert: dead link accepted"; exit 1; fi
  assert_file_has_content out 'dead link: README.md:3: docs/nothing.md'
  make_tree
  printf '[gone](../src/missing.c)\n' >> tree/docs/a.md
  if "$CHECK" "$T/tree" > out 2>&1; then echo "assert: dead link accepted"; exit 1; fi
  assert_file_has_content out 'dead link: docs/a.md:3'
}

run_test "no tracked file outside docs/ cites outside documents or tracker numbers; doc links resolve" t_tree_is_self_contained
run_test "the reference check fails on each kind of offence and on a dead link" t_checker_fails_on_each_offence
tests_done
