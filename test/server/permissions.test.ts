/**
 * The permission model (protocol.md §5) end to end through real sockets: a fake OVOS bus records
 * what the listener forwards; two satellites check routing and fan-out.
 */
import {expect} from 'chai'

import type {ClientStore} from '../../src/core/store.js'
import {HiveTestClient} from '../helpers/hive-client.js'
import {sqliteStore, startHub, type TestHub} from '../helpers/hub.js'

const PASSWORD = 'pw-0123456789abcdef'

describe('listener permissions', function () {
  let db: Awaited<ReturnType<typeof sqliteStore>>
  let store: ClientStore
  let hub: TestHub
  const clients: HiveTestClient[] = []
  let ids: Record<string, number>

  before(async () => {
    db = await sqliteStore()
    store = db.store
    ids = {}
    ids.alice = (await store.add({
      api_key: 'alice-key', password: PASSWORD, name: 'alice',
      skill_blacklist: ['skill-weather'], intent_blacklist: ['skill-timer:StartTimer'], message_blacklist: ['secret.announcement'],
      can_propagate: false, can_escalate: false,
    })).client_id
    ids.bob = (await store.add({api_key: 'bob-key', password: PASSWORD, name: 'bob'})).client_id
    ids.admin = (await store.add({api_key: 'admin-key', password: PASSWORD, name: 'root', is_admin: true})).client_id
    hub = await startHub(store)
  })

  afterEach(() => {
    for (const client of clients.splice(0)) client.close()
    hub.bus.onMessage = undefined
  })

  after(async () => {
    await hub?.stop()
    await db?.cleanup()
  })

  const connect = async (accessKey: string, sessionId?: string) => {
    const client = await HiveTestClient.connect({port: hub.port, accessKey, password: PASSWORD, sessionId})
    clients.push(client)
    return client
  }

  /** Waits until the hub saw (and ignored or forwarded) everything sent so far: a ping-like marker. */
  async function settle(client: HiveTestClient, marker: string): Promise<void> {
    client.sendBus('recognizer_loop:utterance', {marker})
    await hub.bus.until(() => hub.bus.received.some((message) => message.data.marker === marker))
  }

  it('forwards allowed types with source, destination and the blacklists in the session; drops the rest', async () => {
    const alice = await connect('alice-key', 'alice-session')
    alice.sendBus('mycroft.stop', {marker: 'blocked-type'})
    alice.sendBus('recognizer_loop:utterance', {marker: 'allowed', utterances: ['what time is it']}, {session: {blacklisted_skills: ['own-skill']}})
    const forwarded = await hub.bus.waitFor('recognizer_loop:utterance')
    await settle(alice, 'after-blocked')
    expect(hub.bus.received.some((message) => message.data.marker === 'blocked-type')).to.equal(false)
    const ctx = forwarded.context
    expect(ctx.source).to.be.a('string').and.match(/::/)
    expect(ctx.destination).to.equal('skills')
    expect(ctx.session.session_id).to.equal('alice-session')
    expect(ctx.session.blacklisted_skills).to.have.members(['own-skill', 'skill-weather'])
    expect(ctx.session.blacklisted_intents).to.deep.equal(['skill-timer:StartTimer'])
    expect(hub.logs.some((line) => line.includes('message.blocked') && line.includes('mycroft.stop'))).to.equal(true)
  })

  it('a flood of blocked messages is logged one by one only up to the limit, then counted in one line when the connection closes', async () => {
    const alice = await connect('alice-key')
    const start = hub.logs.length
    for (let n = 0; n < 100; n++) alice.sendBus('mycroft.stop', {n})
    await settle(alice, 'after-flood')
    const blockedLines = () => hub.logs.slice(start).filter((line) => line.includes('"event":"message.blocked"'))
    expect(blockedLines()).to.have.length(20)
    alice.close()
    await alice.waitClosed()
    const deadline = Date.now() + 5000
    while (!hub.logs.some((line) => line.includes('message.blocked_unreported')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    const summary = JSON.parse(hub.logs.find((line) => line.includes('message.blocked_unreported'))!) as {level: string; count: number}
    expect(summary).to.deep.include({level: 'warn', count: 80})
    expect(blockedLines()).to.have.length(20)
  })

  it('sends speak to the audio destination', async () => {
    await store.update(ids.bob!, {allowed_types: ['recognizer_loop:utterance', 'speak']})
    const bob = await connect('bob-key')
    bob.sendBus('speak', {utterance: 'hi', marker: 'speak'})
    await hub.bus.until(() => hub.bus.received.some((message) => message.data.marker === 'speak'))
    expect(hub.bus.received.find((message) => message.data.marker === 'speak')!.context.destination).to.deep.equal(['audio'])
  })

  it('gives a message without a session the connection\'s session id, and rewrites "default" from a non-admin', async () => {
    const bob = await connect('bob-key', 'bob-session')
    bob.sendBus('recognizer_loop:utterance', {marker: 'no-session'})
    bob.sendBus('recognizer_loop:utterance', {marker: 'default-session'}, {session: {session_id: 'default'}})
    await hub.bus.until(() => hub.bus.received.filter((message) => ['no-session', 'default-session'].includes(message.data.marker)).length === 2)
    for (const marker of ['no-session', 'default-session']) {
      expect(hub.bus.received.find((message) => message.data.marker === marker)!.context.session.session_id).to.equal('bob-session')
    }
  })

  it('lets an admin use the default session', async () => {
    const admin = await connect('admin-key', 'default')
    admin.sendBus('recognizer_loop:utterance', {marker: 'admin-default'}, {session: {session_id: 'default'}})
    const message = await hub.bus.until(() => hub.bus.received.some((m) => m.data.marker === 'admin-default')).then(() => hub.bus.received.find((m) => m.data.marker === 'admin-default')!)
    expect(message.context.session.session_id).to.equal('default')
  })

  it('routes replies to the right satellite by peer, and withholds blacklisted types', async () => {
    const alice = await connect('alice-key')
    const bob = await connect('bob-key')
    hub.bus.onMessage = (message) => {
      hub.bus.reply(message, 'speak', {utterance: `for ${message.data.who}`})
      hub.bus.reply(message, 'secret.announcement', {who: message.data.who})
    }
    alice.sendBus('recognizer_loop:utterance', {who: 'alice'})
    bob.sendBus('recognizer_loop:utterance', {who: 'bob'})
    await alice.waitFor((f) => f.message.payload?.data?.utterance === 'for alice')
    await bob.waitFor((f) => f.message.payload?.data?.utterance === 'for bob')
    await bob.waitFor((f) => f.message.payload?.type === 'secret.announcement')
    // Bob's second reply arrived; alice's (blacklisted) must not have, and nobody got the other's.
    await settle(alice, 'routing-settle')
    expect(alice.received().map((m) => m.payload.data.utterance).filter(Boolean)).to.deep.equal(['for alice'])
    expect(bob.received().map((m) => m.payload.data.utterance).filter(Boolean)).to.deep.equal(['for bob'])
    expect(alice.received().some((m) => m.payload.type === 'secret.announcement')).to.equal(false)
  })

  const wrapped = (msgType: string, marker: string) => ({
    msg_type: msgType,
    payload: {msg_type: 'bus', payload: {type: 'recognizer_loop:utterance', data: {marker}, context: {}}, metadata: {}, route: []},
    metadata: {},
    route: [],
  })

  it('broadcast: admins fan out to the other clients; non-admins are refused by default', async () => {
    const admin = await connect('admin-key')
    const bob = await connect('bob-key')
    const alice = await connect('alice-key')
    bob.send(wrapped('broadcast', 'from-bob'))
    admin.send(wrapped('broadcast', 'from-admin'))
    await bob.waitFor((f) => f.message.msg_type === 'broadcast' && f.message.payload.payload.data.marker === 'from-admin')
    await alice.waitFor((f) => f.message.msg_type === 'broadcast' && f.message.payload.payload.data.marker === 'from-admin')
    await settle(bob, 'broadcast-settle')
    expect(admin.received('broadcast')).to.have.length(0)
    expect([...alice.received('broadcast'), ...admin.received('broadcast')].some((m) => m.payload.payload.data.marker === 'from-bob')).to.equal(false)
  })

  it('propagate needs can_propagate; escalate needs can_escalate (and reaches the agent)', async () => {
    const alice = await connect('alice-key') // can_propagate and can_escalate false
    const bob = await connect('bob-key')
    alice.send(wrapped('propagate', 'alice-propagate'))
    alice.send(wrapped('escalate', 'alice-escalate'))
    bob.send(wrapped('propagate', 'bob-propagate'))
    bob.send(wrapped('escalate', 'bob-escalate'))
    await alice.waitFor((f) => f.message.msg_type === 'propagate' && f.message.payload.payload.data.marker === 'bob-propagate')
    await hub.bus.until(() => hub.bus.received.some((m) => m.data.marker === 'bob-escalate'))
    await settle(alice, 'wrap-settle')
    await settle(bob, 'wrap-settle-2')
    expect(bob.received('propagate')).to.have.length(0)
    expect(hub.bus.received.some((m) => m.data.marker === 'alice-escalate')).to.equal(false)
  })

  it('applies a permission change to a live connection without a reconnect', async () => {
    const bob = await connect('bob-key')
    bob.sendBus('mycroft.volume.set', {marker: 'before-allow'})
    await settle(bob, 'perm-1')
    expect(hub.bus.received.some((m) => m.data.marker === 'before-allow')).to.equal(false)
    const record = await store.get(ids.bob!)
    await store.update(ids.bob!, {allowed_types: [...record!.allowed_types, 'mycroft.volume.set']})
    // Bounded: the poller runs every 100 ms here; retry the send for at most 1 s.
    const deadline = Date.now() + 1000
    let n = 0
    while (Date.now() < deadline && !hub.bus.received.some((m) => m.type === 'mycroft.volume.set')) {
      bob.sendBus('mycroft.volume.set', {marker: `after-allow-${n++}`})
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(hub.bus.received.some((m) => m.type === 'mycroft.volume.set')).to.equal(true)
  })

  it('keeps accepting and authenticating satellites while the agent bus is down, then reconnects', async () => {
    const port = hub.bus.port
    await hub.bus.stop()
    const bob = await connect('bob-key')
    bob.sendBus('recognizer_loop:utterance', {marker: 'while-down'})
    const {FakeBus} = await import('../helpers/fake-bus.js')
    hub.bus = await FakeBus.start(port)
    await hub.bus.until(() => hub.bus.connections > 0, 10_000)
    await settle(bob, 'after-agent-back')
  })
})
