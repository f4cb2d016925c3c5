// The Python program that scores one folder inside a grader container. It runs as
// `python3 -I -B driver.py config.json` with its cwd in the grader's own folder: isolated mode
// puts neither the cwd nor the script's folder nor PYTHON* variables nor the user site on
// sys.path, so nothing in the submission (an eval.py, a sitecustomize.py, a numpy.py) can be
// imported. eval.py is loaded by file path, and the submission folder is only ever read as data.

/** Prefix of the one stdout line that carries the driver's JSON result. */
export const MLAB_RESULT_MARKER = "DYNABOX-MLAB-RESULT ";

export interface MlabDriverConfig {
  /** The folders to score, one result each (read as data only). */
  submissions: string[];
  /** The grader's copy of the task's scripts/ (eval.py and its answers). */
  scripts: string;
  /** Files (relative to the submission) that must equal the prepared originals: sha256 hex. */
  read_only: Record<string, string>;
  /**
   * The grader's copy of the prepared env/, beside `scripts` as upstream lays them out: eval.py's
   * `sys.path.insert(0, dirname(__file__) + "/../env")` imports the pristine module from it, and
   * read-only files missing from a submission are restored from it.
   */
  env: string;
}

export const MLAB_DRIVER_PY = String.raw`
import contextlib, hashlib, importlib.util, json, math, os, shutil, stat, sys, traceback

MARKER = ${JSON.stringify(MLAB_RESULT_MARKER)}


def inside(path, root):
    return path == root or path.startswith(root + os.sep)


def sanitize(submission, result):
    # A link that leads out of the submission (submission.csv -> the grader's answer.csv,
    # /proc/self/cwd/..., a FIFO that blocks the reader) is removed before anything reads it.
    for folder, dirs, files in os.walk(submission):
        for name in dirs + files:
            full = os.path.join(folder, name)
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                if inside(os.path.realpath(full), submission):
                    continue
            elif stat.S_ISREG(mode) or stat.S_ISDIR(mode):
                continue
            os.unlink(full)
            result["removed"].append(os.path.relpath(full, submission))


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_read_only(submission, expected, env, result):
    # Upstream's snapshots (traces/step_*_files) leave every read-only file out, so a missing one
    # is restored from the prepared task; only a present file that differs is a change.
    for relative, digest in sorted(expected.items()):
        target = os.path.join(submission, relative)
        if not os.path.lexists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(env, relative), target)
            result["restored"].append(relative)
            continue
        try:
            same = os.path.isfile(target) and sha256_of(target) == digest
        except OSError:
            same = False
        if not same:
            result["read_only_changed"].append(relative)


def score(submission, scripts, result):
    sys.path[:] = [p for p in sys.path if p and not inside(os.path.realpath(p), submission)]
    sys.path.append(scripts)  # eval.py may import its own helpers; last, so it shadows nothing
    with contextlib.redirect_stdout(sys.stderr):
        spec = importlib.util.spec_from_file_location("dynabox_mlab_eval", os.path.join(scripts, "eval.py"))
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            result["load_failed"] = True
            raise
        value = module.get_score(submission)
    value = float(value)
    result["score_text"] = repr(value)
    if math.isfinite(value):
        result["score"] = value
    else:
        result["error"] = "get_score returned %r, not a finite number" % value


def grade(config, folder):
    result = {"score": None, "score_text": None, "error": None, "traceback": None,
              "read_only_changed": [], "removed": [], "restored": [], "load_failed": False}
    phase = "reading the submission"
    try:
        submission = os.path.realpath(folder)
        sanitize(submission, result)
        check_read_only(submission, config["read_only"], os.path.realpath(config["env"]), result)
        if result["read_only_changed"]:
            result["error"] = "read-only files were changed: " + ", ".join(result["read_only_changed"])
        else:
            phase = "get_score"
            score(submission, os.path.realpath(config["scripts"]), result)
    except BaseException as error:
        if result["load_failed"]:
            phase = "loading scripts/eval.py"
        result["error"] = "%s failed: %s: %s" % (phase, type(error).__name__, error)
        result["traceback"] = traceback.format_exc()[-4000:]
    return result


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    results = [grade(config, folder) for folder in config["submissions"]]
    sys.__stdout__.write("\n" + MARKER + json.dumps(results) + "\n")
    sys.__stdout__.flush()


main()
`;
