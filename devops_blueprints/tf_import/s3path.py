"""``--s3-path s3://bucket/prefix``: where templates over 51,200 bytes are uploaded."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devops_blueprints.tf_import.errors import TfImportError

_S3_PATH = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")


def parse_s3_path(value: str) -> tuple[str, str]:
    """(bucket, prefix without surrounding slashes)."""
    match = _S3_PATH.match(value)
    if not match:
        raise TfImportError(f"--s3-path {value!r}: expected s3://BUCKET[/PREFIX] with a valid bucket name")
    return match["bucket"], (match["prefix"] or "").strip("/")


def upload_template(s3: Any, s3_path: str, body: str) -> str:
    """Upload ``body`` under ``s3_path`` (key from its SHA-256, so re-runs reuse it); the TemplateURL."""
    bucket, prefix = parse_s3_path(s3_path)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
    key = f"{prefix}/tf-import-{digest}.json" if prefix else f"tf-import-{digest}.json"
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body.encode("utf-8"),
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
    except (ClientError, BotoCoreError) as exc:
        raise TfImportError(f"--s3-path {s3_path}: cannot upload the template to s3://{bucket}/{key}: {exc}") from None
    region = s3.meta.region_name or "us-east-1"
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
