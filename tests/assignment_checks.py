"""What every problem set's tests check the same way: the student version built from a solution notebook leaks no
solution line (tests/test_assignments.py for hw1, tests/test_hw2.py-test_hw4.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path


def code_cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(Path(path).read_text())["cells"] if c["cell_type"] == "code"]


def solution_lines(source: Path) -> list[str]:
    """Distinctive lines of a solution notebook's solutions: inside BEGIN/END SOLUTION, or ending in `# SOLUTION`,
    at least 10 characters long and not also a line the student sees."""
    inside, solution, visible = False, [], []
    for cell in code_cells(source):
        for line in cell.splitlines():
            text = line.strip()
            if re.match(r"# (BEGIN|END) SOLUTION", text):
                inside = text.startswith("# BEGIN")
            elif inside:
                solution.append(text)
            elif text.endswith("# SOLUTION"):
                solution.append(text.removesuffix("# SOLUTION").strip())
            else:
                visible.append(text)
    return [s for s in solution if len(s) >= 10 and not any(s in v for v in visible)]


def assert_student_version_leaks_nothing(source: Path, student_dir: Path, at_least: int) -> None:
    """The built student folder holds only the notebook, and none of `source`'s solution lines (at least `at_least`
    are searched for, and each is first found in the source itself, so the search can fail)."""
    lines = solution_lines(source)
    assert len(lines) >= at_least, f"only {len(lines)} solution lines found: the search would prove nothing"
    text = source.read_text()
    assert all(json.dumps(line)[1:-1] in text for line in lines)  # the search finds them where they are
    notebook = student_dir / source.name
    student = "\n".join(code_cells(notebook))
    leaked = [line for line in lines if line in student]
    assert not leaked, f"solution code in the student version: {leaked}"
    assert "SOLUTION" not in student
    assert [p.name for p in student_dir.iterdir()] == [source.name]  # no tests file, nothing else
