import { BAD_INPUT_SCENARIOS } from './bad-input.js';
import { ScenarioResults, ScenarioUnavailable, type CheckDef } from './check-kit.js';
import { CHECKS } from './checks.js';
import { Harness, type RunResult } from './harness.js';
import { SCENARIOS, type Scenario } from './scenarios.js';
import type { CheckResult, ConformanceOptions, ConformanceProfile, ConformanceReport } from './types.js';

const ALL_SCENARIOS: Scenario[] = [...SCENARIOS, ...BAD_INPUT_SCENARIOS];

const matches = (id: string, patterns: readonly string[]) => patterns.some((p) => id === p || (p.endsWith('.') && id.startsWith(p)));

/** The checks a run of the suite makes, in report order (what `only` and `skip` leave). */
export function selectChecks(opts: Pick<ConformanceOptions, 'only' | 'skip'> = {}): Array<Pick<CheckDef, 'id' | 'section' | 'title'>> {
  return select(opts).map(({ id, section, title }) => ({ id, section, title }));
}

function select(opts: Pick<ConformanceOptions, 'only' | 'skip'>): CheckDef[] {
  return CHECKS.filter((c) => (!opts.only || matches(c.id, opts.only)) && !(opts.skip && matches(c.id, opts.skip)));
}

function scenariosFor(checks: CheckDef[]): Scenario[] {
  const wanted = new Set(checks.flatMap((c) => c.needs).filter((n) => n !== '*'));
  // A check that looks at every output (secrets) alone in a selection gets every scenario.
  if (wanted.size === 0 && checks.some((c) => c.needs.includes('*'))) for (const s of ALL_SCENARIOS) wanted.add(s.id);
  for (const s of ALL_SCENARIOS) if (wanted.has(s.id) && s.after) wanted.add(s.after);
  // Training runs first, so the many short runs fill in around them.
  return ALL_SCENARIOS.filter((s) => wanted.has(s.id)).sort((a, b) => Number(b.trains) - Number(a.trains));
}

async function runScenarios(h: Harness, scenarios: Scenario[], concurrency: number, log?: (line: string) => void): Promise<Map<string, RunResult | Error>> {
  const results = new Map<string, RunResult | Error>();
  const pending = [...scenarios];
  const running = new Set<Promise<void>>();
  const worker = async (): Promise<void> => {
    for (;;) {
      const next = pending.findIndex((s) => !s.after || results.has(s.after));
      if (next === -1) {
        if (!pending.length) return;
        if (!running.size) {
          for (const s of pending.splice(0)) results.set(s.id, new Error(`it waits for "${s.after}", which did not run`));
          return;
        }
        await Promise.race(running);
        continue;
      }
      const scenario = pending.splice(next, 1)[0]!;
      const job = scenario.run(h).then(
        (r) => {
          results.set(scenario.id, r);
          log?.(`conformance ${h.scriptName}: ${scenario.id} exited ${r.exitCode ?? r.signal}${r.timedOut ? ' (timed out)' : ''} in ${(r.durationMs / 1000).toFixed(1)} s`);
        },
        (err: unknown) => {
          results.set(scenario.id, err instanceof Error ? err : new Error(String(err)));
          log?.(`conformance ${h.scriptName}: ${scenario.id} could not run: ${String(err)}`);
        },
      );
      running.add(job);
      await job;
      running.delete(job);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return results;
}

/**
 * Checks a built trainer against the contract from the outside: starts its own S3, backend and MLflow, runs the
 * trainer in the situations the contract names, and reports each check in contract terms. Never throws for a
 * failing trainer; throws only when the suite itself cannot start (no s3rver, say).
 */
export async function runConformance(profile: ConformanceProfile, opts: ConformanceOptions = {}): Promise<ConformanceReport> {
  const started = Date.now();
  const checks = select(opts);
  const scenarios = scenariosFor(checks);
  const h = await Harness.start(profile, opts);
  try {
    const results = await runScenarios(h, scenarios, opts.concurrency ?? 3, opts.log);
    const view = new ScenarioResults(results);
    const outcomes: CheckResult[] = [];
    for (const check of checks) {
      let failures: string[];
      try {
        failures = await check.evaluate(view, h);
      } catch (err) {
        const why = err instanceof ScenarioUnavailable ? err.message : `the check itself failed: ${(err as Error).stack ?? String(err)}`;
        failures = [`${check.section} ${check.title}: ${why}`];
      }
      outcomes.push({ id: check.id, section: check.section, title: check.title, status: failures.length ? 'fail' : 'pass', failures });
    }
    const summaries = [...results.entries()].map(([id, r]) =>
      r instanceof Error ? { id, args: [], exitCode: null, signal: null, durationMs: 0 } : { id, args: r.args, exitCode: r.exitCode, signal: r.signal, durationMs: r.durationMs },
    );
    return {
      trainer: h.scriptName,
      checks: outcomes,
      scenarios: summaries,
      durationMs: Date.now() - started,
      scratch: h.root,
      passed: outcomes.every((c) => c.status === 'pass'),
    };
  } finally {
    await h.close();
  }
}

/** The report as text: one line per check, failures indented under it. */
export function formatReport(report: ConformanceReport): string {
  const lines = [`${report.trainer}: ${report.checks.filter((c) => c.status === 'pass').length}/${report.checks.length} checks passed in ${(report.durationMs / 1000).toFixed(1)} s`];
  for (const c of report.checks) {
    lines.push(`${c.status === 'pass' ? 'PASS' : 'FAIL'} ${c.section} ${c.title}`);
    for (const f of c.failures) lines.push(`     ${f}`);
  }
  return lines.join('\n');
}
