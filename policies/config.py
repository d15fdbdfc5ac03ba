"""Policy parameter files: one YAML section per policy, validated on reading.

``policies/policies.yaml`` holds the defaults; a user's file has the same
shape and may give only some policies and some fields: what it gives
overrides the defaults field by field.
"""

import os

from common.yaml_file import load_yaml

from common.errors import UserError
from policies.registry import policy_classes, policy_class, validate_params

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "policies.yaml")


DEFAULT_REFERENCE = "mfs"     # the policy the others are compared with, unless --reference


def default_schedulers():
    """Every registered policy, in the order of the default policies.yaml's
    sections (those without one last, by name): what ``run`` runs by default."""
    order = list(load_yaml(DEFAULT_CONFIG, empty_ok=True))
    names = list(policy_classes())
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def read_policy_config(path=None):
    """{policy name: parameter dict} from a YAML file, every section validated."""
    path = path or DEFAULT_CONFIG
    data = load_yaml(path, empty_ok=True)
    sections = {}
    for name, params in data.items():
        if name not in policy_classes():
            raise UserError(f"{path}: {name}", f"unknown policy "
                                               f"(known: {', '.join(policy_classes())})")
        validate_params(name, params, where=path)
        sections[name] = dict(params or {})
    return sections


def get_policy(name, params=None, num_queues=8, config=None):
    """A ready policy: ``params`` over the ``config`` file's section over the defaults.

    ``config`` is a user's YAML path; the shipped defaults are always read
    first, so a user's file or ``params`` need only name what they change.
    """
    cls = policy_class(name)
    merged = dict(read_policy_config().get(name, {}))
    if config is not None:
        merged.update(read_policy_config(config).get(name, {}))
    merged.update(params or {})
    return cls(validate_params(name, merged), num_queues)
