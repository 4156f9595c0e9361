"""Terraform state -> importable CloudFormation (plain Python, no CDK import).

``reader`` reads ``terraform show -json`` output, ``translators`` map each supported Terraform type to
its CloudFormation type and import identifier, ``template`` builds the template and the
``ResourcesToImport`` list, ``deploy`` runs the IMPORT change set and adds the stack to DevOps Guru,
``cli`` is the ``devops-blueprints tf`` command group.
"""

from __future__ import annotations

from devops_blueprints.tf_import.errors import MissingAttributeError, TfImportError
from devops_blueprints.tf_import.reader import TfResource, load_module, load_show_json, load_state_file
from devops_blueprints.tf_import.template import Translation, translate
from devops_blueprints.tf_import.translators import BY_TF_TYPE, TRANSLATORS

__all__ = [
    "BY_TF_TYPE",
    "TRANSLATORS",
    "MissingAttributeError",
    "TfImportError",
    "TfResource",
    "Translation",
    "load_module",
    "load_show_json",
    "load_state_file",
    "translate",
]
