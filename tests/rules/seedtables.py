#!/usr/bin/env python3
"""Parse the tables of the Lync seed documents (python3, stdlib only).

Two table shapes occur in ../shared/seeds/:
  * markdown pipe tables (docs 000-003): one row per line, `|a|b|c|`, the
    second line a `|:---|` separator;
  * a flattened export (doc 004): a header line `A | B | C |`, a separator
    `---|---|---|`, then one cell per line, each ending with `|`.

Table title: the nearest preceding `**bold**` line or `#` heading (markdown
shape) or the line right before the header (flattened shape). When several
tables of one document get the same title, each gets " (N)" appended, N being
its 1-based position among them (doc 001 has two such tables).

Row text: each cell cleaned (<br/> -> space, &amp; -> &, \\* -> *, ** removed,
whitespace collapsed, trimmed), the cells joined by " | ", the result
trimmed (a row ending in an empty cell ends with "|").

Usage: seedtables.py SEEDS_DIR          prints doc, table, row, text (TSV)
"""
import os
import re
import sys

BOLD = re.compile(r'^\*\*(.+?)\*\*$')
HEADING = re.compile(r'^#{1,6}\s+(.*?)\s*#*$')
FLAT_SEP = re.compile(r'^(-{3,}\|)+\s*$')
MD_SEP = re.compile(r'^\|(\s*:?-+:?\s*\|)+\s*$')


def clean(cell):
    c = cell.replace('<br/>', ' ').replace('&amp;', '&').replace('\\*', '*')
    c = c.replace('**', '')
    return ' '.join(c.split())


def split_md(line):
    s = line.strip()
    if s.startswith('|'):
        s = s[1:]
    if s.endswith('|'):
        s = s[:-1]
    return [clean(c) for c in s.split('|')]


class Table:
    def __init__(self, doc, title, header, line):
        self.doc, self.title, self.header, self.line = doc, title, header, line
        self.rows = []          # list of lists of cleaned cells

    def row_text(self, i):      # 1-based
        return ' | '.join(self.rows[i - 1]).strip()


def parse_doc(path):
    doc = os.path.basename(path)
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    tables = []
    title = None
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i]
        s = raw.strip()
        # markdown pipe table
        if s.startswith('|') and i + 1 < n and MD_SEP.match(lines[i + 1].strip()):
            t = Table(doc, title, split_md(s), i + 1)
            i += 2
            while i < n and lines[i].strip().startswith('|'):
                t.rows.append(split_md(lines[i]))
                i += 1
            tables.append(t)
            continue
        # flattened table: header line, then ---|---| separator
        if s.endswith('|') and i + 1 < n and FLAT_SEP.match(lines[i + 1].strip()):
            header = [clean(c) for c in s[:-1].split('|')]
            ncols = lines[i + 1].strip().count('|')
            flat_title = lines[i - 1].strip() if i > 0 else None
            t = Table(doc, flat_title, header, i + 1)
            i += 2
            cells = []
            while i < n and lines[i].strip().endswith('|'):
                cells.append(clean(lines[i].strip()[:-1]))
                i += 1
            if len(cells) % ncols:
                raise ValueError('%s:%d: %d cells is not a multiple of %d'
                                 % (doc, t.line, len(cells), ncols))
            t.rows = [cells[k:k + ncols] for k in range(0, len(cells), ncols)]
            tables.append(t)
            continue
        m = BOLD.match(s) or HEADING.match(s)
        if m and m.group(1).strip():
            title = clean(m.group(1))
        i += 1
    # disambiguate repeated titles within the document
    counts = {}
    for t in tables:
        counts[t.title] = counts.get(t.title, 0) + 1
    seen = {}
    for t in tables:
        if counts[t.title] > 1:
            seen[t.title] = seen.get(t.title, 0) + 1
            t.title = '%s (%d)' % (t.title, seen[t.title])
    return tables


def parse_seeds(seeds_dir):
    out = []
    for name in sorted(os.listdir(seeds_dir)):
        if name.endswith('.txt'):
            out.extend(parse_doc(os.path.join(seeds_dir, name)))
    return out


# ---- what a row states about ports and transports -------------------------

NUM = r'\d{1,3}(?:,\d{3})+|\d+'
RANGE = re.compile(r'(%s)\s*-\s*(%s)' % (NUM, NUM))
SINGLE = re.compile(NUM)


def _num(s):
    return int(s.replace(',', ''))


def ports_in(text):
    """Port ranges stated in one cell: '50,000-59,999', '443', '67/68'.
    Returns list of (lo, hi); 'any' for the word Any; 'media' for the
    'Specified media port range' of the IPsec table."""
    t = text.strip()
    if t.lower() == 'any':
        return 'any'
    if 'media port range' in t.lower():
        return 'media'
    out = []
    rest = t
    for m in RANGE.finditer(t):
        out.append((_num(m.group(1)), _num(m.group(2))))
    rest = RANGE.sub(' ', t)
    for m in SINGLE.finditer(rest):
        v = _num(m.group(0))
        if 0 < v <= 65535:
            out.append((v, v))
    return out


def transports_in(text):
    up = text.upper()
    tr = set()
    if re.search(r'\bTCP\b', up):
        tr.add('tcp')
    if re.search(r'\bUDP\b', up):
        tr.add('udp')
    if not tr and re.search(r'\bHTTPS?\b', up):
        tr.add('tcp')
    return tr


def stated(table, cells):
    """What the row says: dict with 'dports', 'sports', 'ports' (column not
    saying which end), 'transports'. Each port entry is a list of ranges,
    'any', 'media', or None when the row does not say."""
    res = {'dports': None, 'sports': None, 'ports': None, 'transports': set()}
    for h, c in zip(table.header, cells):
        hl = h.lower()
        is_port = 'port' in hl
        is_proto = 'protocol' in hl or 'tcp or udp' in hl
        if is_port or is_proto:
            res['transports'] |= transports_in(c)
        if is_port:
            p = ports_in(c)
            if p == [] or c == '':
                continue
            if hl.startswith('source'):
                res['sports'] = p
            elif hl.startswith('destination'):
                res['dports'] = p
            else:
                res['ports'] = (res['ports'] or []) + (p if isinstance(p, list) else [])
    return res


if __name__ == '__main__':
    seeds = sys.argv[1] if len(sys.argv) > 1 else '../shared/seeds'
    for t in parse_seeds(seeds):
        for i in range(1, len(t.rows) + 1):
            print('\t'.join([t.doc, t.title or '', str(i), t.row_text(i)]))
