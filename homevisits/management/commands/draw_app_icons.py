"""Draws the app's icons into static/icons/ (run once; the PNGs are committed).

    python manage.py draw_app_icons

Plain Python (no imaging library): a white house with a green tick on the navigation bar's dark
grey. "any" icons are a rounded tile; "maskable" ones fill the square and keep the house inside
the central safe zone, since launchers crop them to a circle or squircle.
"""

import struct
import zlib
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

ICONS = Path(settings.BASE_DIR) / "static" / "icons"
DARK = (0x21, 0x25, 0x29)
WHITE = (0xFF, 0xFF, 0xFF)
GREEN = (0x19, 0x87, 0x54)
SAMPLES = 4  # per side, for smooth edges


def inside_rounded_tile(x, y, radius=0.18):
    cx = min(max(x, radius), 1 - radius)
    cy = min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def inside_house(x, y):
    roof = y >= 0.18 and y <= 0.48 and abs(x - 0.5) <= (y - 0.18) / 0.30 * 0.35
    body = 0.24 <= x <= 0.76 and 0.46 <= y <= 0.82
    return roof or body


def near_tick(x, y, half_width=0.045):
    points = [(0.35, 0.62), (0.46, 0.73), (0.66, 0.52)]
    return any(
        _distance_to_segment(x, y, a, b) <= half_width
        for a, b in zip(points, points[1:], strict=False)
    )


def _distance_to_segment(x, y, a, b):
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return ((x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2) ** 0.5


def colour_at(x, y, *, maskable):
    """The colour at (x, y) in the unit square, or None for transparent."""
    if maskable:  # the house within the central 70%, the safe zone's circle
        x, y = (x - 0.5) / 0.7 + 0.5, (y - 0.5) / 0.7 + 0.5
    elif not inside_rounded_tile(x, y):
        return None
    if near_tick(x, y):
        return GREEN
    if inside_house(x, y):
        return WHITE
    return DARK


def draw(size, *, maskable):
    rows = []
    for py in range(size):
        row = bytearray([0])  # PNG filter: none
        for px in range(size):
            totals, opaque = [0, 0, 0], 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    colour = colour_at(
                        (px + (sx + 0.5) / SAMPLES) / size,
                        (py + (sy + 0.5) / SAMPLES) / size,
                        maskable=maskable,
                    )
                    if colour is not None:
                        opaque += 1
                        totals = [t + c for t, c in zip(totals, colour, strict=True)]
            if opaque:
                row += bytes(round(t / opaque) for t in totals)
            else:
                row += bytes(3)
            row.append(round(255 * opaque / SAMPLES**2))
        rows.append(bytes(row))
    return png(size, b"".join(rows))


def png(size, raw):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


ICON_FILES = [
    ("icon-192.png", 192, False),
    ("icon-512.png", 512, False),
    ("maskable-192.png", 192, True),
    ("maskable-512.png", 512, True),
    ("apple-touch-icon.png", 180, True),  # iOS rounds the corners itself
]


class Command(BaseCommand):
    help = "Draw the app's icons into static/icons/ (the PNGs are committed)."

    def handle(self, *args, **options):
        ICONS.mkdir(parents=True, exist_ok=True)
        for name, size, maskable in ICON_FILES:
            (ICONS / name).write_bytes(draw(size, maskable=maskable))
            self.stdout.write(f"static/icons/{name}")
