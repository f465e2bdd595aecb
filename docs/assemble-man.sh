#!/bin/sh
# Assemble docs/cairn.1 from its sections (run after editing a *.in part).
cd "$(dirname "$0")"
{
  cat cairn.1.head.in
  for part in sign import pull registry mount; do
    [ -f cairn.1.$part.in ] || continue
    # a part made only of subsections gets its section heading here
    if [ $part = sign ] && ! grep -q '^\.SH' cairn.1.$part.in; then echo '.SH SIGNING AND REMOTES'; fi
    cat cairn.1.$part.in
  done
  cat cairn.1.tail.in
} > cairn.1
