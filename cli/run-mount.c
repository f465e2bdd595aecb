/* `cairn run --mount`: mount, run cairn-launch as a child, unmount.
 *
 * The FUSE server runs in threads of this process, and the kernel mount is
 * shared by every container of the commit and unmounted by the last one to
 * end, so cairn cannot exec the launcher as the checkout path does: it forks
 * it, forwards the signals a terminal or a supervisor sends, and returns its
 * status once it is gone.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-run-mount.h"
#include "checkout/cairn-erofs.h"
#include "checkout/cairn-mount.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct CairnRunMount
{
  CairnMount *mount; /* FUSE */
  char *dir;
  gboolean mounted;
  CairnRepo *repo; /* kernel: the shared mount */
  char *commit;
  int users_fd;
};

static volatile sig_atomic_t child_pid;
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP };

static void
forward_signal (int sig)
{
  if (child_pid > 0)
    kill (child_pid, sig);
}

static void
log_stderr (const char *msg, gpointer data)
{
  (void)data;
  fprintf (stderr, "cairn: run: mount: %s\n", msg);
}

static CairnRunMount *
begin_kernel (CairnRepo *repo, const char *commit, GError **error)
{
  CairnKmountOptions ko = { .suid = TRUE, .log = log_stderr };
  g_autoptr (CairnRunMount) rm = g_new0 (CairnRunMount, 1);
  rm->users_fd = -1;
  if (!cairn_kmount_shared_acquire (repo, commit, &ko, &rm->dir, &rm->users_fd, NULL, error))
    return NULL;
  rm->repo = repo;
  rm->commit = g_strdup (commit);
  return g_steal_pointer (&rm);
}

CairnRunMount *
cairn_run_mount_begin (CairnRepo *repo, const char *commit, CairnRunMountKind kind, GError **error)
{
  if (kind != CAIRN_RUN_MOUNT_FUSE)
    {
      g_autoptr (GError) why = NULL;
      if (cairn_kmount_supported (repo, &why))
        {
          CairnRunMount *rm = begin_kernel (repo, commit, &why);
          if (rm)
            return rm;
          /* A kernel that refuses the mounts: the FUSE view, unless the
           * kernel mount was asked for. */
          if (kind == CAIRN_RUN_MOUNT_KERNEL
              || !g_error_matches (why, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
            return g_propagate_error (error, g_steal_pointer (&why)), NULL;
          fprintf (stderr, "cairn: run: %s; using FUSE instead\n", why->message);
        }
      else if (kind == CAIRN_RUN_MOUNT_KERNEL)
        return g_propagate_error (error, g_steal_pointer (&why)), NULL;
    }
  CairnMountOptions o = { .allow_other = TRUE, .suid = geteuid () == 0, .log = log_stderr };
  g_autoptr (CairnRunMount) rm = g_new0 (CairnRunMount, 1);
  rm->users_fd = -1;
  if (cairn_repo_extensions_dfd (repo, error) < 0)
    return NULL;
  g_autofree char *base = g_build_filename (repo->path, "extensions", "cairn", "mounts", NULL);
  g_autofree char *abs = g_canonicalize_filename (base, NULL);
  if (g_mkdir_with_parents (abs, 0700) < 0)
    return cairn_throw_errno (error, "creating %s", abs), NULL;
  g_autofree char *tmpl = g_strdup_printf ("%s/%.12s-XXXXXX", abs, commit);
  if (!g_mkdtemp_full (tmpl, 0755))
    return cairn_throw_errno (error, "creating a mount point in %s", abs), NULL;
  rm->dir = g_steal_pointer (&tmpl);
  rm->mount = cairn_mount_new (repo, commit, &o, error);
  if (!rm->mount || !cairn_mount_attach (rm->mount, rm->dir, error))
    return NULL;
  rm->mounted = TRUE;
  if (!cairn_mount_start (rm->mount, error))
    return NULL;
  return g_steal_pointer (&rm);
}

const char *
cairn_run_mount_root (CairnRunMount *rm)
{
  return rm->dir;
}

/* The child: default signal handling back, then exec. Only async-signal-safe
 * calls (this process has FUSE threads). A failed exec writes errno to @fd. */
static void G_GNUC_NORETURN
child_exec (const char *path, char **argv, int fd, const sigset_t *mask)
{
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  for (guint i = 0; i < G_N_ELEMENTS (forwarded); i++)
    sigaction (forwarded[i], &dfl, NULL);
  sigprocmask (SIG_SETMASK, mask, NULL);
  execv (path, argv);
  int e = errno;
  (void)!write (fd, &e, sizeof e);
  _exit (125);
}

static int
wait_child (pid_t pid)
{
  int status = 0;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return 125;
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}

int
cairn_run_mount_exec (CairnRunMount *rm, const char *path, char **argv, GError **error)
{
  int pfd[2];
  if (pipe2 (pfd, O_CLOEXEC) < 0)
    return cairn_throw_errno (error, "pipe"), -1;
  struct sigaction fwd = { .sa_handler = forward_signal, .sa_flags = SA_RESTART }, old[3];
  sigset_t block, saved;
  sigemptyset (&block);
  for (guint i = 0; i < G_N_ELEMENTS (forwarded); i++)
    sigaddset (&block, forwarded[i]);
  /* Blocked across fork so that a signal cannot reach the handler before
   * child_pid is known; the child restores the original mask. */
  sigprocmask (SIG_BLOCK, &block, &saved);
  for (guint i = 0; i < G_N_ELEMENTS (forwarded); i++)
    sigaction (forwarded[i], &fwd, &old[i]);
  fflush (NULL);
  pid_t pid = fork ();
  if (pid == 0)
    child_exec (path, argv, pfd[1], &saved);
  int fork_errno = errno;
  close (pfd[1]);
  child_pid = pid;
  sigprocmask (SIG_SETMASK, &saved, NULL);
  int status = -1, exec_errno = 0;
  if (pid < 0)
    cairn_throw_errno_value (error, fork_errno, "fork");
  else
    {
      ssize_t n;
      do
        n = read (pfd[0], &exec_errno, sizeof exec_errno);
      while (n < 0 && errno == EINTR);
      status = wait_child (pid);
      if (n == sizeof exec_errno)
        {
          cairn_throw_errno_value (error, exec_errno, "executing %s", path);
          status = -1;
        }
    }
  close (pfd[0]);
  child_pid = 0;
  for (guint i = 0; i < G_N_ELEMENTS (forwarded); i++)
    sigaction (forwarded[i], &old[i], NULL);
  return status;
}

void
cairn_run_mount_free (CairnRunMount *rm)
{
  if (!rm)
    return;
  if (rm->repo)
    {
      if (rm->users_fd >= 0)
        cairn_kmount_shared_release (rm->repo, rm->commit, rm->users_fd);
      g_free (rm->commit);
      g_free (rm->dir);
      g_free (rm);
      return;
    }
  if (rm->mount)
    {
      /* The container is gone: detach and wait briefly for the server
       * threads. If something outside still holds the mount, they stay
       * (the process is about to exit anyway) rather than being freed
       * under their feet. */
      if (rm->mounted && !cairn_mount_stop (rm->mount, 2000))
        rm->mount = NULL;
      g_clear_pointer (&rm->mount, cairn_mount_free);
    }
  if (rm->dir)
    (void)rmdir (rm->dir);
  g_free (rm->dir);
  g_free (rm);
}
