// The report's Eta templates. `<%= %>` escapes (Eta's default, autoEscape on); `<%~ %>` inserts
// raw HTML and is used only for what html.ts made safe: the stylesheet and script (ours), the
// charts (escaped labels), diff2html's output and rendered Markdown (both escape their text).

export const PAGE_TEMPLATE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="<%= it.csp %>">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dynabox report: <%= it.title %></title>
<style><%~ it.css %></style>
</head>
<body>
<header class="page">
  <h1>dynabox <%= it.run.kind %>: <%= it.title %></h1>
  <div class="muted"><%= it.run.directory %> · report written <%= it.writtenAt %></div>
</header>
<main>
<section id="summary">
  <h2>Summary</h2>
  <div class="cards" id="family-cards">
  <% it.families.forEach(function (family) { %>
    <div class="card" data-family="<%= family.family %>">
      <div class="family"><%= family.name %></div>
      <% family.metrics.forEach(function (metric) { %>
        <div class="metric"><%= metric.label %>: <b data-metric="<%= family.family %>.<%= metric.key %>" data-value="<%= metric.raw %>"><%= metric.text %></b></div>
      <% }) %>
    </div>
  <% }) %>
    <div class="card" id="totals">
      <div class="family">Totals</div>
      <div class="metric">tasks: <b data-metric="totals.tasks" data-value="<%= it.run.totals.tasks %>"><%= it.run.totals.tasks %></b></div>
      <div class="metric">infrastructure errors: <b data-metric="totals.errors" data-value="<%= it.run.totals.errors %>"><%= it.run.totals.errors %></b></div>
<% if (it.agentColumns) { %>
      <div class="metric">tokens: <b data-metric="totals.tokens" data-value="<%= it.run.totals.tokens %>"><%= it.fmt.integer(it.run.totals.tokens) %></b></div>
      <div class="metric">dollars: <b data-metric="totals.cost_usd" data-value="<%= it.run.totals.costUsd %>"><%= it.fmt.dollars(it.run.totals.costUsd) %></b></div>
      <% } %>
      <div class="metric">container time: <b data-metric="totals.container_seconds" data-value="<%= it.run.totals.containerSeconds %>"><%= it.fmt.seconds(it.run.totals.containerSeconds) %></b></div>
    </div>
  </div>
  <% if (it.run.kind === "validate") { %>
  <p class="muted">Each task's proof of validity, run in fresh containers: MLAgentBench: the starter scores as the baseline and the reference solution succeeds; ScienceAgentBench: the gold program passes and an empty one fails; RES-Q: the test fails at the base commit and passes with the solution patch. "passed" means valid.</p>
  <% } else { %>
  <p class="muted">Metrics as upstream computes them: MLAgentBench success is an improvement over the baseline above 10 %; ScienceAgentBench VER is the share of programs that ran and wrote their output, SR the share that passed the task's eval; RES-Q pass@1 the share of patches whose tests pass. Infrastructure errors (model endpoint, engine, sandbox, grader) are counted apart and are not failures of the agent.</p>
  <% } %>
  <% if (it.passAtK.length > 0) { %>
  <h3>Several attempts</h3>
  <table id="pass-at-k">
    <thead><tr><th>family</th><th class="number">k</th><th class="number">tasks</th><th class="number">pass@k</th></tr></thead>
    <tbody>
    <% it.passAtK.forEach(function (row) { %>
      <tr><td><%= row.family %></td><td class="number"><%= row.k %></td><td class="number"><%= row.tasks %></td><td class="number" data-pass-at-k="<%= row.family %>.<%= row.k %>" data-value="<%= row.value === null ? '' : row.value %>"><%= it.fmt.percent(row.value) %></td></tr>
    <% }) %>
    </tbody>
  </table>
  <p class="muted">pass@k: the unbiased estimator 1 − C(n−c, k)/C(n, k) over each task's n graded attempts with c passed, averaged over tasks. Best-of-k, in the family cards: a task counts as passed when any attempt passed<%= it.bestOfRule ? '; ScienceAgentBench selects one attempt per task as its calculate_metrics.py does: ' + it.bestOfRule : '' %>.</p>
  <% } %>
  <div class="charts"><% it.charts.forEach(function (chart) { %><%~ chart %><% }) %></div>
  <h3>Run</h3>
  <dl class="facts" id="manifest">
  <% it.manifest.forEach(function (fact) { %><dt><%= fact.label %></dt><dd data-fact="<%= fact.label %>"><%= fact.value %></dd><% }) %>
  </dl>
</section>
<section id="tasks">
  <h2>Tasks</h2>
  <div class="filters">
    <label>family <select id="filter-family"><option value="">all</option><% it.familyNames.forEach(function (name) { %><option value="<%= name %>"><%= name %></option><% }) %></select></label>
    <label>outcome <select id="filter-outcome"><option value="">all</option><% it.outcomeNames.forEach(function (name) { %><option value="<%= name %>"><%= name %></option><% }) %></select></label>
    <label>search <input id="filter-text" type="search" placeholder="task id or reason"></label>
    <span class="muted"><span id="shown-count"><%= it.run.tasks.length %></span> of <%= it.run.tasks.length %> shown; click a column to sort</span>
  </div>
  <table id="task-table">
    <thead><tr>
      <th data-sort="text">task</th><th data-sort="text">family</th><th data-sort="number" class="number">attempt</th><th data-sort="text">outcome</th>
      <th data-sort="number" class="number">score</th><th data-sort="number" class="number">baseline</th>
      <% if (it.agentColumns) { %><th data-sort="number" class="number">steps</th><th data-sort="number" class="number">tokens</th><th data-sort="number" class="number">cost</th><% } %>
      <th data-sort="text">why</th>
    </tr></thead>
    <tbody>
    <% it.run.tasks.forEach(function (task) { %>
      <tr data-family="<%= task.family %>" data-outcome="<%= task.outcome %>" data-search="<%= (task.family + '/' + task.id + ' ' + (task.reason || '')).toLowerCase() %>" data-task="<%= task.index %>">
        <td data-value="<%= task.family %>/<%= task.id %>"><a href="#task-<%= task.index %>"><%= task.id %></a><% if (task.item && task.attempt === null) { %> <span class="muted"><%= task.item %></span><% } %></td>
        <td data-value="<%= task.family %>"><%= task.family %></td>
        <td class="number" data-value="<%= task.attempt === null ? '' : task.attempt %>"><%= task.attempt === null ? '' : task.attempt %></td>
        <td data-value="<%= task.outcome %>"><span class="badge <%= task.outcome %>"><%= task.outcome %></span></td>
        <td class="number" data-value="<%= task.score === null ? '' : task.score %>"><%= it.fmt.number(task.score) %></td>
        <td class="number" data-value="<%= task.baseline === null ? '' : task.baseline %>"><%= it.fmt.number(task.baseline) %></td>
        <% if (it.agentColumns) { %>
        <td class="number" data-value="<%= task.steps.length %>"><%= task.steps.length %></td>
        <td class="number" data-value="<%= task.tokens === null ? '' : task.tokens %>"><%= task.tokens === null ? '' : it.fmt.integer(task.tokens) %></td>
        <td class="number" data-value="<%= task.costUsd === null ? '' : task.costUsd %>"><%= task.costUsd === null ? '' : it.fmt.dollars(task.costUsd) %></td>
        <% } %>
        <td data-value="<%= task.reason || '' %>"><%= task.reason || '' %></td>
      </tr>
    <% }) %>
    </tbody>
  </table>
</section>
<section id="details">
  <h2>Each task</h2>
  <% it.tasks.forEach(function (view) { %><%~ include("@task", { view: view, fmt: it.fmt }) %><% }) %>
</section>
</main>
<script><%~ it.script %></script>
</body>
</html>
`;

export const TASK_TEMPLATE = `<% const task = it.view.task; const fmt = it.fmt; %>
<details class="task" id="task-<%= task.index %>" data-family="<%= task.family %>" data-outcome="<%= task.outcome %>">
  <summary><span class="badge <%= task.outcome %>"><%= task.outcome %></span> <%= task.family %>/<%= task.id %><% if (task.item) { %> <span class="muted"><%= task.item %></span><% } %><% if (task.reason) { %> <span class="reason">— <%= task.reason %></span><% } %></summary>
  <dl class="facts">
    <dt>outcome</dt><dd><%= task.outcome %><% if (task.errorKind) { %> (<%= task.errorKind %>)<% } %></dd>
    <% if (task.reason) { %><dt>why</dt><dd class="why"><%= task.reason %></dd><% } %>
    <dt>score</dt><dd><%= fmt.number(task.score) %><% if (task.baseline !== null) { %> against a baseline of <%= fmt.number(task.baseline) %><% if (typeof task.upstream.improvement === "number") { %> (<%= fmt.signedPercent(task.upstream.improvement) %>)<% } %><% } %></dd>
    <% if (task.stopReason) { %><dt>agent stopped</dt><dd><%= task.stopReason %></dd><% } %>
    <% if (task.steps.length > 0 || task.tokens !== null) { %><dt>steps</dt><dd><%= task.steps.length %></dd><% } %>
    <% if (task.tokens !== null) { %><dt>tokens</dt><dd><%= fmt.integer(task.tokens) %></dd><% } %>
    <% if (task.costUsd !== null) { %><dt>cost</dt><dd><%= fmt.dollars(task.costUsd) %></dd><% } %>
    <% if (task.steps.length > 0) { %><dt>model retries</dt><dd><%= task.retries %></dd><% } %>
    <% if (task.containerSeconds !== null) { %><dt>agent container time</dt><dd><%= fmt.seconds(task.containerSeconds) %></dd><% } %>
    <% if (task.gradingSeconds !== null) { %><dt>grading time</dt><dd><%= fmt.seconds(task.gradingSeconds) %></dd><% } %>
    <% if (task.resources) { %><dt>resources</dt><dd>CPU <%= fmt.seconds(task.resources.cpuSeconds) %>, peak memory <%= task.resources.peakMemoryMb === null ? 'n/a' : fmt.number(task.resources.peakMemoryMb) + ' MB' %>, output <%= fmt.integer(task.resources.outputBytes) %> bytes, <%= task.resources.oomSteps %> step(s) out of memory, <%= task.resources.timedOutSteps %> step(s) timed out</dd><% } %>
    <% if (task.steps.length > 0 || task.actionsCreated.length > 0) { %><dt>actions created</dt><dd><%= task.actionsCreated.join(", ") || "none" %></dd><% } %>
    <% if (task.steps.length > 0 || task.actionsUsed.length > 0) { %><dt>library actions called</dt><dd><%= task.actionsUsed.join(", ") || "none" %></dd><% } %>
    <% if (task.reviewFlags.length > 0) { %><dt>flagged for review</dt><dd><%= task.reviewFlags.join("; ") %></dd><% } %>
  </dl>
  <% if (it.view.promptHtml) { %><details class="prompt"><summary>the task as the agent was told it</summary><div class="thought"><%~ it.view.promptHtml %></div></details><% } %>
  <% if (task.feedback.length > 0) { %>
  <h3>What the grader said</h3>
  <% task.feedback.forEach(function (entry) { %><div class="muted"><%= entry.label %></div><pre class="feedback"><%= entry.text %></pre><% }) %>
  <% } %>
  <% if (it.view.diffHtml) { %>
  <h3>Submission</h3>
  <div class="submission"><%~ it.view.diffHtml %></div>
  <% } %>
  <% if (it.view.steps.length > 0) { %>
  <h3>Steps</h3>
  <% it.view.steps.forEach(function (step) { %>
  <details class="step <%= step.step.ok === true ? 'ok' : step.step.ok === false ? 'raised' : '' %>">
    <summary>Step <%= step.step.step %> — <%= step.step.ok === true ? 'ran' : step.step.ok === false ? 'raised or was stopped' : step.step.parseError ? 'reply not understood' : 'no code' %> · <%= fmt.integer(step.step.tokens) %> tokens · <%= fmt.dollars(step.step.costUsd) %><% if (step.step.modelMs !== null) { %> · model <%= fmt.milliseconds(step.step.modelMs) %><% } %><% if (step.step.execMs !== null) { %> · run <%= fmt.milliseconds(step.step.execMs) %><% } %><% if (step.step.attempts > 1) { %> · <%= step.step.attempts - 1 %> retr<%= step.step.attempts === 2 ? 'y' : 'ies' %><% } %></summary>
    <% if (step.thoughtHtml) { %><div class="muted">thought</div><div class="thought"><%~ step.thoughtHtml %></div><% } %>
    <% if (step.step.parseError) { %><div class="muted">reply not understood</div><pre><%= step.step.parseError %></pre><% } %>
    <% if (step.step.code !== null) { %><div class="muted">code</div><pre class="code"><%= step.step.code %></pre><% } %>
    <div class="muted">observation<% if (step.observationCut) { %> (head and tail; <%= fmt.integer(step.step.observation.length) %> characters in all)<% } %></div>
    <% if (step.observationCut) { %>
      <pre class="observation"><%= step.observationHead %></pre><div class="muted">…</div><pre class="observation"><%= step.observationTail %></pre>
      <details><summary>the whole observation</summary><pre><%= step.observationKept %></pre></details>
    <% } else { %><pre class="observation"><%= step.step.observation %></pre><% } %>
  </details>
  <% }) %>
  <% } %>
  <details><summary>the upstream result line</summary><pre><%= JSON.stringify(task.upstream, null, 2) %></pre></details>
</details>
`;
