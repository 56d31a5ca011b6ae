#!/usr/bin/env node
// S3 staging benchmark (issue 4): 2,000 × 50 KB + 200 × 1 MB in s3rver, downloaded into an empty folder by the
// trainer's stager and by `aws s3 sync` / `rclone copy --transfers 16` on the same server; then a 200 MB
// checkpoint upload against `aws s3 cp`. s3rver runs in its own process (it shares the machine's cores).
// Knobs: BENCH_S3_RUNS (default 3), BENCH_S3_CONCURRENCY (default 32), BENCH_S3_SKIP_PEERS=1,
// BENCH_S3_QUICK=1 (only the interleaved download runs), BENCH_S3_CPUPROFILE=file.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const root = new URL('../../', import.meta.url).pathname;
const lib = await import(new URL('../../libs/trainer-contract/dist/index.js', import.meta.url).href);
const { createLogger } = await import(new URL('../../libs/trainer-contract/dist/index.js', import.meta.url).href);
const require = createRequire(join(root, 'package.json'));
const { PutObjectCommand } = require('@aws-sdk/client-s3');

const RUNS = Number(process.env.BENCH_S3_RUNS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_S3_CONCURRENCY ?? 32);
const BUCKET = 'bench';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (s) => `${s.toFixed(2)} s`;
const silent = createLogger({ level: 'silent', stream: new Writable({ write: (_c, _e, d) => d() }), pretty: false });

async function startS3rver(dir) {
  // A separate process so it does not share our event loop; the legacy provider for its DES continuation tokens.
  const bin = join(root, 'node_modules/s3rver/bin/s3rver.js');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent', '--configure-bucket', BUCKET], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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

async function startProfile() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(path) {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(path, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

function countFiles(dir) {
  return readdir(dir, { recursive: true, withFileTypes: true }).then((es) => es.filter((e) => e.isFile()).length);
}

function timed(cmd, args, env) {
  const t = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${(r.stderr ?? '').slice(0, 400)}`);
  return seconds;
}

const work = await mkdtemp(join(tmpdir(), 'bench-s3-'));
const s3 = await startS3rver(join(work, 's3rver'));
const env = { ...process.env, S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
delete env.AWS_ENDPOINT_URL_S3;
const result = { bench: 's3', files: 2200, mb: 0 };
try {
  // ---- populate ----
  const client = lib.createS3Client(env);
  const objects = [
    ...Array.from({ length: 2000 }, (_, i) => [`ds/small/img${String(i).padStart(4, '0')}.jpg`, 50 * 1024]),
    ...Array.from({ length: 200 }, (_, i) => [`ds/large/blob${String(i).padStart(3, '0')}.bin`, 1024 * 1024]),
  ];
  result.mb = Number((objects.reduce((n, [, s]) => n + s, 0) / 1e6).toFixed(1));
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < objects.length) {
        const [key, size] = objects[next++];
        await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: randomBytes(size) }));
      }
    }),
  );
  client.destroy();
  console.log(`populated ${objects.length} objects (${result.mb} MB) in ${fmt((performance.now() - t0) / 1000)}`);

  // ---- ours ----
  async function ours(engine, i) {
    const workDir = join(work, `ours-${engine}-${i}`);
    // BENCH_S3_CPUPROFILE=file.cpuprofile: a V8 profile of the first download only, to see where the time goes.
    const profile = i === 0 && engine === 'http' && process.env.BENCH_S3_CPUPROFILE ? await startProfile() : undefined;
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    const out = await lib.stageDataset(`s3://${BUCKET}/ds/`, { workDir, env, logger: silent, concurrency: CONCURRENCY, engine, progressIntervalMs: 0 });
    const seconds = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (profile) await profile.stop(process.env.BENCH_S3_CPUPROFILE);
    if (out.downloaded !== 2200 || (await countFiles(out.dir)) !== 2200) throw new Error(`ours(${engine}): incomplete download`);
    await rm(workDir, { recursive: true, force: true });
    return { seconds, cpu: (cpu.user + cpu.system) / 1e6 };
  }
  const peerEnv = { ...env, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '' };
  const rclone = process.env.BENCH_S3_SKIP_PEERS ? '' : spawnSync('sh', ['-c', 'command -v rclone'], { encoding: 'utf8' }).stdout.trim();
  const rcEnv = {
    ...peerEnv,
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
    RCLONE_CONFIG_BENCH_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: 'S3RVER',
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: 'S3RVER',
    RCLONE_CONFIG_BENCH_REGION: 'us-east-1',
    RCLONE_CONFIG: '/dev/null',
  };
  // rclone 1.60 fails to load AWS_CA_BUNDLE here; s3rver is plain HTTP anyway.
  delete rcEnv.AWS_CA_BUNDLE;
  async function rcloneRun(i) {
    const dest = join(work, `rclone-${i}`);
    // --fast-list: s3rver's delimited listings leave out folders that only hold folders.
    const t = timed(rclone, ['copy', `bench:${BUCKET}/ds`, dest, '--transfers', '16', '--fast-list'], rcEnv);
    if ((await countFiles(dest)) !== 2200) throw new Error('rclone copy: incomplete');
    await rm(dest, { recursive: true, force: true });
    return t;
  }

  // Ours and rclone alternate, so load from other processes on this shared machine hits both alike.
  const runs = [];
  const rcloneTimes = [];
  for (let i = 0; i < RUNS; i++) {
    runs.push(await ours('http', i));
    if (rclone) rcloneTimes.push(await rcloneRun(i));
  }
  result.ours_s = Number(median(runs.map((r) => r.seconds)).toFixed(2));
  result.ours_cpu_s = Number(median(runs.map((r) => r.cpu)).toFixed(2));
  console.log(`stageDataset (signed http GETs, concurrency ${CONCURRENCY}): ${fmt(result.ours_s)} median of ${RUNS} [${runs.map((r) => r.seconds.toFixed(2)).join(', ')}], client CPU ${fmt(result.ours_cpu_s)}, ${(2200 / result.ours_s).toFixed(0)} files/s, ${(result.mb / result.ours_s).toFixed(1)} MB/s`);
  if (rclone) {
    result.rclone_s = Number(median(rcloneTimes).toFixed(2));
    result.ratio_vs_rclone = Number((result.rclone_s / result.ours_s).toFixed(2));
    console.log(`rclone copy --transfers 16 --fast-list: ${fmt(result.rclone_s)} median of ${RUNS} [${rcloneTimes.map((t) => t.toFixed(2)).join(', ')}] → ours runs at ${result.ratio_vs_rclone}× rclone's speed (goal ≥ 1×)`);
  }
  if (process.env.BENCH_S3_QUICK) throw Object.assign(new Error('quick'), { quick: true });
  const sdk = await ours('sdk', 0);
  result.ours_sdk_s = Number(sdk.seconds.toFixed(2));
  console.log(`stageDataset with the SDK GetObject engine (for reference): ${fmt(sdk.seconds)}, client CPU ${fmt(sdk.cpu)}`);
  const rerunDir = join(work, 'rerun');
  await lib.stageDataset(`s3://${BUCKET}/ds/`, { workDir: rerunDir, env, logger: silent, concurrency: CONCURRENCY, progressIntervalMs: 0 });
  const tr = performance.now();
  const again = await lib.stageDataset(`s3://${BUCKET}/ds/`, { workDir: rerunDir, env, logger: silent, concurrency: CONCURRENCY, progressIntervalMs: 0 });
  result.rerun_s = Number(((performance.now() - tr) / 1000).toFixed(2));
  console.log(`rerun on the same WORK_DIR: ${fmt(result.rerun_s)} (${again.downloaded} downloaded, ${again.skipped} skipped)`);
  await rm(rerunDir, { recursive: true, force: true });

  if (!process.env.BENCH_S3_SKIP_PEERS && existsSync('/usr/bin/aws')) {
    const dest = join(work, 'aws');
    const s = timed('/usr/bin/aws', ['s3', 'sync', `s3://${BUCKET}/ds/`, dest, '--endpoint-url', s3.endpoint, '--only-show-errors'], peerEnv);
    if ((await countFiles(dest)) !== 2200) throw new Error('aws s3 sync: incomplete');
    await rm(dest, { recursive: true, force: true });
    result.aws_sync_s = Number(s.toFixed(2));
    result.ratio_vs_aws = Number((s / result.ours_s).toFixed(2));
    console.log(`aws s3 sync (/usr/bin/aws): ${fmt(s)} → ours is ${result.ratio_vs_aws}× faster (goal ≥ 2×)`);
  }

  // ---- 200 MB checkpoint upload ----
  const big = join(work, 'best.pt');
  await writeFile(big, randomBytes(200 * 1024 * 1024));
  const store = lib.createCheckpointStore({ jobId: 'bench', env: { ...env, S3_BUCKET: BUCKET }, logger: silent });
  const tu = performance.now();
  await store.upload(big, 'best.pt');
  result.upload_s = Number(((performance.now() - tu) / 1000).toFixed(2));
  console.log(`CheckpointStore.upload 200 MiB (sha256 + multipart + verify): ${fmt(result.upload_s)}, ${(209.7 / result.upload_s).toFixed(1)} MB/s`);
  if (!process.env.BENCH_S3_SKIP_PEERS && existsSync('/usr/bin/aws')) {
    const s = timed('/usr/bin/aws', ['s3', 'cp', big, `s3://${BUCKET}/aws-cp/best.pt`, '--endpoint-url', s3.endpoint, '--only-show-errors'], peerEnv);
    result.aws_cp_s = Number(s.toFixed(2));
    result.upload_ratio_vs_aws_cp = Number((s / result.upload_s).toFixed(2));
    console.log(`aws s3 cp 200 MiB: ${fmt(s)} → ours is ${result.upload_ratio_vs_aws_cp}× its speed`);
  }
} catch (err) {
  if (!err.quick) throw err;
} finally {
  s3.child.kill();
  await rm(work, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
