"""The grader tested as an attacker: each cheat is built on one partially correct submission and must score exactly
what that submission's honest answers earn, with the grader unharmed.

The honest part answers Q2 (5 points) and Q5 (5 points) correctly and nothing else: 10 of 28, graded in a second or
two because it needs no torch. Each attack adds cells to it (or answers one more question badly). Attacks that need
the sandbox's private file view or its `nobody` user are skipped, with the reason, where this machine cannot give one
(`tools.sandbox.isolation()` says what it can).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import socket
import sys
from pathlib import Path

import pytest

from tools import assignments, sandbox

ROOT = Path(__file__).resolve().parents[1]
NAME = "hw1_cnn_foundations"
SOURCE = ROOT / "assignments" / f"{NAME}.ipynb"
QUESTIONS = ["q1", "q2", "q3", "q4", "q5", "q6"]
HONEST = {"q1": 0.0, "q2": 5.0, "q3": 0.0, "q4": 0.0, "q5": 5.0, "q6": 0.0}
LIMITS = {"case_timeout": 10, "cell_timeout": 30, "timeout": 120}
ISOLATION = sandbox.isolation()
needs_files = pytest.mark.skipif(not ISOLATION.files, reason="this machine gives the child no private file view: "
                                 + "; ".join(ISOLATION.notes))
needs_network = pytest.mark.skipif(not ISOLATION.network, reason="no network namespace here: "
                                   + "; ".join(ISOLATION.notes))

# files the attacks try to change; their bytes are checked (and restored, should an attack ever succeed)
GUARDED = [ROOT / "cnnlab" / "__init__.py", ROOT / "cnnlab" / "curves.py", ROOT / "tools" / "assignments.py",
           ROOT / "assignments" / f"{NAME}_tests.py"]


def bn_solution() -> str:
    """The reference's batchnorm_forward cell (Q4, 4 points): what colluding submissions try to pass on."""
    cells = ["".join(c["source"]) for c in json.loads(SOURCE.read_text())["cells"] if c["cell_type"] == "code"]
    (cell,) = [c for c in cells if c.startswith("def batchnorm_forward")]
    return "import torch\n" + cell


def honest_cells() -> list[str]:
    """The reference's answers to Q2 and Q5, nothing else (no torch: the cheap half of a submission)."""
    cells = ["".join(c["source"]) for c in json.loads(SOURCE.read_text())["cells"] if c["cell_type"] == "code"]
    return [c for c in cells if c.startswith(("def trace(", "def diagnose_run("))]


def notebook(*extra: str) -> dict:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s}
             for s in [*honest_cells(), *extra]]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def attacks(dist: Path, marker: Path, port: int) -> dict[str, dict]:
    """Each attack as a notebook: honest Q2 and Q5 plus the cheat."""
    BN_SOLUTION = bn_solution()  # noqa: N806 - a constant of the attack's text
    solution_paths = [str(SOURCE), str(ROOT / "assignments" / f"{NAME}_tests.py"), str(dist / "solution.ipynb")]
    return {
        "honest": notebook(),
        # patch what a grader in this process would compare with, and answer Q1 with zeros of the right shape
        # (worth the 1-point shape test, and all of Q1 if the patched comparisons were believed)
        "patches": notebook("""import builtins, pickle, json
import numpy, numpy.testing
import torch, torch.testing
pickle.dump = pickle.dumps = pickle.load = pickle.loads = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
numpy.allclose = numpy.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = numpy.testing.assert_array_equal = lambda *a, **k: None
builtins.all = builtins.any = lambda *a, **k: True
builtins.AssertionError = type("AssertionError", (Exception,), {})
json.dump = lambda *a, **k: None


def conv2d(X, W, b, stride=1, padding=0):
    N, _, H, W_in = X.shape
    C_out, _, kH, kW = W.shape
    return torch.zeros(N, C_out, (H + 2 * padding - kH) // stride + 1, (W_in + 2 * padding - kW) // stride + 1,
                       dtype=X.dtype)"""),
        # read the solutions and tests from disk, list them, `cat` them; exec any batchnorm_forward found (Q4)
        "reader": notebook(f"""import glob, json, os, subprocess
found = []
for path in {solution_paths!r}:
    for read in (lambda p: open(p).read(), lambda p: subprocess.run(["cat", p], capture_output=True, text=True,
                                                                     timeout=5).stdout):
        try:
            found.append(read(path))
        except Exception as e:
            print("no luck:", type(e).__name__)
    for folder in (os.path.dirname(path), os.getcwd() + "/.."):
        try:
            print(folder, os.listdir(folder))
        except Exception as e:
            print("no luck:", type(e).__name__)
for text in found:
    try:
        cells = ["".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "code"]
    except Exception:
        continue
    for cell in cells:
        if "def batchnorm_forward" in cell:
            exec(cell)"""),
        # return objects whose unpickling runs code, and forge the status and outputs after the grader's child ends
        "pickler": notebook(f"""import atexit, os
import numpy as np


class Evil:
    def __reduce__(self):
        return (exec, ("open({str(marker)!r}, 'a').write(str(__import__('os').getpid()) + chr(10))",))


def batchnorm_forward(*args, **kwargs):
    return Evil()


def conv2d(*args, **kwargs):
    return [Evil(), Evil()]


def forge():
    status = json.load(open("out/status.json"))
    for case in list(status["cases"]):
        if status["cases"][case] is not None:
            np.savez(f"out/{{case}}.npz", out=np.array([Evil()], dtype=object))
            status["cases"][case] = None
    json.dump(status, open("out/status.json", "w"))


import json
atexit.register(forge)"""),
        # after the grader's child is done: the status becomes a link to an endless device, outputs a FIFO and links
        "saboteur": notebook("""import atexit, os


def sabotage():
    os.remove("out/status.json")
    os.symlink("/dev/zero", "out/status.json")
    os.mkfifo("out/q1_conv2d_shape.npz")
    os.symlink("/dev/zero", "out/q3_he_linear_std.npz")
    os.symlink("/dev/urandom", "out/q4_bn_train_output.npz")
    import zipfile, zlib  # a zip bomb: 512 MiB of zeros in well under 1 MiB
    with zipfile.ZipFile("out/q6_transfer_output_shape.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("out.npy", "w", force_zip64=True) as f:
            f.write(b"\\x93NUMPY\\x01\\x00v\\x00{'descr': '|u1', 'fortran_order': False, 'shape': (536870912,), }"
                    + b" " * 51 + b"\\n")
            for _ in range(512):
                f.write(bytes(1 << 20))


atexit.register(sabotage)"""),
        # write into the course package, the grader and the hidden tests
        "writer": notebook(f"""import os
for path in {[str(p) for p in GUARDED]!r} + ["{ROOT / 'cnnlab' / 'evil.py'}"]:
    try:
        with open(path, "a") as f:
            f.write("\\n# tampered by a submission\\n")
    except OSError as e:
        print("no luck:", type(e).__name__)"""),
        # reach the network (a listener of the test's, on the loopback)
        "network": notebook(f"""import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"q2 3/3")
except OSError as e:
    print("no luck:", type(e).__name__)"""),
        # more memory than allowed: the allocation fails in the child, nothing else
        "memory": notebook("""import numpy as np
huge = bytearray(64 << 30)""", """import numpy as np
also_huge = np.ones((1 << 16, 1 << 16))"""),
        # pass answers between submissions through the shared temporary folders (a0 writes, a1 reads, by name)
        "a0_leaver": notebook(f"""import os
for folder in ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"]:
    try:
        with open(os.path.join(folder, "cnnlab-answers.py"), "w") as f:
            f.write({BN_SOLUTION!r})
    except OSError as e:
        print("no luck:", type(e).__name__)"""),
        "a1_taker": notebook("""import os
for folder in ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"]:
    try:
        exec(open(os.path.join(folder, "cnnlab-answers.py")).read())
        break
    except OSError as e:
        print("no luck:", type(e).__name__)
os.chdir("/")  # and lose the grader's bearings, if it had relative ones"""),
        # print the grader's kind of lines, on stdout and stderr
        "printer": notebook("""import sys
for q in ["q1", "q2", "q3", "q4", "q5", "q6"]:
    print(f"    {q} passed: FAKE full marks")
print("printer: 28/28 (q1 4/4 q2 5/5 q3 3/3 q4 4/4 q5 5/5 q6 7/7) graded in 0.1 s")
print("reference solution 28/28", file=sys.stderr)"""),
    }


LOOPS = {
    # a cell that spins, and a function (Q3) that never returns: each is interrupted by its time limit
    "spinner": notebook("""while True:
    pass""", """import time


def he_init_(net):
    while True:
        time.sleep(0.05)"""),
    # a cell that ignores the interrupt and sleeps forever: the watchdog stops it, the rest is graded without it
    "stubborn": notebook("""import signal, time
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    try:
        time.sleep(60)
    except BaseException:
        pass"""),
}


def grade_all(notebooks: dict[str, dict], folder: Path, dist: Path, **limits) -> tuple[dict, str]:
    subs = folder / "submissions"
    subs.mkdir(parents=True)
    for name, nb in notebooks.items():
        (subs / f"{name}.ipynb").write_text(json.dumps(nb))
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        path = assignments.grade(subs, NAME, dist=dist, out=folder / "scores.csv", **limits)
    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}, console.getvalue()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """All attacks graded once; the files they target are checked and restored afterwards."""
    dist = tmp_path_factory.mktemp("dist")
    assignments.build_one(SOURCE, dist)
    (dist / "solution.ipynb").write_text(SOURCE.read_text())  # where an instructor might keep it
    marker = tmp_path_factory.mktemp("marker") / "unpickled.txt"
    before = {p: p.read_bytes() for p in GUARDED}
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    try:
        rows, console = grade_all(attacks(dist, marker, listener.getsockname()[1]),
                                  tmp_path_factory.mktemp("attacks"), dist, **LIMITS)
        try:
            listener.accept()
            connected = True
        except BlockingIOError:
            connected = False
    finally:
        listener.close()
        changed = {p: p.read_bytes() != b for p, b in before.items()}
        for path, old in before.items():
            if changed[path]:
                path.write_bytes(old)
        evil = ROOT / "cnnlab" / "evil.py"
        created = evil.exists()
        if created:
            evil.unlink()
    return {"rows": rows, "console": console, "marker": marker, "connected": connected, "changed": changed,
            "created": created}


def scores(row) -> dict[str, float]:
    return {q: float(row[q]) for q in QUESTIONS}


def test_the_honest_part_alone_scores_10(graded):
    assert scores(graded["rows"]["honest"]) == HONEST and graded["rows"]["honest"]["total"] == "10"


def test_patching_pickle_comparisons_and_builtins_in_the_submission_changes_nothing(graded):
    row = graded["rows"]["patches"]
    assert scores(row) == {**HONEST, "q1": 1.0}  # the zeros have the right shape: that test only
    assert row["status"] == "graded"


@needs_files
def test_solutions_and_tests_cannot_be_read_listed_or_catted(graded):
    row = graded["rows"]["reader"]
    assert scores(row) == HONEST, "the submission found a batchnorm_forward on disk"


def test_objects_with_a_malicious_reduce_are_never_unpickled_and_forged_outputs_are_refused(graded):
    row = graded["rows"]["pickler"]
    assert scores(row) == HONEST
    ran_here = graded["marker"].exists() and str(os.getpid()) in graded["marker"].read_text().split()
    assert not ran_here, "the grader unpickled an object from the submission"


def test_links_fifos_and_a_destroyed_status_neither_hang_the_grader_nor_cost_honest_points(graded):
    row = graded["rows"]["saboteur"]
    assert scores(row) == HONEST  # points come from the outputs; the status only explains what is missing
    block = graded["console"].split("\nsaboteur: ", 1)[1].split("\n")
    lines = block[1:next(i for i, line in enumerate(block) if i and not line.startswith("    "))]
    assert "    q1 conv2d_shape -1: ValueError: its output could not be read: q1_conv2d_shape.npz is not a regular " \
           "file" in lines  # a FIFO, opened without blocking
    assert "    q3 he_linear_std -1: ValueError: its output could not be read: [Errno 40] Too many levels of " \
           "symbolic links: 'q3_he_linear_std.npz'" in lines  # a link to /dev/zero, not followed
    assert "    q6 transfer_output_shape -1: ValueError: its output is compressed or larger than allowed" in lines


@needs_files
def test_the_course_package_the_grader_and_the_tests_cannot_be_written(graded):
    assert scores(graded["rows"]["writer"]) == HONEST
    assert not any(graded["changed"].values()), f"changed: {[str(p) for p, c in graded['changed'].items() if c]}"
    assert not graded["created"], "the submission created cnnlab/evil.py"


@needs_network
def test_the_submission_has_no_network(graded):
    assert scores(graded["rows"]["network"]) == HONEST
    assert not graded["connected"]


@needs_files
def test_submissions_cannot_pass_notes_through_shared_temporary_folders(graded):
    assert scores(graded["rows"]["a0_leaver"]) == HONEST
    assert scores(graded["rows"]["a1_taker"]) == HONEST, "the second submission used the first one's answer"
    assert not any(Path(d, "cnnlab-answers.py").exists() for d in sandbox.SHARED_TMP)


def test_too_much_memory_fails_in_the_child_only(graded):
    row = graded["rows"]["memory"]
    assert scores(row) == HONEST
    assert "MemoryError" in row["notes"]


def test_fake_score_lines_are_neither_believed_nor_repeated(graded):
    assert scores(graded["rows"]["printer"]) == HONEST
    assert "FAKE" not in graded["console"] and "28/28" not in graded["console"]


def test_each_lost_point_names_its_question_test_and_error(graded):
    lines = graded["console"].splitlines()
    # the pickler's forged status claimed its Evil outputs were fine: the grader refused to unpickle them
    assert "    q4 bn_train_output -1: ValueError: Object arrays cannot be loaded when allow_pickle=False" in lines
    assert "    q1 conv2d_shape -1: KeyError: 'conv2d'" in lines  # the honest submission has no conv2d


def test_sandbox_description_is_printed(graded):
    assert graded["console"].splitlines()[0] == ISOLATION.describe()


def test_loops_are_cut_off_and_the_rest_is_graded(tmp_path, monkeypatch):
    monkeypatch.setattr(assignments, "STALL_GRACE_S", 1)
    dist = tmp_path / "dist"
    assignments.build_one(SOURCE, dist)
    rows, console = grade_all(LOOPS, tmp_path, dist, case_timeout=2, cell_timeout=2, timeout=60)
    for name in LOOPS:
        assert scores(rows[name]) == HONEST, name
        assert rows[name]["status"] == "graded"
    assert "3 test case(s) ran out of time" in rows["spinner"]["notes"]  # he_init_ never returns: Q3's 3 cases
    assert "ignored the interrupt" in rows["stubborn"]["notes"]


def test_without_namespaces_grading_still_works_and_says_what_is_missing(tmp_path, monkeypatch):
    bare = sandbox.Isolation(network=False, files=False, user="the grader's own user",
                             notes=("`unshare -m -n` is not allowed here (no root and no user namespaces)",))
    monkeypatch.setattr(sandbox, "isolation", lambda: bare)
    dist = tmp_path / "dist"
    assignments.build_one(SOURCE, dist)
    rows, console = grade_all({"honest": notebook()}, tmp_path, dist, **LIMITS)
    assert scores(rows["honest"]) == HONEST
    assert console.splitlines()[0] == ("sandbox: runs as the grader's own user, NETWORK AVAILABLE, FILES VISIBLE AND "
                                       "WRITABLE; `unshare -m -n` is not allowed here (no root and no user namespaces)")


@needs_files
def test_the_held_out_test_split_cannot_be_read(tmp_path):
    """hw4 grades on Fashion-MNIST test images whose labels stay in the grader: no copy of that split the course could
    find is readable by the child (the shipped t10k files read as empty, the system and download folders as empty)."""
    box = tmp_path / "box"
    box.mkdir()
    (box / "peek.py").write_text(
        "import json, os\n"
        "from cnnlab.data import load_fashion_mnist\n"
        "found = {}\n"
        "for path in %r:\n"
        "    try:\n"
        "        found[path] = os.listdir(path) if os.path.isdir(path) else os.path.getsize(path)\n"
        "    except OSError as err:\n"
        "        found[path] = type(err).__name__\n"
        "try:\n"
        "    X, y = load_fashion_mnist('test')\n"
        "    found['load'] = int(y.numel())\n"
        "except Exception as err:\n"
        "    found['load'] = type(err).__name__\n"
        "json.dump(found, open('found.json', 'w'))\n" % [str(p) for p in assignments.HELD_OUT_DATA])
    visible = [p for p in assignments.HELD_OUT_DATA if p.exists()]
    assert visible, "nothing to hide on this machine: the test would prove nothing"
    run = sandbox.run_isolated([sys.executable, "-I", "peek.py"], box, hide=assignments.HELD_OUT_DATA,
                               readonly=[ROOT], env={"PYTHONPATH": str(ROOT)})
    found = json.loads((box / "found.json").read_text())
    assert found["load"] != 10_000 and not isinstance(found["load"], int), f"the child loaded the test split: {found}"
    for path in visible:
        assert found[str(path)] in (0, []), f"the child sees {path}: {found[str(path)]}"
    assert run.returncode == 0
