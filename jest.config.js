// Two projects: `unit` (pure logic, beside the code as *.test.ts) and
// `integration` (under <pkg>/test/, against the real stack from packages/testkit).
// Sources are ES modules transformed by SWC; run jest with --experimental-vm-modules.
const swc = [
  '@swc/jest',
  {
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
};

export default {
  // integration suites start consumers and wait for Kafka; unit tests finish far sooner
  testTimeout: 120000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{packages,services}/*/src/**/*.test.ts', '<rootDir>/scripts/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{packages,services}/*/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.fault\\.test\\.ts$'],
    },
    {
      // Suites that stop shared infrastructure (the Kafka broker, a service process): run
      // serially, after the others, by scripts/test.sh.
      ...common,
      displayName: 'fault',
      testMatch: ['<rootDir>/{packages,services}/*/test/**/*.fault.test.ts'],
    },
  ],
};
