"""Build the bundled RES-Q-format tasks (deterministic, offline).

For every task below this script creates a small git repository in a temporary folder,
with fixed author/committer names, e-mails and dates so that the commit hashes never change:
  - one or more base commits on branch `main` (main ends at base_commit),
  - one solution commit on branch `solution` (solution_commit, child of base_commit),
then writes repos/<name>.bundle (`git bundle create ... --all`) and dataset.json, a JSON list
of rows with exactly the upstream RES-Q fields. repo_url is relative to dataset.json.
solution_patch is `git diff base_commit solution_commit`; modified_files lists the files the
solution changes, with their content at base_commit.

The bundle holds the solution commit (branch `solution`), as upstream repositories hold their
later history: a harness must give the agent a checkout of base_commit without those objects
(a clone of the bundle keeps all of them even with --single-branch; re-clone that clone with
`git clone --no-local --single-branch --branch main`, or use `git archive base_commit`).
Needs git only (standard library otherwise). Running it twice gives byte-identical output.
    python3 build.py
"""
import json
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
AUTHOR = ("Dana Fixture", "dana.fixture@example.invalid")
COMMITTER = ("Dynabox Fixtures", "fixtures@example.invalid")
START = 1717243200  # 2024-06-01T12:00:00Z; each commit is one hour later


# =========================================================================== 0_0 sortlines
SORTLINES_README = """# sortlines

Sort the lines of standard input, like a tiny `sort(1)`.

    printf 'b\\na\\nc\\n' | python -m sortlines
    printf 'b\\nB\\na\\n' | python -m sortlines --ignore-case --unique

Options:

* `-u`, `--unique`: print each distinct line once
* `-i`, `--ignore-case`: compare lines case-insensitively
"""

SORTLINES_INIT = '''"""sortlines: sort the lines of standard input."""

__version__ = "0.3.0"
'''

SORTLINES_MAIN = '''from .cli import main

raise SystemExit(main())
'''

SORTLINES_CORE = '''"""Line sorting."""


def sort_lines(lines, unique=False, ignore_case=False):
    """Return `lines` sorted in ascending order.

    unique: keep only the first of lines that compare equal.
    ignore_case: compare lines case-insensitively.
    """
    key = str.lower if ignore_case else None
    result = sorted(lines, key=key)
    if unique:
        seen = set()
        kept = []
        for line in result:
            k = line.lower() if ignore_case else line
            if k not in seen:
                seen.add(k)
                kept.append(line)
        result = kept
    return result
'''

SORTLINES_CLI = '''"""Command line interface: python -m sortlines [options] < input"""
import argparse
import sys

from .core import sort_lines


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sortlines", description="Sort the lines of standard input.")
    parser.add_argument("-u", "--unique", action="store_true",
                        help="print each distinct line once")
    parser.add_argument("-i", "--ignore-case", action="store_true",
                        help="compare lines case-insensitively")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    lines = sys.stdin.read().splitlines()
    for line in sort_lines(lines, unique=args.unique, ignore_case=args.ignore_case):
        print(line)
    return 0
'''

SORTLINES_TESTS = '''import unittest

from sortlines.core import sort_lines


class SortLinesTest(unittest.TestCase):
    def test_sorts(self):
        self.assertEqual(sort_lines(["b", "a", "c"]), ["a", "b", "c"])

    def test_unique(self):
        self.assertEqual(sort_lines(["b", "a", "b"], unique=True), ["a", "b"])


if __name__ == "__main__":
    unittest.main()
'''

SORTLINES_CORE_SOLVED = SORTLINES_CORE.replace(
    "def sort_lines(lines, unique=False, ignore_case=False):\n"
    "    \"\"\"Return `lines` sorted in ascending order.\n",
    "def sort_lines(lines, unique=False, ignore_case=False, reverse=False):\n"
    "    \"\"\"Return `lines` sorted in ascending order (descending if `reverse`).\n",
).replace(
    "    ignore_case: compare lines case-insensitively.\n",
    "    ignore_case: compare lines case-insensitively.\n"
    "    reverse: sort in descending order.\n",
).replace(
    "    result = sorted(lines, key=key)\n",
    "    result = sorted(lines, key=key, reverse=reverse)\n",
)

SORTLINES_CLI_SOLVED = SORTLINES_CLI.replace(
    '''                        help="compare lines case-insensitively")
    return parser''',
    '''                        help="compare lines case-insensitively")
    parser.add_argument("-r", "--reverse", action="store_true",
                        help="sort in descending order")
    return parser''',
).replace(
    "sort_lines(lines, unique=args.unique, ignore_case=args.ignore_case)",
    "sort_lines(lines, unique=args.unique, ignore_case=args.ignore_case,\n"
    "                           reverse=args.reverse)",
)

SORTLINES_README_SOLVED = SORTLINES_README.replace(
    "* `-i`, `--ignore-case`: compare lines case-insensitively\n",
    "* `-i`, `--ignore-case`: compare lines case-insensitively\n"
    "* `-r`, `--reverse`: sort in descending order\n",
)

SORTLINES_TEST_SCRIPT = '''import subprocess
import sys


def run(args, text):
    proc = subprocess.run([sys.executable, "-m", "sortlines"] + args, input=text,
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        print("sortlines %s failed: %s" % (" ".join(args), proc.stderr.strip()))
        return None
    return proc.stdout.splitlines()


def check(name, got, expected):
    good = got == expected
    print("%s %s: got %r, expected %r" % ("PASS" if good else "FAIL", name, got, expected))
    return good


data = "pear\\napple\\nfig\\nbanana\\n"
results = [
    check("default order", run([], data), ["apple", "banana", "fig", "pear"]),
    check("--reverse", run(["--reverse"], data), ["pear", "fig", "banana", "apple"]),
    check("-r", run(["-r"], data), ["pear", "fig", "banana", "apple"]),
    check("-r -u", run(["-r", "-u"], "b\\na\\nc\\nb\\na\\n"), ["c", "b", "a"]),
    check("-r -i", run(["-r", "-i"], "b\\nA\\nc\\nD\\n"), ["D", "c", "b", "A"]),
    check("-i keeps ascending", run(["-i"], "b\\nA\\nc\\nD\\n"), ["A", "b", "c", "D"]),
]
try:
    from sortlines.core import sort_lines
    results.append(check("sort_lines(reverse=True)",
                         sort_lines(["b", "c", "a"], reverse=True), ["c", "b", "a"]))
    results.append(check("sort_lines default", sort_lines(["b", "c", "a"]), ["a", "b", "c"]))
except Exception as exc:  # noqa: BLE001
    print("FAIL sort_lines API: %r" % (exc,))
    results.append(False)

ok = all(results)
exit_code = 0 if ok else 1
sys.exit(exit_code)
'''

# =========================================================================== 1_0 slugify
TEXTKIT_INIT = '''"""textkit: small text helpers."""
from .slug import slugify

__all__ = ["slugify"]
'''

TEXTKIT_SLUG = '''"""URL slugs."""
import re
import unicodedata


def slugify(text, separator="-"):
    """Turn `text` into a lowercase ASCII slug for URLs, e.g. "Hello World" -> "hello-world".

    Accents are dropped ("crème" -> "creme"); any character that is not a letter or a digit
    becomes `separator`.
    """
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower()
    text = re.sub(r"[^a-z0-9]", separator, text)
    return text
'''

TEXTKIT_SLUG_SOLVED = TEXTKIT_SLUG.replace(
    '''    Accents are dropped ("crème" -> "creme"); any character that is not a letter or a digit
    becomes `separator`.
    """''',
    '''    Accents are dropped ("crème" -> "creme"); every run of characters that are not letters
    or digits becomes one `separator`, and the slug never starts or ends with `separator`.
    """''',
).replace(
    '''    text = re.sub(r"[^a-z0-9]", separator, text)
    return text''',
    '''    words = re.split(r"[^a-z0-9]+", text)
    return separator.join(word for word in words if word)''',
)

TEXTKIT_TESTS = '''import unittest

from textkit import slugify


class SlugifyTest(unittest.TestCase):
    def test_simple(self):
        self.assertEqual(slugify("Hello World"), "hello-world")

    def test_accents(self):
        self.assertEqual(slugify("Cafe Creme"), "cafe-creme")


if __name__ == "__main__":
    unittest.main()
'''

TEXTKIT_README = """# textkit

Small text helpers.

    >>> from textkit import slugify
    >>> slugify("Hello World")
    'hello-world'

Run the tests with `python -m unittest discover -s tests`.
"""

TEXTKIT_TEST_SCRIPT = '''import sys
import unittest

from textkit import slugify


class SlugifyRegression(unittest.TestCase):
    def test_simple(self):
        self.assertEqual(slugify("Hello World"), "hello-world")

    def test_repeated_separators_collapse(self):
        self.assertEqual(slugify("Hello,  World!"), "hello-world")
        self.assertEqual(slugify("a -- b"), "a-b")

    def test_no_leading_or_trailing_separator(self):
        self.assertEqual(slugify("  --Already--slugged--  "), "already-slugged")
        self.assertEqual(slugify("(draft) notes"), "draft-notes")

    def test_accents(self):
        self.assertEqual(slugify("Cr\\u00e8me br\\u00fbl\\u00e9e \\u00e0 la carte"), "creme-brulee-a-la-carte")

    def test_digits_kept(self):
        self.assertEqual(slugify("Top 10 tips (2024)"), "top-10-tips-2024")

    def test_custom_separator(self):
        self.assertEqual(slugify("Hello,  World!", separator="_"), "hello_world")
        self.assertEqual(slugify("a b.c", separator="."), "a.b.c")

    def test_nothing_left(self):
        self.assertEqual(slugify(""), "")
        self.assertEqual(slugify("!!!"), "")


suite = unittest.defaultTestLoader.loadTestsFromTestCase(SlugifyRegression)
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
ok = result.wasSuccessful()
exit_code = 0 if ok else 1
sys.exit(exit_code)
'''

# =========================================================================== 2_0 tinystats (JS)
TINYSTATS_PACKAGE = """{
  "name": "tinystats",
  "version": "1.2.0",
  "description": "A few descriptive statistics for arrays of numbers",
  "main": "src/stats.js",
  "license": "MIT"
}
"""

TINYSTATS_STATS = """'use strict';

/** Sum of an array of numbers (0 for an empty array). */
function sum(xs) {
  return xs.reduce((acc, x) => acc + x, 0);
}

/** Arithmetic mean; throws a RangeError for an empty array. */
function mean(xs) {
  if (xs.length === 0) {
    throw new RangeError('mean of an empty array');
  }
  return sum(xs) / xs.length;
}

/** Population variance; throws a RangeError for an empty array. */
function variance(xs) {
  const m = mean(xs);
  return mean(xs.map((x) => (x - m) * (x - m)));
}

module.exports = { sum, mean, variance };
"""

TINYSTATS_STATS_SOLVED = TINYSTATS_STATS.replace(
    """module.exports = { sum, mean, variance };
""",
    """/**
 * Median: the middle value of the numbers in ascending order, or the mean of the two middle
 * values for an even count. Does not modify `xs`; throws a RangeError for an empty array.
 */
function median(xs) {
  if (xs.length === 0) {
    throw new RangeError('median of an empty array');
  }
  const sorted = xs.slice().sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

module.exports = { sum, mean, variance, median };
""",
)

TINYSTATS_README = """# tinystats

    const { sum, mean, variance } = require('./src/stats.js');
    mean([1, 2, 3]); // 2

All functions take an array of numbers; `mean` and `variance` throw a RangeError for an
empty array.
"""

TINYSTATS_TEST_SCRIPT = r'''import json
import subprocess
import sys

JS = r"""
const s = require('./src/stats.js');
const out = {};
const attempt = (name, f) => { try { out[name] = f(); } catch (e) { out[name] = 'threw ' + e.name; } };
attempt('odd', () => s.median([3, 1, 2]));
attempt('even', () => s.median([4, 1, 3, 2]));
attempt('numeric_sort', () => s.median([10, 9, 100]));
attempt('single', () => s.median([7]));
attempt('negative', () => s.median([-5, 0, -1, 8]));
const input = [5, 3, 9, 1];
attempt('median_of_input', () => s.median(input));
out.input_unchanged = JSON.stringify(input) === '[5,3,9,1]';
attempt('empty', () => s.median([]));
attempt('mean_still_works', () => s.mean([1, 2, 3, 6]));
console.log(JSON.stringify(out));
"""

expected = {
    "odd": 2,
    "even": 2.5,
    "numeric_sort": 10,
    "single": 7,
    "negative": -0.5,
    "median_of_input": 4,
    "input_unchanged": True,
    "empty": "threw RangeError",
    "mean_still_works": 3,
}

proc = subprocess.run(["node", "-e", JS], capture_output=True, text=True, timeout=30)
print(proc.stdout.strip())
if proc.returncode != 0:
    print(proc.stderr.strip())
    got = {}
else:
    got = json.loads(proc.stdout.strip().splitlines()[-1])
results = []
for key, value in expected.items():
    good = got.get(key) == value
    print("%s %s: got %r, expected %r" % ("PASS" if good else "FAIL", key, got.get(key), value))
    results.append(good)

ok = all(results)
exit_code = 0 if ok else 1
sys.exit(exit_code)
'''

# =========================================================================== 3_0 svcconf
SVCCONF_INIT = '''"""svcconf: load and validate service configuration."""
from .config import DEFAULTS, Config, load_config

__all__ = ["DEFAULTS", "Config", "load_config"]
'''

SVCCONF_CONFIG = '''"""Service configuration: defaults, loading and validation."""
import json

DEFAULTS = {
    "host": "127.0.0.1",
    "port": 8080,
    "timeout": 30,
    "retries": 3,
}


class Config:
    """Validated service settings."""

    def __init__(self, host, port, timeout, retries):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.retries = retries

    def as_dict(self):
        return {"host": self.host, "port": self.port, "timeout": self.timeout,
                "retries": self.retries}


def load_config(source):
    """Build a Config from a dict or from the path of a JSON file.

    Missing keys take their DEFAULTS value; unknown keys raise ValueError.
    """
    if isinstance(source, str):
        with open(source) as fh:
            data = json.load(fh)
    else:
        data = dict(source)
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ValueError("unknown config key(s): %s" % ", ".join(unknown))
    merged = dict(DEFAULTS)
    merged.update(data)
    if not 0 < int(merged["port"]) < 65536:
        raise ValueError("port must be between 1 and 65535")
    if merged["timeout"] <= 0:
        raise ValueError("timeout must be positive")
    if merged["retries"] < 0:
        raise ValueError("retries must not be negative")
    return Config(**merged)
'''

SVCCONF_CONFIG_SOLVED = '''"""Service configuration: defaults, loading and validation."""
import json
import warnings

DEFAULTS = {
    "host": "127.0.0.1",
    "port": 8080,
    "timeout_seconds": 30,
    "retries": 3,
}

# old key -> new key; old keys are still read, with a DeprecationWarning
RENAMED_KEYS = {"timeout": "timeout_seconds"}


class Config:
    """Validated service settings."""

    def __init__(self, host, port, timeout_seconds, retries):
        self.host = host
        self.port = port
        self.timeout_seconds = timeout_seconds
        self.retries = retries

    @property
    def timeout(self):
        """Deprecated alias of timeout_seconds."""
        warnings.warn("Config.timeout is deprecated; use Config.timeout_seconds",
                      DeprecationWarning, stacklevel=2)
        return self.timeout_seconds

    def as_dict(self):
        return {"host": self.host, "port": self.port, "timeout_seconds": self.timeout_seconds,
                "retries": self.retries}


def _rename_deprecated(data):
    data = dict(data)
    for old, new in RENAMED_KEYS.items():
        if old in data:
            warnings.warn("config key %r is deprecated; use %r instead" % (old, new),
                          DeprecationWarning, stacklevel=3)
            value = data.pop(old)
            data.setdefault(new, value)
    return data


def load_config(source):
    """Build a Config from a dict or from the path of a JSON file.

    Missing keys take their DEFAULTS value; unknown keys raise ValueError. The old key
    "timeout" is still accepted as "timeout_seconds" (DeprecationWarning); if both are
    given, "timeout_seconds" wins.
    """
    if isinstance(source, str):
        with open(source) as fh:
            data = json.load(fh)
    else:
        data = dict(source)
    data = _rename_deprecated(data)
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ValueError("unknown config key(s): %s" % ", ".join(unknown))
    merged = dict(DEFAULTS)
    merged.update(data)
    if not 0 < int(merged["port"]) < 65536:
        raise ValueError("port must be between 1 and 65535")
    if merged["timeout_seconds"] <= 0:
        raise ValueError("timeout_seconds must be positive")
    if merged["retries"] < 0:
        raise ValueError("retries must not be negative")
    return Config(**merged)
'''

SVCCONF_README = """# svcconf

    from svcconf import load_config
    cfg = load_config("service.json")   # or a dict
    cfg.host, cfg.port, cfg.timeout, cfg.retries

Keys: `host` (default "127.0.0.1"), `port` (8080), `timeout` in seconds (30), `retries` (3).
Unknown keys are rejected with ValueError.
"""

SVCCONF_README_SOLVED = """# svcconf

    from svcconf import load_config
    cfg = load_config("service.json")   # or a dict
    cfg.host, cfg.port, cfg.timeout_seconds, cfg.retries

Keys: `host` (default "127.0.0.1"), `port` (8080), `timeout_seconds` (30), `retries` (3).
Unknown keys are rejected with ValueError.

The key `timeout` was renamed `timeout_seconds`; the old key (and the attribute
`Config.timeout`) still work but emit a DeprecationWarning.
"""

SVCCONF_EXAMPLE = """{
  "host": "0.0.0.0",
  "port": 9000,
  "timeout": 45
}
"""

SVCCONF_EXAMPLE_SOLVED = """{
  "host": "0.0.0.0",
  "port": 9000,
  "timeout_seconds": 45
}
"""

SVCCONF_TEST_SCRIPT = '''import json
import os
import sys
import tempfile
import warnings

results = []


def check(name, good, detail=""):
    print("%s %s %s" % ("PASS" if good else "FAIL", name, detail))
    results.append(bool(good))


def load(source):
    from svcconf import load_config
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = load_config(source)
    return cfg, [w for w in caught if issubclass(w.category, DeprecationWarning)]


try:
    cfg, dep = load({"timeout_seconds": 12})
    check("new key is read", cfg.timeout_seconds == 12, repr(vars(cfg)))
    check("new key gives no DeprecationWarning", not dep, repr([str(w.message) for w in dep]))

    cfg, dep = load({"timeout": 7})
    check("old key still read", cfg.timeout_seconds == 7, repr(vars(cfg)))
    check("old key warns", len(dep) >= 1 and "timeout_seconds" in str(dep[0].message),
          repr([str(w.message) for w in dep]))

    cfg, dep = load({"timeout": 7, "timeout_seconds": 9})
    check("new key wins over old", cfg.timeout_seconds == 9, repr(vars(cfg)))
    check("both keys still warn", len(dep) >= 1)

    cfg, dep = load({})
    check("default timeout_seconds", cfg.timeout_seconds == 30 and not dep, repr(vars(cfg)))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = cfg.timeout
    check("Config.timeout alias", value == 30 and any(
        issubclass(w.category, DeprecationWarning) for w in caught))

    from svcconf import load_config
    try:
        load_config({"timeout_secs": 5})
        check("unknown key rejected", False)
    except ValueError:
        check("unknown key rejected", True)
    try:
        load_config({"timeout_seconds": 0})
        check("non-positive timeout_seconds rejected", False)
    except ValueError:
        check("non-positive timeout_seconds rejected", True)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "old.json")
        with open(path, "w") as fh:
            json.dump({"host": "example.org", "timeout": 5}, fh)
        cfg, dep = load(path)
        check("old JSON file", cfg.timeout_seconds == 5 and cfg.host == "example.org" and dep)
    check("as_dict uses the new key", cfg.as_dict().get("timeout_seconds") == 5
          and "timeout" not in cfg.as_dict(), repr(cfg.as_dict()))
except Exception as exc:  # noqa: BLE001
    check("no unexpected exception", False, repr(exc))

ok = bool(results) and all(results)
exit_code = 0 if ok else 1
sys.exit(exit_code)
'''

# =========================================================================== task table
TASKS = [
    dict(
        id="0_0", name="sortlines", language="Python",
        instruction=("Add a `--reverse` option (short form `-r`) to the `sortlines` command "
                     "(`python -m sortlines`) that prints the lines in descending order. It must "
                     "combine with the existing `--unique` and `--ignore-case` options, and the "
                     "default order must not change. Expose it in the library too, as a "
                     "`reverse=False` keyword argument of `sortlines.core.sort_lines`, and "
                     "document the option in the README."),
        base=[
            ("Initial sortlines package", {
                "README.md": SORTLINES_README, "sortlines/__init__.py": SORTLINES_INIT,
                "sortlines/__main__.py": SORTLINES_MAIN, "sortlines/core.py": SORTLINES_CORE,
                "sortlines/cli.py": SORTLINES_CLI}),
            ("Add unit tests for sort_lines", {"tests/test_core.py": SORTLINES_TESTS}),
        ],
        solution=("Add --reverse/-r option", {
            "sortlines/core.py": SORTLINES_CORE_SOLVED, "sortlines/cli.py": SORTLINES_CLI_SOLVED,
            "README.md": SORTLINES_README_SOLVED}),
        test_script=SORTLINES_TEST_SCRIPT,
    ),
    dict(
        id="1_0", name="textkit", language="Python",
        instruction=("`textkit.slugify` produces slugs with repeated separators and with "
                     "separators at the start or the end: `slugify(\"Hello,  World!\")` returns "
                     "`\"hello---world-\"` instead of `\"hello-world\"`. Fix it so that every run "
                     "of characters that are not letters or digits becomes a single separator and "
                     "the slug never starts or ends with a separator. Custom separators such as "
                     "`\"_\"` or `\".\"` must keep working."),
        base=[
            ("Add textkit with slugify", {
                "README.md": TEXTKIT_README, "textkit/__init__.py": TEXTKIT_INIT,
                "textkit/slug.py": TEXTKIT_SLUG, "tests/test_slug.py": TEXTKIT_TESTS}),
        ],
        solution=("slugify: collapse separator runs and strip them at the ends", {
            "textkit/slug.py": TEXTKIT_SLUG_SOLVED}),
        test_script=TEXTKIT_TEST_SCRIPT,
    ),
    dict(
        id="2_0", name="tinystats", language="JavaScript",
        instruction=("Export a `median(xs)` helper from `src/stats.js`. It returns the middle "
                     "value of the numbers in ascending numeric order, or the mean of the two "
                     "middle values when the count is even. It must not modify its input array, "
                     "and, like `mean`, it must throw a `RangeError` for an empty array. Keep the "
                     "existing exports unchanged."),
        base=[
            ("tinystats: sum and mean", {
                "package.json": TINYSTATS_PACKAGE, "README.md": TINYSTATS_README,
                "src/stats.js": TINYSTATS_STATS.replace(
                    "\n/** Population variance; throws a RangeError for an empty array. */\n"
                    "function variance(xs) {\n  const m = mean(xs);\n"
                    "  return mean(xs.map((x) => (x - m) * (x - m)));\n}\n", "").replace(
                    "{ sum, mean, variance }", "{ sum, mean }")}),
            ("Add variance", {"src/stats.js": TINYSTATS_STATS}),
        ],
        solution=("Add median", {"src/stats.js": TINYSTATS_STATS_SOLVED}),
        test_script=TINYSTATS_TEST_SCRIPT,
    ),
    dict(
        id="3_0", name="svcconf", language="Python",
        instruction=("Rename the configuration key `timeout` to `timeout_seconds` in `svcconf` "
                     "(defaults, validation, `Config` and `Config.as_dict()`), without breaking "
                     "existing users: `load_config` must still accept the old key `timeout`, use "
                     "its value for `timeout_seconds` and emit a `DeprecationWarning` whose message "
                     "names `timeout_seconds`; when both keys are given, `timeout_seconds` wins "
                     "(and the warning is still emitted). Reading the old attribute "
                     "`config.timeout` must keep working but emit a `DeprecationWarning`. Unknown "
                     "keys must still be rejected with `ValueError`. Update the README and the "
                     "example file."),
        base=[
            ("svcconf: configuration loader", {
                "README.md": SVCCONF_README, "svcconf/__init__.py": SVCCONF_INIT,
                "svcconf/config.py": SVCCONF_CONFIG, "examples/service.json": SVCCONF_EXAMPLE}),
        ],
        solution=("Rename timeout to timeout_seconds, keep the old key as deprecated", {
            "svcconf/config.py": SVCCONF_CONFIG_SOLVED, "README.md": SVCCONF_README_SOLVED,
            "examples/service.json": SVCCONF_EXAMPLE_SOLVED}),
        test_script=SVCCONF_TEST_SCRIPT,
    ),
]


# =========================================================================== git plumbing
def git(repo, *args, env=None, binary=False):
    out = subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True,
                         env=env)
    return out.stdout if binary else out.stdout.decode("utf-8")


def git_env(home, when):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": AUTHOR[0], "GIT_AUTHOR_EMAIL": AUTHOR[1],
        "GIT_COMMITTER_NAME": COMMITTER[0], "GIT_COMMITTER_EMAIL": COMMITTER[1],
        "GIT_AUTHOR_DATE": "%d +0000" % when, "GIT_COMMITTER_DATE": "%d +0000" % when,
        "LC_ALL": "C", "TZ": "UTC",
    }
    return env


def write_files(repo, files):
    for path, content in files.items():
        full = os.path.join(repo, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", newline="\n") as fh:
            fh.write(content)
        os.chmod(full, 0o644)


def commit(repo, home, when, message, files):
    write_files(repo, files)
    env = git_env(home, when)
    git(repo, "add", "--", *sorted(files), env=env)
    git(repo, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD", env=env).strip()


def build_task(task, tmp, repos_dir, clock):
    repo = os.path.join(tmp, task["name"])
    home = os.path.join(tmp, "home")
    os.makedirs(repo)
    os.makedirs(home, exist_ok=True)
    env = git_env(home, clock)
    git(repo, "init", "-q", "-b", "main", env=env)
    git(repo, "config", "core.autocrlf", "false", env=env)
    git(repo, "config", "core.fileMode", "true", env=env)
    for message, files in task["base"]:
        clock += 3600
        base = commit(repo, home, clock, message, files)
    git(repo, "checkout", "-q", "-b", "solution", env=env)
    clock += 3600
    message, files = task["solution"]
    solution = commit(repo, home, clock, message, files)
    git(repo, "checkout", "-q", "main", env=env)
    patch = git(repo, "diff", "--no-color", "--no-ext-diff", base, solution, env=env)
    changed = git(repo, "diff", "--name-only", "--no-renames", base, solution, env=env).split()
    modified = []
    for path in sorted(changed):
        try:
            content = git(repo, "show", "%s:%s" % (base, path), env=env)
        except subprocess.CalledProcessError:
            content = ""  # file created by the solution
        modified.append({"path": path, "content": content})
    bundle = os.path.join(repos_dir, task["name"] + ".bundle")
    git(repo, "-c", "pack.threads=1", "bundle", "create", "-q", bundle, "--all", env=env)
    row = {
        "id": task["id"],
        "repo_url": "repos/%s.bundle" % task["name"],
        "instruction": task["instruction"],
        "base_commit": base,
        "test_script": task["test_script"],
        "testbed_environment": "python3.11",
        "requirements_txt": "",
        "solution_commit": solution,
        "solution_patch": patch,
        "modified_files": modified,
        "language": task["language"],
    }
    return row, clock


def main():
    repos_dir = os.path.join(HERE, "repos")
    shutil.rmtree(repos_dir, ignore_errors=True)
    os.makedirs(repos_dir)
    rows = []
    clock = START
    with tempfile.TemporaryDirectory() as tmp:
        for task in TASKS:
            row, clock = build_task(task, tmp, repos_dir, clock)
            rows.append(row)
    with open(os.path.join(HERE, "dataset.json"), "w") as fh:
        json.dump(rows, fh, indent=2, ensure_ascii=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
