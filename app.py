#!/usr/bin/env python3
"""Sample app: reads context and composes the stages (see ARCHITECTURE.md, "Synth modes")."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

app = cdk.App()
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
