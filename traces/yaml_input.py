"""Reading YAML inputs (models, deployments) into pydantic models, with
errors that name the file and line or field."""

import yaml
from pydantic import ValidationError

from common.errors import UserError


def load_yaml(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise UserError(path, "no such file") from None
    except OSError as err:
        raise UserError(path, f"cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise UserError(path, "not UTF-8 text") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(where, f"malformed YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise UserError(path, f"malformed YAML: {err}") from None
    if not isinstance(data, dict):
        raise UserError(path, "expected a YAML mapping at the top level")
    return data


def parse_model(cls, data, path):
    """``cls.model_validate(data)``, turning the first pydantic error into a UserError."""
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown field"
        elif first["type"] == "missing":
            message = "missing field"
        raise UserError(f"{path}: {field}", message) from None
