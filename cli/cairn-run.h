/* `cairn run`: its options (cli/run-options.c) and the container they
 * describe, as cairn-launch options (cli/run-config.c). cli/cmd-run.c
 * applies the signature policy and execs the launcher.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "cli/cairn-cli.h"
#include "cli/cairn-run-mount.h"

G_BEGIN_DECLS

typedef struct
{
  /* repeatable options, in the order given */
  GPtrArray *env, *env_files, *volumes, *tmpfs, *publish, *dns, *add_hosts, *cap_add, *cap_drop;
  char *net, *name, *hostname, *workdir, *user, *entrypoint, *memory, *pids, *cpus, *cpu_weight,
      *seccomp, *overlay_upper, *keyring;
  gboolean env_host, tty, interactive, detach, rm, init, no_init, read_only, writable, rootless,
      require_signed, mount;
  CairnRunMountKind mount_kind; /* with --mount */
  char *ref;
  GPtrArray *cmd;        /* the command after REF (may be empty) */
  gboolean cmd_after_dd; /* it followed a "--" */
} CairnRunArgs;

void cairn_run_args_init (CairnRunArgs *a);
void cairn_run_args_clear (CairnRunArgs *a);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnRunArgs, cairn_run_args_clear)

/* Parse run's command line (argv[0] is "run"): options, then REF, then the
 * command. Usage errors are G_OPTION_ERROR (exit 2). */
gboolean cairn_run_parse (CairnCli *cli, int argc, char **argv, CairnRunArgs *a, GError **error);

/* What the image recorded (`cairn import`: docs/import-export.md). */
typedef struct
{
  char **entrypoint, **cmd, **env;
  char *workdir, *user;
} CairnImageDefaults;

void cairn_image_defaults_clear (CairnImageDefaults *d);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnImageDefaults, cairn_image_defaults_clear)

/* The container: cairn-launch options (before ROOTFS), the command, and the
 * files whose contents the decision read (for the warm path's record). */
typedef struct
{
  GPtrArray *launch;   /* "--opt=value" ... */
  GPtrArray *command;  /* the whole command (entrypoint + cmd) */
  guint n_entrypoint;  /* how much of command comes before the user's part */
  GPtrArray *inputs;   /* files read: the record holds their contents */
  GPtrArray *programs; /* programs that must stay installed (pasta) */
  gboolean replayable; /* FALSE: always decided again (no record) */
} CairnRunConfig;

void cairn_run_config_clear (CairnRunConfig *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CairnRunConfig, cairn_run_config_clear)

/* Decide the container for @root (the checkout of @commit) from the
 * options and the image's defaults. @containers is the containers
 * directory (its files/ gets resolv.conf, hosts and hostname). */
gboolean cairn_run_config_build (const CairnRunArgs *a, const CairnImageDefaults *img,
                                 const char *root, const char *commit, const char *containers,
                                 CairnRunConfig *out, GError **error);

G_END_DECLS
