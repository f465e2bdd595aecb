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
 *   --net none|host    a network namespace, or none
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
 *   (always)           new pid, mount, ipc, uts and cgroup namespaces; /proc,
 *                      /dev (tmpfs, devpts, shm, mqueue), /sys read-only,
 *                      /sys/fs/cgroup read-only; the launcher's masked and
 *                      read-only /proc paths and /sys/firmware
 *
 * Differences that remain, and are refused rather than dropped: --writable
 * and --overlay-upper (config.json has no overlay root; cairn run would
 * prepare the overlay itself) and --init (an OCI container's pid 1 is its
 * command, as with runc; the caller adds an init to the command).  One
 * that stays: /sys/fs/cgroup shows every v1 hierarchy the OCI container is
 * in (it has a cgroup of its own in each, as with runc), the launcher's
 * form only those of its limits (in the others it is in the launcher's
 * cgroup, whose subtree it must not see); all read-only.  The default
 * profile's ENOSYS answer for system calls newer than libseccomp has no
 * JSON form: the OCI path recognises the default profile instead
 * (seccomp_policy_is_default) and compiles it as the launcher does.
 */
#include "config.h"

#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>

#include "runtime/json.h"
#include "runtime/oci.h"

extern char **environ;

static void
list (struct jbuf *b, const char *const *v, size_t n)
{
  jb_raw (b, "[");
  for (size_t i = 0; i < n; i++)
    {
      jb_raw (b, i ? ", " : "");
      jb_str (b, v[i]);
    }
  jb_raw (b, "]");
}

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
  list (b, (const char *const *)cfg->argv, n);
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
mounts (struct jbuf *b, const struct launch_config *cfg)
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
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&text, &len);
  if (!f)
    return launch_fail (ENOMEM, "open_memstream", NULL);
  int r = seccomp_print_profile (cfg, f);
  fclose (f);
  if (r == 0)
    {
      jb_raw (b, "    \"seccomp\": ");
      jb_mem (b, text, len && text[len - 1] == '\n' ? len - 1 : len);
      jb_raw (b, ",\n");
    }
  free (text);
  return r;
}

static void
namespaces (struct jbuf *b, const struct launch_config *cfg)
{
  jb_raw (b,
          "    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}, {\"type\": \"ipc\"}, "
          "{\"type\": \"uts\"}, {\"type\": \"cgroup\"}");
  if (!cfg->net_host)
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

int
oci_print_config (int argc, char **argv)
{
  struct launch_config cfg;
  int r = launch_parse_options (argc, argv, &cfg);
  if (r != 0)
    return r > 0 ? 0 : 2;
  if (cfg.writable || cfg.overlay_upper)
    r = launch_fail (ENOTSUP, "--writable/--overlay-upper have no config.json equivalent", NULL);
  else if (cfg.init == INIT_YES)
    r = launch_fail (ENOTSUP, "--init has no config.json equivalent (the command is pid 1)", NULL);
  _cleanup_free_ char *root = r == 0 ? realpath (cfg.rootfs, NULL) : NULL;
  if (r == 0 && !root)
    r = launch_fail (errno, "ROOTFS is not a directory", cfg.rootfs);
  for (size_t i = 0; r == 0 && i < cfg.n_binds; i++)
    {
      char *s = realpath (cfg.binds[i].src, NULL);
      if (!s)
        r = launch_fail (errno, "bind source not found", cfg.binds[i].src);
      cfg.binds[i].src = s;
    }
  cfg.caps &= caps_available (cfg.rootless, caps_last_cap ());
  struct jbuf b = { 0 };
  jb_raw (&b, "{\n  \"ociVersion\": \"1.1.0\",\n");
  if (r == 0)
    {
      process (&b, &cfg);
      jb_raw (&b, "  \"root\": {\"path\": ");
      jb_str (&b, root);
      jb_raw (&b, ", \"readonly\": true},\n");
      if (cfg.hostname)
        {
          jb_raw (&b, "  \"hostname\": ");
          jb_str (&b, cfg.hostname);
          jb_raw (&b, ",\n");
        }
      mounts (&b, &cfg);
      jb_raw (&b, "  \"linux\": {\n");
      namespaces (&b, &cfg);
      resources (&b, &cfg);
      r = seccomp_json (&b, &cfg);
    }
  if (r < 0)
    {
      jb_free (&b);
      const char *ctx = launch_errctx ();
      fprintf (stderr, "cairn-launch: %s%s%s%s: %s\n", launch_errmsg (), ctx ? " (" : "",
               ctx ? ctx : "", ctx ? ")" : "", strerror (-r));
      return EXIT_LAUNCH_ERROR;
    }
  jb_raw (&b, "    \"maskedPaths\": [\"/proc/kcore\", \"/proc/keys\", \"/proc/timer_list\", "
              "\"/proc/sched_debug\", \"/proc/latency_stats\", \"/proc/timer_stats\", "
              "\"/proc/acpi\", \"/proc/scsi\", \"/proc/asound\", \"/proc/key-users\", "
              "\"/sys/firmware\"],\n"
              "    \"readonlyPaths\": [\"/proc/sys\", \"/proc/sysrq-trigger\", \"/proc/irq\", "
              "\"/proc/bus\", \"/proc/fs\"]\n  }\n}\n");
  fputs (b.p, stdout);
  jb_free (&b);
  return fflush (stdout) == 0 ? 0 : EXIT_LAUNCH_ERROR;
}
