"""rollout.LifecyclePolicy: the builder, JSON, validation, preview, diff and in-use protection."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import rollout
from conftest import REPO
from rollout import ImageRecord, LifecyclePolicy

SEED_POLICY = (REPO / "examples" / "seed" / "lifecycle-policy.json").read_text()
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def seed_policy() -> LifecyclePolicy:
    return LifecyclePolicy.builder().keep_most_recent_tagged(5, ["latest"]).keep_most_recent_untagged(2).build()


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def repository() -> list[ImageRecord]:
    """Eight releases a day apart (newest last) and four untagged images."""
    tagged = [ImageRecord(digest(i), [f"latest-release-1.{i}.0"], NOW - timedelta(days=20 - i)) for i in range(8)]
    untagged = [ImageRecord(digest(100 + i), [], NOW - timedelta(days=10 - i)) for i in range(4)]
    return tagged + untagged


def test_the_builder_gives_the_seed_policy() -> None:
    policy = seed_policy()
    assert policy == LifecyclePolicy.from_json(SEED_POLICY)
    assert len(policy) == 2
    assert [r["rulePriority"] for r in policy.rules] == [1, 2]
    assert policy.rules[0]["selection"] == {
        "tagStatus": "tagged",
        "tagPrefixList": ["latest"],
        "countType": "imageCountMoreThan",
        "countNumber": 5,
    }
    assert policy.rules[0]["description"] == "Keep only the 5 most recent images tagged latest*, expire the others"


def test_equality_and_hash_ignore_rule_order_descriptions_and_tag_list_order() -> None:
    data = json.loads(SEED_POLICY)
    reordered = {"rules": list(reversed(data["rules"]))}
    reordered["rules"][0]["description"] = "something else"
    a, b = LifecyclePolicy.from_json(SEED_POLICY), LifecyclePolicy.from_dict(reordered)
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    different = LifecyclePolicy.builder().keep_most_recent_tagged(6, ["latest"]).keep_most_recent_untagged(2).build()
    assert different != a
    assert a != SEED_POLICY


def test_to_json_is_the_canonical_text_rollout_puts() -> None:
    policy = LifecyclePolicy.from_dict({"rules": list(reversed(json.loads(SEED_POLICY)["rules"]))})
    text = policy.to_json()
    assert text.startswith('{"rules":[{"rulePriority":1,"description":"Keep only five tagged images')
    assert " " not in text.replace("Keep only five tagged images, expire all others", "").replace(
        "Keep only two untagged image, expire all others", ""
    )
    assert json.loads(policy.to_json(indent=4)) == policy.to_dict() == json.loads(text)
    assert policy.to_json(indent=4).startswith('{\n    "rules": [\n        {\n            "rulePriority": 1,')
    assert str(policy) == text
    assert eval(repr(policy), {"LifecyclePolicy": LifecyclePolicy}) == policy


def test_every_builder_rule_produces_valid_ecr_json() -> None:
    policy = (
        LifecyclePolicy.builder()
        .keep_most_recent_tagged_matching(3, ["prod-*"])
        .described("production releases")
        .expire_tagged_older_than(30, ["feature-"])
        .expire_tagged_matching_older_than(60, ["pr-*-build"])
        .expire_untagged_older_than(1)
        .rule("custom", {"tagStatus": "tagged", "tagPrefixList": ["x"], "countType": "imageCountMoreThan", "countNumber": 1}, {"type": "expire"})
        .keep_most_recent(50)
        .build()
    )
    assert [r["rulePriority"] for r in policy.rules] == [1, 2, 3, 4, 5, 6]
    assert policy.rules[0]["description"] == "production releases"
    assert policy.rules[1]["selection"]["countType"] == "sinceImagePushed"
    assert policy.rules[1]["selection"]["countUnit"] == "days"
    assert policy.violations() == []
    archive = LifecyclePolicy.builder().archive_not_pulled_for(90).build()
    assert archive.rules[0]["action"] == {"type": "transition", "targetStorageClass": "archive"}
    older = LifecyclePolicy.builder().expire_older_than(365).build()
    assert older.rules[0]["selection"]["tagStatus"] == "any"


def test_a_builder_is_frozen_so_a_shared_prefix_can_branch() -> None:
    base = LifecyclePolicy.builder().keep_most_recent_tagged(5, ["latest"])
    one = base.build()
    two = base.keep_most_recent_untagged(2).build()
    assert (len(one), len(two)) == (1, 2)
    assert "keep_most_recent_tagged" not in repr(base) and "rulePriority" in repr(base)


def test_validate_raises_with_every_violation_listed() -> None:
    policy = (
        LifecyclePolicy.builder().keep_most_recent(3).keep_most_recent_tagged(0, []).build_unchecked()
    )
    with pytest.raises(rollout.InvalidInputError) as raised:
        policy.validate()
    error = raised.value
    assert isinstance(error, ValueError)
    message = str(error)
    assert message.startswith("invalid lifecycle policy: 3 violations: ")
    assert [(v.rule, v.rule_priority, v.field) for v in error.violations] == [
        (0, 1, "rulePriority"),
        (1, 2, "selection.tagPrefixList"),
        (1, 2, "selection.countNumber"),
    ]
    assert error.violations == policy.violations()
    for violation in error.violations:
        assert violation.message in message
    with pytest.raises(rollout.InvalidInputError, match="3 violations"):
        LifecyclePolicy.builder().keep_most_recent(3).keep_most_recent_tagged(0, []).build()
    seed_policy().validate()  # a valid policy: no exception
    assert rollout.InvalidInputError.violations == ()


def test_from_json_reports_every_shape_error_with_its_path() -> None:
    text = json.dumps({"rules": [{"rulePriority": "1", "selection": {"tagStatus": "tagged", "colour": 1}, "action": {}}]})
    with pytest.raises(rollout.InvalidInputError) as raised:
        LifecyclePolicy.from_json(text)
    fields = [v.field for v in raised.value.violations]
    assert "rulePriority" in fields and "selection.colour" in fields and "action.type" in fields


def test_from_json_without_validation_accepts_what_ecr_would_refuse() -> None:
    text = json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 0}, "action": {"type": "expire"}}]})
    with pytest.raises(rollout.InvalidInputError, match="countNumber: must be 1 or more"):
        LifecyclePolicy.from_json(text)
    policy = LifecyclePolicy.from_json(text, validate=False)
    assert len(policy.violations()) == 2


def test_malformed_json_names_the_line_and_column() -> None:
    with pytest.raises(rollout.InvalidInputError, match=r"not valid JSON \(line 2, column \d+\): EOF while parsing"):
        LifecyclePolicy.from_json('{"rules": [\n')


def test_builder_arguments_are_checked_by_name() -> None:
    with pytest.raises(rollout.InvalidInputError, match='invalid count "-1": use a whole number'):
        LifecyclePolicy.builder().keep_most_recent(-1)
    with pytest.raises(rollout.InvalidInputError, match='invalid days "4294967296"'):
        LifecyclePolicy.builder().expire_older_than(2**32)
    with pytest.raises(TypeError):
        # A text is an iterable of its letters to the type checker; the module refuses it.
        LifecyclePolicy.builder().keep_most_recent_tagged(5, "latest")
    with pytest.raises(rollout.InvalidInputError, match=r"invalid selection .*unknown field `colour`"):
        LifecyclePolicy.builder().rule("x", {"colour": "red"}, {"type": "expire"})
    with pytest.raises(rollout.InvalidInputError, match=r"invalid action .*unknown variant `delete`"):
        LifecyclePolicy.builder().rule(
            "x", {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, {"type": "delete"}
        )


def test_preview_expires_what_ecr_would_and_keeps_the_rest() -> None:
    result = seed_policy().preview(repository(), now=NOW)
    assert result.evaluated_at == NOW
    summary = result.summary
    assert (summary.images, summary.expiring, summary.transitioning, summary.kept) == (12, 5, 0, 7)
    assert [(r.rule_priority, r.matched, r.acted_on, r.blocked) for r in summary.rules] == [(1, 8, 3, 0), (2, 4, 2, 0)]
    expired = {v.digest for v in result.acted_on}
    assert expired == {digest(0), digest(1), digest(2), digest(100), digest(101)}
    newest = result.images[0]
    assert newest.outcome == "keep" and newest.rule_priority == 2
    assert newest.reason == {"kind": "within_count", "rank": 1, "count_number": 2}
    oldest = next(v for v in result.images if v.digest == digest(0))
    assert oldest.outcome == "expire"
    assert oldest.reason == {"kind": "count_exceeded", "rank": 8, "count_number": 5}
    assert oldest.pushed_at == NOW - timedelta(days=20)
    assert oldest.blocked_rules == []


def test_preview_takes_dicts_in_either_form_and_defaults_now_to_the_current_time() -> None:
    records = repository()
    as_dicts: list[dict[str, Any]] = [r.to_dict() for r in records]
    as_ecr = [{"imageDigest": r.digest, "imageTags": r.tags, "imagePushedAt": r.pushed_at} for r in records]
    expected = seed_policy().preview(records, now=NOW)
    assert seed_policy().preview(as_dicts, now=NOW) == expected
    assert seed_policy().preview(as_ecr, now=NOW) == expected
    before = datetime.now(timezone.utc)
    assert seed_policy().preview(records).evaluated_at >= before


def test_preview_to_dict_is_the_core_json() -> None:
    result = seed_policy().preview(repository(), now=NOW)
    data = result.to_dict()
    assert list(data) == ["evaluated_at", "summary", "images"]
    assert data["evaluated_at"] == "2024-06-01T00:00:00Z"
    assert data["images"][0]["pushed_at"] == "2024-05-25T00:00:00Z"
    assert "blocked_rules" not in data["images"][0], "the core leaves an empty list out"
    assert result.summary.to_dict() == data["summary"]
    assert json.loads(result.to_json()) == data


def test_preview_refuses_a_naive_now_by_name() -> None:
    with pytest.raises(rollout.InvalidInputError, match="invalid now"):
        seed_policy().preview(repository(), now=datetime(2024, 6, 1))


def test_diff_compares_the_current_policy_with_the_desired_one() -> None:
    desired = seed_policy()
    nothing = desired.diff(None)
    assert (nothing.current_exists, nothing.equal, nothing.same_effect) == (False, False, False)
    assert [r["rulePriority"] for r in nothing.added] == [1, 2]
    same = desired.diff(LifecyclePolicy.from_json(SEED_POLICY))
    assert (same.equal, same.same_effect) == (False, True), "only descriptions differ"
    assert {f.field for c in same.changed for f in c.fields} == {"description"}
    current = LifecyclePolicy.builder().keep_most_recent_tagged(3, ["latest"]).build()
    changed = desired.diff(current)
    assert not changed.same_effect
    assert [r["rulePriority"] for r in changed.added] == [2]
    count = next(f for f in changed.changed[0].fields if f.field == "selection.countNumber")
    assert (count.current, count.desired) == (3, 5)
    assert changed.changed[0].current["selection"]["countNumber"] == 3
    assert desired.diff(desired).equal


def test_protect_lists_in_use_images_the_policy_would_expire() -> None:
    in_use: list[str | rollout.ImageRef | dict[str, str]] = [
        "registry.example/app:latest-release-1.0.0",
        rollout.ImageRef(f"registry.example/app@{digest(1)}"),
        {"reference": "app:latest-release-1.7.0", "tag": "latest-release-1.7.0", "used_by": "deployment/web"},
    ]
    violations = seed_policy().protect(repository(), in_use, now=NOW)
    assert [(v.digest, v.matched_by, v.used_by) for v in violations] == [
        (digest(1), "digest", "given by the caller"),
        (digest(0), "tag", "given by the caller"),
    ]
    assert violations[0].outcome == "expire" and violations[0].rule_priority == 1
    with pytest.raises(rollout.InvalidInputError, match=r"invalid in_use\[0\] .*used_by"):
        seed_policy().protect(repository(), [{"reference": "app:1"}], now=NOW)
    with pytest.raises(rollout.InvalidInputError, match="invalid image reference"):
        seed_policy().protect(repository(), ["Not A Ref"], now=NOW)
