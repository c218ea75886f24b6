#!/usr/bin/python3
"""Build VHD images from the specification, independently of qblock.

The "Virtual Hard Disk Image Format Specification" (Microsoft, 2006/2012)
describes three image types: fixed (data + footer), dynamic (footer copy,
dynamic header, BAT, blocks made of a sector bitmap and data, footer) and
differencing (a dynamic layout whose clear bitmap bits and unallocated
blocks mean "read the parent", found through parent locators).

This module writes such images the way foreign tools do (Virtual PC,
Hyper-V, Disk2vhd, ...) and reads them back with the spec's semantics
(`VHDReader`), which makes it the reference model for tests: the bytes a
correct reader must return are computed here, not by the code under test.

Python standard library only; run it with /usr/bin/python3.

Command line:
  vhdgen.py foreign KIND OUT      foreign-style dynamic/fixed images
  vhdgen.py diff LOCATOR DIR [sectors|bytes] [end] [aligned]
                                  a parent/child pair with one locator kind
  vhdgen.py read IMG OUT.raw      the reference reading of IMG (follows
                                  parents through the locators)
  vhdgen.py corpus DIR            small crafted images for the fuzz corpus
  vhdgen.py show IMG [PARENT]     the on-disk fields, random ones masked
  vhdgen.py compare QEMU_IO IMG [OPTS]
                                  read IMG through qemu-io (-f vpc, extra
                                  qemu-io OPTS) and compare every byte
                                  with the reference reading
  vhdgen.py checkmap QEMU_IMG IMG
                                  compare qemu-img map --output=json IMG
                                  with the reference allocation of the chain
  vhdgen.py poke IMG OFF FMT VAL [footer|dyn|both]...
                                  store VAL (struct FMT, big-endian) at OFF
                                  and recompute the named checksums
"""

import os
import struct
import sys
import uuid as uuidmod

SECTOR = 512
COOKIE = b'conectix'
DYN_COOKIE = b'cxsparse'
FIXED, DYNAMIC, DIFFERENCING = 2, 3, 4
BAT_UNUSED = 0xffffffff
MAX_GEOMETRY = 65535 * 16 * 255
TIMESTAMP_BASE = 946684800

# Footer: cookie, features, version, data_offset, timestamp, creator app,
# creator version (major, minor), creator OS, original size, current size,
# cylinders, heads, sectors/track, type, checksum, uuid, saved state.
FOOTER_FMT = '>8sIIQI4sHH4sQQHBBII16sB427x'
# Dynamic header: cookie, data_offset, table_offset, version, max table
# entries, block size, checksum, parent uuid, parent timestamp, reserved,
# parent name (512 bytes UTF-16BE), 8 locators (24 bytes), reserved.
DYN_FMT = '>8sQQIII I16sII512s192s256x'
LOC_FMT = '>IIIIQ'

assert struct.calcsize(FOOTER_FMT) == 512
assert struct.calcsize(DYN_FMT) == 1024
assert struct.calcsize(LOC_FMT) == 24


def checksum(buf, off):
    """One's complement of the byte sum, the 4 bytes at off taken as 0."""
    s = sum(buf[:off]) + sum(buf[off + 4:])
    return (~s) & 0xffffffff


def platform_code(code):
    """'W2ku' -> the big-endian integer stored on disk."""
    return struct.unpack('>I', code.encode('ascii').ljust(4, b'\0')[:4])[0]


def chs_geometry(total_sectors):
    """The CHS geometry the VHD spec (appendix) assigns to a sector count."""
    total_sectors = min(total_sectors, MAX_GEOMETRY)
    if total_sectors >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = total_sectors // spt
    else:
        spt = 17
        cth = total_sectors // spt
        heads = max((cth + 1023) // 1024, 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = total_sectors // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = total_sectors // spt
    return cth // heads, heads, spt


def make_footer(disk_type, size, app=b'vpc ', chs=None, uuid=None,
                timestamp=0x12345678, data_offset=None, creator=(5, 3),
                creator_os=b'Wi2k', orig_size=None):
    if chs is None:
        chs = chs_geometry(size // SECTOR)
    if data_offset is None:
        data_offset = 0xffffffffffffffff if disk_type == FIXED else 512
    if uuid is None:
        uuid = uuidmod.uuid4().bytes
    f = bytearray(struct.pack(
        FOOTER_FMT, COOKIE, 2, 0x00010000, data_offset, timestamp, app,
        creator[0], creator[1], creator_os,
        size if orig_size is None else orig_size, size,
        chs[0], chs[1], chs[2], disk_type, 0, uuid, 0))
    struct.pack_into('>I', f, 64, checksum(f, 64))
    return bytes(f)


def parse_footer(buf):
    v = struct.unpack(FOOTER_FMT, buf[:512])
    return dict(cookie=v[0], data_offset=v[3], timestamp=v[4], app=v[5],
                current_size=v[10], chs=(v[11], v[12], v[13]), type=v[14],
                checksum=v[15], uuid=v[16])


class Locator:
    """A parent locator: code ('W2ku', ...), raw data bytes, and how the
    data space is recorded ('sectors' per the spec, or 'bytes' as some
    Windows versions write it)."""

    def __init__(self, code, data, space_units='sectors', space=None):
        self.code = code
        self.data = data
        self.space_units = space_units
        self.space = space  # bytes to reserve; default: data rounded up


def locator_for(code, path):
    """Locator data for path in the encoding of code."""
    if code in ('W2ku', 'W2ru'):
        return Locator(code, path.replace('/', '\\').encode('utf-16-le'))
    if code in ('Wi2k', 'Wi2r'):
        return Locator(code, path.replace('/', '\\').encode('ascii'))
    if code == 'MacX':
        from urllib.parse import quote
        return Locator(code, ('file://' + quote(path)).encode('utf-8'))
    raise ValueError(code)


class Image:
    """A sparse (dynamic or differencing) VHD being assembled.

    blocks: {index: (bitmap bytes, data bytes)}; sectors whose bit is clear
    hold zeros in the data (as Hyper-V writes them) unless junk is given.
    """

    def __init__(self, size, disk_type=DYNAMIC, block_size=2 * 1024 * 1024,
                 app=b'vpc ', chs=None, uuid=None, timestamp=0x12345678,
                 creator=(5, 3), max_table_entries=None):
        self.size = size
        self.disk_type = disk_type
        self.block_size = block_size
        self.app = app
        self.chs = chs
        self.uuid = uuid or uuidmod.uuid4().bytes
        self.timestamp = timestamp
        self.creator = creator
        self.entries = max_table_entries or \
            (size + block_size - 1) // block_size
        self.blocks = {}
        self.parent_uuid = b'\0' * 16
        self.parent_timestamp = 0
        self.parent_name = ''
        self.locators = []
        self.locators_at_end = False

    @property
    def bitmap_size(self):
        bits = self.block_size // SECTOR
        return ((bits + 7) // 8 + SECTOR - 1) // SECTOR * SECTOR

    def write(self, offset, data, set_bits=True):
        """Store data at guest offset (sector aligned), setting bitmap
        bits like a writer that follows the spec."""
        assert offset % SECTOR == 0 and len(data) % SECTOR == 0
        pos = 0
        while pos < len(data):
            idx, inb = divmod(offset + pos, self.block_size)
            n = min(len(data) - pos, self.block_size - inb)
            bm, blk = self.blocks.get(
                idx, (bytearray(self.bitmap_size), bytearray(self.block_size)))
            blk[inb:inb + n] = data[pos:pos + n]
            if set_bits:
                for s in range(inb // SECTOR, (inb + n) // SECTOR):
                    bm[s // 8] |= 0x80 >> (s % 8)
            self.blocks[idx] = (bm, blk)
            pos += n

    def allocate(self, idx, bitmap_fill=0):
        bm = bytearray([bitmap_fill]) * self.bitmap_size
        self.blocks.setdefault(idx, (bm, bytearray(self.block_size)))

    def set_parent(self, parent_footer_bytes, name, locators):
        pf = parse_footer(parent_footer_bytes)
        self.disk_type = DIFFERENCING
        self.parent_uuid = pf['uuid']
        self.parent_timestamp = pf['timestamp']
        self.parent_name = name
        self.locators = locators

    def footer(self):
        return make_footer(self.disk_type, self.size, self.app, self.chs,
                           self.uuid, self.timestamp, 512, self.creator)

    def build(self):
        bat_off = 1536
        bat_bytes = (self.entries * 4 + SECTOR - 1) // SECTOR * SECTOR
        pos = bat_off + bat_bytes
        loc_entries = []
        loc_blobs = []

        def place_locators(pos):
            for loc in self.locators:
                space = loc.space or \
                    (len(loc.data) + SECTOR - 1) // SECTOR * SECTOR
                recorded = space // SECTOR if loc.space_units == 'sectors' \
                    else space
                loc_entries.append(struct.pack(
                    LOC_FMT, platform_code(loc.code), recorded,
                    len(loc.data), 0, pos))
                loc_blobs.append((pos, loc.data))
                pos += space
            return pos

        if not self.locators_at_end:
            pos = place_locators(pos)
        bat = [BAT_UNUSED] * self.entries
        block_blobs = []
        for idx in sorted(self.blocks):
            bm, blk = self.blocks[idx]
            bat[idx] = pos // SECTOR
            block_blobs.append((pos, bytes(bm) + bytes(blk)))
            pos += self.bitmap_size + self.block_size
        if self.locators_at_end:
            pos = place_locators(pos)

        name = self.parent_name.encode('utf-16-be')[:512]
        locs = b''.join(loc_entries).ljust(192, b'\0')
        dyn = bytearray(struct.pack(
            DYN_FMT, DYN_COOKIE, 0xffffffffffffffff, bat_off, 0x00010000,
            self.entries, self.block_size, 0, self.parent_uuid,
            self.parent_timestamp, 0, name.ljust(512, b'\0'), locs))
        struct.pack_into('>I', dyn, 36, checksum(dyn, 36))

        out = bytearray(pos + 512)
        footer = self.footer()
        out[0:512] = footer
        out[512:1536] = dyn
        out[bat_off:bat_off + self.entries * 4] = \
            struct.pack('>%dI' % self.entries, *bat)
        out[bat_off + self.entries * 4:bat_off + bat_bytes] = \
            b'\xff' * (bat_bytes - self.entries * 4)
        for off, blob in loc_blobs + block_blobs:
            out[off:off + len(blob)] = blob
        out[pos:pos + 512] = footer
        return bytes(out)

    def save(self, path):
        with open(path, 'wb') as f:
            f.write(self.build())


def fixed_image(size, data=b'', app=b'vpc ', chs=None, current_size=None):
    """A fixed VHD of size guest bytes (data at the start)."""
    body = bytearray(size)
    body[:len(data)] = data
    footer = make_footer(FIXED, size if current_size is None
                         else current_size, app, chs)
    return bytes(body) + footer


# ---- Reference reader (the spec's semantics) ----

class VHDReader:
    """Read a VHD the way the spec defines it.  Differencing images follow
    their parent: an explicit parent path, else the first locator (W2ru,
    Wi2r relative to the image, then W2ku, Wi2k, MacX) naming a file.

    qemu_dynamic=True reads dynamic images like QEMU 7.2 (bitmaps ignored:
    an allocated block is read whole)."""

    def __init__(self, path, parent=None, size_rule='auto',
                 qemu_dynamic=True):
        self.path = path
        with open(path, 'rb') as f:
            self.data = f.read()
        head = self.data[:512]
        if head[:8] == COOKIE:
            self.footer = parse_footer(head)
            self.sparse = True
        else:
            self.footer = parse_footer(self.data[-512:])
            self.sparse = False
        self.type = self.footer['type']
        c, h, s = self.footer['chs']
        app = self.footer['app']
        use_chs = app not in (b'win ', b'qem2', b'd2v ', b'CTXS', b'tap\0')
        if size_rule == 'chs':
            use_chs = True
        if size_rule == 'current_size' or not use_chs or \
                c * h * s == MAX_GEOMETRY:
            self.size = self.footer['current_size'] // SECTOR * SECTOR
        else:
            self.size = c * h * s * SECTOR
        self.qemu_dynamic = qemu_dynamic
        self.parent = None
        if self.sparse:
            dyn = self.data[512:1536]
            v = struct.unpack(DYN_FMT, dyn)
            self.bat_off, self.entries, self.block_size = v[2], v[4], v[5]
            self.parent_uuid = v[7]
            self.parent_name = v[10].decode('utf-16-be').rstrip('\0')
            self.locs = [struct.unpack(LOC_FMT, v[11][i * 24:i * 24 + 24])
                         for i in range(8)]
            bits = self.block_size // SECTOR
            self.bitmap_size = ((bits + 7) // 8 + 511) // 512 * 512
            if self.type != DIFFERENCING:
                # QEMU's rule for its own dynamic images.
                self.bitmap_size = (self.block_size // 4096 + 511) // 512 \
                    * 512
            self.bat = struct.unpack('>%dI' % self.entries,
                                     self.data[self.bat_off:self.bat_off +
                                               4 * self.entries])
            if self.type == DIFFERENCING:
                ppath = parent or self.find_parent()
                self.parent = VHDReader(ppath, qemu_dynamic=qemu_dynamic)
                if self.parent.footer['uuid'] != self.parent_uuid:
                    raise ValueError('parent UUID mismatch')

    def locator_paths(self):
        found = {}
        for code, space, length, _, off in self.locs:
            raw = self.data[off:off + length]
            name = struct.pack('>I', code).decode('latin-1')
            if name in ('W2ku', 'W2ru'):
                p = raw.decode('utf-16-le').rstrip('\0').replace('\\', '/')
            elif name in ('Wi2k', 'Wi2r'):
                p = raw.decode('latin-1').rstrip('\0').replace('\\', '/')
            elif name == 'MacX':
                from urllib.parse import unquote
                p = unquote(raw.decode('utf-8').rstrip('\0'))
                p = p[len('file://'):]
                if p.startswith('localhost/'):
                    p = p[len('localhost'):]
            else:
                continue
            while p.startswith('./'):
                p = p[2:]
            found.setdefault(name, p)
        return found

    def find_parent(self):
        d = os.path.dirname(os.path.abspath(self.path))
        paths = self.locator_paths()
        for name in ('W2ru', 'Wi2r', 'W2ku', 'Wi2k', 'MacX'):
            if name in paths:
                p = paths[name]
                full = p if p.startswith('/') else os.path.join(d, p)
                if os.path.exists(full):
                    return full
        full = os.path.join(d, self.parent_name.replace('\\', '/')
                            .split('/')[-1])
        if os.path.exists(full):
            return full
        raise FileNotFoundError('no parent for %s' % self.path)

    def read(self, offset, length):
        out = bytearray()
        while length > 0:
            if offset >= self.size:
                out += bytes(length)
                break
            if not self.sparse:
                n = min(length, self.size - offset)
                chunk = self.data[offset:offset + n]
                out += chunk + bytes(n - len(chunk))
            else:
                idx, inb = divmod(offset, self.block_size)
                n = min(length, self.block_size - inb, self.size - offset)
                out += self.read_block(idx, inb, n, offset)
            offset += n
            length -= n
        return bytes(out)

    def read_block(self, idx, inb, n, guest_off):
        e = self.bat[idx]
        if e == BAT_UNUSED:
            if self.type == DIFFERENCING:
                return self.parent.read(guest_off, n)
            return bytes(n)
        base = e * SECTOR
        data_off = base + self.bitmap_size
        if self.type != DIFFERENCING and self.qemu_dynamic:
            chunk = self.data[data_off + inb:data_off + inb + n]
            return chunk + bytes(n - len(chunk))
        bm = self.data[base:base + self.bitmap_size]
        out = bytearray()
        pos = inb
        while pos < inb + n:
            s = pos // SECTOR
            take = min(SECTOR - pos % SECTOR, inb + n - pos)
            if bm[s // 8] & (0x80 >> (s % 8)):
                out += self.data[data_off + pos:data_off + pos + take]
            elif self.type == DIFFERENCING:
                out += self.parent.read(guest_off + pos - inb, take)
            else:
                out += bytes(take)
            pos += take
        return bytes(out)

    def allocation(self):
        """[(start, length, 'here'|'parent'|'zero'|'data')] per sector run."""
        runs = []
        for s in range(self.size // SECTOR):
            off = s * SECTOR
            if not self.sparse:
                kind = 'data'
            else:
                idx, inb = divmod(off, self.block_size)
                e = self.bat[idx]
                if e == BAT_UNUSED:
                    kind = 'parent' if self.type == DIFFERENCING else 'zero'
                elif self.type != DIFFERENCING:
                    kind = 'data'
                else:
                    bm = self.data[e * SECTOR:e * SECTOR + self.bitmap_size]
                    sec = inb // SECTOR
                    kind = 'here' if bm[sec // 8] & (0x80 >> (sec % 8)) \
                        else 'parent'
            if runs and runs[-1][2] == kind:
                runs[-1][1] += SECTOR
            else:
                runs.append([off, SECTOR, kind])
        return [tuple(r) for r in runs]


# ---- Presets ----

def pattern(seed, length):
    """Deterministic, sector-distinct bytes."""
    out = bytearray(length)
    for i in range(0, length, SECTOR):
        v = (seed * 131 + i // SECTOR * 7) & 0xff
        out[i:i + SECTOR] = bytes([v]) * min(SECTOR, length - i)
    return bytes(out)


def foreign(kind, out):
    """Foreign-style images:
      vpc          Virtual PC 2007: app "vpc ", CHS sizing, 2 MiB blocks
      vpc-512k     the same with 512 KiB blocks and partial bitmaps
      hyperv       Hyper-V: app "win ", size not a CHS multiple (current_size)
      hyperv-512k  Hyper-V with 512 KiB blocks, partial bitmaps
      d2v          Disk2vhd: app "d2v\\0", maximal CHS, current_size
      vbox         VirtualBox: app "vbox", CHS sizing
      fixed-win    Hyper-V fixed image (current_size)
      fixed-vpc    Virtual PC fixed image (CHS)
    """
    if kind in ('vpc', 'vpc-512k', 'vbox'):
        size = 100 * 1024 * 1024
        c, h, s = chs_geometry(size // SECTOR)
        app = b'vbox' if kind == 'vbox' else b'vpc '
        img = Image(c * h * s * SECTOR + 5 * SECTOR, app=app, chs=(c, h, s),
                    block_size=(512 if kind == 'vpc-512k' else 2048) * 1024)
    elif kind in ('hyperv', 'hyperv-512k'):
        size = 100 * 1024 * 1024 + 3 * 4096
        img = Image(size, app=b'win ', creator=(6, 1),
                    block_size=(512 if kind == 'hyperv-512k' else 2048) *
                    1024)
    elif kind == 'd2v':
        size = 130 * 1024 * 1024 * 1024
        img = Image(size, app=b'd2v\0', chs=(65535, 16, 255))
    elif kind == 'fixed-win':
        data = pattern(3, 1024 * 1024)
        with open(out, 'wb') as f:
            f.write(fixed_image(20 * 1024 * 1024 + 4096, data, b'win '))
        return
    elif kind == 'fixed-vpc':
        c, h, s = chs_geometry(20 * 1024 * 1024 // SECTOR)
        data = pattern(4, 1024 * 1024)
        with open(out, 'wb') as f:
            f.write(fixed_image(c * h * s * SECTOR, data, b'vpc ', (c, h, s)))
        return
    else:
        raise SystemExit('unknown kind %s' % kind)

    bs = img.block_size
    img.write(0, pattern(1, 64 * 1024))
    img.write(bs + 4096, pattern(2, 8192))
    img.write(3 * bs - 4096, pattern(5, 8192))
    if kind.endswith('512k') or kind == 'hyperv':
        # Partial bitmaps: only the written sectors are marked, the rest of
        # the block is zero (as Hyper-V and Virtual PC leave it).
        pass
    else:
        for idx in list(img.blocks):
            bm, blk = img.blocks[idx]
            img.blocks[idx] = (bytearray(b'\xff') * img.bitmap_size, blk)
    img.save(out)


def diff_pair(code, d, data_space='sectors', locators_at_end=False,
              aligned=False):
    """parent.vhd (dynamic, data 0x11 in the first 4 MiB) and child.vhd
    naming it through a locator of kind code.  aligned: only runs of whole
    bitmap bytes (8 sectors), which libvhdi 20210425 needs to read a
    partial bitmap correctly."""
    os.makedirs(d, exist_ok=True)
    size = 16 * 1024 * 1024
    parent = Image(size, app=b'win ')
    parent.write(0, b'\x11' * (4 * 1024 * 1024))
    parent.write(8 * 1024 * 1024, pattern(9, 1024 * 1024))
    ppath = os.path.join(d, 'parent.vhd')
    parent.save(ppath)

    child = Image(size, app=b'win ', block_size=512 * 1024)
    if code in ('W2ru', 'Wi2r'):
        lpath = '.\\parent.vhd'
    elif code == 'MacX':
        lpath = os.path.abspath(ppath)
    else:
        lpath = os.path.abspath(ppath)
    loc = locator_for(code, lpath)
    loc.space_units = data_space
    child.set_parent(parent.footer(), 'parent.vhd', [loc])
    child.locators_at_end = locators_at_end
    # Partial overwrites: sector runs set, the rest from the parent.
    child.write(4096, b'\x22' * 8192)
    child.write(3 * 1024 * 1024, pattern(7, 512 * 1024))
    if aligned:
        child.write(1024 * 1024 - 4096, b'\x33' * 8192)
        child.write(12 * 1024 * 1024 + 4096, b'\x44' * 4096)
    else:
        child.write(1024 * 1024 - 512, b'\x33' * 1024)
        child.write(12 * 1024 * 1024 + 512, b'\x44' * 512)
    # An allocated block with no bit set reads the parent.
    child.allocate(5)
    child.save(os.path.join(d, 'child.vhd'))


def corpus(d):
    """Small images for the fuzz corpus (each under 64 KiB)."""
    os.makedirs(d, exist_ok=True)
    size = 4 * 1024 * 1024

    def save(name, blob):
        with open(os.path.join(d, name), 'wb') as f:
            f.write(blob)

    img = Image(size, block_size=4096)
    img.write(0, pattern(1, 8192))
    save('dynamic-4k-blocks.vhd', img.build())
    img = Image(size, block_size=512)
    img.write(1024, pattern(2, 1024))
    save('dynamic-512-blocks.vhd', img.build())
    save('fixed.vhd', fixed_image(16 * 1024, pattern(3, 4096), b'win '))
    img = Image(size, block_size=8192)
    img.write(4096, pattern(4, 8192))
    parent_footer = make_footer(DYNAMIC, size)
    img.set_parent(parent_footer, 'p.vhd',
                   [locator_for('W2ru', '.\\p.vhd'),
                    locator_for('W2ku', '/nonexistent/p.vhd'),
                    locator_for('MacX', '/nonexistent/p.vhd')])
    save('diff-8k-blocks.vhd', img.build())
    img = Image(size, block_size=4096)
    img.write(512, pattern(6, 1024))
    img.set_parent(parent_footer, 'p.vhd',
                   [Locator('MacX', b'file://localhost/p%20q.vhd', 'bytes'),
                    Locator('Wi2k', b'C:\\vms\\p.vhd', 'bytes'),
                    Locator('Mac ', b'alias record')])
    img.locators_at_end = True
    save('diff-locators-at-end.vhd', img.build())
    img = Image(size, block_size=4096)
    img.write(0, pattern(5, 4096))
    b = bytearray(img.build())
    struct.pack_into('>I', b, 1536, 1)       # BAT entry into the header
    save('bat-into-header.vhd', bytes(b))
    b = bytearray(img.build())
    struct.pack_into('>I', b, 1536 + 4, 0x7fffff)   # beyond the file
    save('bat-beyond-eof.vhd', bytes(b))
    b = bytearray(img.build())
    struct.pack_into('>I', b, 512 + 32, 3000)       # bad block size
    save('bad-block-size.vhd', bytes(b))
    img = Image(size, block_size=4096)
    img.set_parent(parent_footer, 'p.vhd',
                   [Locator('W2ru', b'\x00\xd8\x41\x00')])  # lone surrogate
    save('diff-bad-utf16.vhd', img.build())
    img = Image(size, block_size=4096)
    img.set_parent(parent_footer, 'p.vhd', [locator_for('W2ru', 'p.vhd')])
    b = bytearray(img.build())
    struct.pack_into('>Q', b, 512 + 576 + 16, 1 << 40)   # locator offset
    save('diff-loc-beyond-eof.vhd', bytes(b))


class SparseFile:
    """Slices of a file read on demand (images may be huge and sparse)."""

    def __init__(self, path):
        self.f = open(path, 'rb')
        self.f.seek(0, 2)
        self.len = self.f.tell()

    def __len__(self):
        return self.len

    def __getitem__(self, sl):
        start = sl.start or 0
        stop = self.len if sl.stop is None else sl.stop
        if start < 0:
            start += self.len
        if stop < 0:
            stop += self.len
        start, stop = max(0, start), min(self.len, stop)
        if stop <= start:
            return b''
        self.f.seek(start)
        return self.f.read(stop - start)


def show(path, parent=None):
    """Print the fields of an image in a stable form for golden files:
    timestamps, UUIDs and footer checksums (which cover them) are replaced
    by what can be checked (valid or not, equal to the parent's or not)."""
    data = SparseFile(path)
    pdata = SparseFile(parent) if parent else None
    print('file length: %d' % len(data))

    def footer_line(buf, where):
        v = struct.unpack(FOOTER_FMT, buf)
        ok = 'ok' if checksum(buf, 64) == v[15] else 'BAD'
        print('footer@%s: cookie %r features 0x%x version 0x%x data_offset '
              '0x%x app %r creator %d.%d os %r orig_size %d current_size %d '
              'chs %d/%d/%d type %d checksum %s saved_state %d' %
              (where, v[0], v[1], v[2], v[3], v[5], v[6], v[7], v[8], v[9],
               v[10], v[11], v[12], v[13], v[14], ok, v[17]))
    tail = data[-512:]
    footer_line(tail, 'end')
    if data[:8] != COOKIE:
        return
    footer_line(data[:512], '0')
    print('footer copies identical: %s' % ('yes' if data[:512] == tail
                                            else 'no'))
    dyn = data[512:1536]
    v = struct.unpack(DYN_FMT, dyn)
    ok = 'ok' if checksum(dyn, 36) == v[6] else 'BAD'
    print('dyn: cookie %r data_offset 0x%x table_offset %d version 0x%x '
          'entries %d block_size %d checksum %s' %
          (v[0], v[1], v[2], v[3], v[4], v[5], ok))
    if data[60:64] == struct.pack('>I', DIFFERENCING) or v[7] != bytes(16):
        match = 'unknown'
        if pdata is not None:
            pf = pdata[:512] if pdata[:8] == COOKIE else pdata[-512:]
            match = 'matches' if pf[68:84] == v[7] else 'DIFFERS'
            tmatch = 'matches' if pf[24:28] == struct.pack('>I', v[8]) \
                else 'DIFFERS'
            print('parent uuid %s, parent timestamp %s' % (match, tmatch))
        print('parent name %r' % v[10].decode('utf-16-be').rstrip('\0'))
        for i in range(8):
            code, space, length, _, off = struct.unpack(
                LOC_FMT, v[11][i * 24:i * 24 + 24])
            if not code:
                continue
            raw = data[off:off + length]
            name = struct.pack('>I', code).decode('latin-1')
            text = raw.decode('utf-16-le') if name.startswith('W2') \
                else raw.decode('latin-1')
            print('locator %d: %s space %d length %d offset %d data %r' %
                  (i, name, space, length, off, text))
    bat_off, entries, bs = v[2], v[4], v[5]
    bat = struct.unpack('>%dI' % entries, data[bat_off:bat_off + 4 * entries])
    bm_size = ((bs // SECTOR + 7) // 8 + 511) // 512 * 512
    for i, e in enumerate(bat):
        if e == BAT_UNUSED:
            continue
        bm = data[e * SECTOR:e * SECTOR + bm_size]
        runs = []
        s = 0
        nsec = bs // SECTOR
        while s < nsec:
            if bm[s // 8] & (0x80 >> (s % 8)):
                t = s
                while t < nsec and bm[t // 8] & (0x80 >> (t % 8)):
                    t += 1
                runs.append('%d-%d' % (s, t - 1))
                s = t
            else:
                s += 1
        print('block %d: sector %d, bitmap set %s' %
              (i, e, ','.join(runs) if runs else 'none'))


def parse_read_v(out, buf):
    """Store the bytes that qemu-io's "read -v" output shows in buf (a
    bytearray indexed by guest offset)."""
    import re
    for line in out.splitlines():
        m = re.match(r'^([0-9a-f]{8}):  ((?:[0-9a-f]{2} ){1,16})', line)
        if m:
            off = int(m.group(1), 16)
            data = bytes.fromhex(m.group(2).replace(' ', ''))
            buf[off:off + len(data)] = data


def compare(qemu_io, path, opts=()):
    """Exit status 0 if qemu-io reads path as the reference reader does.

    Uniform 64 KiB chunks are checked with "read -P", the others dumped
    with "read -v" and compared byte for byte."""
    import re
    import subprocess
    ref = VHDReader(path)
    chunk = 64 * 1024
    cmds = []
    dumped = {}
    for off in range(0, ref.size, chunk):
        want = ref.read(off, min(chunk, ref.size - off))
        if want.count(want[:1]) == len(want):
            cmds.append('read -P 0x%02x %d %d' % (want[0], off, len(want)))
        else:
            cmds.append('read -v %d %d' % (off, len(want)))
            dumped[off] = want
    argv = [qemu_io, '-f', 'vpc', *opts]
    for c in cmds:
        argv += ['-c', c]
    p = subprocess.run(argv + [path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)
    out = p.stdout.decode()
    if p.returncode or p.stderr:
        m = re.search(r'Pattern verification failed at offset (\d+)', out)
        if m:
            print('%s: differs from the reference reader in the 64 KiB at '
                  '%d' % (os.path.basename(path), int(m.group(1))))
        else:
            print('qemu-io failed: %s%s' % (p.stderr.decode(), out[-500:]))
        return 1
    got = bytearray(ref.size)
    parse_read_v(out, got)
    for off, want in dumped.items():
        have = bytes(got[off:off + len(want)])
        if have != want:
            first = next(i for i in range(len(want)) if have[i] != want[i])
            print('%s: differs from the reference reader at byte %d (0x%02x,'
                  ' expected 0x%02x)' % (os.path.basename(path), off + first,
                                         have[first], want[first]))
            return 1
    print('%s: %d bytes as the reference reader reads them' %
          (os.path.basename(path), ref.size))
    return 0


def reference_map(reader):
    """[(start, length, depth, data, zero)] as qemu-img map should report
    the chain starting at reader: the first layer that decides a sector
    (set bit in a differencing image, any block of a dynamic image: data;
    an unallocated block of a dynamic image: zero)."""
    layers = []
    r = reader
    while r:
        layers.append(r)
        r = r.parent
    runs = []

    def add(off, length, entry):
        if runs and runs[-1][2:] == list(entry) and \
                runs[-1][0] + runs[-1][1] == off:
            runs[-1][1] += length
        else:
            runs.append([off, length] + list(entry))

    def resolve(off, length, depth):
        """Describe [off, off + length) from layer depth down."""
        while length > 0:
            if depth == len(layers):
                add(off, length, (depth, False, False))
                return
            r = layers[depth]
            if off >= r.size:
                add(off, length, (depth, False, True))
                return
            n = min(length, r.size - off)
            if not r.sparse:
                add(off, n, (depth, True, False))
            else:
                idx, inb = divmod(off, r.block_size)
                n = min(n, r.block_size - inb)
                e = r.bat[idx]
                if r.type != DIFFERENCING:
                    add(off, n, (depth, e != BAT_UNUSED, e == BAT_UNUSED))
                elif e == BAT_UNUSED:
                    resolve(off, n, depth + 1)
                else:
                    bm = r.data[e * SECTOR:e * SECTOR + r.bitmap_size]
                    for k in range(n // SECTOR):
                        sec = inb // SECTOR + k
                        if bm[sec // 8] & (0x80 >> (sec % 8)):
                            add(off + k * SECTOR, SECTOR, (depth, True, False))
                        else:
                            resolve(off + k * SECTOR, SECTOR, depth + 1)
            off += n
            length -= n

    resolve(0, reader.size, 0)
    return [tuple(x) for x in runs]


def checkmap(qemu_img, path):
    import json
    import subprocess
    p = subprocess.run([qemu_img, 'map', '-f', 'vpc', '--output=json', path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode:
        print('qemu-img map failed: %s' % p.stderr.decode())
        return 1
    got = []
    for e in json.loads(p.stdout.decode()):
        t = (e['depth'], e['data'], e['zero'])
        if not e['present']:
            t = (e['depth'], False, False)
        if got and got[-1][2:] == list(t) and \
                got[-1][0] + got[-1][1] == e['start']:
            got[-1][1] += e['length']
        else:
            got.append([e['start'], e['length']] + list(t))
    want = reference_map(VHDReader(path))
    got = [tuple(x) for x in got]
    if got == want:
        print('%s: qemu-img map agrees with the reference model (%d runs)' %
              (os.path.basename(path), len(want)))
        return 0
    print('%s: qemu-img map differs from the reference model' %
          os.path.basename(path))
    for x in want:
        print('  want start %d length %d depth %d data %s zero %s' % x)
    for x in got:
        print('  got  start %d length %d depth %d data %s zero %s' % x)
    return 1


def poke(path, off, fmt, val, fixes):
    with open(path, 'rb') as f:
        b = bytearray(f.read())
    if fmt.endswith('s'):
        value = val.encode('latin-1').decode('unicode_escape').encode(
            'latin-1')
    else:
        value = int(val, 0)
    struct.pack_into('>' + fmt, b, off, value)
    for fix in fixes:
        if fix in ('footer', 'both') and b[:8] == COOKIE:
            struct.pack_into('>I', b, 64, checksum(b[:512], 64))
        if fix in ('footer', 'both'):
            t = len(b) - 512
            struct.pack_into('>I', b, t + 64, checksum(b[t:], 64))
        if fix in ('dyn', 'both'):
            struct.pack_into('>I', b, 512 + 36, checksum(b[512:1536], 36))
    with open(path, 'wb') as f:
        f.write(b)


def main(argv):
    if len(argv) >= 3 and argv[0] == 'foreign':
        foreign(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == 'diff':
        diff_pair(argv[1], argv[2],
                  data_space=argv[3] if len(argv) > 3 else 'sectors',
                  locators_at_end='end' in argv[4:],
                  aligned='aligned' in argv[4:])
    elif len(argv) >= 3 and argv[0] == 'read':
        r = VHDReader(argv[1])
        with open(argv[2], 'wb') as f:
            step = 4 * 1024 * 1024
            for off in range(0, r.size, step):
                f.write(r.read(off, min(step, r.size - off)))
    elif len(argv) >= 2 and argv[0] == 'corpus':
        corpus(argv[1])
    elif len(argv) >= 2 and argv[0] == 'show':
        show(argv[1], argv[2] if len(argv) > 2 else None)
    elif len(argv) >= 3 and argv[0] == 'compare':
        return compare(argv[1], argv[2], argv[3:])
    elif len(argv) >= 3 and argv[0] == 'checkmap':
        return checkmap(argv[1], argv[2])
    elif len(argv) >= 5 and argv[0] == 'poke':
        poke(argv[1], int(argv[2], 0), argv[3], argv[4], argv[5:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
