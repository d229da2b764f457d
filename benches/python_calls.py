"""The Python side of rollout-bench's comparison 6: times calls of the `rollout` module on request.

rollout-bench starts this script once and talks to it over stdin/stdout, one JSON object per line, so
that it can alternate batches of Python calls with batches of the same calls in Rust:

    {"op": "setup", ...}                      -> {"ok": true, "calls": [...], "missing": {...}}
    {"op": "time", "call": "derive_tag", "n": 200}  -> {"ok": true, "ns": [...]}
    {"op": "quit"}

Each call is timed on its own with time.perf_counter_ns(), as the Rust side times each call with
Instant. Nothing is printed but the replies.
"""

import json
import sys
import time
from datetime import datetime


def setup(rollout, req):
    calls = {}
    missing = {}
    seed_dir, template = req["seed_dir"], req["template"]
    calls["derive_tag"] = lambda: rollout.derive_tag(seed_dir, template=template)

    policy = rollout.LifecyclePolicy.from_json(req["policy_json"])
    records = [
        rollout.ImageRecord(i["digest"], i["tags"], datetime.fromisoformat(i["pushed_at"]))
        for i in req["images"]
    ]
    now = datetime.fromisoformat(req["now"])
    calls["preview"] = lambda: policy.preview(records, now=now)

    if req.get("kubeconfig"):
        if hasattr(rollout, "Client"):
            client = rollout.Client(kubeconfig=req["kubeconfig"])
            name = req["deployment"]
            calls["status"] = lambda: client.status(name)
        else:
            missing["status"] = "rollout.Client not available"
    return calls, missing


def main():
    import rollout

    calls = {}
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["op"] == "setup":
                calls, missing = setup(rollout, req)
                for name, fn in calls.items():
                    fn()  # fails here, not in the timed loop, if a call cannot work
                reply = {"ok": True, "calls": sorted(calls), "missing": missing}
            elif req["op"] == "time":
                fn = calls[req["call"]]
                samples = []
                clock = time.perf_counter_ns
                for _ in range(req["n"]):
                    t0 = clock()
                    fn()
                    samples.append(clock() - t0)
                reply = {"ok": True, "ns": samples}
            else:
                break
        except Exception as e:  # reported to rollout-bench, which says what was not measured
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
