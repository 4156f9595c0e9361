"""End to end in the emulator: the deployed functions driven through the deployed resources.

* provisioner: a record put into the deployment table reaches the provisioner through the table's stream (the
  deployed event source mapping), which starts a build of the deployed provisioning project and writes
  ``PROVISIONING`` with the build id. The build itself runs nothing in the emulator (no Docker).
* submitter: images put into the deployed bucket, the deployed submitter invoked: one manifest per run with every
  image key, the array job submitted. The Batch queue and job definition are placeholders; the emulator's Batch
  API accepts the SubmitJob, so the job id proves the call, not a job run.
* tenant component (deployed from ``tests/deploy/component_app.py``): the HTTP API with IAM auth, SigV4-signed
  requests, pooled tenants kept apart by the ``x-tenant-id`` header.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.deploy import component_app
from tests.deploy.conftest import LocalCloud
from tests.support.local_deploy import deploy, emulator

pytestmark = pytest.mark.deploy

COMPONENT_APP = "python -m tests.deploy.component_app"


def _physical_id(local_cloud: LocalCloud, stack_name: str, logical_prefix: str, resource_type: str) -> str:
    found = [
        r["PhysicalResourceId"]
        for r in emulator.stack_resources(local_cloud.endpoint, stack_name)
        if r["ResourceType"] == resource_type and r["LogicalResourceId"].startswith(logical_prefix)
    ]
    assert len(found) == 1, (stack_name, logical_prefix, found)
    return found[0]


def _wait_for(read: Any, done: Any, *, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


def test_a_deployment_record_starts_a_provisioning_build_and_becomes_provisioning(local_cloud: LocalCloud) -> None:
    stack = "Toolchain-Deployments"
    table = _physical_id(local_cloud, stack, "DeploymentTable", "AWS::DynamoDB::Table")
    project = _physical_id(local_cloud, stack, "ProvisionerProvisioningProject", "AWS::CodeBuild::Project")
    dynamodb, codebuild = local_cloud.client("dynamodb"), local_cloud.client("codebuild")
    # GIVEN the deployed toolchain WHEN an operator puts a valid record into the deployment table
    record = {"id": "alpha", "type": "pool", "account": "111111111111", "region": "eu-west-1"}
    dynamodb.put_item(TableName=table, Item={k: {"S": v} for k, v in record.items()})
    # THEN the provisioner (through the stream) writes PROVISIONING and the id of a build of the provisioning project
    item = _wait_for(
        lambda: dynamodb.get_item(TableName=table, Key={"id": {"S": "alpha"}}, ConsistentRead=True)["Item"],
        lambda i: "status" in i,
    )
    assert item["status"] == {"S": "PROVISIONING"}, item
    build_id = item["build_id"]["S"]
    assert codebuild.list_builds_for_project(projectName=project)["ids"] == [build_id]
    assert codebuild.batch_get_builds(ids=[build_id])["builds"][0]["projectName"] == project


def test_the_submitter_writes_one_manifest_of_every_image_and_submits_the_array_job(local_cloud: LocalCloud) -> None:
    outputs = local_cloud.outputs["Embedding-Embedding"]
    bucket, function = outputs["BucketName"], outputs["SubmitterFunctionName"]
    s3, lambda_ = local_cloud.client("s3"), local_cloud.client("lambda")
    keys = [f"images/e2e/cat-{i}.jpg" for i in range(5)]
    for key in [*keys, "images/e2e/notes.txt"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"\xff\xd8\xff\xe0 not decoded by the submitter")
    # WHEN the deployed submitter is invoked with the article's event shape
    response = lambda_.invoke(FunctionName=function, Payload=json.dumps({"Paths": ["images/e2e/"], "BatchSize": 2}))
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    # THEN one manifest lists every image (not the text file) and one array job of ceil(5 / 2) children went out
    assert (result["ImageCount"], result["JobCount"], result["ArraySizes"]) == (5, 1, [3])
    assert len(result["JobIds"]) == 1 and result["JobIds"][0]
    (manifest_key,) = result["ManifestKeys"]
    assert manifest_key.startswith(f"manifests/{result['RunId']}/")
    manifest = s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read().decode()
    assert sorted(manifest.split()) == keys


@pytest.fixture(scope="module")
def component_api(local_cloud: LocalCloud) -> Iterator[str]:
    """The pooled tenant component deployed into the emulator; destroyed again after this module."""
    outputs = deploy.deploy(
        local_cloud.endpoint, local_cloud.state_dir, app=COMPONENT_APP, output="component.out", quiet=True
    )
    try:
        yield outputs[component_app.STACK_NAME]["ApiUrl"]
    finally:
        deploy.destroy(
            local_cloud.endpoint, local_cloud.state_dir, app=COMPONENT_APP, output="component.out", quiet=True
        )


def _call(local_cloud: LocalCloud, api_url: str, method: str, path: str, **options: Any) -> tuple[int, Any]:
    # ApiUrl is http://<api id>.execute-api.localhost:<port>; the emulator also serves /_aws/execute-api/<id>/<stage>
    api_id = api_url.split("//", 1)[1].split(".", 1)[0]
    url = f"{local_cloud.endpoint}/_aws/execute-api/{api_id}/$default{path}"
    body = options.get("body")
    headers = {
        "content-type": "application/json",
        **({"x-tenant-id": options["tenant"]} if "tenant" in options else {}),
    }
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    if options.get("sign", True):
        credentials = Credentials(
            emulator.CREDENTIALS["AWS_ACCESS_KEY_ID"], emulator.CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        )
        SigV4Auth(credentials, "execute-api", emulator.REGION).add_auth(request)
    http = urllib.request.Request(  # noqa: S310 - the loopback emulator
        url, data=body.encode() if body else None, method=method, headers=dict(request.headers)
    )
    try:
        with urllib.request.urlopen(http, timeout=30) as response:  # nosec B310 # noqa: S310 - loopback emulator
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_the_pooled_component_api_keeps_tenants_apart(local_cloud: LocalCloud, component_api: str) -> None:
    put = _call(local_cloud, component_api, "PUT", "/items/k1", tenant="alpha", body=json.dumps({"v": 1}))
    assert put == (200, {"key": "k1"})
    assert _call(local_cloud, component_api, "GET", "/items/k1", tenant="alpha") == (
        200,
        {"key": "k1", "value": json.dumps({"v": 1})},
    )
    status, body = _call(local_cloud, component_api, "GET", "/items/k1", tenant="beta")
    assert (status, body) == (404, {"error": "no item 'k1'"})
    status, body = _call(local_cloud, component_api, "GET", "/items/k1")
    assert status == 400 and "x-tenant-id" in body["error"]
    # IAM auth on the API: an unsigned request does not reach the function
    assert _call(local_cloud, component_api, "GET", "/items/k1", tenant="alpha", sign=False)[0] == 403
