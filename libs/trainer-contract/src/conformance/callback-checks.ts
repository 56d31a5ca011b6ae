import { completionPayloadSchema, progressPayloadSchema } from '../callbacks/index.js';
import { allRequests, body, checkpointNames, completionsOf, exitText, isTrainingPhase, limit, progressOf, TRAINING_RUNS, uniq, uri, type CheckDef } from './check-kit.js';
import { RECEIVER_BASE_PATH, type ReceivedRequest } from './receiver.js';
import { EPOCHS, INTERVAL, JOB_IDS } from './scenarios.js';

/** CONTRACT §3 and §4 at the backend: paths, payloads, webhook ids, signing, the token, delivery, the interval. */
export const CALLBACK_CHECKS: CheckDef[] = [
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
        // Progress of the phases around training is one event per phase and count done.
        const phase = isTrainingPhase(b) ? '' : `/${String(b['phase'])}/${String((b['phase_progress'] as { done?: number } | undefined)?.done ?? '')}`;
        const event = `${reqs[0]!.kind}/${b['status']}/${b['current_epoch'] ?? ''}${phase}`;
        const other = events.get(event);
        if (other !== undefined && other !== id) f.push(`§4 webhook-id: the event ${event} was sent under two ids (${other}, ${id}); a retry must reuse its id`);
        events.set(event, id);
      }
      const firstProgress = r.received.find((q) => q.kind === 'progress');
      if (!r.received.some((q) => q.kind === 'progress' && isTrainingPhase(body(q)))) f.push('§4 webhook-id: no progress arrived');
      else if (!firstProgress) f.push('§4 webhook-id: no progress arrived');
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
