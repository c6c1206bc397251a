'use strict';
// Import/export jobs end to end (rest.md 11): azure-iothub's Registry
// exportDevicesToBlob, importDevicesFromBlob, getJob, listJobs and
// cancelJob against the blob store this nginx serves (location /blobs/ of
// scripts/hub-conf.sh).  The container SAS URIs are made by
// @azure/storage-blob with the store's account key (IOTHUB_STORAGE_KEY,
// set by t/e2e/run.sh); the blobs are read and written with its
// BlockBlobClient.  Exports carry the twins (tags, desired, and reported
// as an azure-iot-device-mqtt device sent them) and the modules; an
// import of them restores a deleted device's twin.  Run through
// t/e2e/run.sh.

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Client: DeviceClient } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Registry } = require('azure-iothub');
const {
    BlockBlobClient, StorageSharedKeyCredential, ContainerSASPermissions,
    generateBlobSASQueryParameters,
} = require('@azure/storage-blob');
const h = require('./helpers');

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const SKIP = !env.IOTHUB_STORAGE_KEY && 'run.sh did not give the blob store key';
const NO_MQTT = env.IOTHUB_MQTT === '0' && 'this build has no ngx_stream_iothub_mqtt_module.so';
const HOST = env.IOTHUB_HOST || 'localhost';
const CA = env.IOTHUB_CA ? fs.readFileSync(env.IOTHUB_CA, 'utf8') : undefined;
const T = { timeout: 60000 };
const WAIT = 20000;
const ENDPOINT = env.IOTHUB_STORAGE_ENDPOINT;
// hub-conf.sh's storage_connection_string: AccountName=blobs
const ACCOUNT = 'blobs';

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);

const RUN = `ie-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
const created = new Set();

// a container's SAS URI, signed as the store's SAS version 2019-02-02
function containerUri(container, permissions = 'racwl') {
    const sas = generateBlobSASQueryParameters({
        containerName: container,
        permissions: ContainerSASPermissions.parse(permissions),
        expiresOn: new Date(Date.now() + 3600 * 1000),
        version: '2019-02-02',
    }, new StorageSharedKeyCredential(ACCOUNT, env.IOTHUB_STORAGE_KEY)).toString();
    return `${ENDPOINT}/${container}?${sas}`;
}

function blob(container, name) {
    const [base, sas] = containerUri(container).split('?');
    return new BlockBlobClient(`${base}/${name}?${sas}`);
}

async function readLines(container, name) {
    const buf = await h.within(WAIT, `download ${name}`, blob(container, name).downloadToBuffer());
    return buf.toString().split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
}

// the job once it ended
async function ended(jobId) {
    for (let i = 0; i < 200; i++) {
        const job = await registry.getJob(jobId);
        if (!['enqueued', 'running'].includes(job.status)) {
            return job;
        }
        await h.sleep(100);
    }
    throw new Error(`job ${jobId} did not end`);
}

async function newDevice(n) {
    const id = `${RUN}-${n}`;
    created.add(id);
    const { responseBody: device } = await registry.create({ deviceId: id });
    return device;
}

after(async () => {
    for (const id of created) {
        await registry.delete(id).catch(() => {});
    }
});

describe('import/export jobs', { skip: SKIP }, () => {
    it('exportDevicesToBlob: every identity as a JSON line, with or without keys', T, async () => {
        const devices = [await newDevice(1), await newDevice(2), await newDevice(3)];
        const container = `exp-${crypto.randomBytes(4).toString('hex')}`;

        const job = await registry.exportDevicesToBlob(
            containerUri(container), false);
        assert.equal(job.type, 'export');
        assert.match(job.jobId, /^[0-9a-f-]{36}$/);
        const done = await ended(job.jobId);
        assert.equal(done.status, 'completed', done.failureReason);
        assert.equal(done.progress, 100);

        const lines = await readLines(container, 'devices.txt');
        for (const d of devices) {
            const l = lines.find((x) => x.id === d.deviceId);
            assert.ok(l, `${d.deviceId} exported`);
            assert.equal(l.authentication.symmetricKey.primaryKey,
                d.authentication.symmetricKey.primaryKey);
            assert.equal(l.eTag, d.etag);
            assert.equal(l.status, 'enabled');
        }

        const job2 = await registry.exportDevicesToBlob(
            containerUri(container), true);
        assert.equal((await ended(job2.jobId)).status, 'completed');
        const nokeys = await readLines(container, 'devices.txt');
        const l = nokeys.find((x) => x.id === devices[0].deviceId);
        assert.equal(l.authentication.symmetricKey.primaryKey, null);

        const { responseBody: jobs } = await registry.listJobs();
        assert.ok(jobs.some((j) => j.jobId === job.jobId), 'listJobs has the job');
        const cancelled = await registry.cancelJob(job2.jobId);
        assert.equal(cancelled.status, 'completed', 'an ended job stays as it was');
    });

    it('importDevicesFromBlob: create, update, delete; errors in importErrors.log', T, async () => {
        const d1 = await newDevice(11);
        const d2 = await newDevice(12);
        const fresh = `${RUN}-13`;
        created.add(fresh);
        const input = `imp-${crypto.randomBytes(4).toString('hex')}`;
        const output = `out-${crypto.randomBytes(4).toString('hex')}`;
        const text = [
            { id: fresh, importMode: 'create' },
            { id: d1.deviceId, importMode: 'Update', status: 'disabled' },
            { id: d2.deviceId, importMode: 'Delete' },
            { id: d1.deviceId, importMode: 'create' },
        ].map((x) => JSON.stringify(x)).join('\n') + '\n';
        await h.within(WAIT, 'upload', blob(input, 'devices.txt').upload(text, text.length));

        const job = await registry.importDevicesFromBlob(
            containerUri(input, 'rl'), containerUri(output));
        assert.equal(job.type, 'import');
        const done = await ended(job.jobId);
        assert.equal(done.status, 'completed', done.failureReason);

        const { responseBody: created3 } = await registry.get(fresh);
        assert.equal(created3.deviceId, fresh);
        assert.ok(created3.authentication.symmetricKey.primaryKey, 'keys made');
        assert.equal((await registry.get(d1.deviceId)).responseBody.status, 'disabled');
        await assert.rejects(registry.get(d2.deviceId), (e) => e.constructor.name === 'DeviceNotFoundError');

        const errors = await readLines(output, 'importErrors.log');
        assert.equal(errors.length, 1);
        assert.equal(errors[0].deviceId, d1.deviceId);
        assert.equal(errors[0].errorCode, 'DeviceAlreadyExists');
    });

    it('export carries twins and modules; importing the lines restores a deleted device\'s tags and desired', { ...T, skip: NO_MQTT }, async () => {
        const d = await newDevice(21);
        const id = d.deviceId;
        await registry.addModule({ deviceId: id, moduleId: 'm1' });
        await registry.updateTwin(id, { tags: { site: RUN, floor: 3 },
            properties: { desired: { rate: 5 } } }, '*');

        // reported by the device itself, over MQTT
        const client = DeviceClient.fromConnectionString(
            `HostName=${HOST};DeviceId=${id};SharedAccessKey=${d.authentication.symmetricKey.primaryKey}`, Mqtt);
        client.on('error', () => {});
        await client.setOptions({ ca: CA });
        try {
            await h.within(WAIT, 'MQTT CONNECT', client.open());
            const twin = await h.within(WAIT, 'getTwin', client.getTwin());
            await h.within(WAIT, 'reported patch', new Promise((resolve, reject) => {
                twin.properties.reported.update({ fw: '1.0' }, (err) => (err ? reject(err) : resolve()));
            }));
        } finally {
            await client.close().catch(() => {});
        }
        const { responseBody: stored } = await registry.getTwin(id);

        const container = `twx-${crypto.randomBytes(4).toString('hex')}`;
        const job = await registry.exportDevicesToBlob(containerUri(container), false);
        const done = await ended(job.jobId);
        assert.equal(done.status, 'completed', done.failureReason);
        const lines = (await readLines(container, 'devices.txt')).filter((x) => x.id === id);
        assert.equal(lines.length, 2, 'the device and its module');
        const [dl, ml] = lines;
        assert.equal(dl.moduleId, undefined);
        assert.deepEqual(dl.tags, { site: RUN, floor: 3 });
        assert.equal(dl.properties.desired.rate, 5);
        assert.equal(dl.properties.reported.fw, '1.0');
        assert.equal(dl.twinETag, stored.etag);
        assert.equal(ml.moduleId, 'm1');
        assert.deepEqual(ml.tags, {});

        await registry.delete(id);
        const input = `tw-in-${crypto.randomBytes(4).toString('hex')}`;
        const output = `tw-out-${crypto.randomBytes(4).toString('hex')}`;
        const text = lines.map((x) => JSON.stringify(x)).join('\n') + '\n';
        await h.within(WAIT, 'upload', blob(input, 'devices.txt').upload(text, text.length));
        const imp = await registry.importDevicesFromBlob(containerUri(input, 'rl'), containerUri(output));
        assert.equal((await ended(imp.jobId)).status, 'completed');
        assert.deepEqual(await readLines(output, 'importErrors.log'), []);

        const { responseBody: back } = await registry.getTwin(id);
        assert.deepEqual(back.tags, { site: RUN, floor: 3 });
        assert.equal(back.properties.desired.rate, 5);
        assert.equal((await registry.getModule(id, 'm1')).responseBody.moduleId, 'm1');
    });

    it('a read-only SAS for the output: the job fails with its reason', T, async () => {
        const container = `ro-${crypto.randomBytes(4).toString('hex')}`;
        const job = await registry.exportDevicesToBlob(
            containerUri(container, 'rl'), false);
        const done = await ended(job.jobId);
        assert.equal(done.status, 'failed');
        assert.match(done.failureReason, /SAS/);
    });
});
