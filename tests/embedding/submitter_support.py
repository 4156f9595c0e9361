"""Shared set-up for the submitter tests and the benchmark: load the handler module and build a Batch
queue and job definition in moto (with moto's Docker-free Batch backend)."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3

from devops_blueprints.assets import load_lambda_module

BUCKET = "embedding-images"
QUEUE = "embedding-queue"
JOB_DEFINITION = "embedding-job"


def load_submitter() -> ModuleType:
    """``lambda_src/embedding_submitter/index.py`` as a module (``lambda_src`` is not a package)."""
    return load_lambda_module("embedding_submitter")


@dataclass
class BatchEnv:
    s3: Any
    batch: Any
    bucket: str
    job_queue: str
    job_definition: str

    def top_level_jobs(self) -> list[dict[str, Any]]:
        """Every job submitted to the queue (array children excluded), described."""
        ids: list[str] = []
        for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
            listed = self.batch.list_jobs(jobQueue=self.job_queue, jobStatus=status)["jobSummaryList"]
            ids.extend(job["jobId"] for job in listed if ":" not in job["jobId"])
        unique = sorted(set(ids))
        return self.batch.describe_jobs(jobs=unique)["jobs"] if unique else []

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", ())]

    def read(self, key: str) -> str:
        return str(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8"))


def create_batch_env(endpoint: str) -> BatchEnv:
    """A bucket, an unmanaged compute environment, a job queue and a job definition in moto."""
    request = urllib.request.Request(  # noqa: S310 - loopback moto server
        f"{endpoint}/moto-api/config",
        data=json.dumps({"batch": {"use_docker": False}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback moto server
        assert response.status in (200, 201)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    batch = boto3.client("batch", endpoint_url=endpoint)
    iam = boto3.client("iam", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    compute = batch.create_compute_environment(
        computeEnvironmentName="embedding-ce", type="UNMANAGED", state="ENABLED", serviceRole=role
    )
    batch.create_job_queue(
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": compute["computeEnvironmentArn"]}],
    )
    definition = batch.register_job_definition(
        jobDefinitionName=JOB_DEFINITION,
        type="container",
        containerProperties={"image": "embedding", "vcpus": 1, "memory": 2048, "command": ["run"]},
    )
    return BatchEnv(s3, batch, BUCKET, QUEUE, definition["jobDefinitionArn"])
