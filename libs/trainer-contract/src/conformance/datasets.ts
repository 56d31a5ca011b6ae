import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { create as createTar } from 'tar';
import { uploadDir, uploadFile } from '../testing/s3-objects.js';
import { writeShapesDataset } from '../testing/shapes-dataset.js';
import type { ConformanceProfile } from './types.js';

export { getObject, listKeys, testS3Client as suiteS3Client } from '../testing/s3-objects.js';

const DATASET_BUCKET = 'datasets';
/** The shapes generator's categories, by id: what classes.json must map the class indices to. */
export const SHAPES_CLASSES = [
  { id: 1, name: 'square' },
  { id: 2, name: 'circle' },
  { id: 3, name: 'triangle' },
] as const;

/** Where each generated dataset is, as a trainer gets it in `--dataset-s3-uri`. */
export interface SuiteDatasets {
  /** A DICEFormat folder under an S3 prefix. */
  good: string;
  /** The same dataset as a .tar.gz object. */
  archive: string;
  /** The same dataset as a local folder, by file:// URI. */
  local: string;
  /** Broken copies, each failing one rule of CONTRACT §7. */
  truncatedJson: string;
  escapingFileName: string;
  wrongType: string;
  noTrainingImage: string;
}

type Annotations = { images: Array<Record<string, unknown>>; annotations: Array<Record<string, unknown>>; categories: unknown[] };

/** Writes the shapes dataset and its broken variants, and puts them in the datasets bucket. */
export async function prepareDatasets(root: string, client: S3Client, profile: ConformanceProfile): Promise<SuiteDatasets> {
  const opts = { images: profile.dataset?.images ?? 12, size: profile.dataset?.size ?? 32, keypoints: profile.dataset?.keypoints ?? profile.task === 'pose' };
  const good = join(root, 'shapes');
  await writeShapesDataset(good, opts);
  await uploadDir(client, good, DATASET_BUCKET, 'shapes');
  const archive = join(root, 'shapes.tar.gz');
  await createTar({ gzip: true, file: archive, cwd: good }, ['images', 'annotations.json']);
  await uploadFile(client, archive, DATASET_BUCKET, 'archives/shapes.tar.gz');

  const text = await readFile(join(good, 'annotations.json'), 'utf8');
  const variant = async (name: string, annotations: string) => {
    const dir = join(root, name);
    await writeShapesDataset(dir, opts);
    await writeFile(join(dir, 'annotations.json'), annotations);
    await uploadDir(client, dir, DATASET_BUCKET, name);
    return `s3://${DATASET_BUCKET}/${name}/`;
  };
  const edit = (fn: (a: Annotations) => void) => {
    const a = JSON.parse(text) as Annotations;
    fn(a);
    return JSON.stringify(a);
  };
  return {
    good: `s3://${DATASET_BUCKET}/shapes/`,
    archive: `s3://${DATASET_BUCKET}/archives/shapes.tar.gz`,
    local: `file://${good}`,
    truncatedJson: await variant('bad-truncated', text.slice(0, Math.floor(text.length / 2))),
    escapingFileName: await variant(
      'bad-escape',
      edit((a) => void (a.images[0]!['file_name'] = '../../outside.png')),
    ),
    wrongType: await variant(
      'bad-type',
      // classify reads each image's category, not its boxes: there the wrong type is a category_id.
      edit((a) => void (profile.task === 'classify' ? (a.images[0]!['category_id'] = 'square') : (a.annotations[0]!['bbox'] = 'wide'))),
    ),
    noTrainingImage: await variant(
      'bad-empty',
      edit((a) => {
        a.images = [];
        a.annotations = [];
      }),
    ),
  };
}
