/* cairn stats [--json] NAME...: the cgroup figures of running containers
 * (CPU time and use, memory use and limit, processes and limit), from the
 * OCI runtime's events --stats, sampled twice 200 ms apart for the CPU
 * use. As podman stats --no-stream.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "cli/cairn-commands.h"
#include "cli/cairn-containers.h"
#include <stdio.h>
#include <string.h>

typedef struct
{
  double cpu_ns, mem, mem_limit, pids, pids_limit;
  gint64 at;
} Sample;

static double
num (GVariant *obj, const char *a, const char *b)
{
  g_autoptr (GVariant) o = cairn_json_get (obj, a, G_VARIANT_TYPE_VARDICT);
  g_autoptr (GVariant) v = o ? cairn_json_get (o, b, G_VARIANT_TYPE_DOUBLE) : NULL;
  return v ? g_variant_get_double (v) : 0;
}

static gboolean
sample (const char *dir, const char *name, Sample *s, GError **error)
{
  const char *args[] = { "events", "--stats", name, NULL };
  g_autofree char *out = NULL;
  if (!cairn_containers_runtime (dir, args, &out, error))
    return cairn_prefix_error (error, "stats of %s", name);
  s->at = g_get_monotonic_time ();
  g_autoptr (GBytes) b = g_bytes_new_take (g_steal_pointer (&out), strlen (out ? out : ""));
  g_autoptr (GVariant) ev = cairn_json_parse (b, "the runtime's events", error);
  g_autoptr (GVariant) data = ev ? cairn_json_get (ev, "data", G_VARIANT_TYPE_VARDICT) : NULL;
  if (!data)
    return FALSE;
  g_autoptr (GVariant) cpu = cairn_json_get (data, "cpu", G_VARIANT_TYPE_VARDICT);
  g_autoptr (GVariant) mem = cairn_json_get (data, "memory", G_VARIANT_TYPE_VARDICT);
  s->cpu_ns = cpu ? num (cpu, "usage", "total") : 0;
  s->mem = mem ? num (mem, "usage", "usage") : 0;
  s->mem_limit = mem ? num (mem, "usage", "limit") : 0;
  s->pids = num (data, "pids", "current");
  s->pids_limit = num (data, "pids", "limit");
  return TRUE;
}

/* cgroup v1 says "no limit" with a page-rounded LONG_MAX */
static gboolean
unlimited (double limit)
{
  return limit <= 0 || limit >= 9.0e18;
}

static void
print_json (GString *s, const char *name, const Sample *a, const Sample *b)
{
  double secs = (double)(b->at - a->at) / G_USEC_PER_SEC;
  g_string_append (s, "{\"name\":");
  cairn_json_append_string (s, name);
  g_string_append_printf (s, ",\"cpu_seconds\":%.6f,\"cpu_percent\":%.2f", b->cpu_ns / 1e9,
                          secs > 0 ? (b->cpu_ns - a->cpu_ns) / 1e9 / secs * 100 : 0.0);
  g_string_append_printf (s, ",\"memory_bytes\":%.0f", b->mem);
  if (unlimited (b->mem_limit))
    g_string_append (s, ",\"memory_limit_bytes\":null");
  else
    g_string_append_printf (s, ",\"memory_limit_bytes\":%.0f", b->mem_limit);
  g_string_append_printf (s, ",\"pids\":%.0f", b->pids);
  if (b->pids_limit > 0)
    g_string_append_printf (s, ",\"pids_limit\":%.0f}", b->pids_limit);
  else
    g_string_append (s, ",\"pids_limit\":null}");
}

static void
print_row (const char *name, const Sample *a, const Sample *b)
{
  double secs = (double)(b->at - a->at) / G_USEC_PER_SEC;
  g_autofree char *mem = g_format_size_full ((guint64)b->mem, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *lim = unlimited (b->mem_limit)
                             ? g_strdup ("unlimited")
                             : g_format_size_full ((guint64)b->mem_limit, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *pids = b->pids_limit > 0
                              ? g_strdup_printf ("%.0f / %.0f", b->pids, b->pids_limit)
                              : g_strdup_printf ("%.0f", b->pids);
  g_autofree char *use = g_strdup_printf ("%s / %s", mem, lim);
  printf ("%-20s %7.2f%% %10.2fs   %-24s %s\n", name,
          secs > 0 ? (b->cpu_ns - a->cpu_ns) / 1e9 / secs * 100 : 0.0, b->cpu_ns / 1e9, use, pids);
}

int
cairn_cmd_stats (CairnCli *cli, int argc, char **argv, GError **error)
{
  gboolean json = FALSE;
  GOptionEntry entries[]
      = { { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON array", NULL }, { NULL } };
  if (!cairn_cli_parse (cli, entries, "NAME...", "Show the cgroup figures of running containers.",
                        &argc, &argv, error))
    return 2;
  if (argc < 2)
    return cairn_cli_usage_error (error, "name a container"), 2;
  g_autofree char *dir = cairn_containers_dir (error);
  if (!dir)
    return 1;
  g_autofree Sample *first = g_new0 (Sample, argc);
  for (int i = 1; i < argc; i++)
    {
      if (!cairn_containers_check_running (dir, argv[i], error))
        return 1;
      if (!sample (dir, argv[i], &first[i], error))
        return 1;
    }
  g_usleep (200000);
  g_autoptr (GString) s = g_string_new (json ? "[" : NULL);
  if (!json)
    printf ("%-20s %8s %11s   %-24s %s\n", "NAME", "CPU %", "CPU TIME", "MEM USAGE / LIMIT",
            "PIDS");
  for (int i = 1; i < argc; i++)
    {
      Sample now;
      if (!sample (dir, argv[i], &now, error))
        return 1;
      if (json)
        {
          if (i > 1)
            g_string_append_c (s, ',');
          print_json (s, argv[i], &first[i], &now);
        }
      else
        print_row (argv[i], &first[i], &now);
    }
  if (json)
    printf ("%s]\n", s->str);
  return fflush (stdout) == 0 ? 0 : 1;
}
