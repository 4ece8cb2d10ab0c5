// Drives the dashboard in Debian's chromium: log in, see the held run, read its diff, approve it,
// see it applied. Usage: node dashboard.mjs <base url> <admin token> <screenshot dir> <run> <profile dir>
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [base, token, shots, run, profile] = process.argv.slice(2);
mkdirSync(profile, { recursive: true });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1366, height: 900 },
});
const expect = (ok, what) => { if (!ok) throw new Error(`expected: ${what}`); };
try {
  const page = context.pages()[0] ?? await context.newPage();
  const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  await page.goto(base + '/');
  expect(page.url().endsWith('/login'), 'a visit without a session lands on the login page');
  await page.fill('#password', 'not-the-token');
  await page.click('button[type=submit]');
  expect((await page.textContent('.error'))?.includes('Wrong'), 'a wrong token is refused');
  await shot('01-login');
  await page.fill('#password', token);
  await page.click('button[type=submit]');
  await page.waitForURL(base + '/');
  expect(await page.isVisible('text=Held plans waiting'), 'the overview is shown');
  expect(await page.isVisible(`a[href="/runs/${run}"]`), 'the held run is listed');
  await shot('02-overview');

  await page.click('a[href="/held"] >> nth=0');
  await page.click(`a[href="/runs/${run}"] >> text=See the changes`);
  await page.waitForURL(`${base}/runs/${run}`);
  const disables = await page.locator('.op .badge.bad:text-is("disable")').count();
  expect(disables === 3, `three disables in the diff (found ${disables})`);
  expect(await page.isVisible('text=Held plan'), 'the run says it is held');
  await shot('03-held-diff');

  await page.click('button:text("Approve and apply")');
  await page.waitForURL(/\/runs\/\d+$/);
  expect(!page.url().endsWith(`/runs/${run}`), 'approval leads to the applying run');
  const applied = await page.locator('.op:has(.badge.bad:text-is("disable")) .badge.good:text-is("applied")').count();
  expect(applied === 3, `three disables applied (found ${applied})`);
  await shot('04-applied');

  // A disabled leaver's page: Personio data, the account in the target, the log.
  await page.click('.op:has(.badge.bad:text-is("disable")) a[href^="/people/"] >> nth=0');
  await page.waitForURL(/\/people\//);
  expect(await page.isVisible('.badge.bad:text-is("disabled")'), 'the account shows as disabled');
  await shot('05-person');
  await page.click('nav a[href="/problems"]');
  expect(await page.isVisible('button:text("Retry")'), 'the parked create can be retried');
  const styled = await page.evaluate(() => getComputedStyle(document.querySelector('header')).borderBottomStyle);
  expect(styled === 'solid', 'the stylesheet is applied (CSP allows it)');
  await shot('06-problems');
  console.log(`approved run ${run}; applied by ${page.url()}`);
} finally {
  await context.close();
}
