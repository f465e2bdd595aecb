/* cairn run's command line: podman's familiar flags and the long forms
 * cairn had, in one table that gives the parser, --help and the shell
 * completion (cli/cmd-completion.c) alike.
 *
 *   cairn run [OPTIONS] REF|COMMIT [--] [CMD [ARG...]]
 *
 * Options end at REF: what follows is the container's command, as with
 * podman run (a "--" after REF is dropped). An unknown option is a usage
 * error (exit 2) naming it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-run.h"
#include <string.h>

void
cairn_run_args_init (CairnRunArgs *a)
{
  memset (a, 0, sizeof *a);
  GPtrArray **arrays[] = { &a->env, &a->env_files, &a->volumes, &a->tmpfs,    &a->publish,
                           &a->dns, &a->add_hosts, &a->cap_add, &a->cap_drop, &a->cmd };
  for (gsize i = 0; i < G_N_ELEMENTS (arrays); i++)
    *arrays[i] = g_ptr_array_new_with_free_func (g_free);
}

void
cairn_run_args_clear (CairnRunArgs *a)
{
  GPtrArray *arrays[] = { a->env, a->env_files, a->volumes, a->tmpfs,    a->publish,
                          a->dns, a->add_hosts, a->cap_add, a->cap_drop, a->cmd };
  for (gsize i = 0; i < G_N_ELEMENTS (arrays); i++)
    if (arrays[i])
      g_ptr_array_unref (arrays[i]);
  char *strings[]
      = { a->net,  a->name, a->hostname,   a->workdir, a->user,          a->entrypoint, a->memory,
          a->pids, a->cpus, a->cpu_weight, a->seccomp, a->overlay_upper, a->keyring,    a->ref };
  for (gsize i = 0; i < G_N_ELEMENTS (strings); i++)
    g_free (strings[i]);
  memset (a, 0, sizeof *a);
}

/* Every option goes through here, by its long name ("-e" is "env"). */
typedef struct
{
  const char *name;
  gsize offset; /* of the field in CairnRunArgs */
  char kind;    /* 'a' append to a GPtrArray, 's' a string, 'b' a flag */
} Field;

#define F(n, field, k)                                                                             \
  {                                                                                                \
    n, G_STRUCT_OFFSET (CairnRunArgs, field), k                                                    \
  }
static const Field fields[] = {
  F ("env", env, 'a'),
  F ("env-file", env_files, 'a'),
  F ("env-host", env_host, 'b'),
  F ("volume", volumes, 'a'),
  F ("bind", volumes, 'a'),
  F ("tmpfs", tmpfs, 'a'),
  F ("publish", publish, 'a'),
  F ("network", net, 's'),
  F ("net", net, 's'),
  F ("dns", dns, 'a'),
  F ("add-host", add_hosts, 'a'),
  F ("hostname", hostname, 's'),
  F ("name", name, 's'),
  F ("workdir", workdir, 's'),
  F ("user", user, 's'),
  F ("entrypoint", entrypoint, 's'),
  F ("tty", tty, 'b'),
  F ("interactive", interactive, 'b'),
  F ("detach", detach, 'b'),
  F ("rm", rm, 'b'),
  F ("memory", memory, 's'),
  F ("pids-limit", pids, 's'),
  F ("pids", pids, 's'),
  F ("cpus", cpus, 's'),
  F ("cpu-weight", cpu_weight, 's'),
  F ("cap-add", cap_add, 'a'),
  F ("cap-drop", cap_drop, 'a'),
  F ("seccomp", seccomp, 's'),
  F ("init", init, 'b'),
  F ("no-init", no_init, 'b'),
  F ("read-only", read_only, 'b'),
  F ("writable", writable, 'b'),
  F ("overlay-upper", overlay_upper, 's'),
  F ("rootless", rootless, 'b'),
  F ("require-signed", require_signed, 'b'),
  F ("keyring", keyring, 's'),
};
#undef F

static const char short_names[][2][16] = {
  { "e", "env" }, { "v", "volume" },      { "p", "publish" }, { "w", "workdir" }, { "u", "user" },
  { "t", "tty" }, { "i", "interactive" }, { "d", "detach" },  { "m", "memory" },
};

static gboolean
security_opt (CairnRunArgs *a, const char *value, GError **error)
{
  if (g_str_has_prefix (value, "seccomp="))
    {
      g_free (a->seccomp);
      a->seccomp = g_strdup (value + 8);
      return TRUE;
    }
  /* always on: no_new_privs is set for every container (cairn-launch(1)) */
  if (!strcmp (value, "no-new-privileges") || !strcmp (value, "no-new-privileges=true"))
    return TRUE;
  return cairn_cli_usage_error (error,
                                "unsupported --security-opt '%s' (seccomp=FILE|unconfined and "
                                "no-new-privileges are supported)",
                                value);
}

static gboolean
mount_kind (CairnRunArgs *a, const char *value, GError **error)
{
  a->mount = TRUE;
  if (!value || !strcmp (value, "auto"))
    a->mount_kind = CAIRN_RUN_MOUNT_AUTO;
  else if (!strcmp (value, "kernel"))
    a->mount_kind = CAIRN_RUN_MOUNT_KERNEL;
  else if (!strcmp (value, "fuse"))
    a->mount_kind = CAIRN_RUN_MOUNT_FUSE;
  else
    return cairn_cli_usage_error (error, "--mount takes kernel, fuse or auto, not '%s'", value);
  return TRUE;
}

static gboolean
on_option (const char *option_name, const char *value, gpointer data, GError **error)
{
  CairnRunArgs *a = data;
  const char *name = option_name + (option_name[1] == '-' ? 2 : 1);
  for (gsize i = 0; option_name[1] != '-' && i < G_N_ELEMENTS (short_names); i++)
    if (!strcmp (name, short_names[i][0]))
      name = short_names[i][1];
  if (!strcmp (name, "security-opt"))
    return security_opt (a, value, error);
  if (!strcmp (name, "mount"))
    return mount_kind (a, value, error);
  if (!strcmp (name, "clear-env"))
    return TRUE; /* today's defaults, accepted for the scripts that said so */
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      if (strcmp (fields[i].name, name))
        continue;
      gpointer field = G_STRUCT_MEMBER_P (a, fields[i].offset);
      if (fields[i].kind == 'a')
        g_ptr_array_add (*(GPtrArray **)field, g_strdup (value));
      else if (fields[i].kind == 's')
        {
          g_free (*(char **)field);
          *(char **)field = g_strdup (value);
        }
      else
        *(gboolean *)field = TRUE;
      return TRUE;
    }
  return cairn_cli_usage_error (error, "unknown option '%s'", option_name);
}

#define V(l, s, d, a)                                                                              \
  {                                                                                                \
    l, s, 0, G_OPTION_ARG_CALLBACK, (gpointer)on_option, d, a                                      \
  }
#define B(l, s, d)                                                                                 \
  {                                                                                                \
    l, s, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer)on_option, d, NULL                \
  }
#define HIDDEN_V(l)                                                                                \
  {                                                                                                \
    l, 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_CALLBACK, (gpointer)on_option, NULL, "X"              \
  }
#define HIDDEN_B(l)                                                                                \
  {                                                                                                \
    l, 0, G_OPTION_FLAG_HIDDEN | G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer)on_option, \
        NULL, NULL                                                                                 \
  }

/* The table (--help and the completion print it as it is). */
static GOptionEntry entries[] = {
  V ("env", 'e', "Set NAME to VALUE, or pass the host's NAME (repeatable)", "NAME[=VALUE]"),
  V ("env-file", 0, "Read NAME=VALUE lines (or NAME) from FILE", "FILE"),
  B ("env-host", 0, "Pass the host's whole environment (the image's Env and -e still win)"),
  V ("volume", 'v', "Bind the host path SRC at DST (repeatable)", "SRC:DST[:ro|rw]"),
  V ("bind", 0, "Same as --volume", "SRC:DST[:ro|rw]"),
  V ("tmpfs", 0, "Mount a tmpfs at DST (/tmp, /run, /var/tmp always are)", "DST"),
  V ("publish", 'p', "Publish a container port on the host through pasta",
     "[IP:]HOSTPORT:PORT[/tcp|udp]"),
  V ("network", 0,
     "none or private (loopback only), host, pasta[:OPTION,...] or ns:PATH (default: pasta when "
     "installed and /dev/net/tun opens)",
     "MODE"),
  V ("net", 0, "Same as --network", "MODE"),
  V ("dns", 0, "Name server for the container's /etc/resolv.conf (repeatable)", "IP"),
  V ("add-host", 0, "Add NAME -> IP to the container's /etc/hosts (repeatable)", "NAME:IP"),
  V ("hostname", 0, "Host name (default: --name, else the commit's first 12 digits)", "NAME"),
  V ("name", 0, "Name the container (cairn ps, exec, stop, logs, rm, stats)", "NAME"),
  V ("workdir", 'w', "Working directory (made if the image lacks it)", "DIR"),
  V ("user", 'u', "User, by name or number, as in the image's /etc/passwd and /etc/group",
     "USER[:GROUP]"),
  V ("entrypoint", 0, "Replace the image's Entrypoint (a word or a JSON array); clears its Cmd",
     "CMD"),
  B ("tty", 't', "Give the container a terminal"),
  B ("interactive", 'i', "Keep standard input open for the container"),
  B ("detach", 'd', "Run in the background, print the container's name; output to cairn logs"),
  B ("rm", 0, "Remove the container when it exits"),
  V ("memory", 'm', "Memory limit", "SIZE"),
  V ("pids-limit", 0, "Limit on the number of processes", "N"),
  V ("cpus", 0, "CPU limit (1.5 = one and a half CPUs)", "N"),
  V ("cpu-weight", 0, "CPU weight, 1..10000", "N"),
  V ("cap-add", 0, "Add a capability (or ALL)", "CAP"),
  V ("cap-drop", 0, "Drop a capability (or ALL)", "CAP"),
  V ("security-opt", 0, "seccomp=FILE|unconfined, no-new-privileges", "OPT"),
  V ("seccomp", 0, "Seccomp policy: default, unconfined or a FILE", "POLICY"),
  B ("init", 0,
     "Run a minimal init as pid 1 (forwards signals, reaps zombies; the default unless CMD is an "
     "init)"),
  B ("no-init", 0, "Run CMD itself as pid 1, as podman does without --init"),
  B ("read-only", 0, "Strict read-only root: no tmpfs on /tmp, /run, /var/tmp"),
  B ("writable", 0, "Writable root: an overlay whose changes stay with the container"),
  V ("overlay-upper", 0, "Keep the --writable overlay's changes in DIR", "DIR"),
  B ("rootless", 0, "Run in a user namespace even as root"),
  B ("require-signed", 0, "The commit must carry a good signature from a trusted key"),
  V ("keyring", 0, "Trust only the keys in FILE", "FILE"),
  { "mount", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (gpointer)on_option,
    "Run on a read-only mount of the commit (cairn mount), no checkout: the kernel mount shared "
    "by every container of the commit as root, else a FUSE view",
    "kernel|fuse" },
  HIDDEN_V ("pids"),
  HIDDEN_B ("clear-env"),
  { NULL },
};

gboolean
cairn_run_parse (CairnCli *cli, int argc, char **in_argv, CairnRunArgs *a, GError **error)
{
  /* GOption rearranges the array it parses: the record of an approved
   * launch (cmd-run.c) needs the command line as it was given */
  g_autofree char **copy = g_memdup2 (in_argv, sizeof (char *) * (gsize)(argc + 1));
  char **argv = copy;
  /* A bare --mount is the automatic choice: GOption would take the next
   * argument (the REF) as its optional value */
  for (int i = 1; i < argc && strcmp (argv[i], "--"); i++)
    if (!strcmp (argv[i], "--mount"))
      argv[i] = (char *)"--mount=auto";
  if (!cairn_cli_parse_full (cli, entries, a, TRUE, "[OPTIONS] REF|COMMIT [--] [CMD [ARG...]]",
                             "Start a confined container on a stored commit, as podman run "
                             "does.\n\nSignatures are required with --require-signed, for a "
                             "remote's ref with gpg-verify=true, or\nwhen the repository config "
                             "sets run.require-signatures=true. CMD defaults to the image's\n"
                             "Entrypoint + Cmd recorded by `cairn import`. Exit status: the "
                             "container's.",
                             &argc, &argv, error))
    {
      /* GOption says "Unknown option -Z": name it as run's own errors do */
      const char *prefix = "Unknown option ";
      if (error && *error && g_error_matches (*error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION)
          && g_str_has_prefix ((*error)->message, prefix))
        {
          g_autofree char *opt = g_strdup ((*error)->message + strlen (prefix));
          g_clear_error (error);
          cairn_cli_usage_error (error, "unknown option '%s'", opt);
        }
      return FALSE;
    }
  if (argc < 2)
    return cairn_cli_usage_error (error, "need a REF or COMMIT to run");
  if (argv[1][0] == '-' && strcmp (argv[1], "-"))
    return cairn_cli_usage_error (error, "unknown option '%s'", argv[1]);
  a->ref = g_strdup (argv[1]);
  int i = 2;
  if (i < argc && !strcmp (argv[i], "--"))
    {
      a->cmd_after_dd = TRUE;
      i++;
    }
  for (; i < argc; i++)
    g_ptr_array_add (a->cmd, g_strdup (argv[i]));
  if (a->init && a->no_init)
    return cairn_cli_usage_error (error, "--init and --no-init exclude each other");
  if (a->read_only && a->writable)
    return cairn_cli_usage_error (error, "--read-only and --writable exclude each other");
  if (a->detach && a->mount)
    return cairn_cli_usage_error (error, "--mount cannot be --detach'ed: the mount is held by the "
                                         "cairn process, which would exit");
  return TRUE;
}
