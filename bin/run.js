#!/usr/bin/env node
import {execute, settings} from '@oclif/core'

// The built CLI runs compiled JavaScript only, its own and its plugins'. Without this, oclif tries
// to find TypeScript sources for every plugin added with `plugins link` and, as it cannot for ESM
// packages, warns about each of them on every command.
settings.enableAutoTranspile = false

await execute({dir: import.meta.url})
