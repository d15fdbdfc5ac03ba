"""Small pieces shared by every package; imports no other project package.

* ``errors``     ``UserError``: a one-line error naming what and where.
* ``units``      rates, sizes and durations as users write them (``1ms``).
* ``yaml_file``  reading YAML with errors that name the file.
* ``reactor``    the event loop (epoll, timerfd) of the host agents and the
  flow registry, and JSON-lines channels over Unix sockets.
"""
