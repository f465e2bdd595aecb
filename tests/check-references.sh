#!/bin/bash
# tests/check-references.sh [TOPDIR]: the tree explains itself.
#
# Fails (exit 1, one line per offence) when
#  - a tracked file outside docs/ refers to documents that are not part of
#    the repository (the sibling "shared" directory or its spec files) or
#    cites a tracker number ("issue" followed by a number), or cites "spec"
#    sections without naming a file of the repository;
#  - a relative link in README.md or docs/*.md does not resolve.
# The patterns are assembled from pieces so that this file does not match
# itself. Used by tests/test-docs.sh, which also proves that it fails.
set -uo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files)
else
  files=$(find . -type f ! -path './.git/*' ! -path './_build*' | sed 's|^\./||')
fi

dots='\.\.'
sect='§'
pat="${dots}/shared|spec/ostree-""format|spec/runtime-""anchors|(^|[^-a-z/])spec ${sect}|[Ii]ssues? #?[0-9]+"
bad=0
while IFS= read -r f; do
  case $f in docs/*) continue ;; esac
  [ -f "$f" ] || continue
  # binary files (corpora, images) cannot carry a citation a reader follows
  grep -Iq . "$f" 2>/dev/null || continue
  if out=$(grep -nEI -e "$pat" "$f"); then
    while IFS= read -r line; do
      echo "reference outside the repository: $f:$line"
    done <<<"$out"
    bad=1
  fi
done <<<"$files"

# Relative links of the Markdown documents must resolve.
for md in README.md docs/*.md; do
  [ -f "$md" ] || continue
  dir=$(dirname "$md")
  # [text](target) with the target up to ')' or a space (a title follows)
  grep -noE '\]\([^) ]+' "$md" | while IFS= read -r hit; do
    n=${hit%%:*}; target=${hit#*](}
    case $target in
      http://*|https://*|mailto:*|'#'*) continue ;;
    esac
    path=${target%%#*}
    [ -n "$path" ] || continue
    if [ ! -e "$dir/$path" ]; then
      echo "dead link: $md:$n: $target"
      echo x >> "$top/.check-references-dead.$$"
    fi
  done
done
if [ -f "$top/.check-references-dead.$$" ]; then rm -f "$top/.check-references-dead.$$"; bad=1; fi
exit $bad
