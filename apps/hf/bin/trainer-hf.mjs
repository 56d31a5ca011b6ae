#!/usr/bin/env node
// The bin link exists before the first build; the launcher runs dist/main.js (one esbuild bundle) or says to build.
import { launch } from '@trainers/trainer-contract/launch';

await launch(import.meta.url, 'trainer-hf');
