"""Powertools for AWS Lambda (Python) on a function: the public layer and the ``POWERTOOLS_*`` environment.

One helper for every function whose handler imports ``aws_lambda_powertools`` (internal, not exported):
``add_powertools(function, service=...)`` attaches the public layer built for the function's own Python
runtime and architecture, and sets the service name (and, for functions that emit metrics, the metric
namespace) through the environment variables Powertools reads.
"""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

__all__ = [
    "POWERTOOLS_LAYER_ACCOUNT",
    "POWERTOOLS_LAYER_VERSION",
    "add_powertools",
    "powertools_layer_arn",
]

# The public layer (https://docs.aws.amazon.com/powertools/python/latest/getting-started/install/ ,
# "Lambda Layer"): arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{python_version}-{arch}:{n}
# with {python_version} like python312 and {arch} x86_64 or arm64; the page gives one version number n for every
# commercial region, Python version and architecture. Which Powertools release a layer version holds is in the
# layer's description (aws lambda get-layer-version-by-arn); the docs give no table.
#: The account that publishes the layer in the commercial regions.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
#: The layer version every function of this library uses.
POWERTOOLS_LAYER_VERSION = 27

_PYTHON_RUNTIME = re.compile(r"python3\.(\d+)")
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")


def powertools_layer_arn(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> str:
    """The layer's ARN for ``runtime`` on ``architecture``, with ``${AWS::Partition}`` and ``${AWS::Region}``
    left for ``Fn::Sub`` (so it works in environment-agnostic stacks)."""
    match = _PYTHON_RUNTIME.fullmatch(runtime.name)
    if match is None:
        raise ValueError(
            f"runtime must be a Python 3 runtime (python3.NN) for the Powertools layer, got {runtime.name}"
        )
    return (
        f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-python3{match.group(1)}-{architecture.name}:{POWERTOOLS_LAYER_VERSION}"
    )


def add_powertools(
    function: lambda_.Function,
    *,
    service: str,
    metrics_namespace: str | None = None,
    log_level: str = "INFO",
) -> lambda_.ILayerVersion:
    """Attach the Powertools layer matching ``function``'s runtime and architecture and set its environment.

    :param service: ``POWERTOOLS_SERVICE_NAME`` (the ``service`` key of every log line), lower-case words
        joined by ``-``.
    :param metrics_namespace: ``POWERTOOLS_METRICS_NAMESPACE``. Default: not set (the function emits no metrics).
    :param log_level: ``POWERTOOLS_LOG_LEVEL``. Default: ``INFO``.
    :returns: the layer (one per function; a second call on the same function is an error).
    """
    if not _SERVICE_NAME.fullmatch(service):
        raise ValueError(f"service must match [a-z][a-z0-9-]{{0,62}}, got {service!r}")
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {log_level!r}")
    layer = lambda_.LayerVersion.from_layer_version_arn(
        function, "Powertools", cdk.Fn.sub(powertools_layer_arn(function.runtime, function.architecture))
    )
    function.add_layers(layer)
    # Logger and Metrics read these (https://docs.aws.amazon.com/powertools/python/latest/#environment-variables).
    function.add_environment("POWERTOOLS_SERVICE_NAME", service)
    function.add_environment("POWERTOOLS_LOG_LEVEL", log_level)
    if metrics_namespace is not None:
        function.add_environment("POWERTOOLS_METRICS_NAMESPACE", metrics_namespace)
    return layer
