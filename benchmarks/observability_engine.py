"""What the CloudWatch engine adds to synth time, as ratios measured in the same run:

* the sample app with the default engines (devops-guru and cloudwatch) against the sample app with the
  devops-guru engine only (``-c observability_engines=...``);
* a generated app of 1,000 resources in one stage (10 stacks of 100: queues, topics, tables and functions
  with their roles), three ways: no boundary; the stage inside the application boundary with no engine
  (its tagging alone, what the boundary costs today); the boundary with the CloudWatch engine. The engine's
  aspect is measured against the boundary without it. Goal (issue 13): at most 1.3x.

Each figure is the median of three (sample app) or five (generated app, one run of each mode per round)
``python`` subprocess runs, as in ``benchmarks.app_synth``. A fourth generated mode, the floor, includes the
engine's output (read from one engine synth) from templates without running the engine: what the output itself
costs to synthesize, which no engine creating those alarms can avoid.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.app_synth import REPO_ROOT, synth_seconds

RESOURCES = 1000
STACKS = 10
GOAL = 1.3
ROUNDS = 5

GENERATED_APP = """
import sys
import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb, aws_lambda as lambda_, aws_sns as sns, aws_sqs as sqs

mode = sys.argv[1]
app = cdk.App()
stage = cdk.Stage(app, "Generated")
per_stack = {per_stack}
for s in range({stacks}):
    stack = cdk.Stack(stage, f"Stack{{s}}")
    count = 0
    unit = 0
    while count < per_stack:
        kind = unit % 4
        if kind == 0:
            sqs.Queue(stack, f"Queue{{unit}}")
            count += 1
        elif kind == 1:
            sns.Topic(stack, f"Topic{{unit}}")
            count += 1
        elif kind == 2:
            dynamodb.CfnTable(
                stack, f"Table{{unit}}", key_schema=[{{"attributeName": "pk", "keyType": "HASH"}}],
                attribute_definitions=[{{"attributeName": "pk", "attributeType": "S"}}], billing_mode="PAY_PER_REQUEST")
            count += 1
        else:
            lambda_.Function(stack, f"Function{{unit}}", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler",
                             code=lambda_.Code.from_inline("def handler(event, context):\\n    return None\\n"))
            count += 2  # the function and its role
        unit += 1
if mode == "tagged":
    from devops_blueprints.constructs.app_boundary import tag_application
    tag_application(stage, "generated")
elif mode == "engine":
    from devops_blueprints.constructs.observability import ApplicationBoundary, CloudWatchEngine
    engine = CloudWatchEngine(cdk.Stack(stage, "Engine"), "Engine")
    ApplicationBoundary(stage, "Boundary", engines=[engine]).include(stage, "generated")
elif mode == "floor":
    # The engine's output without the engine: the boundary's tagging, and every resource the engine added
    # (read from an engine synth) included from a template, one CfnInclude per stack.
    from aws_cdk import cloudformation_include as cfn_include
    from devops_blueprints.constructs.app_boundary import tag_application
    tag_application(stage, "generated")
    added = sys.argv[2]
    for s in range({stacks}):
        cfn_include.CfnInclude(stage.node.find_child(f"Stack{{s}}"), "EngineOutput", template_file=f"{{added}}/Stack{{s}}.json")
    cfn_include.CfnInclude(cdk.Stack(stage, "Engine"), "EngineOutput", template_file=f"{{added}}/Engine.json")
app.synth()
"""


def _literal(value: object) -> object:
    """``value`` with every intrinsic function replaced by a string of about the same size: the included copy
    must not refer to resources its template does not hold."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::Join", "Fn::Sub"):
            return json.dumps(value)
        return {key: _literal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_literal(item) for item in value]
    return value


def engine_output(script: Path, scratch: Path) -> tuple[Path, int]:
    """Synthesize the engine mode once and write, per stack, the resources the engine added (those the tagged
    mode does not have) as a template; returns the folder and how many resources the engine added."""
    assemblies = {}
    for mode in ("tagged", "engine"):
        outdir = scratch / f"{mode}.out"
        env = {**os.environ, "CDK_OUTDIR": str(outdir)}
        subprocess.run([sys.executable, str(script), mode], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
        assemblies[mode] = outdir / "assembly-Generated"
    added_dir = scratch / "added"
    added_dir.mkdir()
    added = 0
    for template_path in sorted(assemblies["engine"].glob("*.template.json")):
        # GeneratedStack0C3A07C49.template.json: the stage's name, the stack's, an 8-hex-digit hash.
        stack = template_path.name.removeprefix("Generated").removesuffix(".template.json")[:-8]
        resources = json.loads(template_path.read_text())["Resources"]
        before_path = assemblies["tagged"] / template_path.name
        before = json.loads(before_path.read_text())["Resources"] if before_path.exists() else {}
        new = {key: value for key, value in resources.items() if key not in before and key != "CDKMetadata"}
        for resource in new.values():
            resource.pop("DependsOn", None)
        added += len(new)
        (added_dir / f"{stack}.json").write_text(json.dumps({"Resources": _literal(new)}))
    return added_dir, added


def run() -> dict[str, float]:
    guru_only = synth_seconds(["app.py"], {"observability_engines": "devops-guru"})
    default = synth_seconds(["app.py"], {})
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "generated_app.py"
        script.write_text(GENERATED_APP.format(per_stack=RESOURCES // STACKS, stacks=STACKS))
        added_dir, added = engine_output(script, Path(scratch))
        # Round robin, one run of each mode per round: a change in the machine's load falls on every mode alike.
        modes = {"bare": [str(script), "bare"], "tagged": [str(script), "tagged"], "engine": [str(script), "engine"]}
        modes["floor"] = [str(script), "floor", str(added_dir)]
        samples: dict[str, list[float]] = {mode: [] for mode in modes}
        for _ in range(ROUNDS):
            for mode, args in modes.items():
                samples[mode].append(synth_seconds(args, {}, repeats=1))
        bare, without, with_engine, floor = (statistics.median(samples[mode]) for mode in modes)
    figures = {
        "sample_guru_only_s": round(guru_only, 2),
        "sample_default_engines_s": round(default, 2),
        "sample_ratio": round(default / guru_only, 2),
        "generated_bare_s": round(bare, 2),
        "generated_without_s": round(without, 2),
        "generated_with_engine_s": round(with_engine, 2),
        "generated_ratio": round(with_engine / without, 2),
        "generated_ratio_to_bare": round(with_engine / bare, 2),
        "generated_engine_resources": added,
        "generated_floor_s": round(floor, 2),
        "generated_floor_ratio": round(floor / without, 2),
        "generated_aspect_ratio": round(with_engine / floor, 2),
    }
    print(
        f"  sample app: devops-guru only {figures['sample_guru_only_s']} s, default engines "
        f"{figures['sample_default_engines_s']} s ({figures['sample_ratio']}x)"
    )
    print(
        f"  generated app of {RESOURCES} resources: no boundary {figures['generated_bare_s']} s, boundary without "
        f"the engine {figures['generated_without_s']} s, with the CloudWatch engine "
        f"{figures['generated_with_engine_s']} s ({figures['generated_ratio']}x the boundary without it, goal <= "
        f"{GOAL}x; {figures['generated_ratio_to_bare']}x no boundary)"
    )
    print(
        f"  the engine's {added} resources alone, included from templates without the engine: "
        f"{figures['generated_floor_s']} s ({figures['generated_floor_ratio']}x the boundary without the engine: "
        f"what synthesizing that output costs, validation and rendering); the engine against that floor: "
        f"{figures['generated_aspect_ratio']}x (the aspect's own share)"
    )
    met = figures["generated_ratio"] <= GOAL
    print(
        f"  goal: engine <= {GOAL}x the boundary without it: {'met' if met else 'MISSED'} ({figures['generated_ratio']}x)"
    )
    return figures
