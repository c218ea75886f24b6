#!/usr/bin/python3
#
# Differential test: run the same random (but seeded) qemu-io command
# sequences through QEMU 7.2's qemu-io and through ours, on identical
# images, and compare what they print, their exit statuses and the final
# guest content.
#
# Standard library only, so that the system /usr/bin/python3 is enough.
#
# Usage:
#   qemu_io_diff.py --ours-io BUILD/qemu-io --ours-img BUILD/qemu-img \
#       [--format raw] [--seeds 0-15]
#   qemu_io_diff.py --self-test      # harness check, QEMU on both sides

import argparse
import difflib
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile

REF_IO = '/usr/bin/qemu-io'
REF_IMG = '/usr/bin/qemu-img'
FORMATS = ('raw', 'qcow2', 'vmdk', 'vpc')
MAX_REQ = 2147483136        # BDRV_REQUEST_MAX_BYTES

STATS_RE = re.compile(
    r'[0-9]* ops; [0-9/:. sec]* \([0-9/.inf]* [EPTGMKiBbytes]*/sec and '
    r'[0-9/.inf]* ops/sec\)')
# -C statistics; in stdin mode prompts may precede them on the line
PARSEABLE_RE = re.compile(
    r'([0-9]+),([0-9]+),[0-9]+:[0-9]{2}:[0-9]{2}\.[0-9]{2},[0-9.inf]+,'
    r'[0-9.inf]+$', re.M)

CID_RE = re.compile(r'(cid: |"cid": )[0-9]+')


class Side:
    """One implementation under test: its binaries and its scratch dir."""

    def __init__(self, name, io, img, workdir):
        self.name = name
        self.io = io
        self.img = img
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)

    def image(self, fmt):
        return os.path.join(self.dir, 'test.' + fmt)

    def normalize(self, text, fmt):
        """Make output comparable between the two sides."""
        text = text.replace(self.image(fmt), 'IMG')
        text = text.replace(self.dir, 'DIR')
        # getopt prefixes its messages with argv[0] as given
        text = text.replace(self.io + ':', 'qemu-io:')
        text = text.replace(self.img + ':', 'qemu-img:')
        text = STATS_RE.sub('X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)',
                            text)
        text = PARSEABLE_RE.sub(r'\1,\2,TIME,RATE,RATE', text)
        # vmdk's content ID is random
        text = CID_RE.sub(r'\1XXXXXXXXXX', text)
        return text


class Model:
    """Expected guest content, only used to make reads interesting."""

    def __init__(self, size):
        self.data = bytearray(size)

    def write(self, off, data):
        end = min(off + len(data), len(self.data))
        if off < end:
            self.data[off:end] = data[:end - off]

    def resize(self, size):
        if size < len(self.data):
            del self.data[size:]
        else:
            self.data.extend(bytes(size - len(self.data)))

    def byte_at(self, off):
        return self.data[off] if off < len(self.data) else 0


class Generator:
    """Random qemu-io commands for one seed."""

    def __init__(self, seed, size, fmt):
        self.r = random.Random(seed)
        self.size = size
        self.fmt = fmt
        self.model = Model(size)

    # Offsets and lengths: aligned to 512/4k/64k, unaligned, or near the end
    def offset(self):
        r = self.r
        kind = r.random()
        if kind < 0.3:
            return r.randrange(0, self.size // 512) * 512
        if kind < 0.45:
            return r.randrange(0, self.size // 4096) * 4096
        if kind < 0.55:
            return r.randrange(0, self.size // 65536) * 65536
        if kind < 0.9:
            return r.randrange(0, self.size)
        return self.size - r.randrange(0, 4096)

    def length(self):
        r = self.r
        kind = r.random()
        if kind < 0.3:
            return r.randrange(1, 129) * 512
        if kind < 0.4:
            return r.randrange(1, 17) * 4096
        if kind < 0.45:
            return 0
        if kind < 0.5:
            return 65536 * r.randrange(1, 5)
        return r.randrange(1, 70000)

    def number(self, n):
        """Spell a number in one of the ways cvtnum accepts."""
        r = self.r
        kind = r.random()
        if kind < 0.6:
            return str(n)
        if kind < 0.75:
            return hex(n)
        for suffix, mult in (('M', 1 << 20), ('k', 1 << 10)):
            if n and n % mult == 0:
                return f'{n // mult}{r.choice([suffix, suffix.lower()])}'
        if n % 512 == 0 and n:
            return f'{n}b'
        return str(n)

    def pattern(self):
        return self.r.randrange(0, 256)

    def spell_pattern(self, p):
        return self.r.choice([str(p), hex(p), '0' + oct(p)[2:]])

    def expected_pattern(self, off, length):
        """The pattern a read should check for: usually what the model
        holds at off (right when the range is uniform), sometimes a wrong
        one, so that both outcomes occur."""
        if self.r.random() < 0.2:
            return self.pattern()
        return self.model.byte_at(off)

    def cmd_write(self):
        r = self.r
        off, length = self.offset(), self.length()
        flags = []          # options, each with its argument if any
        if r.random() < 0.2:
            flags.append('-q')
        if r.random() < 0.1:
            flags.append('-f')
        if r.random() < 0.05:
            flags.append('-C')
        if r.random() < 0.2:
            flags.append('-z')
            if r.random() < 0.4:
                flags.append('-u')
            self.model.write(off, bytes(length))
        else:
            p = self.pattern()
            flags.append('-P ' + self.spell_pattern(p))
            self.model.write(off, bytes([p]) * length)
        r.shuffle(flags)
        name = r.choice(['write', 'write', 'w'])
        pos = [self.number(off), self.number(length)]
        if r.random() < 0.1:
            # options may follow the positional arguments
            return ' '.join([name] + pos + flags)
        return ' '.join([name] + flags + pos)

    def cmd_read(self):
        r = self.r
        off, length = self.offset(), self.length()
        flags = []
        if r.random() < 0.7:
            flags += ['-P', hex(self.expected_pattern(off, length))]
            if r.random() < 0.15 and length > 2:
                s = r.randrange(0, length // 2)
                flags += ['-s', str(s), '-l', str(r.randrange(0, length - s))]
        if r.random() < 0.2:
            flags.append('-q')
        if r.random() < 0.08 and length <= 64:
            flags.append('-v')
        if r.random() < 0.05:
            flags.append('-C')
        name = r.choice(['read', 'read', 'r'])
        return ' '.join([name] + flags + [self.number(off),
                                           self.number(length)])

    def lengths(self):
        return [self.r.randrange(1, 9000) for _ in
                range(self.r.randrange(1, 5))]

    def cmd_writev(self):
        off, lens = self.offset(), self.lengths()
        p = self.pattern()
        self.model.write(off, bytes([p]) * sum(lens))
        q = ' -q' if self.r.random() < 0.2 else ''
        return f'writev{q} -P {p} {off} ' + ' '.join(map(str, lens))

    def cmd_readv(self):
        off, lens = self.offset(), self.lengths()
        p = self.expected_pattern(off, sum(lens))
        return f'readv -P {p} {off} ' + ' '.join(map(str, lens))

    def cmd_aio(self):
        """One aio request and its aio_flush: with a single request in
        flight the completion order is fixed."""
        r = self.r
        off, length = self.offset(), self.length()
        if r.random() < 0.5:
            if r.random() < 0.25:
                u = ' -u' if r.random() < 0.5 else ''
                self.model.write(off, bytes(length))
                return [f'aio_write -z{u} {off} {length}', 'aio_flush']
            p = self.pattern()
            self.model.write(off, bytes([p]) * length)
            return [f'aio_write -P {p} {off} {length}', 'aio_flush']
        p = self.expected_pattern(off, length)
        return [f'aio_read -P {p} {off} {length}', 'aio_flush']

    def cmd_discard(self):
        # Only aligned discards change the model: what an unaligned discard
        # leaves behind depends on the driver; both sides must still agree.
        off = self.r.randrange(0, self.size // 65536) * 65536
        length = 65536 * self.r.randrange(1, 4)
        if self.fmt == 'raw':
            self.model.write(off, bytes(length))
        return f'discard {off} {length}'

    def cmd_misc(self):
        r = self.r
        return r.choice([
            'flush', 'f', 'length', 'l', 'map', 'info',
            f'alloc {self.offset()}',
            f'alloc {self.offset()} {self.length()}',
            f'a {self.number(self.offset())}',
        ])

    def cmd_truncate(self):
        size = self.size + self.r.choice([0, 512, 4096, 65536, -65536])
        self.size = size
        self.model.resize(size)
        return f'truncate {size}'

    def cmd_invalid(self):
        r = self.r
        size = self.size
        return r.choice([
            f'read {size} 1', f'write {size + 512} 512',
            f'read {size - 1} 2', f'write -z {size} 1',
            f'discard {size} 65536', f'aio_read {size} 1',
            'read 0 3G', 'write 0 3G', 'readv 0 2G', 'writev 0 1G 1G 1G',
            'read 1x 1', 'write 0 -1', 'read 0x 1', 'alloc 1.5',
            'write -P 0x100 0 1', 'read -P -1 0 1', 'write -n 0 1',
            'write -u 0 1', 'write -z -P 1 0 1', 'write -b -z 0 512',
            'write -f -c 0 512', 'read -x 0 1', 'write -x 0 1',
            'read 0', 'write', 'alloc', 'map 1', 'length 1',
            'flush now', 'foo', 'READ 0 1', 'read -l 1 0 1',
            'read -P 1 -s 2 0 1', 'aio_write -z 0 1 1',
            'truncate -m foo 1M', 'sleep x', 'help xyz',
        ])

    def command(self):
        r = self.r
        kind = r.random()
        if kind < 0.25:
            return [self.cmd_write()]
        if kind < 0.45:
            return [self.cmd_read()]
        if kind < 0.52:
            return [self.cmd_writev()]
        if kind < 0.58:
            return [self.cmd_readv()]
        if kind < 0.68:
            return self.cmd_aio()
        if kind < 0.73:
            return [self.cmd_discard()]
        if kind < 0.83:
            return [self.cmd_misc()]
        if kind < 0.85 and self.fmt == 'raw':
            return [self.cmd_truncate()]
        cmd = self.cmd_invalid()
        if cmd.startswith('aio_'):
            return [cmd, 'aio_flush']
        return [cmd]

    def invocation(self):
        """(mode, commands) for one qemu-io process."""
        cmds = []
        for _ in range(self.r.randrange(1, 10)):
            cmds += self.command()
        mode = 'stdin' if self.r.random() < 0.2 else 'cmd'
        return mode, cmds


def run(argv, stdin=None):
    p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120,
                       env=dict(os.environ, LC_ALL='C', LANG='C'))
    return (p.stdout.decode('utf-8', 'replace'),
            p.stderr.decode('utf-8', 'replace'), p.returncode)


def run_io(side, fmt, mode, cmds):
    argv = [side.io, '--cache', 'writeback', '--aio', 'threads', '-f', fmt]
    if mode == 'cmd':
        for c in cmds:
            argv += ['-c', c]
        argv.append(side.image(fmt))
        return run(argv)
    argv.append(side.image(fmt))
    return run(argv, stdin=''.join(c + '\n' for c in cmds).encode())


class Mismatch(Exception):
    pass


def compare(what, ref, ours, fmt, sides):
    out = []
    names = ('stdout', 'stderr')
    for i, name in enumerate(names):
        a = sides[0].normalize(ref[i], fmt)
        b = sides[1].normalize(ours[i], fmt)
        if a != b:
            diff = difflib.unified_diff(a.splitlines(), b.splitlines(),
                                        f'reference {name}', f'ours {name}',
                                        lineterm='')
            out.append('\n'.join(diff))
    if ref[2] != ours[2]:
        out.append(f'exit status: reference {ref[2]}, ours {ours[2]}')
    if out:
        raise Mismatch(f'{what}:\n' + '\n'.join(out))


def compare_content(sides, fmt, ref_img):
    a, b = sides[0].image(fmt), sides[1].image(fmt)
    if fmt == 'raw':
        with open(a, 'rb') as fa, open(b, 'rb') as fb:
            da, db = fa.read(), fb.read()
        if da != db:
            first = next((i for i in range(min(len(da), len(db)))
                          if da[i] != db[i]), min(len(da), len(db)))
            raise Mismatch(f'final content differs (sizes {len(da)} and '
                           f'{len(db)}, first difference at byte {first})')
        return
    # QEMU's qemu-img reads both images: this also proves that QEMU can
    # read what we wrote.
    out, err, rc = run([ref_img, 'compare', '-f', fmt, '-F', fmt, a, b])
    if rc != 0:
        raise Mismatch(f'qemu-img compare: exit {rc}\n{out}{err}')
    if fmt == 'qcow2':
        out, err, rc = run([ref_img, 'check', '-f', fmt, b])
        if rc != 0:
            raise Mismatch(f'qemu-img check of our image: exit {rc}\n'
                           f'{out}{err}')


def run_seed(seed, args, sides, log, post_hook=None):
    fmt = args.format
    gen = Generator(seed, args.size, fmt)
    results = []
    for side in sides:
        img = side.image(fmt)
        if os.path.exists(img):
            os.unlink(img)
        results.append(run([side.img, 'create', '-f', fmt, img,
                            str(args.size)]))
    compare(f'seed {seed}: qemu-img create', results[0], results[1], fmt,
            sides)

    for n in range(args.invocations):
        mode, cmds = gen.invocation()
        log.append(f'seed {seed} run {n} ({mode}): ' + ' ; '.join(cmds))
        ref = run_io(sides[0], fmt, mode, cmds)
        ours = run_io(sides[1], fmt, mode, cmds)
        compare(f'seed {seed}, run {n} ({mode}): {cmds}', ref, ours, fmt,
                sides)
    if post_hook:
        post_hook(sides, fmt)
    compare_content(sides, fmt, args.ref_img)


def parse_seeds(spec):
    seeds = []
    for part in spec.split(','):
        if '-' in part:
            a, b = part.split('-', 1)
            seeds += range(int(a), int(b) + 1)
        elif part:
            seeds.append(int(part))
    return seeds


def differential(args, ours_io, ours_img, quiet=False, post_hook=None):
    """Returns the list of failure messages (empty if all seeds agree)."""
    workdir = tempfile.mkdtemp(prefix='qblock-interop-', dir=args.workdir)
    sides = [Side('ref', args.ref_io, args.ref_img, workdir),
             Side('ours', ours_io, ours_img, workdir)]
    failures = []
    try:
        for seed in parse_seeds(args.seeds):
            log = []
            try:
                run_seed(seed, args, sides, log, post_hook)
                if not quiet:
                    print(f'seed {seed}: ok ({len(log)} qemu-io runs)',
                          flush=True)
            except (Mismatch, subprocess.TimeoutExpired) as e:
                failures.append(str(e))
                if not quiet:
                    print(f'seed {seed}: MISMATCH\n{e}', flush=True)
                    if args.verbose:
                        print('\n'.join(log))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f'kept {workdir}')
    return failures


def write_wrapper(path, body):
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n' + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def self_test(args):
    """QEMU against itself must agree; injected differences must be found,
    each by the comparison meant to find it."""
    ok = True

    def expect(name, failures, want):
        """want: None for no failure, else a text every failure contains."""
        nonlocal ok
        if want is None:
            good = not failures
        else:
            good = bool(failures) and all(want in f for f in failures)
        ok = ok and good
        verdict = 'ok' if good else 'FAILED'
        print(f'self-test {name}: {len(failures)} mismatching seed(s) -> '
              f'{verdict}', flush=True)
        if not good:
            for f in failures:
                print(f)

    failures = differential(args, args.ref_io, args.ref_img)
    expect('reference vs reference', failures, None)

    tmp = tempfile.mkdtemp(prefix='qblock-interop-wrap-', dir=args.workdir)
    out = os.path.join(tmp, 'out')
    try:
        # Each wrapper runs the reference qemu-io and changes one thing.
        wrappers = {
            'altered stdout line': ('ours stdout', (
                f'{args.ref_io} "$@" > {out}\nst=$?\n'
                f'sed -e \'$s/$/X/\' {out}\nexit $st\n')),
            'altered stderr line': ('ours stderr', (
                f'{args.ref_io} "$@" 2> {out}\nst=$?\n'
                f'sed -e \'1s/^/X/\' {out} >&2\nexit $st\n')),
            'altered exit status': ('exit status', (
                f'{args.ref_io} "$@"\nst=$?\n'
                f'[ $st -eq 1 ] && exit 0\nexit $st\n')),
        }
        for name, (want, body) in wrappers.items():
            path = os.path.join(tmp, 'qemu-io')
            write_wrapper(path, body)
            failures = differential(args, path, args.ref_img, quiet=True)
            expect(name, failures, want)

        # Change one byte of our image after the last run: only the final
        # content comparison can see it.
        def corrupt(sides, fmt):
            img = sides[1].image(fmt)
            with open(img, 'r+b') as f:
                f.seek(7)
                b = f.read(1)
                f.seek(7)
                f.write(bytes([b[0] ^ 0xff]))

        failures = differential(args, args.ref_io, args.ref_img, quiet=True,
                                post_hook=corrupt)
        expect('altered guest content', failures, 'content differs')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__ or 'qemu-io diff test')
    p.add_argument('--ours-io', help='our qemu-io')
    p.add_argument('--ours-img', help='our qemu-img')
    p.add_argument('--ref-io', default=REF_IO,
                   help=f'reference qemu-io (default {REF_IO})')
    p.add_argument('--ref-img', default=REF_IMG,
                   help=f'reference qemu-img (default {REF_IMG})')
    p.add_argument('--format', default='raw', choices=FORMATS)
    p.add_argument('--seeds', default='0-9',
                   help='seeds, e.g. "0-9" or "1,5,7" (default 0-9)')
    p.add_argument('--invocations', type=int, default=8,
                   help='qemu-io processes per seed (default 8)')
    p.add_argument('--size', type=int, default=4 << 20,
                   help='image size in bytes (default 4 MiB)')
    p.add_argument('--workdir', help='where scratch directories go')
    p.add_argument('--keep', action='store_true',
                   help='keep the scratch directory')
    p.add_argument('-v', '--verbose', action='store_true',
                   help='print the command log of failing seeds')
    p.add_argument('--self-test', action='store_true',
                   help='check the harness with QEMU on both sides')
    args = p.parse_args()

    for prog in (args.ref_io, args.ref_img):
        if not os.access(prog, os.X_OK):
            print(f'{prog}: reference binary missing (install qemu-utils)',
                  file=sys.stderr)
            return 1
    if args.self_test:
        return self_test(args)
    if not args.ours_io or not args.ours_img:
        p.error('--ours-io and --ours-img are required')
    failures = differential(args, os.path.abspath(args.ours_io),
                            os.path.abspath(args.ours_img))
    print(f'{len(parse_seeds(args.seeds)) - len(failures)} seeds agree, '
          f'{len(failures)} differ')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
