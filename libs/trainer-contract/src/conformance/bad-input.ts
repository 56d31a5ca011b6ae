import { join } from 'node:path';
import type { Harness, RunResult } from './harness.js';
import { jobArgs, type JobArgs, type Scenario } from './scenarios.js';
import { completionsOf, hasStackTrace, stderrLines, terminationProblems, USER_ERROR_CODES, type CheckDef } from './check-kit.js';

/** One input a trainer must refuse with exit 3 and a line naming what is wrong (CONTRACT §2, §5). */
interface BadInput {
  key: string;
  /** How a failure names it: `§5 exit code: <title> exited 1, want 3`. */
  title: string;
  /** The first stderr line must match each of these. */
  names: (h: Harness) => RegExp[];
  job: (h: Harness) => JobArgs;
  env?: (h: Harness) => NodeJS.ProcessEnv;
}

const esc = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

const BAD_INPUTS: BadInput[] = [
  { key: 'config-not-json', title: 'a config that is not JSON', names: () => [/config/i], job: () => ({ config: '{"epochs": 2' }) },
  {
    key: 'config-unknown-key',
    title: 'an unknown config key "epoch"',
    // The key itself, and the nearest valid one as a suggestion.
    names: () => [/\bepoch\b/, /\bepochs\b/],
    job: (h) => ({ config: { ...(h.profile.config ?? {}), epoch: 2 } }),
  },
  { key: 'config-wrong-type', title: 'a config value of the wrong type (epochs "two")', names: () => [/\bepochs\b/], job: (h) => ({ config: { ...(h.profile.config ?? {}), epochs: 'two' } }) },
  { key: 'config-out-of-range', title: 'a config value out of range (epochs 0)', names: () => [/\bepochs\b/], job: (h) => ({ config: { ...(h.profile.config ?? {}), epochs: 0 } }) },
  {
    key: 'config-file-missing',
    title: 'a --config @file that does not exist',
    names: () => [/no-such-config\.json/],
    job: (h) => ({ config: `@${join(h.root, 'no-such-config.json')}` }),
  },
  {
    key: 'config-env',
    title: 'an unknown key in the CONFIG env var',
    names: () => [/\bepohcs\b/],
    job: () => ({ config: null }),
    env: () => ({ CONFIG: '{"epohcs": 2}' }),
  },
  { key: 'unknown-flag', title: 'an unknown flag --epochs', names: () => [/--epochs\b/], job: () => ({ extra: ['--epochs', '3'] }) },
  { key: 'missing-job-id', title: 'no --job-id and no JOB_ID', names: () => [/job-id|JOB_ID/], job: () => ({ jobId: null }) },
  { key: 'bad-job-id', title: 'a --job-id that is not a plain name ("../x")', names: () => [/job-id/i], job: () => ({ jobId: '../x' }) },
  { key: 'bad-log-level', title: 'an unknown --log-level', names: () => [/log-level|LOG_LEVEL/i], job: () => ({ extra: ['--log-level', 'loud'] }) },
  {
    key: 'bad-callback-url',
    title: 'a --callback-url that is not http(s), with a password in it',
    names: () => [/callback-url|CALLBACK_URL/i],
    job: (h) => ({ callbackUrl: `ftp://conformance:${h.secrets.urlPassword}@127.0.0.1/api` }),
  },
  { key: 'bad-callback-interval', title: 'CALLBACK_INTERVAL=0', names: () => [/CALLBACK_INTERVAL/], job: () => ({}), env: () => ({ CALLBACK_INTERVAL: '0' }) },
  { key: 'unknown-model', title: 'an unknown model name', names: (h) => [esc(h.profile.badModel ?? 'no-such-model-x9')], job: (h) => ({ model: h.profile.badModel ?? 'no-such-model-x9' }) },
  { key: 'uri-scheme', title: 'a dataset URI with an unknown scheme (gs://)', names: () => [/gs:/], job: () => ({ dataset: 'gs://datasets/shapes/' }) },
  { key: 'uri-missing-prefix', title: 'an S3 dataset prefix that does not exist', names: () => [/no-such-prefix/], job: () => ({ dataset: 's3://datasets/no-such-prefix/' }) },
  { key: 'uri-missing-bucket', title: 'an S3 bucket that does not exist', names: () => [/no-such-bucket-x9/], job: () => ({ dataset: 's3://no-such-bucket-x9/shapes/' }) },
  { key: 'uri-missing-dir', title: 'a local dataset folder that does not exist', names: () => [/no-such-dir/], job: (h) => ({ dataset: join(h.root, 'no-such-dir') }) },
  { key: 'data-truncated-json', title: 'a dataset whose annotations.json is truncated', names: () => [/annotations\.json/], job: (h) => ({ dataset: h.datasets.truncatedJson }) },
  { key: 'data-escaping-name', title: 'a dataset with a file name escaping its folder', names: () => [/outside\.png/], job: (h) => ({ dataset: h.datasets.escapingFileName }) },
  {
    key: 'data-wrong-type',
    title: 'a dataset with a value of the wrong type (a bbox; for classify an image\'s category_id)',
    names: (h) => (h.profile.task === 'classify' ? [/category_id|images\[0\]/] : [/bbox|annotations\[0\]/]),
    job: (h) => ({ dataset: h.datasets.wrongType }),
  },
  { key: 'data-no-training-image', title: 'a dataset with no usable training image', names: () => [/image/i], job: (h) => ({ dataset: h.datasets.noTrainingImage }) },
  {
    key: 'validate-only-bad-data',
    title: '--validate-only on a dataset whose annotations.json is truncated',
    names: () => [/annotations\.json/],
    job: (h) => ({ dataset: h.datasets.truncatedJson, extra: ['--validate-only'] }),
  },
];

const jobIdOf = (index: number) => String(4200 + index);

export const BAD_INPUT_SCENARIOS: Scenario[] = BAD_INPUTS.map((c, i) => ({
  id: `bad-input.${c.key}`,
  trains: false,
  run: (h) => {
    const job = c.job(h);
    const jobId = job.jobId === undefined ? jobIdOf(i) : job.jobId;
    return h.run({
      id: `bad-input.${c.key}`,
      ...(jobId !== null && /^\d+$/.test(jobId) ? { jobId } : {}),
      args: (dirs) => jobArgs(h, dirs, { ...job, jobId }),
      ...(c.env ? { env: c.env(h) } : {}),
    });
  },
}));

function evaluate(c: BadInput, r: RunResult, h: Harness): string[] {
  const f: string[] = [];
  const t = c.title;
  if (r.exitCode !== 3) f.push(`§5 exit code: ${t} exited ${r.exitCode ?? r.signal}, want 3`);
  const lines = stderrLines(r);
  if (lines.length === 0) f.push(`§2 message: ${t} printed nothing on stderr, want one line naming the problem`);
  else {
    for (const re of c.names(h)) if (!re.test(lines[0]!)) f.push(`§2 message: ${t}: the first stderr line does not name the problem (want ${re}): "${lines[0]}"`);
    if (lines.length > 1) f.push(`§2 one line per problem: ${t} printed ${lines.length} stderr lines: ${JSON.stringify(lines.slice(0, 4))}`);
  }
  const stack = hasStackTrace(r.stdout + '\n' + r.stderr);
  if (stack) f.push(`§2 no stack trace: ${t} printed one: "${stack}"`);
  f.push(...terminationProblems(r, t, 3));
  if (r.strayFiles.length) f.push(`§2 nothing outside the work dir: ${t} wrote ${r.strayFiles.slice(0, 5).join(', ')}`);
  if (r.s3Keys.length) f.push(`§2 nothing outside the work dir: ${t} wrote ${r.s3Keys.map((k) => `s3://ckpts/${k}`).join(', ')}`);
  const completions = completionsOf(r);
  if (completions.length > 1) f.push(`§4 completion: ${t} sent ${completions.length} completions, want at most one`);
  for (const c0 of completions) {
    const code = (c0['error'] as { code?: string } | undefined)?.code;
    if (c0['status'] !== 'failed' || !USER_ERROR_CODES.includes(code ?? '')) {
      f.push(`§4 completion: ${t} sent status "${String(c0['status'])}" with error code ${code}, want "failed" with one of ${USER_ERROR_CODES.join(', ')}`);
    }
  }
  return f;
}

export const BAD_INPUT_CHECKS: CheckDef[] = BAD_INPUTS.map((c) => ({
  id: `bad-input.${c.key}`,
  section: '§2 §5',
  title: `bad input: ${c.title} → exit 3, one line naming it, nothing written outside the work dir`,
  needs: [`bad-input.${c.key}`],
  evaluate: (s, h) => evaluate(c, s.get(`bad-input.${c.key}`), h),
}));
