"""Isolation for the student's kernel, the only process that runs student code. It starts as

    sh (joins the submission's cgroup) -> bwrap (namespaces, file view) -> setpriv (sandbox user) -> ipykernel

One idea per module:

- `namespaces`: bubblewrap and setpriv command lines, the sandbox user, the kernel folder's tmpfs,
  which protections are on here (`available`, `off_notes`), and `Box`, one submission's sandbox.
- `cgroups`: cgroup file layouts (v1, v2): `Cgroup`, one submission's limits and CPU time, and
  what the grader itself may use (memory, CPU quota, cores).
- `memory_watch`: without cgroups, a sampled memory limit on a process tree; `kill_tree`.
- `kernel_manager`: `SandboxedKernelManager`, the Jupyter kernel manager that starts the kernel
  in its box.
"""
