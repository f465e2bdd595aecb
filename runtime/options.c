/* cairn-launch: command-line parsing into struct launch_config.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/launch.h"

enum
{
  OPT_HOSTNAME = 1000,
  OPT_NET,
  OPT_USER,
  OPT_ENV,
  OPT_CLEAR_ENV,
  OPT_WORKDIR,
  OPT_BIND,
  OPT_TMPFS,
  OPT_TTY,
  OPT_INIT,
  OPT_NO_INIT,
  OPT_WRITABLE,
  OPT_OVERLAY_UPPER,
  OPT_MEMORY,
  OPT_PIDS,
  OPT_CPUS,
  OPT_CPU_WEIGHT,
  OPT_SECCOMP,
  OPT_CAP_ADD,
  OPT_CAP_DROP,
  OPT_ROOTLESS,
  OPT_PRINT_SECCOMP,
  OPT_PRINT_BPF,
  OPT_SECCOMP_CACHE,
  OPT_PASTA_ARG,
  OPT_ANNOTATION,
  OPT_OVERLAY_RO,
  OPT_HELP,
  OPT_VERSION,
};

static const struct option long_opts[] = {
  { "hostname", required_argument, NULL, OPT_HOSTNAME },
  { "net", required_argument, NULL, OPT_NET },
  { "user", required_argument, NULL, OPT_USER },
  { "env", required_argument, NULL, OPT_ENV },
  { "clear-env", no_argument, NULL, OPT_CLEAR_ENV },
  { "workdir", required_argument, NULL, OPT_WORKDIR },
  { "bind", required_argument, NULL, OPT_BIND },
  { "tmpfs", required_argument, NULL, OPT_TMPFS },
  { "tty", no_argument, NULL, OPT_TTY },
  { "init", no_argument, NULL, OPT_INIT },
  { "no-init", no_argument, NULL, OPT_NO_INIT },
  { "writable", no_argument, NULL, OPT_WRITABLE },
  { "overlay-upper", required_argument, NULL, OPT_OVERLAY_UPPER },
  { "memory", required_argument, NULL, OPT_MEMORY },
  { "pids", required_argument, NULL, OPT_PIDS },
  { "cpus", required_argument, NULL, OPT_CPUS },
  { "cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT },
  { "seccomp", required_argument, NULL, OPT_SECCOMP },
  { "seccomp-cache", required_argument, NULL, OPT_SECCOMP_CACHE },
  { "cap-add", required_argument, NULL, OPT_CAP_ADD },
  { "cap-drop", required_argument, NULL, OPT_CAP_DROP },
  { "rootless", no_argument, NULL, OPT_ROOTLESS },
  { "pasta-arg", required_argument, NULL, OPT_PASTA_ARG },
  { "annotation", required_argument, NULL, OPT_ANNOTATION },
  { "overlay-ro", no_argument, NULL, OPT_OVERLAY_RO },
  { "print-seccomp-profile", no_argument, NULL, OPT_PRINT_SECCOMP },
  { "print-seccomp-bpf", no_argument, NULL, OPT_PRINT_BPF },
  { "help", no_argument, NULL, OPT_HELP },
  { "version", no_argument, NULL, OPT_VERSION },
  { NULL, 0, NULL, 0 },
};

void
launch_usage (FILE *f)
{
  fputs ("Usage: cairn-launch [OPTIONS] ROOTFS [--] CMD [ARG...]\n"
         "       cairn-launch [--seccomp=...] [--cap-add/--cap-drop=...] --print-seccomp-profile\n"
         "       cairn-launch [--seccomp=...] [--cap-add/--cap-drop=...] --print-seccomp-bpf\n"
         "Run CMD in a new confined container whose root is the directory ROOTFS.\n\n"
         "  --hostname=NAME        --net=none|private|host --user=UID[:GID]\n"
         "  --env=K=V|K (repeat)   --clear-env            --workdir=DIR\n"
         "  --bind=SRC:DST[:ro]    --tmpfs=DST            --tty\n"
         "  --init / --no-init     --writable             --overlay-upper=DIR\n"
         "  OCI path only (--print-oci-config, --oci-run): --net=pasta|ns:PATH,\n"
         "  --pasta-arg=ARG, --annotation=K=V, --overlay-ro\n"
         "  --memory=SIZE          --pids=N               --cpus=FLOAT   --cpu-weight=N\n"
         "  --seccomp=default|unconfined|FILE             --seccomp-cache=DIR|none\n"
         "  --cap-add=CAP          --cap-drop=CAP|ALL     --rootless\n"
         "Exit status: the command's, 128+N if it was killed by signal N, 125 when\n"
         "cairn-launch fails, 126 when CMD cannot be executed, 127 when it is not found.\n"
         "See cairn-launch(1).\n",
         f);
}

static int
bad (const char *msg, const char *arg)
{
  fprintf (stderr, "cairn-launch: %s: '%s'\n", msg, arg);
  return -EINVAL;
}

static int
parse_id (const char *s, unsigned long *out)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul (s, &end, 10);
  if (errno || end == s || *end || *s == '-' || v >= (unsigned long)UINT32_MAX)
    return -EINVAL;
  *out = v;
  return 0;
}

static int
parse_user (struct launch_config *cfg, const char *arg)
{
  char buf[64];
  if (str_lcpy (buf, arg, sizeof buf) >= sizeof buf)
    return bad ("invalid --user", arg);
  char *colon = strchr (buf, ':');
  if (colon)
    *colon++ = '\0';
  unsigned long u, g;
  if (parse_id (buf, &u) < 0)
    return bad ("invalid --user (numeric UID[:GID] expected)", arg);
  g = u;
  if (colon && parse_id (colon, &g) < 0)
    return bad ("invalid --user (numeric UID[:GID] expected)", arg);
  cfg->user_set = true;
  cfg->uid = (uid_t)u;
  cfg->gid = (gid_t)g;
  return 0;
}

static int
parse_bind (struct launch_config *cfg, const char *arg)
{
  if (cfg->n_binds >= LAUNCH_MAX_MOUNTS)
    return bad ("too many --bind", arg);
  char *s = xstrdup (arg);
  char *dst = strchr (s, ':');
  if (!dst)
    return bad ("--bind needs SRC:DST[:ro]", arg);
  *dst++ = '\0';
  char *mode = strchr (dst, ':');
  bool ro = false;
  if (mode)
    {
      *mode++ = '\0';
      if (strcmp (mode, "ro") == 0)
        ro = true;
      else if (strcmp (mode, "rw") != 0)
        return bad ("--bind mode must be ro or rw", arg);
    }
  if (!*s || *dst != '/')
    return bad ("--bind needs a source and an absolute destination", arg);
  struct launch_bind *b = &cfg->binds[cfg->n_binds++];
  b->src = s;
  b->dst = dst;
  b->ro = ro;
  return 0;
}

/* none and private are the same: an own network namespace with loopback
 * only; pasta and ns:PATH are carried out by the OCI path (oci-print.c). */
static int
parse_net (struct launch_config *cfg, const char *arg)
{
  cfg->net_host = cfg->net_pasta = false;
  cfg->net_ns_path = NULL;
  if (!strcmp (arg, "host"))
    cfg->net_host = true;
  else if (!strcmp (arg, "pasta"))
    cfg->net_pasta = true;
  else if (!strncmp (arg, "ns:", 3) && arg[3] == '/')
    cfg->net_ns_path = arg + 3;
  else if (strcmp (arg, "none") && strcmp (arg, "private"))
    return bad ("--net must be none, private, host, pasta or ns:/PATH", arg);
  return 0;
}

/* K=V sets K; a bare K passes the launcher's own value of K, if it has one
 * (read now, so that the command line can be replayed: cli/run-record.h). */
static int
parse_env (struct launch_config *cfg, const char *arg)
{
  if (*arg == '=' || !*arg)
    return bad ("--env needs K=V or K", arg);
  if (!strchr (arg, '='))
    {
      const char *v = getenv (arg);
      if (!v)
        return 0;
      arg = xasprintf ("%s=%s", arg, v);
    }
  cfg->env_add = xrealloc (cfg->env_add, (cfg->n_env_add + 1) * sizeof (char *));
  cfg->env_add[cfg->n_env_add++] = (char *)arg;
  return 0;
}

static int
parse_cap (struct launch_config *cfg, const char *arg, bool add)
{
  if (!add && strcasecmp (arg, "ALL") == 0)
    {
      cfg->caps = 0;
      return 0;
    }
  if (add && strcasecmp (arg, "ALL") == 0)
    {
      cfg->caps = ~0ULL;
      return 0;
    }
  int c;
  if (caps_parse (arg, &c) < 0)
    return bad ("unknown capability", arg);
  if (add)
    cfg->caps |= 1ULL << c;
  else
    cfg->caps &= ~(1ULL << c);
  return 0;
}

static int
parse_number_opt (struct launch_config *cfg, int opt, const char *arg)
{
  char *end;
  errno = 0;
  switch (opt)
    {
    case OPT_MEMORY:
      if (parse_size (arg, &cfg->memory) < 0)
        return bad ("invalid --memory (SIZE like 256M)", arg);
      return 0;
    case OPT_PIDS:
      cfg->pids = strtoll (arg, &end, 10);
      if (errno || *end || end == arg || cfg->pids < 1)
        return bad ("invalid --pids (a positive integer)", arg);
      return 0;
    case OPT_CPUS:
      cfg->cpus = strtod (arg, &end);
      if (errno || *end || end == arg || !(cfg->cpus > 0.0) || cfg->cpus > 1e6 || isnan (cfg->cpus))
        return bad ("invalid --cpus (a positive number)", arg);
      return 0;
    default: /* OPT_CPU_WEIGHT */
      cfg->cpu_weight = strtol (arg, &end, 10);
      if (errno || *end || end == arg || cfg->cpu_weight < 1 || cfg->cpu_weight > 10000)
        return bad ("invalid --cpu-weight (1..10000)", arg);
      return 0;
    }
}

static int
handle_opt (struct launch_config *cfg, int opt, const char *arg)
{
  switch (opt)
    {
    case OPT_HOSTNAME:
      if (!*arg || strlen (arg) > 64)
        return bad ("invalid --hostname", arg);
      cfg->hostname = arg;
      return 0;
    case OPT_NET:
      return parse_net (cfg, arg);
    case OPT_USER:
      return parse_user (cfg, arg);
    case OPT_ENV:
      return parse_env (cfg, arg);
    case OPT_PASTA_ARG:
      cfg->pasta_args = xrealloc (cfg->pasta_args, (cfg->n_pasta_args + 1) * sizeof (char *));
      cfg->pasta_args[cfg->n_pasta_args++] = (char *)arg;
      return 0;
    case OPT_ANNOTATION:
      if (!strchr (arg, '=') || *arg == '=')
        return bad ("--annotation needs K=V", arg);
      cfg->annotations = xrealloc (cfg->annotations, (cfg->n_annotations + 1) * sizeof (char *));
      cfg->annotations[cfg->n_annotations++] = (char *)arg;
      return 0;
    case OPT_OVERLAY_RO:
      cfg->overlay_ro = true;
      return 0;
    case OPT_CLEAR_ENV:
      cfg->clear_env = true;
      return 0;
    case OPT_WORKDIR:
      if (*arg != '/')
        return bad ("--workdir must be absolute", arg);
      cfg->workdir = arg;
      return 0;
    case OPT_BIND:
      return parse_bind (cfg, arg);
    case OPT_TMPFS:
      if (*arg != '/' || cfg->n_tmpfs >= LAUNCH_MAX_MOUNTS)
        return bad ("invalid --tmpfs (absolute path expected)", arg);
      cfg->tmpfs[cfg->n_tmpfs++] = arg;
      return 0;
    case OPT_TTY:
      cfg->tty = true;
      return 0;
    case OPT_INIT:
      cfg->init = INIT_YES;
      return 0;
    case OPT_NO_INIT:
      cfg->init = INIT_NO;
      return 0;
    case OPT_WRITABLE:
      cfg->writable = true;
      return 0;
    case OPT_OVERLAY_UPPER:
      cfg->overlay_upper = arg;
      cfg->writable = true;
      return 0;
    case OPT_SECCOMP:
      cfg->seccomp = arg;
      return 0;
    case OPT_SECCOMP_CACHE:
      cfg->seccomp_cache = arg;
      return 0;
    case OPT_CAP_ADD:
      return parse_cap (cfg, arg, true);
    case OPT_CAP_DROP:
      return parse_cap (cfg, arg, false);
    case OPT_ROOTLESS:
      cfg->rootless = true;
      return 0;
    case OPT_PRINT_SECCOMP:
      cfg->print_profile = true;
      return 0;
    case OPT_PRINT_BPF:
      cfg->print_bpf = true;
      return 0;
    default:
      return parse_number_opt (cfg, opt, arg);
    }
}

/* Returns 0, 1 when --help/--version was handled, or -EINVAL (message
 * already printed). */
int
launch_parse_options (int argc, char **argv, struct launch_config *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->init = INIT_AUTO;
  cfg->seccomp = "default";
  cfg->workdir = "/";
  cfg->caps = caps_default_set ();
  cfg->rootless = geteuid () != 0;
  const char *e = getenv ("CAIRN_LAUNCH_NO_OPENAT2");
  cfg->no_openat2 = e && *e == '1';

  int opt;
  opterr = 0;
  while ((opt = getopt_long (argc, argv, "+h", long_opts, NULL)) != -1)
    {
      if (opt == 'h' || opt == OPT_HELP)
        {
          launch_usage (stdout);
          return 1;
        }
      if (opt == OPT_VERSION)
        {
          printf ("cairn-launch %s\n", PACKAGE_VERSION);
          return 1;
        }
      if (opt == '?' || opt == ':')
        return bad ("unknown option or missing argument", argv[optind - 1]);
      if (handle_opt (cfg, opt, optarg) < 0)
        return -EINVAL;
    }
  if (cfg->print_profile || cfg->print_bpf)
    return 0;
  if (optind >= argc)
    return bad ("missing ROOTFS", "");
  cfg->rootfs = argv[optind++];
  if (optind < argc && strcmp (argv[optind], "--") == 0)
    optind++;
  if (optind >= argc)
    return bad ("missing CMD", cfg->rootfs);
  cfg->argv = argv + optind;
  return 0;
}
