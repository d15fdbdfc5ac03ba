"""Finding policies by name: every module of this package is searched.

A policy is any :class:`~policies.base.Policy` subclass with a
non-empty ``name`` defined in a module of this package, so a user adds one
by dropping a file next to ``mfs.py`` and nothing else.  Modules whose name
starts with ``_`` are skipped.
"""

import importlib
import pkgutil

from pydantic import ValidationError

from common.errors import UserError
from policies.base import Policy

_PACKAGE = "policies"
_classes = None


def policy_classes():
    """{name: Policy subclass} for every policy in the package, sorted by name."""
    global _classes
    if _classes is None:
        _classes = dict(sorted(_discover().items()))
    return _classes


def _discover():
    package = importlib.import_module(_PACKAGE)
    found, origin = {}, {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module_name = f"{_PACKAGE}.{info.name}"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a user's dropped-in module: say which one
            raise UserError(module_name, f"cannot load policy module "
                                         f"({type(exc).__name__}: {exc})") from exc
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, Policy)
                    and obj.__module__ == module_name and obj.name):
                if obj.name in found:
                    raise UserError(module_name, f"policy name {obj.name!r} is already "
                                                 f"used in {origin[obj.name]}")
                found[obj.name], origin[obj.name] = obj, module_name
    return found


def policy_class(name):
    classes = policy_classes()
    if name not in classes:
        raise UserError("policy", f"unknown policy {name!r} (known: {', '.join(classes)})")
    return classes[name]


def validate_params(name, params, where=None):
    """The policy's validated Params model; errors name the policy and field."""
    cls = policy_class(name)
    if params is not None and not isinstance(params, dict):
        raise UserError(where or name, "policy parameters must be a mapping")
    try:
        return cls.Params.model_validate(params or {})
    except ValidationError as err:
        first = err.errors()[0]
        field = _location(first["loc"])
        label = f"{name}.{field}" if field else name
        raise UserError(f"{where}: {label}" if where else label,
                        first["msg"].removeprefix("Value error, ")) from None


def _location(loc):
    text = ""
    for item in loc:
        text += f"[{item}]" if isinstance(item, int) else ("." if text else "") + str(item)
    return text
