"""Run untrusted code (a student's submission) in a child process that cannot see or change what grades it.

The child gets, where this machine allows it (see `isolation()`):

* no network: a new, empty network namespace (`unshare -n`);
* a private view of the files (`unshare -m`): the repository and the Python installation read-only, the
  folders named in `hide` (the hidden tests, the solutions, the built assignments, the other submissions) covered
  by an empty read-only tmpfs, so they cannot be read, listed or changed, and fresh empty /tmp, /var/tmp,
  /dev/shm and /run/lock, so one submission cannot leave anything for another (its box is bound at INNER_BOX);
* an unprivileged user (`nobody`, via `setpriv`, no capabilities, no new privileges) when the grader runs as root;
* resource limits set with `resource.setrlimit` before it starts: CPU seconds, address space (memory), size of
  the files it writes, number of processes; plus a wall-clock limit after which its whole process group is killed;
* a clean environment: HOME and TMPDIR in its own box folder, one thread, nothing inherited from the grader.

What it cannot prevent without root or user namespaces (the fallback, reported in `Isolation.notes`): reading
world-readable files, writing where the grader's user can write, and using the network. The grading process never
trusts the child anyway: it reads back only `.npy`/`.npz` files with `allow_pickle=False` and a JSON status, and
decides every point itself (tools/assignments.py).
"""

from __future__ import annotations

import functools
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ChildRun", "Isolation", "Limits", "NOBODY", "isolation", "run_isolated"]

NOBODY = 65534  # uid and gid of `nobody` / `nogroup` on Debian and most Linux systems


@dataclass(frozen=True)
class Limits:
    """What one child may use: CPU seconds, wall seconds, address space, file size and process count."""

    cpu_s: int = 600
    wall_s: float = 600.0
    memory_bytes: int = 6 << 30  # address space; torch needs ~4 GiB of it just to import
    file_bytes: int = 256 << 20
    processes: int = 512

    def __post_init__(self) -> None:
        for name in ("cpu_s", "memory_bytes", "file_bytes", "processes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")
        if isinstance(self.wall_s, bool) or not isinstance(self.wall_s, (int, float)) or self.wall_s <= 0:
            raise ValueError(f"Limits.wall_s must be a positive number of seconds, got {self.wall_s!r}")


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the sandbox do; `notes` says in words what is missing and why."""

    network: bool  # the child has no network
    files: bool  # hidden folders are invisible and the repository and Python are read-only for the child
    user: str  # the user the child runs as
    wrapper: tuple[str, ...] = ()  # the command prefix that gives the namespaces
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One line for the instructor: what the sandbox does here and what it does not."""
        does = [f"runs as {self.user}"]
        does.append("no network" if self.network else "NETWORK AVAILABLE")
        does.append("hidden folders invisible, course read-only" if self.files else "FILES VISIBLE AND WRITABLE")
        return "sandbox: " + ", ".join(does) + "".join(f"; {n}" for n in self.notes)


def _works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=1)
def isolation() -> Isolation:
    """Probe once what this machine allows: namespaces with mounts (as root or via a user namespace), setpriv."""
    notes = []
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    root = os.geteuid() == 0
    wrapper: tuple[str, ...] = ()
    if unshare is None:
        notes.append("no `unshare` command (util-linux)")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            probe = f"mount -t tmpfs -o ro,size=16k cnnlab-probe {shlex.quote(tmp)}"
            # -p -f --kill-child: a new PID namespace whose processes all die with the child, setsid or not
            pid_ns = ["-p", "-f", "--kill-child"]
            for candidate in ([unshare, "-m", "-n", *pid_ns], [unshare, "-r", "-m", "-n", *pid_ns]):
                if (root or "-r" in candidate) and _works([*candidate, "sh", "-c", probe]):
                    wrapper = tuple(candidate)
                    break
        if not wrapper:
            notes.append("`unshare -m -n` is not allowed here (no root and no user namespaces)")
    user = "the grader's own user"
    if root and wrapper and "-r" not in wrapper:
        if setpriv is not None and _works([setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                                           "--no-new-privs", "true"]):
            user = "nobody"
        else:
            notes.append("cannot switch to `nobody` (no setpriv)")
    elif root:
        notes.append("runs as root: no way found to drop privileges")
    return Isolation(network=bool(wrapper), files=bool(wrapper), user=user, wrapper=wrapper, notes=tuple(notes))


@dataclass
class ChildRun:
    """How the child ended: return code (negative: killed by that signal), whether it hit the wall clock, seconds."""

    returncode: int
    timed_out: bool
    wall_s: float
    stopped: bool = False  # `watch` asked to stop it


SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # world-writable: one submission could leave notes
INNER_BOX = "/tmp/cnnlab-box"  # where the child finds its box when /tmp is private


def _private_tmp(keep: list[Path]) -> tuple[list[Path], list[Path]]:
    """The shared temporary folders to replace by private ones (all that exist), and the folders of `keep` inside them
    that the child still needs (a course or a Python installed under /tmp): those are bound back, read-only."""
    private = [Path(d) for d in SHARED_TMP if Path(d).is_dir() and Path(d) not in keep]
    inside = [k for k in keep if any(p in k.parents for p in private)]
    return private, [k for k in inside if not any(other in k.parents for other in inside)]


def _prelude(iso: Isolation, readonly: list[Path], hide: list[Path], private: list[Path], argv: list[str],
             rebind: list[Path] = ()) -> list[str]:
    """The shell command run inside the new namespaces: private tmpfs over the shared temporary folders (the folders
    of `rebind` inside them bound back through file descriptors opened before, the box, the current folder, at
    INNER_BOX), then read-only binds, tmpfs over hidden folders, and a drop to nobody."""
    if len(rebind) > 7:
        raise ValueError(f"at most 7 folders can be bound back into private temporary folders, got {len(rebind)}")
    steps = [f"exec {fd}<{shlex.quote(str(path))}" for fd, path in enumerate(rebind, start=3)]
    for path in private:
        steps.append(f"mount -t tmpfs -o size=256m,mode=1777 cnnlab-tmp {shlex.quote(str(path))}")
    for fd, path in enumerate(rebind, start=3):
        q = shlex.quote(str(path))
        # --no-canonicalize: mount(8) would resolve the descriptor's path again, now inside the new tmpfs
        steps.append(f"mkdir -p {q} && mount --no-canonicalize --bind /proc/self/fd/{fd} {q} && exec {fd}<&-")
    if Path("/tmp") in private:  # /proc/self/cwd still leads to the box the tmpfs now covers
        steps.append(f"mkdir {INNER_BOX} && mount --no-canonicalize --bind /proc/self/cwd {INNER_BOX} && cd {INNER_BOX}")
    for path in readonly:
        q = shlex.quote(str(path))
        steps.append(f"mount --bind {q} {q} && mount -o remount,bind,ro {q}")
    for path in hide:
        q = shlex.quote(str(path))
        if path.is_dir():
            steps.append(f"mount -t tmpfs -o ro,size=16k,mode=0555 cnnlab-hidden {q}")
        else:  # a single file reads as empty
            steps.append(f"mount --bind /dev/null {q} && mount -o remount,bind,ro {q}")
    run = shlex.join(argv)
    if iso.user == "nobody":
        run = shlex.join([shutil.which("setpriv") or "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                          "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", *argv])
    steps.append(f"exec {run}")
    return [*iso.wrapper, "sh", "-c", " && ".join(steps)]


def _existing_dirs(paths) -> list[Path]:
    """Real, existing folders, outermost first, each once (a path inside another read-only one is kept: harmless)."""
    seen, out = set(), []
    for p in paths:
        real = Path(os.path.realpath(p))
        if real.is_dir() and real not in seen:
            seen.add(real)
            out.append(real)
    return sorted(out, key=lambda p: len(p.parts))


def run_isolated(argv: list[str], box: Path, *, hide: list[Path] = (), readonly: list[Path] = (),
                 limits: Limits = Limits(), log: Path | None = None, env: dict[str, str] | None = None,
                 watch: Callable[[], bool] | None = None) -> ChildRun:
    """Run `argv` in `box` (its working folder, given to the child) under `isolation()` and `limits`.

    `hide` folders become empty for the child and `hide` files read as empty; `readonly` folders (and the Python
    installation) are read-only. The child's stdout and stderr go to `log` (or nowhere): the caller never parses
    them. `watch()`, called every 0.2 s, may return True to stop the child early (a watchdog: the child ignored its
    own time limits).
    """
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be a sandbox.Limits, got {type(limits).__name__}")
    box = Path(box)
    if not box.is_dir():
        raise ValueError(f"box must be an existing folder, got {box}")
    iso = isolation()
    threads = "1"
    ro = _existing_dirs([*readonly, sys.prefix, sys.base_prefix])
    private, rebind = _private_tmp([*ro, Path(os.path.realpath(sys.executable)).parent]) if iso.files else ([], [])
    inner = Path(INNER_BOX) if Path("/tmp") in private else box  # the box as the child sees it
    child_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(inner), "TMPDIR": str(inner / "tmp"),
                 "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(inner / "tmp"), "PYTHONDONTWRITEBYTECODE": "1",
                 "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                 "LANG": "C.UTF-8", "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    (box / "tmp").mkdir(exist_ok=True)  # also MPLCONFIGDIR: a caller may put matplotlib's font list there
    if iso.user == "nobody":
        for path in [box, *box.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
    command = list(argv)
    real_box = Path(os.path.realpath(box))
    given_hide = list(hide)
    hide = [h for h in _existing_dirs(hide) if h != real_box and h not in real_box.parents]  # never hide the box
    hide = [h for h in hide if not any(other in h.parents for other in hide)]  # inside a hidden one: hidden already
    hidden_files = sorted({Path(os.path.realpath(p)) for p in given_hide if os.path.isfile(p)})
    hide += [f for f in hidden_files if not any(folder in f.parents for folder in hide)]
    # inside a private temporary folder and not bound back: gone for the child already (and no place to mount on)
    hide = [h for h in hide if not any(p in h.parents for p in private) or any(k in h.parents for k in rebind)]
    if iso.files:
        command = _prelude(iso, ro, hide, private, command, rebind)

    def limit() -> None:  # runs in the child between fork and exec; inherited by everything it starts
        for which, value in ((resource.RLIMIT_CPU, limits.cpu_s), (resource.RLIMIT_AS, limits.memory_bytes),
                             (resource.RLIMIT_FSIZE, limits.file_bytes), (resource.RLIMIT_NPROC, limits.processes),
                             (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(which, (value, value))

    out = open(log, "wb") if log is not None else subprocess.DEVNULL
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(command, cwd=box, env=child_env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=limit, start_new_session=True)
        timed_out = stopped = False
        deadline = start + limits.wall_s
        try:
            while proc.poll() is None:
                if time.perf_counter() > deadline:
                    timed_out = True
                    break
                if watch is not None and watch():
                    stopped = True
                    break
                try:
                    proc.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            try:  # the whole session: whatever the child started dies with it
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            returncode = proc.wait()
    finally:
        if log is not None:
            out.close()
    return ChildRun(returncode=returncode, timed_out=timed_out, wall_s=time.perf_counter() - start, stopped=stopped)
