import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generateContracts } from '../src/codegen';

const root = resolve(process.argv[2] ?? '.');
const out = resolve(root, 'packages/contracts/src/generated/index.ts');
writeFileSync(out, await generateContracts(resolve(root, 'proto')));
console.log(`wrote ${out}`);
