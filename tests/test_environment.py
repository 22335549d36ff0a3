"""The conda environment.yml and pyproject.toml must name the same packages (and the same version bounds)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def split(spec: str) -> tuple[str, str]:
    """'torch>=2.2,<=2.14.1' -> ('torch', '>=2.2,<=2.14.1'), names normalised as pip does."""
    name, bounds = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", spec).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), bounds.replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(split(d) for d in deps)


def environment_requirements() -> dict[str, str]:
    """Every '- spec' line of environment.yml, conda and pip sections, except python, pip and the project itself."""
    specs = re.findall(r"^\s*-\s+([^#\n]+?)\s*$", (ROOT / "environment.yml").read_text(), flags=re.M)
    specs = [s.replace("=", ">=", 1) if re.fullmatch(r"[\w\-]+=[\d.]+", s) else s for s in specs]  # conda's pin
    reqs = dict(split(s) for s in specs if not s.startswith(("-e", "conda-forge", "pip:")))
    for not_a_dependency in ("python", "pip"):
        reqs.pop(not_a_dependency, None)
    return reqs


def test_environment_yml_and_pyproject_list_the_same_packages_and_bounds():
    assert environment_requirements() == pyproject_requirements()


def test_the_course_machine_torch_releases_are_admitted():
    reqs = pyproject_requirements()
    assert reqs["torch"].endswith("<=2.14.1") and reqs["torchvision"].endswith("<=0.29.1")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
