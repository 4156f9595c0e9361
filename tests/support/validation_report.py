"""Fail when a synthesized cloud assembly's policy-validation report (cdk-nag) has findings.

``cdk synth`` writes ``validation-report.json`` into the assembly; the CLI version we use exits 0 even
when a plugin concludes "failure", so ``make synth``/``make test`` run this check after it:

    python -m tests.support.validation_report cdk.out
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _counts(plugin: dict[str, object]) -> bool:
    """cdk-nag findings always count; other plugins (construct annotations) only when they fail synth."""
    return str(plugin.get("pluginName", "")).startswith("AwsSolutions") or plugin.get("conclusion") == "failure"


def violations(assembly: Path) -> list[str]:
    found = []
    for report_file in sorted(assembly.rglob("validation-report.json")):
        report = json.loads(report_file.read_text())
        for plugin in report.get("pluginReports", []):
            if not _counts(plugin):
                continue
            for violation in plugin.get("violations", []):
                for construct in violation.get("violatingConstructs", []):
                    found.append(
                        f"{plugin.get('pluginName')}: {violation.get('ruleName')} at {construct.get('constructPath')}"
                        f" - {violation.get('description')}"
                    )
            if plugin.get("conclusion") == "failure" and not plugin.get("violations"):
                found.append(f"{plugin.get('pluginName')}: failed without listing violations ({report_file})")
    return found


def main(argv: list[str]) -> int:
    assembly = Path(argv[0] if argv else "cdk.out")
    if not (assembly / "manifest.json").is_file():
        print(f"validation check: {assembly} is not a cloud assembly (no manifest.json); run cdk synth first")
        return 2
    found = violations(assembly)
    for line in found:
        print(line)
    print(f"validation check: {len(found)} unacknowledged finding(s) in {assembly}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
