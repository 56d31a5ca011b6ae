import type { Task } from './types.js';

/**
 * The task a model name implies, the way Ultralytics reads it from the yaml name: `-seg`, `-pose`, `-cls`,
 * `-obb` suffixes, otherwise detect for YOLO and RT-DETR names; undefined for anything else.
 */
export function inferTaskFromModelName(modelName: string): Task | undefined {
  const base = modelName.trim().toLowerCase().split(/[\\/]/).pop() ?? '';
  const stem = base.replace(/\.(pt|yaml|yml|onnx|torchscript|engine)$/, '');
  if (/-seg(\b|$|[-_.])/.test(stem)) return 'segment';
  if (/-pose(\b|$|[-_.])/.test(stem)) return 'pose';
  if (/-cls(\b|$|[-_.])/.test(stem)) return 'classify';
  if (/-obb(\b|$|[-_.])/.test(stem)) return 'obb';
  if (/^(yolo|rtdetr)/.test(stem)) return 'detect';
  return undefined;
}
