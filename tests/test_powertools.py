"""The Lambda convention: every handler that uses Powertools runs with the public Powertools layer built for
its function's runtime and architecture, and its function's POWERTOOLS_SERVICE_NAME is the handler's service."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from devops_blueprints.assets import lambda_src_dir, load_lambda_module
from devops_blueprints.constructs.powertools import add_powertools, powertools_layer_arn
from devops_blueprints.constructs.tenants.deployment_provisioner import DeploymentProvisioner
from devops_blueprints.constructs.tenants.deployment_table import DeploymentTable
from devops_blueprints.constructs.tenants.release_orchestrator import ReleaseOrchestrator
from devops_blueprints.stacks.embeddings import EmbeddingStack
from devops_blueprints.stacks.observability import ServerlessSampleStack
from tests.support.cdk import new_app

_LAYER = re.compile(
    r"arn:\$\{AWS::Partition\}:lambda:\$\{AWS::Region\}:017000801446:layer:"
    r"AWSLambdaPowertoolsPythonV3-(?P<python>python3\d+)-(?P<arch>x86_64|arm64):\d+"
)


def _function_stack() -> tuple[cdk.Stack, lambda_.Function]:
    stack = cdk.Stack(new_app(), "Functions")
    function = lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        architecture=lambda_.Architecture.ARM_64,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
    )
    return stack, function


def test_the_layer_arn_names_the_python_version_and_architecture() -> None:
    # The ARN the provisioner has used since it adopted Powertools, unchanged by the move to the helper.
    assert powertools_layer_arn(lambda_.Runtime.PYTHON_3_12, lambda_.Architecture.X86_64) == (
        "arn:${AWS::Partition}:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27"
    )
    assert powertools_layer_arn(lambda_.Runtime.PYTHON_3_14, lambda_.Architecture.ARM_64).endswith(
        ":layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27"
    )


def test_only_python_runtimes_have_the_layer() -> None:
    with pytest.raises(ValueError, match=r"^runtime must be a Python 3 runtime \(python3.NN\) .*, got nodejs22.x$"):
        powertools_layer_arn(lambda_.Runtime.NODEJS_22_X, lambda_.Architecture.X86_64)


def test_add_powertools_attaches_the_layer_of_the_functions_runtime_and_sets_the_environment() -> None:
    stack, function = _function_stack()

    add_powertools(function, service="orders", metrics_namespace="Shop/Orders")

    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Layers": [{"Fn::Sub": powertools_layer_arn(lambda_.Runtime.PYTHON_3_13, lambda_.Architecture.ARM_64)}],
            "Environment": {
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "orders",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                    "POWERTOOLS_METRICS_NAMESPACE": "Shop/Orders",
                }
            },
        },
    )


def test_without_a_namespace_no_metrics_namespace_is_set() -> None:
    stack, function = _function_stack()
    add_powertools(function, service="orders", log_level="DEBUG")
    (function_resource,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    variables = function_resource["Properties"]["Environment"]["Variables"]
    assert variables == {"POWERTOOLS_SERVICE_NAME": "orders", "POWERTOOLS_LOG_LEVEL": "DEBUG"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"service": "Orders API"}, r"^service must match \[a-z\]\[a-z0-9-\]\{0,62\}, got 'Orders API'$"),
        ({"service": "orders", "log_level": "info"}, r"^log_level must be one of DEBUG, .*, got 'info'$"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options: dict[str, Any], message: str) -> None:
    _, function = _function_stack()
    with pytest.raises(ValueError, match=message):
        add_powertools(function, **options)


# ------------------------------------------------------------------------------------------ convention


def _powertools_handlers() -> dict[str, str]:
    """``{folder under lambda_src/: its Logger's service}`` for every handler that imports Powertools."""
    services = {}
    for index in sorted(lambda_src_dir().glob("*/index.py")):
        if "aws_lambda_powertools" in index.read_text():
            module = load_lambda_module(index.parent.name, siblings_importable=True)
            services[index.parent.name] = str(module.logger.service)
    return services


@pytest.fixture(scope="module")
def functions() -> list[dict[str, Any]]:
    """Every function of the stacks that deploy a lambda_src handler."""
    app = new_app()
    tenant = cdk.Stack(app, "Tenant")
    table = DeploymentTable(tenant, "Deployments")
    DeploymentProvisioner(tenant, "Provisioner", table=table)
    ReleaseOrchestrator(tenant, "Releases", table=table)
    stacks = [tenant, ServerlessSampleStack(app, "ServerlessSample"), EmbeddingStack(app, "Embedding")]
    found = []
    for stack in stacks:
        template = Template.from_stack(stack)
        found.extend(
            resource["Properties"]
            for resource in template.find_resources(
                "AWS::Lambda::Function", {"Properties": {"Handler": "index.handler", "Runtime": Match.any_value()}}
            ).values()
        )
    return found


def test_every_powertools_handler_runs_with_the_layer_and_its_own_service_name(
    functions: list[dict[str, Any]],
) -> None:
    handlers = _powertools_handlers()
    assert set(handlers) == {"deployment_provisioner", "deployment_status", "embedding_submitter", "serverless_sample"}
    deployed = {
        function.get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME"): function
        for function in functions
    }
    for folder, service in handlers.items():
        assert service in deployed, f"no function sets POWERTOOLS_SERVICE_NAME={service!r} for lambda_src/{folder}"
        layers = [layer["Fn::Sub"] for layer in deployed[service]["Layers"] if "Fn::Sub" in layer]
        assert any(_LAYER.fullmatch(layer) for layer in layers), f"lambda_src/{folder} runs without Powertools"


def test_every_powertools_layer_matches_its_functions_runtime_and_architecture(
    functions: list[dict[str, Any]],
) -> None:
    with_layer = 0
    for function in functions:
        for layer in function.get("Layers", []):
            match = _LAYER.fullmatch(layer.get("Fn::Sub", "")) if isinstance(layer, dict) else None
            if match is None:
                continue
            with_layer += 1
            assert match["python"] == function["Runtime"].replace(".", "")
            assert [match["arch"]] == function.get("Architectures", ["x86_64"])
            assert function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert with_layer == 5  # provisioner, status, release orchestrator, submitter, serverless sample
