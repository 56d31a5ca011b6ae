import { OUTPUT_BUCKET, type Harness, type RunResult } from './harness.js';
import type { ReceivedRequest } from './receiver.js';

/** One check of the contract. It looks only at what scenarios left behind; a failure reads in contract terms. */
export interface CheckDef {
  id: string;
  section: string;
  title: string;
  /** The scenarios it looks at; `*` for every scenario that runs. */
  needs: string[];
  evaluate(scenarios: ScenarioResults, h: Harness): string[] | Promise<string[]>;
}

export class ScenarioUnavailable extends Error {}

export class ScenarioResults {
  constructor(private readonly results: Map<string, RunResult | Error>) {}

  get(id: string): RunResult {
    const r = this.results.get(id);
    if (r === undefined) throw new ScenarioUnavailable(`scenario "${id}" was not run`);
    if (r instanceof Error) throw new ScenarioUnavailable(`scenario "${id}" could not run: ${r.message}`);
    return r;
  }

  /** Every scenario that ran to the end. */
  all(): RunResult[] {
    return [...this.results.values()].filter((r): r is RunResult => !(r instanceof Error));
  }
}

/** The codes of what the user must fix (CONTRACT §5: exit 3, not retriable). */
export const USER_ERROR_CODES = ['CONFIG_INVALID', 'DATA_INVALID', 'DATA_UNAVAILABLE', 'MODEL_UNAVAILABLE'];

export const body = (r: ReceivedRequest) => (r.json ?? {}) as Record<string, unknown>;

export function stderrLines(r: RunResult): string[] {
  return r.stderr.split('\n').filter((l) => l.trim() !== '');
}

/** The first line that looks like a JavaScript or Python stack frame, if any. */
export function hasStackTrace(text: string): string | undefined {
  const m = /^\s+at .+(?:\(.*:\d+:\d+\)|:\d+:\d+)$|Traceback \(most recent call last\)|^\s+File ".*", line \d+/m.exec(text);
  return m?.[0].trim();
}

/** Bodies of the completions that arrived, one per webhook-id (a retried one counts once). */
export function completionsOf(r: RunResult): Array<Record<string, unknown>> {
  const seen = new Set<string>();
  const out: Array<Record<string, unknown>> = [];
  for (const req of r.received) {
    if (req.kind !== 'completion' || seen.has(req.id)) continue;
    seen.add(req.id);
    out.push(body(req));
  }
  return out;
}

/** Progress bodies with this status, one per webhook-id, in the order they first arrived. */
/** Seed-style epoch progress: no `phase`, or `phase: "training"`. */
export function isTrainingPhase(b: Record<string, unknown>): boolean {
  return b['phase'] === undefined || b['phase'] === 'training';
}

export function progressOf(r: RunResult, status = 'running'): Array<Record<string, unknown>> {
  const seen = new Set<string>();
  const out: Array<Record<string, unknown>> = [];
  for (const req of r.received) {
    // Epoch progress only: the phases around training (staging, converting, uploading) have their own checks.
    if (req.kind !== 'progress' || seen.has(req.id) || body(req)['status'] !== status || !isTrainingPhase(body(req))) continue;
    seen.add(req.id);
    out.push(body(req));
  }
  return out;
}

export function exitText(r: RunResult): string {
  if (r.timedOut) return `did not exit within the run timeout (killed)`;
  const detail = stderrLines(r).slice(0, 2).join(' | ');
  return `exited ${r.exitCode ?? r.signal}${detail ? ` (stderr: ${detail.slice(0, 300)})` : ''}`;
}

/** TERMINATION_LOG: one JSON line `{code, message, exit_code}` (an added `retriable` is fine). */
export function terminationProblems(r: RunResult, what: string, wantExit: number): string[] {
  const text = r.termination.trim();
  if (!text) return [`§5 termination log: ${what} wrote no record to TERMINATION_LOG`];
  const lines = text.split('\n');
  if (lines.length !== 1) return [`§5 termination log: ${what} wrote ${lines.length} lines, want one JSON line`];
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  } catch {
    return [`§5 termination log: ${what} wrote a line that is not JSON: ${lines[0]!.slice(0, 200)}`];
  }
  const f: string[] = [];
  if (typeof rec['code'] !== 'string' || !rec['code']) f.push(`§5 termination log: ${what}: "code" is missing`);
  if (typeof rec['message'] !== 'string' || !rec['message']) f.push(`§5 termination log: ${what}: "message" is missing`);
  if (rec['exit_code'] !== wantExit) f.push(`§5 termination log: ${what}: exit_code is ${JSON.stringify(rec['exit_code'])}, want ${wantExit}`);
  if (wantExit === 3 && typeof rec['code'] === 'string' && !USER_ERROR_CODES.includes(rec['code'])) {
    f.push(`§5 termination log: ${what}: code ${rec['code']} is not one of the user-error codes ${USER_ERROR_CODES.join(', ')}`);
  }
  if (wantExit === 1 && typeof rec['code'] === 'string' && USER_ERROR_CODES.includes(rec['code'])) {
    f.push(`§5 termination log: ${what}: code ${rec['code']} is a user-error code, but the run exited 1`);
  }
  if ('retriable' in rec) {
    const want = wantExit === 1 ? true : wantExit === 3 ? false : undefined;
    if (typeof rec['retriable'] !== 'boolean') f.push(`§5 termination log: ${what}: "retriable" is ${JSON.stringify(rec['retriable'])}, want a boolean`);
    else if (want !== undefined && rec['retriable'] !== want) f.push(`§5 termination log: ${what}: retriable is ${rec['retriable']}, want ${want} for exit ${wantExit}`);
  }
  return f;
}

export const TRAINING_RUNS = ['success', 'refused', 'crash', 'interrupt', 'resume'] as const;

/** What `--describe` printed, when it printed a JSON object. */
export function describeDoc(s: ScenarioResults): { doc?: Record<string, unknown>; problem?: string } {
  const r = s.get('describe');
  if (r.exitCode !== 0) return { problem: `--describe ${exitText(r)}` };
  try {
    const doc = JSON.parse(r.stdout) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { problem: '--describe did not print a JSON object' };
    return { doc: doc as Record<string, unknown> };
  } catch {
    return { problem: `--describe did not print one JSON document on stdout: ${r.stdout.slice(0, 120)}` };
  }
}

/** Checkpoint file names: what --describe says, else the profile's, else best.pt / last.pt. */
export function checkpointNames(s: ScenarioResults, h: Harness): { best: string; last: string } {
  try {
    const c = describeDoc(s).doc?.['checkpoints'] as { best?: unknown; last?: unknown } | undefined;
    if (typeof c?.best === 'string' && typeof c.last === 'string') return { best: c.best, last: c.last };
  } catch {
    // no --describe run: fall back
  }
  return h.profile.checkpoints ?? { best: 'best.pt', last: 'last.pt' };
}

export const key = (jobId: string, name: string) => `checkpoints/${jobId}/${name}`;
export const uri = (jobId: string, name: string) => `s3://${OUTPUT_BUCKET}/${key(jobId, name)}`;
export const limit = (f: string[], n = 6) => (f.length > n ? [...f.slice(0, n), `… and ${f.length - n} more`] : f);
export const uniq = (f: string[]) => [...new Set(f)];

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function runsOf(s: ScenarioResults, ids: readonly string[]): RunResult[] {
  return ids.map((id) => s.get(id));
}

export function allRequests(s: ScenarioResults): Array<{ run: RunResult; req: ReceivedRequest }> {
  return runsOf(s, TRAINING_RUNS).flatMap((run) => run.received.map((req) => ({ run, req })));
}
