"""User-facing errors.

Anything wrong with a user's input (a topology file, a trace, a config, a CLI
argument) raises :class:`UserError`.  ``run_emulation.py`` turns it into a
single line ``error: <where>: <what>`` and a non-zero exit, without a
traceback.  Everything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with user input, reported as one line naming what and where."""

    def __init__(self, where, message):
        self.where = str(where)
        self.message = str(message)
        super().__init__(f"{self.where}: {self.message}")
