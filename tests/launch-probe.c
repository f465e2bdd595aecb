/* launch-probe: a static binary run as the container command by
 * tests/test-launch.sh.  Each subcommand checks one thing from the inside and
 * prints "key=value" lines (errno names as E…, or "ok") for the shell test.
 *
 * Copyright (C) 2026 The cairn authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long first_keyctl_ret, first_keyctl_errno;

static const char *
en (int e)
{
  const char *n = e ? strerrorname_np (e) : "ok";
  return n ? n : "E?";
}

static void
res (const char *key, long r)
{
  printf ("%s=%s\n", key, r < 0 ? en (errno) : "ok");
}

static int
cmd_fds (int argc, char **argv)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  printf ("fds=");
  while (d && (e = readdir (d)))
    {
      if (e->d_name[0] == '.' || atoi (e->d_name) == dirfd (d))
        continue;
      char p[300], t[4096];
      snprintf (p, sizeof p, "/proc/self/fd/%s", e->d_name);
      ssize_t n = readlink (p, t, sizeof t - 1);
      t[n > 0 ? n : 0] = '\0';
      printf ("%s:%s,", e->d_name, t);
    }
  printf ("\n");
  return 0;
}

/* Item 4/5: what can be done with the other processes' exe/mem/fd. */
static int
cmd_exe (int argc, char **argv)
{
  DIR *d = opendir ("/proc");
  struct dirent *e;
  while (d && (e = readdir (d)))
    {
      int pid = atoi (e->d_name);
      if (pid <= 0 || pid == getpid ())
        continue;
      char p[64], k[64], t[256] = "";
      snprintf (p, sizeof p, "/proc/%d/exe", pid);
      ssize_t n = readlink (p, t, sizeof t - 1);
      t[n > 0 ? n : 0] = '\0';
      printf ("exe%d_link=%s\n", pid, n >= 0 ? t : en (errno));
      snprintf (k, sizeof k, "exe%d_wr", pid);
      res (k, open (p, O_WRONLY));
      snprintf (k, sizeof k, "exe%d_path", pid);
      res (k, open (p, O_PATH));
      snprintf (p, sizeof p, "/proc/%d/mem", pid);
      snprintf (k, sizeof k, "mem%d", pid);
      res (k, open (p, O_RDONLY));
      snprintf (p, sizeof p, "/proc/%d/fd/0", pid);
      snprintf (k, sizeof k, "fd%d_link", pid);
      n = readlink (p, t, sizeof t - 1);
      t[n > 0 ? n : 0] = '\0';
      printf ("%s=%s\n", k, n >= 0 ? t : en (errno));
      snprintf (k, sizeof k, "fd%d_open", pid);
      res (k, open (p, O_RDONLY));
    }
  return 0;
}

static int
cmd_tiocsti (int argc, char **argv)
{
  char c = '#';
  for (int fd = 0; fd < 3; fd++)
    {
      char k[32];
      snprintf (k, sizeof k, "tiocsti%d", fd);
      res (k, syscall (SYS_ioctl, fd, (unsigned long)TIOCSTI, &c));
      snprintf (k, sizeof k, "tiocsti_hi%d", fd);
      res (k, syscall (SYS_ioctl, fd, (0x123UL << 32) | TIOCSTI, &c));
    }
  printf ("isatty0=%d\n", isatty (0));
  return 0;
}

static int
cmd_session (int argc, char **argv)
{
  char tty[64] = "";
  ssize_t n = readlink ("/proc/self/fd/0", tty, sizeof tty - 1);
  tty[n > 0 ? n : 0] = '\0';
  printf ("pid=%d\nsid=%d\npgid=%d\nppid=%d\nstdin=%s\n", getpid (), getsid (0), getpgid (0),
          getppid (), tty);
  int fd = open ("/dev/tty", O_RDWR);
  printf ("devtty=%s\n", fd >= 0 ? "ok" : en (errno));
  struct stat a, b;
  if (stat ("/dev/console", &a) == 0 && fstat (0, &b) == 0)
    printf ("console_is_stdin=%d\n", a.st_rdev == b.st_rdev);
  return 0;
}

static int
cmd_write (int argc, char **argv)
{
  for (int i = 2; i < argc; i++)
    {
      char k[300];
      snprintf (k, sizeof k, "write:%s", argv[i]);
      int fd = open (argv[i], O_WRONLY);
      if (fd >= 0)
        {
          close (fd);
          printf ("%s=ok\n", k);
        }
      else
        printf ("%s=%s\n", k, en (errno));
    }
  return 0;
}

static int
cmd_read (int argc, char **argv)
{
  for (int i = 2; i < argc; i++)
    {
      char buf[4096];
      int fd = open (argv[i], O_RDONLY);
      if (fd < 0)
        {
          printf ("read:%s=%s\n", argv[i], en (errno));
          continue;
        }
      long total = 0;
      ssize_t n;
      while ((n = read (fd, buf, sizeof buf)) > 0 && total < 1 << 20)
        total += n;
      if (n < 0)
        printf ("read:%s=%s\n", argv[i], en (errno));
      else
        printf ("read:%s=%ld\n", argv[i], total);
      close (fd);
    }
  return 0;
}

static int
cmd_mkdir (int argc, char **argv)
{
  for (int i = 2; i < argc; i++)
    printf ("mkdir:%s=%s\n", argv[i], mkdir (argv[i], 0755) < 0 ? en (errno) : "ok");
  return 0;
}

static int
cmd_mknod (int argc, char **argv)
{
  res ("mknod", mknod (argv[2], S_IFCHR | 0600, makedev (1, 3)));
  return 0;
}

static int
cmd_status (int argc, char **argv)
{
  FILE *f = fopen ("/proc/self/status", "r");
  char line[256];
  while (f && fgets (line, sizeof line, f))
    if (!strncmp (line, "Cap", 3) || !strncmp (line, "NoNewPrivs", 10)
        || !strncmp (line, "Seccomp", 7) || !strncmp (line, "Uid", 3) || !strncmp (line, "Gid", 3))
      {
        char *c = strchr (line, ':');
        *c = '=';
        char *v = c + 1;
        while (*v == '\t' || *v == ' ')
          memmove (v, v + 1, strlen (v));
        fputs (line, stdout);
      }
  printf ("euid=%d\n", geteuid ());
  return 0;
}

static int
cmd_privops (int argc, char **argv)
{
  res ("mount_tmpfs", mount ("none", "/tmp", "tmpfs", 0, NULL));
  res ("unshare_ns", unshare (CLONE_NEWNS));
  res ("unshare_user", unshare (CLONE_NEWUSER));
  res ("chroot", chroot ("/"));
  return 0;
}

static long
raw_clone (unsigned long flags)
{
  long r = syscall (SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (r == 0)
    _exit (0);
  if (r > 0)
    waitpid ((pid_t)r, NULL, 0);
  return r;
}

static int
cmd_syscalls (int argc, char **argv)
{
  printf ("first_keyctl=%s\n", first_keyctl_ret < 0 ? en ((int)first_keyctl_errno) : "ok");
  res ("keyctl", syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  res ("add_key", syscall (SYS_add_key, "user", "x", "y", 1, KEY_SPEC_PROCESS_KEYRING));
  res ("request_key", syscall (SYS_request_key, "user", "x", NULL, 0));
  res ("kexec_load", syscall (SYS_kexec_load, 0, 0, NULL, 0));
  res ("init_module", syscall (SYS_init_module, NULL, 0, ""));
  res ("bpf", syscall (SYS_bpf, 0, NULL, 0));
  res ("perf_event_open", syscall (SYS_perf_event_open, NULL, 0, -1, -1, 0));
  res ("userfaultfd", syscall (SYS_userfaultfd, 0));
  res ("open_by_handle_at", syscall (SYS_open_by_handle_at, -1, NULL, 0));
  res ("io_uring_setup", syscall (SYS_io_uring_setup, 1, NULL));
  res ("socket_vsock", socket (40, SOCK_STREAM, 0));
  res ("socket_alg", socket (38, SOCK_SEQPACKET, 0));
  /* the kernel reads the family as an int: bits above 31 must not help */
  res ("socket_vsock_high", syscall (SYS_socket, 0x100000028L, SOCK_STREAM, 0));
  res ("socket_unix_high", syscall (SYS_socket, 0x100000001L, SOCK_STREAM, 0));
  res ("personality_norand", personality (ADDR_NO_RANDOMIZE));
  res ("personality_odd", personality (0x41));
  res ("unshare_user", syscall (SYS_unshare, CLONE_NEWUSER));
  res ("clone_newns", raw_clone (CLONE_NEWNS));
  res ("clone_newuser", raw_clone (CLONE_NEWUSER));
  res ("clone3", syscall (SYS_clone3, NULL, 0));
  res ("mount", syscall (SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
  res ("pivot_root", syscall (SYS_pivot_root, "/", "/"));
  res ("setns", syscall (SYS_setns, -1, 0));
  /* in a child: a traced process would stop at its next signal */
  pid_t tp = fork ();
  if (tp == 0)
    _exit (syscall (SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) < 0 ? errno : 0);
  int tst = 0;
  waitpid (tp, &tst, 0);
  printf ("ptrace_traceme=%s\n", WIFEXITED (tst) ? en (WEXITSTATUS (tst)) : "E?");
  res ("personality_query", personality (0xffffffff));
  res ("personality_linux32", personality (PER_LINUX32));
  res ("personality_uname26", personality (0x20008));
  res ("personality_almost_all", personality (0xfffffffe));
  res ("personality_bit31", personality (0x80000000));
  personality (PER_LINUX);
  res ("plain_clone", raw_clone (0));
  /* known to libseccomp, not on the allow-list (gated on CAP_SYS_NICE) */
  res ("get_mempolicy", syscall (SYS_get_mempolicy, NULL, NULL, 0, NULL, 0));
  /* setxattrat (Linux 6.13), newer than the policy's libseccomp: ENOSYS */
  res ("newer_syscall", syscall (463, -1, "", 0, NULL, NULL, 0));
  res ("getpid", syscall (SYS_getpid));
  return 0;
}

/* keyctl through the i386 entry (int 0x80, nr 288) and the x32 bit. */
static long
int80 (long nr, long a, long b)
{
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b) : "memory");
  return ret;
}

static long
int80_3 (long nr, long a, long b, long c)
{
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  return ret;
}

/* Whether `int 0x80` returns at all, tried in a child: some paravirtualised
 * guests run 64-bit user code only and kill any process that uses the i386
 * entry (SIGSEGV), although the kernel has CONFIG_IA32_EMULATION. Returns 0
 * when the entry answers, else the signal that killed the child (or -1). */
static int
i386_entry_signal (void)
{
  fflush (stdout);
  pid_t p = fork ();
  if (p < 0)
    return -1;
  if (p == 0)
    _exit (int80 (20, 0, 0) > 0 ? 0 : 3); /* getpid on i386 */
  int st = 0;
  if (waitpid (p, &st, 0) < 0)
    return -1;
  if (WIFSIGNALED (st))
    return WTERMSIG (st);
  return 0;
}

static void
i386_res (const char *name, long r)
{
  if (r >= 0)
    close ((int)r);
  printf ("%s=%s\n", name, r < 0 && r > -4096 ? en ((int)-r) : "ok");
}

/* Socket creation through the i386 entry: the direct call (nr 359, Linux
 * >= 4.3) and the socketcall multiplexer (nr 102, SYS_SOCKET = 1), whose
 * arguments are in memory, which must be below 4 GiB for a 32-bit call. */
static void
i386_sockets (void)
{
  uint32_t *args
      = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (args == MAP_FAILED)
    {
      printf ("i386_sockets=mmap-failed\n");
      return;
    }
  i386_res ("i386_socket_unix", int80_3 (359, AF_UNIX, SOCK_STREAM, 0));
  i386_res ("i386_socket_vsock", int80_3 (359, 40, SOCK_STREAM, 0));
  i386_res ("i386_socket_alg", int80_3 (359, 38, SOCK_SEQPACKET, 0));
  args[0] = AF_UNIX, args[1] = SOCK_STREAM, args[2] = 0;
  i386_res ("i386_socketcall_unix", int80 (102, 1, (long)(uintptr_t)args));
  args[0] = 40;
  i386_res ("i386_socketcall_vsock", int80 (102, 1, (long)(uintptr_t)args));
  args[0] = 38, args[1] = SOCK_SEQPACKET;
  i386_res ("i386_socketcall_alg", int80 (102, 1, (long)(uintptr_t)args));
  munmap (args, 4096);
}

static int
cmd_arch (int argc, char **argv)
{
  int sig = i386_entry_signal ();
  if (sig != 0)
    printf ("i386_entry=absent\ni386_entry_signal=%d\n", sig);
  else
    {
      printf ("i386_entry=present\n");
      long r = int80 (288, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING);
      printf ("i386_keyctl=%s\n", r < 0 && r > -4096 ? en ((int)-r) : "ok");
      r = int80 (20, 0, 0); /* getpid on i386: allowed */
      printf ("i386_getpid=%s\n", r < 0 && r > -4096 ? en ((int)-r) : "ok");
      i386_sockets ();
    }
  long r = syscall (0x40000000 | 250, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
  printf ("x32_keyctl=%s\n", r < 0 ? en (errno) : "ok");
  return 0;
}

static int
cmd_ns (int argc, char **argv)
{
  static const char *const ns[] = { "mnt", "pid", "net", "ipc", "uts", "user", "cgroup" };
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
    {
      char p[64];
      struct stat st;
      snprintf (p, sizeof p, "/proc/self/ns/%s", ns[i]);
      printf ("ns_%s=%lu\n", ns[i], stat (p, &st) == 0 ? (unsigned long)st.st_ino : 0UL);
    }
  char h[256] = "";
  gethostname (h, sizeof h);
  printf ("hostname=%s\npid=%d\n", h, getpid ());
  return 0;
}

static int
cmd_forks (int argc, char **argv)
{
  int n = 0;
  for (;;)
    {
      pid_t p = fork ();
      if (p == 0)
        {
          pause ();
          _exit (0);
        }
      if (p < 0)
        break;
      n++;
    }
  printf ("forks=%d\nfork_errno=%s\n", n, en (errno));
  fflush (stdout);
  kill (0, SIGKILL);
  return 0;
}

static int
cmd_alloc (int argc, char **argv)
{
  size_t mb = strtoul (argv[2], NULL, 10);
  for (size_t i = 0; i < mb; i++)
    {
      char *p = malloc (1 << 20);
      if (!p)
        return 3;
      memset (p, 1, 1 << 20);
    }
  printf ("alloc=ok\n");
  return 0;
}

static int
cmd_zombies (int argc, char **argv)
{
  int n = atoi (argv[2]);
  for (int i = 0; i < n; i++)
    {
      pid_t p = fork ();
      if (p == 0)
        {
          if (fork () == 0)
            {
              usleep (20000);
              _exit (0);
            }
          _exit (0);
        }
      waitpid (p, NULL, 0);
    }
  usleep (400000);
  int z = 0;
  DIR *d = opendir ("/proc");
  struct dirent *e;
  while (d && (e = readdir (d)))
    {
      char p[300], buf[512];
      if (atoi (e->d_name) <= 0)
        continue;
      snprintf (p, sizeof p, "/proc/%s/stat", e->d_name);
      FILE *f = fopen (p, "r");
      if (f && fgets (buf, sizeof buf, f))
        {
          char *s = strrchr (buf, ')');
          if (s && s[2] == 'Z')
            z++;
        }
      if (f)
        fclose (f);
    }
  printf ("zombies=%d\n", z);
  return 0;
}

static void
on_term (int s)
{
  (void)s;
  _exit (42);
}

static int
cmd_trap (int argc, char **argv)
{
  signal (SIGTERM, on_term);
  signal (SIGINT, on_term);
  printf ("ready\n");
  fflush (stdout);
  for (;;)
    pause ();
  return 0;
}

static int
cmd_sleep (int argc, char **argv)
{
  printf ("ready\n");
  fflush (stdout);
  sleep ((unsigned)atoi (argv[2]));
  return 0;
}

static int
cmd_kill_self (int argc, char **argv)
{
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  signal (atoi (argv[2]), SIG_DFL);
  raise (atoi (argv[2]));
  return 99;
}

static int
cmd_segv (int argc, char **argv)
{
  volatile int *volatile bad = (int *)8;
  *bad = 1; /* a real fault: the kernel forces SIGSEGV, even on pid 1 */
  return 99;
}

static int
cmd_cwd (int argc, char **argv)
{
  char buf[4096];
  printf ("cwd=%s\n", getcwd (buf, sizeof buf) ? buf : en (errno));
  return 0;
}

static int
cmd_exit (int argc, char **argv)
{
  return atoi (argv[2]);
}

static int
cmd_hold_exe (int argc, char **argv)
{
  /* Item 4: keep /proc/1/exe (O_PATH) across the launcher's lifetime. */
  int fd = open ("/proc/1/exe", O_PATH);
  printf ("hold=%s\n", fd >= 0 ? "ok" : en (errno));
  if (fd >= 0)
    {
      char p[64];
      snprintf (p, sizeof p, "/proc/self/fd/%d", fd);
      res ("reopen_wr", open (p, O_WRONLY));
    }
  return 0;
}

static const struct
{
  const char *name;
  int (*fn) (int, char **);
} cmds[] = {
  { "fds", cmd_fds },
  { "exe", cmd_exe },
  { "tiocsti", cmd_tiocsti },
  { "session", cmd_session },
  { "write", cmd_write },
  { "read", cmd_read },
  { "mkdir", cmd_mkdir },
  { "mknod", cmd_mknod },
  { "status", cmd_status },
  { "privops", cmd_privops },
  { "syscalls", cmd_syscalls },
  { "arch", cmd_arch },
  { "ns", cmd_ns },
  { "forks", cmd_forks },
  { "alloc", cmd_alloc },
  { "zombies", cmd_zombies },
  { "trap", cmd_trap },
  { "sleep", cmd_sleep },
  { "kill-self", cmd_kill_self },
  { "cwd", cmd_cwd },
  { "exit", cmd_exit },
  { "hold-exe", cmd_hold_exe },
  { "segv", cmd_segv },
};

int
main (int argc, char **argv)
{
  /* Item 22: the very first thing the binary does is a filtered syscall. */
  first_keyctl_ret = syscall (SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
  first_keyctl_errno = errno;
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (argc < 2)
    return 2;
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (strcmp (argv[1], cmds[i].name) == 0)
      return cmds[i].fn (argc, argv);
  fprintf (stderr, "launch-probe: unknown command %s\n", argv[1]);
  return 2;
}
