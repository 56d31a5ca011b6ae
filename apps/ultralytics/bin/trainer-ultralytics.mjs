#!/usr/bin/env node
import { launch } from '@trainers/trainer-contract/launch';

await launch(import.meta.url, 'trainer-ultralytics');
