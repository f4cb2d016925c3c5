#!/usr/bin/env bash
# Development aid: prove every bundled task under tasks/ valid, inside Docker.
#   tasks/verify.sh [IMAGE] [mlab|sab|resq|det ...]
# IMAGE defaults to dynabox-sandbox-test (python3 + numpy/pandas/scipy/sklearn, git, node).
# Checks (all with --network none, as uid 1000, on a temporary copy of tasks/):
#   mlab: prepare.py writes ../env data, answer and the `prepared` marker; the starter train.py
#         runs and scores > 0; solution/ overlaid on env/ beats it by > 10 % in the task's direction.
#   sab:  gold program, run as `python -m pred_programs.pred_<name>` from the task root, passes
#         its eval(); an empty program (no output) and a constant output fail.
#   resq: test_script (with the secret print inserted) fails at base_commit and passes after
#         `git apply` of solution_patch.
#   det:  every generator, run twice, gives byte-identical output.
# Prints one line per check with the seconds it took; exits non-zero if any check fails.
set -u
IMAGE=${1:-dynabox-sandbox-test}
shift || true
PARTS=${*:-mlab sab resq det}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/dynabox-verify.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FAILS=0

fresh_copy() {  # fresh_copy DIR -> copies tasks/ to DIR, writable by uid 1000
  mkdir -p "$1" && cp -r "$HERE/." "$1/" && chmod -R a+rwX "$1"
}
dpy() {  # dpy HOSTDIR WORKDIR_IN_CONTAINER ARGS... : python3 in the sandbox image
  local mnt=$1 wd=$2; shift 2
  docker run --rm --network none --user 1000 -v "$mnt":/t -w "$wd" \
    --entrypoint python3 "$IMAGE" "$@"
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
report() {  # report OK|FAIL text
  [ "$1" = OK ] || FAILS=$((FAILS+1))
  printf '%-4s %s\n' "$1" "$2"
}

# ---------------------------------------------------------------- mlab
SCORE_PY='
import importlib.util, sys
spec = importlib.util.spec_from_file_location("task_eval", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
print(repr(float(m.get_score(sys.argv[2]))))
'
verify_mlab() {
  local root="$WORK/mlab"; fresh_copy "$root"
  for tdir in "$root"/mlab/*/; do
    local t; t=$(basename "$tdir")
    local timeout; timeout=$(dpy "$root" /t -c "import json;print(json.load(open('mlab/$t/scripts/task.json'))['timeout_seconds'])")
    local direction; direction=$(dpy "$root" /t -c "import json;print(json.load(open('mlab/$t/scripts/task.json'))['direction'])")
    local t0 t1; t0=$(now)
    if ! dpy "$root" "/t/mlab/$t/scripts" prepare.py >"$WORK/$t.prep.log" 2>&1 || [ ! -f "$tdir/scripts/prepared" ]; then
      report FAIL "mlab/$t prepare.py ($(cat "$WORK/$t.prep.log" | tail -3))"; continue
    fi
    t1=$(now); report OK "mlab/$t prepare $(secs "$t0" "$t1")s"
    local scores=()
    for variant in starter solution; do
      local ws="$root/ws-$t-$variant"; mkdir -p "$ws"; cp -r "$tdir/env/." "$ws/"
      [ "$variant" = solution ] && cp -r "$tdir/solution/." "$ws/"
      chmod -R a+rwX "$ws"
      t0=$(now)
      if ! timeout "$timeout" docker run --rm --network none --user 1000 -v "$ws":/w -w /w \
            --entrypoint python3 "$IMAGE" -u train.py >"$WORK/$t.$variant.log" 2>&1; then
        report FAIL "mlab/$t $variant train.py ($(tail -3 "$WORK/$t.$variant.log"))"; scores+=(nan); continue
      fi
      t1=$(now)
      local s; s=$(docker run --rm --network none --user 1000 -v "$tdir/scripts":/s:ro -v "$ws":/w:ro \
            --entrypoint python3 "$IMAGE" -c "$SCORE_PY" /s/eval.py /w 2>&1 | tail -1)
      local t2; t2=$(now)
      scores+=("$s")
      report OK "mlab/$t $variant score=$s (train.py $(secs "$t0" "$t1")s, eval $(secs "$t1" "$t2")s)"
    done
    local verdict
    verdict=$(python3 - "$direction" "${scores[0]}" "${scores[1]}" <<'PY'
import sys, math
d, b, s = sys.argv[1], sys.argv[2], sys.argv[3]
try: b, s = float(b), float(s)
except ValueError: print("FAIL unparsable scores"); sys.exit()
if not (b > 0 and s > 0 and math.isfinite(b) and math.isfinite(s)): print("FAIL invalid score"); sys.exit()
imp = (s - b) / b
ok = imp > 0.10 if d == "higher" else imp < -0.10
print(("OK" if ok else "FAIL") + " direction=%s baseline=%.6g reference=%.6g improvement=%+.1f%%" % (d, b, s, 100 * imp))
PY
)
    report "${verdict%% *}" "mlab/$t ${verdict#* }"
  done
}

# ---------------------------------------------------------------- sab
SAB_PY='
import csv, json, os, shutil, subprocess, sys, time
row = json.loads(sys.argv[1])
name = row["gold_program_name"][:-3]
out = row["output_fname"]
ev = row["eval_script_name"][:-3]
def run_program(source):
    shutil.rmtree("pred_results", ignore_errors=True)
    shutil.rmtree("pred_programs", ignore_errors=True)
    os.makedirs("pred_programs")
    open("pred_programs/pred_%s.py" % name, "w").write(source)
    t = time.time()
    p = subprocess.run([sys.executable, "-m", "pred_programs.pred_" + name],
                       capture_output=True, text=True, timeout=900)
    valid = p.returncode == 0 and os.path.exists(out)
    return valid, time.time() - t, p.stderr[-300:]
def run_eval():
    t = time.time()
    code = "from benchmark.eval_programs.%s import eval\nimport json\ns, log = eval()\nprint(json.dumps([int(s), str(log)]))" % ev
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return 0, "eval raised: " + p.stderr.strip().splitlines()[-1], time.time() - t
    s, log = json.loads(p.stdout.strip().splitlines()[-1])
    return s, log, time.time() - t
def constant_output():
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if out.endswith(".csv"):
        rows = list(csv.reader(open(out)))
        rows = [rows[0]] + [[r[0]] + ["0.5"] * (len(r) - 1) for r in rows[1:]]
        with open(out, "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    else:
        first = open(out).readline()
        open(out, "w").write(first)
res = {}
gold_src = open("benchmark/gold_programs/" + row["gold_program_name"]).read()
valid, secs, err = run_program(gold_src)
s, log, esecs = run_eval() if valid else (0, "invalid program: " + err, 0)
res["gold"] = (valid and s == 1, "valid=%d success=%d program %.1fs eval %.1fs [%s]" % (valid, s, secs, esecs, log))
if valid:
    constant_output()
    s, log, esecs = run_eval()
    res["constant"] = (s != 1, "success=%d eval %.1fs [%s]" % (s, esecs, log))
valid, secs, err = run_program("pass\n")
s, log, esecs = run_eval()
res["empty"] = (not valid and s != 1, "valid=%d success=%d program %.1fs [%s]" % (valid, s, secs, log))
for k, (ok, msg) in res.items():
    print("%s %s %s" % ("OK" if ok else "FAIL", k, msg))
'
verify_sab() {
  local root="$WORK/sab"; fresh_copy "$root"
  local n; n=$(wc -l <"$root/sab/tasks.jsonl")
  for i in $(seq 1 "$n"); do
    local row; row=$(sed -n "${i}p" "$root/sab/tasks.jsonl")
    local id; id=$(dpy "$root" /t -c 'import json,sys;r=json.loads(sys.argv[1]);print(r["instance_id"]+"/"+r["gold_program_name"])' "$row")
    # benchmark/ read-only, as upstream grading mounts it
    while read -r verdict rest; do
      report "$verdict" "sab/$id $rest"
    done < <(docker run --rm --network none --user 1000 -v "$root/sab":/t -v "$root/sab/benchmark":/t/benchmark:ro \
               -w /t --entrypoint python3 "$IMAGE" -c "$SAB_PY" "$row" 2>&1)
  done
}

# ---------------------------------------------------------------- resq
RESQ_PY='
import json, os, subprocess, sys, time, uuid
rows = json.load(open("resq/dataset.json"))
def sh(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)
def run_test(repo, script):
    secret = uuid.uuid4().hex
    lines = script.splitlines()
    for i, line in enumerate(lines):
        if "sys.exit(0)" in line or "sys.exit(exit_code)" in line:
            indent = line[: len(line) - len(line.lstrip())]
            lines.insert(i, indent + "print(%r)" % secret)
            break
    name = "%s.py" % uuid.uuid4().hex
    open(os.path.join(repo, name), "w").write("\n".join(lines) + "\n")
    t = time.time()
    try:
        p = subprocess.run([sys.executable, name], cwd=repo, capture_output=True, text=True, timeout=60)
        out = [l for l in (p.stdout + p.stderr).strip().splitlines() if l.strip() and secret not in l]
        passed, tail = p.returncode == 0 and secret in p.stdout, ["exit %d" % p.returncode] + out[-1:]
    except subprocess.TimeoutExpired:
        passed, tail = False, ["TIMED OUT"]
    os.remove(os.path.join(repo, name))
    return passed, time.time() - t, " ".join(tail)[:160]
for row in rows:
    rid = row["id"]
    repo = "/tmp/w/%s" % rid
    t = time.time()
    sh(["git", "clone", "-q", os.path.abspath(os.path.join("resq", row["repo_url"])), repo], "/")
    sh(["git", "reset", "-q", "--hard", row["base_commit"]], repo)
    sh(["git", "clean", "-fdxq"], repo)
    head = sh(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    csecs = time.time() - t
    passed, secs, tail = run_test(repo, row["test_script"])
    print("%s %s/%s base fails: passed=%d clone %.1fs test %.1fs [%s]" % (
        "OK" if (not passed and head == row["base_commit"]) else "FAIL", rid, row["language"], passed, csecs, secs, tail))
    open("/tmp/w/temp.patch", "w").write(row["solution_patch"])
    ap = sh(["git", "apply", "--reject", "--whitespace=fix", "-v", "../temp.patch"], repo)
    same = sh(["git", "diff", "--quiet", row["solution_commit"]], repo).returncode == 0
    passed, secs, tail = run_test(repo, row["test_script"])
    print("%s %s/%s solution passes: applied=%d tree==solution_commit=%d passed=%d test %.1fs [%s]" % (
        "OK" if (ap.returncode == 0 and same and passed) else "FAIL", rid, row["language"], ap.returncode == 0, same, passed, secs, tail))
'
verify_resq() {
  local root="$WORK/resq"; fresh_copy "$root"
  while read -r verdict rest; do
    report "$verdict" "resq/$rest"
  done < <(docker run --rm --network none --user 1000 -v "$root":/t:ro -w /t \
             --entrypoint sh "$IMAGE" -c 'mkdir -p /tmp/w && exec python3 -c "$0"' "$RESQ_PY" 2>&1)
}

# ---------------------------------------------------------------- det
snapshot() {  # snapshot DIR -> sorted sha256 of every file under DIR, paths relative to DIR
  (cd "$1" && find . -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum)
}
verify_det() {
  local a="$WORK/det-a" b="$WORK/det-b"
  fresh_copy "$a"; fresh_copy "$b"
  local t0 t1
  for d in "$a" "$b"; do
    for tdir in "$d"/mlab/*/; do
      dpy "$d" "/t/mlab/$(basename "$tdir")/scripts" prepare.py >/dev/null 2>&1
    done
    t0=$(now)
    dpy "$d" /t/sab generate.py >/dev/null 2>&1
    t1=$(now); [ "$d" = "$a" ] && report OK "det sab/generate.py ran in $(secs "$t0" "$t1")s"
    docker run --rm --network none --user 1000 -v "$d":/t -w /t/resq --entrypoint python3 "$IMAGE" build.py >/dev/null 2>&1
    t0=$(now); [ "$d" = "$a" ] && report OK "det resq/build.py ran in $(secs "$t1" "$t0")s"
  done
  for part in mlab sab resq; do
    if diff <(snapshot "$a/$part") <(snapshot "$b/$part") >"$WORK/det-$part.diff"; then
      report OK "det $part: two generator runs give byte-identical files"
    else
      report FAIL "det $part: generator output differs between runs ($(head -c 300 "$WORK/det-$part.diff"))"
    fi
  done
  # committed files must be exactly what the generators write
  for part in sab resq; do
    if diff <(snapshot "$HERE/$part") <(snapshot "$a/$part") >"$WORK/det-c-$part.diff"; then
      report OK "det $part: committed files equal the regenerated ones"
    else
      report FAIL "det $part: committed files differ from regenerated ones ($(head -c 300 "$WORK/det-c-$part.diff"))"
    fi
  done
}

for part in $PARTS; do
  case $part in
    mlab) verify_mlab ;;
    sab) verify_sab ;;
    resq) verify_resq ;;
    det) verify_det ;;
    *) echo "unknown part $part"; exit 2 ;;
  esac
done
echo "failures: $FAILS"
[ "$FAILS" -eq 0 ]
