/**
 * The backends this CLI knows, collected from every oclif plugin (this package included) that
 * declares the `hivemind:backends` hook. Nothing here names a concrete backend.
 */
import type {Config} from '@oclif/core'

import {BackendConflictError, BackendOptionsError, HivemindError, UnknownBackendError} from './errors.js'
import {closestName} from './closest.js'
import {maskUrlPassword} from './redact.js'
import type {BackendDescriptor, OptionSpec, OptionType} from './store.js'

declare module '@oclif/core' {
  interface Hooks {
    /** Returns the storage backends a plugin contributes. */
    'hivemind:backends': {
      options: Record<string, never>
      return: BackendDescriptor[] | BackendDescriptor
    }
  }
}

/** A registered backend and the plugin that contributed it. */
export interface RegisteredBackend {
  descriptor: BackendDescriptor
  /** Name of the oclif plugin (npm package) that declared it. */
  plugin: string
  /** True for the backends shipped with the CLI itself (its own plugin), false for installed plugins. */
  builtIn: boolean
}

/** How long every plugin's `hivemind:backends` hook may take [5000 ms; HIVEMIND_PLUGIN_HOOK_TIMEOUT_MS]. */
export const DEFAULT_HOOK_TIMEOUT_MS = 5000

function hookTimeoutMs(): number {
  const configured = Number(process.env.HIVEMIND_PLUGIN_HOOK_TIMEOUT_MS)
  return Number.isInteger(configured) && configured > 0 ? configured : DEFAULT_HOOK_TIMEOUT_MS
}

/** A plugin whose hook failed, or whose backend could not be registered. */
export interface BackendLoadFailure {
  plugin: string
  /** One line, fit for `list-backends` and warnings. */
  message: string
  /** The backend name concerned, when known (invalid descriptors and failed hooks have none). */
  backend?: string
  /** The plugin's hook did not answer in time: every command waited for it. */
  timedOut?: boolean
  /** Its hook failed (threw, did not import, did not answer): none of its backends is known. */
  hookFailed?: boolean
}

/** How {@link BackendRegistry.register} treats a contribution. */
export interface RegisterOptions {
  /** The backend ships with the CLI: it wins over an installed plugin claiming the same name. Default false. */
  builtIn?: boolean
}

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/

/**
 * The set of available backends, sorted by name.
 *
 * Name clashes are never settled by load order (oclif runs the hooks of all plugins at once, so
 * the order is not stable):
 * - a built-in backend keeps its name; an installed plugin claiming it is reported and ignored,
 *   and selecting the name warns (see {@link shadowedBy});
 * - two installed plugins claiming one name make it AMBIGUOUS: neither is used, and selecting it
 *   is a {@link BackendConflictError} naming both, until one of them is uninstalled.
 */
export class BackendRegistry {
  private readonly backends = new Map<string, RegisteredBackend>()
  /** Ambiguous names → every installed plugin claiming them. */
  private readonly conflicts = new Map<string, string[]>()
  /** Built-in names → installed plugins that also claim them (ignored). */
  private readonly shadowed = new Map<string, string[]>()
  readonly failures: BackendLoadFailure[] = []

  /**
   * Collects the backends of every installed plugin through the `hivemind:backends` hook. A hook
   * that throws (or whose module fails to import) is recorded as a failure; it never stops the
   * other plugins' backends from loading.
   */
  static async fromOclif(config: Config): Promise<BackendRegistry> {
    const registry = new BackendRegistry()
    // captureErrors: a plugin calling this.error() in its hook must not abort every command; the
    // timeout: nor may a hook that never answers (say, one that connects to a server) hang it.
    // oclif's timeout timer is unref'd: while a hook that never settles (no timer, no socket
    // left) is awaited, Node would find nothing keeping it alive and exit with code 13 mid-command,
    // without a word. This timer keeps the process up until oclif's fires.
    const keepAlive = setTimeout(() => {}, hookTimeoutMs() + 1000)
    let result: Awaited<ReturnType<typeof config.runHook<'hivemind:backends'>>>
    try {
      result = await config.runHook('hivemind:backends', {}, hookTimeoutMs(), true)
    } finally {
      clearTimeout(keepAlive)
    }
    // Completion order of the hooks is not stable; register in a fixed order so messages are.
    const successes = [...result.successes].sort((a, b) => a.plugin.name.localeCompare(b.plugin.name))
    for (const success of successes) {
      const contributed = Array.isArray(success.result) ? success.result : [success.result]
      const builtIn = success.plugin.name === config.name
      for (const descriptor of contributed) registry.register(descriptor, success.plugin.name, {builtIn})
    }
    const failures = [...result.failures].sort((a, b) => a.plugin.name.localeCompare(b.plugin.name))
    for (const failure of failures) {
      const timedOut = /^Timed out after \d+ ms\.?$/.test(failure.error.message)
      registry.failures.push({
        plugin: failure.plugin.name,
        hookFailed: true,
        ...(timedOut ? {timedOut} : {}),
        message: timedOut
          ? `its hivemind:backends hook did not answer within ${hookTimeoutMs()} ms (a hook should only return descriptors; connecting belongs in create())`
          : `its hivemind:backends hook failed: ${oneLine(failure.error)}`,
      })
    }
    registry.reportClaimsOnBuiltInPlugins()
    return registry
  }

  /**
   * The Python hub's plugin names of the built-in backends (hivemind-sqlite-db-plugin, …) are
   * theirs, as their own names are: an installed plugin claiming one, in its `upstream.modules`
   * or as its backend's name, is reported here and never wins a lookup (QA: a plugin listing
   * hivemind-sqlite-db-plugin took over every hub whose server.json selects it, silently).
   * Called once every contribution is registered (load does), whatever their order.
   */
  reportClaimsOnBuiltInPlugins(): void {
    for (const entry of this.list()) {
      if (entry.builtIn) continue
      const {name} = entry.descriptor
      const readerOfName = this.builtInReaderOf(name)
      if (readerOfName) {
        this.failures.push({plugin: entry.plugin, backend: name, message: `backend "${name}" is named like the Python hub's plugin whose data the built-in ${readerOfName.descriptor.name} backend reads: that name selects ${readerOfName.descriptor.name} (rename the backend)`})
      }
      for (const module of entry.descriptor.upstream?.modules ?? []) {
        const reader = this.builtInReaderOf(module)
        if (reader) this.failures.push({plugin: entry.plugin, backend: name, message: `backend "${name}" claims the Python hub's ${module}, whose data the built-in ${reader.descriptor.name} backend reads: that claim is ignored`})
      }
    }
  }

  /** The built-in backend reading the Python hub's plugin `module` (any case), if any. */
  private builtInReaderOf(module: string): RegisteredBackend | undefined {
    const wanted = module.toLowerCase()
    return this.list().find((entry) => entry.builtIn && readsUpstream(entry, wanted))
  }

  /**
   * Adds a backend. An invalid descriptor is recorded as a failure. A name clash is recorded as
   * a failure naming both plugins (see the class comment for who keeps the name).
   */
  register(descriptor: unknown, plugin: string, options: RegisterOptions = {}): void {
    const builtIn = options.builtIn ?? false
    const problem = describeInvalidDescriptor(descriptor)
    if (problem) {
      this.failures.push({plugin, message: problem})
      return
    }
    const valid = descriptor as BackendDescriptor
    const name = valid.name
    const claimants = this.conflicts.get(name)
    if (claimants) {
      claimants.push(plugin)
      this.recordConflict(name)
      return
    }
    const existing = this.backends.get(name)
    if (!existing) {
      this.backends.set(name, {descriptor: valid, plugin, builtIn})
      return
    }
    if (existing.plugin === plugin && existing.builtIn === builtIn) {
      // Not two plugins: telling the author to uninstall "all but one" of them would remove the only one (QA).
      this.failures.push({plugin, backend: name, message: `its hook returns backend "${name}" more than once; the first is used`})
      return
    }
    if (existing.builtIn !== builtIn) {
      // The CLI's own backend keeps the name; the installed plugin's is ignored.
      const [kept, ignored] = existing.builtIn ? [existing.plugin, plugin] : [plugin, existing.plugin]
      if (builtIn) this.backends.set(name, {descriptor: valid, plugin, builtIn})
      this.shadowed.set(name, [...(this.shadowed.get(name) ?? []), ignored])
      this.failures.push({
        plugin: ignored,
        backend: name,
        message: `backend "${name}" is built into ${kept}; ${ignored}'s backend of that name is ignored (rename it, or uninstall ${ignored})`,
      })
      return
    }
    // Two installed plugins (or, in tests, two built-ins): nobody can tell which one is meant.
    this.backends.delete(name)
    this.conflicts.set(name, [existing.plugin, plugin])
    this.recordConflict(name)
  }

  /** Every registered backend, sorted by name (ambiguous names are not among them). */
  list(): RegisteredBackend[] {
    return [...this.backends.values()].sort((a, b) => a.descriptor.name.localeCompare(b.descriptor.name))
  }

  names(): string[] {
    return this.list().map((entry) => entry.descriptor.name)
  }

  /** Whether a backend of that name can be used. */
  has(name: string): boolean {
    return this.backends.has(name)
  }

  /** Whether several installed plugins claim that name (so none of them is used). */
  isAmbiguous(name: string): boolean {
    return this.conflicts.has(name)
  }

  /** Every plugin claiming an ambiguous name, or undefined when it is not ambiguous. */
  claimants(name: string): readonly string[] | undefined {
    return this.conflicts.get(name)
  }

  /** Installed plugins that also claim a built-in backend's name (ignored), if any. */
  shadowedBy(name: string): readonly string[] {
    return this.shadowed.get(name) ?? []
  }

  /**
   * The backend of that name. Ambiguous → BackendConflictError naming the plugins; unknown →
   * UnknownBackendError listing the available ones.
   */
  get(name: string, origin?: string): RegisteredBackend {
    // A built-in's Python plugin name first: an installed backend may not take it (see reportClaimsOnBuiltInPlugins).
    const entry = this.builtInReaderOf(name) ?? this.backends.get(name) ?? this.byOtherName(name)
    if (!entry) {
      const claimants = this.conflicts.get(name)
      if (claimants) throw new BackendConflictError(name, claimants, origin)
      const failed = this.failures.find((failure) => failure.backend === name || failure.message.includes(`"${name}"`))
      if (failed) throw new BackendOptionsError(`backend "${name}" could not be loaded: ${failed.plugin}: ${failed.message}`)
      // A plugin whose hook failed may be the one providing it: not "install the plugin" then (QA).
      const unloaded = [...new Set(this.failures.filter((failure) => failure.hookFailed).map((failure) => failure.plugin))]
      throw new UnknownBackendError(name, this.names(), origin, closestName(name.toLowerCase(), this.names())?.name, unloaded)
    }
    return entry
  }

  /**
   * A backend named the way the Python hivemind-core names it: in capitals (its --db-backend
   * took JSON), or by the entry point of the database plugin whose data it reads
   * (`migrate-db --from hivemind-json-db-plugin`, as the Python hub's README writes it).
   */
  private byOtherName(name: string): RegisteredBackend | undefined {
    return this.backends.get(name.toLowerCase()) ?? this.byUpstreamPlugin(name)
  }

  /** The backend that reads the data of the Python hub's database plugin `module` (any case), if any: a built-in one first. */
  byUpstreamPlugin(module: string): RegisteredBackend | undefined {
    const wanted = module.toLowerCase()
    return this.builtInReaderOf(module) ?? this.list().find((entry) => readsUpstream(entry, wanted))
  }

  /** One failure line per ambiguous name, kept up to date as more claimants appear. */
  private recordConflict(name: string): void {
    const claimants = this.conflicts.get(name)!
    const message = `backend "${name}" is provided by ${claimants.length} plugins: ${claimants.join(' and ')}; none of them is used until all but one are uninstalled (hivemind-core plugins uninstall <plugin>)`
    const index = this.failures.findIndex((failure) => failure.backend === name && failure.message.startsWith(`backend "${name}" is provided by`))
    const failure = {plugin: claimants.join(', '), backend: name, message}
    if (index === -1) this.failures.push(failure)
    else this.failures[index] = failure
  }
}

/** Whether the backend reads the Python plugin `module` (lower case); a plugin may list it in any case (QA). */
function readsUpstream(entry: RegisteredBackend, module: string): boolean {
  return entry.descriptor.upstream?.modules.some((listed) => listed.toLowerCase() === module) ?? false
}

function describeInvalidDescriptor(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'the hook returned something that is not a backend descriptor'
  const candidate = value as Partial<BackendDescriptor>
  if (typeof candidate.name !== 'string' || !NAME_PATTERN.test(candidate.name)) {
    return `invalid backend name ${JSON.stringify(candidate.name)} (lower-case letters, digits and dashes)`
  }
  if (typeof candidate.create !== 'function') return `backend "${candidate.name}" has no create() function`
  if (candidate.describeLocation !== undefined && typeof candidate.describeLocation !== 'function') {
    return `backend "${candidate.name}": describeLocation must be a function`
  }
  if (typeof candidate.optionsSchema !== 'object' || candidate.optionsSchema === null) {
    return `backend "${candidate.name}" has no optionsSchema`
  }
  // Said at registration, naming the plugin: otherwise the first command to call it failed with
  // "descriptor.probe is not a function" and no plugin named (QA).
  for (const hook of ['probe', 'diagnose'] as const) {
    if (candidate[hook] !== undefined && typeof candidate[hook] !== 'function') return `backend "${candidate.name}": ${hook} must be a function`
  }
  for (const [key, spec] of Object.entries(candidate.optionsSchema)) {
    const type = (spec as Partial<OptionSpec> | null)?.type
    if (!OPTION_TYPES.includes(type as OptionType)) return `backend "${candidate.name}": option "${key}" has type ${JSON.stringify(type)}, not one of ${OPTION_TYPES.join(', ')}`
  }
  const upstream = candidate.upstream as Partial<NonNullable<BackendDescriptor['upstream']>> | undefined
  if (upstream !== undefined && (!Array.isArray(upstream?.modules) || !upstream.modules.every((module) => typeof module === 'string') || typeof upstream.options !== 'function')) {
    return `backend "${candidate.name}": upstream must be {modules: string[], options(section, paths)}`
  }
  return undefined
}

/** The option types the settings know how to read (OptionType). */
const OPTION_TYPES: readonly OptionType[] = ['string', 'integer', 'boolean', 'path']

function oneLine(error: unknown): string {
  const message = error instanceof HivemindError || error instanceof Error ? error.message : String(error)
  return message.split('\n')[0] ?? message
}

/**
 * Where a backend's options point, for messages: its own describeLocation, else the first of
 * the non-secret options path, url and host, else the backend name.
 */
export function describeLocation(descriptor: BackendDescriptor, options: Record<string, unknown>): string {
  if (descriptor.describeLocation) return descriptor.describeLocation(options)
  for (const key of ['path', 'url', 'host']) {
    if (typeof options[key] === 'string' && descriptor.optionsSchema[key]?.secret !== true) return maskUrlPassword(options[key] as string)
  }
  return descriptor.name
}
