'use strict';
// The twin and direct methods over AMQP end to end: the real azure-iot-device
// Client and ModuleClient with the azure-iot-device-amqp transport against the
// hub, the azure-iothub Registry and service Client on the other side.  Run
// through t/e2e/run.sh.
//
// What the SDK sends (azure-iot-device-amqp 1.14, dist/amqp_twin_client.js and
// dist/amqp_device_method_client.js; reference/amqp.md 4, 7, 8):
//   twin     a sender and a receiver on /devices/<id>[/modules/<m>]/twin, link
//            property com.microsoft:channel-correlation-id "twin:<uuid>",
//            snd-settle-mode settled; requests pre-settled with a string
//            correlation-id and the annotations operation (GET, PATCH, PUT,
//            DELETE) and resource; answers matched by correlation-id, status
//            from the 'status' annotation, the body JSON-parsed; a message
//            without correlation-id is a desired patch
//   methods  a sender and a receiver on .../methods/devicebound (on
//            onDeviceMethod), requests with IoThub-methodname, answers with
//            the request's correlation-id and IoThub-status

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { promisify } = require('node:util');
const { Client: DeviceClient, ModuleClient, Message } = require('azure-iot-device');
const { Amqp } = require('azure-iot-device-amqp');
const { Registry, Client: ServiceClient } = require('azure-iothub');
const h = require('./helpers');

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const HOST = env.IOTHUB_HOST || 'localhost';
const CA = env.IOTHUB_CA ? fs.readFileSync(env.IOTHUB_CA, 'utf8') : undefined;
const NO_AMQP = env.IOTHUB_AMQP !== '1' && 'this build has no ngx_stream_iothub_amqp_module.so';
const T = { timeout: 30000, skip: NO_AMQP };
const WAIT = 10000;

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);
const service = ServiceClient.fromConnectionString(env.IOTHUB_SERVICE_CONNSTR || env.IOTHUB_OWNER_CONNSTR);

const RUN = `amqptw-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
let seq = 0;
const created = new Set();

async function newDevice(tag) {
    const id = `${RUN}-${tag}-${++seq}`;
    created.add(id);
    const { responseBody: device } = await registry.create({ deviceId: id });
    const key = device.authentication.symmetricKey.primaryKey;
    return { id, connStr: `HostName=${HOST};DeviceId=${id};SharedAccessKey=${key}` };
}

async function newModule(tag) {
    const { id } = await newDevice(tag);
    const moduleId = 'mod-1';
    const { responseBody: mod } = await registry.addModule({ deviceId: id, moduleId });
    return {
        id, moduleId,
        connStr: `HostName=${HOST};DeviceId=${id};ModuleId=${moduleId};` +
            `SharedAccessKey=${mod.authentication.symmetricKey.primaryKey}`,
    };
}

const open = new Set();

async function amqpClient(connStr, Ctor = DeviceClient) {
    const client = Ctor.fromConnectionString(connStr, Amqp);
    client.errors = [];
    client.on('error', (e) => client.errors.push(e));
    open.add(client);
    await client.setOptions({ ca: CA });
    await h.within(WAIT, 'AMQP open', client.open());
    return client;
}

afterEach(async () => {
    const clients = [...open];
    open.clear();
    await Promise.all(clients.map((c) => h.within(5000, 'close', c.close()).catch(() => {})));
});

after(async () => {
    for (const id of created) {
        await registry.delete(id).catch(() => {});
    }
});

function getTwin(client) {
    return h.within(WAIT, 'twin GET', client.getTwin());
}

function reportedUpdate(twin, patch) {
    return h.within(WAIT, 'twin PATCH reported', promisify(twin.properties.reported.update)(patch));
}

// the SDK attaches the method links when onDeviceMethod is called, without
// telling when they are up: the call waits for them (connectTimeoutInSeconds)
async function invoke(deviceId, moduleId, params) {
    params = { connectTimeoutInSeconds: 10, responseTimeoutInSeconds: 10, ...params };
    const p = moduleId ? service.invokeDeviceMethod(deviceId, moduleId, params)
        : service.invokeDeviceMethod(deviceId, params);
    const { result } = await h.within(25000, 'invokeDeviceMethod', p);
    return result;
}

describe('amqp twin', { skip: NO_AMQP }, () => {
    it('getTwin: the desired properties the service set, and reported', T, async () => {
        const { id, connStr } = await newDevice('get');
        await registry.updateTwin(id, { properties: { desired: { interval: 30, nested: { a: 1 } } } }, '*');
        const client = await amqpClient(connStr);
        const twin = await getTwin(client);
        const { desired, reported } = twin.properties;
        assert.equal(desired.interval, 30);
        assert.deepEqual(desired.nested, { a: 1 });
        assert.ok(desired.$version >= 2, `desired $version ${desired.$version}`);
        assert.equal(desired.$metadata, undefined);
        assert.equal(typeof reported.$version, 'number');
        assert.deepEqual(client.errors, []);
    });

    it('reported update: the service reads it; a bad name is refused, the links stay', T, async (t) => {
        const { id, connStr } = await newDevice('rep');
        const client = await amqpClient(connStr);
        const twin = await getTwin(client);
        await reportedUpdate(twin, { fw: '1.0', obj: { a: 1, b: 'two' } });
        const { responseBody: st } = await registry.getTwin(id);
        assert.equal(st.properties.reported.fw, '1.0');
        assert.deepEqual(st.properties.reported.obj, { a: 1, b: 'two' });

        await assert.rejects(reportedUpdate(twin, { $bad: 1 }), (err) => {
            // the transport wraps the twin client's FormatError in a plain
            // Error (amqp.js handleResult); our message is in it
            assert.match(err.message, /invalid character/, `${err.name}: ${err.message}`);
            t.diagnostic(`refused: ${err.message}`);
            return true;
        });
        await reportedUpdate(twin, { fw: null });
        const { responseBody: st2 } = await registry.getTwin(id);
        assert.equal(st2.properties.reported.fw, undefined);
    });

    it("desired: Registry.updateTwin reaches the device as 'properties.desired'", T, async () => {
        const { id, connStr } = await newDevice('des');
        const client = await amqpClient(connStr);
        const twin = await getTwin(client);
        // the listener sends the PUT; this (SDK-internal) call returns once
        // it is answered
        twin.on('properties.desired', () => {});
        await h.within(WAIT, 'PUT desired', promisify(twin.enableTwinDesiredPropertiesUpdates.bind(twin))());
        const got = h.nextEvent(twin, 'properties.desired', (p) => p && p.setting === 'x');
        const { responseBody: st } = await registry.updateTwin(id, { properties: { desired: { setting: 'x' } } }, '*');
        const [patch] = await h.within(WAIT, "the device's 'properties.desired' event", got);
        assert.equal(patch.$version, st.properties.desired.$version);
        assert.equal(twin.properties.desired.setting, 'x');
        assert.deepEqual(client.errors, []);
    });

    it('module twin: get and reported update', T, async () => {
        const { id, moduleId, connStr } = await newModule('modtwin');
        await registry.updateModuleTwin(id, moduleId, { properties: { desired: { m: 1 } } }, '*');
        const client = await amqpClient(connStr, ModuleClient);
        const twin = await getTwin(client);
        assert.equal(twin.properties.desired.m, 1);
        await reportedUpdate(twin, { mfw: '2' });
        const { responseBody: st } = await registry.getModuleTwin(id, moduleId);
        assert.equal(st.properties.reported.mfw, '2');
        const { responseBody: devTwin } = await registry.getTwin(id);
        assert.equal(devTwin.properties.reported.mfw, undefined, 'the device twin is separate');
    });
});

describe('amqp module inputs', { skip: NO_AMQP }, () => {
    it('an inputMessage listener attaches the input link (nothing is routed to it); outputs are sent', T, async () => {
        const { id, moduleId, connStr } = await newModule('modin');
        const client = await amqpClient(connStr, ModuleClient);
        const inputs = [];
        client.on('inputMessage', (name, msg) => inputs.push([name, msg]));
        // a refused input link would come as an 'error' event
        await new Promise((resolve) => setTimeout(resolve, 2000));
        assert.deepEqual(client.errors, []);
        assert.deepEqual(inputs, []);
        const tag = crypto.randomUUID();
        const msg = new Message('to output');
        msg.properties.add('tag', tag);
        await h.within(WAIT, 'output accepted', client.sendOutputEvent('out1', msg));
        const [e] = await h.findD2C((x) => x.fields['u:tag'] === tag);
        assert.ok(e, `no stream entry with u:tag=${tag}`);
        assert.equal(e.fields['a:iothub-connection-device-id'], id);
        assert.equal(e.fields['a:iothub-connection-module-id'], moduleId);
    });
});

describe('amqp methods', { skip: NO_AMQP }, () => {
    it('invokeDeviceMethod round trip, the device chooses the status', T, async () => {
        const { id, connStr } = await newDevice('meth');
        const client = await amqpClient(connStr);
        const requests = [];
        client.onDeviceMethod('echo', (req, res) => {
            requests.push({ methodName: req.methodName, payload: req.payload });
            res.send(201, { echoed: req.payload }).catch(() => {});
        });
        const result = await invoke(id, null, { methodName: 'echo', payload: { n: 42 } });
        assert.deepEqual(result, { status: 201, payload: { echoed: { n: 42 } } });
        assert.deepEqual(requests, [{ methodName: 'echo', payload: { n: 42 } }]);

        for (const payload of [null, 'text', 0, [1, 'two', null]]) {
            requests.length = 0;
            const r = await invoke(id, null, { methodName: 'echo', payload });
            assert.deepEqual(r, { status: 201, payload: { echoed: payload } }, `payload ${JSON.stringify(payload)}`);
        }
    });

    it('device without method links -> 404 DeviceNotOnline', T, async () => {
        const { id, connStr } = await newDevice('methoff');
        await amqpClient(connStr);
        await assert.rejects(service.invokeDeviceMethod(id, { methodName: 'x', responseTimeoutInSeconds: 5 }),
            (err) => {
                assert.equal(err.response && err.response.statusCode, 404, `${err.name}: ${err.message}`);
                assert.match(err.responseBody, /DeviceNotOnline|404103/);
                return true;
            });
    });

    it('module method via ModuleClient.onMethod', T, async () => {
        const { id, moduleId, connStr } = await newModule('modmeth');
        const client = await amqpClient(connStr, ModuleClient);
        client.onMethod('ping', (req, res) => { res.send(200, { pong: req.payload }).catch(() => {}); });
        const result = await invoke(id, moduleId, { methodName: 'ping', payload: 7 });
        assert.deepEqual(result, { status: 200, payload: { pong: 7 } });
    });
});
