"""Isolation for the student's kernel: bubblewrap namespaces, an unprivileged user, cgroup limits.

The kernel, the only process that runs student code, starts as

    sh (joins the submission's cgroup) -> bwrap (namespaces, file view) -> setpriv (sandbox user) -> ipykernel

- **bubblewrap** (`bwrap`): new pid, network, ipc, uts and mount namespaces. The file view holds
  the system (`/usr`, `/etc`), the Python environment, `labtools` and `course_config.py`, the
  lab data and cache, all read-only; the kernel's socket folder; the grader's argument folder
  (read-only); private, size-capped tmpfs for the working folder, `/tmp` and `/dev/shm`. Not the
  checkout, its `.git`, the grader's code (masked where it was pip-installed), the gradebook or
  any other submission. When the grader lets go, bwrap and everything in its pid namespace die.
- **setpriv**: student processes run as `SANDBOX_USER` with no capabilities (only when the grader
  is root; never root mapped into a user namespace).
- **cgroup** (v1 `memory`, `pids`, `cpu`, `cpuacct`, or v2): one per submission, counting every
  process and tmpfs page: memory, number of processes, CPU quota (`KERNEL_CPUS` cores) and CPU time
  used (what the time limits count, see kernel.py).
- **the kernel's socket folder** is a small tmpfs (`KERNEL_DIR_LIMIT_MB`) mounted by the grader
  over the box's folder, so the one place the kernel may write that the grader also sees is not
  the host's disk; unmounted when the box closes.
- **stdio**: the kernel's stdin, stdout and stderr are /dev/null, never the grader's (whose stdout
  may be a batch worker's result pipe).

Each protection that cannot be had here is off, and `off_notes()` says which and why, for the report.
"""

from __future__ import annotations

import functools
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager

import course_config

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


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel started in its Box, over Unix sockets in the box's kernel folder, whose client
    refuses any message over MAX_MESSAGE_BYTES before reading it (zmq's MAXMSGSIZE)."""

    box: Box

    def __init__(self, **kwargs):
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", str(self.box.kernel_dir / "ipc"))
        kwargs.setdefault("connection_file", str(self.box.kernel_dir / "connection.json"))
        super().__init__(**kwargs)

    @classmethod
    def in_box(cls, box: Box) -> type[SandboxedKernelManager]:
        """This class bound to `box` (nbclient takes a class, not an instance)."""
        return type(cls.__name__, (cls,), {"box": box})

    def client(self, **kwargs):
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, course_config.MAX_MESSAGE_BYTES)
        return super().client(context=context, **kwargs)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw):
        if is_on("separate user"):
            os.chown(self.connection_file, *sandbox_user())  # the kernel must read its connection file
        if is_on("namespaces"):
            # Its parent is bwrap, pid 1 of its namespace, which ipykernel would take for
            # "orphaned": say so (1 turns its parent polling off; bwrap --die-with-parent ends
            # the kernel with the grader).
            kernel_cmd = [*kernel_cmd, "--IPKernelApp.parent_handle=1"]
            # A signal to bwrap does not reach the kernel: interrupt it with a control message.
            self.kernel_spec.interrupt_mode = "message"
        # Student code (and every process it starts) writing to fd 0-2 must not reach the grader's
        # own output, which in a batch is the worker's result pipe.
        kw.update(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return await super()._async_launch_kernel(self.box.command(kernel_cmd), **kw)


class Cgroup:
    """A cgroup for one submission: memory (tmpfs pages included), number of processes, CPU.
    v1 (a hierarchy per controller) or v2 (one unified hierarchy), below the grader's own cgroup."""

    ROOT = Path("/sys/fs/cgroup")
    # (v1 controller, v1 file, v2 file) for each reading and limit
    FILES = {
        "memory.limit": ("memory", "memory.limit_in_bytes", "memory.max"),
        "memory.swap": ("memory", "memory.memsw.limit_in_bytes", "memory.swap.max"),
        "memory.peak": ("memory", "memory.max_usage_in_bytes", "memory.peak"),
        "memory.events": ("memory", "memory.oom_control", "memory.events"),
        "pids.max": ("pids", "pids.max", "pids.max"),
        "pids.events": ("pids", "pids.events", "pids.events"),
        "cpu.quota": ("cpu", "cpu.cfs_quota_us", "cpu.max"),
        "cpu.usage": ("cpuacct", "cpuacct.usage", "cpu.stat"),  # v1 nanoseconds, v2 usage_usec
    }

    def __init__(self, label: str):
        self.v2 = (self.ROOT / "cgroup.controllers").exists()
        name = f"autograder-{label}-{uuid.uuid4().hex[:8]}"
        controllers = ["unified"] if self.v2 else ["memory", "pids", "cpu", "cpuacct"]
        self.paths = {c: self._own(c) / name for c in controllers}  # cpu and cpuacct may share one
        try:
            for path in self.folders:
                path.mkdir()
            self._set_limits()
        except OSError:
            self.remove()
            raise

    def _set_limits(self) -> None:
        memory = int(course_config.MEMORY_LIMIT_GB * 2**30)
        self._write("memory.limit", memory)
        self._write("memory.swap", 0 if self.v2 else memory, required=False)  # no swapping past the limit
        self._write("pids.max", course_config.MAX_PROCESSES)
        period = 100_000
        quota = int(course_config.KERNEL_CPUS * period)
        self._write("cpu.quota", f"{quota} {period}" if self.v2 else quota)

    @classmethod
    @functools.lru_cache(maxsize=None)
    def problem(cls) -> str | None:
        """Why per-submission cgroups cannot be made here, or None."""
        if os.geteuid() != 0:
            return "creating cgroups needs root"
        try:
            Cgroup("probe").remove()
        except (OSError, ValueError) as error:
            return f"no writable cgroup for memory, pids, cpu and cpuacct ({error})"
        return None

    @property
    def folders(self) -> list[Path]:
        return list(dict.fromkeys(self.paths.values()))

    def _own(self, controller: str) -> Path:
        """The grader's own cgroup in that hierarchy (limits of a container apply to children)."""
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if (self.v2 and controllers == "") or controller in controllers.split(","):
                base = self.ROOT if self.v2 else self.ROOT / controller
                return base / path.lstrip("/")
        raise ValueError(f"the grader is in no {controller} cgroup")

    def _file(self, key: str) -> Path:
        controller, v1, v2 = self.FILES[key]
        return self.paths["unified"] / v2 if self.v2 else self.paths[controller] / v1

    def _write(self, key: str, value, required: bool = True) -> None:
        try:
            self._file(key).write_text(str(value))
        except OSError:
            if required:
                raise

    def _read_number(self, key: str, field: str | None = None) -> int:
        try:
            text = self._file(key).read_text()
        except OSError:
            return 0
        if field is None:
            return int(text.strip()) if text.strip().isdigit() else 0
        for line in text.splitlines():
            if line.split()[:1] == [field]:
                return int(line.split()[1])
        return 0

    def enter_command(self) -> list[str]:
        """A prefix that moves the process into this cgroup, then execs the rest of the command."""
        joins = " && ".join(f"echo $$ > {shlex.quote(str(p / 'cgroup.procs'))}" for p in self.folders)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh"]

    @property
    def cpu_seconds(self) -> float:
        """CPU time of every process that ran in this cgroup, exited ones included."""
        if self.v2:
            return self._read_number("cpu.usage", "usage_usec") / 1e6
        return self._read_number("cpu.usage") / 1e9

    @property
    def peak_bytes(self) -> int:
        return self._read_number("memory.peak")

    @property
    def oom_kills(self) -> int:
        return self._read_number("memory.events", "oom_kill")

    @property
    def process_limit_hits(self) -> int:
        return self._read_number("pids.events", "max")

    def pids(self) -> set[int]:
        found = set()
        for path in self.folders:
            try:
                found |= {int(p) for p in (path / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def kill(self) -> None:
        """SIGKILL every process in it (once: some may be starting)."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def remove(self) -> None:
        """Kill whatever is left in it, then remove it."""
        for _ in range(50):
            if not self.pids():
                break
            self.kill()
            time.sleep(0.1)
        for path in self.folders:
            try:
                path.rmdir()
            except OSError:
                pass


class MemoryWatch:
    """Without cgroups: kill a process tree whose resident memory passes a limit (sampled)."""

    def __init__(self, pid: int, limit_gb: float | None = None, interval_s: float = 0.2):
        limit_gb = course_config.MEMORY_LIMIT_GB if limit_gb is None else limit_gb
        self.pid, self.limit_bytes, self.interval_s = pid, limit_gb * 2**30, interval_s
        self.peak_bytes = 0
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def tree_rss(self) -> int:
        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _watch(self) -> None:
        while not self._stop.is_set():
            rss = self.tree_rss()
            self.peak_bytes = max(self.peak_bytes, rss)
            if rss > self.limit_bytes:
                self.exceeded = True
                kill_tree(self.pid)
                return
            time.sleep(self.interval_s)


def kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        processes = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for process in processes:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
