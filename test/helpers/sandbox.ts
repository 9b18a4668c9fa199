/**
 * A throw-away HOME with its own XDG directories, and a way to run the BUILT CLI inside it as a
 * real process (tests exercise exactly what users run).
 */
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

/** The project's bin/run.js (loads dist/: run `npm run build` first; `npm test` does). */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/run.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Written to stdin, which is then closed. */
  input?: string
}

export interface CliSandbox {
  /** The temp directory holding everything. */
  root: string
  /** HOME of the CLI processes. */
  home: string
  /** Environment of the CLI processes (HOME and XDG_* pointing into the sandbox). */
  env: NodeJS.ProcessEnv
  run(args: string[], options?: RunOptions): Promise<CliResult>
  /** Whether a path relative to HOME exists. */
  exists(relative: string): boolean
  cleanup(): void
}

/** Creates a sandbox; call cleanup() when done. */
export function createSandbox(): CliSandbox {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hivemind-test-'))
  const home = path.join(root, 'home')
  mkdirSync(home)
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    LANG: 'C.UTF-8',
  }
  return {
    root,
    home,
    env,
    run: (args, options = {}) => runCli(args, {cwd: options.cwd ?? home, env: {...env, ...options.env}, input: options.input}),
    exists: (relative) => existsSync(path.join(home, relative)),
    cleanup: () => rmSync(root, {recursive: true, force: true}),
  }
}

/** Runs bin/run.js with exactly the given environment (nothing inherited but what is passed). */
export function runCli(args: string[], options: {cwd: string; env: NodeJS.ProcessEnv; input?: string}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
    child.stdin.end(options.input ?? '')
  })
}
