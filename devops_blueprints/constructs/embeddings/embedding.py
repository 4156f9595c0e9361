"""ImageEmbeddingPipeline: images in S3 -> AWS Batch (ResNet-18 on ONNX Runtime) -> vectors in DynamoDB.

ARCHITECTURE.md section 3. The business logic lives in ``lambda_src/embedding_submitter`` (listing,
manifests, array jobs) and ``batch_job/`` (the container); this module only wires AWS resources. The wiring
is split by concern: ``embedding_validation`` (props), ``embedding_storage`` (key, buckets, table),
``embedding_batch`` (VPC, compute, queue, job definition), ``embedding_permissions`` (role grants, cdk-nag
acknowledgements) and ``embedding_observability`` (job events, metric filters, metrics, dashboard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from devops_blueprints.assets import lambda_handler_dir
from devops_blueprints.constructs.embeddings.embedding_batch import DEFAULT_COMMAND as DEFAULT_COMMAND
from devops_blueprints.constructs.embeddings.embedding_batch import GPU_INSTANCE_TYPES as GPU_INSTANCE_TYPES
from devops_blueprints.constructs.embeddings.embedding_batch import (
    create_compute,
    create_job_definition,
    create_network,
)
from devops_blueprints.constructs.embeddings.embedding_batch import retry_strategies as retry_strategies
from devops_blueprints.constructs.embeddings.embedding_observability import (
    CHILD_JOBS_FAILED,
    CHILD_JOBS_SUBMITTED,
    CHILD_JOBS_SUCCEEDED,
    IMAGES_SUBMITTED,
    JOBS_SUBMITTED,
    build_dashboard,
    observe_job_events,
    queue_metric,
)
from devops_blueprints.constructs.embeddings.embedding_observability import METRICS_NAMESPACE as METRICS_NAMESPACE
from devops_blueprints.constructs.embeddings.embedding_permissions import (
    acknowledge_findings,
    grant_job,
    grant_submitter,
)
from devops_blueprints.constructs.embeddings.embedding_permissions import nag_text as nag_text
from devops_blueprints.constructs.embeddings.embedding_storage import FAILURES_PREFIX as FAILURES_PREFIX
from devops_blueprints.constructs.embeddings.embedding_storage import MANIFESTS_PREFIX as MANIFESTS_PREFIX
from devops_blueprints.constructs.embeddings.embedding_storage import create_storage
from devops_blueprints.constructs.embeddings.embedding_validation import COMPUTE_TYPES as COMPUTE_TYPES
from devops_blueprints.constructs.embeddings.embedding_validation import ENCRYPTIONS as ENCRYPTIONS
from devops_blueprints.constructs.embeddings.embedding_validation import FARGATE_VCPUS as FARGATE_VCPUS
from devops_blueprints.constructs.embeddings.embedding_validation import MAX_GPUS as MAX_GPUS
from devops_blueprints.constructs.embeddings.embedding_validation import MAX_VCPUS_LIMIT as MAX_VCPUS_LIMIT
from devops_blueprints.constructs.embeddings.embedding_validation import validate_props
from devops_blueprints.constructs.powertools import add_powertools


class ImageEmbeddingPipeline(Construct):
    """S3 bucket, results table, VPC, AWS Batch compute/queue/job definition, submitter Lambda, dashboard.

    Invoke :attr:`submitter` with ``{"Paths": ["images/"], "BatchSize": 1000}``; every image under the
    prefixes becomes one item in :attr:`table` (partition key ``ImageId`` = object key).

    Storage (existing or created; giving an existing resource together with options for creating it is an
    error):

    :param bucket: the images bucket. Default: a new bucket - versioned, SSL only, public access blocked,
        server access logs to :attr:`access_logs_bucket`, encrypted as ``encryption`` says.
    :param table: the results table (partition key ``ImageId`` of type S). Default: a new on-demand table
        with point-in-time recovery, encrypted as ``encryption`` says.
    :param encryption: ``"kms"`` (a customer managed key with rotation, :attr:`encryption_key`) or
        ``"s3-managed"`` (SSE-S3 for the bucket, an AWS owned key for the table) for what this construct
        creates. Default: ``"kms"``.
    :param encryption_key: an existing key for the bucket and table this construct creates. Default: a new
        key when ``encryption`` is ``"kms"``.
    :param access_logs_bucket: where the new bucket's server access logs go. Default: a new SSE-S3 bucket.
    :param removal_policy: what happens to the data (bucket, access logs bucket, table, key, log groups)
        when it leaves the stack. Default: ``RETAIN``. Everything else (VPC, Batch, Lambda, dashboard) is
        stateless and is deleted with the stack. ``DESTROY`` fails on a bucket that still holds objects.

    Network:

    :param vpc: where the Batch jobs run. Default: a new VPC with public and private subnets, ``nat_gateways``
        NAT gateways (image pulls and the Batch/ECS control plane), S3 and DynamoDB gateway endpoints (the
        data path never crosses the NAT gateway) and flow logs of rejected traffic.
    :param max_azs: availability zones of the new VPC. Default: 2.
    :param nat_gateways: NAT gateways of the new VPC (0 only with your own interface endpoints). Default: 1.
    :param vpc_subnets: subnets of the compute environment. Default: the private subnets with egress.

    Compute:

    :param compute_type: ``"fargate"``, ``"fargate-spot"``, ``"ec2"`` (on-demand) or ``"spot"`` (EC2 Spot,
        price-capacity-optimized allocation). Default: ``"fargate"``.
    :param max_vcpus: the compute environment's vCPU ceiling (1..10,000). Default: 256.
    :param gpu_count: GPUs per job (0..8); needs ``"ec2"`` or ``"spot"``. Sets the job's GPU resource
        requirement and the ECS GPU AMI. Default: 0 (CPU inference).
    :param instance_types: EC2 instance types. Default: Batch's optimal families for CPU; g4dn/g5 sizes
        with ``gpu_count`` GPUs for GPU jobs. All x86_64 or all Graviton (arm64): the job image is built
        for that platform (linux/amd64 otherwise, whatever machine deploys); GPU jobs need x86_64.
    :param spot_bid_percentage: the most a Spot instance may cost, in percent of on-demand (1..100); only
        with ``"spot"``. Default: no limit below on-demand.
    :param job_vcpus: vCPUs per array child (Fargate: 0.25, 0.5, 1, 2, 4, 8 or 16). Default: 4.
    :param job_memory_mib: memory per array child in MiB (>= 512). Default: 8192.
    :param retry_attempts: attempts per child (1..10); only infrastructure failures are retried. Default: 3.
    :param job_timeout: per-attempt timeout (>= 60 s). Default: 1 hour.

    Job:

    :param images_prefix: the key prefix the job may read images from; the submitter refuses paths outside
        it (``""`` = the whole bucket). Default: ``"images/"``.
    :param container_image: the job's image. Default: ``batch_job/`` built at deploy time (asset) from its
        ``Dockerfile``, or ``Dockerfile.gpu`` (ONNX Runtime with CUDA) when ``gpu_count`` > 0.
    :param command: the container command. Default: ``python -m batch_job run``.
    :param embedding_model: ``EMBEDDING_MODEL`` (ONNX model path in the image). Default: unset, the model
        baked into the image.
    :param model_key: the key of an ONNX model in the pipeline's bucket (e.g. ``models/resnet18-int8.onnx``
        made by ``python -m batch_job quantize``): every job downloads it when it starts, and the job role
        may read that one object. Not with ``embedding_model``. Default: unset.
    :param log_retention: retention of the job, submitter and job-event log groups. Default: one year.
    :param dashboard_name: the CloudWatch dashboard's name. Default: generated by CloudFormation.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket | None = None,
        table: dynamodb.ITable | None = None,
        encryption: str | None = None,
        encryption_key: kms.IKey | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        vpc: ec2.IVpc | None = None,
        max_azs: int | None = None,
        nat_gateways: int | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        compute_type: str = "fargate",
        max_vcpus: float = 256,
        gpu_count: int = 0,
        instance_types: Sequence[ec2.InstanceType] | None = None,
        spot_bid_percentage: float | None = None,
        job_vcpus: float = 4,
        job_memory_mib: float = 8192,
        retry_attempts: float = 3,
        job_timeout: cdk.Duration | None = None,
        images_prefix: str = "images/",
        container_image: ecs.ContainerImage | None = None,
        command: Sequence[str] = DEFAULT_COMMAND,
        embedding_model: str | None = None,
        model_key: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        dashboard_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        validate_props(
            bucket=bucket,
            table=table,
            encryption=encryption,
            encryption_key=encryption_key,
            access_logs_bucket=access_logs_bucket,
            vpc=vpc,
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            compute_type=compute_type,
            max_vcpus=max_vcpus,
            gpu_count=gpu_count,
            instance_types=instance_types,
            spot_bid_percentage=spot_bid_percentage,
            job_vcpus=job_vcpus,
            job_memory_mib=job_memory_mib,
            retry_attempts=retry_attempts,
            job_timeout=job_timeout,
            images_prefix=images_prefix,
            command=command,
            embedding_model=embedding_model,
            model_key=model_key,
        )
        self._compute_type = compute_type
        self._gpu_count = gpu_count
        self._images_prefix = images_prefix
        self._removal_policy = removal_policy

        # ------------------------------------------------------------------------------------ storage
        storage = create_storage(
            self,
            bucket=bucket,
            table=table,
            encryption=encryption,
            encryption_key=encryption_key,
            access_logs_bucket=access_logs_bucket,
            removal_policy=removal_policy,
        )
        self._encryption_key = storage.encryption_key
        self._access_logs_bucket = storage.access_logs_bucket
        self._bucket = storage.bucket
        self._table = storage.table

        # ------------------------------------------------------------------------------------ network
        self._vpc, self._flow_log = create_network(
            self,
            vpc=vpc,
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        subnets = vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

        # ------------------------------------------------------------------------------ compute and job
        self._compute_environment, self._job_queue = create_compute(
            self,
            vpc=self._vpc,
            subnets=subnets,
            compute_type=compute_type,
            max_vcpus=max_vcpus,
            gpu_count=gpu_count,
            instance_types=instance_types,
            spot_bid_percentage=spot_bid_percentage,
        )
        self._job_log_group = logs.LogGroup(self, "JobLogGroup", retention=log_retention, removal_policy=removal_policy)
        self._job_role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Embedding job: reads images and manifests, writes failures and vectors",
        )
        grant_job(
            self._job_role, bucket=self._bucket, table=self._table, images_prefix=images_prefix, model_key=model_key
        )
        if model_key is not None:
            embedding_model = f"s3://{self._bucket.bucket_name}/{model_key}"
        self._container, self._job_definition = create_job_definition(
            self,
            bucket=self._bucket,
            table=self._table,
            job_role=self._job_role,
            log_group=self._job_log_group,
            compute_type=compute_type,
            gpu_count=gpu_count,
            instance_types=instance_types,
            job_vcpus=job_vcpus,
            job_memory_mib=job_memory_mib,
            retry_attempts=retry_attempts,
            job_timeout=job_timeout,
            container_image=container_image,
            command=command,
            embedding_model=embedding_model,
        )

        # ---------------------------------------------------------------------------------- submitter
        self._submitter_log_group = logs.LogGroup(
            self, "SubmitterLogGroup", retention=log_retention, removal_policy=removal_policy
        )
        self._submitter_role = iam.Role(
            self,
            "SubmitterRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Embedding submitter: lists images, writes manifests, submits Batch array jobs",
        )
        self._submitter = lambda_.Function(
            self,
            "Submitter",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_asset(
                str(lambda_handler_dir("embedding_submitter")), exclude=["__pycache__", "*.pyc"]
            ),
            timeout=cdk.Duration.minutes(15),
            memory_size=1024,
            tracing=lambda_.Tracing.ACTIVE,
            role=self._submitter_role,
            log_group=self._submitter_log_group,
            description="Lists images under S3 prefixes and submits AWS Batch array jobs to embed them",
            environment={
                "IMAGES_BUCKET": self._bucket.bucket_name,
                "JOB_QUEUE": self._job_queue.job_queue_arn,
                "JOB_DEFINITION": self._job_definition.job_definition_arn,
                "IMAGES_PREFIX": images_prefix,
                "METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
        )
        add_powertools(self._submitter, service="embedding-submitter", metrics_namespace=METRICS_NAMESPACE)
        grant_submitter(
            self._submitter_role,
            bucket=self._bucket,
            images_prefix=images_prefix,
            job_queue=self._job_queue,
            job_definition=self._job_definition,
        )
        self._submitter_log_group.grant_write(self._submitter_role)  # its logs and EMF metrics

        # -------------------------------------------------------------------------------- observation
        job_events = observe_job_events(
            self, job_queue=self._job_queue, log_retention=log_retention, removal_policy=removal_policy
        )
        self._job_events_log_group = job_events.log_group
        self._job_events_rule = job_events.rule
        self._metric_filters = job_events.metric_filters
        self._dashboard = build_dashboard(
            self,
            job_queue=self._job_queue,
            job_log_group=self._job_log_group,
            submitter=self._submitter,
            dashboard_name=dashboard_name,
        )
        acknowledge_findings(
            self,
            bucket=self._bucket,
            images_prefix=images_prefix,
            job_role=self._job_role,
            submitter_role=self._submitter_role,
            container=self._container,
            compute_environment=self._compute_environment,
        )

    # ---------------------------------------------------------------------------------- attributes

    @property
    def compute_type(self) -> str:
        """The compute type (``fargate``, ``fargate-spot``, ``ec2`` or ``spot``)."""
        return self._compute_type

    @property
    def gpu_count(self) -> int:
        """GPUs per job (0: CPU inference)."""
        return self._gpu_count

    @property
    def images_prefix(self) -> str:
        """The key prefix the job may read (``""``: the whole bucket)."""
        return self._images_prefix

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        """Removal policy of the data resources this construct created."""
        return self._removal_policy

    @property
    def encryption_key(self) -> kms.IKey | None:
        """The key of the bucket and table this construct created (None: not KMS, or both given)."""
        return self._encryption_key

    @property
    def access_logs_bucket(self) -> s3.IBucket | None:
        """Where the created bucket's server access logs go (None: bucket given)."""
        return self._access_logs_bucket

    @property
    def bucket(self) -> s3.IBucket:
        """The images bucket (created or given)."""
        return self._bucket

    @property
    def table(self) -> dynamodb.ITable:
        """The results table, partition key ``ImageId`` (created or given)."""
        return self._table

    @property
    def flow_log(self) -> ec2.FlowLog | None:
        """Flow logs of the created VPC (None: VPC given)."""
        return self._flow_log

    @property
    def vpc(self) -> ec2.IVpc:
        """Where the jobs run (created or given)."""
        return self._vpc

    @property
    def compute_environment(self) -> batch.IComputeEnvironment:
        """The AWS Batch compute environment."""
        return self._compute_environment

    @property
    def job_queue(self) -> batch.JobQueue:
        """The AWS Batch job queue."""
        return self._job_queue

    @property
    def job_log_group(self) -> logs.LogGroup:
        """The job containers' log group."""
        return self._job_log_group

    @property
    def job_role(self) -> iam.Role:
        """The role the job containers run with (least privilege)."""
        return self._job_role

    @property
    def container(self) -> batch.IEcsContainerDefinition:
        """The job's container definition."""
        return self._container

    @property
    def job_definition(self) -> batch.EcsJobDefinition:
        """The job definition (retry strategy: infrastructure failures only)."""
        return self._job_definition

    @property
    def submitter_log_group(self) -> logs.LogGroup:
        """The submitter's log group (its logs and EMF metrics)."""
        return self._submitter_log_group

    @property
    def submitter_role(self) -> iam.Role:
        """The submitter's role (least privilege)."""
        return self._submitter_role

    @property
    def submitter(self) -> lambda_.Function:
        """The submitter Lambda: invoke it with ``{"Paths": [...], "BatchSize": 1000}``."""
        return self._submitter

    @property
    def job_events_log_group(self) -> logs.LogGroup:
        """Batch job state change events (SUCCEEDED/FAILED) of the queue."""
        return self._job_events_log_group

    @property
    def job_events_rule(self) -> events.Rule:
        """The EventBridge rule that sends the queue's job events to :attr:`job_events_log_group`."""
        return self._job_events_rule

    @property
    def metric_filters(self) -> Mapping[str, logs.MetricFilter]:
        """The metric filters counting children by final status (``SUCCEEDED``, ``FAILED``)."""
        return self._metric_filters

    @property
    def dashboard(self) -> cloudwatch.Dashboard:
        """The CloudWatch dashboard."""
        return self._dashboard

    # ------------------------------------------------------------------------------------- grants

    def grant_submit(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` invoke the submitter (start runs)."""
        return self._submitter.grant_invoke(grantee)

    def grant_read_results(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the embeddings table (and decrypt it)."""
        return self._table.grant_read_data(grantee)

    def grant_upload_images(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` put objects under ``images_prefix``."""
        return self._bucket.grant_put(grantee, f"{self._images_prefix}*")

    # ------------------------------------------------------------------------------------ metrics

    def _metric(self, name: str, props: Mapping[str, Any]) -> cloudwatch.Metric:
        return queue_metric(self._job_queue, name, props)

    def metric_jobs_submitted(self, **props: Any) -> cloudwatch.Metric:
        """Array jobs submitted (one per manifest), from the submitter's embedded metric format records."""
        return self._metric(JOBS_SUBMITTED, props)

    def metric_child_jobs_submitted(self, **props: Any) -> cloudwatch.Metric:
        """Units of work submitted: array children (and single-child jobs)."""
        return self._metric(CHILD_JOBS_SUBMITTED, props)

    def metric_images_submitted(self, **props: Any) -> cloudwatch.Metric:
        """Images listed and written to manifests."""
        return self._metric(IMAGES_SUBMITTED, props)

    def metric_child_jobs_succeeded(self, **props: Any) -> cloudwatch.Metric:
        """Array children (and single jobs) that ended SUCCEEDED, from Batch job state change events."""
        return self._metric(CHILD_JOBS_SUCCEEDED, props)

    def metric_child_jobs_failed(self, **props: Any) -> cloudwatch.Metric:
        """Array children (and single jobs) that ended FAILED after their retries."""
        return self._metric(CHILD_JOBS_FAILED, props)
