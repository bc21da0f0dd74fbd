/* topo_import.c - Lync topology XML -> topology.lua text (topo_import.h).
 *
 * One pass over the document collects clusters (pools) and services; each
 * cluster gets the role its services point to (Edge > Registrar > the
 * others), each machine's NetInterface addresses that role, the Edge's
 * external interfaces the Access / Web Conferencing / A/V role of the ports
 * on them. Every address, NAT entry and port override remembers the XML
 * element it came from: the output says so in a comment. */
#include "topo_import.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define NS_BASE "urn:schema:Microsoft.Rtc.Management.Deploy."
#define NS_TB NS_BASE "TopologyBuilder.2008"
#define NS_WT NS_BASE "WritableTopology.2008"
#define NS_TOPO NS_BASE "Topology.2008"

/* The roles of docs/topology.md, in lua/dsl.lua's order (servers only: a
 * topology document says nothing of clients and partners). */
enum {
    R_FE, R_DIR, R_MED, R_GW, R_SBA, R_EINT, R_EACC, R_EWEB, R_EAV, R_RP, R_WAC, R_PCHAT, R_UM,
    R_FELB, R_DIRLB, R_MEDLB, R_N, R_EDGE = 100, R_POOL = -2
};
static const char *const ROLE[R_N] = {
    "front_end", "director", "mediation", "pstn_gateway", "sba", "edge_internal", "edge_access",
    "edge_webconf", "edge_av", "reverse_proxy", "office_web_apps", "persistent_chat", "exchange_um",
    "fe_load_balancer", "director_load_balancer", "mediation_load_balancer"};

/* A service port as the documents and Topology Builder's defaults have it:
 * service role, Port Owner, Usage, InterfaceSide, transports (1 tcp, 2 udp,
 * 3 both), Port, Range, our role (R_POOL: the cluster's), and the
 * documented port range the rules name for it. */
struct pdef {
    const char *svc, *owner, *usage, *side;
    int tr, port, range, role, lo, hi;
    const char *proto; /* Protocol, where two defaults differ only by it ("": any) */
};
static const struct pdef PDEF[] = {
    {"Registrar", "Registrar", "SipServer", "Primary", 1, 5061, 0, R_POOL, 5061, 5061, ""},
    {"Registrar", "Registrar", "WebServer", "Primary", 1, 444, 0, R_POOL, 444, 444, ""},
    {"ConfServices", "IMConf", "SipServer", "Primary", 1, 5062, 0, R_POOL, 5062, 5062, ""},
    {"ConfServices", "AVConf", "SipServer", "Primary", 1, 5063, 0, R_POOL, 5063, 5063, ""},
    {"ConfServices", "AppSharingConf", "SipServer", "Primary", 1, 5065, 0, R_POOL, 5065, 5065, ""},
    {"ConfServices", "DataConf", "PsomClient", "Primary", 1, 8057, 0, R_POOL, 8057, 8057, ""},
    {"ConfServices", "MediaComp", "AudioCommunication", "Primary", 3, 49152, 8348, R_POOL, 49152, 57500, ""},
    {"ConfServices", "MediaComp", "VideoCommunication", "Primary", 3, 57501, 8034, R_POOL, 57501, 65535, ""},
    {"WebServices", "OCSWebSite", "WebSite", "External", 1, 8080, 0, R_POOL, 8080, 8080, "Http"},
    {"WebServices", "OCSWebSite", "WebSite", "External", 1, 4443, 0, R_POOL, 4443, 4443, "Https"},
    {"WebServices", "Reach", "PsomServer", "Primary", 1, 8060, 0, R_POOL, 8060, 8060, ""},
    {"WebServices", "Reach", "PsomServer", "External", 1, 8061, 0, R_POOL, 8061, 8061, ""},
    {"WebServices", "McxService", "SipServer", "Primary", 1, 5086, 0, R_POOL, 5086, 5086, ""},
    {"WebServices", "McxServiceExternal", "SipServer", "Primary", 1, 5087, 0, R_POOL, 5087, 5087, ""},
    {"ApplicationServer", "RGS", "SipServer", "Primary", 1, 5071, 0, R_POOL, 5071, 5071, ""},
    {"ApplicationServer", "RGS", "WcfMtls", "Primary", 1, 8404, 0, R_POOL, 8404, 8404, ""},
    {"ApplicationServer", "Cps", "SipServer", "Primary", 1, 5075, 0, R_POOL, 5075, 5075, ""},
    {"ApplicationServer", "PDP", "SipServer", "Primary", 1, 5080, 0, R_POOL, 5080, 5080, ""},
    {"ApplicationServer", "PDP", "TURNServer", "Primary", 1, 448, 0, R_POOL, 448, 448, ""},
    {"MediationServer", "Mediation", "SipServer", "Primary", 1, 5070, 0, R_POOL, 5070, 5070, ""},
    {"MediationServer", "Mediation", "SipClient", "Pstn", 1, 5067, 0, R_POOL, 5067, 5067, ""},
    {"EdgeServer", "AccessEdge", "SipServer", "Internal", 1, 5061, 0, R_EINT, 5061, 5061, ""},
    {"EdgeServer", "AccessEdge", "SipServer", "External", 1, 5061, 0, R_EACC, 5061, 5061, ""},
    {"EdgeServer", "AccessEdge", "SipClient", "External", 1, 443, 0, R_EACC, 443, 443, ""},
    {"EdgeServer", "DataEdge", "PsomServer", "Internal", 1, 8057, 0, R_EINT, 8057, 8057, ""},
    {"EdgeServer", "DataEdge", "PsomClient", "External", 1, 443, 0, R_EWEB, 443, 443, ""},
    {"EdgeServer", "MediaRelayAuthenticationEdge", "SipServer", "Internal", 1, 5062, 0, R_EINT, 5062, 5062, ""},
    {"EdgeServer", "MediaRelayEdge", "TURNServer", "Internal", 1, 443, 0, R_EINT, 443, 443, ""},
    {"EdgeServer", "MediaRelayEdge", "TURNServer", "Internal", 2, 3478, 0, R_EINT, 3478, 3478, ""},
    {"EdgeServer", "MediaRelayEdge", "TURNServer", "External", 1, 443, 0, R_EAV, 443, 443, ""},
    {"EdgeServer", "MediaRelayEdge", "TURNServer", "External", 2, 3478, 0, R_EAV, 3478, 3478, ""},
    {"EdgeServer", "MediaRelayEdge", "MediaCommunication", "External", 3, 50000, 10000, R_EAV, 50000, 59999, ""},
    {"EdgeServer", "XmppFederationProxy", "XmppServer", "External", 1, 5269, 0, R_EACC, 5269, 5269, ""},
    {"EdgeServer", "XmppFederationProxy", "XptServer", "Internal", 1, 23456, 0, R_EINT, 23456, 23456, ""},
    {"ManagementServices", "ReplicationService", "Replication", "Internal", 1, 4443, 0, R_EINT, 4443, 4443, ""},
    {"PersistentChatServer", "*", "SipServer", "*", 1, 5041, 0, R_POOL, 5041, 5041, ""},
    {"PstnGateway", "*", "*", "*", 1, 5066, 0, R_POOL, 5066, 5066, ""},
};

struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
};

struct cluster {
    xmlNodePtr node;
    char key[96], fqdn[256];
    bool branch;
    int role; /* R_*, R_EDGE, or -1: nothing we audit (SQL, file stores) */
    char svc[64]; /* the service that gave the role, as the comments name it */
};

struct service {
    xmlNodePtr node;
    char role[64], cluster[96];
};

struct addr {
    char ip[64];
    int role;
    long line;
    char origin[480];
};

struct nat {
    char pub[64], priv[64], origin[560];
};

struct override {
    int role, tr, dlo, dhi, lo, hi;
    long line;
    char source[480];
};

struct import {
    const char *path;
    const struct topo_import_opts *o;
    char *err;
    size_t errlen;
    xmlNodePtr top;
    struct cluster *cl;
    int ncl;
    struct service *sv;
    int nsv;
    struct addr *ad;
    int nad;
    struct nat *nat;
    int nnat;
    struct override *ov;
    int nov;
    bool xmpp, med_collocated, med_standalone, hlb;
    long xmpp_line;
    struct sbuf notes; /* comment lines for the output's head */
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->p && b->n + (size_t)n < b->cap) {
            b->n += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static int fail(struct import *im, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct import *im, long line, const char *fmt, ...)
{
    int n = line > 0 ? snprintf(im->err, im->errlen, "%s:%ld: ", im->path, line)
                     : snprintf(im->err, im->errlen, "%s: ", im->path);
    if (n < 0 || (size_t)n >= im->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->err + n, im->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void *grow(void *p, int n, size_t size)
{
    if (n % 16)
        return p;
    return realloc(p, (size_t)(n + 16) * size);
}

static bool is(xmlNodePtr n, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, local);
}

static xmlNodePtr child(xmlNodePtr n, const char *local)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (is(c, local))
            return c;
    return NULL;
}

/* The attribute's value copied into buf, or NULL (buf empty) when absent. */
static const char *attr(xmlNodePtr n, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
    if (!v)
        return NULL;
    snprintf(buf, len, "%s", (const char *)v);
    xmlFree(v);
    return buf;
}

static bool attr_is(xmlNodePtr n, const char *name, const char *value)
{
    char b[64];
    return attr(n, name, b, sizeof b) && !strcasecmp(b, value);
}

static long line_of(xmlNodePtr n)
{
    return n ? xmlGetLineNo(n) : 0;
}

static const char *ns_of(xmlNodePtr n)
{
    return n && n->ns && n->ns->href ? (const char *)n->ns->href : "";
}

/* Calls fn on every element named local under n (n included), in document order. */
static int each(xmlNodePtr n, const char *local, struct import *im, int (*fn)(struct import *, xmlNodePtr))
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (is(n, local)) {
            if (fn(im, n))
                return -1;
        } else if (each(n->children, local, im, fn)) {
            return -1;
        }
    }
    return 0;
}

/* "SiteId:Number" of a ClusterId element. */
static void cluster_id(xmlNodePtr id, char *key, size_t len)
{
    char s[32], num[32];
    attr(id, "SiteId", s, sizeof s);
    attr(id, "Number", num, sizeof num);
    snprintf(key, len, "%s:%s", s, num);
}

static bool in_branch(struct import *im, xmlNodePtr c)
{
    for (xmlNodePtr p = c->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent)
        if (is(p, "BranchSite"))
            return true;
    /* The published form names the site by id; BranchSite elements list them. */
    xmlNodePtr id = child(c, "ClusterId");
    char site[32], b[32];
    if (!id || !attr(id, "SiteId", site, sizeof site))
        return false;
    for (xmlNodePtr s = child(im->top, "Sites"); s; s = NULL)
        for (xmlNodePtr k = s->children; k; k = k->next)
            if (is(k, "BranchSite") && attr(k, "SiteId", b, sizeof b) && !strcmp(b, site))
                return true;
    return false;
}

static int add_cluster(struct import *im, xmlNodePtr n)
{
    struct cluster *c = grow(im->cl, im->ncl, sizeof *c);
    if (!c)
        return fail(im, 0, "out of memory");
    im->cl = c;
    c = &im->cl[im->ncl++];
    memset(c, 0, sizeof *c);
    c->node = n;
    c->role = -1;
    if (!attr(n, "UniqueId", c->key, sizeof c->key)) {
        xmlNodePtr id = child(n, "ClusterId");
        if (!id)
            return fail(im, line_of(n), "Cluster without UniqueId or ClusterId");
        cluster_id(id, c->key, sizeof c->key);
    }
    attr(n, "Fqdn", c->fqdn, sizeof c->fqdn);
    c->branch = in_branch(im, n);
    return 0;
}

static int add_service(struct import *im, xmlNodePtr n)
{
    struct service *s = grow(im->sv, im->nsv, sizeof *s);
    if (!s)
        return fail(im, 0, "out of memory");
    im->sv = s;
    s = &im->sv[im->nsv++];
    memset(s, 0, sizeof *s);
    s->node = n;
    if (!attr(n, "RoleName", s->role, sizeof s->role))
        attr(child(n, "ServiceId"), "RoleName", s->role, sizeof s->role);
    if (!attr(n, "InstalledOn", s->cluster, sizeof s->cluster)) {
        xmlNodePtr id = child(child(n, "InstalledOn"), "ClusterId");
        if (id)
            cluster_id(id, s->cluster, sizeof s->cluster);
    }
    if (!s->role[0])
        return fail(im, line_of(n), "Service without RoleName");
    return 0;
}

static struct cluster *find_cluster(struct import *im, const char *key)
{
    for (int i = 0; i < im->ncl; i++)
        if (!strcmp(im->cl[i].key, key))
            return &im->cl[i];
    return NULL;
}

/* The service of role `role` installed on cluster c, or NULL. */
static struct service *service_on(struct import *im, const struct cluster *c, const char *role)
{
    for (int i = 0; i < im->nsv; i++)
        if (!strcmp(im->sv[i].cluster, c->key) && !strcmp(im->sv[i].role, role))
            return &im->sv[i];
    return NULL;
}

static bool is_director(const struct service *s)
{
    for (xmlNodePtr c = s->node->children; c; c = c->next)
        if (is(c, "RegistrarService"))
            return attr_is(c, "IsDirector", "true");
    return false;
}

/* The role a cluster's services point to. A Registrar pool is a Director
 * when IsDirector="true", a Survivable Branch Appliance in a branch site or
 * without user services, else a Front End pool. */
static int cluster_role(struct import *im, struct cluster *c)
{
    static const struct {
        const char *svc;
        int role;
    } OTHERS[] = {{"PersistentChatServer", R_PCHAT}, {"MediationServer", R_MED}, {"WacService", R_WAC},
                  {"WacServer", R_WAC},              {"ExUmServer", R_UM},     {"PstnGateway", R_GW}};
    snprintf(c->svc, sizeof c->svc, "Service EdgeServer");
    if (service_on(im, c, "EdgeServer"))
        return R_EDGE;
    struct service *reg = service_on(im, c, "Registrar");
    if (reg) {
        if (service_on(im, c, "MediationServer"))
            im->med_collocated = true;
        bool dir = is_director(reg);
        snprintf(c->svc, sizeof c->svc, "Service Registrar%s", dir ? " IsDirector=true" : "");
        if (dir)
            return R_DIR;
        return c->branch || !service_on(im, c, "UserServices") ? R_SBA : R_FE;
    }
    for (size_t i = 0; i < sizeof OTHERS / sizeof OTHERS[0]; i++)
        if (service_on(im, c, OTHERS[i].svc)) {
            if (OTHERS[i].role == R_MED)
                im->med_standalone = true;
            snprintf(c->svc, sizeof c->svc, "Service %s", OTHERS[i].svc);
            return OTHERS[i].role;
        }
    return -1;
}

/* Adds ip to role; the same address in another role is an error. */
static int add_addr(struct import *im, const char *ip, int role, long line, const char *origin)
{
    unsigned char bin[16];
    if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
        return fail(im, line, "bad address '%s' (%s)", ip, origin);
    for (int i = 0; i < im->nad; i++) {
        if (strcmp(im->ad[i].ip, ip))
            continue;
        if (im->ad[i].role == role)
            return 0;
        return fail(im, line, "address %s is in two roles: %s here (%s), %s at line %ld (%s)", ip, ROLE[role],
                    origin, ROLE[im->ad[i].role], im->ad[i].line, im->ad[i].origin);
    }
    struct addr *a = grow(im->ad, im->nad, sizeof *a);
    if (!a)
        return fail(im, 0, "out of memory");
    im->ad = a;
    a = &im->ad[im->nad++];
    snprintf(a->ip, sizeof a->ip, "%s", ip);
    snprintf(a->origin, sizeof a->origin, "%s", origin);
    a->role = role;
    a->line = line;
    return 0;
}

static bool unspecified(const char *ip)
{
    return !ip || !*ip || !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::");
}

/* The addresses of fqdn from --hosts FILE or --resolve, into out[]. */
static int resolve(struct import *im, const char *fqdn, char out[][64], int max)
{
    int n = 0;
    FILE *f = im->o->hosts_file ? fopen(im->o->hosts_file, "r") : NULL;
    char line[1024];
    while (f && n < max && fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#'), *save = NULL;
        if (hash)
            *hash = '\0';
        char *ip = strtok_r(line, " \t\r\n", &save);
        for (char *name; ip && (name = strtok_r(NULL, " \t\r\n", &save));)
            if (!strcasecmp(name, fqdn)) {
                snprintf(out[n++], 64, "%s", ip);
                break;
            }
    }
    if (f)
        fclose(f);
    if (n == 0 && im->o->resolve && fqdn[0]) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(fqdn, NULL, &hints, &res) == 0) {
            for (struct addrinfo *r = res; r && n < max; r = r->ai_next) {
                const void *a = r->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)r->ai_addr)->sin_addr
                                                        : (const void *)&((struct sockaddr_in6 *)r->ai_addr)->sin6_addr;
                if (inet_ntop(r->ai_family, a, out[n], 64)) {
                    bool dup = false;
                    for (int k = 0; k < n; k++)
                        dup = dup || !strcmp(out[k], out[n]);
                    n += !dup;
                }
            }
            freeaddrinfo(res);
        }
    }
    return n;
}

/* A machine (or interface) with no address: resolved, or left out with a warning. */
static int add_resolved(struct import *im, const char *fqdn, int role, long line, const char *origin)
{
    char ips[8][64];
    int n = resolve(im, fqdn, ips, 8);
    if (n == 0) {
        fprintf(im->o->warnings,
                "lyncaudit: warning: %s:%ld: %s has no address in the topology (0.0.0.0: all addresses) and "
                "none was resolved: left out (use --hosts FILE or --resolve)\n",
                im->path, line, fqdn[0] ? fqdn : "a machine with no FQDN");
        sb_printf(&im->notes, "-- left out: %s (line %ld, %s): no address\n", fqdn[0] ? fqdn : "?", line, ROLE[role]);
        return 0;
    }
    char o[560];
    snprintf(o, sizeof o, "%s, resolved %s", origin, im->o->hosts_file ? "from the hosts file" : "by the system resolver (--resolve)");
    for (int i = 0; i < n; i++)
        if (add_addr(im, ips[i], role, line, o))
            return -1;
    return 0;
}

/* Which external interface (InterfaceNumber) carries each Edge service. */
struct edge_map {
    int access, webconf, av;
};

static struct edge_map edge_numbers(const struct service *s)
{
    struct edge_map m = {1, 1, 1};
    char owner[96], side[32], num[16];
    xmlNodePtr ports = s ? child(s->node, "Ports") : NULL;
    for (xmlNodePtr p = ports ? ports->children : NULL; p; p = p->next) {
        if (!is(p, "Port") || !attr(p, "InterfaceSide", side, sizeof side) || strcmp(side, "External") ||
            !attr(p, "Owner", owner, sizeof owner) || !attr(p, "InterfaceNumber", num, sizeof num))
            continue;
        int k = atoi(num);
        if (!strcmp(owner, "urn:component:AccessEdge"))
            m.access = k;
        else if (!strcmp(owner, "urn:component:DataEdge"))
            m.webconf = k;
        else if (!strcmp(owner, "urn:component:MediaRelayEdge"))
            m.av = k;
    }
    return m;
}

/* The role of an Edge NetInterface, or -1. */
static int edge_role(const char *side, int number, struct edge_map m)
{
    if (!strcmp(side, "Internal"))
        return R_EINT;
    if (strcmp(side, "External"))
        return -1;
    if (m.access == m.webconf && m.webconf == m.av)
        return R_EACC; /* one address for the three services */
    return number == m.access ? R_EACC : number == m.webconf ? R_EWEB : number == m.av ? R_EAV : -1;
}

static int add_nat(struct import *im, const char *pub, const char *priv, long line, const char *origin)
{
    unsigned char bin[16];
    if (inet_pton(AF_INET, pub, bin) != 1 && inet_pton(AF_INET6, pub, bin) != 1)
        return fail(im, line, "bad ConfiguredIPAddress '%s'", pub);
    struct nat *n = grow(im->nat, im->nnat, sizeof *n);
    if (!n)
        return fail(im, 0, "out of memory");
    im->nat = n;
    n = &im->nat[im->nnat++];
    snprintf(n->pub, sizeof n->pub, "%s", pub);
    snprintf(n->priv, sizeof n->priv, "%s", priv);
    snprintf(n->origin, sizeof n->origin, "%.480s, ConfiguredIPAddress (line %ld)", origin, line);
    return 0;
}

/* One machine of cluster c: its interfaces' addresses in the cluster's role(s). */
static int import_machine(struct import *im, struct cluster *c, xmlNodePtr m, struct edge_map em)
{
    char fqdn[256], side[32], num[16], ip[64], cfg[64], origin[480];
    if (!attr(m, "Fqdn", fqdn, sizeof fqdn))
        snprintf(fqdn, sizeof fqdn, "%s", c->fqdn);
    int added = 0;
    for (xmlNodePtr n = m->children; n; n = n->next) {
        if (!is(n, "NetInterface"))
            continue;
        attr(n, "InterfaceSide", side, sizeof side);
        attr(n, "InterfaceNumber", num, sizeof num);
        attr(n, "IPAddress", ip, sizeof ip);
        int role = c->role == R_EDGE ? edge_role(side, atoi(num), em) : c->role;
        if (role < 0)
            continue;
        snprintf(origin, sizeof origin, "%s, Cluster %.120s, Machine %.120s, NetInterface %s %s", c->svc, c->fqdn, fqdn,
                 side, num);
        long line = line_of(n);
        if (unspecified(ip)) {
            /* An Edge's external side has public names only: nothing to resolve here. */
            if (c->role == R_EDGE && (strcmp(side, "Internal") ? 0 : add_resolved(im, fqdn, role, line, origin)))
                return -1;
            if (c->role == R_EDGE && strcmp(side, "Internal"))
                fprintf(im->o->warnings, "lyncaudit: warning: %s:%ld: %s: external interface %s has no address: left out\n",
                        im->path, line, fqdn, num);
            added += c->role == R_EDGE;
            continue;
        }
        if (add_addr(im, ip, role, line, origin))
            return -1;
        added++;
        if (attr(n, "ConfiguredIPAddress", cfg, sizeof cfg) && cfg[0] && strcmp(cfg, ip) && add_nat(im, cfg, ip, line, origin))
            return -1;
    }
    if (added == 0 && c->role != R_EDGE) {
        snprintf(origin, sizeof origin, "%s, Cluster %.120s, Machine %.120s", c->svc, c->fqdn, fqdn);
        return add_resolved(im, fqdn, c->role, line_of(m), origin);
    }
    return 0;
}

/* Load balancer VIPs: a LoadBalancer element of the cluster with an IPAddress. */
static int import_vips(struct import *im, struct cluster *c)
{
    int role = c->role == R_FE ? R_FELB : c->role == R_DIR ? R_DIRLB : c->role == R_MED ? R_MEDLB : -1;
    char ip[64], origin[480];
    for (xmlNodePtr n = c->node->children; n; n = n->next) {
        if (!is(n, "LoadBalancer") || !attr(n, "IPAddress", ip, sizeof ip) || unspecified(ip))
            continue;
        if (role < 0) {
            fprintf(im->o->warnings, "lyncaudit: warning: %s:%ld: load balancer %s of %s: no role for it, left out\n",
                    im->path, line_of(n), ip, c->fqdn);
            continue;
        }
        snprintf(origin, sizeof origin, "%s, Cluster %.200s, LoadBalancer", c->svc, c->fqdn);
        if (add_addr(im, ip, role, line_of(n), origin))
            return -1;
        im->hlb = true;
    }
    return 0;
}

static int import_cluster(struct import *im, struct cluster *c)
{
    c->role = cluster_role(im, c);
    if (c->role == -1)
        return 0;
    struct edge_map em = edge_numbers(service_on(im, c, "EdgeServer"));
    if (c->role == R_EDGE && em.access == em.webconf && em.webconf == em.av)
        sb_printf(&im->notes, "-- %.200s: one external address for the Access, Web Conferencing and A/V Edge\n"
                              "-- services: it is edge_access here, and their traffic on it is held to the\n"
                              "-- Access Edge's rules (a topology address has one role).\n", c->fqdn);
    xmlNodePtr ms = child(c->node, "Machines");
    for (xmlNodePtr m = ms ? ms->children : c->node->children; m; m = m->next)
        if (is(m, "Machine") && import_machine(im, c, m, em))
            return -1;
    return import_vips(im, c);
}

static int port_number(struct import *im, xmlNodePtr p, const char *name, int lo, int *out)
{
    char b[32], *end;
    if (!attr(p, name, b, sizeof b))
        return 1;
    long v = strtol(b, &end, 10);
    if (!b[0] || *end || v < lo || v > 65535)
        return fail(im, line_of(p), "%s=\"%s\" outside %d-65535", name, b, lo);
    *out = (int)v;
    return 0;
}

static bool field_is(const char *want, const char *have)
{
    return !want || !want[0] || !strcmp(want, "*") || !strcasecmp(want, have);
}

static int add_override(struct import *im, const struct override *o)
{
    for (int i = 0; i < im->nov; i++) {
        const struct override *x = &im->ov[i];
        if (x->role != o->role || x->tr != o->tr || x->dlo != o->dlo || x->dhi != o->dhi)
            continue;
        if (x->lo != o->lo || x->hi != o->hi)
            sb_printf(&im->notes, "-- not applied: %s (line %ld) moves %s %d again, to %d (first at line %ld)\n", o->source,
                      o->line, ROLE[o->role], o->dlo, o->lo, x->line);
        return 0;
    }
    struct override *v = grow(im->ov, im->nov, sizeof *v);
    if (!v)
        return fail(im, 0, "out of memory");
    im->ov = v;
    im->ov[im->nov++] = *o;
    return 0;
}

/* One Port element of service s on cluster c: checked, and an override when it
 * moves a documented port. */
static int import_port(struct import *im, const struct service *s, const struct cluster *c, xmlNodePtr p)
{
    char owner[96], usage[64], side[32], proto[32];
    int port = 0, range = 0, cfg = 0;
    int rc = port_number(im, p, "Port", 1, &port);
    if (rc < 0 || port_number(im, p, "Range", 0, &range) < 0 || port_number(im, p, "ConfiguredPort", 1, &cfg) < 0)
        return -1;
    if (rc > 0)
        return 0;
    if (port + range > 65536)
        return fail(im, line_of(p), "Port=\"%d\" with Range=\"%d\" goes past 65535", port, range);
    attr(p, "Owner", owner, sizeof owner);
    attr(p, "Usage", usage, sizeof usage);
    attr(p, "InterfaceSide", side, sizeof side);
    attr(p, "Protocol", proto, sizeof proto);
    int tr = !strcasecmp(proto, "Udp") ? 2 : !strcasecmp(proto, "TcpOrUdp") ? 3 : 1;
    if (!strcmp(owner, "urn:component:XmppFederationProxy") && c->role == R_EDGE && !im->xmpp) {
        im->xmpp = true;
        im->xmpp_line = line_of(p);
    }
    const char *own = strrchr(owner, ':') ? strrchr(owner, ':') + 1 : owner;
    const struct pdef *d = NULL;
    for (size_t i = 0; i < sizeof PDEF / sizeof PDEF[0] && !d; i++) {
        const struct pdef *x = &PDEF[i];
        if (!strcmp(x->svc, s->role) && field_is(x->owner, own) && field_is(x->usage, usage) &&
            field_is(x->side, side) && field_is(x->proto, proto) && x->tr == tr)
            d = x;
    }
    if (!d || (d->port == port && d->range == range))
        return 0;
    struct override o = {.role = d->role == R_POOL ? c->role : d->role, .dlo = d->lo, .dhi = d->hi, .line = line_of(p)};
    if (o.role < 0 || o.role >= R_N)
        return 0;
    o.lo = port + (d->lo - d->port);
    o.hi = o.lo + (d->hi - d->lo) + (range - d->range);
    if (o.lo < 1 || o.hi > 65535 || o.lo > o.hi)
        return fail(im, o.line, "Port=\"%d\" Range=\"%d\" gives %d-%d, outside 1-65535", port, range, o.lo, o.hi);
    snprintf(o.source, sizeof o.source, "Service %.60s on %.200s, Port %.60s %.40s %.20s, line %ld", s->role, c->fqdn,
             own[0] ? own : "?", usage, side, o.line);
    for (int t = 1; t <= 2; t++)
        if ((d->tr & tr & t) && (o.tr = t, add_override(im, &o)))
            return -1;
    return 0;
}

static int import_ports(struct import *im)
{
    for (int i = 0; i < im->nsv; i++) {
        struct service *s = &im->sv[i];
        struct cluster *c = find_cluster(im, s->cluster);
        if (!c || c->role == -1)
            continue;
        for (xmlNodePtr ps = s->node->children; ps; ps = ps->next)
            for (xmlNodePtr p = is(ps, "Ports") ? ps->children : NULL; p; p = p->next)
                if (is(p, "Port") && import_port(im, s, c, p))
                    return -1;
    }
    return 0;
}

/* The document's root: the published Topology, or the PartialTopology inside
 * a Topology Builder document. Checks the schema version (namespace). */
static int find_top(struct import *im, xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    const char *ns = ns_of(root);
    if (is(root, "TopologyBuilder") && !strcmp(ns, NS_TB)) {
        xmlNodePtr nt = child(root, "NewTopology");
        im->top = child(nt ? nt : root, "PartialTopology");
        if (!im->top)
            return fail(im, line_of(root), "TopologyBuilder without NewTopology/PartialTopology");
        if (strcmp(ns_of(im->top), NS_WT))
            return fail(im, line_of(im->top), "unknown schema version '%s' of PartialTopology (known: %s)",
                        ns_of(im->top), NS_WT);
        return 0;
    }
    if (is(root, "Topology") && !strcmp(ns, NS_TOPO)) {
        im->top = root;
        return 0;
    }
    if (!strncmp(ns, NS_BASE, strlen(NS_BASE)))
        return fail(im, line_of(root), "unknown schema version '%s' of <%s> (known: %s, %s)", ns,
                    root ? (const char *)root->name : "?", NS_TB, NS_TOPO);
    return fail(im, line_of(root), "not a Lync topology document: root <%s> in namespace '%s'",
                root ? (const char *)root->name : "?", ns);
}

static void write_roles(struct import *im, struct sbuf *b)
{
    sb_printf(b, "  roles = {\n");
    for (int r = 0; r < R_N; r++) {
        bool any = false;
        for (int i = 0; i < im->nad; i++) {
            if (im->ad[i].role != r)
                continue;
            if (!any)
                sb_printf(b, "    %s = {\n", ROLE[r]);
            any = true;
            sb_printf(b, "      \"%s\",  -- %s (line %ld)\n", im->ad[i].ip, im->ad[i].origin, im->ad[i].line);
        }
        if (any)
            sb_printf(b, "    },\n");
    }
    sb_printf(b, "  },\n");
}

static bool role_has_addr(const struct import *im, int role)
{
    for (int i = 0; i < im->nad; i++)
        if (im->ad[i].role == role)
            return true;
    return false;
}

static void write_range(struct sbuf *b, int lo, int hi)
{
    if (lo == hi)
        sb_printf(b, "%d", lo);
    else
        sb_printf(b, "\"%d-%d\"", lo, hi);
}

static void write_ports(struct import *im, struct sbuf *b)
{
    if (im->nov == 0)
        return;
    sb_printf(b, "  -- Service ports the topology moves off the documented default: the rules\n"
                 "  -- for that role use the topology's port (docs/topology.md, \"Ports\").\n"
                 "  ports = {\n");
    for (int i = 0; i < im->nov; i++) {
        const struct override *o = &im->ov[i];
        bool live = role_has_addr(im, o->role);
        if (!live)
            sb_printf(b, "    -- no address holds %s in this topology:\n", ROLE[o->role]);
        sb_printf(b, "    %s{ role = \"%s\", transport = \"%s\", default = ", live ? "" : "-- ", ROLE[o->role],
                  o->tr == 2 ? "udp" : "tcp");
        write_range(b, o->dlo, o->dhi);
        sb_printf(b, ", port = ");
        write_range(b, o->lo, o->hi);
        sb_printf(b, ",\n    %s  source = \"%s\" },\n", live ? "" : "-- ", o->source);
    }
    sb_printf(b, "  },\n");
}

static void write_nat(struct import *im, struct sbuf *b)
{
    sb_printf(b, "  nat = {\n");
    for (int i = 0; i < im->nnat; i++)
        sb_printf(b, "    [\"%s\"] = \"%s\",  -- %s\n", im->nat[i].pub, im->nat[i].priv, im->nat[i].origin);
    sb_printf(b, "  },\n");
}

static void write_options(struct import *im, struct sbuf *b)
{
    sb_printf(b, "  options = {\n");
    if (im->xmpp)
        sb_printf(b, "    xmpp_federation = true,  -- the Edge runs the XMPP proxy (Port XmppFederationProxy, line %ld)\n",
                  im->xmpp_line);
    if (im->med_standalone && !im->med_collocated)
        sb_printf(b, "    collocated_mediation = false,  -- MediationServer runs on its own pool only\n");
    if (im->hlb)
        sb_printf(b, "    load_balancing = \"hlb\",  -- the topology gives load balancer VIPs\n");
    sb_printf(b, "  },\n");
}

/* The SIP domains: a comment, and the default one as the topology's name. */
static void write_head(struct import *im, struct sbuf *b, const char *form)
{
    char def[256] = "", name[256];
    xmlNodePtr doms = child(im->top, "InternalDomains");
    attr(doms, "DefaultDomain", def, sizeof def);
    sb_printf(b, "-- Imported by `lyncaudit topology import` from %s\n-- (%s).\n", im->path, form);
    sb_printf(b, "-- SIP domains:");
    int n = 0;
    for (xmlNodePtr d = doms ? doms->children : NULL; d; d = d->next)
        if (is(d, "InternalDomain") && attr(d, "Name", name, sizeof name))
            sb_printf(b, "%s %s%s", n++ ? "," : "", name, !strcmp(name, def) ? " (default)" : "");
    sb_printf(b, "%s\n", n ? "" : " none listed");
    if (im->notes.n)
        sb_printf(b, "%s", im->notes.p);
    for (const char *p = def; *p; p++)
        if (*p == '"' || *p == '\\' || !isprint((unsigned char)*p))
            def[0] = '\0';
    sb_printf(b, "return {\n  name = \"%s\",\n", def[0] ? def : "imported");
}

static int run(struct import *im, xmlDocPtr doc, char **out)
{
    if (find_top(im, doc))
        return -1;
    if (each(im->top->children, "Cluster", im, add_cluster) || each(im->top->children, "Service", im, add_service))
        return -1;
    for (int i = 0; i < im->ncl; i++)
        if (import_cluster(im, &im->cl[i]))
            return -1;
    if (import_ports(im))
        return -1;
    struct sbuf b = {0};
    write_head(im, &b, im->top == xmlDocGetRootElement(doc) ? "published topology, " NS_TOPO
                                                              : "Topology Builder document, " NS_TB);
    write_roles(im, &b);
    write_nat(im, &b);
    write_ports(im, &b);
    write_options(im, &b);
    sb_printf(&b, "}\n");
    if (b.oom || im->notes.oom) {
        free(b.p);
        return fail(im, 0, "out of memory");
    }
    *out = b.p;
    return 0;
}

int topo_import(const char *path, const struct topo_import_opts *o, char **out, char *err, size_t errlen)
{
    struct import im = {.path = path, .o = o, .err = err, .errlen = errlen};
    *out = NULL;
    xmlResetLastError();
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc;
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        char msg[256];
        snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "cannot read");
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
        rc = fail(&im, e ? e->line : 0, "malformed XML: %s", msg);
    } else {
        rc = run(&im, doc, out);
        xmlFreeDoc(doc);
    }
    free(im.cl);
    free(im.sv);
    free(im.ad);
    free(im.nat);
    free(im.ov);
    free(im.notes.p);
    return rc;
}

bool topo_is_xml(const char *path)
{
    FILE *f = fopen(path, "rb");
    int c = EOF;
    if (f) {
        while ((c = fgetc(f)) != EOF && (isspace(c) || c == 0xEF || c == 0xBB || c == 0xBF))
            ;
        fclose(f);
    }
    return c == '<';
}
