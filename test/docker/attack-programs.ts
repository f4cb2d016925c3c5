// The hostile Python of SECURITY.md's classic attacks, shared by the sandbox-level suite
// (attacks.test.ts, which sends it through Sandbox.exec) and the run-level suite
// (attacks-run.test.ts, which has a scripted model send it through `dynabox run`). Each suite
// asserts what its own layer must show; the attack itself is written once.

/** 1: forks until the pids limit, forever. */
export const FORK_BOMB = ["import os", "while True:", "    try:", "        os.fork()", "    except OSError:", "        pass"].join("\n");

/** 2: allocates 32 MiB at a time until the memory limit. */
export const MEMORY_BOMB = ["chunks = []", "while True:", "    chunks.append(b'x' * (32 * 1024 * 1024))"].join("\n");

/** 3: a Python loop (SIGINT can stop it, state kept). */
export const INFINITE_LOOP = ["while True:", "    pass"].join("\n");

/** 3: a loop in C holding the GIL, so no Python signal handler can run. */
export const C_LOOP_HOLDING_GIL = "sum(range(10 ** 13))";

/** 3: a blocking call with SIGINT blocked. */
export function sigintBlockedSleep(seconds: number): string {
  return ["import signal, time", "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])", `time.sleep(${seconds})`].join("\n");
}

/**
 * 4: a child that ignores SIGTERM and a daemonized grandchild in its own session; prints
 * "processes N" (N at least 4 while they live), then sleeps.
 */
export const ORPHANED_CHILDREN = [
  "import os, subprocess, time",
  "subprocess.Popen(['python3', '-c', 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])",
  "subprocess.Popen(['python3', '-c', 'import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(600)'], start_new_session=True)",
  "time.sleep(1)",
  "print('processes', len([p for p in os.listdir('/proc') if p.isdigit()]), flush=True)",
  "time.sleep(600)",
].join("\n");

/** 5: `mib` MiB of "y" on stdout, then 1 KiB that is not UTF-8. */
export function outputFlood(mib: number): string {
  return ["import os, sys", "chunk = 'y' * (1024 * 1024)", `for _ in range(${mib}):`, "    sys.stdout.write(chunk)", "sys.stdout.flush()", "os.write(1, bytes(range(256)) * 4)"].join("\n");
}

/** 11: the kernel ends its own process in three ways. */
export const KERNEL_SUICIDES = {
  exit: ["import os", "os._exit(3)"].join("\n"),
  selfKill: ["import os, signal", "os.kill(os.getpid(), signal.SIGKILL)"].join("\n"),
  groupKill: ["import os, signal", "os.killpg(0, signal.SIGKILL)"].join("\n"),
};

/**
 * 12: writes `fake` (protocol lines) to fds 1 and 2 through print and os.write, then to PID 1's
 * fds, the terminal and the console; the cell's value lists the targets that could not be opened.
 */
export function forgedProtocolLines(fake: string): string {
  return [
    "import os, sys",
    `fake = ${JSON.stringify(fake)}`,
    "print(fake, end='', flush=True)",
    "sys.stderr.write(fake)",
    "sys.stderr.flush()",
    "os.write(1, fake.encode())",
    "os.write(2, fake.encode())",
    "blocked = []",
    "for target in ('/proc/1/fd/1', '/proc/1/fd/0', '/dev/tty', '/dev/console'):",
    "    try:",
    "        with open(target, 'w') as handle:",
    "            handle.write(fake)",
    "    except OSError:",
    "        blocked.append(target)",
    "blocked",
  ].join("\n");
}
