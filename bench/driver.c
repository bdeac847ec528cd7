/*
 * make bench: runs every workload for every contender, each sample in a fresh
 * worker process, contenders alternated (their order rotates every round), and
 * prints Markdown tables of medians with ranges and ratios to the floor (the
 * system calls themselves), measured in the same run. Also writes bench.csv
 * and, when gnuplot is installed, bench.png next to the executable.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_HAVE_MIMALLOC
#define BENCH_HAVE_MIMALLOC 0
#endif
#ifndef BENCH_HAVE_JEMALLOC
#define BENCH_HAVE_JEMALLOC 0
#endif

enum { MAX_REPS = 31, MAX_ROWS = 8, MAX_CONTENDERS = 8, MAX_SERIES = 512 };

/* Values a worker prints after its fields (the release workload: RssAnon
 * sampled over time). */
struct series {
    int n;
    double v[MAX_SERIES];
};

static char dir[PATH_MAX];
static int reps_scale = 1; /* divides the repetitions: `pagealloc_bench quick` */
static bool cache_only;     /* `pagealloc_bench cache`: the caching allocator's tables alone */
static FILE *csv;

/* ---- Running workers ---------------------------------------------------- */

/* Contenders run with an option in their environment: the peers with their
 * own huge-page settings, in the huge-page tables. */
struct variant {
    const char *name, *base, *env;
    const char *worker; /* NULL: the base contender's */
};

static const struct variant variants[] = {
    {"glibc+thp", "glibc", "GLIBC_TUNABLES=glibc.malloc.hugetlb=1", NULL},
    /* The option's name before mimalloc 2.1 (Debian 12 has 2.0.9), and after. */
    {"mimalloc+large", "mimalloc", "MIMALLOC_LARGE_OS_PAGES=1 MIMALLOC_ALLOW_LARGE_OS_PAGES=1",
     NULL},
    {"jemalloc+thp", "jemalloc", "MALLOC_CONF=thp:always", NULL},
    /* Room to grow: the placement before it, and the path without mremap. */
    {"pagealloc-room", "pagealloc", "PAGEALLOC_ROOM=1", NULL},
    {"no-mremap", "pagealloc", "", "pagealloc_bench_nomremap"},
    {"no-mremap-noroom", "pagealloc", "PAGEALLOC_NO_ROOM=1", "pagealloc_bench_nomremap"},
};

static const struct variant *variant_of(const char *contender)
{
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        if (strcmp(contender, variants[i].name) == 0)
            return &variants[i];
    return NULL;
}

static const char *base_of(const char *contender)
{
    const struct variant *v = variant_of(contender);
    return v != NULL ? v->base : contender;
}

static bool have_peer(const char *name)
{
    name = base_of(name);
    if (strcmp(name, "mimalloc") == 0)
        return BENCH_HAVE_MIMALLOC;
    if (strcmp(name, "jemalloc") == 0)
        return BENCH_HAVE_JEMALLOC;
    return true;
}

static const char *worker_of(const char *contender)
{
    if (strcmp(contender, "mimalloc") == 0)
        return "pagealloc_bench_mimalloc";
    if (strcmp(contender, "jemalloc") == 0)
        return "pagealloc_bench_jemalloc";
    return "pagealloc_bench_system";
}

/* Runs one worker; false if it failed. With `series`, the worker prints a
 * count and that many values after its fields. */
static bool sample(const char *workload, const char *contender, const char *args,
                   double v[BENCH_FIELDS], struct series *series)
{
    char cmd[PATH_MAX + 256];
    const struct variant *var = variant_of(contender);
    contender = base_of(contender);
    snprintf(cmd, sizeof cmd, "%s%s'%s/%s' %s %s %s", var != NULL ? var->env : "",
             var != NULL ? " " : "", dir,
             var != NULL && var->worker != NULL ? var->worker : worker_of(contender), workload,
             contender, args);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return false;
    int n = 0;
    for (int i = 0; i < BENCH_FIELDS; i++)
        n += fscanf(f, "%lf", &v[i]) == 1;
    bool series_ok = true;
    if (series != NULL) {
        int len = 0;
        series->n = 0;
        if (fscanf(f, "%d", &len) == 1)
            while (series->n < len && series->n < MAX_SERIES &&
                   fscanf(f, "%lf", &series->v[series->n]) == 1)
                series->n++;
        series_ok = len > 0 && series->n == len;
    }
    return pclose(f) == 0 && n == BENCH_FIELDS && series_ok;
}

/* ---- A group: rows (parameters) by contenders, REPS samples each --------- */

struct cell {
    int n;
    int round[MAX_REPS];
    double v[MAX_REPS][BENCH_FIELDS];
};

struct group {
    const char *id, *workload;
    int reps;
    int rows, contenders;
    const char *contender[MAX_CONTENDERS];
    char row_name[MAX_ROWS][48];
    char args[MAX_ROWS][96];
    double row_value[MAX_ROWS]; /* x axis of the plot */
    struct cell cell[MAX_ROWS][MAX_CONTENDERS];
    struct series (*series)[MAX_REPS]; /* [contender][sample], first row only */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, minimum and maximum of field f over a cell's samples. */
static double stat(const struct cell *c, int f, double *lo, double *hi)
{
    double x[MAX_REPS];
    for (int i = 0; i < c->n; i++)
        x[i] = c->v[i][f];
    qsort(x, (size_t)c->n, sizeof x[0], cmp_double);
    if (lo != NULL)
        *lo = c->n > 0 ? x[0] : 0;
    if (hi != NULL)
        *hi = c->n > 0 ? x[c->n - 1] : 0;
    if (c->n == 0)
        return 0;
    return c->n % 2 ? x[c->n / 2] : (x[c->n / 2 - 1] + x[c->n / 2]) / 2;
}

static double median(const struct group *g, int row, int k)
{
    return stat(&g->cell[row][k], 0, NULL, NULL);
}

/* The ratio of field f of contender k to that of contender base (the floor:
 * 0): the median over rounds of the two samples taken in the same round, so
 * that a change in the machine's load between rounds cancels out. */
static double ratio_field(const struct group *g, int row, int k, int base, int f)
{
    const struct cell *c = &g->cell[row][k], *b = &g->cell[row][base];
    struct cell r = {0};
    for (int i = 0; i < c->n; i++)
        for (int j = 0; j < b->n; j++)
            if (c->round[i] == b->round[j] && b->v[j][f] > 0)
                r.v[r.n++][0] = c->v[i][f] / b->v[j][f];
    return stat(&r, 0, NULL, NULL);
}

static double ratio_to(const struct group *g, int row, int k, int base)
{
    return ratio_field(g, row, k, base, 0);
}

static double ratio(const struct group *g, int row, int k)
{
    return ratio_to(g, row, k, 0);
}

static int find(const struct group *g, const char *contender)
{
    for (int k = 0; k < g->contenders; k++)
        if (strcmp(g->contender[k], contender) == 0)
            return k;
    return -1;
}

static void run(struct group *g)
{
    static const char *const cache_groups[] = {"page_aligned", "threads", "churn", "release"};
    bool wanted = !cache_only;
    for (size_t i = 0; i < sizeof cache_groups / sizeof cache_groups[0]; i++)
        wanted = wanted || strcmp(g->id, cache_groups[i]) == 0;
    if (!wanted)
        return;
    int reps = g->reps / reps_scale > 2 ? g->reps / reps_scale : 3;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    fprintf(stderr, "running %s (%d rounds)", g->id, reps);
    time_t t0 = time(NULL);
    for (int r = 0; r < reps; r++) {
        for (int row = 0; row < g->rows; row++)
            for (int j = 0; j < g->contenders; j++) {
                int k = (j + r + row) % g->contenders;
                struct cell *c = &g->cell[row][k];
                if (!have_peer(g->contender[k]))
                    continue;
                struct series *s = g->series != NULL && row == 0 ? &g->series[k][c->n] : NULL;
                if (sample(g->workload, g->contender[k], g->args[row], c->v[c->n], s))
                    c->round[c->n++] = r;
            }
        fprintf(stderr, ".");
    }
    fprintf(stderr, " %.0f s\n", difftime(time(NULL), t0));
    for (int row = 0; row < g->rows; row++)
        for (int k = 0; k < g->contenders; k++) {
            struct cell *c = &g->cell[row][k];
            if (c->n == 0)
                continue;
            double lo, hi, m = stat(c, 0, &lo, &hi);
            fprintf(csv, "%s,%s,%s,%.1f,%.1f,%.1f,%.4f,%d", g->id, g->row_name[row], g->contender[k],
                    m, lo, hi, ratio(g, row, k), c->n);
            for (int f = 1; f < BENCH_FIELDS; f++)
                fprintf(csv, ",%.4g", stat(c, f, NULL, NULL));
            fprintf(csv, "\n");
        }
}

/* ---- Printing ----------------------------------------------------------- */

/* "median (min–max) ×ratio" in the given unit; the floor has no ratio. */
static void print_cell(const struct group *g, int row, int k, double unit)
{
    const struct cell *c = &g->cell[row][k];
    if (!have_peer(g->contender[k])) {
        printf(" skipped |");
        return;
    }
    if (c->n == 0) {
        printf(" failed |");
        return;
    }
    double lo, hi, m = stat(c, 0, &lo, &hi);
    printf(" %.3g (%.3g–%.3g)", m / unit, lo / unit, hi / unit);
    if (k != 0)
        printf(" **%.2f×**", ratio(g, row, k));
    printf(" |");
}

static void print_header(const struct group *g, const char *first, const char *last)
{
    printf("| %s |", first);
    for (int k = 0; k < g->contenders; k++)
        printf(" %s%s |", g->contender[k], k == 0 ? " (floor)" : "");
    if (last != NULL)
        printf(" %s |", last);
    printf("\n|---|");
    for (int k = 0; k < g->contenders; k++)
        printf("---|");
    printf("%s\n", last != NULL ? "---|" : "");
}

/* pagealloc's mmap/munmap/mremap calls per operation, e.g. "1 + 1 + 0". */
static void print_calls(const struct group *g, int row)
{
    int k = find(g, "pagealloc");
    const struct cell *c = k >= 0 ? &g->cell[row][k] : NULL;
    if (c == NULL || c->n == 0) {
        printf(" – |\n");
        return;
    }
    printf(" %.2g + %.2g + %.2g |\n", stat(c, 1, NULL, NULL), stat(c, 2, NULL, NULL),
           stat(c, 3, NULL, NULL));
}

static void print_table(const struct group *g, const char *first, double unit)
{
    print_header(g, first, "pagealloc mmap + munmap + mremap per op");
    for (int row = 0; row < g->rows; row++) {
        printf("| %s |", g->row_name[row]);
        for (int k = 0; k < g->contenders; k++)
            print_cell(g, row, k, unit);
        print_calls(g, row);
    }
}

/* One row per contender: for workloads with a single parameter. Field 5, when
 * `extra` names it, is printed as one more column in the same unit. */
static void print_by_contender(const struct group *g, double unit, const char *unit_name,
                               const char *extra)
{
    printf("| contender | %s, median (min–max) | ratio to %s |%s%s pagealloc mmap + munmap + "
           "mremap |\n|---|---|---|%s---|\n",
           unit_name, g->contender[0], extra != NULL ? extra : "", extra != NULL ? " |" : "",
           extra != NULL ? "---|" : "");
    for (int k = 0; k < g->contenders; k++) {
        const struct cell *c = &g->cell[0][k];
        printf("| %s%s |", g->contender[k], k == 0 ? " (floor)" : "");
        if (!have_peer(g->contender[k]) || c->n == 0) {
            printf(" %s | |%s |\n", have_peer(g->contender[k]) ? "failed" : "skipped",
                   extra != NULL ? " |" : "");
            continue;
        }
        double lo, hi, m = stat(c, 0, &lo, &hi);
        printf(" %.3g (%.3g–%.3g) | %.2f× |", m / unit, lo / unit, hi / unit, ratio(g, 0, k));
        if (extra != NULL)
            printf(" %.3g |", stat(c, 5, NULL, NULL) / unit);
        if (stat(c, 1, NULL, NULL) >= 0)
            printf(" %.3g + %.3g + %.3g |\n", stat(c, 1, NULL, NULL), stat(c, 2, NULL, NULL),
                   stat(c, 3, NULL, NULL));
        else
            printf(" |\n");
    }
}

/* ---- The workloads ------------------------------------------------------ */

static const char *const everyone[] = {"mmap", "pagealloc", "glibc", "mimalloc", "jemalloc"};
/* The caching allocator joins the groups its targets are measured on. */
static const char *const with_cache[] = {"mmap",     "pagealloc", "glibc",
                                         "mimalloc", "jemalloc",  "pagealloc-cache"};

static void set_contenders(struct group *g, const char *const *names, int n)
{
    g->contenders = n;
    for (int k = 0; k < n; k++)
        g->contender[k] = names[k];
}

static void size_name(char *out, size_t n, size_t bytes)
{
    if (bytes >= (size_t)1 << 30)
        snprintf(out, n, "%zu GiB", bytes >> 30);
    else if (bytes >= (size_t)1 << 20)
        snprintf(out, n, "%zu MiB", bytes >> 20);
    else
        snprintf(out, n, "%zu KiB", bytes >> 10);
}

static struct group page_aligned, aligned, aligned_nowrite, grow, move, threads, churn, reserve,
    checked;
static struct group huge_fill, huge_prefault, huge_grow;
static struct group room, room_allocfree;

/* Worst ratio of contender k to the floor over a group's rows. */
static double worst_ratio(const struct group *g, int k)
{
    double worst = 0;
    for (int row = 0; row < g->rows; row++) {
        double r = ratio(g, row, k);
        worst = r > worst ? r : worst;
    }
    return worst;
}

/* One colour per contender, the same in both panels. */
static const char *colour(const char *contender)
{
    static const char *const names[] = {"mmap",      "pagealloc",    "glibc",
                                        "mimalloc",  "jemalloc",     "mmap@aligned",
                                        "mmap+trim", "pagealloc-cache"};
    static const char *const colours[] = {"black",  "red",    "blue",   "dark-green",
                                          "orange", "gray50", "purple", "magenta"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(contender, names[i]) == 0)
            return colours[i];
    return "brown";
}

/* Ends the multiplot gnuplot command built in cmd[0, used) and runs it, saying
 * on stdout (after lead) where the plot went, or why there is none. */
static void run_plot(char *cmd, size_t size, size_t used, const char *lead, const char *png,
                     const char *dat)
{
    if (used + 32 >= size) {
        printf("%sPlot skipped: gnuplot command too long.\n", lead);
        return;
    }
    snprintf(cmd + used, size - used, " unset multiplot\" 2>&1");
    if (system(cmd) == 0)
        printf("%sPlot: %s/%s (data in %s).\n", lead, dir, png, dat);
    else
        printf("%sPlot failed: gnuplot returned an error.\n", lead);
}

static void write_plot(void)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/bench-plot.dat", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    const struct group *gs[2] = {&page_aligned, &aligned};
    for (int i = 0; i < 2; i++) {
        const struct group *g = gs[i];
        fprintf(f, "%s", i == 0 ? "size_KiB" : "alignment_KiB");
        for (int k = 0; k < g->contenders; k++)
            fprintf(f, " %s", g->contender[k]);
        fprintf(f, "\n");
        for (int row = 0; row < g->rows; row++) {
            fprintf(f, "%g", g->row_value[row] / 1024);
            for (int k = 0; k < g->contenders; k++)
                if (g->cell[row][k].n > 0)
                    fprintf(f, " %.4g", median(g, row, k) / 1000);
                else
                    fprintf(f, " NaN");
            fprintf(f, "\n");
        }
        fprintf(f, "\n\n");
    }
    fclose(f);
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("\nPlot skipped: gnuplot is not installed (apt-get install gnuplot-nox).\n");
        return;
    }
    char cmd[8192];
    size_t used = (size_t)snprintf(
        cmd, sizeof cmd,
        "gnuplot -e \"set terminal pngcairo size 1200,500 font ',10'; set output '%s/bench.png';"
        " set termoption noenhanced; set multiplot layout 1,2; set logscale xy 2; set grid;"
        " set key below; set offsets graph 0.04, graph 0.04, 0, 0; set ylabel 'microseconds per alloc + write + free (median)';",
        dir);
    for (int i = 0; i < 2 && used < sizeof cmd; i++) {
        const struct group *g = gs[i];
        used += (size_t)snprintf(cmd + used, sizeof cmd - used,
                                 " set title '%s'; set xlabel '%s'; set xtics (",
                                 i == 0 ? "page-aligned, by size" : "1 MiB, by alignment",
                                 i == 0 ? "size" : "alignment");
        for (int row = 0; row < g->rows && used < sizeof cmd; row++)
            used += (size_t)snprintf(cmd + used, sizeof cmd - used, "%s'%s' %g", row ? ", " : "",
                                     g->row_name[row], g->row_value[row] / 1024);
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, "); plot");
        for (int k = 0; k < g->contenders && used < sizeof cmd; k++)
            used += (size_t)snprintf(cmd + used, sizeof cmd - used,
                                     "%s '%s/bench-plot.dat' index %d using 1:%d with linespoints"
                                     " lw %d lc rgb '%s' title columnheader(%d)",
                                     k ? "," : "", dir, i, k + 2,
                                     strcmp(g->contender[k], "pagealloc") == 0 ? 3 : 1,
                                     colour(g->contender[k]), k + 2);
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, ";");
    }
    run_plot(cmd, sizeof cmd, used, "\n", "bench.png", "bench-plot.dat");
}

/* ---- Huge pages and prefaulting ----------------------------------------- */

static void run_huge_groups(void)
{
    char one_gib[32];
    snprintf(one_gib, sizeof one_gib, "%d", 1 << 30);

    /* a fresh 1 GiB, every byte written: two passes per process */
    struct group *g = &huge_fill;
    *g = (struct group){.id = "huge_fill", .workload = "fill", .reps = 3, .rows = 1};
    static const char *const fill_names[] = {"pagealloc",      "pagealloc-huge", "resident",
                                             "glibc+thp",      "mimalloc+large", "jemalloc+thp"};
    set_contenders(g, fill_names, 6);
    snprintf(g->row_name[0], sizeof g->row_name[0], "1 GiB");
    snprintf(g->args[0], sizeof g->args[0], "%s", one_gib);
    run(g);

    /* a fresh 1 GiB made resident: one byte per page, or pagealloc_populate */
    g = &huge_prefault;
    *g = (struct group){.id = "huge_prefault", .workload = "prefault", .reps = 3, .rows = 1};
    static const char *const prefault_names[] = {"mmap", "pagealloc"};
    set_contenders(g, prefault_names, 2);
    snprintf(g->row_name[0], sizeof g->row_name[0], "1 GiB");
    snprintf(g->args[0], sizeof g->args[0], "%s", one_gib);
    run(g);

    /* growth by doubling with huge pages, against glibc realloc */
    g = &huge_grow;
    *g = (struct group){.id = "huge_grow", .workload = "grow", .reps = 3, .rows = 1};
    static const char *const grow_names[] = {"glibc", "pagealloc-huge", "glibc+thp",
                                             "mimalloc+large", "jemalloc+thp"};
    set_contenders(g, grow_names, 5);
    snprintf(g->row_name[0], sizeof g->row_name[0], "1 MiB to 1 GiB");
    snprintf(g->args[0], sizeof g->args[0], "%d %s", 1 << 20, one_gib);
    run(g);
}

/* A cell's median of field f in the unit, with its range. */
static void print_field(const struct cell *c, int f, double unit)
{
    double lo, hi, m = stat(c, f, &lo, &hi);
    printf(" %.3g (%.3g–%.3g) |", m / unit, lo / unit, hi / unit);
}

static void print_share(const struct cell *c, int f)
{
    printf(" %.0f %% |", 100 * stat(c, f, NULL, NULL));
}

/* A fill or prefault group: both passes of each contender with the share of
 * the block in huge pages, and the ratios of each pass to contender `base`. */
static void print_passes(const struct group *g, int base)
{
    printf("| contender | first pass, CPU ms | in huge pages | second pass (warm), CPU ms | in "
           "huge pages | ratio to %s, first | ratio to %s, warm |\n|---|---|---|---|---|---|---|\n",
           g->contender[base], g->contender[base]);
    for (int k = 0; k < g->contenders; k++) {
        const struct cell *c = &g->cell[0][k];
        printf("| %s |", g->contender[k]);
        if (c->n == 0) {
            printf(" %s | | | | | |\n", have_peer(g->contender[k]) ? "failed" : "skipped");
            continue;
        }
        print_field(c, 4, 1e6);
        print_share(c, 6);
        print_field(c, 0, 1e6);
        print_share(c, 5);
        printf(" %.2f× | %.2f× |\n", ratio_field(g, 0, k, base, 4), ratio_field(g, 0, k, base, 0));
    }
}

static const char *met(double x, double target)
{
    return x <= target ? "met" : "missed";
}

static void print_huge_groups(void)
{
    printf("\n### huge pages and prefaulting: a fresh 1 GiB (CPU ms)\n\n"
           "Each sample process makes a fresh 1 GiB block resident twice: the first pass often "
           "meets cold memory (this VM's balloon hands free memory back to the host, and a huge "
           "page there faults on the host as well), the second reuses what the first freed "
           "(warm). Only the pass is timed, in CPU time; the share in huge pages is "
           "AnonHugePages of the block in /proc/self/smaps after the pass. The peers run with "
           "their own huge-page options: `glibc+thp` GLIBC_TUNABLES=glibc.malloc.hugetlb=1, "
           "`mimalloc+large` MIMALLOC_LARGE_OS_PAGES=1 (2.0; MIMALLOC_ALLOW_LARGE_OS_PAGES=1 from 2.1), "
           "`jemalloc+thp` "
           "MALLOC_CONF=thp:always.\n\n"
           "Write every byte (memset) of a fresh block; `pagealloc` is map, `pagealloc-huge` "
           "mapx(PAGEALLOC_HUGE), `resident` a block populated before the timing (the physical "
           "floor):\n\n");
    print_passes(&huge_fill, 0);
    printf("\nMake a fresh block resident: `mmap` writes one byte per page, `pagealloc` calls "
           "pagealloc_populate (4 KiB pages):\n\n");
    print_passes(&huge_prefault, 0);
    printf("\nGrow by doubling from 1 MiB to 1 GiB writing each new page (CPU ms; the share in "
           "huge pages is the 1 GiB block's at the end; `pagealloc-huge` is a mapx(PAGEALLOC_HUGE) "
           "block grown by pagealloc_realloc, which may move it):\n\n"
           "| contender | CPU ms, median (min–max) | ratio to glibc | in huge pages |\n"
           "|---|---|---|---|\n");
    const struct group *g = &huge_grow;
    for (int k = 0; k < g->contenders; k++) {
        const struct cell *c = &g->cell[0][k];
        printf("| %s |", g->contender[k]);
        if (c->n == 0) {
            printf(" %s | | |\n", have_peer(g->contender[k]) ? "failed" : "skipped");
            continue;
        }
        print_field(c, 0, 1e6);
        printf(" %.2f× |", ratio(g, 0, k));
        print_share(c, 6);
        printf("\n");
    }

    int huge = find(&huge_fill, "pagealloc-huge"), resident = find(&huge_fill, "resident");
    double vs_map = ratio_field(&huge_fill, 0, huge, 0, 0);
    double vs_map_cold = ratio_field(&huge_fill, 0, huge, 0, 4);
    double vs_floor = ratio_field(&huge_fill, 0, huge, resident, 0);
    double vs_floor_cold = ratio_field(&huge_fill, 0, huge, resident, 4);
    double populate = ratio_field(&huge_prefault, 0, find(&huge_prefault, "pagealloc"), 0, 0);
    double populate_cold = ratio_field(&huge_prefault, 0, find(&huge_prefault, "pagealloc"), 0, 4);
    double grown = ratio(&huge_grow, 0, find(&huge_grow, "pagealloc-huge"));
    printf("\n| huge-page target | warm | first pass | |\n|---|---|---|---|\n");
    printf("| fresh 1 GiB, mapx(HUGE) + write, ≤ 0.5× map + write | %.2f× | %.2f× | %s |\n", vs_map,
           vs_map_cold, met(vs_map, 0.5));
    printf("| fresh 1 GiB, mapx(HUGE) + write, ≤ 1.5× memset of resident memory | %.2f× | %.2f× | "
           "%s |\n",
           vs_floor, vs_floor_cold, met(vs_floor, 1.5));
    printf("| populate 1 GiB (4 KiB pages), ≤ 0.8× touching one byte per page | %.2f× | %.2f× | "
           "%s |\n",
           populate, populate_cold, met(populate, 0.8));
    printf("| grow by doubling to 1 GiB, HUGE, ≤ 0.6× glibc realloc | %.2f× | | %s |\n", grown,
           met(grown, 0.6));
}

/* ---- The caching allocator (issue 18) ----------------------------------- */

/* Memory return: RssAnon every RELEASE_EVERY_MS for RELEASE_FOR_MS after the
 * last free; the table reads it at 200 ms and at 2 s. */
enum { RELEASE_EVERY_MS = 10, RELEASE_FOR_MS = 2500, RELEASE_AT_SHORT = 200, RELEASE_AT_LONG = 2000 };

static struct group release;
static struct series release_series[MAX_CONTENDERS][MAX_REPS];

/* The contenders of the caching allocator's tables, in their column order. */
static const char *const cache_columns[] = {"pagealloc-cache", "mimalloc", "jemalloc", "glibc",
                                            "pagealloc"};
enum { CACHE_COLUMNS = 5 };

static void run_cache_groups(void)
{
    /* Three bursts of 256 MiB of random 4 KiB-4 MiB blocks, all freed, then
     * nothing but sampling. Its speed and churn rows come from the
     * page-aligned, threads and churn groups, which the cache has joined. */
    struct group *g = &release;
    *g = (struct group){.id = "release", .workload = "release", .reps = 3, .rows = 1,
                        .series = release_series};
    set_contenders(g, cache_columns, CACHE_COLUMNS);
    snprintf(g->row_name[0], sizeof g->row_name[0], "3 bursts of 256 MiB");
    snprintf(g->args[0], sizeof g->args[0], "%d 3 %d %d", 256 << 20, RELEASE_EVERY_MS,
             RELEASE_FOR_MS);
    run(g);
}

/* Field f of the sample of cell c taken in round r; false if there is none. */
static bool in_round(const struct cell *c, int r, int f, double *v)
{
    for (int i = 0; i < c->n; i++)
        if (c->round[i] == r) {
            *v = c->v[i][f];
            return true;
        }
    return false;
}

/* The median over rounds of field f of contender k divided by the lower of
 * contenders a and b (b may be -1) in the same round; -1 if no round has both. */
static double ratio_to_best(const struct group *g, int row, int k, int a, int b, int f)
{
    if (k < 0)
        return -1;
    const struct cell *c = &g->cell[row][k];
    struct cell r = {0};
    for (int i = 0; i < c->n; i++) {
        double x, best = -1;
        if (a >= 0 && in_round(&g->cell[row][a], c->round[i], f, &x))
            best = x;
        if (b >= 0 && in_round(&g->cell[row][b], c->round[i], f, &x) && (best < 0 || x < best))
            best = x;
        if (best > 0)
            r.v[r.n++][0] = c->v[i][f] / best;
    }
    return r.n > 0 ? stat(&r, 0, NULL, NULL) : -1;
}

/* RssAnon above the start, MiB, of contender k's sample i at time index t. */
static double above_start(int k, int i, int t)
{
    return release_series[k][i].v[t] - release.cell[0][k].v[i][4];
}

/* Median (min-max) over contender k's samples of RssAnon above the start at
 * `ms` after the last free; false if there is no sample. */
static bool release_at(int k, int ms, double *m, double *lo, double *hi)
{
    const struct cell *c = &release.cell[0][k];
    struct cell r = {0};
    int t = ms / RELEASE_EVERY_MS;
    for (int i = 0; i < c->n; i++)
        if (t < release_series[k][i].n)
            r.v[r.n++][0] = above_start(k, i, t);
    *m = stat(&r, 0, lo, hi);
    return r.n > 0;
}

/* Median over contender k's samples of the time (ms) from which RssAnon
 * stayed within 1 MiB of the start; -1 if the median sample never got there. */
static double release_settled(int k)
{
    const struct cell *c = &release.cell[0][k];
    struct cell r = {0};
    for (int i = 0; i < c->n; i++) {
        int settled = -1;
        for (int t = release_series[k][i].n - 1; t >= 0 && above_start(k, i, t) <= 1.0; t--)
            settled = t;
        r.v[r.n++][0] = settled >= 0 ? settled * RELEASE_EVERY_MS : 1e12;
    }
    double m = stat(&r, 0, NULL, NULL);
    return r.n > 0 && m < 1e12 ? m : -1;
}

/* A ratio, or a dash when it could not be measured (negative). */
static void print_ratio(double r, const char *prefix)
{
    if (r < 0)
        printf("–");
    else
        printf("%s%.2f×", prefix, r);
}

static const char *verdict(double x, double target)
{
    return x < 0 ? "not measured" : x <= target ? "met" : "missed";
}

/* The cells of one row of the caching allocator's speed table (field f of
 * each column contender, in the unit), then the ratio column. */
static void print_cache_row(const char *label, const struct group *g, int row, int f, double unit,
                            double ratio_value, const char *ratio_to)
{
    printf("| %s |", label);
    for (int i = 0; i < CACHE_COLUMNS; i++) {
        int k = find(g, cache_columns[i]);
        if (k < 0 || g->cell[row][k].n == 0)
            printf(" %s |", k >= 0 && !have_peer(cache_columns[i]) ? "skipped" : "–");
        else
            print_field(&g->cell[row][k], f, unit);
    }
    if (ratio_value < 0)
        printf(" – |");
    else
        printf(" **%.2f×** %s |", ratio_value, ratio_to);
    int k = find(g, "pagealloc-cache");
    if (k >= 0 && g->cell[row][k].n > 0)
        printf(" %.2g + %.2g + %.2g |\n", stat(&g->cell[row][k], 1, NULL, NULL),
               stat(&g->cell[row][k], 2, NULL, NULL), stat(&g->cell[row][k], 3, NULL, NULL));
    else
        printf(" – |\n");
}

static int row_of_size(const struct group *g, size_t bytes)
{
    for (int row = 0; row < g->rows; row++)
        if (g->row_value[row] == (double)bytes)
            return row;
    return -1;
}

static void print_cache_groups(void)
{
    static const size_t sizes[] = {(size_t)4 << 10, (size_t)64 << 10, (size_t)1 << 20,
                                   (size_t)4 << 20};
    const struct group *pa = &page_aligned;
    int kc = find(pa, "pagealloc-cache"), km = find(pa, "mimalloc"), kj = find(pa, "jemalloc");
    printf("\n### the caching allocator\n\n");
    printf("`pagealloc-cache` is pagealloc_cache_create(NULL) (default options) through "
           "pagealloc_cache_allocator. Its rows are the samples of the page-aligned, threads "
           "and churn groups, where it is a column; a ratio is the median over rounds of the "
           "cache's sample over the other's (or the lower of the two others') in the same "
           "round. The last column is the cache's system calls per operation (or step), as "
           "pagealloc_stats counts them: on a loaded machine a system call costs many times "
           "its quiet figure, and so do the rows that make some.\n\n"
           "| workload |");
    for (int i = 0; i < CACHE_COLUMNS; i++)
        printf(" %s |", cache_columns[i]);
    printf(" ratio | cache mmap + munmap + mremap per op |\n|---|");
    for (int i = 0; i < CACHE_COLUMNS; i++)
        printf("---|");
    printf("---|---|\n");
    double worst_size = -1;
    char per_size[160] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int row = row_of_size(pa, sizes[i]);
        if (row < 0)
            continue;
        char label[96];
        snprintf(label, sizeof label, "alloc + write + free %s, µs", pa->row_name[row]);
        double r = ratio_to_best(pa, row, kc, km, kj, 0);
        print_cache_row(label, pa, row, 0, 1000, r, "to the faster of mimalloc, jemalloc");
        if (r >= 0 && r > worst_size)
            worst_size = r;
        if (r >= 0 && used < sizeof per_size)
            used += (size_t)snprintf(per_size + used, sizeof per_size - used, "%s%s %.2f×",
                                     used ? ", " : "", pa->row_name[row], r);
    }
    if (used == 0)
        snprintf(per_size, sizeof per_size, "–");
    double two_threads = ratio_to_best(&threads, 1, find(&threads, "pagealloc-cache"),
                                       find(&threads, "mimalloc"), -1, 0);
    print_cache_row("alloc + write + free 64 KiB, 2 threads, µs per op per thread", &threads, 1, 0,
                    1000, two_threads, "to mimalloc");
    int cc = find(&churn, "pagealloc-cache");
    double churn_time = ratio_to_best(&churn, 0, cc, find(&churn, "mimalloc"), -1, 0);
    double churn_peak = ratio_to_best(&churn, 0, cc, find(&churn, "pagealloc"), -1, 5);
    print_cache_row("churn of random 4 KiB–1 MiB blocks, µs per step", &churn, 0, 0, 1000,
                    churn_time, "to mimalloc");
    print_cache_row("the same churn: peak resident, MiB", &churn, 0, 5, 1, churn_peak,
                    "to pagealloc");

    /* A hit: every system call pagealloc_stats counts, per alloc + free of the
     * page-aligned rows, with the cache's hits per operation. */
    double worst_calls = -1, fewest_hits = -1;
    int hit_samples = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && kc >= 0; i++) {
        int row = row_of_size(pa, sizes[i]);
        const struct cell *c = row >= 0 ? &pa->cell[row][kc] : NULL;
        for (int s = 0; c != NULL && s < c->n; s++) {
            worst_calls = c->v[s][4] > worst_calls ? c->v[s][4] : worst_calls;
            if (fewest_hits < 0 || c->v[s][5] < fewest_hits)
                fewest_hits = c->v[s][5];
            hit_samples++;
        }
    }

    printf("\n### memory return: resident memory after everything is freed\n\n"
           "Each sample process allocates random blocks of 4 KiB–4 MiB (even on a log scale), "
           "writing every page, until 256 MiB are live, frees them all in a random order, "
           "three times; then it makes no allocator call and reads RssAnon "
           "(/proc/self/status, without stdio) every %d ms for %.1f s. Figures are MiB above "
           "RssAnon at the start (the first column), median (min–max) of the samples; the last "
           "column is the time per block (alloc + write every page + free) in the bursts.\n\n"
           "| contender | RssAnon at start, MiB | peak | right after the last free | %d ms later | "
           "%.0f s later | within 1 MiB of start from | ms per block |\n"
           "|---|---|---|---|---|---|---|---|\n",
           RELEASE_EVERY_MS, RELEASE_FOR_MS / 1000.0, RELEASE_AT_SHORT, RELEASE_AT_LONG / 1000.0);
    for (int k = 0; k < release.contenders; k++) {
        const struct cell *c = &release.cell[0][k];
        printf("| %s |", release.contender[k]);
        if (c->n == 0) {
            printf(" %s | | | | | | |\n", have_peer(release.contender[k]) ? "failed" : "skipped");
            continue;
        }
        double m, lo, hi;
        m = stat(c, 4, &lo, &hi);
        printf(" %.1f (%.1f–%.1f) |", m, lo, hi);
        struct cell peak = {0};
        for (int i = 0; i < c->n; i++)
            peak.v[peak.n++][0] = c->v[i][5] - c->v[i][4];
        m = stat(&peak, 0, &lo, &hi);
        printf(" %.1f (%.1f–%.1f) |", m, lo, hi);
        const int at[] = {0, RELEASE_AT_SHORT, RELEASE_AT_LONG};
        for (int j = 0; j < 3; j++) {
            if (release_at(k, at[j], &m, &lo, &hi))
                printf(" %.1f (%.1f–%.1f) |", m, lo, hi);
            else
                printf(" – |");
        }
        double settled = release_settled(k);
        if (settled >= 0)
            printf(" %.0f ms |", settled);
        else
            printf(" not within %.1f s |", RELEASE_FOR_MS / 1000.0);
        print_field(c, 0, 1e6);
        printf("\n");
    }
    double short_m = -1, long_m = -1, lo, hi;
    int rc = find(&release, "pagealloc-cache");
    if (rc >= 0 && release.cell[0][rc].n > 0) {
        release_at(rc, RELEASE_AT_SHORT, &short_m, &lo, &hi);
        release_at(rc, RELEASE_AT_LONG, &long_m, &lo, &hi);
    }

    printf("\n### caching allocator targets\n\n| target | measured | |\n|---|---|---|\n");
    bool have_release = rc >= 0 && release.cell[0][rc].n > 0;
    printf("| alloc + write + free, page-aligned, 4 KiB–4 MiB, ≤ 1.5× the faster of mimalloc and "
           "jemalloc | ");
    print_ratio(worst_size, "worst ");
    printf(" (%s) | %s |\n", per_size, verdict(worst_size, 1.5));
    printf("| the same at 64 KiB on 2 threads, per op per thread, ≤ 1.5× mimalloc | ");
    print_ratio(two_threads, "");
    printf(" | %s |\n", verdict(two_threads, 1.5));
    printf("| churn of random 4 KiB–1 MiB blocks, time per step ≤ 1.5× mimalloc | ");
    print_ratio(churn_time, "");
    printf(" | %s |\n", verdict(churn_time, 1.5));
    printf("| the same churn, peak resident ≤ 1.25× the page allocator's | ");
    print_ratio(churn_peak, "");
    printf(" | %s |\n", verdict(churn_peak, 1.25));
    printf("| resident %d ms after the last free ≤ start + 1 MiB (default options) | ",
           RELEASE_AT_SHORT);
    if (have_release)
        printf("%+.2f MiB (%.0f s: %+.2f MiB) | %s |\n", short_m, RELEASE_AT_LONG / 1000.0, long_m,
               verdict(short_m, 1.0));
    else
        printf("– | not measured |\n");
    printf("| a hit: 0 system calls (pagealloc_stats, every kind) | ");
    if (hit_samples > 0)
        printf("at most %.3g per alloc + free over %d samples of 4 KiB–4 MiB, at least %.3g hits "
               "per op | %s |\n",
               worst_calls, hit_samples, fewest_hits,
               worst_calls == 0 && fewest_hits >= 0.999 ? "met" : "missed");
    else
        printf("– | not measured |\n");
}

/* cache-rss.png: RssAnon above the start after the last free, median over
 * the samples at each instant, one line per contender; the right panel
 * zooms in on the first MiB. */
static void write_release_plot(void)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/cache-rss.dat", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return;
    int n = 0, samples = 0;
    fprintf(f, "ms");
    for (int k = 0; k < release.contenders; k++) {
        fprintf(f, " %s", release.contender[k]);
        samples = release.cell[0][k].n > samples ? release.cell[0][k].n : samples;
        for (int i = 0; i < release.cell[0][k].n; i++)
            n = release_series[k][i].n > n ? release_series[k][i].n : n;
    }
    fprintf(f, "\n");
    for (int t = 0; t < n; t++) {
        fprintf(f, "%d", t * RELEASE_EVERY_MS);
        for (int k = 0; k < release.contenders; k++) {
            double m, lo, hi;
            if (release_at(k, t * RELEASE_EVERY_MS, &m, &lo, &hi))
                fprintf(f, " %.4g", m);
            else
                fprintf(f, " NaN");
        }
        fprintf(f, "\n");
    }
    fclose(f);
    if (n == 0 || system("command -v gnuplot >/dev/null 2>&1") != 0)
        return;
    char cmd[8192];
    size_t used = (size_t)snprintf(
        cmd, sizeof cmd,
        "gnuplot -e \"set terminal pngcairo size 1200,500 font ',10'; set output '%s/cache-rss.png';"
        " set termoption noenhanced; set multiplot layout 1,2; set grid; set key top right;"
        " set xlabel 'ms after the last free (no allocator call from then on)';"
        " set ylabel 'RssAnon above the start, MiB (median of %d samples)';"
        " set arrow 1 from %d, graph 0 to %d, graph 1 nohead dt 2 lc rgb 'gray40';",
        dir, samples, RELEASE_AT_SHORT, RELEASE_AT_SHORT);
    for (int panel = 0; panel < 2 && used < sizeof cmd; panel++) {
        used += (size_t)snprintf(
            cmd + used, sizeof cmd - used, "%s",
            panel == 0 ? " set title 'after 3 bursts of 256 MiB, all freed'; set yrange [0:*];"
                       : " set title 'the same, first 8 MiB (dashed: start + 1 MiB)'; set yrange "
                         "[-0.5:8]; set arrow 2 from graph 0, first 1 to graph 1, first 1 nohead "
                         "dt 2 lc rgb 'gray40';");
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, " plot");
        for (int k = 0; k < release.contenders && used < sizeof cmd; k++)
            used += (size_t)snprintf(cmd + used, sizeof cmd - used,
                                     "%s '%s/cache-rss.dat' using 1:%d with lines lw %d lc rgb '%s'"
                                     " title columnheader(%d)",
                                     k ? "," : "", dir, k + 2,
                                     strcmp(release.contender[k], "pagealloc-cache") == 0 ? 3 : 2,
                                     colour(release.contender[k]), k + 2);
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, ";");
    }
    run_plot(cmd, sizeof cmd, used, "", "cache-rss.png", "cache-rss.dat");
}

/* Closes the CSV and draws the plots (bench.png only with every table run). */
static int finish(bool all_tables)
{
    fclose(csv);
    printf("\nCSV: %s/bench.csv\n", dir);
    if (all_tables)
        write_plot();
    write_release_plot();
    return 0;
}

/* ---- Room to grow (docs/address-hint.md) ------------------------------------ */

static void run_room_groups(void)
{
    /* counted workloads: with and without the room, with and without mremap */
    struct group *g = &room;
    *g = (struct group){.id = "room", .workload = "room", .reps = 3, .rows = 4};
    static const char *const names[] = {"pagealloc-room", "pagealloc", "no-mremap",
                                        "no-mremap-noroom"};
    set_contenders(g, names, 4);
    static const char *const rows[] = {"fresh", "buffers", "buffers vary", "small"};
    for (int i = 0; i < 4; i++) {
        snprintf(g->row_name[i], sizeof g->row_name[i], "%s", rows[i]);
        snprintf(g->args[i], sizeof g->args[i], "%s", rows[i]);
    }
    run(g);

    /* alloc + write one byte + free of the sizes that get room, against the
     * placement before it (the floor here) */
    g = &room_allocfree;
    *g = (struct group){.id = "room_allocfree", .workload = "allocfree", .reps = 21, .rows = 8};
    static const char *const af_names[] = {"pagealloc", "pagealloc-room"};
    set_contenders(g, af_names, 2);
    for (int i = 0; i < 4; i++) {
        size_t len = (size_t)1 << (20 + 2 * i);
        size_name(g->row_name[i], sizeof g->row_name[i], len);
        snprintf(g->args[i], sizeof g->args[i], "%zu 4096 1000", len);
    }
    const size_t aligns[] = {(size_t)64 << 10, (size_t)2 << 20, (size_t)64 << 20, (size_t)1 << 30};
    for (int i = 0; i < 4; i++) {
        char a[24];
        size_name(a, sizeof a, aligns[i]);
        snprintf(g->row_name[4 + i], sizeof g->row_name[4 + i], "1 MiB aligned %s", a);
        snprintf(g->args[4 + i], sizeof g->args[4 + i], "%d %zu 1000", 1 << 20, aligns[i]);
    }
    run(g);
}

/* Field f of the room group's cell (row, contender k), median over rounds. */
static double room_field(int row, int k, int f)
{
    return stat(&room.cell[row][k], f, NULL, NULL);
}

static void print_room_row(const char *what, int row, int f, double scale, const char *unit,
                           const char *target)
{
    printf("| %s |", what);
    for (int k = 0; k < room.contenders; k++)
        if (room.cell[row][k].n == 0)
            printf(" failed |");
        else
            printf(room_field(row, k, f) * scale >= 1000 ? " %.0f%s |" : " %.3g%s |",
                   room_field(row, k, f) * scale, unit);
    printf(" %s |\n", target);
}

static void print_room_groups(void)
{
    printf("\n### room to grow (counted; docs/address-hint.md)\n\n"
           "Where pages cannot move (`no-mremap`, Windows) a new block of 1 MiB or more is "
           "placed 15 times its size below the hint (room for four doublings in place); "
           "`-noroom` is the placement without room (PAGEALLOC_NO_ROOM=1, every block right "
           "under the previous one), which is the default where pages move (`pagealloc`, Linux "
           "with mremap); `pagealloc-room` gives room there too (PAGEALLOC_ROOM=1). "
           "`no-mremap` is a worker linked against the library built with PAGEALLOC_NO_MREMAP "
           "(the macOS and BSD path: growth in place or a copy by the caller). Rows: `fresh`, 32 blocks of 1–16 MiB "
           "each doubled once in place (resize) with the earlier ones live; `buffers`, 8 "
           "buffers doubling in turn from 64 KiB to 64 MiB, every page written, through remap "
           "or, where it returns NULL, alloc + copy + free; `vary`, the same once pages may "
           "vary (a decommit earlier in the process); `small`, live 4 KiB blocks mapped until "
           "200,000 or a failure. System calls are all kinds, the copies' map and unmap "
           "included; address space held is the growth of the process's mappings in "
           "/proc/self/maps over the live bytes (free room is not held).\n\n");
    printf("| workload |");
    for (int k = 0; k < room.contenders; k++)
        printf(" %s |", room.contender[k]);
    printf(" target |\n|---|---|---|---|---|---|\n");
    print_room_row("fresh 1–16 MiB doubled once: share in place", 0, 4, 100, " %",
                   "≥ 95 % without mremap (and Windows)");
    print_room_row("fresh: system calls per block (map + doubling)", 0, 5, 1, "", "–");
    print_room_row("8 buffers 64 KiB → 64 MiB: bytes copied ÷ alloc + copy + free", 1, 4, 1, "×",
                   "≤ 0.25×");
    print_room_row("8 buffers: system calls per doubling", 1, 5, 1, "", "≤ 1.5 (Linux)");
    print_room_row("8 buffers once pages may vary: system calls per doubling", 2, 5, 1, "",
                   "≤ 1.5 (Linux)");
    print_room_row("fresh: address space held per live byte", 0, 6, 1, "×", "≤ 2×");
    print_room_row("8 buffers: address space held per live byte, worst round", 1, 6, 1, "×",
                   "≤ 2×");
    print_room_row("live 4 KiB blocks held", 3, 4, 1, "", "≥ 200,000");
    printf("\nalloc + write one byte + free of the sizes that get room, with room "
           "(PAGEALLOC_ROOM=1) against the default where pages move, which leaves none (µs per "
           "operation; smaller blocks take the same path either way):\n\n");
    print_table(&room_allocfree, "size", 1000);
    printf("\nWorst ratio of room to none: %.2f×.\n",
           worst_ratio(&room_allocfree, find(&room_allocfree, "pagealloc-room")));
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "quick") == 0)
            reps_scale = 4;
        else if (strcmp(argv[i], "cache") == 0)
            cache_only = true;
        else if (strcmp(argv[i], "room") != 0 || i != 1) {
            fprintf(stderr, "usage: %s [quick] [cache] | room\n", argv[0]);
            return 2;
        }
    }
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        fprintf(stderr, "pagealloc_bench: cannot find its own directory\n");
        return 1;
    }
    dir[n] = '\0';
    *strrchr(dir, '/') = '\0';
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/bench.csv", dir);
    csv = fopen(path, "w");
    if (csv == NULL) {
        perror(path);
        return 1;
    }
    fprintf(csv, "group,workload,contender,median_ns,min_ns,max_ns,ratio_to_floor,samples,"
                 "mmap_per_op,munmap_per_op,mremap_per_op,x1,x2,x3\n");
    time_t start = time(NULL);
    double load0[3] = {0};
    getloadavg(load0, 3);
    /* `pagealloc_bench room`: the room-to-grow tables alone (about 2 minutes). */
    if (argc > 1 && strcmp(argv[1], "room") == 0) {
        run_room_groups();
        print_room_groups();
        fclose(csv);
        return 0;
    }

    /* alloc + touch + free, page-aligned, 4 KiB to 64 MiB */
    struct group *g = &page_aligned;
    *g = (struct group){.id = "page_aligned", .workload = "allocfree", .reps = 21};
    set_contenders(g, with_cache, 6);
    for (int i = 0; i < 8; i++) {
        size_t len = (size_t)4096 << (2 * i);
        size_name(g->row_name[i], sizeof g->row_name[i], len);
        snprintf(g->args[i], sizeof g->args[i], "%zu 4096 1000", len);
        g->row_value[i] = (double)len;
    }
    g->rows = 8;
    run(g);

    /* 1 MiB at 64 KiB ... 1 GiB alignment; the floor is unaligned */
    g = &aligned;
    *g = (struct group){.id = "aligned", .workload = "allocfree", .reps = 21};
    static const char *const aligned_names[] = {"mmap", "mmap@aligned", "mmap+trim", "pagealloc",
                                                "glibc", "mimalloc", "jemalloc"};
    set_contenders(g, aligned_names, 7);
    const size_t aligns[] = {(size_t)64 << 10, (size_t)2 << 20, (size_t)64 << 20, (size_t)1 << 30};
    for (int i = 0; i < 4; i++) {
        size_name(g->row_name[i], sizeof g->row_name[i], aligns[i]);
        snprintf(g->args[i], sizeof g->args[i], "%d %zu 1000", 1 << 20, aligns[i]);
        g->row_value[i] = (double)aligns[i];
    }
    g->rows = 4;
    run(g);

    /* the same without writing to the block: no page-table page is needed */
    g = &aligned_nowrite;
    *g = aligned;
    memset(g->cell, 0, sizeof g->cell);
    g->id = "aligned_nowrite";
    for (int i = 0; i < 4; i++)
        snprintf(g->args[i], sizeof g->args[i], "%d %zu 1000 nowrite", 1 << 20, aligns[i]);
    run(g);

    /* grow by doubling, 1 MiB to 1 GiB, touching each new page */
    g = &grow;
    *g = (struct group){.id = "grow", .workload = "grow", .reps = 5, .rows = 1};
    static const char *const grow_names[] = {"mmap",     "pagealloc", "pagealloc+copy", "glibc",
                                             "mimalloc", "jemalloc"};
    set_contenders(g, grow_names, 6);
    snprintf(g->row_name[0], sizeof g->row_name[0], "1 MiB to 1 GiB");
    snprintf(g->args[0], sizeof g->args[0], "%d %d", 1 << 20, 1 << 30);
    run(g);

    /* move a populated 1 GiB block that cannot grow in place */
    g = &move;
    *g = (struct group){.id = "move", .workload = "move", .reps = 5, .rows = 2};
    set_contenders(g, everyone, 5);
    snprintf(g->row_name[0], sizeof g->row_name[0], "1 GiB");
    snprintf(g->args[0], sizeof g->args[0], "%d", 1 << 30);
    snprintf(g->row_name[1], sizeof g->row_name[1], "1 GiB + 4 KiB");
    snprintf(g->args[1], sizeof g->args[1], "%d", (1 << 30) + 4096);
    run(g);

    /* alloc + free of 64 KiB on 1 and 2 threads */
    g = &threads;
    *g = (struct group){.id = "threads", .workload = "threads", .reps = 7, .rows = 2};
    set_contenders(g, with_cache, 6);
    for (int i = 0; i < 2; i++) {
        snprintf(g->row_name[i], sizeof g->row_name[i], "%d thread%s", i + 1, i ? "s" : "");
        snprintf(g->args[i], sizeof g->args[i], "%d %d 2000", i + 1, 64 << 10);
    }
    run(g);

    /* resident memory around a churn of random blocks */
    g = &churn;
    *g = (struct group){.id = "churn", .workload = "churn", .reps = 3, .rows = 1};
    set_contenders(g, with_cache, 6);
    snprintf(g->row_name[0], sizeof g->row_name[0], "20000 steps");
    snprintf(g->args[0], sizeof g->args[0], "20000");
    run(g);

    /* reserve + commit + write + decommit + release, against the raw calls */
    g = &reserve;
    *g = (struct group){.id = "reserve", .workload = "reserve", .reps = 21, .rows = 2};
    static const char *const reserve_names[] = {"mmap", "pagealloc"};
    set_contenders(g, reserve_names, 2);
    for (int i = 0; i < 2; i++) {
        size_t len = i == 0 ? (size_t)64 << 10 : (size_t)1 << 20;
        size_name(g->row_name[i], sizeof g->row_name[i], len);
        snprintf(g->args[i], sizeof g->args[i], "%zu 1000", len);
    }
    run(g);

    /* alloc + touch + free through the checked allocator, page-aligned */
    g = &checked;
    *g = (struct group){.id = "checked", .workload = "allocfree", .reps = 21, .rows = 3};
    static const char *const checked_names[] = {"mmap", "pagealloc", "pagealloc+checked",
                                                "pagealloc+guard"};
    set_contenders(g, checked_names, 4);
    for (int i = 0; i < 3; i++) {
        size_t len = (size_t)4096 << (4 * i);
        size_name(g->row_name[i], sizeof g->row_name[i], len);
        snprintf(g->args[i], sizeof g->args[i], "%zu 4096 1000", len);
        g->row_value[i] = (double)len;
    }
    run(g);
    run_huge_groups();
    run_cache_groups();
    run_room_groups();

    /* ---- the report ---- */
    struct utsname u;
    uname(&u);
    double load1[3] = {0};
    getloadavg(load1, 3);
    printf("## pagealloc benchmark\n\n");
    printf("Machine: %s %s, %ld CPUs; load average %.2f at the start, %.2f at the end; %.0f s.\n",
           u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN), load0[0], load1[0],
           difftime(time(NULL), start));
    printf("Each sample is a fresh process (warm-up, then the timed loop); contenders alternate "
           "in a rotating order (the alloc + free loops are timed in 10 batches, the sample "
           "being the median batch); cells are median (min–max) over the samples and "
           "**ratio** to the floor: the median over rounds of contender / floor, both "
           "sampled in the same round.\n");
    if (!BENCH_HAVE_MIMALLOC)
        printf("mimalloc: skipped (libmimalloc-dev was not found when configuring).\n");
    if (!BENCH_HAVE_JEMALLOC)
        printf("jemalloc: skipped (libjemalloc-dev was not found when configuring).\n");
    if (cache_only) {
        print_cache_groups();
        return finish(false);
    }

    printf("\n### alloc + write one byte + free, page-aligned (µs per operation)\n\n");
    print_table(&page_aligned, "size", 1000);
    printf("\n### alloc + write one byte + free of 1 MiB, aligned (µs per operation)\n\n"
           "The floor is an unaligned mmap + munmap of 1 MiB; `mmap@aligned` maps at a fixed "
           "aligned address with nothing else in its page-table span (one call each, no search), "
           "`mmap+trim` maps 1 MiB + alignment and unmaps both ends (Zig, rpmalloc).\n\n");
    print_table(&aligned, "alignment", 1000);
    printf("\n### alloc + free of 1 MiB, aligned, never written (µs per operation)\n\n"
           "The same without the write: no page is faulted in, so no page-table page is "
           "allocated or freed; what is left is the system calls and their placement.\n\n");
    print_table(&aligned_nowrite, "alignment", 1000);
    printf("\n### grow by doubling from 1 MiB to 1 GiB, writing each new page (CPU ms per "
           "run)\n\n`mmap` is mremap(MREMAP_MAYMOVE); `pagealloc+copy` maps a new block, copies, "
           "frees the old one. The time is the process's CPU time (user + system), which leaves "
           "out waiting for a CPU on a shared machine; the page faults of the 1 GiB are most "
           "of it, the grow calls themselves the rest.\n\n");
    print_by_contender(&grow, 1e6, "CPU ms", " of which in the grow calls, CPU ms");
    printf("\n### move a populated block that cannot grow in place, by growing it 2 MiB "
           "(CPU ms)\n\n`mmap` is mremap(MREMAP_MAYMOVE) of a block from mmap; the time is the "
           "process's CPU time in the grow call. The kernel puts a "
           "mapping whose length is a multiple of 2 MiB on a 2 MiB boundary, and so the target "
           "of its mremap too: the 1 GiB row is the kernel's best case; a length that is not "
           "(1 GiB + 4 KiB) shows plain mremap's usual case.\n\n");
    print_table(&move, "block", 1e6);
    for (int row = 0; row < move.rows; row++) {
        printf("\n%s — moved / kept its offset modulo 2 MiB:", move.row_name[row]);
        for (int k = 0; k < move.contenders; k++)
            if (move.cell[row][k].n > 0)
                printf(" %s %s/%s;", move.contender[k],
                       stat(&move.cell[row][k], 4, NULL, NULL) > 0.5 ? "yes" : "no",
                       stat(&move.cell[row][k], 5, NULL, NULL) > 0.5 ? "yes" : "no");
    }
    printf("\n");
    printf("\n\n### alloc + write one byte + free of 64 KiB on 1 and 2 threads "
           "(µs per operation per thread)\n\n");
    print_table(&threads, "threads", 1000);
    printf("\nThroughput of 2 threads over 1:");
    for (int k = 0; k < threads.contenders; k++)
        if (threads.cell[0][k].n > 0 && threads.cell[1][k].n > 0)
            printf(" %s %.2f×;", threads.contender[k],
                   2 * median(&threads, 0, k) / median(&threads, 1, k));
    printf("\n\n### reserve + commit + write one byte + decommit + release (µs per cycle)\n\n"
           "The floor is the raw calls: mmap(PROT_NONE), mprotect(read-write), "
           "mmap(MAP_FIXED, PROT_NONE), munmap.\n\n");
    print_table(&reserve, "size", 1000);
    printf("\n\n### resident memory around a churn of random 4 KiB–1 MiB blocks (MiB)\n\n"
           "| contender | µs per step | at start | peak | after freeing all | kept |\n"
           "|---|---|---|---|---|---|\n");
    for (int k = 0; k < churn.contenders; k++) {
        const struct cell *c = &churn.cell[0][k];
        if (c->n == 0) {
            printf("| %s | %s | | | | |\n", churn.contender[k],
                   have_peer(churn.contender[k]) ? "failed" : "skipped");
            continue;
        }
        double s0 = stat(c, 4, NULL, NULL), peak = stat(c, 5, NULL, NULL),
               end = stat(c, 6, NULL, NULL);
        printf("| %s | %.3g | %.1f | %.1f | %.1f | %.1f |\n", churn.contender[k],
               stat(c, 0, NULL, NULL) / 1000, s0, peak, end, end - s0);
    }

    printf("\n### alloc + write one byte + free through the checked allocator, page-aligned "
           "(µs per operation)\n\n`pagealloc+checked` is the checked allocator without options "
           "over the page allocator: a table lookup under a lock and the calling frame per block; "
           "`pagealloc+guard` adds guard pages: a reservation and a commit (`mmap` + "
           "`mprotect`) per alloc, and a walk of the allocating stack.\n\n");
    print_table(&checked, "size", 1000);
    print_huge_groups();
    print_room_groups();

    /* pagealloc's system calls per operation, counted by its stats */
    printf("\n### system calls per operation (pagealloc_stats)\n\n"
           "| operation | mmap | munmap | mremap | mprotect | target |\n|---|---|---|---|---|---|\n");
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "'%s/pagealloc_bench_system' syscalls pagealloc", dir);
    FILE *f = popen(cmd, "r");
    char name[64];
    unsigned long long calls[4];
    int total_ok = 0, total = 0;
    while (f != NULL && fscanf(f, "%63s %llu %llu %llu %llu", name, &calls[0], &calls[1],
                               &calls[2], &calls[3]) == 5) {
        unsigned long long sum = calls[0] + calls[1] + calls[2] + calls[3];
        bool has_target = strncmp(name, "move", 4) != 0;
        printf("| %s | %llu | %llu | %llu | %llu | %s |\n", name, calls[0], calls[1], calls[2],
               calls[3], has_target ? (sum == 1 ? "1: met" : "1: MISSED") : "–");
        total += has_target;
        total_ok += has_target && sum == 1;
    }
    if (f != NULL)
        pclose(f);

    /* the targets */
    int pa = find(&grow, "pagealloc"), gl = find(&grow, "glibc"), cp = find(&grow, "pagealloc+copy");
    double grow_glibc = ratio_to(&grow, 0, pa, gl);
    double grow_copy = ratio_to(&grow, 0, cp, pa);
    double move_gain = 1 / ratio(&move, 1, find(&move, "pagealloc"));
    double pa_page = worst_ratio(&page_aligned, find(&page_aligned, "pagealloc"));
    double pa_aligned = worst_ratio(&aligned, find(&aligned, "pagealloc"));
    double checker_cost = 0, guard_cost = 0;
    for (int row = 0; row < checked.rows; row++) {
        int base = find(&checked, "pagealloc");
        double r = ratio_to(&checked, row, find(&checked, "pagealloc+checked"), base);
        double rg = ratio_to(&checked, row, find(&checked, "pagealloc+guard"), base);
        checker_cost = r > checker_cost ? r : checker_cost;
        guard_cost = rg > guard_cost ? rg : guard_cost;
    }
    int kc = find(&churn, "pagealloc");
    double kept = stat(&churn.cell[0][kc], 6, NULL, NULL) - stat(&churn.cell[0][kc], 4, NULL, NULL);
    printf("\n### targets\n\n| target | measured | |\n|---|---|---|\n");
    printf("| alloc + free, page-aligned, ≤ 1.05× mmap + munmap | worst %.2f× | %s |\n", pa_page,
           pa_page <= 1.05 ? "met" : "missed");
    printf("| alloc + free of 1 MiB aligned 64 KiB–1 GiB, ≤ 1.15× unaligned mmap + munmap | worst "
           "%.2f× | %s |\n",
           pa_aligned, pa_aligned <= 1.15 ? "met" : "missed");
    double calls_glibc = stat(&grow.cell[0][pa], 5, NULL, NULL) /
                         stat(&grow.cell[0][gl], 5, NULL, NULL);
    printf("| grow by doubling, ≤ 1.0× glibc realloc | %.2f× (in the grow calls alone: %.2f×) | "
           "%s |\n",
           grow_glibc, calls_glibc,
           grow_glibc <= 1.0 ? "met"
           : grow_glibc <= 1.05 ? "missed by less than the run-to-run noise of the page faults"
                                : "missed");
    printf("| grow by doubling, ≥ 2× faster than alloc + copy + free | %.2f× | %s |\n", grow_copy,
           grow_copy >= 2.0 ? "met" : "missed");
    printf("| move 1 GiB + 4 KiB, ≥ 10× faster than mremap(MREMAP_MAYMOVE) | %.1f× | %s |\n", move_gain,
           move_gain >= 10 ? "met" : "missed");
    double pa_reserve = worst_ratio(&reserve, find(&reserve, "pagealloc"));
    printf("| reserve + commit + decommit + release, ≤ 1.05× the raw calls | worst %.2f× | %s |\n",
           pa_reserve, pa_reserve <= 1.05 ? "met" : "missed");
    printf("| one system call for alloc, free, aligned alloc, shrink, grow, reserve, commit, "
           "decommit, release | %d of %d | %s |\n",
           total_ok, total, total_ok == total && total > 0 ? "met" : "missed");
    printf("| alloc + free through the checked allocator (no options), ≤ 1.15× the page allocator "
           "| worst %.2f× | %s |\n",
           checker_cost, checker_cost <= 1.15 ? "met" : "missed");
    printf("| alloc + free through the checked allocator with GUARD (no target: one system call "
           "and a stack walk more) | worst %.2f× | – |\n", guard_cost);
    printf("| resident memory back to the start after churn | %+.1f MiB | %s |\n", kept,
           kept < 1.0 ? "met" : "missed");
    print_cache_groups();
    return finish(true);
}
