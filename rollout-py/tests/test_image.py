"""rollout.ImageRef: validated image references."""

from __future__ import annotations

import pytest

import rollout
from rollout import ImageRef

ECR = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32


def test_an_ecr_reference_gives_account_region_repository_and_tag() -> None:
    image = ImageRef.parse(f"{ECR}/ms-account-management:latest-release-1.0.0")
    assert image.registry == ECR
    assert image.repository == "ms-account-management"
    assert image.tag == "latest-release-1.0.0"
    assert image.digest is None
    assert image.name == f"{ECR}/ms-account-management"
    assert image.is_ecr and not image.is_ecr_fips
    assert image.ecr_account == "123456789012"
    assert image.ecr_region == "ap-southeast-2"


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", None, "nginx", None, None),
        ("library/nginx:1.27", None, "library/nginx", "1.27", None),
        ("localhost:5000/team/app:v2", "localhost:5000", "team/app", "v2", None),
        (f"registry.example/app@{DIGEST}", "registry.example", "app", None, DIGEST),
        (f"registry.example:443/app:1.0@{DIGEST}", "registry.example:443", "app", "1.0", DIGEST),
    ],
)
def test_references_split_into_their_parts(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    image = ImageRef(text)
    assert (image.registry, image.repository, image.tag, image.digest) == (registry, repository, tag, digest)
    assert not image.is_ecr and image.ecr_account is None and image.ecr_region is None
    assert str(image) == text


def test_a_fips_endpoint_is_ecr() -> None:
    image = ImageRef("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app:1")
    assert image.is_ecr and image.is_ecr_fips and image.ecr_region == "us-east-1"


def test_with_tag_replaces_the_tag_and_drops_the_digest() -> None:
    image = ImageRef(f"{ECR}/app:1.0.0@{DIGEST}")
    retagged = image.with_tag("1.1.0")
    assert str(retagged) == f"{ECR}/app:1.1.0"
    assert str(image) == f"{ECR}/app:1.0.0@{DIGEST}", "the original is unchanged"
    assert str(retagged.with_digest(DIGEST)) == f"{ECR}/app:1.1.0@{DIGEST}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cannot be empty"),
        ("App:1.0", "uppercase letter 'A'"),
        ("app:feature/x", "invalid image reference"),
        ("app:1.0 ", "no whitespace"),
        ("app@sha256:xyz", "invalid image reference"),
        (f"{ECR}/-bad:1", "invalid image reference"),
    ],
)
def test_a_bad_reference_is_invalid_input_naming_the_value(text: str, message: str) -> None:
    with pytest.raises(rollout.InvalidInputError, match=message) as raised:
        ImageRef.parse(text)
    assert isinstance(raised.value, ValueError)
    assert f'"{text}"' in str(raised.value)


def test_with_tag_rejects_an_invalid_tag_by_value() -> None:
    with pytest.raises(rollout.InvalidInputError, match=r'invalid image tag "feature/x"'):
        ImageRef("app:1").with_tag("feature/x")
    with pytest.raises(rollout.InvalidInputError, match=r'invalid digest "sha256:12"'):
        ImageRef("app:1").with_digest("sha256:12")


def test_references_compare_and_hash_by_value() -> None:
    a, b = ImageRef("app:1"), ImageRef.parse("app:1")
    assert a == b and hash(a) == hash(b)
    assert a != ImageRef("app:2")
    assert a != "app:1"
    assert len({a, b, ImageRef("app:2")}) == 2


def test_a_reference_is_frozen_and_printable() -> None:
    image = ImageRef("app:1")
    with pytest.raises(AttributeError):
        image.tag = "2"  # type: ignore[misc]
    assert repr(image) == 'ImageRef("app:1")'
    assert eval(repr(image), {"ImageRef": ImageRef}) == image


def test_parse_wants_a_string() -> None:
    with pytest.raises(TypeError):
        ImageRef.parse(42)  # type: ignore[arg-type]
