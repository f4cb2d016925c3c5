"""The agent's initial actions, as plain Python functions in the kernel.

They follow MLAgentBench's action set (list, read, write, copy, inspect lines, execute a
script), plus search_actions (the action library, through a host call) and submit (ends the
task through the protocol, not by matching text). Paths stay inside the workspace; files the
task marks read-only can not be written through these functions, and the grader checks them
anyway.
"""

import fnmatch
import json
import os
import shutil
import signal
import subprocess

import dynabox

WORKSPACE = os.path.realpath(os.environ.get("DYNABOX_WORKSPACE", "/workspace"))
READ_ONLY_PATTERNS = []
OUTPUT_LIMIT = 20_000

__all__ = [
    "list_files",
    "read_file",
    "write_file",
    "copy_file",
    "inspect_script_lines",
    "execute_script",
    "search_actions",
    "submit",
]


def configure(read_only_patterns=()):
    """Called by the host at a task's start."""
    READ_ONLY_PATTERNS[:] = [pattern[2:] if pattern.startswith("./") else pattern for pattern in read_only_patterns]


def _inside(path):
    full = os.path.realpath(os.path.join(WORKSPACE, path))
    if full != WORKSPACE and not full.startswith(WORKSPACE + os.sep):
        raise PermissionError("%s is outside the workspace %s" % (path, WORKSPACE))
    return full


def _check_writable(path):
    relative = os.path.relpath(_inside(path), WORKSPACE)
    for pattern in READ_ONLY_PATTERNS:
        if fnmatch.fnmatch(relative, pattern):
            raise PermissionError("%s is read-only for this task (pattern %s)" % (relative, pattern))


def _cap(text):
    if len(text) <= OUTPUT_LIMIT:
        return text
    half = OUTPUT_LIMIT // 2
    return text[:half] + "\n[... %d characters omitted ...]\n" % (len(text) - 2 * half) + text[-half:]


def list_files(path="."):
    """List the files and folders under a folder of the workspace (folders end with '/')."""
    base = _inside(path)
    entries = []
    for name in sorted(os.listdir(base)):
        entries.append(name + "/" if os.path.isdir(os.path.join(base, name)) else name)
    return entries


def read_file(path, max_chars=OUTPUT_LIMIT):
    """Return the text of a workspace file (head and tail past max_chars)."""
    with open(_inside(path), encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if len(text) > max_chars:
        half = max_chars // 2
        text = text[:half] + "\n[... %d characters omitted ...]\n" % (len(text) - 2 * half) + text[-half:]
    return text


def write_file(path, content):
    """Write text to a workspace file, creating folders; refuses read-only files."""
    _check_writable(path)
    full = _inside(path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(content)
    return "wrote %d characters to %s" % (len(content), path)


def copy_file(source, destination):
    """Copy a workspace file to another workspace path; refuses read-only destinations."""
    _check_writable(destination)
    target = _inside(destination)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(_inside(source), target)
    return "copied %s to %s" % (source, destination)


def inspect_script_lines(path, start_line=1, end_line=100):
    """Return lines start_line..end_line (1-based, at most 100) of a file, numbered."""
    start_line = max(1, int(start_line))
    end_line = min(int(end_line), start_line + 99)
    with open(_inside(path), encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines()
    shown = lines[start_line - 1 : end_line]
    return "\n".join("%d: %s" % (start_line + index, line) for index, line in enumerate(shown))


def execute_script(path, timeout=600, args=()):
    """Run `python -u script` in the workspace; return its stdout, or raise with its stderr."""
    script = _inside(path)
    process = subprocess.Popen(
        ["python3", "-u", script, *map(str, args)],
        cwd=os.path.dirname(script),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise TimeoutError("%s ran longer than %s s and was killed\n%s" % (path, timeout, _cap(stderr)))
    if process.returncode != 0:
        raise RuntimeError("%s exited with code %d:\n%s" % (path, process.returncode, _cap(stderr or stdout)))
    return _cap(stdout)


def search_actions(query, limit=5):
    """Search the library of actions written in earlier tasks; matches are already defined here."""
    found = dynabox.host_call("search_actions", {"query": str(query), "limit": int(limit)})
    lines = []
    for action in found:
        doc = (action.get("docstring") or "").strip().splitlines()
        lines.append("- %s: %s" % (action["signature"], doc[0] if doc else "(no docstring)"))
        for name, source in action.get("definitions", {}).items():
            try:
                exec(compile(source, "<action %s>" % name, "exec"), _user_namespace())
            except Exception as error:  # a broken stored action must not break the search
                lines.append("  (could not define %s: %s)" % (name, error))
    text = "\n".join(lines) if lines else "no matching actions"
    print(text)
    return [action["name"] for action in found]


def _user_namespace():
    return dynabox.namespace


def submit(answer=None):
    """End the task. For file-based tasks the workspace as it is now is the submission."""
    try:
        json.dumps(answer)
    except TypeError:
        answer = repr(answer)
    dynabox.emit("submit", {"answer": answer})
    return "submitted"
