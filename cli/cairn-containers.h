/* The containers of `cairn run`, as the OCI runtime keeps them.
 *
 * cairn run starts every container through `cairn-launch --oci-run`
 * (runtime/client.c), which writes its bundle in DIR/bundles/ID and runs it
 * with the runtime's state in DIR/runtime. The commands on named containers
 * (ps, stop, kill, logs, exec, rm, stats) are that runtime's verbs (list,
 * state, kill, exec, delete, events) on DIR/runtime plus what the bundle
 * holds (config.json, the detached container's log, its exit status): no
 * second implementation of a container's life.
 *
 * DIR is $CAIRN_CONTAINERS, else /run/cairn/containers for root, else
 * $XDG_RUNTIME_DIR/cairn/containers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "cli/cairn-cli.h"

G_BEGIN_DECLS

/* The containers directory (not created). */
char *cairn_containers_dir (GError **error);

/* cairn-launch: $CAIRN_LAUNCH, beside this program, or the installed one. */
char *cairn_launcher_path (void);

/* Run the runtime's VERB ARGS... on DIR/runtime and collect its standard
 * output (@out_stdout may be NULL). When it fails, @error holds what it
 * said. */
gboolean cairn_containers_runtime (const char *dir, const char *const *args, char **out_stdout,
                                   GError **error);

typedef struct
{
  char *id;
  char *status; /* created, running, paused, stopped (the runtime's words) */
  gint64 pid;
  char *bundle;
  GDateTime *created;
  GDateTime *finished; /* when its exit status was written, or NULL */
  int exit_code;       /* -1 when unknown */
  char *image, *commit;
  char **command;
  gboolean has_log;
} CairnContainer;

void cairn_container_free (CairnContainer *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnContainer, cairn_container_free)

/* Every container the runtime knows, sorted by creation. */
GPtrArray *cairn_containers_list (const char *dir, GError **error);
/* One container; a clear "no such container" error otherwise. */
CairnContainer *cairn_containers_get (const char *dir, const char *name, GError **error);
gboolean cairn_container_is_running (const CairnContainer *c);
/* Check that container @name exists and runs (one clear error otherwise):
 * the verbs that act on a live container (kill, stats). */
gboolean cairn_containers_check_running (const char *dir, const char *name, GError **error);

/* The runtime's kill NAME SIGNAL (with @all: every process of its cgroup). */
gboolean cairn_containers_signal (const char *dir, const char *name, const char *signal,
                                  gboolean all, GError **error);
/* Wait until the container is stopped or gone, at most @timeout_ms. */
gboolean cairn_containers_wait_stopped (const char *dir, const char *name, int timeout_ms);

/* The bundle directory's path of NAME (it may not exist). */
char *cairn_containers_bundle (const char *dir, const char *name);
/* Remove the bundle of NAME (its overlay's work directory included). */
gboolean cairn_containers_remove_bundle (const char *dir, const char *name, GError **error);

G_END_DECLS
