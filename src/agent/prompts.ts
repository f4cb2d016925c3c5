// The words the agent's model reads. Pure functions of the task and the library, so prompts can
// be tested and diffed without a model.

export interface OfferedAction {
  name: string;
  signature: string;
  docstring: string;
}

const INITIAL_ACTIONS = `- list_files(path=".") -> list[str]: files and folders under a workspace folder (folders end with "/")
- read_file(path, max_chars=20000) -> str: the text of a workspace file
- write_file(path, content) -> str: write a text file (read-only task files are refused)
- copy_file(source, destination) -> str: copy a workspace file
- inspect_script_lines(path, start_line=1, end_line=100) -> str: numbered lines of a file (100 at most)
- execute_script(path, timeout=600, args=()) -> str: run "python -u path" in the workspace; its stdout, or an error with its stderr
- search_actions(query, limit=5) -> list[str]: search the library of functions written in earlier tasks; matches are defined in the kernel and printed with their signatures
- submit(answer=None) -> str: end the task (for file-based tasks, the workspace as it is now is what gets graded)`;

export function systemPrompt(limits: { maxSteps: number; stepTimeoutSeconds: number }): string {
  return `You are an agent that solves tasks by writing Python code. Each step you answer with a short thought and one block of Python code. The code runs in a persistent Python kernel (like a notebook: variables, imports and functions stay defined between steps) inside a sandbox with no network access. Its working directory is the task's workspace.

After each step you receive an observation: what the code printed, the value of its last expression, and any error with its traceback. Use it to decide the next step.

Answer format: a JSON object {"thought": "...", "code": "..."} when asked for JSON; otherwise a short thought followed by exactly one fenced block \`\`\`python ... \`\`\`. When tools are offered, call the python tool with your code (its result comes back as the tool's answer) and the submit tool, or submit() in code, to finish.

Functions you can call (already defined):
${INITIAL_ACTIONS}

How to work:
- Reuse functions from earlier tasks when they fit; call search_actions(query) to find more.
- When you need a new capability, write it as a general, reusable top-level function with type hints and a one-line docstring (for example count_rows(path) rather than count_rows_in_train_csv()), then call it. Functions from steps that succeed are kept for later tasks when the task passes.
- Print what you need to see; keep outputs short (long outputs are cut in the middle).
- Each step may run for at most ${limits.stepTimeoutSeconds} seconds. You have at most ${limits.maxSteps} steps.
- Do not give up early; when the work is done, call submit().`;
}

export function taskPrompt(description: string, offered: readonly OfferedAction[]): string {
  const library =
    offered.length === 0
      ? "No functions from earlier tasks matched this task; search_actions(query) may still find some."
      : `Functions from earlier tasks that may help (already defined in the kernel):\n${offered
          .map((action) => `- ${action.signature}: ${firstLine(action.docstring)}`)
          .join("\n")}`;
  return `${description.trim()}\n\n${library}`;
}

export function limitMessage(limit: string): string {
  return `The ${limit} limit for this task has been reached. This is your last step: finish what is needed and call submit() now.`;
}

function firstLine(text: string): string {
  const line = text.trim().split("\n")[0] ?? "";
  return line === "" ? "(no docstring)" : line;
}
