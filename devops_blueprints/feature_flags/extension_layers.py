"""The AWS AppConfig Agent Lambda extension's layer ARNs by region and architecture.

Transcribed for extension version ``EXTENSION_VERSION`` from AWS's published list (the x86-64 and ARM64 tables of
https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-integration-lambda-extensions-versions.html).
The layers belong to AWS accounts, one per region; a layer ARN only works in its own region, so a function needs
the ARN of the region it is deployed to (a concrete region: an environment-agnostic stack cannot pick one).
aws-cdk-lib's ``Application.get_lambda_layer_version_arn`` was not used: its table (2.275.0) is older (eu-west-1
x86-64 version 125) and has no entry for several regions.
"""

from __future__ import annotations

EXTENSION_VERSION = "2.0.17054.0"

# region -> (AWS account that publishes the layer, x86-64 layer version, arm64 layer version)
_LAYERS: dict[str, tuple[str, int, int]] = {
    "af-south-1": ("574348263942", 260, 188),
    "ap-east-1": ("630222743974", 254, 182),
    "ap-east-2": ("730335625313", 147, 121),
    "ap-northeast-1": ("980059726660", 272, 225),
    "ap-northeast-2": ("826293736237", 273, 181),
    "ap-northeast-3": ("706869817123", 272, 187),
    "ap-south-1": ("554480029851", 290, 232),
    "ap-south-2": ("489524808438", 217, 175),
    "ap-southeast-1": ("421114256042", 258, 210),
    "ap-southeast-2": ("080788657173", 313, 256),
    "ap-southeast-3": ("418787028745", 256, 193),
    "ap-southeast-4": ("307021474294", 188, 173),
    "ap-southeast-5": ("631746059939", 161, 136),
    "ap-southeast-6": ("381491832265", 97, 87),
    "ap-southeast-7": ("851725616657", 134, 133),
    "ca-central-1": ("039592058896", 262, 182),
    "ca-west-1": ("436199621743", 172, 162),
    "eu-central-1": ("066940009817", 295, 238),
    "eu-central-2": ("758369105281", 220, 178),
    "eu-north-1": ("646970417810", 367, 226),
    "eu-south-1": ("203683718741", 249, 177),
    "eu-south-2": ("586093569114", 214, 175),
    "eu-west-1": ("434848589818", 303, 241),
    "eu-west-2": ("282860088358", 242, 194),
    "eu-west-3": ("493207061005", 273, 192),
    "il-central-1": ("895787185223", 188, 171),
    "me-central-1": ("662846165436", 212, 168),
    "me-south-1": ("559955524753", 254, 182),
    "mx-central-1": ("891376990304", 142, 141),
    "sa-east-1": ("000010852771", 327, 215),
    "us-east-1": ("027255383542", 321, 254),
    "us-east-2": ("728743619870", 277, 229),
    "us-west-1": ("958113053741", 395, 272),
    "us-west-2": ("359756378197", 373, 275),
}

#: Regions with a published layer.
REGIONS = frozenset(_LAYERS)


class NoExtensionLayerError(ValueError):
    """No published layer for the region; ``str()`` is one line."""


def extension_layer_arn(region: str, architecture: str) -> str:
    """The layer ARN of ``region`` for ``architecture`` (``x86_64`` or ``arm64``)."""
    if architecture not in ("x86_64", "arm64"):
        raise NoExtensionLayerError(f"architecture must be x86_64 or arm64, got {architecture!r}")
    try:
        account, x86_version, arm_version = _LAYERS[region]
    except KeyError:
        raise NoExtensionLayerError(
            f"the AppConfig Lambda extension {EXTENSION_VERSION} has no published layer in region {region!r}"
        ) from None
    if architecture == "arm64":
        return f"arn:aws:lambda:{region}:{account}:layer:AWS-AppConfig-Extension-Arm64:{arm_version}"
    return f"arn:aws:lambda:{region}:{account}:layer:AWS-AppConfig-Extension:{x86_version}"
