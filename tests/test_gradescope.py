"""Gradescope's autograder zip (tools/gradescope.py): what `make assignments` puts in it, and that its
`run_autograder`, run on a folder laid out like /autograder, scores what the local grader scores."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools import assignments, gradescope
from tools.assignments import Case, Lost, Result

SOURCE = assignments.ROOT / "assignments" / "hw2_framework_training.ipynb"  # among the fastest to grade (~12 s)
NAME = SOURCE.stem
CASES = assignments.load_cases(NAME)
FULL = sum(float(c.points) for c in CASES)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return assignments.build_one(SOURCE, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def autograder(built, tmp_path_factory) -> Path:
    """The zip unpacked as Gradescope does: BASE/source, BASE/run_autograder, BASE/submission, BASE/results."""
    base = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(built / "gradescope" / f"{NAME}-autograder.zip") as zf:
        for info in zf.infolist():
            zf.extract(info, base / "source")
            os.chmod(base / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    shutil.copy2(base / "source" / "run_autograder", base / "run_autograder")
    return base


def run_autograder(base: Path, notebooks: dict[str, str]) -> dict:
    """Submit `notebooks` ({file name: JSON text}), run BASE/run_autograder as Gradescope would, read results.json."""
    for folder in ("submission", "results"):
        shutil.rmtree(base / folder, ignore_errors=True)
        (base / folder).mkdir()
    for name, text in notebooks.items():
        (base / "submission" / name).write_text(text)
    env = {**os.environ, gradescope.AUTOGRADER_DIR_ENV: str(base), gradescope.PYTHON_ENV: sys.executable}
    proc = subprocess.run([str(base / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"run_autograder failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return json.loads((base / "results" / "results.json").read_text())


def test_zip_holds_the_course_and_the_tests_not_the_solution(built):
    path = built / "gradescope" / f"{NAME}-autograder.zip"
    with zipfile.ZipFile(path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        for name in ("setup.sh", "run_autograder"):
            assert (infos[name].external_attr >> 16) & 0o111, f"{name} must be executable"
        assert f'"{NAME}"' in zf.read("run_autograder").decode()
        # the same grader: the repository's own files, byte for byte
        for name in ("tools/assignments.py", "tools/sandbox.py", "tools/grader_child.py", "tools/gradescope.py",
                     "cnnlab/__init__.py", "pyproject.toml", f"assignments/{NAME}_tests.py"):
            assert zf.read(name) == (assignments.ROOT / name).read_bytes(), name
    assert not [n for n in infos if n.endswith(".ipynb")], "no notebook, above all not the solution, in the zip"
    assert [n for n in infos if n.startswith("assignments/")] == [f"assignments/{NAME}_tests.py"]
    assert not [n for n in infos if "__pycache__" in n or n.startswith(("data/cache", "data/downloads"))]


def test_zip_is_reproducible(tmp_path):
    one = gradescope.autograder_zip(SOURCE, tmp_path / "one")
    two = gradescope.autograder_zip(SOURCE, tmp_path / "two")
    assert one.read_bytes() == two.read_bytes()


def test_zip_refuses_what_is_not_a_notebook(tmp_path):
    with pytest.raises(ValueError, match="source must be"):
        gradescope.autograder_zip(SOURCE.with_suffix(".py"), tmp_path)


def test_reference_scores_full_marks_on_gradescope(autograder):
    results = run_autograder(autograder, {"submitted.ipynb": SOURCE.read_text()})
    assert results["score"] == FULL == 24
    assert [t["name"].split(" ")[:2] for t in results["tests"]] == [[c.question, c.name] for c in CASES]
    assert all(t["score"] == t["max_score"] and t["output"] == "passed" for t in results["tests"])
    assert "sandbox:" in results["output"]


def test_blank_scores_what_the_local_grader_scores(autograder, built, tmp_path):
    # the blank notebook, plus a cell that forges a results.json where Gradescope reads it
    nb = json.loads((built / "student" / SOURCE.name).read_text())
    forged = autograder / "results" / "results.json"
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source":
                        f"open({str(forged)!r}, 'w').write('{{\"score\": 999, \"tests\": []}}')"})
    text = json.dumps(nb)
    results = run_autograder(autograder, {f"{NAME}.ipynb": text, "notes.txt": "not a notebook"})
    (tmp_path / "blank.ipynb").write_text(text)
    local = assignments.grade_submission(tmp_path / "blank.ipynb", NAME, cases=CASES)
    assert results["score"] == local.total == 0
    lost = {f"{x.question} {x.test}": x.error for x in local.lost}
    assert len(lost) == len(CASES)
    for test in results["tests"]:
        key = " ".join(test["name"].split(" ")[:2])
        assert test["score"] == 0 and test["status"] == "failed"
        assert test["output"] == lost[key] and "\n" not in test["output"], key


def test_no_notebook_or_several_say_what_to_upload(autograder):
    results = run_autograder(autograder, {})
    assert results["score"] == 0 and len(results["tests"]) == len(CASES)
    assert results["tests"][0]["output"].startswith(f"no notebook was submitted: upload your {NAME}.ipynb")
    results = run_autograder(autograder, {"a.ipynb": "{}", "b.ipynb": "{}"})
    assert results["score"] == 0
    assert f"2 notebooks were submitted (a.ipynb, b.ipynb): upload only {NAME}.ipynb" in results["output"]


def test_results_json_marks_public_cases_visible_and_keeps_first_lines():
    def probe(ns, inputs):
        return {}

    def check(out, inputs):
        pass

    cases = [Case("q1", "public_one", 1, probe, check, hidden=False), Case("q1", "hidden_one", 2, probe, check)]
    result = Result("s", "hw", {"q1": 1.0}, {"q1": 3.0}, [Lost("q1", "hidden_one", 2.0, "AssertionError: off by 1")])
    out = gradescope.results_json(result, cases)
    assert out["score"] == 1.0
    assert [(t["name"], t["score"], t["max_score"], t["output"], t["visibility"]) for t in out["tests"]] == [
        ("q1 public_one (public)", 1.0, 1.0, "passed", "visible"),
        ("q1 hidden_one", 0.0, 2.0, "AssertionError: off by 1", "after_published")]


def test_run_checks_its_name(tmp_path):
    with pytest.raises(ValueError, match="name must be"):
        gradescope.run("../hw2", tmp_path)
