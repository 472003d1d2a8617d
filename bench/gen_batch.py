#!/usr/bin/env python3
"""A deterministic Lambda DynamoDB Streams event of realistic order items, for the benchmark.

usage: gen_batch.py N_RECORDS OUT.json [--seed S]

Mix: 20% INSERT, 70% MODIFY (a few attributes change: status, a nested address field, a
string-set add, a list append, an attribute swapped for another), 10% REMOVE. Items are about
600 bytes of DynamoDB JSON per image, with nested maps, a list of maps, a string set, numbers
(some with 38 significant digits) and a binary attribute. 4,800 records come to about 6 MB,
the Lambda payload ceiling for one invocation.
"""
import base64
import json
import random
import sys

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000"


def item(rng, i):
    lines = [{"M": {"sku": {"S": f"SKU-{rng.randint(1000, 9999)}"},
                    "qty": {"N": str(rng.randint(1, 5))},
                    "price": {"N": f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}"}}}
             for _ in range(rng.randint(1, 3))]
    return {
        "pk": {"S": f"ORDER#{i:08d}"}, "sk": {"S": "META"},
        "status": {"S": rng.choice(["PENDING", "PAID", "SHIPPED"])},
        "customer": {"M": {"id": {"S": f"C{rng.randint(1, 99999)}"}, "name": {"S": "Yamada Taro"},
                           "address": {"M": {"city": {"S": rng.choice(["Osaka", "Kyoto", "Tokyo"])},
                                             "zip": {"S": f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"}}}}},
        "lines": {"L": lines},
        "tags": {"SS": rng.sample(["gift", "express", "fragile", "vip", "promo"], rng.randint(1, 3))},
        "total": {"N": f"{rng.randint(1, 2000)}.{rng.randint(0, 99):02d}"},
        "ledger": {"N": "".join(rng.choice("0123456789") for _ in range(19)) + "." + "".join(rng.choice("0123456789") for _ in range(19))},
        "version": {"N": str(rng.randint(1, 50))},
        "paid": {"BOOL": rng.random() < 0.5},
        "sig": {"B": base64.b64encode(bytes(rng.randrange(256) for _ in range(12))).decode()},
    }


def modify(rng, old):
    new = json.loads(json.dumps(old))
    new["version"] = {"N": str(int(old["version"]["N"]) + 1)}
    r = rng.random()
    if r < 0.3:
        new["status"] = {"S": "SHIPPED"}
    elif r < 0.5:
        new["customer"]["M"]["address"]["M"]["city"] = {"S": "Nagoya"}
    elif r < 0.7:
        new["tags"] = {"SS": sorted(set(old["tags"]["SS"]) | {"audited"})}
    elif r < 0.85:
        new["lines"]["L"].append({"M": {"sku": {"S": "SKU-0001"}, "qty": {"N": "1"}, "price": {"N": "9.99"}}})
    else:
        del new["paid"]
        new["note"] = {"S": "customer called"}
    return new


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 7
    rng = random.Random(seed)
    records = []
    for i in range(n):
        r = rng.random()
        old = item(rng, i)
        d = {"ApproximateCreationDateTime": 1764210700 + i // 100, "Keys": {"pk": old["pk"], "sk": old["sk"]},
             "SequenceNumber": str(100000000000000000000 + i), "StreamViewType": "NEW_AND_OLD_IMAGES"}
        if r < 0.2:
            name, d["NewImage"] = "INSERT", old
        elif r < 0.9:
            name, d["OldImage"], d["NewImage"] = "MODIFY", old, modify(rng, old)
        else:
            name, d["OldImage"] = "REMOVE", old
        d["SizeBytes"] = len(json.dumps(d.get("NewImage") or d.get("OldImage"))) // 2
        records.append({"eventID": f"{i:032x}", "eventName": name, "eventVersion": "1.1",
                        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "dynamodb": d,
                        "eventSourceARN": ARN})
    with open(out, "w") as f:
        json.dump({"Records": records}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
