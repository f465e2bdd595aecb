/* cairn-launch: shared declarations.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Error convention: functions return 0 (or a fd / count) on success and
 * -errno on failure, after recording a short static message with
 * launch_fail().  The message and an optional context string (a path, copied
 * by launch_fail) are read back by whoever reports the
 * error: main() in the launcher, or the child, which sends them over the sync
 * socket (see child.c).  No function here prints except main.c and the
 * monitor's final report.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- cleanup attribute family --------------------------------------------- */
#define _cleanup_(f) __attribute__ ((cleanup (f)))
static inline void
closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}
static inline void
freep (void *p)
{
  free (*(void **)p);
}
#define _cleanup_close_ _cleanup_ (closep)
#define _cleanup_free_ _cleanup_ (freep)
static inline int
steal_fd (int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}
static inline void *
steal_ptr (void *pp)
{
  void **p = pp;
  void *r = *p;
  *p = NULL;
  return r;
}

/* ---- errors ---------------------------------------------------------------- */
/* Record MSG (static) and a copy of CTX (may be NULL; cut at PATH_MAX) and
 * return -ERR.  ERR is taken from the caller, never from a later errno. */
int launch_fail (int err, const char *msg, const char *ctx);
/* launch_fail with a message made from FMT (kept until the next call). */
int launch_failf (int err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
const char *launch_errmsg (void);
const char *launch_errctx (void);

/* Exit codes (documented in cairn-launch(1)). */
enum
{
  EXIT_LAUNCH_ERROR = 125, /* cairn-launch itself failed: options, setup */
  EXIT_CANNOT_EXEC = 126,  /* the command exists but could not be executed */
  EXIT_NOT_FOUND = 127,    /* the command was not found in the container */
};

/* ---- configuration ---------------------------------------------------------- */
#define LAUNCH_MAX_MOUNTS 64

struct launch_bind
{
  const char *src; /* absolute host path (realpath) */
  const char *dst; /* path inside the container */
  bool ro;
};

enum launch_init
{
  INIT_AUTO = -1,
  INIT_NO = 0,
  INIT_YES = 1
};

struct launch_config
{
  const char *rootfs; /* realpath of ROOTFS */
  char **argv;        /* the command */
  const char *hostname;
  bool net_host;
  /* Only under the OCI path (--print-oci-config, --oci-run): pasta(1) as a
   * createRuntime hook with these arguments, or a network namespace joined
   * by path. */
  bool net_pasta;
  const char *net_ns_path;
  char **pasta_args;
  size_t n_pasta_args;
  char **annotations; /* --annotation K=V, in order */
  size_t n_annotations;
  bool user_set;
  uid_t uid;
  gid_t gid;
  char **env_add; /* --env K=V, in order */
  size_t n_env_add;
  bool clear_env;
  const char *workdir;
  struct launch_bind binds[LAUNCH_MAX_MOUNTS];
  size_t n_binds;
  const char *tmpfs[LAUNCH_MAX_MOUNTS];
  size_t n_tmpfs;
  bool tty;
  int init; /* enum launch_init */
  bool writable;
  bool overlay_ro; /* --overlay-ro: an overlay root for new mount points, read-only */
  const char *overlay_upper;
  long long memory;    /* bytes, 0 = unset */
  long long pids;      /* 0 = unset */
  double cpus;         /* 0 = unset */
  long cpu_weight;     /* 0 = unset, else 1..10000 */
  const char *seccomp; /* "default", "unconfined" or a file */
  const char *seccomp_cache;
  uint64_t caps;
  bool rootless;
  bool print_profile;
  bool print_bpf;  /* write the compiled filter (struct sock_filter[]) to stdout */
  bool no_openat2; /* CAIRN_LAUNCH_NO_OPENAT2=1: force the resolver fallback */
};

/* options.c */
int launch_parse_options (int argc, char **argv, struct launch_config *cfg);
void launch_usage (FILE *f);

/* caps.c */
uint64_t caps_default_set (void);
int caps_parse (const char *name, int *out_cap);
int caps_last_cap (void);
uint64_t caps_available (bool userns, int last_cap);
const char *caps_name (int cap);
/* Child side: bounding set, ids, capset, ambient, no_new_privs. */
int caps_apply (uint64_t set, bool set_ids, uid_t uid, gid_t gid, bool may_setgroups, int last_cap);

/* util.c */
int write_file_at (int dirfd, const char *name, const char *buf);
int mkdir_p (const char *path, mode_t mode);
int parse_size (const char *s, long long *out);
char *xstrdup (const char *s);
char *xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* realpath (PATH, NULL) in three system calls whatever the depth (the
 * kernel's name of an O_PATH descriptor of it), realpath's own walk (a
 * readlink per component) where /proc cannot say; NULL and errno set when
 * PATH cannot be reached. */
char *canon_path (const char *path);
void *xrealloc (void *p, size_t n);
void fmt_fd_path (char buf[32], int fd);
void fmt_uint (char *buf, unsigned long long v);
size_t str_lcpy (char *dst, const char *src, size_t n);
/* sendmsg(2) of LEN bytes of DATA with FD attached (SCM_RIGHTS); no
 * allocation (the container child uses it). */
ssize_t send_with_fd (int sock, const void *data, size_t len, int fd);
int close_fds_except (const int *keep, size_t n_keep);
uint64_t fnv1a64 (const void *data, size_t len, uint64_t h);

/* resolve.c: resolve a path inside a root (openat2 RESOLVE_IN_ROOT or the
 * userspace fallback).  No allocation: safe in the child. */
enum
{
  RES_NO_SYMLINKS = 1 << 0, /* refuse any symlink in the path (ELOOP) */
  RES_DIRECTORY = 1 << 1,   /* the result must be a directory */
};
int resolve_in_root (int root_fd, const char *path, int flags, bool no_openat2);

/* cgroups.c */
struct launch_cgroups;
int cgroups_prepare (const struct launch_config *cfg, struct launch_cgroups **out);
int cgroups_create (const struct launch_config *cfg, struct launch_cgroups *cg);
int cgroups_attach (struct launch_cgroups *cg, pid_t pid);
bool cgroups_self_attach (const struct launch_cgroups *cg);
int cgroups_enter_self (struct launch_cgroups *cg);
int cgroups_destroy (struct launch_cgroups *cg);
void cgroups_free (struct launch_cgroups *cg);
bool cgroups_active (const struct launch_cgroups *cg);
int cgroups_mode (const struct launch_cgroups *cg); /* 0 none, 1 v1, 2 v2 */
size_t cgroups_v1_controllers (const struct launch_cgroups *cg, const char **out, size_t max);
pid_t cgroups_spawn_janitor (struct launch_cgroups *cg, int *out_done_fd);

/* seccomp.c */
struct sock_filter;
struct launch_bpf
{
  struct sock_filter *insns;
  unsigned short len;
};
int seccomp_prepare (const struct launch_config *cfg, struct launch_bpf *out);
int seccomp_print_profile (const struct launch_config *cfg, FILE *f);
struct jbuf;
/* The same, appended to B (runtime/json.h). */
int seccomp_print_profile_buf (const struct launch_config *cfg, struct jbuf *b);
int seccomp_apply_raw (const struct launch_bpf *bpf);

/* child.c: everything the container child needs, prepared by the parent. */
struct launch_plan
{
  const struct launch_config *cfg;
  struct launch_cgroups *cg;
  struct launch_bpf bpf;
  char **envp;
  const char *path_env; /* PATH used to find the command */
  int sync_fd;          /* child end of the sync socket */
  int janitor_fd;       /* write 'd' when the cgroups are gone (-1: no janitor) */
  int host_null_fd;     /* trusted O_PATH fds on host nodes (opened by the child) */
  int host_dev_fds[6];
  int host_sys_fd;
  const char *staging; /* mount point for the overlay's tmpfs (--writable) */
  char *overlay_opts;
  char *ovl_upper, *ovl_work, *ovl_root;
  int last_cap;
  int cg_host_mode; /* statfs of /sys/fs/cgroup: 2 = cgroup2, else 1 */
  bool use_init;
  bool userns;
  bool setgroups_ok;
  char root_path[4096]; /* where the new root is mounted before pivot */
};
extern const char *const launch_dev_nodes[6];
__attribute__ ((noreturn)) void child_main (struct launch_plan *plan);
int child_setup_mounts (struct launch_plan *plan, int *out_root_fd, int *out_pty_master,
                        int *out_pty_slave);
int child_finish_mounts (struct launch_plan *plan, int root_fd);
int child_net_lo_up (void);
/* The same with no error state set (for a helper thread): 0 or -errno,
 * *WHAT the step that failed. */
int net_lo_up_raw (const char **what);
/* mounts.c helpers shared with the OCI runtime (oci-mounts.c). */
int mount_on_fd (const char *src, int dst_fd, const char *type, unsigned long flags,
                 const char *data, const char *what);
int bind_fd_on_fd (int src_fd, int dst_fd, unsigned long extra, const char *what);
int remount_fd (int fd, unsigned long flags, const char *what);
int do_pivot (int root_fd);
int dev_pty_console (int dfd, const char *ptmx_err, int console_flags, int *out_master,
                     int *out_slave);
__attribute__ ((noreturn)) void child_exec_command (struct launch_plan *plan, int pty_slave);
void child_report (int sync_fd, int err, int exit_code, const char *msg, const char *ctx);

/* Messages on the sync socket (SOCK_SEQPACKET), child -> monitor. */
enum
{
  MSG_ERROR = 'E', /* setup or exec failed: err, exit_code, text */
  MSG_PTY = 'T',   /* the pty master, as SCM_RIGHTS */
};
struct launch_msg
{
  int32_t kind;
  int32_t err;
  int32_t exit_code;
  char text[500];
};
/* monitor.c: receive one message (and the fd it carries, into *OUT_FD):
 * 1, or 0 at the end (or an error), -1 for a short message. */
int launch_recv_msg (int fd, struct launch_msg *m, int *out_fd);
void child_send_fd (int sync_fd, int fd);
int child_enter_cwd (const char *dir, const char *e_chdir, const char *e_outside);

/* init.c */
__attribute__ ((noreturn)) void init_run_reaper (struct launch_plan *plan, int pty_slave);
/* pid 1 of an OCI container under --init: "/dev/init --container-init CMD..." */
__attribute__ ((noreturn)) void init_container_main (char **argv);
/* main.c: the argument strings ([0]) and the environment strings ([1])
 * exec gave this process, which /proc/PID/cmdline and environ show, noted
 * by launch_note_exec_strings (ARGV, the environment) at the start of the
 * binary's main() (cli/front.c) */
extern char *launch_exec_strings[2];
extern size_t launch_exec_strings_len[2];
void launch_note_exec_strings (char **argv);
/* The launcher's command line (every form: its own, runc's, --oci-run...);
 * cli/front.c's main() calls it, and so does the warm `cairn run` replay in
 * the same process (cli/run-record.c). */
int launch_main (int argc, char **argv);
/* runtime/oci-create.c: start making a container's new network namespace
 * beside, ahead of the config (oci_netns_prepare); the runtime takes it
 * when the config asks for one and no user namespace, else drops it. */
void launch_prepare_netns (void);
extern const int launch_forward_signals[];
extern const size_t launch_n_forward_signals;

/* monitor.c */
int monitor_run (struct launch_plan *plan, pid_t child, int sync_fd);
