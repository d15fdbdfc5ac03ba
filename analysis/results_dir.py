"""Loading a results directory (RESULTS_FORMAT.md): ``run.json`` and one
folder of tables per scheduler.

Every file's presence is checked when the directory is opened; each CSV is
parsed on first use (a report needs ``links.csv``, a summary does not), and
either way a problem is a UserError naming the file and column.
"""

import math
from functools import cached_property
from pathlib import Path

from common.errors import UserError
from common.json_file import read_json_object
from analysis.csv_tables import read_table
from analysis.schema import SCHEDULER_FILES, SCHEDULER_TABLES

RUN_FILE = "run.json"
SWEEP_FILE = "sweep.json"


def check_scheduler_names(names, where, field="schedulers"):
    if not isinstance(names, list) or not names:
        raise UserError(where, f"{field!r} must be a non-empty list of scheduler names")
    for name in names:
        # Names become folder names: nothing that could leave the directory.
        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name \
                or "\\" in name:
            raise UserError(where, f"{field!r}: {name!r} is not a scheduler name")
    if len(set(names)) != len(names):
        raise UserError(where, f"{field!r} lists a scheduler twice")
    return list(names)


class SchedulerResults:
    """The tables one scheduler's run wrote (``DIR/<scheduler>/``)."""

    def __init__(self, name, directory):
        self.name = name
        self.directory = Path(directory)
        for filename in SCHEDULER_FILES:
            if not (self.directory / filename).is_file():
                raise UserError(self.directory / filename, "missing file")

    def _table(self, filename):
        columns, unique = SCHEDULER_TABLES[filename]
        return read_table(self.directory / filename, columns, unique)

    @cached_property
    def flows(self):
        return self._table("flows.csv")

    @cached_property
    def requests(self):
        return self._table("requests.csv")

    @cached_property
    def collectives(self):
        return self._table("collectives.csv")

    @cached_property
    def queue_changes(self):
        return self._table("queue_changes.csv")

    @cached_property
    def links(self):
        return self._table("links.csv")

    @cached_property
    def fidelity(self):
        return read_json_object(self.directory / "fidelity.json")


class RunResults:
    """A results directory: ``run.json`` plus a SchedulerResults per scheduler."""

    def __init__(self, directory):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise UserError(self.directory, "not a results directory (no such directory)")
        self.run = read_json_object(self.directory / RUN_FILE)
        names = check_scheduler_names(self.run.get("schedulers"), self.directory / RUN_FILE)
        self.schedulers = {name: SchedulerResults(name, self.directory / name)
                           for name in names}

    @property
    def backend(self):
        return self.run.get("backend", "")

    @property
    def sweep_point(self):
        """(parameter, value) from run.json's optional "sweep", else None."""
        sweep = self.run.get("sweep")
        if not isinstance(sweep, dict):
            return None
        value = sweep.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise UserError(self.directory / RUN_FILE, "'sweep.value' must be a number")
        return sweep.get("parameter"), float(value)


def is_sweep_dir(directory):
    return (Path(directory) / SWEEP_FILE).is_file()
