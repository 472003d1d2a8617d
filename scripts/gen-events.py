#!/usr/bin/env python3
"""Writes the sample Lambda DynamoDB Streams events under events/.

The events are committed; this script only exists so they can be regenerated
reproducibly (eventIDs and sequence numbers are derived, not random, and every
SequenceNumber is unique across all files). Run it from the repository root:

    python3 scripts/gen-events.py

It uses only the Python standard library.
"""

import base64
import hashlib
import json
import os

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
TABLE = "Orders"
STREAM_ARN = (
    f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}/stream/2026-11-01T00:00:00.000"
)
# 2026-11-27T02:31:40Z: whole seconds, as Lambda delivers them.
T0 = 1795746700

# One block of sequence numbers per file, so numbers never repeat across files.
# Real shard sequence numbers are decimal strings of 21 digits or more that grow
# within a shard but are not dense.
FILE_BLOCK = {
    "insert.json": 1,
    "modify.json": 2,
    "remove.json": 3,
    "ttl-expiry.json": 4,
    "keys-only.json": 5,
    "mixed-batch.json": 6,
    "item-key-edge.json": 7,
}


def sequence_number(file_name, index):
    base = 600000000000000000000  # 21 digits
    return str(base + FILE_BLOCK[file_name] * 10**12 + 3318213938 + index * 1_000_017)


def event_id(file_name, index):
    return hashlib.md5(f"ddb-audit sample {file_name} {index}".encode()).hexdigest()


def S(v):
    return {"S": v}


def N(v):
    return {"N": v}


def B(raw):
    return {"B": base64.b64encode(raw).decode()}


def M(d):
    return {"M": d}


def L(*items):
    return {"L": list(items)}


def value_size(v):
    """Approximate DynamoDB item size rules (names + values), used for SizeBytes."""
    (tag, x), = v.items()
    if tag == "S":
        return len(x.encode())
    if tag == "N":
        digits = len(x.replace("-", "").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if tag == "B":
        return len(base64.b64decode(x))
    if tag in ("BOOL", "NULL"):
        return 1
    if tag == "SS":
        return sum(len(e.encode()) for e in x)
    if tag == "NS":
        return sum(value_size({"N": e}) for e in x)
    if tag == "BS":
        return sum(len(base64.b64decode(e)) for e in x)
    if tag == "L":
        return 3 + sum(1 + value_size(e) for e in x)
    if tag == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in x.items())
    raise ValueError(tag)


def item_size(item):
    return sum(len(k.encode()) + value_size(v) for k, v in item.items())


def record(file_name, index, name, keys, new=None, old=None, view="NEW_AND_OLD_IMAGES",
           ttl=False, offset_s=0, size_bytes=None):
    dynamodb = {"ApproximateCreationDateTime": T0 + FILE_BLOCK[file_name] * 3600 + offset_s,
                "Keys": keys}
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    if size_bytes is None:
        size_bytes = item_size(keys) + (item_size(new) if new else 0) + (item_size(old) if old else 0)
    dynamodb["SequenceNumber"] = sequence_number(file_name, index)
    dynamodb["SizeBytes"] = size_bytes
    dynamodb["StreamViewType"] = view
    rec = {
        "eventID": event_id(file_name, index),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
    }
    if ttl:
        rec["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    rec["eventSourceARN"] = STREAM_ARN
    return rec


def keys_of(item):
    return {"pk": item["pk"], "sk": item["sk"]}


def order_1001():
    return {
        "pk": S("ORDER#1001"),
        "sk": S("META"),
        "status": S("PENDING"),
        "createdAt": S("2026-11-27T02:31:39.512Z"),
        "customer": M({
            "id": S("CUST#42"),
            "name": S("Sato Hanako"),
            "email": S("hanako.sato@example.jp"),
            "address": M({
                "city": S("Osaka"),
                "zip": S("530-0001"),
                "line1": S("1-1 Umeda, Kita-ku"),
                "geo": M({"lat": N("34.7024854"), "lon": N("135.4959506")}),
            }),
        }),
        "lines": L(
            M({"sku": S("SKU-TEA-001"), "qty": N("2"), "price": N("1200"),
               "options": M({"giftWrap": {"BOOL": False}})}),
            M({"sku": S("SKU-CUP-017"), "qty": N("1"), "price": N("3450.5"),
               "options": M({"giftWrap": {"BOOL": True}, "message": S("Omedetou!")})}),
        ),
        "tags": {"SS": ["gift", "priority", "web"]},
        "couponCodes": {"NS": ["10", "250", "3.5"]},
        # 38 significant digits: the most DynamoDB stores; must never pass through a float.
        "total": N("12345678901234567890.123456789012345678"),
        "exchangeRate": N("0.00000000000000000000000000000000000012345"),
        "signature": B(hashlib.sha256(b"ORDER#1001 signed by checkout").digest()),
        "attachments": {"BS": [base64.b64encode(b"\x00\x01receipt").decode(),
                               base64.b64encode(b"\xff\xfeinvoice").decode()]},
        "giftOrder": {"BOOL": True},
        "coupon": {"NULL": True},
        "priority": N("1"),
        "version": N("1"),
    }


def order_1001_modified():
    new = json.loads(json.dumps(order_1001()))
    new["status"] = S("SHIPPED")
    # nested map key
    new["customer"]["M"]["address"]["M"]["city"] = S("Kyoto")
    # a list element's nested field
    new["lines"]["L"][0]["M"]["qty"] = N("3")
    # list append
    new["lines"]["L"].append(M({"sku": S("SKU-SPOON-003"), "qty": N("4"), "price": N("250"),
                                "options": M({"giftWrap": {"BOOL": False}})}))
    # string set: add "express", remove "gift"
    new["tags"] = {"SS": ["express", "priority", "web"]}
    # number change, still 38 significant digits
    new["total"] = N("12345678901234567890.123456789012346678")
    new["version"] = N("2")
    # attribute removed
    del new["coupon"]
    # attribute added
    new["shippedAt"] = S("2026-11-27T04:02:11.007Z")
    # type change: N -> S
    new["priority"] = S("HIGH")
    return new


def write(name, records):
    path = os.path.join("events", name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"Records": records}, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main():
    os.makedirs("events", exist_ok=True)

    item = order_1001()
    write("insert.json", [record("insert.json", 0, "INSERT", keys_of(item), new=item)])

    old, new = order_1001(), order_1001_modified()
    write("modify.json", [record("modify.json", 0, "MODIFY", keys_of(new), new=new, old=old)])

    write("remove.json", [record("remove.json", 0, "REMOVE", keys_of(new), old=new)])

    ttl_item = {
        "pk": S("CART#7f3a9c"),
        "sk": S("SESSION"),
        "customerId": S("CUST#42"),
        "items": L(M({"sku": S("SKU-TEA-001"), "qty": N("1")})),
        "expiresAt": N(str(T0 + 4 * 3600 - 120)),
    }
    write("ttl-expiry.json", [record("ttl-expiry.json", 0, "REMOVE", keys_of(ttl_item),
                                     old=ttl_item, ttl=True)])

    write("keys-only.json", [
        record("keys-only.json", 0, "INSERT", {"pk": S("ORDER#1002"), "sk": S("META")},
               view="KEYS_ONLY"),
        record("keys-only.json", 1, "MODIFY", {"pk": S("ORDER#1002"), "sk": S("META")},
               view="KEYS_ONLY", offset_s=5),
        record("keys-only.json", 2, "REMOVE", {"pk": S("ORDER#1002"), "sk": S("META")},
               view="KEYS_ONLY", offset_s=9),
    ])

    a1 = {"pk": S("ORDER#2001"), "sk": S("META"), "status": S("PENDING"),
          "total": N("4800"), "lines": L(M({"sku": S("SKU-TEA-001"), "qty": N("4")})),
          "tags": {"SS": ["web"]}}
    a2 = json.loads(json.dumps(a1))
    a2["status"] = S("PAID")
    a2["tags"] = {"SS": ["paid", "web"]}
    b1 = {"pk": S("ORDER#2002"), "sk": S("META"), "status": S("PENDING"),
          "total": N("199.99"), "customer": M({"id": S("CUST#7"), "tier": S("gold")})}
    b2 = json.loads(json.dumps(b1))
    b2["customer"]["M"]["tier"] = S("platinum")
    b2["note"] = S("upgraded during checkout")
    c1 = {"pk": S("ORDER#2003"), "sk": S("META"), "status": S("CANCELLED"),
          "total": N("0")}
    bad_old = {"pk": S("ORDER#2004"), "sk": S("LINE#1"), "qty": N("1")}
    # "X" is no DynamoDB type tag: this record cannot be read, the others can.
    bad_new = {"pk": S("ORDER#2004"), "sk": S("LINE#1"), "qty": {"X": "1"}}
    f = "mixed-batch.json"
    write(f, [
        record(f, 0, "INSERT", keys_of(a1), new=a1),
        record(f, 1, "INSERT", keys_of(b1), new=b1, offset_s=1),
        record(f, 2, "MODIFY", keys_of(a2), new=a2, old=a1, offset_s=2),
        record(f, 3, "MODIFY", keys_of(bad_old), new=bad_new, old=bad_old, offset_s=2,
               size_bytes=61),
        record(f, 4, "MODIFY", keys_of(b2), new=b2, old=b1, offset_s=3),
        record(f, 5, "REMOVE", keys_of(c1), old=c1, offset_s=4),
    ])

    f = "item-key-edge.json"
    slash = {"pk": S("ORDER#1001/2026/returns"), "sk": S("META"), "status": S("OPEN")}
    slash2 = dict(slash, status=S("CLOSED"))
    percent = {"pk": S("ORDER#100% off spring sale"), "sk": S("LINE#0001 / gift wrap"),
               "qty": N("1")}
    injection = {"pk": S("ORDER#7,sk=FAKE"), "sk": S("a=b&c+d~e?f#g"), "qty": N("2")}
    unicode_ = {"pk": S("注文#日本語"), "sk": S("📦 SHIPMENT#1"), "carrier": S("ヤマト運輸")}
    binary = {"pk": B(b"\x00\xffORDER\x2f\x25binary\x00"), "sk": S("META"),
              "status": S("PENDING")}
    # The largest key DynamoDB accepts: a 2048-byte partition key (multi-byte
    # characters included, so a byte-wise cut would split one) and a 1024-byte sort key.
    long_pk = "ORDER#" + "注" * 680 + "ab"
    assert len(long_pk.encode()) == 2048
    long_sk = "LINE#" + "".join(str(i % 10) for i in range(1024 - 5))
    assert len(long_sk.encode()) == 1024
    longest = {"pk": S(long_pk), "sk": S(long_sk), "qty": N("1")}
    write(f, [
        record(f, 0, "INSERT", keys_of(slash), new=slash),
        record(f, 1, "INSERT", keys_of(percent), new=percent, offset_s=1),
        record(f, 2, "INSERT", keys_of(injection), new=injection, offset_s=1),
        record(f, 3, "INSERT", keys_of(unicode_), new=unicode_, offset_s=2),
        record(f, 4, "INSERT", keys_of(binary), new=binary, offset_s=2),
        record(f, 5, "INSERT", keys_of(longest), new=longest, offset_s=3),
        record(f, 6, "MODIFY", keys_of(slash2), new=slash2, old=slash, offset_s=4),
    ])

    # Self-check: sequence numbers and eventIDs are unique across every file.
    seqs, ids = set(), set()
    for name in FILE_BLOCK:
        with open(os.path.join("events", name), encoding="utf-8") as fh:
            recs = json.load(fh)["Records"]
        nums = [int(r["dynamodb"]["SequenceNumber"]) for r in recs]
        assert nums == sorted(nums) and len(set(nums)) == len(nums), name
        for r in recs:
            assert r["dynamodb"]["SequenceNumber"] not in seqs
            assert r["eventID"] not in ids
            seqs.add(r["dynamodb"]["SequenceNumber"])
            ids.add(r["eventID"])


if __name__ == "__main__":
    main()
