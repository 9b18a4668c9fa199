/**
 * A throw-away HOME with its own XDG directories, and a way to run the BUILT CLI inside it as a
 * real process (tests exercise exactly what users run). The process itself is spawned by
 * cli.ts's runCli, the one spawn helper of the tests.
 */
import {existsSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {type CliResult, runCli as runBuiltCli} from './cli.js'

export type {CliResult} from './cli.js'

/** The project's bin/run.js (loads dist/: run `npm run build` first; `npm test` does). */
export {BIN as CLI} from './cli.js'

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
  return runBuiltCli(args, options)
}
