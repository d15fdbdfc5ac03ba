"""Static PNG / SVG copies of a report's figures (``report --images DIR``).

plotly renders them through kaleido, which drives the system's Chromium
(the same one the browser test uses), all figures in one browser session.
A figure with a menu is exported in its first state.  Files are written
whole: rendered into a temporary folder beside DIR, then moved in.
"""

import os
import shutil
import tempfile
from pathlib import Path

from common.errors import UserError

FORMATS = ("svg", "png")
EXPORT_WIDTH = 1200     # px; heights come from each figure's layout


def export_figures(figures, directory, fmt="svg"):
    """Write ``{name}.{fmt}`` for each (name, figure); returns the paths."""
    if fmt not in FORMATS:
        raise UserError("--image-format", f"must be one of {', '.join(FORMATS)}")
    try:
        import kaleido  # noqa: F401
        import plotly.io as pio
    except ImportError:
        raise UserError("--images", "static export needs the kaleido package "
                                    "(.venv/bin/pip install kaleido) and Chromium") from None
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".images.", dir=directory))
    try:
        names = [name for name, _ in figures]
        temporary = [scratch / f"{name}.{fmt}" for name in names]
        try:
            pio.write_images([fig for _, fig in figures], temporary, format=fmt,
                             width=EXPORT_WIDTH)
        except Exception as exc:   # kaleido reports a missing browser in many ways
            raise UserError("--images", f"static export failed; is Chromium installed? "
                                        f"({type(exc).__name__}: {exc})") from None
        paths = []
        for name, path in zip(names, temporary):
            target = directory / path.name
            os.replace(path, target)
            paths.append(target)
        return paths
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
