/**
 * The backends this CLI knows, collected from every oclif plugin (this package included) that
 * declares the `hivemind:backends` hook. Nothing here names a concrete backend.
 */
import type {Config} from '@oclif/core'

import {BackendOptionsError, HivemindError, UnknownBackendError} from './errors.js'
import {maskUrlPassword} from './redact.js'
import type {BackendDescriptor} from './store.js'

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
}

/** A plugin whose hook failed, or whose backend could not be registered. */
export interface BackendLoadFailure {
  plugin: string
  /** One line, fit for `list-backends` and warnings. */
  message: string
}

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,39}$/

/** The set of available backends, sorted by name. */
export class BackendRegistry {
  private readonly backends = new Map<string, RegisteredBackend>()
  readonly failures: BackendLoadFailure[] = []

  /** Collects the backends of every installed plugin through the `hivemind:backends` hook. */
  static async fromOclif(config: Config): Promise<BackendRegistry> {
    const registry = new BackendRegistry()
    const result = await config.runHook('hivemind:backends', {})
    for (const success of result.successes) {
      const contributed = Array.isArray(success.result) ? success.result : [success.result]
      for (const descriptor of contributed) registry.register(descriptor, success.plugin.name)
    }
    for (const failure of result.failures) {
      registry.failures.push({plugin: failure.plugin.name, message: oneLine(failure.error)})
    }
    return registry
  }

  /**
   * Adds a backend. An invalid descriptor, or a second backend with a taken name, is recorded as
   * a failure naming both plugins; the first registration keeps working.
   */
  register(descriptor: unknown, plugin: string): void {
    const problem = describeInvalidDescriptor(descriptor)
    if (problem) {
      this.failures.push({plugin, message: problem})
      return
    }
    const valid = descriptor as BackendDescriptor
    const existing = this.backends.get(valid.name)
    if (existing) {
      this.failures.push({
        plugin,
        message: `backend "${valid.name}" is already provided by ${existing.plugin}; ${plugin}'s backend of that name is ignored (uninstall one of the two plugins)`,
      })
      return
    }
    this.backends.set(valid.name, {descriptor: valid, plugin})
  }

  /** Every registered backend, sorted by name. */
  list(): RegisteredBackend[] {
    return [...this.backends.values()].sort((a, b) => a.descriptor.name.localeCompare(b.descriptor.name))
  }

  names(): string[] {
    return this.list().map((entry) => entry.descriptor.name)
  }

  has(name: string): boolean {
    return this.backends.has(name)
  }

  /** The backend of that name, or UnknownBackendError listing the available ones. */
  get(name: string, origin?: string): RegisteredBackend {
    const entry = this.backends.get(name)
    if (!entry) {
      const failed = this.failures.find((failure) => failure.message.includes(`"${name}"`))
      if (failed) throw new BackendOptionsError(`backend "${name}" could not be loaded: ${failed.message}`)
      throw new UnknownBackendError(name, this.names(), origin)
    }
    return entry
  }
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
  return undefined
}

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
