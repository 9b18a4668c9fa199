import {BaseCommand} from '../base-command.js'
import {renderTable} from '../cli/table.js'

/** What `list-backends --json` prints. */
export interface ListBackendsResult {
  backends: Array<{name: string; summary: string; plugin: string; builtIn: boolean; options: string[]}>
  /** Names several installed plugins claim: none of them is usable until all but one are uninstalled. */
  ambiguous: Array<{name: string; plugins: string[]}>
  failures: Array<{plugin: string; message: string; backend?: string; timedOut?: boolean; hookFailed?: boolean}>
}

export default class ListBackends extends BaseCommand {
  static override summary = 'List the database backends every installed plugin provides.'
  static override description =
    'Backends are discovered through the hivemind:backends hook of each installed plugin (this package registers its built-in backends the same way). ' +
    'Plugins that failed to load, and backend names claimed by two plugins, are reported on stderr (and in --json); the other backends keep working.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<ListBackendsResult> {
    await this.parse(ListBackends)
    const registry = await this.registry()
    const backends = registry.list().map(({descriptor, plugin, builtIn}) => ({
      name: descriptor.name,
      summary: descriptor.summary,
      plugin,
      builtIn,
      options: Object.keys(descriptor.optionsSchema),
    }))
    const ambiguous = [...new Set(registry.failures.map((failure) => failure.backend))]
      .filter((name): name is string => name !== undefined && registry.isAmbiguous(name))
      .map((name) => ({name, plugins: [...registry.claimants(name)!]}))
    this.log(renderTable(['backend', 'from plugin', 'options', 'summary'], backends.map((backend) => [backend.name, backend.builtIn ? `${backend.plugin} (built in)` : backend.plugin, backend.options.join(', '), backend.summary])))
    if (registry.failures.length > 0) {
      // On stderr in --json mode too: a broken plugin must not go unnoticed in scripts.
      this.notice('Problems with installed plugins (the backends listed keep working):')
      for (const failure of registry.failures) this.notice(`  ${failure.plugin}: ${failure.message}`)
    }
    return {backends, ambiguous, failures: registry.failures}
  }
}
