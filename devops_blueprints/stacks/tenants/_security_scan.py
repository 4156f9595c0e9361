"""The static-analysis step every pipeline runs before it deploys (toolchain and tenant pipelines).

The source article used Amazon CodeGuru Reviewer, which accepts no new repository associations since
2025-11-07. The step runs two open-source scanners instead, both pinned and installed from hashed locks
(``requirements-scan.txt``: bandit; ``requirements-semgrep.txt``: semgrep), with the same commands
``make lint`` runs:

- bandit with the project's ``[tool.bandit]`` configuration. Its detectors include the article's classes:
  shell, subprocess and SQL injection (B602-B608), ``eval``/``exec`` (B307, B102), unsafe archive extraction that
  writes outside the target folder (B202);
- semgrep with the rules vendored in ``.semgrep.yml`` (no registry download at build time): shell and
  ``os.system`` command injection, ``eval``/``exec``, SQL built from strings, tar extraction without a filter, and
  a taint rule for file paths that flow from a Lambda event or an HTTP request into the file system.

Any finding of either fails the build, so the pipeline stops before its deploy stages; suppressions are inline
only (``# nosec BXXX - reason``, ``# nosemgrep: RULE - reason``).

Reports: CodeBuild report groups take test reports in JUnit XML, Cucumber JSON, NUnit, TestNG and Visual Studio
TRX formats, and code coverage reports - not SARIF
(https://docs.aws.amazon.com/codebuild/latest/userguide/test-reporting.html). Both scanners write JUnit
XML (bandit ``-f xml``, semgrep ``--junit-xml-output``), one finding per failed test case, into two report groups
that the build creates as ``<project>-bandit`` and ``<project>-semgrep``
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#reports-buildspec-file).
"""

from __future__ import annotations

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines

#: What ``make lint`` and the step run (one definition each, so the two cannot drift).
SCAN_COMMAND = "bandit --quiet -c pyproject.toml -r ."
#: ``--metrics off`` and ``--disable-version-check``: semgrep sends nothing and asks nothing at run time; the
#: rules are local, so the scan needs no network. ``--error``: exit 1 on any finding. Tests and benchmarks are
#: not shipped and are left out, as in ``[tool.bandit]``.
SEMGREP_COMMAND = (
    "semgrep scan --config .semgrep.yml --metrics off --disable-version-check --error --quiet"
    " --exclude tests --exclude benchmarks ."
)
REPORT_FILE = "bandit-report.xml"
SEMGREP_REPORT_FILE = "semgrep-report.xml"
INSTALL_COMMAND = "python -m pip install --quiet --require-hashes -r requirements-scan.txt -r requirements-semgrep.txt"


def security_scan_step(source: pipelines.IFileSetProducer) -> pipelines.CodeBuildStep:
    """A ``SecurityScan`` CodeBuild step over ``source`` that fails on any bandit or semgrep finding."""
    return pipelines.CodeBuildStep(
        "SecurityScan",
        input=source,
        install_commands=[INSTALL_COMMAND],
        # Both reports are written before anything can fail the build (CodeBuild stops a phase at its first failing
        # command, and uploads the reports that exist either way): bandit's with --exit-zero, then semgrep's in the
        # same run that decides semgrep's verdict, then bandit's screen run decides bandit's.
        commands=[
            f"{SCAN_COMMAND} -f xml -o {REPORT_FILE} --exit-zero",
            f"{SEMGREP_COMMAND} --junit-xml-output={SEMGREP_REPORT_FILE}",
            SCAN_COMMAND,
        ],
        partial_build_spec=codebuild.BuildSpec.from_object(
            {
                "reports": {
                    "bandit": {"files": [REPORT_FILE], "file-format": "JUNITXML"},
                    "semgrep": {"files": [SEMGREP_REPORT_FILE], "file-format": "JUNITXML"},
                }
            }
        ),
    )
