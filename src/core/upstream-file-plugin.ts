/**
 * The Python hivemind-core's file database plugins (json, sqlite) keep their file at
 * `$XDG_DATA_HOME/<subfolder>/<name>.<extension>`, from the `name` and `subfolder` of their
 * server.json section (defaults `clients` and `hivemind-core`).
 */
import path from 'node:path'

import type {HivemindPaths, UpstreamDatabasePlugin} from './store.js'

/** The upstream file plugin `module`, whose files end in `extension` (".json", ".db"). */
export function upstreamFilePlugin(module: string, extension: string): UpstreamDatabasePlugin {
  return {
    modules: [module],
    options(section: Record<string, unknown>, paths: HivemindPaths): Record<string, unknown> {
      const {name, subfolder} = section
      // Neither given: the default location, which is ours too (no setting to report).
      if (name === undefined && subfolder === undefined) return {}
      // Of the wrong type: handed on, so that the settings say so (it is then not used).
      if (name !== undefined && typeof name !== 'string') return {path: name}
      if (subfolder !== undefined && typeof subfolder !== 'string') return {path: subfolder}
      // paths.dataDir is $XDG_DATA_HOME/hivemind-core: the plugin's subfolder replaces the last part.
      return {path: path.join(path.dirname(paths.dataDir), subfolder ?? 'hivemind-core', `${name ?? 'clients'}${extension}`)}
    },
  }
}
