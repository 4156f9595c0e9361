"""``python -m tests.support.local_deploy up|deploy|status|destroy`` (``make deploy-local`` / ``destroy-local``).

* ``up``: start the emulator (127.0.0.1, a free port; state under ``.local-deploy/``) unless it runs already.
* ``deploy``: ``up``, ``cdk bootstrap``, ``cdk deploy --all``; prints the outputs, per stack the resources really
  created and the placeholders, and what to try next. The emulator keeps running.
* ``status``: the per-stack table of the running emulator.
* ``destroy``: ``cdk destroy --all``, then stop the emulator (by its PID) and remove its state.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from tests.support.local_deploy import deploy, emulator, placeholders, serve

STATE_DIR = serve.REPO_ROOT / ".local-deploy"


def _up(state_dir: Path) -> serve.Emulator:
    running = serve.running(state_dir)
    if running is not None:
        print(f"emulator: already running at {running.endpoint} (PID {running.pid})")
        return running
    serve.stop(state_dir)  # a stale PID file from a crashed run
    started = serve.start(state_dir)
    print(f"emulator: MiniStack at {started.endpoint} (PID {started.pid}, log {started.log})")
    return started


def _print_report(started: serve.Emulator) -> list[emulator.StackReport]:
    reports = emulator.report(started.endpoint, started.ledger)
    print("\nPer stack: resources the emulator really created, and placeholders (see docs/deploy-local.md):")
    print(emulator.format_report(reports))
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.local_deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "deploy", "status", "destroy"])
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR)
    arguments = parser.parse_args(argv)
    state_dir: Path = arguments.state_dir
    began = time.monotonic()
    try:
        if arguments.command == "up":
            _up(state_dir)
        elif arguments.command == "deploy":
            started = _up(state_dir)
            print(
                "placeholder types (created as stand-ins, nothing real behind them): "
                + ", ".join(placeholders.described())
            )
            deploy.bootstrap(started.endpoint)
            outputs = deploy.deploy(started.endpoint, state_dir)
            print("\nOutputs:\n" + json.dumps(outputs, indent=2, sort_keys=True))
            reports = _print_report(started)
            print("\n" + deploy.next_steps(started.endpoint, outputs))
            failed = [r.name for r in reports if not r.status.endswith("_COMPLETE") or "ROLLBACK" in r.status]
            if failed:
                print(f"deploy-local: stacks not complete: {', '.join(failed)}", file=sys.stderr)
                return 1
            print(f"\ndeploy-local: {len(reports)} stacks deployed in {time.monotonic() - began:.0f} s")
        elif arguments.command == "status":
            running = serve.running(state_dir)
            if running is None:
                print("no emulator running: `make deploy-local` starts one", file=sys.stderr)
                return 1
            _print_report(running)
        else:
            running = serve.running(state_dir)
            if running is not None:
                deploy.destroy(running.endpoint, state_dir)
                left = [s["StackName"] for s in emulator.live_stacks(running.endpoint)]
                print(f"destroy-local: stacks left: {', '.join(left) or 'none but the bootstrap stack'}")
            serve.stop(state_dir)
            shutil.rmtree(state_dir, ignore_errors=True)
            print("destroy-local: emulator stopped, state removed")
    except (deploy.DeployError, RuntimeError) as error:
        print(f"local_deploy {arguments.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
