#!/usr/bin/env tsx
// Entry point of the offline verifier: `pnpm audit:verify --export <file> --public-key <key>`.
// All logic lives in run.ts so tests can drive it without a process.
import { runVerifyCli } from './run';

runVerifyCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 2;
  },
);
