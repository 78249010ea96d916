"""The Jupyter kernel manager that starts the student's kernel inside its Box (namespaces, user,
cgroup), over Unix sockets in the box's kernel folder, with /dev/null as its stdin, stdout and
stderr, never the grader's (whose stdout may be a batch worker's result pipe)."""

from __future__ import annotations

import os
import subprocess

import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager

import course_config
from autograder.sandbox import namespaces
from autograder.sandbox.namespaces import Box


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
        if namespaces.is_on("separate user"):
            os.chown(self.connection_file, *namespaces.sandbox_user())  # the kernel must read its connection file
        if namespaces.is_on("namespaces"):
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
