/**
 * The handshake against the wire contract, with a test client that shares no code with the server:
 * every cipher × encoding, binarize, legacy crypto_key mode, and every way in that must fail.
 */
import zlib from 'node:zlib'

import {expect} from 'chai'

import type {ClientStore} from '../../src/core/store.js'
import {HiveTestClient, type TestCipher, type TestEncoding} from '../helpers/hive-client.js'
import {sqliteStore, startHub, type TestHub} from '../helpers/hub.js'

const CIPHERS: TestCipher[] = ['AES-GCM', 'CHACHA20-POLY1305']
const ENCODINGS: TestEncoding[] = ['JSON-HEX', 'JSON-B64', 'JSON-URLSAFE-B64', 'JSON-B32']

describe('listener handshake', function () {
  let db: Awaited<ReturnType<typeof sqliteStore>>
  let store: ClientStore
  let hub: TestHub
  const clients: HiveTestClient[] = []
  const KEY = '0123456789abcdef0123456789abcdef'
  const PASSWORD = 'fedcba9876543210fedcba9876543210'
  const LEGACY_KEY = 'sixteen-chars-k!'

  before(async () => {
    db = await sqliteStore()
    store = db.store
    await store.add({api_key: KEY, password: PASSWORD, name: 'kitchen'})
    await store.add({api_key: 'legacy-key-0001', password: null, crypto_key: LEGACY_KEY, name: 'old'})
    // An empty password is no password (old records hold "" as often as null).
    await store.add({api_key: 'legacy-key-0002', password: '', crypto_key: LEGACY_KEY, name: 'old, empty password'})
    const revoked = await store.add({api_key: 'soon-revoked-key', password: PASSWORD, name: 'gone'})
    await store.revoke(revoked.client_id)
    hub = await startHub(store, {binarize: true})
  })

  afterEach(() => {
    for (const client of clients.splice(0)) client.close()
  })

  after(async () => {
    await hub?.stop()
    await db?.cleanup()
  })

  const connect = async (options: Parameters<typeof HiveTestClient.connect>[0]) => {
    const client = await HiveTestClient.connect(options)
    clients.push(client)
    return client
  }

  /** A bus message round trip proves both directions use the agreed key, cipher and encoding. */
  async function roundTrip(client: HiveTestClient, marker: string): Promise<void> {
    hub.bus.onMessage = (message) => {
      if (message.data.marker === marker) hub.bus.reply(message, 'speak', {utterance: `re ${marker}`})
    }
    client.sendBus('recognizer_loop:utterance', {utterances: ['hello'], marker})
    const reply = await client.waitFor((f) => f.encrypted && f.message.msg_type === 'bus' && f.message.payload?.data?.utterance === `re ${marker}`)
    expect(reply.message.payload.type).to.equal('speak')
  }

  it('says hello and shake in clear, advertising the password handshake', async () => {
    const client = await connect({port: hub.port, accessKey: KEY, password: PASSWORD})
    expect(client.serverHello!.payload.peer).to.match(/::/)
    expect(client.serverHello!.payload).to.have.keys(['pubkey', 'peer', 'node_id'])
    const shake = client.serverShake!.payload
    expect(shake).to.include({handshake: true, password: true, preshared_key: false, crypto_required: true, max_protocol_version: 1, binarize: true})
    expect(shake.ciphers).to.include.members(CIPHERS)
    expect(shake.encodings).to.include.members(ENCODINGS)
  })

  for (const cipher of CIPHERS) {
    for (const encoding of ENCODINGS) {
      it(`completes the password handshake with ${cipher} + ${encoding} and relays both ways`, async () => {
        const client = await connect({port: hub.port, accessKey: KEY, password: PASSWORD, ciphers: [cipher], encodings: [encoding]})
        expect(client.cipher).to.equal(cipher)
        expect(client.encoding).to.equal(encoding)
        await roundTrip(client, `${cipher}/${encoding}`)
      })
    }
  }

  for (const cipher of CIPHERS) {
    it(`speaks binary frames with ${cipher} when binarize is agreed`, async () => {
      const client = await connect({port: hub.port, accessKey: KEY, password: PASSWORD, ciphers: [cipher], binarize: true})
      expect(client.binary).to.equal(true)
      await roundTrip(client, `bin/${cipher}`)
      const reply = client.frames.find((f) => f.encrypted && f.message.msg_type === 'bus')!
      expect(reply.binary).to.equal(true)
    })
  }

  describe('compressed binary frames (the `compressed` bit: zlib on metadata and payload)', () => {
    it('decodes and relays a compressed message, versioned or not; the reply in binary decodes in the client', async () => {
      const client = await connect({port: hub.port, accessKey: KEY, password: PASSWORD, binarize: true})
      for (const versioned of [false, true]) {
        const marker = `zlib/${versioned}`
        hub.bus.onMessage = (message) => {
          if (message.data.marker === marker) hub.bus.reply(message, 'speak', {utterance: `re ${marker}`, long: 'é'.repeat(300)})
        }
        // What the Python client sends by default (compress=True): even `{}` metadata is a zlib stream.
        const utterance = 'turn the kitchen lights on '.repeat(20)
        client.send({msg_type: 'bus', payload: {type: 'recognizer_loop:utterance', data: {utterances: [utterance], marker}, context: {}}, metadata: {site: 'kitchen'}}, {bits: {compressed: true, versioned}})
        await hub.bus.until(() => hub.bus.received.some((message) => message.data.marker === marker))
        const forwarded = hub.bus.received.find((message) => message.data.marker === marker)!
        expect(forwarded.data.utterances).to.deep.equal([utterance])
        const reply = await client.waitFor((f) => f.encrypted && f.message.payload?.data?.utterance === `re ${marker}`)
        expect(reply.binary).to.equal(true)
        expect(reply.message.msg_type).to.equal('bus')
        expect(reply.message.payload.data.long).to.equal('é'.repeat(300))
      }
      expect(hub.logs.some((line) => line.includes('"frame.bad"'))).to.equal(false)
    })

    it('rejects a bad compressed payload as the protocol says: dropped and counted, five close the connection with 1008', async () => {
      const client = await connect({port: hub.port, accessKey: KEY, password: PASSWORD, binarize: true})
      const bad: Array<NonNullable<Parameters<typeof client.send>[1]>['bits']> = [
        // Not a zlib stream at all.
        {compressed: true, rawPayload: Buffer.from('this is not zlib')},
        // A valid stream cut short.
        {compressed: true, rawPayload: zlib.deflateSync(Buffer.from(JSON.stringify({type: 'x', data: {marker: 'cut'}}))).subarray(0, 12)},
        // Metadata that is not zlib under the compressed bit.
        {compressed: true, rawMetadata: Buffer.from('{"plain":1}')},
        // A zlib bomb: 64 MiB of zeros in a few KiB, beyond the largest frame the hub accepts.
        {compressed: true, rawPayload: zlib.deflateSync(Buffer.alloc(64 * 1024 * 1024))},
      ]
      const bus = {msg_type: 'bus', payload: {type: 'recognizer_loop:utterance', data: {marker: 'never-zlib'}, context: {}}, metadata: {}}
      for (const bits of bad.slice(0, 2)) client.send(bus, {bits})
      // Two bad frames are dropped, not fatal: the connection still relays.
      await roundTrip(client, 'after-bad-zlib')
      for (const bits of bad.slice(2)) client.send(bus, {bits})
      client.send(bus, {bits: bad[0]})
      expect((await client.waitClosed()).code).to.equal(1008)
      expect(hub.bus.received.some((message) => message.data.marker === 'never-zlib' || message.data.marker === 'cut')).to.equal(false)
      const why = hub.logs.filter((line) => line.includes('"frame.bad"')).map((line) => (JSON.parse(line) as {why: string}).why)
      expect(why).to.include('bad compressed payload')
    })
  })

  it('picks the first of the client\'s choices that the server allows', async () => {
    const client = await connect({port: hub.port, accessKey: KEY, password: PASSWORD, ciphers: ['NOPE', 'CHACHA20-POLY1305', 'AES-GCM'], encodings: ['JSON-B91', 'JSON-B32', 'JSON-HEX']})
    expect(client.cipher).to.equal('CHACHA20-POLY1305')
    expect(client.encoding).to.equal('JSON-B32')
  })

  it('accepts a tag carried at the end of the ciphertext (Web Crypto style)', async () => {
    const client = await connect({port: hub.port, accessKey: KEY, password: PASSWORD})
    hub.bus.onMessage = (message) => {
      if (message.data.marker === 'webcrypto') hub.bus.reply(message, 'speak', {utterance: 'ok webcrypto'})
    }
    client.send({msg_type: 'bus', payload: {type: 'recognizer_loop:utterance', data: {marker: 'webcrypto'}, context: {}}}, {tagInCiphertext: true})
    await client.waitFor((f) => f.encrypted && f.message.payload?.data?.utterance === 'ok webcrypto')
  })

  it('serves a legacy client with its pre-shared crypto_key (no shake, no hello)', async () => {
    const client = await connect({port: hub.port, accessKey: 'legacy-key-0001', cryptoKey: LEGACY_KEY})
    expect(client.serverShake!.payload).to.include({preshared_key: true, password: false, handshake: false})
    await roundTrip(client, 'legacy')
    const forwarded = hub.bus.received.find((message) => message.data.marker === 'legacy')!
    expect(forwarded.context.session.session_id).to.be.a('string').and.not.equal('default')
  })

  describe('refusals (close 1008, nothing sent before authentication)', () => {
    async function refused(options: Parameters<typeof HiveTestClient.open>[0]): Promise<HiveTestClient> {
      const client = await HiveTestClient.open(options)
      clients.push(client)
      await client.waitClosed()
      return client
    }

    it('an unknown access key', async () => {
      const client = await refused({port: hub.port, accessKey: 'not-a-known-key'})
      expect(client.closed!.code).to.equal(1008)
      expect(client.frames).to.have.length(0)
    })

    it('a revoked client\'s former key', async () => {
      const client = await refused({port: hub.port, accessKey: 'soon-revoked-key'})
      expect(client.closed!.code).to.equal(1008)
      expect(client.frames).to.have.length(0)
    })

    it('the literal key "revoked"', async () => {
      const client = await refused({port: hub.port, accessKey: 'revoked'})
      expect(client.closed!.code).to.equal(1008)
      expect(client.frames).to.have.length(0)
    })

    for (const [label, suffix] of [
      ['no authorization at all', ''],
      ['an empty authorization', '/?authorization='],
      ['authorization that is not base64', '/?authorization=%%%not-base64!!'],
      ['base64 without a colon', `/?authorization=${Buffer.from('no-colon-here').toString('base64')}`],
      ['base64 of binary garbage', `/?authorization=${Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]).toString('base64')}`],
      ['another query parameter only', '/?foo=bar'],
    ] as const) {
      it(label, async () => {
        const client = await refused({port: hub.port, url: `ws://127.0.0.1:${hub.port}${suffix}`})
        expect(client.closed!.code).to.equal(1008)
        expect(client.frames).to.have.length(0)
      })
    }

    it('a key with + / = arriving raw (not percent-encoded) authenticates', async () => {
      const key = 'a+b/c=d+e/f=0123456789'
      await store.add({api_key: key, password: PASSWORD, name: 'odd-key'})
      const client = await connect({port: hub.port, accessKey: key, password: PASSWORD})
      await roundTrip(client, 'odd-key')
    })

    it('a password handshake with the empty password of a client whose password is "" (its crypto_key is the only way in)', async () => {
      const client = await HiveTestClient.open({port: hub.port, accessKey: 'legacy-key-0002', password: ''})
      clients.push(client)
      await client.handshake().catch(() => {})
      const closed = await client.waitClosed()
      expect(closed.code).to.equal(1008)
      expect(client.serverShake?.payload).to.include({password: false, handshake: false, preshared_key: true})
      expect(client.received().filter((frame) => frame.encrypted)).to.have.length(0)
    })

    it('a wrong password', async () => {
      const client = await HiveTestClient.open({port: hub.port, accessKey: KEY, password: 'wrong-password'})
      clients.push(client)
      await client.handshake().catch(() => {})
      const closed = await client.waitClosed()
      expect(closed.code).to.equal(1008)
      expect(client.received()).to.have.length(0)
    })

    it('no cipher in common', async () => {
      const client = await HiveTestClient.open({port: hub.port, accessKey: KEY, password: PASSWORD, ciphers: ['ROT13']})
      clients.push(client)
      await client.handshake().catch(() => {})
      expect((await client.waitClosed()).code).to.equal(1008)
    })

    it('no encoding in common', async () => {
      const client = await HiveTestClient.open({port: hub.port, accessKey: KEY, password: PASSWORD, encodings: ['JSON-B91']})
      clients.push(client)
      await client.handshake().catch(() => {})
      expect((await client.waitClosed()).code).to.equal(1008)
    })

    it('a legacy frame under the wrong crypto key', async () => {
      const client = await HiveTestClient.open({port: hub.port, accessKey: 'legacy-key-0001', cryptoKey: 'WRONG-sixteen-ch'})
      clients.push(client)
      await client.handshake()
      // The first frame is the proof of the key: the connection closes at once, as for a wrong password.
      client.sendBus('recognizer_loop:utterance', {marker: 'never'})
      expect((await client.waitClosed()).code).to.equal(1008)
      expect(hub.bus.received.some((message) => message.data.marker === 'never')).to.equal(false)
      expect(hub.logs.some((line) => line.includes('"handshake.rejected"') && line.includes('"reason":"wrong crypto key"'))).to.equal(true)
    })

    it('a non-admin announcing the "default" session', async () => {
      const client = await HiveTestClient.open({port: hub.port, accessKey: KEY, password: PASSWORD, sessionId: 'default'})
      clients.push(client)
      await client.handshake()
      expect((await client.waitClosed()).code).to.equal(1008)
    })
  })
})
