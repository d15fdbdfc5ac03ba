"""The points of a sweep: a trace and a fabric changed by one parameter.

* ``rate``: request arrivals compressed by the factor (the same DAG);
* ``bandwidth``: every link's real rate scaled so host links run at the
  value (Gbit/s); the emulated rate stays, so the time dilation follows;
* ``slo_scale``: every request's TTFT SLO multiplied by the value.

Whether stage-aware scheduling matters depends on how network-bound the
workload is; these three knobs move it.
"""

import dataclasses

from experiments.calibration import choose_speed


def scale_slo(trace, factor):
    requests = [dataclasses.replace(r, ttft_slo_us=None if r.ttft_slo_us is None
                                    else r.ttft_slo_us * factor) for r in trace.requests]
    return dataclasses.replace(trace, requests=requests)


def with_host_rate(topology, gbps):
    """The topology with every link scaled so that its host links run at ``gbps``."""
    factor = gbps * 1e9 / max(topology.host_link(h.name).rate_bps for h in topology.hosts)
    return topology.scaled_rates(factor)


def apply_point(topology, trace, settings):
    """(topology, trace) with each ``{parameter: value}`` of ``settings`` applied."""
    from traces import scale_trace_rate

    for parameter, value in settings.items():
        if parameter == "rate":
            trace = scale_trace_rate(trace, value)
        elif parameter == "bandwidth":
            topology = with_host_rate(topology, value)
        elif parameter == "slo_scale":
            trace = scale_slo(trace, value)
        else:
            raise ValueError(f"unknown sweep parameter {parameter!r}")
    return topology, trace


def sweep_points(parameter, layout, topology, trace, trace_path, schedulers, emulated_rate, mtu,
                 time_dilation=None, byte_scale=None, **options):
    """The :class:`~experiments.point.Point` of each (value, point_dir) of
    ``layout``, named relative to the sweep directory (the point dirs' parent's parent)."""
    from experiments.point import make_point

    points = []
    for value, point_dir in layout:
        point_topology, point_trace = apply_point(topology, trace, {parameter: value})
        dilation, speed = choose_speed(point_topology, mtu, point_trace, emulated_rate,
                                       time_dilation, byte_scale)
        name = f"{point_dir.parent.name}/{point_dir.name}"
        points.append(make_point(name, point_topology, point_trace, trace_path, schedulers,
                                 dilation=dilation, speed=speed,
                                 run_info={"sweep": {"parameter": parameter, "value": value}},
                                 **options))
    return points
