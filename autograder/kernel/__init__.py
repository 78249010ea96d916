"""The student's kernel and the protocol the grader speaks with it.

- `session.py`: the grader's side. `KernelSession` runs the notebook in a sandboxed Jupyter kernel
  under its limits, then calls the notebook's functions for the checks.
- `server.py`: the kernel's side. Its source is sent into the kernel with each request (never
  imported there: the kernel cannot import the grader), where it calls a function or reads a
  variable and sends back what came out as plain data.
- `wire.py`: the protocol itself, both directions: the arguments the grader sends
  (`ArgumentWriter`), the validated decoding of the kernel's replies (`decode`), and the limits
  both sides count (`MAX_DEPTH`, `MAX_ITEMS`).
- `safe_outputs.py`: the executed notebook's outputs made safe to keep and show.
- `speed.py`: where CPU time cannot be counted, how much slower this machine runs now.
"""
