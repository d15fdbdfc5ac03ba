"""Reading a YAML mapping from a file, with errors that name the file and line."""

import yaml

from common.errors import UserError


def load_yaml(path, empty_ok=False):
    """The top-level mapping of a YAML file ({} for an empty file when ``empty_ok``)."""
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
    if data is None and empty_ok:
        return {}
    if not isinstance(data, dict):
        raise UserError(path, "expected a YAML mapping at the top level")
    return data
