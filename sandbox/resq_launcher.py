"""dynabox RES-Q test launcher: runs a RES-Q test script so that the patch under test can not
forge its verdict by reading a secret.

Two processes, both this file run with `python3 -I` (no PYTHON* variables, no user site, no
script folder on sys.path):

observer (started by the grader, stdin = the payload through a pipe):
  - makes itself non-dumpable first, so no other process of the sandbox user can read its
    memory or open its file descriptors through /proc;
  - reads the payload (report key, test script, file name, probe line), then closes stdin; the
    report key never leaves this process;
  - starts the test process (this file again, `--run-test`), hands it a fresh channel token (16
    raw random bytes) and the script through a pipe, and keeps the only reading end of the
    channel pipe;
  - waits for the test process, reads the channel, and writes one report line tagged with the
    report key to stdout. The host trusts that line only; it decides PASS, not what the test
    prints.

test process (`--run-test BOOTSTRAP_FD CHANNEL_FD`):
  - makes itself non-dumpable (other processes can not read its memory), reads the bootstrap
    pipe to its end and closes it: the script and the token are on no disk, in no argument and in
    no environment variable;
  - puts the standard library ahead of the repository on sys.path and refuses to import a
    standard-library name from anywhere else;
  - installs an audit hook (before any repository code runs) that holds the token and the
    channel. It writes the proof to the channel only when the `dynabox.resq.exit-reached` event
    comes from the probe line of the test's own code; it reports introspection that could find
    the token or reach the test's objects (gc scans, other threads' frames, repository code
    taking frames, ctypes memory reads, /proc/self/mem, ...) and, at the exit line, replaced
    unittest methods or builtins and threads still running. Everything it reports is a review
    flag; only proof of forgery (bytes without the token, the event from elsewhere) fails a run;
  - runs the script as `__main__` under its upstream-looking file name, with sys.argv as
    `python3 <name>` would set it.

Python 3.8+ syntax and library only.
"""

import _thread
import json
import os
import select
import subprocess
import sys
# Imported here, before the finder is installed: importing it from inside find_spec recursed on
# Pythons where importlib.machinery was not loaded yet (3.9).
from importlib.machinery import FrozenImporter, PathFinder

REPORT_MARKER = "DYNABOX-RESQ-REPORT"
EXIT_EVENT = "dynabox.resq.exit-reached"
IMPORT_REFUSED_EVENT = "dynabox.resq.import-refused"
TOKEN_BYTES = 16
MAX_FLAGS = 40
MAX_DETAIL = 200
CHANNEL_LIMIT = 256 * 1024


def make_undumpable():
    """PR_SET_DUMPABLE 0: /proc/<pid>/mem, fd and environ of this process are closed to others."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def read_exactly(fd, count):
    data = b""
    while len(data) < count:
        chunk = os.read(fd, count - len(data))
        if not chunk:
            raise EOFError("the bootstrap pipe ended early")
        data += chunk
    return data


# -- observer -------------------------------------------------------------------------------


def observe():
    make_undumpable()
    payload = json.loads(read_all(0).decode("utf-8"))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    report_key = payload["report_key"]
    # Raw random bytes, never hex: nothing in the test process's memory looks like it.
    token = os.urandom(TOKEN_BYTES)

    channel_read, channel_write = os.pipe()
    bootstrap_read, bootstrap_write = os.pipe()
    child = subprocess.Popen(
        # -u and -B as the image's PYTHONUNBUFFERED / PYTHONDONTWRITEBYTECODE, which -I ignores.
        [sys.executable, "-I", "-u", "-B", os.path.abspath(__file__), "--run-test", str(bootstrap_read), str(channel_write)],
        pass_fds=(bootstrap_read, channel_write),
        stdin=subprocess.DEVNULL,
    )
    os.close(bootstrap_read)
    os.close(channel_write)
    bootstrap = token + json.dumps({
        "script": payload["script"],
        "file_name": payload["file_name"],
        "probe_line": payload["probe_line"],
        "observer_pid": os.getpid(),
    }).encode("utf-8")
    try:
        view = memoryview(bootstrap)
        while view:
            written = os.write(bootstrap_write, view)
            view = view[written:]
    except BrokenPipeError:
        pass  # the test process died before reading: its exit status says so
    os.close(bootstrap_write)
    del bootstrap, payload

    received = bytearray()
    os.set_blocking(channel_read, False)
    status = None
    while status is None:
        ready, _, _ = select.select([channel_read], [], [], 0.05)
        if ready:
            drain(channel_read, received)
        status = child.poll()
    # The proof is written before the test process exits; what a left-over grandchild writes
    # later is not waited for.
    drain(channel_read, received)
    os.close(channel_read)

    report = judge_channel(bytes(received), token)
    report["exit_code"] = status
    line = "\n%s %s %s\n" % (REPORT_MARKER, report_key, json.dumps(report, sort_keys=True))
    os.write(1, line.encode("utf-8"))  # one write, under PIPE_BUF: never interleaved
    return status if status >= 0 else 128 - status


def drain(fd, received):
    """Reads what is there. Past CHANNEL_LIMIT the rest is read and dropped (so a flooding test
    can not block the hook's writes) and one byte more is kept to mark the flood. At most 1 MiB
    per call, so that a flood does not keep the observer from seeing the test process exit."""
    for _ in range(16):
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            return
        room = CHANNEL_LIMIT + 1 - len(received)
        if room > 0:
            received += chunk[:room]


def judge_channel(data, token):
    """Each message the hook writes is the raw token, then `<kind> <detail>` and a newline; any
    other byte is forged (and puts every later message out of step, so it is forged too)."""
    reached = False
    flags = []
    forged = []
    rest = data[:CHANNEL_LIMIT]
    while rest:
        head, rest = rest[:TOKEN_BYTES], rest[TOKEN_BYTES:]
        line, _, rest = rest.partition(b"\n")
        text = line.decode("utf-8", "replace")
        if head != token:
            add_unique(forged, "the channel received bytes the grader did not write: %r" % (head + line)[:80])
            continue
        kind, _, detail = text.partition(" ")
        detail = detail[:MAX_DETAIL]
        if kind == "reached":
            reached = True
        elif kind == "flag":
            add_unique(flags, detail)
        elif kind == "forged":
            add_unique(forged, detail)
        else:
            add_unique(forged, "unknown channel message %r" % kind[:40])
    if len(data) > CHANNEL_LIMIT:
        add_unique(forged, "the channel was flooded")
    return {"reached": reached, "flags": flags, "forged": forged}


def add_unique(items, item):
    if item not in items and len(items) < MAX_FLAGS:
        items.append(item)


# -- test process ---------------------------------------------------------------------------


def stdlib_entries():
    """The leading sys.path entries that hold the standard library (zip, stdlib, lib-dynload)."""
    import sysconfig

    roots = set()
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.realpath(path))
    roots.add(os.path.realpath(os.path.dirname(os.__file__)))
    entries = []
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if entry.endswith(".zip") or any(real == root or real.startswith(root + os.sep) for root in roots):
            entries.append(entry)
        else:
            break
    return entries


def stdlib_names():
    names = getattr(sys, "stdlib_module_names", None)  # 3.10+
    if names is not None:
        return frozenset(names)
    found = set(sys.builtin_module_names)
    for entry in stdlib_entries():
        if os.path.isdir(entry):
            for name in os.listdir(entry):
                base = name.split(".", 1)[0]
                if name.endswith((".py", ".so")) or os.path.isdir(os.path.join(entry, name)):
                    found.add(base)
    found.discard("site-packages")
    found.discard("dist-packages")
    return frozenset(found)


class StandardLibraryFirst:
    """A meta path finder: a standard-library name is imported from the standard library only.

    sys.path order alone is not enough: a test (or the patch) may put the repository first again,
    and a name the standard library lacks here (tkinter, distutils...) would be found in the
    repository. Such an import fails with ModuleNotFoundError and is reported for review."""

    def __init__(self, names, entries):
        self.names = names
        self.entries = list(entries)

    def find_spec(self, name, path=None, target=None):
        if path is not None or name not in self.names or name in sys.builtin_module_names:
            return None
        spec = PathFinder.find_spec(name, self.entries)
        if spec is None:
            spec = FrozenImporter.find_spec(name)
        if spec is not None:
            return spec
        elsewhere = PathFinder.find_spec(name, [entry for entry in sys.path if entry not in self.entries])
        if elsewhere is None or not elsewhere.origin or not is_writable_place(elsewhere.origin):
            return None  # a site package or nothing: as without this finder
        # Reported through the audit hook, which alone holds the channel's token.
        sys.audit(IMPORT_REFUSED_EVENT, "a module named like the standard library's %r was refused: %s" % (name, elsewhere.origin))
        raise ModuleNotFoundError("No module named %r (dynabox imports standard-library names only from the standard library)" % name, name=name)


def is_writable_place(path):
    """Folders a patch can write to (the repository, scratch space), not the image's site packages."""
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root + os.sep) for root in ("/workspace", "/tmp", "/var/tmp", "/dev/shm", os.getcwd()))


def code_objects(code):
    found = [code]
    for constant in code.co_consts:
        if type(constant) is type(code):
            found.extend(code_objects(constant))
    return tuple(found)


def machinery_snapshot():
    """The functions a test relies on to judge (unittest's methods, builtins, sys.exit), by
    identity, taken before any repository code runs. Python raises no audit event when a patch
    replaces one of them, so the hook compares them when the exit line is reached."""
    import builtins
    import types
    import unittest  # noqa: F401 - imported from the standard library before the test can shadow it
    import unittest.case
    import unittest.loader
    import unittest.result
    import unittest.runner
    import unittest.suite

    watched = []
    for module in (unittest.case, unittest.result, unittest.runner, unittest.suite, unittest.loader):
        for owner in list(vars(module).values()):
            if type(owner) is type and owner.__module__ == module.__name__:
                for name, value in list(vars(owner).items()):
                    if type(value) is types.FunctionType:
                        watched.append((owner, "unittest's %s.%s" % (owner.__qualname__, name), name, value))
    for name, value in list(vars(builtins).items()):
        if type(value) is types.BuiltinFunctionType or type(value) is type:
            watched.append((builtins, "builtins.%s" % name, name, value))
    for name in ("exit", "excepthook"):
        watched.append((sys, "sys.%s" % name, name, getattr(sys, name)))
    return tuple(watched)


def make_hook(token, channel, channel_inode, codes, probe_line, main_globals, script_name, observer_pid, watched):
    """The audit hook. It alone holds the token; nothing reachable from the test's frames or
    modules points to it (only the interpreter's hook list, which only gc.get_objects or ctypes
    would reveal, and those calls are reported before they return).

    Written so that no code of the test can run inside it: every callable it uses is captured
    here (a test can replace os.path.*, json.*, builtins.* or this module's globals, not these
    closure cells), it looks only at arguments of exact built-in types, and any exception inside
    it ends the process (an exception leaving the hook would carry its frame, and so the token,
    to the test)."""
    _type = type
    _type_type = type
    _module_type = _type(sys)
    _vars = vars
    _len = len
    _str = str
    _bytes = bytes
    _int = int
    getframe = sys._getframe
    current_frames = sys._current_frames
    get_ident = _thread.get_ident
    writev = os.writev
    fstat = os.fstat
    hard_exit = os._exit
    max_flags = MAX_FLAGS
    max_detail = MAX_DETAIL
    exit_event = EXIT_EVENT
    import_refused_event = IMPORT_REFUSED_EVENT
    proc_sensitive = frozenset(("mem", "maps", "smaps", "pagemap", "fd", "fdinfo", "environ", "syscall", "stack"))
    signal_targets = (observer_pid, 1, 0, -1)
    frame_attributes = frozenset(("tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"))
    repo_prefix = os.getcwd() + "/"
    script_path = repo_prefix + script_name
    inspect_file = os.path.join(os.path.dirname(os.__file__), "inspect.py")
    # Per thread: a hook call that itself raises events (sys._getframe) must not recurse, and one
    # thread inside the hook must not make another thread's exit-reached event be skipped.
    busy = set()
    reported = set()
    state = {"executed": False, "reached": False}
    flagged_events = {
        "gc.get_objects": "gc.get_objects() scanned every object",
        "gc.get_referrers": "gc.get_referrers() was called",
        "gc.get_referents": "gc.get_referents() was called",
        "sys._current_frames": "sys._current_frames() read the frames of other threads",
        "sys.settrace": "sys.settrace() installed a tracer",
        "sys.setprofile": "sys.setprofile() installed a profiler",
        "sys.monitoring.register_callback": "sys.monitoring (3.12+) registered a callback that sees frames",
        "sys.addaudithook": "another audit hook was added",
        "ctypes.string_at": "ctypes.string_at() read raw memory",
        "ctypes.wstring_at": "ctypes.wstring_at() read raw memory",
        "ctypes.cdata": "ctypes read an object at a raw address (from_address)",
        "ctypes.call_function": "a C function was called through ctypes",
    }

    def send(kind, detail):
        message = (kind + " " + detail.replace("\n", " ") + "\n").encode("utf-8", "replace")
        try:
            # The channel must still be our pipe: a test that closed it or put another file in
            # its place would lose the reports; stop instead (no proof, so no PASS).
            if fstat(channel).st_ino != channel_inode:
                hard_exit(112)
            # Two buffers, one write (atomic on a pipe): no object ever holds the token next to
            # a message a memory scan could look for.
            writev(channel, (token, message))
        except OSError:
            hard_exit(112)

    def flag(key, detail):
        if key in reported or _len(reported) >= max_flags:
            return
        reported.add(key)
        send("flag", "test run: " + detail)

    def proc_path(path):
        """The path, when it is under /proc and gives a process's memory, descriptors or environment."""
        if _type(path) is _bytes:
            path = path.decode("utf-8", "replace")
        if _type(path) is not _str or "/proc" not in path:
            return None
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if _len(parts) >= 3 and parts[0] == "proc":
            if parts[2] in proc_sensitive or (_len(parts) >= 5 and parts[2] == "task" and parts[4] in proc_sensitive):
                return path[:max_detail]
        return None

    def is_script_code(code):
        for known in codes:
            if code is known:
                return True
        return False

    def machinery_changes():
        """Labels of watched functions replaced since the snapshot. Identity only, and dicts are
        read only after checking their keys are exact strings: no code of the test runs here."""
        changed = []
        for owner, label, name, original in watched:
            kind = _type(owner)
            if kind is not _type_type and kind is not _module_type:
                changed.append(label + " (its owner's type was changed)")
                continue
            namespace = _vars(owner)
            if kind is _module_type:
                for key in namespace:
                    if _type(key) is not _str:
                        return changed + [label + " (a non-string name was planted next to it)"]
            if namespace.get(name) is not original:
                changed.append(label)
        return changed

    def handle(event, args):
        if event == exit_event:
            frame = getframe(2)
            if is_script_code(frame.f_code) and frame.f_lineno == probe_line and frame.f_globals is main_globals:
                if not state["reached"]:
                    state["reached"] = True
                    for label in machinery_changes():
                        flag("replaced:" + label, label + " was replaced before the exit line")
                    # Another thread could have set the test's exit_code just before the probe.
                    others = _len(current_frames()) - 1
                    if others > 0:
                        flag("threads", "%d other thread(s) were running when the exit line was reached" % others)
                    send("reached", "")
            else:
                send("forged", "test run: the exit-reached event was raised outside the test's exit line")
        elif event == "exec":
            if args and is_script_code(args[0]):
                if state["executed"]:
                    send("forged", "test run: the test's own code was executed a second time")
                state["executed"] = True
        elif event in flagged_events:
            flag(event, flagged_events[event])
        elif event == "open" or event == "os.listdir" or event == "os.scandir":
            path = args[0] if args else None
            sensitive = proc_path(path)
            if sensitive is not None:
                flag("proc:" + sensitive, event + " of " + sensitive)
            elif _type(path) is _str and path.rsplit("/", 1)[-1] == script_name:
                flag("script", "tried to read the test script's own file (" + path[:max_detail] + ")")
        elif event == "os.kill" or event == "os.killpg" or event == "signal.pthread_kill":
            target = args[0] if args else None
            if _type(target) is _int and target in signal_targets:
                flag("kill:%d" % target, event + " signalled the grader (%d)" % target)
        elif event == "sys._getframe" or (event == "object.__getattr__" and _len(args) == 2 and _type(args[1]) is _str and args[1] in frame_attributes):
            # Repository code that takes frames can reach the test's own state (its TestResult,
            # its exit_code). Only the direct caller counts (or the caller of inspect's helpers):
            # logging, namedtuple, warnings... take frames for honest reasons.
            caller = getframe(2)
            filename = caller.f_code.co_filename
            if _type(filename) is _str and filename == inspect_file and caller.f_back is not None:
                filename = caller.f_back.f_code.co_filename
            if _type(filename) is _str and filename.startswith(repo_prefix) and filename != script_path:
                what = "sys._getframe" if event == "sys._getframe" else args[1]
                flag("frames:" + filename, "repository code took the call stack's frames (" + what + ") in " + filename[_len(repo_prefix):][:max_detail])
        elif event == import_refused_event:
            if args and _type(args[0]) is _str:
                flag("import:" + args[0][:max_detail], args[0][:max_detail])

    def hook(event, args):
        try:
            me = get_ident()
            if me in busy:
                return
            busy.add(me)
            try:
                handle(event, args)
            finally:
                busy.discard(me)
        except BaseException:  # noqa: BLE001 - see the docstring: never let the hook's frame out
            hard_exit(113)

    return hook


def run_test(bootstrap_fd, channel):
    make_undumpable()
    token = read_exactly(bootstrap_fd, TOKEN_BYTES)
    bootstrap = json.loads(read_all(bootstrap_fd).decode("utf-8"))
    os.close(bootstrap_fd)
    os.set_inheritable(channel, False)  # subprocesses of the test do not get it
    channel_inode = os.fstat(channel).st_ino

    # Before the repository is on sys.path: unittest comes from the standard library.
    watched = machinery_snapshot()
    script = bootstrap["script"]
    file_name = bootstrap["file_name"]
    probe_line = bootstrap["probe_line"]
    observer_pid = bootstrap["observer_pid"]
    script_path = os.path.join(os.getcwd(), file_name)

    import builtins
    import linecache
    import types

    entries = stdlib_entries()
    # `python3 <script>` puts the script's folder first; here it comes right after the
    # standard library, ahead of the site packages as upstream has it.
    sys.path.insert(len(entries), os.getcwd())
    code = compile(script, script_path, "exec", dont_inherit=True)
    codes = code_objects(code)
    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": script_path, "__builtins__": builtins, "__cached__": None})
    hook = make_hook(token, channel, channel_inode, codes, probe_line, main.__dict__, file_name, observer_pid, watched)
    del watched, token, bootstrap
    sys.addaudithook(hook)
    del hook
    sys.meta_path.insert(0, StandardLibraryFirst(stdlib_names(), entries))

    # Tracebacks show the script's lines although it is not on disk.
    lines = script.splitlines(True)
    linecache.cache[script_path] = (len(script), None, lines, script_path)
    sys.argv[:] = [file_name]
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - shown as the interpreter would, without our frame
        shown = error.with_traceback(error.__traceback__.tb_next if error.__traceback__ else None)
        if sys.excepthook is sys.__excepthook__:
            # The traceback module reads the script's lines from linecache; the interpreter's own
            # printer would look for the file on disk, where it is not.
            import traceback

            traceback.print_exception(type(shown), shown, shown.__traceback__)
        else:
            sys.excepthook(type(shown), shown, shown.__traceback__)
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--run-test":
        run_test(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(observe())
