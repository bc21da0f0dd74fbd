#!/usr/bin/env python3
"""Every documented table row has its rule, and every rule its row.

Parses every table of the seed documents (tests/rules/seedtables.py), loads
the shipped rules the way the C side does (tests/rules/dump_rules.lua), and
checks:
  * each data row is cited by at least one rule, or listed in
    tests/rules/non_rules.tsv with a reason (and then cited by none);
  * each rule cites a row that exists, with that row's exact text, or (row 0,
    sentence()) a sentence the document's text contains verbatim;
  * where the row states ports or transports ("TCP 443", "UDP 3478",
    "TCP/UDP 50,000-59,999", "5061", "67/68", "Any", "Specified media port
    range"), the rule agrees: transports equal; every stated port range is
    within the rule's destination or source ranges (in the right one when the
    table has Source/Destination port columns); and an allow/ipsec_exempt
    rule opens no destination port the row does not state (unless the row's
    range is the rule's source range, see docs/rules.md);
  * docs/rules.md's rule table is current.
Usage: python3 tests/rules/test_seed_coverage.py   (seeds: ../shared/seeds,
or $LYNCAUDIT_SEEDS). Exits 1 on any failure; last line "N passed, M failed".
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_rules_doc  # noqa: E402
import rulesdump  # noqa: E402
import seedtables  # noqa: E402

ANY = (0, 65535)
MEDIA = (1024, 65535)   # client_media_ports when the option is nil

passed = 0
failed = 0


def ok(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print('FAIL:', what)
    return cond


def concrete(ranges):
    """rule ranges -> list of (lo, hi); client_media_ports -> 1024-65535"""
    if ranges is None:
        return [ANY]
    return [MEDIA if r == 'client_media_ports' else r for r in ranges]


def within(rng, ranges):
    """rng inside one of ranges, not counting the catch-all 'any' range."""
    return any(lo <= rng[0] and rng[1] <= hi for (lo, hi) in ranges
               if (lo, hi) != ANY)


def check_ports(r, table, cells):
    st = seedtables.stated(table, cells)
    rid = r['id']
    dports = rulesdump.parse_ranges(r['dports'])
    sports = rulesdump.parse_ranges(r['sports'])
    cd, cs = concrete(dports), concrete(sports)
    strict = r['kind'] in ('allow', 'ipsec_exempt')

    if st['transports']:
        ok(set(r['transport'].split(',')) == st['transports'],
           '%s: transport %s, row says %s' % (rid, r['transport'], sorted(st['transports'])))

    # columns that say which end
    if st['dports'] is not None:
        if st['dports'] == 'any':
            ok(cd == [ANY], '%s: row says destination port Any, rule has %s' % (rid, r['dports']))
        else:
            for rng in st['dports']:
                ok(within(rng, cd), '%s: destination %s not in rule dports %s' % (rid, rng, r['dports']))
            if strict:
                for rng in cd:
                    ok(rng in st['dports'], '%s: rule dport %s not stated by the row' % (rid, rng))
    if st['sports'] is not None:
        if st['sports'] == 'any':
            ok(sports is None, '%s: row says source port Any, rule has %s' % (rid, r['sports']))
        elif st['sports'] == 'media':
            ok(sports == ['client_media_ports'],
               '%s: row says the media port range, rule sports %s' % (rid, r['sports']))
        else:
            for rng in st['sports']:
                ok(sports is not None and within(rng, cs),
                   '%s: source %s not in rule sports %s' % (rid, rng, r['sports']))

    # a column that does not say which end
    if st['ports']:
        in_src = False
        for rng in st['ports']:
            hit_d = within(rng, cd)
            hit_s = sports is not None and within(rng, cs)
            in_src = in_src or hit_s
            ok(hit_d or hit_s, '%s: row port %s in neither dports %s nor sports %s'
               % (rid, rng, r['dports'], r['sports']))
        if strict and not in_src:
            for rng in cd:
                ok(rng in st['ports'], '%s: rule dport %s not stated by the row %s'
                   % (rid, rng, st['ports']))


def doc_text(doc):
    """The document's text with whitespace collapsed."""
    with open(os.path.join(rulesdump.seeds_dir(), doc), encoding='utf-8') as f:
        return ' '.join(f.read().split())


def main():
    if not os.path.isdir(rulesdump.seeds_dir()):
        ok(False, 'seed documents not found: %s (set LYNCAUDIT_SEEDS)' % rulesdump.seeds_dir())
        print('%d passed, %d failed' % (passed, failed))
        return 1
    seeds = seedtables.parse_seeds(rulesdump.seeds_dir())
    ok(len(seeds) > 0, 'no seed tables found in %s' % rulesdump.seeds_dir())
    rules = rulesdump.load_rules()
    non_rules = rulesdump.load_non_rules()

    tables = {(t.doc, t.title): t for t in seeds}
    by_ref = {}
    for r in rules:
        by_ref.setdefault((r['doc'], r['table'], r['row']), []).append(r)
    nr = {}
    for n in non_rules:
        key = (n['doc'], n['table'], n['row'])
        ok(key not in nr, 'non_rules.tsv:%d: listed twice' % n['line'])
        nr[key] = n
        t = tables.get((n['doc'], n['table']))
        ok(t is not None and 1 <= n['row'] <= len(t.rows),
           'non_rules.tsv:%d: no such row %s' % (n['line'], key))
        ok(len(n['reason'].strip()) >= 20, 'non_rules.tsv:%d: give a reason' % n['line'])
        ok(key not in by_ref, 'non_rules.tsv:%d: row %s is listed as a non-rule but rules cite it: %s'
           % (n['line'], key, [r['id'] for r in by_ref.get(key, [])]))

    # every row: a rule or a listed non-rule
    nrows = 0
    for t in seeds:
        for i in range(1, len(t.rows) + 1):
            nrows += 1
            key = (t.doc, t.title, i)
            ok(key in by_ref or key in nr,
               'row without a rule: %s / %s / row %d: %s' % (t.doc, t.title, i, t.row_text(i)))

    # every rule: an existing row, its text, agreeing ports/transports
    ids = set()
    for r in rules:
        ok(r['id'] not in ids, 'duplicate id %s' % r['id'])
        ids.add(r['id'])
        t = tables.get((r['doc'], r['table']))
        if not ok(t is not None, '%s cites a table that does not exist: %s / %s'
                  % (r['id'], r['doc'], r['table'])):
            continue
        if r['row'] == 0:
            # sentence(): a sentence of the document's text, verbatim
            ok(' '.join(r['text'].split()) in doc_text(r['doc']),
               '%s cites a sentence that %s does not contain: %s' % (r['id'], r['doc'], r['text']))
            ok(r['kind'] in ('allow', 'deny'), '%s: only allow and deny rules cite a sentence' % r['id'])
            continue
        if not ok(1 <= r['row'] <= len(t.rows), '%s cites row %d of %s (%d rows)'
                  % (r['id'], r['row'], r['table'], len(t.rows))):
            continue
        ok(r['text'] == t.row_text(r['row']),
           '%s: ref text differs from the document row\n  rule: %s\n  doc:  %s'
           % (r['id'], r['text'], t.row_text(r['row'])))
        check_ports(r, t, t.rows[r['row'] - 1])

    # docs/rules.md is current
    doc_path = os.path.join(rulesdump.REPO, 'docs', 'rules.md')
    try:
        old, new = gen_rules_doc.current(doc_path)
        ok(old == new, 'docs/rules.md rule table is stale: run python3 tests/rules/gen_rules_doc.py')
    except (OSError, RuntimeError) as e:
        ok(False, 'docs/rules.md: %s' % e)

    per_doc = {}
    for r in rules:
        per_doc[r['doc']] = per_doc.get(r['doc'], 0) + 1
    print('%d table rows, %d non-rules, %d rules (%s)' % (
        nrows, len(nr), len(rules),
        ', '.join('%s: %d' % (d[:3], n) for d, n in sorted(per_doc.items()))))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
