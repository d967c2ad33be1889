"""The documentation site: every tutorial's code runs, and the site builds without a
single warning (``sphinx-build -W``, what ``.ci/docs`` does; marked slow: ``pytest -m slow``).

The tutorials are Markdown pages under ``docs/tutorials/``; the ```` ```python ````
blocks of a page run in order, in one namespace, in a temporary working directory.
Without ``docs/`` next to ``tests/`` these tests skip (``.ci/wheel`` copies both, so
that the tutorials run against the installed wheel).
"""

import pathlib
import re
import shutil
import subprocess
import sys

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
TUTORIALS = DOCS / "tutorials"

# Extras a tutorial needs beyond the core dependencies.
NEEDS = {
    "custom_topology": ["matplotlib"],
    "property_testing": ["hypothesis"],
    "training_loop": [],
}

pytestmark = pytest.mark.skipif(not (DOCS / "conf.py").is_file(),
                                reason="docs/ is not next to tests/")

_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(path):
    """The ```python code blocks of a Markdown page, in order."""
    return _BLOCK.findall(path.read_text(encoding="utf-8"))


def test_every_tutorial_is_listed_and_has_code():
    pages = sorted(p.stem for p in TUTORIALS.glob("*.md"))
    assert pages == sorted(NEEDS)
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for name in pages:
        assert f"tutorials/{name}" in index
        assert len(python_blocks(TUTORIALS / f"{name}.md")) >= 3


def test_every_public_module_has_an_api_page():
    """docs/api/ has an ``automodule`` page for every public module of the package."""
    import eventsim
    package = pathlib.Path(eventsim.__file__).parent
    # eventsim.train re-exports eventsim.training; the command line documents itself
    # (``eventsim --help``).
    not_api = {"__init__", "__main__", "train", "cli"}
    modules = {f"eventsim.{p.stem}" for p in package.glob("*.py")
               if not p.stem.startswith("_") and p.stem not in not_api}
    modules |= {"eventsim.training", "eventsim.testing.strategies"}
    pages = "".join(p.read_text(encoding="utf-8") for p in (DOCS / "api").glob("*.md"))
    documented = set(re.findall(r"^\.\. automodule:: (\S+)", pages, re.M))
    assert modules <= documented, sorted(modules - documented)


def test_block_extraction():
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x\n```\n"
    assert _BLOCK.findall(text) == ["x = 1\n", "y = x\n"]


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_tutorial_runs(name, tmp_path, monkeypatch):
    for module in NEEDS[name]:
        pytest.importorskip(module)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"tutorial_{name}"}
    page = TUTORIALS / f"{name}.md"
    blocks = python_blocks(page)
    # The tutorials check their own claims (spike times against a reference, a gradient
    # against finite differences, a loss that falls): running them is the test, so a
    # page whose asserts were edited away must fail here.
    assert sum(code.count("assert") for code in blocks) >= 3, f"{page.name} checks nothing"
    for i, code in enumerate(blocks):
        exec(compile(code, f"{page.name} block {i + 1}", "exec"), namespace)
    if "matplotlib" in NEEDS[name]:
        import matplotlib.pyplot as plt
        plt.close("all")


@pytest.mark.slow
def test_site_builds_without_warnings(tmp_path):
    """``sphinx-build -W --keep-going``: the Markdown pages, the API reference from the
    docstrings (numpydoc) and the tutorials, with every warning an error."""
    for module in ("sphinx", "myst_parser", "numpydoc"):
        pytest.importorskip(module)
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in ["index", "api", "math", "README", "tutorials/custom_topology",
                 "tutorials/property_testing", "tutorials/training_loop", "api/network"]:
        assert (out / f"{page}.html").is_file(), page
    # The API reference is generated from the docstrings, not empty.
    assert "eventsim.network.Network.add_population" in (out / "api" / "network.html").read_text(
        encoding="utf-8")
    shutil.rmtree(out)
