/**
 * Which modules a CLI process loads, for tests that keep heavy libraries off a command's path.
 * A preload script (`node --import`) logs every ES module the process resolves (a resolve hook)
 * and every CommonJS module it requires (the project loads CommonJS packages with require: see
 * src/core/require-cjs.ts), one file URL or path per line.
 */
import {writeFileSync} from 'node:fs'

/**
 * Writes the preload script to `hookFile`, logging to `logFile`; pass it to the CLI with
 * NODE_OPTIONS=--import <hookFile>. The log starts with "hook installed".
 */
export function writeModuleLogHook(hookFile: string, logFile: string): void {
  writeFileSync(
    hookFile,
    `import {appendFileSync} from 'node:fs'
import Module, {register} from 'node:module'
register('data:text/javascript,' + encodeURIComponent(\`
  import {appendFileSync} from 'node:fs'
  export async function resolve(specifier, context, next) {
    const result = await next(specifier, context)
    appendFileSync(${JSON.stringify(logFile)}, result.url + '\\\\n')
    return result
  }\`))
// CommonJS: every require() goes through Module._resolveFilename (a test-only peek at an internal).
const resolveFilename = Module._resolveFilename
Module._resolveFilename = function (...args) {
  const file = resolveFilename.apply(this, args)
  appendFileSync(${JSON.stringify(logFile)}, file + '\\n')
  return file
}
appendFileSync(${JSON.stringify(logFile)}, 'hook installed\\n')
`,
  )
}
