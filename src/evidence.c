/* evidence.c - violating flows' packets into a pcapng file (see evidence.h).
 *
 * The pcapng format is draft-ietf-opsawg-pcapng: a file is a Section Header
 * Block, then Interface Description Blocks (one per link type here) and
 * Enhanced Packet Blocks, every block framed by its total length before
 * and after, every field and option padded to 32 bits. It is written
 * little-endian whatever the host (the byte-order magic says so), through
 * a write cursor that checks every bound as cursor.h checks reads, and a
 * buffer whose every write(2) is checked. */
#define _GNU_SOURCE /* mkostemp */
#include "evidence.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_EPB 6u
#define OPT_END 0
#define OPT_COMMENT 1
#define SHB_USERAPPL 4
#define IF_TSRESOL 9
#define LINKTYPE_RAW 101 /* what pcapng calls the link type libpcap calls DLT_RAW */
#define OUT_BYTES (64u * 1024u)
#define COMMENT_MAX 2048u
#define MAX_LINKS 16
#define HOLD_MIN 256u

#ifndef LYNCAUDIT_VERSION
#define LYNCAUDIT_VERSION "0.1.0"
#endif

enum slot_state { SLOT_FREE = 0, SLOT_HELD, SLOT_WRITTEN };
enum cut_reason { CUT_NONE = 0, CUT_FLOW_CAP, CUT_TOTAL_CAP, CUT_WRITE };

/* A frame held in a slot's buffer, its bytes after it (padded to 8). */
struct held {
    uint64_t ts_us;
    uint32_t wirelen, caplen;
    int32_t dlt;
    uint32_t pad;
};

/* A flow's evidence, while it is held or written. */
struct slot {
    struct flow *f;        /* valid while the slot is: record frees a flow only after evidence_flow_end/_drop */
    uint8_t *buf;          /* held frames */
    size_t used, cap;
    uint64_t written;      /* frames in the file */
    uint64_t left_out;     /* frames left out once cut */
    uint32_t next_free;
    uint8_t state;         /* enum slot_state */
    uint8_t cut;           /* enum cut_reason: a frame was left out, and so is every later one */
};

struct evidence {
    int fd;
    char *path, *tmp;           /* tmp: the new file until evidence_start renames it */
    struct evidence_caps caps;
    evidence_scope_fn scope;
    evidence_verdict_fn verdict;
    void *ctx;
    struct slot *slots;         /* [0] unused: f->evidence 0 is none */
    uint32_t nslots, free_head;
    int links[MAX_LINKS];       /* the DLT of each interface written, by interface id */
    int nlinks;
    bool started;               /* evidence_start wrote the header: a failure from now on is said here */
    bool failed;
    struct evidence_counts n;
    size_t out_n;
    uint8_t out[OUT_BYTES];
    char err[512];
};

/* --- the checked write side ------------------------------------------------ */

/* A write cursor over a caller's buffer: a write past its end sets the
 * sticky `bad` flag and writes nothing (cursor.h's reads, mirrored). */
struct wcur {
    uint8_t *p;
    size_t len, n;
    bool bad;
};

static bool w_need(struct wcur *w, size_t k)
{
    if (w->bad || w->len - w->n < k)
        w->bad = true;
    return !w->bad;
}

static void w_bytes(struct wcur *w, const void *src, size_t k)
{
    if (w_need(w, k)) {
        memcpy(w->p + w->n, src, k);
        w->n += k;
    }
}

static void w_le16(struct wcur *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    w_bytes(w, b, 2);
}

static void w_le32(struct wcur *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    w_bytes(w, b, 4);
}

/* Zeros up to the next 32-bit boundary of k bytes written. */
static void w_pad(struct wcur *w, size_t k)
{
    static const uint8_t zero[4];
    w_bytes(w, zero, (4 - k % 4) % 4);
}

/* One option: code, length, value padded to 32 bits. */
static void w_option(struct wcur *w, uint16_t code, const void *v, size_t k)
{
    w_le16(w, code);
    w_le16(w, (uint16_t)k);
    w_bytes(w, v, k);
    w_pad(w, k);
}

/* Ends a block: the options' end (when there are options), the trailing
 * total length and, for a block that starts at w->p (extra 0), the leading
 * one at offset 4. `extra`: the block's bytes written elsewhere. */
static void w_close_block(struct wcur *w, bool opts, size_t extra)
{
    if (opts) {
        w_le16(w, OPT_END);
        w_le16(w, 0);
    }
    uint32_t total = (uint32_t)(w->n + 4 + extra);
    w_le32(w, total);
    if (!w->bad && extra == 0) {
        struct wcur head = {w->p + 4, 4, 0, false};
        w_le32(&head, total);
    }
}

/* Says once that the file could not be written; nothing more is. */
static void write_failed(struct evidence *ev, int e)
{
    if (ev->failed)
        return;
    ev->failed = true;
    snprintf(ev->err, sizeof ev->err, "%s: cannot write the evidence: %s", ev->path, strerror(e));
    if (ev->started)
        fprintf(stderr, "lyncaudit: %s; the audit goes on without it\n", ev->err);
}

/* All of p to the file, through short writes and signals. */
static void write_all(struct evidence *ev, const uint8_t *p, size_t k)
{
    while (k && !ev->failed && ev->fd >= 0) {
        ssize_t r = write(ev->fd, p, k);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            write_failed(ev, r < 0 ? errno : EIO);
            return;
        }
        p += r;
        k -= (size_t)r;
    }
}

void evidence_flush(struct evidence *ev)
{
    if (ev && ev->out_n) {
        write_all(ev, ev->out, ev->out_n);
        ev->out_n = 0;
    }
}

/* Appends k bytes to the file's buffer; a large frame goes straight out. */
static void emit(struct evidence *ev, const uint8_t *p, size_t k)
{
    if (ev->out_n + k > OUT_BYTES)
        evidence_flush(ev);
    if (k > OUT_BYTES) {
        write_all(ev, p, k);
        return;
    }
    memcpy(ev->out + ev->out_n, p, k);
    ev->out_n += k;
}

/* --- blocks ---------------------------------------------------------------- */

/* pcapng's name for a libpcap link type: the same number but for raw IP. */
static uint16_t linktype_of(int dlt)
{
    return dlt == DLT_RAW ? LINKTYPE_RAW : (uint16_t)dlt;
}

/* The interface id of link type dlt, writing its Interface Description
 * Block the first time. -1 when more link types than there are slots. */
static int iface_of(struct evidence *ev, int dlt)
{
    for (int i = 0; i < ev->nlinks; i++)
        if (ev->links[i] == dlt)
            return i;
    if (ev->nlinks == MAX_LINKS)
        return -1;
    uint8_t b[64];
    struct wcur w = {b, sizeof b, 0, false};
    w_le32(&w, BT_IDB);
    w_le32(&w, 0);
    w_le16(&w, linktype_of(dlt));
    w_le16(&w, 0);
    w_le32(&w, 0); /* snaplen: no limit */
    uint8_t usec = 6;
    w_option(&w, IF_TSRESOL, &usec, 1);
    w_close_block(&w, true, 0);
    emit(ev, b, w.n);
    ev->links[ev->nlinks] = dlt;
    return ev->nlinks++;
}

/* One frame as an Enhanced Packet Block, with the comment when not NULL. */
static void write_frame(struct evidence *ev, const struct held *h, const uint8_t *data, const char *comment)
{
    int ifc = iface_of(ev, h->dlt);
    if (ifc < 0 || ev->failed)
        return;
    uint8_t head[28], tail[16 + COMMENT_MAX];
    struct wcur w = {tail, sizeof tail, 0, false};
    w_pad(&w, h->caplen);
    if (comment)
        w_option(&w, OPT_COMMENT, comment, strnlen(comment, COMMENT_MAX));
    w_close_block(&w, comment != NULL, sizeof head + h->caplen);
    uint32_t total = (uint32_t)(sizeof head + h->caplen + w.n);
    struct wcur hw = {head, sizeof head, 0, false};
    w_le32(&hw, BT_EPB);
    w_le32(&hw, total);
    w_le32(&hw, (uint32_t)ifc);
    w_le32(&hw, (uint32_t)(h->ts_us >> 32));
    w_le32(&hw, (uint32_t)h->ts_us);
    w_le32(&hw, h->caplen);
    w_le32(&hw, h->wirelen);
    if (w.bad || hw.bad)
        return; /* cannot happen: the buffers fit the largest comment */
    emit(ev, head, sizeof head);
    emit(ev, data, h->caplen);
    emit(ev, tail, w.n);
    ev->n.packets++;
}

int evidence_start(struct evidence *ev, const char *comment)
{
    if (ev->tmp) {
        if (rename(ev->tmp, ev->path) != 0) {
            snprintf(ev->err, sizeof ev->err, "%s: cannot write the evidence: %s", ev->path, strerror(errno));
            return -1;
        }
        free(ev->tmp);
        ev->tmp = NULL;
    }
    uint8_t b[64 + COMMENT_MAX];
    struct wcur w = {b, sizeof b, 0, false};
    w_le32(&w, BT_SHB);
    w_le32(&w, 0);
    w_le32(&w, 0x1A2B3C4Du); /* byte-order magic */
    w_le16(&w, 1);
    w_le16(&w, 0);
    w_le32(&w, 0xffffffffu); /* section length: not given */
    w_le32(&w, 0xffffffffu);
    static const char appl[] = "lyncaudit " LYNCAUDIT_VERSION;
    w_option(&w, SHB_USERAPPL, appl, sizeof appl - 1);
    if (comment)
        w_option(&w, OPT_COMMENT, comment, strnlen(comment, COMMENT_MAX));
    w_close_block(&w, true, 0);
    emit(ev, b, w.n);
    evidence_flush(ev);
    ev->started = !ev->failed;
    return ev->failed ? -1 : 0;
}

/* --- slots ----------------------------------------------------------------- */

/* A free slot's index, or 0 when memory runs out (the flow goes without). */
static uint32_t slot_new(struct evidence *ev, struct flow *f)
{
    if (!ev->free_head) {
        uint32_t n = ev->nslots ? ev->nslots * 2 : 1024;
        struct slot *s = realloc(ev->slots, (size_t)n * sizeof *s);
        if (!s)
            return 0;
        memset(s + ev->nslots, 0, (size_t)(n - ev->nslots) * sizeof *s);
        for (uint32_t i = n - 1; i >= (ev->nslots ? ev->nslots : 1); i--) {
            s[i].next_free = ev->free_head;
            ev->free_head = i;
        }
        ev->slots = s;
        ev->nslots = n;
    }
    uint32_t id = ev->free_head;
    struct slot *s = &ev->slots[id];
    ev->free_head = s->next_free;
    *s = (struct slot){.f = f, .state = SLOT_HELD};
    return id;
}

/* Frees the frames a slot holds. */
static void slot_unhold(struct evidence *ev, struct slot *s)
{
    ev->n.held -= s->cap;
    free(s->buf);
    s->buf = NULL;
    s->used = s->cap = 0;
}

/* Frees flow f's slot; f has none after. */
static void slot_free(struct evidence *ev, struct flow *f)
{
    struct slot *s = &ev->slots[f->evidence];
    slot_unhold(ev, s);
    s->state = SLOT_FREE;
    s->next_free = ev->free_head;
    ev->free_head = f->evidence;
    f->evidence = 0;
}

/* Room for `need` more bytes in s, within both caps; false (and the slot
 * cut, with the cap that did it) when there is none. */
static bool make_room(struct evidence *ev, struct slot *s, size_t need)
{
    size_t want = s->used + need;
    if (want <= s->cap)
        return true;
    uint64_t room = ev->caps.total_bytes > ev->n.held ? ev->caps.total_bytes - ev->n.held : 0;
    if (want > ev->caps.flow_bytes || want - s->cap > room) {
        s->cut = want > ev->caps.flow_bytes ? CUT_FLOW_CAP : CUT_TOTAL_CAP;
        return false;
    }
    size_t grow = s->cap ? s->cap * 2 : HOLD_MIN;
    while (grow < want)
        grow *= 2;
    /* Doubled, as far as the caps let it; else just what is needed. */
    if (grow > ev->caps.flow_bytes)
        grow = (size_t)ev->caps.flow_bytes;
    if (grow - s->cap > room)
        grow = s->cap + (size_t)room;
    uint8_t *b = realloc(s->buf, grow);
    if (!b) {
        s->cut = CUT_TOTAL_CAP;
        return false;
    }
    ev->n.held += grow - s->cap;
    if (ev->n.held > ev->n.held_peak)
        ev->n.held_peak = ev->n.held;
    s->buf = b;
    s->cap = grow;
    return true;
}

static size_t align8(size_t k)
{
    return (k + 7u) & ~(size_t)7u;
}

/* Keeps a frame in the slot, or cuts the slot when it does not fit. */
static void hold(struct evidence *ev, struct slot *s, const struct ingest_raw *raw)
{
    size_t need = sizeof(struct held) + align8(raw->caplen);
    if (!make_room(ev, s, need)) {
        s->left_out++;
        return;
    }
    struct held h = {raw->ts_us, raw->wirelen, raw->caplen, raw->dlt, 0};
    memcpy(s->buf + s->used, &h, sizeof h);
    memcpy(s->buf + s->used + sizeof h, raw->data, raw->caplen);
    s->used += need;
}

/* The flow's first line in a comment: what, between whom, when judged. */
static void flow_line(const struct flow *f, const char *when, char *out, size_t len)
{
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    flow_endpoints(f, &src, &sport, &dst, &dport);
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], t[16];
    int af = f->key.ipver == 4 ? AF_INET : AF_INET6;
    if (!inet_ntop(af, src, s, sizeof s) || !inet_ntop(af, dst, d, sizeof d))
        s[0] = d[0] = '\0';
    snprintf(out, len, "lyncaudit: violation in the flow %s %s%s%s:%u -> %s%s%s:%u (%s)",
             flow_transport_name(f->key.proto, f->key.ipver, t), af == AF_INET6 ? "[" : "", s,
             af == AF_INET6 ? "]" : "", sport, af == AF_INET6 ? "[" : "", d, af == AF_INET6 ? "]" : "", dport,
             when);
}

/* Writes what the slot holds, the comment on the flow's first packet,
 * and lets the memory go. */
static void write_held(struct evidence *ev, const struct flow *f, struct slot *s, const char *when,
                       const char *why)
{
    char comment[COMMENT_MAX];
    flow_line(f, when, comment, sizeof comment);
    size_t k = strlen(comment);
    snprintf(comment + k, sizeof comment - k, "\n%s", why);
    for (size_t off = 0; off < s->used;) {
        struct held h;
        memcpy(&h, s->buf + off, sizeof h);
        uint64_t before = ev->n.packets;
        write_frame(ev, &h, s->buf + off + sizeof h, s->written ? NULL : comment);
        if (ev->n.packets > before)
            s->written++;
        else
            s->left_out++; /* the file could not be written */
        off += sizeof h + align8(h.caplen);
    }
    if (ev->failed && !s->cut)
        s->cut = CUT_WRITE;
    slot_unhold(ev, s);
    s->state = SLOT_WRITTEN;
}

/* True once classify has decided f's label, and its label (written by the
 * classify thread before it said so, with a release store: classify.c
 * finalize) is safe to read here. classify_decided() is only a relaxed
 * hint, enough for ingest's gate but not for reading the label. */
static bool label_ready(const struct flow *f)
{
    return __atomic_load_n(&f->label.done, __ATOMIC_ACQUIRE);
}

/* The label is decided (label_ready): the verdict says whether the held
 * frames go to the file or are let go. */
static void decide(struct evidence *ev, struct flow *f, struct slot *s)
{
    char why[COMMENT_MAX];
    why[0] = '\0';
    char when[64];
    snprintf(when, sizeof when, "judged when its label was decided, at its packet %llu",
             (unsigned long long)(f->pkts[0] + f->pkts[1]));
    if (ev->verdict(ev->ctx, f, why, sizeof why))
        write_held(ev, f, s, when, why);
    else
        slot_free(ev, f);
}

void evidence_frame(void *evidence, struct flow *f, bool is_new, const struct ingest_raw *raw)
{
    struct evidence *ev = evidence;
    if (is_new && ev->scope(ev->ctx, f))
        f->evidence = slot_new(ev, f);
    if (!f->evidence)
        return;
    struct slot *s = &ev->slots[f->evidence];
    if (s->state == SLOT_HELD) {
        /* Held first, so a label decided at this very frame (one thread)
         * still writes it with the comment. */
        if (s->cut)
            s->left_out++;
        else
            hold(ev, s, raw);
        if (label_ready(f))
            decide(ev, f, s);
    } else if (s->cut) {
        s->left_out++;
    } else if (ev->failed) {
        s->cut = CUT_WRITE;
        s->left_out++;
    } else {
        struct held h = {raw->ts_us, raw->wirelen, raw->caplen, raw->dlt, 0};
        write_frame(ev, &h, raw->data, NULL);
        s->written++;
    }
}

void evidence_sweep(struct evidence *ev)
{
    for (uint32_t i = 1; ev && i < ev->nslots; i++) {
        struct slot *s = &ev->slots[i];
        if (s->state == SLOT_HELD && label_ready(s->f))
            decide(ev, s->f, s);
    }
}

/* Counts a violating flow's cut. */
static void count_cut(struct evidence *ev, const struct slot *s)
{
    ev->n.cut += s->left_out;
    if (s->cut == CUT_FLOW_CAP)
        ev->n.cut_flow_cap++;
    else if (s->cut == CUT_TOTAL_CAP)
        ev->n.cut_total_cap++;
}

const char *evidence_flow_end(struct evidence *ev, struct flow *f, bool violation, const char *why)
{
    if (!f->evidence) {
        ev->n.missed += violation;
        return violation ? "missed" : NULL;
    }
    struct slot *s = &ev->slots[f->evidence];
    if (s->state == SLOT_HELD && violation)
        write_held(ev, f, s, "judged at its end", why ? why : "");
    /* After a failed write nothing vouches for what was buffered then. */
    if (ev->failed && s->state == SLOT_WRITTEN && !s->cut)
        s->cut = CUT_WRITE;
    const char *what = NULL;
    if (s->state == SLOT_WRITTEN) {
        if (violation)
            count_cut(ev, s);
        ev->n.flows += s->written > 0;
        if (s->cut && violation)
            what = "cut"; /* from its first packet on, if the cap was full then */
        else if (s->written == 0)
            what = violation ? "missed" : NULL;
        else
            what = violation ? "complete" : "cleared";
        ev->n.missed += violation && s->written == 0 && !s->cut;
    }
    slot_free(ev, f);
    return what;
}

bool evidence_held(const struct evidence *ev, const struct flow *f)
{
    return f->evidence && ev->slots[f->evidence].state == SLOT_HELD;
}

void evidence_flow_drop(struct evidence *ev, struct flow *f)
{
    if (ev && f->evidence)
        slot_free(ev, f);
}

/* --- the file -------------------------------------------------------------- */

/* The new file beside path, with the mode a plain create would give it. */
static int open_new(struct evidence *ev, char *err, size_t errlen)
{
    size_t k = strlen(ev->path);
    if (!(ev->tmp = malloc(k + 8)))
        return -1;
    memcpy(ev->tmp, ev->path, k);
    memcpy(ev->tmp + k, ".XXXXXX", 8);
    ev->fd = mkostemp(ev->tmp, O_CLOEXEC);
    if (ev->fd < 0) {
        snprintf(err, errlen, "%s: cannot write the evidence there: %s", ev->path, strerror(errno));
        free(ev->tmp);
        ev->tmp = NULL;
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(ev->fd, 0666 & ~mask) != 0) {
        snprintf(err, errlen, "%s: cannot write the evidence there: %s", ev->path, strerror(errno));
        return -1;
    }
    return 0;
}

struct evidence *evidence_open(const char *path, const struct evidence_caps *caps, char *err, size_t errlen)
{
    struct evidence *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->path = strdup(path))) {
        snprintf(err, errlen, "out of memory");
        free(ev);
        return NULL;
    }
    ev->fd = -1;
    ev->caps = *caps;
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not an evidence file", path);
    } else if (exists && !S_ISREG(st.st_mode)) {
        /* A FIFO (a reader such as `wireshark -k -i FIFO`) or a device. */
        ev->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (ev->fd < 0)
            snprintf(err, errlen, "%s: cannot write the evidence: %s", path, strerror(errno));
    } else if (open_new(ev, err, errlen) == 0) {
        return ev;
    }
    if (ev->fd >= 0)
        return ev;
    evidence_free(ev);
    return NULL;
}

void evidence_set_judge(struct evidence *ev, evidence_scope_fn scope, evidence_verdict_fn verdict, void *ctx)
{
    ev->scope = scope;
    ev->verdict = verdict;
    ev->ctx = ctx;
}

int evidence_close(struct evidence *ev)
{
    evidence_flush(ev);
    if (ev->fd >= 0 && close(ev->fd) != 0)
        write_failed(ev, errno);
    ev->fd = -1;
    return ev->failed ? -1 : 0;
}

void evidence_counts(const struct evidence *ev, struct evidence_counts *out)
{
    *out = ev->n;
}

const char *evidence_error(const struct evidence *ev)
{
    return ev->err;
}

void evidence_free(struct evidence *ev)
{
    if (!ev)
        return;
    if (ev->fd >= 0)
        close(ev->fd);
    if (ev->tmp)
        unlink(ev->tmp);
    for (uint32_t i = 1; i < ev->nslots; i++)
        free(ev->slots[i].buf);
    free(ev->slots);
    free(ev->tmp);
    free(ev->path);
    free(ev);
}
