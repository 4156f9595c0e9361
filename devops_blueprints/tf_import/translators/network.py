"""Front doors: Application/Network Load Balancers, API Gateway REST APIs and stages."""

from __future__ import annotations

from typing import Any

from devops_blueprints.tf_import.translators.base import Attrs, Translator

_LB_TYPES = {"application", "network", "gateway"}


def _lb_properties(attrs: Attrs) -> dict[str, Any]:
    lb_type = attrs.opt("load_balancer_type", "application")
    props: dict[str, Any] = {
        "Name": attrs.req("name"),
        "Type": lb_type if lb_type in _LB_TYPES else None,
        "Scheme": "internal" if attrs.opt("internal") else "internet-facing",
        "IpAddressType": attrs.opt("ip_address_type"),
    }
    subnets = attrs.opt("subnets")
    if subnets:
        props["Subnets"] = sorted(subnets)
    groups = attrs.opt("security_groups")
    if groups:
        props["SecurityGroups"] = sorted(groups)
    return props


LOAD_BALANCER = Translator(
    tf_types=("aws_lb", "aws_alb"),
    cfn_type="AWS::ElasticLoadBalancingV2::LoadBalancer",
    identifier=lambda a: {"LoadBalancerArn": a.first_of("arn", "id", reason="the load balancer ARN")},
    properties=_lb_properties,
    label="Application / Network Load Balancer",
)


def _rest_api_properties(attrs: Attrs) -> dict[str, Any]:
    types = attrs.block("endpoint_configuration").get("types")
    return {
        "Name": attrs.req("name"),
        "Description": attrs.opt("description"),
        "EndpointConfiguration": {"Types": list(types)} if types else None,
    }


REST_API = Translator(
    tf_types=("aws_api_gateway_rest_api",),
    cfn_type="AWS::ApiGateway::RestApi",
    identifier=lambda a: {"RestApiId": a.req("id")},
    properties=_rest_api_properties,
    label="API Gateway REST API",
)

STAGE = Translator(
    tf_types=("aws_api_gateway_stage",),
    cfn_type="AWS::ApiGateway::Stage",
    identifier=lambda a: {"RestApiId": a.req("rest_api_id"), "StageName": a.req("stage_name")},
    properties=lambda a: {
        "RestApiId": a.req("rest_api_id"),
        "StageName": a.req("stage_name"),
        "DeploymentId": a.opt("deployment_id"),
        "Description": a.opt("description"),
        "TracingEnabled": True if a.opt("xray_tracing_enabled") else None,
    },
    label="API Gateway stage",
)
