// The apps that ship an image, and the flags of the committed Kubernetes examples (docker/k8s/<app>/*.yaml).
// Plain JavaScript: the writer (write-k8s-examples.mjs) runs it with node, the tests import it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

/** Every apps/<name> with a bin: what `npm run schemas` and the Dockerfiles cover too. */
export function shippedApps() {
  const dir = join(ROOT, 'apps');
  return readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, 'package.json')))
    .map((name) => {
      const pkg = JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8'));
      const bin = Object.values(pkg.bin ?? {})[0];
      return bin ? { name, version: pkg.version ?? '0.0.0', root: join(dir, name), bin: join(dir, name, bin) } : undefined;
    })
    .filter(Boolean);
}

// A model name each framework knows, only for the examples to read naturally (k8s-manifest does not check it).
const EXAMPLE_MODELS = { ultralytics: 'yolov8n', timm: 'resnet50', hf: 'facebook/detr-resnet-50' };

/** file name → k8s-manifest flags, for one app. */
export function exampleFlags(app) {
  const common = [
    '--image', `registry.example.com/trainers/trainer-${app.name}:${app.version}`,
    '--job-id', '123',
    '--model-name', EXAMPLE_MODELS[app.name] ?? 'MODEL_NAME',
    '--dataset-s3-uri', 's3://datasets/abc-123/',
    '--callback-url', 'http://backend:8000/api/v1/training',
    '--config', '{"epochs": 50}',
    '--s3-bucket', 'trainer-checkpoints',
    '--mlflow-tracking-uri', 'http://mlflow:5000',
    '--queue', 'training',
  ];
  return {
    'job.yaml': [...common, '--gpus', '1', '--memory', '32Gi', '--cpu', '8'],
    'job-multi-gpu.yaml': [...common, '--gpus', '4', '--memory', '128Gi', '--cpu', '32'],
    'trainjob.yaml': [...common, '--nodes', '2', '--gpus', '8'],
    'jobset.yaml': [...common, '--nodes', '2', '--gpus', '8', '--engine', 'jobset'],
  };
}
