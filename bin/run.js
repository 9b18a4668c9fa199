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

// The command is done (a long-running one such as listen returns only when it stops). Whatever a
// plugin left running, e.g. a hook that timed out still waiting on a server, must not keep the
// process alive: give pending writes a moment, then leave. Unref'd: a clean exit is not delayed.
setTimeout(() => process.exit(), 1000).unref()
