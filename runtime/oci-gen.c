/* cairn-launch: update, events, features and spec.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * update takes linux.resources as JSON (--resources FILE, "-" for stdin) or
 * runc's flags (--memory, --cpu-quota, --pids-limit, ...) and writes them to
 * the running container's cgroups with the same code as create.
 * events prints the container's cgroup figures in runc's shape
 * ({"type":"stats","id":...,"data":{"cpu":...,"memory":...,"pids":...}}),
 * once with --stats, else every --interval and an "oom" event when the
 * kernel's OOM killer acted in the container's memory cgroup.
 * features prints what this runtime supports (the runtime-spec's
 * features.md document); spec writes a starting config.json.
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "runtime/json.h"
#include "runtime/oci.h"

static int
open_locked (const char *id, int how, struct oci_state *st)
{
  _cleanup_close_ int rootfd = oci_root_open (false);
  return oci_state_open (rootfd, id, how, st);
}

/* ---- update -------------------------------------------------------------------------- */
enum
{
  U_RES = 1,
  U_MEM,
  U_MEMRES,
  U_MEMSWAP,
  U_KMEM,
  U_KMEMTCP,
  U_SHARES,
  U_QUOTA,
  U_PERIOD,
  U_RTPERIOD,
  U_RTRUNTIME,
  U_CPUS,
  U_MEMS,
  U_PIDS,
  U_BLKIO,
  U_IDLE,
  U_L3,
  U_MEMBW,
};

static int
size_arg (const char *s, int64_t *out)
{
  long long v;
  if (strcmp (s, "-1") == 0)
    {
      *out = -1;
      return 0;
    }
  if (parse_size (s, &v) < 0)
    return -EINVAL;
  *out = v;
  return 0;
}

static int
num_arg (const char *s, int64_t *out)
{
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (errno || *end || end == s)
    return -EINVAL;
  *out = v;
  return 0;
}

static int
update_flag (int opt, const char *arg, struct oci_resources *r)
{
  int64_t v = 0;
  int e = 0;
  switch (opt)
    {
    case U_MEM:
      e = size_arg (arg, &r->mem_limit);
      r->has_mem_limit = true;
      break;
    case U_MEMRES:
      e = size_arg (arg, &r->mem_reservation);
      r->has_mem_reservation = true;
      break;
    case U_MEMSWAP:
      e = size_arg (arg, &r->mem_swap);
      r->has_mem_swap = true;
      break;
    case U_KMEM:
      e = size_arg (arg, &r->mem_kernel);
      r->has_mem_kernel = true;
      break;
    case U_KMEMTCP:
      e = size_arg (arg, &r->mem_kernel_tcp);
      r->has_mem_kernel_tcp = true;
      break;
    case U_SHARES:
    case U_PERIOD:
    case U_RTPERIOD:
    case U_BLKIO:
      e = num_arg (arg, &v);
      e = e == 0 && v < 0 ? -EINVAL : e;
      if (opt == U_SHARES)
        r->shares = (uint64_t)v, r->has_shares = true;
      else if (opt == U_PERIOD)
        r->period = (uint64_t)v, r->has_period = true;
      else if (opt == U_RTPERIOD)
        r->rt_period = (uint64_t)v, r->has_rt_period = true;
      else
        r->blkio_weight = (uint16_t)v, r->has_blkio_weight = true;
      break;
    case U_QUOTA:
      e = num_arg (arg, &r->quota);
      r->has_quota = true;
      break;
    case U_RTRUNTIME:
      e = num_arg (arg, &r->rt_runtime);
      r->has_rt_runtime = true;
      break;
    case U_IDLE:
      e = num_arg (arg, &r->idle);
      r->has_idle = true;
      break;
    case U_PIDS:
      e = num_arg (arg, &r->pids);
      r->has_pids = true;
      break;
    case U_CPUS:
      r->cpus = arg;
      break;
    case U_MEMS:
      r->mems = arg;
      break;
    default:
      return launch_fail (ENOTSUP,
                          "Intel RDT (--l3-cache-schema, --mem-bw-schema) is not "
                          "supported by cairn-launch",
                          NULL);
    }
  return e < 0 ? launch_fail (EINVAL, "update: invalid value", arg) : 0;
}

static int
read_resources (const char *path, struct json **doc, struct oci_resources *r)
{
  if (strcmp (path, "-") == 0)
    {
      struct jbuf b = { 0 };
      char buf[4096];
      ssize_t n;
      while ((n = read (STDIN_FILENO, buf, sizeof buf)) > 0)
        jb_mem (&b, buf, (size_t)n);
      const char *err;
      size_t off;
      *doc = b.p ? json_parse (b.p, b.len, &err, &off) : NULL;
      jb_free (&b);
      if (!*doc)
        return launch_fail (EINVAL, "update --resources -: invalid JSON on stdin", NULL);
    }
  else if (!(*doc = json_parse_file (AT_FDCWD, path, 1 << 20)))
    return -EINVAL;
  return oci_parse_resources (*doc, r);
}

int
oci_cmd_update (int argc, char **argv)
{
  static const struct option opts[] = {
    { "resources", required_argument, NULL, U_RES },
    { "r", required_argument, NULL, U_RES },
    { "memory", required_argument, NULL, U_MEM },
    { "memory-reservation", required_argument, NULL, U_MEMRES },
    { "memory-swap", required_argument, NULL, U_MEMSWAP },
    { "kernel-memory", required_argument, NULL, U_KMEM },
    { "kernel-memory-tcp", required_argument, NULL, U_KMEMTCP },
    { "cpu-shares", required_argument, NULL, U_SHARES },
    { "cpu-quota", required_argument, NULL, U_QUOTA },
    { "cpu-period", required_argument, NULL, U_PERIOD },
    { "cpu-rt-period", required_argument, NULL, U_RTPERIOD },
    { "cpu-rt-runtime", required_argument, NULL, U_RTRUNTIME },
    { "cpuset-cpus", required_argument, NULL, U_CPUS },
    { "cpuset-mems", required_argument, NULL, U_MEMS },
    { "pids-limit", required_argument, NULL, U_PIDS },
    { "blkio-weight", required_argument, NULL, U_BLKIO },
    { "cpu-idle", required_argument, NULL, U_IDLE },
    { "l3-cache-schema", required_argument, NULL, U_L3 },
    { "mem-bw-schema", required_argument, NULL, U_MEMBW },
    { NULL, 0, NULL, 0 },
  };
  struct oci_resources res;
  struct json *doc = NULL;
  const char *file = NULL;
  memset (&res, 0, sizeof res);
  optind = 1;
  opterr = 0;
  int opt, r = 0;
  while (r == 0 && (opt = getopt_long (argc, argv, "+r:", opts, NULL)) != -1)
    {
      if (opt == '?' || opt == ':')
        return oci_usage_err ("update", "unknown option or missing argument");
      if (opt == U_RES || opt == 'r')
        file = optarg;
      else
        r = update_flag (opt, optarg, &res);
    }
  if (r < 0)
    return oci_report (r);
  if (optind != argc - 1)
    return oci_usage_err ("update", "usage: update [--resources FILE|-] [FLAGS] ID");
  if (file && (r = read_resources (file, &doc, &res)) < 0)
    return oci_report (r);
  struct oci_state st;
  int dfd = open_locked (argv[optind], LOCK_EX, &st);
  if (dfd < 0)
    r = dfd;
  else if (oci_state_status (dfd, &st) == ST_STOPPED)
    r = launch_fail (ESRCH, "container is not running", argv[optind]);
  else
    r = oci_cgroups_apply (&res, &st.cg);
  if (dfd >= 0)
    {
      oci_state_clear (&st);
      close (dfd);
    }
  json_free (doc);
  return r < 0 ? oci_report (r) : 0;
}

/* ---- events ---------------------------------------------------------------------------- */
static unsigned long long
oom_kills (const struct oci_cgroups *cg)
{
  const char *d = oci_cgroups_dir (cg, "memory");
  char path[4096], buf[512];
  if (!d)
    return 0;
  snprintf (path, sizeof path, "%s/%s", d, cg->mode == 2 ? "memory.events" : "memory.oom_control");
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  char *p = strstr (buf, "oom_kill ");
  return p ? strtoull (p + 9, NULL, 10) : 0;
}

int
oci_cmd_events (int argc, char **argv)
{
  bool once = false;
  long interval = 5;
  const char *id = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--stats"))
        once = true;
      else if (!strncmp (argv[i], "--interval", 10))
        {
          const char *v = argv[i][10] == '=' ? argv[i] + 11 : i + 1 < argc ? argv[++i] : "";
          interval = strtol (v, NULL, 10);
          if (interval <= 0)
            return oci_usage_err ("events", "--interval needs a positive number of seconds");
        }
      else if (!id)
        id = argv[i];
    }
  if (!id)
    return oci_usage_err ("events", "usage: events [--stats] [--interval N] ID");
  unsigned long long ooms = 0;
  for (bool first = true;; first = false)
    {
      struct oci_state st;
      int dfd = open_locked (id, LOCK_SH, &st);
      if (dfd < 0)
        return first ? oci_report (dfd) : 0;
      enum oci_status s = oci_state_status (dfd, &st);
      close (dfd);
      if (s == ST_STOPPED)
        {
          oci_state_clear (&st);
          if (first)
            return oci_report (launch_fail (ESRCH, "container is not running", id));
          return 0;
        }
      struct jbuf b = { 0 };
      unsigned long long o = oom_kills (&st.cg);
      if (!first && o > ooms)
        {
          jb_raw (&b, "{\"type\":\"oom\",\"id\":");
          jb_str (&b, id);
          jb_raw (&b, "}\n");
        }
      ooms = o;
      jb_raw (&b, "{\"type\":\"stats\",\"id\":");
      jb_str (&b, id);
      jb_raw (&b, ",\"data\":");
      oci_cgroups_stats (&st.cg, &b);
      jb_raw (&b, "}\n");
      fputs (b.p, stdout);
      fflush (stdout);
      jb_free (&b);
      oci_state_clear (&st);
      if (once)
        return 0;
      struct timespec ts = { interval, 0 };
      nanosleep (&ts, NULL);
    }
}

/* ---- features ------------------------------------------------------------------------------- */
static void
str_list (struct jbuf *b, const char *const *v, size_t n)
{
  jb_raw (b, "[");
  for (size_t i = 0; i < n; i++)
    {
      if (i)
        jb_raw (b, ",");
      jb_str (b, v[i]);
    }
  jb_raw (b, "]");
}

int
oci_cmd_features (int argc, char **argv)
{
  (void)argv;
  if (argc != 1)
    return oci_usage_err ("features", "takes no argument");
  static const char *const hooks[] = { "prestart",       "createRuntime", "createContainer",
                                       "startContainer", "poststart",     "poststop" };
  static const char *const mopts[]
      = { "async",        "atime",         "bind",       "defaults",     "dev",
          "diratime",     "dirsync",       "exec",       "idmap",        "iversion",
          "lazytime",     "loud",          "mand",       "noatime",      "nodev",
          "nodiratime",   "noexec",        "noiversion", "nolazytime",   "nomand",
          "norelatime",   "nostrictatime", "nosuid",     "nosymfollow",  "notmpcopyup",
          "private",      "rbind",         "rdev",       "rdiratime",    "relatime",
          "remount",      "rexec",         "ridmap",     "rnoatime",     "rnodev",
          "rnodiratime",  "rnoexec",       "rnosuid",    "rnosymfollow", "ro",
          "rprivate",     "rro",           "rrw",        "rshared",      "rslave",
          "rstrictatime", "rsuid",         "rsymfollow", "runbindable",  "rw",
          "shared",       "silent",        "slave",      "strictatime",  "suid",
          "symfollow",    "sync",          "tmpcopyup",  "unbindable" };
  static const char *const ns[] = { "cgroup", "ipc", "mount", "network", "pid", "user", "uts" };
  static const char *const acts[]
      = { "SCMP_ACT_ALLOW",        "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
          "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
          "SCMP_ACT_NOTIFY",       "SCMP_ACT_TRACE",       "SCMP_ACT_TRAP" };
  static const char *const ops[]
      = { "SCMP_CMP_EQ", "SCMP_CMP_GE",        "SCMP_CMP_GT", "SCMP_CMP_LE",
          "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE" };
  static const char *const archs[] = { "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",  "SCMP_ARCH_PPC64LE",
                                       "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
                                       "SCMP_ARCH_X32",     "SCMP_ARCH_X86",  "SCMP_ARCH_X86_64" };
  static const char *const flags[] = { "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                       "SECCOMP_FILTER_FLAG_TSYNC" };
  struct jbuf b = { 0 };
  jb_raw (&b, "{\n  \"ociVersionMin\": \"1.0.0\",\n  \"ociVersionMax\": \"1.1.0\",\n  \"hooks\": ");
  str_list (&b, hooks, 6);
  jb_raw (&b, ",\n  \"mountOptions\": ");
  str_list (&b, mopts, sizeof mopts / sizeof mopts[0]);
  jb_raw (&b, ",\n  \"linux\": {\n    \"namespaces\": ");
  str_list (&b, ns, 7);
  jb_raw (&b, ",\n    \"capabilities\": [");
  for (int c = 0; c <= caps_last_cap (); c++)
    {
      _cleanup_free_ char *n = xasprintf ("CAP_%s", caps_name (c));
      jb_raw (&b, c ? "," : "");
      jb_str (&b, n);
    }
  jb_raw (&b, "],\n    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false, "
              "\"systemdUser\": false, \"rdma\": false},\n    \"seccomp\": {\"enabled\": true, "
              "\"actions\": ");
  str_list (&b, acts, sizeof acts / sizeof acts[0]);
  jb_raw (&b, ", \"operators\": ");
  str_list (&b, ops, sizeof ops / sizeof ops[0]);
  jb_raw (&b, ", \"archs\": ");
  str_list (&b, archs, sizeof archs / sizeof archs[0]);
  jb_raw (&b, ", \"knownFlags\": ");
  str_list (&b, flags, 3);
  jb_raw (&b, ", \"supportedFlags\": ");
  str_list (&b, flags, 3);
  struct stat st;
  jb_printf (
      &b,
      "},\n    \"apparmor\": {\"enabled\": %s},\n    \"selinux\": {\"enabled\": false},\n"
      "    \"intelRdt\": {\"enabled\": false},\n    \"mountExtensions\": {\"idmap\": "
      "{\"enabled\": true}}\n  },\n  \"annotations\": {\"org.cairn.launch.version\": \"%s\"}\n}\n",
      stat ("/sys/kernel/security/apparmor", &st) == 0 ? "true" : "false", PACKAGE_VERSION);
  fputs (b.p, stdout);
  jb_free (&b);
  return fflush (stdout) == 0 ? 0 : 1;
}

/* ---- spec -------------------------------------------------------------------------------- */
static const char spec_head[]
    = "{\n"
      "  \"ociVersion\": \"1.1.0\",\n"
      "  \"process\": {\n"
      "    \"terminal\": true,\n"
      "    \"user\": {\"uid\": 0, \"gid\": 0},\n"
      "    \"args\": [\"sh\"],\n"
      "    \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", "
      "\"TERM=xterm\"],\n"
      "    \"cwd\": \"/\",\n"
      "    \"capabilities\": {\n"
      "      \"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
      "      \"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
      "      \"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]\n"
      "    },\n"
      "    \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],\n"
      "    \"noNewPrivileges\": true\n"
      "  },\n"
      "  \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
      "  \"hostname\": \"cairn\",\n"
      "  \"mounts\": [\n"
      "    {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
      "    {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", "
      "\"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},\n";

static const char spec_devpts_root[]
    = "    {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", "
      "\"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", "
      "\"gid=5\"]},\n";
static const char spec_devpts_user[]
    = "    {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", "
      "\"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", "
      "\"mode=0620\"]},\n";

static const char spec_mid[]
    = "    {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\", "
      "\"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},\n"
      "    {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\", "
      "\"options\": [\"nosuid\", \"noexec\", \"nodev\"]},\n";

static const char spec_sys_root[]
    = "    {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", "
      "\"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},\n"
      "    {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\", "
      "\"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}\n  ],\n";
static const char spec_sys_user[]
    = "    {\"destination\": \"/sys\", \"type\": \"none\", \"source\": \"/sys\", "
      "\"options\": [\"rbind\", \"nosuid\", \"noexec\", \"nodev\", \"ro\"]}\n  ],\n";

static const char spec_linux_tail[]
    = "    \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\", "
      "\"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\", "
      "\"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"],\n"
      "    \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", "
      "\"/proc/sysrq-trigger\"]\n  }\n}\n";

int
oci_cmd_spec (int argc, char **argv)
{
  const char *bundle = ".";
  bool rootless = false;
  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--rootless"))
        rootless = true;
      else if ((!strcmp (argv[i], "--bundle") || !strcmp (argv[i], "-b")) && i + 1 < argc)
        bundle = argv[++i];
      else if (!strncmp (argv[i], "--bundle=", 9))
        bundle = argv[i] + 9;
      else
        return oci_usage_err ("spec", "usage: spec [--rootless] [--bundle DIR]");
    }
  struct jbuf b = { 0 };
  jb_raw (&b, spec_head);
  jb_raw (&b, rootless ? spec_devpts_user : spec_devpts_root);
  jb_raw (&b, spec_mid);
  jb_raw (&b, rootless ? spec_sys_user : spec_sys_root);
  jb_raw (&b, "  \"linux\": {\n");
  if (rootless)
    jb_printf (&b,
               "    \"uidMappings\": [{\"containerID\": 0, \"hostID\": %lu, \"size\": 1}],\n"
               "    \"gidMappings\": [{\"containerID\": 0, \"hostID\": %lu, \"size\": 1}],\n",
               (unsigned long)geteuid (), (unsigned long)getegid ());
  else
    jb_raw (&b, "    \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n");
  jb_printf (
      &b,
      "    \"namespaces\": [{\"type\": \"pid\"}, %s{\"type\": \"ipc\"}, {\"type\": \"uts\"}, "
      "{\"type\": \"mount\"}, {\"type\": \"cgroup\"}%s],\n",
      rootless ? "" : "{\"type\": \"network\"}, ", rootless ? ", {\"type\": \"user\"}" : "");
  jb_raw (&b, spec_linux_tail);
  _cleanup_free_ char *path = xasprintf ("%s/config.json", bundle);
  _cleanup_close_ int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  int r = 0;
  if (fd < 0)
    r = launch_fail (errno, errno == EEXIST ? "config.json already exists" : "cannot create", path);
  else if (write (fd, b.p, b.len) != (ssize_t)b.len)
    r = launch_fail (errno ? errno : EIO, "cannot write", path);
  jb_free (&b);
  return r < 0 ? oci_report (r) : 0;
}
