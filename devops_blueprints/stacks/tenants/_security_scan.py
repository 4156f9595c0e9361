"""The static-analysis step every pipeline runs before it deploys (toolchain and tenant pipelines).

The source article used Amazon CodeGuru Reviewer, which accepts no new repository associations since
2025-11-07. The step runs bandit instead (pinned, from the hashed ``requirements-scan.txt`` lock), with the
project's ``[tool.bandit]`` configuration: the same command ``make lint`` runs. Any finding fails the build, so
the pipeline stops before its deploy stages; suppressions are inline only (``# nosec BXXX - reason``). Its
detectors include the article's classes: shell, subprocess and SQL injection (B602-B608), ``eval``/``exec``
(B307, B102), unsafe archive extraction that writes outside the target folder (B202).

The report is a CodeBuild test report (JUnit XML, bandit's ``xml`` format), in a report group the build
creates as ``<project>-bandit``.
"""

from __future__ import annotations

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines

#: What ``make lint`` and the step run (one definition, so the two cannot drift).
SCAN_COMMAND = "bandit --quiet -c pyproject.toml -r ."
REPORT_FILE = "bandit-report.xml"


def security_scan_step(source: pipelines.IFileSetProducer) -> pipelines.CodeBuildStep:
    """A ``SecurityScan`` CodeBuild step over ``source`` that fails on any bandit finding."""
    return pipelines.CodeBuildStep(
        "SecurityScan",
        input=source,
        install_commands=["python -m pip install --quiet --require-hashes -r requirements-scan.txt"],
        # The XML report is written whatever the outcome; the screen run decides the build's exit code.
        commands=[f"{SCAN_COMMAND} -f xml -o {REPORT_FILE} --exit-zero", SCAN_COMMAND],
        partial_build_spec=codebuild.BuildSpec.from_object(
            {"reports": {"bandit": {"files": [REPORT_FILE], "file-format": "JUNITXML"}}}
        ),
    )
