// Module boundaries (docs/architecture: "packages never import services; services never
// import each other"), checked by `pnpm lint`. Tests and benches count: shared fixtures live in
// packages/testkit, and benches use packages by name.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'package-imports-service',
      comment: 'A shared package is used by services; it never reaches into one (tests included).',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^services/' },
    },
    {
      name: 'service-imports-other-service',
      comment:
        "Services talk over HTTP and Kafka, never through each other's code, not even in tests: " +
        'shared fixtures belong in packages/testkit.',
      severity: 'error',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/', pathNot: '^services/$1/' },
    },
    {
      name: 'bench-imports-service',
      comment:
        'Benches import a service only by its package name and declared exports (`@flow8/<service>`: ' +
        'src/index.ts; `@flow8/<service>/testing`: its test harness), so they measure the real code ' +
        'and never a copy of it or a private module.',
      severity: 'error',
      from: { path: '^scripts/bench/' },
      to: { path: '^services/', pathNot: '^services/[^/]+/(src/index|test/harness)\\.ts$' },
    },
    {
      name: 'package-by-relative-path',
      comment: 'Another workspace package is imported by its name (@flow8/x), never by a relative path into it.',
      severity: 'error',
      from: { path: '^services/' },
      to: { path: '^packages/', dependencyTypes: ['local'] },
    },
    {
      name: 'package-by-relative-path-from-package',
      comment:
        "The same between packages, except a package's tests reaching testkit: testkit depends on " +
        'bus, db, http, …, so a workspace dependency back on it would be circular.',
      severity: 'error',
      from: { path: '^packages/([^/]+)/' },
      to: { path: '^packages/', pathNot: ['^packages/$1/', '^packages/testkit/'], dependencyTypes: ['local'] },
    },
    {
      name: 'script-package-by-relative-path',
      comment: 'Scripts import workspace packages by name (@flow8/x), never by a relative path into them.',
      severity: 'error',
      from: { path: '^scripts/' },
      to: { path: '^packages/', dependencyTypes: ['local'] },
    },
    {
      name: 'no-circular',
      comment: 'A module that depends on itself through others: split what both sides need.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)node_modules/', '^packages/contracts/src/generated/', '(^|/)dist/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
