/**
 * Deterministic, varied client records for migration and round-trip tests: unicode names, empty
 * and long lists, nulls, tombstones, admins, nested metadata, odd last_seen values.
 */
import {buildClient, type ClientRecord, DEFAULT_ALLOWED_TYPES, REVOKED_API_KEY} from '../../src/core/client.js'

const NAMES = ['kitchen', 'Küche', '台所', 'مطبخ', '🐝 hive', 'living room', "o'brien", 'tab\u2003space', '']

export function variedClients(count: number, firstId = 1): ClientRecord[] {
  return Array.from({length: count}, (_, index) => {
    const id = firstId + index
    const revoked = index % 10 === 7
    const record = buildClient(id, {
      api_key: revoked ? REVOKED_API_KEY : `key-${id}-${(id * 7919).toString(16)}`,
      name: `${NAMES[index % NAMES.length]} ${id}`,
      description: index % 3 === 0 ? '' : `description ${id} ✓`,
      is_admin: index % 11 === 0,
      last_seen: index % 4 === 0 ? -1 : 1_700_000_000 + index + (index % 2 === 0 ? 0.25 : 0),
      intent_blacklist: index % 5 === 0 ? [] : [`skill-${index % 3}.openvoiceos:intent-${index}`],
      skill_blacklist: index % 6 === 0 ? [`skill-${index}`, 'skill-weather.openvoiceos'] : [],
      message_blacklist: index % 7 === 0 ? ['speak'] : [],
      allowed_types: index % 8 === 0 ? [] : index % 8 === 1 ? ['recognizer_loop:utterance'] : [...DEFAULT_ALLOWED_TYPES],
      crypto_key: revoked || index % 2 === 0 ? null : `${(id % 1e16).toString().padStart(16, '0')}`,
      password: revoked || index % 9 === 0 ? null : `pw-${id}`,
      can_broadcast: index % 2 === 0,
      can_escalate: index % 3 !== 0,
      can_propagate: index % 4 !== 0,
      metadata: index % 5 === 0 ? {} : {room: NAMES[index % NAMES.length], nested: {level: index, tags: ['a', 'b']}, flag: index % 2 === 0},
    })
    return record
  })
}
