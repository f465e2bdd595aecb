# tests/fixtures-import-oci.sh — build a real OCI image with umoci (sourced).
#
# make_oci_image DIR TAG: DIR becomes an OCI layout with image TAG:
#   layer 1 (umoci repack): etc/gone, etc/stay, hl (hardlink to etc/stay),
#           sl -> etc/stay, keep/k, opq/old, opq/sub/old2, a setuid file
#   layer 2 (umoci repack): deletes etc/gone and opq/* (umoci writes .wh.*)
#           and adds opq/new
#   layer 3 (GNU tar, added with `umoci raw add-layer`): an opaque whiteout
#           opq/.wh..wh..opq plus opq/fresh, and keep/k2
#   config: Entrypoint, Cmd, Env, WorkingDir, User (umoci config)
# `umoci unpack` of the result is the reference tree.
make_oci_image() {
  local dir=$1 tag=$2 work
  work=$(mktemp -d "${TMPDIR:-/tmp}/oci-fixture.XXXXXX")
  umoci init --layout "$dir"
  umoci new --image "$dir:$tag"
  umoci unpack --image "$dir:$tag" "$work/b1" >/dev/null
  ( cd "$work/b1/rootfs"
    mkdir -p etc opq/sub keep
    echo a > etc/gone; echo b > etc/stay; echo c > opq/old; echo d > opq/sub/old2; echo k > keep/k
    printf 'suid\n' > suid; chmod 04755 suid
    ln -s etc/stay sl; ln etc/stay hl )
  umoci repack --image "$dir:$tag" "$work/b1"
  umoci unpack --image "$dir:$tag" "$work/b2" >/dev/null
  ( cd "$work/b2/rootfs"; rm etc/gone; rm -rf opq; mkdir opq; echo n > opq/new )
  umoci repack --image "$dir:$tag" "$work/b2"
  mkdir -p "$work/l3/opq" "$work/l3/keep"
  : > "$work/l3/opq/.wh..wh..opq"
  echo fresh > "$work/l3/opq/fresh"
  echo k2 > "$work/l3/keep/k2"
  tar --numeric-owner --owner=0 --group=0 -C "$work/l3" -cf "$work/l3.tar" opq keep
  umoci raw add-layer --image "$dir:$tag" "$work/l3.tar"
  umoci config --image "$dir:$tag" --config.entrypoint /bin/sh --config.cmd -c --config.cmd 'echo hi' \
    --config.env FOO=bar --config.env 'PATH=/usr/bin:/bin' --config.workingdir /keep --config.user 1000:1000
  rm -rf "$work"
}
