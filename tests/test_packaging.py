"""Packaging and repository hygiene: one version, exact pins, conda mirror, clean data/,
and a lint of every notebook."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

import jetad_utils

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
ENV = REPO / "environment.yml"
NOTEBOOKS = REPO / "notebooks"

# packages the project asks for by name (the rest of the lock is their dependencies)
REQUIRED = [
    "torch", "pythia8mc", "fastjet", "numpy", "scipy", "matplotlib", "scikit-learn", "POT",
    "jupyterlab", "ipywidgets", "nbval", "pytest", "tqdm", "h5py", "awkward", "ruff",
]
EXACT = {"torch": "2.13.0", "pythia8mc": "8.317.2", "fastjet": "3.5.2.0"}

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> dict[str, str]:
    """{canonical name: version}; raise AssertionError on any line that is not an exact pin."""
    pins: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = PIN.match(line)
        assert m, f"requirements.lock line {lineno} is not an exact 'name==version' pin: {raw!r}"
        name = canonical(m["name"])
        assert name not in pins, f"requirements.lock pins {m['name']} twice (line {lineno})"
        pins[name] = m["version"]
    return pins


@pytest.fixture(scope="module")
def lock():
    return parse_lock(LOCK.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def env():
    return yaml.safe_load(ENV.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- version


def test_version_defined_once():
    assert jetad_utils.__version__ == importlib.metadata.version("jetad")
    assert re.fullmatch(r"\d+\.\d+\.\d+([a-z]+\d+)?", jetad_utils.__version__)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"], "the version must not be repeated in pyproject"
    assert "version" in pyproject["project"]["dynamic"]
    dynamic = pyproject["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "jetad_utils.__version__"}
    assert dynamic["dependencies"] == {"file": ["requirements.lock"]}


# ----------------------------------------------------------------------------- lock file


def test_lock_parser_rejects_ranges():
    assert parse_lock("# c\n\nnumpy==2.4.6\nPOT==0.9.7.post1\n") == {"numpy": "2.4.6", "pot": "0.9.7.post1"}
    for bad in ("numpy>=2", "numpy", "numpy~=2.4", "numpy==2.*", "numpy==2.4.6 ; python_version>'3'",
                "numpy!=1", "numpy<3,>=2", "-e ."):
        with pytest.raises(AssertionError):
            parse_lock(bad)
    with pytest.raises(AssertionError, match="twice"):
        parse_lock("scikit_learn==1\nscikit-learn==1\n")


def test_lock_pins_every_line_exactly(lock):
    assert len(lock) > 50  # top-level and transitive dependencies


@pytest.mark.parametrize("name", REQUIRED)
def test_lock_contains_required(lock, name):
    assert canonical(name) in lock, f"{name} is missing from requirements.lock"


@pytest.mark.parametrize("name, version", sorted(EXACT.items()))
def test_lock_exact_versions(lock, name, version):
    assert lock[canonical(name)] == version


@pytest.mark.parametrize("name", ["numpy", "scipy", "scikit-learn", "torch", "jupyterlab", "pytest"])
def test_installed_matches_lock(lock, name):
    installed = importlib.metadata.version(name).split("+")[0]  # torch reports 2.13.0+cpu
    assert installed == lock[canonical(name)]


# ----------------------------------------------------------------------------- environment.yml


def _env_parts(env):
    conda, pip = {}, {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for spec in dep["pip"]:
                m = PIN.match(spec.strip())
                assert m, f"environment.yml pip entry {spec!r} is not an exact pin"
                pip[canonical(m["name"])] = m["version"]
        else:
            name, _, rest = str(dep).partition("=")
            conda[name] = rest
    return conda, pip


def test_environment_pip_pins_match_lock(env, lock):
    _, pip = _env_parts(env)
    assert len(pip) >= 10
    mismatched = {n: (v, lock.get(n)) for n, v in pip.items() if lock.get(n) != v}
    assert not mismatched, f"environment.yml pins differ from requirements.lock: {mismatched}"


def test_environment_covers_required(env):
    conda, pip = _env_parts(env)
    names = set(pip) | {"torch" if n == "pytorch" else n for n in conda}
    missing = [n for n in REQUIRED if canonical(n) not in names]
    assert not missing, f"environment.yml lacks {missing}"


def test_environment_torch_matches_lock(env, lock):
    conda, pip = _env_parts(env)
    assert "torch" not in pip, "torch comes from conda (CPU build), not from pip"
    assert "pytorch" in conda
    version, _, build = conda["pytorch"].partition("=")
    assert version == lock["torch"] == "2.13.0"
    assert build.startswith("cpu"), f"pytorch build {build!r} should be the CPU build"


def test_environment_python_allowed(env):
    conda, _ = _env_parts(env)
    major, minor = (int(x) for x in conda["python"].split(".")[:2])
    assert (major, minor) >= (3, 11)


# ----------------------------------------------------------------------------- data/


def test_data_folder_tracks_only_readme_and_gitignore():
    out = subprocess.run(
        ["git", "ls-files", "data"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(out) == ["data/.gitignore", "data/README.md"]


# ----------------------------------------------------------------------------- notebook lint

ABSOLUTE = ("/home/", "/root/", "/tmp/", "/work/", "/Users/")
SOLUTION = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")


def lint_notebook(path: Path) -> list[str]:
    """Problems of one notebook (empty = clean)."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"{path.name}: kernelspec name is {kernel!r}, not 'python3'")
    if "widgets" in nb.metadata:
        problems.append(f"{path.name}: saved widget state in the metadata (progress bars of a run; "
                        "clear it with `make record` or jetad_utils.nbtools.strip_outputs)")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        src = cell.source
        if re.search(r"^\s*[!%]\s*pip\b", src, flags=re.M) or "!pip" in src or "%pip" in src:
            problems.append(f"{path.name} cell {i}: installs packages (!pip / %pip); use the lock")
        for prefix in ABSOLUTE:
            if prefix in src:
                problems.append(f"{path.name} cell {i}: absolute path {prefix!r}; use data_dir()")
        if cell.get("outputs") and "# NBVAL_CHECK_OUTPUT" not in src:
            problems.append(f"{path.name} cell {i}: stored outputs (clear them before committing)")
    if SOLUTION.match(path.name) and path.parent.name != "exercises":  # a solution notebook
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        for needle in ("SETTINGS", "set_seed(", "fast_mode()", "get_device("):
            if needle not in code:
                problems.append(f"{path.name}: no code cell contains {needle!r}")
    return problems


def _nb(*cells, kernel="python3"):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    if kernel:
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": "x", "language": "python"}
    return nb


GOOD_SETUP = (
    "from jetad_utils import fast_mode, get_device, set_seed\n"
    "SETTINGS = dict(n=1000 if fast_mode() else 100000)\n"
    "set_seed(0)\ndevice = get_device('auto')"
)


def test_lint_catches_problems(tmp_path):
    good = _nb(nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell(GOOD_SETUP))
    checked = nbformat.v4.new_code_cell("print(1)  # NBVAL_CHECK_OUTPUT")
    checked.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    good.cells.append(checked)
    nbformat.write(good, tmp_path / "01_good.ipynb")
    assert lint_notebook(tmp_path / "01_good.ipynb") == []

    with_output = nbformat.v4.new_code_cell("print(2)")
    with_output.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    bad = _nb(
        nbformat.v4.new_code_cell("!pip install torch"),
        nbformat.v4.new_code_cell("%pip install numpy"),
        nbformat.v4.new_code_cell("x = np.load('/home/alice/data.npy')"),
        with_output,
        kernel="julia-1.10",
    )
    bad.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nbformat.write(bad, tmp_path / "02_bad.ipynb")
    problems = lint_notebook(tmp_path / "02_bad.ipynb")
    text = "\n".join(problems)
    assert "kernelspec" in text
    assert "cell 0: installs" in text and "cell 1: installs" in text
    assert "cell 2: absolute path '/home/'" in text
    assert "cell 3: stored outputs" in text
    assert "saved widget state" in text
    for needle in ("SETTINGS", "set_seed(", "fast_mode()", "get_device("):
        assert repr(needle) in text
    # an exercise copy (in a subfolder) is not required to hold the set-up cell
    sub = tmp_path / "exercises"
    sub.mkdir()
    nbformat.write(_nb(nbformat.v4.new_code_cell("x = 1")), sub / "02_bad.ipynb")
    assert lint_notebook(sub / "02_bad.ipynb") == []


def _all_notebooks():
    return sorted(
        p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )


def test_repository_notebooks_lint():
    assert NOTEBOOKS.is_dir()
    problems = [p for path in _all_notebooks() for p in lint_notebook(path)]
    assert problems == [], "\n".join(problems)

