/* cairn-launch: the OCI runtime (runc/crun command line), shared declarations.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * oci-main.c      verbs and global options (the runc command line)
 * oci-spec.c      config.json -> struct oci_spec, refusing what is unknown
 * oci-state.c     the state directory under --root: lock, state.json, list
 * oci-create.c    create/start/run: preparing and cloning the container
 * oci-child.c     the container's init from clone() to execve()
 * oci-mounts.c    config.json's mounts, devices, masked and read-only paths
 * oci-cgroup.c    cgroupsPath, resources, freeze, stats, kill --all
 * oci-exec.c      exec into a running container
 * oci-hooks.c     the six hook kinds
 * oci-gen.c       spec, features, --print-oci-config
 *
 * Same conventions as the rest of runtime/: -errno + launch_fail(), no
 * allocation in the child after clone() (everything is prepared in the
 * spec and the plan).
 */
#pragma once

#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "runtime/launch.h"

struct json;
struct jbuf;
struct sc_policy;

/* ---- config.json --------------------------------------------------------------- */
struct oci_caps
{
  uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct oci_rlimit
{
  const char *name; /* "RLIMIT_NOFILE" */
  int resource;
  struct rlimit lim;
};

struct oci_user
{
  uid_t uid;
  gid_t gid;
  gid_t *gids; /* additionalGids */
  size_t n_gids;
  bool umask_set;
  mode_t umask;
};

struct oci_process
{
  char **args;
  char **env;
  size_t n_env;
  const char *cwd;
  struct oci_user user;
  bool terminal;
  unsigned short cons_h, cons_w; /* consoleSize; 0 = unset */
  bool caps_set;
  struct oci_caps caps;
  struct oci_rlimit *rlimits;
  size_t n_rlimits;
  bool nnp;
  bool ioprio_set;
  int ioprio; /* IOPRIO_PRIO_VALUE (class, level) */
  bool oom_set;
  int oom_score_adj;
  const char *apparmor;
  const char *selinux;
  const char *path_env; /* PATH from env, for the command lookup */
};

enum oci_mount_kind
{
  OM_FS,   /* mount(type) */
  OM_BIND, /* bind or rbind */
};

struct oci_mount
{
  const char *dst; /* absolute, inside the container */
  const char *type;
  const char *src; /* bind: absolute host path; else the mount source */
  char *data;      /* options that are not flags */
  unsigned long flags;
  unsigned long prop;                       /* MS_PRIVATE/MS_SLAVE/... with MS_REC */
  unsigned long rec_attr_set, rec_attr_clr; /* rro, rnosuid...: mount_setattr AT_RECURSIVE */
  int kind;
  bool rec;
  bool tmpcopyup;
  bool src_is_dir; /* bind source type, known before clone */
  bool cgroup;     /* type "cgroup" or "cgroup2": set up per hierarchy */
  bool idmap;      /* idmap/ridmap: an id-mapped bind */
  bool idmap_rec;
  int idmap_fd; /* in the child: the detached id-mapped tree the parent made */
  /* the mount's own uidMappings/gidMappings (else the container's user
   * namespace is the mapping) */
  struct oci_idmap *uidmap, *gidmap;
  size_t n_uidmap, n_gidmap;
};

struct oci_ns
{
  int type; /* CLONE_NEW* */
  const char *path;
  int fd; /* opened before clone when path is set */
};

struct oci_idmap
{
  uint32_t inside, outside, size;
};

struct oci_device
{
  const char *path;
  char type; /* 'c', 'b', 'u', 'p' */
  unsigned major, minor;
  mode_t mode;
  bool has_mode;
  uid_t uid;
  gid_t gid;
  bool has_uid, has_gid;
};

struct oci_hook
{
  const char *path;
  char **args; /* NULL-terminated; args[0] defaults to path */
  char **env;  /* NULL-terminated (empty when unset) */
  int timeout; /* seconds, 0 = none */
};

enum oci_hook_kind
{
  HOOK_PRESTART,
  HOOK_CREATE_RUNTIME,
  HOOK_CREATE_CONTAINER,
  HOOK_START_CONTAINER,
  HOOK_POSTSTART,
  HOOK_POSTSTOP,
  HOOK_KINDS
};

struct oci_devrule
{
  bool allow;
  char type;            /* 'a', 'c', 'b' */
  int64_t major, minor; /* -1 = any */
  char access[4];
};

struct oci_throttle
{
  uint64_t major, minor, rate;
};

struct oci_weight_dev
{
  uint64_t major, minor;
  int weight, leaf_weight; /* -1 = unset */
};

struct oci_hugepage
{
  const char *size; /* "2MB" */
  uint64_t limit;
};

struct oci_kv
{
  const char *key, *value;
};

/* linux.resources; a field is set when its has_ flag is. */
struct oci_resources
{
  bool has_mem_limit, has_mem_reservation, has_mem_swap, has_mem_kernel, has_mem_kernel_tcp;
  bool has_swappiness, has_disable_oom, has_use_hierarchy;
  int64_t mem_limit, mem_reservation, mem_swap, mem_kernel, mem_kernel_tcp;
  uint64_t swappiness;
  bool disable_oom, use_hierarchy;
  bool has_shares, has_quota, has_period, has_rt_runtime, has_rt_period, has_burst, has_idle;
  uint64_t shares, period, rt_period, burst;
  int64_t quota, rt_runtime, idle;
  const char *cpus, *mems;
  bool has_pids;
  int64_t pids;
  bool has_blkio_weight, has_blkio_leaf_weight;
  uint16_t blkio_weight, blkio_leaf_weight;
  struct oci_weight_dev *weight_dev;
  size_t n_weight_dev;
  struct oci_throttle *throttle[4]; /* read bps, write bps, read iops, write iops */
  size_t n_throttle[4];
  struct oci_hugepage *huge;
  size_t n_huge;
  struct oci_devrule *dev;
  size_t n_dev;
  struct oci_kv *unified;
  size_t n_unified;
};

struct oci_personality
{
  bool set;
  unsigned long domain;
};

struct oci_spec
{
  struct json *doc; /* the parsed config.json; strings below point into it */
  char *bundle;     /* absolute */
  struct oci_process proc;
  char *root; /* absolute rootfs path */
  bool root_ro;
  const char *root_overlay; /* annotation OCI_OVERLAY_ANNOTATION: the overlay's layers */
  const char *hostname, *domainname;
  struct oci_mount *mounts;
  size_t n_mounts;
  struct oci_hook *hooks[HOOK_KINDS];
  size_t n_hooks[HOOK_KINDS];
  struct oci_ns ns[8];
  size_t n_ns;
  int ns_new; /* CLONE_NEW* flags of the namespaces to create */
  struct oci_idmap uidmap[340], gidmap[340];
  size_t n_uidmap, n_gidmap;
  struct oci_device *devices;
  size_t n_devices;
  const char *cgroups_path;
  bool has_resources;
  struct oci_resources res;
  struct oci_kv *sysctl;
  size_t n_sysctl;
  struct sc_policy *seccomp; /* NULL: no filter */
  bool seccomp_shared;       /* seccomp is seccomp.c's default policy, not ours to free */
  unsigned seccomp_flags;
  const char *seccomp_listener;
  const char *seccomp_listener_meta;
  const char **masked;
  size_t n_masked;
  const char **readonly;
  size_t n_readonly;
  unsigned long rootfs_prop; /* 0 = default (rprivate) */
  const char *mount_label;
  struct oci_personality personality;
  const struct json *annotations;
  const char *oci_version;
};

/* oci-spec.c */
int oci_spec_load (const char *bundle, struct oci_spec *out);
/* Refuse keys of O (at WHERE, "" for the top) that are not in ALLOWED;
 * those in REFUSED (may be NULL) get "not supported by cairn-launch"
 * rather than "unknown field". */
int oci_check_keys (const struct json *o, const char *where, const char *const *allowed,
                    const char *const *refused);
/* process.json for exec, or a process built from the command line. */
int oci_process_parse (const struct json *p, const char *what, struct oci_process *out);
void oci_process_finish_env (struct oci_process *p);
int oci_spec_check_host (struct oci_spec *s, bool rootless);
void oci_spec_free (struct oci_spec *s);
int oci_parse_signal (const char *s, int *out);
int oci_rlimit_resource (const char *name);
unsigned long oci_mount_flag (const char *opt, bool *out_clear, bool *out_known);

/* ---- global options and state ----------------------------------------------- */
struct oci_global
{
  const char *root; /* --root (state directory) */
  const char *log;  /* --log */
  bool log_json;    /* --log-format json */
  bool debug;
  bool systemd_cgroup;
  int rootless; /* -1 auto, 0, 1 */
  const char *seccomp_cache;
  bool is_rootless; /* resolved */
  /* run in process by cairn run (runtime/client.c): the bundle is its own,
   * written once and never changed, so create links its config.json where
   * it would copy it; the cgroups are only those cairn reads (oci-cgroup.c) */
  bool cairn_run;
};

extern struct oci_global oci_g;

/* Report an error in the runc manner: "cairn-launch: MSG" on stderr, and the
 * same in --log (text or json). */
void oci_log_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void oci_log_warn (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void oci_log_debug (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
int oci_report (int r); /* launch_errmsg() -> oci_log_error; returns 1 */
/* "VERB: MSG" as an error; returns 2, the exit code of a usage error. */
int oci_usage_err (const char *verb, const char *msg);
/* The foreground of `run` and `exec` (oci-exec.c): relays the terminal
 * MASTER (-1: none) and the signals we get to PID, our child, until it
 * exits; returns its exit code (128+N for signal N). */
int oci_foreground (pid_t pid, int master);

enum oci_status
{
  ST_CREATING,
  ST_CREATED,
  ST_RUNNING,
  ST_PAUSED,
  ST_STOPPED
};
const char *oci_status_name (enum oci_status s);

#define OCI_CG_MAX 16
struct oci_cgroups
{
  int mode; /* 0 none, 1 v1 (or hybrid), 2 v2 */
  size_t n;
  char *ctrl[OCI_CG_MAX]; /* v1: "memory", "cpu,cpuacct", "name=systemd"...; v2: "" */
  char *dir[OCI_CG_MAX];  /* absolute host directories */
  bool created[OCI_CG_MAX];
  char *unified_dir; /* hybrid: the container's cgroup in the cgroup2 mount, if used */
};

struct oci_state
{
  char *id;
  char *bundle;
  pid_t pid;
  unsigned long long start_time; /* /proc/PID/stat field 22 */
  long long created_ns;          /* CLOCK_REALTIME */
  bool rootless;
  bool created_done;    /* create finished (no longer "creating") */
  long long started_ns; /* CLOCK_MONOTONIC when start released it, 0 before */
  struct oci_cgroups cg;
  struct json *annotations_doc;
  char *annotations_json; /* serialized annotations, "{}" if none */
  char *oci_version;
  uid_t owner;
  char *shared_root;               /* no mount namespace of its own: the rootfs below which the
                                    * container's mounts live in the runtime's namespace */
  unsigned long long shared_mntns; /* that namespace's inode */
  int hooks; /* 1 << HOOK_* for each hook list the config has; -1: not known (a state
              * written before it was recorded), the config is read to know */
};

/* The state directory of ID (created by create, locked by every verb).
 * Returns the dirfd with an flock (LOCK_EX or LOCK_SH) held; -ENOENT with a
 * "container does not exist" message when it is not there (or was removed
 * while we waited for the lock). */
int oci_root_open (bool create);
int oci_validate_id (const char *id);
int oci_state_lock (int rootfd, const char *id, int how);
int oci_state_create_dir (int rootfd, const char *id, int *out_dirfd);
int oci_state_write (int dirfd, const struct oci_state *st);
int oci_state_read (int dirfd, const char *id, struct oci_state *out);
/* oci_state_lock then oci_state_read: the locked dirfd, or -errno. */
int oci_state_open (int rootfd, const char *id, int how, struct oci_state *st);
void oci_state_clear (struct oci_state *st);
enum oci_status oci_state_status (int dirfd, const struct oci_state *st);
bool oci_pid_alive (pid_t pid, unsigned long long start_time);
int oci_proc_start_time (pid_t pid, unsigned long long *out);
/* The state JSON of the runtime spec (ociVersion, id, status, pid, bundle,
 * annotations). */
void oci_state_json (const struct oci_state *st, enum oci_status s, struct jbuf *b, bool pretty);
int oci_state_remove_dir (int rootfd, const char *id, int dirfd);
/* The state directory of a create that died before it wrote state.json
 * (nobody holds its lock; no process or cgroup of it can exist: both come
 * after the state, oci-create.c record_created), removed: 1 if it was. */
int oci_state_remove_unborn (int rootfd, const char *id);
/* oci-create.c: start making the container's new network namespace beside
 * (a thread) before the config is written; the runtime joins it when the
 * config asks for a new one and no user namespace. Foreground only: a fork
 * after it would not carry the thread. */
void oci_netns_prepare (void);
/* Unmount what a container without a mount namespace of its own left below
 * its rootfs (nothing when it had one, or when called from another mount
 * namespace than create's: a warning then). */
void oci_unmount_shared (const struct oci_state *st);

/* oci-cgroup.c */
int oci_cgroups_plan (const struct oci_spec *s, const char *id, bool rootless,
                      struct oci_cgroups *out);
int oci_cgroups_create (const struct oci_spec *s, struct oci_cgroups *cg, bool rootless);
int oci_cgroups_enter (const struct oci_cgroups *cg, pid_t pid);
int oci_cgroups_apply (const struct oci_resources *r, const struct oci_cgroups *cg);
int oci_cgroups_destroy (struct oci_cgroups *cg);
int oci_cgroups_freeze (const struct oci_cgroups *cg, bool freeze);
int oci_cgroups_frozen (const struct oci_cgroups *cg); /* 1 frozen, 0 not, <0 error */
int oci_cgroups_kill_all (const struct oci_cgroups *cg, int sig);
int oci_cgroups_pids (const struct oci_cgroups *cg, pid_t **out, size_t *out_n);
void oci_cgroups_stats (const struct oci_cgroups *cg, struct jbuf *b);
void oci_cgroups_clear (struct oci_cgroups *cg);
int oci_parse_resources (const struct json *r, struct oci_resources *out);
bool oci_resources_any (const struct oci_resources *r);
/* oci-devbpf.c: the device rules as a cgroup v2 eBPF program on DIR. */
int oci_devices_bpf_attach (const char *dir, const struct oci_devrule *rules, size_t n);
bool oci_cgroups_has (const struct oci_cgroups *cg, const char *ctrl);
const char *oci_cgroups_dir (const struct oci_cgroups *cg, const char *ctrl);
void oci_cgroups_to_json (const struct oci_cgroups *cg, struct jbuf *b);
int oci_cgroups_from_json (const struct json *v, struct oci_cgroups *out);

/* oci-hooks.c: run the hooks of KIND with STATE_JSON on stdin.  Fails on the
 * first hook that fails (exit status != 0, signal, timeout). */
int oci_hooks_run (const struct oci_spec *s, enum oci_hook_kind kind, const char *state_json);
/* One hook: STATE on its stdin, killed past its timeout; a failure is
 * recorded with launch_fail.  RAW_CLONE: forked with the clone syscall
 * (the container's init, which libc's fork() does not know as a process
 * of its own). */
int oci_hook_run (const struct oci_hook *h, const char *state, bool raw_clone);
/* Every hook of KIND, each failure only logged as a warning naming WHAT. */
void oci_hooks_run_warn (const struct oci_spec *s, enum oci_hook_kind kind, const char *state_json,
                         const char *what);

/* verbs */
int oci_cmd_create (int argc, char **argv);
int oci_cmd_run (int argc, char **argv);
int oci_cmd_start (int argc, char **argv);
int oci_cmd_exec (int argc, char **argv);
int oci_cmd_state (int argc, char **argv);
int oci_cmd_kill (int argc, char **argv);
int oci_cmd_delete (int argc, char **argv);
int oci_cmd_list (int argc, char **argv);
int oci_cmd_ps (int argc, char **argv);
int oci_cmd_pause (int argc, char **argv);
int oci_cmd_resume (int argc, char **argv);
int oci_cmd_update (int argc, char **argv);
int oci_cmd_events (int argc, char **argv);
int oci_cmd_features (int argc, char **argv);
int oci_cmd_spec (int argc, char **argv);
int oci_print_config (int argc, char **argv);

/* oci-print.c: the config.json that the launcher's options CFG mean (bind
 * sources and ROOTFS made absolute in CFG).  OVERLAY_DIR holds the root
 * overlay's layers when --writable/--overlay-ro come without
 * --overlay-upper (NULL: refused). */
int oci_config_generate (struct launch_config *cfg, const char *overlay_dir, struct jbuf *b);

/* cairn run's in-process handoff (client.c -> oci-spec.c): the config.json
 * text the client wrote and, within it, the span of the seccomp profile it
 * printed from the launcher's default policy for CAPS (oci-print.c sets the
 * span, client.c the text).  oci_spec_load, finding exactly these bytes in
 * the bundle, parses the rest and takes that policy as it is instead of
 * parsing the profile back (~17 kB) and comparing it with the default: the
 * same policy, without the pages a second copy touches. */
struct oci_config_handoff
{
  const char *text;
  size_t len, sc_off, sc_len;
  uint64_t caps;
};
extern struct oci_config_handoff oci_handoff;
/* Where --init puts this binary in the container, and the annotation that
 * makes the root an overlay (oci-spec.c, oci-mounts.c). */
#define OCI_INIT_PATH "/dev/init"
/* pasta.c: --pasta-hook PASTA ARG... | --stop (hooks of --net=pasta), and
 * the end of a container's pasta (its pid file and netns binding in BUNDLE). */
int oci_pasta_hook (int argc, char **argv);
void oci_pasta_stop (const char *bundle);
/* client.c: --oci-run, cairn run's way into this runtime (ARGV[0] is
 * "--oci-run"). */
int oci_client_run (int argc, char **argv);
#define OCI_OVERLAY_ANNOTATION "org.cairn.rootfs.overlay"

/* oci-main.c: dispatch; returns -1 when ARGV is not the OCI form. */
int oci_main (int argc, char **argv);

/* shared helpers of the verbs */
int oci_delete_container (int rootfd, const char *id, int dirfd, struct oci_state *st, bool force);
int oci_write_pid_file (const char *path, pid_t pid);
int oci_send_console (const char *sock_path, int master);

/* ---- the container's init (oci-child.c, oci-mounts.c) ------------------------- */
#define OCI_STATE_MAX 16384

enum
{
  OMSG_HOOKS = 'H',  /* child -> parent: run prestart and createRuntime now */
  OMSG_READY = 'R',  /* child -> parent: set up, about to wait on the exec fifo */
  OMSG_USERNS = 'U', /* first child (two steps): write my id maps */
  OMSG_PID = 'P',    /* first child (two steps): the init's pid, in .err */
};

struct oci_plan
{
  struct oci_spec *spec;
  struct launch_bpf bpf;
  const struct oci_cgroups *cg;
  int sync_fd;
  int fifo_fd;     /* O_PATH on exec.fifo */
  int proc_fd_dir; /* child: the host's /proc/self/fd, opened before pivot */
  int fifo_wr;     /* child: the fifo's write end (CLOEXEC) */
  int last_cap;
  int preserve_fds;
  bool userns;   /* a new user namespace */
  bool two_step; /* namespaces joined by path with a new user namespace */
  bool unpriv;   /* userns, or the runtime runs unprivileged or in a user namespace
                  * (podman rootless): no mknod, binds instead */
  bool setgroups_ok;
  cpu_set_t affinity; /* the parent's CPUs, which the child takes back (affinity_set) */
  bool affinity_set;
  int netns_fd; /* the new network namespace a thread of the parent made (oci-create.c
                 * early_net), joined instead of unshared; -1: unshare */
  bool no_maps; /* no id maps to write, no id-mapped mount: the child does not
                 * wait for them ('g', oci-child.c wait_maps) */
  bool rootless;
  bool no_pivot;
  bool own_mnt;     /* a mount namespace of the container's own (new or joined by path);
                     * else the mounts are made in the runtime's, below the rootfs */
  bool self_attach; /* v1: the child writes itself into "tasks" */
  bool want_pty;
  bool dev_ro;           /* /dev was asked read-only: remounted so once populated */
  bool cg_ready;         /* in its cgroups (and cgroup namespace) already */
  int exec_mnt_fd;       /* exec: the container's mount namespace, joined last by the process */
  int exec_root_fd;      /* exec, the container in the runtime's mount namespace: its root */
  int lsm_fd;            /* /proc/thread-self/attr/.../exec of the host's procfs, opened
                          * before pivot_root (CVE-2019-16884), or -1 */
  bool has_hooks_parent; /* prestart or createRuntime hooks */
  bool builtin_init;     /* process.args is this binary's init at OCI_INIT_PATH: run in
                          * process, without the exec (oci-create.c builtin_init_ok) */
  char *init_strings[2]; /* builtin_init: its cmdline and environ as the exec would give them */
  size_t init_strings_len[2];
  int host_null_fd;
  int host_dev_fds[6];
  char root_path[PATH_MAX];
  char exe[PATH_MAX]; /* the command, resolved in the container */
  char state[OCI_STATE_MAX];
  char listener_msg[OCI_STATE_MAX]; /* linux.seccomp.listenerPath: containerProcessState */
  int listener_sock;                /* connected before pivot_root, or -1 */
  char **cg_tasks;                  /* v1 self-attach: "<dir>/tasks" for each hierarchy */
  int parent_fds[4];                /* the parent's own fds (the locked state directory): closed
                                     * first thing in the child, whose copy would hold the lock */
};

__attribute__ ((noreturn)) void oci_child_main (struct oci_plan *plan);
int oci_setup_rootfs (struct oci_plan *plan, int *out_root_fd, int *out_master, int *out_slave,
                      bool before_cgroups);
int oci_finish_rootfs (struct oci_plan *plan, int root_fd);
int oci_run_hooks_child (struct oci_plan *plan, enum oci_hook_kind kind);
int oci_spec_load_hooks (int dirfd, struct oci_spec *s);
int oci_spec_load_exec (int dirfd, struct oci_spec *s);
__attribute__ ((noreturn)) void oci_exec_child (struct oci_plan *plan);
int oci_child_cgroups (struct oci_plan *plan);
