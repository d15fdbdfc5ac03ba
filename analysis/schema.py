"""The columns of every CSV file in a results directory (see RESULTS_FORMAT.md).

Each column has a kind (how its text is read) and whether it may be empty.
Readers reject a file that lacks a column or holds a value that does not
read as its kind; extra columns are kept, so writers can add some first.
"""

from dataclasses import dataclass

STAGES = ("kv_fetch", "collective", "p2d", "other")
FLOW_STATUSES = ("ok", "failed")
QUEUE_CHANGE_REASONS = ("initial", "promotion", "demotion", "scavenger", "pace")

STR, INT, FLOAT, BOOL = "str", "int", "float", "bool"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = STR
    required: bool = False      # must not be empty
    choices: tuple = ()         # allowed values of a STR column, if limited
    positive: bool = False      # a number that must be > 0
    optional: bool = False      # may be absent (results written before it existed)


def _columns(*specs):
    return tuple(spec if isinstance(spec, Column) else Column(spec) for spec in specs)


FLOWS = _columns(
    Column("flow_id", required=True), Column("request_id", required=True),
    Column("stage", required=True, choices=STAGES), Column("layer", INT),
    "collective_id", "src", "dst", "protocol",
    Column("bytes", INT, required=True, positive=True),
    Column("bottleneck_bps", FLOAT, required=True, positive=True),
    Column("ready_us", FLOAT), Column("start_us", FLOAT), Column("first_byte_us", FLOAT),
    Column("end_us", FLOAT), Column("fct_us", FLOAT),
    Column("queue_initial", INT), Column("queue_final", INT),
    Column("promotions", INT), Column("retransmits", INT),
    Column("status", required=True, choices=FLOW_STATUSES), "reason",
    # captured traces: the capture's FCT scaled to this fabric (empty otherwise)
    Column("capture_fct_us", FLOAT, optional=True),
    # batched traces: the batch the flow serves (request_id is its first request)
    Column("batch", optional=True),
)

REQUESTS = _columns(
    Column("request_id", required=True), Column("arrival_us", FLOAT, required=True),
    # Empty when the trace gives the request no SLO: it cannot meet one.
    Column("ttft_slo_us", FLOAT), Column("deadline_us", FLOAT),
    Column("ttft_us", FLOAT), Column("slo_met", BOOL, required=True),
    Column("scavenged", BOOL, required=True),
    Column("input_tokens", INT), Column("output_tokens", INT),
    # no scheduler can beat ttft_bound_us; feasible: bound <= SLO (empty without an SLO)
    Column("ttft_bound_us", FLOAT, optional=True), Column("feasible", BOOL, optional=True),
    # the TTFT a real deployment measured (imported request traces; else empty)
    Column("capture_ttft_us", FLOAT, optional=True),
)

COLLECTIVES = _columns(
    Column("collective_id", required=True), "request_id", Column("layer", INT), "kind",
    Column("flows", INT), Column("ready_us", FLOAT), Column("end_us", FLOAT),
    Column("cct_us", FLOAT),
    Column("capture_cct_us", FLOAT, optional=True),
)

QUEUE_CHANGES = _columns(
    Column("time_us", FLOAT, required=True), Column("flow_id", required=True), "request_id",
    Column("old_queue", INT), Column("new_queue", INT, required=True),
    Column("reason", required=True, choices=QUEUE_CHANGE_REASONS),
)

LINKS = _columns(
    Column("time_us", FLOAT, required=True), Column("link", required=True),
    Column("queue", INT), Column("throughput_bps", FLOAT), Column("backlog_bytes", FLOAT),
)

# File name -> (columns, columns whose values must be unique).
SCHEDULER_TABLES = {
    "flows.csv": (FLOWS, ("flow_id",)),
    "requests.csv": (REQUESTS, ("request_id",)),
    "collectives.csv": (COLLECTIVES, ("collective_id",)),
    "queue_changes.csv": (QUEUE_CHANGES, ()),
    "links.csv": (LINKS, ()),
}
SCHEDULER_FILES = tuple(SCHEDULER_TABLES) + ("fidelity.json",)
