/* rpt_svg.c - the deployment picture: roles as nodes in three columns
 * (internal network, perimeter, outside), the role-to-role paths of the run
 * as arrows from the initiating role, coloured by verdict, sized by bytes
 * and labelled with their busiest service. Made from r_nodes and r_edges. */
#include "rpt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 32
#define SVG_W 1240
#define NODE_W 196
#define NODE_H 48
#define ROW_H 84
#define TOP 64

struct node {
    char role[48];
    int col, row;
    double x, y; /* top-left */
};

static const double COL_X[3] = {130, SVG_W / 2.0 - NODE_W / 2.0, SVG_W - 130 - NODE_W};
static const char *const COL_TITLE[3] = {"Internal network", "Perimeter (Edge)", "Outside"};

static int load_nodes(struct rpt *r, struct node *n, int *rows)
{
    sqlite3_stmt *st = rpt_prepare(r, "SELECT role, col FROM r_nodes ORDER BY rowid");
    if (!st)
        return -1;
    int count = 0, per[3] = {0, 0, 0};
    while (count < MAX_NODES && sqlite3_step(st) == SQLITE_ROW) {
        struct node *x = &n[count++];
        snprintf(x->role, sizeof x->role, "%s", rpt_text(st, 0));
        x->col = sqlite3_column_int(st, 1) % 3;
        x->row = per[x->col]++;
        x->x = COL_X[x->col];
        x->y = TOP + x->row * ROW_H;
    }
    sqlite3_finalize(st);
    *rows = per[0] > per[1] ? per[0] : per[1];
    *rows = *rows > per[2] ? *rows : per[2];
    return count;
}

static const struct node *find(const struct node *n, int count, const char *role)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(n[i].role, role))
            return &n[i];
    return NULL;
}

static const char *verdict_colour(const char *v)
{
    return !strcmp(v, "violation") ? "#c0392b" : !strcmp(v, "ok") ? "#2e7d4f" : "#8a96a3";
}

/* The first service of "tcp/5061 sip_tls x2, udp/3478 stun, ..." and how many more. */
static void short_label(const char *services, char *out, size_t len)
{
    const char *c = strstr(services, ", ");
    int more = 0;
    for (const char *p = c; p; p = strstr(p + 2, ", "))
        more++;
    const char *plus = strstr(services, ", +");
    if (plus) /* ", +N more" counts the services left out */
        more += atoi(plus + 3) - 1;
    if (more)
        snprintf(out, len, "%.*s +%d", (int)(c - services), services, more);
    else
        snprintf(out, len, "%s", services);
}

struct edge {
    const struct node *a, *b;
    char verdict[12], label[96], services[512];
    long long flows, packets, bytes, violations;
    double y1, y2;      /* anchors on the sides of a and b */
    int side_a, side_b; /* 1: right side of the node, 0: left */
};

struct box {
    double x, y, w, h;
};

/* Which sides a path leaves and enters: facing sides between columns; the
 * outer side within the outer columns, the right side within the middle. */
static void edge_sides(struct edge *e)
{
    if (e->a == e->b || e->a->col == e->b->col) {
        e->side_a = e->side_b = e->a->col != 0;
        return;
    }
    e->side_a = e->a->col < e->b->col;
    e->side_b = !e->side_a;
}

/* Spreads the paths that meet one side of a node over its height, ordered
 * by the height of their other end so that they do not cross there. */
static void spread_anchors(struct edge *e, int ne, const struct node *n)
{
    for (int side = 0; side < 2; side++) {
        int idx[2 * 64], k = 0;
        for (int i = 0; i < ne; i++) {
            if (e[i].a == n && e[i].side_a == side && k < 128)
                idx[k++] = 2 * i;
            if (e[i].b == n && e[i].side_b == side && k < 128)
                idx[k++] = 2 * i + 1;
        }
        for (int i = 1; i < k; i++) /* insertion sort by the other end's y */
            for (int j = i; j > 0; j--) {
                const struct edge *p = &e[idx[j - 1] / 2], *q = &e[idx[j] / 2];
                double yp = (idx[j - 1] & 1 ? p->a : p->b)->y, yq = (idx[j] & 1 ? q->a : q->b)->y;
                if (yp <= yq)
                    break;
                int t = idx[j];
                idx[j] = idx[j - 1], idx[j - 1] = t;
            }
        for (int i = 0; i < k; i++) {
            double y = n->y + NODE_H * (i + 1.0) / (k + 1.0);
            if (idx[i] & 1)
                e[idx[i] / 2].y2 = y;
            else
                e[idx[i] / 2].y1 = y;
        }
    }
}

/* How many of the boxes placed so far c overlaps. */
static int overlaps(const struct box *b, int nb, const struct box *c)
{
    int n = 0;
    for (int i = 0; i < nb; i++)
        n += c->x < b[i].x + b[i].w + 2 && b[i].x < c->x + c->w + 2 && c->y < b[i].y + b[i].h + 3 &&
             b[i].y < c->y + c->h + 3;
    return n;
}

/* One path: a cubic curve between its anchors (bulging outward within a
 * column, a loop for a role to itself), its label on the curve at the first
 * place that overlaps no node and no label placed before. */
static void svg_edge(FILE *out, const struct edge *e, struct box *placed, int *nplaced)
{
    double x1 = e->a->x + (e->side_a ? NODE_W : 0), x2 = e->b->x + (e->side_b ? NODE_W : 0);
    double y1 = e->y1, y2 = e->y2, c1x, c2x;
    if (e->a == e->b) {
        double d = e->side_a ? 1 : -1;
        c1x = x1 + d * 60, c2x = x2 + d * 60, y1 -= 6, y2 += 6;
    } else if (e->a->col == e->b->col) {
        double bend = (e->side_a ? 1 : -1) * (34 + 0.3 * (e->a->y > e->b->y ? e->a->y - e->b->y : e->b->y - e->a->y));
        c1x = x1 + bend, c2x = x2 + bend;
    } else {
        double bend = (x2 - x1) * 0.45;
        c1x = x1 + bend, c2x = x2 - bend;
    }
    const char *colour = verdict_colour(e->verdict);
    double w = 1.2 + log10(e->bytes > 10 ? (double)e->bytes : 10) * 0.4;
    fprintf(out, "<path d=\"M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f\" fill=\"none\" stroke=\"%s\" "
                 "stroke-width=\"%.1f\" stroke-opacity=\"0.8\" marker-end=\"url(#arrow-%s)\"/>\n",
            x1, y1, c1x, y1, c2x, y2, x2, y2, colour, w, e->verdict);
    static const double T[] = {0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85};
    struct box c = {0, 0, strlen(e->label) * 6.0 + 8, 14}, best = c;
    int best_n = 1 << 30;
    for (size_t i = 0; i < 3 * sizeof T / sizeof T[0] && best_n; i++) {
        double t = T[i % (sizeof T / sizeof T[0])], u = 1 - t, dy = i < sizeof T / sizeof T[0] ? 0 : (i & 1 ? -15 : 15);
        c.x = u * u * u * x1 + 3 * u * u * t * c1x + 3 * u * t * t * c2x + t * t * t * x2 - c.w / 2;
        c.y = u * u * u * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y2 - 7 + dy;
        c.x = c.x < 2 ? 2 : c.x + c.w > SVG_W - 2 ? SVG_W - 2 - c.w : c.x;
        int n = overlaps(placed, *nplaced, &c);
        if (n < best_n)
            best = c, best_n = n;
    }
    c = best;
    placed[(*nplaced)++] = c;
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" rx=\"3\" fill=\"#fff\" "
                 "fill-opacity=\"0.95\" stroke=\"%s\" stroke-width=\"0.6\"/><text x=\"%.1f\" y=\"%.1f\" "
                 "class=\"el\" fill=\"%s\">",
            c.x, c.y, c.w, colour, c.x + c.w / 2, c.y + 10.5, colour);
    rpt_html_escape(out, e->label);
    fputs("</text></g>\n", out);
}

#define MAX_EDGES 64

static int svg_edges(struct rpt *r, FILE *out, const struct node *n, int count)
{
    sqlite3_stmt *st = rpt_prepare(r, "SELECT src_role, dst_role, flows, packets, bytes, violations, verdict,"
                                      " services FROM r_edges ORDER BY verdict = 'violation', rowid");
    if (!st)
        return -1;
    static struct edge e[MAX_EDGES];
    int ne = 0;
    while (ne < MAX_EDGES && sqlite3_step(st) == SQLITE_ROW) {
        struct edge *x = &e[ne];
        if (!(x->a = find(n, count, rpt_text(st, 0))) || !(x->b = find(n, count, rpt_text(st, 1))))
            continue;
        x->flows = sqlite3_column_int64(st, 2), x->packets = sqlite3_column_int64(st, 3);
        x->bytes = sqlite3_column_int64(st, 4), x->violations = sqlite3_column_int64(st, 5);
        snprintf(x->verdict, sizeof x->verdict, "%s", rpt_text(st, 6));
        snprintf(x->services, sizeof x->services, "%s", rpt_text(st, 7));
        short_label(x->services, x->label, sizeof x->label);
        edge_sides(x);
        ne++;
    }
    sqlite3_finalize(st);
    for (int i = 0; i < count; i++)
        spread_anchors(e, ne, &n[i]);
    struct box placed[MAX_NODES + MAX_EDGES];
    int nplaced = 0;
    for (int i = 0; i < count; i++)
        placed[nplaced++] = (struct box){n[i].x, n[i].y, NODE_W, NODE_H};
    for (int i = 0; i < ne; i++) {
        fputs("<g class=\"edge\" data-from=\"", out);
        rpt_html_escape(out, e[i].a->role);
        fputs("\" data-to=\"", out);
        rpt_html_escape(out, e[i].b->role);
        fprintf(out, "\" data-verdict=\"%s\"><title>", e[i].verdict);
        rpt_html_escape(out, e[i].a->role);
        fputs(" -> ", out);
        rpt_html_escape(out, e[i].b->role);
        fprintf(out, ": %lld flows, %lld packets, %lld bytes, %lld violating; ", e[i].flows, e[i].packets,
                e[i].bytes, e[i].violations);
        rpt_html_escape(out, e[i].services);
        fputs("</title>", out);
        svg_edge(out, &e[i], placed, &nplaced);
    }
    return 0;
}

static void svg_nodes(struct rpt *r, FILE *out, const struct node *n, int count)
{
    sqlite3_stmt *st = rpt_prepare(r, "SELECT addresses, flow_ends, violation_ends FROM r_nodes WHERE role = ?3");
    for (int i = 0; st && i < count; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 3, n[i].role, -1, SQLITE_STATIC);
        long long addrs = 0, ends = 0, bad = 0;
        if (sqlite3_step(st) == SQLITE_ROW)
            addrs = sqlite3_column_int64(st, 0), ends = sqlite3_column_int64(st, 1), bad = sqlite3_column_int64(st, 2);
        fputs("<g class=\"node\" data-role=\"", out);
        rpt_html_escape(out, n[i].role);
        fprintf(out, "\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" rx=\"7\" fill=\"%s\" stroke=\"%s\" "
                     "stroke-width=\"%s\"/>",
                n[i].x, n[i].y, NODE_W, NODE_H, bad ? "#fdf1ef" : "#ffffff", bad ? "#c0392b" : "#1f3a5a",
                bad ? "2" : "1.2");
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"nl\">", n[i].x + NODE_W / 2.0, n[i].y + 20);
        rpt_html_escape(out, strcmp(n[i].role, "any") ? n[i].role : "any (no role)");
        fprintf(out, "</text><text x=\"%.1f\" y=\"%.1f\" class=\"ns\">%lld address%s &#183; %lld flow%s</text></g>\n",
                n[i].x + NODE_W / 2.0, n[i].y + 37, addrs, addrs == 1 ? "" : "es", ends, ends == 1 ? "" : "s");
    }
    sqlite3_finalize(st);
}

int rpt_write_svg(struct rpt *r, FILE *out)
{
    struct node n[MAX_NODES];
    int rows = 0, count = load_nodes(r, n, &rows);
    if (count < 0)
        return -1;
    int h = TOP + (rows ? rows : 1) * ROW_H + 10;
    fprintf(out, "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" id=\"deployment\" viewBox=\"0 0 %d %d\" "
                 "role=\"img\" aria-label=\"Roles and the paths between them\">\n<defs>",
            SVG_W, h);
    static const char *const V[] = {"ok", "violation", "unscoped"};
    for (int i = 0; i < 3; i++)
        fprintf(out, "<marker id=\"arrow-%s\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"9\" "
                     "markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"%s\"/></marker>",
                V[i], verdict_colour(V[i]));
    fputs("</defs>\n<style>.nl{font:600 14px 'DejaVu Sans',Arial,sans-serif;fill:#1d2733;text-anchor:middle}"
          ".ns{font:11px 'DejaVu Sans',Arial,sans-serif;fill:#5b6877;text-anchor:middle}"
          ".el{font:10px 'DejaVu Sans Mono',monospace;text-anchor:middle}"
          ".ct{font:600 12px 'DejaVu Sans',Arial,sans-serif;fill:#5b6877;text-anchor:middle;letter-spacing:.08em}"
          "</style>\n", out);
    fprintf(out, "<rect x=\"%.1f\" y=\"8\" width=\"%d\" height=\"%d\" rx=\"10\" fill=\"#eef2f6\"/>\n",
            COL_X[1] - 50, NODE_W + 100, h - 12);
    for (int c = 0; c < 3; c++)
        fprintf(out, "<text x=\"%.1f\" y=\"34\" class=\"ct\">%s</text>\n", COL_X[c] + NODE_W / 2.0, COL_TITLE[c]);
    if (svg_edges(r, out, n, count))
        return -1;
    svg_nodes(r, out, n, count);
    fprintf(out, "</svg><figcaption>%d role%s, drawn from the run's flows.</figcaption></figure>\n", count,
            count == 1 ? "" : "s");
    return 0;
}
