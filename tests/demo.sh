#!/bin/bash
# The main job, end to end: commit a small rootfs into the default repository,
# sign it with a freshly generated demo key, check it out, and run a confined
# container from the ref with limits — printing each step.
# Usage: tests/demo.sh BUILDDIR   (run by `./dev.sh demo`)
set -euo pipefail
B=$(cd "${1:-$(dirname "$0")/../_build}" && pwd)
export PATH="$B:$PATH"
CAIRN="$B/cairn"
W=$(mktemp -d /var/tmp/cairn-demo.XXXXXX)
export GNUPGHOME="$W/gnupg"
cleanup() {
  gpgconf --homedir "$GNUPGHOME" --kill all >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "cairn $($CAIRN --version | cut -d' ' -f2); default repository: $($CAIRN --help >/dev/null; echo ${CAIRN_REPO:-$( [ "$(id -u)" = 0 ] && echo /var/lib/cairn/repo || echo "${XDG_DATA_HOME:-$HOME/.local/share}/cairn/repo")})"
show $CAIRN init

step "Build a small rootfs (static busybox) in $W/rootfs"
R=$W/rootfs
mkdir -p $R/bin $R/etc $R/proc $R/dev $R/sys $R/tmp $R/root
cp "$(command -v busybox)" $R/bin/busybox
for a in $($R/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox $R/bin/$a; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > $R/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > $R/etc/group
echo "cairn demo rootfs" > $R/etc/motd
echo "$(find $R | wc -l) entries, $(du -sh $R | cut -f1)"

step "Generate a demo signing key (temporary GnuPG home, removed at exit)"
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key 'cairn demo <demo@cairn.invalid>' ed25519 sign 1d 2>/dev/null
KEY=$(gpg --batch --with-colons --list-secret-keys | awk -F: '/^fpr/{print $10; exit}')
gpg --batch --export "$KEY" > $W/demo.gpg
echo "key $KEY"

step "Commit the rootfs to demo/busybox, signed"
C=$(show $CAIRN commit -b demo/busybox -s 'busybox demo' --gpg-sign=$KEY --gpg-homedir="$GNUPGHOME" $R)
echo "$C"
show $CAIRN verify --keyring=$W/demo.gpg demo/busybox

step "Check it out: a hardlink farm, no data copied"
show $CAIRN checkout demo/busybox $W/checkout
n=$(stat -c %h $W/checkout/bin/busybox)
if [ "$n" -gt 1 ]; then echo "bin/busybox has $n links: the checkout shares its inode with the object store"; else echo "bin/busybox was copied (the checkout is on another filesystem than the repository)"; fi

step "Run a confined container from the signed ref (memory 64M, 32 pids, half a CPU)"
show $CAIRN run --require-signed --keyring=$W/demo.gpg --memory=64M --pids=32 --cpus=0.5 \
  --hostname=demo demo/busybox -- /bin/sh -c '
    echo "hello from $(hostname), I am $(id)"
    grep -E "^(Seccomp|NoNewPrivs|CapEff):" /proc/self/status
    echo "processes I can see: $(ls /proc | grep -c "^[0-9]")"
    echo "network interfaces: $(ls /sys/class/net | tr "\n" " ")"
    touch /etc/x 2>/dev/null && echo "root fs WRITABLE" || echo "root fs is read-only"
    cat /etc/motd'
echo "container exit status: $?"

step "An unsigned commit is refused under --require-signed"
echo changed >> $R/etc/motd
show $CAIRN commit -b demo/unsigned $R >/dev/null
if $CAIRN run --require-signed --keyring=$W/demo.gpg demo/unsigned -- /bin/true; then
  echo "ERROR: unsigned commit ran"; exit 1
else
  echo "(refused, as it should be)"
fi

step "The store is intact"
show $CAIRN fsck
