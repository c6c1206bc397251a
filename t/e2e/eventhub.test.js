'use strict';
// The Event Hubs-compatible endpoint end to end: the real @azure/event-hubs
// EventHubConsumerClient (TLS to 5671, or with webSocketOptions a WebSocket
// on 443 /$servicebus/websocket; SASL ANONYMOUS, CBS put-token with a policy
// token signed with the key's text, $management READs, one receiver per
// partition with a selector filter) reads what real devices sent with
// azure-iot-device-mqtt.  Run through t/e2e/run.sh.
//
// The connection string is the one `make run` prints:
//   Endpoint=sb://<host>/;SharedAccessKeyName=service;SharedAccessKey=<key>;
//   EntityPath=<hub name>

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { EventHubConsumerClient, earliestEventPosition } =
    require('@azure/event-hubs');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Registry } = require('azure-iothub');
const h = require('./helpers');
// ws as azure-iothub depends on it: the Event Hubs SDK over WebSocket
// (/$servicebus/websocket on 443) needs a WebSocket constructor in Node
const WebSocket = require(require.resolve('ws',
    { paths: [require.resolve('azure-iothub')] }));

const env = process.env;
if (!env.IOTHUB_SERVICE_CONNSTR) {
    throw new Error('IOTHUB_SERVICE_CONNSTR is not set: run t/e2e/run.sh');
}
const HOST = env.IOTHUB_HOST || 'localhost';
const HUB_NAME = env.IOTHUB_HUB_NAME;
const NO_AMQP = env.IOTHUB_AMQP !== '1' && 'this build has no ngx_stream_iothub_amqp_module.so';
const NO_MQTT = env.IOTHUB_MQTT !== '1' && 'this build has no ngx_stream_iothub_mqtt_module.so';
const T = { timeout: 60000, skip: NO_AMQP || NO_MQTT };
const WAIT = 20000;

const service = h.parseConnStr(env.IOTHUB_SERVICE_CONNSTR);
const EH_CONNSTR = `Endpoint=sb://${HOST}/;SharedAccessKeyName=`
    + `${service.SharedAccessKeyName};SharedAccessKey=${service.SharedAccessKey};`
    + `EntityPath=${HUB_NAME}`;

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);
const RUN = `eh-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
const created = [];
const clients = [];

async function newDevice(tag) {
    const id = `${RUN}-${tag}`;
    created.push(id);
    const { responseBody: device } = await registry.create({ deviceId: id });
    const key = device.authentication.symmetricKey.primaryKey;
    const client = DeviceClient.fromConnectionString(
        `HostName=${HOST};DeviceId=${id};SharedAccessKey=${key}`, Mqtt);
    clients.push(client);
    await client.open();
    return { id, client };
}

async function sendAll(dev, bodies) {
    for (const b of bodies) {
        const m = new Message(JSON.stringify(b));
        m.contentType = 'application/json';
        m.contentEncoding = 'utf-8';
        m.properties.add('run', RUN);
        await dev.client.sendEvent(m);
    }
}

function consumer(options) {
    const c = new EventHubConsumerClient('$Default', EH_CONNSTR, options);
    clients.push(c);
    return c;
}

// collects the events of this run until done(events) says so
function collect(c, options, done) {
    return new Promise((resolve, reject) => {
        const events = [];
        let sub = null;
        const timer = setTimeout(() => {
            sub.close().finally(() => reject(new Error(
                `timed out with ${events.length} events`)));
        }, WAIT);
        sub = c.subscribe({
            processEvents: async (batch) => {
                for (const e of batch) {
                    if (e.properties && e.properties.run === RUN) events.push(e);
                }
                if (done(events)) {
                    clearTimeout(timer);
                    await sub.close();
                    resolve(events);
                }
            },
            processError: async (err) => {
                clearTimeout(timer);
                await sub.close();
                reject(err);
            }
        }, { maxBatchSize: 50, maxWaitTimeInSeconds: 1, ...options });
    });
}

describe('Event Hubs-compatible endpoint (@azure/event-hubs)', () => {
    after(async () => {
        for (const c of clients) await c.close().catch(() => {});
        for (const id of created) await registry.delete(id).catch(() => {});
    });

    it('getEventHubProperties and getPartitionIds over $management', T, async () => {
        const c = consumer();
        const props = await c.getEventHubProperties();
        assert.equal(props.name, HUB_NAME);
        assert.deepEqual(props.partitionIds, ['0', '1', '2', '3']);
        assert.deepEqual(await c.getPartitionIds(), props.partitionIds);
        const p = await c.getPartitionProperties('0');
        assert.equal(p.partitionId, '0');
        assert.equal(p.eventHubName, HUB_NAME);
        assert.equal(typeof p.isEmpty, 'boolean');
    });

    it('subscribe from the earliest event: each device in order, with its annotations', T, async () => {
        const a = await newDevice('a');
        const b = await newDevice('b');
        await sendAll(a, [0, 1, 2, 3, 4].map((n) => ({ dev: 'a', n })));
        await sendAll(b, [0, 1, 2].map((n) => ({ dev: 'b', n })));
        const events = await collect(consumer(),
            { startPosition: earliestEventPosition }, (ev) => ev.length >= 8);
        const of = (id) => events.filter((e) =>
            e.systemProperties['iothub-connection-device-id'] === id);
        assert.deepEqual(of(a.id).map((e) => e.body.n), [0, 1, 2, 3, 4]);
        assert.deepEqual(of(b.id).map((e) => e.body.n), [0, 1, 2]);
        for (const e of events) {
            assert.equal(typeof e.sequenceNumber, 'number');
            assert.equal(typeof e.offset, 'string');
            assert.ok(e.enqueuedTimeUtc instanceof Date);
            assert.equal(e.systemProperties['iothub-message-source'], 'Telemetry');
            assert.equal(e.contentType, 'application/json');
        }
        // dense per partition: a device's events follow each other
        const seqs = of(a.id).map((e) => e.sequenceNumber);
        assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i));
    });

    it('subscribe from an enqueued time and from a sequence number', T, async () => {
        const d = await newDevice('t');
        await sendAll(d, [{ phase: 'old' }]);
        const all = await collect(consumer(),
            { startPosition: earliestEventPosition },
            (ev) => ev.some((e) => e.systemProperties['iothub-connection-device-id'] === d.id));
        const old = all.find((e) => e.systemProperties['iothub-connection-device-id'] === d.id);
        // a later millisecond than the old event's
        await new Promise((r) => setTimeout(r, 5));
        await sendAll(d, [{ phase: 'new' }]);
        const mine = (ev) => ev.filter((e) =>
            e.systemProperties['iothub-connection-device-id'] === d.id);
        const byTime = await collect(consumer(),
            { startPosition: { enqueuedOn: old.enqueuedTimeUtc } },
            (ev) => mine(ev).length >= 1);
        assert.deepEqual(mine(byTime).map((e) => e.body.phase), ['new']);
        const partition = String(partitionOf(d.id));
        const bySeq = await collect(consumer(),
            { startPosition: { [partition]: { sequenceNumber: old.sequenceNumber } } },
            (ev) => mine(ev).length >= 1);
        assert.deepEqual(mine(bySeq).map((e) => e.body.phase), ['new']);
    });

    it('resume from a checkpointed offset: after it, or from it with isInclusive', T, async () => {
        const d = await newDevice('o');
        await sendAll(d, [{ phase: 'a' }, { phase: 'b' }, { phase: 'c' }]);
        const mine = (ev) => ev.filter((e) =>
            e.systemProperties['iothub-connection-device-id'] === d.id);
        const all = await collect(consumer(),
            { startPosition: earliestEventPosition },
            (ev) => mine(ev).length >= 3);
        const first = mine(all)[0];
        assert.equal(first.body.phase, 'a');
        assert.equal(typeof first.offset, 'string');
        // what a checkpoint store keeps is the offset, a string
        const partition = String(partitionOf(d.id));
        const after = await collect(consumer(),
            { startPosition: { [partition]: { offset: first.offset } } },
            (ev) => mine(ev).length >= 2);
        assert.deepEqual(mine(after).map((e) => e.body.phase), ['b', 'c']);
        const from = await collect(consumer(),
            { startPosition: { [partition]: { offset: first.offset, isInclusive: true } } },
            (ev) => mine(ev).length >= 3);
        assert.deepEqual(mine(from).map((e) => e.body.phase), ['a', 'b', 'c']);
    });

    it('over WebSocket (/$servicebus/websocket, AMQPWSB10): properties and events', T, async () => {
        const c = consumer({ webSocketOptions: { webSocket: WebSocket } });
        const props = await c.getEventHubProperties();
        assert.equal(props.name, HUB_NAME);
        assert.deepEqual(props.partitionIds, ['0', '1', '2', '3']);
        const d = await newDevice('ws');
        await sendAll(d, [0, 1, 2].map((n) => ({ dev: 'ws', n })));
        const mine = (ev) => ev.filter((e) =>
            e.systemProperties['iothub-connection-device-id'] === d.id);
        const events = await collect(c, { startPosition: earliestEventPosition },
            (ev) => mine(ev).length >= 3);
        assert.deepEqual(mine(events).map((e) => e.body.n), [0, 1, 2]);
    });

    it('ownerLevel: a higher owner level takes the partition over, the lower one is refused', T, async () => {
        const d = await newDevice('owner');
        const partition = String(partitionOf(d.id));
        await sendAll(d, [{ n: 0 }]);
        const first = watch(consumer(), d.id, partition, { ownerLevel: 1 });
        await waitFor(() => first.bodies().includes(0), 'the first owner reads');
        const second = watch(consumer(), d.id, partition, { ownerLevel: 2 });
        await waitFor(() => first.closed.length > 0, 'the first owner is closed');
        assert.equal(first.errors[0] && first.errors[0].code, 'ReceiverDisconnectedError');
        assert.match(first.errors[0].message, /higher epoch of '2'/);
        assert.deepEqual(first.closed, ['OwnershipLost']);
        await waitFor(() => second.bodies().includes(0), 'the second owner reads');
        await sendAll(d, [{ n: 1 }]);
        await waitFor(() => second.bodies().includes(1), 'the second owner gets what follows');
        assert.ok(!first.bodies().includes(1));
        // a lower owner level is refused while the second holds the partition
        const third = watch(consumer(), d.id, partition, { ownerLevel: 1 });
        await waitFor(() => third.closed.length > 0, 'the lower owner level is refused');
        assert.equal(third.errors[0] && third.errors[0].code, 'ReceiverDisconnectedError');
        assert.deepEqual(third.closed, ['OwnershipLost']);
        assert.equal(second.errors.length, 0);
        await second.sub.close();
    });
});

// one partition's subscription from the earliest event, what a device
// sent in this run there, its errors and its close reasons
function watch(c, id, partition, options) {
    const w = { events: [], errors: [], closed: [] };
    w.bodies = () => w.events.map((e) => e.body.n);
    w.sub = c.subscribe(partition, {
        processEvents: async (batch) => {
            for (const e of batch) {
                if (e.properties && e.properties.run === RUN
                    && e.systemProperties['iothub-connection-device-id'] === id) {
                    w.events.push(e);
                }
            }
        },
        processError: async (err) => { w.errors.push(err); },
        processClose: async (reason) => { w.closed.push(reason); }
    }, { maxBatchSize: 50, maxWaitTimeInSeconds: 1,
         startPosition: earliestEventPosition, ...options });
    return w;
}

async function waitFor(cond, what) {
    const end = Date.now() + WAIT;
    while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

// the partition of a device: FNV-1a of its id mod 4 (docs/redis-schema.md)
function partitionOf(id) {
    let h32 = 2166136261;
    for (const c of Buffer.from(id)) {
        h32 ^= c;
        h32 = Math.imul(h32, 16777619) >>> 0;
    }
    return h32 % 4;
}
