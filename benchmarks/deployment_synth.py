"""Per-deployment synth time (the deployment synth mode the provisioning build runs) against an empty
app's synth time, measured the same way in the same run: ``python app.py`` in a subprocess with the
cdk.json context, median of three runs each. Goal (ARCHITECTURE.md): under 10 s on a 2-core machine."""

from __future__ import annotations

from benchmarks.app_synth import REPEATS, empty_app_seconds, synth_seconds

#: What the provisioning build passes (plus the toolchain environment the CDK CLI would set).
DEPLOYMENT_CONTEXT: dict[str, object] = {
    "account": "111111111111",
    "region": "us-east-1",
    "deployment_id": "pool2",
    "deployment_type": "pool",
    "component_account": "222222222222",
    "component_region": "eu-west-1",
}
GOAL_S = 10.0


def run() -> dict[str, float | bool]:
    print(f"  empty app: {REPEATS} runs ...", flush=True)
    empty_s = empty_app_seconds()
    print(f"  deployment synth mode (pool-pool2-pipeline): {REPEATS} runs ...", flush=True)
    deployment_s = synth_seconds(["app.py"], DEPLOYMENT_CONTEXT)
    figures: dict[str, float | bool] = {
        "empty_app_s": round(empty_s, 2),
        "deployment_synth_s": round(deployment_s, 2),
        "ratio": round(deployment_s / empty_s, 2),
        "under_goal": deployment_s < GOAL_S,
    }
    print(
        f"  deployment synth: {figures['deployment_synth_s']} s vs empty app {figures['empty_app_s']} s "
        f"({figures['ratio']}x; median of {REPEATS}); goal < {GOAL_S:.0f} s: "
        f"{'met' if figures['under_goal'] else 'NOT met'}"
    )
    return figures
