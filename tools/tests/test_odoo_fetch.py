# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The README's commands find Odoo 19.0, or clone it into the cache once.

Each test runs tools/common.sh's find_or_fetch_odoo in bash, as the commands
do, against tiny fake Odoo git repositories made in the test: no network.
"""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMON = ROOT / "tools" / "common.sh"
WHAT_TO_DO = (
    "set ODOO_SRC to an Odoo 19.0 source tree, "
    "or ODOO_REPO to a local copy of Odoo's git repository"
)


def git(cwd, *args):
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd, check=True, capture_output=True,
    )


def write_odoo_tree(path, version="19, 0, 0, FINAL, ''", label="odoo"):
    (path / "odoo").mkdir(parents=True, exist_ok=True)
    (path / "odoo-bin").write_text("#!/usr/bin/env python3\n")
    (path / "odoo" / "release.py").write_text(f"version_info = ({version})\n")
    (path / "LABEL").write_text(label)
    return path


def make_odoo_repo(path, branch="19.0", version="19, 0, 0, FINAL, ''", label="odoo"):
    """A git repository whose `branch` holds a fake Odoo tree."""
    write_odoo_tree(path, version, label)
    git(path, "init", "-q", "-b", branch)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "fake Odoo")
    return path


def fake_git(tmp_path, body):
    """A bin directory whose `git` runs `body` (sh), to put first in PATH."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "git"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return bin_dir


def find_odoo(tmp_path, **env):
    """Runs find_or_fetch_odoo as the commands do; ODOO_SRC in .odoo_src."""
    full_env = {
        name: value for name, value in os.environ.items()
        if not name.startswith(("ODOO_", "AOS_", "GIT_"))
    }
    (tmp_path / "home").mkdir(exist_ok=True)
    full_env.update(
        HOME=str(tmp_path / "home"),  # no user git configuration
        GIT_CONFIG_NOSYSTEM="1",
        AOS_CACHE_DIR=str(tmp_path / "cache"),
        # This machine may have Odoo where the commands look first: hide it.
        AOS_ODOO_DEFAULT_SRC=str(tmp_path / "no-odoo-here"),
    )
    full_env.update({name: str(value) for name, value in env.items()})
    result = subprocess.run(
        ["bash", "-c", 'source "$1"; find_or_fetch_odoo; echo "ODOO_SRC=$ODOO_SRC"', "bash", COMMON],
        env=full_env, capture_output=True, text=True, timeout=120,
    )
    lines = result.stdout.splitlines()
    result.odoo_src = (
        lines[-1].removeprefix("ODOO_SRC=") if lines and lines[-1].startswith("ODOO_SRC=") else None
    )
    result.error = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    return result


def cache_entries(tmp_path):
    cache = tmp_path / "cache"
    return sorted(p.name for p in cache.iterdir() if p.is_dir()) if cache.exists() else []


def clone_dir(tmp_path, **env):
    """Where the commands put the clone of ODOO_REPO's ODOO_BRANCH."""
    result = subprocess.run(
        ["bash", "-c", 'source "$1"; odoo_clone_dir', "bash", COMMON],
        env={**os.environ, "AOS_CACHE_DIR": str(tmp_path / "cache"),
             **{name: str(value) for name, value in env.items()}},
        capture_output=True, text=True, check=True,
    )
    return Path(result.stdout.strip())


def test_clones_into_the_cache_once_then_reuses_it(tmp_path):
    repo = make_odoo_repo(tmp_path / "odoo-git")

    first = find_odoo(tmp_path, ODOO_REPO=repo)

    assert first.returncode == 0, first.stderr
    clone = Path(first.odoo_src)
    assert clone.parent == tmp_path / "cache"
    assert clone.name.startswith("odoo-19.0-")
    assert (clone / "LABEL").read_text() == "odoo"
    assert f"copying branch 19.0 of {repo} into {clone}" in first.stdout
    assert "about 1.1 GB on disk" in first.stdout
    assert "Cloning into" in first.stderr  # git's own progress is shown
    assert cache_entries(tmp_path) == [clone.name]

    # The second run must not call git at all.
    calls = tmp_path / "git-calls"
    bin_dir = fake_git(tmp_path, f'echo "$@" >> "{calls}"; exit 1\n')
    inode = clone.stat().st_ino
    (clone / "kept").write_text("from the first run")

    second = find_odoo(tmp_path, ODOO_REPO=repo, PATH=f"{bin_dir}:{os.environ['PATH']}")

    assert second.returncode == 0, second.stderr
    assert second.odoo_src == str(clone)
    assert not calls.exists()
    assert clone.stat().st_ino == inode
    assert (clone / "kept").exists()
    assert second.stdout.splitlines()[0] == f"Using Odoo 19.0 downloaded earlier: {clone}"


def test_odoo_repo_and_odoo_branch_choose_what_is_cloned(tmp_path):
    repo_a = make_odoo_repo(tmp_path / "a", label="a")
    repo_b = make_odoo_repo(tmp_path / "b", label="b 19.0")
    git(repo_b, "checkout", "-q", "-b", "19.0-patched")
    (repo_b / "LABEL").write_text("b 19.0-patched")
    git(repo_b, "commit", "-qam", "patched")

    from_a = find_odoo(tmp_path, ODOO_REPO=repo_a)
    from_b = find_odoo(tmp_path, ODOO_REPO=repo_b)
    from_b_patched = find_odoo(tmp_path, ODOO_REPO=repo_b, ODOO_BRANCH="19.0-patched")

    for result in (from_a, from_b, from_b_patched):
        assert result.returncode == 0, result.stderr
    assert (Path(from_a.odoo_src) / "LABEL").read_text() == "a"
    # Another repository is not served the clone of the previous one.
    assert (Path(from_b.odoo_src) / "LABEL").read_text() == "b 19.0"
    assert (Path(from_b_patched.odoo_src) / "LABEL").read_text() == "b 19.0-patched"
    assert Path(from_b_patched.odoo_src).name.startswith("odoo-19.0-patched-")
    assert len({from_a.odoo_src, from_b.odoo_src, from_b_patched.odoo_src}) == 3


def test_default_is_a_shallow_clone_of_odoo_public_repository(tmp_path):
    # A fake git records the call and fails as without network: no download.
    calls = tmp_path / "git-calls"
    bin_dir = fake_git(tmp_path, f'echo "$@" >> "{calls}"\n'
                                 "echo \"fatal: unable to access 'https://github.com/odoo/odoo.git/': "
                                 'Could not resolve host: github.com" >&2\nexit 128\n')

    result = find_odoo(tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}")

    clone = tmp_path / "cache" / "odoo-19.0"
    assert calls.read_text().split() == [
        "clone", "--depth", "1", "--branch", "19.0", "--single-branch", "--progress",
        "https://github.com/odoo/odoo.git", f"{clone}.partial",
    ]
    assert f"downloading branch 19.0 of https://github.com/odoo/odoo.git into {clone}" in result.stdout
    assert "about 200 MB to download" in result.stdout
    assert result.returncode == 2
    assert result.error == (
        "error: could not download Odoo 19.0 from https://github.com/odoo/odoo.git (no network?): "
        + WHAT_TO_DO
    )
    assert cache_entries(tmp_path) == []


def test_a_failed_clone_leaves_nothing_and_the_next_run_starts_clean(tmp_path):
    missing = tmp_path / "no-such-repo"

    failed = find_odoo(tmp_path, ODOO_REPO=missing)

    assert failed.returncode == 2
    assert failed.error == f"error: could not copy Odoo 19.0 from {missing}: {WHAT_TO_DO}"
    assert cache_entries(tmp_path) == []

    make_odoo_repo(missing)
    again = find_odoo(tmp_path, ODOO_REPO=missing)
    assert again.returncode == 0, again.stderr
    assert cache_entries(tmp_path) == [Path(again.odoo_src).name]


def test_a_missing_branch_fails_with_the_same_line(tmp_path):
    repo = make_odoo_repo(tmp_path / "odoo-git")

    result = find_odoo(tmp_path, ODOO_REPO=repo, ODOO_BRANCH="19.0-nowhere")

    assert result.returncode == 2
    assert result.error == f"error: could not copy Odoo 19.0 from {repo}: {WHAT_TO_DO}"
    assert cache_entries(tmp_path) == []


def test_an_interrupted_clone_leaves_nothing_and_the_next_run_starts_clean(tmp_path):
    # The clone is half written when the command is killed (Ctrl-C, CI timeout).
    bin_dir = fake_git(tmp_path, 'for arg; do dest=$arg; done\n'
                                 'mkdir -p "$dest/odoo" && echo half > "$dest/odoo/release.py"\n'
                                 "kill -TERM $PPID\nsleep 1\n")
    repo = make_odoo_repo(tmp_path / "odoo-git")

    killed = find_odoo(tmp_path, ODOO_REPO=repo, PATH=f"{bin_dir}:{os.environ['PATH']}")

    assert killed.returncode != 0
    assert cache_entries(tmp_path) == []

    again = find_odoo(tmp_path, ODOO_REPO=repo)
    assert again.returncode == 0, again.stderr
    assert (Path(again.odoo_src) / "LABEL").read_text() == "odoo"


def test_what_a_killed_run_left_is_removed(tmp_path):
    # kill -9 leaves the partial clone, or a broken tree in place: both go.
    repo = make_odoo_repo(tmp_path / "odoo-git")
    clone = clone_dir(tmp_path, ODOO_REPO=repo)
    (Path(f"{clone}.partial") / "odoo").mkdir(parents=True)
    (clone / "odoo").mkdir(parents=True)
    (clone / "odoo-bin").write_text("")

    result = find_odoo(tmp_path, ODOO_REPO=repo)

    assert result.returncode == 0, result.stderr
    assert result.odoo_src == str(clone)
    assert f"Removing {clone}: it is not a complete Odoo 19.0 tree" in result.stdout
    assert (clone / "LABEL").read_text() == "odoo"
    assert cache_entries(tmp_path) == [clone.name]


def test_odoo_src_wins_when_it_is_an_odoo_19_tree(tmp_path):
    tree = write_odoo_tree(tmp_path / "my-odoo")
    repo = make_odoo_repo(tmp_path / "odoo-git")

    result = find_odoo(tmp_path, ODOO_SRC=tree, ODOO_REPO=repo)

    assert result.returncode == 0, result.stderr
    assert result.odoo_src == str(tree)
    assert result.stdout.splitlines() == [f"ODOO_SRC={tree}"]
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("version", [None, "18, 0, 0, FINAL, ''"])
def test_odoo_src_that_is_no_odoo_19_tree_fails_without_downloading(tmp_path, version):
    tree = tmp_path / "my-odoo"
    if version:
        write_odoo_tree(tree, version)
    else:
        tree.mkdir()
    repo = make_odoo_repo(tmp_path / "odoo-git")

    result = find_odoo(tmp_path, ODOO_SRC=tree, ODOO_REPO=repo)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: Odoo 19.0 not found at {tree}: set ODOO_SRC to an Odoo 19.0 Community source "
        "tree, or unset it to download Odoo 19.0 (see README, 'Odoo 19.0')"
    ]
    assert not (tmp_path / "cache").exists()


def test_the_default_tree_is_used_when_it_is_odoo_19(tmp_path):
    tree = write_odoo_tree(tmp_path / "opt-odoo")
    repo = make_odoo_repo(tmp_path / "odoo-git")

    result = find_odoo(tmp_path, AOS_ODOO_DEFAULT_SRC=tree, ODOO_REPO=repo)

    assert result.returncode == 0, result.stderr
    assert result.odoo_src == str(tree)
    assert not (tmp_path / "cache").exists()


def test_an_older_default_tree_is_passed_over(tmp_path):
    tree = write_odoo_tree(tmp_path / "opt-odoo", "18, 0, 0, FINAL, ''")
    repo = make_odoo_repo(tmp_path / "odoo-git")

    result = find_odoo(tmp_path, AOS_ODOO_DEFAULT_SRC=tree, ODOO_REPO=repo)

    assert result.returncode == 0, result.stderr
    assert Path(result.odoo_src).parent == tmp_path / "cache"


def test_a_branch_that_is_not_odoo_19_is_refused(tmp_path):
    repo = make_odoo_repo(tmp_path / "odoo-git", branch="18.0", version="18, 0, 0, FINAL, ''")

    result = find_odoo(tmp_path, ODOO_REPO=repo, ODOO_BRANCH="18.0")

    assert result.returncode == 2
    assert result.error == (
        f"error: branch 18.0 of {repo} is not Odoo 19.0 (odoo/release.py): "
        "set ODOO_BRANCH to Odoo 19.0's branch, or ODOO_SRC to an Odoo 19.0 source tree"
    )
    assert cache_entries(tmp_path) == []


def test_without_git_says_to_install_it(tmp_path):
    # A PATH with every command of this machine but git.
    bin_dir = tmp_path / "bin-without-git"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_dir / entry.name
            if entry.name != "git" and not target.exists() and os.access(entry.path, os.X_OK):
                target.symlink_to(entry.path)

    result = find_odoo(tmp_path, ODOO_REPO=tmp_path / "odoo-git", PATH=bin_dir)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: git is needed to download Odoo 19.0: install git (Debian package git), "
        "or set ODOO_SRC to an Odoo 19.0 source tree"
    ]
    assert cache_entries(tmp_path) == []
