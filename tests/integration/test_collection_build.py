"""`ansible-galaxy collection build` ships the collection without development-only content,
and the built tarball installs and loads (issue 2)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), cwd=cwd, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert proc.returncode == 0, f"{argv}: {proc.stdout}\n{proc.stderr}"
    return proc


def test_build_excludes_dev_content_and_installs(tmp_path: Path) -> None:
    _run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), cwd=REPO)
    tarballs = list(tmp_path.glob("psremoting-core-*.tar.gz"))
    assert len(tarballs) == 1
    with tarfile.open(tarballs[0]) as tar:
        names = tar.getnames()
    assert "plugins/connection/psrp.py" in names
    assert "meta/runtime.yml" in names
    forbidden = ("tests/winhost", "bench/", ".venv", ".build", ".ci/", "tools/")
    leaked = [n for n in names if n.startswith(forbidden)]
    assert not leaked, leaked
    # only what users need (issue 22: the tarball shipped .hypothesis/ and tests/conftest.py)
    allowed_dirs = ("plugins/", "roles/", "playbooks/", "meta/", "docs/", "changelogs/")
    allowed_files = {"MANIFEST.json", "FILES.json", "README.md", "LICENSE", "requirements.txt", "bindep.txt",
                     "changelogs/changelog.yaml", "changelogs/config.yaml"}  # fmt: skip
    extra = [n for n in names if n not in allowed_files and not (n + "/").startswith(allowed_dirs)]
    assert not extra, extra
    dev_only = [n for n in names if n.startswith(("docs/dev", "changelogs/fragments")) or "__pycache__" in n
                or n.endswith(".pyc") or ".hypothesis" in n]  # fmt: skip
    assert not dev_only, dev_only

    install_root = tmp_path / "installed"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(install_root), ANSIBLE_NOCOLOR="1")
    _run(
        str(BIN / "ansible-galaxy"),
        "collection",
        "install",
        "--no-deps",
        "-p",
        str(install_root),
        str(tarballs[0]),
        cwd=tmp_path,
        env=env,
    )
    assert (install_root / "ansible_collections" / "psremoting" / "core" / "MANIFEST.json").is_file()
    listing = _run(
        str(BIN / "ansible-doc"), "-t", "connection", "-l", "psremoting.core", cwd=tmp_path, env=env
    )
    assert "psremoting.core.psrp" in listing.stdout
    doc = _run(str(BIN / "ansible-doc"), "-t", "connection", "psremoting.core.psrp", cwd=tmp_path, env=env)
    assert "ansible_psrp_session_persist" in doc.stdout or "session_persist" in doc.stdout


def test_galaxy_links_are_real_or_marked_placeholders() -> None:
    import yaml

    text = (REPO / "galaxy.yml").read_text(encoding="utf-8")
    galaxy = yaml.safe_load(text)
    for key in ("repository", "documentation", "issues"):
        url = galaxy.get(key)
        assert isinstance(url, str) and url.startswith("https://"), (key, url)
        if ".invalid/" in url:  # RFC 2606 reserved name: must be announced as a placeholder
            assert "PLACEHOLDER" in text, key


def test_activate_hook_lets_ansible_doc_find_the_collection(tmp_path: Path) -> None:
    """After `make demo`, `. .venv/bin/activate` then `ansible-doc psremoting.core.<plugin>` works
    from any directory (issue 22: it failed with "No module named 'ansible_collections.psremoting'")."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text("# activate\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["HOME"] = str(tmp_path)
    for _ in range(2):  # idempotent: the hook is added once
        _run(
            "make",
            "-s",
            "-C",
            str(REPO),
            "collection-link",
            "activate-hook",
            f"VENV={venv}",
            cwd=tmp_path,
            env=env,
        )
    hook = (venv / "bin" / "activate").read_text(encoding="utf-8")
    assert hook.count("psremoting.core checkout") == 1, hook
    script = f". {venv}/bin/activate && PATH={BIN}:$PATH ansible-doc psremoting.core.invoke_command"
    proc = _run("bash", "-c", script, cwd=tmp_path, env=env)
    assert "Invoke-Command" in proc.stdout
    without = subprocess.run(["bash", "-c", f"PATH={BIN}:$PATH ansible-doc psremoting.core.invoke_command"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert "Invoke-Command" not in without.stdout  # the hook is what makes the difference


def test_make_demo_does_not_wait_for_the_kerberos_build(tmp_path: Path) -> None:
    """`make demo` installs everything but pypsrp's Kerberos extra (gssapi and krb5 have no Linux
    wheels and compile for minutes); `make venv` (and so `make test`) adds it."""
    env = dict(os.environ)
    demo = _run("make", "-n", "-C", str(REPO), "demo", "VENV=.venv-dry-run", cwd=tmp_path, env=env).stdout
    full = _run("make", "-n", "-C", str(REPO), "venv", "VENV=.venv-dry-run", cwd=tmp_path, env=env).stdout
    assert "requirements-no-kerberos.txt 'ansible-core>=" in demo and "'ansible>=" in demo, demo
    assert "test-requirements.txt" not in demo and "tools/demo.py" in demo
    assert "pip install -r test-requirements.txt" in full
    steps = [line for line in demo.splitlines() if line.startswith("echo") and "==>" in line]
    assert len(steps) >= 3, demo  # every install step says what it does


def test_antsibull_changelog_release_writes_the_next_version(tmp_path: Path) -> None:
    """`antsibull-changelog release` in a copy of the checkout (never in the repository itself):
    the fragments become the release of galaxy.yml's version in changelog.yaml and CHANGELOG.rst,
    with no warning from ansible-doc about the plugins' documentation."""
    import yaml

    copy = tmp_path / "ansible_collections" / "psremoting" / "core"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    names = [n for n in files.split("\0") if n] + [
        f"changelogs/fragments/{p.name}" for p in (REPO / "changelogs" / "fragments").glob("*.yml")
    ]
    for name in names:
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    fragments = sorted(p.name for p in (copy / "changelogs" / "fragments").glob("*.yml"))
    assert fragments
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    proc = _run(str(BIN / "antsibull-changelog"), "release", cwd=copy, env=env)
    assert "[WARNING]" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    version = yaml.safe_load((copy / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    changes = yaml.safe_load((copy / "changelogs" / "changelog.yaml").read_text(encoding="utf-8"))
    assert version in changes["releases"], changes["releases"].keys()
    rst = (copy / "CHANGELOG.rst").read_text(encoding="utf-8")
    assert f"v{version}" in rst and "format_table, format_list filters" in rst
    assert not list((copy / "changelogs" / "fragments").glob("*.yml"))  # consumed (keep_fragments: false)
