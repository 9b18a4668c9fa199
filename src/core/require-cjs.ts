/**
 * `require` for the CommonJS packages this project depends on (better-sqlite3, ioredis, TypeORM…).
 *
 * Why not `import`: when an ES module imports a CommonJS one, Node first lexes its source to find
 * the named exports, and follows every re-export (`__exportStar(require('./x'))`) to lex those
 * files too. For TypeORM (hundreds of re-exported files) that costs about 40 ms on top of loading
 * it, for ioredis about 10 ms: a large share of a command's cold start. `require` skips the lexing.
 * Callers state the module's type: `requireCjs('ioredis') as typeof import('ioredis')`.
 */
import {createRequire} from 'node:module'

/** Resolves from this package, so it finds hivemind-core's own dependencies. */
export const requireCjs = createRequire(import.meta.url)
