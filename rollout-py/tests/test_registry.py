"""rollout.ImageRecord and rollout.previous_tag: the pure previous-tag selection."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

import rollout
from rollout import ImageRecord

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def releases() -> list[ImageRecord]:
    """Three releases a week apart, the newest also tagged latest, and one untagged image."""
    return [
        ImageRecord(digest(1), ["latest-release-1.0.0"], T0),
        ImageRecord(digest(2), ["latest-release-1.1.0"], T0 + timedelta(days=7)),
        ImageRecord(digest(3), ["latest", "latest-release-1.2.0"], T0 + timedelta(days=14)),
        ImageRecord(digest(4), [], T0 + timedelta(days=15)),
    ]


def test_an_image_record_keeps_its_fields_and_round_trips_through_to_dict() -> None:
    record = ImageRecord(
        digest(1),
        ("1.0.0", "latest"),
        T0,
        size_bytes=1234,
        last_pulled_at=T0 + timedelta(days=1),
        media_type="application/vnd.oci.image.manifest.v1+json",
        storage_class="archive",
        archived_at=T0 + timedelta(days=2),
    )
    assert record.tags == ["1.0.0", "latest"]
    assert record.pushed_at == T0 and record.pushed_at.tzinfo is not None
    assert record.storage_class == "archive"
    data = record.to_dict()
    assert data["pushed_at"] == "2024-05-01T10:00:00Z"
    assert ImageRecord.from_dict(data) == record
    assert ImageRecord(digest(1), [], T0).storage_class == "standard"


def test_an_image_record_accepts_ecr_describe_images_details() -> None:
    details = {
        "registryId": "123456789012",
        "repositoryName": "app",
        "imageDigest": digest(9),
        "imageTags": ["1.0.0"],
        "imageSizeInBytes": 42,
        "imagePushedAt": T0.astimezone(timezone(timedelta(hours=10))),
        "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "imageStatus": "ARCHIVED",
    }
    record = ImageRecord.from_dict(details)
    assert (record.digest, record.tags, record.pushed_at, record.size_bytes) == (digest(9), ["1.0.0"], T0, 42)
    assert record.storage_class == "archive"


def test_an_image_record_refuses_naive_times_and_unknown_storage_classes() -> None:
    with pytest.raises(rollout.InvalidInputError, match="invalid pushed_at .*naive"):
        ImageRecord(digest(1), [], datetime(2024, 5, 1))
    with pytest.raises(rollout.InvalidInputError, match='invalid storage_class "glacier": allowed: standard, archive'):
        ImageRecord(digest(1), [], T0, storage_class="glacier")  # type: ignore[arg-type]
    with pytest.raises(rollout.InvalidInputError, match=r"invalid data .*missing field `pushed_at`"):
        ImageRecord.from_dict({"digest": digest(1)})


def test_pushed_picks_the_second_newest_release_and_skips_floating_and_untagged_images() -> None:
    chosen = rollout.previous_tag(releases())
    assert chosen.tag == "latest-release-1.1.0"
    assert chosen.digest == digest(2)
    assert chosen.pushed_at == T0 + timedelta(days=7)
    assert chosen.strategy == {"name": "pushed"}
    assert chosen.considered == 3
    assert [(s.digest, s.reason) for s in chosen.skipped] == [(digest(4), "untagged")]


def test_images_may_be_dicts_in_the_core_form_or_ecr_form() -> None:
    as_core = [r.to_dict() for r in releases()]
    as_ecr = [
        {"imageDigest": r.digest, "imageTags": r.tags, "imagePushedAt": r.pushed_at} for r in releases()
    ]
    expected = rollout.previous_tag(releases())
    assert rollout.previous_tag(as_core) == expected
    assert rollout.previous_tag(as_ecr) == expected
    assert rollout.previous_tag(iter(releases())) == expected


def test_before_finds_the_release_pushed_before_a_tag() -> None:
    chosen = rollout.previous_tag(releases(), "before", before="latest-release-1.1.0")
    assert chosen.tag == "latest-release-1.0.0"
    assert chosen.strategy == {"name": "before", "tag": "latest-release-1.1.0"}


def test_semver_picks_the_highest_version_below_the_highest_or_below_before() -> None:
    chosen = rollout.previous_tag(releases(), "semver")
    assert (chosen.tag, chosen.version) == ("latest-release-1.1.0", "1.1.0")
    assert rollout.previous_tag(releases(), "semver", before="1.1.0").version == "1.0.0"
    custom = rollout.previous_tag(releases(), "semver", pattern=r"release-(\d+\.\d+\.\d+)$")
    assert custom.version == "1.1.0"


def test_cli_compatible_copies_the_aws_cli_query_including_floating_tags() -> None:
    chosen = rollout.previous_tag(releases(), "cli-compatible")
    assert chosen.tag == "latest"
    assert chosen.digest == digest(3)


def test_tag_prefix_pattern_and_floating_rules_filter_the_eligible_tags() -> None:
    images = releases() + [ImageRecord(digest(5), ["hotfix-0.9.1"], T0 + timedelta(days=20))]
    assert rollout.previous_tag(images).tag == "latest-release-1.2.0"
    assert rollout.previous_tag(images, tag_prefix="latest-release-").tag == "latest-release-1.1.0"
    assert rollout.previous_tag(images, tag_pattern=r"^latest-release-1\.[01]\.").tag == "latest-release-1.0.0"
    floating = rollout.previous_tag(
        [ImageRecord(digest(1), ["stable"], T0), ImageRecord(digest(2), ["1.0"], T0 + timedelta(days=1))],
        include_floating=True,
    )
    assert floating.tag == "stable"
    assert rollout.previous_tag(releases(), floating_tags=["latest-release-1.1.0"]).tag == "latest-release-1.0.0"


def test_too_few_images_is_not_found() -> None:
    with pytest.raises(rollout.NotFoundError, match="no previous image by push time: 1 of 1 images qualify") as raised:
        rollout.previous_tag(releases()[:1])
    assert isinstance(raised.value, LookupError)


def test_before_a_tag_no_image_carries_is_not_found() -> None:
    with pytest.raises(rollout.NotFoundError, match='no image carries tag "9.9.9"'):
        rollout.previous_tag(releases(), "before", before="9.9.9")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "second-newest"}, 'invalid strategy "second-newest": allowed: pushed, before, semver'),
        ({"strategy": "before"}, "invalid before .*needs the tag of the current release"),
        ({"strategy": "pushed", "before": "1.0"}, 'invalid before "1.0": the pushed strategy takes no'),
        ({"strategy": "pushed", "pattern": "(x)"}, 'invalid pattern "\\(x\\)": pattern extracts versions'),
        ({"strategy": "semver", "pattern": "x"}, 'invalid pattern "x" for pattern: needs exactly one capture group'),
        ({"strategy": "semver", "before": "one"}, 'invalid before "one": expected a semantic version'),
        ({"tag_pattern": "("}, 'invalid pattern "\\(" for tag_pattern: not a valid regular expression'),
        ({"strategy": "cli-compatible", "tag_prefix": "v"}, 'invalid tag_prefix "v": the cli-compatible strategy'),
    ],
)
def test_bad_arguments_are_invalid_input_naming_the_argument(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(rollout.InvalidInputError, match=message):
        rollout.previous_tag(releases(), **kwargs)  # type: ignore[arg-type]


def test_bad_images_name_their_index() -> None:
    images: list[object] = [r.to_dict() for r in releases()]
    images[2] = {"digest": digest(3), "tags": [], "pushed_at": "yesterday"}
    with pytest.raises(rollout.InvalidInputError, match=r"invalid images\[2\]"):
        rollout.previous_tag(images)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"images\[0\] must be an ImageRecord or a dict, not str"):
        rollout.previous_tag(["sha256:aa"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="images must be a list"):
        rollout.previous_tag("sha256:aa")  # type: ignore[arg-type]


def test_the_answer_serialises_as_the_core_does() -> None:
    chosen = rollout.previous_tag(releases(), "semver")
    data = chosen.to_dict()
    assert data == json.loads(chosen.to_json())
    assert data["pushed_at"] == "2024-05-08T10:00:00Z"
    assert data["strategy"] == {"name": "semver"}
    assert list(data) == ["strategy", "tag", "digest", "pushed_at", "image_tags", "version", "considered", "skipped"]
    assert data["skipped"] == [{"digest": digest(4), "reason": "untagged"}]
