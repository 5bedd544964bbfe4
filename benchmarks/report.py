"""What the benchmark scripts share to write their reports.

Each script prints a plain text report and writes a reStructuredText one to
``benchmarks/results/``. Both open with facts that a reader needs to judge the
figures (the date, the versions, the server, the machine), kept as ``(label,
value)`` pairs: in plain text they are ``label: value`` lines, in
reStructuredText a field list under the title and a line naming the script.
Then come the parts of the report, tables and paragraphs, a blank line between
two. Tables are reStructuredText simple tables, which read well as plain text
too. Progress goes to standard error, so that standard output is the report.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import redis

import redis_sessions
from benchmarks.servers import server_binary

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: Where the charts go: the manual shows them.
CHARTS_DIR = Path(__file__).resolve().parent.parent / "docs" / "charts"

#: What a report says to judge its numbers by, as ``(label, value)`` pairs.
Facts = list[tuple[str, str]]

#: The distributions whose versions a report may give, by the label it gives them.
DISTRIBUTIONS = {
    "Django": "django",
    "asgiref": "asgiref",
    "redis-py": "redis",
    "hiredis": "hiredis",
    "django-redis": "django-redis",
}


# Facts ----------------------------------------------------------------------


def version(distribution: str) -> str:
    """Return the installed version of ``distribution``, or say that it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_facts(*labels: str) -> Facts:
    """Return the date, Python, this package and the packages of ``labels``, in that order.

    ``labels`` are keys of :data:`DISTRIBUTIONS`.
    """
    return [
        ("Date (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("redis_sessions", redis_sessions.__version__),
        *((label, version(DISTRIBUTIONS[label])) for label in labels),
    ]


def server_version(admin: redis.Redis) -> str:
    """Name the server binary that the benchmarks start, with the version ``admin`` reports."""
    return f"{os.path.basename(server_binary())} {admin.info('server')['redis_version']}"


def machine(*, cpus: bool = True) -> str:
    """Name the operating system and the architecture, and with ``cpus`` count the CPUs."""
    name = f"{platform.system()} {platform.machine()}"
    return f"{name}, {os.cpu_count()} CPUs" if cpus else name


# Layout ---------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lay out a reStructuredText simple table, which also reads well as plain text."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    rule = "  ".join("=" * width for width in widths)

    # Columns of numbers right-aligned, so that their digits line up.
    numeric = [
        all(str(cell)[:1].isdigit() for cell in column) for column in zip(*rows, strict=True)
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).rjust(width) if right else str(cell).ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return [rule, line(header), rule, *(line(row) for row in rows), rule]


def spread(median: float, lowest: float, highest: float, *, digits: int = 2) -> str:
    """Write a median with the lowest and highest values it was taken from: ``0.42 (0.40-0.45)``."""
    if median != median:
        return "-"
    return f"{median:.{digits}f} ({lowest:.{digits}f}-{highest:.{digits}f})"


def bullets(lines: Iterable[str]) -> list[str]:
    """Return ``lines`` as the items of a reStructuredText bullet list."""
    return [f"* {line}" for line in lines]


def heading(title: str) -> list[str]:
    """Return ``title`` underlined, as the title of a reStructuredText document."""
    return [title, "=" * len(title)]


def blocks(*parts: Sequence[str]) -> list[str]:
    """Return the lines of ``parts`` in order, with a blank line between two parts.

    An empty part still counts, so that it leaves two blank lines in a row.
    """
    lines: list[str] = []
    for number, part in enumerate(parts):
        if number:
            lines.append("")
        lines += part
    return lines


def plain_report(facts: Facts, *parts: Sequence[str]) -> str:
    """Return the plain text report: the facts as ``label: value`` lines, then ``parts``."""
    return "\n".join(blocks([f"{label}: {value}" for label, value in facts], *parts))


def rst_report(head: Sequence[str], script: str, facts: Facts, *parts: Sequence[str]) -> str:
    """Return the reStructuredText report, which ends with a newline.

    ``head`` is the title (see :func:`heading`); a line naming ``script``, the
    module that writes the report, follows, then the facts as a field list,
    then ``parts``.
    """
    written_by = [f"Written by ``python -m {script}``; see ``benchmarks/README.rst``."]
    fields = [f":{label}: {value}" for label, value in facts]
    return "\n".join([*blocks(head, written_by, fields, *parts), ""])


# Charts ---------------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    """A new matplotlib figure drawn off screen (matplotlib is imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot.figure(figsize=(width, height), dpi=100, layout="constrained")


def bar_chart(
    name: str, title: str, groups: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str
) -> None:
    """Draw one bar per series in each group; write the PNG to ``docs/charts/<name>``."""
    figure = _figure(11, 5)
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(series))
    for number, (label, values) in enumerate(series.items()):
        positions = [group + number * width for group in range(len(groups))]
        axes.bar(positions, values, width, label=label, color=colour(number))
    labels = [textwrap.fill(group, 30) for group in groups]
    axes.set_xticks([group + 0.4 - width / 2 for group in range(len(groups))], labels, fontsize=8)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.axhline(0, color="black", linewidth=0.6)
    # Beside the axes, where no bar can hide under it.
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes.grid(axis="y", alpha=0.3)
    _save_figure(figure, name)


def line_chart(
    name: str,
    title: str,
    xs: Sequence[float],
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    xlabel: str,
    ylabel: str,
) -> None:
    """Draw one panel per entry of ``panels``, one line per series; write ``docs/charts/<name>``."""
    figure = _figure(11, 3.2 * ((len(panels) + 1) // 2) + 0.6)
    figure.suptitle(title)
    shared = None
    for number, (panel_title, series) in enumerate(panels.items()):
        axes = figure.add_subplot((len(panels) + 1) // 2, 2, number + 1, sharex=shared)
        shared = axes
        for line, (label, values) in enumerate(series.items()):
            axes.plot(xs, values, marker="o", label=label, color=colour(line))
        axes.set_xscale("log", base=2)
        axes.set_xticks(list(xs), [str(x) for x in xs])
        axes.set_title(panel_title, fontsize=9)
        axes.set_xlabel(xlabel, fontsize=8)
        axes.set_ylabel(ylabel, fontsize=8)
        axes.grid(alpha=0.3)
        if number == 0:
            axes.legend(fontsize=7)
    _save_figure(figure, name)


def colour(number: int) -> Any:
    """The ``number``-th of twenty distinct colours: a chart may compare a dozen engines."""
    import matplotlib

    return matplotlib.colormaps["tab20"](number % 20)


def _save_figure(figure: Any, name: str) -> None:
    from matplotlib import pyplot

    CHARTS_DIR.mkdir(parents=True, exist_ok=True)
    path = CHARTS_DIR / name
    # No date or software in the file's metadata, so that a chart changes only
    # when its figures do.
    figure.savefig(path, metadata={"Software": None})
    pyplot.close(figure)
    print(f"Drawn docs/charts/{name}")


# Output ---------------------------------------------------------------------


def progress(message: str) -> None:
    """Tell how the run goes, on standard error."""
    print(message, file=sys.stderr, flush=True)


def save(name: str, rst: str) -> None:
    """Write the reStructuredText report to ``benchmarks/results/<name>``."""
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / name).write_text(rst)


def publish(name: str, plain: str, rst: str) -> None:
    """Print the plain text report, save the reStructuredText one and say where."""
    print(plain)
    save(name, rst)
    print(f"\nWritten to benchmarks/results/{name}")
