/* cairn-launch: the OCI runtime command line (runc's and crun's).
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   cairn-launch [GLOBAL OPTIONS] VERB [OPTIONS] [ID]
 *
 * Global options as runc takes them (conmon and containerd-shim-runc-v2 call
 * the runtime exactly like runc): --root DIR, --log FILE, --log-format
 * text|json, --debug, --systemd-cgroup (refused: no systemd driver),
 * --rootless true|false|auto; cairn adds --seccomp-cache DIR|none.
 *
 * The command line is this form when the first word that is not a global
 * option is a verb, unless a directory of that name exists and no option
 * only the OCI form has (--root, --log, ...) came before it: the launcher's
 * own form (cairn-launch [OPTIONS] ROOTFS CMD) keeps its meaning (main.c).
 *
 * Errors go to stderr as "cairn-launch: MESSAGE" and, with --log, to that
 * file too (in runc's JSON shape with --log-format json: engines show the
 * "msg" of the last line when the runtime fails).
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "runtime/json.h"
#include "runtime/oci.h"

struct oci_global oci_g = { .rootless = -1 };

static const struct
{
  const char *name;
  int (*fn) (int, char **);
} verbs[] = {
  { "create", oci_cmd_create }, { "start", oci_cmd_start },       { "run", oci_cmd_run },
  { "exec", oci_cmd_exec },     { "state", oci_cmd_state },       { "kill", oci_cmd_kill },
  { "delete", oci_cmd_delete }, { "list", oci_cmd_list },         { "ps", oci_cmd_ps },
  { "pause", oci_cmd_pause },   { "resume", oci_cmd_resume },     { "update", oci_cmd_update },
  { "events", oci_cmd_events }, { "features", oci_cmd_features }, { "spec", oci_cmd_spec },
};

/* ---- logging ----------------------------------------------------------------------- */
static void
log_line (const char *level, const char *msg)
{
  if (!oci_g.log)
    return;
  int fd = open (oci_g.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  struct jbuf b = { 0 };
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r (&ts.tv_sec, &tm);
  char t[64];
  strftime (t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (oci_g.log_json)
    {
      jb_printf (&b, "{\"level\":\"%s\",\"msg\":", level);
      jb_str (&b, msg);
      jb_printf (&b, ",\"time\":\"%s\"}\n", t);
    }
  else
    jb_printf (&b, "time=\"%s\" level=%s msg=\"%s\"\n", t, level, msg);
  (void)!write (fd, b.p, b.len);
  jb_free (&b);
  close (fd);
}

static void
vlog (const char *level, bool to_stderr, const char *fmt, va_list ap)
{
  char msg[2048];
  vsnprintf (msg, sizeof msg, fmt, ap);
  if (to_stderr)
    fprintf (stderr, "cairn-launch: %s%s\n", strcmp (level, "warning") ? "" : "warning: ", msg);
  log_line (level, msg);
}

void
oci_log_error (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vlog ("error", true, fmt, ap);
  va_end (ap);
}

void
oci_log_warn (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vlog ("warning", oci_g.debug, fmt, ap);
  va_end (ap);
}

void
oci_log_debug (const char *fmt, ...)
{
  if (!oci_g.debug)
    return;
  va_list ap;
  va_start (ap, fmt);
  vlog ("debug", true, fmt, ap);
  va_end (ap);
}

int
oci_report (int r)
{
  const char *ctx = launch_errctx ();
  oci_log_error ("%s%s%s%s: %s", launch_errmsg (), ctx ? " (" : "", ctx ? ctx : "", ctx ? ")" : "",
                 strerror (-r));
  return 1;
}

/* ---- global options ------------------------------------------------------------------- */
static bool
in_user_namespace (void)
{
  char buf[128];
  int fd = open ("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  unsigned long a, b, c;
  return !(sscanf (buf, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL);
}

static void
resolve_globals (void)
{
  bool auto_rootless = geteuid () != 0 || in_user_namespace ();
  oci_g.is_rootless = oci_g.rootless < 0 ? auto_rootless : oci_g.rootless;
  if (oci_g.root)
    return;
  const char *x = getenv ("XDG_RUNTIME_DIR");
  if (geteuid () == 0 && !in_user_namespace ())
    oci_g.root = "/run/cairn-launch";
  else if (x && *x == '/')
    oci_g.root = xasprintf ("%s/cairn-launch", x);
  else
    oci_g.root = xasprintf ("/tmp/cairn-launch-%lu", (unsigned long)geteuid ());
}

enum
{
  G_ROOT = 1,
  G_LOG,
  G_LOG_FORMAT,
  G_DEBUG,
  G_SYSTEMD,
  G_ROOTLESS,
  G_SCCACHE,
  G_CRIU,
};

static int
global_opt (int opt, const char *arg, int argc, char **argv, int *i)
{
  switch (opt)
    {
    case G_ROOT:
      oci_g.root = arg;
      return 0;
    case G_LOG:
      oci_g.log = arg;
      return 0;
    case G_LOG_FORMAT:
      if (strcmp (arg, "json") && strcmp (arg, "text"))
        return -EINVAL;
      oci_g.log_json = strcmp (arg, "json") == 0;
      return 0;
    case G_DEBUG:
      oci_g.debug = true;
      return 0;
    case G_SYSTEMD:
      oci_g.systemd_cgroup = true;
      return 0;
    case G_SCCACHE:
      oci_g.seccomp_cache = arg;
      return 0;
    case G_CRIU:
      return 0;
    default: /* G_ROOTLESS: --rootless, --rootless=V or --rootless V */
      if (!arg && *i + 1 < argc
          && (!strcmp (argv[*i + 1], "true") || !strcmp (argv[*i + 1], "false")
              || !strcmp (argv[*i + 1], "auto")))
        arg = argv[++*i];
      oci_g.rootless = !arg || !strcmp (arg, "true") ? 1 : !strcmp (arg, "false") ? 0 : -1;
      return arg && strcmp (arg, "true") && strcmp (arg, "false") && strcmp (arg, "auto") ? -EINVAL
                                                                                          : 0;
    }
}

static const struct
{
  const char *name;
  int id;
  bool has_arg, oci_only;
} gopts[] = {
  { "root", G_ROOT, true, true },
  { "log", G_LOG, true, true },
  { "log-format", G_LOG_FORMAT, true, true },
  { "debug", G_DEBUG, false, true },
  { "systemd-cgroup", G_SYSTEMD, false, true },
  { "rootless", G_ROOTLESS, false, false },
  { "seccomp-cache", G_SCCACHE, true, false },
  { "criu", G_CRIU, true, true },
};

/* argv[*i] is a global option?  Consumes it (and its value); sets
 * *oci_only when only the OCI form has it. */
static int
take_global (int argc, char **argv, int *i, bool *oci_only, bool apply)
{
  const char *a = argv[*i];
  if (strncmp (a, "--", 2) != 0)
    return 0;
  a += 2;
  for (size_t k = 0; k < sizeof gopts / sizeof gopts[0]; k++)
    {
      size_t n = strlen (gopts[k].name);
      if (strncmp (a, gopts[k].name, n) != 0 || (a[n] != '\0' && a[n] != '='))
        continue;
      const char *val = a[n] == '=' ? a + n + 1 : NULL;
      if (gopts[k].has_arg && !val)
        {
          if (*i + 1 >= argc)
            return -EINVAL;
          val = argv[++*i];
        }
      *oci_only |= gopts[k].oci_only;
      if (apply && global_opt (gopts[k].id, val, argc, argv, i) < 0)
        return -EINVAL;
      if (!apply && gopts[k].id == G_ROOTLESS && !val && *i + 1 < argc
          && (!strcmp (argv[*i + 1], "true") || !strcmp (argv[*i + 1], "false")
              || !strcmp (argv[*i + 1], "auto")))
        ++*i;
      return 1;
    }
  return 0;
}

static int
find_verb (const char *w)
{
  for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
    if (strcmp (w, verbs[k].name) == 0)
      return (int)k;
  return -1;
}

int
oci_main (int argc, char **argv)
{
  bool oci_only = false;
  int i = 1;
  for (; i < argc; i++)
    {
      int t = take_global (argc, argv, &i, &oci_only, false);
      if (t < 0)
        break;
      if (t == 0)
        break;
    }
  if (i >= argc)
    return -1;
  int v = find_verb (argv[i]);
  struct stat st;
  if (v < 0 || (!oci_only && stat (argv[i], &st) == 0 && S_ISDIR (st.st_mode)))
    return -1;
  /* it is the OCI form: apply the global options for real */
  for (int k = 1; k < i; k++)
    if (take_global (argc, argv, &k, &oci_only, true) < 0)
      {
        fprintf (stderr, "cairn-launch: invalid global option '%s'\n", argv[k]);
        return 2;
      }
  resolve_globals ();
  if (oci_g.debug)
    {
      /* what the engine asked for and how it ended: the first thing to look
       * at when an engine reports a runtime failure */
      char cmd[1024];
      size_t n = 0;
      for (int k = i; k < argc && n < sizeof cmd - 1; k++)
        n += (size_t)snprintf (cmd + n, sizeof cmd - n, "%s%s", k > i ? " " : "", argv[k]);
      oci_log_debug ("%s (root %s%s)", cmd, oci_g.root, oci_g.is_rootless ? ", rootless" : "");
    }
  int rc = verbs[v].fn (argc - i, argv + i);
  oci_log_debug ("%s: exit status %d", verbs[v].name, rc);
  return rc;
}

/* ---- state, list ---------------------------------------------------------------------- */
int
oci_usage_err (const char *verb, const char *msg)
{
  oci_log_error ("%s: %s", verb, msg);
  return 2;
}

static int
open_locked (const char *id, int how, int *rootfd, struct oci_state *st)
{
  *rootfd = oci_root_open (false);
  return oci_state_open (*rootfd, id, how, st);
}

int
oci_cmd_state (int argc, char **argv)
{
  if (argc != 2)
    return oci_usage_err ("state", "exactly one container id is needed");
  int rootfd;
  struct oci_state st;
  int dfd = open_locked (argv[1], LOCK_SH, &rootfd, &st);
  if (dfd < 0)
    return oci_report (dfd);
  struct jbuf b = { 0 };
  oci_state_json (&st, oci_state_status (dfd, &st), &b, true);
  fputs (b.p, stdout);
  fputc ('\n', stdout);
  jb_free (&b);
  oci_state_clear (&st);
  close (dfd);
  close (rootfd);
  return fflush (stdout) == 0 ? 0 : 1;
}

static void
list_one (int rootfd, const char *id, bool json, bool quiet, int *count)
{
  int dfd = oci_state_lock (rootfd, id, LOCK_SH);
  struct oci_state st;
  if (dfd < 0 || oci_state_read (dfd, id, &st) < 0)
    {
      if (dfd >= 0)
        close (dfd);
      return;
    }
  enum oci_status s = oci_state_status (dfd, &st);
  if (quiet)
    printf ("%s\n", id);
  else if (json)
    {
      struct jbuf b = { 0 };
      oci_state_json (&st, s, &b, false);
      printf ("%s%s", (*count)++ ? "," : "", b.p);
      jb_free (&b);
    }
  else
    printf ("%-20s %-8ld %-10s %s\n", id, s == ST_STOPPED ? 0L : (long)st.pid, oci_status_name (s),
            st.bundle);
  oci_state_clear (&st);
  close (dfd);
}

int
oci_cmd_list (int argc, char **argv)
{
  bool json = false, quiet = false;
  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--format=json") || !strcmp (argv[i], "-fjson"))
        json = true;
      else if ((!strcmp (argv[i], "--format") || !strcmp (argv[i], "-f")) && i + 1 < argc)
        json = !strcmp (argv[++i], "json");
      else if (!strcmp (argv[i], "-q") || !strcmp (argv[i], "--quiet"))
        quiet = true;
      else if (strcmp (argv[i], "--format=table"))
        return oci_usage_err ("list", "usage: list [--format table|json] [--quiet]");
    }
  _cleanup_close_ int rootfd = oci_root_open (false);
  int count = 0;
  if (json)
    fputs ("[", stdout);
  else if (!quiet)
    printf ("%-20s %-8s %-10s %s\n", "ID", "PID", "STATUS", "BUNDLE");
  DIR *d = rootfd >= 0 ? opendir (oci_g.root) : NULL;
  for (struct dirent *e; d && (e = readdir (d));)
    if (e->d_name[0] != '.' && e->d_type == DT_DIR)
      list_one (rootfd, e->d_name, json, quiet, &count);
  if (d)
    closedir (d);
  if (json)
    fputs ("]\n", stdout);
  return fflush (stdout) == 0 ? 0 : 1;
}

/* ---- kill, delete --------------------------------------------------------------------- */
/* /proc/PID/status: the state letter, the signal masks and whether PID is
 * pid 1 of its pid namespace (the last NSpid field). */
static bool
sig_masks (pid_t pid, char *state, uint64_t *blk, uint64_t *ign, uint64_t *cgt, bool *ns_init)
{
  char path[64], buf[4096];
  snprintf (path, sizeof path, "/proc/%ld/status", (long)pid);
  _cleanup_close_ int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  const char *p;
  if (!(p = strstr (buf, "\nState:")) || sscanf (p + 7, " %c", state) != 1
      || !(p = strstr (buf, "\nSigBlk:")) || sscanf (p + 8, "%" SCNx64, blk) != 1
      || !(p = strstr (buf, "\nSigIgn:")) || sscanf (p + 8, "%" SCNx64, ign) != 1
      || !(p = strstr (buf, "\nSigCgt:")) || sscanf (p + 8, "%" SCNx64, cgt) != 1)
    return false;
  *ns_init = false;
  if ((p = strstr (buf, "\nNSpid:")))
    {
      const char *end = strchr (p + 1, '\n');
      const char *last = p + 7;
      for (const char *q = last; q && (!end || q < end); q = strchr (q + 1, '\t'))
        last = q;
      *ns_init = strtol (last, NULL, 10) == 1;
    }
  return true;
}

/* pid 1 of a pid namespace gets no signal it has no handler for
 * (pid_namespaces(7)): the kernel drops it at once.  A program that is
 * only starting (a shell about to run its `trap`) would lose a signal sent
 * right after `start`, which an engine or a user may well do.  So in the
 * first second after start, a signal is held until the program handles,
 * ignores or blocks it and has gone to sleep waiting for something (a
 * shell's `wait` after its `trap`: a trap run before `wait` starts does not
 * end the wait, sh(1p)), polled every 2 ms; it is sent anyway when the
 * second is over. */
#define KILL_GRACE_NS 1000000000LL
static void
hold_for_handler (const struct oci_state *st, int sig)
{
  if (!st->started_ns || sig == SIGKILL || sig == SIGSTOP || sig == SIGCONT || sig >= 64)
    return;
  uint64_t bit = 1ULL << (sig - 1);
  for (;;)
    {
      uint64_t blk, ign, cgt;
      bool ns_init;
      char state;
      if (!sig_masks (st->pid, &state, &blk, &ign, &cgt, &ns_init) || !ns_init
          || (((blk | ign | cgt) & bit) && state != 'R' && state != 'D'))
        return;
      struct timespec ts;
      clock_gettime (CLOCK_MONOTONIC, &ts);
      if ((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec - st->started_ns >= KILL_GRACE_NS)
        return;
      struct timespec d = { 0, 2000000 };
      nanosleep (&d, NULL);
    }
}

int
oci_cmd_kill (int argc, char **argv)
{
  bool all = false;
  const char *id = NULL, *sigs = "SIGTERM";
  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--all") || !strcmp (argv[i], "-a"))
        all = true;
      else if (!id)
        id = argv[i];
      else
        sigs = argv[i];
    }
  int sig;
  if (!id)
    return oci_usage_err ("kill", "usage: kill [--all] ID [SIGNAL]");
  if (oci_parse_signal (sigs, &sig) < 0)
    return oci_usage_err ("kill", "unknown signal");
  int rootfd;
  struct oci_state st;
  int dfd = open_locked (id, LOCK_SH, &rootfd, &st);
  if (dfd < 0)
    return oci_report (dfd);
  int r = 0;
  enum oci_status s = oci_state_status (dfd, &st);
  if (s == ST_STOPPED && !all)
    r = launch_fail (ESRCH, "container is not running", id);
  else if (all && st.cg.n)
    r = oci_cgroups_kill_all (&st.cg, sig);
  else if (s != ST_STOPPED)
    {
      if (s == ST_RUNNING)
        hold_for_handler (&st, sig);
      if (s == ST_RUNNING && !oci_pid_alive (st.pid, st.start_time))
        r = launch_fail (ESRCH, "container is not running", id);
      else if (kill (st.pid, sig) < 0)
        r = launch_fail (errno, "cannot signal the container", id);
    }
  oci_state_clear (&st);
  close (dfd);
  if (rootfd >= 0)
    close (rootfd);
  return r < 0 ? oci_report (r) : 0;
}

/* The init is not our child: wait for it to be gone (or a zombie). */
static void
wait_dead (const struct oci_state *st)
{
  for (int i = 0; i < 10000 && oci_pid_alive (st->pid, st->start_time); i++)
    {
      struct timespec ts = { 0, i < 100 ? 100000 : 1000000 };
      nanosleep (&ts, NULL);
    }
}

static void
run_poststop (int dirfd, struct oci_state *st)
{
  struct oci_spec s;
  if (st->hooks >= 0 && !(st->hooks & (1 << HOOK_POSTSTOP)))
    return;
  if (oci_spec_load_hooks (dirfd, &s) == 0 && s.n_hooks[HOOK_POSTSTOP])
    {
      struct jbuf b = { 0 };
      oci_state_json (st, ST_STOPPED, &b, false);
      oci_hooks_run_warn (&s, HOOK_POSTSTOP, b.p, "poststop");
      jb_free (&b);
    }
  oci_spec_free (&s);
}

int
oci_delete_container (int rootfd, const char *id, int dirfd, struct oci_state *st, bool force)
{
  enum oci_status s = oci_state_status (dirfd, st);
  if (s != ST_STOPPED && s != ST_CREATED && !force)
    return launch_fail (EBUSY, "cannot delete a container that is not stopped (use --force)", id);
  if (s != ST_STOPPED)
    {
      if (st->cg.n)
        oci_cgroups_kill_all (&st->cg, SIGKILL);
      if (oci_pid_alive (st->pid, st->start_time))
        kill (st->pid, SIGKILL);
      wait_dead (st);
    }
  /* leftovers of a pid 1 that died (only without a pid namespace of its
   * own) keep their cgroup busy: its removal kills what is in it and
   * tries again (runtime/oci-cgroup.c, rm_cg), so nothing is read before */
  int r = oci_cgroups_destroy (&st->cg);
  oci_unmount_shared (st);
  run_poststop (dirfd, st);
  int r2 = oci_state_remove_dir (rootfd, id, dirfd);
  return r < 0 ? r : r2;
}

int
oci_cmd_delete (int argc, char **argv)
{
  bool force = false;
  const char *id = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--force") || !strcmp (argv[i], "-f"))
        force = true;
      else if (!id && argv[i][0] != '-')
        id = argv[i];
      else
        return oci_usage_err ("delete", "usage: delete [--force] ID");
    }
  if (!id)
    return oci_usage_err ("delete", "usage: delete [--force] ID");
  int rootfd;
  struct oci_state st;
  int dfd = open_locked (id, LOCK_EX, &rootfd, &st);
  if (dfd < 0)
    {
      /* runc: --force on a container that is already gone is success (the
       * shims' cleanup deletes after the engine did); what a create killed
       * before its state was written left goes with it */
      if (force && dfd == -ENOENT)
        oci_state_remove_unborn (rootfd, id);
      if (rootfd >= 0)
        close (rootfd);
      return force && dfd == -ENOENT ? 0 : oci_report (dfd);
    }
  int r = oci_delete_container (rootfd, id, dfd, &st, force);
  oci_state_clear (&st);
  close (dfd);
  close (rootfd);
  return r < 0 ? oci_report (r) : 0;
}

/* ---- ps, pause, resume ------------------------------------------------------------------ */
int
oci_cmd_ps (int argc, char **argv)
{
  bool json = false;
  const char *id = NULL;
  for (int i = 1; i < argc; i++)
    {
      if (!strcmp (argv[i], "--format=json") || !strcmp (argv[i], "-fjson"))
        json = true;
      else if ((!strcmp (argv[i], "--format") || !strcmp (argv[i], "-f")) && i + 1 < argc)
        json = !strcmp (argv[++i], "json");
      else if (!id)
        id = argv[i];
    }
  if (!id)
    return oci_usage_err ("ps", "usage: ps [--format table|json] ID [-- PS OPTIONS]");
  int rootfd;
  struct oci_state st;
  int dfd = open_locked (id, LOCK_SH, &rootfd, &st);
  if (dfd < 0)
    return oci_report (dfd);
  pid_t *pids = NULL;
  size_t n = 0;
  int r = st.cg.n ? oci_cgroups_pids (&st.cg, &pids, &n) : 0;
  if (r == 0 && !st.cg.n && oci_pid_alive (st.pid, st.start_time))
    {
      pids = xrealloc (NULL, sizeof (pid_t));
      pids[0] = st.pid;
      n = 1;
    }
  if (r == 0 && json)
    {
      fputs ("[", stdout);
      for (size_t i = 0; i < n; i++)
        printf ("%s%ld", i ? "," : "", (long)pids[i]);
      fputs ("]\n", stdout);
    }
  else if (r == 0)
    {
      printf ("PID\n");
      for (size_t i = 0; i < n; i++)
        printf ("%ld\n", (long)pids[i]);
    }
  free (pids);
  oci_state_clear (&st);
  close (dfd);
  return r < 0 ? oci_report (r) : 0;
}

static int
pause_resume (int argc, char **argv, bool freeze)
{
  if (argc != 2)
    return oci_usage_err (freeze ? "pause" : "resume", "exactly one container id is needed");
  int rootfd;
  struct oci_state st;
  int dfd = open_locked (argv[1], LOCK_EX, &rootfd, &st);
  if (dfd < 0)
    return oci_report (dfd);
  enum oci_status s = oci_state_status (dfd, &st);
  int r = 0;
  if (freeze && s != ST_RUNNING && s != ST_CREATED)
    r = launch_fail (EINVAL, "only a running or created container can be paused", argv[1]);
  else if (!freeze && s != ST_PAUSED)
    r = launch_fail (EINVAL, "the container is not paused", argv[1]);
  else if (!st.cg.n)
    r = launch_fail (ENOTSUP, "the container has no cgroup (rootless without delegation?)",
                     argv[1]);
  else
    r = oci_cgroups_freeze (&st.cg, freeze);
  oci_state_clear (&st);
  close (dfd);
  return r < 0 ? oci_report (r) : 0;
}

int
oci_cmd_pause (int argc, char **argv)
{
  return pause_resume (argc, argv, true);
}

int
oci_cmd_resume (int argc, char **argv)
{
  return pause_resume (argc, argv, false);
}
