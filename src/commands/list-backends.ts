import {BaseCommand} from '../base-command.js'
import {renderTable} from '../cli/output.js'

/** What `list-backends --json` prints. */
export interface ListBackendsResult {
  backends: Array<{name: string; summary: string; plugin: string; options: string[]}>
  failures: Array<{plugin: string; message: string}>
}

export default class ListBackends extends BaseCommand {
  static override summary = 'List the database backends every installed plugin provides.'
  static override description = 'Backends are discovered through the hivemind:backends hook of each installed plugin (this package registers its built-in backends the same way). Plugins that failed to load are listed too.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<ListBackendsResult> {
    await this.parse(ListBackends)
    const registry = await this.registry()
    const backends = registry.list().map(({descriptor, plugin}) => ({
      name: descriptor.name,
      summary: descriptor.summary,
      plugin,
      options: Object.keys(descriptor.optionsSchema),
    }))
    this.log(renderTable(['backend', 'from plugin', 'options', 'summary'], backends.map((backend) => [backend.name, backend.plugin, backend.options.join(', '), backend.summary])))
    if (registry.failures.length > 0) {
      this.logToStderr('Plugins that failed to provide a backend:')
      for (const failure of registry.failures) this.logToStderr(`  ${failure.plugin}: ${failure.message}`)
    }
    return {backends, failures: registry.failures}
  }
}
