"""Per-tenant feature flags (AWS AppConfig): the flag model and its checks, plain Python (no CDK).

The ``TenantFeatureFlags`` construct (``devops_blueprints.constructs``) deploys a document built here; the
``devops-blueprints flags`` command (``devops_blueprints.feature_flags.cli``) edits and deploys it.
"""

from __future__ import annotations

from devops_blueprints.feature_flags.model import ArrayAttribute as ArrayAttribute
from devops_blueprints.feature_flags.model import BooleanAttribute as BooleanAttribute
from devops_blueprints.feature_flags.model import ConstraintViolationError as ConstraintViolationError
from devops_blueprints.feature_flags.model import FeatureFlag as FeatureFlag
from devops_blueprints.feature_flags.model import FlagDocumentError as FlagDocumentError
from devops_blueprints.feature_flags.model import NumberAttribute as NumberAttribute
from devops_blueprints.feature_flags.model import StringAttribute as StringAttribute
from devops_blueprints.feature_flags.model import UnknownAttributeTypeError as UnknownAttributeTypeError
from devops_blueprints.feature_flags.model import flag_document as flag_document
from devops_blueprints.feature_flags.model import validate_document as validate_document
from devops_blueprints.feature_flags.model import with_value as with_value
from devops_blueprints.feature_flags.names import FlagNames as FlagNames
