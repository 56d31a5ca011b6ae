import { isDeepStrictEqual } from 'node:util';
import { callbackJsonSchemas } from '../callbacks/index.js';
import { checkpointNames, exitText, key, parseJson, progressOf, uniq, type CheckDef } from './check-kit.js';
import { SHAPES_CLASSES } from './datasets.js';
import { OUTPUT_BUCKET } from './harness.js';
import { EPOCHS, JOB_IDS } from './scenarios.js';

/** CONTRACT §1 and §2 from the command line: flags, env vars, @file, --help, --validate-only, --print-schema. */
const CONTRACT_FLAGS = ['--job-id', '--model-name', '--dataset-s3-uri', '--callback-url', '--config', '--log-level', '--validate-only'];
const CONTRACT_ENV = ['JOB_ID', 'MODEL_NAME', 'DATASET_S3_URI', 'CALLBACK_URL', 'CONFIG', 'LOG_LEVEL'];
const COMMON_KEYS = ['epochs', 'batch', 'imgsz', 'device', 'task', 'primary_metric', 'split_config'];

export const INVOCATION_CHECKS: CheckDef[] = [
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
