"""Reads template.yaml and asserts the safety properties issue 4 promises.

Each test guards one property a deploy relies on (Object Lock, encryption, the trail's
selectors, the stream trigger's failure handling, least-privilege IAM, ...). They read the
template as data: nothing is deployed. cfn-lint, `sam validate --lint` and checkov (run by
scripts/check-template) check that the template is valid; these tests check that it says
what we promise.
"""

import json
import re
from pathlib import Path

import pytest

from cfn import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SCHEMA = ROOT / "schema" / "audit-document.schema.json"


# --- loading -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template():
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def resources(template):
    return template["Resources"]


def props(resources, logical_id):
    return resources[logical_id]["Properties"]


def of_type(resources, cfn_type):
    return {k: v for k, v in resources.items() if v["Type"] == cfn_type}


def as_list(value):
    return value if isinstance(value, list) else [value]


def getatt(logical_id, attribute):
    return {"Fn::GetAtt": [logical_id, attribute]}


def ref(name):
    return {"Ref": name}


# The audited table's ARN, whichever table is audited: the demo table's, or the one the
# given stream ARN belongs to (everything before "/stream/").
TABLE_ARN = {
    "Fn::If": [
        "CreateDemoTable",
        getatt("DemoTable", "Arn"),
        {"Fn::Select": [0, {"Fn::Split": ["/stream/", ref("TableStreamArn")]}]},
    ]
}
STREAM_ARN = {"Fn::If": ["CreateDemoTable", getatt("DemoTable", "StreamArn"), ref("TableStreamArn")]}


def policy_statements(document):
    return as_list(document["Statement"])


def tls_deny_statement(statements):
    """The statement denying every request not made over TLS, or None."""
    for s in statements:
        cond = s.get("Condition", {})
        if (
            s["Effect"] == "Deny"
            and s.get("Principal") == "*"
            and str(cond.get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
        ):
            return s
    return None


# --- the audit bucket --------------------------------------------------------------------------


# Guards immutability: Object Lock on, with the default retention taken from the parameters.
def test_audit_bucket_has_object_lock_with_default_retention_from_parameters(template, resources):
    bucket = props(resources, "AuditBucket")
    assert bucket["ObjectLockEnabled"] is True
    lock = bucket["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert lock["Rule"]["DefaultRetention"] == {
        "Mode": ref("RetentionMode"),
        "Days": ref("RetentionDays"),
    }
    params = template["Parameters"]
    assert set(params["RetentionMode"]["AllowedValues"]) == {"GOVERNANCE", "COMPLIANCE"}
    assert params["RetentionDays"]["MinValue"] >= 1
    assert params["RetentionDays"]["Default"] >= 1


# Guards that every overwrite keeps the earlier version (Object Lock needs versioning too).
def test_audit_bucket_is_versioned(resources):
    assert props(resources, "AuditBucket")["VersioningConfiguration"] == {"Status": "Enabled"}


# Guards encryption at rest: SSE-KMS with the stack's customer managed key, rotated, bucket key on.
def test_audit_bucket_is_encrypted_with_the_rotating_customer_managed_key(resources):
    (rule,) = props(resources, "AuditBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": getatt("AuditKey", "Arn"),
    }
    assert rule["BucketKeyEnabled"] is True
    key = resources["AuditKey"]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True


# Guards the trail's logs at rest: the trail encrypts its log files with the same key, and the
# log bucket encrypts anything else by default.
def test_trail_logs_are_encrypted(resources):
    assert props(resources, "AuditTrail")["KMSKeyId"] == getatt("AuditKey", "Arn")
    (rule,) = props(resources, "TrailBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")


# Guards that the key outlives the stack: deleting it would make locked documents unreadable.
def test_audit_key_and_buckets_are_retained_on_stack_delete(resources):
    for logical_id in ["AuditKey", "AuditBucket", "TrailBucket"]:
        assert resources[logical_id]["DeletionPolicy"] == "Retain", logical_id
        assert resources[logical_id]["UpdateReplacePolicy"] == "Retain", logical_id


# Guards against public exposure: all four public-access blocks on, ACLs disabled.
@pytest.mark.parametrize("bucket", ["AuditBucket", "TrailBucket"])
def test_buckets_block_all_public_access_and_disable_acls(resources, bucket):
    p = props(resources, bucket)
    assert p["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert p["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


# Guards TLS-only access: both bucket policies deny every request made without TLS, on the
# bucket and on every object.
@pytest.mark.parametrize(
    "policy, bucket", [("AuditBucketPolicy", "AuditBucket"), ("TrailBucketPolicy", "TrailBucket")]
)
def test_bucket_policies_deny_requests_without_tls(resources, policy, bucket):
    p = props(resources, policy)
    assert p["Bucket"] == ref(bucket)
    deny = tls_deny_statement(policy_statements(p["PolicyDocument"]))
    assert deny is not None, f"{policy} has no aws:SecureTransport=false deny"
    assert as_list(deny["Action"]) == ["s3:*"]
    assert sorted(map(json.dumps, as_list(deny["Resource"]))) == sorted(
        map(json.dumps, [getatt(bucket, "Arn"), {"Fn::Sub": f"${{{bucket}.Arn}}/*"}])
    )


# Guards that the failure queue (it names the failed records) is TLS-only and encrypted too.
def test_failure_queue_is_encrypted_and_tls_only(resources):
    assert props(resources, "FailureQueue")["KmsMasterKeyId"] == ref("AuditKey")
    p = props(resources, "FailureQueuePolicy")
    assert p["Queues"] == [ref("FailureQueue")]
    deny = tls_deny_statement(policy_statements(p["PolicyDocument"]))
    assert deny is not None and as_list(deny["Action"]) == ["sqs:*"]


# Guards the break-glass rule: deletes and lock changes are denied to every principal, except
# the break-glass role when one is named (and to everyone when none is).
def test_audit_bucket_denies_deletes_and_lock_changes_to_all_but_break_glass(template, resources):
    statements = policy_statements(props(resources, "AuditBucketPolicy")["PolicyDocument"])
    must_deny = {
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutObjectRetention",
        "s3:PutObjectLegalHold",
        "s3:BypassGovernanceRetention",
        "s3:PutBucketObjectLockConfiguration",
    }
    denies = [s for s in statements if s["Effect"] == "Deny" and must_deny <= set(as_list(s["Action"]))]
    assert len(denies) == 1, "one statement must deny all of " + ", ".join(sorted(must_deny))
    (deny,) = denies
    assert deny["Principal"] == "*"
    assert {"Fn::Sub": "${AuditBucket.Arn}/*"} in as_list(deny["Resource"])
    assert deny["Condition"] == {
        "Fn::If": [
            "HasBreakGlassRole",
            {"ArnNotEquals": {"aws:PrincipalArn": ref("BreakGlassRoleArn")}},
            ref("AWS::NoValue"),
        ]
    }
    assert template["Conditions"]["HasBreakGlassRole"] == {
        "Fn::Not": [{"Fn::Equals": [ref("BreakGlassRoleArn"), ""]}]
    }
    assert template["Parameters"]["BreakGlassRoleArn"]["Default"] == ""
    # No statement in the audit bucket's policy allows anything: access is granted by IAM only.
    assert all(s["Effect"] == "Deny" for s in statements)


# --- the audit bucket policy, evaluated -----------------------------------------------------------

BREAK_GLASS = "arn:aws:iam::123456789012:role/break-glass"
FUNCTION_ROLE = "arn:aws:iam::123456789012:role/stack-AuditFunctionRole-X"
DEFAULT_DAYS = 365


def _condition_matches(operator, key, expected, context):
    """One condition operator of IAM's, as far as this policy uses them. A key absent from the
    request matches only Null: "true"; every other operator is false on an absent key."""
    value = context.get(key)
    if operator == "Null":
        return (value is None) == (str(expected).lower() == "true")
    if value is None:
        return False
    if operator == "NumericLessThan":
        return float(value) < float(expected)
    if operator == "ArnNotEquals":
        return value != expected
    if operator == "Bool":
        return str(value).lower() == str(expected).lower()
    raise AssertionError(f"operator {operator} is not modelled")


def denied(statements, action, context, params):
    """Whether a Deny statement of the audit bucket's policy matches a request on an object:
    every operator and key of its (evaluated) condition must match."""
    conditions = {"HasBreakGlassRole": bool(params["BreakGlassRoleArn"])}
    for s in statements:
        if s["Effect"] != "Deny" or not ({action, "s3:*"} & set(as_list(s["Action"]))):
            continue
        condition = evaluate(s.get("Condition", {}), params, conditions)
        if condition == "AWS::NoValue":
            condition = {}
        if all(
            _condition_matches(operator, key, evaluate(expected, params, conditions), context)
            for operator, keys in condition.items()
            for key, expected in keys.items()
        ):
            return True
    return False


def _put(principal, **context):
    return {"aws:PrincipalArn": principal, "aws:SecureTransport": "true", **context}


# Guards issue 15's policy: no principal but break-glass can overwrite an audit object (a
# PutObject without If-None-Match is denied), and nobody but break-glass can write an object
# with a retention shorter than the bucket's default; the function's own writes (If-None-Match,
# no retention header, so the default applies) still pass.
@pytest.mark.parametrize("break_glass", [BREAK_GLASS, ""])
def test_audit_bucket_denies_overwrites_and_short_retention_but_admits_the_functions_writes(
    resources, break_glass
):
    statements = policy_statements(props(resources, "AuditBucketPolicy")["PolicyDocument"])
    params = {"BreakGlassRoleArn": break_glass, "RetentionDays": str(DEFAULT_DAYS), "AWS::NoValue": "AWS::NoValue"}

    def put_denied(principal, **context):
        return denied(statements, "s3:PutObject", _put(principal, **context), params)

    retention = "s3:object-lock-remaining-retention-days"
    # The function's write: conditional, no retention of its own.
    assert not put_denied(FUNCTION_ROLE, **{"s3:if-none-match": "*"})
    # A conditional write asking for the default or longer passes; shorter is denied.
    assert not put_denied(FUNCTION_ROLE, **{"s3:if-none-match": "*", retention: str(DEFAULT_DAYS)})
    assert not put_denied(FUNCTION_ROLE, **{"s3:if-none-match": "*", retention: "3650"})
    assert put_denied(FUNCTION_ROLE, **{"s3:if-none-match": "*", retention: "1"})
    # Without If-None-Match the write could overwrite: denied.
    assert put_denied(FUNCTION_ROLE)
    assert put_denied("arn:aws:iam::123456789012:root")
    # Break-glass is exempt from both, when one is named; without one nobody is.
    assert put_denied(BREAK_GLASS) is (not break_glass)
    assert put_denied(BREAK_GLASS, **{"s3:if-none-match": "*", retention: "1"}) is (not break_glass)


# Guards the policy's shape: the two new denies cover every object of the bucket, name the
# condition keys AWS documents for them, and take the default retention from the parameter.
def test_audit_bucket_policy_names_the_documented_condition_keys(resources):
    statements = {
        s["Sid"]: s for s in policy_statements(props(resources, "AuditBucketPolicy")["PolicyDocument"])
    }
    puts = statements["DenyUnconditionalPutsExceptBreakGlass"]
    retention = statements["DenyRetentionBelowTheDefaultExceptBreakGlass"]
    for s in [puts, retention]:
        assert s["Effect"] == "Deny" and s["Principal"] == "*"
        assert s["Action"] == "s3:PutObject"
        assert s["Resource"] == {"Fn::Sub": "${AuditBucket.Arn}/*"}
        name, with_role, without_role = s["Condition"]["Fn::If"]
        assert name == "HasBreakGlassRole"
        assert with_role["ArnNotEquals"] == {"aws:PrincipalArn": ref("BreakGlassRoleArn")}
        assert {k: v for k, v in with_role.items() if k != "ArnNotEquals"} == without_role
    assert puts["Condition"]["Fn::If"][2] == {"Null": {"s3:if-none-match": "true"}}
    assert retention["Condition"]["Fn::If"][2] == {
        "NumericLessThan": {"s3:object-lock-remaining-retention-days": ref("RetentionDays")}
    }


# --- the trail -----------------------------------------------------------------------------------


def _field(selector, name):
    fields = [f for f in selector["FieldSelectors"] if f["Field"] == name]
    assert len(fields) <= 1, f"field {name} selected twice"
    return fields[0] if fields else None


def _selectors(resources):
    raw = props(resources, "AuditTrail")["AdvancedEventSelectors"]
    plain = [s for s in raw if "Fn::If" not in s]
    conditional = [s["Fn::If"] for s in raw if "Fn::If" in s]
    return plain, conditional


# Guards that every read and write of the audit trail is itself recorded: S3 data events, read
# and write, on exactly the audit bucket's objects (nothing more, nothing less).
def test_trail_records_every_read_and_write_of_exactly_the_audit_bucket_objects(resources):
    plain, conditional = _selectors(resources)
    s3 = [s for s in plain if _field(s, "resources.type")["Equals"] == ["AWS::S3::Object"]]
    assert len(s3) == 1
    (selector,) = s3
    assert _field(selector, "eventCategory") == {"Field": "eventCategory", "Equals": ["Data"]}
    assert _field(selector, "readOnly") is None, "reads and writes both: no readOnly filter"
    assert _field(selector, "eventName") is None
    assert _field(selector, "resources.ARN") == {
        "Field": "resources.ARN",
        "StartsWith": [{"Fn::Sub": "${AuditBucket.Arn}/"}],
    }
    assert len(selector["FieldSelectors"]) == 3
    # Every other selector is the DynamoDB one below; none selects other buckets or management events.
    assert len(plain) == 1
    for _, when_on, _ in conditional:
        assert _field(when_on, "resources.type")["Equals"] == ["AWS::DynamoDB::Table"]


# Guards that with RecordTableDataEvents on (the default) the trail records write calls, and
# only write calls, on the audited table and no other table.
def test_trail_records_only_write_calls_on_the_audited_table(template, resources):
    _, conditional = _selectors(resources)
    assert len(conditional) == 1
    condition, selector, otherwise = conditional[0]
    assert condition == "RecordTableDataEventsOn"
    assert otherwise == ref("AWS::NoValue")
    assert template["Conditions"]["RecordTableDataEventsOn"] == {
        "Fn::Equals": [ref("RecordTableDataEvents"), "true"]
    }
    assert template["Parameters"]["RecordTableDataEvents"]["Default"] == "true"
    assert _field(selector, "eventCategory")["Equals"] == ["Data"]
    assert _field(selector, "resources.type")["Equals"] == ["AWS::DynamoDB::Table"]
    assert _field(selector, "readOnly") == {"Field": "readOnly", "Equals": ["false"]}
    assert _field(selector, "resources.ARN") == {"Field": "resources.ARN", "Equals": [TABLE_ARN]}


# Guards the trail's integrity: it is logging, validates its log files (digest files), and
# encrypts them with the stack's key.
def test_trail_is_logging_with_log_file_validation(resources):
    trail = resources["AuditTrail"]
    p = trail["Properties"]
    assert p["IsLogging"] is True
    assert p["EnableLogFileValidation"] is True
    assert p["S3BucketName"] == ref("TrailBucket")
    assert p["KMSKeyId"] == getatt("AuditKey", "Arn")
    assert trail["DependsOn"] == "TrailBucketPolicy"


# Guards the confused-deputy protection: CloudTrail may write to its bucket only on behalf of
# this stack's trail (aws:SourceArn), and only under AWSLogs/<account>/.
def test_trail_bucket_admits_cloudtrail_only_for_this_trail(resources):
    p = props(resources, "AuditTrail")
    trail_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/"
        + p["TrailName"]["Fn::Sub"]
    }
    statements = policy_statements(props(resources, "TrailBucketPolicy")["PolicyDocument"])
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert {tuple(as_list(s["Action"])) for s in allows} == {("s3:GetBucketAcl",), ("s3:PutObject",)}
    for s in allows:
        assert s["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert s["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    (put,) = [s for s in allows if s["Action"] == "s3:PutObject"]
    assert put["Resource"] == {"Fn::Sub": "${TrailBucket.Arn}/AWSLogs/${AWS::AccountId}/*"}


# --- the function and its trigger ----------------------------------------------------------------


# Guards the deployable shape: Rust on provided.al2023, arm64 by default, built by cargo-lambda.
def test_function_is_the_rust_binary_on_provided_al2023(template, resources):
    fn = resources["AuditFunction"]
    assert fn["Type"] == "AWS::Serverless::Function"
    assert fn["Metadata"]["BuildMethod"] == "rust-cargolambda"
    assert fn["Metadata"]["BuildProperties"] == {"Binary": "ddb-audit-lambda"}
    p = fn["Properties"]
    assert p["Runtime"] == "provided.al2023"
    assert p["Handler"] == "bootstrap"
    assert p["CodeUri"] == "."
    assert p["Architectures"] == [ref("Architecture")]
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"


# Guards the function's configuration contract (issue 3's variables) and that the prefix the
# function writes under is the one IAM allows and Athena reads.
def test_function_environment_matches_parameters_iam_and_athena(resources):
    env = props(resources, "AuditFunction")["Environment"]["Variables"]
    assert env == {
        "AUDIT_BUCKET": ref("AuditBucket"),
        "AUDIT_PREFIX": "audit/",
        "AUDIT_MODE": ref("AuditMode"),
        "AUDIT_INCLUDE_IMAGES": ref("IncludeImages"),
        "AUDIT_MAX_CONCURRENCY": ref("MaxConcurrency"),
        "AUDIT_REDACT": ref("RedactPaths"),
        "AUDIT_REDACT_SECRET_ARN": {
            "Fn::If": [
                "Redacting",
                {"Fn::If": ["CreateRedactSecret", ref("RedactSecret"), ref("RedactSecretArn")]},
                "",
            ]
        },
        "AUDIT_S3_ATTEMPT_TIMEOUT_MS": "3000",
        "AUDIT_S3_OPERATION_TIMEOUT_MS": "10000",
        "RUST_LOG": ref("LogLevel"),
    }
    # One write (the operation timeout) plus the 0.5 s answer reserve must fit in the
    # function's timeout with room to spare, or the function never starts a write.
    timeout_ms = props(resources, "AuditFunction")["Timeout"] * 1000
    assert int(env["AUDIT_S3_OPERATION_TIMEOUT_MS"]) + 500 <= timeout_ms / 2
    prefix = env["AUDIT_PREFIX"]
    (put,) = [s for s in _role_statements(resources) if "s3:PutObject" in as_list(s["Action"])]
    assert put["Resource"] == {"Fn::Sub": "${AuditBucket.Arn}/" + prefix + "*"}
    glue = props(resources, "AuditDocumentsTable")["TableInput"]
    assert glue["StorageDescriptor"]["Location"] == {"Fn::Sub": "s3://${AuditBucket}/" + prefix}


# Guards that one bad record never blocks the shard and nothing is dropped silently: partial
# batch responses, bisection, bounded retries and record age, an encrypted on-failure queue.
def test_stream_trigger_reports_item_failures_bisects_and_bounds_retries(template, resources):
    events = props(resources, "AuditFunction")["Events"]
    assert len(events) == 1
    (event,) = events.values()
    assert event["Type"] == "DynamoDB"
    e = event["Properties"]
    assert e["Stream"] == STREAM_ARN
    assert e["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert e["BisectBatchOnFunctionError"] == {"Fn::If": ["BatchMode", False, True]}
    assert e["StartingPosition"] == ref("StartingPosition")
    assert e["BatchSize"] == ref("BatchSize")
    assert e["MaximumBatchingWindowInSeconds"] == ref("MaximumBatchingWindowInSeconds")
    assert e["DestinationConfig"] == {
        "OnFailure": {"Type": "SQS", "Destination": getatt("FailureQueue", "Arn")}
    }
    params = template["Parameters"]
    # -1 means "retry forever" / "no age limit" to Lambda: the parameters' bounds exclude it.
    retries = params[e["MaximumRetryAttempts"]["Ref"]]
    assert 0 <= retries["MinValue"] <= retries["Default"] <= retries["MaxValue"] <= 10000
    age = params[e["MaximumRecordAgeInSeconds"]["Ref"]]
    # Below the stream's 24-hour retention, so a batch given up on can still be replayed.
    assert 60 <= age["MinValue"] <= age["Default"] < 86400 and age["MaxValue"] <= 86400
    assert set(params["StartingPosition"]["AllowedValues"]) == {"TRIM_HORIZON", "LATEST"}


# Guards the batch-mode choice (issue 15): record mode bisects a failed invocation; batch mode
# retries the whole batch instead, because a half starting inside an object the failed
# invocation stored would write its records again (tests/py/test_faults.py measures this).
def test_batch_mode_turns_bisection_off(template, resources):
    assert template["Conditions"]["BatchMode"] == {"Fn::Equals": [ref("AuditMode"), "batch"]}
    (event,) = props(resources, "AuditFunction")["Events"].values()
    bisect = event["Properties"]["BisectBatchOnFunctionError"]
    for mode, expected in [("record", True), ("batch", False)]:
        assert evaluate(bisect, {"AuditMode": mode}, {"BatchMode": mode == "batch"}) is expected


# Guards that whoever the failure-queue alarm wakes is told how to close the gap: the alarm
# names the recover command with this stack's queue URL.
def test_failure_queue_alarm_names_the_recover_command(resources):
    alarm = props(resources, "FailureQueueAlarm")
    description = alarm["AlarmDescription"]["Fn::Sub"]
    assert "ddb-audit recover --queue-url ${FailureQueue}" in description
    assert len(description) <= 1024, "CloudWatch limits alarm descriptions to 1024 characters"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": getatt("FailureQueue", "QueueName")}]


# Guards that the function has a log group of its own with a bounded retention.
def test_function_logs_to_its_own_log_group_with_retention(template, resources):
    group = props(resources, "AuditFunctionLogGroup")
    assert group["RetentionInDays"] == ref("LogRetentionDays")
    retention = template["Parameters"]["LogRetentionDays"]
    assert retention["Default"] in retention["AllowedValues"]
    assert group["KmsKeyId"] == getatt("AuditKey", "Arn")
    # The key lets CloudWatch Logs use it for this log group only.
    (logs,) = [
        s for s in policy_statements(props(resources, "AuditKey")["KeyPolicy"])
        if s["Principal"].get("Service") == {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}
    ]
    assert logs["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                + group["LogGroupName"]["Fn::Sub"]
            }
        }
    }
    assert props(resources, "AuditFunction")["LoggingConfig"]["LogGroup"] == ref("AuditFunctionLogGroup")


# --- least privilege ---------------------------------------------------------------------------

# Actions for which AWS accepts no resource narrower than "*". None of them is needed today;
# the list says which "*" a future statement could justify.
STAR_ONLY_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
    "kms:CreateKey",
    "kms:ListAliases",
    "s3:ListAllMyBuckets",
}


def _role_statements(resources):
    role = props(resources, "AuditFunctionRole")
    out = []
    for policy in role["Policies"]:
        out.extend(policy_statements(policy["PolicyDocument"]))
    return out


# Guards least privilege: no IAM statement anywhere in the stack uses a "*" resource unless
# every action in it accepts nothing narrower, and no action is a wildcard.
def test_no_iam_statement_uses_a_star_resource_where_a_narrower_one_exists(resources):
    statements = []
    for logical_id, r in resources.items():
        if r["Type"] == "AWS::IAM::Role":
            for policy in r["Properties"].get("Policies", []):
                statements += [(logical_id, s) for s in policy_statements(policy["PolicyDocument"])]
            assert not r["Properties"].get("ManagedPolicyArns"), f"{logical_id}: managed policies are not reviewed"
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            statements += [(logical_id, s) for s in policy_statements(r["Properties"]["PolicyDocument"])]
    assert statements, "the function role's policy was not found"
    for logical_id, s in statements:
        actions = as_list(s["Action"])
        assert not any("*" in a for a in actions), f"{logical_id}/{s.get('Sid')}: wildcard action"
        if "*" in as_list(s["Resource"]):
            assert set(actions) <= STAR_ONLY_ACTIONS, f"{logical_id}/{s.get('Sid')}: '*' resource"


# Guards the function role's exact grants: write documents under the prefix, read one stream,
# use one key, send to one queue, write one log group. Nothing else.
def test_function_role_grants_exactly_the_narrow_permissions(resources):
    grants = {}
    for s in _role_statements(resources):
        assert s["Effect"] == "Allow"
        for action in as_list(s["Action"]):
            grants[action] = s["Resource"]
    assert grants == {
        "s3:PutObject": {"Fn::Sub": "${AuditBucket.Arn}/audit/*"},
        "dynamodb:DescribeStream": STREAM_ARN,
        "dynamodb:GetRecords": STREAM_ARN,
        "dynamodb:GetShardIterator": STREAM_ARN,
        "dynamodb:ListStreams": {"Fn::Sub": ["${TableArn}/stream/*", {"TableArn": TABLE_ARN}]},
        "kms:GenerateDataKey": getatt("AuditKey", "Arn"),
        "kms:Encrypt": getatt("AuditKey", "Arn"),
        "kms:Decrypt": getatt("AuditKey", "Arn"),
        "sqs:SendMessage": getatt("FailureQueue", "Arn"),
        "logs:CreateLogStream": getatt("AuditFunctionLogGroup", "Arn"),
        "logs:PutLogEvents": getatt("AuditFunctionLogGroup", "Arn"),
    }


# Guards that batch mode, and only batch mode, may read stored objects' metadata under the
# audit prefix (HeadObject on a 412), which exactly-once re-delivery needs.
def test_batch_mode_alone_reads_stored_object_metadata(template, resources):
    assert template["Conditions"]["BatchMode"] == {"Fn::Equals": [ref("AuditMode"), "batch"]}
    policy = resources["AuditFunctionBatchReadPolicy"]
    assert policy["Condition"] == "BatchMode"
    assert policy["Properties"]["RoleName"] == ref("AuditFunctionRole")
    (statement,) = policy_statements(policy["Properties"]["PolicyDocument"])
    assert (statement["Effect"], statement["Action"]) == ("Allow", "s3:GetObject")
    assert statement["Resource"] == {"Fn::Sub": "${AuditBucket.Arn}/audit/*"}


# Guards against SAM widening the role: a function with `Policies` (or no `Role`) gets SAM's
# managed policies, whose stream and log statements use "*" resources.
def test_function_uses_the_explicit_role_and_no_sam_policies(resources):
    p = props(resources, "AuditFunction")
    assert p["Role"] == getatt("AuditFunctionRole", "Arn")
    assert "Policies" not in p
    assume = policy_statements(props(resources, "AuditFunctionRole")["AssumeRolePolicyDocument"])
    assert [s["Principal"] for s in assume] == [{"Service": "lambda.amazonaws.com"}]


# Guards the key policy: no statement allows any principal ("*"), and each service principal
# is limited by a condition or to DescribeKey.
def test_key_policy_grants_no_wildcard_principal(resources):
    for s in policy_statements(props(resources, "AuditKey")["KeyPolicy"]):
        assert s["Effect"] == "Allow"
        principal = s["Principal"]
        assert principal != "*" and principal.get("AWS") != "*", s.get("Sid")
        if "Service" in principal:
            assert "Condition" in s or as_list(s["Action"]) == ["kms:DescribeKey"], s.get("Sid")


# --- alarms --------------------------------------------------------------------------------------


# Guards that falling behind, failing, and giving up on a batch each raise an alarm that
# reaches the (encrypted) topic the optional e-mail address subscribes to.
def test_alarms_cover_iterator_age_errors_and_the_failure_queue(template, resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    by_metric = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"] for a in alarms.values()}
    assert set(by_metric) == {
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/Lambda", "Errors"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    for (_, metric), a in by_metric.items():
        assert a["AlarmActions"] == [ref("AlarmTopic")], metric
    assert by_metric[("AWS/Lambda", "IteratorAge")]["Dimensions"] == [{"Name": "FunctionName", "Value": ref("AuditFunction")}]
    assert by_metric[("AWS/Lambda", "Errors")]["Dimensions"] == [{"Name": "FunctionName", "Value": ref("AuditFunction")}]
    assert by_metric[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]["Dimensions"] == [
        {"Name": "QueueName", "Value": getatt("FailureQueue", "QueueName")}
    ]
    assert props(resources, "AlarmTopic")["KmsMasterKeyId"] == ref("AuditKey")
    sub = resources["AlarmEmailSubscription"]
    assert sub["Condition"] == "HasAlarmEmail"
    assert sub["Properties"] == {"TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": ref("AlarmEmail")}
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]}


# --- query ----------------------------------------------------------------------------------------


def _split_top(text):
    """Splits `a:int,b:struct<c:int,d:int>` at the top-level commas."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _struct_fields(hive_type):
    m = re.fullmatch(r"struct<(.*)>", hive_type)
    assert m, hive_type
    return {part.split(":", 1)[0]: part.split(":", 1)[1] for part in _split_top(m.group(1))}


# Guards that Athena can find batch-mode objects with no crawler: the projection's location
# template is the layout of issue 3 (audit/table=<t>/dt=YYYY-MM-DD/hour=HH/) with valid ranges.
def test_athena_table_projects_the_batch_mode_layout(resources):
    table = props(resources, "AuditDocumentsTable")["TableInput"]
    p = table["Parameters"]
    assert p["projection.enabled"] == "true"
    assert p["storage.location.template"] == {
        "Fn::Sub": "s3://${AuditBucket}/audit/table=${!tbl}/dt=${!dt}/hour=${!hour}/"
    }
    assert [k["Name"] for k in table["PartitionKeys"]] == ["tbl", "dt", "hour"]
    assert p["projection.tbl.type"] == "enum"
    assert p["projection.tbl.values"] == {"Fn::Select": [1, {"Fn::Split": ["/", TABLE_ARN]}]}
    assert p["projection.dt.type"] == "date"
    assert p["projection.dt.format"] == "yyyy-MM-dd"
    assert p["projection.dt.range"].endswith(",NOW")
    assert (p["projection.dt.interval"], p["projection.dt.interval.unit"]) == ("1", "DAYS")
    assert p["projection.hour.type"] == "integer"
    assert p["projection.hour.range"] == "0,23"
    assert p["projection.hour.digits"] == "2"
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"


# Guards that the Athena columns are the audit document's fields (from the repo's JSON Schema),
# with nested objects as structs and typed DynamoDB values as JSON strings.
def test_athena_columns_match_the_audit_document_schema(resources):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    fields = {**defs["unreadable"]["properties"], **defs["document"]["properties"]}
    columns = {c["Name"]: c["Type"] for c in props(resources, "AuditDocumentsTable")["TableInput"]["StorageDescriptor"]["Columns"]}
    assert set(columns) == set(fields)
    for name in ["source", "user_identity", "error"]:
        assert set(_struct_fields(columns[name])) == {f.lower() for f in fields[name]["properties"]}, name
    m = re.fullmatch(r"array<(struct<.*>)>", columns["changes"])
    assert m, columns["changes"]
    change = _struct_fields(m.group(1))
    assert set(change) == set(defs["change"]["properties"])
    # Typed values (objects in DynamoDB JSON) are read as their JSON text: no digit is lost.
    for value_field in ["old", "new", "added", "removed"]:
        assert change[value_field] == "string"
    for typed in ["key", "old_image", "new_image", "raw"]:
        assert columns[typed] == "string", typed
    assert columns["source"].find("sequence_number:string") > 0, "sequence numbers are never parsed as numbers"


# Guards that Athena can read one item's record-mode documents with no crawler, and only its
# prefix: the item partition is injected (a query must name it) and the location template is
# the record layout (audit/table=<t>/item=<item key>/); the columns are the batch table's.
def test_athena_records_table_projects_the_record_mode_layout(resources):
    table = props(resources, "AuditRecordsTable")["TableInput"]
    p = table["Parameters"]
    assert p["projection.enabled"] == "true"
    assert p["storage.location.template"] == {
        "Fn::Sub": "s3://${AuditBucket}/audit/table=${!tbl}/item=${!item}/"
    }
    assert [k["Name"] for k in table["PartitionKeys"]] == ["tbl", "item"]
    assert p["projection.tbl.type"] == "enum"
    assert p["projection.tbl.values"] == {"Fn::Select": [1, {"Fn::Split": ["/", TABLE_ARN]}]}
    assert p["projection.item.type"] == "injected"
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert "Compressed" not in sd, "record-mode objects are plain JSON"
    batch = props(resources, "AuditDocumentsTable")["TableInput"]["StorageDescriptor"]["Columns"]
    assert sd["Columns"] == batch


# --- the demo table and outputs --------------------------------------------------------------------


# Guards the zero-argument first deploy: with no stream ARN the stack creates a table whose
# stream gives both images, billed per request, with PITR and encryption.
def test_demo_table_exists_only_without_a_stream_arn(template, resources):
    table = resources["DemoTable"]
    assert table["Condition"] == "CreateDemoTable"
    assert template["Conditions"]["CreateDemoTable"] == {"Fn::Equals": [ref("TableStreamArn"), ""]}
    assert template["Parameters"]["TableStreamArn"]["Default"] == ""
    p = table["Properties"]
    assert p["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["SSESpecification"]["SSEEnabled"] is True


# Guards the outputs the README and the CLI rely on.
def test_outputs_name_bucket_trail_function_queue_and_athena_table(template):
    outputs = template["Outputs"]
    assert outputs["AuditBucketName"]["Value"] == ref("AuditBucket")
    assert outputs["AuditTrailArn"]["Value"] == getatt("AuditTrail", "Arn")
    assert outputs["FunctionName"]["Value"] == ref("AuditFunction")
    assert outputs["FailureQueueUrl"]["Value"] == ref("FailureQueue")
    assert outputs["AthenaTableName"]["Value"] == {"Fn::Sub": "${AuditDatabase}.documents"}


# Guards the rule that a skipped checkov check is skipped in the template with a reason.
def test_every_checkov_skip_gives_a_reason(resources):
    skips = [
        (logical_id, skip)
        for logical_id, r in resources.items()
        for skip in r.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "no skips found: if none are needed any more, delete this test"
    for logical_id, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (logical_id, skip)
        assert len(skip.get("comment", "").split()) >= 5, (logical_id, skip["id"], "give a reason")


# --- the expressions that derive the table from the stream ARN --------------------------------

STREAM = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders.v2-eu/stream/2026-11-01T00:00:00.000"
DEMO_TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders-audit-DemoTable-1A2B3C"


def evaluate(expr, params, conditions):
    """Evaluates the few intrinsic functions the template uses to derive ARNs, names and
    conditions; plain values and mappings are evaluated member by member."""
    if isinstance(expr, (str, bool, int, float)):
        return expr
    if isinstance(expr, list):
        return [evaluate(e, params, conditions) for e in expr]
    if len(expr) != 1 or not next(iter(expr)).startswith(("Ref", "Fn::")):
        return {k: evaluate(v, params, conditions) for k, v in expr.items()}
    ((fn, arg),) = expr.items()
    if fn == "Ref":
        return params[arg]
    if fn == "Fn::If":
        name, when_true, when_false = arg
        return evaluate(when_true if conditions[name] else when_false, params, conditions)
    if fn == "Fn::Split":
        sep, text = arg
        return evaluate(text, params, conditions).split(sep)
    if fn == "Fn::Select":
        index, items = arg
        return evaluate(items, params, conditions)[index]
    if fn == "Fn::GetAtt":
        return params[".".join(arg)]
    if fn == "Fn::Sub":
        text, variables = arg if isinstance(arg, list) else (arg, {})
        values = {k: evaluate(v, params, conditions) for k, v in variables.items()}
        return re.sub(r"\$\{([^}!]+)\}", lambda m: values.get(m.group(1), params.get(m.group(1), m.group(0))), text)
    raise AssertionError(f"unexpected intrinsic {fn}")


# Guards the Select/Split expressions: from a stream ARN (or the demo table) they yield the
# table's ARN and name that the IAM grant, the trail selector and the Athena projection use.
@pytest.mark.parametrize(
    "demo, params, table_arn, table_name",
    [
        (False, {"TableStreamArn": STREAM}, STREAM.split("/stream/")[0], "Orders.v2-eu"),
        (
            True,
            {"TableStreamArn": "", "DemoTable.Arn": DEMO_TABLE_ARN, "DemoTable.StreamArn": DEMO_TABLE_ARN + "/stream/x"},
            DEMO_TABLE_ARN,
            "orders-audit-DemoTable-1A2B3C",
        ),
    ],
)
def test_table_arn_and_name_are_derived_from_the_stream_arn(resources, demo, params, table_arn, table_name):
    conditions = {"CreateDemoTable": demo, "RecordTableDataEventsOn": True}
    assert evaluate(TABLE_ARN, params, conditions) == table_arn
    _, conditional = _selectors(resources)
    (_, selector, _), = conditional
    assert evaluate(_field(selector, "resources.ARN")["Equals"], params, conditions) == [table_arn]
    (list_streams,) = [s for s in _role_statements(resources) if s["Action"] == "dynamodb:ListStreams"]
    assert evaluate(list_streams["Resource"], params, conditions) == table_arn + "/stream/*"
    glue = props(resources, "AuditDocumentsTable")["TableInput"]["Parameters"]
    assert evaluate(glue["projection.tbl.values"], params, conditions) == table_name


# Guards the TableStreamArn parameter's pattern: empty or a stream ARN; a table ARN (a common
# mistake) or any other text is refused before anything is created.
def test_table_stream_arn_parameter_accepts_only_stream_arns(template):
    pattern = template["Parameters"]["TableStreamArn"]["AllowedPattern"]
    for good in ["", STREAM, "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/abc/stream/2026-01-01T00:00:00.000"]:
        assert re.fullmatch(pattern, good), good
    for bad in [
        STREAM.split("/stream/")[0],
        "Orders",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/",
        "arn:aws:dynamodb:eu-west-1:12345:table/Orders/stream/2026-11-01T00:00:00.000",
        "arn:aws:kinesis:eu-west-1:123456789012:stream/Orders",
    ]:
        assert not re.fullmatch(pattern, bad), bad


# --- redaction ---------------------------------------------------------------------------------


def test_redaction_is_off_by_default_and_patterns_are_checked_at_deploy(template):
    """RedactPaths is empty by default; its AllowedPattern takes pointer lists and refuses the
    rest, so a malformed path fails the deploy (the function would refuse it at cold start)."""
    param = template["Parameters"]["RedactPaths"]
    assert param["Default"] == ""
    allowed = re.compile(param["AllowedPattern"])
    for good in ["", "/email", "/email,/card/number,/contacts/*/phone", "/a~1b/~0"]:
        assert allowed.fullmatch(good), good
    for bad in ["email", "/email,", "/a//b", "/a~2", "/email, /x"]:
        assert not allowed.fullmatch(bad), bad


def test_the_stack_creates_the_secret_only_when_redacting_without_one(template, resources):
    """The generated secret exists only under CreateRedactSecret, is encrypted with the audit
    key, retained, and never named in an output (only its ARN may be)."""
    secret = resources["RedactSecret"]
    assert secret["Condition"] == "CreateRedactSecret"
    assert template["Conditions"]["CreateRedactSecret"] == {
        "Fn::And": [{"Fn::Condition": "Redacting"}, {"Fn::Equals": [ref("RedactSecretArn"), ""]}]
    }
    assert secret["Properties"]["KmsKeyId"] == getatt("AuditKey", "Arn")
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert secret["DeletionPolicy"] == "Retain"
    outputs = json.dumps(template.get("Outputs", {}))
    assert "SecretString" not in outputs and "resolve:secretsmanager" not in outputs


def test_only_the_redaction_secret_is_readable_and_only_when_redacting(resources):
    """The function (and the auditor role) may read exactly the one secret keying the tokens,
    and only in a redacting deployment; its environment names the paths and that secret."""
    one_secret = {"Fn::If": ["CreateRedactSecret", ref("RedactSecret"), ref("RedactSecretArn")]}
    policy = resources["AuditFunctionRedactSecretPolicy"]
    read = {"Fn::If": ["CreateRedactSecret", ref("RedactSecret"), {"Fn::Join": ["", [ref("RedactSecretArn")]]}]}
    assert policy["Condition"] == "Redacting"
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
    assert statement["Resource"] == read
    env = props(resources, "AuditFunction")["Environment"]["Variables"]
    assert env["AUDIT_REDACT"] == ref("RedactPaths")
    assert env["AUDIT_REDACT_SECRET_ARN"] == {"Fn::If": ["Redacting", one_secret, ""]}
    # The auditor role reads the same secret, under the same condition; no one else does.
    auditor = resources["AuditorRedactSecretPolicy"]
    assert auditor["Condition"] == "Redacting"
    assert auditor["Properties"]["RoleName"] == ref("AuditorRole")
    (auditor_statement,) = auditor["Properties"]["PolicyDocument"]["Statement"]
    assert auditor_statement == statement
    granted = [
        s
        for r in resources.values()
        if r["Type"] in ("AWS::IAM::Role", "AWS::IAM::RolePolicy")
        for s in json.dumps(r).split('"Sid"')
        if "secretsmanager:" in s
    ]
    assert len(granted) == 2, granted


# Guards the who-changed-it join (issue 10): a Glue table over the trail's own log files,
# partitions projected by day from CloudTrail's AWSLogs/<account>/CloudTrail/<region>/ layout.
def test_cloudtrail_table_projects_the_trail_bucket_by_day(resources):
    table = props(resources, "CloudTrailTable")
    assert table["DatabaseName"] == ref("AuditDatabase")
    table = table["TableInput"]
    assert table["Name"] == "cloudtrail"
    p = table["Parameters"]
    assert p["projection.enabled"] == "true"
    assert (p["projection.timestamp.type"], p["projection.timestamp.format"]) == ("date", "yyyy/MM/dd")
    assert p["projection.timestamp.range"].endswith(",NOW")
    assert p["storage.location.template"] == {
        "Fn::Sub": "s3://${TrailBucket}/AWSLogs/${AWS::AccountId}/CloudTrail/${AWS::Region}/${!timestamp}"
    }
    assert [k["Name"] for k in table["PartitionKeys"]] == ["timestamp"]
    sd = table["StorageDescriptor"]
    assert sd["InputFormat"] == "com.amazon.emr.cloudtrail.CloudTrailInputFormat"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "com.amazon.emr.hive.serde.CloudTrailSerde"
    columns = {c["Name"] for c in sd["Columns"]}
    assert {"useridentity", "eventtime", "eventsource", "eventname", "sourceipaddress", "useragent",
            "errorcode", "requestparameters", "requestid", "eventid", "resources"} <= columns


# Guards that the auditor role can read what `history --trail-bucket` and verify read (both
# buckets, the key) and cannot write anything.
def test_auditor_role_reads_both_buckets_and_writes_nothing(template, resources):
    role = props(resources, "AuditorRole")
    statements = [s for p in role["Policies"] for s in policy_statements(p["PolicyDocument"])]
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert {"s3:ListBucket", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucketVersions",
            "s3:GetObjectRetention", "kms:Decrypt"} <= actions
    assert not [a for a in actions if re.search(r"Put|Delete|Create|Update|\*", a)], actions
    trail_reads = [s for s in statements if s["Sid"] == "ReadTrailLogFiles"]
    assert trail_reads[0]["Resource"] == {"Fn::Sub": "${TrailBucket.Arn}/AWSLogs/${AWS::AccountId}/*"}
    assert template["Outputs"]["AuditorRoleArn"]["Value"] == getatt("AuditorRole", "Arn")
    assert template["Outputs"]["CloudTrailTableName"]["Value"] == {"Fn::Sub": "${AuditDatabase}.cloudtrail"}


# Guards that DynamoDB data events (writes only) stay on by default: without them there is no
# caller to join.
def test_table_data_events_are_on_by_default(template):
    assert template["Parameters"]["RecordTableDataEvents"]["Default"] == "true"
