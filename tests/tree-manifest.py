#!/usr/bin/env python3
# Print a canonical manifest of a directory tree, one line per entry:
#   PATH TYPE MODE UID GID SIZE CONTENT-SHA256|SYMLINK-TARGET XATTRS [HL]
# Options: --no-owner (omit uid/gid), --no-xattrs, --hardlinks (mark files
# with st_nlink > 1 as HL), --no-dir-meta (omit directory modes/owners),
# --strip-suid (mask setuid/setgid bits), --mode-mask=OCTAL.
import hashlib, os, stat, sys

def xattrs(path):
    try:
        names = sorted(n for n in os.listxattr(path, follow_symlinks=False)
                       if not n.startswith("security.selinux"))
    except OSError:
        return ""
    out = []
    for n in names:
        try:
            v = os.getxattr(path, n, follow_symlinks=False)
        except OSError:
            continue
        if n == "user.ostreemeta" or len(v) == 0:
            continue
        out.append("%s=%s" % (n, v.hex()))
    return ",".join(out)

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    opts = [a for a in sys.argv[1:] if a.startswith("--")]
    root = args[0]
    owner = "--no-owner" not in opts
    want_x = "--no-xattrs" not in opts
    hl = "--hardlinks" in opts
    dirmeta = "--no-dir-meta" not in opts
    mask = 0o7777
    for o in opts:
        if o.startswith("--mode-mask="):
            mask = int(o.split("=", 1)[1], 8)
    if "--strip-suid" in opts:
        mask &= ~0o6000
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames) + ([""] if dirpath == root else []):
            p = os.path.join(dirpath, name) if name else dirpath
            rel = "/" + os.path.relpath(p, root) if name else "/"
            rel = rel.replace("/./", "/") if rel != "/." else "/"
            st = os.lstat(p)
            m = stat.S_IMODE(st.st_mode) & mask
            if stat.S_ISDIR(st.st_mode):
                t, what, size = "d", "-", 0
                if not dirmeta:
                    lines.append("%s d" % rel)
                    continue
            elif stat.S_ISLNK(st.st_mode):
                t, what, size, m = "l", os.readlink(p), 0, 0o777
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
                t, size = "f", st.st_size
            else:
                t, what, size = "?", "-", 0
            own = "%d %d" % (st.st_uid, st.st_gid) if owner else "- -"
            x = xattrs(p) if want_x else ""
            flag = " HL" if (hl and t == "f" and st.st_nlink > 1) else ""
            lines.append("%s %s %04o %s %d %s [%s]%s" % (rel, t, m, own, size, what, x, flag))
    for l in sorted(lines):
        print(l)

main()
