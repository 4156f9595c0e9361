"""Saved CloudWatch Logs Insights queries for Lambda error monitoring: errors and timeouts, every line of
one request, Lambda Insights performance events of one function.

The source article ("Monitoring AWS Lambda errors using Amazon CloudWatch") filters with
``@message LIKE /ERROR/ or @message LIKE /Task timed out/``. What Lambda writes today differs:

- Text format (``LoggingFormat.TEXT``). Python's runtime writes application lines as
  ``[LEVEL]\\t<time>\\t<request id>\\t<message>`` and an uncaught exception (also an init error such as
  ``Runtime.ImportModuleError``) as ``[ERROR] <errorType>: <errorMessage>`` followed by the traceback
  (aws/aws-lambda-python-runtime-interface-client, ``awslambdaric/bootstrap.py``: the text formatter and
  ``log_error``). Node.js puts the level between tabs: ``<time>\\t<request id>\\tERROR\\t<message>``.
  A timeout is marked ``Status: timeout`` on the ``REPORT`` line, and current runtimes no longer write
  ``Task timed out after ...`` (github.com/DataBiosphere/azul/issues/8140, 2026: "Lambda timeouts do not
  emit any logs containing this string"; open-telemetry/opentelemetry-lambda#2098 shows
  ``REPORT RequestId: ... Init Duration: 578.07 ms Status: timeout``); other failures carry
  ``Status: error`` and ``Error Type: ...`` (e.g. ``Runtime.InvalidEntrypoint``).
- JSON format (``LoggingFormat.JSON``, https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html).
  Application records carry ``level`` (``ERROR``/``FATAL``; Python's ``logging.critical`` gives ``CRITICAL``)
  and, when an exception is logged, ``errorType``/``errorMessage``/``stackTrace`` (``awslambdaric/
  lambda_runtime_log_utils.py``, ``JsonFormatter``). Python's uncaught-exception and init-error record uses
  ``log_level`` instead of ``level`` (``awslambdaric/bootstrap.py``, ``log_error`` in JSON mode), so a
  filter on ``level`` alone misses it; it always has ``errorType``, and so has every record of a logged
  exception, whatever its level, which is what the query keys on. System records are ``{"time", "type": "platform.report", "record":
  {"requestId", "metrics", "status"}}``; ``status`` is ``success|failure|error|timeout`` and ``errorType``
  is set for the failures (https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html#Status).
  Logs Insights discovers JSON fields itself and names nested ones with dots (``record.status``)
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html).

Not an error: an INFO/WARNING line that merely contains the word "error" or "ERROR" (the article's
``/ERROR/`` matched those), a ``REPORT`` line of a successful invocation, ``START``/``END`` lines. A JSON
record that carries an exception (``errorType``) counts even at WARNING level: a logged exception is worth
seeing next to the failures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

#: Log groups one saved query may name. Logs Insights' StartQuery takes "up to 50 log groups" in
#: ``logGroupNames`` (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html);
#: a query definition is run through it, so more groups are split over several definitions.
MAX_LOG_GROUPS_PER_QUERY = 50
#: ``Name`` of ``AWS::Logs::QueryDefinition``: 1 to 255 characters
#: (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-logs-querydefinition.html).
MAX_QUERY_NAME_LENGTH = 255
#: A Lambda function name is at most 64 characters (the CreateFunction API reference, ``FunctionName``);
#: the length a token function name is assumed to have when checking query names.
MAX_FUNCTION_NAME_LENGTH = 64
#: The log group every function with Lambda Insights writes one performance event per invocation to
#: (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Lambda-Insights-example-event.html).
LAMBDA_INSIGHTS_LOG_GROUP = "/aws/lambda-insights"
#: What the user replaces in the request-id query before running it.
REQUEST_ID_PLACEHOLDER = "REQUEST_ID"

# Log group names of the QueryDefinition API (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_QueryDefinition.html).
_LOG_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")

#: Errors and timeouts of Lambda functions, in the text and the JSON log format (see the module docstring).
ERRORS_AND_TIMEOUTS_QUERY = "\n".join(
    [
        "fields @timestamp, @log, @requestId, requestId, record.requestId, @message",
        r"| filter @message like /^\[(ERROR|CRITICAL)\]/",
        r"    or @message like /\t(ERROR|FATAL)\t/",
        "    or @message like /Task timed out after/",
        "    or @message like /^(INIT_|RESTORE_)?REPORT .*Status: (timeout|error|failure)/",
        '    or level = "ERROR" or level = "FATAL" or level = "CRITICAL"',
        "    or ispresent(errorType)",
        '    or record.status = "timeout" or record.status = "error" or record.status = "failure"',
        "| sort @timestamp desc",
        "| limit 1000",
    ]
)

#: Every line of one invocation: Logs Insights' ``@requestId`` (START/END/REPORT lines), ``requestId``
#: (JSON application records), ``record.requestId`` (JSON system records), else the id anywhere in the line
#: (text application lines carry it between tabs).
REQUEST_ID_QUERY = "\n".join(
    [
        "fields @timestamp, @log, @message",
        f'| filter @requestId = "{REQUEST_ID_PLACEHOLDER}" or requestId = "{REQUEST_ID_PLACEHOLDER}"',
        f'    or record.requestId = "{REQUEST_ID_PLACEHOLDER}" or @message like "{REQUEST_ID_PLACEHOLDER}"',
        "| sort @timestamp asc",
        "| limit 10000",
    ]
)


def insights_performance_query(function_name: str) -> str:
    """The Lambda Insights performance events of one function (fields of the documented example event)."""
    return "\n".join(
        [
            "fields @timestamp, request_id, duration, billed_duration, cold_start, init_duration,",
            "    memory_utilization, used_memory_max, total_memory, cpu_total_time, total_network, shutdown_reason",
            f'| filter event_type = "performance" and function_name = "{function_name}"',
            "| sort @timestamp desc",
            "| limit 1000",
        ]
    )


def _string_list(prop: str, values: Sequence[str]) -> list[str]:
    if isinstance(values, str):
        raise ValueError(f"{prop} must be a list of names, got the string {values!r}")
    unique: list[str] = []
    for value in values:
        if value not in unique:
            unique.append(value)
    return unique


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i : i + MAX_LOG_GROUPS_PER_QUERY] for i in range(0, len(values), MAX_LOG_GROUPS_PER_QUERY)]


def _suffixed(base: str, index: int, separator: str = "-") -> str:
    """``base`` for the first query of a kind, then ``base-2``, ``base-3``... (construct ids: ``Base2``...)."""
    return base if index == 0 else f"{base}{separator}{index + 1}"


class LambdaErrorQueries(Construct):
    """Saved Logs Insights queries (``AWS::Logs::QueryDefinition``) for one application's functions, in the
    CloudWatch console's query list under ``<folder>/<app_name>/``:

    - ``lambda-errors-and-timeouts``: errors and timeouts in today's text and JSON log formats;
    - ``lambda-request-id``: every line of one invocation (replace ``REQUEST_ID`` before running);
    - ``lambda-insights/<function name>``: the Lambda Insights performance events of one function, one
      query per function of ``insights_function_names``.

    A query names at most 50 log groups (what Logs Insights takes in one query); more function log
    groups give ``lambda-errors-and-timeouts-2``, ``-3``... in the order given (duplicates dropped). Without
    function log groups there is no errors or request query (a boundary may hold no function).

    :param app_name: the application, the second level of the query folder.
    :param function_log_groups: the functions' log group names (unresolved tokens allowed, one group each).
    :param insights_function_names: functions with Lambda Insights (tokens allowed). Default: none.
    :param folder: the top query folder. Default: ``devops-blueprints``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        app_name: str,
        function_log_groups: Sequence[str],
        insights_function_names: Sequence[str] = (),
        folder: str = "devops-blueprints",
    ) -> None:
        super().__init__(scope, construct_id)
        _check_folder(folder)
        _check_app_name(app_name)
        log_groups = _string_list("function_log_groups", function_log_groups)
        functions = _string_list("insights_function_names", insights_function_names)
        for name in log_groups:
            if not cdk.Token.is_unresolved(name) and not _LOG_GROUP_NAME.fullmatch(name):
                raise ValueError(
                    "function_log_groups must contain log group names (1-512 characters of "
                    f"A-Z a-z 0-9 . - _ / #), got {name!r}"
                )
        prefix = f"{folder}/{app_name}/"
        groups = _chunks(log_groups)
        planned: list[tuple[str, str, str, list[str]]] = []
        for id_base, name_base, query in (
            ("ErrorsAndTimeouts", "lambda-errors-and-timeouts", ERRORS_AND_TIMEOUTS_QUERY),
            ("RequestId", "lambda-request-id", REQUEST_ID_QUERY),
        ):
            planned += [
                (_suffixed(id_base, index, ""), prefix + _suffixed(name_base, index), query, chunk)
                for index, chunk in enumerate(groups)
            ]
        for index, function_name in enumerate(functions):
            if not cdk.Token.is_unresolved(function_name) and not 1 <= len(function_name) <= MAX_FUNCTION_NAME_LENGTH:
                raise ValueError(
                    f"insights_function_names must contain function names of 1-{MAX_FUNCTION_NAME_LENGTH} "
                    f"characters, got {function_name!r}"
                )
            planned.append(
                (
                    _suffixed("InsightsPerformance", index, ""),
                    f"{prefix}lambda-insights/{function_name}",
                    insights_performance_query(function_name),
                    [LAMBDA_INSIGHTS_LOG_GROUP],
                )
            )
        for _, name, _, _ in planned:
            _check_name_length(name, app_name=app_name, folder=folder)
        self.query_definitions: list[logs.CfnQueryDefinition] = [
            logs.CfnQueryDefinition(self, construct_id_, name=name, query_string=query, log_group_names=chunk)
            for construct_id_, name, query, chunk in planned
        ]


def _check_folder(folder: str) -> None:
    if cdk.Token.is_unresolved(folder):
        return
    if not folder or folder.startswith("/") or folder.endswith("/") or "//" in folder:
        raise ValueError(
            f"folder must be a non-empty folder path without leading, trailing or double '/', got {folder!r}"
        )


def _check_app_name(app_name: str) -> None:
    if cdk.Token.is_unresolved(app_name):
        return
    if not app_name.strip() or "/" in app_name:
        raise ValueError(f"app_name must be a non-empty name without '/', got {app_name!r}")


def _check_name_length(name: str, *, app_name: str, folder: str) -> None:
    # An unresolved token counts as the longest value it can stand for (a function name: 64 characters).
    length = len(re.sub(r"\$\{Token\[[^\]]*\]\}", "x" * MAX_FUNCTION_NAME_LENGTH, name))
    if length > MAX_QUERY_NAME_LENGTH:
        raise ValueError(
            f"folder {folder!r} and app_name {app_name!r} make the query name {name!r} {length} characters long; "
            f"CloudWatch Logs allows at most {MAX_QUERY_NAME_LENGTH}"
        )
