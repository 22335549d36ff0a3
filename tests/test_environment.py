"""The conda environment.yml and pyproject.toml must name the same packages (and the same version bounds)."""

import os
import re
import subprocess
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


def environment_requirements(path: Path = ROOT / "environment.yml") -> dict[str, str]:
    """Every '- spec' line of a conda environment file, conda and pip sections, except python, pip, pip options
    (`-e .`, `--extra-index-url ...`) and the channel."""
    specs = re.findall(r"^\s*-\s+([^#\n]+?)\s*$", path.read_text(), flags=re.M)
    specs = [s.replace("=", ">=", 1) if re.fullmatch(r"[\w\-]+=[\d.]+", s) else s for s in specs]  # conda's pin
    reqs = dict(split(s) for s in specs if not s.startswith(("-", "conda-forge", "pip:")))
    for not_a_dependency in ("python", "pip"):
        reqs.pop(not_a_dependency, None)
    return reqs


def test_environment_yml_and_pyproject_list_the_same_packages_and_bounds():
    assert environment_requirements() == pyproject_requirements()


def test_the_course_machine_torch_releases_are_admitted():
    reqs = pyproject_requirements()
    assert reqs["torch"].endswith("<=2.14.1") and reqs["torchvision"].endswith("<=0.29.1")


def test_ci_runs_make_test_and_the_readme_says_what_make_test_runs():
    """CI's script runs `make test` (as a command, not in a comment), and the commands `make -n test` prints are the
    ones the README's Tests section spells out (slides check, then pytest with the same options and paths)."""
    ci_commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                   if line.strip() and not line.lstrip().startswith("#")]
    assert any(re.fullmatch(r"(time\s+)?make test", c) for c in ci_commands)

    env = {k: v for k, v in os.environ.items() if k not in ("WORKERS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    made = [line.split(" -m ", 1)[1].split() for line in dry.stdout.splitlines() if " -m tools.slides " in line
            or " -m pytest " in line]

    block = (ROOT / "README.md").read_text().split("\n## Tests\n", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    text = " ".join(part.split("#", 1)[1] for part in block.splitlines()).replace("\\", " ")
    slides, pytest_args = text.split("=", 1)[1].split(", then")
    documented = [slides.split()[2:], pytest_args.split()]  # "python -m tools.slides check ...", "pytest -n 2 ..."
    assert made == documented
