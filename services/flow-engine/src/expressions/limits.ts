// Caps on expressions and their data. CEL cannot loop forever or define functions, but an
// expression can still multiply work (nested comprehensions over big lists) or memory
// (concatenation inside a comprehension); these bound both, and each has a test that tries.

export interface ExpressionLimits {
  /** Characters of source. */
  maxSourceLength: number;
  /** Bracket/parenthesis nesting in the source (the parser recurses). */
  maxNesting: number;
  /** AST nodes after macro expansion. */
  maxNodes: number;
  /** Comprehensions (`map`, `filter`, `all`, `exists`, `exists_one`) inside one another. */
  maxComprehensionDepth: number;
  /** Bytes of JSON of all the data bound into one evaluation. */
  maxInputBytes: number;
  /** Elements of any list in the bound data. */
  maxListLength: number;
  /**
   * Upper bound on loop iterations (longest list ^ comprehension depth), checked before running.
   * @bufbuild/cel 0.6.1 runs ~20–60k simple iterations a second (overloads are tried one by one),
   * so this bounds one evaluation to a few seconds of CPU at worst.
   */
  maxIterations: number;
  /** Work units spent by concatenation (characters, bytes, list elements) during one evaluation. */
  maxWork: number;
  /** Bytes of JSON of a result. */
  maxResultBytes: number;
}

export const DEFAULT_LIMITS: ExpressionLimits = {
  maxSourceLength: 4096,
  maxNesting: 32,
  maxNodes: 1000,
  maxComprehensionDepth: 3,
  maxInputBytes: 1024 * 1024,
  maxListLength: 10_000,
  maxIterations: 100_000,
  maxWork: 4 * 1024 * 1024,
  maxResultBytes: 256 * 1024,
};
