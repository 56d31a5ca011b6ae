import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, TrainerError, toTrainerError, type ExitCode } from '../errors/index.js';
import { createLogger, type LogLevel } from '../log/index.js';
import { DATASET_FORMATS, TASKS, type DatasetFormat, type Task } from '../domain/index.js';
import { parseSplitConfig, prepareDataset } from './prepare.js';

const HELP = `Usage: dice2yolo --input DIR --output DIR [options]

Converts a DICEFormat dataset (images/ + annotations.json) into the layout a framework reads.

  --input DIR            dataset folder: images/ and annotations.json (a dataset already in the --format's native
                         layout is used as it is: data.yaml + images/ + labels/, train/<class>/, train.json + val.json)
  --output DIR           where the converted dataset, classes.json and report.json go (created; nothing is written outside)
  --task TASK            detect (default) | segment | pose | classify | obb
  --format FORMAT        yolo (default): data.yaml, labels and split lists (classify: {train,val}/<class>/)
                         coco: train.json, val.json[, test.json] (detect, segment, pose), image paths absolute
                         imagefolder: {train,val}/<class>/ (classify)
  --split-config FILE    JSON file with a split_config object: {"splits": {"1001": "val"}, "val_ratio": 0.2, "seed": 0}
  --val-ratio R          share of images hashed into val, 0 < R < 1 (default 0.2; overrides the file)
  --seed N               integer seed of the hash split (default 0; overrides the file)
  --report FILE          also write the JSON report to FILE
  --strict               unknown image/category ids and missing image files are errors, not dropped
  --log-level LEVEL      trace | debug | info | warn | error | silent (default info; logs go to stderr)
  --help                 this text

Prints the JSON report on stdout. Exit codes: 0 done, 3 invalid input or data, 1 internal error.
`;

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The `dice2yolo` command; returns the exit code and never calls process.exit. */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const err = (line: string) => io.stderr.write(`dice2yolo: ${line}\n`);
  try {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
          input: { type: 'string' },
          output: { type: 'string' },
          task: { type: 'string' },
          format: { type: 'string' },
          'split-config': { type: 'string' },
          'val-ratio': { type: 'string' },
          seed: { type: 'string' },
          report: { type: 'string' },
          strict: { type: 'boolean' },
          'log-level': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      }));
    } catch (e) {
      throw new ConfigError(`${(e as Error).message.split('\n')[0]} (see --help)`);
    }
    if (values.help) {
      io.stdout.write(HELP);
      return 0;
    }
    const problems: string[] = [];
    if (!values.input) problems.push('--input is required');
    if (!values.output) problems.push('--output is required');
    const task = (values.task ?? 'detect') as Task;
    if (!TASKS.includes(task)) problems.push(`--task must be one of ${TASKS.join(', ')}, got ${JSON.stringify(values.task)}`);
    const format = (values.format ?? 'yolo') as DatasetFormat;
    if (!DATASET_FORMATS.includes(format)) problems.push(`--format must be one of ${DATASET_FORMATS.join(', ')}, got ${JSON.stringify(values.format)}`);
    const level = (values['log-level'] ?? 'info') as LogLevel;
    if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) problems.push(`--log-level: unknown level ${level}`);
    let split: Record<string, unknown> = {};
    if (values['split-config']) {
      const path = values['split-config'];
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(path, 'utf8'));
      } catch (e) {
        problems.push(`--split-config ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message.split('\n')[0]}`);
      }
      if (parsed !== undefined) {
        const obj = parsed !== null && typeof parsed === 'object' && 'split_config' in parsed ? (parsed as { split_config: unknown }).split_config : parsed;
        if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) problems.push(`--split-config ${path}: must hold a JSON object`);
        else split = { ...(obj as Record<string, unknown>) };
      }
    }
    for (const [flag, key, int] of [['val-ratio', 'val_ratio', false], ['seed', 'seed', true]] as const) {
      const raw = values[flag];
      if (raw === undefined) continue;
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) problems.push(`--${flag}: expected ${int ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`);
      else split[key] = n;
    }
    if (problems.length) throw new ConfigError(problems);
    const splitConfig = parseSplitConfig(split);
    const logger = createLogger({ level, stream: io.stderr, name: 'dice2yolo' });
    const prepared = await prepareDataset({
      inputDir: values.input!,
      outputDir: values.output!,
      task,
      format,
      splitConfig,
      strict: values.strict ?? false,
      logger,
    });
    const json =
      JSON.stringify(
        { ...prepared.report, dataYaml: prepared.dataYaml, coco: prepared.coco, imageFolder: prepared.imageFolder, root: prepared.root, classes_file: join(resolve(values.output!), 'classes.json') },
        null,
        2,
      ) + '\n';
    if (values.report) {
      try {
        writeFileSync(values.report, json);
      } catch (e) {
        throw new ConfigError(`--report ${values.report}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    io.stdout.write(json);
    return 0;
  } catch (e) {
    const te = toTrainerError(e);
    for (const line of te.problems) err(line);
    if (!(e instanceof TrainerError) && e instanceof Error && e.stack) io.stderr.write(e.stack + '\n');
    return te.exitCode as ExitCode;
  }
}
