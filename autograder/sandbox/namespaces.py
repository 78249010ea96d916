"""The student's kernel's view of the machine: bubblewrap namespaces, an unprivileged user, a capped
socket folder; which protections this machine gives (`protections`, `available`, `off_notes`); and
`Box`, one submission's folders and cgroup, which prefixes the kernel's command with all of it.

- **bubblewrap** (`bwrap`): new pid, network, ipc, uts and mount namespaces. The file view holds
  the system (`/usr`, `/etc`), the Python environment, `labtools` and `course_config.py`, the
  lab data and cache, all read-only; the kernel's socket folder; the grader's argument folder
  (read-only); private, size-capped tmpfs for the working folder, `/tmp` and `/dev/shm`. Not the
  checkout, its `.git`, the grader's code (masked where it was pip-installed), the gradebook or
  any other submission. When the grader lets go, bwrap and everything in its pid namespace die.
- **setpriv**: student processes run as `SANDBOX_USER` with no capabilities (only when the grader
  is root; never root mapped into a user namespace).
- **cgroup**: the box's `Cgroup` (cgroups.py), which the kernel's command joins first.
- **the kernel's socket folder** is a small tmpfs (`KERNEL_DIR_LIMIT_MB`) mounted by the grader
  over the box's folder, so the one place the kernel may write that the grader also sees is not
  the host's disk; unmounted when the box closes.

Each protection that cannot be had here is off, and `off_notes()` says which and why, for the report.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import course_config
from autograder.sandbox.cgroups import Cgroup

HOME = "/home/student"  # the kernel's working folder inside the sandbox (a tmpfs)
MB = 2**20
KERNEL_DIR_LIMIT_MB = 4  # a connection file and a few sockets need a few kilobytes
KERNEL_DIR_INODES = 256  # sockets of the kernel and of up to MAX_FRESH_KERNELS fresh ones


@dataclass(frozen=True)
class Protection:
    name: str
    on: bool
    why_off: str = ""


def sandbox_user() -> tuple[int, int]:
    """(uid, gid) of SANDBOX_USER: a user name, or a number for a uid without a passwd entry."""
    user = course_config.SANDBOX_USER
    if user.isdigit():
        return int(user), int(user)
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


@functools.lru_cache(maxsize=None)
def protections() -> tuple[Protection, ...]:
    """What isolation this machine gives student code, each with the reason when it is off."""
    root = os.geteuid() == 0
    user_problem = None if root else f"the grader runs as uid {os.geteuid()}, not root, so student code runs as that user"
    if root:
        try:
            sandbox_user()
        except KeyError:
            user_problem = f"the sandbox user {course_config.SANDBOX_USER!r} does not exist"
    return (
        Protection("separate user", user_problem is None, user_problem or ""),
        Protection("namespaces", _namespace_problem(user_problem is None) is None, _namespace_problem(user_problem is None) or ""),
        Protection("cgroup limits", Cgroup.problem() is None, Cgroup.problem() or ""),
        Protection("kernel folder cap", _mount_problem(root) is None, _mount_problem(root) or ""),
    )


def is_on(name: str) -> bool:
    return next(p.on for p in protections() if p.name == name)


def available() -> bool:
    """Every protection is on (the grader is root with bubblewrap and cgroups)."""
    return all(p.on for p in protections())


def off_notes() -> list[str]:
    """One line per protection that is off, with its reason (for each report)."""
    consequence = {"separate user": "student code ran as the grader's own user",
                   "namespaces": "student code could see this machine's files, processes and network",
                   "cgroup limits": "memory was watched by sampling, processes, CPU and disk were not limited, "
                                    "and time limits counted wall-clock seconds, not CPU time",
                   "kernel folder cap": "the kernel's socket folder, on the grader's disk, had no size limit"}
    return [f"Sandbox protection off: {p.name} ({p.why_off}); {consequence[p.name]}." for p in protections() if not p.on]


@functools.lru_cache(maxsize=None)
def _namespace_problem(separate_user: bool) -> str | None:
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "kernel").mkdir()
        (Path(folder) / "inputs").mkdir()
        os.chmod(folder, 0o755)
        probe = [*_bwrap(Path(folder) / "kernel", Path(folder) / "inputs"), *_setpriv(separate_user),
                 sys.executable, "-c", "import course_config, labtools, ipykernel"]
        try:
            run = subprocess.run(probe, cwd="/", capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bwrap could not start: {error}"
    if run.returncode != 0:
        return f"bwrap could not start Python in a sandbox here: {run.stderr.decode(errors='replace').strip()[-300:]}"
    return None


@functools.lru_cache(maxsize=None)
def _mount_problem(root: bool) -> str | None:
    """Why a size-capped tmpfs cannot be mounted over the kernel's folder here, or None."""
    if not root:
        return "mounting a tmpfs needs root"
    with tempfile.TemporaryDirectory() as folder:
        try:
            _mount_tmpfs(Path(folder), os.getuid(), os.getgid())
        except (OSError, subprocess.SubprocessError) as error:
            return f"a tmpfs could not be mounted ({error})"
        _unmount(Path(folder))
    return None


def _mount_tmpfs(path: Path, uid: int, gid: int) -> None:
    options = f"size={KERNEL_DIR_LIMIT_MB}m,nr_inodes={KERNEL_DIR_INODES},mode=0700,uid={uid},gid={gid},nodev,nosuid,noexec"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "autograder-kernel", str(path)],
                   check=True, capture_output=True, timeout=30)


def _unmount(path: Path) -> None:
    # Lazy: a process of the kernel that is still dying may hold it; the host's view is gone at once.
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def _setpriv(separate_user: bool) -> list[str]:
    if not separate_user:
        return []
    uid, gid = sandbox_user()
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"]


def _bwrap(kernel_dir: Path, inputs_dir: Path) -> list[str]:
    """bwrap with the file view described above (each path mounted at its own name)."""
    read_only = {str(p) for p in ("/usr", "/etc", sys.base_prefix, sys.prefix, course_config.DATA_DIR,
                                  course_config.CACHE_DIR, course_config.__file__, *_student_packages())}
    mounts = [("--ro-bind", p) for p in read_only if os.path.exists(p)]
    mounts += [("--tmpfs", "/tmp"), ("--tmpfs", "/dev/shm"), ("--tmpfs", HOME),
               ("--bind", str(kernel_dir)), ("--ro-bind", str(inputs_dir))]
    mounts += [("--mask", str(p)) for p in _grader_packages()]
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if os.geteuid() != 0:
        args.append("--unshare-user")
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
    args += ["--proc", "/proc", "--dev", "/dev"]
    made, bound = {"/", "/dev"}, []
    for kind, path in sorted(mounts, key=lambda m: (m[1].count("/"), m[0] != "--tmpfs")):
        for parent in reversed(Path(path).parents):
            if str(parent) not in made and not any(parent.is_relative_to(b) for b in bound):
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        made.add(path)
        if kind == "--tmpfs":
            size = course_config.SCRATCH_LIMIT_MB * MB
            args += ["--perms", "1777", "--size", str(size), "--tmpfs", path]
        elif kind == "--mask":
            args += ["--perms", "0755", "--size", "4096", "--tmpfs", path]
        else:
            args += [kind, path, path]
            bound.append(Path(path))
    # Found where the grader found them, however they were installed.
    python_path = {str(Path(course_config.__file__).parent), *(str(p.parent) for p in _student_packages())}
    return args + ["--chdir", HOME, "--setenv", "HOME", HOME, "--setenv", "PYTHONPATH", os.pathsep.join(sorted(python_path))]


def _student_packages() -> list[Path]:
    import labtools

    return [Path(labtools.__file__).parent]


def _grader_packages() -> list[Path]:
    """The grader's code where it lies inside a folder the sandbox sees (a pip-installed copy)."""
    import autograder

    folder = Path(autograder.__file__).parent
    seen = [Path(sys.prefix), Path(sys.base_prefix)]
    return [folder] if any(folder.is_relative_to(p) for p in seen) else []


@dataclass
class Box:
    """One submission's sandbox: its folders on the grader's side and its cgroup."""

    folder: Path
    cgroup: Cgroup | None
    mounted: bool = False

    @classmethod
    def create(cls, folder: Path, label: str) -> Box:
        kernel_dir, inputs = folder / "kernel", folder / "inputs"
        kernel_dir.mkdir(mode=0o700)
        inputs.mkdir(mode=0o755)
        (folder / "work").mkdir(mode=0o700)
        owner = os.getuid(), os.getgid()
        if is_on("separate user"):
            os.chmod(folder, 0o711)  # the sandbox user may pass through to its own folders
            owner = sandbox_user()
            os.chown(kernel_dir, *owner)  # the kernel makes its sockets here
            if not is_on("namespaces"):
                os.chmod(folder / "work", 0o777)
        box = cls(folder, Cgroup(label) if is_on("cgroup limits") else None)
        if is_on("kernel folder cap"):
            try:
                _mount_tmpfs(kernel_dir, *owner)
            except Exception:
                box.close()
                raise
            box.mounted = True
        return box

    @property
    def kernel_dir(self) -> Path:
        return self.folder / "kernel"

    @property
    def inputs(self) -> Path:
        return self.folder / "inputs"

    @property
    def workdir(self) -> str:
        """The kernel's working folder, as the kernel sees it."""
        return HOME if is_on("namespaces") else str(self.folder / "work")

    def command(self, kernel_cmd: list[str]) -> list[str]:
        prefix = self.cgroup.enter_command() if self.cgroup else []
        if is_on("namespaces"):
            prefix += _bwrap(self.kernel_dir, self.inputs)
        return prefix + _setpriv(is_on("separate user")) + kernel_cmd

    def close(self) -> None:
        if self.cgroup:
            self.cgroup.remove()
        if self.mounted:
            _unmount(self.kernel_dir)
            self.mounted = False
