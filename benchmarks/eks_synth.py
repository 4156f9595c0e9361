"""Synth time of the ``Observability`` stage with the EKS sample (``EksObservability``) against the same stage
without it (``include_eks=False``) and against an empty app, in one run: ``python <script>`` in a subprocess
with the cdk.json context, median of three runs each (the method of ``app_synth``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.app_synth import REPEATS, empty_app_seconds, synth_seconds

STAGE_APP = (
    "import aws_cdk as cdk\n"
    "from cdk_nag import AwsSolutionsChecks\n"
    "from devops_blueprints.stages import ObservabilityStage\n"
    "app = cdk.App()\n"
    "cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))\n"
    "ObservabilityStage(app, 'Observability', include_eks={include_eks})\n"
    "app.synth()\n"
)


def run() -> dict[str, float]:
    empty_s = empty_app_seconds()
    with tempfile.TemporaryDirectory() as scratch:
        scripts = {}
        for include in (False, True):
            path = Path(scratch) / f"stage_{str(include).lower()}.py"
            path.write_text(STAGE_APP.format(include_eks=include))
            scripts[include] = str(path)
        without_s = synth_seconds([scripts[False]], {})
        with_s = synth_seconds([scripts[True]], {})
    figures = {
        "empty_app_s": round(empty_s, 2),
        "stage_without_eks_s": round(without_s, 2),
        "stage_with_eks_s": round(with_s, 2),
        "with_eks_vs_empty": round(with_s / empty_s, 2),
        "with_eks_vs_without": round(with_s / without_s, 2),
    }
    print(
        f"  synth (cdk-nag on): empty app {figures['empty_app_s']} s, Observability stage without EKS "
        f"{figures['stage_without_eks_s']} s, with EKS {figures['stage_with_eks_s']} s "
        f"({figures['with_eks_vs_empty']}x the empty app, {figures['with_eks_vs_without']}x the stage without it; "
        f"median of {REPEATS})"
    )
    return figures
