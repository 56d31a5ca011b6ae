#!/usr/bin/env node
// Benchmark of the DICEFormat → YOLO converter (issue 3) against Ultralytics' convert_coco anchors and
// against this machine's floor (one JSON.parse of the file + one label file per image), measured in this run;
// then the same workloads converted to COCO files (--format coco: time and peak RSS against the floor's parse).
//
//   node tools/bench/convert.mjs                 boxes + polygons workloads (20k images, 200k annotations)
//   BENCH_CONVERT_BIG_MB=650 node tools/...      also a streamed ≥600 MB annotations file (bounded memory)
//   ULTRALYTICS_SRC=/path/to/ultralytics-checkout  adds it to PYTHONPATH so convert_coco is timed too
//
// Every measured step runs in its own child process, so peak RSS (maxRSS) is that step's alone.
import { spawnSync } from 'node:child_process';
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = new URL('.', import.meta.url).pathname;
const dist = join(here, '..', '..', 'libs', 'trainer-contract', 'dist');

async function loadLib() {
  const top = await import(pathToFileURL(join(dist, 'index.js')).href);
  if (top.prepareDataset) return top;
  return import(pathToFileURL(join(dist, 'convert', 'index.js')).href);
}

// ---------- child modes ----------
const mode = process.argv[2];
if (mode === '--child-convert') {
  const [input, output, task, tuningJson, format] = process.argv.slice(3);
  const { prepareDataset } = await loadLib();
  const { createLogger } = await import(pathToFileURL(join(dist, 'log', 'index.js')).href);
  const t0 = performance.now();
  const r = await prepareDataset({ inputDir: input, outputDir: output, task, format: format || 'yolo', logger: createLogger({ level: 'silent' }), tuning: JSON.parse(tuningJson || '{}') });
  const ms = performance.now() - t0;
  const ru = process.resourceUsage();
  process.stdout.write(JSON.stringify({ ms, cpuMs: (ru.userCPUTime + ru.systemCPUTime) / 1000, maxRssMB: ru.maxRSS / 1024, kept: r.report.annotations.kept, files: r.report.filesWritten, writeMs: r.report.writeMs, threads: r.report.annotationThreads, streamed: r.report.streamed, dropped: Object.fromEntries(Object.entries(r.report.dropped).map(([k, g]) => [k, g.count])) }) + '\n');
  process.exit(0);
}
if (mode === '--child-floor') {
  const [json, outDir, nImages, bytesPerFile] = process.argv.slice(3);
  const t0 = performance.now();
  const data = JSON.parse(readFileSync(json, 'utf8'));
  const t1 = performance.now();
  mkdirSync(outDir, { recursive: true });
  // As many bytes per file as the converter's average label file, so both write the same output.
  const content = Buffer.alloc(Number(bytesPerFile) || 200, 0x30);
  for (let i = 0; i < Number(nImages); i++) {
    const fd = openSync(join(outDir, `${String(100000 + i).padStart(12, '0')}.txt`), 'w');
    writeSync(fd, content);
    closeSync(fd);
  }
  const t2 = performance.now();
  const ru = process.resourceUsage();
  process.stdout.write(JSON.stringify({ parseMs: t1 - t0, filesMs: t2 - t1, ms: t2 - t0, n: data.annotations.length, maxRssMB: ru.maxRSS / 1024, cpuMs: (ru.userCPUTime + ru.systemCPUTime) / 1000 }) + '\n');
  process.exit(0);
}

if (mode === '--child-sizes') {
  // Sizes read from headers (annotations.json without width/height): image-size on each file, against the floor
  // of opening each file, reading its first 64 bytes and closing it, with the same 16 reads in flight.
  const [dir, n] = process.argv.slice(3);
  const { readImageSize } = await import(pathToFileURL(join(dist, 'convert', 'image-size.js')).href);
  const { open } = await import('node:fs/promises');
  const files = readdirSync(dir).map((f) => join(dir, f));
  const pass = async (fn) => {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 16 }, async () => { while (next < files.length) await fn(files[next++]); }));
    return performance.now() - t0;
  };
  const floor = async (f) => { const fh = await open(f, 'r'); await fh.read(Buffer.alloc(64), 0, 64, 0); await fh.close(); };
  const ours = async (f) => { if (!(await readImageSize(f))) throw new Error(`no size for ${f}`); };
  const runs = { floor: [], ours: [] };
  for (let rep = 0; rep < 3; rep++) { runs.floor.push(await pass(floor)); runs.ours.push(await pass(ours)); }
  process.stdout.write(JSON.stringify({ n: Number(n), floorMs: Math.min(...runs.floor), ms: Math.min(...runs.ours) }) + '\n');
  process.exit(0);
}

// ---------- deterministic workload ----------
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// COCO-91 ids of the 80 COCO classes.
const COCO_IDS = [1,2,3,4,5,6,7,8,9,10,11,13,14,15,16,17,18,19,20,21,22,23,24,25,27,28,31,32,33,34,35,36,37,38,39,40,41,42,43,44,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,67,70,72,73,74,75,76,77,78,79,80,81,82,84,85,86,87,88,89,90];
const r2 = (v) => Math.round(v * 100) / 100;

function polygon(rand, x, y, w, h, points) {
  const cx = x + w / 2, cy = y + h / 2;
  const p = [];
  for (let k = 0; k < points; k++) {
    const a = (k / points) * 2 * Math.PI;
    const rr = 0.6 + 0.4 * rand();
    p.push(r2(cx + Math.cos(a) * rr * w / 2), r2(cy + Math.sin(a) * rr * h / 2));
  }
  return p;
}

/**
 * Writes images/ (empty placeholder files: sizes come from the JSON) and annotations.json: about 2% crowd,
 * 3% boxes crossing the border, 5% images without annotations; with polygons, 10% are multi-part.
 */
function generate(dir, { images = 20000, annotations = 200000, polygons = false, seed = 1, writeImages = true, repeat = 1 }) {
  const rand = rng(seed);
  mkdirSync(join(dir, 'images'), { recursive: true });
  const sizes = [[640, 480], [640, 427], [500, 375], [480, 640], [800, 600]];
  const imgs = [];
  for (let i = 0; i < images; i++) {
    const [w, h] = sizes[Math.floor(rand() * sizes.length)];
    imgs.push({ id: 100000 + i, file_name: `${String(i).padStart(12, '0')}.jpg`, width: w, height: h });
  }
  if (writeImages) {
    for (const im of imgs) {
      const p = join(dir, 'images', im.file_name);
      if (!existsSync(p)) closeSync(openSync(p, 'w'));
    }
  }
  const annotated = imgs.filter(() => rand() >= 0.05);
  const fd = openSync(join(dir, 'annotations.json'), 'w');
  const out = (s) => writeSync(fd, s);
  out('{"info":{"description":"bench","year":2024},"licenses":[],"images":[');
  out(imgs.map((im) => JSON.stringify(im)).join(','));
  out('],"annotations":[');
  let id = 1;
  let buf = '';
  for (let rep = 0; rep < repeat; rep++) {
    for (let k = 0; k < annotations; k++) {
      const im = annotated[Math.floor(rand() * annotated.length)];
      const W = im.width, H = im.height;
      const w = r2(10 + rand() * W * 0.4), h = r2(10 + rand() * H * 0.4);
      let x = r2(rand() * (W - w));
      const y = r2(rand() * (H - h));
      if (rand() < 0.03) { x = r2(W - w * 0.5); }
      const crowd = rand() < 0.02 ? 1 : 0;
      let seg = '[]';
      if (polygons) {
        const parts = rand() < 0.1 ? [polygon(rand, x, y, w / 2, h, 8), polygon(rand, x + w / 2, y, w / 2, h, 8)] : [polygon(rand, x, y, w, h, 12)];
        seg = JSON.stringify(parts);
      }
      buf += `${id === 1 ? '' : ','}{"id":${id++},"image_id":${im.id},"category_id":${COCO_IDS[Math.floor(rand() * 80)]},"bbox":[${x},${y},${w},${h}],"area":${r2(w * h)},"iscrowd":${crowd},"segmentation":${seg}}`;
      if (buf.length > 1 << 20) { out(buf); buf = ''; }
    }
  }
  out(buf);
  out('],"categories":[');
  out(COCO_IDS.map((cid) => JSON.stringify({ id: cid, name: `class_${cid}`, supercategory: 's' })).join(','));
  out(']}');
  closeSync(fd);
}

// ---------- measuring ----------
function child(args, env = {}) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', new URL(import.meta.url).pathname, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`child ${args[0]} failed: ${r.stderr || r.stdout}`);
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()), wallMs: wall };
}

function ultralytics(jsonDir, save, useSegments) {
  const env = { ...process.env };
  if (process.env.ULTRALYTICS_SRC) env.PYTHONPATH = [process.env.ULTRALYTICS_SRC, env.PYTHONPATH].filter(Boolean).join(':');
  env.YOLO_OFFLINE = 'True';
  env.YOLO_VERBOSE = 'False';
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import ultralytics.data.converter'], { env, encoding: 'utf8' });
  if (probe.status !== 0) return undefined;
  const script = `
import sys, time, resource, io, contextlib
from ultralytics.data.converter import convert_coco
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    convert_coco(labels_dir=sys.argv[1], save_dir=sys.argv[2], use_segments=sys.argv[3] == '1', cls91to80=True)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
`;
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/python3', ['-c', script, jsonDir, save, useSegments ? '1' : '0'], { env, encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (r.status !== 0) return { error: (r.stderr || '').trim().split('\n').pop() };
  const [secs, rss] = r.stdout.trim().split('\n').pop().split(' ').map(Number);
  return { ms: secs * 1000, maxRssMB: rss, wallMs: wall };
}

const RUNS = Number(process.env.BENCH_CONVERT_RUNS || 3);
function labelBytes(dir) {
  let total = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.isFile() && e.name.endsWith('.txt')) total += statSync(join(d, e.name)).size;
    }
  };
  for (const s of ['train', 'val', 'test']) if (existsSync(join(dir, s))) walk(join(dir, s));
  return total;
}
const fmtS = (ms) => `${(ms / 1000).toFixed(2)} s`;
const root = mkdtempSync(join(tmpdir(), 'bench-convert-'));
const results = { bench: 'convert' };
try {
  const cases = [
    { name: 'boxes', polygons: false, task: 'detect', anchors: { idle: 10.9, loadedLo: 16.4, loadedHi: 18.7 }, anchorRss: 435 },
    { name: 'polygons', polygons: true, task: 'segment', anchors: { idle: 27.4, loadedLo: 27.4, loadedHi: 27.8 }, anchorRss: 704 },
  ];
  for (const c of process.env.BENCH_CONVERT_ONLY_BIG ? [] : cases) {
    const dir = join(root, c.name);
    const tg = performance.now();
    generate(dir, { polygons: c.polygons, seed: 42 });
    const jsonMB = readFileSync(join(dir, 'annotations.json')).length / 1e6;
    console.log(`\n[${c.name}] generated 20,000 images / 200,000 annotations, annotations.json ${jsonMB.toFixed(1)} MB (${fmtS(performance.now() - tg)})`);
    // Ours and the floor alternate, three times each, with writeback flushed before every step: this disk is
    // shared and deleting files triggers discards, so outputs are only removed at the very end.
    const floors = [];
    const ours = [];
    let bytesPerFile = 0;
    for (let rep = 0; rep < RUNS; rep++) {
      const out = join(root, `out-${c.name}-${rep}`);
      const runOurs = () => {
        spawnSync('sync');
        ours.push(child(['--child-convert', dir, out, c.task, '{}']));
        if (rep === 0) bytesPerFile = Math.round(labelBytes(out) / 20000);
      };
      const runFloor = () => {
        spawnSync('sync');
        floors.push(child(['--child-floor', join(dir, 'annotations.json'), join(root, `floor-${c.name}-${rep}`), '20000', String(bytesPerFile)]));
      };
      // The order alternates too, so neither always runs right after the other's writeback.
      if (rep % 2 === 0) { runOurs(); runFloor(); } else { runFloor(); runOurs(); }
    }
    const best = (xs, k = 'ms') => xs.reduce((a, b) => (a[k] < b[k] ? a : b));
    const median = (xs, k = 'ms') => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const floor = best(floors);
    const our = best(ours);
    const annPerS = 200000 / (our.ms / 1000);
    console.log(`  floor (JSON.parse ${fmtS(floor.parseMs)} + 20,000 files of ${bytesPerFile} B ${fmtS(floor.filesMs)}): ${fmtS(floor.ms)}, CPU ${fmtS(best(floors, 'cpuMs').cpuMs)}, peak RSS ${floor.maxRssMB.toFixed(0)} MB`);
    console.log(`  ours: ${fmtS(our.ms)} in-process (${fmtS(our.wallMs)} with node start-up), CPU ${fmtS(best(ours, 'cpuMs').cpuMs)}, ${Math.round(annPerS).toLocaleString('en')} annotations/s, peak RSS ${Math.max(...ours.map((o) => o.maxRssMB)).toFixed(0)} MB, ${our.files} files, ${our.kept} labels kept`);
    console.log(`  all runs: ours ${ours.map((o) => fmtS(o.ms)).join(' / ')}; floor ${floors.map((o) => fmtS(o.ms)).join(' / ')} (best of each used; medians ${fmtS(median(ours))} vs ${fmtS(median(floors))})`);
    const vsFloorCpu = best(ours, 'cpuMs').cpuMs / best(floors, 'cpuMs').cpuMs;
    // The disk's speed swings several-fold within minutes here, so show where the time goes: the floor pays for
    // creating its files on its one thread; ours are created by a helper thread while the JSON is parsed, and
    // only what is left of them costs the main thread.
    const ourCompute = Math.min(...ours.map((o) => o.ms - o.writeMs));
    const floorCompute = Math.min(...floors.map((f) => f.parseMs));
    const ourFiles = Math.min(...ours.map((o) => o.writeMs));
    const floorFiles = Math.min(...floors.map((f) => f.filesMs));
    console.log(`  split: main thread's work besides label files ${fmtS(ourCompute)} (floor: JSON.parse ${fmtS(floorCompute)}); label files on the main thread ${fmtS(ourFiles)} (floor creates them in ${fmtS(floorFiles)}); annotations converted on ${our.threads} thread(s)`);
    console.log(`  ratio vs floor by CPU time (less sensitive to the shared disk): ${vsFloorCpu.toFixed(2)}×`);
    const vsFloor = our.ms / floor.ms;
    const vsIdle = (c.anchors.idle * 1000) / our.ms;
    const vsLoaded = (c.anchors.loadedLo * 1000) / our.ms;
    console.log(`  ratio vs floor: ${vsFloor.toFixed(2)}× (goal ≤ 1.5×)`);
    console.log(`  speed-up vs convert_coco anchor: ${vsIdle.toFixed(1)}× vs ${c.anchors.idle} s${c.name === 'boxes' ? ' (idle)' : ''}, ${vsLoaded.toFixed(1)}× vs ${c.anchors.loadedLo} s (loaded) (goal ≥ 8×)`);
    console.log(`  peak RSS vs anchor: ${our.maxRssMB.toFixed(0)} MB vs ${c.anchorRss} MB${c.name === 'boxes' ? ' (goal ≤ 300 MB)' : ''}`);
    const ul = ultralytics(dir, join(root, `ul-${c.name}`), c.polygons);
    const entry = {
      jsonMB: +jsonMB.toFixed(1), ms: Math.round(our.ms), wallMs: Math.round(our.wallMs), annotationsPerS: Math.round(annPerS), maxRssMB: Math.round(our.maxRssMB),
      floorMs: Math.round(floor.ms), floorParseMs: Math.round(floor.parseMs), floorFilesMs: Math.round(floor.filesMs), ratioVsFloor: +vsFloor.toFixed(2),
      speedupVsAnchorIdle: +vsIdle.toFixed(1), speedupVsAnchorLoaded: +vsLoaded.toFixed(1), files: our.files,
      cpuMs: Math.round(best(ours, 'cpuMs').cpuMs), floorCpuMs: Math.round(best(floors, 'cpuMs').cpuMs), ratioVsFloorCpu: +vsFloorCpu.toFixed(2),
      medianMs: Math.round(median(ours)), floorMedianMs: Math.round(median(floors)),
      computeMs: Math.round(ourCompute), floorParseBestMs: Math.round(floorCompute), labelFilesMs: Math.round(ourFiles), floorFilesBestMs: Math.round(floorFiles),
      annotationThreads: our.threads,
    };
    if (ul && !ul.error) {
      const measured = ul.ms / our.ms;
      console.log(`  convert_coco measured now: ${fmtS(ul.ms)} (${fmtS(ul.wallMs)} process), peak RSS ${ul.maxRssMB.toFixed(0)} MB → ours is ${measured.toFixed(1)}× faster`);
      if (ul.ms / 8 < floor.ms) {
        console.log(`  (8× of that is ${fmtS(ul.ms / 8)}, below this run's floor of ${fmtS(floor.ms)}: convert_coco runs ${(c.anchors.idle / (ul.ms / 1000)).toFixed(1)}× faster here than the ${c.anchors.idle} s anchor)`);
      }
      Object.assign(entry, { convertCocoMs: Math.round(ul.ms), convertCocoRssMB: Math.round(ul.maxRssMB), speedupVsConvertCoco: +measured.toFixed(1) });
    } else {
      console.log(`  convert_coco: ${ul?.error ? 'failed: ' + ul.error : 'ultralytics not importable by /usr/bin/python3 (set ULTRALYTICS_SRC to a checkout)'}; anchors used`);
    }
    // The same dataset to COCO JSON files (what Hugging Face detection reads): no label files, one pass writing JSON.
    const cocos = [];
    for (let rep = 0; rep < RUNS; rep++) {
      spawnSync('sync');
      cocos.push(child(['--child-convert', dir, join(root, `coco-${c.name}-${rep}`), c.task, '{}', 'coco']));
    }
    const coco = best(cocos);
    console.log(`  coco: ${fmtS(coco.ms)} in-process, CPU ${fmtS(best(cocos, 'cpuMs').cpuMs)}, peak RSS ${Math.max(...cocos.map((o) => o.maxRssMB)).toFixed(0)} MB, ${coco.kept} annotations kept (yolo ${our.kept}); ${(coco.ms / floor.parseMs).toFixed(2)}× the floor's JSON.parse`);
    Object.assign(entry, { cocoMs: Math.round(coco.ms), cocoMaxRssMB: Math.round(Math.max(...cocos.map((o) => o.maxRssMB))), cocoKept: coco.kept });
    results[c.name] = entry;
  }

  if (!process.env.BENCH_CONVERT_ONLY_BIG) {
    // 5,000 phone-like JPEGs (12 KB EXIF block, orientation 6, 100 KB of data) and 5,000 small PNGs.
    const { jpegHeaderBytes, pngBytes } = await import(pathToFileURL(join(dist, 'convert', 'fixtures.js')).href);
    const dir = join(root, 'sizes');
    mkdirSync(dir);
    const jpeg = Buffer.concat([jpegHeaderBytes(4000, 3000, 12000, 6), Buffer.alloc(100_000)]);
    const png = pngBytes(64, 48);
    for (let i = 0; i < 5000; i++) {
      writeFileSync(join(dir, `${i}.jpg`), jpeg);
      writeFileSync(join(dir, `${i}.png`), png);
    }
    const r = child(['--child-sizes', dir, '10000']);
    console.log(`\n[sizes] 10,000 image headers (5,000 JPEG with EXIF, 5,000 PNG) read with image-size: ${fmtS(r.ms)} (${((r.ms / r.n) * 1000).toFixed(0)} µs each); floor (open, read 64 bytes, close): ${fmtS(r.floorMs)}; ratio ${(r.ms / r.floorMs).toFixed(2)}×`);
    results.sizes = { files: r.n, ms: Math.round(r.ms), floorMs: Math.round(r.floorMs), ratioVsFloor: +(r.ms / r.floorMs).toFixed(2) };
  }

  const bigMB = Number(process.env.BENCH_CONVERT_BIG_MB || 0);
  if (bigMB > 0) {
    const dir = join(root, 'big');
    // Same 20k images; the annotation list repeated until the file passes the size asked for.
    const perRep = 200000;
    const repeat = Math.max(1, Math.ceil((bigMB * 1e6) / (perRep * 290)));
    const tg = performance.now();
    generate(dir, { polygons: true, seed: 7, repeat });
    const bytes = statSync(join(dir, 'annotations.json')).size;
    console.log(`\n[big] annotations.json ${(bytes / 1e6).toFixed(0)} MB, ${(perRep * repeat).toLocaleString('en')} polygon annotations (generated in ${fmtS(performance.now() - tg)})`);
    const our = child(['--child-convert', dir, join(root, 'out-big'), 'segment', '{}']);
    console.log(`  ours: ${fmtS(our.ms)}, ${Math.round((perRep * repeat) / (our.ms / 1000)).toLocaleString('en')} annotations/s, peak RSS ${our.maxRssMB.toFixed(0)} MB, streamed=${our.streamed}, annotations converted on ${our.threads} thread(s)`);
    results.big = { jsonMB: Math.round(bytes / 1e6), annotations: perRep * repeat, ms: Math.round(our.ms), maxRssMB: Math.round(our.maxRssMB), streamed: our.streamed, annotationThreads: our.threads };
    rmSync(join(root, 'out-big'), { recursive: true, force: true });
    const coco = child(['--child-convert', dir, join(root, 'coco-big'), 'segment', '{}', 'coco']);
    console.log(`  coco: ${fmtS(coco.ms)}, peak RSS ${coco.maxRssMB.toFixed(0)} MB (annotations go from each batch straight to their split's file)`);
    Object.assign(results.big, { cocoMs: Math.round(coco.ms), cocoMaxRssMB: Math.round(coco.maxRssMB) });
  } else {
    console.log('\n[big] skipped (set BENCH_CONVERT_BIG_MB=650 to convert a ≥600 MB annotations file with bounded memory)');
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(JSON.stringify(results));
