"""Reading and writing the text files of tracking benchmarks: boxes, flags, polygons.

Every reader names the file and the 1-based line of the first malformed entry.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np

PathLike = Union[str, Path]

_SEPARATORS = re.compile(r"[,\s;]+")


class AnnotationError(ValueError):
    """A malformed annotation or result file; the message names the file and line."""


def _numbers(text: str) -> List[str]:
    return [t for t in _SEPARATORS.split(text.strip()) if t]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise OSError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _parse_float(token: str) -> float:
    # numpy spells NaN "nan"; MATLAB writes "NaN"; some toolkits write "-nan" or "None"
    if token.lower() in ("nan", "-nan", "+nan", "none", "null"):
        return float("nan")
    return float(token)


def read_number_rows(path: PathLike, columns: Union[int, Sequence[int]], what: str = "values") -> np.ndarray:
    """Rows of numbers separated by commas, tabs, spaces or semicolons; (N, C) float64.

    ``columns`` is the allowed column count (or counts: every row must have the same one). Empty lines
    are skipped. A malformed line raises AnnotationError naming the file and 1-based line number.
    """
    path = Path(path)
    allowed = (columns,) if isinstance(columns, int) else tuple(columns)
    text = _read_text(path)
    fast = _fast_parse(text, allowed)
    if fast is not None:
        return fast
    rows: List[List[float]] = []
    width: Optional[int] = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = _numbers(line)
        if not tokens:
            continue
        try:
            values = [_parse_float(t) for t in tokens]
        except ValueError:
            raise AnnotationError(f"{path}:{lineno}: expected {_expected(allowed)} numbers ({what}), "
                                  f"got {line.strip()[:80]!r}") from None
        if len(values) not in allowed or (width is not None and len(values) != width):
            want = width if width is not None else _expected(allowed)
            raise AnnotationError(f"{path}:{lineno}: expected {want} numbers ({what}), got {len(values)}: "
                                  f"{line.strip()[:80]!r}")
        width = len(values)
        rows.append(values)
    if not rows:
        return np.zeros((0, allowed[0]), dtype=np.float64)
    return np.asarray(rows, dtype=np.float64)


def _expected(allowed: Sequence[int]) -> str:
    return " or ".join(str(a) for a in allowed)


def _fast_parse(text: str, allowed: Sequence[int]) -> Optional[np.ndarray]:
    """numpy's C parser for the common clean case; None when anything is unusual (the slow path reports it)."""
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        return None
    delimiter = "," if "," in first else ("\t" if "\t" in first else None)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.loadtxt(io.StringIO(text), delimiter=delimiter, dtype=np.float64, ndmin=2)
    except ValueError:
        return None
    if data.shape[1] not in allowed:
        return None
    return data


def read_boxes(path: PathLike) -> np.ndarray:
    """An (N, 4) array of x, y, w, h boxes in pixels, one box per line. NaN rows are kept."""
    return read_number_rows(path, 4, "x,y,w,h")


def read_flags(path: PathLike, what: str = "0/1 flags") -> np.ndarray:
    """Integer flags, one per line or all on one line separated by commas/spaces; (N,) int64."""
    path = Path(path)
    text = _read_text(path)
    try:  # fast path: every token a number
        numbers = np.array(_SEPARATORS.sub(" ", text).split(), dtype=np.float64)
        if np.all(numbers == np.round(numbers)):
            return numbers.astype(np.int64)
    except ValueError:
        pass
    for lineno, line in enumerate(text.splitlines(), start=1):
        for token in _numbers(line):
            try:
                number = float(token)
            except ValueError:
                raise AnnotationError(f"{path}:{lineno}: expected {what}, got {token!r}") from None
            if not np.isfinite(number) or number != round(number):
                raise AnnotationError(f"{path}:{lineno}: expected {what}, got {token!r}")
    raise AnnotationError(f"{path}: expected {what}")


def polygon_to_box(values: Sequence[float]) -> np.ndarray:
    """The axis-aligned box (x, y, w, h, pixels) enclosing a polygon x1,y1,x2,y2,...; 4 values pass through."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 4:
        return values.copy()
    if values.size < 6 or values.size % 2:
        raise ValueError(f"a polygon needs an even number (>= 6) of coordinates, got {values.size}")
    xs, ys = values[0::2], values[1::2]
    x0, y0 = xs.min(), ys.min()
    return np.array([x0, y0, xs.max() - x0, ys.max() - y0])


def mask_rle_to_box(text: str) -> np.ndarray:
    """Box (x, y, w, h, pixels) of a VOT mask region ``m<left>,<top>,<width>,<height>,<run lengths...>``.

    Runs alternate background/foreground starting with background, row-major over the width x height
    patch at (left, top). An empty mask gives NaN (target absent).
    """
    numbers = [int(float(t)) for t in text.strip()[1:].split(",") if t.strip()]
    if len(numbers) < 4:
        raise ValueError("a VOT mask needs left, top, width, height and run lengths")
    left, top, width, height = numbers[:4]
    runs = numbers[4:]
    flat = np.zeros(width * height, dtype=bool)
    position, value = 0, False
    for run in runs:
        if value:
            flat[position:position + run] = True
        position += run
        value = not value
    if position > width * height:
        raise ValueError(f"mask run lengths cover {position} pixels, more than {width}x{height}")
    mask = flat.reshape(height, width)
    if not mask.any():
        return np.full(4, np.nan)
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return np.array([left + cols[0], top + rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1], dtype=float)


def read_regions(path: PathLike) -> np.ndarray:
    """VOT regions, one per line: rectangles (4 values), polygons (>= 6 values) or masks (``m...``);
    returned as axis-aligned (N, 4) x, y, w, h boxes in pixels (the enclosing box). ``0`` alone or NaNs
    (VOT's "no target") become NaN rows."""
    path = Path(path)
    boxes = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            if line.startswith("m"):
                boxes.append(mask_rle_to_box(line))
                continue
            values = [_parse_float(t) for t in _numbers(line)]
            if len(values) == 1:  # VOT writes a single number for special frames (no target)
                boxes.append(np.full(4, np.nan))
            else:
                boxes.append(polygon_to_box(values))
        except ValueError as exc:
            raise AnnotationError(f"{path}:{lineno}: not a VOT region ({exc}): {line[:80]!r}") from None
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def format_boxes(boxes: np.ndarray, decimals: int = 3) -> str:
    """Comma-separated x,y,w,h lines (the community result format)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    fmt = f"{{:.{decimals}f}}"
    return "".join(",".join(fmt.format(v) for v in row) + "\n" for row in boxes)
