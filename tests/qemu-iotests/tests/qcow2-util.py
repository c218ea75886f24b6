#!/usr/bin/python3
#
# Reads and edits qcow2 metadata for the qcow2-* iotests, written from the
# format specification (docs/interop/qcow2.txt of QEMU): the header fields
# and their offsets, header extensions, L1/L2 entries and refcounts.  It is
# an independent reader: it never runs qemu-img or qemu-io.
#
# Usage: qcow2-util.py IMAGE COMMAND [ARGS...]
#   dump-header                   every header field, one per line
#   set-header FIELD VALUE        write a header field (value in C syntax)
#   set-feature-bit KIND BIT      set bit BIT of incompatible/compatible/
#                                 autoclear features (KIND: incompat, compat,
#                                 autoclear)
#   dump-exts                     the header extension list
#   add-ext TYPE DATA             append an extension (before the end mark)
#   add-feature-name KIND BIT NAME  append a feature name table extension
#                                 with this one entry (KIND as above)
#   poke OFFSET FMT VALUE         struct.pack(FMT, VALUE) at OFFSET
#   l1-entry INDEX                the L1 entry, in hex
#   l2-entry GUEST_OFFSET         the L2 entry mapping GUEST_OFFSET, in hex
#   set-l2-entry GUEST_OFFSET VALUE
#   l2-offset GUEST_OFFSET        host offset of the L2 table entry itself
#   refcount CLUSTER_INDEX        the refcount of a host cluster

import struct
import sys

# (name, offset, struct format); fields from byte 72 on exist in version 3
HEADER_FIELDS = [
    ('magic', 0, '>I'),
    ('version', 4, '>I'),
    ('backing_file_offset', 8, '>Q'),
    ('backing_file_size', 16, '>I'),
    ('cluster_bits', 20, '>I'),
    ('size', 24, '>Q'),
    ('crypt_method', 32, '>I'),
    ('l1_size', 36, '>I'),
    ('l1_table_offset', 40, '>Q'),
    ('refcount_table_offset', 48, '>Q'),
    ('refcount_table_clusters', 56, '>I'),
    ('nb_snapshots', 60, '>I'),
    ('snapshot_offset', 64, '>Q'),
    ('incompatible_features', 72, '>Q'),
    ('compatible_features', 80, '>Q'),
    ('autoclear_features', 88, '>Q'),
    ('refcount_order', 96, '>I'),
    ('header_length', 100, '>I'),
    ('compression_type', 104, '>B'),
]
V2_HEADER_LENGTH = 72

FEATURE_FIELDS = {'incompat': 'incompatible_features',
                  'compat': 'compatible_features',
                  'autoclear': 'autoclear_features'}

EXT_NAMES = {
    0xe2792aca: 'backing file format name',
    0x6803f857: 'feature name table',
    0x23852875: 'bitmaps',
    0x0537be77: 'full disk encryption header pointer',
    0x44415441: 'external data file name',
}

OFFSET_MASK = 0x00fffffffffffe00    # bits 9-55 of L1 and L2 entries


class Image:
    def __init__(self, path):
        self.path = path
        with open(path, 'rb') as f:
            self.data = bytearray(f.read())

    def get(self, offset, fmt):
        return struct.unpack_from(fmt, self.data, offset)[0]

    def put(self, offset, fmt, value):
        with open(self.path, 'r+b') as f:
            f.seek(offset)
            f.write(struct.pack(fmt, value))
        end = offset + struct.calcsize(fmt)
        if end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
        struct.pack_into(fmt, self.data, offset, value)

    def field(self, name):
        for n, off, fmt in HEADER_FIELDS:
            if n == name:
                return self.get(off, fmt)
        raise KeyError(name)

    def header_length(self):
        if self.field('version') < 3:
            return V2_HEADER_LENGTH
        return self.field('header_length')

    def cluster_size(self):
        return 1 << self.field('cluster_bits')

    def extensions(self):
        """[(offset of the type field, type, data)] up to the end mark."""
        exts = []
        off = self.header_length()
        end = self.cluster_size()
        if self.field('backing_file_offset'):
            end = min(end, self.field('backing_file_offset'))
        while off + 8 <= end:
            typ, length = struct.unpack_from('>II', self.data, off)
            if typ == 0:
                break
            exts.append((off, typ, bytes(self.data[off + 8:off + 8 +
                                                   length])))
            off += 8 + ((length + 7) & ~7)
        return exts, off

    def l2_entry_offset(self, guest):
        cb = self.field('cluster_bits')
        l2_entries = 1 << (cb - 3)
        l1_index = guest >> (cb + cb - 3)
        l1e = self.get(self.field('l1_table_offset') + 8 * l1_index, '>Q')
        l2 = l1e & OFFSET_MASK
        if not l2:
            raise SystemExit('no L2 table for guest offset %d' % guest)
        return l2 + 8 * ((guest >> cb) & (l2_entries - 1))

    def refcount(self, cluster):
        cb = self.field('cluster_bits')
        bits = 1 << self.field('refcount_order') \
            if self.field('version') >= 3 else 16
        per_block = (1 << cb) * 8 // bits
        rt = self.field('refcount_table_offset')
        rb = self.get(rt + 8 * (cluster // per_block), '>Q')
        if not rb:
            return 0
        index = cluster % per_block
        if bits >= 8:
            fmt = {8: '>B', 16: '>H', 32: '>I', 64: '>Q'}[bits]
            return self.get(rb + index * bits // 8, fmt)
        # Sub-byte widths: entry i sits at bit (i * bits) % 8 of its byte,
        # counting from the least significant bit.
        byte = self.data[rb + index * bits // 8]
        return (byte >> (index * bits % 8)) & ((1 << bits) - 1)


def number(s):
    return int(s, 0)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__ if __doc__ else 'usage: IMAGE COMMAND [ARGS]')
    img = Image(argv[1])
    cmd, args = argv[2], argv[3:]
    if cmd == 'dump-header':
        version = img.field('version')
        for name, off, fmt in HEADER_FIELDS:
            if off >= V2_HEADER_LENGTH and \
                    (version < 3 or off >= img.header_length()):
                break
            v = img.get(off, fmt)
            if name in ('magic',) or name.endswith('_features'):
                print('%-24s %#x' % (name, v))
            else:
                print('%-24s %d' % (name, v))
    elif cmd == 'set-header':
        name, value = args
        for n, off, fmt in HEADER_FIELDS:
            if n == name:
                img.put(off, fmt, number(value))
                break
        else:
            sys.exit('unknown field %s' % name)
    elif cmd == 'set-feature-bit':
        kind, bit = args
        name = FEATURE_FIELDS[kind]
        off = [o for n, o, _ in HEADER_FIELDS if n == name][0]
        img.put(off, '>Q', img.get(off, '>Q') | (1 << number(bit)))
    elif cmd == 'dump-exts':
        exts, _ = img.extensions()
        for _, typ, data in exts:
            print('Header extension: %#010x (%s), %d bytes' %
                  (typ, EXT_NAMES.get(typ, 'unknown'), len(data)))
            if typ == 0x6803f857:
                for i in range(0, len(data) - 47, 48):
                    t, bit = data[i], data[i + 1]
                    name = data[i + 2:i + 48].rstrip(b'\0').decode()
                    print('    type %d bit %2d: %s' % (t, bit, name))
            else:
                print('    %r' % data)
    elif cmd in ('add-ext', 'add-feature-name'):
        if cmd == 'add-ext':
            typ, text = number(args[0]), args[1].encode()
        else:
            kind = ['incompat', 'compat', 'autoclear'].index(args[0])
            typ = 0x6803f857
            text = bytes([kind, number(args[1])]) + \
                args[2].encode().ljust(46, b'\0')
        _, end = img.extensions()
        length = (len(text) + 7) & ~7
        limit = img.cluster_size()
        if img.field('backing_file_offset'):
            limit = img.field('backing_file_offset')
        if end + 8 + length + 8 > limit:
            sys.exit('no room for the extension')
        blob = struct.pack('>II', typ, len(text)) + text + \
            bytes(length - len(text)) + bytes(8)
        with open(img.path, 'r+b') as f:
            f.seek(end)
            f.write(blob)
    elif cmd == 'poke':
        img.put(number(args[0]), args[1], number(args[2]))
    elif cmd == 'l1-entry':
        print('%#x' % img.get(img.field('l1_table_offset') +
                              8 * number(args[0]), '>Q'))
    elif cmd == 'l2-entry':
        print('%#x' % img.get(img.l2_entry_offset(number(args[0])), '>Q'))
    elif cmd == 'l2-offset':
        print('%d' % img.l2_entry_offset(number(args[0])))
    elif cmd == 'set-l2-entry':
        img.put(img.l2_entry_offset(number(args[0])), '>Q', number(args[1]))
    elif cmd == 'refcount':
        print('%d' % img.refcount(number(args[0])))
    else:
        sys.exit('unknown command %s' % cmd)


if __name__ == '__main__':
    main(sys.argv)
