/**
 * Redis store (ioredis). Commands fail fast while Redis is down (no offline queue)
 * and surface as 503 service_unavailable; the client keeps reconnecting, so the
 * process recovers by itself when Redis returns.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { serviceUnavailable } from '../../errors.js';
import { assertTtl, type Counter, type RateDecision, type Reservation, type ReserveOptions, type SetOptions, type Store, type ChannelHandlers, type Subscription } from './store.js';

// Fixed-window counter: the expiry is set only when the key is created.
const INCREMENT = `
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {value, ttl}`;

// KEYS: counter, blocker. ARGV: limit, ttlMs, checkBlocker ('1'|'0'), now.
// Returns {allowed, value, ttlMs, blockedMs}.
const RESERVE = `
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[3] == '1' then
  local untilMs = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  if untilMs > tonumber(ARGV[4]) then
    return {0, value, redis.call('PTTL', KEYS[1]), untilMs - tonumber(ARGV[4])}
  end
end
if value >= tonumber(ARGV[1]) then
  return {0, value, redis.call('PTTL', KEYS[1]), 0}
end
value = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {1, value, ttl, 0}`;

// Gives one slot back, never below zero; DECR keeps the expiry.
const RELEASE = `
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
if value > 0 then return redis.call('DECR', KEYS[1]) end
return value`;

// ARGV: expectAbsent ('1'|'0'), expected, next, ttlMs ('0' = no expiry)
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
return 1`;

// GCRA with Redis's own clock, so every API instance agrees on time.
// ARGV: limit, windowMs. Returns {allowed, remaining, resetMs, retryAfterMs}.
const CONSUME_RATE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local candidate = tat + interval
if candidate - now > window then
  return {0, 0, math.ceil(tat - now), math.ceil(candidate - now - window)}
end
redis.call('SET', KEYS[1], tostring(candidate), 'PX', math.max(1, math.ceil(candidate - now)))
return {1, math.floor((window - (candidate - now)) / interval), math.ceil(candidate - now), 0}`;

interface ScriptedRedis extends Redis {
  bastionConsumeRate(key: string, limit: number, windowMs: number): Promise<[number, number, number, number]>;
  bastionIncrement(key: string, by: number, ttlMs: number): Promise<[number, number]>;
  bastionReserve(key: string, blocker: string, limit: number, ttlMs: number, checkBlocker: string, now: number): Promise<[number, number, number, number]>;
  bastionRelease(key: string): Promise<number>;
  bastionCompareAndSet(key: string, expectAbsent: string, expected: string, next: string, ttlMs: number): Promise<number>;
}

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  logger: Logger;
}

/** Where receivers confirm broadcasts (see publish). */
const ACK_CHANNEL = 'broadcast-ack';
/** The longest a broadcast waits for its receivers' confirmations. */
const PUBLISH_CONFIRM_MS = 500;

export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly client: ScriptedRedis;
  readonly prefix: string;
  private lastErrorLog = 0;
  /** The subscriber connection (a connection in subscribe mode runs no other command), opened on the first subscribe. */
  private subscriber: Redis | undefined;
  private readonly channels = new Map<string, Set<ChannelHandlers>>();
  private subscriberLive = false;
  /** Broadcasts waiting for their receivers' confirmations, by nonce. */
  private readonly pendingAcks = new Map<string, { received: number; expected: number; done: () => void }>();

  constructor(options: RedisStoreOptions) {
    this.prefix = options.keyPrefix;
    const client = new Redis(options.url, {
      keyPrefix: options.keyPrefix,
      enableOfflineQueue: false,
      // Commands issued in the same turn of the event loop (many requests' rate-limit
      // checks and counters under load) go out in one write.
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.commandTimeoutMs,
      // Keep trying forever, backing off to 2 s between attempts.
      retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    });
    client.defineCommand('bastionIncrement', { numberOfKeys: 1, lua: INCREMENT });
    client.defineCommand('bastionReserve', { numberOfKeys: 2, lua: RESERVE });
    client.defineCommand('bastionRelease', { numberOfKeys: 1, lua: RELEASE });
    client.defineCommand('bastionCompareAndSet', { numberOfKeys: 1, lua: COMPARE_AND_SET });
    client.defineCommand('bastionConsumeRate', { numberOfKeys: 1, lua: CONSUME_RATE });
    client.on('error', (error: Error) => {
      // A dead Redis emits an error per reconnect attempt: log at most every 10 s.
      const now = Date.now();
      if (now - this.lastErrorLog > 10_000) {
        this.lastErrorLog = now;
        options.logger.warn({ err: { message: error.message } }, 'redis connection error');
      }
    });
    this.client = client as ScriptedRedis;
  }

  async ready(timeoutMs = 5_000): Promise<void> {
    if (this.client.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.client.off('ready', onReady);
          reject(serviceUnavailable('store', new Error('timed out connecting to Redis')));
        }, timeoutMs);
        const onReady = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.client.once('ready', onReady);
      });
    }
    await this.ping();
  }

  get(key: string): Promise<string | null> {
    return this.run(() => this.client.get(key));
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    assertTtl(options.ttlMs);
    const result = await this.run(() => {
      if (options.ttlMs && options.ifAbsent) return this.client.set(key, value, 'PX', options.ttlMs, 'NX');
      if (options.ttlMs) return this.client.set(key, value, 'PX', options.ttlMs);
      if (options.ifAbsent) return this.client.set(key, value, 'NX');
      return this.client.set(key, value);
    });
    return result === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    return (await this.run(() => this.client.del(key))) > 0;
  }

  async increment(key: string, options: { ttlMs: number; by?: number }): Promise<Counter> {
    assertTtl(options.ttlMs);
    const [value, ttlMs] = await this.run(() => this.client.bastionIncrement(key, options.by ?? 1, options.ttlMs));
    return { value: Number(value), ttlMs: Number(ttlMs) };
  }

  async reserve(key: string, options: ReserveOptions): Promise<Reservation> {
    assertTtl(options.ttlMs);
    const blocker = options.blockedUntil;
    const [allowed, value, ttlMs, blockedMs] = await this.run(() => this.client.bastionReserve(key, blocker?.key ?? key, options.limit, options.ttlMs, blocker ? '1' : '0', blocker?.now ?? 0));
    return { allowed: allowed === 1, value: Number(value), ttlMs: Number(ttlMs), blockedMs: Number(blockedMs) };
  }

  async release(key: string): Promise<void> {
    await this.run(() => this.client.bastionRelease(key));
  }

  async compareAndSet(key: string, expected: string | null, next: string, options: { ttlMs?: number } = {}): Promise<boolean> {
    assertTtl(options.ttlMs);
    const swapped = await this.run(() => this.client.bastionCompareAndSet(key, expected === null ? '1' : '0', expected ?? '', next, options.ttlMs ?? 0));
    return swapped === 1;
  }

  async consumeRate(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const [allowed, remaining, resetMs, retryAfterMs] = await this.run(() => this.client.bastionConsumeRate(key, limit, windowMs));
    return { allowed: allowed === 1, remaining: Number(remaining), resetMs: Number(resetMs), retryAfterMs: Number(retryAfterMs) };
  }

  async ttl(key: string): Promise<number | null> {
    const ttl = await this.run(() => this.client.pttl(key));
    if (ttl === -2) return null;
    return ttl;
  }

  /**
   * Publishes and waits until every receiving connection has handed the message to its
   * handlers (each confirms on the ack channel), at most PUBLISH_CONFIRM_MS: a cache
   * invalidation has then taken effect on every live instance before the change answers.
   */
  async publish(channel: string, message: string): Promise<number> {
    this.openSubscriber(); // to receive the confirmations
    const nonce = randomUUID();
    let done!: () => void;
    const confirmed = new Promise<void>((resolve) => (done = resolve));
    const pending = { received: 0, expected: Number.POSITIVE_INFINITY, done };
    this.pendingAcks.set(nonce, pending);
    try {
      // Channels are not keys: ioredis does not prefix them, so the store's prefix is added here.
      const receivers = await this.run(() => this.client.publish(this.prefix + channel, `${nonce} ${message}`));
      pending.expected = receivers;
      if (pending.received >= receivers) done();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([confirmed, new Promise<void>((resolve) => (timer = setTimeout(resolve, PUBLISH_CONFIRM_MS)))]);
      clearTimeout(timer);
      return receivers;
    } finally {
      this.pendingAcks.delete(nonce);
    }
  }

  subscribe(channel: string, handlers: ChannelHandlers): Subscription {
    const subscriber = this.openSubscriber();
    let set = this.channels.get(channel);
    if (!set) {
      this.channels.set(channel, (set = new Set()));
      subscriber.subscribe(this.prefix + channel).catch(() => undefined); // resubscribed on reconnect by ioredis
    }
    set.add(handlers);
    const live = () => this.subscriberLive;
    return {
      get live() {
        return live();
      },
      close: async () => void set.delete(handlers),
    };
  }

  private openSubscriber(): Redis {
    if (this.subscriber) return this.subscriber;
    const subscriber = this.client.duplicate({ keyPrefix: '', enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined, connectionName: `${this.prefix}subscriber`.replace(/[^\w:.-]/g, '_') });
    const resetAll = () => {
      for (const set of this.channels.values()) for (const handlers of set) handlers.reset();
    };
    // Not live until subscribed again after a (re)connect; every drop may have lost messages.
    subscriber.on('close', () => {
      if (this.subscriberLive) resetAll();
      this.subscriberLive = false;
    });
    subscriber.on('ready', () => {
      // autoResubscribe has re-sent SUBSCRIBE; a message published before it took effect is lost: reset once more when it has.
      const channels = [ACK_CHANNEL, ...this.channels.keys()].map((c) => this.prefix + c);
      const confirm = subscriber.subscribe(...channels);
      void confirm.then(
        () => {
          resetAll();
          this.subscriberLive = true;
        },
        () => undefined,
      );
    });
    subscriber.on('error', () => undefined); // the main client logs connection errors
    subscriber.on('message', (channel: string, raw: string) => {
      const name = channel.slice(this.prefix.length);
      if (name === ACK_CHANNEL) {
        const pending = this.pendingAcks.get(raw);
        if (pending && ++pending.received >= pending.expected) pending.done();
        return;
      }
      const space = raw.indexOf(' ');
      const nonce = raw.slice(0, space);
      const message = raw.slice(space + 1);
      const set = this.channels.get(name);
      if (set) for (const handlers of set) handlers.message(message);
      // Handled: tell the publisher (on the command connection; this one only listens).
      this.client.publish(this.prefix + ACK_CHANNEL, nonce).catch(() => undefined);
    });
    subscriber.subscribe(this.prefix + ACK_CHANNEL).catch(() => undefined);
    this.subscriber = subscriber;
    return subscriber;
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      // Script errors (wrong type, bad argument) are bugs, not outages.
      if (error instanceof Error && /^(ERR|WRONGTYPE)/.test(error.message)) throw error;
      throw serviceUnavailable('store', error);
    }
  }
}
