/**
 * Child processes that open a real store and act on it: barrier-started (they all wait for the
 * same wall-clock instant before their critical section, so Node's start-up time does not hide
 * races), or looping writers a test can kill -9.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src')

/** Which backend a child opens, and with what options (JSON-serialisable). */
export interface ChildStoreSpec {
  /** Module under src/, e.g. "plugins/json/index.js", exporting `descriptorExport`. */
  module: string
  descriptorExport: string
  options: Record<string, unknown>
}

/** Writes the script a child runs; `body` sees `store` (opened) and may print lines. */
function writeScript(dir: string, name: string, spec: ChildStoreSpec, body: string): string {
  const file = path.join(dir, `${name}.mts`)
  writeFileSync(
    file,
    `import {${spec.descriptorExport} as descriptor} from ${JSON.stringify(path.join(SRC, spec.module))}
const options = ${JSON.stringify(spec.options)}
const store = await descriptor.create(options, {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: 'write', warn() {}})
await store.open()
${body}
await store.close()
`,
  )
  return file
}

export interface ChildResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Starts `node --import tsx script`, collecting output. */
export function startChild(script: string): {child: ChildProcess; done: Promise<ChildResult>} {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const done = new Promise<ChildResult>((resolve) => child.on('close', (code, signal) => resolve({code, signal, stdout, stderr})))
  return {child, done}
}

/**
 * Runs `count` children that each open the store, wait for the same instant, add one client
 * named `child-<n>` and print its id. Returns their results.
 */
export async function barrierAdd(dir: string, spec: ChildStoreSpec, count: number): Promise<ChildResult[]> {
  // Long enough for every child to have started and opened its store.
  const startAt = Date.now() + 2500 + count * 150
  const children = Array.from({length: count}, (_, index) => {
    const script = writeScript(dir, `barrier-${index}`, spec, `
while (Date.now() < ${startAt}) await new Promise((resolve) => setTimeout(resolve, Math.min(5, ${startAt} - Date.now())))
const record = await store.add({api_key: 'key-${index}-' + process.pid, name: 'child-${index}'})
console.log(record.client_id)
`)
    return startChild(script).done
  })
  return Promise.all(children)
}

/** A child that adds clients in a loop, printing each acknowledged id, until killed. */
export function startLoopingWriter(dir: string, spec: ChildStoreSpec, tag: string): {child: ChildProcess; done: Promise<ChildResult>} {
  const script = writeScript(dir, `writer-${tag}`, spec, `
for (let n = 0; ; n++) {
  const record = await store.add({api_key: '${tag}-' + n, name: '${tag}-' + n})
  process.stdout.write(record.client_id + ':${tag}-' + n + '\\n')
}
`)
  return startChild(script)
}
