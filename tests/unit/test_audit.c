/* test_audit.c - every shipped rule on a flow it must allow and on one it
 * must not, plus verdicts that no rule row shows on its own: unscoped peers,
 * wrong protocol, IPsec on an exempt path, NAT, topology and rule errors.
 *
 * For each rule, a topology is written that gives each role one address
 * (10.0.<role>.1) and sets the options the rule's `when` asks for; the flow
 * goes from the first `from` role to the first `to` role on the rule's first
 * destination port with its first expected label. Flows here are struct
 * audit_flows (addresses, ports, a label), not packets: the audit never
 * reads bytes. Usage: test_audit SOURCE_DIR */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "check.h"

static char g_src[4096], g_tmp[256];

static int role_of_name(const char *n)
{
    for (int i = 0; i < audit_role_count(); i++)
        if (!strcmp(audit_role_name(i), n))
            return i;
    return -1;
}

/* Writes a topology with one address per role and the given options text. */
static const char *write_topology(const char *options, const char *extra)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/topology.lua", g_tmp);
    FILE *f = fopen(path, "w");
    fprintf(f, "return {\n  name = \"unit\",\n  roles = {\n");
    for (int i = 0; i < audit_role_count(); i++)
        fprintf(f, "    %s = { \"10.0.%d.1\" },\n", audit_role_name(i), i + 1);
    fprintf(f, "  },\n  options = { %s },\n%s}\n", options ? options : "", extra ? extra : "");
    fclose(f);
    return path;
}

static struct audit *load(const char *topology, char *err, size_t len)
{
    char lua[4200], rules[4200];
    snprintf(lua, sizeof lua, "%s/lua", g_src);
    snprintf(rules, sizeof rules, "%s/rules", g_src);
    struct audit_paths p = {lua, rules, topology};
    return audit_load(&p, err, len);
}

static void addr_of(const char *role, uint8_t out[16])
{
    memset(out, 0, 16);
    int r = role_of_name(role);
    char a[32];
    if (r < 0)
        snprintf(a, sizeof a, "192.0.2.77"); /* "any": an address in no role */
    else
        snprintf(a, sizeof a, "10.0.%d.1", r + 1);
    inet_pton(AF_INET, a, out);
}

/* "k=v,k2=v2" (audit's when text) -> Lua option fields. */
static void when_to_options(const char *when, char *out, size_t len)
{
    out[0] = '\0';
    if (!when)
        return;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", when);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        size_t u = strlen(out);
        if (!strcmp(v, "true") || !strcmp(v, "false"))
            snprintf(out + u, len - u, "%s = %s, ", tok, v);
        else
            snprintf(out + u, len - u, "%s = \"%s\", ", tok, v);
    }
}

static unsigned first_port(const char *ranges)
{
    return (unsigned)strtoul(ranges, NULL, 10);
}

/* A port outside every range in "a,b-c,...": past the end of the last one. */
static unsigned outside_port(const char *ranges)
{
    unsigned best = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", ranges);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *dash = strchr(tok, '-');
        unsigned hi = (unsigned)strtoul(dash ? dash + 1 : tok, NULL, 10);
        if (hi > best)
            best = hi;
    }
    if (best >= 65535) { /* open to the top: take one below the lowest */
        unsigned lo = first_port(ranges);
        return lo > 1 ? lo - 1 : 0;
    }
    return best + 1;
}

static void first_word(const char *list, char *out, size_t len)
{
    snprintf(out, len, "%s", list ? list : "");
    out[strcspn(out, ",")] = '\0';
}

static void test_every_rule(void)
{
    char err[1024];
    struct audit *base = load(write_topology(NULL, NULL), err, sizeof err);
    CHECK(base != NULL);
    if (!base) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    size_t n = audit_rule_count(base);
    CHECK(n > 150);
    int allowed = 0, refused = 0;
    for (size_t i = 0; i < n; i++) {
        struct audit_rule_info ri;
        audit_rule_info(base, i, &ri);
        if (strcmp(ri.kind, "allow"))
            continue;
        char opts[512];
        when_to_options(ri.when, opts, sizeof opts);
        struct audit *a = load(write_topology(opts, NULL), err, sizeof err);
        if (!a) {
            CHECK(!"topology for rule loads");
            fprintf(stderr, "rule %s: %s\n", ri.id, err);
            continue;
        }
        struct audit_rule_info me;
        audit_rule_info(a, i, &me);
        CHECK(me.active);
        char from[64], to[64], tr[16], app[32];
        /* "any" as a source: an internal client (doc 003's server rows take
         * internal sources only, srv.internal-sources) */
        first_word(strcmp(ri.from, "any") ? ri.from : "client_internal", from, sizeof from);
        first_word(strcmp(ri.to, "any") ? ri.to : "client_external", to, sizeof to);
        first_word(ri.transport, tr, sizeof tr);
        first_word(ri.apps && ri.apps[0] ? ri.apps : "unknown", app, sizeof app);
        struct audit_flow f;
        uint8_t s[16], d[16];
        addr_of(from, s);
        addr_of(to, d);
        f.src = s, f.dst = d, f.ipver = 4;
        f.proto = !strcmp(tr, "tcp") ? 6 : !strcmp(tr, "udp") ? 17 : !strcmp(tr, "esp") ? 50 : 51;
        f.sport = (uint16_t)(strcmp(ri.sports, "any") ? first_port(ri.sports) : 40000);
        f.dport = (uint16_t)first_port(ri.dports);
        f.app = app, f.app_detail = NULL, f.packets = 10, f.bytes = 1000;
        struct audit_result r;
        audit_flow(a, &f, &r);
        bool ok = !strcmp(r.verdict, "ok") || !strcmp(r.verdict, "unscoped");
        if (!ok)
            fprintf(stderr, "rule %s (%s -> %s %s/%u %s) must allow: verdict %s, %s\n", ri.id, from, to, tr,
                    f.dport, app, r.verdict, r.nviolations ? r.v[0].message : "");
        CHECK(ok);
        allowed += ok;
        /* The same flow on a port outside the rule: this rule must not allow it. */
        unsigned out = outside_port(ri.dports);
        if (out >= 1 && out <= 65535) {
            f.dport = (uint16_t)out;
            audit_flow(a, &f, &r);
            bool notme = !r.rule_id || strcmp(r.rule_id, ri.id);
            if (!notme)
                fprintf(stderr, "rule %s allowed port %u outside %s\n", ri.id, out, ri.dports);
            CHECK(notme);
            refused += notme;
        }
        /* With a label the rule does not expect, it must not allow either. */
        if (ri.apps && ri.apps[0]) {
            f.dport = (uint16_t)first_port(ri.dports);
            f.app = "ssh";
            audit_flow(a, &f, &r);
            CHECK(!r.rule_id || strcmp(r.rule_id, ri.id));
        }
        audit_free(a);
    }
    printf("allow rules: %d flows allowed, %d refused outside their ports\n", allowed, refused);
    audit_free(base);
}

static struct audit_result run(struct audit *a, const char *from, const char *to, uint8_t proto, uint16_t sport,
                               uint16_t dport, const char *app)
{
    static uint8_t s[16], d[16];
    addr_of(from, s);
    addr_of(to, d);
    struct audit_flow f = {s, d, 4, proto, sport, dport, app, NULL, 1, 100};
    struct audit_result r;
    audit_flow(a, &f, &r);
    return r;
}

static void test_verdicts(void)
{
    char err[1024];
    struct audit *a = load(write_topology("client_media_ports = { 50000, 50039 }", NULL), err, sizeof err);
    CHECK(a != NULL);
    if (!a)
        return;
    /* Two peers: not a Lync finding. */
    struct audit_result r = run(a, "client_internal", "any", 6, 40000, 443, "tls");
    CHECK(!strcmp(r.verdict, "unscoped"));
    /* SIP over TLS to a Front End on 5061 is allowed; cleartext SIP there is not. */
    r = run(a, "client_internal", "front_end", 6, 40000, 5061, "tls");
    CHECK(!strcmp(r.verdict, "ok"));
    r = run(a, "client_internal", "front_end", 6, 40000, 5061, "sip");
    CHECK(!strcmp(r.verdict, "violation") && !strcmp(r.v[0].kind, "wrong_protocol"));
    CHECK(r.v[0].ref && strstr(r.v[0].ref, ".txt"));
    /* Anything but media on the A/V Edge's 3478 (from the client media range). */
    r = run(a, "client_external", "edge_av", 17, 50010, 3478, "stun");
    CHECK(!strcmp(r.verdict, "ok"));
    r = run(a, "client_external", "edge_av", 17, 50010, 3478, "dns");
    CHECK(r.nviolations && !strcmp(r.v[0].kind, "wrong_protocol"));
    /* An undocumented port between servers. */
    r = run(a, "front_end", "edge_internal", 6, 40000, 9999, "tls");
    CHECK(r.nviolations && !strcmp(r.v[0].kind, "no_rule") && r.v[0].rule_id == NULL);
    /* UDP 50,000-59,999 inbound to the A/V Edge without OCS 2007 federation. */
    r = run(a, "federation_partner", "edge_av", 17, 40000, 50010, "rtp");
    CHECK(r.nviolations && !strcmp(r.v[0].kind, "port_range"));
    /* The initiator is the first sender: the flow is not tried the other way round
     * (edge_av -> any UDP 3478 would allow it). */
    r = run(a, "federation_partner", "edge_av", 17, 3478, 50010, "rtp");
    CHECK(r.nviolations && !strcmp(r.v[0].kind, "port_range"));
    /* IPsec on a media path the exceptions exempt. */
    r = run(a, "front_end", "mediation", 50, 0, 0, "ipsec");
    CHECK(r.nviolations && !strcmp(r.v[0].kind, "ipsec"));
    /* TLS to the Access Edge on 443 is SIP; to the Web Conferencing Edge, PSOM. */
    r = run(a, "client_external", "edge_access", 6, 40000, 443, "tls");
    CHECK(!strcmp(r.app, "sip_tls") && !strcmp(r.verdict, "ok"));
    r = run(a, "client_external", "edge_webconf", 6, 40000, 443, "tls");
    CHECK(!strcmp(r.app, "psom"));
    audit_free(a);

    /* With OCS 2007 federation the same media is allowed. */
    a = load(write_topology("ocs2007_federation = true", NULL), err, sizeof err);
    CHECK(a != NULL);
    if (a) {
        r = run(a, "federation_partner", "edge_av", 17, 40000, 50010, "rtp");
        CHECK(!strcmp(r.verdict, "ok"));
        audit_free(a);
    }

    /* A NAT device in front of the Edge internal interface. */
    a = load(write_topology(NULL, "  nat_devices = { \"192.0.2.200\" },\n"), err, sizeof err);
    CHECK(a != NULL);
    if (a) {
        uint8_t s[16], d[16];
        inet_pton(AF_INET, "192.0.2.200", s);
        addr_of("edge_internal", d);
        struct audit_flow f = {s, d, 4, 6, 40000, 5061, "tls", NULL, 1, 100};
        audit_flow(a, &f, &r);
        CHECK(r.nviolations && !strcmp(r.v[0].kind, "nat"));
        audit_free(a);
    }
    /* A public address maps to its translated address's role. */
    a = load(write_topology(NULL, "  nat = { [\"131.107.155.30\"] = \"10.0.9.1\" },\n"), err, sizeof err);
    CHECK(a != NULL);
    if (a) {
        uint8_t s[16], d[16];
        addr_of("client_external", s);
        inet_pton(AF_INET, "131.107.155.30", d);
        struct audit_flow f = {s, d, 4, 17, 40000, 3478, "stun", NULL, 1, 100};
        audit_flow(a, &f, &r);
        CHECK(!strcmp(r.dst_role, "edge_av") && !strcmp(r.verdict, "ok"));
        audit_free(a);
    }
}

/* A broken topology names the file and line; nothing loads. */
static void expect_topology_error(const char *text, const char *want)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/bad.lua", g_tmp);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    struct audit *a = load(path, err, sizeof err);
    CHECK(a == NULL);
    bool has = a == NULL && strstr(err, want) && strstr(err, path);
    if (!has)
        fprintf(stderr, "topology error: wanted '%s', got '%s'\n", want, a ? "(loaded)" : err);
    CHECK(has);
    audit_free(a);
}

static void test_topology_errors(void)
{
    expect_topology_error("return {\n roles = {\n  fornt_end = { \"10.0.0.1\" },\n }\n}\n",
                          "bad.lua:3: unknown role 'fornt_end'");
    expect_topology_error("return {\n roles = {\n  front_end = { \"10.0.0.300\" },\n }\n}\n",
                          "bad.lua:3: bad address or prefix '10.0.0.300'");
    expect_topology_error("return {\n options = {\n  ocs2007 = true,\n }\n}\n", "bad.lua:3: unknown option 'ocs2007'");
    expect_topology_error("return {\n options = {\n  load_balancing = \"round-robin\",\n }\n}\n",
                          "bad.lua:3: option 'load_balancing'");
    expect_topology_error("return {\n roles = { front_end = { \"10.0.0.1\" } \n", "bad.lua:3:");
    expect_topology_error("local x = 1\nwhile true do x = x + 1 end\n", "instruction limit");
    expect_topology_error("os.execute('touch /tmp/pwned')\nreturn {}\n", "bad.lua:1:");
    expect_topology_error("return {\n roles = {\n  front_end = \"10.0.0.1\",\n  director = \"10.0.0.1\",\n }\n}\n",
                          "in two roles");
    expect_topology_error("local s = string.rep('x', 1 << 30)\nreturn {}\n", "bad.lua:1: attempt to index a nil value");
    expect_topology_error("return 42\n", "must return a table");
}

/* A broken rule file stops the load with its file and line. */
static void test_rule_errors(void)
{
    char dir[512], path[600], lua[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/rules", g_tmp);
    snprintf(path, sizeof path, "%s/a.lua", dir);
    snprintf(lua, sizeof lua, "%s/lua", g_src);
    const char *cases[][2] = {
        {"cite { doc = \"003_90a6bcb524c2ccb8.txt\", table = \"T\" }\nrule { id = \"x\", ref = row(1, \"t\"),\n"
         "  from = \"front_ned\", to = \"any\", transport = \"tcp\", dports = 1 }\n",
         "a.lua:2: "},
        {"while true do end\n", "instruction limit"},
        {"io.open('/etc/passwd')\n", "a.lua:1:"},
        {"require('os')\n", "a.lua:1:"},
        {"load(string.dump(function() end))\n", "a.lua:1:"},
        {"local s = string.rep('x', 1 << 30)\n", "a.lua:1: string.rep: more than"},
        {"local t = {}\nfor i = 1, 1 << 24 do t[i] = ('x'):rep(64) .. i end\n", "a.lua:2: not enough memory"},
        {"local t = {}\nfor i = 1, 1e9 do t[i] = i end\n", "a.lua:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        FILE *f = fopen(path, "w");
        fputs(cases[i][0], f);
        fclose(f);
        struct audit_paths p = {lua, dir, NULL};
        struct audit *a = audit_load(&p, err, sizeof err);
        CHECK(a == NULL);
        bool has = a == NULL && strstr(err, cases[i][1]);
        if (!has)
            fprintf(stderr, "rule error %zu: wanted '%s', got '%s'\n", i, cases[i][1], a ? "(loaded)" : err);
        CHECK(has);
        audit_free(a);
    }
    unlink(path);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_audit SOURCE_DIR\n");
        return 2;
    }
    snprintf(g_src, sizeof g_src, "%s", argv[1]);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/test_audit.XXXXXX");
    if (!mkdtemp(g_tmp))
        return 2;
    char rules[300];
    snprintf(rules, sizeof rules, "%s/rules", g_tmp);

    if (mkdir(rules, 0700) != 0)
        return 2;
    test_every_rule();
    test_verdicts();
    test_topology_errors();
    test_rule_errors();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_tmp);
    return check_done();
}
