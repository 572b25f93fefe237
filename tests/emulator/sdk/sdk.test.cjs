'use strict';
// emulator_sdk: Skyflow's own Node SDK (skyflow-node, pinned in package-lock.json) drives
// skyflow-emulator over TLS with its code unchanged: every Vault API method of the SDK as Admin
// and as a Viewer, and the errors the SDK surfaces. run.sh installs the SDK (npm ci), makes a
// throw-away CA (NODE_EXTRA_CA_CERTS) and runs this file with `node --test`; the emulator is
// started here on demo.json with email_address made DETERMINISTIC_UUID.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const https = require('node:https');

const sdk = require('skyflow-node');
const { Skyflow, generateBearerToken, setLogLevel, LogLevel } = sdk;

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/emulator/sdk/run.sh`);
  return v;
};
const EMU_BIN = need('EMU_BIN');
const TLS_DIR = need('EMU_TLS_DIR');
const DEMO_JSON = need('EMU_DEMO_JSON');
const START_TIMEOUT_MS = 30000;

const ADA = 'bf9a1506-5b6a-4016-ac62-7c534db47460'; // CA, ssn 100-10-1000, dob 1950-01-01
const BROOK = '241d581b-957d-4f06-a86e-8e8f102a4a18'; // NY, ssn 137-17-1413
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const emu = { proc: null, url: '', vaultID: '', creds: '', dir: '', exit: null };

// Starts the emulator and waits for its ready line:
// "ready url=https://127.0.0.1:N vault_id=... project_id=... credentials=FILE".
function startEmulator() {
  emu.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emulator-sdk-'));
  const cfg = JSON.parse(fs.readFileSync(DEMO_JSON, 'utf8'));
  for (const col of cfg.vault.tables[0].columns)
    if (col.name === 'email_address') col.token_policy = 'DETERMINISTIC_UUID';
  const cfgPath = path.join(emu.dir, 'config.json');
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  const proc = spawn(EMU_BIN, [
    '--config', cfgPath, '--listen', '127.0.0.1:0', '--state-dir', path.join(emu.dir, 'state'),
    '--tls-cert', path.join(TLS_DIR, 'server.pem'), '--tls-key', path.join(TLS_DIR, 'server.key'),
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  emu.proc = proc;
  emu.exit = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('emulator did not become ready')),
      START_TIMEOUT_MS);
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`emulator exited early (${code})`)));
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /^ready url=(\S+) vault_id=(\S+) project_id=\S+ credentials=(\S+)$/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      [, emu.url, emu.vaultID, emu.creds] = m;
      resolve();
    });
  });
}

// The emulator's own controls (not part of the SDK): GET, or POST with a JSON body.
function control(p, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(emu.url + p, { method: body ? 'POST' : 'GET',
      headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

// A Skyflow client whose bearer token comes from the SDK's own generateBearerToken with a
// ctx claim; the emulator's role assignments turn ctx.roles into Skyflow roles.
function client(roles) {
  return Skyflow.init({
    vaultID: emu.vaultID,
    vaultURL: emu.url,
    getBearerToken: () => generateBearerToken(emu.creds, { ctx: { roles } })
      .then((r) => r.accessToken),
  });
}

// The HTTP status inside whatever error shape the SDK rejects with.
function codeOf(err) {
  return err?.error?.code ?? err?.errors?.[0]?.error?.code ?? err?.errors?.[0]?.code;
}

async function rejects(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the SDK to reject');
}

let admin, viewer, guest;
const made = {}; // what the insert tests leave for the later ones

before(async () => {
  setLogLevel(LogLevel.OFF);
  await startEmulator();
  admin = client(['Admin']);
  viewer = client(['Viewer']);
  guest = client(['Guest']);
});

after(async () => {
  if (!emu.proc) return;
  emu.proc.kill('SIGTERM');
  const { code, signal } = await emu.exit;
  fs.rmSync(emu.dir, { recursive: true, force: true });
  assert.equal(signal, null);
  assert.equal(code, 0, 'the emulator must exit cleanly (leak-free under ASan)');
});

test('generateBearerToken: an SA token from credentials.json, ctx honoured', async () => {
  const r = await generateBearerToken(emu.creds, { ctx: { roles: ['Admin'] } });
  assert.equal(r.tokenType, 'Bearer');
  const claims = JSON.parse(Buffer.from(r.accessToken.split('.')[1], 'base64url'));
  assert.deepEqual(claims.emu_roles, ['admin']);
});

test('generateBearerToken: a key the emulator did not issue is a 401 from the SDK', async () => {
  const creds = JSON.parse(fs.readFileSync(emu.creds, 'utf8'));
  const { privateKey } = require('node:crypto').generateKeyPairSync('rsa', { modulusLength: 2048 });
  creds.privateKey = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const forged = path.join(emu.dir, 'forged.json');
  fs.writeFileSync(forged, JSON.stringify(creds));
  const err = await rejects(generateBearerToken(forged));
  assert.equal(codeOf(err), 401);
});

test('insert (Admin): the batch endpoint, tokens for tokenized columns', async () => {
  const before = (await control('/emulator/stats')).endpoints['POST /v1/vaults/{vault_id}'] ?? 0;
  const res = await admin.insert({
    records: [
      { table: 'persons', fields: { name: 'Sdk One', ssn: '700-00-0001', state: 'OR',
        email_address: 'sdk.one@example.com', date_of_birth: '1990-05-17' } },
      { table: 'persons', fields: { name: 'Sdk Two', ssn: '700-00-0002',
        email_address: 'sdk.two@example.com' } },
    ],
  });
  const after = (await control('/emulator/stats')).endpoints['POST /v1/vaults/{vault_id}'];
  assert.equal(after, before + 1, 'insert must go through the batch endpoint');
  assert.equal(res.records.length, 2);
  res.records.forEach((r, i) => {
    assert.equal(r.table, 'persons');
    assert.equal(r.request_index, i);
    assert.match(r.fields.skyflow_id, UUID);
    assert.match(r.fields.ssn, UUID);
    assert.match(r.fields.email_address, UUID);
    assert.equal(r.fields.name, undefined); // not a tokenized column
  });
  made.one = res.records[0].fields;
  made.two = res.records[1].fields;
});

test('insert (Admin): tokens false gives skyflow_id only', async () => {
  const res = await admin.insert({ records: [{ table: 'persons',
    fields: { name: 'Sdk Three', ssn: '700-00-0003' } }] }, { tokens: false });
  assert.deepEqual(Object.keys(res.records[0]).sort(), ['request_index', 'skyflow_id', 'table']);
  assert.match(res.records[0].skyflow_id, UUID);
  made.three = res.records[0].skyflow_id;
});

test('insert (Admin): upsert on the unique ssn updates the existing record', async () => {
  const res = await admin.insert({ records: [{ table: 'persons',
    fields: { ssn: '700-00-0001', state: 'WA' } }] },
  { upsert: [{ table: 'persons', column: 'ssn' }] });
  assert.equal(res.records[0].fields.skyflow_id, made.one.skyflow_id);
  const got = await admin.getById({ records: [{ ids: [made.one.skyflow_id], table: 'persons',
    redaction: Skyflow.RedactionType.PLAIN_TEXT }] });
  assert.equal(got.records[0].fields.state, 'WA');
  assert.equal(got.records[0].fields.name, 'Sdk One');
});

test('insert (Admin): a DETERMINISTIC_UUID column gives the same token for the same value',
  async () => {
    const res = await admin.insert({ records: [{ table: 'persons',
      fields: { ssn: '700-00-0004', email_address: 'sdk.one@example.com' } }] });
    assert.equal(res.records[0].fields.email_address, made.one.email_address);
    assert.notEqual(res.records[0].fields.ssn, made.one.ssn);
    made.four = res.records[0].fields.skyflow_id;
  });

test('insert (Admin): continueOnError reports each record', async () => {
  const res = await admin.insert({ records: [
    { table: 'persons', fields: { ssn: '700-00-0005', name: 'Sdk Five' } },
    { table: 'persons', fields: { ssn: '100-10-1000' } }, // Ada's: unique
    { table: 'persons', fields: { no_such_column: 'x' } },
  ] }, { continueOnError: true });
  assert.equal(res.records.length, 1);
  assert.equal(res.records[0].request_index, 0);
  assert.match(res.records[0].fields.skyflow_id, UUID);
  assert.deepEqual(res.errors.map((e) => [e.error.code, e.error.request_index]), [[409, 1], [400, 2]]);
  for (const e of res.errors) assert.match(e.error.description, / - requestId: [0-9a-f-]{36}$/);
  made.five = res.records[0].fields.skyflow_id;
});

test('insert (Admin): without continueOnError a failing record fails the whole call', async () => {
  const err = await rejects(admin.insert({ records: [
    { table: 'persons', fields: { ssn: '700-00-0006' } },
    { table: 'persons', fields: { ssn: '100-10-1000' } },
  ] }));
  assert.equal(codeOf(err), 409);
  const left = await rejects(admin.get({ records: [{ table: 'persons', columnName: 'ssn',
    columnValues: ['700-00-0006'], redaction: Skyflow.RedactionType.PLAIN_TEXT }] }));
  assert.equal(codeOf(left), 404, 'the first record must have been rolled back');
});

test('insert (Viewer): refused with the SDK error shape, nothing written', async () => {
  const err = await rejects(viewer.insert({ records: [{ table: 'persons',
    fields: { name: 'Nope', ssn: '700-00-0007' } }] }));
  assert.ok(err instanceof Error);
  assert.equal(err.error.code, 403);
  assert.match(err.error.description,
    /^The requester does not have permission to access this resource\. - requestId: [0-9a-f-]{36}$/);
  const left = await rejects(admin.get({ records: [{ table: 'persons', columnName: 'ssn',
    columnValues: ['700-00-0007'], redaction: Skyflow.RedactionType.PLAIN_TEXT }] }));
  assert.equal(codeOf(left), 404);
});

test('get: each redaction as Admin and as Viewer (the README table)', async () => {
  const R = Skyflow.RedactionType;
  const want = {
    admin: {
      PLAIN_TEXT: ['Ada Lovelace', 'ada.lovelace@example.com', 'CA', '100-10-1000', '1950-01-01'],
      DEFAULT: ['*REDACTED*', '*REDACTED*', 'CA', 'XXX-XX-1000', 'XXXX-01-01'],
      MASKED: ['*REDACTED*', 'a******e@example.com', '*REDACTED*', 'XXX-XX-1000', 'XXXX-01-01'],
      REDACTED: ['*REDACTED*', '*REDACTED*', '*REDACTED*', '*REDACTED*', '*REDACTED*'],
    },
    viewer: {
      PLAIN_TEXT: ['Ada Lovelace', 'a******e@example.com', 'CA', '*REDACTED*', 'XXXX-01-01'],
      DEFAULT: ['*REDACTED*', '*REDACTED*', 'CA', '*REDACTED*', 'XXXX-01-01'],
      MASKED: ['*REDACTED*', 'a******e@example.com', '*REDACTED*', '*REDACTED*', 'XXXX-01-01'],
      REDACTED: ['*REDACTED*', '*REDACTED*', '*REDACTED*', '*REDACTED*', '*REDACTED*'],
    },
  };
  for (const [who, c] of [['admin', admin], ['viewer', viewer]]) {
    for (const red of Object.keys(R)) {
      const res = await c.get({ records: [{ ids: [ADA], table: 'persons', redaction: R[red] }] });
      const f = res.records[0].fields;
      assert.equal(res.records[0].table, 'persons');
      assert.equal(f.id, ADA);
      assert.deepEqual([f.name, f.email_address, f.state, f.ssn, f.date_of_birth], want[who][red],
        `${who} ${red}`);
    }
  }
});

test('get: by a unique column, several ids, and tokens', async () => {
  const R = Skyflow.RedactionType;
  let res = await admin.get({ records: [{ table: 'persons', columnName: 'ssn',
    columnValues: ['137-17-1413', '700-00-0002'], redaction: R.PLAIN_TEXT }] });
  assert.deepEqual(res.records.map((r) => r.fields.name).sort(), ['Brook Okafor', 'Sdk Two']);
  res = await viewer.get({ records: [{ ids: [ADA, BROOK], table: 'persons',
    redaction: R.PLAIN_TEXT }] });
  assert.equal(res.records.length, 2);
  res = await admin.get({ records: [{ ids: [made.two.skyflow_id], table: 'persons' }] },
    { tokens: true });
  assert.equal(res.records[0].fields.ssn, made.two.ssn);
  assert.equal(res.records[0].fields.email_address, made.two.email_address);
  assert.equal(res.records[0].fields.name, '*REDACTED*'); // not tokenized: the default
});

test('getById: Admin and Viewer; an unknown id is the SDK\'s 404', async () => {
  const R = Skyflow.RedactionType;
  let res = await admin.getById({ records: [{ ids: [made.two.skyflow_id], table: 'persons',
    redaction: R.PLAIN_TEXT }] });
  assert.equal(res.records[0].fields.id, made.two.skyflow_id);
  assert.equal(res.records[0].fields.ssn, '700-00-0002');
  res = await viewer.getById({ records: [{ ids: [made.two.skyflow_id], table: 'persons',
    redaction: R.PLAIN_TEXT }] });
  assert.equal(res.records[0].fields.ssn, '*REDACTED*');
  assert.equal(res.records[0].fields.email_address, 's******o@example.com');
  const err = await rejects(admin.getById({ records: [{ ids: ['00000000-0000-4000-8000-000000000000'],
    table: 'persons', redaction: R.PLAIN_TEXT }] }));
  assert.equal(err.errors[0].error.code, 404);
  assert.deepEqual(err.errors[0].ids, ['00000000-0000-4000-8000-000000000000']);
  const unknown = await rejects(admin.getById({ records: [{ ids: [ADA], table: 'nosuch',
    redaction: R.PLAIN_TEXT }] }));
  assert.equal(codeOf(unknown), 404);
});

test('get: a token with no role is a 403 from the SDK', async () => {
  const err = await rejects(guest.get({ records: [{ ids: [ADA], table: 'persons',
    redaction: Skyflow.RedactionType.PLAIN_TEXT }] }));
  assert.equal(err.errors[0].error.code, 403);
});

test('detokenize: Admin up to plain text; the caller\'s redaction honoured', async () => {
  const R = Skyflow.RedactionType;
  const res = await admin.detokenize({ records: [
    { token: made.two.ssn },
    { token: made.two.email_address, redaction: R.MASKED },
    { token: made.two.ssn, redaction: R.DEFAULT },
    { token: made.two.ssn, redaction: R.REDACTED },
  ] });
  assert.deepEqual(res.records.map((r) => r.value),
    ['700-00-0002', 's******o@example.com', 'XXX-XX-0002', '*REDACTED*']);
  assert.equal(res.records[0].token, made.two.ssn);
});

test('detokenize: a deterministic token and a token from update', async () => {
  const res = await admin.detokenize({ records: [{ token: made.one.email_address }] });
  assert.equal(res.records[0].value, 'sdk.one@example.com');
});

test('detokenize: Viewer refused; unknown token 404; partial results', async () => {
  let err = await rejects(viewer.detokenize({ records: [{ token: made.two.ssn }] }));
  assert.equal(err.errors[0].error.code, 403);
  assert.equal(err.errors[0].token, made.two.ssn);
  err = await rejects(admin.detokenize({ records: [{ token: made.two.ssn },
    { token: 'not-a-token' }] }));
  assert.equal(err.records[0].value, '700-00-0002');
  assert.equal(err.errors[0].error.code, 404);
  assert.equal(err.errors[0].token, 'not-a-token');
});

test('update: Admin with tokens, the new value detokenizes; Viewer refused', async () => {
  const res = await admin.update({ records: [{ id: made.two.skyflow_id, table: 'persons',
    fields: { ssn: '700-00-0022', state: 'NM' } }] });
  assert.equal(res.records[0].id, made.two.skyflow_id);
  assert.match(res.records[0].fields.ssn, UUID);
  assert.notEqual(res.records[0].fields.ssn, made.two.ssn, 'a changed value gets a new token');
  const det = await admin.detokenize({ records: [{ token: res.records[0].fields.ssn }] });
  assert.equal(det.records[0].value, '700-00-0022');
  const old = await rejects(admin.detokenize({ records: [{ token: made.two.ssn }] }));
  assert.equal(old.errors[0].error.code, 404, 'the per-row token of the old value is gone');
  const plain = await admin.update({ records: [{ id: made.three, table: 'persons',
    fields: { state: 'ID' } }] }, { tokens: false });
  assert.deepEqual(plain.records[0], { id: made.three });
  const err = await rejects(viewer.update({ records: [{ id: made.three, table: 'persons',
    fields: { state: 'TX' } }] }));
  assert.equal(err.errors[0].error.code, 403);
  assert.equal(err.errors[0].id, made.three);
  const bad = await rejects(admin.update({ records: [{ id: made.three, table: 'persons',
    fields: { ssn: '100-10-1000' } }] }));
  assert.equal(bad.errors[0].error.code, 409);
});

test('delete: Viewer refused, Admin deletes, then the record is gone', async () => {
  let err = await rejects(viewer.delete({ records: [{ id: made.three, table: 'persons' }] }));
  assert.equal(err.errors[0].error.code, 403);
  assert.equal(err.errors[0].id, made.three);
  const res = await admin.delete({ records: [{ id: made.three, table: 'persons' },
    { id: made.four, table: 'persons' }] });
  assert.deepEqual(res.records.map((r) => [r.skyflow_id, r.deleted]).sort(),
    [[made.three, true], [made.four, true]].sort());
  err = await rejects(admin.getById({ records: [{ ids: [made.three], table: 'persons',
    redaction: Skyflow.RedactionType.PLAIN_TEXT }] }));
  assert.equal(err.errors[0].error.code, 404);
  err = await rejects(admin.delete({ records: [{ id: made.three, table: 'persons' }] }));
  assert.equal(err.errors[0].error.code, 404);
});

test('errors: a bearer the emulator did not sign is the SDK\'s 401', async () => {
  const { accessToken } = await generateBearerToken(emu.creds, { ctx: { roles: ['Admin'] } });
  const [h, p, sig] = accessToken.split('.');
  const forged = `${h}.${p}.${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;
  const c = Skyflow.init({ vaultID: emu.vaultID, vaultURL: emu.url,
    getBearerToken: () => Promise.resolve(forged) });
  const err = await rejects(c.getById({ records: [{ ids: [ADA], table: 'persons',
    redaction: Skyflow.RedactionType.PLAIN_TEXT }] }));
  assert.equal(err.errors[0].error.code, 401);
});

test('errors: a 503 from the vault (fault injection) reaches insert as the SDK\'s error',
  async () => {
    await control('/emulator/faults', { path_prefix: `/v1/vaults/${emu.vaultID}`, status: 503,
      count: 1 });
    const err = await rejects(admin.insert({ records: [{ table: 'persons',
      fields: { ssn: '700-00-0009' } }] }));
    assert.equal(err.error.code, 503);
    assert.match(err.error.description, / - requestId: [0-9a-f-]{36}$/);
  });

test('insert (Admin): continueOnError without tokens', async () => {
  const res = await admin.insert({ records: [
    { table: 'persons', fields: { ssn: '700-00-0010' } },
    { table: 'persons', fields: { ssn: '700-00-0010' } },
  ] }, { tokens: false, continueOnError: true });
  assert.deepEqual(Object.keys(res.records[0]).sort(), ['request_index', 'skyflow_id', 'table']);
  assert.equal(res.errors[0].error.code, 409);
  assert.equal(res.errors[0].error.request_index, 1);
  await admin.delete({ records: [{ id: res.records[0].skyflow_id, table: 'persons' }] });
});

test('query: skyflow-node 1.14 has no query method (nothing to drive)', () => {
  assert.equal(typeof admin.query, 'undefined');
});
