"""dynabox kernel supervisor: the container's main process (PID 1).

The host talks to this process with one JSON message per line over the container's attached
stdin and stdout. It runs user code in a separate worker process (worker.py) that keeps the
notebook-like state, and it is the only process that holds the container's stdout, so nothing
user code writes can reach the host as a protocol message:

- the worker's file descriptors 1 and 2 are pipes read here, capped, and returned as text;
- this process is not dumpable, so /proc/1/fd/* can not be opened by the sandbox user;
- every control message from the worker (which user code can write into) is validated and
  capped by worker_messages.py; a bad one replaces the worker, it never ends this process;
- as PID 1 of the container's PID namespace it ignores signals sent from inside (`kill -1`
  spares it), and it reaps orphans, which is an init's duty.

Timeouts are enforced here, outside the worker, so C code that holds the GIL can not stop
them: first an interrupt (state kept), then SIGKILL and a fresh worker (state lost).
"""

import ctypes
import json
import os
import selectors
import signal
import subprocess
import sys
import time

from worker_messages import (
    WORKER_LINE_LIMIT,
    WorkerFault,
    checked_call,
    checked_outcome,
    parse_worker_line,
)

PROTOCOL_VERSION = 1
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
DEFAULT_OUTPUT_LIMIT = 64 * 1024
INTERRUPT_GRACE_SECONDS = 2.0
READ_CHUNK = 65536

WORKER_WRITE_STALL_SECONDS = 5.0  # a worker that reads nothing this long is stuck or hostile
# Workers that die before they are ready (a .pth file or sitecustomize the sandbox user planted
# in their own site folder runs at every start): after this many in a row, waiting cells are
# answered with an error instead of waiting forever, and restarts slow down instead of spinning.
FAILED_STARTS_LIMIT = 3


class HeadTail:
    """Keeps the first and last `limit // 2` bytes of a stream and counts all of it."""

    def __init__(self, limit):
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data):
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]

    def text(self):
        head = self.head.decode("utf-8", errors="replace")
        if self.total <= len(self.head) + len(self.tail):
            return head + self.tail.decode("utf-8", errors="replace")
        omitted = self.total - len(self.head) - len(self.tail)
        marker = "\n[... %d bytes omitted by dynabox ...]\n" % omitted
        return head + marker + self.tail.decode("utf-8", errors="replace")


def make_undumpable():
    """Root-owns /proc/1/*: the sandbox user can then not open our stdout through /proc."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except OSError:
        pass


def oom_kill_count():
    """The cgroup's OOM-kill counter (cgroup v2 or v1), or None where it can not be read."""
    for path, key in (
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
    ):
        try:
            with open(path) as handle:
                for line in handle:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except OSError:
            continue
    return None


class OomCounter:
    """Tells whether the OOM killer acted since the last look, from the cgroup's counter."""

    def __init__(self):
        self.last = oom_kill_count()

    def killed_since_last_check(self):
        current = oom_kill_count()
        if current is None or self.last is None:
            return False
        killed = current > self.last
        self.last = current
        return killed


def cgroup_peak_mb():
    for path in ("/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"):
        try:
            with open(path) as handle:
                return round(int(handle.read().strip()) / (1024 * 1024), 1)
        except (OSError, ValueError):
            continue
    return None


def is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            stat = handle.read()
    except OSError:
        return True  # gone already
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"


def other_pids(spare):
    """Live processes other than PID 1 and `spare`; zombies are dead already."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            pid = int(name)
            if pid != 1 and pid not in spare and not is_zombie(pid):
                pids.append(pid)
    return pids


STARTED_GROUPS = set()  # process groups we started (the worker's, each shell command's)


def in_groups(pid, groups):
    try:
        return os.getpgid(pid) in groups
    except OSError:
        return False


def kill_all_except(spare, rounds=200, spare_groups=frozenset()):
    """SIGKILLs every process in the container but PID 1, `spare` and the process groups
    `spare_groups` (a running shell command's), until none is left.

    Repeats because a fork bomb creates processes while we kill; the pids limit bounds it.
    Only as PID 1 of a container does "every process" mean the sandbox's own; anywhere else
    (a developer running this file by hand) only the process groups we started are killed.
    """
    if os.getpid() != 1:
        for group in list(STARTED_GROUPS):
            if group not in spare and group not in spare_groups:
                try:
                    os.killpg(group, signal.SIGKILL)
                except OSError:
                    STARTED_GROUPS.discard(group)
        reap_children()
        return
    for _ in range(rounds):
        pids = other_pids(spare)
        if spare_groups:
            pids = [pid for pid in pids if not in_groups(pid, spare_groups)]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap_children()
        time.sleep(0.002)


WATCHED = set()  # pids whose exit we need: the worker and shell commands
EXITED = {}  # pid -> (status, rusage), for watched pids only; other orphans are just reaped


def reap_children():
    while True:
        try:
            pid, status, rusage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in WATCHED:
            WATCHED.discard(pid)
            EXITED[pid] = (status, rusage)


class Supervisor:
    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.host_in = sys.stdin.buffer.raw
        self.host_out = os.fdopen(os.dup(1), "wb", buffering=0)
        self.host_buffer = bytearray()
        self.queue = []
        self.worker = None
        self.worker_ready = False
        self.job = None  # the request being served
        # Why the worker was replaced while no cell ran (it died, or broke the protocol): the
        # next cell's result says the kernel was restarted, so its state is known to be lost.
        self.lost_state = None
        self.failed_starts = 0  # workers in a row that died before saying they were ready
        self.sequence = 0
        self.wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(self.wakeup_read, False)
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        self.selector.register(self.wakeup_read, selectors.EVENT_READ, "wakeup")
        self.selector.register(self.host_in, selectors.EVENT_READ, "host")
        # Our own stdout and stderr must no longer be the container's: anything a library
        # prints here would otherwise interleave with protocol lines.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)

    # -- host side ---------------------------------------------------------------------

    def send(self, message):
        data = (json.dumps(message, ensure_ascii=True, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.host_out.fileno(), view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            view = view[written:]

    def read_host(self):
        data = os.read(self.host_in.fileno(), READ_CHUNK)
        if not data:
            # The host went away (or closed stdin): nothing can ever read our answers.
            self.shutdown()
        self.host_buffer += data
        while True:
            newline = self.host_buffer.find(b"\n")
            if newline < 0:
                return
            line = bytes(self.host_buffer[:newline])
            del self.host_buffer[: newline + 1]
            if line.strip():
                self.on_host_message(line)

    def on_host_message(self, line):
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            self.send({"type": "protocol-error", "error": "not JSON: %r" % line[:200]})
            return
        if not isinstance(message, dict):
            self.send({"type": "protocol-error", "error": "not a JSON object: %r" % line[:200]})
            return
        kind = message.get("type")
        if kind == "ping":
            self.send({"type": "pong", "id": message.get("id")})
        elif kind == "call-result":
            if self.job and self.job.get("waiting_call") == message.get("call_id"):
                self.job["waiting_call"] = None
                self.write_worker(message)
        elif kind == "interrupt":
            # The host gave up waiting (a cancelled run): treat it as the deadline passing.
            job = self.job
            if job is not None and job["request"].get("id") == message.get("id") and not job["interrupted"]:
                job["deadline"] = time.monotonic()
        elif kind == "shutdown":
            self.shutdown()
        elif kind in ("exec", "shell", "restart"):
            self.queue.append(message)
        else:
            self.send({"type": "protocol-error", "id": message.get("id"), "error": "unknown type %r" % kind})

    def shutdown(self):
        kill_all_except(set())
        os._exit(0)

    # -- worker ------------------------------------------------------------------------

    def start_worker(self):
        control_to_worker_read, control_to_worker_write = os.pipe()
        control_from_worker_read, control_from_worker_write = os.pipe()
        process = subprocess.Popen(
            [sys.executable, WORKER, str(control_to_worker_read), str(control_from_worker_write)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(control_to_worker_read, control_from_worker_write),
            start_new_session=True,
            close_fds=True,
        )
        WATCHED.add(process.pid)
        STARTED_GROUPS.add(process.pid)
        os.close(control_to_worker_read)
        os.close(control_from_worker_write)
        os.set_blocking(control_to_worker_write, False)
        try:
            # Make the worker, and all it forks, the first choice of the OOM killer, not us.
            with open("/proc/%d/oom_score_adj" % process.pid, "w") as handle:
                handle.write("1000")
        except OSError:
            pass
        worker = {
            "pid": process.pid,
            "process": process,
            "to_worker": control_to_worker_write,
            "from_worker": control_from_worker_read,
            "buffer": bytearray(),
            "fault": None,
            "stdout": process.stdout.fileno(),
            "stderr": process.stderr.fileno(),
        }
        for key in ("from_worker", "stdout", "stderr"):
            os.set_blocking(worker[key], False)
            self.selector.register(worker[key], selectors.EVENT_READ, ("worker", key))
        self.worker = worker
        self.worker_ready = False
        self.capture = {"stdout": HeadTail(DEFAULT_OUTPUT_LIMIT), "stderr": HeadTail(DEFAULT_OUTPUT_LIMIT)}

    def stop_worker(self):
        worker = self.worker
        if worker is None:
            return
        # A shell command running meanwhile is not the worker's: it goes on (its own session,
        # so nothing the worker started can join its group).
        job = self.job
        shell = {job["process"].pid} if job is not None and "process" in job else frozenset()
        kill_all_except(set(), spare_groups=shell)
        self.drain_worker_output()
        for key in ("from_worker", "stdout", "stderr"):
            try:
                self.selector.unregister(worker[key])
            except (KeyError, ValueError):
                pass
        for fd in (worker["to_worker"], worker["from_worker"]):
            try:
                os.close(fd)
            except OSError:
                pass
        worker["process"].stdout.close()
        worker["process"].stderr.close()
        worker["process"].returncode = 0  # reaped by us, not by Popen
        self.worker = None
        self.worker_ready = False

    def write_worker(self, message):
        """Writes one message to the worker; one that reads nothing for a while is faulted."""
        worker = self.worker
        data = (json.dumps(message) + "\n").encode()
        view = memoryview(data)
        last_progress = time.monotonic()
        while view and worker["fault"] is None:
            try:
                view = view[os.write(worker["to_worker"], view):]
                last_progress = time.monotonic()
            except BlockingIOError:
                if time.monotonic() - last_progress > WORKER_WRITE_STALL_SECONDS:
                    self.fault_worker("it stopped reading its control pipe")
                    return
                time.sleep(0.001)
            except OSError:
                return  # it is gone; the reaper reports that

    def fault_worker(self, reason):
        """The worker broke the protocol: kill it; on_worker_gone reports and replaces it."""
        worker = self.worker
        if worker is None or worker["fault"] is not None:
            return
        worker["fault"] = reason
        worker["buffer"] = bytearray()
        try:
            os.killpg(worker["pid"], signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(worker["pid"], signal.SIGKILL)
        except OSError:
            pass

    def drain_worker_output(self):
        if self.worker is None:
            return
        for key in ("stdout", "stderr"):
            fd = self.worker[key]
            while True:
                try:
                    data = os.read(fd, READ_CHUNK)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                self.capture[key].add(data)

    def read_worker(self, key):
        worker = self.worker
        try:
            data = os.read(worker[key], READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(worker[key])
            if key == "from_worker":
                # It can no longer answer: make sure it is gone; the reaper reports the exit.
                try:
                    os.kill(worker["pid"], signal.SIGKILL)
                except OSError:
                    pass
            return
        if key != "from_worker":
            self.capture[key].add(data)
            return
        if worker["fault"] is not None:
            return  # killed already; what it still wrote is not read
        worker["buffer"] += data
        while self.worker is worker and worker["fault"] is None:
            newline = worker["buffer"].find(b"\n")
            if newline < 0:
                if len(worker["buffer"]) > WORKER_LINE_LIMIT:
                    self.fault_worker("a control line over %d bytes" % WORKER_LINE_LIMIT)
                return
            if newline > WORKER_LINE_LIMIT:
                self.fault_worker("a control line over %d bytes" % WORKER_LINE_LIMIT)
                return
            line = bytes(worker["buffer"][:newline])
            del worker["buffer"][: newline + 1]
            try:
                self.on_worker_message(line)
            except WorkerFault as fault:
                self.fault_worker(str(fault))

    def on_worker_message(self, line):
        """One control line from the worker, which user code can write anything into."""
        if not line.strip():
            return
        message = parse_worker_line(line)
        kind = message["type"]
        if kind == "ready":
            self.worker_ready = True
            self.failed_starts = 0
            return
        job = self.job
        if job is None or job["request"]["type"] != "exec" or message["id"] != job["request"]["id"]:
            return  # stale, or not ours: only the current cell may answer
        if kind == "call":
            if job["waiting_call"] is not None:
                raise WorkerFault("a second host call while one was waiting for its answer")
            name, args, refusal = checked_call(message)
            self.sequence += 1
            call_id = "%s.%d" % (job["request"]["id"], self.sequence)
            if refusal is not None:
                # Answered here, never forwarded: the host does no work for an oversized call.
                self.write_worker({"type": "call-result", "call_id": call_id, "ok": False, "error": refusal})
                return
            job["waiting_call"] = call_id
            self.send({"type": "call", "id": job["request"]["id"], "call_id": call_id, "name": name, "args": args})
        elif kind == "done":
            self.finish_exec(checked_outcome(message))

    def on_worker_gone(self):
        """The worker's control pipe closed: it exited or was killed."""
        job = self.job
        oom = False
        status = None
        if job is not None and job["request"]["type"] == "exec":
            entry = EXITED.get(self.worker["pid"])
            status = entry[0] if entry else None
            oom = OOM_COUNTER.killed_since_last_check()
        EXITED.pop(self.worker["pid"], None)
        fault = self.worker["fault"]
        was_ready = self.worker_ready
        self.stop_worker()
        if job is not None and job["request"]["type"] == "exec":
            if fault is not None:
                reason = "the kernel broke dynabox's protocol (%s) and was replaced" % fault
                name = "KernelProtocolError"
            elif job.get("interrupted"):
                reason = "the cell ran past its timeout of %ss and did not stop when interrupted" % job["request"].get("timeout")
                name = "TimeoutError"
            elif oom:
                reason = "the cell ran out of memory and the kernel was killed"
                name = "MemoryError"
            else:
                reason = "the kernel process exited during the cell (%s)" % describe_status(status)
                name = "KernelDied"
            self.start_worker()
            self.reply_exec(job, {
                "value": None,
                "error": {"name": name, "message": reason + "; variables and imports were lost, workspace files are kept", "traceback": ""},
                "cpu_ms": None,
                "peak_mem_mb": cgroup_peak_mb() if oom else None,
            }, oom=oom, restarted=True)
        else:
            # Nobody asked for this restart: the next cell is told its state is gone.
            self.lost_state = ("the kernel broke dynabox's protocol (%s)" % fault) if fault else "the kernel process exited"
            if not was_ready:
                self.failed_starts += 1
                if self.failed_starts >= FAILED_STARTS_LIMIT:
                    self.refuse_waiting_cells(
                        "the kernel exited %d times in a row before it was ready (a .pth file or "
                        "sitecustomize module in the sandbox's own site folder?); shell commands still work"
                        % self.failed_starts)
                    time.sleep(min(1.0, 0.1 * self.failed_starts))
            self.start_worker()

    def refuse_waiting_cells(self, reason):
        """Answers the queued cells with an error: their kernel can not start."""
        waiting = [request for request in self.queue if request["type"] == "exec"]
        self.queue = [request for request in self.queue if request["type"] != "exec"]
        for request in waiting:
            job = {"request": request, "started": time.monotonic(), "interrupted": False}
            self.capture = {"stdout": HeadTail(DEFAULT_OUTPUT_LIMIT), "stderr": HeadTail(DEFAULT_OUTPUT_LIMIT)}
            self.reply_exec(job, {"value": None, "cpu_ms": None, "peak_mem_mb": None,
                                  "error": {"name": "KernelDied", "message": reason, "traceback": ""}},
                            oom=False, restarted=True)

    # -- requests ----------------------------------------------------------------------

    def start_next(self):
        if self.job is not None or not self.queue:
            return
        if self.queue[0]["type"] == "exec" and not self.worker_ready:
            return
        request = self.queue.pop(0)
        limit = int(request.get("output_limit") or DEFAULT_OUTPUT_LIMIT)
        timeout = request.get("timeout")
        now = time.monotonic()
        job = {
            "request": request,
            "started": now,
            "deadline": now + float(timeout) if timeout else None,
            "interrupted": False,
            "waiting_call": None,
        }
        self.job = job
        if request["type"] == "restart":
            self.lost_state = None
            self.stop_worker()
            self.start_worker()
            self.job = None
            self.send({"type": "restarted", "id": request.get("id")})
            return
        if request["type"] == "exec":
            self.capture = {"stdout": HeadTail(limit), "stderr": HeadTail(limit)}
            self.write_worker({"type": "exec", "id": request["id"], "code": request.get("code", "")})
        else:
            self.start_shell(job, limit)

    def finish_exec(self, message):
        job = self.job
        self.drain_worker_output()
        if job["interrupted"]:
            # Whatever the cell left running must not outlive its timeout; the worker then
            # collects its killed children, which would otherwise hold pids as zombies.
            kill_all_except({self.worker["pid"]})
            self.write_worker({"type": "reap"})
        oom = False
        error = message.get("error")
        if job["interrupted"] and error is not None:
            error = {
                "name": "TimeoutError",
                "message": "the cell ran past its timeout of %ss and was interrupted; the kernel's state is kept"
                % job["request"].get("timeout"),
                "traceback": error.get("traceback", ""),
            }
        if error is not None and error.get("name") == "MemoryError":
            oom = True
        message["error"] = error
        self.reply_exec(job, message, oom=oom, restarted=False)

    def lost_state_note(self):
        """A line for the next cell's stderr when its kernel was replaced since the last cell."""
        reason, self.lost_state = self.lost_state, None
        if reason is None:
            return ""
        return "[dynabox: before this cell %s; the kernel was restarted: variables and imports were lost, workspace files are kept]\n" % reason

    def reply_exec(self, job, outcome, oom, restarted):
        stdout, stderr = self.capture["stdout"], self.capture["stderr"]
        error = outcome.get("error")
        note = self.lost_state_note()
        self.send({
            "type": "result",
            "id": job["request"]["id"],
            "ok": error is None and not job["interrupted"] and not oom and not restarted,
            "stdout": stdout.text(),
            "stderr": note + stderr.text(),
            "stdout_bytes": stdout.total,
            "stderr_bytes": stderr.total,
            "value": outcome.get("value"),
            "error": error,
            "events": outcome.get("events") or [],
            "timed_out": job["interrupted"],
            "oom": oom,
            "kernel_restarted": restarted or bool(note),
            "wall_ms": round((time.monotonic() - job["started"]) * 1000, 3),
            "cpu_ms": outcome.get("cpu_ms"),
            "peak_mem_mb": outcome.get("peak_mem_mb"),
        })
        self.capture = {"stdout": HeadTail(DEFAULT_OUTPUT_LIMIT), "stderr": HeadTail(DEFAULT_OUTPUT_LIMIT)}
        self.job = None

    def start_shell(self, job, limit):
        request = job["request"]
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in (request.get("env") or {}).items()})
        try:
            process = subprocess.Popen(
                ["/bin/bash", "-c", request.get("command", "")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=request.get("cwd") or "/workspace",
                env=env,
                start_new_session=True,
            )
        except OSError as error:
            self.job = None
            self.send({"type": "shell-result", "id": request.get("id"), "exit_code": None,
                       "error": str(error), "stdout": "", "stderr": "", "stdout_bytes": 0,
                       "stderr_bytes": 0, "timed_out": False, "oom": False, "wall_ms": 0,
                       "cpu_ms": None, "peak_mem_mb": None})
            return
        WATCHED.add(process.pid)
        STARTED_GROUPS.add(process.pid)
        try:
            with open("/proc/%d/oom_score_adj" % process.pid, "w") as handle:
                handle.write("1000")
        except OSError:
            pass
        job["process"] = process
        job["capture"] = {"stdout": HeadTail(limit), "stderr": HeadTail(limit)}
        job["open"] = 2
        job["exited_at"] = None
        for key, stream in (("stdout", process.stdout), ("stderr", process.stderr)):
            os.set_blocking(stream.fileno(), False)
            self.selector.register(stream.fileno(), selectors.EVENT_READ, ("shell", key))

    def read_shell(self, key):
        job = self.job
        stream = getattr(job["process"], key)
        try:
            data = os.read(stream.fileno(), READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            job["capture"][key].add(data)
            return
        self.selector.unregister(stream.fileno())
        job["open"] -= 1

    def check_shell(self):
        job = self.job
        process = job["process"]
        if job["exited_at"] is None and process.pid in EXITED:
            job["exited_at"] = time.monotonic()
        # Done when the shell exited and its pipes closed, or shortly after it exited while a
        # background child still holds them open.
        if job["exited_at"] is not None and (job["open"] == 0 or time.monotonic() - job["exited_at"] > 0.2):
            self.finish_shell(timed_out=False)

    def finish_shell(self, timed_out):
        job = self.job
        process = job["process"]
        if timed_out:
            kill_all_except({self.worker["pid"]} if self.worker else set())
            deadline = time.monotonic() + 1.0
            while process.pid not in EXITED and time.monotonic() < deadline:
                reap_children()
                time.sleep(0.002)
        for key in ("stdout", "stderr"):
            stream = getattr(process, key)
            while True:
                try:
                    data = os.read(stream.fileno(), READ_CHUNK)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                job["capture"][key].add(data)
            try:
                self.selector.unregister(stream.fileno())
            except (KeyError, ValueError):
                pass
            stream.close()
        status, rusage = EXITED.pop(process.pid, (None, None))
        process.returncode = 0  # reaped by us, not by Popen
        # Reading the cgroup costs more than a trivial cell: only look when the OOM killer may have acted.
        killed = status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        oom = killed and OOM_COUNTER.killed_since_last_check()
        exit_code = None
        if status is not None:
            exit_code = os.waitstatus_to_exitcode(status)
        self.send({
            "type": "shell-result",
            "id": job["request"].get("id"),
            "exit_code": exit_code,
            "error": None,
            "stdout": job["capture"]["stdout"].text(),
            "stderr": job["capture"]["stderr"].text(),
            "stdout_bytes": job["capture"]["stdout"].total,
            "stderr_bytes": job["capture"]["stderr"].total,
            "timed_out": timed_out,
            "oom": oom,
            "wall_ms": round((time.monotonic() - job["started"]) * 1000, 3),
            "cpu_ms": round((rusage.ru_utime + rusage.ru_stime) * 1000, 3) if rusage else None,
            "peak_mem_mb": round(rusage.ru_maxrss / 1024, 1) if rusage else None,
        })
        self.job = None

    # -- timeouts ----------------------------------------------------------------------

    def check_deadline(self):
        job = self.job
        if job is None or job["deadline"] is None:
            return
        now = time.monotonic()
        if job["request"]["type"] == "shell":
            if now >= job["deadline"]:
                self.finish_shell(timed_out=True)
            return
        if not job["interrupted"] and now >= job["deadline"]:
            job["interrupted"] = True
            job["deadline"] = now + INTERRUPT_GRACE_SECONDS
            try:
                os.kill(self.worker["pid"], signal.SIGINT)
            except OSError:
                pass
            kill_all_except({self.worker["pid"]})
        elif job["interrupted"] and now >= job["deadline"]:
            # The interrupt was ignored (C code, a handler, a blocked signal): kill it all.
            kill_all_except(set())
            # The reaper sees the worker's exit and brings us to on_worker_gone.
            job["deadline"] = None

    def next_timeout(self):
        job = self.job
        if job is None:
            return None
        waits = []
        if job.get("deadline") is not None:
            waits.append(max(0.0, job["deadline"] - time.monotonic()))
        if job["request"]["type"] == "shell" and job.get("exited_at") is not None:
            waits.append(0.05)
        return min(waits) if waits else None

    # -- main loop ---------------------------------------------------------------------

    def run(self):
        self.start_worker()
        self.send({"type": "ready", "protocol": PROTOCOL_VERSION, "python": sys.version.split()[0]})
        while True:
            self.start_next()
            events = self.selector.select(self.next_timeout())
            for key, _ in events:
                tag = key.data
                if tag == "host":
                    self.read_host()
                elif tag == "wakeup":
                    try:
                        while os.read(self.wakeup_read, 4096):
                            pass
                    except BlockingIOError:
                        pass
                    reap_children()
                elif tag[0] == "worker":
                    if self.worker is not None and key.fd == self.worker.get(tag[1]):
                        self.read_worker(tag[1])
                elif tag[0] == "shell":
                    if self.job is not None and self.job["request"]["type"] == "shell":
                        self.read_shell(tag[1])
            if self.worker is not None and self.worker["pid"] in EXITED:
                self.on_worker_gone()
            if self.job is not None and self.job["request"]["type"] == "shell":
                reap_children()
                self.check_shell()
            self.check_deadline()


def describe_status(status):
    if status is None:
        return "unknown status"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return "killed by %s" % signal.Signals(number).name
        except ValueError:
            return "killed by signal %d" % number
    return "exit code %d" % os.WEXITSTATUS(status)


OOM_COUNTER = None

if __name__ == "__main__":
    make_undumpable()
    OOM_COUNTER = OomCounter()
    Supervisor().run()
