#!/usr/bin/env node
import {execute, settings} from '@oclif/core'

// The built CLI runs compiled JavaScript only, its own and its plugins'. Without this, oclif tries
// to find TypeScript sources for every plugin added with `plugins link` and, as it cannot for ESM
// packages, warns about each of them on every command.
settings.enableAutoTranspile = false

// DEBUG=* makes oclif and ioredis print command lines and Redis commands, credentials included:
// their debug lines are redacted first (loaded only then).
if (process.env.DEBUG) (await import('../dist/cli/debug-redaction.js')).installDebugRedaction()

await execute({dir: import.meta.url})

// The command is done (a long-running one such as listen returns only when it stops). Whatever is
// left running must not keep the process alive: a plugin's hook that timed out still waiting on a
// server, or ioredis's reply parser, whose buffer-shrinking interval (ref'd, every 50 ms) kept
// every Redis command that had read a large reply alive for a second more. So leave once what was
// written to stdout and stderr has reached them (a pipe is written asynchronously), or after a
// second at most.
const written = (stream) => new Promise((resolve) => stream.write('', resolve))
await Promise.race([Promise.all([written(process.stdout), written(process.stderr)]), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
process.exit()
