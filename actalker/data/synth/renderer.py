"""Draw a synthetic face from its landmarks (PIL polygons, supersampled for anti-aliasing).

Everything facial is drawn from the 478 landmark positions (face oval, brows, eyes, iris,
lips, mouth opening), so the stored landmarks are the drawn geometry.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from actalker.data.synth import topology as T
from actalker.data.synth.identity import Identity


def _shade(rgb, k: float) -> tuple:
    return tuple(int(np.clip(v * k, 0, 255)) for v in rgb)


class FaceRenderer:
    """Renders frames of one identity at ``size`` px; the background is made once."""

    def __init__(self, identity: Identity, size: int, supersample: int = 4):
        self.ident, self.size, self.ss = identity, size, supersample
        n = size * supersample
        top, bot = np.array(identity.background, float), np.array(identity.background2, float)
        ramp = np.linspace(0, 1, n)[:, None, None]
        grad = (top * (1 - ramp) + bot * ramp).astype(np.uint8)
        self.background = Image.fromarray(np.repeat(grad, n, axis=1), "RGB")

    def render(self, landmarks: np.ndarray) -> np.ndarray:
        """landmarks (478, 3) normalised -> uint8 (size, size, 3)."""
        idn, n = self.ident, self.size * self.ss
        pts = landmarks[:, :2].astype(np.float64) * n
        poly = lambda idx: [tuple(pts[i]) for i in idx]  # noqa: E731
        img = self.background.copy()
        d = ImageDraw.Draw(img)
        oval = pts[list(T.FACE_OVAL)]
        (x0, y0), (x1, y1) = oval.min(0), oval.max(0)
        w, h, cx = x1 - x0, y1 - y0, (x0 + x1) / 2
        # Shoulders and neck below the face, hair behind it.
        d.ellipse([cx - 1.1 * w, y1 + 0.15 * h, cx + 1.1 * w, y1 + 1.6 * h], fill=idn.shirt)
        d.rectangle([cx - 0.28 * w, y0 + 0.6 * h, cx + 0.28 * w, y1 + 0.35 * h], fill=_shade(idn.skin, 0.82))
        if idn.hair_volume > 0:
            v = idn.hair_volume
            d.ellipse([x0 - 0.08 * v * w, y0 - 0.12 * v * h, x1 + 0.08 * v * w, y0 + (0.55 + 0.2 * v) * h], fill=idn.hair)
        d.polygon(poly(T.FACE_OVAL), fill=idn.skin)
        lw = max(1, int(round(0.012 * n)))
        d.line(poly(T.NOSE_BRIDGE[2:]) + poly(T.NOSE_BOTTOM), fill=_shade(idn.skin, 0.78), width=lw)
        brow_colour = _shade(idn.hair if idn.hair_volume > 0 else idn.skin, 0.6)
        for brow in (T.RIGHT_BROW, T.LEFT_BROW):
            d.polygon(poly(brow), fill=brow_colour)
        for eye, upper, iris in ((T.RIGHT_EYE, T.RIGHT_EYE_UPPER, T.RIGHT_IRIS), (T.LEFT_EYE, T.LEFT_EYE_UPPER, T.LEFT_IRIS)):
            self._eye(img, pts, eye, iris)
            d.line(poly(upper), fill=(30, 22, 20), width=lw)
        d.polygon(poly(T.LIPS_OUTER), fill=idn.lips)
        inner = pts[list(T.LIPS_INNER)]
        if inner[:, 1].max() - inner[:, 1].min() > 0.3 * self.ss:
            d.polygon(poly(T.LIPS_INNER), fill=(70, 20, 25))
        return np.asarray(img.resize((self.size, self.size), Image.BOX))

    def _eye(self, img: Image.Image, pts: np.ndarray, eye, iris) -> None:
        """Sclera polygon, with the iris disc clipped to it (the lids cover the iris)."""
        e = pts[list(eye)]
        (x0, y0), (x1, y1) = np.floor(e.min(0)).astype(int) - 1, np.ceil(e.max(0)).astype(int) + 2
        if y1 - y0 < 3:
            return
        box = (x0, y0, x1, y1)
        sclera = Image.new("L", (x1 - x0, y1 - y0))
        ImageDraw.Draw(sclera).polygon([(x - x0, y - y0) for x, y in e], fill=255)
        img.paste((240, 238, 232), box, sclera)
        c = pts[iris[0]]
        r = np.linalg.norm(pts[list(iris[1:])] - c, axis=1).mean() * 1.1
        disc = Image.new("L", sclera.size)
        ImageDraw.Draw(disc).ellipse([c[0] - r - x0, c[1] - r - y0, c[0] + r - x0, c[1] + r - y0], fill=255)
        img.paste(self.ident.iris, box, ImageChops.multiply(sclera, disc))
        pr = r * 0.45
        pupil = Image.new("L", sclera.size)
        ImageDraw.Draw(pupil).ellipse([c[0] - pr - x0, c[1] - pr - y0, c[0] + pr - x0, c[1] + pr - y0], fill=255)
        img.paste((10, 10, 12), box, ImageChops.multiply(sclera, pupil))
