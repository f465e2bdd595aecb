/* The container that `cairn run` starts, decided once, as cairn-launch
 * options (which --oci-run writes as the bundle's config.json:
 * runtime/oci-print.c).
 *
 * - Environment: the image's Env over PATH (the image's or the standard
 *   one), HOME (the container user's passwd entry), HOSTNAME, TERM (with a
 *   terminal) and container=cairn; then --env-file, then -e. Nothing else
 *   comes from the host unless --env-host (the launcher's own environment,
 *   below everything else) or -e NAME (the host's value of NAME, read by
 *   the launcher when it starts, so that a replayed launch reads it again).
 * - Network: pasta (Debian's passt) by default when it is installed and
 *   /dev/net/tun opens (tun_errno), else a namespace with loopback only;
 *   -p as podman gives it to pasta (-t/-u [IP/]HOSTPORT:PORT, and otherwise
 *   none; nothing forwarded from the container to the host's ports, no
 *   gateway mapped to the host, unless --network=pasta:... says so, as
 *   podman 4's defaults).
 * - /etc/resolv.conf, /etc/hosts and /etc/hostname: small files under the
 *   containers directory, named by their content, bound read-only over the
 *   image's (the store is never written); resolv.conf is the host's, whose
 *   loopback name servers become pasta's DNS forwarder.
 * - Filesystem: a read-only root with tmpfs on /tmp, /run and /var/tmp
 *   (--read-only: none; --writable: an overlay). Mount points missing in
 *   the image (a bind's target, the working directory, /etc/hostname...)
 *   make the root an overlay whose upper layer is the container's own
 *   (--overlay-ro), where the runtime creates them.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-run.h"
#include "checkout/cairn-checkout.h"
#include <arpa/inet.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PASTA_DNS "169.254.1.1" /* what loopback name servers become under pasta */

void
cairn_image_defaults_clear (CairnImageDefaults *d)
{
  g_strfreev (d->entrypoint);
  g_strfreev (d->cmd);
  g_strfreev (d->env);
  g_free (d->workdir);
  g_free (d->user);
  memset (d, 0, sizeof *d);
}

void
cairn_run_config_clear (CairnRunConfig *c)
{
  GPtrArray *arrays[] = { c->launch, c->command, c->inputs, c->programs };
  for (gsize i = 0; i < G_N_ELEMENTS (arrays); i++)
    if (arrays[i])
      g_ptr_array_unref (arrays[i]);
  memset (c, 0, sizeof *c);
}

static void
add (CairnRunConfig *c, const char *opt, const char *value)
{
  g_ptr_array_add (c->launch,
                   value ? g_strdup_printf ("--%s=%s", opt, value) : g_strdup_printf ("--%s", opt));
}

/* ---- the image's files --------------------------------------------------------- */
/* A file of the root, not following symlinks out of it. */
static char *
read_in_root (const char *root, const char *path)
{
  cairn_autofd rfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct open_how how
      = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  cairn_autofd fd = rfd < 0 ? -1 : (int)syscall (SYS_openat2, rfd, path, &how, sizeof how);
  if (fd < 0)
    return NULL;
  g_autoptr (GBytes) b = cairn_fd_read_all (fd, 1 << 20, NULL);
  return b ? g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b)) : NULL;
}

/* Whether @path exists in the root (symlinks followed inside it). */
static gboolean
exists_in_root (int rfd, const char *path)
{
  struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
  int fd = (int)syscall (SYS_openat2, rfd, path, &how, sizeof how);
  if (fd >= 0)
    close (fd);
  return fd >= 0;
}

/* The fields of the /etc/passwd or /etc/group line whose field @k is @v. */
static char **
db_find (const char *root, const char *db, int k, const char *v)
{
  g_autofree char *text = read_in_root (root, db);
  g_auto (GStrv) lines = g_strsplit (text ? text : "", "\n", -1);
  for (char **l = lines; *l; l++)
    {
      char **f = g_strsplit (*l, ":", 7);
      if ((int)g_strv_length (f) > MAX (k, 3) && strcmp (f[k], v) == 0)
        return f;
      g_strfreev (f);
    }
  return NULL;
}

/* "name", "uid", "name:group", "uid:gid" -> uid, gid, home. */
static gboolean
resolve_user (const char *root, const char *spec, guint *out_uid, guint *out_gid, char **out_home,
              GError **error)
{
  g_auto (GStrv) parts = g_strsplit (spec, ":", 2);
  gboolean numeric = g_ascii_isdigit (parts[0][0]);
  g_auto (GStrv) pw = db_find (root, "/etc/passwd", numeric ? 2 : 0, parts[0]);
  if (!numeric && !pw)
    return cairn_throw (error, "user '%s' not found in the image's /etc/passwd", parts[0]);
  guint64 uid, gid;
  if (!g_ascii_string_to_unsigned (pw ? pw[2] : parts[0], 10, 0, G_MAXUINT32 - 1, &uid, NULL))
    return cairn_cli_usage_error (error, "invalid --user '%s'", spec);
  gid = pw ? g_ascii_strtoull (pw[3], NULL, 10) : uid;
  if (parts[1])
    {
      gboolean gnum = g_ascii_isdigit (parts[1][0]);
      g_auto (GStrv) gr = gnum ? NULL : db_find (root, "/etc/group", 0, parts[1]);
      if (!gnum && !gr)
        return cairn_throw (error, "group '%s' not found in the image's /etc/group", parts[1]);
      if (!g_ascii_string_to_unsigned (gr ? gr[2] : parts[1], 10, 0, G_MAXUINT32 - 1, &gid, NULL))
        return cairn_cli_usage_error (error, "invalid --user '%s'", spec);
    }
  *out_uid = (guint)uid;
  *out_gid = (guint)gid;
  *out_home = g_strdup (pw && pw[5] && *pw[5] ? pw[5] : uid == 0 ? "/root" : "/");
  return TRUE;
}

/* ---- environment ------------------------------------------------------------------- */
typedef struct
{
  GPtrArray *vars; /* "K=V", or "K" to be taken from the launcher's environment */
} Env;

static void
env_set (Env *e, const char *kv)
{
  gsize kl = strcspn (kv, "=");
  for (guint i = 0; i < e->vars->len; i++)
    {
      const char *x = e->vars->pdata[i];
      if (strncmp (x, kv, kl) == 0 && (x[kl] == '=' || x[kl] == '\0'))
        {
          g_free (e->vars->pdata[i]);
          e->vars->pdata[i] = g_strdup (kv);
          return;
        }
    }
  g_ptr_array_add (e->vars, g_strdup (kv));
}

static gboolean
valid_env_name (const char *kv, gsize len)
{
  if (len == 0 || g_ascii_isdigit (kv[0]))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (kv[i]) && kv[i] != '_')
      return FALSE;
  return TRUE;
}

static gboolean
env_user (Env *e, const char *kv, const char *what, GError **error)
{
  if (!valid_env_name (kv, strcspn (kv, "=")))
    return cairn_cli_usage_error (error, "%s: invalid variable '%s' (NAME=VALUE or NAME)", what,
                                  kv);
  env_set (e, kv);
  return TRUE;
}

/* docker's env-file format: NAME=VALUE per line, NAME alone passes the
 * host's value, # comments and blank lines skipped, no quoting. */
static gboolean
env_file (Env *e, const char *path, CairnRunConfig *c, GError **error)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, error))
    return cairn_prefix_error (error, "--env-file");
  g_ptr_array_add (c->inputs, g_canonicalize_filename (path, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      char *line = g_strchug (*l);
      g_strchomp (line);
      if (!*line || *line == '#')
        continue;
      g_autofree char *what = g_strdup_printf ("--env-file %s", path);
      if (!env_user (e, line, what, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
build_env (const CairnRunArgs *a, const CairnImageDefaults *img, const char *home,
           const char *hostname, CairnRunConfig *c, GError **error)
{
  Env e = { g_ptr_array_new_with_free_func (g_free) };
  g_autoptr (GPtrArray) owned = e.vars;
  env_set (&e, DEFAULT_PATH);
  if (!a->env_host)
    {
      g_autofree char *h = g_strdup_printf ("HOME=%s", home);
      env_set (&e, h);
    }
  g_autofree char *hn = g_strdup_printf ("HOSTNAME=%s", hostname);
  env_set (&e, hn);
  if (a->tty)
    env_set (&e, "TERM=xterm");
  env_set (&e, "container=cairn");
  for (char **v = img->env; v && *v; v++)
    if (strchr (*v, '='))
      env_set (&e, *v);
  for (guint i = 0; i < a->env_files->len; i++)
    if (!env_file (&e, a->env_files->pdata[i], c, error))
      return FALSE;
  for (guint i = 0; i < a->env->len; i++)
    if (!env_user (&e, a->env->pdata[i], "-e", error))
      return FALSE;
  /* --env-host: the launcher starts from its own environment; what is set
   * here overrides it (PATH only when the image has one) */
  if (!a->env_host)
    add (c, "clear-env", NULL);
  gboolean image_path = FALSE;
  for (char **v = img->env; v && *v; v++)
    image_path |= g_str_has_prefix (*v, "PATH=");
  for (guint i = 0; i < e.vars->len; i++)
    if (!a->env_host || image_path || !g_str_has_prefix (e.vars->pdata[i], "PATH="))
      add (c, "env", e.vars->pdata[i]);
  return TRUE;
}

/* ---- network ------------------------------------------------------------------------ */
static gboolean
is_loopback (const char *ip)
{
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton (AF_INET, ip, &a4) == 1)
    return (ntohl (a4.s_addr) >> 24) == 127;
  return inet_pton (AF_INET6, ip, &a6) == 1 && IN6_IS_ADDR_LOOPBACK (&a6);
}

static gboolean
valid_ip (const char *ip)
{
  struct in_addr a4;
  struct in6_addr a6;
  return inet_pton (AF_INET, ip, &a4) == 1 || inet_pton (AF_INET6, ip, &a6) == 1;
}

/* PORT or LO-HI */
static gboolean
valid_ports (const char *s)
{
  g_auto (GStrv) r = g_strsplit (s, "-", 2);
  guint64 lo, hi;
  if (!g_ascii_string_to_unsigned (r[0], 10, 1, 65535, &lo, NULL))
    return FALSE;
  if (r[1] && (!g_ascii_string_to_unsigned (r[1], 10, lo, 65535, &hi, NULL)))
    return FALSE;
  return TRUE;
}

/* podman's -p [IP:]HOSTPORT:PORT[/tcp|udp] (PORT alone: the same host
 * port) as pasta's -t/-u [IP/]HOSTPORT:PORT. */
static gboolean
publish (const char *spec, CairnRunConfig *c, GError **error)
{
  g_autofree char *s = g_strdup (spec);
  const char *proto = "tcp";
  char *slash = strrchr (s, '/');
  if (slash)
    {
      *slash = '\0';
      proto = slash + 1;
    }
  char *ip = NULL, *rest = s;
  if (s[0] == '[')
    {
      char *close = strchr (s, ']');
      if (!close || close[1] != ':')
        return cairn_cli_usage_error (error, "invalid -p '%s'", spec);
      *close = '\0';
      ip = s + 1;
      rest = close + 2;
    }
  g_auto (GStrv) f = g_strsplit (rest, ":", -1);
  guint n = g_strv_length (f);
  if (!ip && n == 3)
    ip = f[0];
  const char *host = n == 1 ? f[0] : f[n - 2], *ctr = f[n - 1];
  if ((strcmp (proto, "tcp") && strcmp (proto, "udp")) || n > 3 || (ip && n == 3 && !*host)
      || !valid_ports (host) || !valid_ports (ctr) || (ip && *ip && !valid_ip (ip)))
    return cairn_cli_usage_error (error, "invalid -p '%s' (want [IP:]HOSTPORT:PORT[/tcp|udp])",
                                  spec);
  add (c, "pasta-arg", proto[0] == 't' ? "-t" : "-u");
  g_autofree char *arg
      = g_strdup_printf ("%s%s%s:%s", ip && *ip ? ip : "", ip && *ip ? "/" : "", host, ctr);
  add (c, "pasta-arg", arg);
  return TRUE;
}

static gboolean
host_has_ipv6_default_route (void)
{
  g_autofree char *t = NULL;
  if (!g_file_get_contents ("/proc/net/ipv6_route", &t, NULL, NULL))
    return FALSE;
  /* destination ::/0 */
  return strstr (t, "00000000000000000000000000000000 00 ") == t
         || strstr (t, "\n00000000000000000000000000000000 00 ") != NULL;
}

/* --network=pasta[:OPT,OPT...] and -p, as podman 4 starts pasta. */
static gboolean
pasta_args (const CairnRunArgs *a, const char *opts, gboolean loopback_dns, CairnRunConfig *c,
            GError **error)
{
  gboolean tcp = FALSE, udp = FALSE, tcp_ns = FALSE, udp_ns = FALSE, map_gw = FALSE;
  for (guint i = 0; i < a->publish->len; i++)
    if (!publish (a->publish->pdata[i], c, error))
      return FALSE;
  for (guint i = 0; i < a->publish->len; i++)
    {
      tcp |= !g_str_has_suffix (a->publish->pdata[i], "/udp");
      udp |= g_str_has_suffix (a->publish->pdata[i], "/udp");
    }
  g_auto (GStrv) user = opts && *opts ? g_strsplit (opts, ",", -1) : NULL;
  for (char **o = user; o && *o; o++)
    {
      tcp |= !strcmp (*o, "-t") || !strcmp (*o, "--tcp-ports");
      udp |= !strcmp (*o, "-u") || !strcmp (*o, "--udp-ports");
      tcp_ns |= !strcmp (*o, "-T") || !strcmp (*o, "--tcp-ns");
      udp_ns |= !strcmp (*o, "-U") || !strcmp (*o, "--udp-ns");
      if (!strcmp (*o, "--map-gw"))
        map_gw = TRUE; /* podman's word for "not --no-map-gw" */
      else
        add (c, "pasta-arg", *o);
    }
  const char *const defaults[][2]
      = { { "-t", "none" }, { "-u", "none" }, { "-T", "none" }, { "-U", "none" } };
  gboolean given[] = { tcp, udp, tcp_ns, udp_ns };
  for (int i = 0; i < 4; i++)
    if (!given[i])
      {
        add (c, "pasta-arg", defaults[i][0]);
        add (c, "pasta-arg", defaults[i][1]);
      }
  if (!map_gw)
    add (c, "pasta-arg", "--no-map-gw");
  if (loopback_dns)
    {
      add (c, "pasta-arg", "--dns-forward");
      add (c, "pasta-arg", PASTA_DNS);
    }
  if (!host_has_ipv6_default_route ())
    add (c, "pasta-arg", "-4");
  return TRUE;
}

/* The host's name servers, search and options lines; loopback servers
 * (a local resolver) are reached through pasta's forwarder. */
static char *
resolv_conf (const CairnRunArgs *a, const char *mode, gboolean *out_loopback)
{
  g_autofree char *host = NULL;
  g_file_get_contents ("/etc/resolv.conf", &host, NULL, NULL);
  g_autoptr (GString) s = g_string_new (NULL);
  gboolean lo = FALSE;
  g_auto (GStrv) lines = g_strsplit (host ? host : "", "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) w = g_strsplit_set (*l, " \t", 3);
      gboolean ns = w[0] && !strcmp (w[0], "nameserver") && w[1];
      if (ns && a->dns->len)
        continue;
      if (ns && is_loopback (w[1]) && !strcmp (mode, "pasta"))
        {
          if (!lo)
            g_string_append (s, "nameserver " PASTA_DNS "\n");
          lo = TRUE;
          continue;
        }
      if (**l && **l != '#' && **l != ';')
        g_string_append_printf (s, "%s\n", *l);
    }
  for (guint i = 0; i < a->dns->len; i++)
    g_string_append_printf (s, "nameserver %s\n", (char *)a->dns->pdata[i]);
  *out_loopback = lo;
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static char *
hosts_file (const CairnRunArgs *a, const char *mode, const char *hostname)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_autofree char *host = NULL;
  if (!strcmp (mode, "host") && g_file_get_contents ("/etc/hosts", &host, NULL, NULL))
    g_string_append (s, host);
  else
    g_string_append_printf (s,
                            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                            "ip6-loopback\n127.0.1.1\t%s\n",
                            hostname);
  if (s->len && s->str[s->len - 1] != '\n')
    g_string_append_c (s, '\n');
  for (guint i = 0; i < a->add_hosts->len; i++)
    {
      const char *h = a->add_hosts->pdata[i];
      const char *colon = strchr (h, ':');
      g_string_append_printf (s, "%s\t%.*s\n", colon + 1, (int)(colon - h), h);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static gboolean
check_network_args (const CairnRunArgs *a, const char *mode, GError **error)
{
  for (guint i = 0; i < a->add_hosts->len; i++)
    {
      const char *h = a->add_hosts->pdata[i], *colon = strchr (h, ':');
      if (!colon || colon == h || !valid_ip (colon + 1))
        return cairn_cli_usage_error (error, "invalid --add-host '%s' (want NAME:IP)", h);
    }
  for (guint i = 0; i < a->dns->len; i++)
    if (!valid_ip (a->dns->pdata[i]))
      return cairn_cli_usage_error (error, "invalid --dns '%s' (want an IP address)",
                                    (char *)a->dns->pdata[i]);
  if (a->publish->len && strcmp (mode, "pasta"))
    return cairn_cli_usage_error (error,
                                  "-p needs --network=pasta (the %s network has no way in from "
                                  "the host)",
                                  mode);
  return TRUE;
}

/* Write the files into <containers>/files/<sha256 of them>/, once. */
static char *
write_etc_files (const char *containers, const char *const names[3], const char *const data[3],
                 GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  for (int i = 0; i < 3; i++)
    {
      g_checksum_update (sum, (const guchar *)names[i], strlen (names[i]) + 1);
      g_checksum_update (sum, (const guchar *)data[i], strlen (data[i]) + 1);
    }
  g_autofree char *files = g_build_filename (containers, "files", NULL);
  char *dir = g_build_filename (files, g_checksum_get_string (sum), NULL);
  if (g_file_test (dir, G_FILE_TEST_IS_DIR))
    return dir;
  g_autofree char *tmp = g_strdup_printf ("%s.%d.tmp", dir, (int)getpid ());
  if (g_mkdir_with_parents (files, 0700) < 0 || mkdir (tmp, 0755) < 0)
    {
      cairn_throw_errno (error, "creating %s", files);
      g_free (dir);
      return NULL;
    }
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *p = g_build_filename (tmp, names[i], NULL);
      if (!g_file_set_contents_full (p, data[i], -1, G_FILE_SET_CONTENTS_NONE, 0644, error))
        {
          g_free (dir);
          return NULL;
        }
    }
  /* a concurrent run may have made the same directory: theirs is as good */
  if (rename (tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY)
    {
      cairn_throw_errno (error, "creating %s", dir);
      g_free (dir);
      return NULL;
    }
  if (g_file_test (tmp, G_FILE_TEST_IS_DIR))
    {
      int tfd = open (files, O_PATH | O_DIRECTORY | O_CLOEXEC);
      g_autofree char *base = g_path_get_basename (tmp);
      cairn_rm_rf_at (tfd, base, NULL);
      close (tfd);
    }
  return dir;
}

/* pasta opens /dev/net/tun in the caller's mount namespace, as the caller
 * (pasta(1): it joins the container's network and user namespaces only).
 * Opened here the same way: a host that keeps the device to root (Debian
 * makes it 0666), a device cgroup or a container without the node fail
 * before anything starts, in one line, not in pasta's output after the
 * container's namespaces exist. Returns 0 or the errno. */
static int
tun_errno (void)
{
  int fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return errno;
  close (fd);
  return 0;
}

static gboolean
network (const CairnRunArgs *a, const char *hostname, const char *containers, CairnRunConfig *c,
         GPtrArray *binds, GError **error)
{
  g_autofree char *pasta = g_find_program_in_path ("pasta");
  /* a machine (or container) where pasta cannot open /dev/net/tun gets the
   * loopback-only default instead of a failing one (asked only when pasta
   * may be the network) */
  gboolean maybe_pasta = pasta && (!a->net || g_str_has_prefix (a->net, "pasta"));
  int tun_err = maybe_pasta ? tun_errno () : ENOENT;
  const char *given = a->net ? a->net : pasta && tun_err == 0 ? "pasta" : "private";
  g_autofree char *mode = g_strndup (given, strcspn (given, ":"));
  const char *opts = given[strlen (mode)] == ':' ? given + strlen (mode) + 1 : NULL;
  if (strcmp (mode, "none") && strcmp (mode, "private") && strcmp (mode, "host")
      && strcmp (mode, "pasta") && strcmp (mode, "ns"))
    return cairn_cli_usage_error (error,
                                  "invalid --network '%s' (none, private, host, pasta[:OPTIONS] "
                                  "or ns:PATH)",
                                  given);
  if (!strcmp (mode, "ns") && (!opts || opts[0] != '/'))
    return cairn_cli_usage_error (error, "--network=ns:PATH needs an absolute PATH");
  if (opts && strcmp (mode, "pasta") && strcmp (mode, "ns"))
    return cairn_cli_usage_error (error, "--network=%s takes no options", mode);
  if (!check_network_args (a, mode, error))
    return FALSE;
  if (!strcmp (mode, "pasta") && !pasta)
    return cairn_throw (error, "--network=pasta: pasta is not installed (Debian's passt package)");
  if (!strcmp (mode, "pasta") && tun_err)
    return cairn_throw (error,
                        "--network=pasta: /dev/net/tun: %s (pasta opens it as %s; Debian's "
                        "mode is 0666; --network=private needs no device)",
                        g_strerror (tun_err), geteuid () ? "this user" : "root");
  gboolean loopback_dns = FALSE;
  g_autofree char *resolv = resolv_conf (a, mode, &loopback_dns);
  g_autofree char *hosts = hosts_file (a, mode, hostname);
  g_autofree char *hn = g_strdup_printf ("%s\n", hostname);
  if (!strcmp (mode, "pasta"))
    {
      add (c, "net", "pasta");
      g_ptr_array_add (c->programs, g_steal_pointer (&pasta));
      if (!pasta_args (a, opts, loopback_dns, c, error))
        return FALSE;
    }
  else if (!strcmp (mode, "ns"))
    add (c, "net", given);
  else
    add (c, "net", !strcmp (mode, "host") ? "host" : "private");
  g_ptr_array_add (c->inputs, g_strdup ("/etc/resolv.conf"));
  if (!strcmp (mode, "host"))
    g_ptr_array_add (c->inputs, g_strdup ("/etc/hosts"));
  /* the /etc files are those of the shared list, which the cached
   * checkout has (checkout/cairn-checkout.h) */
  const char *names[3], *data[3];
  int n = 0;
  for (gsize i = 0; i < cairn_run_n_mount_points; i++)
    {
      const CairnRunMountPoint *m = &cairn_run_mount_points[i];
      if (m->kind != CAIRN_RUN_MP_ETC)
        continue;
      g_assert (n < 3 && g_str_has_prefix (m->path, "/etc/"));
      names[n] = m->path + strlen ("/etc/");
      data[n] = !strcmp (names[n], "resolv.conf") ? resolv
                : !strcmp (names[n], "hosts")     ? hosts
                : !strcmp (names[n], "hostname")  ? hn
                                                  : NULL;
      g_assert (data[n]);
      n++;
    }
  g_assert (n == 3);
  g_autofree char *dir = write_etc_files (containers, names, data, error);
  if (!dir)
    return FALSE;
  for (int i = 0; i < 3; i++)
    {
      char *src = g_build_filename (dir, names[i], NULL);
      g_ptr_array_add (c->inputs, g_strdup (src));
      g_ptr_array_add (binds, g_strdup_printf ("%s:/etc/%s:ro", src, names[i]));
      g_free (src);
    }
  return TRUE;
}

/* ---- filesystem ------------------------------------------------------------------------ */
static gboolean
under (const char *path, const char *dir)
{
  gsize n = strlen (dir);
  return strncmp (path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Would a mount point (or the working directory) be missing in @root?
 * Those below a tmpfs mounted before them are made there. */
static gboolean
any_missing (const char *root, GPtrArray *tmpfs, GPtrArray *targets)
{
  cairn_autofd rfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0)
    return TRUE;
  for (guint i = 0; i < targets->len; i++)
    {
      const char *t = targets->pdata[i];
      gboolean on_tmpfs = FALSE;
      for (guint k = 0; k < tmpfs->len && !on_tmpfs; k++)
        on_tmpfs = strcmp (t, tmpfs->pdata[k]) && under (t, tmpfs->pdata[k]);
      if (!on_tmpfs && !exists_in_root (rfd, t))
        return TRUE;
    }
  return FALSE;
}

/* -v SRC:DST[:ro|rw]: SRC a host path (made absolute), DST absolute. */
static gboolean
volume (const char *spec, GPtrArray *binds, GPtrArray *targets, GError **error)
{
  g_auto (GStrv) f = g_strsplit (spec, ":", -1);
  guint n = g_strv_length (f);
  if (n < 2 || n > 3 || !*f[0] || f[1][0] != '/'
      || (n == 3 && strcmp (f[2], "ro") && strcmp (f[2], "rw")))
    return cairn_cli_usage_error (error, "invalid -v '%s' (want SRC:DST[:ro|rw], DST absolute)",
                                  spec);
  if (f[0][0] != '/' && f[0][0] != '.')
    return cairn_cli_usage_error (
        error, "-v '%s': named volumes are not supported, give a host path", spec);
  g_autofree char *src = g_canonicalize_filename (f[0], NULL);
  if (!g_file_test (src, G_FILE_TEST_EXISTS))
    return cairn_throw (error, "-v '%s': %s does not exist", spec, src);
  gboolean ro = n == 3 && !strcmp (f[2], "ro");
  g_ptr_array_add (binds, g_strdup_printf ("%s:%s%s", src, f[1], ro ? ":ro" : ""));
  g_ptr_array_add (targets, g_strdup (f[1]));
  return TRUE;
}

static gboolean
filesystem (const CairnRunArgs *a, const char *root, const char *workdir, GPtrArray *etc_binds,
            CairnRunConfig *c, GError **error)
{
  g_autoptr (GPtrArray) tmpfs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) binds = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) targets = g_ptr_array_new_with_free_func (g_free);
  for (gsize i = 0; !a->read_only && i < cairn_run_n_mount_points; i++)
    if (cairn_run_mount_points[i].kind == CAIRN_RUN_MP_TMPFS)
      g_ptr_array_add (tmpfs, g_strdup (cairn_run_mount_points[i].path));
  for (guint i = 0; i < a->tmpfs->len; i++)
    {
      const char *t = a->tmpfs->pdata[i];
      if (t[0] != '/')
        return cairn_cli_usage_error (error, "invalid --tmpfs '%s' (an absolute path)", t);
      g_ptr_array_add (tmpfs, g_strdup (t));
    }
  for (guint i = 0; i < tmpfs->len; i++)
    g_ptr_array_add (targets, g_strdup (tmpfs->pdata[i]));
  for (guint i = 0; i < a->volumes->len; i++)
    if (!volume (a->volumes->pdata[i], binds, targets, error))
      return FALSE;
  for (guint i = 0; i < etc_binds->len; i++)
    {
      const char *b = etc_binds->pdata[i];
      g_ptr_array_add (binds, g_strdup (b));
      g_ptr_array_add (targets,
                       g_strndup (strchr (b, ':') + 1, strcspn (strchr (b, ':') + 1, ":")));
    }
  for (gsize i = 0; i < cairn_run_n_mount_points; i++)
    if (cairn_run_mount_points[i].kind == CAIRN_RUN_MP_KERNEL)
      g_ptr_array_add (targets, g_strdup (cairn_run_mount_points[i].path));
  if (workdir)
    g_ptr_array_add (targets, g_strdup (workdir));
  for (guint i = 0; i < tmpfs->len; i++)
    add (c, "tmpfs", tmpfs->pdata[i]);
  for (guint i = 0; i < binds->len; i++)
    add (c, "bind", binds->pdata[i]);
  if (a->writable || a->overlay_upper)
    add (c, "writable", NULL);
  else if (any_missing (root, tmpfs, targets))
    add (c, "overlay-ro", NULL);
  if (a->overlay_upper)
    add (c, "overlay-upper", a->overlay_upper);
  return TRUE;
}

/* ---- the command ------------------------------------------------------------------------ */
/* --entrypoint: one word, or a JSON array of strings (podman's forms). */
static gboolean
entrypoint (const char *spec, GPtrArray *out, GError **error)
{
  if (spec[0] != '[')
    {
      if (*spec)
        g_ptr_array_add (out, g_strdup (spec));
      return TRUE;
    }
  g_autoptr (GBytes) b = g_bytes_new (spec, strlen (spec));
  g_autoptr (GError) local = NULL;
  g_autoptr (GVariant) v = cairn_json_parse (b, "--entrypoint", &local);
  if (!v || !g_variant_is_of_type (v, G_VARIANT_TYPE ("av")))
    return cairn_cli_usage_error (error, "invalid --entrypoint '%s' (a word or a JSON array)",
                                  spec);
  for (gsize i = 0; i < g_variant_n_children (v); i++)
    {
      g_autoptr (GVariant) box = g_variant_get_child_value (v, i);
      g_autoptr (GVariant) s = g_variant_get_variant (box);
      if (!g_variant_is_of_type (s, G_VARIANT_TYPE_STRING))
        return cairn_cli_usage_error (error, "invalid --entrypoint '%s' (strings only)", spec);
      g_ptr_array_add (out, g_variant_dup_string (s, NULL));
    }
  return TRUE;
}

static gboolean
command (const CairnRunArgs *a, const CairnImageDefaults *img, const char *commit,
         CairnRunConfig *c, GError **error)
{
  if (a->entrypoint)
    {
      if (!entrypoint (a->entrypoint, c->command, error))
        return FALSE;
    }
  else
    for (char **e = img->entrypoint; e && *e; e++)
      g_ptr_array_add (c->command, g_strdup (*e));
  c->n_entrypoint = c->command->len;
  if (a->cmd->len)
    for (guint i = 0; i < a->cmd->len; i++)
      g_ptr_array_add (c->command, g_strdup (a->cmd->pdata[i]));
  else if (!a->entrypoint)
    for (char **e = img->cmd; e && *e; e++)
      g_ptr_array_add (c->command, g_strdup (*e));
  if (c->command->len == 0)
    return cairn_cli_usage_error (error,
                                  "no command given and commit %s records no image "
                                  "Entrypoint or Cmd",
                                  commit);
  return TRUE;
}

/* ---- everything -------------------------------------------------------------------------- */

/* The launcher's own default (cairn-launch(1), --init): an init as pid 1
 * unless the command is one, so that a container's pid 1 dies of TERM and
 * INT (the kernel ignores unhandled signals sent to a namespace's init) and
 * zombies are reaped. The OCI form runs the command as pid 1 without
 * --init, as runc does: cairn run asks for the init itself. */
static gboolean
wants_init (const CairnRunArgs *a, const CairnRunConfig *c)
{
  static const char *const inits[]
      = { "init",  "systemd",    "tini",        "dumb-init",   "catatonit", "s6-svscan",
          "runit", "runit-init", "openrc-init", "docker-init", "sinit",     NULL };
  if (a->init || a->no_init)
    return a->init;
  if (!c->command->len)
    return TRUE;
  g_autofree char *base = g_path_get_basename (c->command->pdata[0]);
  return !g_strv_contains (inits, base);
}

static void
limits_and_privileges (const CairnRunArgs *a, CairnRunConfig *c)
{
  const char *vals[][2] = { { "memory", a->memory },
                            { "pids", a->pids },
                            { "cpus", a->cpus },
                            { "cpu-weight", a->cpu_weight },
                            { "seccomp", a->seccomp } };
  for (gsize i = 0; i < G_N_ELEMENTS (vals); i++)
    if (vals[i][1])
      add (c, vals[i][0], vals[i][1]);
  for (guint i = 0; i < a->cap_add->len; i++)
    add (c, "cap-add", a->cap_add->pdata[i]);
  for (guint i = 0; i < a->cap_drop->len; i++)
    add (c, "cap-drop", a->cap_drop->pdata[i]);
  if (a->rootless)
    add (c, "rootless", NULL);
  if (wants_init (a, c))
    add (c, "init", NULL);
  if (a->tty)
    add (c, "tty", NULL);
}

gboolean
cairn_run_config_build (const CairnRunArgs *a, const CairnImageDefaults *img, const char *root,
                        const char *commit, const char *containers, CairnRunConfig *out,
                        GError **error)
{
  CairnRunConfig c = { .launch = g_ptr_array_new_with_free_func (g_free),
                       .command = g_ptr_array_new_with_free_func (g_free),
                       .inputs = g_ptr_array_new_with_free_func (g_free),
                       .programs = g_ptr_array_new_with_free_func (g_free),
                       .replayable = TRUE };
  g_auto (CairnRunConfig) owned = c;
  const char *hostname = a->hostname ? a->hostname : a->name;
  g_autofree char *short_commit = g_strndup (commit, 12);
  if (!hostname)
    hostname = short_commit;
  const char *user = a->user ? a->user : img->user;
  guint uid = 0, gid = 0;
  g_autofree char *home = g_strdup ("/root");
  if (user && !resolve_user (root, user, &uid, &gid, &home, error))
    return FALSE;
  if (!a->name && a->hostname && strlen (a->hostname) > 64)
    return cairn_cli_usage_error (error, "--hostname is longer than 64 bytes");
  const char *workdir = a->workdir ? a->workdir : img->workdir;
  if (workdir && workdir[0] != '/')
    return cairn_cli_usage_error (error, "--workdir must be an absolute path");
  if (!command (a, img, commit, &c, error) || !build_env (a, img, home, hostname, &c, error))
    return FALSE;
  add (&c, "hostname", hostname);
  if (user)
    {
      g_autofree char *ids = g_strdup_printf ("%u:%u", uid, gid);
      add (&c, "user", ids);
    }
  if (workdir)
    add (&c, "workdir", workdir);
  g_autoptr (GPtrArray) etc_binds = g_ptr_array_new_with_free_func (g_free);
  if (!network (a, hostname, containers, &c, etc_binds, error)
      || !filesystem (a, root, workdir, etc_binds, &c, error))
    return FALSE;
  limits_and_privileges (a, &c);
  g_autofree char *ref = g_strdup_printf ("org.cairn.ref=%s", a->ref ? a->ref : commit);
  g_autofree char *ann = g_strdup_printf ("org.cairn.commit=%s", commit);
  add (&c, "annotation", ref);
  add (&c, "annotation", ann);
  *out = c;
  memset (&owned, 0, sizeof owned);
  return TRUE;
}
