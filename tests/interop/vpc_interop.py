#!/usr/bin/python3
#
# vpc interoperability with QEMU 7.2 and libvhdi, in both directions:
#
#   create     images we create are QEMU's byte for byte (except the
#              timestamp, checksum and UUID of the footer copies), QEMU's
#              qemu-img info agrees, vhdiinfo reads them
#   qemu-made  images QEMU creates and writes read identically through us
#              (content and qemu-img map)
#   foreign    images in other tools' styles (tests/vpc/vhdgen.py) read the
#              same through us and through QEMU
#   sequences  random qemu-io sequences on dynamic and fixed images, ours
#              against QEMU's (tests/interop/qemu_io_diff.py), then the
#              two files compared byte for byte (same masks)
#   diff-ours  differencing chains we create and write are read correctly
#              by python3-libvhdi (pyvhdi, set_parent) and vhdiinfo
#   diff-gen   differencing images built from the spec, one per locator
#              kind, read through us as the reference reader and pyvhdi
#              read them
#   killed     an image whose writer was killed (space reserved behind the
#              last block, see docs/vpc.rst) still reads correctly through
#              QEMU and us; the next clean close gives QEMU's layout back
#
# Needs /usr/bin/qemu-io, /usr/bin/qemu-img, vhdiinfo and the pyvhdi module
# of Debian's /usr/bin/python3; a missing one is a failure, not a skip.
#
# Usage: vpc_interop.py --ours-io BUILD/qemu-io --ours-img BUILD/qemu-img
#            [--workdir DIR] [--seeds 0-15] [--only NAME,...]

import argparse
import json
import os
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

REF_IO = '/usr/bin/qemu-io'
REF_IMG = '/usr/bin/qemu-img'
MiB = 1024 * 1024

# Footer bytes that are random or time-dependent: timestamp, checksum, UUID.
MASKED = list(range(24, 28)) + list(range(64, 84))


class Failure(Exception):
    pass


def run(argv, cwd=None, check=True):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE,
                       env=dict(os.environ, LC_ALL='C', LANG='C'))
    out = p.stdout.decode('utf-8', 'replace')
    err = p.stderr.decode('utf-8', 'replace')
    if check and p.returncode:
        raise Failure('%s: exit %d\n%s%s' % (' '.join(argv), p.returncode,
                                            out, err))
    return out, err, p.returncode


def masked(path):
    """The file with the random footer fields zeroed in both copies."""
    with open(path, 'rb') as f:
        b = bytearray(f.read())
    copies = [len(b) - 512]
    if b[:8] == b'conectix':
        copies.append(0)
    for base in copies:
        for i in MASKED:
            b[base + i] = 0
    return bytes(b)


def same_file(a, b, what):
    da, db = masked(a), masked(b)
    if da != db:
        first = next((i for i in range(min(len(da), len(db)))
                      if da[i] != db[i]), min(len(da), len(db)))
        raise Failure('%s: files differ (sizes %d and %d, first difference '
                      'at byte %d)' % (what, len(da), len(db), first))


def info_json(img_prog, path, fmt='vpc'):
    out, _, _ = run([img_prog, 'info', '-f', fmt, '--output=json', path])
    info = json.loads(out)
    for k in ('filename', 'actual-size'):
        info.pop(k, None)
    return info


def dump(qemu_io, path, size, opts=()):
    """Guest content through qemu-io 'read -v'."""
    out = bytearray(size)
    step = 4 * MiB
    for start in range(0, size, step):
        n = min(step, size - start)
        o, _, _ = run([qemu_io, '-f', 'vpc', *opts, '-c',
                       'read -v %d %d' % (start, n), path])
        vhdgen.parse_read_v(o, out)
    return bytes(out)


def check_content(qemu_io, path, want, what, opts=()):
    """qemu-io must read want from path: uniform 64 KiB chunks with
    read -P, the others dumped and compared."""
    chunk = 64 * 1024
    argv = [qemu_io, '-r', '-f', 'vpc', *opts]
    dumped = []
    for off in range(0, len(want), chunk):
        w = want[off:off + chunk]
        if w.count(w[:1]) == len(w):
            argv += ['-c', 'read -P 0x%02x %d %d' % (w[0], off, len(w))]
        else:
            argv += ['-c', 'read -v %d %d' % (off, len(w))]
            dumped.append(off)
    out, err, rc = run(argv + [path], check=False)
    if rc or err or 'Pattern verification failed' in out:
        m = re.search(r'Pattern verification failed at offset (\d+)', out)
        raise Failure('%s: content differs%s\n%s' % (
            what, ' at %s' % m.group(1) if m else '', err))
    got = bytearray(len(want))
    vhdgen.parse_read_v(out, got)
    for off in dumped:
        if got[off:off + chunk] != want[off:off + chunk]:
            raise Failure('%s: content differs in the 64 KiB at %d' %
                          (what, off))


def pyvhdi_read(path, parents):
    """Guest content as libvhdi reads it, parents given explicitly
    (4 KiB reads: libvhdi 20210425 misreads long ones over partial
    bitmaps)."""
    script = r'''
import pyvhdi, sys
files = []
for p in sys.argv[2:]:
    f = pyvhdi.file()
    f.open(p)
    files.append(f)
top = pyvhdi.file()
top.open(sys.argv[1])
chain = [top] + files
for child, parent in zip(chain, chain[1:]):
    child.set_parent(parent)
size = top.get_media_size()
out = sys.stdout.buffer
for off in range(0, size, 4096):
    top.seek_offset(off, 0)
    out.write(top.read_buffer(min(4096, size - off)))
'''
    p = subprocess.run(['/usr/bin/python3', '-c', script, path, *parents],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode:
        raise Failure('pyvhdi failed on %s: %s' % (path, p.stderr.decode()))
    return p.stdout


def vhdiinfo(path):
    out, _, _ = run(['vhdiinfo', path])
    fields = {}
    for line in out.splitlines():
        if ':' in line:
            k, v = line.split(':', 1)
            fields[k.strip()] = v.strip()
    return fields


def footer_uuid(path):
    with open(path, 'rb') as f:
        head = f.read(512)
    if head[:8] != b'conectix':
        with open(path, 'rb') as f:
            f.seek(-512, 2)
            head = f.read(512)
    import uuid
    return str(uuid.UUID(bytes=head[68:84]))


# ---- Tests ----

CREATE_CASES = [
    ([], '64M'),
    ([], '10M'),
    ([], '0'),
    ([], '1000'),
    ([], '127G'),
    ([], '1T'),
    (['-o', 'subformat=fixed'], '10M'),
    (['-o', 'subformat=fixed'], '1000'),
    (['-o', 'force_size=on'], '64M'),
    (['-o', 'force_size=on'], '513'),
    (['-o', 'subformat=fixed,force_size=on'], '10M'),
]


def test_create(a, wd):
    for opts, size in CREATE_CASES:
        what = 'create %s %s' % (' '.join(opts), size)
        q = os.path.join(wd, 'q.vhd')
        o = os.path.join(wd, 'o.vhd')
        for f in (q, o):
            if os.path.exists(f):
                os.unlink(f)
        run([REF_IMG, 'create', '-q', '-f', 'vpc', *opts, q, size])
        run([a.ours_img, 'create', '-q', '-f', 'vpc', *opts, o, size])
        same_file(q, o, what)
        if info_json(REF_IMG, q) != info_json(REF_IMG, o):
            raise Failure('%s: QEMU\'s qemu-img info differs' % what)
        if info_json(a.ours_img, o) != info_json(REF_IMG, o):
            raise Failure('%s: our qemu-img info differs from QEMU\'s' %
                          what)
        if size in ('0', '1T'):
            continue    # libvhdi refuses empty images; 1T is slow
        v = vhdiinfo(o)
        want_type = 'Fixed' if 'subformat=fixed' in ' '.join(opts) \
            else 'Dynamic'
        vsize = info_json(REF_IMG, o)['virtual-size']
        if v.get('Disk type') != want_type or \
                '(%d bytes)' % vsize not in v.get('Media size', ''):
            raise Failure('%s: vhdiinfo says %r' % (what, v))
    print('create: %d cases byte-identical to QEMU\'s' % len(CREATE_CASES))


QEMU_WRITES = ['write -P 0x11 0 64k', 'write -P 0x22 2047k 2k',
               'write -P 0x33 100000 12345', 'write -P 0x44 5M 1',
               'writev -P 0x55 7M 512 1k 3k', 'write -z 9M 64k',
               'write -P 0x66 12M 3M', 'aio_write -P 0x77 6M 4k',
               'aio_flush', 'discard 0 4k']


def test_qemu_made(a, wd):
    for opts in ([], ['-o', 'subformat=fixed'],
                 ['-o', 'force_size=on']):
        img = os.path.join(wd, 'qm.vhd')
        if os.path.exists(img):
            os.unlink(img)
        run([REF_IMG, 'create', '-q', '-f', 'vpc', *opts, img, '16M'])
        argv = [REF_IO, '-f', 'vpc']
        for c in QEMU_WRITES:
            argv += ['-c', c]
        run(argv + [img])
        size = info_json(REF_IMG, img)['virtual-size']
        want = dump(REF_IO, img, size)
        what = 'QEMU-made %s' % ' '.join(opts)
        check_content(a.ours_io, img, want, what)
        if 'subformat=fixed' not in opts:
            out_q, _, _ = run([REF_IMG, 'map', '-f', 'vpc', '--output=json',
                               img])
            out_o, _, _ = run([a.ours_img, 'map', '-f', 'vpc',
                               '--output=json', img])
            if out_q != out_o:
                raise Failure('%s: qemu-img map differs' % what)
        if info_json(a.ours_img, img) != info_json(REF_IMG, img):
            raise Failure('%s: qemu-img info differs' % what)
    print('qemu-made: dynamic, fixed and force_size images read as QEMU '
          'reads them')


def test_foreign(a, wd):
    kinds = ['vpc', 'vpc-512k', 'vbox', 'hyperv', 'hyperv-512k', 'd2v',
             'fixed-win', 'fixed-vpc']
    for kind in kinds:
        img = os.path.join(wd, 'f.vhd')
        vhdgen.foreign(kind, img)
        qi = info_json(REF_IMG, img)
        if info_json(a.ours_img, img) != qi:
            raise Failure('foreign %s: qemu-img info differs' % kind)
        size = min(qi['virtual-size'], 16 * MiB)
        want = dump(REF_IO, img, size)
        check_content(a.ours_io, img, want, 'foreign %s' % kind)
        ref = vhdgen.VHDReader(img)
        if ref.read(0, size) != want:
            raise Failure('foreign %s: QEMU and the reference reader '
                          'disagree' % kind)
    print('foreign: %d styles read as QEMU reads them' % len(kinds))


def test_sequences(a, wd):
    """qemu_io_diff's random sequences, then the files themselves."""
    wrap = tempfile.mkdtemp(prefix='wrap-', dir=wd)

    def post_hook(sides, fmt):
        same_file(sides[0].image(fmt), sides[1].image(fmt),
                  'image files after the sequences')

    failures = []
    for sub in ('dynamic', 'fixed'):
        ref_img, ours_img = REF_IMG, a.ours_img
        if sub == 'fixed':
            # qemu_io_diff creates images plainly; add the subformat.
            ref_img = os.path.join(wrap, 'ref-qemu-img')
            ours_img = os.path.join(wrap, 'ours-qemu-img')
            for path, prog in ((ref_img, REF_IMG), (ours_img, a.ours_img)):
                qemu_io_diff.write_wrapper(path, (
                    'if [ "$1" = create ]; then shift; exec %s create '
                    '-o subformat=fixed "$@"; fi\nexec %s "$@"\n') %
                    (prog, prog))
        args = types.SimpleNamespace(
            format='vpc', seeds=a.seeds, invocations=8, size=8 * MiB,
            workdir=wd, keep=False, verbose=True, ref_io=REF_IO,
            ref_img=ref_img)
        f = qemu_io_diff.differential(args, a.ours_io, ours_img, quiet=True,
                                      post_hook=post_hook)
        if f:
            failures += ['%s: %s' % (sub, x) for x in f]
    if failures:
        raise Failure('\n'.join(failures))
    print('sequences: seeds %s agree on dynamic and fixed images (output, '
          'content and files)' % a.seeds)


def test_diff_ours(a, wd):
    """A chain made by our qemu-img, written by our qemu-io (whole 4 KiB
    runs), read by libvhdi and the reference reader."""
    d = os.path.join(wd, 'chain')
    os.makedirs(d)
    base, mid, top = (os.path.join(d, n) for n in
                      ('base.vhd', 'mid.vhd', 'top.vhd'))
    run([a.ours_img, 'create', '-q', '-f', 'vpc', base, '16M'])
    run([a.ours_io, '-f', 'vpc', '-c', 'write -P 0x11 0 4M', '-c',
         'write -P 0x12 8M 1M', base])
    run([a.ours_img, 'create', '-q', '-f', 'vpc', '-b', 'base.vhd', '-F',
         'vpc', 'mid.vhd'], cwd=d)
    run([a.ours_io, '-f', 'vpc', '-c', 'write -P 0x21 1M 64k', '-c',
         'write -P 0x22 6M 8k', '-c', 'write -P 0x23 2044k 8k', mid])
    run([a.ours_img, 'create', '-q', '-f', 'vpc', '-b', 'mid.vhd', '-F',
         'vpc', 'top.vhd'], cwd=d)
    run([a.ours_io, '-f', 'vpc', '-c', 'write -P 0x31 1056k 4k', '-c',
         'write -P 0x33 15M 1M', '-c', 'write -P 0x34 12M 4k', top])

    for img, parents in ((mid, [base]), (top, [mid, base])):
        name = os.path.basename(img)
        ref = vhdgen.VHDReader(img)
        want = ref.read(0, ref.size)
        got = pyvhdi_read(img, parents)
        if got != want:
            first = next(i for i in range(len(want)) if got[i] != want[i])
            raise Failure('diff-ours %s: pyvhdi reads byte %d as 0x%02x, '
                          'the reference 0x%02x' % (name, first, got[first],
                                                    want[first]))
        check_content(a.ours_io, img, want, 'diff-ours %s' % name)
        v = vhdiinfo(img)
        if v.get('Disk type') != 'Differential' or \
                v.get('Parent identifier') != footer_uuid(parents[0]) or \
                v.get('Parent filename') != os.path.basename(parents[0]):
            raise Failure('diff-ours %s: vhdiinfo says %r' % (name, v))
    print('diff-ours: a 3-level chain made by us reads the same through '
          'libvhdi, the reference reader and us; vhdiinfo names the '
          'parents')


def test_diff_generated(a, wd):
    cases = [('W2ku', 'sectors', []), ('W2ru', 'bytes', ['end']),
             ('Wi2k', 'sectors', []), ('Wi2r', 'bytes', []),
             ('MacX', 'sectors', ['end'])]
    for code, space, extra in cases:
        for aligned in (False, True):
            d = os.path.join(wd, 'gen-%s-%d' % (code, aligned))
            vhdgen.diff_pair(code, d, data_space=space,
                             locators_at_end='end' in extra, aligned=aligned)
            child = os.path.join(d, 'child.vhd')
            parent = os.path.join(d, 'parent.vhd')
            ref = vhdgen.VHDReader(child)
            want = ref.read(0, ref.size)
            check_content(a.ours_io, child, want,
                          'diff-gen %s%s' % (code,
                                             ' aligned' if aligned else ''))
            if aligned:
                got = pyvhdi_read(child, [parent])
                if got != want:
                    raise Failure('diff-gen %s: pyvhdi disagrees with the '
                                  'reference reader' % code)
    print('diff-gen: %d generated differencing images (W2ku, W2ru, Wi2k, '
          'Wi2r, MacX) read as the reference reader and pyvhdi read them' %
          (2 * len(cases)))


def test_killed(a, wd):
    img = os.path.join(wd, 'k.vhd')
    ref = os.path.join(wd, 'k-ref.vhd')
    for path, io in ((img, a.ours_io), (ref, REF_IO)):
        run([REF_IMG, 'create', '-q', '-f', 'vpc', path, '64M'])
        out, err, rc = run([io, '-f', 'vpc', '-c', 'write -P 0x11 0 3M',
                            '-c', 'write -P 0x22 10M 64k', '-c',
                            'write -P 0x33 30M 1M', '-c', 'sigraise 9', path],
                           check=False)
        if rc != -9:
            raise Failure('killed: qemu-io exit %d\n%s%s' % (rc, out, err))
    if os.path.getsize(img) <= os.path.getsize(ref):
        raise Failure('killed: no space reserved behind the last block')
    size = info_json(REF_IMG, ref)['virtual-size']
    want = dump(REF_IO, ref, size)
    check_content(REF_IO, img, want, 'killed (read by QEMU)')
    check_content(a.ours_io, img, want, 'killed (read by us)')
    # The next writer allocates behind the last block, then closes.
    for path, io in ((img, a.ours_io), (ref, REF_IO)):
        run([io, '-f', 'vpc', '-c', 'write -P 0x44 40M 64k', path])
    same_file(ref, img, 'killed, then written and closed')
    print('killed: readable by QEMU and us after SIGKILL; QEMU\'s layout '
          'after the next close')


TESTS = [('create', test_create), ('qemu-made', test_qemu_made),
         ('foreign', test_foreign), ('sequences', test_sequences),
         ('diff-ours', test_diff_ours), ('diff-gen', test_diff_generated),
         ('killed', test_killed)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--ours-io', required=True)
    p.add_argument('--ours-img', required=True)
    p.add_argument('--workdir')
    p.add_argument('--seeds', default='0-15')
    p.add_argument('--only', help='comma-separated test names')
    p.add_argument('--keep', action='store_true')
    a = p.parse_args()
    a.ours_io = os.path.abspath(a.ours_io)
    a.ours_img = os.path.abspath(a.ours_img)

    missing = [x for x in (REF_IO, REF_IMG, shutil.which('vhdiinfo'))
               if not x or not os.access(x, os.X_OK)]
    if subprocess.run(['/usr/bin/python3', '-c', 'import pyvhdi'],
                      stderr=subprocess.DEVNULL).returncode:
        missing.append('python3-libvhdi (pyvhdi)')
    if missing:
        print('missing: %s (scripts/install-deps.sh installs them)' %
              ', '.join(str(m) for m in missing), file=sys.stderr)
        return 1

    if a.workdir:
        os.makedirs(a.workdir, exist_ok=True)
    only = set(a.only.split(',')) if a.only else None
    failed = 0
    for name, fn in TESTS:
        if only and name not in only:
            continue
        wd = tempfile.mkdtemp(prefix='vpc-interop-%s-' % name,
                              dir=a.workdir)
        try:
            fn(a, wd)
        except Failure as e:
            failed += 1
            print('%s: FAILED\n%s' % (name, e))
        finally:
            if not a.keep:
                shutil.rmtree(wd, ignore_errors=True)
    print('%d failed' % failed)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
