"""devops-blueprints: AWS CDK constructs and sample stages for DevOps Guru, SaaS tenant deployments,
image embeddings on AWS Batch, SCP guardrails and Terraform import."""

__version__ = "0.1.0"
