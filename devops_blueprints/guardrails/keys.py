"""Types of the global ``aws:`` condition keys (the AWS global condition context keys reference).

Service-specific keys come from the IAM definitions database; the global keys are not listed per
service there, so their documented types live here. ``AccountId`` is a String that must be a
12-digit account ID.
"""

from __future__ import annotations

ACCOUNT_ID = "AccountId"

GLOBAL_KEYS: dict[str, str] = {
    "aws:principalarn": "ARN",
    "aws:principalaccount": ACCOUNT_ID,
    "aws:principalorgid": "String",
    "aws:principalorgpaths": "ArrayOfString",
    "aws:principalisawsservice": "Bool",
    "aws:principalservicename": "String",
    "aws:principalservicenameslist": "ArrayOfString",
    "aws:principaltype": "String",
    "aws:userid": "String",
    "aws:username": "String",
    "aws:federatedprovider": "String",
    "aws:tokenissuetime": "Date",
    "aws:multifactorauthage": "Numeric",
    "aws:multifactorauthpresent": "Bool",
    "aws:assumedroot": "Bool",
    "aws:sourceidentity": "String",
    "aws:ec2instancesourcevpc": "String",
    "aws:ec2instancesourceprivateipv4": "IPAddress",
    "aws:calledvia": "ArrayOfString",
    "aws:calledviafirst": "String",
    "aws:calledvialast": "String",
    "aws:viaawsservice": "Bool",
    "aws:currenttime": "Date",
    "aws:epochtime": "Date",
    "aws:referer": "String",
    "aws:requestedregion": "String",
    "aws:tagkeys": "ArrayOfString",
    "aws:securetransport": "Bool",
    "aws:sourceaccount": ACCOUNT_ID,
    "aws:sourcearn": "ARN",
    "aws:sourceorgid": "String",
    "aws:sourceorgpaths": "ArrayOfString",
    "aws:sourceip": "IPAddress",
    "aws:sourcevpc": "String",
    "aws:sourcevpce": "String",
    "aws:vpcsourceip": "IPAddress",
    "aws:useragent": "String",
    "aws:resourceaccount": ACCOUNT_ID,
    "aws:resourceorgid": "String",
    "aws:resourceorgpaths": "ArrayOfString",
}
GLOBAL_KEY_PREFIXES: dict[str, str] = {
    "aws:principaltag/": "String",
    "aws:requesttag/": "String",
    "aws:resourcetag/": "String",
}


def key_type(key: str) -> str | None:
    """The type of a global condition key, None for keys this table does not know."""
    lowered = key.lower()
    found = GLOBAL_KEYS.get(lowered)
    if found is not None:
        return found
    for prefix, kind in GLOBAL_KEY_PREFIXES.items():
        if lowered.startswith(prefix):
            return kind
    return None
