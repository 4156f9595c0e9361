"""The one exception type of the Terraform import: a user-facing, one-line message."""

from __future__ import annotations


class TfImportError(Exception):
    """Bad input or a failed AWS operation, described in one line that names the input."""


class MissingAttributeError(TfImportError):
    """A resource lacks an attribute CloudFormation needs to import it."""

    def __init__(self, address: str, attribute: str, cfn_type: str, reason: str = "") -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"{address}: attribute {attribute!r} is missing or empty; "
            f"CloudFormation needs it to import this resource as {cfn_type}{why}"
        )
        self.address = address
        self.attribute = attribute
