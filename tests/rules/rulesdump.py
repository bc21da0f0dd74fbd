"""Shared helpers for the rule tests: run dump_rules.lua, parse its TSV,
read non_rules.tsv. python3, stdlib only."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FIELDS = ['id', 'from', 'to', 'transport', 'dports', 'sports', 'apps', 'kind',
          'when', 'doc', 'table', 'row', 'severity', 'text']


def seeds_dir():
    return os.environ.get('LYNCAUDIT_SEEDS') or os.path.join(
        os.path.dirname(REPO), 'shared', 'seeds')


def lua():
    return os.environ.get('LUA', 'lua5.4')


def load_rules(repo=REPO):
    p = subprocess.run([lua(), os.path.join(HERE, 'dump_rules.lua'), repo],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError('dump_rules.lua failed: ' + p.stderr.strip())
    rules = []
    for line in p.stdout.splitlines():
        cells = line.split('\t')
        if len(cells) != len(FIELDS):
            raise RuntimeError('bad dump line: %r' % line)
        r = dict(zip(FIELDS, cells))
        r['row'] = int(r['row'])
        rules.append(r)
    return rules


def parse_ranges(s):
    """'443,50000-59999,client_media_ports' -> list of (lo, hi) or the
    string 'client_media_ports'; '*' -> None (any)."""
    if s == '*':
        return None
    out = []
    for part in s.split(','):
        if part == 'client_media_ports':
            out.append(part)
        elif '-' in part:
            lo, hi = part.split('-')
            out.append((int(lo), int(hi)))
        else:
            out.append((int(part), int(part)))
    return out


def load_non_rules(path=os.path.join(HERE, 'non_rules.tsv')):
    out = []
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            cells = line.split('\t')
            if len(cells) != 4:
                raise RuntimeError('%s:%d: want 4 tab-separated columns' % (path, n))
            out.append({'doc': cells[0], 'table': cells[1], 'row': int(cells[2]),
                        'reason': cells[3], 'line': n})
    return out
