/* cairn-launch: --print-oci-config, the config.json that the launcher's own
 * options mean.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   cairn-launch --print-oci-config [OPTIONS] ROOTFS [--] CMD [ARG...]
 *
 * prints a config.json with which `cairn-launch run --bundle DIR ID` gives
 * the container that `cairn-launch [OPTIONS] ROOTFS CMD` gives, so that
 * `cairn run` can become a client of the OCI path with no second copy of the
 * policy.  The mapping, option by option:
 *
 *   ROOTFS             root.path (absolute), root.readonly true
 *   CMD ARG...         process.args
 *   (environment)      process.env: the caller's environment, unless
 *   --env K=V          --clear-env, then each --env in order
 *   --clear-env
 *   --workdir DIR      process.cwd (default /)
 *   --user UID[:GID]   process.user; a non-root uid gets empty effective and
 *                      permitted sets, as the launcher does
 *   --hostname NAME    hostname
 *   --net none|private a network namespace (loopback only)
 *   --net host         none
 *   --net ns:PATH      the network namespace at PATH, joined
 *   --net pasta        a network namespace, and a createRuntime hook that
 *   --pasta-arg ARG    runs pasta(1) --config-net -q ARG... PID on it
 *                      through this binary (--pasta-hook, main.c)
 *   --tty              process.terminal
 *   --bind S:D[:ro]    mounts: bind, rbind, nosuid, nodev (+ ro)
 *   --tmpfs D          mounts: tmpfs, nosuid, nodev, mode=1777
 *   --memory SIZE      linux.resources.memory.limit, swap = limit (no swap)
 *   --pids N           linux.resources.pids.limit
 *   --cpus F           linux.resources.cpu.quota = F * 100000, period 100000
 *   --cpu-weight N     linux.resources.cpu.shares, the launcher's conversion
 *   --cap-add/--cap-drop  process.capabilities bounding, effective, permitted
 *                      (inheritable and ambient empty), noNewPrivileges true
 *   --seccomp default  linux.seccomp: the default profile for those
 *                      capabilities (--print-seccomp-profile); FILE: that
 *                      profile; unconfined: none
 *   --rootless         a user namespace mapping the caller to UID (or 0)
 *   --init             this binary bound read-only at /dev/init, pid 1 as
 *                      "/dev/init --container-init CMD..." (init.c)
 *   --writable         annotation org.cairn.rootfs.overlay: the root is an
 *   --overlay-ro       overlay of root.path whose upper and work layers are
 *   --overlay-upper D  in D (--oci-run: the bundle's "overlay"), so that
 *                      missing mount points are made in the upper layer,
 *                      never in ROOTFS; root.readonly unless --writable
 *   --annotation K=V   annotations
 *   (always)           new pid, mount, ipc, uts and cgroup namespaces; /proc,
 *                      /dev (tmpfs, devpts, shm, mqueue), /sys read-only,
 *                      /sys/fs/cgroup read-only; the launcher's masked and
 *                      read-only /proc paths and /sys/firmware
 *
 * Differences that remain: without --init an OCI container's pid 1 is its
 * command, as with runc (the launcher's own form adds a reaper unless the
 * command looks like an init); --writable/--overlay-ro need a directory for
 * the overlay's layers (--overlay-upper, or the bundle under --oci-run).
 * /sys/fs/cgroup shows every v1 hierarchy the OCI container is in (it has a
 * cgroup of its own in each, as with runc), the launcher's form only those
 * of its limits (in the others it is in the launcher's cgroup, whose
 * subtree it must not see); all read-only.  The default profile's ENOSYS
 * answer for system calls newer than libseccomp has no JSON form: the OCI
 * path recognises the default profile instead (seccomp_policy_is_default)
 * and compiles it as the launcher does.
 */
#include "config.h"

#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/stat.h>

#include "runtime/json.h"
#include "runtime/oci.h"

extern char **environ;

static void
caps_list (struct jbuf *b, uint64_t set)
{
  jb_raw (b, "[");
  bool first = true;
  for (int c = 0; c < 64; c++)
    if (set & (1ULL << c))
      {
        _cleanup_free_ char *n = xasprintf ("CAP_%s", caps_name (c));
        jb_raw (b, first ? "" : ", ");
        jb_str (b, n);
        first = false;
      }
  jb_raw (b, "]");
}

static void
env_list (struct jbuf *b, const struct launch_config *cfg)
{
  jb_raw (b, "[");
  bool first = true;
  for (char **e = environ; !cfg->clear_env && e && *e; e++)
    {
      if (!strchr (*e, '='))
        continue;
      size_t kl = (size_t)(strchr (*e, '=') - *e) + 1;
      bool overridden = false;
      for (size_t i = 0; i < cfg->n_env_add; i++)
        overridden |= strncmp (cfg->env_add[i], *e, kl) == 0;
      if (overridden)
        continue;
      jb_raw (b, first ? "" : ", ");
      jb_str (b, *e);
      first = false;
    }
  for (size_t i = 0; i < cfg->n_env_add; i++)
    {
      bool later = false;
      size_t kl = (size_t)(strchr (cfg->env_add[i], '=') - cfg->env_add[i]) + 1;
      for (size_t k = i + 1; k < cfg->n_env_add; k++)
        later |= strncmp (cfg->env_add[k], cfg->env_add[i], kl) == 0;
      if (later)
        continue;
      jb_raw (b, first ? "" : ", ");
      jb_str (b, cfg->env_add[i]);
      first = false;
    }
  jb_raw (b, "]");
}

static void
process (struct jbuf *b, const struct launch_config *cfg)
{
  jb_raw (b, "  \"process\": {\n    \"terminal\": ");
  jb_raw (b, cfg->tty ? "true" : "false");
  jb_printf (b, ",\n    \"user\": {\"uid\": %lu, \"gid\": %lu},\n    \"args\": ",
             (unsigned long)(cfg->user_set ? cfg->uid : 0),
             (unsigned long)(cfg->user_set ? cfg->gid : 0));
  size_t n = 0;
  while (cfg->argv[n])
    n++;
  jb_raw (b, cfg->init == INIT_YES ? "[\"" OCI_INIT_PATH "\", \"--container-init\"" : "[");
  for (size_t i = 0; i < n; i++)
    {
      jb_raw (b, i || cfg->init == INIT_YES ? ", " : "");
      jb_str (b, cfg->argv[i]);
    }
  jb_raw (b, "]");
  jb_raw (b, ",\n    \"env\": ");
  env_list (b, cfg);
  jb_raw (b, ",\n    \"cwd\": ");
  jb_str (b, cfg->workdir);
  uint64_t eff = cfg->user_set && cfg->uid != 0 ? 0 : cfg->caps;
  jb_raw (b, ",\n    \"capabilities\": {\"bounding\": ");
  caps_list (b, cfg->caps);
  jb_raw (b, ", \"effective\": ");
  caps_list (b, eff);
  jb_raw (b, ", \"permitted\": ");
  caps_list (b, eff);
  jb_raw (b, "},\n    \"noNewPrivileges\": true\n  },\n");
}

static void
mounts (struct jbuf *b, const struct launch_config *cfg, const char *self)
{
  jb_raw (b, "  \"mounts\": [\n"
             "    {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\", "
             "\"options\": [\"nosuid\", \"nodev\", \"noexec\"]},\n"
             "    {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", "
             "\"options\": [\"nosuid\", \"noexec\", \"strictatime\", \"mode=755\", \"size=64k\", "
             "\"ro\"]},\n"
             "    {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", "
             "\"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", "
             "\"mode=0620\"");
  jb_raw (b, cfg->rootless ? "]},\n" : ", \"gid=5\"]},\n");
  jb_raw (b, "    {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", "
             "\"options\": [\"nosuid\", \"nodev\", \"noexec\", \"mode=1777\", \"size=65536k\"]},\n"
             "    {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\", "
             "\"options\": [\"nosuid\", \"nodev\", \"noexec\"]},\n");
  if (cfg->init == INIT_YES)
    {
      /* read-only and busy while it runs: the container cannot replace the
       * binary through /proc/1/exe (CVE-2019-5736) */
      jb_raw (b, "    {\"destination\": \"" OCI_INIT_PATH "\", \"type\": \"bind\", \"source\": ");
      jb_str (b, self);
      jb_raw (b, ", \"options\": [\"bind\", \"ro\", \"nosuid\", \"nodev\"]},\n");
    }
  if (cfg->rootless && cfg->net_host)
    jb_raw (b, "    {\"destination\": \"/sys\", \"type\": \"bind\", \"source\": \"/sys\", "
               "\"options\": [\"rbind\", \"nosuid\", \"nodev\", \"noexec\", \"ro\"]}");
  else
    jb_raw (b, "    {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", "
               "\"options\": [\"nosuid\", \"nodev\", \"noexec\", \"ro\"]},\n"
               "    {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": "
               "\"cgroup\", \"options\": [\"nosuid\", \"nodev\", \"noexec\", \"ro\"]}");
  for (size_t i = 0; i < cfg->n_binds; i++)
    {
      jb_raw (b, ",\n    {\"destination\": ");
      jb_str (b, cfg->binds[i].dst);
      jb_raw (b, ", \"type\": \"bind\", \"source\": ");
      jb_str (b, cfg->binds[i].src);
      jb_raw (b, cfg->binds[i].ro ? ", \"options\": [\"rbind\", \"nosuid\", \"nodev\", \"ro\"]}"
                                  : ", \"options\": [\"rbind\", \"nosuid\", \"nodev\"]}");
    }
  for (size_t i = 0; i < cfg->n_tmpfs; i++)
    {
      jb_raw (b, ",\n    {\"destination\": ");
      jb_str (b, cfg->tmpfs[i]);
      jb_raw (b, ", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"nosuid\", "
                 "\"nodev\", \"mode=1777\"]}");
    }
  jb_raw (b, "\n  ],\n");
}

static void
resources (struct jbuf *b, const struct launch_config *cfg)
{
  jb_raw (b, "    \"resources\": {");
  bool first = true;
  if (cfg->memory)
    {
      /* no swap, where the kernel accounts it (as the launcher does) */
      struct statfs sf;
      bool swap = access ("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0
                  || (statfs ("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC);
      jb_printf (b, "\"memory\": {\"limit\": %lld", cfg->memory);
      if (swap)
        jb_printf (b, ", \"swap\": %lld", cfg->memory);
      jb_raw (b, "}");
      first = false;
    }
  if (cfg->pids)
    {
      jb_printf (b, "%s\"pids\": {\"limit\": %lld}", first ? "" : ", ", cfg->pids);
      first = false;
    }
  if (cfg->cpus > 0 || cfg->cpu_weight)
    {
      jb_printf (b, "%s\"cpu\": {", first ? "" : ", ");
      if (cfg->cpus > 0)
        jb_printf (b, "\"quota\": %lld, \"period\": 100000%s",
                   (long long)(cfg->cpus * 100000.0 + 0.5), cfg->cpu_weight ? ", " : "");
      if (cfg->cpu_weight)
        jb_printf (b, "\"shares\": %ld", 2 + ((cfg->cpu_weight - 1) * 262142L) / 9999);
      jb_raw (b, "}");
      first = false;
    }
  /* The launcher's root is nodev; root.readonly cannot say so.  Where the
   * devices controller exists (v1), deny every device but the defaults
   * instead: no node of the image can be opened either way. */
  if (access ("/sys/fs/cgroup/devices/devices.allow", F_OK) == 0)
    jb_printf (b, "%s\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]", first ? "" : ", ");
  jb_raw (b, "},\n");
}

static int
seccomp_json (struct jbuf *b, const struct launch_config *cfg)
{
  if (strcmp (cfg->seccomp, "unconfined") == 0)
    return 0;
  size_t start = b->len;
  jb_raw (b, "    \"seccomp\": ");
  size_t off = b->len;
  int r = seccomp_print_profile_buf (cfg, b);
  if (r < 0)
    {
      b->len = start;
      if (b->p)
        b->p[start] = '\0';
      return r;
    }
  if (b->len > off && b->p[b->len - 1] == '\n')
    b->p[--b->len] = '\0';
  size_t n = b->len - off;
  jb_raw (b, ",\n");
  if (strcmp (cfg->seccomp, "default") == 0)
    oci_handoff = (struct oci_config_handoff){ .sc_off = off, .sc_len = n, .caps = cfg->caps };
  return 0;
}

static void
namespaces (struct jbuf *b, const struct launch_config *cfg)
{
  jb_raw (b,
          "    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}, {\"type\": \"ipc\"}, "
          "{\"type\": \"uts\"}, {\"type\": \"cgroup\"}");
  if (cfg->net_ns_path)
    {
      jb_raw (b, ", {\"type\": \"network\", \"path\": ");
      jb_str (b, cfg->net_ns_path);
      jb_raw (b, "}");
    }
  else if (!cfg->net_host)
    jb_raw (b, ", {\"type\": \"network\"}");
  if (cfg->rootless)
    jb_raw (b, ", {\"type\": \"user\"}");
  jb_raw (b, "],\n");
  if (cfg->rootless)
    jb_printf (b,
               "    \"uidMappings\": [{\"containerID\": %lu, \"hostID\": %lu, \"size\": 1}],\n"
               "    \"gidMappings\": [{\"containerID\": %lu, \"hostID\": %lu, \"size\": 1}],\n",
               (unsigned long)(cfg->user_set ? cfg->uid : 0), (unsigned long)geteuid (),
               (unsigned long)(cfg->user_set ? cfg->gid : 0), (unsigned long)getegid ());
}

/* The absolute path of PROG in $PATH, as execvp would find it, or NULL.
 * Not resolved further: pasta is a link to passt, which looks at its name. */
static char *
find_in_path (const char *prog)
{
  const char *path = getenv ("PATH");
  for (const char *p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;)
    {
      size_t n = strcspn (p, ":");
      char *cand = xasprintf ("%.*s/%s", (int)n, p, prog);
      if (cand[0] == '/' && access (cand, X_OK) == 0)
        return cand;
      free (cand);
      p += n + (p[n] == ':');
    }
  return NULL;
}

/* pasta joins the container's network (and user) namespace once it exists:
 * a createRuntime hook, which gets the state (with the pid) on stdin and
 * which this binary turns into "pasta ARGS... PID" (--pasta-hook, pasta.c);
 * the poststop hook ends it. */
static int
hooks (struct jbuf *b, const struct launch_config *cfg, const char *self)
{
  if (!cfg->net_pasta)
    return 0;
  _cleanup_free_ char *pasta = find_in_path ("pasta");
  if (!pasta)
    return launch_fail (ENOENT, "--net=pasta: pasta is not installed (Debian's passt package)",
                        NULL);
  jb_raw (b, "  \"hooks\": {\"createRuntime\": [{\"path\": ");
  jb_str (b, self);
  jb_raw (b, ", \"args\": [");
  jb_str (b, self);
  jb_raw (b, ", \"--pasta-hook\", ");
  jb_str (b, pasta);
  jb_raw (b, ", \"--config-net\", \"--quiet\"");
  for (size_t i = 0; i < cfg->n_pasta_args; i++)
    {
      jb_raw (b, ", ");
      jb_str (b, cfg->pasta_args[i]);
    }
  jb_raw (b, "]}], \"poststop\": [{\"path\": ");
  jb_str (b, self);
  jb_raw (b, ", \"args\": [");
  jb_str (b, self);
  jb_raw (b, ", \"--pasta-hook\", \"--stop\"]}]},\n");
  return 0;
}

static void
annotations (struct jbuf *b, const struct launch_config *cfg, const char *overlay)
{
  if (!overlay && !cfg->n_annotations)
    return;
  jb_raw (b, "  \"annotations\": {");
  bool first = true;
  if (overlay)
    {
      jb_raw (b, "\"" OCI_OVERLAY_ANNOTATION "\": ");
      jb_str (b, overlay);
      first = false;
    }
  for (size_t i = 0; i < cfg->n_annotations; i++)
    {
      const char *a = cfg->annotations[i];
      size_t kl = (size_t)(strchr (a, '=') - a) + 1;
      bool later = overlay && strncmp (a, OCI_OVERLAY_ANNOTATION "=", kl) == 0;
      for (size_t k = i + 1; k < cfg->n_annotations; k++)
        later |= strncmp (cfg->annotations[k], a, kl) == 0;
      if (later)
        continue;
      char *key = xasprintf ("%.*s", (int)kl - 1, a);
      jb_raw (b, first ? "" : ", ");
      jb_str (b, key);
      jb_raw (b, ": ");
      jb_str (b, a + kl);
      free (key);
      first = false;
    }
  jb_raw (b, "},\n");
}

/* Absolute paths: the rootfs, the bind sources, the overlay's directory. */
static int
resolve_paths (struct launch_config *cfg, const char *overlay_dir, char **out_root,
               char **out_overlay)
{
  *out_root = canon_path (cfg->rootfs);
  if (!*out_root)
    return launch_fail (errno, "ROOTFS is not a directory", cfg->rootfs);
  for (size_t i = 0; i < cfg->n_binds; i++)
    {
      char *s = canon_path (cfg->binds[i].src);
      if (!s)
        return launch_fail (errno, "bind source not found", cfg->binds[i].src);
      cfg->binds[i].src = s;
    }
  *out_overlay = NULL;
  if (!cfg->writable && !cfg->overlay_ro)
    return 0;
  const char *dir = cfg->overlay_upper ? cfg->overlay_upper : overlay_dir;
  if (!dir)
    return launch_fail (
        EINVAL, "--writable/--overlay-ro need --overlay-upper=DIR for the overlay's layers", NULL);
  *out_overlay = canon_path (dir);
  if (!*out_overlay)
    return launch_fail (errno, "the overlay's directory", dir);
  return 0;
}

/* This executable by the launcher's own name, for what the container runs
 * of it (the pasta hook, /dev/init): `cairn` is a second name of the same
 * file (cli/front.c), and by that name it would be the front end. */
static char *
self_path (void)
{
  char *self = canon_path ("/proc/self/exe");
  char *slash = self ? strrchr (self, '/') : NULL;
  if (!slash || strcmp (slash + 1, "cairn") != 0)
    return self;
  char *launcher = xasprintf ("%.*s/cairn-launch", (int)(slash - self), self);
  struct stat a, b;
  if (stat (launcher, &a) == 0 && stat (self, &b) == 0 && a.st_dev == b.st_dev
      && a.st_ino == b.st_ino)
    {
      free (self);
      return launcher;
    }
  free (launcher);
  return self;
}

int
oci_config_generate (struct launch_config *cfg, const char *overlay_dir, struct jbuf *b)
{
  _cleanup_free_ char *root = NULL, *overlay = NULL;
  _cleanup_free_ char *self = self_path ();
  if (!self)
    return launch_fail (errno, "finding this binary (/proc/self/exe)", NULL);
  if (cfg->writable && cfg->overlay_ro)
    return launch_fail (EINVAL, "--writable and --overlay-ro exclude each other", NULL);
  int r = resolve_paths (cfg, overlay_dir, &root, &overlay);
  if (r < 0)
    return r;
  cfg->caps &= caps_available (cfg->rootless, caps_last_cap ());
  jb_raw (b, "{\n  \"ociVersion\": \"1.1.0\",\n");
  process (b, cfg);
  jb_raw (b, "  \"root\": {\"path\": ");
  jb_str (b, root);
  jb_raw (b, cfg->writable ? ", \"readonly\": false},\n" : ", \"readonly\": true},\n");
  if (cfg->hostname)
    {
      jb_raw (b, "  \"hostname\": ");
      jb_str (b, cfg->hostname);
      jb_raw (b, ",\n");
    }
  mounts (b, cfg, self);
  if ((r = hooks (b, cfg, self)) < 0)
    return r;
  annotations (b, cfg, overlay);
  jb_raw (b, "  \"linux\": {\n");
  namespaces (b, cfg);
  resources (b, cfg);
  if ((r = seccomp_json (b, cfg)) < 0)
    return r;
  jb_raw (b, "    \"maskedPaths\": [\"/proc/kcore\", \"/proc/keys\", \"/proc/timer_list\", "
             "\"/proc/sched_debug\", \"/proc/latency_stats\", \"/proc/timer_stats\", "
             "\"/proc/acpi\", \"/proc/scsi\", \"/proc/asound\", \"/proc/key-users\", "
             "\"/sys/firmware\"],\n"
             "    \"readonlyPaths\": [\"/proc/sys\", \"/proc/sysrq-trigger\", \"/proc/irq\", "
             "\"/proc/bus\", \"/proc/fs\"]\n  }\n}\n");
  return 0;
}

int
oci_print_config (int argc, char **argv)
{
  struct launch_config cfg;
  int r = launch_parse_options (argc, argv, &cfg);
  if (r != 0)
    return r > 0 ? 0 : 2;
  struct jbuf b = { 0 };
  r = oci_config_generate (&cfg, NULL, &b);
  if (r < 0)
    {
      jb_free (&b);
      const char *ctx = launch_errctx ();
      fprintf (stderr, "cairn-launch: %s%s%s%s: %s\n", launch_errmsg (), ctx ? " (" : "",
               ctx ? ctx : "", ctx ? ")" : "", strerror (-r));
      return EXIT_LAUNCH_ERROR;
    }
  fputs (b.p, stdout);
  jb_free (&b);
  return fflush (stdout) == 0 ? 0 : EXIT_LAUNCH_ERROR;
}
