"""ImageEmbeddingPipeline: images in S3 -> AWS Batch (ResNet-18 on ONNX Runtime) -> vectors in DynamoDB.

ARCHITECTURE.md section 3. The business logic lives in ``lambda_src/embedding_submitter`` (listing,
manifests, array jobs) and ``batch_job/`` (the container); this module only wires AWS resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
import jsii
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

from devops_blueprints.assets import batch_job_dir, lambda_handler_dir

COMPUTE_TYPES = ("fargate", "fargate-spot", "ec2", "spot")
ENCRYPTIONS = ("kms", "s3-managed")
FARGATE_VCPUS = (0.25, 0.5, 1, 2, 4, 8, 16)
MAX_VCPUS_LIMIT = 10_000
MAX_GPUS = 8
MANIFESTS_PREFIX = "manifests/"
FAILURES_PREFIX = "failures/"
METRICS_NAMESPACE = "DevOpsBlueprints/Embedding"
DEFAULT_COMMAND = ("python", "-m", "batch_job", "run")
#: GPU instance types by GPUs per job (NVIDIA T4 / A10G).
GPU_INSTANCE_TYPES = {
    1: ("g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge", "g5.2xlarge"),
    4: ("g4dn.12xlarge", "g5.12xlarge"),
    8: ("g4dn.metal", "g5.48xlarge"),
}


def _fail(message: str) -> None:
    raise ValueError(f"ImageEmbeddingPipeline: {message}")


def _is_token(value: Any) -> bool:
    return isinstance(value, str | int | float) and cdk.Token.is_unresolved(value)


def _check_whole(name: str, value: Any, low: int, high: int) -> None:
    """``value`` is an unresolved token or a whole number in ``low..high``."""
    if _is_token(value):
        return
    whole = isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    if not whole or not low <= value <= high:
        _fail(f"{name} must be a whole number from {low} to {high}, got {value!r}")


@jsii.implements(events.IRuleTarget)
class _LogGroupTarget:
    """An EventBridge target that delivers to a log group whose resource policy this construct writes itself
    (``aws_events_targets.CloudWatchLogGroup`` would add a custom resource and its Lambda for that)."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    def bind(self, rule: Any, id: str | None = None) -> events.RuleTargetConfig:
        stack = cdk.Stack.of(self._log_group)
        arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=self._log_group.log_group_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        return events.RuleTargetConfig(arn=arn)


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
        with ``gpu_count`` GPUs for GPU jobs.
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
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        dashboard_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        _validate(
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
        )
        self._compute_type = compute_type
        self._gpu_count = gpu_count
        self._images_prefix = images_prefix
        self._removal_policy = removal_policy

        # ------------------------------------------------------------------------------------ storage
        creates_storage = bucket is None or table is None
        kms_wanted = (encryption or "kms") == "kms" and creates_storage
        self._encryption_key: kms.IKey | None = encryption_key
        if self._encryption_key is None and kms_wanted:
            self._encryption_key = kms.Key(
                self,
                "Key",
                description="Images bucket and embeddings table (devops-blueprints ImageEmbeddingPipeline)",
                enable_key_rotation=True,
                removal_policy=removal_policy,
            )
        self._access_logs_bucket: s3.IBucket | None = access_logs_bucket
        if bucket is None:
            if self._access_logs_bucket is None:
                self._access_logs_bucket = self._new_access_logs_bucket(removal_policy)
            self._bucket: s3.IBucket = s3.Bucket(
                self,
                "Bucket",
                encryption=s3.BucketEncryption.KMS if self._encryption_key else s3.BucketEncryption.S3_MANAGED,
                encryption_key=self._encryption_key,
                bucket_key_enabled=self._encryption_key is not None,
                enforce_ssl=True,
                versioned=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                server_access_logs_bucket=self._access_logs_bucket,
                server_access_logs_prefix="images-bucket/",
                removal_policy=removal_policy,
            )
        else:
            self._bucket = bucket
        if table is None:
            self._table: dynamodb.ITable = dynamodb.Table(
                self,
                "Table",
                partition_key=dynamodb.Attribute(name="ImageId", type=dynamodb.AttributeType.STRING),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED
                if self._encryption_key
                else dynamodb.TableEncryption.AWS_MANAGED,
                encryption_key=self._encryption_key,
                removal_policy=removal_policy,
            )
        else:
            self._table = table

        # ------------------------------------------------------------------------------------ network
        self._flow_log: ec2.FlowLog | None = None
        if vpc is None:
            new_vpc = ec2.Vpc(
                self,
                "Vpc",
                max_azs=max_azs if max_azs is not None else 2,
                nat_gateways=nat_gateways if nat_gateways is not None else 1,
                subnet_configuration=[
                    ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                    ec2.SubnetConfiguration(
                        name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                    ),
                ],
                gateway_endpoints={
                    "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                    "DynamoDB": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
                },
            )
            flow_log_group = logs.LogGroup(self, "FlowLogGroup", retention=log_retention, removal_policy=removal_policy)
            self._flow_log = new_vpc.add_flow_log(
                "FlowLog",
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                traffic_type=ec2.FlowLogTrafficType.REJECT,
            )
            self._vpc: ec2.IVpc = new_vpc
        else:
            self._vpc = vpc
        subnets = vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

        # ------------------------------------------------------------------------------------ compute
        self._compute_environment: batch.IComputeEnvironment
        if compute_type in ("fargate", "fargate-spot"):
            self._compute_environment = batch.FargateComputeEnvironment(
                self,
                "ComputeEnvironment",
                vpc=self._vpc,
                vpc_subnets=subnets,
                maxv_cpus=max_vcpus,
                spot=compute_type == "fargate-spot",
            )
        else:
            spot = compute_type == "spot"
            types = list(instance_types or ())
            if gpu_count and not types:
                size = min(n for n in GPU_INSTANCE_TYPES if n >= gpu_count)
                types = [ec2.InstanceType(name) for name in GPU_INSTANCE_TYPES[size]]
            self._compute_environment = batch.ManagedEc2EcsComputeEnvironment(
                self,
                "ComputeEnvironment",
                vpc=self._vpc,
                vpc_subnets=subnets,
                maxv_cpus=max_vcpus,
                minv_cpus=0,
                spot=spot,
                spot_bid_percentage=spot_bid_percentage,
                allocation_strategy=batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
                if spot
                else batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
                instance_types=types or None,
                use_optimal_instance_classes=not types,
                images=[batch.EcsMachineImage(image_type=batch.EcsMachineImageType.ECS_AL2023_NVIDIA)]
                if gpu_count
                else None,
            )
        self._job_queue = batch.JobQueue(
            self,
            "JobQueue",
            priority=1,
            compute_environments=[
                batch.OrderedComputeEnvironment(compute_environment=self._compute_environment, order=1)
            ],
        )

        # ---------------------------------------------------------------------------------------- job
        self._job_log_group = logs.LogGroup(self, "JobLogGroup", retention=log_retention, removal_policy=removal_policy)
        self._job_role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Embedding job: reads images and manifests, writes failures and vectors",
        )
        self._grant_job(self._job_role)
        environment = {
            "IMAGES_BUCKET": self._bucket.bucket_name,
            "RESULTS_TABLE": self._table.table_name,
            "CHUNK_SIZE": "1000",
        }
        if embedding_model:
            environment["EMBEDDING_MODEL"] = embedding_model
        image = container_image or ecs.ContainerImage.from_asset(
            str(batch_job_dir()), file="Dockerfile.gpu" if gpu_count else "Dockerfile"
        )
        container_props: dict[str, Any] = {
            "image": image,
            "cpu": job_vcpus,
            "memory": cdk.Size.mebibytes(job_memory_mib),
            "command": list(command),
            "environment": environment,
            "job_role": self._job_role,
            "logging": ecs.LogDriver.aws_logs(stream_prefix="embedding", log_group=self._job_log_group),
        }
        self._container: batch.IEcsContainerDefinition
        if compute_type in ("fargate", "fargate-spot"):
            self._container = batch.EcsFargateContainerDefinition(
                self,
                "Container",
                assign_public_ip=False,
                fargate_cpu_architecture=ecs.CpuArchitecture.X86_64,
                fargate_operating_system_family=ecs.OperatingSystemFamily.LINUX,
                **container_props,
            )
        else:
            self._container = batch.EcsEc2ContainerDefinition(
                self, "Container", gpu=gpu_count or None, **container_props
            )
        self._job_definition = batch.EcsJobDefinition(
            self,
            "JobDefinition",
            container=self._container,
            retry_attempts=retry_attempts,
            retry_strategies=retry_strategies(),
            timeout=job_timeout or cdk.Duration.hours(1),
            propagate_tags=True,
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
        self._grant_submitter(self._submitter_role)
        self._submitter_log_group.grant_write(self._submitter_role)  # its logs and EMF metrics

        # -------------------------------------------------------------------------------- observation
        self._job_events_log_group = logs.LogGroup(
            self, "JobEventsLogGroup", retention=log_retention, removal_policy=removal_policy
        )
        self._job_events_rule = events.Rule(
            self,
            "JobEventsRule",
            description="Batch job state changes (SUCCEEDED/FAILED) of the embedding queue, to CloudWatch Logs",
            event_pattern=events.EventPattern(
                source=["aws.batch"],
                detail_type=["Batch Job State Change"],
                detail={"jobQueue": [self._job_queue.job_queue_arn], "status": ["SUCCEEDED", "FAILED"]},
            ),
        )
        self._job_events_rule.add_target(_LogGroupTarget(self._job_events_log_group))
        self._allow_events_to_log(self._job_events_log_group)
        self._metric_filters: dict[str, logs.MetricFilter] = {
            status: logs.MetricFilter(
                self,
                f"Jobs{status.title()}Filter",
                log_group=self._job_events_log_group,
                metric_namespace=METRICS_NAMESPACE,
                metric_name=f"ChildJobs{status.title()}",
                # units of work: plain jobs and array children, not the array parents
                filter_pattern=logs.FilterPattern.all(
                    logs.FilterPattern.string_value("$.detail.status", "=", status),
                    logs.FilterPattern.not_exists("$.detail.arrayProperties.size"),
                ),
                metric_value="1",
                dimensions={"JobQueue": "$.detail.jobQueue"},
                unit=cloudwatch.Unit.COUNT,
            )
            for status in ("SUCCEEDED", "FAILED")
        }
        self._dashboard = self._build_dashboard(dashboard_name)
        self._acknowledge_findings()

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

    def _object_arn(self, prefix: str) -> str:
        return self._bucket.arn_for_objects(f"{prefix}*")

    def _grant_job(self, role: iam.IRole) -> None:
        """Read images and manifests, write failures, write items - nothing else."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadImagesAndManifests",
                actions=["s3:GetObject"],
                resources=sorted({self._object_arn(self._images_prefix), self._object_arn(MANIFESTS_PREFIX)}),
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteFailures", actions=["s3:PutObject"], resources=[self._object_arn(FAILURES_PREFIX)]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteEmbeddings",
                actions=["dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DescribeTable"],
                resources=[self._table.table_arn],
            )
        )
        self._grant_key(role, self._bucket.encryption_key, "kms:Decrypt", "kms:GenerateDataKey")
        self._grant_key(
            role, self._table.encryption_key, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"
        )

    def _grant_submitter(self, role: iam.IRole) -> None:
        """List image prefixes, write manifests, submit to this queue with this job definition."""
        conditions = {"StringLike": {"s3:prefix": [f"{self._images_prefix}*"]}} if self._images_prefix else None
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListImages", actions=["s3:ListBucket"], resources=[self._bucket.bucket_arn], conditions=conditions
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteManifests", actions=["s3:PutObject"], resources=[self._object_arn(MANIFESTS_PREFIX)]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SubmitEmbeddingJobs",
                actions=["batch:SubmitJob"],
                resources=[self._job_queue.job_queue_arn, self._job_definition.job_definition_arn],
            )
        )
        self._grant_key(role, self._bucket.encryption_key, "kms:GenerateDataKey")

    @staticmethod
    def _grant_key(role: iam.IRole, key: kms.IKey | None, *actions: str) -> None:
        if key is not None:
            key.grant(role, *actions)

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
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"JobQueue": self._job_queue.job_queue_arn},
            statistic="Sum",
            period=cdk.Duration.minutes(5),
            **props,
        )

    def metric_jobs_submitted(self, **props: Any) -> cloudwatch.Metric:
        """Array jobs submitted (one per manifest), from the submitter's embedded metric format records."""
        return self._metric("JobsSubmitted", props)

    def metric_child_jobs_submitted(self, **props: Any) -> cloudwatch.Metric:
        """Units of work submitted: array children (and single-child jobs)."""
        return self._metric("ChildJobsSubmitted", props)

    def metric_images_submitted(self, **props: Any) -> cloudwatch.Metric:
        """Images listed and written to manifests."""
        return self._metric("ImagesSubmitted", props)

    def metric_child_jobs_succeeded(self, **props: Any) -> cloudwatch.Metric:
        """Array children (and single jobs) that ended SUCCEEDED, from Batch job state change events."""
        return self._metric("ChildJobsSucceeded", props)

    def metric_child_jobs_failed(self, **props: Any) -> cloudwatch.Metric:
        """Array children (and single jobs) that ended FAILED after their retries."""
        return self._metric("ChildJobsFailed", props)

    def _build_dashboard(self, dashboard_name: str | None) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        job_logs = self._job_log_group.log_group_name
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Jobs: submitted, succeeded, failed (array children)",
                left=[
                    self.metric_child_jobs_submitted(label="Submitted"),
                    self.metric_child_jobs_succeeded(label="Succeeded"),
                    self.metric_child_jobs_failed(label="Failed"),
                ],
                right=[self.metric_jobs_submitted(label="Array jobs submitted")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Images submitted",
                left=[self.metric_images_submitted(label="Images")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.LogQueryWidget(
                title="Images embedded and failed (job summary lines)",
                log_group_names=[job_logs],
                view=cloudwatch.LogQueryVisualizationType.LINE,
                query_lines=[
                    "filter @message like /^summary: images=/",
                    'parse @message "summary: images=* embedded=* failed=* seconds=*" as listed, embedded, failed, rest',
                    "stats sum(embedded) as ImagesEmbedded, sum(failed) as ImagesFailed by bin(5m)",
                ],
                width=12,
            ),
            cloudwatch.LogQueryWidget(
                title="Latest job errors",
                log_group_names=[job_logs],
                view=cloudwatch.LogQueryVisualizationType.TABLE,
                query_lines=[
                    "fields @timestamp, @logStream, @message",
                    "filter @message like /^error: /",
                    "sort @timestamp desc",
                    "limit 20",
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Submitter",
                left=[self._submitter.metric_invocations(), self._submitter.metric_errors()],
                right=[self._submitter.metric_duration(statistic="Maximum")],
                width=24,
            )
        )
        return dashboard

    # ------------------------------------------------------------------------------- supporting

    def _new_access_logs_bucket(self, removal_policy: cdk.RemovalPolicy) -> s3.Bucket:
        logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # server access log delivery supports SSE-S3 only
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90))],
            removal_policy=removal_policy,
        )
        cdk.Validations.of(logs_bucket).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-S1",
                reason="This is the access-logs bucket of the images bucket; logging it to itself would loop",
            )
        )
        return logs_bucket

    def _allow_events_to_log(self, log_group: logs.LogGroup) -> None:
        """The resource policy EventBridge needs to write to ``log_group`` (that log group only; the same
        principals as ``aws_events_targets.CloudWatchLogGroup``, without its custom resource)."""
        logs.ResourcePolicy(
            self,
            "JobEventsLogPolicy",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[
                        iam.ServicePrincipal("events.amazonaws.com"),
                        iam.ServicePrincipal("delivery.logs.amazonaws.com"),
                    ],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                )
            ],
        )

    def _acknowledge_findings(self) -> None:
        stack = cdk.Stack.of(self)
        objects = {
            self._object_arn(self._images_prefix): "the images prefix the job embeds",
            self._object_arn(MANIFESTS_PREFIX): "the run manifests",
            self._object_arn(FAILURES_PREFIX): "the per-child failure reports",
        }
        for arn, what in objects.items():
            finding = f"AwsSolutions-IAM5[Resource::{nag_text(stack, arn)}]"
            for role in (self._job_role, self._submitter_role):
                cdk.Validations.of(role).acknowledge(
                    cdk.Acknowledgment(
                        id=finding, reason=f"Object-level grant limited to {what}; keys are not known at deploy time"
                    )
                )
        cdk.Validations.of(self._submitter_role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions",
            )
        )
        cdk.Validations.of(self._container.execution_role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="ecr:GetAuthorizationToken (pulling the job image) supports no resource-level permissions",
            )
        )
        instance_role = getattr(self._compute_environment, "instance_role", None)
        if instance_role is not None:
            policy = "arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
            cdk.Validations.of(instance_role).acknowledge(
                cdk.Acknowledgment(
                    id=f"AwsSolutions-IAM4[Policy::{policy}]",
                    reason="The ECS container instance role AWS Batch documents for EC2 compute environments; "
                    "the job's own permissions are in the separate, least-privilege job role",
                )
            )


def retry_strategies() -> list[batch.RetryStrategy]:
    """Retry what the infrastructure did to a child; exit on anything else (the job's own errors).

    First match wins: EC2 host gone (includes Spot reclaim, ``Host EC2*``), Fargate Spot interruption, image
    pull failures and tasks that failed to start are retried; every other reason (``*``) exits.
    """
    return [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(
            batch.Action.RETRY, batch.Reason.custom(on_status_reason="Your Spot Task was interrupted*")
        ),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom(on_status_reason="Task failed to start*")),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_reason="*")),
    ]


def nag_text(stack: cdk.Stack, value: str) -> str:
    """How cdk-nag prints a (possibly tokenized) ARN in a finding id: ``<Logical.Arn>/images/*``."""
    return _render(stack.resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            return f"<{logical}.{attribute}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag resource")


def _validate(
    *,
    bucket: s3.IBucket | None,
    table: dynamodb.ITable | None,
    encryption: str | None,
    encryption_key: kms.IKey | None,
    access_logs_bucket: s3.IBucket | None,
    vpc: ec2.IVpc | None,
    max_azs: int | None,
    nat_gateways: int | None,
    compute_type: str,
    max_vcpus: float,
    gpu_count: int,
    instance_types: Sequence[ec2.InstanceType] | None,
    spot_bid_percentage: float | None,
    job_vcpus: float,
    job_memory_mib: float,
    retry_attempts: float,
    job_timeout: cdk.Duration | None,
    images_prefix: str,
    command: Sequence[str],
) -> None:
    """Every prop problem is one error naming the prop, the value and what is allowed."""
    if bucket is not None and access_logs_bucket is not None:
        _fail("give either bucket (existing) or access_logs_bucket (for a new bucket), not both")
    if bucket is not None and table is not None:
        for name, value in (("encryption", encryption), ("encryption_key", encryption_key)):
            if value is not None:
                _fail(f"{name} applies to a bucket or table this construct creates; bucket and table are both given")
    if encryption is not None and encryption not in ENCRYPTIONS:
        _fail(f'encryption must be one of {", ".join(ENCRYPTIONS)}, got "{encryption}"')
    if encryption == "s3-managed" and encryption_key is not None:
        _fail('give either encryption="s3-managed" or encryption_key, not both')
    if vpc is not None:
        for vpc_option, given in (("max_azs", max_azs), ("nat_gateways", nat_gateways)):
            if given is not None:
                _fail(
                    f"{vpc_option} applies to a VPC this construct creates; give either vpc or {vpc_option}, not both"
                )
    if max_azs is not None:
        _check_whole("max_azs", max_azs, 1, 6)
    if nat_gateways is not None:
        _check_whole("nat_gateways", nat_gateways, 0, 6)
    if compute_type not in COMPUTE_TYPES:
        _fail(f'compute_type must be one of {", ".join(COMPUTE_TYPES)}, got "{compute_type}"')
    fargate = compute_type.startswith("fargate")
    _check_whole("max_vcpus", max_vcpus, 1, MAX_VCPUS_LIMIT)
    if _is_token(gpu_count):
        _fail("gpu_count must be a plain number (it chooses the instance types), got an unresolved token")
    _check_whole("gpu_count", gpu_count, 0, MAX_GPUS)
    if gpu_count and fargate:
        _fail(f'gpu_count needs compute_type "ec2" or "spot" (Fargate has no GPUs), got "{compute_type}"')
    if instance_types and fargate:
        _fail(f'instance_types needs compute_type "ec2" or "spot", got "{compute_type}"')
    if spot_bid_percentage is not None:
        if compute_type != "spot":
            _fail(f'spot_bid_percentage needs compute_type "spot", got "{compute_type}"')
        _check_whole("spot_bid_percentage", spot_bid_percentage, 1, 100)
    if not _is_token(job_vcpus):
        if isinstance(job_vcpus, bool) or not isinstance(job_vcpus, int | float):
            _fail(f"job_vcpus must be a number, got {job_vcpus!r}")
        if fargate and job_vcpus not in FARGATE_VCPUS:
            allowed = ", ".join(f"{v:g}" for v in FARGATE_VCPUS)
            _fail(f"job_vcpus must be one of {allowed} on Fargate, got {job_vcpus:g}")
        if not fargate and (job_vcpus < 1 or not float(job_vcpus).is_integer()):
            _fail(f"job_vcpus must be a whole number >= 1 on EC2, got {job_vcpus:g}")
        if not _is_token(max_vcpus) and job_vcpus > max_vcpus:
            _fail(f"job_vcpus ({job_vcpus:g}) must not exceed max_vcpus ({max_vcpus})")
    _check_whole("job_memory_mib", job_memory_mib, 512, 122_880)
    _check_whole("retry_attempts", retry_attempts, 1, 10)
    if job_timeout is not None and not job_timeout.is_unresolved() and job_timeout.to_seconds() < 60:
        _fail(f"job_timeout must be at least 60 seconds, got {job_timeout.to_human_string()}")
    if images_prefix and not images_prefix.endswith("/"):
        _fail(f'images_prefix must be "" (whole bucket) or end with "/", got "{images_prefix}"')
    for reserved in (MANIFESTS_PREFIX, FAILURES_PREFIX):
        if images_prefix.startswith(reserved):
            _fail(f'images_prefix must not be under "{reserved}" (the pipeline writes there), got "{images_prefix}"')
    if not command or not all(isinstance(part, str) and part for part in command):
        _fail(f"command must be a non-empty list of non-empty strings, got {list(command)!r}")
