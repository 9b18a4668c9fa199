/**
 * The listener's connection to the agent bus, against a real WebSocket server: messages sent in
 * one turn of the event loop leave together (src/server/agent-bus.ts coalesceWrites), and none is
 * held back or reordered by that.
 */
import {expect} from 'chai'

import {AgentBus, DROPS_REPORTED_PER_WINDOW} from '../../src/server/agent-bus.js'
import {createLogger} from '../../src/server/logger.js'
import {FakeBus} from '../helpers/fake-bus.js'

describe('AgentBus', () => {
  let bus: FakeBus
  let agent: AgentBus

  beforeEach(async () => {
    bus = await FakeBus.start()
    agent = new AgentBus({url: bus.url, logger: createLogger('error', () => {})})
    agent.start()
    await bus.until(() => bus.connections > 0)
    while (!agent.connected) await new Promise((resolve) => setTimeout(resolve, 5))
  })

  afterEach(async () => {
    await agent.stop()
    await bus.stop()
  })

  it('delivers every message sent in one turn, in order, and the messages of the turns after it', async () => {
    for (let n = 0; n < 1000; n++) expect(agent.send({type: 'test', data: {n}, context: {}})).to.equal(true)
    await bus.until(() => bus.received.length >= 1000)
    expect(bus.received.map((message) => message.data.n)).to.deep.equal(Array.from({length: 1000}, (_, n) => n))
    // Later turns, one message each: none waits for a next send to be flushed.
    for (let n = 1000; n < 1003; n++) {
      await new Promise((resolve) => setImmediate(resolve))
      agent.send({type: 'test', data: {n}, context: {}})
      await bus.until(() => bus.received.length === n + 1)
    }
    // From a promise continuation too (the listener sends from async handlers).
    await Promise.resolve().then(() => agent.send({type: 'test', data: {n: 1003}, context: {}}))
    await bus.until(() => bus.received.length === 1004)
    expect(bus.received.at(-1)!.data.n).to.equal(1003)
  })

  it('while the bus is down, logs the first drops one by one and the rest in one line per window, on reconnection and at stop (QA: one line per message)', async () => {
    const lines: string[] = []
    const port = Number(new URL(bus.url).port)
    await agent.stop()
    await bus.stop()
    agent = new AgentBus({url: bus.url, logger: createLogger('info', (line) => lines.push(line)), minDelayMs: 50, maxDelayMs: 50})
    agent.start()
    for (let n = 0; n < 5000; n++) expect(agent.send({type: 'speak', data: {n}, context: {}})).to.equal(false)
    expect(agent.dropped).to.equal(5000)
    const events = () => lines.map((line) => (JSON.parse(line) as {event: string}).event)
    expect(events().filter((event) => event === 'agent.dropped')).to.have.length(DROPS_REPORTED_PER_WINDOW)
    expect(events()).not.to.include('agent.dropped_unreported')
    // The bus comes back where it was: the count is said once, on reconnection.
    bus = await FakeBus.start(port)
    await bus.until(() => bus.connections > 0)
    while (!agent.connected) await new Promise((resolve) => setTimeout(resolve, 5))
    const summaries = lines.map((line) => JSON.parse(line) as {event: string; count?: number}).filter((entry) => entry.event === 'agent.dropped_unreported')
    expect(summaries.map((entry) => entry.count)).to.deep.equal([5000 - DROPS_REPORTED_PER_WINDOW])
    expect(events().indexOf('agent.dropped_unreported')).to.be.lessThan(events().lastIndexOf('agent.connected'))
  })
})

