/**
 * The json backend's registration (`hivemind:backends` hook). Cheap to import.
 */
import type {Hook} from '@oclif/core'

import type {BackendDescriptor} from '../../core/store.js'
import {upstreamFilePlugin} from '../../core/upstream-file-plugin.js'
import {type JsonOptions, jsonOptionsSchema} from './options.js'

export const jsonBackend: BackendDescriptor<JsonOptions> = {
  name: 'json',
  summary: 'JSON file in the upstream clients.json format (atomic writes, cross-process lock)',
  optionsSchema: jsonOptionsSchema,
  describeLocation: (options) => options.path,
  async create(options, context) {
    const {JsonClientStore} = await import('./store.js')
    return new JsonClientStore(options, context)
  },
  upstream: upstreamFilePlugin('hivemind-json-db-plugin', '.json'),
  async probe(options) {
    const {probeJsonFile} = await import('./file.js')
    return probeJsonFile(options.path)
  },
}

const hook: Hook<'hivemind:backends'> = async () => [jsonBackend as unknown as BackendDescriptor]
export default hook
