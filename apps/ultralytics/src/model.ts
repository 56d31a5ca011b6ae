import { basename, isAbsolute, resolve } from 'node:path';
import { isPathLike, ModelUnavailableError, readModelName, requireModelFile, taskAgreeing, type Task } from '@trainers/trainer-contract';

type ModelKind = 'release' | 'yaml' | 'local' | 's3';

export interface ModelRef {
  kind: ModelKind;
  /** What Ultralytics is given: `yolov8n.pt`, `yolo11n-seg.yaml`, an absolute path; for s3 the URI. */
  ultralytics: string;
  /** The task the name implies, when it implies one. */
  task?: Task;
}

const SIZE = '[nsmlx]';
// Release assets Ultralytics 8.3 downloads by name, and the model families it builds from a yaml.
const RELEASE: RegExp[] = [
  new RegExp(`^yolov8${SIZE}(-(seg|cls|pose|obb|oiv7|world|worldv2))?$`),
  new RegExp(`^yolo11${SIZE}(-(seg|cls|pose|obb))?$`),
  new RegExp(`^yolo12${SIZE}$`),
  /^yolov10[nsmblx]$/,
  /^yolov9[tsmce](-seg)?$/,
  new RegExp(`^yolov5${SIZE}6?u$`),
  /^yolov3u$|^yolov3-tinyu$|^yolov3-sppu$/,
  /^rtdetr-[lx]$/,
];
const YAML_FAMILY = /^(yolov3|yolov5|yolov6|yolov8|yolov9|yolov10|yolo11|yolo12|rtdetr)/;
const WORLD = /^yolo_world(_v2)?_([smlx])$/;
const SUFFIX_TASK: [string, Task][] = [
  ['-seg', 'segment'],
  ['-cls', 'classify'],
  ['-pose', 'pose'],
  ['-obb', 'obb'],
];

/** The task a model name implies (Ultralytics reads the same suffixes). */
function taskFromName(name: string): Task | undefined {
  const stem = basename(name).replace(/\.(pt|ya?ml)$/i, '');
  for (const [suffix, task] of SUFFIX_TASK) if (stem.includes(suffix)) return task;
  return undefined;
}

/**
 * Classifies a `--model-name`: a release name (`yolov8n`, `yolo11n-seg`), a yaml to build from scratch,
 * a local `.pt`, or an `s3://…/x.pt` (downloaded by the lifecycle). Unknown names are user errors.
 */
export function resolveModel(name: string): ModelRef {
  const { name: raw, s3 } = readModelName(name);
  if (s3) return withTask({ kind: 's3', ultralytics: raw });
  const world = WORLD.exec(raw);
  if (world) {
    return { kind: 'release', ultralytics: `yolov8${world[2]}-${world[1] ? 'worldv2' : 'world'}.pt`, task: 'detect' };
  }
  const looksLikePath = isPathLike(raw);
  if (/\.ya?ml$/i.test(raw)) {
    if (looksLikePath) return withTask({ kind: 'yaml', ultralytics: resolve(raw) });
    if (!YAML_FAMILY.test(raw)) throw unknownModel(raw);
    return withTask({ kind: 'yaml', ultralytics: raw });
  }
  if (/\.pt$/i.test(raw)) {
    if (looksLikePath) return withTask({ kind: 'local', ultralytics: resolve(raw) });
    const stem = raw.slice(0, -3);
    if (RELEASE.some((r) => r.test(stem))) return withTask({ kind: 'release', ultralytics: raw });
    throw unknownModel(raw);
  }
  if (looksLikePath) throw unknownModel(raw);
  if (RELEASE.some((r) => r.test(raw))) return withTask({ kind: 'release', ultralytics: `${raw}.pt` });
  throw unknownModel(raw);
}

/** A local model file must exist before anything is downloaded. */
export function checkModelAvailable(ref: ModelRef): void {
  if (ref.kind === 'local' || (ref.kind === 'yaml' && isAbsolute(ref.ultralytics))) requireModelFile(ref.ultralytics);
}

/** The task to train: the name's suffix wins; config.task must agree with it. */
export function resolveTaskFor(ref: ModelRef, modelName: string, configTask: Task | undefined): Task {
  return taskAgreeing(ref.task, configTask, modelName, 'detect');
}

function withTask(ref: ModelRef): ModelRef {
  const task = taskFromName(ref.ultralytics);
  if (task) return { ...ref, task };
  // A family name without a task suffix is a detection model; an arbitrary file name says nothing.
  if (ref.kind === 'release' || (ref.kind === 'yaml' && YAML_FAMILY.test(basename(ref.ultralytics)))) {
    return { ...ref, task: 'detect' };
  }
  return ref;
}

function unknownModel(name: string): ModelUnavailableError {
  return new ModelUnavailableError(
    `model_name: "${name}" is not an Ultralytics model; use a release name (yolov8n, yolo11n-seg, yolov8s-pose, yolo11n-cls, yolov8n-obb, yolo_world_v2_s), a model yaml (yolov8n.yaml), a local .pt path or s3://bucket/path/weights.pt`,
  );
}
