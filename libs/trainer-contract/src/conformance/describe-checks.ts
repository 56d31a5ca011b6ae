import { isDeepStrictEqual } from 'node:util';
import { DATASET_FORMATS, TASKS } from '../domain/index.js';
import { completionsOf, describeDoc, parseJson, progressOf, uniq, type CheckDef } from './check-kit.js';

/** CONTRACT §9: the --describe document, and what progress must carry according to it. */
export const DESCRIBE_CHECKS: CheckDef[] = [
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
