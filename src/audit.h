/* audit.h - rules: which rule allows a flow, or what it breaks.
 *
 * audit_load() reads the rule language (lua/dsl.lua), every rule file in
 * rules/ and the topology (topology.h) into one sandboxed Lua state, then
 * compiles the active rules into C match tables: auditing a flow is a
 * lookup by transport and destination port, filtered by role masks, never a
 * Lua call per packet. A rule's optional Lua check runs once per flow it
 * matches. */
#ifndef LYNCAUDIT_AUDIT_H
#define LYNCAUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_MAX_VIOLATIONS 4

struct audit;

struct audit_paths {
    const char *lua_dir;    /* holds dsl.lua */
    const char *rules_dir;  /* holds *.lua rule files */
    const char *topology;   /* NULL: no topology, every address is "any" */
};

/* Loading reads every file's bytes first (regular files only), then runs
 * them in the sandbox (luabox.h), whose limits end any load; a guard
 * watches the load's progress for a C call that would not end.
 *
 * audit_load: for the load before anything is written. NULL on failure with
 * "file:line: what" in err; a load that stops making progress for 4 s ends
 * the process with one line "lyncaudit: FILE:LINE: no progress ..." and exit
 * code 2 (nothing can have been written yet). */
struct audit *audit_load(const struct audit_paths *p, char *err, size_t errlen);

/* audit_reload: for a reload while a run goes on (SIGHUP). The files are
 * read once; a child process loads those bytes first (a stall ends the
 * child only: NULL here), then this process loads the same bytes with no
 * alarm or watchdog that could end it. Never ends the process: NULL with
 * "file:line: what" in err when the new files cannot be used. */
struct audit *audit_reload(const struct audit_paths *p, char *err, size_t errlen);

void audit_free(struct audit *a);

/* One flow as the audit sees it. */
struct audit_flow {
    const uint8_t *src, *dst;  /* 4 or 16 bytes */
    int ipver;
    uint8_t proto;
    uint16_t sport, dport;
    const char *app;            /* classify's label */
    const char *app_detail;
    uint64_t packets, bytes;
    uint8_t facts;              /* classify's LABEL_F_* (flow.h): TLS the role may name */
};

struct audit_violation {
    const char *kind;       /* no_rule, wrong_protocol, ipsec, port_range, nat, check, unconfirmed_protocol */
    const char *rule_id;    /* NULL when no rule is concerned */
    const char *severity;   /* high, medium, low */
    const char *ref;        /* "title (date, asset id) | table | row N: text", or NULL */
    char message[320];
};

struct audit_result {
    const char *src_role, *dst_role;   /* role names, "any" for none */
    const char *verdict;               /* ok, violation, unscoped */
    const char *rule_id;               /* the allowing rule, or NULL */
    const char *app;                   /* the label after role-aware refinement */
    bool unconfirmed;                  /* allowed by a rule that expects protocols while the label is
                                          undecided ("unknown"): the verdict rests on the port alone */
    int nviolations;
    struct audit_violation v[AUDIT_MAX_VIOLATIONS];
};

/* Audits one flow (at its end). */
void audit_flow(struct audit *a, const struct audit_flow *f, struct audit_result *r);

/* audit_flow without counting a rule's match: a verdict before the flow
 * ends (the evidence capture's, when the label is decided). */
void audit_flow_peek(struct audit *a, const struct audit_flow *f, struct audit_result *r);

/* False when a flow from src to dst (its initiator first) is unscoped
 * whatever it carries and on whatever ports: it can never be a violation
 * (with the topology in use). */
bool audit_in_scope(const struct audit *a, const uint8_t *src, const uint8_t *dst, int ipver);

/* The loaded rules, for the `rules` table. */
struct audit_rule_info {
    const char *id, *kind, *severity, *from, *to, *transport, *dports, *sports, *apps, *when;
    const char *doc, *table, *text, *note;
    int row;
    bool active;
    uint64_t matched;
    uint64_t unconfirmed;   /* flows it allowed by port alone (audit_result.unconfirmed) */
};
size_t audit_rule_count(const struct audit *a);
void audit_rule_info(const struct audit *a, size_t i, struct audit_rule_info *out);

/* The topology's name and file (NULL when none). */
const char *audit_topology_name(const struct audit *a);
const char *audit_topology_path(const struct audit *a);

/* The role vocabulary (lua/dsl.lua's M.roles()): names by index, and how
 * many ("any" is audit_role_count(a)). */
const char *audit_role_name(const struct audit *a, int role);
int audit_role_count(const struct audit *a);

/* The addresses the topology declares for role (comma-separated), or NULL
 * when it declares none. */
const char *audit_role_declared(const struct audit *a, int role);

/* The documents the rules cite (lua/dsl.lua's M.documents()), for the
 * `documents` table; asset_id, date and url may be NULL. */
struct audit_document {
    const char *doc;       /* the name a rule's cite{} gives it */
    const char *title, *date, *asset_id, *url;
};
size_t audit_document_count(const struct audit *a);
const struct audit_document *audit_document(const struct audit *a, size_t i);

/* Provenance: the rule language's version (M.version), and the SHA-256 (hex)
 * of the bytes loaded: the rule set (dsl.lua and the rule files, with their
 * names) and the topology (NULL without one). */
const char *audit_rules_version(const struct audit *a);
const char *audit_rules_sha256(const struct audit *a);
const char *audit_topology_sha256(const struct audit *a);

#endif
