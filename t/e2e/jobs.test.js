'use strict';
// Jobs v2 end to end: the real azure-iothub JobClient schedules twin updates
// and direct methods over MQTT devices of azure-iot-device-mqtt, reads, lists
// and cancels jobs. Run through t/e2e/run.sh. The hub runs one unfinished job
// at a time (job_max_concurrent 1, as an S1 hub): each test waits for its job
// to end or cancels it.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Client: DeviceClient } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Registry, JobClient, Client: ServiceClient } = require('azure-iothub');
const errors = require('azure-iothub/dist/common-core/errors');
const h = require('./helpers');

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const HOST = env.IOTHUB_HOST || 'localhost';
const CA = env.IOTHUB_CA ? fs.readFileSync(env.IOTHUB_CA, 'utf8') : undefined;
const NO_MQTT = env.IOTHUB_MQTT === '0' && 'this build has no ngx_stream_iothub_mqtt_module.so';
const T = { timeout: 60000, skip: NO_MQTT };
const WAIT = 10000;

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);
const jobs = JobClient.fromConnectionString(env.IOTHUB_SERVICE_CONNSTR || env.IOTHUB_OWNER_CONNSTR);
const service = ServiceClient.fromConnectionString(env.IOTHUB_SERVICE_CONNSTR || env.IOTHUB_OWNER_CONNSTR);

const RUN = `jobs-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
const jobId = (tag) => `${RUN}-${tag}`;

const devices = {};          // tag -> { id, client }
const methodCalls = [];      // what device "a" was asked

async function newDevice(tag, connect) {
    const id = `${RUN}-${tag}`;
    const { responseBody: d } = await registry.create({ deviceId: id });
    const dev = { id, client: null };
    if (connect) {
        const connStr = `HostName=${HOST};DeviceId=${id};SharedAccessKey=${d.authentication.symmetricKey.primaryKey}`;
        dev.client = DeviceClient.fromConnectionString(connStr, Mqtt);
        dev.client.on('error', () => {});
        await dev.client.setOptions({ ca: CA });
        await h.within(WAIT, 'MQTT CONNECT', dev.client.open());
    }
    devices[tag] = dev;
    return dev;
}

// getJob until pred holds (or WAIT passed): the last job read
async function jobUntil(id, pred) {
    const deadline = Date.now() + WAIT;
    for (;;) {
        const { jobStatus: result } = await jobs.getJob(id);
        if (pred(result) || Date.now() > deadline) return result;
        await h.sleep(200);
    }
}

// the methods subscription is asynchronous: a direct call that reaches the
// device shows it is in place before a job counts on it
async function methodsReady(id) {
    const deadline = Date.now() + 5000;
    for (;;) {
        try {
            await service.invokeDeviceMethod(id, { methodName: 'ping', responseTimeoutInSeconds: 5 });
            return;
        } catch (err) {
            if (Date.now() > deadline) throw err;
            await h.sleep(200);
        }
    }
}

describe('jobs v2 with JobClient', { skip: NO_MQTT }, () => {
    before(async () => {
        const a = await newDevice('a', true);
        await newDevice('b', true);
        await newDevice('c', false);
        a.client.onDeviceMethod('reboot', (req, res) => {
            methodCalls.push(req.payload);
            res.send(200, { rebooted: true, delay: req.payload && req.payload.delay });
        });
        a.client.onDeviceMethod('ping', (req, res) => res.send(200, null));
        await methodsReady(a.id);
    });

    after(async () => {
        for (const d of Object.values(devices)) {
            if (d.client) await d.client.close().catch(() => {});
            await registry.delete(d.id).catch(() => {});
        }
    });

    it('scheduleTwinUpdate: queued at once, then completed; tags and desired reach the twins, the connected device gets the patch', T, async () => {
        const { a, b } = devices;
        const twinA = await a.client.getTwin();
        const desired = new Promise((resolve) => {
            twinA.on('properties.desired', (patch) => { if (patch.job === RUN) resolve(patch); });
        });
        const id = jobId('twin');
        const { jobStatus } = await jobs.scheduleTwinUpdate(id, `deviceId IN ['${a.id}', '${b.id}']`,
            { etag: '*', tags: { jobRun: RUN }, properties: { desired: { job: RUN } } });
        assert.equal(jobStatus.jobId, id);
        assert.equal(jobStatus.type, 'scheduleUpdateTwin');
        assert.equal(jobStatus.status, 'queued');
        assert.deepEqual(jobStatus.updateTwin.tags, { jobRun: RUN });

        const done = await jobUntil(id, (j) => j.status === 'completed');
        assert.equal(done.status, 'completed', JSON.stringify(done));
        assert.deepEqual(done.deviceJobStatistics,
            { deviceCount: 2, failedCount: 0, succeededCount: 2, runningCount: 0, pendingCount: 0 });
        assert.ok(done.endTime && !Number.isNaN(Date.parse(done.endTime)));

        const patch = await h.within(WAIT, 'desired notification', desired);
        assert.equal(patch.job, RUN);
        const { responseBody: tb } = await registry.getTwin(b.id);
        assert.equal(tb.tags.jobRun, RUN);
        assert.equal(tb.properties.desired.job, RUN);
    });

    it('scheduleDeviceMethod: the connected device answers, the offline one fails', T, async () => {
        const { a, c } = devices;
        const id = jobId('method');
        const { jobStatus } = await jobs.scheduleDeviceMethod(id, `deviceId IN ['${a.id}', '${c.id}']`,
            { methodName: 'reboot', payload: { delay: 3 }, responseTimeoutInSeconds: 10 });
        assert.equal(jobStatus.type, 'scheduleDeviceMethod');
        assert.equal(jobStatus.cloudToDeviceMethod.methodName, 'reboot');

        const done = await jobUntil(id, (j) => j.status === 'completed');
        assert.equal(done.status, 'completed', JSON.stringify(done));
        assert.equal(done.deviceJobStatistics.deviceCount, 2);
        assert.equal(done.deviceJobStatistics.succeededCount, 1);
        assert.equal(done.deviceJobStatistics.failedCount, 1);
        assert.deepEqual(methodCalls.at(-1), { delay: 3 });

        // the per-device records devices.jobs is read from
        const recA = JSON.parse((await h.redis('HGET', `iothub:${h.HUB_NAME}:{${a.id}}:jobs`, id)).toString());
        assert.equal(recA.status, 'completed');
        assert.deepEqual(recA.outcome.deviceMethodResponse, { status: 200, payload: { rebooted: true, delay: 3 } });
        const recC = JSON.parse((await h.redis('HGET', `iothub:${h.HUB_NAME}:{${c.id}}:jobs`, id)).toString());
        assert.equal(recC.status, 'failed');
        assert.equal(recC.error.code, 'DeviceNotOnline');

        // the same records through the query language, as devices.jobs rows
        const q = registry.createQuery(`SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '${id}'`, 1);
        const rows = [];
        // the promise form of next() takes the token: without it, page 1 again
        do {
            rows.push(...(await q.next(q.continuationToken)).result);
        } while (q.hasMoreResults);
        assert.deepEqual(rows.map((r) => [r.deviceId, r.status]).sort(),
            [[a.id, 'completed'], [c.id, 'failed']].sort());
    });

    it('a job starting in an hour stays queued until cancelJob; a second job meanwhile is over the quota', T, async () => {
        const id = jobId('later');
        const start = new Date(Date.now() + 3600 * 1000);
        const { jobStatus } = await jobs.scheduleTwinUpdate(id, `deviceId = '${devices.a.id}'`,
            { tags: { later: true } }, start, 600);
        assert.equal(jobStatus.status, 'queued');
        assert.equal(Date.parse(jobStatus.startTime), start.getTime());
        assert.equal(jobStatus.maxExecutionTimeInSeconds, 600);

        await h.sleep(1500);
        assert.equal((await jobs.getJob(id)).jobStatus.status, 'queued');

        await assert.rejects(jobs.scheduleTwinUpdate(jobId('over'), `deviceId = '${devices.a.id}'`, { tags: {} }),
            (err) => err.response && err.response.statusCode === 403 && /JobQuotaExceeded/.test(err.responseBody));

        const { jobStatus: result } = await jobs.cancelJob(id);
        assert.equal(result.status, 'cancelled');
        const { responseBody: ta } = await registry.getTwin(devices.a.id);
        assert.equal(ta.tags.later, undefined);
    });

    it('errors: getJob of an unknown job is JobNotFound, a reused id is 409', T, async () => {
        await assert.rejects(jobs.getJob(jobId('none')), (err) => {
            assert.equal(err.response && err.response.statusCode, 404);
            assert.ok(err instanceof errors.JobNotFoundError || /JobNotFound/.test(err.responseBody), err.name);
            return true;
        });
        await assert.rejects(jobs.scheduleTwinUpdate(jobId('twin'), `deviceId = 'x'`, { tags: {} }),
            (err) => err.response && err.response.statusCode === 409 && /JobAlreadyExists/.test(err.responseBody));
    });

    it('createQuery pages through jobs by type and status', T, async () => {
        const all = async (query) => {
            const seen = [];
            let pages = 0;
            do {
                const { result } = await query.next(query.continuationToken);
                assert.ok(Array.isArray(result));
                seen.push(...result);
                pages++;
            } while (query.hasMoreResults && pages < 1000);
            return { seen, pages };
        };

        const twins = await all(jobs.createQuery('scheduleUpdateTwin', 'completed', 1));
        assert.ok(twins.seen.every((j) => j.type === 'scheduleUpdateTwin' && j.status === 'completed'));
        assert.ok(twins.seen.some((j) => j.jobId === jobId('twin')));

        const mine = (await all(jobs.createQuery(undefined, undefined, 1))).seen
            .filter((j) => j.jobId.startsWith(RUN)).map((j) => j.jobId);
        assert.deepEqual(mine, [jobId('twin'), jobId('method'), jobId('later')]);

        const cancelled = (await all(jobs.createQuery(undefined, 'cancelled'))).seen;
        assert.ok(cancelled.some((j) => j.jobId === jobId('later')));
        assert.ok(!cancelled.some((j) => j.jobId === jobId('method')));
    });
});
