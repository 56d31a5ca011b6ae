import { limit, uniq, type CheckDef } from './check-kit.js';

/** CONTRACT §3 and §4 across every run: MLflow status per outcome, and no secret in any output. */
export const TRACKING_CHECKS: CheckDef[] = [
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
