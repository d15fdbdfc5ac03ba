"""One self-contained HTML page: plotly.js inlined once in <head>, then
sections of figures and tables.  Nothing is fetched when it opens (no CDN,
no MathJax, no fonts), so the file can be mailed or opened offline.

Every figure is a ``div.plotly-graph-div`` with id ``fig-<name>``; the page
lists the names in ``<script type="application/json" id="report-figures">``
so a check can tell which figures should have rendered.
"""

import html
import json

import plotly.io as pio
from plotly.offline import get_plotlyjs

from analysis.figures_common import PLOT_CONFIG

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 2em 4em;
       color: #222; max-width: 1300px; }
h1 { margin-top: 1em; } h2 { border-bottom: 1px solid #ddd; padding-top: 1.2em; }
nav { position: sticky; top: 0; background: #fff; padding: .5em 0; border-bottom: 1px solid #eee;
      z-index: 10; font-size: .9em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; font-size: .85em; margin: .8em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f4f4f4; position: sticky; top: 2.2em; }
pre { background: #f7f7f7; padding: 1em; overflow: auto; font-size: .8em; max-height: 40em; }
.note { color: #555; font-size: .9em; } .figure { margin: 1em 0 2em; }
.headline { font-size: 1.05em; background: #f3f8ff; padding: .6em 1em; border-left: 4px solid #1f77b4; }
"""


def esc(text):
    return html.escape(str(text), quote=True)


class Page:
    def __init__(self, title, intro_html=""):
        self.title = title
        self.intro_html = intro_html
        self.sections = []          # (anchor, heading, [html parts])
        self.figure_ids = []
        self.figures = []           # (name, plotly Figure), for static export

    def section(self, anchor, heading, note=""):
        parts = [f'<p class="note">{note}</p>'] if note else []
        self.sections.append((anchor, heading, parts))
        return self

    def add_html(self, fragment):
        self.sections[-1][2].append(fragment)
        return self

    def add_figure(self, fig, name, note=""):
        if name in self.figure_ids:
            raise ValueError(f"figure name {name!r} used twice")
        self.figure_ids.append(name)
        self.figures.append((name, fig))
        div = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=f"fig-{name}",
                          config=PLOT_CONFIG, default_height=f"{fig.layout.height or 450}px")
        caption = f'<p class="note">{note}</p>' if note else ""
        return self.add_html(f'<div class="figure" data-figure="{esc(name)}">{div}{caption}</div>')

    def render(self):
        nav = " ".join(f'<a href="#{esc(a)}">{esc(h)}</a>' for a, h, _ in self.sections)
        body = "\n".join(f'<section id="{esc(a)}"><h2>{esc(h)}</h2>\n' + "\n".join(parts)
                         + "</section>" for a, h, parts in self.sections)
        figures = json.dumps(self.figure_ids).replace("</", "<\\/")
        return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                f'<title>{esc(self.title)}</title>\n<style>{_STYLE}</style>\n'
                f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
                f'<script type="application/json" id="report-figures">{figures}</script>\n'
                f'</head>\n<body>\n<h1>{esc(self.title)}</h1>\n{self.intro_html}\n'
                f'<nav>{nav}</nav>\n{body}\n</body>\n</html>\n')
