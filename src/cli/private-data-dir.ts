/**
 * oclif's `prerun` hook: before a `plugins` command (install, link, …) our data directory is
 * made 0700 when it is missing. The plugin manager keeps its package.json and node_modules in
 * oclif's data directory, which is also the one our clients.db / clients.json live in; it made
 * that directory with the umask's mode (0755), and every later command kept it (docs/security.md:
 * 0700 directories; QA: doctor then reported it). An existing directory keeps its mode: doctor
 * reports a loose one with its fix. A tiny module: every command loads it.
 */
import type {Hook} from '@oclif/core'

import {ensurePrivateDir} from '../core/private-dir.js'

const hook: Hook<'prerun'> = async function ({Command, config}) {
  if (Command.id === 'plugins' || Command.id.startsWith('plugins:')) ensurePrivateDir(config.dataDir, 'private')
}

export default hook
