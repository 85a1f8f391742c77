"""Real photos for the synthetic tracking dataset: read from folders and files, with the photos that
scikit-image ships as the fallback.

A source is a folder (searched recursively for .jpg/.jpeg/.png/.webp/.bmp/.tif/.tiff), an image file, or
the word ``skimage`` (the colour and grey photos bundled in ``skimage/data``). Debian's wallpaper
packages install more photos under ``/usr/share/backgrounds`` and ``/usr/share/wallpapers``
(e.g. ``apt-get install mate-backgrounds gnome-backgrounds ukui-wallpapers``).
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from ..datasets.images import IMAGE_SUFFIXES, read_image
from ..files import atomic_write, cache_root

log = logging.getLogger(__name__)

# Natural photos in skimage/data (no download needed); synthetic test patterns are left out.
SKIMAGE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
                  "motorcycle_right.png", "hubble_deep_field.jpg", "ihc.png", "retina.jpg", "camera.png",
                  "moon.png", "coins.png", "page.png", "text.png", "grass.png", "gravel.png", "brick.png",
                  "cell.png")
# The system folders Debian's wallpaper packages install into; used when present by the "system" source.
SYSTEM_PHOTO_FOLDERS = ("/usr/share/backgrounds", "/usr/share/wallpapers")


# Decoded photos, shared by every library of this process: (path, max_side) -> RGB array.
_CACHE: "OrderedDict[Tuple[str, int], np.ndarray]" = OrderedDict()
_CACHE_SIZE = [256]


class PhotoSourceError(OSError):
    """A photo source names nothing usable."""


def skimage_photo_paths() -> List[Path]:
    try:
        import skimage.data
    except ImportError:  # pragma: no cover - scikit-image is a dependency
        raise PhotoSourceError("the 'skimage' photo source needs scikit-image (pip install scikit-image)") from None
    folder = Path(skimage.data.__file__).parent
    return [folder / name for name in SKIMAGE_PHOTOS if (folder / name).is_file()]


def resolve_photo_sources(sources: Sequence[str]) -> List[Path]:
    """Expand sources into a sorted, de-duplicated list of image files.

    ``skimage`` adds scikit-image's bundled photos; ``system`` adds the Debian wallpaper folders that exist
    (none is an error only if nothing else is found); any other entry must be an existing file or folder.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [str(sources)]
    found: List[Path] = []
    for source in sources:
        source = str(source)
        if source == "skimage":
            found += skimage_photo_paths()
        elif source == "system":
            for folder in SYSTEM_PHOTO_FOLDERS:
                if Path(folder).is_dir():
                    found += _scan(Path(folder))
        else:
            path = Path(source).expanduser()
            if path.is_dir():
                files = _scan(path)
                if not files:
                    raise PhotoSourceError(f"photo folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
                found += files
            elif path.is_file():
                found.append(path)
            else:
                raise PhotoSourceError(f"photo source {source!r} is not a file, a folder, 'skimage' or 'system'")
    unique = sorted({p.resolve() for p in found}, key=str)
    if not unique:
        raise PhotoSourceError(f"no photos found in sources {list(sources)}")
    return unique


def _scan(folder: Path) -> List[Path]:
    return [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def photo_cache_dir() -> Path:
    """Where shrunk photos are kept between runs: ``cache_root()/photos`` (see ``mixformerv2.files``)."""
    return cache_root() / "photos"


def _cached_read(path: Path, max_side: int) -> np.ndarray:
    """read_rgb through a disk cache of the shrunk photo (.npy, keyed by path, size, mtime and max_side), so
    large wallpapers are decoded once per machine rather than once per data-loading worker."""
    try:
        st = path.stat()
        key = hashlib.sha1(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{max_side}".encode()).hexdigest()[:20]
        cached = photo_cache_dir() / f"{key}.npy"
        if cached.is_file():
            return np.load(cached)
    except (OSError, ValueError):
        cached = None
    try:
        image = read_image(path, max_side)
    except OSError as exc:
        raise PhotoSourceError(str(exc)) from None
    if cached is not None:
        try:
            def write(tmp: str) -> None:
                with open(tmp, "wb") as f:      # a file object: np.save would append .npy to a name
                    np.save(f, image, allow_pickle=False)

            atomic_write(cached, write)
        except OSError:  # a read-only home: no cache, no harm
            pass
    return image


class PhotoLibrary:
    """An ordered set of photos, read lazily and kept in a per-process cache (shared by all libraries).

    Photos smaller than ``min_side`` on their short side are skipped when first read. ``fingerprint``
    identifies the set (names and sizes), so a synthetic dataset is reproducible only with the same one.
    """

    def __init__(self, sources: Sequence[str] = ("system", "skimage"), max_side: int = 1024, min_side: int = 96,
                 cache_size: int = 256):
        self.sources = list(sources) if not isinstance(sources, str) else [sources]
        self.paths = resolve_photo_sources(self.sources)
        self.max_side = max_side
        self.min_side = min_side
        _CACHE_SIZE[0] = max(_CACHE_SIZE[0], cache_size)

    def __len__(self) -> int:
        return len(self.paths)

    def name(self, index: int) -> str:
        return self.paths[index].stem

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for p in self.paths:
            h.update(f"{p.name}:{p.stat().st_size};".encode())
        return h.hexdigest()[:12]

    def split_indices(self, heldout_fraction: float) -> Tuple[List[int], List[int]]:
        """(regular, held-out) photo indices; a photo's side depends only on its file name and size."""
        if heldout_fraction <= 0 or len(self.paths) < 2:
            return list(range(len(self.paths))), []
        regular, heldout = [], []
        for i, p in enumerate(self.paths):
            digest = hashlib.sha1(f"{p.name}:{p.stat().st_size}".encode()).digest()
            (heldout if int.from_bytes(digest[:4], "little") / 2**32 < heldout_fraction else regular).append(i)
        if not heldout:  # keep at least one photo on each side
            heldout.append(regular.pop())
        if not regular:
            regular.append(heldout.pop())
        return regular, heldout

    def load(self, index: int) -> np.ndarray:
        """Photo ``index`` as RGB uint8; raises PhotoSourceError if unreadable or too small."""
        key = (str(self.paths[index]), self.max_side)
        if key in _CACHE:
            _CACHE.move_to_end(key)
            image = _CACHE[key]
        else:
            image = _cached_read(self.paths[index], self.max_side)
            _CACHE[key] = image
            while len(_CACHE) > _CACHE_SIZE[0]:
                _CACHE.popitem(last=False)
        if min(image.shape[:2]) < self.min_side:
            raise PhotoSourceError(f"photo {self.paths[index]} is smaller than {self.min_side} pixels")
        return image
