#!/usr/bin/env node
// Staging memory benchmark (issue 15): 100,000 small objects in s3rver staged by the trainer's stager, which must
// keep the TypeScript process under 300 MB RSS. The stager runs in a child Node process of its own, whose peak RSS
// (getrusage maxrss) is the measure; the anchor is the same child staging 100 objects, measured in this run, so the
// ratio says what the object count itself costs. s3rver runs in its own process and is filled through its own
// filesystem store (PUTing 100,000 objects would take minutes and measure s3rver, not us).
// Knobs: BENCH_STAGING_OBJECTS (default 100000), BENCH_STAGING_CONCURRENCY (default 32).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const require = createRequire(join(root, 'package.json'));
const OBJECTS = Number(process.env.BENCH_STAGING_OBJECTS ?? 100_000);
const CONCURRENCY = Number(process.env.BENCH_STAGING_CONCURRENCY ?? 32);
const LIMIT_MB = 300;
const BUCKET = 'bench';

async function populate(dir, prefix, count) {
  const FilesystemStore = require('s3rver/lib/stores/filesystem');
  const S3Object = require('s3rver/lib/models/object');
  const store = new FilesystemStore(dir);
  await store.putBucket(BUCKET);
  const body = Buffer.alloc(300, 7);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const i = next++;
        const key = `${prefix}/images/d${String(i % 100).padStart(3, '0')}/img${String(i).padStart(6, '0')}.jpg`;
        await store.putObject(new S3Object(BUCKET, key, body, { 'content-type': 'image/jpeg', 'content-length': String(body.length) }));
      }
    }),
  );
}

async function startS3rver(dir) {
  const bin = join(root, 'node_modules/s3rver/bin/s3rver.js');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  return { child, endpoint: `http://127.0.0.1:${port}` };
}

// The child: stage one prefix, then report its own peak RSS.
const STAGE = `
const lib = await import(${JSON.stringify(new URL('../../libs/trainer-contract/dist/index.js', import.meta.url).href)});
const { Writable } = await import('node:stream');
const logger = lib.createLogger({ level: 'silent', stream: new Writable({ write: (_c, _e, d) => d() }), pretty: false });
const t = performance.now();
const out = await lib.stageDataset(process.env.URI, { workDir: process.env.WORK, env: process.env, logger, concurrency: Number(process.env.CONC), progressIntervalMs: 0 });
const seconds = (performance.now() - t) / 1000;
process.stdout.write(JSON.stringify({ files: out.files, downloaded: out.downloaded, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\\n');
`;

function stage(env, uri, work) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', STAGE], {
    env: { ...env, URI: uri, WORK: work, CONC: String(CONCURRENCY), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`staging child failed (${r.status}): ${(r.stderr ?? '').slice(-800)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const work = await mkdtemp(join(tmpdir(), 'bench-staging-'));
const result = { bench: 'staging', objects: OBJECTS, limit_mb: LIMIT_MB };
let s3;
try {
  const dir = join(work, 's3rver');
  const t0 = performance.now();
  await populate(dir, 'big', OBJECTS);
  await populate(dir, 'small', 100);
  console.log(`populated ${OBJECTS} + 100 objects of 300 bytes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  s3 = await startS3rver(dir);
  const env = { ...process.env, S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
  delete env.AWS_ENDPOINT_URL_S3;

  const anchor = stage(env, `s3://${BUCKET}/small/`, join(work, 'anchor'));
  if (anchor.files !== 100) throw new Error(`anchor staged ${anchor.files} objects, want 100`);
  const big = stage(env, `s3://${BUCKET}/big/`, join(work, 'big'));
  if (big.files !== OBJECTS || big.downloaded !== OBJECTS) throw new Error(`staged ${big.files} (${big.downloaded} downloaded), want ${OBJECTS}`);
  result.peak_rss_mb = Number(big.maxRssMb.toFixed(1));
  result.anchor_rss_mb = Number(anchor.maxRssMb.toFixed(1));
  result.ratio_vs_anchor = Number((big.maxRssMb / anchor.maxRssMb).toFixed(2));
  result.seconds = Number(big.seconds.toFixed(1));
  result.objects_per_s = Math.round(OBJECTS / big.seconds);
  result.ok = big.maxRssMb < LIMIT_MB;
  console.log(`staging ${OBJECTS} objects: peak RSS ${result.peak_rss_mb} MB (limit ${LIMIT_MB} MB: ${result.ok ? 'ok' : 'OVER'}), ${result.ratio_vs_anchor}× the ${result.anchor_rss_mb} MB of staging 100 objects; ${result.seconds} s, ${result.objects_per_s} objects/s`);
} finally {
  s3?.child.kill();
  await rm(work, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
if (!result.ok) process.exitCode = 1;
