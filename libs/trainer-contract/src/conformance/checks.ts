import { isDeepStrictEqual } from 'node:util';
import { callbackJsonSchemas, completionPayloadSchema, progressPayloadSchema } from '../callbacks/index.js';
import { DATASET_FORMATS, TASKS } from '../domain/index.js';
import { BAD_INPUT_CHECKS } from './bad-input.js';
import {
  body,
  completionsOf,
  exitText,
  progressOf,
  terminationProblems,
  USER_ERROR_CODES,
  type CheckDef,
  type ScenarioResults,
} from './check-kit.js';
import { getObject, SHAPES_CLASSES } from './datasets.js';
import { OUTPUT_BUCKET, type Harness, type RunResult } from './harness.js';
import { RECEIVER_BASE_PATH, type ReceivedRequest } from './receiver.js';
import { EPOCHS, INTERVAL, JOB_IDS } from './scenarios.js';

const TRAINING_RUNS = ['success', 'refused', 'crash', 'interrupt', 'resume'] as const;
const CONTRACT_FLAGS = ['--job-id', '--model-name', '--dataset-s3-uri', '--callback-url', '--config', '--log-level', '--validate-only'];
const CONTRACT_ENV = ['JOB_ID', 'MODEL_NAME', 'DATASET_S3_URI', 'CALLBACK_URL', 'CONFIG', 'LOG_LEVEL'];
const COMMON_KEYS = ['epochs', 'batch', 'imgsz', 'device', 'task', 'primary_metric', 'split_config'];

/** What `--describe` printed, when it printed a JSON object. */
function describeDoc(s: ScenarioResults): { doc?: Record<string, unknown>; problem?: string } {
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
function checkpointNames(s: ScenarioResults, h: Harness): { best: string; last: string } {
  try {
    const c = describeDoc(s).doc?.['checkpoints'] as { best?: unknown; last?: unknown } | undefined;
    if (typeof c?.best === 'string' && typeof c.last === 'string') return { best: c.best, last: c.last };
  } catch {
    // no --describe run: fall back
  }
  return h.profile.checkpoints ?? { best: 'best.pt', last: 'last.pt' };
}

const key = (jobId: string, name: string) => `checkpoints/${jobId}/${name}`;
const uri = (jobId: string, name: string) => `s3://${OUTPUT_BUCKET}/${key(jobId, name)}`;
const limit = (f: string[], n = 6) => (f.length > n ? [...f.slice(0, n), `… and ${f.length - n} more`] : f);
const uniq = (f: string[]) => [...new Set(f)];

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function runsOf(s: ScenarioResults, ids: readonly string[]): RunResult[] {
  return ids.map((id) => s.get(id));
}

function allRequests(s: ScenarioResults): Array<{ run: RunResult; req: ReceivedRequest }> {
  return runsOf(s, TRAINING_RUNS).flatMap((run) => run.received.map((req) => ({ run, req })));
}

const invocation: CheckDef[] = [
  {
    id: 'invocation.help',
    section: '§1',
    title: '--help exits 0 and names every contract flag and its env var',
    needs: ['help'],
    evaluate: (s) => {
      const r = s.get('help');
      const f: string[] = [];
      if (r.exitCode !== 0) f.push(`§1 --help: ${exitText(r)}, want 0`);
      const out = r.stdout + r.stderr;
      for (const name of [...CONTRACT_FLAGS, ...CONTRACT_ENV]) if (!new RegExp(`(^|[^\\w-])${name}\\b`).test(out)) f.push(`§1 --help: does not mention ${name}`);
      return f;
    },
  },
  {
    id: 'invocation.flags-over-env',
    section: '§1',
    title: 'a flag wins over its env var (every env var wrong, every flag right: the job succeeds as the flags say)',
    needs: ['success'],
    evaluate: (s) => {
      const r = s.get('success');
      const f: string[] = [];
      if (r.exitCode !== 0) f.push(`§1 a flag wins over its env var: with wrong JOB_ID MODEL_NAME DATASET_S3_URI CALLBACK_URL CONFIG LOG_LEVEL and right flags, the run ${exitText(r)}`);
      if (r.received.some((q) => q.path.includes('/env-lost'))) f.push('§1 a flag wins over its env var: callbacks went to CALLBACK_URL instead of --callback-url');
      if (r.received.some((q) => q.path.includes('/jobs/4999/'))) f.push('§1 a flag wins over its env var: callbacks used JOB_ID instead of --job-id');
      if (progressOf(r).some((p) => p['total_epochs'] === 1)) f.push('§1 a flag wins over its env var: the config came from CONFIG instead of --config');
      return f;
    },
  },
  {
    id: 'invocation.config-file',
    section: '§1',
    title: '--config @file reads the config from the file',
    needs: ['success'],
    evaluate: (s) => {
      const r = s.get('success');
      const totals = uniq(progressOf(r).map((p) => String(p['total_epochs'])));
      if (r.exitCode !== 0) return [`§1 --config @file: the run ${exitText(r)}`];
      if (totals.length !== 1 || totals[0] !== String(EPOCHS)) return [`§1 --config @file: progress says total_epochs ${totals.join(', ') || 'nothing'}, want ${EPOCHS} from the file`];
      return [];
    },
  },
  {
    id: 'invocation.env-only',
    section: '§1',
    title: 'every input can come from env vars alone (JOB_ID MODEL_NAME DATASET_S3_URI CONFIG CALLBACK_URL LOG_LEVEL), with a file:// dataset',
    needs: ['validate-only'],
    evaluate: (s) => {
      const r = s.get('validate-only');
      return r.exitCode === 0 ? [] : [`§1 env vars: --validate-only with every input from the environment ${exitText(r)}, want 0`];
    },
  },
  {
    id: 'invocation.validate-only',
    section: '§1',
    title: '--validate-only stages and converts the dataset, prints the report, and does not train',
    needs: ['validate-only'],
    evaluate: (s) => {
      const r = s.get('validate-only');
      const f: string[] = [];
      if (r.exitCode !== 0) f.push(`§1 --validate-only: ${exitText(r)}, want 0`);
      if (r.s3Keys.length) f.push(`§1 --validate-only: it trained: wrote ${r.s3Keys.map((k) => `s3://${OUTPUT_BUCKET}/${k}`).join(', ')}`);
      if (r.mlflowRuns.length) f.push(`§1 --validate-only: it created ${r.mlflowRuns.length} MLflow run(s)`);
      if (r.received.some((q) => q.kind === 'progress')) f.push('§1 --validate-only: it sent progress callbacks (it trained)');
      const missing = SHAPES_CLASSES.filter((c) => !r.stdout.includes(c.name) && !r.stderr.includes(c.name));
      if (missing.length) f.push(`§1 --validate-only: the dataset report it printed does not name the classes ${missing.map((c) => c.name).join(', ')}`);
      return f;
    },
  },
  {
    id: 'invocation.archive',
    section: '§1',
    title: 'a dataset given as an S3 .tar.gz archive is staged and trained on',
    needs: ['refused', 'describe'],
    evaluate: (s, h) => {
      const r = s.get('refused');
      const best = checkpointNames(s, h).best;
      return r.s3Keys.includes(key(JOB_IDS.refused, best)) ? [] : [`§1 archive dataset: a job reading ${h.datasets.archive} ${exitText(r)} and uploaded no ${best}`];
    },
  },
  {
    id: 'invocation.print-schema',
    section: '§2 §4',
    title: '--print-schema config|progress|completion prints the JSON Schemas; the callback ones are the contract library\'s',
    needs: ['schema-config', 'schema-progress', 'schema-completion'],
    evaluate: (s) => {
      const f: string[] = [];
      const cfg = s.get('schema-config');
      const doc = parseJson(cfg.stdout) as { type?: string; properties?: Record<string, unknown> } | undefined;
      if (cfg.exitCode !== 0 || !doc) f.push(`§2 --print-schema config: ${exitText(cfg)}, want 0 and a JSON Schema on stdout`);
      else {
        if (doc.type !== 'object') f.push(`§2 --print-schema config: "type" is ${JSON.stringify(doc.type)}, want "object"`);
        const missing = COMMON_KEYS.filter((k) => !(k in (doc.properties ?? {})));
        if (missing.length) f.push(`§2 --print-schema config: the common keys ${missing.join(', ')} are missing`);
      }
      const exported = callbackJsonSchemas();
      for (const kind of ['progress', 'completion'] as const) {
        const r = s.get(`schema-${kind}`);
        const printed = parseJson(r.stdout);
        if (r.exitCode !== 0 || printed === undefined) f.push(`§4 --print-schema ${kind}: ${exitText(r)}, want 0 and a JSON Schema`);
        else if (!isDeepStrictEqual(printed, exported[kind])) f.push(`§4 --print-schema ${kind}: differs from the contract library's exported ${kind} schema`);
      }
      return f;
    },
  },
];

const describe: CheckDef[] = [
  {
    id: 'describe.document',
    section: '§9',
    title: '--describe prints the description document (seam 4 shape; config_schema equals --print-schema config) [needs --describe]',
    needs: ['describe', 'schema-config'],
    evaluate: (s, h) => {
      const { doc, problem } = describeDoc(s);
      if (!doc) return [`§9 --describe: ${problem}`];
      const f: string[] = [];
      const bad = (field: string, want: string): void => void f.push(`§9 --describe: "${field}" is ${JSON.stringify(doc[field])?.slice(0, 80)}, want ${want}`);
      if (doc['name'] !== h.scriptName) bad('name', JSON.stringify(h.scriptName));
      if (typeof doc['version'] !== 'string' || !doc['version']) bad('version', 'a version string');
      if (doc['contract_version'] !== 1) bad('contract_version', '1');
      const fw = doc['framework'] as Record<string, unknown> | undefined;
      if (!fw || typeof fw !== 'object' || ['name', 'module', 'tested_range'].some((k) => typeof fw[k] !== 'string' || !fw[k])) {
        bad('framework', '{name, module, tested_range[, pinned]} strings');
      }
      const tasks = doc['tasks'];
      if (!Array.isArray(tasks) || !tasks.length || tasks.some((t) => !(TASKS as readonly unknown[]).includes(t))) bad('tasks', `a non-empty list of ${TASKS.join(', ')}`);
      else if (!tasks.includes(h.profile.task)) bad('tasks', `a list including the profile's task "${h.profile.task}"`);
      const list = Array.isArray(tasks) ? (tasks as string[]) : [];
      const perTask = (field: string, ok: (v: unknown) => boolean, want: string) => {
        const m = doc[field] as Record<string, unknown> | undefined;
        if (!m || typeof m !== 'object') {
          bad(field, `an object with an entry per task (${want})`);
          return;
        }
        for (const t of list) if (!ok(m[t])) f.push(`§9 --describe: ${field}.${t} is ${JSON.stringify(m[t])}, want ${want}`);
      };
      perTask('dataset_formats', (v) => (DATASET_FORMATS as readonly unknown[]).includes(v), DATASET_FORMATS.join(' | '));
      perTask('metrics', (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'), 'a non-empty list of metric names');
      const metrics = (doc['metrics'] ?? {}) as Record<string, unknown>;
      perTask('default_primary_metric', (v) => typeof v === 'string', 'a metric name');
      for (const t of list) {
        const primary = (doc['default_primary_metric'] as Record<string, unknown> | undefined)?.[t];
        const names = metrics[t];
        if (typeof primary === 'string' && Array.isArray(names) && !names.includes(primary)) f.push(`§9 --describe: default_primary_metric.${t} "${primary}" is not among metrics.${t}`);
      }
      const ck = doc['checkpoints'] as Record<string, unknown> | undefined;
      if (!ck || typeof ck['best'] !== 'string' || typeof ck['last'] !== 'string') bad('checkpoints', '{best, last} file names');
      const printed = parseJson(s.get('schema-config').stdout);
      if (!isDeepStrictEqual(doc['config_schema'], printed)) f.push('§9 --describe: config_schema differs from what --print-schema config prints');
      return f;
    },
  },
  {
    id: 'describe.metrics',
    section: '§4 §9',
    title: 'progress carries the canonical metrics --describe lists for the task; the completion\'s primary metric is its default [needs --describe]',
    needs: ['describe', 'success'],
    evaluate: (s, h) => {
      const { doc, problem } = describeDoc(s);
      if (!doc) return [`§4 canonical metrics: cannot be checked: ${problem}`];
      const names = (doc['metrics'] as Record<string, unknown> | undefined)?.[h.profile.task];
      const primary = (doc['default_primary_metric'] as Record<string, unknown> | undefined)?.[h.profile.task];
      if (!Array.isArray(names)) return [`§4 canonical metrics: --describe lists no metrics for ${h.profile.task}`];
      const r = s.get('success');
      const f: string[] = [];
      for (const p of progressOf(r)) {
        const m = (p['metrics'] ?? {}) as Record<string, unknown>;
        const missing = names.filter((n) => !(String(n) in m));
        if (missing.length) f.push(`§4 canonical metrics: progress of epoch ${p['current_epoch']} lacks ${missing.join(', ')}`);
        const extra = m['extra_metrics'];
        if (!extra || typeof extra !== 'object' || !Object.keys(extra).length) f.push(`§4 canonical metrics: progress of epoch ${p['current_epoch']} keeps no raw keys in extra_metrics`);
      }
      const c = completionsOf(r)[0];
      if (c && c['primary_metric'] !== primary) f.push(`§4 primary metric: the completion names ${JSON.stringify(c['primary_metric'])}, want --describe's default ${JSON.stringify(primary)}`);
      return uniq(f);
    },
  },
];

const callbacks: CheckDef[] = [
  {
    id: 'callbacks.paths',
    section: '§4',
    title: 'callbacks are POSTed as JSON to {CALLBACK_URL}/jobs/{JOB_ID}/callback/progress|completion',
    needs: [...TRAINING_RUNS],
    evaluate: (s) => {
      const f: string[] = [];
      for (const { run, req } of allRequests(s)) {
        const want = `${RECEIVER_BASE_PATH}/jobs/${run.jobId}/callback/`;
        if (req.method !== 'POST' || req.kind === 'other' || req.path !== want + req.kind) f.push(`§4 paths: ${run.id} sent ${req.method} ${req.path}, want POST ${want}progress|completion`);
        if ((req.headers['content-type'] ?? '').split(';')[0] !== 'application/json') f.push(`§4 paths: ${run.id} sent content-type ${req.headers['content-type']}, want application/json`);
      }
      return limit(uniq(f));
    },
  },
  {
    id: 'callbacks.schemas',
    section: '§4',
    title: 'every progress and completion body matches the exported payload schemas; job_id is the seed\'s number',
    needs: [...TRAINING_RUNS],
    evaluate: (s) => {
      const f: string[] = [];
      for (const { run, req } of allRequests(s)) {
        if (req.kind === 'other') continue;
        const schema = req.kind === 'progress' ? progressPayloadSchema : completionPayloadSchema;
        const parsed = schema.safeParse(req.json);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          f.push(`§4 payload schema: a ${req.kind} body of ${run.id} does not match the exported schema: ${issue?.path.join('.') || '(body)'}: ${issue?.message}`);
        }
        if (body(req)['job_id'] !== Number(run.jobId)) f.push(`§4 payload schema: ${run.id} sent job_id ${JSON.stringify(body(req)['job_id'])}, want the number ${run.jobId}`);
      }
      return limit(uniq(f));
    },
  },
  {
    id: 'callbacks.webhook-id',
    section: '§4',
    title: 'each event has its own webhook-id, the same on every retry (the receiver fails the first attempts)',
    needs: ['success'],
    evaluate: (s) => {
      const r = s.get('success');
      const f: string[] = [];
      const byId = new Map<string, ReceivedRequest[]>();
      for (const q of r.received) {
        if (!q.id) f.push(`§4 webhook-id: a ${q.kind} request carried no webhook-id`);
        byId.set(q.id, [...(byId.get(q.id) ?? []), q]);
      }
      const events = new Map<string, string>();
      for (const [id, reqs] of byId) {
        if (new Set(reqs.map((q) => q.body)).size > 1) f.push(`§4 webhook-id: retries with webhook-id ${id} carried different bodies`);
        const b = body(reqs[0]!);
        const event = `${reqs[0]!.kind}/${b['status']}/${b['current_epoch'] ?? ''}`;
        const other = events.get(event);
        if (other !== undefined && other !== id) f.push(`§4 webhook-id: the event ${event} was sent under two ids (${other}, ${id}); a retry must reuse its id`);
        events.set(event, id);
      }
      const firstProgress = r.received.find((q) => q.kind === 'progress');
      if (!firstProgress) f.push('§4 webhook-id: no progress arrived');
      else if ((byId.get(firstProgress.id) ?? []).length < 2) f.push('§4 webhook-id: the first progress, answered 503, was not retried, so its id was never reused');
      const completion = r.received.find((q) => q.kind === 'completion');
      if (!completion) f.push('§4 webhook-id: no completion arrived');
      else if ((byId.get(completion.id) ?? []).length < 2) f.push('§4 webhook-id: the completion, answered 429, was not retried with its id');
      return uniq(f);
    },
  },
  {
    id: 'callbacks.signing',
    section: '§3 §4',
    title: 'every request is signed with CALLBACK_SECRET (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)',
    needs: [...TRAINING_RUNS],
    evaluate: (s) => {
      const f: string[] = [];
      for (const { run, req } of allRequests(s)) {
        if (!req.signatureValid) f.push(`§4 signing: a ${req.kind} request of ${run.id} has no valid webhook-signature for CALLBACK_SECRET`);
        const ts = Number(req.headers['webhook-timestamp']) * 1000;
        if (!Number.isFinite(ts) || Math.abs(ts - req.at) > 5 * 60_000) f.push(`§4 signing: a ${req.kind} request of ${run.id} has webhook-timestamp ${req.headers['webhook-timestamp']}, not the current time in seconds`);
      }
      return limit(uniq(f));
    },
  },
  {
    id: 'callbacks.token',
    section: '§3 §4',
    title: 'every request carries Authorization: Bearer CALLBACK_TOKEN',
    needs: [...TRAINING_RUNS],
    evaluate: (s, h) => {
      const f: string[] = [];
      for (const { run, req } of allRequests(s)) {
        if (req.headers['authorization'] !== `Bearer ${h.secrets.callbackToken}`) f.push(`§3 CALLBACK_TOKEN: a ${req.kind} request of ${run.id} carried no "Authorization: Bearer <CALLBACK_TOKEN>"`);
      }
      return limit(uniq(f));
    },
  },
  {
    id: 'callbacks.retry',
    section: '§4',
    title: 'delivery: 5xx is retried, 429 waits for Retry-After, other 4xx are not retried',
    needs: ['success', 'refused'],
    evaluate: (s) => {
      const f: string[] = [];
      const r = s.get('success');
      const first = r.received.find((q) => q.kind === 'progress');
      if (first && r.received.filter((q) => q.id === first.id).length < 2) f.push('§4 delivery: a progress answered 503 was not retried');
      const completions = r.received.filter((q) => q.kind === 'completion');
      if (completions.length < 2) f.push(`§4 delivery: a completion answered 429 was sent ${completions.length} time(s), want a retry`);
      else {
        const gap = completions[1]!.at - completions[0]!.at;
        if (gap < 950) f.push(`§4 delivery: the completion was retried ${gap} ms after a 429 with Retry-After: 1, want ≥ 1000 ms`);
      }
      const refused = s.get('refused').received.filter((q) => q.kind === 'completion');
      if (refused.length !== 1) f.push(`§4 delivery: a completion answered 422 was sent ${refused.length} time(s), want once (4xx other than 408 and 429 are not retried)`);
      return f;
    },
  },
  {
    id: 'callbacks.interval',
    section: '§4',
    title: `progress every CALLBACK_INTERVAL epochs (${INTERVAL}), and always for the last epoch, in order`,
    needs: ['success'],
    evaluate: (s) => {
      const r = s.get('success');
      const f: string[] = [];
      const bodies = progressOf(r);
      const epochs = bodies.map((b) => b['current_epoch'] as number);
      const off = epochs.filter((e) => e % INTERVAL !== 0 && e !== EPOCHS);
      if (off.length) f.push(`§4 CALLBACK_INTERVAL: with CALLBACK_INTERVAL=${INTERVAL} and ${EPOCHS} epochs, progress came for epoch ${off.join(', ')} (want multiples of ${INTERVAL} and the last epoch)`);
      if (!epochs.includes(EPOCHS)) f.push(`§4 last epoch: no progress for the last epoch (${EPOCHS}); got epochs ${epochs.join(', ') || 'none'}`);
      if (epochs.some((e, i) => i > 0 && e <= epochs[i - 1]!)) f.push(`§4 progress order: epochs arrived as ${epochs.join(', ')}`);
      for (const b of bodies) {
        const want = (100 * (b['current_epoch'] as number)) / EPOCHS;
        if (typeof b['progress_percent'] !== 'number' || Math.abs(b['progress_percent'] - want) > 0.01) {
          f.push(`§4 progress_percent: epoch ${b['current_epoch']} of ${EPOCHS} says ${b['progress_percent']}, want ${Math.round(want * 100) / 100}`);
        }
      }
      return f;
    },
  },
  {
    id: 'callbacks.completion',
    section: '§4 §6',
    title: 'one completion after the last progress: completed, checkpoint_path = S3 URI of the best checkpoint, the MLflow run, the primary metric',
    needs: ['success', 'describe'],
    evaluate: (s, h) => {
      const r = s.get('success');
      const f: string[] = [];
      const all = completionsOf(r);
      if (all.length !== 1) return [`§4 completion: ${all.length} completions arrived, want exactly one (${exitText(r)})`];
      const c = all[0]!;
      const best = checkpointNames(s, h).best;
      if (c['status'] !== 'completed') f.push(`§4 completion: status is ${JSON.stringify(c['status'])}, want "completed"`);
      if (c['checkpoint_path'] !== uri(JOB_IDS.success, best)) f.push(`§6 checkpoint_path: is ${JSON.stringify(c['checkpoint_path'])}, want ${uri(JOB_IDS.success, best)}`);
      const runIds = r.mlflowRuns.map((m) => m.runId);
      if (!runIds.includes(String(c['mlflow_run_id']))) f.push(`§4 completion: mlflow_run_id ${JSON.stringify(c['mlflow_run_id'])} is not the job's MLflow run (${runIds.join(', ') || 'none'})`);
      const fm = c['final_metrics'] as Record<string, unknown> | undefined;
      if (!fm || !Object.keys(fm).length) f.push('§4 completion: final_metrics is empty');
      if (typeof c['primary_metric'] !== 'string') f.push('§4 completion: primary_metric is missing');
      else if (fm && !(c['primary_metric'] in fm)) f.push(`§4 completion: the primary metric ${c['primary_metric']} is not among final_metrics`);
      const lastProgress = r.received.filter((q) => q.kind === 'progress').at(-1);
      const firstCompletion = r.received.find((q) => q.kind === 'completion');
      if (lastProgress && firstCompletion && firstCompletion.at < lastProgress.at) f.push('§4 completion: a progress arrived after the completion');
      return f;
    },
  },
];

const outcomes: CheckDef[] = [
  {
    id: 'outcome.exit-0',
    section: '§5',
    title: 'exit 0 when training completed and the completion was delivered',
    needs: ['success'],
    evaluate: (s) => {
      const r = s.get('success');
      return r.exitCode === 0 ? [] : [`§5 exit code: a job that should complete ${exitText(r)}, want 0`];
    },
  },
  {
    id: 'outcome.s3-layout',
    section: '§6',
    title: 'S3 layout: checkpoints/{job_id}/ holds the best and last checkpoints, classes.json (index → DICE id and name) and the run files',
    needs: ['success', 'describe'],
    evaluate: async (s, h) => {
      const r = s.get('success');
      const names = checkpointNames(s, h);
      const f: string[] = [];
      const want = [names.best, names.last, 'classes.json', ...(h.profile.resultFiles ?? ['results.csv'])];
      for (const name of want) if (!r.s3Keys.includes(key(JOB_IDS.success, name))) f.push(`§6 S3 layout: ${uri(JOB_IDS.success, name)} is missing`);
      if (r.s3Keys.includes(key(JOB_IDS.success, names.best))) {
        const bytes = await getObject(h.client, OUTPUT_BUCKET, key(JOB_IDS.success, names.best));
        if (!bytes.length) f.push(`§6 S3 layout: ${uri(JOB_IDS.success, names.best)} is empty`);
      }
      if (r.s3Keys.includes(key(JOB_IDS.success, 'classes.json'))) {
        const text = (await getObject(h.client, OUTPUT_BUCKET, key(JOB_IDS.success, 'classes.json'))).toString('utf8');
        const parsed = parseJson(text);
        const entries = Array.isArray(parsed) ? parsed : parsed && typeof parsed === 'object' ? Object.values(parsed) : [];
        const got = (entries as Array<Record<string, unknown>>).map((e) => ({ id: e?.['id'], name: e?.['name'] }));
        if (!isDeepStrictEqual(got, SHAPES_CLASSES.map((c) => ({ id: c.id, name: c.name })))) {
          f.push(`§6 classes.json: maps the class indices to ${JSON.stringify(got).slice(0, 160)}, want ${JSON.stringify(SHAPES_CLASSES)} in index order`);
        }
      }
      return f;
    },
  },
  {
    id: 'outcome.exit-1',
    section: '§5',
    title: 'exit 1 when the framework process is killed mid-training (SIGKILL): failed completion, termination log',
    needs: ['crash'],
    evaluate: (s) => {
      const r = s.get('crash');
      const killed = (r.notes['killed'] as number[] | undefined) ?? [];
      if (!killed.length) return [`§5 exit 1: found no framework process under the trainer to kill (${String(r.notes['reason'] ?? 'no child process')}; ${exitText(r)})`];
      const f: string[] = [];
      if (r.exitCode !== 1) f.push(`§5 exit code: killing the framework process mid-training ${exitText(r)}, want 1`);
      f.push(...terminationProblems(r, 'a killed framework process', 1));
      const all = completionsOf(r);
      if (all.length !== 1) f.push(`§4 completion: a crashed job sent ${all.length} completions, want one with status "failed"`);
      for (const c of all) {
        const code = (c['error'] as { code?: string } | undefined)?.code;
        if (c['status'] !== 'failed') f.push(`§4 completion: a crashed job reported status ${JSON.stringify(c['status'])}, want "failed"`);
        if (!code || USER_ERROR_CODES.includes(code)) f.push(`§4 completion: a crashed job reported error code ${code}, want a training failure (TRAINING_FAILED)`);
      }
      return f;
    },
  },
  {
    id: 'outcome.exit-2',
    section: '§4 §5',
    title: 'exit 2 when the backend refuses the completion, with the best checkpoint already in S3',
    needs: ['refused', 'describe'],
    evaluate: (s, h) => {
      const r = s.get('refused');
      const f: string[] = [];
      if (r.exitCode !== 2) f.push(`§5 exit code: a job whose completion the backend refused (422) ${exitText(r)}, want 2`);
      f.push(...terminationProblems(r, 'an undelivered completion', 2));
      const best = checkpointNames(s, h).best;
      if (!r.s3Keys.includes(key(JOB_IDS.refused, best))) f.push(`§4 exit 2 keeps the model: ${uri(JOB_IDS.refused, best)} is not in S3`);
      const c = completionsOf(r)[0];
      if (c && c['checkpoint_path'] !== uri(JOB_IDS.refused, best)) f.push(`§6 checkpoint_path: the refused completion says ${JSON.stringify(c['checkpoint_path'])}, want ${uri(JOB_IDS.refused, best)}`);
      return f;
    },
  },
  {
    id: 'outcome.exit-143',
    section: '§4 §5 §8',
    title: 'SIGTERM after the first progress: last checkpoint in S3, an "interrupted" progress, no completion, exit 143, no orphaned framework process',
    needs: ['interrupt', 'describe'],
    evaluate: (s, h) => {
      const r = s.get('interrupt');
      if (!r.notes['signalled']) return [`§4 interruption: no progress arrived before the run ended (${exitText(r)}), so SIGTERM was never sent`];
      const f: string[] = [];
      if (r.exitCode !== 143) f.push(`§5 exit code: SIGTERM after the first progress ${exitText(r)}, want 143`);
      f.push(...terminationProblems(r, 'a SIGTERM', 143));
      const interrupted = progressOf(r, 'interrupted');
      if (interrupted.length !== 1) f.push(`§4 interruption: ${interrupted.length} progress callbacks with status "interrupted", want one`);
      if (completionsOf(r).length) f.push('§4 interruption: a completion was sent; want none (the Job is restarted)');
      const last = checkpointNames(s, h).last;
      if (!r.s3Keys.includes(key(JOB_IDS.interrupt, last))) f.push(`§4 interruption: ${uri(JOB_IDS.interrupt, last)} is not in S3`);
      const orphans = (r.notes['orphans'] as number[] | undefined) ?? [];
      if (orphans.length) f.push(`§8 SIGTERM: framework process(es) ${orphans.join(', ')} outlived the trainer`);
      return f;
    },
  },
  {
    id: 'outcome.resume',
    section: '§6',
    title: 'a restart with the same job id in a fresh work dir resumes: continues the epoch count to the same total, same MLflow run',
    needs: ['interrupt', 'resume'],
    evaluate: (s) => {
      const first = s.get('interrupt');
      const r = s.get('resume');
      const f: string[] = [];
      if (r.exitCode !== 0) f.push(`§6 resume: the restart ${exitText(r)}, want 0`);
      const saved = progressOf(first, 'interrupted')[0]?.['current_epoch'];
      const epochs = progressOf(r).map((p) => p['current_epoch'] as number);
      if (typeof saved !== 'number') f.push('§6 resume: the interrupted run reported no epoch to resume after');
      else if (epochs[0] !== saved + 1) f.push(`§6 resume: the restart's first progress is epoch ${epochs[0] ?? 'none'}, want ${saved + 1} (after the interrupted epoch ${saved})`);
      if (epochs.at(-1) !== EPOCHS) f.push(`§6 resume: the restart's last progress is epoch ${epochs.at(-1) ?? 'none'}, want ${EPOCHS}`);
      const totals = uniq(progressOf(r).map((p) => String(p['total_epochs'])));
      if (totals.some((t) => t !== String(EPOCHS))) f.push(`§6 resume: total_epochs is ${totals.join(', ')}, want ${EPOCHS}`);
      const before = first.mlflowRuns[0]?.runId;
      const c = completionsOf(r)[0];
      if (!c || c['status'] !== 'completed') f.push(`§6 resume: the restart sent no "completed" completion`);
      else if (before && c['mlflow_run_id'] !== before) f.push(`§6 resume: the restart reports MLflow run ${JSON.stringify(c['mlflow_run_id'])}, want the interrupted run ${before}`);
      if (r.mlflowRuns.length !== 1) f.push(`§6 resume: the job has ${r.mlflowRuns.length} MLflow runs after the restart, want one`);
      return f;
    },
  },
];

const tracking: CheckDef[] = [
  {
    id: 'mlflow.status',
    section: '§4 §5',
    title: 'MLflow run status per outcome: FINISHED (done, or trained but undelivered), FAILED (crash), KILLED (SIGTERM), FINISHED after the resume',
    needs: ['success', 'refused', 'crash', 'interrupt', 'resume'],
    evaluate: (s) => {
      const f: string[] = [];
      const expect = (id: string, situation: string, want: string) => {
        const runs = s.get(id).mlflowRuns;
        if (runs.length !== 1) f.push(`§4 MLflow: after ${situation} the job has ${runs.length} MLflow runs, want one`);
        for (const run of runs) if (run.status !== want) f.push(`§4 MLflow status: after ${situation} the run is ${run.status}, want ${want}`);
      };
      expect('success', 'a completed job', 'FINISHED');
      expect('refused', 'a trained job whose completion was refused', 'FINISHED');
      expect('crash', 'a killed framework process', 'FAILED');
      expect('interrupt', 'SIGTERM', 'KILLED');
      expect('resume', 'the resumed job completed', 'FINISHED');
      return f;
    },
  },
  {
    id: 'secrets',
    section: '§3',
    title: 'no secret in any output: stdout, stderr, termination log, callback bodies and headers, MLflow params and tags',
    needs: ['*'],
    evaluate: (s, h) => {
      const f: string[] = [];
      for (const r of s.all()) {
        const places: Array<[string, string]> = [
          ['stdout', r.stdout],
          ['stderr', r.stderr],
          ['the termination log', r.termination],
          ...r.received.map((q): [string, string] => [`a ${q.kind} callback body`, q.body]),
          ...r.received.map((q): [string, string] => [
            `a ${q.kind} callback header`,
            Object.entries(q.headers)
              .filter(([k]) => k !== 'authorization' && k !== 'webhook-signature')
              .map(([k, v]) => `${k}: ${String(v)}`)
              .join('\n'),
          ]),
          ...r.mlflowRuns.map((m): [string, string] => ['MLflow params and tags', JSON.stringify({ params: m.params, tags: m.tags })]),
        ];
        for (const [where, text] of places) {
          for (const secret of h.secrets.all) if (text.includes(secret.value)) f.push(`§3 secrets: ${secret.name}'s value appears in ${where} of ${r.id}`);
        }
      }
      return limit(uniq(f), 10);
    },
  },
];

/** Every check, in the order of the contract's sections as a reader meets them. */
export const CHECKS: CheckDef[] = [...invocation, ...describe, ...BAD_INPUT_CHECKS, ...callbacks, ...outcomes, ...tracking];
