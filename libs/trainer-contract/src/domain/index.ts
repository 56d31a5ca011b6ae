/**
 * The shared vocabulary of every trainer: tasks, dataset formats, splits and classes. This module is the leaf
 * of the library's layering and imports nothing, so config/, convert/ and lifecycle/ can all depend on it.
 */

export type Task = 'detect' | 'segment' | 'pose' | 'classify' | 'obb';
export const TASKS: readonly Task[] = ['detect', 'segment', 'pose', 'classify', 'obb'];

/**
 * What a framework reads (CONTRACT §7). A driver declares one per task and the lifecycle asks the converter for it:
 * - `yolo`: `data.yaml` with labels (detect/segment/pose/obb), or `{train,val}/<class>/` for classify;
 * - `coco`: validated DICEFormat split into one COCO JSON file per split, image paths resolved;
 * - `imagefolder`: `{train,val}/<class>/` trees.
 */
export type DatasetFormat = 'yolo' | 'coco' | 'imagefolder';
export const DATASET_FORMATS: readonly DatasetFormat[] = ['yolo', 'coco', 'imagefolder'];

/** The layout a staged dataset arrived in, before conversion. */
export type SourceFormat = 'diceformat' | 'yolo' | 'coco' | 'imagefolder';

export type SplitName = 'train' | 'val' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

/** One class of the trained model: its index in the model's output, and the DICE category it stands for. */
export interface ClassEntry {
  index: number;
  id: number;
  name: string;
}
