"""Issue 8 item 6: `requirements.lock` pins the exact set `make test` and `make demo` install, and is up to date."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution, distributions

from conftest import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _locked() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def test_every_locked_package_is_installed_at_its_locked_version():
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    wrong = {name: (version, installed.get(name)) for name, version in _locked().items()
             if name != "pip" and installed.get(name) != version}
    assert not wrong, f"(locked, installed) differ — reinstall with `make clean test`: {wrong}"


def test_everything_antt_and_its_tests_need_is_in_the_lock():
    """Walk the requirements of `antt[test,postgres]` (what `make test` installs) down the tree: each must be
    pinned (else `make lock` is due)."""
    locked, seen, missing = _locked(), set(), []
    todo = [(Requirement("antt[test,postgres]"), {"test", "postgres"})]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        if name != "antt" and name not in locked:
            missing.append(name)
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            missing.append(name)
            continue
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in (extras or {""})):
                todo.append((sub, set(sub.extras)))
    assert not missing, f"not in requirements.lock — run `make lock`: {sorted(set(missing))}"
    assert len(seen) > 50  # the walk went down the tree, not just the top
