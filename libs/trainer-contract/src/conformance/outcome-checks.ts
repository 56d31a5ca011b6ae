import { isDeepStrictEqual } from 'node:util';
import type { Task } from '../domain/index.js';
import { checkpointNames, completionsOf, exitText, key, parseJson, progressOf, terminationProblems, uniq, uri, USER_ERROR_CODES, type CheckDef } from './check-kit.js';
import { getObject, SHAPES_CLASSES } from './datasets.js';
import { OUTPUT_BUCKET } from './harness.js';
import { EPOCHS, JOB_IDS } from './scenarios.js';

/** CONTRACT §5 and §6: exit codes in each situation, the termination log, the S3 layout, resuming. */
export const OUTCOME_CHECKS: CheckDef[] = [
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
        const wanted = expectedClassOrder(h.profile.task);
        if (!isDeepStrictEqual(got, wanted)) {
          f.push(`§6 classes.json: maps the class indices to ${JSON.stringify(got).slice(0, 160)}, want ${JSON.stringify(wanted)} in index order`);
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

/**
 * Classes are the categories sorted by id (CONTRACT §7), except for classify: its `{train,val}/<class>/` folders are
 * read by ImageFolder, which numbers classes by sorted folder name, so the indices follow the names there.
 */
function expectedClassOrder(task: Task): Array<{ id: number; name: string }> {
  const classes = SHAPES_CLASSES.map((c) => ({ id: c.id, name: c.name }));
  return task === 'classify' ? classes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : classes;
}
