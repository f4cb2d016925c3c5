"""dynabox kernel worker: runs cells in one persistent globals dict, like a notebook.

Started by kernel.py with two pipe descriptors for its control channel. Its stdout and stderr
are pipes that the supervisor reads and caps, so user code may print anything.
"""

import ast
import ctypes
import json
import linecache
import os
import resource
import signal
import sys
import time
import traceback
import types

from worker_messages import (
    CALL_ARGS_LIMIT,
    CALL_NAME_LIMIT,
    EVENT_NAME_LIMIT,
    EVENT_VALUES_LIMIT,
    EVENTS_LIMIT,
    VALUE_LIMIT,
    clip,
    count_values,
    more_values_than,
)

# The supervisor cuts or refuses oversized fields too (it must: user code can write into our
# control pipe); checking here first gives the cell a plain Python error and keeps its state.
ERROR_TEXT_LIMIT = 16 * 1024


class Channel:
    def __init__(self, read_fd, write_fd):
        self.reader = os.fdopen(read_fd, "rb", buffering=0)
        self.write_fd = write_fd
        self.buffer = bytearray()

    def send(self, message):
        data = (json.dumps(message, default=repr) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view):]

    def receive(self):
        while True:
            newline = self.buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self.buffer[:newline])
                del self.buffer[: newline + 1]
                # Only the supervisor should write here, but a cell can reach this pipe through
                # /proc/self/fd: what is not a JSON object is not a message.
                try:
                    message = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(message, dict):
                    return message
                continue
            chunk = self.reader.read(65536)
            if not chunk:
                os._exit(0)  # the supervisor is gone
            self.buffer += chunk


class Kernel:
    def __init__(self, channel):
        self.channel = channel
        self.pid = os.getpid()
        self.cell_id = None
        self.cell_count = 0
        self.events = []
        self.events_size = 0
        self.events_values = 0
        self.in_user_code = False
        # The user's namespace is a real __main__ module, so that pickle and multiprocessing
        # find functions and classes defined in cells.
        main_module = types.ModuleType("__main__")
        main_module.__dict__["__builtins__"] = __builtins__
        sys.modules["__main__"] = main_module
        self.namespace = main_module.__dict__
        signal.signal(signal.SIGINT, self.on_interrupt)
        sys.modules["dynabox"] = self.make_module()

    def on_interrupt(self, signum, frame):
        # Only user code is interrupted; a late interrupt must not break the protocol.
        if self.in_user_code:
            raise KeyboardInterrupt

    def make_module(self):
        """`import dynabox` inside the sandbox: host calls and events for the host."""
        module = types.ModuleType("dynabox")
        module.host_call = self.host_call
        module.emit = self.emit
        module.namespace = self.namespace
        return module

    def host_call(self, name, args=None):
        """Asks the host to do something it alone can (search the action library, ...)."""
        name = str(name)
        if len(name) > CALL_NAME_LIMIT:
            raise ValueError("host call names are at most %d characters" % CALL_NAME_LIMIT)
        encoded = json.dumps(args, default=repr)
        if len(encoded) > CALL_ARGS_LIMIT:
            raise ValueError("host call %s: the arguments are %d bytes as JSON, over the limit of %d"
                             % (name, len(encoded), CALL_ARGS_LIMIT))
        self.channel.send({"type": "call", "id": self.cell_id, "name": name, "args": json.loads(encoded)})
        reply = self.channel.receive()
        while reply.get("type") != "call-result":
            reply = self.channel.receive()
        if not reply.get("ok"):
            raise RuntimeError("host call %s failed: %s" % (name, reply.get("error")))
        return reply.get("value")

    def emit(self, name, payload=None):
        """Attaches an event (e.g. a submitted answer) to the current cell's result."""
        name = str(name)
        if len(name) > EVENT_NAME_LIMIT:
            raise ValueError("event names are at most %d characters" % EVENT_NAME_LIMIT)
        size = len(json.dumps(payload, default=repr)) + len(name)
        if self.events_size + size > EVENTS_LIMIT:
            raise ValueError("this event would make the cell's events %d bytes as JSON, over the limit of %d"
                             % (self.events_size + size, EVENTS_LIMIT))
        values = count_values(payload, EVENT_VALUES_LIMIT) + 4  # the event object, its keys and name
        if self.events_values + values > EVENT_VALUES_LIMIT:
            raise ValueError("this event would make the cell's events hold over %d JSON values, over the limit"
                             % EVENT_VALUES_LIMIT)
        self.events_values += values
        self.events_size += size
        self.events.append({"name": name, "payload": payload})

    def run_cell(self, code):
        self.cell_count += 1
        filename = "<cell-%d>" % self.cell_count
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            tree = ast.parse(code, filename=filename, mode="exec")
        except SyntaxError:
            return None, self.describe_error(skip_frames=0)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        try:
            self.in_user_code = True
            exec(compile(tree, filename, "exec"), self.namespace)
            value = eval(compile(last, filename, "eval"), self.namespace) if last is not None else None
            self.in_user_code = False
        except BaseException:
            self.in_user_code = False
            if os.getpid() != self.pid:
                os._exit(1)  # a forked child must never answer for the kernel
            return None, self.describe_error(skip_frames=1)
        if value is None:
            return None, None
        self.namespace["_"] = value
        try:
            text = repr(value)
        except BaseException as error:  # a broken __repr__ is the user's problem, not ours
            text = "<repr failed: %s>" % type(error).__name__
        return clip(text, VALUE_LIMIT), None

    def describe_error(self, skip_frames):
        kind, error, trace = sys.exc_info()
        for _ in range(skip_frames):
            if trace is not None:
                trace = trace.tb_next
        summary = traceback.TracebackException(kind, error, trace)
        # Frames of this file (the interrupt handler, host calls) are ours, not the user's.
        summary.stack = traceback.StackSummary.from_list(
            [frame for frame in summary.stack if frame.filename != __file__]
        )
        lines = list(summary.format())
        try:
            message = str(error)
        except BaseException:  # a broken __str__ is the user's problem, not ours
            message = "<str failed>"
        return {
            "name": clip(kind.__name__, 256),
            "message": clip(message, ERROR_TEXT_LIMIT),
            "traceback": clip("".join(lines), 4 * ERROR_TEXT_LIMIT),
        }

    def serve(self):
        self.channel.send({"type": "ready", "pid": self.pid})
        while True:
            request = self.channel.receive()
            if request.get("type") == "reap":
                reap_zombies()
                continue
            if request.get("type") != "exec":
                continue
            self.cell_id = request.get("id")
            self.events = []
            self.events_size = 0
            self.events_values = 0
            start_times = os.times()
            value, error = self.run_cell(request.get("code", ""))
            if os.getpid() != self.pid:
                os._exit(0)
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            end_times = os.times()
            cpu = sum(end_times[:4]) - sum(start_times[:4])
            peak_kb = max(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            )
            events = self.events
            if events and (len(json.dumps(events, default=repr)) > EVENTS_LIMIT or more_values_than(events, EVENT_VALUES_LIMIT)):
                # A payload grew after it was emitted: the events go, the cell says why.
                events = []
                error = {"name": "DynaboxLimitError", "traceback": "",
                         "message": "the cell's events are over the limit of %d bytes as JSON or %d values; they were dropped"
                         % (EVENTS_LIMIT, EVENT_VALUES_LIMIT)}
            self.channel.send({
                "type": "done",
                "id": self.cell_id,
                "value": value,
                "error": error,
                "events": events,
                "cpu_ms": round(cpu * 1000, 3),
                "peak_mem_mb": round(peak_kb / 1024, 1),
            })


def reap_zombies():
    """After a timeout the supervisor killed our children: collect them, or they hold pids."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def shield_from_other_processes():
    """Keeps other processes of the sandbox user (shell commands, their children) away from our
    control pipe: a process that is not dumpable has its /proc/<pid>/fd owned by root. First
    make ourselves the OOM killer's choice, which needs our /proc files still ours."""
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def main():
    shield_from_other_processes()
    read_fd, write_fd = int(sys.argv[1]), int(sys.argv[2])
    os.set_inheritable(read_fd, False)
    os.set_inheritable(write_fd, False)
    channel = Channel(read_fd, write_fd)
    # The supervisor's copy of the code must not be importable as user modules' neighbours.
    sys.path[:] = [path for path in sys.path if path != os.path.dirname(os.path.abspath(__file__))]
    sys.argv = [""]
    os.chdir(os.environ.get("DYNABOX_WORKSPACE", "/workspace"))
    sys.path.insert(0, "")
    Kernel(channel).serve()


if __name__ == "__main__":
    main()
