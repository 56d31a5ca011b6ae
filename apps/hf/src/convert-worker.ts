// A second entry of the bundle, emitted as dist/convert-worker.js beside main.js: the converter starts its
// annotation workers from there (a bundle has no per-module files to point a Worker at).
import '@trainers/trainer-contract/convert-worker';
