'use strict';
// File upload end to end: a device of azure-iot-device (Mqtt transport,
// and azure-iot-device-http's Http) calls uploadToBlob, which asks the hub for a blob's SAS URI over HTTPS
// (POST /devices/{id}/files), uploads with @azure/storage-blob to the blob
// store this nginx serves (location /blobs/ of scripts/hub-conf.sh: Put
// Block and Put Block List, the SDK's uploadStream) and completes the
// upload (POST /devices/{id}/files/notifications/{correlationId}); the
// azure-iothub service Client's file notification receiver (AMQP,
// /messages/serviceBound/filenotifications) then gets the notification,
// and the blob read back with the SAS equals what was uploaded.  Run
// through t/e2e/run.sh.

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Readable } = require('node:stream');
const { Client: DeviceClient } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Http } = require('azure-iot-device-http');
const { Client: ServiceClient, Registry } = require('azure-iothub');
const { BlockBlobClient } = require('@azure/storage-blob');
const h = require('./helpers');

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const HOST = env.IOTHUB_HOST || 'localhost';
const CA = env.IOTHUB_CA ? fs.readFileSync(env.IOTHUB_CA, 'utf8') : undefined;
const SKIP = (env.IOTHUB_AMQP !== '1' || env.IOTHUB_MQTT !== '1')
    && 'this build lacks the MQTT or the AMQP module';
const T = { timeout: 60000, skip: SKIP };
const WAIT = 20000;

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);

const RUN = `up-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
const created = new Set();
const open = [];

async function newDevice() {
    const id = `${RUN}-${created.size + 1}`;
    created.add(id);
    const { responseBody: device } = await registry.create({ deviceId: id });
    const key = device.authentication.symmetricKey.primaryKey;
    return { id, connStr: `HostName=${HOST};DeviceId=${id};SharedAccessKey=${key}` };
}

async function device(connStr, transport = Mqtt) {
    const client = DeviceClient.fromConnectionString(connStr, transport);
    client.on('error', () => {});
    open.push(client);
    // Http opens nothing and trusts the CA through NODE_EXTRA_CA_CERTS
    // (its setOptions never calls back: as t/e2e/device-http.test.js)
    if (transport === Http) {
        return client;
    }
    await h.within(WAIT, 'device options', client.setOptions({ ca: CA }));
    await h.within(WAIT, 'device open', client.open());
    return client;
}

// the notifications of the service's receiver, one at a time
async function notifications() {
    const svc = ServiceClient.fromConnectionString(env.IOTHUB_SERVICE_CONNSTR);
    open.push(svc);
    await h.within(WAIT, 'service open', svc.open());
    const { result: receiver } = await h.within(WAIT, 'file notification receiver',
        svc.getFileNotificationReceiver());
    const got = [];
    const waiting = [];
    receiver.on('message', (m) => (waiting.length ? waiting.shift()(m) : got.push(m)));
    return {
        receiver,
        next: (what) => h.within(WAIT, what, got.length
            ? Promise.resolve(got.shift()) : new Promise((resolve) => waiting.push(resolve))),
    };
}

afterEach(async () => {
    const clients = open.splice(0);
    await Promise.all(clients.map((c) => h.within(5000, 'close', c.close()).catch(() => {})));
});

after(async () => {
    for (const id of created) {
        await registry.delete(id).catch(() => {});
    }
});

describe('file upload', { skip: SKIP }, () => {
    it('uploadToBlob: the notification comes to the service, the blob reads back the same', T, async () => {
        const { id, connStr } = await newDevice();
        const { receiver, next } = await notifications();
        const client = await device(connStr);

        // over one 4 MB block of the SDK: Put Block twice, then the list
        const content = crypto.randomBytes(4 * 1024 * 1024 + 4321);
        const name = `e2e/${crypto.randomBytes(4).toString('hex')}.bin`;
        await h.within(WAIT, 'uploadToBlob',
            client.uploadToBlob(name, Readable.from([content]), content.length));

        let n;
        for (;;) {
            const m = await next('file notification');
            assert.equal(m.contentType,
                'application/vnd.microsoft.iothub.filenotification.json');
            n = JSON.parse(m.data.toString());
            await h.within(WAIT, 'complete', receiver.complete(m));
            if (n.deviceId === id) {
                break;
            }
        }
        assert.equal(n.blobName, `${id}/${name}`);
        assert.equal(n.blobSizeInBytes, content.length);
        assert.equal(typeof n.blobUri, 'string');
        assert.ok(n.blobUri.endsWith(`/${id}/${name}`), n.blobUri);
        assert.match(n.lastUpdatedTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
        assert.match(n.enqueuedTimeUtc, /^\d{4}-\d\d-\d\dT/);

        // read back with a SAS of the hub (a new upload's names a new
        // blob: the same blob's is asked through the device API)
        const sas = await h.within(WAIT, 'blob SAS',
            client.getBlobSharedAccessSignature(name));
        const blob = new BlockBlobClient(
            `https://${sas.hostName}/${sas.containerName}/${sas.blobName}${sas.sasToken}`);
        const back = await h.within(WAIT, 'download', blob.downloadToBuffer());
        assert.ok(back.equals(content), 'the blob is what was uploaded');
        const props = await blob.getProperties();
        assert.equal(props.contentLength, content.length);
        assert.equal(props.blobType, 'BlockBlob');
        await h.within(WAIT, 'notify failure',
            client.notifyBlobUploadStatus(sas.correlationId, false, 500, 'read only'));
    });

    it('uploadToBlob over the Http transport, one block', T, async () => {
        const { id, connStr } = await newDevice();
        const { receiver, next } = await notifications();
        const client = await device(connStr, Http);
        const content = Buffer.from(`small file of ${id}\n`);
        await h.within(WAIT, 'uploadToBlob',
            client.uploadToBlob('small.txt', Readable.from([content]), content.length));
        let n;
        do {
            const m = await next('file notification');
            n = JSON.parse(m.data.toString());
            await h.within(WAIT, 'complete', receiver.complete(m));
        } while (n.deviceId !== id);
        assert.equal(n.blobName, `${id}/small.txt`);
        assert.equal(n.blobSizeInBytes, content.length);
    });

    it('a SAS for another blob is refused by the store with AuthenticationFailed', T, async () => {
        const { connStr } = await newDevice();
        const client = await device(connStr);
        const sas = await h.within(WAIT, 'blob SAS', client.getBlobSharedAccessSignature('mine.txt'));
        const other = new BlockBlobClient(
            `https://${sas.hostName}/${sas.containerName}/${sas.blobName}.other${sas.sasToken}`,
            undefined, { retryOptions: { maxTries: 1 } });
        await assert.rejects(other.upload('x', 1), (e) => {
            assert.equal(e.statusCode, 403);
            assert.equal(e.code, 'AuthenticationFailed');
            return true;
        });
        await h.within(WAIT, 'notify failure',
            client.notifyBlobUploadStatus(sas.correlationId, false, 403, 'refused'));
    });
});
