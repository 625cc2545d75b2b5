"""The 150 iris flowers (scikit-learn's bundled copy of Fisher's data; nothing is downloaded) as task items, each
with a picture drawn from its own measurements: three green sepals and three purple petals whose lengths and
widths are the flower's, to scale."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

SPECIES = ("setosa", "versicolor", "virginica")
MEASUREMENTS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
PIXELS_PER_CM = 13.0
SIZE = 240


@dataclass(frozen=True)
class Flower:
    item_id: str
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float
    species: str  # the truth: never shown to workers

    def measurements(self) -> dict[str, float]:
        return {m: getattr(self, m) for m in MEASUREMENTS}


def iris_flowers() -> list[Flower]:
    """The 150 flowers in the data set's order, with ids iris-001 ... iris-150."""
    from sklearn.datasets import load_iris

    data = load_iris()
    return [Flower(f"iris-{i + 1:03d}", *(round(float(v), 1) for v in x), SPECIES[int(y)])
            for i, (x, y) in enumerate(zip(data.data, data.target))]


def _leaf(length_cm: float, width_cm: float, angle: float, colour: str) -> str:
    """One sepal or petal: an ellipse from the centre outwards, rotated by `angle` degrees."""
    rx, ry = length_cm * PIXELS_PER_CM / 2, max(width_cm, 0.1) * PIXELS_PER_CM / 2
    c = SIZE / 2
    return (f'<ellipse cx="{c + rx:.1f}" cy="{c:.1f}" rx="{rx:.1f}" ry="{ry:.1f}" fill="{colour}" '
            f'fill-opacity="0.85" stroke="#333" stroke-width="0.6" transform="rotate({angle:.0f} {c} {c})"/>')


def flower_svg(flower: Flower) -> str:
    """An SVG picture of the flower, to scale (a 1 cm bar in the corner)."""
    parts = [_leaf(flower.sepal_length, flower.sepal_width, a, "#4c9a2a") for a in (-90, 30, 150)]
    parts += [_leaf(flower.petal_length, flower.petal_width, a, "#7b4fb3") for a in (-30, 90, 210)]
    bar = PIXELS_PER_CM
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">'
            f'<rect width="{SIZE}" height="{SIZE}" fill="#fbfbf7"/>{"".join(parts)}'
            f'<circle cx="{SIZE / 2}" cy="{SIZE / 2}" r="{math.ceil(PIXELS_PER_CM * 0.35)}" fill="#f2c14e"/>'
            f'<line x1="8" y1="{SIZE - 10}" x2="{8 + bar:.0f}" y2="{SIZE - 10}" stroke="#333" stroke-width="2"/>'
            f'<text x="8" y="{SIZE - 14}" font-size="9" font-family="sans-serif" fill="#333">1 cm</text></svg>')


def image_data_url(flower: Flower) -> str:
    """The picture as a data: URL, so the task page needs no image server."""
    return "data:image/svg+xml;base64," + base64.b64encode(flower_svg(flower).encode()).decode()
