"""rollout.derive_tag: the Python face of `rollout tag`."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import rollout
from conftest import REPO

SEED = "examples/seed"


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with the repository as the working directory, so relative paths read as the CLI reads them."""
    monkeypatch.chdir(REPO)


def run_cli(cli: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cli), *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_the_seed_pom_gives_latest_release_1_0_0(in_repo: None) -> None:
    derived = rollout.derive_tag(SEED, template="latest-release-{version}")
    assert derived.tag == "latest-release-1.0.0"
    assert str(derived) == "latest-release-1.0.0"
    assert derived.version.source == "pom"
    assert derived.version.version == "1.0.0"
    assert derived.version.file == "examples/seed/pom.xml"
    assert derived.version.git is None
    assert derived.template == "latest-release-{version}"
    assert derived.sanitised is False
    assert derived.warnings == []


def test_to_dict_equals_the_cli_json_for_the_same_project(in_repo: None, cli: Path) -> None:
    answer = run_cli(cli, "tag", SEED, "-t", "latest-release-{version}", "-o", "json")
    assert answer.returncode == 0, answer.stderr
    derived = rollout.derive_tag(SEED, template="latest-release-{version}")
    assert derived.to_dict() == json.loads(answer.stdout)
    # Same text too: the CLI pretty-prints the same serde output with two spaces.
    assert derived.to_json(indent=2) == answer.stdout.rstrip("\n")
    assert json.loads(derived.to_json()) == json.loads(answer.stdout)


def test_a_sanitised_tag_matches_the_cli_with_its_warnings(in_repo: None, cli: Path, tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("1.2.0+build/7\n")
    answer = run_cli(cli, "tag", str(tmp_path), "-t", "release/{version}", "-o", "json")
    assert answer.returncode == 0, answer.stderr
    derived = rollout.derive_tag(tmp_path, template="release/{version}")
    assert derived.to_dict() == json.loads(answer.stdout)
    assert derived.tag == "release-1.2.0-build-7"
    assert derived.sanitised is True
    assert any("sanitised" in w for w in derived.warnings)


def test_each_version_source_is_read(tmp_path: Path) -> None:
    files = {
        "cargo": ("Cargo.toml", '[package]\nname = "x"\nversion = "0.3.1"\n'),
        "npm": ("package.json", '{"name": "x", "version": "2.0.0-rc.1"}'),
        "pyproject": ("pyproject.toml", '[project]\nname = "x"\nversion = "4.5"\n'),
        "version-file": ("VERSION", "7.0.0\n"),
    }
    for source, (name, text) in files.items():
        project = tmp_path / source
        project.mkdir()
        (project / name).write_text(text)
        derived = rollout.derive_tag(project)
        assert derived.version.source == source
        assert rollout.derive_tag(project, source=source) == derived


def test_maven_overrides_win_over_the_pom(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text(
        "<project><modelVersion>4.0.0</modelVersion><version>${revision}</version>"
        "<properties><revision>1.0.0</revision></properties></project>"
    )
    assert rollout.derive_tag(tmp_path).tag == "1.0.0"
    assert rollout.derive_tag(tmp_path, overrides={"revision": "2.0.0"}).tag == "2.0.0"


def test_template_parts_branch_and_date_fill_the_tag(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("1.2.3-rc.1\n")
    now = datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    derived = rollout.derive_tag(
        tmp_path, template="{major}.{minor}-{prerelease}-{branch}-{date}", branch="feature/x", now=now
    )
    # The date is the UTC date of `now`: 23:30 at UTC-5 is already the 2nd in UTC.
    assert derived.tag == "1.2-rc.1-feature-x-20240502"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit of a VERSION file, on branch main."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "test@example.com")
    git(tmp_path, "config", "user.name", "test")
    git(tmp_path, "config", "commit.gpgsign", "false")
    (tmp_path / "VERSION").write_text("1.0.0\n")
    git(tmp_path, "add", "VERSION")
    git(tmp_path, "commit", "-q", "-m", "v1")
    return tmp_path


def test_commit_and_branch_placeholders_come_from_git(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD")
    derived = rollout.derive_tag(repo, template="{version}-{branch}-{short_sha}")
    assert derived.tag == f"1.0.0-main-{sha[:7]}"
    assert derived.version.git is not None
    assert derived.version.git.sha == sha
    assert derived.version.git.branch == "main"
    assert derived.version.git.dirty is False


def test_a_detached_head_takes_the_branch_from_ci_variables_like_the_cli(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(repo, "checkout", "-q", "--detach")
    monkeypatch.setenv("GITHUB_HEAD_REF", "feature/login")
    assert rollout.derive_tag(repo, template="{branch}-{version}").tag == "feature-login-1.0.0"
    monkeypatch.delenv("GITHUB_HEAD_REF")
    for name in ("GITHUB_REF_NAME", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH", "BITBUCKET_BRANCH",
                 "BUILDKITE_BRANCH", "CIRCLE_BRANCH", "CODEBUILD_WEBHOOK_HEAD_REF", "BRANCH_NAME", "GIT_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(rollout.InvalidInputError, match=r"\{branch\} has no value: HEAD is detached"):
        rollout.derive_tag(repo, template="{branch}-{version}")


def test_a_directory_outside_git_cannot_fill_the_commit(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("1.0.0\n")
    with pytest.raises(rollout.InvalidInputError, match=r"^git "):
        rollout.derive_tag(tmp_path, template="{version}-{sha}")


def test_strict_refuses_a_tag_that_needs_sanitising(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("1.0.0\n")
    with pytest.raises(rollout.InvalidInputError, match=r"strict mode does not sanitise") as raised:
        rollout.derive_tag(tmp_path, template="release/{version}", strict=True)
    assert "release/1.0.0" in str(raised.value)


def test_a_floating_tag_is_refused_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("1.0.0\n")
    with pytest.raises(rollout.InvalidInputError, match=r'"latest" is a floating tag'):
        rollout.derive_tag(tmp_path, template="latest")
    derived = rollout.derive_tag(tmp_path, template="latest", allow_floating=True)
    assert derived.tag == "latest"
    assert any("no placeholder" in w for w in derived.warnings)


def test_an_unknown_placeholder_names_itself_and_the_known_ones() -> None:
    with pytest.raises(rollout.InvalidInputError, match=r"unknown placeholder \{verison\}.*\{version\}"):
        rollout.derive_tag(template="latest-release-{verison}")


def test_a_malformed_template_is_invalid_input() -> None:
    with pytest.raises(ValueError, match=r'invalid tag template "release-\{version"'):
        rollout.derive_tag(template="release-{version")


def test_an_unknown_source_names_the_argument_and_the_allowed_values() -> None:
    with pytest.raises(rollout.InvalidInputError, match=r'invalid source "maven": allowed: pom, cargo'):
        rollout.derive_tag(source="maven")  # type: ignore[arg-type]


def test_a_missing_path_is_not_found_with_the_os_reason(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(rollout.NotFoundError, match=r"cannot read .*nope: No such file") as raised:
        rollout.derive_tag(missing)
    assert isinstance(raised.value, LookupError)


def test_a_directory_without_a_version_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(rollout.NotFoundError, match=r"no project version in .*found none of pom.xml"):
        rollout.derive_tag(tmp_path)


def test_an_unresolved_maven_property_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text("<project><version>${revision}</version></project>")
    with pytest.raises(rollout.InvalidInputError, match=r"unresolved property \$\{revision\}"):
        rollout.derive_tag(tmp_path)


def test_a_naive_now_is_rejected_by_name(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("1.0.0\n")
    with pytest.raises(rollout.InvalidInputError, match=r"invalid now .*naive") as raised:
        rollout.derive_tag(tmp_path, template="{date}", now=datetime(2024, 5, 1))
    assert isinstance(raised.value, ValueError)
    with pytest.raises(TypeError, match="now must be a timezone-aware datetime"):
        rollout.derive_tag(tmp_path, now="2024-05-01")  # type: ignore[arg-type]


def test_overrides_must_be_a_mapping_of_strings(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("1.0.0\n")
    with pytest.raises(TypeError):
        rollout.derive_tag(tmp_path, overrides={"revision": 2})  # type: ignore[dict-item]


def test_a_derived_tag_is_frozen_and_compares_by_value(tmp_path: Path) -> None:
    (tmp_path / "VERSION").write_text("1.0.0\n")
    a, b = rollout.derive_tag(tmp_path), rollout.derive_tag(str(tmp_path))
    assert a == b and hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.tag = "other"  # type: ignore[misc]
    assert repr(a).startswith("DerivedTag(tag='1.0.0', version=ProjectVersion(source='version-file'")
    assert isinstance(a, rollout.Report)
