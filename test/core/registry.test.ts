import {expect} from 'chai'

import {BackendConflictError, HivemindError, isHivemindError} from '../../src/core/errors.js'
import {BackendRegistry} from '../../src/core/registry.js'
import type {BackendDescriptor} from '../../src/core/store.js'

function backend(name: string, summary = name): BackendDescriptor {
  return {name, summary, optionsSchema: {}, create: () => Promise.reject(new Error(`${summary} used`))}
}

describe('BackendRegistry', () => {
  it('keeps a built-in name whatever the registration order, and records the plugin it ignores', () => {
    for (const builtInFirst of [true, false]) {
      const registry = new BackendRegistry()
      const register = {
        builtIn: () => registry.register(backend('sqlite', 'built-in'), 'hivemind-core', {builtIn: true}),
        plugin: () => registry.register(backend('sqlite', 'impostor'), 'some-plugin'),
      }
      if (builtInFirst) register.builtIn(), register.plugin()
      else register.plugin(), register.builtIn()
      expect(registry.get('sqlite').descriptor.summary).to.equal('built-in')
      expect(registry.shadowedBy('sqlite')).to.deep.equal(['some-plugin'])
      expect(registry.failures).to.have.length(1)
      expect(registry.failures[0]).to.deep.include({plugin: 'some-plugin', backend: 'sqlite'})
    }
  })

  it('makes a name claimed by two (or three) installed plugins ambiguous: get() names all of them', () => {
    const registry = new BackendRegistry()
    registry.register(backend('pg'), 'plugin-a')
    registry.register(backend('pg'), 'plugin-b')
    registry.register(backend('pg'), 'plugin-c')
    registry.register(backend('other'), 'plugin-c')
    expect(registry.names()).to.deep.equal(['other'])
    expect(registry.isAmbiguous('pg')).to.equal(true)
    expect(registry.failures).to.have.length(1)
    expect(registry.failures[0]!.message).to.contain('plugin-a and plugin-b and plugin-c')
    expect(() => registry.get('pg', 'flag --db-backend')).to.throw(BackendConflictError, 'database backend "pg" (from flag --db-backend) is ambiguous: it is provided by plugin-a and plugin-b and plugin-c')
  })

  it("keeps the Python plugin names of the built-in backends: an installed plugin claiming one (as a plugin it reads, or as its name) is reported and never selected (QA)", () => {
    const registry = new BackendRegistry()
    registry.register({...backend('aaa-evil', 'impostor'), upstream: {modules: ['hivemind-sqlite-db-plugin', 'hivemind-json-db-plugin', 'hivemind-pg-db-plugin'], options: () => ({})}}, 'plugin-evil')
    registry.register(backend('hivemind-json-db-plugin', 'named impostor'), 'plugin-named')
    registry.register({...backend('json', 'built-in json'), upstream: {modules: ['hivemind-json-db-plugin'], options: () => ({})}}, 'hivemind-core', {builtIn: true})
    registry.register({...backend('sqlite', 'built-in sqlite'), upstream: {modules: ['hivemind-sqlite-db-plugin'], options: () => ({})}}, 'hivemind-core', {builtIn: true})
    registry.reportClaimsOnBuiltInPlugins()
    for (const name of ['hivemind-json-db-plugin', 'HIVEMIND-JSON-DB-PLUGIN']) {
      expect(registry.byUpstreamPlugin(name)?.descriptor.summary, name).to.equal('built-in json')
      expect(registry.get(name).descriptor.summary, name).to.equal('built-in json')
    }
    expect(registry.get('hivemind-sqlite-db-plugin').descriptor.summary).to.equal('built-in sqlite')
    // A Python plugin no built-in reads stays the installed plugin's.
    expect(registry.get('hivemind-pg-db-plugin').descriptor.summary).to.equal('impostor')
    expect(registry.failures.map((failure) => `${failure.plugin}: ${failure.message}`)).to.deep.equal([
      'plugin-evil: backend "aaa-evil" claims the Python hub\'s hivemind-sqlite-db-plugin, whose data the built-in sqlite backend reads: that claim is ignored',
      'plugin-evil: backend "aaa-evil" claims the Python hub\'s hivemind-json-db-plugin, whose data the built-in json backend reads: that claim is ignored',
      'plugin-named: backend "hivemind-json-db-plugin" is named like the Python hub\'s plugin whose data the built-in json backend reads: that name selects json (rename the backend)',
    ])
  })

  it('a plugin returning one name twice is told so, not to uninstall all but one of itself; the first is used (QA)', () => {
    const registry = new BackendRegistry()
    registry.register(backend('dup', 'first'), 'plugin-a')
    registry.register(backend('dup', 'second'), 'plugin-a')
    expect(registry.get('dup').descriptor.summary).to.equal('first')
    expect(registry.failures).to.deep.equal([{plugin: 'plugin-a', backend: 'dup', message: 'its hook returns backend "dup" more than once; the first is used'}])
  })

  it('an unknown name while a plugin failed to load says that plugin may provide it (QA: "install the plugin" for an installed one)', () => {
    const registry = new BackendRegistry()
    registry.register(backend('sqlite'), 'hivemind-core', {builtIn: true})
    registry.failures.push({plugin: 'hivemind-backend-tiny', hookFailed: true, message: "its hivemind:backends hook failed: Cannot find package 'hivemind-core'"})
    registry.failures.push({plugin: 'hivemind-backend-tiny', hookFailed: true, message: 'its hivemind:backends hook failed again'})
    // A plugin that loaded but had one descriptor refused is not "failed to load".
    registry.failures.push({plugin: 'plugin-loaded', message: 'backend "x": probe must be a function'})
    expect(() => registry.get('tiny')).to.throw(
      'unknown database backend "tiny"; available: sqlite; the installed plugin(s) hivemind-backend-tiny failed to load and may provide it (hivemind-core list-backends says why)',
    )
  })

  it('a plugin may list its Python plugin names in any case', () => {
    const registry = new BackendRegistry()
    registry.register({...backend('upcase'), upstream: {modules: ['HIVEMIND-UPCASE-DB-PLUGIN'], options: () => ({})}}, 'plugin-up')
    expect(registry.byUpstreamPlugin('hivemind-upcase-db-plugin')?.descriptor.name).to.equal('upcase')
    expect(registry.get('Hivemind-Upcase-DB-Plugin').descriptor.name).to.equal('upcase')
  })

  it('refuses descriptors whose probe or diagnose is not a function, whose option type is unknown, or whose upstream is malformed, naming the plugin (QA)', () => {
    const registry = new BackendRegistry()
    registry.register({...backend('a'), probe: 'yes'} as unknown as BackendDescriptor, 'plugin-a')
    registry.register({...backend('b'), optionsSchema: {port: {type: 'number', description: 'x'}}} as unknown as BackendDescriptor, 'plugin-b')
    registry.register({...backend('c'), upstream: {modules: 'x'}} as unknown as BackendDescriptor, 'plugin-c')
    registry.register({...backend('d'), diagnose: async () => [], optionsSchema: {port: {type: 'integer', description: 'x'}}}, 'plugin-d')
    expect(registry.names()).to.deep.equal(['d'])
    expect(registry.failures.map((failure) => `${failure.plugin}: ${failure.message}`)).to.deep.equal([
      'plugin-a: backend "a": probe must be a function',
      'plugin-b: backend "b": option "port" has type "number", not one of string, integer, boolean, path',
      'plugin-c: backend "c": upstream must be {modules: string[], options(section, paths)}',
    ])
  })

  it('records an invalid descriptor as a failure of its plugin', () => {
    const registry = new BackendRegistry()
    registry.register({name: 'Bad Name', create() {}}, 'sloppy-plugin')
    registry.register({name: 'nocreate', optionsSchema: {}}, 'sloppy-plugin')
    expect(registry.names()).to.deep.equal([])
    expect(registry.failures.map((failure) => failure.plugin)).to.deep.equal(['sloppy-plugin', 'sloppy-plugin'])
    expect(() => registry.get('nocreate')).to.throw('backend "nocreate" could not be loaded: sloppy-plugin: backend "nocreate" has no create() function')
  })
})

describe('isHivemindError', () => {
  it("recognises errors from another copy of hivemind-core (a plugin's own install), but not lookalikes", async () => {
    // A second instance of the module, as a plugin installed with its own hivemind-core has.
    const copy = (await import(`../../src/core/errors.js?copy=${Date.now()}`)) as typeof import('../../src/core/errors.js')
    const foreign = new copy.DuplicateApiKeyError(3)
    expect(foreign instanceof HivemindError, 'the copy must really be a second module instance').to.equal(false)
    expect(isHivemindError(foreign)).to.equal(true)
    expect(isHivemindError(Object.assign(new Error('x'), {code: 'DUPLICATE_API_KEY', exitCode: 1}))).to.equal(false)
  })
})
