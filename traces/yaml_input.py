"""Reading YAML inputs (models, deployments) into pydantic models, with
errors that name the file and line or field."""

from pydantic import ValidationError

from common.errors import UserError
from common.yaml_file import load_yaml  # noqa: F401 - re-exported for the synthesizer


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
