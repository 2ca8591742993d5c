// The console in headless Chromium, as an operator uses it: log in, see the Sample service
// and its operations, deploy a definition with the file picker, call its action from
// outside, watch the execution appear live (no reload) and open it, and reach every control
// with the keyboard. Screenshots of each page go to OUTDIR.
// Usage: node console-browser.js PLAYWRIGHT_DIR BASE_URL USER PASSWORD OUTDIR CHROMIUM
'use strict';
const path = require('path');
const fs = require('fs');
const [, , pwdir, base, user, password, outdir, exe] = process.argv;
const { chromium } = require(path.join(pwdir, 'node_modules', 'playwright-core'));

const steps = [];
function ok(what) { steps.push(what); console.log(`console: ok   ${what}`); }
function fail(what) { throw new Error(what); }

(async () => {
  fs.mkdirSync(outdir, { recursive: true });
  const browser = await chromium.launch({ executablePath: exe, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--proxy-server=127.0.0.1:9',
           '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const shot = (name) => page.screenshot({ path: path.join(outdir, `${name}.png`), fullPage: true });
  try {
    await page.goto(`${base}/console`);
    await page.locator('#login-user').waitFor({ state: 'visible', timeout: 10000 });
    await shot('1-login');

    // A wrong password is told, and the form stays.
    await page.fill('#login-user', user);
    await page.fill('#login-password', 'not-the-password');
    await page.press('#login-password', 'Enter');
    await page.getByText('wrong user or password').waitFor({ timeout: 5000 });
    ok('a wrong password is refused with a message');

    await page.fill('#login-password', password);
    await page.press('#login-password', 'Enter');
    const sample = page.locator('article[aria-label="Sample"]');
    await sample.waitFor({ timeout: 10000 });
    for (const url of ['/fs/Sample/actions/echo', '/fs/Sample/data', '/fs/Sample/file/content']) {
      await sample.getByText(url, { exact: true }).first().waitFor({ timeout: 5000 });
    }
    await sample.getByText('answers').waitFor({ timeout: 5000 });
    ok('logged in: Sample with its operations, answering');
    await shot('2-services');

    // Deploy a definition through the file picker.
    const def = path.join(outdir, 'Greeter.json');
    fs.writeFileSync(def, JSON.stringify({ name: 'Greeter', messageActions: [{ name: 'Hello',
      inputs: [{ name: 'Who', type: 'String' }], outputs: [{ name: 'Who', type: 'String' }],
      process: { builtin: 'echo' } }] }));
    await page.setInputFiles('#deploy-file', def);
    const greeter = page.locator('article[aria-label="Greeter"]');
    await greeter.waitFor({ timeout: 10000 });
    await greeter.getByText('/fs/Greeter/actions/hello', { exact: true }).waitFor({ timeout: 5000 });
    ok('deployed Greeter.json with the file picker; its URL is listed');

    // Watch executions live, then call the action from outside the page.
    await page.click('nav button[data-view=executions]');
    await page.locator('#exec-table').waitFor();
    await page.locator('body[data-live=open]').waitFor({ state: 'attached', timeout: 10000 });
    const r = await fetch(`${base}/fs/Greeter/actions/hello`, { method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ inputs: [{ developerName: 'Who', contentValue: 'Ada', contentType: 'ContentString' }] }) });
    if (r.status !== 200) fail(`the Greeter action answered ${r.status}`);
    const id = r.headers.get('x-execution-id');
    const row = page.locator(`#exec-table tr[data-id="${id}"]`);
    await row.waitFor({ timeout: 10000 });
    ok(`the execution ${id} appeared live, without a reload`);
    await row.click();
    await page.locator('#exec-detail').getByText(`Execution ${id}`).waitFor({ timeout: 5000 });
    await page.locator('#exec-detail').getByText('succeeded (HTTP 200)').waitFor({ timeout: 5000 });
    const shown = await page.locator('#exec-detail').innerText();
    if (/\bnull\b|undefined/.test(shown)) fail(`the detail shows a missing value: ${shown}`);
    ok('its detail shows the outcome');
    await shot('3-executions');

    // An incoming-API call whose second record fails: its detail shows the message.
    const batch = path.join(outdir, 'Batch.json');
    fs.writeFileSync(batch, JSON.stringify({ name: 'Batch', messageActions: [{ name: 'Probe',
      inputs: [{ name: 'Who', type: 'String', required: true }],
      process: { http: { url: `${base}/fs/{Who}/health` } },
      api: { mode: 'sync', allowAnonymous: true } }] }));
    await page.click('nav button[data-view=services]');
    await page.setInputFiles('#deploy-file', batch);
    await page.locator('article[aria-label="Batch"]').waitFor({ timeout: 10000 });
    await page.click('nav button[data-view=executions]');
    await page.locator('body[data-live=open]').waitFor({ state: 'attached', timeout: 10000 });
    const t = await fetch(`${base}/api/1/action/Batch/Probe/trigger`, { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify([{ Who: 'Sample' }, { Who: 'Nobody' }]) });
    const run = await t.json();
    if (run.status !== 'Fail' || !run.records || run.records[1].status !== 'Fail') fail(`the batch answered ${JSON.stringify(run)}`);
    const tid = t.headers.get('x-execution-id');
    await page.locator(`#exec-table tr[data-id="${tid}"]`).click({ timeout: 10000 });
    await page.locator('#exec-detail td').getByText(/1 Fail: .*answered 404/).waitFor({ timeout: 5000 });
    ok('a failed incoming-API record shows its message in the execution detail');
    await shot('3b-failed-record');

    await page.click('nav button[data-view=latency]');
    await page.locator('#lat-table').getByText('Greeter').first().waitFor({ timeout: 10000 });
    ok('the latency page lists the Greeter action');
    await shot('4-latency');

    await page.click('nav button[data-view=health]');
    await page.locator('#ready').getByText('ready').waitFor({ timeout: 5000 });
    await page.click('#run-test');
    await page.locator('#test-result p').waitFor({ timeout: 15000 });
    ok('the health page shows readiness and runs the connection test');
    await shot('5-health');

    // Keyboard: Tab from the top reaches every button, input and select of the page shown.
    await page.click('nav button[data-view=executions]');
    await page.locator('#exec-table tr[data-id]').first().waitFor();
    const controls = await page.evaluate(() => [...document.querySelectorAll('button, input, select, [tabindex="0"]')]
      .filter((e) => e.offsetParent !== null && !e.disabled).map((e, i) => { e.dataset.kb = String(i); return String(i); }));
    const reached = new Set();
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    for (let i = 0; i < controls.length + 5; i++) {
      await page.keyboard.press('Tab');
      const k = await page.evaluate(() => document.activeElement && document.activeElement.dataset.kb);
      if (k) reached.add(k);
    }
    const missed = controls.filter((c) => !reached.has(c));
    if (missed.length) fail(`${missed.length} of ${controls.length} controls are not reached with Tab`);
    ok(`Tab reaches all ${controls.length} controls of the executions page`);

    await page.click('#logout');
    await page.locator('#login-user').waitFor({ state: 'visible', timeout: 5000 });
    ok('logging out shows the login again');
    if (errors.length) fail(`script errors on the page: ${errors.join('; ')}`);
    console.log(`console: ${steps.length} steps hold; screenshots in ${outdir}`);
  } catch (e) {
    await shot('failure').catch(() => {});
    console.error(`console: FAILED after ${steps.length} steps: ${e.message}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
