#!/usr/bin/python3
#
# qcow2 interoperability with QEMU 7.2 and libqcow, in both directions:
#
#   create     images our qemu-img creates are QEMU's byte for byte over a
#              matrix of options (compat, cluster_size, refcount_bits,
#              lazy_refcounts, preallocation, compression_type, backing
#              files, sizes); the errors of invalid combinations match;
#              QEMU's qemu-img info and check accept ours, so does qcowinfo
#   sequences  seeded random qemu-io sequences (pattern writes, partial
#              cluster writes, write -z [-u], discard, write -c, aio, map,
#              truncate) on identical QEMU-made starting images (several
#              cluster sizes and refcount widths, v2 and v3, over a backing
#              file or not, with internal snapshots or not) run through
#              QEMU's qemu-io and ours: the outputs and exit statuses must
#              match, and the image files must stay byte-identical after
#              every qemu-io run; at the end QEMU's qemu-img check is clean
#              on ours and qcowinfo reads it
#   qemu-made  images QEMU made (compressed with zlib and zstd, zero
#              clusters, backing chains, internal snapshots, v2, 512 byte
#              and 2 MiB clusters, preallocation, a dirty image) read the
#              same through our qemu-io (read -v dumps), and our qemu-img
#              info, map and check print what QEMU's print
#
# Needs /usr/bin/qemu-io, /usr/bin/qemu-img and qcowinfo (libqcow-utils); a
# missing one, or an "ours" without a qcow2 driver, is a failure, not a
# skip.
#
# Usage: qcow2_interop.py --ours-io BUILD/qemu-io --ours-img BUILD/qemu-img
#            [--workdir DIR] [--seeds 0-15] [--only NAME,...] [--keep]
#        qcow2_interop.py --self-test [--workdir DIR]
# --self-test runs everything with QEMU's binaries on both sides (which
# must agree), then checks that a changed image byte and a changed output
# line are detected.

import argparse
import difflib
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'vpc'))
sys.path.insert(0, HERE)

import qemu_io_diff  # noqa: E402
import vhdgen  # noqa: E402


def load_qcow2_util():
    """The spec-based qcow2 reader of the qcow2-* iotests."""
    path = os.path.join(HERE, '..', 'qemu-iotests', 'tests', 'qcow2-util.py')
    spec = importlib.util.spec_from_file_location('qcow2_util', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


qcow2_util = load_qcow2_util()

REF_IO = '/usr/bin/qemu-io'
REF_IMG = '/usr/bin/qemu-img'
KiB = 1024
MiB = 1024 * KiB


class Failure(Exception):
    pass


def run(argv, cwd=None, check=True, stdin=None):
    p = subprocess.run(argv, cwd=cwd, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300,
                       env=dict(os.environ, LC_ALL='C', LANG='C'))
    out = p.stdout.decode('utf-8', 'replace')
    err = p.stderr.decode('utf-8', 'replace')
    if check and p.returncode:
        raise Failure('%s: exit %d\n%s%s' % (' '.join(argv), p.returncode,
                                            out, err))
    return out, err, p.returncode


class Side:
    """One pair of binaries and its own scratch directory."""

    def __init__(self, name, io, img, wd):
        self.name = name
        self.io = io
        self.img = img
        self.dir = os.path.join(wd, name)
        os.makedirs(self.dir, exist_ok=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def normalize(self, text):
        text = text.replace(self.dir, 'DIR')
        text = text.replace(self.io + ':', 'qemu-io:')
        text = text.replace(self.img + ':', 'qemu-img:')
        return qemu_io_diff.STATS_RE.sub('X ops; XX:XX:XX.X (XXX YYY/sec and '
                                         'XXX ops/sec)', text)


def sides(a, wd):
    return (Side('ref', REF_IO, REF_IMG, wd),
            Side('ours', a.ours_io, a.ours_img, wd))


def same_output(what, ref, ours, sref, sours):
    """ref/ours: (stdout, stderr, exit status) of the two sides."""
    msgs = []
    for i, name in enumerate(('stdout', 'stderr')):
        x, y = sref.normalize(ref[i]), sours.normalize(ours[i])
        if x != y:
            msgs.append('\n'.join(difflib.unified_diff(
                x.splitlines(), y.splitlines(), 'QEMU ' + name,
                'ours ' + name, lineterm='')))
    if ref[2] != ours[2]:
        msgs.append('exit status: QEMU %d, ours %d' % (ref[2], ours[2]))
    if msgs:
        raise Failure('%s:\n%s' % (what, '\n'.join(msgs)))


def describe(path, off):
    """What the qcow2 file at path keeps at host offset off."""
    try:
        img = qcow2_util.Image(path)
        cs = img.cluster_size()
        if off < cs:
            return 'header cluster'
        rt = img.field('refcount_table_offset')
        if rt <= off < rt + img.field('refcount_table_clusters') * cs:
            return 'refcount table'
        l1 = img.field('l1_table_offset')
        if l1 <= off < l1 + 8 * img.field('l1_size'):
            return 'L1 table (entry %d)' % ((off - l1) // 8)
        start = off & ~(cs - 1)
        for i in range(img.field('refcount_table_clusters') * cs // 8):
            e = img.get(rt + 8 * i, '>Q')
            if e and e & ~(cs - 1) == start:
                return 'refcount block %d' % i
        for i in range(img.field('l1_size')):
            e = img.get(l1 + 8 * i, '>Q') & qcow2_util.OFFSET_MASK
            if e and e == start:
                return 'L2 table of L1 entry %d' % i
        if img.field('nb_snapshots'):
            return 'data, snapshot metadata or a snapshot\'s table'
        return 'data cluster %d' % (off // cs)
    except (OSError, ValueError, IndexError, KeyError, TypeError):
        return 'unparsable image'


def zero_snapshot_dates(path):
    """Clear the creation times in the snapshot table (entry bytes 16-23,
    date_sec and date_nsec), so that two runs make the same file."""
    img = qcow2_util.Image(path)
    off = img.field('snapshot_offset')
    for _ in range(img.field('nb_snapshots')):
        id_len = img.get(off + 12, '>H')
        name_len = img.get(off + 14, '>H')
        extra = img.get(off + 36, '>I')
        img.put(off + 16, '>Q', 0)
        off += (40 + extra + id_len + name_len + 7) & ~7


def same_file(ref, ours, what):
    with open(ref, 'rb') as f:
        a = f.read()
    with open(ours, 'rb') as f:
        b = f.read()
    if a == b:
        return
    first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]),
                 min(len(a), len(b)))
    raise Failure('%s: files differ (sizes %d and %d), first difference at '
                  'byte %d (0x%x, in QEMU\'s layout: %s)' % (
                      what, len(a), len(b), first, first,
                      describe(ref, first)))


def info_json(img_prog, path, cwd=None):
    out, _, _ = run([img_prog, 'info', '-f', 'qcow2', '--output=json',
                     os.path.basename(path)], cwd=cwd or os.path.dirname(path))
    info = json.loads(out)
    info.pop('actual-size', None)
    return info


def qcowinfo(path, what, ref=None):
    """qcowinfo must read path (if it reads ref, QEMU's equivalent)."""
    if ref and run(['qcowinfo', ref], check=False)[2]:
        return      # e.g. libqcow refuses an empty L1 table
    out, err, rc = run(['qcowinfo', path], check=False)
    if rc or 'Media size' not in out:
        raise Failure('%s: qcowinfo fails on our image (exit %d)\n%s%s' %
                      (what, rc, out, err))


def qemu_check_clean(path, what):
    out, err, rc = run([REF_IMG, 'check', '-f', 'qcow2', path], check=False)
    if rc:
        raise Failure('%s: QEMU\'s qemu-img check of our image: exit %d\n'
                      '%s%s' % (what, rc, out, err))


def dump(io, path, size):
    """Guest content through qemu-io 'read -v' (read-only, so a dirty
    image is not repaired), 4 MiB per process."""
    buf = bytearray(size)
    for start in range(0, size, 4 * MiB):
        n = min(4 * MiB, size - start)
        out, err, rc = run([io, '-r', '-f', 'qcow2', '-c',
                            'read -v %d %d' % (start, n), path], check=False)
        if rc or err:
            raise Failure('%s: read -v %d %d failed (exit %d)\n%s' %
                          (path, start, n, rc, err))
        vhdgen.parse_read_v(out, buf)
    return bytes(buf)


# ---- create ----

def create_cases():
    cases = []
    for cs in ('512', '1k', '4k', '64k', '2M'):
        for compat in ('0.10', '1.1'):
            for bits in ('1', '16', '64'):
                if compat == '0.10' and bits != '16':
                    continue
                for lazy in ('off', 'on'):
                    if compat == '0.10' and lazy == 'on':
                        continue
                    cases.append((['-o', 'cluster_size=%s,compat=%s,'
                                   'refcount_bits=%s,lazy_refcounts=%s' %
                                   (cs, compat, bits, lazy)], '16M'))
    for bits in ('2', '4', '8', '32'):
        cases.append((['-o', 'refcount_bits=%s' % bits], '1G'))
    for p in ('metadata', 'falloc', 'full'):
        for cs in ('512', '4k', '64k'):
            cases.append((['-o', 'preallocation=%s,cluster_size=%s' %
                           (p, cs)], '8M'))
        cases.append((['-o', 'preallocation=%s,compat=0.10' % p], '3M'))
        cases.append((['-o', 'preallocation=%s,refcount_bits=1' % p],
                      '5000k'))
    for ct in ('zlib', 'zstd'):
        cases.append((['-o', 'compression_type=%s' % ct], '64M'))
        cases.append((['-o', 'compression_type=%s,cluster_size=4k' % ct],
                      '64M'))
    for size in ('0', '512', '1000', '1G', '1T', '2P', '100000000000'):
        cases.append(([], size))
    cases += [
        (['-o', 'cluster_size=4k'], '8T'),
        (['-o', 'cluster_size=512'], '10G'),
        (['-b', 'base.qcow2', '-F', 'qcow2'], None),
        (['-b', 'base.qcow2', '-F', 'qcow2'], '100M'),
        (['-b', 'base.qcow2', '-F', 'qcow2', '-o', 'compat=0.10'], None),
        (['-b', 'base.qcow2', '-F', 'qcow2', '-o', 'cluster_size=4k'], None),
        (['-b', 'base.qcow2', '-F', 'raw'], None),
        (['-u', '-b', 'missing.qcow2', '-F', 'qcow2'], '1M'),
        (['-u', '-b', 'sub/dir/x.img', '-F', 'raw',
          '-o', 'cluster_size=512'], '1M'),
        # errors
        (['-o', 'cluster_size=256'], '1M'),
        (['-o', 'cluster_size=4M'], '1M'),
        (['-o', 'cluster_size=3000'], '1M'),
        (['-o', 'refcount_bits=3'], '1M'),
        (['-o', 'refcount_bits=128'], '1M'),
        (['-o', 'refcount_bits=8,compat=0.10'], '1M'),
        (['-o', 'lazy_refcounts=on,compat=0.10'], '1M'),
        (['-o', 'compression_type=zstd,compat=0.10'], '1M'),
        (['-o', 'compression_type=foo'], '1M'),
        (['-o', 'preallocation=foo'], '1M'),
        (['-o', 'compat=0.9'], '1M'),
        (['-o', 'backing_fmt=qcow2'], '1M'),
        (['-b', 'base.qcow2'], '1M'),
        (['-b', 'missing.qcow2', '-F', 'qcow2'], '1M'),
        (['-b', 'base.qcow2', '-F', 'qcow2', '-o', 'preallocation=full'],
         None),
        ([], '3P'),
        (['-o', 'cluster_size=512'], '129G'),
    ]
    return cases


def test_create(a, wd):
    sref, sours = sides(a, wd)
    for s in (sref, sours):
        run([REF_IMG, 'create', '-q', '-f', 'qcow2', s.path('base.qcow2'),
             '32M'])
    cases = create_cases()
    made = 0
    for opts, size in cases:
        what = 'create %s %s' % (' '.join(opts), size or '')
        results = []
        for s in (sref, sours):
            if os.path.exists(s.path('c.qcow2')):
                os.unlink(s.path('c.qcow2'))
            argv = [s.img, 'create', '-f', 'qcow2', *opts, 'c.qcow2']
            results.append(run(argv + ([size] if size else []), cwd=s.dir,
                               check=False))
        same_output(what, results[0], results[1], sref, sours)
        q, o = sref.path('c.qcow2'), sours.path('c.qcow2')
        if os.path.exists(q) != os.path.exists(o):
            raise Failure('%s: QEMU %s a file, ours %s' % (
                what, 'made' if os.path.exists(q) else 'did not make',
                'did' if os.path.exists(o) else 'did not'))
        if results[0][2]:
            continue
        made += 1
        same_file(q, o, what)
        want = info_json(REF_IMG, q)
        if info_json(REF_IMG, o) != want:
            raise Failure('%s: QEMU\'s qemu-img info differs' % what)
        if info_json(a.ours_img, o) != want:
            raise Failure('%s: our qemu-img info differs from QEMU\'s:\n'
                          '%s\n%s' % (what, json.dumps(want),
                                      json.dumps(info_json(a.ours_img, o))))
        if '-u' not in opts:
            qemu_check_clean(o, what)
        qcowinfo(o, what, q)
    print('create: %d cases, %d images byte-identical to QEMU\'s, the '
          'errors of the others identical' % (len(cases), made))


# ---- sequences ----

class Model:
    """Guest content as far as it is known (None: depends on the
    driver's choices, e.g. after an unaligned discard)."""

    def __init__(self, content):
        self.data = list(content)

    def set(self, off, length, value):
        end = min(off + length, len(self.data))
        for i in range(off, end):
            self.data[i] = value

    def uniform(self, off, length):
        vals = set(self.data[off:off + length])
        if len(vals) == 1:
            v = vals.pop()
            return v
        return None

    def resize(self, size):
        if size < len(self.data):
            del self.data[size:]
        else:
            self.data.extend([0] * (size - len(self.data)))


class SeqGen:
    """qemu-io commands that exercise qcow2's allocation paths."""

    def __init__(self, r, cfg, model):
        self.r = r
        self.cfg = cfg
        self.cs = cfg.cluster_size
        self.size = cfg.size
        self.model = model

    def span(self):
        r, cs = self.r, self.cs
        kind = r.random()
        if kind < 0.3:              # whole clusters
            n = r.randrange(1, 4)
            off = r.randrange(0, self.size // cs - n + 1) * cs
            return off, n * cs
        if kind < 0.55:             # sectors inside or across clusters
            off = r.randrange(0, self.size // 512) * 512
            length = r.randrange(1, 2 * cs // 512 + 2) * 512
        elif kind < 0.85:           # bytes
            off = r.randrange(0, self.size)
            length = r.randrange(1, 3 * cs)
        else:                       # around a cluster boundary
            b = r.randrange(1, self.size // cs) * cs
            off = b - r.randrange(1, min(cs, 8192))
            length = r.randrange(2, 16384)
        return off, max(1, min(length, self.size - off))

    def pattern(self):
        return self.r.randrange(1, 256)

    def read_cmd(self, off, length):
        v = self.model.uniform(off, length)
        if v is not None and self.r.random() < 0.9:
            return 'read -P 0x%02x %d %d' % (v, off, length)
        if length > 64:
            off += self.r.randrange(0, length - 64)
            length = 64
        return 'read -v %d %d' % (off, length)

    def command(self):
        r = self.r
        k = r.random()
        off, length = self.span()
        if k < 0.3:
            p = self.pattern()
            self.model.set(off, length, p)
            return ['write -P 0x%02x %d %d' % (p, off, length)]
        if k < 0.42:
            u = ' -u' if r.random() < 0.5 else ''
            self.model.set(off, length, 0)
            return ['write -z%s %d %d' % (u, off, length)]
        if k < 0.5:
            # What stays after a discard depends on v2/v3, the backing
            # file and the alignment: the two sides must simply agree.
            self.model.set(off, length, None)
            return ['discard %d %d' % (off, length)]
        if k < 0.58:
            # One cluster at a time: QEMU compresses the clusters of a
            # request in parallel, so their order in the file varies.
            c = r.randrange(0, self.size // self.cs) * self.cs
            if r.random() < 0.1:
                # refused: not sector-aligned, or not cluster-aligned
                bad = c + (512 if self.cs > 512 else 1)
                return ['write -c -P 0x22 %d %d' % (bad, self.cs)]
            p = r.choice([self.pattern(), 0])
            self.model.set(c, self.cs, p)
            return ['write -c -P 0x%02x %d %d' % (p, c, self.cs)]
        if k < 0.64:
            p = self.pattern()
            self.model.set(off, length, p)
            return ['aio_write -P 0x%02x %d %d' % (p, off, length),
                    'aio_flush']
        if k < 0.68:
            lens = [r.randrange(1, 3000) for _ in range(r.randrange(1, 4))]
            if off + sum(lens) > self.size:
                return ['flush']
            p = self.pattern()
            self.model.set(off, sum(lens), p)
            return ['writev -P 0x%02x %d %s' % (p, off,
                                                ' '.join(map(str, lens)))]
        if k < 0.86:
            return [self.read_cmd(off, length)]
        if k < 0.93:
            return [r.choice(['map', 'alloc %d %d' % (off, length), 'flush',
                              'length', 'info'])]
        if k < 0.96 and not self.cfg.snapshots:
            # whole clusters up or down
            new = self.size + r.choice([-2, -1, 1, 3]) * self.cs
            if new < 4 * self.cs:
                return ['flush']
            self.size = new
            self.model.resize(new)
            return ['truncate %d' % new]
        return [r.choice(['write -P 0x11 %d 512' % self.size,
                          'read %d 1' % (self.size - 0),
                          'write -c %d 512' % (self.size - 512),
                          'discard %d 512' % self.size,
                          'write -z %d 1' % self.size])]

    def invocation(self):
        cmds = []
        for _ in range(self.r.randrange(2, 9)):
            cmds += self.command()
        return cmds


def seq_config(seed):
    r = random.Random(seed)
    cfg = types.SimpleNamespace()
    cfg.cluster_size = r.choice([512, 4 * KiB, 16 * KiB, 64 * KiB,
                                 64 * KiB, 2 * MiB])
    cfg.compat = r.choice(['0.10', '1.1', '1.1'])
    cfg.refcount_bits = 16 if cfg.compat == '0.10' else \
        r.choice([1, 2, 8, 16, 16, 64])
    cfg.lazy = cfg.compat == '1.1' and r.random() < 0.2
    cfg.backing = r.choice([None, None, 'qcow2', 'raw'])
    # a snapshot needs refcounts of 2 (1 bit refcounts: "Could not create
    # snapshot ... -22")
    cfg.snapshots = cfg.refcount_bits > 1 and r.random() < 0.25
    unit = max(cfg.cluster_size, 64 * KiB)
    cfg.size = unit * r.randrange(8, 33) if cfg.cluster_size < 2 * MiB \
        else 16 * MiB
    cfg.invocations = r.randrange(5, 10)
    cfg.backing_size = cfg.size - r.choice([0, 0, cfg.size // 4])
    return r, cfg


def seq_setup(cfg, d):
    """The starting image (and backing file), all made by QEMU, in d.
    Returns the guest content it holds."""
    content = bytearray(cfg.size)
    opts = 'cluster_size=%d,compat=%s,refcount_bits=%d,lazy_refcounts=%s' % (
        cfg.cluster_size, cfg.compat, cfg.refcount_bits,
        'on' if cfg.lazy else 'off')
    argv = [REF_IMG, 'create', '-q', '-f', 'qcow2', '-o', opts]
    if cfg.backing:
        bsize = cfg.backing_size
        run([REF_IMG, 'create', '-q', '-f', cfg.backing, 'base.img',
             str(bsize)], cwd=d)
        run([REF_IO, '-f', cfg.backing, '-c', 'write -P 0x5a 0 %d' % bsize,
             '-c', 'write -P 0xa5 %d %d' % (bsize // 2, bsize // 8),
             'base.img'], cwd=d)
        content[:bsize] = b'\x5a' * bsize
        content[bsize // 2:bsize // 2 + bsize // 8] = b'\xa5' * (bsize // 8)
        argv += ['-b', 'base.img', '-F', cfg.backing]
    run(argv + ['t.qcow2', str(cfg.size)], cwd=d)
    if cfg.snapshots:
        cs = cfg.cluster_size
        run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x61 0 %d' % (4 * cs),
             '-c', 'write -c -P 0x62 %d %d' % (4 * cs, cs),
             '-c', 'write -z %d %d' % (6 * cs, cs),
             '-c', 'write -P 0x63 %d 4096' % (cfg.size - 4096), 't.qcow2'],
            cwd=d)
        content[:4 * cs] = b'\x61' * (4 * cs)
        content[4 * cs:5 * cs] = b'\x62' * cs
        content[6 * cs:7 * cs] = bytes(cs)
        content[cfg.size - 4096:] = b'\x63' * 4096
        run([REF_IMG, 'snapshot', '-c', 'snap1', 't.qcow2'], cwd=d)
        run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x64 %d %d' % (cs, cs),
             't.qcow2'], cwd=d)
        content[cs:2 * cs] = b'\x64' * cs
        run([REF_IMG, 'snapshot', '-c', 'snap2', 't.qcow2'], cwd=d)
        zero_snapshot_dates(os.path.join(d, 't.qcow2'))
    return bytes(content)


def run_seed(seed, sref, sours, log):
    r, cfg = seq_config(seed)
    desc = 'seed %d (%s)' % (seed, ', '.join(
        '%s=%s' % kv for kv in sorted(vars(cfg).items())))
    log.append(desc)
    # The same steps on both sides (not a copy): then even the host file
    # system layout, which qemu-img map can see, is the same.
    for s in (sref, sours):
        shutil.rmtree(s.dir)
        os.makedirs(s.dir)
        content = seq_setup(cfg, s.dir)
    same_file(sref.path('t.qcow2'), sours.path('t.qcow2'),
              '%s: QEMU made two different starting images' % desc)
    gen = SeqGen(r, cfg, Model(content))
    for n in range(cfg.invocations):
        cmds = gen.invocation()
        log.append('run %d: %s' % (n, ' ; '.join(cmds)))
        res = []
        for s in (sref, sours):
            argv = [s.io, '-f', 'qcow2']
            for c in cmds:
                argv += ['-c', c]
            res.append(run(argv + ['t.qcow2'], cwd=s.dir, check=False))
        what = '%s, run %d' % (desc, n)
        same_output(what, res[0], res[1], sref, sours)
        same_file(sref.path('t.qcow2'), sours.path('t.qcow2'), what)
    if cfg.backing:
        same_file(sref.path('base.img'), sours.path('base.img'),
                  '%s: the backing file' % desc)
    ours = sours.path('t.qcow2')
    res = [run([REF_IMG, 'check', '-f', 'qcow2', s.path('t.qcow2')],
               check=False) for s in (sref, sours)]
    same_output('%s: QEMU\'s qemu-img check' % desc, res[0], res[1], sref,
                sours)
    # and our qemu-img check of our image says what QEMU's says of its own
    res = [run([s.img, 'check', '-f', 'qcow2', 't.qcow2'], cwd=s.dir,
               check=False) for s in (sref, sours)]
    same_output('%s: qemu-img check' % desc, res[0], res[1], sref, sours)
    qemu_check_clean(ours, desc)
    qcowinfo(ours, desc, sref.path('t.qcow2'))
    return cfg


def test_sequences(a, wd):
    sref, sours = sides(a, wd)
    failures = []
    kinds = set()
    for seed in qemu_io_diff.parse_seeds(a.seeds):
        log = []
        try:
            cfg = run_seed(seed, sref, sours, log)
            kinds.add((cfg.cluster_size, cfg.compat, cfg.refcount_bits,
                       cfg.backing, cfg.snapshots))
        except (Failure, subprocess.TimeoutExpired) as e:
            failures.append('%s\ncommand log:\n%s' % (e, '\n'.join(log)))
    if failures:
        raise Failure('\n\n'.join(failures))
    print('sequences: seeds %s agree (output, exit status, image files '
          'after every run; QEMU\'s check and qcowinfo accept ours); %d '
          'configurations' % (a.seeds, len(kinds)))


# ---- QEMU-made images ----

def qm_compressed(d):
    raw = os.path.join(d, 'src.raw')
    with open(raw, 'wb') as f:
        for i in range(64):
            f.write(bytes([i * 7 % 256]) * 32 * KiB)
            f.write(bytes(range(256)) * 128)
    run([REF_IMG, 'convert', '-c', '-O', 'qcow2', raw, 't.qcow2'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x77 70000 5000',
         '-c', 'write -z 1M 64k', 't.qcow2'], cwd=d)
    os.unlink(raw)
    return False


def qm_zstd(d):
    run([REF_IMG, 'create', '-q', '-f', 'qcow2', '-o',
         'compression_type=zstd,cluster_size=4k', 't.qcow2', '2M'], cwd=d)
    argv = [REF_IO, '-f', 'qcow2']
    for i in range(0, 64):
        argv += ['-c', 'write -c -P 0x%02x %d 4k' % (i + 1, i * 8 * KiB)]
    run(argv + ['-c', 'write -P 0x99 5000 3000', 't.qcow2'], cwd=d)
    return False


def qm_zero(d):
    run([REF_IMG, 'create', '-q', '-f', 'qcow2', 't.qcow2', '4M'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x11 0 2M',
         '-c', 'write -z 64k 64k', '-c', 'write -z -u 192k 128k',
         '-c', 'write -z 1M 4k', '-c', 'discard 512k 128k',
         '-c', 'write -z 3M 512k', 't.qcow2'], cwd=d)
    return False


def qm_chain(d):
    run([REF_IMG, 'create', '-q', '-f', 'raw', 'base.raw', '3M'], cwd=d)
    run([REF_IO, '-f', 'raw', '-c', 'write -P 0x10 0 3M', 'base.raw'], cwd=d)
    run([REF_IMG, 'create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k',
         '-b', 'base.raw', '-F', 'raw', 'mid.qcow2', '4M'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x20 1M 100k',
         '-c', 'write -z 2M 64k', '-c', 'write -P 0x21 3000 1', 'mid.qcow2'],
        cwd=d)
    run([REF_IMG, 'create', '-q', '-f', 'qcow2', '-o', 'compat=0.10',
         '-b', 'mid.qcow2', '-F', 'qcow2', 't.qcow2', '5M'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x30 1050k 4k',
         '-c', 'write -P 0x31 4M 64k', '-c', 'write -c -P 0x32 128k 64k',
         't.qcow2'], cwd=d)
    return False


def qm_snapshots(d):
    run([REF_IMG, 'create', '-q', '-f', 'qcow2', '-o', 'cluster_size=16k',
         't.qcow2', '4M'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x11 0 1M',
         '-c', 'write -c -P 0x12 2M 16k', 't.qcow2'], cwd=d)
    run([REF_IMG, 'snapshot', '-c', 'one', 't.qcow2'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x21 100k 10k',
         '-c', 'write -z 512k 64k', 't.qcow2'], cwd=d)
    run([REF_IMG, 'snapshot', '-c', 'two', 't.qcow2'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x31 0 32k',
         '-c', 'discard 2M 16k', 't.qcow2'], cwd=d)
    zero_snapshot_dates(os.path.join(d, 't.qcow2'))
    return False


def qm_v2_small(d):
    run([REF_IMG, 'create', '-q', '-f', 'qcow2', '-o',
         'compat=0.10,cluster_size=512', 't.qcow2', '3M'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x41 0 700k',
         '-c', 'write -P 0x42 1000 100', '-c', 'write -z 100k 10k',
         '-c', 'discard 200k 20k', '-c', 'write -c -P 0x43 2M 512',
         't.qcow2'], cwd=d)
    return False


def qm_big_clusters(d):
    run([REF_IMG, 'create', '-q', '-f', 'qcow2', '-o',
         'cluster_size=2M,refcount_bits=64', 't.qcow2', '8M'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x51 1M 2M',
         '-c', 'write -z 6M 1M', 't.qcow2'], cwd=d)
    return False


def qm_prealloc(d):
    run([REF_IMG, 'create', '-q', '-f', 'qcow2', '-o',
         'preallocation=metadata,refcount_bits=2', 't.qcow2', '3M'], cwd=d)
    run([REF_IO, '-f', 'qcow2', '-c', 'write -P 0x61 65000 70000',
         '-c', 'truncate -m falloc 4M', '-c', 'write -P 0x62 3M 4k',
         't.qcow2'], cwd=d)
    return False


def qm_dirty(d):
    run([REF_IMG, 'create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on',
         't.qcow2', '4M'], cwd=d)
    run([REF_IO, '-t', 'writethrough', '-f', 'qcow2',
         '-c', 'write -P 0x71 0 200k', '-c', 'write -P 0x72 3M 64k',
         '-c', 'sigraise 9', 't.qcow2'], cwd=d, check=False)
    return True


QEMU_MADE = [('compressed (convert -c)', qm_compressed),
             ('zstd', qm_zstd), ('zero clusters', qm_zero),
             ('backing chain raw <- v3 4k <- v2', qm_chain),
             ('internal snapshots', qm_snapshots),
             ('v2, 512 byte clusters', qm_v2_small),
             ('2M clusters, 64 bit refcounts', qm_big_clusters),
             ('preallocation, 2 bit refcounts', qm_prealloc),
             ('dirty (lazy refcounts, killed)', qm_dirty)]


def qemu_made_one(a, name, make, wd, failures):
    """Every comparison for one kind of image; the failing ones are
    appended to failures (so that one gap does not hide the others)."""
    def attempt(fn, *args):
        try:
            fn(*args)
        except (Failure, subprocess.TimeoutExpired) as e:
            failures.append(str(e))

    sref, sours = sides(a, os.path.join(wd, re.sub(r'\W+', '-', name)))
    # Made twice rather than copied, so that the host file system layout
    # (which qemu-img map sees) is the same too.
    dirty = make(sref.dir)
    make(sours.dir)
    img_q, img_o = sref.path('t.qcow2'), sours.path('t.qcow2')
    same_file(img_q, img_o, 'QEMU-made %s: QEMU made two different files' %
              name)

    def content():
        size = info_json(REF_IMG, img_q)['virtual-size']
        want = dump(REF_IO, img_q, size)
        got = dump(a.ours_io, img_o, size)
        if got != want:
            first = next(i for i in range(size) if got[i] != want[i])
            raise Failure('QEMU-made %s: our qemu-io reads byte %d as '
                          '0x%02x, QEMU as 0x%02x' % (name, first, got[first],
                                                      want[first]))

    def img_cmd(argv):
        res = []
        for s in (sref, sours):
            out, err, rc = run([s.img, argv[0], '-f', 'qcow2', *argv[1:],
                                't.qcow2'], cwd=s.dir, check=False)
            out = '\n'.join(x for x in out.split('\n')
                            if not x.startswith('disk size:') and
                            '"actual-size"' not in x)
            res.append((out, err, rc))
        same_output('QEMU-made %s: qemu-img %s' % (name, ' '.join(argv)),
                    res[0], res[1], sref, sours)

    def repair():
        # A read-write open repairs the dirty image: both the same way.
        for s in (sref, sours):
            run([s.io, '-f', 'qcow2', '-c', 'flush', 't.qcow2'], cwd=s.dir)
        same_file(img_q, img_o, 'QEMU-made %s: after the repair' % name)
        qemu_check_clean(img_o, name)

    attempt(content)
    for argv in (['info', '--output=json'], ['info'], ['map'],
                 ['map', '--output=json'], ['check'],
                 ['check', '--output=json']):
        attempt(img_cmd, argv)
    attempt(same_file, img_q, img_o, 'QEMU-made %s: ours changed the file '
            'while reading' % name)
    if dirty:
        attempt(repair)


def test_qemu_made(a, wd):
    failures = []
    for name, make in QEMU_MADE:
        qemu_made_one(a, name, make, wd, failures)
    if failures:
        raise Failure('\n'.join(failures))
    print('qemu-made: %d kinds of QEMU-made images read the same through '
          'ours (content, info, map, check)' % len(QEMU_MADE))


TESTS = [('create', test_create), ('sequences', test_sequences),
         ('qemu-made', test_qemu_made)]


def check_prereqs(a):
    missing = [x for x in (REF_IO, REF_IMG) if not os.access(x, os.X_OK)]
    if not shutil.which('qcowinfo'):
        missing.append('qcowinfo (libqcow-utils)')
    if missing:
        print('missing: %s (scripts/install-deps.sh installs them)' %
              ', '.join(missing), file=sys.stderr)
        return False
    for prog in (a.ours_io, a.ours_img):
        if not os.access(prog, os.X_OK):
            print('%s: not an executable' % prog, file=sys.stderr)
            return False
    out, _, _ = run([a.ours_img, '--help'], check=False)
    if not re.search(r'^Supported formats:.*\bqcow2\b', out, re.M):
        print('FAILED: %s has no qcow2 driver (not in "Supported formats")'
              % a.ours_img, file=sys.stderr)
        return False
    return True


def run_tests(a, tests):
    failed = 0
    for name, fn in tests:
        wd = tempfile.mkdtemp(prefix='qcow2-interop-%s-' % name,
                              dir=a.workdir)
        try:
            fn(a, wd)
        except (Failure, subprocess.TimeoutExpired) as e:
            failed += 1
            print('%s: FAILED\n%s' % (name, e), flush=True)
        finally:
            if a.keep:
                print('kept %s' % wd)
            else:
                shutil.rmtree(wd, ignore_errors=True)
    return failed


def self_test(a):
    """QEMU against itself, then two injected differences."""
    a.ours_io, a.ours_img = REF_IO, REF_IMG
    if not check_prereqs(a):
        return 1
    failed = run_tests(a, TESTS)
    print('self-test: QEMU against itself: %d failed' % failed)
    ok = failed == 0
    wrap = tempfile.mkdtemp(prefix='qcow2-interop-wrap-', dir=a.workdir)
    try:
        # A qemu-io that flips a byte of the image after each run, and one
        # that changes its last output line.
        io_flip = os.path.join(wrap, 'flip-io')
        qemu_io_diff.write_wrapper(io_flip, (
            '%s "$@"\nst=$?\nfor f; do :; done\n'
            'printf "\\377" | dd of="$f" bs=1 seek=300 conv=notrunc '
            '2>/dev/null\nexit $st\n') % REF_IO)
        io_out = os.path.join(wrap, 'out-io')
        qemu_io_diff.write_wrapper(io_out, (
            '%s "$@" > %s/out\nst=$?\nsed -e \'$s/$/X/\' %s/out\nexit $st\n')
            % (REF_IO, wrap, wrap))
        for io, want in ((io_flip, 'files differ'), (io_out, 'ours stdout')):
            b = types.SimpleNamespace(**vars(a))
            b.ours_io, b.seeds = io, '0-1'
            wd = tempfile.mkdtemp(prefix='qcow2-interop-inj-', dir=a.workdir)
            try:
                test_sequences(b, wd)
                good = False
                msg = 'not detected'
            except Failure as e:
                good = want in str(e)
                msg = str(e).splitlines()[0]
            finally:
                shutil.rmtree(wd, ignore_errors=True)
            print('self-test %s: %s -> %s' % (os.path.basename(io), msg,
                                              'ok' if good else 'FAILED'))
            ok = ok and good
    finally:
        shutil.rmtree(wrap, ignore_errors=True)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--ours-io')
    p.add_argument('--ours-img')
    p.add_argument('--workdir')
    p.add_argument('--seeds', default='0-15')
    p.add_argument('--only', help='comma-separated test names (%s)' %
                   ', '.join(n for n, _ in TESTS))
    p.add_argument('--keep', action='store_true')
    p.add_argument('--self-test', action='store_true',
                   help='QEMU on both sides, plus injected differences')
    a = p.parse_args()
    if a.workdir:
        os.makedirs(a.workdir, exist_ok=True)
        a.workdir = os.path.abspath(a.workdir)
    if a.self_test:
        return self_test(a)
    if not a.ours_io or not a.ours_img:
        p.error('--ours-io and --ours-img are required')
    a.ours_io = os.path.abspath(a.ours_io)
    a.ours_img = os.path.abspath(a.ours_img)
    if not check_prereqs(a):
        return 1
    only = set(a.only.split(',')) if a.only else None
    failed = run_tests(a, [t for t in TESTS if not only or t[0] in only])
    print('%d failed' % failed)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
